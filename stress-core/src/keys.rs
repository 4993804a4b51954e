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

use crate::seed::StressRng;

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

/// Why a key distribution could not be built or parsed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum KeyDistError {
    /// `n == 0`: every distribution needs at least one key.
    EmptyKeySpace {
        /// The distribution's name.
        dist: &'static str,
    },
    /// θ was not a finite number > 0.
    InvalidTheta {
        /// The distribution's name.
        dist: &'static str,
        /// The θ given.
        theta: f64,
    },
    /// `hotspot`'s hot fraction was not in (0, 1).
    InvalidHotFraction {
        /// The hot fraction given.
        hot_fraction: f64,
    },
    /// `hotspot`'s hot op fraction was not in (0, 1).
    InvalidHotOpFraction {
        /// The hot op fraction given.
        hot_op_fraction: f64,
    },
    /// `exponential`'s percentile was not in (0, 100).
    InvalidPercentile {
        /// The percentile given.
        percentile: f64,
    },
    /// `exponential`'s fraction was not in (0, 1].
    InvalidFraction {
        /// The fraction given.
        fraction: f64,
    },
    /// The spec was empty (or only spaces).
    EmptySpec,
    /// The spec named no known distribution.
    UnknownDistribution {
        /// The name given (the spec up to its first `:`).
        name: String,
    },
    /// A parameter of the spec was not a number.
    InvalidNumber {
        /// The whole spec.
        spec: String,
        /// The parameter that is not a number.
        value: String,
    },
    /// The spec had a number of parameters its distribution does not take.
    WrongParameterCount {
        /// The whole spec.
        spec: String,
        /// The forms the distribution takes, e.g. `zipfian[:θ]`.
        expected: &'static str,
    },
}

impl std::fmt::Display for KeyDistError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::EmptyKeySpace { dist } => write!(f, "{dist} needs at least 1 key (n ≥ 1), got n = 0"),
            Self::InvalidTheta { dist, theta } => {
                write!(
                    f,
                    "{dist} θ must be a finite number > 0, i.e. in (0, ∞) (θ = 1 is fine), got {theta}"
                )
            }
            Self::InvalidHotFraction { hot_fraction } => {
                write!(
                    f,
                    "hotspot hot_fraction must be in (0, 1), exclusive, got {hot_fraction}"
                )
            }
            Self::InvalidHotOpFraction { hot_op_fraction } => {
                write!(
                    f,
                    "hotspot hot_op_fraction must be in (0, 1), exclusive, got {hot_op_fraction}"
                )
            }
            Self::InvalidPercentile { percentile } => {
                write!(
                    f,
                    "exponential percentile must be in (0, 100), exclusive, got {percentile}"
                )
            }
            Self::InvalidFraction { fraction } => {
                write!(f, "exponential fraction must be in (0, 1], got {fraction}")
            }
            Self::EmptySpec => write!(f, "empty key distribution spec; valid forms: {VALID_FORMS}"),
            Self::UnknownDistribution { name } => {
                write!(f, "unknown key distribution {name:?}; valid forms: {VALID_FORMS}")
            }
            Self::InvalidNumber { spec, value } => {
                write!(f, "key distribution {spec:?}: parameter {value:?} is not a number")
            }
            Self::WrongParameterCount { spec, expected } => {
                write!(
                    f,
                    "key distribution {spec:?} has the wrong number of parameters; expected {expected}"
                )
            }
        }
    }
}

impl std::error::Error for KeyDistError {}

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

/// 64-bit FNV-1a of `bytes`.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Zipfian ranks in `0..n` with P(rank i) ∝ 1/(i+1)^θ, by rejection-inversion (Hörmann &
/// Derflinger 1996) as in Apache Commons RNG's `RejectionInversionZipfSampler`.
///
/// It samples k in `1..=n` with P(k) ∝ h(k) = k^−θ. The hat is the continuous h over
/// [½, n + ½] (h is decreasing and convex, so ∫ over [k − ½, k + ½] of h ≥ h(k)), with integral
/// H(x) = (x^(1−θ) − 1)/(1 − θ), which tends to ln x at θ = 1, so every θ > 0 works. A uniform u
/// in (H(1.5) − 1, H(n + ½)] (the first interval shortened to exactly h(1) = 1) is inverted to
/// x = H⁻¹(u) and rounded to k; k is accepted when u lies under the part of the hat that belongs
/// to h(k), `u ≥ H(k + ½) − h(k)`, or at once when `k − x ≤ s`, a cheap squeeze that implies it.
/// Setup is a few evaluations of H, whatever n; under 1.5% of tries are rejected (measured for θ
/// from 0.01 to 50 and n from 10 to 10^11), so a draw is expected O(1).
#[derive(Debug, Clone)]
struct Zipf {
    n: u64,
    theta: f64,
    /// H(1.5) − 1: the lower end of u's range.
    h_integral_x1: f64,
    /// H(n + ½): the upper end of u's range.
    h_integral_n: f64,
    /// The squeeze: accept at once when k − x ≤ s.
    s: f64,
}

