//! `run --cpu-profile` (`STRESS_PROFILE=1`): the engine's on-CPU stacks sampled by Linux `perf`
//! during the measured window (from the users' start until they stopped), folded and drawn as
//! a flame graph (the `inferno` crate).
//!
//! What is sampled is what runs the engine: this process for an in-process engine (SQLite: the
//! workload's Rust code and sqlite3's C functions), the managed server's process tree for a
//! server ([`Adapter::profiled_pid`](crate::Adapter::profiled_pid)). Stacks are unwound from
//! DWARF call-frame information (`--call-graph dwarf`): release builds of Rust and distribution
//! builds of PostgreSQL keep no frame pointers, and frame-pointer stacks of them are torn.
//!
//! Files in the run directory: `flamegraph.svg` (interactive: click to zoom, Ctrl-F to
//! search), `profile.folded` (one line per distinct stack and its sample count: what
//! `inferno-flamegraph`, `flamegraph.pl` and speedscope read), and `profile.json`
//! ([`ProfileSummary`]: the hottest functions and what profiling cost). `perf.data` is deleted
//! once folded: its unwinding stacks take ~1 MB a second of samples.

mod diff;
mod fold;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use diff::{HotChange, ProfileComparison, compare, differential_flame_graph};
pub use fold::{Hot, hottest};

/// `profile.json`'s format version.
pub const PROFILE_FORMAT_VERSION: u32 = 1;
/// Samples a second per CPU: perf's own default for `-F`, odd so as not to beat with timers.
pub const FREQUENCY_HZ: u32 = 99;
/// Bytes of each sampled thread's stack perf copies for unwinding: deep enough for a Rust user
/// loop into sqlite3's B-tree, or a backend into the executor.
const STACK_BYTES: u32 = 16_384;
/// Functions listed in `profile.json` and report.html.
const HOTTEST: usize = 25;

/// What a profile of a run holds, as `profile.json` has it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileSummary {
    /// [`PROFILE_FORMAT_VERSION`].
    pub format_version: u32,
    /// What was sampled, in words (`this process (pid 4242): the harness and the engine in it`).
    pub target: String,
    /// The processes sampled when the window opened.
    pub pids: Vec<u32>,
    /// Samples a second per CPU.
    pub frequency_hz: u32,
    /// How long perf sampled, seconds.
    pub window_s: f64,
    /// Stacks sampled.
    pub samples: u64,
    /// CPU seconds perf itself used while sampling (from `/proc`): the profile's cost to the
    /// machine during the window.
    pub perf_cpu_s: f64,
    /// CPU seconds the sampled processes used in the window.
    pub target_cpu_s: f64,
    /// `perf_cpu_s` as a share of the sampled processes' CPU, percent.
    pub overhead_percent: f64,
    /// Seconds spent after the run turning the samples into stacks and the flame graph.
    pub processing_s: f64,
    /// The functions with the most samples on top of the stack (self time), most first.
    pub hottest: Vec<Hot>,
}

/// Refuses, before anything runs, a machine where perf cannot sample: one line naming the flag
/// and the fix.
pub fn check_available() -> Result<(), String> {
    let tmp = tempfile::tempdir().map_err(|e| format!("--cpu-profile: cannot make a scratch directory: {e}"))?;
    let out = Command::new("perf")
        .args(["record", "-q", "-F", "99", "-o"])
        .arg(tmp.path().join("probe.data"))
        .args(["--", "true"])
        .stdin(Stdio::null())
        .output();
    match out {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(
            "--cpu-profile (STRESS_PROFILE) needs Linux perf, which is not on PATH: install it (Debian: apt-get \
             install linux-perf; Ubuntu: linux-tools-generic) or leave the flag out"
                .to_owned(),
        ),
        Err(e) => Err(format!("--cpu-profile (STRESS_PROFILE): cannot run perf: {e}")),
        Ok(o) if !o.status.success() => {
            let why = String::from_utf8_lossy(&o.stderr);
            let why = why
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no message");
            Err(format!(
                "--cpu-profile (STRESS_PROFILE): perf cannot sample here ({why}): run as root, or lower \
                 /proc/sys/kernel/perf_event_paranoid to 1 or less, or leave the flag out"
            ))
        }
        Ok(_) => Ok(()),
    }
}

