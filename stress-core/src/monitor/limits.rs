//! Resource limits with hysteresis: users pause while a memory or CPU limit is breached and
//! resume once it falls below 90% of it; writes become reads while the disk budget is spent.
//! A memory or CPU limit that stays breached for the grace period ends the run.

use std::time::{Duration, Instant};

/// Below this fraction of a limit, a breached limit counts as relieved.
pub(crate) const RESUME_FRACTION: f64 = 0.9;

#[derive(Debug)]
struct Limit {
    name: &'static str,
    max: f64,
    breached_since: Option<Instant>,
}

impl Limit {
    fn update(&mut self, value: f64, now: Instant) -> bool {
        match self.breached_since {
            None if value > self.max => self.breached_since = Some(now),
            Some(_) if value < self.max * RESUME_FRACTION => self.breached_since = None,
            _ => {}
        }
        self.breached_since.is_some()
    }
}

/// What changed at one sample.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum LimitEvent {
    /// Users should pause (`true`) or resume (`false`); with the reason.
    Pause(bool, String),
    /// Writes should become reads (`true`) or not.
    DiskOver(bool, String),
    /// A limit stayed breached for the grace period: stop the run.
    Stop(String),
}

/// The run's limits.
#[derive(Debug)]
pub(crate) struct Limits {
    memory: Option<Limit>,
    cpu: Option<Limit>,
    disk: Option<Limit>,
    grace: Duration,
    paused: bool,
    disk_over: bool,
}

impl Limits {
    pub(crate) fn new(memory_mb: Option<u64>, cpu_percent: Option<u64>, disk_mb: Option<u64>, grace: Duration) -> Self {
        let limit = |name, max: Option<u64>| {
            max.map(|m| Limit {
                name,
                max: m as f64,
                breached_since: None,
            })
        };
        Self {
            memory: limit("max_memory_mb", memory_mb),
            cpu: limit("max_cpu_percent", cpu_percent),
            disk: limit("max_disk_mb", disk_mb),
            grace,
            paused: false,
            disk_over: false,
        }
    }

    pub(crate) fn paused(&self) -> bool {
        self.paused
    }

    /// Feeds one sample: total memory MB, CPU % and disk MB over all sources.
    pub(crate) fn update(&mut self, memory: f64, cpu: f64, disk: f64, now: Instant) -> Vec<LimitEvent> {
        let mut events = Vec::new();
        let mut pause_reason = None;
        for (limit, value, unit) in [(&mut self.memory, memory, "MB"), (&mut self.cpu, cpu, "%")] {
            let Some(l) = limit else { continue };
            if l.update(value, now) {
                let since = l.breached_since.expect("breached");
                let detail = format!("{value:.0} {unit} over {} {:.0}", l.name, l.max);
                if now.duration_since(since) >= self.grace {
                    events.push(LimitEvent::Stop(format!(
                        "{detail} for {:.0}s despite backpressure",
                        now.duration_since(since).as_secs_f64()
                    )));
                }
                pause_reason.get_or_insert(detail);
            }
        }
        if pause_reason.is_some() != self.paused {
            self.paused = pause_reason.is_some();
            events.push(LimitEvent::Pause(
                self.paused,
                pause_reason.unwrap_or_else(|| "resources back under their limits".into()),
            ));
        }
        if let Some(l) = &mut self.disk {
            let over = l.update(disk, now);
            if over != self.disk_over {
                self.disk_over = over;
                events.push(LimitEvent::DiskOver(
                    over,
                    format!("disk {disk:.1} MB, max_disk_mb {:.0}", l.max),
                ));
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_resumes_with_hysteresis_and_stops_after_grace() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let mut l = Limits::new(Some(100), None, None, Duration::from_secs(5));
        assert!(l.update(90.0, 0.0, 0.0, s(0)).is_empty());
        let e = l.update(120.0, 0.0, 0.0, s(1));
        assert!(
            matches!(&e[..], [LimitEvent::Pause(true, why)] if why.contains("max_memory_mb")),
            "{e:?}"
        );
        // Between 90% and 100%: still paused (hysteresis).
        assert!(l.update(95.0, 0.0, 0.0, s(2)).is_empty());
        assert!(l.paused());
        assert_eq!(
            l.update(80.0, 0.0, 0.0, s(3)),
            vec![LimitEvent::Pause(false, "resources back under their limits".into())]
        );
        l.update(150.0, 0.0, 0.0, s(4));
        assert!(l.update(150.0, 0.0, 0.0, s(8)).is_empty());
        let e = l.update(150.0, 0.0, 0.0, s(9));
        assert!(
            matches!(&e[..], [LimitEvent::Stop(why)] if why.contains("for 5s")),
            "{e:?}"
        );
    }

    #[test]
    fn disk_budget_flips_writes_to_reads() {
        let t = Instant::now();
        let mut l = Limits::new(None, None, Some(10), Duration::from_secs(5));
        assert!(l.update(1e9, 1e9, 5.0, t).is_empty(), "no memory or CPU limit set");
        assert!(matches!(
            &l.update(0.0, 0.0, 11.0, t)[..],
            [LimitEvent::DiskOver(true, _)]
        ));
        assert!(
            l.update(0.0, 0.0, 11.0, t + Duration::from_secs(60)).is_empty(),
            "disk never stops a run"
        );
        assert!(!l.paused());
    }
}