impl Zipf {
    /// Below this |x|, `helper1` and `helper2` use their Taylor series (as Commons RNG does).
    const TAYLOR_THRESHOLD: f64 = 1e-8;

    fn new(n: u64, theta: f64) -> Self {
        let mut zipf = Self {
            n,
            theta,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            s: 0.0,
        };
        zipf.h_integral_x1 = zipf.h_integral(1.5) - 1.0;
        zipf.s = 2.0 - zipf.h_integral_inverse(zipf.h_integral(2.5) - zipf.h(2.0));
        zipf.set_n(n);
        zipf
    }

    /// Moves the upper end to a new `n` (O(1)).
    fn set_n(&mut self, n: u64) {
        self.n = n;
        self.h_integral_n = self.h_integral(n as f64 + 0.5);
    }

    /// One rank in `0..n` (rank 0 the most likely).
    fn rank(&self, rng: &mut StressRng) -> u64 {
        loop {
            let u = self.h_integral_n + unit_f64(rng) * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            // Rounding errors may put x slightly outside [½, n + ½]; `as` saturates (NaN → 0).
            let k = ((x + 0.5) as u64).clamp(1, self.n);
            let kf = k as f64;
            if kf - x <= self.s || u >= self.h_integral(kf + 0.5) - self.h(kf) {
                return k - 1;
            }
        }
    }

