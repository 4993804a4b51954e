//! Seeded key distributions: which key of `0..n` a stress user touches next.
//!
//! A [`KeyDist`] is the validated description of a distribution (built by its constructors or
//! by [`KeyDist::parse`] from a spec such as `"zipfian:0.8"`); [`KeyDist::generator`] gives each
//! user its own [`KeyGen`], which holds the little state a distribution needs (the position of
//! `sequential`, the current key count of `latest`) and draws keys with [`KeyGen::next`].
//!
//! Every draw takes all its randomness from the [`StressRng`] it is given, and only through
//! `next_u64`: the keys of a seeded user are a function of its RNG stream and of this code alone
//! (not of how a `rand` version maps bits to ranges), so a replay repeats them exactly.
//!
//! | spec | keys |
//! | --- | --- |
//! | `uniform` | every key equally likely |
//! | `sequential` | `0, 1, …, n-1, 0, 1, …` per generator |
//! | `zipfian[:θ]` | P(key i) ∝ 1/(i+1)^θ: key 0 the most popular (YCSB's definition) |
//! | `scrambled_zipfian[:θ]` | a zipfian rank, hashed (FNV-1a 64) onto the key space |
//! | `latest[:θ]` | zipfian over the distance from the newest key of a growing key space |
//! | `hotspot[:hot_fraction:hot_op_fraction]` | a share of the draws on a hot prefix of the keys |
//! | `exponential[:percentile:fraction]` | YCSB's exponential: `percentile`% in the first `fraction` |
//!
//! Setup is O(1) whatever `n` and each draw is expected O(1): the zipfian family uses the
//! rejection-inversion method of W. Hörmann and G. Derflinger, "Rejection-inversion to generate
//! variates from monotone discrete distributions", ACM TOMACS 6(3):169–184, 1996, in the form of
//! Apache Commons RNG's `RejectionInversionZipfSampler` (any exponent θ > 0, θ = 1 included),
//! instead of YCSB's zeta sum, which is O(n) at setup (over a minute at n = 100M).

use rand::RngCore;

use crate::seed::{Fnv64, StressRng};

/// The zipfian exponent θ used when a spec gives none (`"zipfian"`, `"latest"`, …): YCSB's
/// `ZipfianGenerator.ZIPFIAN_CONSTANT`.
pub const DEFAULT_THETA: f64 = 0.99;

/// `hotspot`'s default share of the key space that is hot (YCSB's `hotspotdatafraction`).
const DEFAULT_HOT_FRACTION: f64 = 0.2;
/// `hotspot`'s default share of the draws that go to the hot keys (YCSB's `hotspotopnfraction`).
const DEFAULT_HOT_OP_FRACTION: f64 = 0.8;
/// `exponential`'s default percentile (YCSB's `exponential.percentile`).
const DEFAULT_PERCENTILE: f64 = 95.0;
/// `exponential`'s default fraction of the key space (YCSB's `exponential.frac`, 1/1.1667).
const DEFAULT_FRACTION: f64 = 0.8571428571428571;

/// Every spec form [`KeyDist::parse`] accepts, for error messages.
const VALID_FORMS: &str = "uniform, sequential, zipfian[:θ], scrambled_zipfian[:θ], latest[:θ], \
                           hotspot[:hot_fraction:hot_op_fraction], exponential[:percentile:fraction]";

