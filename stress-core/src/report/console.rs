//! Progress on the console while a run goes on, and the observer interface it implements.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::event::Event;
use crate::stats::IntervalRecord;

use super::summary::Summary;

/// What is known when the users are about to start.
#[derive(Debug, Clone)]
pub struct RunStart<'a> {
    /// The workload.
    pub workload: &'a str,
    /// The global seed.
    pub seed: u64,
    /// Users in all.
    pub users: usize,
    /// Run length, if bounded by time.
    pub duration: Option<Duration>,
    /// Op limit per user.
    pub ops_per_user: Option<u64>,
    /// Output directory.
    pub out_dir: Option<&'a Path>,
}

/// The state of a run after one interval.
#[derive(Debug, Clone)]
pub struct Progress<'a> {
    /// Time since the users started.
    pub elapsed: Duration,
    /// Run length, if bounded by time.
    pub duration: Option<Duration>,
    /// Ops so far.
    pub total_ops: u64,
    /// Failed ops so far.
    pub failed_ops: u64,
    /// The interval just closed.
    pub interval: &'a IntervalRecord,
    /// Why users are paused, if they are.
    pub paused: Option<&'a str>,
}

/// Receives a run's events on the monitor thread: keep each call short.
pub trait Observer: Send {
    /// The users are about to start.
    fn on_start(&mut self, _start: &RunStart<'_>) {}
    /// An interval closed.
    fn on_interval(&mut self, _progress: &Progress<'_>) {}
    /// Something happened between intervals: a pause, a resume, a stage change, the run
    /// stopping (the [`Event`] variants of those names).
    fn on_event(&mut self, _event: &Event) {}
    /// The run ended and its files are written.
    fn on_finish(&mut self, _summary: &Summary, _out_dir: Option<&Path>) {}
}

/// How [`ConsoleProgress`] writes (`STRESS_PROGRESS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressStyle {
    /// Nothing.
    Off,
    /// A plain line every few seconds (`lines`, the default).
    Lines,
    /// Each event as a message of the protocol's channel (`json`): a line
    /// `stress-protocol: {"protocol_version": …, "event": {…}}`, for tools that drive the
    /// harness.
    Json,
}

impl ProgressStyle {
    /// From `STRESS_PROGRESS` (`off`, `lines`, `json`); anything else is `lines`.
    pub fn from_env() -> Self {
        match std::env::var("STRESS_PROGRESS").as_deref() {
            Ok("off") => Self::Off,
            Ok("json") => Self::Json,
            _ => Self::Lines,
        }
    }
}

/// Writes progress to stderr: a line every `every` in `Lines` style.
#[derive(Debug)]
pub struct ConsoleProgress {
    style: ProgressStyle,
    every: Duration,
    last: Duration,
    name: String,
}

impl ConsoleProgress {
    /// A console reporter.
    pub fn new(style: ProgressStyle, every: Duration) -> Self {
        Self {
            style,
            every,
            last: Duration::ZERO,
            name: String::new(),
        }
    }
}

/// The line a run starts with: `orders: 9 users, seed 42, 10s or 5 ops per user`.
pub fn start_line(workload: &str, users: u64, seed: u64, duration_s: Option<f64>, ops_per_user: Option<u64>) -> String {
    let limit = match (duration_s, ops_per_user) {
        (Some(d), Some(n)) => format!("{d:.0}s or {n} ops per user"),
        (Some(d), None) => format!("{d:.0}s"),
        (None, Some(n)) => format!("{n} ops per user"),
        (None, None) => "until stopped".into(),
    };
    let noun = if users == 1 { "user" } else { "users" };
    format!("{workload}: {users} {noun}, seed {seed}, {limit}")
}

/// A progress line: `orders: 5s/10s  3610 ops  229 ops/s  p99 544.8ms  0 errors`, shown by the
/// harness and by `cargo stress` alike.
#[derive(Debug, Clone, Copy)]
pub struct ProgressLine<'a> {
    /// The workload.
    pub workload: &'a str,
    /// Seconds since the users started.
    pub elapsed_s: f64,
    /// The run's length, if bounded by time.
    pub duration_s: Option<f64>,
    /// Ops so far.
    pub total_ops: u64,
    /// Ops in the last interval (ops/s).
    pub interval_ops: u64,
    /// The last interval's p99, µs.
    pub p99_us: u64,
    /// Failed ops so far.
    pub failed_ops: u64,
    /// Why users are paused, if they are.
    pub paused: Option<&'a str>,
}

impl std::fmt::Display for ProgressLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.duration_s {
            // Past the end, users finish the ops they are in: `4s/4s +1s`, never `5s/4s`.
            Some(d) if self.elapsed_s.round() > d.round() => write!(
                f,
                "{}: {d:.0}s/{d:.0}s +{:.0}s",
                self.workload,
                self.elapsed_s.round() - d.round()
            )?,
            Some(d) => write!(f, "{}: {:.0}s/{d:.0}s", self.workload, self.elapsed_s)?,
            None => write!(f, "{}: {:.0}s", self.workload, self.elapsed_s)?,
        }
        write!(
            f,
            "  {} ops  {} ops/s  p99 {}  {} errors",
            self.total_ops,
            self.interval_ops,
            human_us(self.p99_us),
            self.failed_ops
        )?;
        if let Some(why) = self.paused {
            write!(f, "  paused: {why}")?;
        }
        Ok(())
    }
}

