//! Resident memory and CPU of a process, from `/proc` (Linux).

use std::time::Instant;

use super::{MetricsSource, Reading, ResourceKind};

/// Clock ticks per second of `/proc/<pid>/stat` times: 100 on every Linux this runs on
/// (`getconf CLK_TCK`).
const CLK_TCK: f64 = 100.0;

/// One reading of a process from `/proc`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSample {
    /// Resident set size, bytes.
    pub rss_bytes: u64,
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
}

/// Reads `/proc/<pid>` (`"self"` for this process); `None` when the process is gone or `/proc`
/// is not there.
pub fn read_process(pid: &str) -> Option<ProcessSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces and parentheses).
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(ProcessSample {
        rss_bytes: rss_kb * 1024,
        cpu_seconds: (utime + stime) / CLK_TCK,
    })
}

/// This process's resident memory (`rss_mb`) and CPU (`cpu_percent`, of one core). For an
/// in-process engine such as SQLite, these are the engine's resources too.
#[derive(Debug)]
pub struct ProcessMetrics {
    last: Option<(Instant, f64)>,
}

impl Default for ProcessMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessMetrics {
    /// Starts measuring CPU from now.
    pub fn new() -> Self {
        Self {
            last: read_process("self").map(|s| (Instant::now(), s.cpu_seconds)),
        }
    }
}

impl MetricsSource for ProcessMetrics {
    fn name(&self) -> &str {
        "process"
    }

    fn sample(&mut self) -> Result<Vec<Reading>, String> {
        let s = read_process("self").ok_or("cannot read /proc/self (not Linux?)")?;
        let now = Instant::now();
        let cpu = match self.last {
            Some((t, c)) if now > t => (s.cpu_seconds - c) / (now - t).as_secs_f64() * 100.0,
            _ => 0.0,
        };
        self.last = Some((now, s.cpu_seconds));
        Ok(vec![
            Reading::new("rss_mb", ResourceKind::MemoryMb, s.rss_bytes as f64 / 1_048_576.0),
            Reading::new("cpu_percent", ResourceKind::CpuPercent, cpu.max(0.0)),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let s = read_process("self").expect("/proc/self");
        assert!(s.rss_bytes > 1_000_000, "{s:?}");
        let mut m = ProcessMetrics::new();
        // Burn a little CPU so that the reading has something to show.
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_add(i * i);
        }
        std::hint::black_box(x);
        let r = m.sample().unwrap();
        assert_eq!(r[0].name, "rss_mb");
        assert!(r[0].value > 1.0);
        assert!(r[1].value >= 0.0);
        assert!(read_process("999999999").is_none());
    }
}