/// A key distribution over `0..n` (keys are `u64`).
///
/// Build one with the constructors ([`KeyDist::uniform`], [`KeyDist::zipfian`], …) or
/// [`KeyDist::parse`], which validate the parameters; the fields can be read by matching (with
/// `..`) but the variants cannot be built outside this crate. Draw keys through a
/// [`KeyGen`] from [`KeyDist::generator`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum KeyDist {
    /// Every key of `0..n` equally likely.
    #[non_exhaustive]
    Uniform {
        /// The number of keys.
        n: u64,
    },
    /// `0, 1, 2, …, n-1, 0, 1, …`, one position per generator; draws no randomness.
    #[non_exhaustive]
    Sequential {
        /// The number of keys.
        n: u64,
    },
    /// YCSB's zipfian: P(key i) ∝ 1/(i+1)^θ, key 0 the most popular.
    #[non_exhaustive]
    Zipfian {
        /// The number of keys.
        n: u64,
        /// The exponent θ, finite and > 0.
        theta: f64,
    },
    /// A zipfian rank `r` mapped to key `fnv1a64(r.to_le_bytes()) % n` (YCSB's
    /// `ScrambledZipfianGenerator` idea): the same popularity profile, spread over the key space.
    #[non_exhaustive]
    ScrambledZipfian {
        /// The number of keys.
        n: u64,
        /// The exponent θ, finite and > 0.
        theta: f64,
    },
    /// Skewed toward the newest keys of a growing key space: key = newest − zipfian rank, where
    /// the newest key is `n - 1` and grows with [`KeyGen::grow`] (YCSB's `SkewedLatestGenerator`).
    #[non_exhaustive]
    Latest {
        /// The number of keys at the start (the newest key is `n - 1`).
        n: u64,
        /// The exponent θ, finite and > 0.
        theta: f64,
    },
    /// `hot_op_fraction` of the draws uniformly over the hot keys `0..hot_n`, the rest uniformly
    /// over `hot_n..n`, where `hot_n` is `n · hot_fraction` rounded, kept within `1..=n-1`.
    #[non_exhaustive]
    Hotspot {
        /// The number of keys.
        n: u64,
        /// The share of the key space that is hot, in (0, 1).
        hot_fraction: f64,
        /// The share of the draws that go to the hot keys, in (0, 1).
        hot_op_fraction: f64,
    },
    /// YCSB's `ExponentialGenerator`: key = ⌊X⌋ for X exponential with rate
    /// γ = −ln(1 − percentile/100) / (n · fraction), conditioned on ⌊X⌋ < n.
    #[non_exhaustive]
    Exponential {
        /// The number of keys.
        n: u64,
        /// The share, in percent, of the (untruncated) draws that fall in the first `fraction` of
        /// the key space, in (0, 100).
        percentile: f64,
        /// The leading share of the key space that `percentile` refers to, in (0, 1].
        fraction: f64,
    },
}

impl KeyDist {
    /// Every key of `0..n` equally likely. Errors if `n == 0`.
    pub fn uniform(n: u64) -> Result<Self, KeyDistError> {
        check_n("uniform", n)?;
        Ok(Self::Uniform { n })
    }

    /// The keys in order, `0, 1, 2, …, n-1, 0, 1, …`, each generator from its own position 0.
    /// Errors if `n == 0`.
    pub fn sequential(n: u64) -> Result<Self, KeyDistError> {
        check_n("sequential", n)?;
        Ok(Self::Sequential { n })
    }

    /// YCSB's zipfian: P(rank i) ∝ 1/(i+1)^θ for i in `0..n`, and key = rank, so key 0 is the
    /// most popular. θ must be finite and > 0 (θ = 1 and θ < 1 are fine); `n` must be ≥ 1.
    /// Setup is O(1) in `n`.
    pub fn zipfian(n: u64, theta: f64) -> Result<Self, KeyDistError> {
        check_n("zipfian", n)?;
        check_theta("zipfian", theta)?;
        Ok(Self::Zipfian { n, theta })
    }

    /// A zipfian rank (as [`KeyDist::zipfian`]) hashed onto the key space: key =
    /// FNV-1a 64 of the rank's 8 little-endian bytes, mod `n`. The hot keys are scattered
    /// instead of clustered at 0 (distinct ranks may share a key). θ finite and > 0; `n` ≥ 1.
    pub fn scrambled_zipfian(n: u64, theta: f64) -> Result<Self, KeyDistError> {
        check_n("scrambled_zipfian", n)?;
        check_theta("scrambled_zipfian", theta)?;
        Ok(Self::ScrambledZipfian { n, theta })
    }

    /// Skewed toward the newest keys: key = newest − rank, with a zipfian rank over the current
    /// key count (so it never goes below 0) and newest = `n - 1` until [`KeyGen::grow`] moves it.
    /// θ finite and > 0; `n` ≥ 1.
    pub fn latest(n: u64, theta: f64) -> Result<Self, KeyDistError> {
        check_n("latest", n)?;
        check_theta("latest", theta)?;
        Ok(Self::Latest { n, theta })
    }

