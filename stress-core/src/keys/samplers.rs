//! The samplers behind the skewed distributions.

use super::{StressRng, below, unit_f64};

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
pub(super) struct Zipf {
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

    pub(super) fn new(n: u64, theta: f64) -> Self {
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
    pub(super) fn set_n(&mut self, n: u64) {
        self.n = n;
        self.h_integral_n = self.h_integral(n as f64 + 0.5);
    }

    /// One rank in `0..n` (rank 0 the most likely).
    pub(super) fn rank(&self, rng: &mut StressRng) -> u64 {
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
    pub(super) fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.theta) * log_x) * log_x
    }

    /// h(x) = x^−θ.
    pub(super) fn h(&self, x: f64) -> f64 {
        (-self.theta * x.ln()).exp()
    }

    /// H⁻¹(x) = (1 + x(1 − θ))^(1/(1−θ)), computed as `exp(helper1(x(1 − θ)) · x)`.
    pub(super) fn h_integral_inverse(&self, x: f64) -> f64 {
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
pub(super) struct Exponential {
    pub(super) percentile: f64,
    pub(super) fraction: f64,
    /// γ = −ln(1 − percentile/100) / (n · fraction).
    gamma: f64,
    /// 1 − e^(−γn): the untruncated mass below n.
    mass: f64,
}

impl Exponential {
    /// Below this γn the truncated exponential differs from uniform by less than γn relatively,
    /// below f64 noise for practical purposes, while 1 − U·m would lose its precision.
    const UNIFORM_BELOW: f64 = 1e-12;

    pub(super) fn new(n: u64, percentile: f64, fraction: f64) -> Self {
        let gamma = -(-percentile / 100.0).ln_1p() / (n as f64 * fraction);
        let mass = -(-gamma * n as f64).exp_m1();
        Self {
            percentile,
            fraction,
            gamma,
            mass,
        }
    }

    pub(super) fn key(&self, rng: &mut StressRng, n: u64) -> u64 {
        // mass is never NaN: γ ≥ 0 (possibly ∞) and n ≥ 1.
        if self.mass <= Self::UNIFORM_BELOW {
            return below(rng, n);
        }
        let x = -(-unit_f64(rng) * self.mass).ln_1p() / self.gamma;
        // x < n up to rounding; `as` saturates and takes the floor of x ≥ 0.
        (x as u64).min(n - 1)
    }
}
