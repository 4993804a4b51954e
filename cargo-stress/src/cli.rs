//! The command line.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use stress_core::ConfigLayer;
use stress_core::config::Arrival;
pub use stress_core::config::UserCounts;
use stress_core::sweep::{Efficiency, ParamSpec};

const EXIT_CODES: &str = "Exit codes:
  0  every workload ran and passed
  1  a workload failed (errors above its allowance, failed verify step, crash, resource limit,
     Ctrl-C, SIGTERM or SIGHUP, a harness killed by a signal)
  2  usage or configuration error
  3  build failed
  4  a threshold was breached (and nothing else failed)
  5  with --baseline: a metric regressed against the baseline (and nothing else failed)";

const COMPARE_EXIT_CODES: &str = "Exit codes:
  0  no metric regressed
  2  usage error (a path with no run, runs of different workloads or summary versions)
  5  a metric regressed";

const SWEEP_EXIT_CODES: &str = "Exit codes:
  0  every iteration held
  1  an iteration did not hold (errors, timeout, crash, failed verify step, resource limit), or Ctrl-C
  2  usage or configuration error (nothing ran)
  3  build failed
  4  iterations did not hold for breached thresholds only";

/// Find, build, list, run and replay cargo-stress workloads.
#[derive(Debug, Parser)]
#[command(name = "cargo-stress", bin_name = "cargo stress", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every registered workload with its package, target and defaults.
    List(ListArgs),
    /// Run the workloads whose names match the filters (all when none), one after another.
    #[command(after_help = EXIT_CODES)]
    Run(Box<RunArgs>),
    /// Rebuild and rerun a recorded run, then compare each user's op_digest with the original.
    #[command(after_help = EXIT_CODES)]
    Replay(ReplayArgs),
    /// Search for the smallest run that fails the way a failed run did: replays of it with
    /// fewer users, shorter prefixes of each user's ops, fewer faults, a shorter duration; write
    /// the smallest failing run and shrink.md (each candidate, and the command that replays it).
    #[command(after_help = SHRINK_EXIT_CODES)]
    Shrink(ShrinkArgs),
    /// Run one workload once per value of one parameter (--param NAME=A..B:STEP or a,b,c), up
    /// to its breaking point; write sweep.csv and sweep.md.
    #[command(after_help = SWEEP_EXIT_CODES)]
    Sweep(Box<SweepArgs>),
    /// Run one workload once per cell of a product of parameters (several --param lists);
    /// write matrix.csv and matrix.md with a scaling verdict per series.
    #[command(after_help = SWEEP_EXIT_CODES)]
    Matrix(Box<SweepArgs>),
    /// Compare a run against a baseline run of the same workload: per op and overall, the
    /// change in ops/s, p50/p99/p999/max and error rate, each with a verdict; write
    /// compare.json and compare.md into NEW's directory.
    #[command(after_help = COMPARE_EXIT_CODES)]
    Compare(CompareArgs),
    /// Rebuild report.html of a run from its files (summary.json, histograms.hlog).
    Report(ReportArgs),
    /// Merge the run directories of a sharded run's shards (run --shard I/N) into one run:
    /// histograms added exactly, every figure, threshold and the verdict recomputed.
    #[command(after_help = MERGE_EXIT_CODES)]
    Merge(MergeArgs),
    /// Check the transaction history of a run again (history.jsonl, recorded by a workload
    /// with Workload::isolation), against the model it expects or another: every anomaly with
    /// its count, and a witness for each kind.
    #[command(after_help = CHECK_EXIT_CODES)]
    Check(CheckArgs),
}

const CHECK_EXIT_CODES: &str = "Exit codes:
  0  no anomaly the model forbids
  1  anomalies the model forbids, a history the workload broke the kit's rules in, or a check
     that could not finish
  2  usage error: no run, a run that recorded no transactions, a damaged history.jsonl (the
     line is named), a model that does not exist";

/// `cargo stress check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// A run directory (or a directory whose `latest` is one, such as
    /// target/stress/append_postgres); a merged sharded run too.
    pub dir: PathBuf,
    /// Check against this model instead of the one the workload expects: read-committed,
    /// repeatable-read, snapshot-isolation, serializable or strict-serializable.
    #[arg(long)]
    pub model: Option<String>,
}