    /// `hot_op_fraction` of the draws go uniformly to the hot keys `0..hot_n`, the rest uniformly
    /// to `hot_n..n`; `hot_n` is `n · hot_fraction` rounded to the nearest integer and kept
    /// within `1..=n-1` (for `n == 1` the only key is hot and every draw is 0). Both fractions
    /// must be in (0, 1), exclusive (YCSB's defaults, used by `parse("hotspot")`: 0.2 and 0.8);
    /// `n` ≥ 1.
    pub fn hotspot(n: u64, hot_fraction: f64, hot_op_fraction: f64) -> Result<Self, KeyDistError> {
        check_n("hotspot", n)?;
        if !(hot_fraction > 0.0 && hot_fraction < 1.0) {
            return Err(KeyDistError::InvalidHotFraction { hot_fraction });
        }
        if !(hot_op_fraction > 0.0 && hot_op_fraction < 1.0) {
            return Err(KeyDistError::InvalidHotOpFraction { hot_op_fraction });
        }
        Ok(Self::Hotspot {
            n,
            hot_fraction,
            hot_op_fraction,
        })
    }

    /// YCSB's `ExponentialGenerator`: γ = −ln(1 − percentile/100) / (n · fraction) and key =
    /// ⌊−ln(U)/γ⌋ conditioned on being < n, so that `percentile`% of the untruncated draws fall in
    /// the first `fraction` of the key space. Because draws ≥ n are not kept, the share actually
    /// below `n · fraction` is `p / (1 − (1 − p)^(1/fraction))` with p = percentile/100: ≈ 97.97%
    /// for YCSB's defaults (95, 0.8571428571428571), p itself when `(1 − p)^(1/fraction)` is
    /// negligible. `percentile` must be in (0, 100), `fraction` in (0, 1], `n` ≥ 1.
    pub fn exponential(n: u64, percentile: f64, fraction: f64) -> Result<Self, KeyDistError> {
        check_n("exponential", n)?;
        if !(percentile > 0.0 && percentile < 100.0) {
            return Err(KeyDistError::InvalidPercentile { percentile });
        }
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(KeyDistError::InvalidFraction { fraction });
        }
        Ok(Self::Exponential {
            n,
            percentile,
            fraction,
        })
    }

    /// Parses a spec over `n` keys: `uniform`, `sequential`, `zipfian[:θ]`,
    /// `scrambled_zipfian[:θ]`, `latest[:θ]` (θ defaults to [`DEFAULT_THETA`]),
    /// `hotspot[:hot_fraction:hot_op_fraction]` (defaults 0.2 and 0.8) and
    /// `exponential[:percentile:fraction]` (defaults 95 and 0.8571428571428571). Spaces around the
    /// spec and its parts are ignored; parameters are either all given or all left out. The
    /// parameters are checked as by the constructors.
    pub fn parse(spec: &str, n: u64) -> Result<Self, KeyDistError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(KeyDistError::EmptySpec);
        }
        let mut parts = spec.split(':').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let params: Vec<&str> = parts.collect();
        let number = |value: &str| {
            value.parse::<f64>().map_err(|_| KeyDistError::InvalidNumber {
                spec: spec.to_owned(),
                value: value.to_owned(),
            })
        };
        let wrong_count = |expected: &'static str| KeyDistError::WrongParameterCount {
            spec: spec.to_owned(),
            expected,
        };
        let theta = |form: &'static str| match params[..] {
            [] => Ok(DEFAULT_THETA),
            [theta] => number(theta),
            _ => Err(wrong_count(form)),
        };
        let pair = |form: &'static str, defaults: (f64, f64)| match params[..] {
            [] => Ok(defaults),
            [a, b] => Ok((number(a)?, number(b)?)),
            _ => Err(wrong_count(form)),
        };
        match name {
            "uniform" if params.is_empty() => Self::uniform(n),
            "uniform" => Err(wrong_count("uniform")),
            "sequential" if params.is_empty() => Self::sequential(n),
            "sequential" => Err(wrong_count("sequential")),
            "zipfian" => Self::zipfian(n, theta("zipfian[:θ]")?),
            "scrambled_zipfian" => Self::scrambled_zipfian(n, theta("scrambled_zipfian[:θ]")?),
            "latest" => Self::latest(n, theta("latest[:θ]")?),
            "hotspot" => {
                let defaults = (DEFAULT_HOT_FRACTION, DEFAULT_HOT_OP_FRACTION);
                let (hot, hot_op) = pair("hotspot[:hot_fraction:hot_op_fraction]", defaults)?;
                Self::hotspot(n, hot, hot_op)
            }
            "exponential" => {
                let defaults = (DEFAULT_PERCENTILE, DEFAULT_FRACTION);
                let (percentile, fraction) = pair("exponential[:percentile:fraction]", defaults)?;
                Self::exponential(n, percentile, fraction)
            }
            _ => Err(KeyDistError::UnknownDistribution { name: name.to_owned() }),
        }
    }

    /// The distribution's name as [`KeyDist::parse`] spells it (`"zipfian"`, `"hotspot"`, …).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Uniform { .. } => "uniform",
            Self::Sequential { .. } => "sequential",
            Self::Zipfian { .. } => "zipfian",
            Self::ScrambledZipfian { .. } => "scrambled_zipfian",
            Self::Latest { .. } => "latest",
            Self::Hotspot { .. } => "hotspot",
            Self::Exponential { .. } => "exponential",
        }
    }

    /// The number of keys the distribution starts with.
    fn n(&self) -> u64 {
        match *self {
            Self::Uniform { n }
            | Self::Sequential { n }
            | Self::Zipfian { n, .. }
            | Self::ScrambledZipfian { n, .. }
            | Self::Latest { n, .. }
            | Self::Hotspot { n, .. }
            | Self::Exponential { n, .. } => n,
        }
    }

    /// A fresh generator for one user: its own sequential position and its own key count for
    /// [`KeyGen::grow`]. O(1) whatever `n`.
    pub fn generator(&self) -> KeyGen {
        let n = self.n();
        debug_assert!(n >= 1, "KeyDist built without its constructor: n = 0");
        let kind = match *self {
            Self::Uniform { .. } => GenKind::Uniform,
            Self::Sequential { .. } => GenKind::Sequential { next: 0 },
            Self::Zipfian { theta, .. } => GenKind::Zipfian(Zipf::new(n, theta)),
            Self::ScrambledZipfian { theta, .. } => GenKind::ScrambledZipfian(Zipf::new(n, theta)),
            Self::Latest { theta, .. } => GenKind::Latest(Zipf::new(n, theta)),
            Self::Hotspot {
                hot_fraction,
                hot_op_fraction,
                ..
            } => GenKind::Hotspot {
                hot_fraction,
                hot_op_fraction,
                hot_n: hot_len(n, hot_fraction),
            },
            Self::Exponential {
                percentile, fraction, ..
            } => GenKind::Exponential(Exponential::new(n, percentile, fraction)),
        };
        KeyGen { n, kind }
    }
}