/// perf sampling, from the window's start until [`Recording::stop`].
#[derive(Debug)]
pub(crate) struct Recording {
    child: Child,
    data: PathBuf,
    target: String,
    pids: Vec<u32>,
    started: Instant,
    target_cpu_start: f64,
}

/// A stopped recording, waiting to be folded into the run directory.
#[derive(Debug)]
pub(crate) struct Recorded {
    data: PathBuf,
    target: String,
    pids: Vec<u32>,
    window_s: f64,
    perf_cpu_s: f64,
    target_cpu_s: f64,
}

/// The processes to sample: `server` and its children, or this process.
fn targets(server: Option<u32>) -> (Vec<u32>, String) {
    match server {
        Some(pid) => {
            let mut pids = vec![pid];
            // A child that has ended (a zombie until the server reaps it) has nothing to sample.
            let mut children: Vec<u32> = crate::monitor::children_of(pid)
                .into_iter()
                .filter(|c| crate::monitor::state_of(*c).is_some_and(|s| s != 'Z'))
                .collect();
            children.sort_unstable();
            let n = children.len();
            pids.extend(children);
            (pids, format!("the server's processes: pid {pid} and its {n} children"))
        }
        None => {
            let pid = std::process::id();
            (
                vec![pid],
                format!("this process (pid {pid}): the harness, its users and an engine that runs in-process"),
            )
        }
    }
}

/// Waits until perf writes its file (it samples) or ends (it could not attach): a minute at
/// most, then it is stopped.
fn sampling(child: &mut Child, data: &Path) -> Result<(), String> {
    let until = Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("no CPU profile: perf: {e}"))? {
            return Err(format!("no CPU profile: perf ended at its start ({status})"));
        }
        if data.is_file() {
            return Ok(());
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            return Err("no CPU profile: perf did not start sampling within a minute".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn cpu_of(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|p| crate::monitor::read_process(&p.to_string()))
        .map(|s| s.cpu_seconds)
        .sum()
}

/// Starts sampling when the run asks for it and has a directory to write into.
pub(crate) fn begin(
    config: &crate::config::RunConfig,
    dir: Option<&Path>,
    server: Option<u32>,
) -> Option<Result<Recording, String>> {
    match (config.profile, dir) {
        (true, Some(dir)) => Some(Recording::start(dir, server)),
        _ => None,
    }
}

impl Recording {
    /// Starts perf on `server`'s process tree (`None`: this process), writing into `dir`.
    ///
    /// perf reads the threads of every process it is given before it samples any, and gives up
    /// at once when one has ended meanwhile (a server's backend whose client just left, say):
    /// then it has written nothing, and it is started again on the processes there now.
    pub(crate) fn start(dir: &Path, server: Option<u32>) -> Result<Self, String> {
        Self::start_on(dir, || targets(server))
    }

    /// [`Recording::start`] on the processes `targets` names at each try.
    fn start_on(dir: &Path, mut targets: impl FnMut() -> (Vec<u32>, String)) -> Result<Self, String> {
        let data = dir.join("perf.data");
        let mut tries = 0;
        loop {
            tries += 1;
            let (pids, target) = targets();
            let list = pids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            let mut child = Command::new("perf")
                .args(["record", "-q", "-F", &FREQUENCY_HZ.to_string()])
                .args(["--call-graph", &format!("dwarf,{STACK_BYTES}"), "-p", &list, "-o"])
                .arg(&data)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("no CPU profile: cannot start perf: {e}"))?;
            match sampling(&mut child, &data) {
                Ok(()) => {
                    return Ok(Self {
                        child,
                        data,
                        target,
                        target_cpu_start: cpu_of(&pids),
                        pids,
                        started: Instant::now(),
                    });
                }
                Err(e) if tries >= 5 => return Err(e),
                Err(_) => {}
            }
        }
    }

    /// Stops sampling (SIGINT: perf writes its file and exits) and waits for perf.
    pub(crate) fn stop(mut self) -> Result<Recorded, String> {
        let window_s = self.started.elapsed().as_secs_f64();
        let pid = self.child.id();
        let perf_cpu_s = crate::monitor::read_process(&pid.to_string()).map_or(0.0, |s| s.cpu_seconds);
        let target_cpu_s = (cpu_of(&self.pids) - self.target_cpu_start).max(0.0);
        let _ = Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let status = self.child.wait().map_err(|e| format!("no CPU profile: perf: {e}"))?;
        if !self.data.is_file() {
            return Err(format!("no CPU profile: perf wrote no samples ({status})"));
        }
        Ok(Recorded {
            data: self.data,
            target: self.target,
            pids: self.pids,
            window_s,
            perf_cpu_s,
            target_cpu_s,
        })
    }
}

