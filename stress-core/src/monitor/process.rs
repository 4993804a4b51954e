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
    /// Proportional set size, bytes (shared pages divided among the processes sharing them:
    /// the honest figure to sum over a process tree), where the kernel reports it.
    pub pss_bytes: Option<u64>,
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
    /// User + system CPU time of waited-for children that have exited, seconds.
    pub children_cpu_seconds: f64,
    /// The parent's pid.
    pub ppid: u32,
    /// The state letter (`R`, `S`, `Z` for a zombie, …).
    pub state: char,
}

/// Reads `/proc/<pid>` (`"self"` for this process): memory, CPU, parent and state from its
/// `status` and `stat`, which the kernel keeps as counters; `None` when the process is gone or
/// `/proc` is not there. `pss_bytes` is `None`: [`read_process_with_pss`] reads it.
pub fn read_process(pid: &str) -> Option<ProcessSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    let after = stat_fields(&format!("/proc/{pid}/stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields of the whole line (1-based): 3 state, 4 ppid, 14 utime, 15 stime, 16 cutime,
    // 17 cstime; after the name they start at index 0 with the state.
    let num = |i: usize| -> Option<f64> { fields.get(i)?.parse().ok() };
    Some(ProcessSample {
        rss_bytes: rss_kb * 1024,
        pss_bytes: None,
        cpu_seconds: (num(11)? + num(12)?) / CLK_TCK,
        children_cpu_seconds: (num(13)? + num(14)?) / CLK_TCK,
        ppid: fields.get(1)?.parse().ok()?,
        state: fields.first()?.chars().next()?,
    })
}

/// [`read_process`] and the proportional set size, from `smaps_rollup`: the kernel walks the
/// process's page tables to answer, hundreds of microseconds for a small process and more for
/// a large one, so it is read only where memory is summed over a tree ([`read_tree`]).
pub fn read_process_with_pss(pid: &str) -> Option<ProcessSample> {
    let mut sample = read_process(pid)?;
    sample.pss_bytes = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024);
    Some(sample)
}

/// This process's memory high-water mark (`VmHWM`), in bytes.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Resets this process's memory high-water mark (`hwm_mb`) to its current resident size
/// (Linux 4.0 and later, `/proc/self/clear_refs`); best effort: where it cannot, the mark counts
/// from the process's start.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's resident memory (`rss_mb`), its exact high-water mark since the run's users
/// started (`hwm_mb`: a peak no sampling misses) and CPU (`cpu_percent`, of one core). For an
/// in-process engine such as SQLite, these are the engine's resources too.
#[derive(Debug)]
pub struct ProcessMetrics {
    cpu: CpuMeter,
}

impl Default for ProcessMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessMetrics {
    /// Starts measuring CPU from now.
    pub fn new() -> Self {
        let mut cpu = CpuMeter::default();
        if let Some(s) = read_process("self") {
            cpu.percent(s.cpu_seconds);
        }
        Self { cpu }
    }
}

impl MetricsSource for ProcessMetrics {
    fn name(&self) -> &str {
        "process"
    }

    fn sample(&mut self) -> Result<Vec<Reading>, String> {
        let s = read_process("self").ok_or("cannot read /proc/self (not Linux?)")?;
        let mut out = vec![
            Reading::new("rss_mb", ResourceKind::MemoryMb, s.rss_bytes as f64 / 1_048_576.0),
            Reading::new("cpu_percent", ResourceKind::CpuPercent, self.cpu.percent(s.cpu_seconds)),
        ];
        if let Some(hwm) = peak_rss_bytes() {
            out.push(Reading::new("hwm_mb", ResourceKind::Other, hwm as f64 / 1_048_576.0));
        }
        Ok(out)
    }
}

/// Every pid whose parent is `parent`, from `/proc`.
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| ppid_of(*pid) == Some(parent))
        .collect()
}

/// Process `root` first, then every process descended from it, from one reading of `/proc`.
pub fn tree_of(root: u32) -> Vec<u32> {
    let mut kids: std::collections::HashMap<u32, Vec<u32>> = std::collections::HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for pid in dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()) {
            if let Some(ppid) = ppid_of(pid) {
                kids.entry(ppid).or_default().push(pid);
            }
        }
    }
    let mut all = vec![root];
    let mut i = 0;
    while i < all.len() {
        all.extend(kids.remove(&all[i]).unwrap_or_default());
        i += 1;
    }
    all
}