/// One user's stateful key generator, from [`KeyDist::generator`]. Cloning it forks the state:
/// the clone and the original go on alike given equal RNGs.
#[derive(Debug, Clone)]
pub struct KeyGen {
    /// The current number of keys (≥ 1).
    n: u64,
    kind: GenKind,
}

/// The per-distribution state of a [`KeyGen`].
#[derive(Debug, Clone)]
enum GenKind {
    Uniform,
    Sequential {
        next: u64,
    },
    Zipfian(Zipf),
    ScrambledZipfian(Zipf),
    Latest(Zipf),
    Hotspot {
        hot_fraction: f64,
        hot_op_fraction: f64,
        hot_n: u64,
    },
    Exponential(Exponential),
}

impl KeyGen {
    /// Draws one key in `0..self.len()`, with all randomness from `rng` (none for
    /// `sequential`). Expected O(1): the zipfian family rejects a try with a small probability
    /// (measured under 1.5% for θ from 0.01 to 50) and then tries again.
    pub fn next(&mut self, rng: &mut StressRng) -> u64 {
        let n = self.n;
        match &mut self.kind {
            GenKind::Uniform => below(rng, n),
            GenKind::Sequential { next } => {
                if *next >= n {
                    *next = 0;
                }
                let key = *next;
                *next += 1;
                key
            }
            GenKind::Zipfian(zipf) => zipf.rank(rng),
            GenKind::ScrambledZipfian(zipf) => fnv1a64(&zipf.rank(rng).to_le_bytes()) % n,
            GenKind::Latest(zipf) => (n - 1).saturating_sub(zipf.rank(rng)),
            GenKind::Hotspot {
                hot_op_fraction, hot_n, ..
            } => {
                let hot = unit_f64(rng) < *hot_op_fraction;
                if hot || *hot_n >= n {
                    below(rng, *hot_n)
                } else {
                    *hot_n + below(rng, n - *hot_n)
                }
            }
            GenKind::Exponential(exp) => exp.key(rng, n),
        }
    }