const MERGE_EXIT_CODES: &str = "Exit codes:
  0  the merged run passed
  1  the merged run failed (a shard's crash, errors above the allowance, a failed verify step),
     or it could not be written
  2  usage error (a directory that is not a shard's, a shard missing or given twice, shards of
     different runs); nothing is written
  4  a threshold was breached on the merged figures (and nothing else failed)";

const SHRINK_EXIT_CODES: &str = "Exit codes:
  0  a smallest failing run was found (smaller than the original, or the original itself) and
     written with shrink.md; also when the budget ran out first (the smallest so far)
  1  the original did not fail the same way in any of its tries (could not reproduce), or
     Ctrl-C (the smallest failing run so far and shrink.md are still written)
  2  usage error: a run that passed, a directory without a readable replay.json or
     summary.json, a bad --budget or --tries 0; nothing runs
  3  build failed";

/// `cargo stress shrink`.
#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// The failed run's directory (its replay.json and summary.json).
    pub dir: PathBuf,
    /// Where the smallest failing run and shrink.md go (default: a new directory
    /// target/stress/WORKLOAD/RUN-ID-shrink/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Runs of each candidate at most (the original's included); the first that fails the
    /// same way decides.
    #[arg(long, value_name = "N", default_value = "3", value_parser = tries, allow_hyphen_values = true)]
    pub tries: u32,
    /// How long to search: then the smallest failing run so far is the result (90s, 10m, 1h).
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = duration, allow_hyphen_values = true)]
    pub budget: Duration,
    /// The build profile.
    #[command(flatten)]
    pub build: BuildArgs,
}

/// `cargo stress merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shards' run directories (one per shard, 0 to N-1).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where the merged run goes (default: `merged` beside the first shard's directory).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Merge the shards that are there when some are missing; the summary names the missing.
    #[arg(long)]
    pub allow_partial: bool,
}

/// `cargo stress report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Run directories (or directories whose `latest` is one, such as target/stress/orders).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
}

/// `cargo stress compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The baseline: a run directory, its summary.json, or a directory whose `latest` is one
    /// (target/stress/WORKLOAD).
    pub base: PathBuf,
    /// The run to judge, given the same ways.
    pub new: PathBuf,
    /// Compare runs of differently named workloads (the same mix registered once per engine):
    /// overall, and their ops of the same name.
    #[arg(long)]
    pub any_workload: bool,
    /// When a change counts.
    #[command(flatten)]
    pub gate: GateArgs,
}

/// When a change between two runs counts as a regression.
#[derive(Debug, Clone, Copy, Args)]
pub struct GateArgs {
    /// Changes within this are noise, whatever a test says (5% or 0.05).
    #[arg(long, value_name = "SHARE", default_value = "5%", value_parser = share, allow_hyphen_values = true)]
    pub noise: f64,
    /// Significance level, shared by every metric tested (each is tested at ALPHA / metrics).
    #[arg(long, value_name = "ALPHA", default_value = "0.05", value_parser = alpha, allow_hyphen_values = true)]
    pub alpha: f64,
}

impl GateArgs {
    /// As `stress_core::compare` takes them.
    pub fn options(&self) -> stress_core::compare::Options {
        stress_core::compare::Options {
            noise: self.noise,
            alpha: self.alpha,
            any_workload: false,
        }
    }
}

fn alpha(s: &str) -> Result<f64, String> {
    fraction(s)?;
    let a: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a significance level"))?;
    if a > 0.0 && a < 1.0 {
        Ok(a)
    } else {
        Err(format!(
            "`{s}` is not a significance level: give one between 0 and 1, like 0.05"
        ))
    }
}

/// Which packages to look in and how to build.
#[derive(Debug, Clone, Args)]
pub struct Selection {
    /// Path to Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
    /// Package(s) to look in.
    #[arg(short = 'p', long = "package", value_name = "SPEC")]
    pub packages: Vec<String>,
    /// Look in every workspace member.
    #[arg(long)]
    pub workspace: bool,
    /// The build profile.
    #[command(flatten)]
    pub build: BuildArgs,
}

/// The build profile.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Build with this cargo profile (default: release — a stress test of a debug build
    /// measures the wrong thing).
    #[arg(long, value_name = "NAME", conflicts_with = "debug")]
    pub profile: Option<String>,
    /// Build with the dev profile (quicker to build; slower to run).
    #[arg(long)]
    pub debug: bool,
}

