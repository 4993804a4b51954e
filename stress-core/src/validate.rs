//! One validation of a run's resolved configuration, wherever it came from: the environment,
//! the command line, the API, or a `replay.json` (which is read, not trusted). A configuration
//! that cannot run as written — no users, an empty range, a share above 1, a run that would
//! never end — is refused with one line naming the field and what fits.

use std::time::Duration;

use crate::config::RunConfig;
use crate::seed::SeedPlan;

pub use crate::config::values::{MAX_DURATION, MAX_RATE, MAX_RETRY_BACKOFF};
/// The longest think time between two ops: an hour.
pub const MAX_THINK_MS: u64 = 3_600_000;
/// The most rows a bulk op may be asked for.
pub const MAX_BATCH: u64 = 1_000_000_000;
/// The most tries an op may get.
pub const MAX_TRIES: u32 = 1_000;
/// The most databases any run may have, whatever `STRESS_MAX_DATABASES` allows.
pub const MAX_DATABASES: usize = 1_000_000;

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

impl RunConfig {
    /// Checks that this configuration can run as written; the error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let max_ms = ms(MAX_DURATION);
        if self.users.iter().all(|(_, n)| *n == 0) {
            return Err("no users to run: every class has 0 users".into());
        }
        match (self.duration_ms, self.ops_per_user) {
            (Some(0), _) => return Err("duration is 0: give a run at least 1 ms".into()),
            (Some(d), _) if d > max_ms => {
                return Err(format!("duration {d} ms is longer than 30 days, the longest run"));
            }
            (None, None) => {
                return Err("neither a duration nor an op limit: the run would never end".into());
            }
            _ => {}
        }
        if self.ops_per_user == Some(0) {
            return Err("ops per user is 0: give at least 1".into());
        }
        if self.think_min_ms > self.think_max_ms {
            return Err(format!(
                "think time {}..{} ms is empty: its minimum exceeds its maximum",
                self.think_min_ms, self.think_max_ms
            ));
        }
        if self.think_max_ms > MAX_THINK_MS {
            return Err(format!(
                "think time up to {} ms is longer than an hour",
                self.think_max_ms
            ));
        }
        if self.batch_min == 0 || self.batch_min > self.batch_max || self.batch_max > MAX_BATCH {
            return Err(format!(
                "batch {}..{} does not fit: give MIN..MAX with 1 <= MIN <= MAX <= {MAX_BATCH}",
                self.batch_min, self.batch_max
            ));
        }
        if self.databases == 0 || self.databases > MAX_DATABASES {
            return Err(format!(
                "databases {} does not fit: give 1 to {MAX_DATABASES}",
                self.databases
            ));
        }
        for (name, v) in [
            ("max_memory_mb", self.max_memory_mb),
            ("max_cpu_percent", self.max_cpu_percent),
            ("max_disk_mb", self.max_disk_mb),
        ] {
            if v == Some(0) {
                return Err(format!("{name} is 0: give a limit above 0, or none"));
            }
        }
        if self.stuck_grace_ms > max_ms {
            return Err(format!("stuck grace {} ms is longer than 30 days", self.stuck_grace_ms));
        }
        if self.limit_grace_ms > max_ms {
            return Err(format!("limit grace {} ms is longer than 30 days", self.limit_grace_ms));
        }
        if !(0.0..=1.0).contains(&self.max_error_rate) {
            return Err(format!(
                "max_error_rate {} is not a fraction: give 0 to 1",
                self.max_error_rate
            ));
        }
        if let Some(r) = self.rate
            && !(r.is_finite() && r > 0.0 && r <= MAX_RATE)
        {
            return Err(format!(
                "rate {} does not fit: give ops/s above 0, at most {}",
                crate::config::values::show_number(r),
                crate::config::values::show_number(MAX_RATE)
            ));
        }
        let mut staged = 0u64;
        for s in &self.stages {
            if !(s.target.is_finite() && s.target >= 0.0) {
                return Err(format!("a stage targets {}: give 0 or more", s.target));
            }
            if s.target > MAX_RATE {
                return Err(format!(
                    "a stage targets {}: give at most {} ops/s, and users fewer still",
                    crate::config::values::show_number(s.target),
                    crate::config::values::show_number(MAX_RATE)
                ));
            }
            staged = staged.saturating_add(s.duration_ms);
        }
        if staged > max_ms {
            return Err(format!("the stages last {staged} ms, longer than 30 days"));
        }
        if self.rate.is_none() && !self.stages.is_empty() && self.stages.iter().all(|s| s.target <= 0.0) {
            return Err("every stage targets 0 users: give one stage a target above 0".into());
        }
        if let Some(d) = self.duration_ms
            && self.warmup_ms >= d
        {
            return Err(format!(
                "warm-up {} ms is not shorter than the run ({d} ms): nothing would be measured",
                self.warmup_ms
            ));
        }
        if self.warmup_ms > max_ms {
            return Err(format!("warm-up {} ms is longer than 30 days", self.warmup_ms));
        }
        if self.latency_limit_ms.is_some() && self.rate.is_none() {
            return Err("a latency limit needs a rate: without a schedule no op is late".into());
        }
        if let Some(at) = self.start_at_ms {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let ahead = crate::config::values::MAX_START_AHEAD.as_millis() as u64;
            if at > now.saturating_add(ahead) {
                return Err(format!(
                    "start_at is {} s from now, more than a day: give a start within 24 hours",
                    (at - now) / 1000
                ));
            }
        }
        if self.max_tries == 0 || self.max_tries > MAX_TRIES {
            return Err(format!(
                "max_tries {} does not fit: give 1 to {MAX_TRIES}",
                self.max_tries
            ));
        }
        let (lo, hi) = (
            Duration::from_micros(self.retry_backoff_min_us),
            Duration::from_micros(self.retry_backoff_max_us),
        );
        if let Err(m) = crate::config::values::backoff_fits(lo, hi) {
            return Err(format!(
                "retry backoff {lo:?}..{hi:?} {m} (--retry-backoff, STRESS_RETRY_BACKOFF, Runner::retry_backoff)"
            ));
        }
        Ok(())
    }
}

