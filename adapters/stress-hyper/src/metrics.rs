//! hyperd's own resource log as a metrics source: a tailer that follows `hyperd*.log` across
//! rotations, resource metrics (memory, CPU, load, scheduler) as readings that drive
//! backpressure, `query-end` records as server-side latencies, and hyperd's exit as a crash.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;
use stress_core::monitor::{CpuMeter, Health, MetricsSource, Reading, ResourceKind, last_lines, read_process};

use crate::server::{log_files, try_wait};

/// At most this much log is read per sample, so a flood cannot stall the monitor.
const MAX_READ_PER_POLL: u64 = 64 << 20;

/// Follows hyperd's log in a directory: reads what was appended since the last poll, and
/// moves on to the next file when hyperd rotates (`log_file_size_limit`) — also when the
/// old file was pruned meanwhile (its open handle still reads).
#[derive(Debug)]
pub(crate) struct LogTailer {
    dir: PathBuf,
    current: Option<(PathBuf, File, u64)>,
    partial: Vec<u8>,
}

impl LogTailer {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
            current: None,
            partial: Vec::new(),
        }
    }

    /// Calls `on_line` for every complete line appended since the last poll.
    pub(crate) fn poll(&mut self, mut on_line: impl FnMut(&str)) {
        let mut budget = MAX_READ_PER_POLL;
        loop {
            let files = log_files(&self.dir);
            if self.current.is_none() {
                let Some(first) = files.first() else { return };
                let Ok(f) = File::open(first) else { return };
                self.current = Some((first.clone(), f, 0));
            }
            let (path, file, offset) = self.current.as_mut().expect("opened above");
            // Checked before reading: every line of the old file was written before the
            // next file existed, so reading to the end after this check misses none.
            let next = files.iter().find(|p| *p > path).cloned();
            if file.metadata().is_ok_and(|m| m.len() < *offset) {
                *offset = 0; // truncated
            }
            if file.seek(SeekFrom::Start(*offset)).is_err() {
                return;
            }
            let mut buf = Vec::new();
            let n = file.take(budget).read_to_end(&mut buf).unwrap_or(0) as u64;
            *offset += n;
            budget -= n;
            self.partial.extend_from_slice(&buf);
            if let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') {
                let complete: Vec<u8> = self.partial.drain(..=end).collect();
                String::from_utf8_lossy(&complete).lines().for_each(&mut on_line);
            }
            match next {
                Some(next) if budget > 0 => {
                    let Ok(f) = File::open(&next) else { return };
                    self.partial.clear();
                    self.current = Some((next, f, 0));
                }
                _ => return,
            }
        }
    }
}

/// The latest `resource-metrics` record.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Resources {
    pub(crate) memory_mb: Option<f64>,
    /// `cpu.process_cpu_utilization`: a fraction of the whole machine.
    pub(crate) cpu_utilization: Option<f64>,
    pub(crate) others: Vec<(&'static str, f64)>,
}

/// The metrics of a `resource-metrics` line (`None` for any other line).
pub(crate) fn parse_resources(line: &str) -> Option<Resources> {
    if !line.contains(r#""k":"resource-metrics""#) {
        return None;
    }
    let v: Json = serde_json::from_str(line).ok()?;
    let v = &v["v"];
    let mut r = Resources {
        memory_mb: v["memory"]["process_physical_memory_mb"].as_f64(),
        cpu_utilization: v["cpu"]["process_cpu_utilization"].as_f64(),
        others: Vec::new(),
    };
    let threads = &v["scheduler-thread-count"];
    for (name, value) in [
        ("overall_load", &v["load"]["overall_load"]),
        ("scheduler_load", &v["load"]["scheduler_load"]),
        ("memory_load", &v["load"]["memory_load"]),
        ("scheduler_active_threads", &threads["scheduler_thread_count"]["active"]),
        (
            "scheduler_inactive_threads",
            &threads["scheduler_thread_count"]["inactive"],
        ),
        ("scheduler_waiting_jobs", &threads["scheduler_waiting_jobs_count"]),
    ] {
        if let Some(x) = value.as_f64() {
            r.others.push((name, x));
        }
    }
    Some(r)
}

/// The server-side time of a `query-end` line, µs (`None` for any other line).
pub(crate) fn parse_query_end(line: &str) -> Option<u64> {
    if !line.contains(r#""k":"query-end""#) {
        return None;
    }
    let v: Json = serde_json::from_str(line).ok()?;
    let secs = v["v"]["elapsed"].as_f64()?;
    Some((secs * 1e6).round().max(0.0) as u64)
}

/// The managed hyperd, as the run's monitor sees it.
pub(crate) struct HyperMetrics {
    /// hyperd's pid (a new one after a fault started it again).
    pub(crate) pid: Arc<std::sync::atomic::AtomicU32>,
    /// Set while a fault stops and starts hyperd: its exit is not a crash then.
    pub(crate) restarting: Arc<std::sync::atomic::AtomicBool>,
    pub(crate) child: Arc<Mutex<Child>>,
    pub(crate) log_dir: PathBuf,
    pub(crate) databases: Vec<PathBuf>,
    pub(crate) server_latency: bool,
    pub(crate) tailer: LogTailer,
    pub(crate) latest: Option<Resources>,
    pub(crate) latencies: Vec<u64>,
    pub(crate) cores: f64,
    pub(crate) cpu: CpuMeter,
}