/// `cargo stress list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Where to look.
    #[command(flatten)]
    pub selection: Selection,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

/// Output formats of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table.
    Human,
    /// JSON.
    Json,
}

/// `cargo stress run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run workloads whose names contain any of these (all when none).
    pub filters: Vec<String>,
    /// Filters must match names exactly.
    #[arg(long)]
    pub exact: bool,
    /// The run's settings.
    #[command(flatten)]
    pub settings: Settings,
    /// Output directory: exactly DIR with one workload, DIR/WORKLOAD with several
    /// (default: target/stress/WORKLOAD/RUN-ID/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also write JUnit XML to PATH for CI: a test suite per workload, a test case per
    /// threshold, for the verify step and for the run (seed and replay command as properties).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Also write a markdown summary to PATH, fit for a CI step summary
    /// (`$GITHUB_STEP_SUMMARY`): the workloads' figures, failures and thresholds.
    #[arg(long, value_name = "PATH")]
    pub summary_md: Option<PathBuf>,
    /// Compare each run against the baseline run in DIR (a run directory, or a directory with
    /// WORKLOAD/latest or latest in it, such as a saved target/stress): write compare.json
    /// and compare.md into the run's directory and exit 5 on a regression.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// When a change against the baseline counts.
    #[command(flatten)]
    pub gate: GateArgs,
    /// Serve the run live on ADDR (default 127.0.0.1:0, a free port on loopback): its charts
    /// each second, faults and stages as they happen, and controls to pause and resume the
    /// users, change the rate and stop the run (recorded in replay.json). Prints the URL with
    /// its token; nothing listens after the run ends.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:0", value_parser = dashboard_addr)]
    pub dashboard: Option<std::net::SocketAddr>,
    /// Run only shard I of N (users whose index % N == I), or auto/N to take I from
    /// JOB_COMPLETION_INDEX (Kubernetes Indexed Job), SLURM_ARRAY_TASK_ID or NOMAD_ALLOC_INDEX;
    /// merge the shards with cargo stress merge.
    #[arg(long, value_parser = shard, value_name = "I/N|auto/N")]
    pub shard: Option<Shard>,
    /// Start the users at this wall-clock time (UTC, like 2026-12-02T10:00:00Z, or @SECONDS
    /// since the epoch), so that shards started apart measure one window.
    #[arg(long, value_parser = start_at, value_name = "TIME")]
    pub start_at: Option<u64>,
    /// Only the setup step, once, before the shards of a run on a shared engine (a server given
    /// by address).
    #[arg(long, conflicts_with_all = ["shard", "verify_only"])]
    pub setup_only: bool,
    /// Only the verify step, against the merged run in DIR (its ledger.json), after the shards
    /// of a run on a shared engine were merged; the result goes into DIR's summary.
    #[arg(long, value_name = "DIR", conflicts_with = "shard")]
    pub verify_only: Option<PathBuf>,
    /// Where to look.
    #[command(flatten)]
    pub selection: Selection,
}

/// `cargo stress sweep` and `cargo stress matrix`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The workload (its exact name).
    pub workload: String,
    /// The runs' settings; --param gives the values to vary (and fixed ones).
    #[command(flatten)]
    pub settings: Settings,
    /// Go on after the breaking point (sweep), to run every value.
    #[arg(long = "continue")]
    pub keep_going: bool,
    /// What the optimal efficiency point maximises: ops_per_sec, rows_per_sec or bytes_per_sec.
    #[arg(long, default_value = "ops_per_sec", value_name = "FIGURE")]
    pub efficiency: Efficiency,
    /// Stop an iteration still running after this long (Ctrl-C, then a kill 30 s later) and
    /// count it a timeout: a wedged server breaks the sweep instead of hanging it. Default:
    /// twice the duration plus 2 minutes when --duration is given, else no limit.
    #[arg(long, value_parser = duration, value_name = "DURATION")]
    pub iteration_timeout: Option<Duration>,
    /// Output directory (default: target/stress/WORKLOAD/sweep-ID/ or matrix-ID/), one
    /// sub-directory per iteration.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Where to look.
    #[command(flatten)]
    pub selection: Selection,
}