/// The fields of a `/proc/…/stat` file after the command name (which may hold spaces and
/// `)`): the state first, then the ppid, the process group, …
fn stat_fields(path: &str) -> Option<String> {
    let stat = std::fs::read_to_string(path).ok()?;
    Some(stat.get(stat.rfind(')')? + 1..)?.trim_start().to_owned())
}

/// The parent of `pid`, from `/proc/PID/stat` alone: what [`children_of`] reads of every
/// process of the machine, so none of the costly files ([`read_process_with_pss`] reads
/// `smaps_rollup`, which walks the process's memory: tens of ms for a large one, seconds over a
/// busy machine).
fn ppid_of(pid: u32) -> Option<u32> {
    stat_fields(&format!("/proc/{pid}/stat"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The state letter of process `pid` (`R`, `S`, `D`, `T` stopped, `Z` a zombie…), from
/// `/proc/PID/stat` alone; `None` when it is gone.
pub fn state_of(pid: u32) -> Option<char> {
    stat_fields(&format!("/proc/{pid}/stat"))?.chars().next()
}

/// The state letter of every thread of process `pid` (none when it is gone).
pub fn thread_states(pid: u32) -> Vec<char> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter_map(|t| stat_fields(t.path().join("stat").to_str()?)?.chars().next())
        .collect()
}

/// Live processes (not zombies) whose command line contains `needle`: a server started with
/// a run's directory in its arguments, found again (tests look for orphans this way).
pub fn pids_with_cmdline(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
                && read_process(&pid.to_string()).is_some_and(|p| p.state != 'Z')
        })
        .collect()
}

/// A process tree as a server's metrics see it: the process, its children that have exited and
/// been waited for, and its live children.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeUsage {
    /// CPU seconds of the process, its waited-for children and its live children.
    ///
    /// Not monotonic: a child that exits between the reads is in neither, and comes back in the
    /// parent's waited-for time later. [`CpuMeter`] absorbs that.
    pub cpu_seconds: f64,
    /// Memory of the process and its live children: proportional set size where the kernel
    /// reports it (shared pages split between their sharers), resident set size otherwise.
    pub bytes: u64,
}

/// The CPU and memory of process `pid` and its children; `None` when the process is gone.
pub fn read_tree(pid: u32) -> Option<TreeUsage> {
    let parent = read_process_with_pss(&pid.to_string())?;
    let mut usage = TreeUsage {
        cpu_seconds: parent.cpu_seconds + parent.children_cpu_seconds,
        bytes: parent.pss_bytes.unwrap_or(parent.rss_bytes),
    };
    for child in children_of(pid)
        .iter()
        .filter_map(|c| read_process_with_pss(&c.to_string()))
    {
        usage.cpu_seconds += child.cpu_seconds;
        usage.bytes += child.pss_bytes.unwrap_or(child.rss_bytes);
    }
    Some(usage)
}

/// The cores this process may run on: what a CPU meter can at most read, times 100.
pub fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// CPU use, percent of one core, from successive readings of a cumulative CPU time.
///
/// Never above the machine's cores × 100, and never counting the same CPU time twice: a
/// reading below the previous one (a process tree whose exited children are, for a moment, in
/// no counter) keeps the previous total, so that their time is counted once when it comes back
/// instead of again as a spike.
#[derive(Debug, Clone, Copy)]
pub struct CpuMeter {
    last: Option<(Instant, f64)>,
    cap: f64,
}

impl Default for CpuMeter {
    fn default() -> Self {
        Self::with_cores(cores())
    }
}

impl CpuMeter {
    /// A meter of processes that may use `cores` cores.
    pub fn with_cores(cores: usize) -> Self {
        Self {
            last: None,
            cap: cores.max(1) as f64 * 100.0,
        }
    }