    /// The key space grew to `n` keys; an `n` not above [`KeyGen::len`] is ignored (the key space
    /// never shrinks). O(1). Each distribution then draws over the new `0..n`:
    /// - `uniform`: uniformly over `0..n`.
    /// - `sequential`: goes on from its position, now wrapping at `n` (so it visits the new keys
    ///   before starting again from 0).
    /// - `zipfian`: over ranks `0..n`; key 0 stays the most popular.
    /// - `scrambled_zipfian`: over ranks `0..n`, hashed mod the new `n`, so which keys are hot
    ///   changes.
    /// - `latest`: the newest key becomes `n - 1`, and ranks run over `0..n`.
    /// - `hotspot`: the hot set becomes `n · hot_fraction` keys (rounded) with the same fractions.
    /// - `exponential`: γ is recomputed for the new `n`, so the same shares hold over the new space.
    pub fn grow(&mut self, n: u64) {
        if n <= self.n {
            return;
        }
        self.n = n;
        match &mut self.kind {
            GenKind::Uniform | GenKind::Sequential { .. } => {}
            GenKind::Zipfian(zipf) | GenKind::ScrambledZipfian(zipf) | GenKind::Latest(zipf) => zipf.set_n(n),
            GenKind::Hotspot {
                hot_fraction, hot_n, ..
            } => *hot_n = hot_len(n, *hot_fraction),
            GenKind::Exponential(exp) => *exp = Exponential::new(n, exp.percentile, exp.fraction),
        }
    }

    /// The current number of keys: the keys drawn are in `0..len()`.
    pub fn len(&self) -> u64 {
        self.n
    }

    /// Whether the key space is empty: never, since a distribution has at least one key.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

fn check_n(dist: &'static str, n: u64) -> Result<(), KeyDistError> {
    if n == 0 {
        return Err(KeyDistError::EmptyKeySpace { dist });
    }
    Ok(())
}

fn check_theta(dist: &'static str, theta: f64) -> Result<(), KeyDistError> {
    // Written so that NaN fails too.
    if !(theta > 0.0 && theta.is_finite()) {
        return Err(KeyDistError::InvalidTheta { dist, theta });
    }
    Ok(())
}

/// The size of `hotspot`'s hot set: `n · hot_fraction` rounded, within `1..=n-1` (1 if `n == 1`).
fn hot_len(n: u64, hot_fraction: f64) -> u64 {
    // `as` saturates, so a product rounded up past u64::MAX still lands in range.
    let hot = (n as f64 * hot_fraction).round() as u64;
    hot.clamp(1, n.saturating_sub(1).max(1))
}

/// A uniform `f64` in `[0, 1)`: the top 53 bits of one `next_u64`.
fn unit_f64(rng: &mut StressRng) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (rng.next_u64() >> 11) as f64 * SCALE
}

/// A uniform integer in `0..n` (`n ≥ 1`), unbiased: Lemire's multiply-shift with rejection
/// ("Fast random integer generation in an interval", ACM TOMACS 2019). One `next_u64` per draw
/// except with probability below `n / 2^64`.
fn below(rng: &mut StressRng, n: u64) -> u64 {
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    if (m as u64) < n {
        // 2^64 mod n: the low words below it belong to an incomplete last stripe.
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
        }
    }
    (m >> 64) as u64
}

/// 64-bit FNV-1a of `bytes` (the scrambling hash of `scrambled_zipfian`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h = Fnv64::new();
    h.write(bytes);
    h.finish()
}

mod error;
mod samplers;
#[cfg(test)]
mod tests;

pub use error::KeyDistError;
use samplers::{Exponential, Zipf};
