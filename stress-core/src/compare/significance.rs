//! Whether a difference between two runs is more than chance: Welch's t-test over per-second
//! values, with each side's sample size corrected for autocorrelation, and a two-proportion
//! z-test for error rates.
//!
//! Per-second figures of one run are not independent (a slow second tends to follow a slow
//! second), and a t-test that takes n seconds as n independent samples finds "significant"
//! differences in noise. As latte does, each side's n is replaced by an effective sample size
//! from its lag-1 autocorrelation ρ (the AR(1) correction): n_eff = n (1 − ρ) / (1 + ρ).

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Fewer values than this on a side: no test (the change is still reported).
pub const MIN_VALUES: usize = 3;

/// The outcome of a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Test {
    /// Which test decided, as a reader is told: `welch_t` or `two_proportion_z`.
    pub name: String,
    /// Two-sided p-value.
    pub p: f64,
    /// Effective sample sizes, base and new (Welch only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_eff: Option<(f64, f64)>,
}

/// Mean, sample variance and effective sample size of a series.
fn describe(xs: &[f64]) -> (f64, f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let ss: f64 = xs.iter().map(|x| (x - mean).powi(2)).sum();
    let var = ss / (n - 1.0);
    let rho = if ss > 0.0 {
        let lag: f64 = xs.windows(2).map(|w| (w[0] - mean) * (w[1] - mean)).sum();
        // A negative correlation would claim more than n samples: count n.
        (lag / ss).clamp(0.0, 0.99)
    } else {
        0.0
    };
    let n_eff = (n * (1.0 - rho) / (1.0 + rho)).clamp(2.0, n);
    (mean, var, n_eff)
}

/// Welch's t-test of `base` against `new`; `None` when a side has fewer than [`MIN_VALUES`].
pub fn welch(base: &[f64], new: &[f64]) -> Option<Test> {
    if base.len() < MIN_VALUES || new.len() < MIN_VALUES {
        return None;
    }
    let (m1, v1, n1) = describe(base);
    let (m2, v2, n2) = describe(new);
    let (a, b) = (v1 / n1, v2 / n2);
    let se2 = a + b;
    let p = if se2 <= 0.0 {
        // Both sides constant: the same constant, or certainly different.
        if m1 == m2 { 1.0 } else { 0.0 }
    } else {
        let t = (m2 - m1) / se2.sqrt();
        let df = se2.powi(2) / (a.powi(2) / (n1 - 1.0) + b.powi(2) / (n2 - 1.0));
        let dist = StudentsT::new(0.0, 1.0, df.max(1.0)).expect("positive degrees of freedom");
        2.0 * (1.0 - dist.cdf(t.abs()))
    };
    Some(Test {
        name: "welch_t".into(),
        p: p.clamp(0.0, 1.0),
        n_eff: Some(((n1 * 10.0).round() / 10.0, (n2 * 10.0).round() / 10.0)),
    })
}

/// The two-proportion z-test of `base_failed / base_total` against `new_failed / new_total`;
/// `None` when a side has no ops.
pub fn two_proportions(base_failed: u64, base_total: u64, new_failed: u64, new_total: u64) -> Option<Test> {
    if base_total == 0 || new_total == 0 {
        return None;
    }
    let (n1, n2) = (base_total as f64, new_total as f64);
    let (p1, p2) = (base_failed as f64 / n1, new_failed as f64 / n2);
    let pooled = (base_failed + new_failed) as f64 / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let p = if se <= 0.0 {
        1.0
    } else {
        let z = (p2 - p1) / se;
        2.0 * (1.0 - Normal::standard().cdf(z.abs()))
    };
    Some(Test {
        name: "two_proportion_z".into(),
        p: p.clamp(0.0, 1.0),
        n_eff: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_matches_scipy_with_the_autocorrelation_correction() {
        let a = [19.8, 20.4, 19.6, 17.8, 18.5, 18.9, 18.3, 18.9, 19.5, 22.0];
        let b = [28.2, 26.6, 20.1, 23.3, 25.2, 22.1, 17.7, 27.6, 20.6, 13.7];
        // scipy's ttest_ind(a, b, equal_var=False) gives p = 0.0643 on n = 10 each; `a` has a
        // lag-1 autocorrelation of 0.259, so it counts as 5.88 samples (b's is below 0: 10),
        // and the same test on those sizes (scipy.stats.t.sf, df 10.92) gives p = 0.0675.
        let t = welch(&a, &b).unwrap();
        assert_eq!(t.name, "welch_t");
        assert_eq!(t.n_eff, Some((5.9, 10.0)));
        assert!((t.p - 0.06749).abs() < 0.0001, "{t:?}");
        let same = welch(&a, &a).unwrap();
        assert!((same.p - 1.0).abs() < 1e-9, "{same:?}");
    }

    #[test]
    fn welch_p_values_are_those_of_the_t_distribution() {
        // No autocorrelation (alternating), n = 6 each, known variances: t and df by hand.
        let a = [10.0, 12.0, 10.0, 12.0, 10.0, 12.0];
        let b = [13.0, 15.0, 13.0, 15.0, 13.0, 15.0];
        let t = welch(&a, &b).unwrap();
        // mean diff 3, var 1.2 each, se = sqrt(0.4) = 0.632, t = 4.743, df = 10:
        // two-sided p = 0.000788 (scipy.stats.t.sf).
        assert!((t.p - 0.000788).abs() < 0.000005, "{t:?}");
        assert_eq!(t.n_eff, Some((6.0, 6.0)));
    }

    #[test]
    fn a_trend_counts_as_fewer_samples() {
        let trend: Vec<f64> = (0..20).map(f64::from).collect();
        let (_, _, n) = describe(&trend);
        assert!(n < 5.0, "a steady trend is nearly one sample, not 20: {n}");
        assert!(welch(&trend[..2], &trend).is_none(), "too few values: no test");
    }

    #[test]
    fn constant_series_are_equal_or_certainly_different() {
        assert_eq!(welch(&[5.0; 4], &[5.0; 4]).unwrap().p, 1.0);
        assert_eq!(welch(&[5.0; 4], &[6.0; 4]).unwrap().p, 0.0);
    }

    #[test]
    fn two_proportions_match_a_worked_example() {
        // 30/1000 vs 60/1000: z = 3.236, p = 0.001212 (scipy.stats.norm.sf).
        let t = two_proportions(30, 1000, 60, 1000).unwrap();
        assert!((t.p - 0.001212).abs() < 0.000005, "{t:?}");
        assert_eq!(two_proportions(0, 1000, 0, 1000).unwrap().p, 1.0);
        assert!(two_proportions(3, 5000, 0, 0).is_none());
        // 0 of 5000 then 3 of 5000: not enough to call it.
        assert!(two_proportions(0, 5000, 3, 5000).unwrap().p > 0.05);
    }
}