/// Microseconds for people: `812µs`, `3.4ms`, `1.25s`.
pub fn human_us(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}µs"),
        1_000..1_000_000 => format!("{:.1}ms", us as f64 / 1e3),
        _ => format!("{:.2}s", us as f64 / 1e6),
    }
}

impl Observer for ConsoleProgress {
    fn on_start(&mut self, s: &RunStart<'_>) {
        self.name = s.workload.to_owned();
        match self.style {
            ProgressStyle::Off => return,
            ProgressStyle::Json => {
                let event = Event::Start {
                    workload: s.workload.to_owned(),
                    seed: s.seed,
                    users: s.users,
                    duration_s: s.duration.map(|d| d.as_secs_f64()),
                    ops_per_user: s.ops_per_user,
                    out_dir: s.out_dir.map(Path::to_path_buf),
                };
                let _ = writeln!(std::io::stderr(), "{}", event.line());
                return;
            }
            ProgressStyle::Lines => {}
        }
        let duration = s.duration.map(|d| d.as_secs_f64());
        eprintln!(
            "{}",
            start_line(s.workload, s.users as u64, s.seed, duration, s.ops_per_user)
        );
    }

    fn on_interval(&mut self, p: &Progress<'_>) {
        match self.style {
            ProgressStyle::Off => {}
            ProgressStyle::Lines => {
                if p.elapsed < self.last + self.every {
                    return;
                }
                self.last = p.elapsed;
                let line = ProgressLine {
                    workload: &self.name,
                    elapsed_s: p.elapsed.as_secs_f64(),
                    duration_s: p.duration.map(|d| d.as_secs_f64()),
                    total_ops: p.total_ops,
                    interval_ops: p.interval.ops,
                    p99_us: p.interval.p99_us,
                    failed_ops: p.failed_ops,
                    paused: p.paused,
                };
                eprintln!("{line}");
            }
            ProgressStyle::Json => {
                let event = Event::Interval {
                    workload: self.name.clone(),
                    elapsed_s: p.elapsed.as_secs_f64(),
                    duration_s: p.duration.map(|d| d.as_secs_f64()),
                    total_ops: p.total_ops,
                    failed_ops: p.failed_ops,
                    interval: p.interval.clone(),
                    paused: p.paused.map(str::to_owned),
                };
                let _ = writeln!(std::io::stderr(), "{}", event.line());
            }
        }
    }

    fn on_event(&mut self, event: &Event) {
        match self.style {
            ProgressStyle::Off => {}
            ProgressStyle::Json => {
                let _ = writeln!(std::io::stderr(), "{}", event.line());
            }
            ProgressStyle::Lines => {
                if let Some(line) = event.human() {
                    eprintln!("{line}");
                }
            }
        }
    }

    fn on_finish(&mut self, s: &Summary, out_dir: Option<&Path>) {
        match self.style {
            ProgressStyle::Off => return,
            ProgressStyle::Json => {
                let event = Event::Stop {
                    workload: s.workload.clone(),
                    stop_reason: s.stop_reason,
                    failures: s.failures.clone(),
                    exit_code: s.exit_code(),
                };
                let _ = writeln!(std::io::stderr(), "{}", event.line());
                return;
            }
            ProgressStyle::Lines => {}
        }
        eprintln!(
            "{}: {:?} after {:.1}s: {} ops ({:.0}/s), {} failed, p50 {} p99 {} max {}{}",
            s.workload,
            s.stop_reason,
            s.duration_s,
            s.total_ops,
            s.ops_per_sec,
            s.failed_ops,
            human_us(s.latency_us.p50),
            human_us(s.latency_us.p99),
            human_us(s.latency_us.max),
            out_dir.map_or(String::new(), |d| format!("\n  results: {}", d.display()))
        );
        for c in s.checks.iter().filter(|c| c.passed) {
            eprintln!("  ok: {}", c.headline);
        }
        for f in &s.failures {
            eprintln!("  failed: {f}");
        }
        if s.retried_ops > 0 {
            eprintln!(
                "  retried: {} ops ({} retries in all), {} failed for good",
                s.retried_ops, s.retries, s.exhausted_ops
            );
        }
        for w in &s.warnings {
            eprintln!("  warning: {w}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_line_counts_users_in_words() {
        assert_eq!(start_line("w", 1, 7, Some(10.0), None), "w: 1 user, seed 7, 10s");
        assert_eq!(
            start_line("w", 9, 7, None, Some(5)),
            "w: 9 users, seed 7, 5 ops per user"
        );
    }

    #[test]
    fn the_progress_line_never_reads_past_the_run_length() {
        let line = |elapsed_s| {
            ProgressLine {
                workload: "w",
                elapsed_s,
                duration_s: Some(4.0),
                total_ops: 10,
                interval_ops: 5,
                p99_us: 1500,
                failed_ops: 0,
                paused: None,
            }
            .to_string()
        };
        assert!(
            line(2.0).starts_with("w: 2s/4s  10 ops  5 ops/s  p99 1.5ms"),
            "{}",
            line(2.0)
        );
        assert!(line(4.2).starts_with("w: 4s/4s  10 ops"), "{}", line(4.2));
        assert!(line(5.1).starts_with("w: 4s/4s +1s  10 ops"), "{}", line(5.1));
    }
}