    /// The percent since the previous call (0 on the first), given the CPU seconds used so far.
    pub fn percent(&mut self, cpu_seconds: f64) -> f64 {
        let now = Instant::now();
        let (percent, total) = match self.last {
            Some((t, c)) if now > t => (
                ((cpu_seconds - c) / (now - t).as_secs_f64() * 100.0).clamp(0.0, self.cap),
                c.max(cpu_seconds),
            ),
            Some((_, c)) => (0.0, c.max(cpu_seconds)),
            None => (0.0, cpu_seconds),
        };
        self.last = Some((now, total));
        percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let s = read_process("self").expect("/proc/self");
        assert!(s.rss_bytes > 1_000_000, "{s:?}");
        assert_eq!(s.pss_bytes, None, "the cheap read leaves smaps_rollup alone");
        let with = read_process_with_pss("self").expect("/proc/self");
        assert!(
            with.pss_bytes.is_some_and(|p| p > 100_000 && p <= 2 * with.rss_bytes),
            "{with:?}"
        );
        let me = read_process("thread-self").expect("/proc/thread-self");
        assert_eq!(me.state, 'R', "this thread is running while it reads");
        assert_eq!(
            s.ppid.to_string(),
            std::fs::read_to_string("/proc/self/stat")
                .unwrap()
                .split(") ")
                .nth(1)
                .unwrap()
                .split(' ')
                .nth(1)
                .unwrap()
        );
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
        assert_eq!(r[1].name, "cpu_percent");
        assert!(r[1].value > 0.0, "the loop above burned CPU: {r:?}");
        assert_eq!(r[2].name, "hwm_mb");
        assert!(
            r[2].value >= r[0].value - 1.0,
            "the high-water mark is at least the current size: {r:?}"
        );
        // A megabyte-sized allocation touched and freed leaves the mark above where it was reset.
        reset_peak_rss();
        let before = peak_rss_bytes().unwrap();
        let big = vec![1u8; 64 << 20];
        std::hint::black_box(&big);
        drop(big);
        assert!(
            peak_rss_bytes().unwrap() >= before + (32 << 20),
            "the mark follows the peak"
        );
        assert!(read_process("999999999").is_none());
    }

    #[test]
    fn a_meter_never_reads_above_its_cores_nor_counts_a_dip_twice() {
        let mut m = CpuMeter::with_cores(2);
        assert_eq!(m.percent(10.0), 0.0, "the first reading has nothing to compare with");
        // A tree whose exited children were in no counter for a moment reads low, then high
        // again: the dip reads 0 and the return counts only what is new.
        assert_eq!(m.percent(4.0), 0.0);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let back = m.percent(10.0);
        assert_eq!(back, 0.0, "10 s counted once, not twice");
        // A burst far above two cores in a short interval reads as two cores at most.
        assert_eq!(m.percent(1_000.0), 200.0);
    }

    #[test]
    fn a_process_tree_whose_children_start_and_exit_stays_within_the_cores() {
        // A shell that starts short CPU-bound children, a few at a time, and waits for them:
        // children appear, burn, exit, and are waited for while the meter samples the tree —
        // until the test has seen enough (a file tells the shell to stop), however fast or slow
        // the machine is.
        let dir = tempfile::tempdir().unwrap();
        let stop = dir.path().join("stop");
        let mut shell = std::process::Command::new("sh")
            .arg("-c")
            .arg(
                "while [ ! -e \"$0\" ]; do \
                   for k in 1 2 3; do (i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done) & done; wait; \
                 done",
            )
            .arg(&stop)
            .spawn()
            .expect("sh");
        let mut meter = CpuMeter::default();
        let cap = cores() as f64 * 100.0;
        let (mut readings, mut busy) = (0, 0);
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while let Some(tree) = read_tree(shell.id()) {
            let p = meter.percent(tree.cpu_seconds);
            assert!(p <= cap, "read {p}% on {} cores", cores());
            readings += 1;
            busy += usize::from(p > 0.0);
            if readings >= 30 && busy > 0 && !stop.exists() {
                std::fs::write(&stop, b"").unwrap();
            }
            if shell.try_wait().unwrap().is_some() {
                break;
            }
            assert!(std::time::Instant::now() < give_up, "a hang guard only");
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert!(shell.wait().unwrap().success());
        assert!(readings >= 30 && busy > 0, "{readings} readings, {busy} busy");
    }
}