/// The settings of a run, shared by run, sweep and matrix.
#[derive(Debug, Args)]
pub struct Settings {
    /// A workload parameter, NAME=VALUE (repeatable); users=N and rate=R set the load. Sweep
    /// and matrix take lists a,b,c and ranges START..END:STEP or START..END:*FACTOR.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<ParamSpec>,
    /// Global seed (default: random, printed and recorded).
    #[arg(long, value_parser = seed, allow_hyphen_values = true)]
    pub seed: Option<u64>,
    /// How long users run: 90, 30s, 2m, 1h, 500ms.
    #[arg(long, value_parser = duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Ops each user runs.
    #[arg(long, value_parser = count, allow_hyphen_values = true)]
    pub ops_per_user: Option<u64>,
    /// Users per class (inserter=4,reader=3), or a total spread over the classes in their
    /// proportions (10).
    #[arg(long, value_parser = users, value_name = "CLASS=N,...|TOTAL", allow_hyphen_values = true)]
    pub users: Option<UserCounts>,
    /// Think time between a user's ops, in ms: MIN..MAX.
    #[arg(long, value_parser = range, value_name = "MIN..MAX", allow_hyphen_values = true)]
    pub think: Option<(u64, u64)>,
    /// Rows per bulk op: MIN..MAX, at least 1.
    #[arg(long, value_parser = batch, value_name = "MIN..MAX", allow_hyphen_values = true)]
    pub batch: Option<(u64, u64)>,
    /// Memory (MB) above which users pause.
    #[arg(long, value_parser = count, allow_hyphen_values = true)]
    pub max_memory_mb: Option<u64>,
    /// CPU (% of one core) above which users pause.
    #[arg(long, value_parser = count, allow_hyphen_values = true)]
    pub max_cpu_percent: Option<u64>,
    /// Disk (MB) the engine's files may take; writes over it become reads.
    #[arg(long, value_parser = count, allow_hyphen_values = true)]
    pub max_disk_mb: Option<u64>,
    /// Open-loop target rate, ops/s over all users (latency counts from the intended start).
    #[arg(long, value_parser = rate, allow_hyphen_values = true)]
    pub rate: Option<f64>,
    /// Inter-arrival times under --rate.
    #[arg(long, value_enum)]
    pub arrival: Option<ArrivalArg>,
    /// Load stages DURATION:TARGET,… (users, or ops/s with --rate), linear ramps between them.
    #[arg(long, value_parser = stages, value_name = "STAGES")]
    pub stages: Option<::std::vec::Vec<Stage>>,
    /// A pass/fail rule, like p99<50ms, error_rate<0.1%, ops_per_sec>1000, max_lag<100ms,
    /// delivered>95%, max_stall<2s, or for one op `p99[select]<20ms` (repeatable).
    #[arg(long = "threshold", value_parser = threshold, value_name = "RULE")]
    pub thresholds: Vec<Threshold>,
    /// Stop a run at the first interval (after warm-up) that breaches a threshold.
    #[arg(long)]
    pub abort_on_fail: bool,
    /// Run ops but leave them out of the statistics for this long from the start.
    #[arg(long, value_parser = duration_or_zero, allow_hyphen_values = true)]
    pub warmup: Option<Duration>,
    /// Under --rate, skip slots that start later than this (counted as skipped). Needs a rate
    /// (--rate, --param rate=R or STRESS_RATE): without a schedule no op is late.
    #[arg(long, value_parser = duration, allow_hyphen_values = true)]
    pub latency_limit: Option<Duration>,
    /// Share of failed ops a run may have and still pass, as a fraction or a percentage (0.01
    /// or 1%; default 0).
    #[arg(long, value_parser = fraction, value_name = "FRACTION", allow_hyphen_values = true)]
    pub max_error_rate: Option<f64>,
    /// Tries an op gets when it fails with a retryable error (PostgreSQL serialization
    /// failure or deadlock, SQLite busy), like pgbench --max-tries (default 1: no retry).
    #[arg(long, value_name = "N", value_parser = tries, allow_hyphen_values = true)]
    pub max_tries: Option<u32>,
    /// How long a user waits before it tries an op again: before try k+1, a time drawn
    /// uniformly from 0 to min(MAX, MIN·2^(k-1)) (exponential backoff, full jitter), from a
    /// stream of the user's seed, so a replay waits the same. Durations with units (default
    /// 1ms..100ms; 0..0: none).
    #[arg(long, value_parser = backoff, value_name = "MIN..MAX", allow_hyphen_values = true)]
    pub retry_backoff: Option<(Duration, Duration)>,
    /// Stop the run at the first op that fails (after its tries, when its error is retryable).
    #[arg(long)]
    pub abort_on_error: bool,
    /// Inject a fault into the engine on a schedule drawn from the seed (repeatable):
    /// KIND[(ARG)][:HOLD]@WHEN, like kill@every=5s..15s, pause:3s@at=20s or restart@at=1m (a managed
    /// PostgreSQL: kill, pause, restart; a managed hyperd: pause).
    #[arg(long = "fault", value_parser = fault, value_name = "SPEC")]
    pub faults: Vec<FaultSpec>,
    /// Sample the engine's on-CPU stacks with Linux perf while the users run (this process for
    /// SQLite, the managed server's processes for PostgreSQL) and write flamegraph.svg,
    /// profile.folded and profile.json into the run's directory; report.html shows the flame
    /// graph and the hottest functions. (`--profile NAME` is cargo's build profile.)
    #[arg(long)]
    pub cpu_profile: bool,
}

