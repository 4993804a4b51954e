//! The wait before a user tries an op again (`--retry-backoff`): exponential backoff with full
//! jitter (AWS's "full jitter"). Before try k+1 (k ≥ 1 tries done) the user waits a time drawn
//! uniformly from 0 to min(MAX, MIN·2^(k-1)), so that users whose tries collided do not collide
//! again at once, and wait longer the more they collided.
//!
//! The draws come from a stream of the user's own (`seed::derive(user_seed, "backoff", "")`):
//! the op stream, and so the op digests, are the same with backoff or without, and a replay
//! waits the same times before the same retries.

use std::time::Duration;

use rand::Rng;

use crate::config::RunConfig;
use crate::seed::{self, StressRng};

/// One user's backoff: its range and its stream of waits.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min_us: u64,
    max_us: u64,
    rng: StressRng,
}

impl Backoff {
    /// The backoff of the user seeded `user_seed`, as `config` sets it.
    pub(crate) fn new(config: &RunConfig, user_seed: u64) -> Self {
        Self {
            min_us: config.retry_backoff_min_us,
            max_us: config.retry_backoff_max_us,
            rng: seed::rng(seed::derive(user_seed, "backoff", "")),
        }
    }

    /// The wait before the next try, `tries_done` (≥ 1) tries of the op having failed. Zero,
    /// drawing nothing, when the backoff is off (`0..0`).
    pub(crate) fn wait(&mut self, tries_done: u32) -> Duration {
        let cap = cap_us(self.min_us, self.max_us, tries_done);
        if cap == 0 {
            return Duration::ZERO;
        }
        Duration::from_micros(self.rng.random_range(0..=cap))
    }
}

/// The longest wait, µs, after `tries_done` failed tries: MIN·2^(tries_done-1), at most MAX
/// (0 when MIN is 0: no backoff).
pub(crate) fn cap_us(min_us: u64, max_us: u64, tries_done: u32) -> u64 {
    let factor = 1u64.checked_shl(tries_done.saturating_sub(1)).unwrap_or(u64::MAX);
    min_us.saturating_mul(factor).min(max_us)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff(min_ms: u64, max_ms: u64, seed: u64) -> Backoff {
        let mut config = crate::config::RunConfig::resolve(
            &crate::ConfigLayer {
                retry_backoff: Some((Duration::from_millis(min_ms), Duration::from_millis(max_ms))),
                ..Default::default()
            },
            &[("c".to_owned(), 1)],
            0,
            false,
        )
        .unwrap();
        config.seed = seed;
        Backoff::new(&config, seed)
    }

    #[test]
    fn the_cap_doubles_from_min_up_to_max() {
        let caps: Vec<u64> = (1..=10).map(|k| cap_us(1_000, 100_000, k)).collect();
        assert_eq!(
            caps,
            [
                1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 100_000, 100_000, 100_000
            ]
        );
        assert_eq!(cap_us(1_000, 100_000, 0), 1_000, "before any failed try: MIN");
        assert_eq!(cap_us(1_000, 100_000, 1_000), 100_000, "no overflow however many tries");
        assert_eq!(cap_us(u64::MAX / 2, u64::MAX, 3), u64::MAX);
        assert_eq!(cap_us(0, 0, 5), 0);
        assert_eq!(cap_us(0, 100_000, 5), 0, "MIN 0 never waits");
    }

    #[test]
    fn each_wait_is_within_its_tries_cap_and_spreads_over_it() {
        let mut b = backoff(1, 100, 7);
        for k in 1..=12u32 {
            let cap = Duration::from_micros(cap_us(1_000, 100_000, k));
            let waits: Vec<Duration> = (0..500).map(|_| b.wait(k)).collect();
            assert!(waits.iter().all(|w| *w <= cap), "try {k}: a wait above {cap:?}");
            // Full jitter: uniform over 0..=cap, so 500 draws reach both ends' quarters.
            assert!(waits.iter().any(|w| *w < cap / 4), "try {k}: {waits:?}");
            assert!(waits.iter().any(|w| *w > cap * 3 / 4), "try {k}: {waits:?}");
        }
    }

    #[test]
    fn the_waits_are_the_seeds() {
        let draw = |seed| {
            let mut b = backoff(1, 100, seed);
            (1..=8).flat_map(|k| [b.wait(k), b.wait(k)]).collect::<Vec<_>>()
        };
        assert_eq!(draw(42), draw(42), "the same seed waits the same");
        assert_ne!(draw(42), draw(43), "another user waits otherwise");
        // Its own stream: not the user's op stream, which starts where `seed::rng(seed)` does.
        let mut ops = seed::rng(42);
        let mut waits = seed::rng(seed::derive(42, "backoff", ""));
        assert_ne!(ops.random::<u64>(), waits.random::<u64>());
    }

    #[test]
    fn no_backoff_waits_nothing_and_draws_nothing() {
        let mut off = backoff(0, 0, 42);
        let before = off.rng.get_word_pos();
        assert!((1..=20).all(|k| off.wait(k).is_zero()));
        assert_eq!(off.rng.get_word_pos(), before);
    }
}