impl std::fmt::Debug for HyperMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HyperMetrics")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl HyperMetrics {
    /// Memory and CPU from `/proc`, until hyperd's first resource record (or when resource
    /// logging is off).
    fn proc_readings(&mut self) -> (f64, f64) {
        let pid = self.pid.load(std::sync::atomic::Ordering::SeqCst);
        let Some(p) = read_process(&pid.to_string()) else {
            return (0.0, 0.0);
        };
        let percent = self.cpu.percent(p.cpu_seconds + p.children_cpu_seconds);
        (p.rss_bytes as f64 / 1_048_576.0, percent)
    }
}

impl MetricsSource for HyperMetrics {
    fn name(&self) -> &str {
        "hyper"
    }

    fn sample(&mut self) -> Result<Vec<Reading>, String> {
        let (mut latest, mut latencies) = (None, Vec::new());
        let keep_latency = self.server_latency;
        self.tailer.poll(|line| {
            if let Some(r) = parse_resources(line) {
                latest = Some(r);
            } else if keep_latency && let Some(us) = parse_query_end(line) {
                latencies.push(us);
            }
        });
        if latest.is_some() {
            self.latest = latest;
        }
        self.latencies.append(&mut latencies);
        let (proc_mb, proc_cpu) = self.proc_readings();
        let r = self.latest.clone().unwrap_or_default();
        let mut out = vec![
            Reading::new("memory_mb", ResourceKind::MemoryMb, r.memory_mb.unwrap_or(proc_mb)),
            Reading::new(
                "cpu_percent",
                ResourceKind::CpuPercent,
                r.cpu_utilization.map_or(proc_cpu, |u| u * 100.0 * self.cores),
            ),
        ];
        out.extend(r.others.iter().map(|(n, v)| Reading::new(*n, ResourceKind::Other, *v)));
        let bytes: u64 = self
            .databases
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        out.push(Reading::new(
            "db_size_mb",
            ResourceKind::DiskMb,
            bytes as f64 / 1_048_576.0,
        ));
        Ok(out)
    }

    fn health(&mut self) -> Health {
        if self.restarting.load(std::sync::atomic::Ordering::SeqCst) {
            return Health::Alive;
        }
        match try_wait(&self.child).ok().flatten() {
            None => Health::Alive,
            Some(status) => Health::Crashed(format!(
                "hyperd (pid {}) exited ({status}); last log lines: {}",
                self.pid.load(std::sync::atomic::Ordering::SeqCst),
                last_log_lines(&self.log_dir, 3)
            )),
        }
    }

    fn server_latencies(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.latencies)
    }
}

/// The last `n` lines of hyperd's newest log, as `k: message`.
fn last_log_lines(dir: &Path, n: usize) -> String {
    let text = log_files(dir)
        .last()
        .and_then(|p| std::fs::read(p).ok())
        .map(|b| {
            // The tail is enough: the log may be many MB.
            let from = b.len().saturating_sub(64 << 10);
            String::from_utf8_lossy(&b[from..]).into_owned()
        })
        .unwrap_or_default();
    let lines: Vec<String> = text.lines().map(crate::server::log_message).collect();
    last_lines(&lines.join("\n"), n)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const RESOURCE: &str = r#"{"ts":"t","k":"resource-metrics","v":{"memory":{"process_physical_memory_mb": 136.5},"load":{"overall_load": 0.25, "scheduler_load": 0.5, "memory_load": 0.125},"cpu":{"process_cpu_utilization": 0.5, "system_cpu_utilization": 0.75},"scheduler-thread-count":{"scheduler_waiting_jobs_count": 3, "scheduler_thread_count": {"inactive": 4, "active": 2}}}}"#;

    #[test]
    fn resource_records_parse() {
        let r = parse_resources(RESOURCE).unwrap();
        assert_eq!(r.memory_mb, Some(136.5));
        assert_eq!(r.cpu_utilization, Some(0.5));
        assert_eq!(
            r.others,
            vec![
                ("overall_load", 0.25),
                ("scheduler_load", 0.5),
                ("memory_load", 0.125),
                ("scheduler_active_threads", 2.0),
                ("scheduler_inactive_threads", 4.0),
                ("scheduler_waiting_jobs", 3.0),
            ]
        );
        assert_eq!(parse_resources(r#"{"k":"query-end","v":{}}"#), None);
        assert_eq!(
            parse_query_end(r#"{"k":"query-end","v":{"elapsed":0.0025}}"#),
            Some(2500)
        );
        assert_eq!(parse_query_end(RESOURCE), None);
    }

    #[test]
    fn the_tailer_follows_appends_partial_lines_and_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("hyperd_2026_01_01_00_00_01.log");
        let mut f = File::create(&first).unwrap();
        let mut tailer = LogTailer::new(dir.path());
        let mut seen = Vec::new();
        write!(f, "a\nb\npart").unwrap();
        tailer.poll(|l| seen.push(l.to_owned()));
        assert_eq!(seen, ["a", "b"]);
        write!(f, "ial\nc\n").unwrap();
        // hyperd rotates: a new file, and the old one pruned before we read its end.
        let mut g = File::create(dir.path().join("hyperd_2026_01_01_00_00_02.log")).unwrap();
        writeln!(g, "d").unwrap();
        std::fs::remove_file(&first).unwrap();
        tailer.poll(|l| seen.push(l.to_owned()));
        assert_eq!(seen, ["a", "b", "partial", "c", "d"]);
        writeln!(g, "e").unwrap();
        tailer.poll(|l| seen.push(l.to_owned()));
        assert_eq!(seen.last().map(String::as_str), Some("e"));
    }
}