/// Checks that a seed plan (a replay file's users and databases) fits its configuration:
/// as many users of each class as the configuration says, each id once, each on a database
/// that exists, and one seed per database.
pub(crate) fn validate_plan(config: &RunConfig, plan: &SeedPlan) -> Result<(), String> {
    for (class, n) in &config.users {
        let seeds = plan.users.iter().filter(|u| u.class == *class).count();
        if seeds != *n {
            return Err(format!("it gives class `{class}` {n} users but {seeds} user seeds"));
        }
    }
    if plan.users.len() != config.users.iter().map(|(_, n)| n).sum::<usize>() {
        return Err("it has user seeds of classes its configuration does not list".into());
    }
    // Each id is one the workload makes: `class-index`, its index below the class's count.
    for u in &plan.users {
        let n = config.users.iter().find(|(c, _)| *c == u.class).map_or(0, |(_, n)| *n);
        let fits =
            u.id.strip_prefix(u.class.as_str())
                .and_then(|rest| rest.strip_prefix('-'))
                .and_then(|i| i.parse::<usize>().ok().filter(|n| n.to_string() == i))
                .is_some_and(|i| i < n);
        if !fits {
            let class = u.class.escape_debug();
            return Err(format!(
                "user `{}` is not one of the workload's: class `{class}` has users {class}-0 to {class}-{}",
                u.id.escape_debug(),
                n.saturating_sub(1)
            ));
        }
    }
    let mut ids: Vec<&str> = plan.users.iter().map(|u| u.id.as_str()).collect();
    ids.sort_unstable();
    if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!("user `{}` appears twice", w[0]));
    }
    if let Some(u) = plan.users.iter().find(|u| u.db >= config.databases) {
        return Err(format!(
            "user `{}` works on database {}, but there are {}",
            u.id, u.db, config.databases
        ));
    }
    let mut dbs: Vec<usize> = plan.databases.iter().map(|d| d.index).collect();
    dbs.sort_unstable();
    if dbs.len() != config.databases || dbs.iter().enumerate().any(|(i, d)| i != *d) {
        return Err(format!(
            "its database seeds are not one for each of its {} databases",
            config.databases
        ));
    }
    Ok(())
}