/// `cargo stress replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A replay.json, or the run directory holding it.
    pub path: PathBuf,
    /// Output directory of the replay (default: a new one beside the original's).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Replay only shard I of N of the run (of a merged run, say).
    #[arg(long, value_parser = shard, value_name = "I/N")]
    pub shard: Option<Shard>,
    /// Replay only this user (its id, like writer-1; repeatable), with its seed, database and
    /// share of the rate.
    #[arg(long = "user", value_name = "ID")]
    pub users: Vec<String>,
    /// The build profile.
    #[command(flatten)]
    pub build: BuildArgs,
}

// Every value is read by the parsers the `STRESS_*` variables use, so a flag and its variable
// mean the same and are refused with the same words.
use stress_core::config::values::{
    backoff, batch, count, duration, duration_or_zero, fraction, range, rate, seed, share, start_at, tries, users,
};
use stress_core::config::{Stage, values::stages};
use stress_core::fault::FaultSpec;
use stress_core::shard::Shard;
use stress_core::thresholds::Threshold;

// Parsed here, where the user typed them, and handed over typed (`stress_core::protocol`).
fn fault(s: &str) -> Result<FaultSpec, String> {
    FaultSpec::parse(s)
}

fn threshold(s: &str) -> Result<Threshold, String> {
    Threshold::parse_rule(s)
}

fn dashboard_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    stress_core::dashboard::parse_addr(s)
}

fn shard(s: &str) -> Result<Shard, String> {
    Shard::parse(s)
}

/// `--arrival`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArrivalArg {
    /// Equal gaps.
    Uniform,
    /// Exponential gaps (a Poisson process).
    Poisson,
}

impl Settings {
    /// Refuses, before anything is built, settings that cannot go together.
    pub fn check(&self) -> Result<(), crate::CliError> {
        let rate_given = self.rate.is_some()
            || self.params.iter().any(|p| p.name == "rate")
            || ["STRESS_RATE", "STRESS_PARAM_RATE"]
                .iter()
                .any(|v| std::env::var_os(v).is_some());
        let profile_env = std::env::var("STRESS_PROFILE")
            .ok()
            .is_some_and(|v| stress_core::config::values::switch(&v).unwrap_or(false));
        if self.cpu_profile || profile_env {
            stress_core::profile::check_available().map_err(|e| crate::error::usage(&e))?;
        }
        if self.latency_limit.is_some() && !rate_given {
            return Err(crate::error::usage(
                "--latency-limit needs a target rate (--rate, --param rate=R or STRESS_RATE): without a \
                 schedule no op is late, so there is nothing to limit",
            ));
        }
        Ok(())
    }