    /// H(x) = (x^(1−θ) − 1)/(1 − θ), computed as `helper2((1 − θ) ln x) · ln x`.
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.theta) * log_x) * log_x
    }

    /// h(x) = x^−θ.
    fn h(&self, x: f64) -> f64 {
        (-self.theta * x.ln()).exp()
    }

    /// H⁻¹(x) = (1 + x(1 − θ))^(1/(1−θ)), computed as `exp(helper1(x(1 − θ)) · x)`.
    fn h_integral_inverse(&self, x: f64) -> f64 {
        // t < −1 only through rounding errors; −1 is its limit.
        let t = (x * (1.0 - self.theta)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// ln(1 + x)/x, continuous at 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > Zipf::TAYLOR_THRESHOLD {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// (eˣ − 1)/x, continuous at 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > Zipf::TAYLOR_THRESHOLD {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

/// YCSB's exponential over `0..n`, truncated to `0..n`.
///
/// Keeping ⌊−ln(U)/γ⌋ only when it is < n is the same as drawing X from the exponential
/// conditioned on X < n, which inversion does in one uniform: X = −ln(1 − U·m)/γ with
/// m = 1 − e^(−γn) the mass below n. So a draw costs one `next_u64` even when most of the
/// untruncated mass lies beyond n (tiny percentiles), where redrawing would loop for long.
#[derive(Debug, Clone)]
struct Exponential {
    percentile: f64,
    fraction: f64,
    /// γ = −ln(1 − percentile/100) / (n · fraction).
    gamma: f64,
    /// 1 − e^(−γn): the untruncated mass below n.
    mass: f64,
}

impl Exponential {
    /// Below this γn the truncated exponential differs from uniform by less than γn relatively,
    /// below f64 noise for practical purposes, while 1 − U·m would lose its precision.
    const UNIFORM_BELOW: f64 = 1e-12;

    fn new(n: u64, percentile: f64, fraction: f64) -> Self {
        let gamma = -(-percentile / 100.0).ln_1p() / (n as f64 * fraction);
        let mass = -(-gamma * n as f64).exp_m1();
        Self {
            percentile,
            fraction,
            gamma,
            mass,
        }
    }

    fn key(&self, rng: &mut StressRng, n: u64) -> u64 {
        // mass is never NaN: γ ≥ 0 (possibly ∞) and n ≥ 1.
        if self.mass <= Self::UNIFORM_BELOW {
            return below(rng, n);
        }
        let x = -(-unit_f64(rng) * self.mass).ln_1p() / self.gamma;
        // x < n up to rounding; `as` saturates and takes the floor of x ≥ 0.
        (x as u64).min(n - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::collections::HashMap;

    fn rng(seed: u64) -> StressRng {
        StressRng::seed_from_u64(seed)
    }

    /// Draws `draws` keys and counts them per key, checking each is below the current length.
    fn draw_counts(generator: &mut KeyGen, seed: u64, draws: u64) -> HashMap<u64, u64> {
        let mut r = rng(seed);
        let mut counts = HashMap::new();
        for _ in 0..draws {
            let key = generator.next(&mut r);
            assert!(key < generator.len(), "key {key} out of 0..{}", generator.len());
            *counts.entry(key).or_insert(0) += 1;
        }
        counts
    }

    /// Asserts that `count` of `draws` is within 5σ of the binomial mean for probability `p`.
    fn assert_binomial(count: u64, draws: u64, p: f64, what: &str) {
        let mean = draws as f64 * p;
        let sigma = (draws as f64 * p * (1.0 - p)).sqrt();
        let dev = (count as f64 - mean).abs();
        assert!(
            dev <= 5.0 * sigma,
            "{what}: {count} of {draws}, expected {mean:.1} ± 5·{sigma:.1} (p = {p:.6}), off by {dev:.1}"
        );
    }

    /// Pearson's chi-square statistic of `buckets` against equal expected counts.
    fn chi_square(buckets: &[u64]) -> f64 {
        let total: u64 = buckets.iter().sum();
        let expected = total as f64 / buckets.len() as f64;
        buckets.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum()
    }

    /// The exact zipfian pmf over ranks `0..n`, normalised by the generalised harmonic sum.
    fn zipf_pmf(n: u64, theta: f64) -> Vec<f64> {
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-theta)).collect();
        let harmonic: f64 = weights.iter().sum();
        weights.iter().map(|w| w / harmonic).collect()
    }

    fn check_zipf_ranks(theta: f64, ranks: usize, seed: u64) {
        let n = 1000;
        let draws = 300_000;
        let mut generator = KeyDist::zipfian(n, theta).unwrap().generator();
        let counts = draw_counts(&mut generator, seed, draws);
        let pmf = zipf_pmf(n, theta);
        for (rank, &p) in pmf.iter().enumerate().take(ranks) {
            let count = counts.get(&(rank as u64)).copied().unwrap_or(0);
            assert_binomial(count, draws, p, &format!("zipfian θ = {theta}, rank {rank}"));
        }
    }

    #[test]
    fn uniform_is_uniform_and_in_range() {
        let n = 10_000;
        let draws = 200_000;
        let mut generator = KeyDist::uniform(n).unwrap().generator();
        let mut buckets = [0u64; 20];
        for (key, count) in draw_counts(&mut generator, 1, draws) {
            buckets[(key * 20 / n) as usize] += count;
        }
        // 19 degrees of freedom: P(χ² > 60) ≈ 4e-6.
        let chi2 = chi_square(&buckets);
        assert!(chi2 < 60.0, "χ² = {chi2} over {buckets:?}");
    }

    #[test]
    fn uniform_covers_huge_ranges() {
        // 3·2^62: not a power of two, and the top quarter of u64 is out of range.
        let n = 3u64 << 62;
        let mut generator = KeyDist::uniform(n).unwrap().generator();
        let mut r = rng(2);
        let draws = 30_000;
        let mut thirds = [0u64; 3];
        for _ in 0..draws {
            let key = generator.next(&mut r);
            assert!(key < n);
            thirds[(key / (1u64 << 62)) as usize] += 1;
        }
        for (i, &c) in thirds.iter().enumerate() {
            assert_binomial(c, draws, 1.0 / 3.0, &format!("third {i}"));
        }
    }

    #[test]
    fn sequential_repeats_in_order() {
        let mut generator = KeyDist::sequential(5).unwrap().generator();
        let mut r = rng(3);
        let keys: Vec<u64> = (0..12).map(|_| generator.next(&mut r)).collect();
        assert_eq!(keys, [0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]);
        // Each generator has its own position.
        let mut other = KeyDist::sequential(5).unwrap().generator();
        assert_eq!(other.next(&mut r), 0);
    }

    #[test]
    fn sequential_visits_grown_keys_before_wrapping() {
        let mut generator = KeyDist::sequential(3).unwrap().generator();
        let mut r = rng(4);
        let first: Vec<u64> = (0..3).map(|_| generator.next(&mut r)).collect();
        generator.grow(5);
        let then: Vec<u64> = (0..4).map(|_| generator.next(&mut r)).collect();
        assert_eq!(first, [0, 1, 2]);
        assert_eq!(then, [3, 4, 0, 1]);
    }

    #[test]
    fn zipfian_matches_exact_pmf() {
        check_zipf_ranks(0.99, 10, 5);
        check_zipf_ranks(0.5, 5, 6);
        check_zipf_ranks(1.0, 5, 7);
    }

    #[test]
    fn zipfian_setup_is_not_linear_in_n() {
        // A zeta sum over 10^11 terms would not finish in a test; rejection-inversion is O(1).
        let n = 100_000_000_000;
        let mut generator = KeyDist::zipfian(n, 0.99).unwrap().generator();
        let mut r = rng(8);
        for _ in 0..10 {
            assert!(generator.next(&mut r) < n);
        }
    }

    #[test]
    fn zipfian_terminates_in_range_for_extreme_parameters() {
        let mut r = rng(9);
        for theta in [
            1e-300,
            1e-9,
            0.01,
            0.999_999_999,
            1.0,
            1.000_000_001,
            2.0,
            50.0,
            1e6,
            1e300,
        ] {
            for n in [1, 2, 3, 1000, u64::MAX] {
                for dist in [
                    KeyDist::zipfian(n, theta).unwrap(),
                    KeyDist::scrambled_zipfian(n, theta).unwrap(),
                    KeyDist::latest(n, theta).unwrap(),
                ] {
                    let mut generator = dist.generator();
                    for _ in 0..200 {
                        let key = generator.next(&mut r);
                        assert!(key < n, "{} n = {n} θ = {theta}: key {key}", dist.name());
                    }
                }
            }
        }
        // With a huge θ all the mass is on rank 0.
        let mut generator = KeyDist::zipfian(1000, 1e6).unwrap().generator();
        assert!((0..100).all(|_| generator.next(&mut r) == 0));
    }

    #[test]
    fn scrambled_zipfian_has_zipfian_frequencies_on_scattered_keys() {
        let n = 1000;
        let theta = 0.99;
        let draws = 300_000;
        // The ten most popular ranks land on ten distinct keys, so the top-10 profile is kept.
        let top_keys: Vec<u64> = (0..10u64).map(|rank| fnv1a64(&rank.to_le_bytes()) % n).collect();
        let mut distinct = top_keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 10, "top ranks collide: {top_keys:?}");

        let mut generator = KeyDist::scrambled_zipfian(n, theta).unwrap().generator();
        let counts = draw_counts(&mut generator, 10, draws);
        let mut by_count: Vec<(u64, u64)> = counts.iter().map(|(&k, &c)| (c, k)).collect();
        by_count.sort_unstable_by(|a, b| b.cmp(a));
        let pmf = zipf_pmf(n, theta);
        for (i, &(count, key)) in by_count.iter().take(10).enumerate() {
            assert_binomial(count, draws, pmf[i], &format!("scrambled top {i} (key {key})"));
        }
        // Other ranks share those keys (hash mod n collides), which lifts each top count by at most
        // ~1.2σ here; against the exact pmf of the keys (all ranks hashed) the counts fit tightly.
        let mut key_pmf = vec![0.0; n as usize];
        for (rank, &p) in pmf.iter().enumerate() {
            key_pmf[(fnv1a64(&(rank as u64).to_le_bytes()) % n) as usize] += p;
        }
        for &(count, key) in by_count.iter().take(10) {
            assert_binomial(count, draws, key_pmf[key as usize], &format!("scrambled key {key}"));
        }
        let most_popular = by_count[0].1;
        assert_ne!(most_popular, 0, "key 0 should not be the most popular");
        assert_eq!(most_popular, top_keys[0], "rank 0's key should be the most popular");
    }

    #[test]
    fn latest_favours_the_newest_keys() {
        let mut generator = KeyDist::latest(1000, DEFAULT_THETA).unwrap().generator();
        generator.grow(10_000);
        assert_eq!(generator.len(), 10_000);
        let counts = draw_counts(&mut generator, 11, 200_000);
        let count = |key: u64| counts.get(&key).copied().unwrap_or(0);
        let newest = 9_999;
        let top = counts.iter().max_by_key(|&(&k, &c)| (c, k)).map(|(&k, _)| k);
        assert_eq!(top, Some(newest));
        let ladder = [
            count(newest),
            count(newest - 1),
            count(newest - 10),
            count(newest - 100),
        ];
        assert!(ladder.windows(2).all(|w| w[0] > w[1]), "not decreasing: {ladder:?}");

        generator.grow(20_000);
        let counts = draw_counts(&mut generator, 12, 50_000);
        let top = counts.iter().max_by_key(|&(&k, &c)| (c, k)).map(|(&k, _)| k);
        assert_eq!(top, Some(19_999));
    }

    #[test]
    fn latest_without_growth_is_newest_first() {
        let mut generator = KeyDist::latest(100, DEFAULT_THETA).unwrap().generator();
        let counts = draw_counts(&mut generator, 13, 50_000);
        let top = counts.iter().max_by_key(|&(&k, &c)| (c, k)).map(|(&k, _)| k);
        assert_eq!(top, Some(99));
        // A smaller "growth" is ignored.
        generator.grow(10);
        assert_eq!(generator.len(), 100);
    }

    #[test]
    fn hotspot_splits_draws_between_hot_and_cold_keys() {
        let n = 1000;
        let draws = 200_000;
        let mut generator = KeyDist::hotspot(n, 0.2, 0.8).unwrap().generator();
        let counts = draw_counts(&mut generator, 14, draws);
        let hot_n = 200;
        let mut hot_buckets = [0u64; 10];
        let mut cold_buckets = [0u64; 10];
        for (&key, &count) in &counts {
            if key < hot_n {
                hot_buckets[(key / 20) as usize] += count;
            } else {
                cold_buckets[((key - hot_n) / 80) as usize] += count;
            }
        }
        let hot: u64 = hot_buckets.iter().sum();
        assert_binomial(hot, draws, 0.8, "hot draws");
        // 9 degrees of freedom: P(χ² > 40) ≈ 7e-6.
        let chi2 = chi_square(&hot_buckets);
        assert!(chi2 < 40.0, "hot χ² = {chi2} over {hot_buckets:?}");
        let chi2 = chi_square(&cold_buckets);
        assert!(chi2 < 40.0, "cold χ² = {chi2} over {cold_buckets:?}");
    }

    #[test]
    fn hotspot_hot_set_size() {
        assert_eq!(hot_len(1000, 0.2), 200);
        assert_eq!(hot_len(100, 0.29), 29);
        assert_eq!(hot_len(10, 0.01), 1);
        assert_eq!(hot_len(10, 0.99), 9);
        assert_eq!(hot_len(1, 0.5), 1);
        assert!((1..u64::MAX).contains(&hot_len(u64::MAX, 0.999_999_999_999_999_9)));
        let mut generator = KeyDist::hotspot(1, 0.5, 0.5).unwrap().generator();
        let mut r = rng(15);
        assert!((0..100).all(|_| generator.next(&mut r) == 0));
    }

    #[test]
    fn exponential_puts_percentile_in_fraction() {
        // (1 − 0.95)^(1/0.2) ≈ 3e-7: truncation at n changes nothing measurable.
        let n = 10_000;
        let draws = 200_000;
        let mut generator = KeyDist::exponential(n, 95.0, 0.2).unwrap().generator();
        let counts = draw_counts(&mut generator, 16, draws);
        let below: u64 = counts.iter().filter(|&(&k, _)| k < 2_000).map(|(_, &c)| c).sum();
        assert_binomial(below, draws, 0.95, "exponential(95, 0.2) below n·0.2");
        // The exponential is decreasing.
        let count = |key: u64| counts.get(&key).copied().unwrap_or(0);
        assert!(count(0) > count(1_000) && count(1_000) > count(3_000));
    }

    #[test]
    fn exponential_defaults_follow_the_truncated_share() {
        // YCSB's defaults: the truncation at n moves the share below n·fraction from 95% to
        // p / (1 − (1 − p)^(1/fraction)) ≈ 97.97%.
        let n = 7_000;
        let draws = 200_000;
        let mut generator = KeyDist::parse("exponential", n).unwrap().generator();
        let counts = draw_counts(&mut generator, 17, draws);
        let below: u64 = counts.iter().filter(|&(&k, _)| k < 6_000).map(|(_, &c)| c).sum();
        let p: f64 = 0.95;
        let share = p / (1.0 - (1.0 - p).powf(1.0 / DEFAULT_FRACTION));
        assert!((share - 0.9797).abs() < 1e-3, "{share}");
        assert_binomial(below, draws, share, "exponential defaults below n·fraction");
    }

    #[test]
    fn exponential_with_tiny_percentile_is_near_uniform_and_fast() {
        for percentile in [1e-300, 1e-9, 1e-3] {
            let n = 1000;
            let mut generator = KeyDist::exponential(n, percentile, 1.0).unwrap().generator();
            let mut buckets = [0u64; 10];
            for (key, count) in draw_counts(&mut generator, 18, 20_000) {
                buckets[(key / 100) as usize] += count;
            }
            let chi2 = chi_square(&buckets);
            assert!(chi2 < 40.0, "percentile {percentile}: χ² = {chi2} over {buckets:?}");
        }
        let mut generator = KeyDist::exponential(1000, 99.999_999_999_999, 1e-300)
            .unwrap()
            .generator();
        let mut r = rng(19);
        assert!((0..100).all(|_| generator.next(&mut r) == 0));
    }

    #[test]
    fn grow_extends_every_distribution() {
        let mut r = rng(20);
        for spec in [
            "uniform",
            "sequential",
            "zipfian",
            "scrambled_zipfian",
            "latest",
            "hotspot",
            "exponential",
        ] {
            let mut generator = KeyDist::parse(spec, 10).unwrap().generator();
            generator.grow(1_000);
            assert_eq!(generator.len(), 1_000);
            let max = (0..5_000).map(|_| generator.next(&mut r)).max().unwrap();
            assert!((10..1_000).contains(&max), "{spec}: max key {max} after grow");
            generator.grow(5);
            assert_eq!(generator.len(), 1_000, "{spec}: grow must not shrink");
            assert!(!generator.is_empty());
        }
    }

    #[test]
    fn replay_repeats_the_keys() {
        for spec in [
            "uniform",
            "sequential",
            "zipfian",
            "scrambled_zipfian",
            "latest",
            "hotspot",
            "exponential",
        ] {
            let dist = KeyDist::parse(spec, 1_000_000).unwrap();
            let draw = |seed: u64| {
                let mut generator = dist.generator();
                let mut r = rng(seed);
                (0..1_000).map(|_| generator.next(&mut r)).collect::<Vec<_>>()
            };
            assert_eq!(draw(21), draw(21), "{spec}");
            if spec != "sequential" {
                assert_ne!(draw(21), draw(22), "{spec}");
            }
        }
    }

    #[test]
    fn keys_are_a_fixed_function_of_the_stream() {
        // Pins the mapping from ChaCha8 output to keys: a change here breaks old replays.
        let expected: [(&str, [u64; 6]); 6] = [
            ("uniform", [541347, 246466, 298764, 860367, 696716, 75512]),
            ("zipfian", [529, 34606, 16701, 4, 54, 361096]),
            ("scrambled_zipfian", [43178, 10866, 218675, 816769, 668275, 442]),
            ("latest", [999470, 965393, 983298, 999995, 999945, 638903]),
            ("hotspot", [49293, 172073, 15102, 115384, 185961, 108737]),
            ("exponential", [212951, 78140, 97871, 514249, 322084, 21756]),
        ];
        for (spec, keys) in expected {
            let mut generator = KeyDist::parse(spec, 1_000_000).unwrap().generator();
            let mut r = rng(23);
            let drawn: Vec<u64> = (0..6).map(|_| generator.next(&mut r)).collect();
            assert_eq!(drawn, keys, "{spec}");
        }
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn n_zero_is_an_error_everywhere() {
        let results = [
            KeyDist::uniform(0),
            KeyDist::sequential(0),
            KeyDist::zipfian(0, 0.99),
            KeyDist::scrambled_zipfian(0, 0.99),
            KeyDist::latest(0, 0.99),
            KeyDist::hotspot(0, 0.2, 0.8),
            KeyDist::exponential(0, 95.0, 0.5),
        ];
        for result in results {
            let err = result.unwrap_err();
            assert!(matches!(err, KeyDistError::EmptyKeySpace { .. }), "{err:?}");
            assert!(err.to_string().contains("n ≥ 1"), "{err}");
        }
        for spec in [
            "uniform",
            "sequential",
            "zipfian",
            "scrambled_zipfian",
            "latest",
            "hotspot",
            "exponential",
        ] {
            assert_eq!(
                KeyDist::parse(spec, 0).unwrap_err(),
                KeyDistError::EmptyKeySpace { dist: spec }
            );
        }
    }

    #[test]
    fn parameter_ranges_are_checked() {
        for theta in [0.0, -0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(KeyDist::zipfian(10, theta).is_err(), "θ = {theta}");
            assert!(KeyDist::scrambled_zipfian(10, theta).is_err(), "θ = {theta}");
            assert!(KeyDist::latest(10, theta).is_err(), "θ = {theta}");
        }
        for theta in [f64::MIN_POSITIVE, 0.5, 1.0, 1e300] {
            assert!(KeyDist::zipfian(10, theta).is_ok(), "θ = {theta}");
        }
        for bad in [0.0, 1.0, -0.5, 2.0, f64::NAN] {
            assert!(KeyDist::hotspot(10, bad, 0.5).is_err(), "hot {bad}");
            assert!(KeyDist::hotspot(10, 0.5, bad).is_err(), "hot op {bad}");
        }
        for bad in [0.0, 100.0, -1.0, 150.0, f64::NAN] {
            assert!(KeyDist::exponential(10, bad, 0.5).is_err(), "percentile {bad}");
        }
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(KeyDist::exponential(10, 95.0, bad).is_err(), "fraction {bad}");
        }
        assert!(KeyDist::exponential(10, 95.0, 1.0).is_ok());
        let message = KeyDist::zipfian(10, -1.0).unwrap_err().to_string();
        assert_eq!(
            message,
            "zipfian θ must be a finite number > 0, i.e. in (0, ∞) (θ = 1 is fine), got -1"
        );
    }

    #[test]
    fn parse_accepts_every_form() {
        let n = 1000;
        let cases: [(&str, &str); 12] = [
            ("uniform", "uniform"),
            ("sequential", "sequential"),
            ("zipfian", "zipfian"),
            ("zipfian:0.8", "zipfian"),
            ("scrambled_zipfian", "scrambled_zipfian"),
            ("scrambled_zipfian:0.99", "scrambled_zipfian"),
            ("latest", "latest"),
            ("latest:0.9", "latest"),
            ("hotspot", "hotspot"),
            ("hotspot:0.1:0.9", "hotspot"),
            ("exponential", "exponential"),
            ("exponential:95:0.2", "exponential"),
        ];
        for (spec, name) in cases {
            let dist = KeyDist::parse(spec, n).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(dist.name(), name, "{spec}");
        }
        assert!(matches!(KeyDist::parse("uniform", n), Ok(KeyDist::Uniform { n: 1000 })));
        assert!(matches!(
            KeyDist::parse("zipfian", n),
            Ok(KeyDist::Zipfian {
                theta: DEFAULT_THETA,
                ..
            })
        ));
        assert!(matches!(
            KeyDist::parse(" zipfian : 0.8 ", n),
            Ok(KeyDist::Zipfian { theta: 0.8, .. })
        ));
        assert!(matches!(
            KeyDist::parse("scrambled_zipfian:0.99", n),
            Ok(KeyDist::ScrambledZipfian { theta: 0.99, .. })
        ));
        assert!(matches!(
            KeyDist::parse("latest:0.9", n),
            Ok(KeyDist::Latest { theta: 0.9, .. })
        ));
        assert!(matches!(
            KeyDist::parse("hotspot", n),
            Ok(KeyDist::Hotspot {
                hot_fraction: 0.2,
                hot_op_fraction: 0.8,
                ..
            })
        ));
        assert!(matches!(
            KeyDist::parse("hotspot:0.1:0.9", n),
            Ok(KeyDist::Hotspot {
                hot_fraction: 0.1,
                hot_op_fraction: 0.9,
                ..
            })
        ));
        assert!(matches!(
            KeyDist::parse("exponential", n),
            Ok(KeyDist::Exponential {
                percentile: 95.0,
                fraction: DEFAULT_FRACTION,
                ..
            })
        ));
        assert!(matches!(
            KeyDist::parse("exponential:95:0.2", n),
            Ok(KeyDist::Exponential {
                percentile: 95.0,
                fraction: 0.2,
                ..
            })
        ));
    }

    #[test]
    fn parse_rejects_bad_specs() {
        let n = 1000;
        let err = KeyDist::parse("zipfian:-1", n).unwrap_err();
        assert_eq!(
            err,
            KeyDistError::InvalidTheta {
                dist: "zipfian",
                theta: -1.0
            }
        );
        assert!(err.to_string().contains("(0, ∞)"), "{err}");

        let err = KeyDist::parse("zipfian:abc", n).unwrap_err();
        assert_eq!(
            err,
            KeyDistError::InvalidNumber {
                spec: "zipfian:abc".into(),
                value: "abc".into()
            }
        );
        assert!(err.to_string().contains("\"abc\" is not a number"), "{err}");

        let err = KeyDist::parse("hotspot:2:0.5", n).unwrap_err();
        assert_eq!(err, KeyDistError::InvalidHotFraction { hot_fraction: 2.0 });
        assert!(err.to_string().contains("(0, 1)"), "{err}");

        for (spec, name) in [
            ("gaussian", "gaussian"),
            ("gaussian:1", "gaussian"),
            ("Zipfian", "Zipfian"),
        ] {
            let err = KeyDist::parse(spec, n).unwrap_err();
            assert_eq!(err, KeyDistError::UnknownDistribution { name: name.into() });
            assert!(err.to_string().contains(VALID_FORMS), "{err}");
        }
        for spec in ["", "   "] {
            let err = KeyDist::parse(spec, n).unwrap_err();
            assert_eq!(err, KeyDistError::EmptySpec);
            let message = err.to_string();
            for form in [
                "uniform",
                "sequential",
                "zipfian[:θ]",
                "hotspot[:hot_fraction:hot_op_fraction]",
            ] {
                assert!(message.contains(form), "{message}");
            }
        }
        for (spec, expected) in [
            ("uniform:3", "uniform"),
            ("sequential:1", "sequential"),
            ("zipfian:0.5:0.5", "zipfian[:θ]"),
            ("latest:", "latest[:θ]"),
            ("hotspot:0.1", "hotspot[:hot_fraction:hot_op_fraction]"),
            ("exponential:95:0.2:1", "exponential[:percentile:fraction]"),
        ] {
            let err = KeyDist::parse(spec, n).unwrap_err();
            if spec == "latest:" {
                // An empty parameter is a parameter that is not a number.
                assert!(matches!(err, KeyDistError::InvalidNumber { .. }), "{err:?}");
                continue;
            }
            assert_eq!(
                err,
                KeyDistError::WrongParameterCount {
                    spec: spec.into(),
                    expected
                },
                "{spec}"
            );
            assert!(err.to_string().contains(expected), "{err}");
        }
        assert!(KeyDist::parse("zipfian:nan", n).is_err());
        assert!(KeyDist::parse("zipfian:inf", n).is_err());
        assert!(KeyDist::parse("exponential:100:0.5", n).is_err());
        assert!(KeyDist::parse("exponential:95:0", n).is_err());
    }

    #[test]
    fn errors_are_one_line() {
        let errors = [
            KeyDist::uniform(0).unwrap_err(),
            KeyDist::zipfian(1, f64::NAN).unwrap_err(),
            KeyDist::hotspot(1, 0.5, 1.0).unwrap_err(),
            KeyDist::exponential(1, 0.0, 0.5).unwrap_err(),
            KeyDist::exponential(1, 50.0, 2.0).unwrap_err(),
            KeyDist::parse("", 1).unwrap_err(),
            KeyDist::parse("nope", 1).unwrap_err(),
            KeyDist::parse("zipfian:x", 1).unwrap_err(),
            KeyDist::parse("uniform:1", 1).unwrap_err(),
        ];
        for err in errors {
            let message = err.to_string();
            assert!(!message.contains('\n') && !message.is_empty(), "{message:?}");
            let _: &dyn std::error::Error = &err;
        }
    }
}