impl Recorded {
    /// Folds the samples into `profile.folded`, draws `flamegraph.svg` and writes `profile.json`
    /// in `dir`; deletes `perf.data`.
    pub(crate) fn write(self, dir: &Path, title: &str) -> Result<ProfileSummary, String> {
        let began = Instant::now();
        let result = fold::fold_perf_data(&self.data);
        let _ = std::fs::remove_file(&self.data);
        let folded = result?;
        let samples: u64 = folded.iter().map(|(_, n)| n).sum();
        let mut text = String::new();
        for (stack, n) in &folded {
            text.push_str(stack);
            text.push(' ');
            text.push_str(&n.to_string());
            text.push('\n');
        }
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.join(name);
            write_atomic(&path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
        };
        write("profile.folded", text.as_bytes())?;
        let svg = fold::flame_graph(&text, title)?;
        write("flamegraph.svg", &svg)?;
        let summary = ProfileSummary {
            format_version: PROFILE_FORMAT_VERSION,
            target: self.target,
            pids: self.pids,
            frequency_hz: FREQUENCY_HZ,
            window_s: round(self.window_s),
            samples,
            perf_cpu_s: round(self.perf_cpu_s),
            target_cpu_s: round(self.target_cpu_s),
            overhead_percent: if self.target_cpu_s > 0.0 {
                round(100.0 * self.perf_cpu_s / self.target_cpu_s)
            } else {
                0.0
            },
            processing_s: round(began.elapsed().as_secs_f64()),
            hottest: hottest(&folded, HOTTEST),
        };
        let json = serde_json::to_vec_pretty(&summary).map_err(|e| format!("cannot serialise profile.json: {e}"))?;
        write("profile.json", &json)?;
        Ok(summary)
    }
}

impl ProfileSummary {
    /// Reads `profile.json` of the run in `dir`: `None` when the run was not profiled.
    pub fn load(dir: &Path) -> Result<Option<Self>, String> {
        let path = dir.join("profile.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let p: Self = serde_json::from_slice(&bytes).map_err(|e| format!("{} is damaged: {e}", path.display()))?;
        if p.format_version != PROFILE_FORMAT_VERSION {
            return Err(format!(
                "{} has format version {}, this cargo-stress reads {PROFILE_FORMAT_VERSION}",
                path.display(),
                p.format_version
            ));
        }
        Ok(Some(p))
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Writes `bytes` to `path` whole or not at all (a temporary file beside it, synced, renamed),
/// readable by anyone who can read the directory: as the reports are written, without the
/// reports (which show the profile).
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let mut tmp = tempfile::NamedTempFile::new_in(path.parent().unwrap_or(Path::new(".")))?;
    tmp.write_all(bytes)?;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process named to perf that has ended before perf read it (a backend whose client just
    /// left) does not cost the profile: perf is started again on the processes there now. The
    /// control: perf alone on such a list writes nothing.
    #[test]
    fn a_process_gone_before_perf_read_it_costs_no_profile() {
        if let Err(e) = check_available() {
            eprintln!("skipped: {e}");
            return;
        }
        let mut live = Command::new("sleep").arg("600").spawn().unwrap();
        let mut gone = Command::new("true").spawn().unwrap();
        gone.wait().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let both = vec![live.id(), gone.id()];
        let first = Recording::start_on(dir.path(), || (both.clone(), "both".into()));
        assert!(
            first.is_err_and(|e| e.contains("perf ended at its start")),
            "the control: perf cannot sample a list with an ended process in it"
        );
        let mut lists = vec![vec![live.id()], both.clone()];
        let r = Recording::start_on(dir.path(), || (lists.pop().unwrap(), "the live one".into()))
            .expect("perf started again on the processes there now");
        assert_eq!(r.pids, vec![live.id()]);
        let recorded = r.stop().unwrap();
        assert!(recorded.data.is_file());
        live.kill().unwrap();
        live.wait().unwrap();
    }
}