    /// The settings as the one typed layer a harness is handed (`stress_core::protocol::Handover`): the flags, the
    /// seed and every fixed parameter; a sweep adds its cell's parameters to it.
    pub fn to_layer(&self, seed: u64) -> ConfigLayer {
        let mut l = ConfigLayer {
            seed: Some(seed),
            duration: self.duration,
            ops_per_user: self.ops_per_user,
            think_min_ms: self.think.map(|t| t.0),
            think_max_ms: self.think.map(|t| t.1),
            batch_min: self.batch.map(|b| b.0),
            batch_max: self.batch.map(|b| b.1),
            rate: self.rate,
            arrival: self.arrival.map(|a| match a {
                ArrivalArg::Uniform => Arrival::Uniform,
                ArrivalArg::Poisson => Arrival::Poisson,
            }),
            stages: self.stages.clone(),
            thresholds: self.thresholds.clone(),
            abort_on_fail: self.abort_on_fail.then_some(true),
            warmup: self.warmup,
            latency_limit: self.latency_limit,
            max_error_rate: self.max_error_rate,
            max_tries: self.max_tries,
            retry_backoff: self.retry_backoff,
            abort_on_error: self.abort_on_error.then_some(true),
            max_memory_mb: self.max_memory_mb,
            max_cpu_percent: self.max_cpu_percent,
            max_disk_mb: self.max_disk_mb,
            faults: self.faults.clone(),
            profile: self.cpu_profile.then_some(true),
            ..ConfigLayer::default()
        };
        match &self.users {
            Some(UserCounts::PerClass(u)) => l.users = u.clone(),
            Some(UserCounts::Total(n)) => l.users_total = Some(*n),
            None => {}
        }
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-line error clap gives for `cargo stress run <args>`.
    fn error(args: &[&str]) -> String {
        let mut all = vec!["cargo-stress", "run"];
        all.extend_from_slice(args);
        let e = Cli::try_parse_from(all).unwrap_err();
        e.to_string().lines().next().unwrap_or_default().to_owned()
    }

    #[test]
    fn negative_and_malformed_numbers_say_what_is_wrong() {
        for (flag, value, want) in [
            ("--duration", "-5", "`-5` is negative: give a duration like 30s"),
            ("--users", "-5", "`-5` is negative: give a total above 0"),
            ("--rate", "-10", "`-10` is negative: expected ops/s above 0"),
            ("--think", "-5..10", "`-5..10` is negative: give MIN..MAX"),
            ("--seed", "-1", "`-1` is negative: give a whole number from 0 to"),
            ("--seed", "abc", "`abc` is not a seed: give a whole number from 0 to"),
            (
                "--ops-per-user",
                "ten",
                "`ten` is not a whole number: give a whole number above 0",
            ),
            ("--ops-per-user", "0", "`0` is not above 0"),
            ("--max-cpu-percent", "1.5", "`1.5` is not a whole number"),
            ("--max-tries", "-2", "`-2` is negative"),
            ("--retry-backoff", "-1ms..5ms", "`-1ms..5ms` is negative"),
            (
                "--retry-backoff",
                "100ms..1ms",
                "`100ms..1ms` is an empty range: its minimum exceeds its maximum; give MIN <= MAX",
            ),
            ("--retry-backoff", "1ms..2h", "`1ms..2h` waits longer than an hour"),
            ("--retry-backoff", "5..100", "`5..100`: `5` has no unit"),
            (
                "--batch",
                "0..0",
                "`0..0` would make batches of 0 rows: give MIN..MAX with MIN at least 1",
            ),
        ] {
            let e = error(&[flag, value]);
            assert!(e.contains(want), "{flag} {value}: {e}");
            assert!(!e.contains("unexpected argument"), "{flag} {value}: {e}");
            assert!(!e.contains("invalid digit"), "{flag} {value}: {e}");
        }
    }

    #[test]
    fn retry_backoff_reaches_the_layer() {
        let layer = |args: &[&str]| {
            let mut all = vec!["cargo-stress", "run"];
            all.extend_from_slice(args);
            match Cli::try_parse_from(all).unwrap().command {
                Command::Run(run) => run.settings.to_layer(1).retry_backoff,
                _ => unreachable!("a run"),
            }
        };
        let ms = Duration::from_millis;
        assert_eq!(layer(&["--retry-backoff", "2ms..50ms"]), Some((ms(2), ms(50))));
        assert_eq!(layer(&["--retry-backoff", "0..0"]), Some((ms(0), ms(0))));
        assert_eq!(layer(&[]), None, "the default is the core's");
    }
}
