//! Statistical tests of every distribution, with fixed seeds.

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

/// Every distribution by its spec name.
const EVERY_DIST: [&str; 7] = [
    "uniform",
    "sequential",
    "zipfian",
    "scrambled_zipfian",
    "latest",
    "hotspot",
    "exponential",
];

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
    for spec in EVERY_DIST {
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
    for spec in EVERY_DIST {
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
    for spec in EVERY_DIST {
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
