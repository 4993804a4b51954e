//! The engine of one run: adapter start, setup, user threads and the monitor, verify step,
//! reports.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::monitor_loop::Monitor;
use super::pace::{Gate, Pace, Share};
use super::panic;
use super::sampling::Sampler;
use super::shared::{Shared, UserClock, observed, stall_at};
use super::signal::{self, StopReason};
use super::stop_policy::StopPolicy;
use super::user_loop::{UserJob, UserResult, run_user};
use crate::adapter::{Adapter, StartContext};
use crate::config::RunConfig;
use crate::fault::{FaultKind, FaultRecord, PlannedFault};
use crate::ledger::Ledger;
use crate::monitor::{Limits, MetricsSource, ProcessMetrics};
use crate::report::{
    self, Backpressure, Counts, ErrorRecord, Observer, REPLAY_FORMAT_VERSION, Record, ReplayFile, RunStart, Summary,
    Verify,
};
use crate::seed::{self, SeedPlan};
use crate::shard::Step;
use crate::stats::{Batch, Collector, LatencyHistogram, Measures, OpPart};
use crate::thresholds::Threshold;
use crate::verdict::{Failure, FailureKind};
use crate::workload::{OpTable, Workload};

/// Interval parts per user that may wait for the collector at once.
const PARTS_IN_FLIGHT_PER_USER: usize = 2;

pub(crate) struct Job<'a, A: Adapter> {
    pub(crate) name: String,
    pub(crate) workload: Workload<A>,
    pub(crate) config: RunConfig,
    pub(crate) plan: SeedPlan,
    pub(crate) out_dir: Option<&'a Path>,
    pub(crate) observers: Vec<Box<dyn Observer>>,
    pub(crate) sources: Vec<Box<dyn MetricsSource>>,
    pub(crate) thresholds: Vec<Threshold>,
    /// The fault schedule (drawn from the seed, or the replayed run's).
    pub(crate) faults: Vec<PlannedFault>,
    pub(crate) origin: Option<crate::config::Origin>,
    /// Whether stdin is the lifeline of the process that started us.
    pub(crate) lifeline: bool,
    /// The network proxy in front of the engine, in a run with a network fault (set after
    /// the adapter started).
    pub(crate) proxy: Option<Arc<crate::netproxy::NetProxy>>,
    /// Controls from outside the run (the dashboard), or a replay's recorded ones.
    pub(crate) controls: Option<Arc<super::control::ControlHub>>,
}

/// What the phases of a run found, gathered into the summary at the end.
#[derive(Debug, Default)]
struct Findings {
    collector: Option<Collector>,
    users: Vec<UserResult>,
    duration: Duration,
    /// From the first user thread's spawn to the moment all had connected.
    startup: Duration,
    /// The wall-clock time at which the users started.
    users_started: Option<SystemTime>,
    peaks: BTreeMap<String, f64>,
    /// Resource readings when the users started.
    baseline: BTreeMap<String, f64>,
    server_latency: BTreeMap<String, LatencyHistogram>,
    backpressure: Backpressure,
    verify: Verify,
    warnings: Vec<String>,
    errors: Vec<ErrorRecord>,
    errors_seen: usize,
    /// The faults injected, in the order they were due.
    faults: Vec<FaultRecord>,
    /// The acknowledged-write checker's verdict, when the workload tracks writes.
    durability: Option<crate::durability::Durability>,
    /// The run's transaction history, when the workload checks isolation.
    history: Option<Arc<crate::history::HistorySink>>,
    /// The isolation checker's verdict on it.
    isolation: Option<crate::isolation::Report>,
    op_names: Vec<String>,
    /// A phase that failed: (reason, message).
    stop: Option<(StopReason, String)>,
    /// The CPU profile of the measured window, when asked for (`--cpu-profile`).
    profile: Option<Result<crate::profile::Recorded, String>>,
}

/// Runs the job and writes its reports; never fails: what went wrong is in the summary.
pub(crate) fn execute<A: Adapter>(mut job: Job<'_, A>) -> Summary {
    signal::install_interrupt_handler();
    signal::watch_stdin_lifeline(job.lifeline);
    panic::install_hook();
    let started_at = SystemTime::now();
    let mut replay = ReplayFile {
        format_version: REPLAY_FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        rng: seed::RNG_NAME.to_owned(),
        workload: job.name.clone(),
        adapter: job.workload.adapter.name().to_owned(),
        adapter_config: job.workload.adapter.describe(),
        seed: job.plan.seed,
        config: job.config.clone(),
        users: job.plan.users.clone(),
        databases: job.plan.databases.clone(),
        stop_reason: None,
        origin: job.origin.clone(),
        faults: job.faults.clone(),
        user_ops: BTreeMap::new(),
        controls: Vec::new(),
    };
    let mut findings = Findings::default();
    // replay.json first: even a run killed hard leaves what is needed to repeat it.
    if let Some(dir) = job.out_dir
        && let Err(e) = write_json(&dir.join("replay.json"), &replay)
    {
        findings.warnings.push(e);
    }
    let mut fault_kinds: Vec<FaultKind> = job.faults.iter().map(|f| f.kind).collect();
    fault_kinds.sort();
    fault_kinds.dedup();
    let ctx = StartContext {
        databases: job.config.databases,
        out_dir: job.out_dir,
        seed: job.plan.seed,
        params: &job.config.params,
        setup: sets_up(&job),
        // What a setup step and the shards leave is for the steps after them; what a verify
        // step found stays for inspection.
        teardown: matches!(job.config.step, Step::Run) && !shares_engine(&job),
        faults: &fault_kinds,
    };
    let adapter = Arc::get_mut(&mut job.workload.adapter).expect("no user holds the adapter before the run");
    match panic::catch(|| adapter.start(&ctx)) {
        Ok(Ok(())) => {
            let wanted = job.faults.iter().any(|f| f.kind.is_network());
            let phases = match super::network::route(wanted, &mut job.workload.adapter) {
                Ok(proxy) => {
                    job.proxy = proxy;
                    panic::catch(|| run_started(&mut job, &mut findings))
                }
                Err(e) => {
                    findings.stop = Some((StopReason::Error, e));
                    Ok(())
                }
            };
            if let Err(p) = phases {
                findings
                    .stop
                    .get_or_insert((StopReason::Error, format!("the harness failed: {p}")));
            }
            // Users abandoned in an op still hold the adapter: it stops what it can through
            // a shared reference (the process's end and the lifelines do the rest).
            let stopped = match Arc::get_mut(&mut job.workload.adapter) {
                Some(adapter) => panic::catch(|| adapter.stop()),
                None => panic::catch(|| {
                    job.workload.adapter.abandon();
                    Ok(())
                }),
            };
            if let Err(e) = stopped.unwrap_or_else(|p| Err(crate::OpError::msg(p))) {
                findings
                    .warnings
                    .push(format!("failed to stop {}: {e}", job.workload.adapter.name()));
            }
        }
        Ok(Err(e)) => {
            findings.stop = Some((
                StopReason::Error,
                format!("failed to start {}: {e}", job.workload.adapter.name()),
            ))
        }
        Err(p) => {
            findings.stop = Some((
                StopReason::Error,
                format!("failed to start {}: {p}", job.workload.adapter.name()),
            ))
        }
    }
    if let (Some(dir), Some(profile)) = (job.out_dir, findings.profile.take())
        && let Err(e) = profile.and_then(|p| p.write(dir, &job.name))
    {
        findings.warnings.push(e);
    }
    let mut summary = summarize(&job, started_at, &findings);
    let late_ms = match (job.config.start_at_ms, findings.users_started) {
        (Some(at), Some(t)) => unix_ms(t).saturating_sub(at),
        _ => 0,
    };
    if let Some(shard) = job.config.shard {
        summary.shards = Some(crate::report::Shards {
            count: shard.count,
            index: Some(shard.index),
            late_ms,
            ..Default::default()
        });
        if late_ms >= 1000 {
            summary.warnings.push(format!(
                "the users started {:.1}s after the start barrier (--start-at): the shards' windows differ by as much",
                late_ms as f64 / 1000.0
            ));
        }
    }
    if let Some(dir) = job.out_dir {
        write_run(&job, &mut findings, dir, started_at, &mut replay, &mut summary, late_ms);
    }
    for o in &mut job.observers {
        o.on_finish(&summary, job.out_dir);
    }
    summary
}

/// Writes the run's files into `dir`: replay.json again with what the run did, the time series,
/// the interval log, a shard's manifest and ledger, summary.json, and report.html built from
/// them. A file that cannot be written fails the run; the summary goes to `cargo stress` in
/// the trial's outcome ([`crate::protocol::TrialOutcome`]).
fn write_run<A: Adapter>(
    job: &Job<'_, A>,
    findings: &mut Findings,
    dir: &Path,
    started_at: SystemTime,
    replay: &mut ReplayFile,
    summary: &mut Summary,
    late_ms: u64,
) {
    replay.stop_reason = Some(summary.stop_reason);
    replay.user_ops = summary.users.iter().map(|u| (u.id.clone(), u.ops)).collect();
    replay.controls = job.controls.as_ref().map(|c| c.applied()).unwrap_or_default();
    // As the run had it: start may have taken settings from the parameters (Hyper's paths).
    replay.adapter_config = job.workload.adapter.describe();
    let csv = report::timeseries_csv(&summary.timeseries);
    let hlog_path = dir.join("histograms.hlog");
    let users_started = findings.users_started.unwrap_or(started_at);
    let hlog = match findings
        .collector
        .as_mut()
        .map(|c| c.finish_log(&hlog_path, users_started, &job.name))
    {
        Some(Ok(None)) => Ok(()),
        Some(Ok(Some(bytes))) => write_bytes(&hlog_path, &bytes),
        None => write_bytes(&hlog_path, b""),
        Some(Err(e)) => Err(format!("cannot write {}: {e}", hlog_path.display())),
    };
    let shard_files = match job.config.shard {
        Some(shard) => {
            let manifest = shard_manifest(job, findings, shard, users_started, late_ms);
            [
                write_json(&dir.join("shard.json"), &manifest),
                write_json(&dir.join("ledger.json"), &ledgers_of(&findings.users)),
            ]
        }
        None => [Ok(()), Ok(())],
    };
    let problems = [
        shard_files[0].clone(),
        shard_files[1].clone(),
        write_bytes(&dir.join("timeseries.csv"), csv.as_bytes()),
        hlog,
        write_json(&dir.join("replay.json"), &replay),
        write_json(&dir.join("summary.json"), &summary),
    ];
    let mut problems: Vec<String> = problems.into_iter().filter_map(Result::err).collect();
    // Built from the files just written, as `cargo stress report DIR` rebuilds it.
    if problems.is_empty()
        && let Err(e) = report::html::write(dir)
    {
        problems.push(e);
    }
    if !problems.is_empty() {
        // A full disk, say: what was measured is not lost — the run fails, says where the
        // writing failed, and the summary goes to `cargo stress` in the trial's outcome, on
        // the protocol's channel (stderr), where it reads it.
        for p in &problems {
            eprintln!("error: {p}");
        }
        summary.passed = false;
        summary
            .failures
            .push(Failure::new(FailureKind::ReportsNotWritten { problems }));
    }
}

/// Ms since the Unix epoch.
fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A shard's `shard.json`: who it is, and the histograms the merge needs beyond the interval
/// log.
fn shard_manifest<A: Adapter>(
    job: &Job<'_, A>,
    f: &Findings,
    shard: crate::shard::Shard,
    users_started: SystemTime,
    late_ms: u64,
) -> crate::shard::ShardManifest {
    use crate::shard::encode;
    let mut m = crate::shard::ShardManifest {
        format_version: crate::shard::SHARD_FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        workload: job.name.clone(),
        adapter: job.workload.adapter.name().to_owned(),
        seed: job.plan.seed,
        index: shard.index,
        count: shard.count,
        config_hash: job.config.hash_without_shard(),
        shared_engine: job.workload.adapter.shared(),
        users_started_ms: unix_ms(users_started),
        start_at_ms: job.config.start_at_ms,
        late_ms,
        lag_sum_us: 0,
        open_loop: false,
        service: BTreeMap::new(),
        service_seconds: BTreeMap::new(),
        untimed: BTreeMap::new(),
        phases: BTreeMap::new(),
        isolation: job.workload.isolation,
    };
    if let Some(c) = &f.collector {
        m.lag_sum_us = c.schedule.lag_sum_us;
        m.open_loop = c.open_loop;
        for (name, (service, untimed)) in f.op_names.iter().zip(c.service_and_untimed()) {
            if c.open_loop && !service.is_empty() {
                m.service.insert(name.clone(), encode(service));
            }
            if !untimed.is_empty() {
                m.untimed.insert(name.clone(), encode(untimed));
            }
        }
        if c.open_loop {
            for (second, h) in c.service_seconds().into_iter().flatten() {
                m.service_seconds.insert(*second, encode(h));
            }
        }
    }
    let mut measures = Measures::default();
    for u in &f.users {
        measures.merge(&u.measures);
    }
    for (name, h) in measures.phase_histograms() {
        m.phases.insert(name.to_owned(), encode(h));
    }
    m
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| format!("cannot serialise {}: {e}", path.display()))?;
    write_bytes(path, &json)
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), String> {
    report::write_atomic(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Whether this run sets its databases up: not a shard of a run on a shared engine (its
/// setup step ran before), nor a verify-only step.
fn sets_up<A: Adapter>(job: &Job<'_, A>) -> bool {
    !(matches!(job.config.step, Step::VerifyOnly(_)) || shares_engine(job))
}

/// Whether this is a shard of a run whose shards share one engine.
fn shares_engine<A: Adapter>(job: &Job<'_, A>) -> bool {
    job.config.shard.is_some() && job.workload.adapter.shared()
}

/// Waits for the start barrier (`--start-at`); `false` when interrupted meanwhile.
fn wait_for_barrier(at_ms: u64) -> bool {
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(at_ms);
    while let Ok(left) = at.duration_since(SystemTime::now()) {
        if left.is_zero() {
            break;
        }
        if signal::interrupted() {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    true
}

/// Setup, users, verify: the phases after the adapter started.
fn run_started<A: Adapter>(job: &mut Job<'_, A>, findings: &mut Findings) {
    let adapter = &job.workload.adapter;
    // Setup, once per database, each with its own seeded RNG.
    if let Some(setup) = job.workload.setup.as_ref().filter(|_| sets_up(job)) {
        for db in &job.plan.databases {
            if signal::interrupted() {
                findings.stop = Some((
                    StopReason::Interrupted,
                    format!("during the setup of database {}", db.index),
                ));
                return;
            }
            let result = adapter
                .connect(db.index)
                .and_then(|mut conn| setup(&mut conn, &mut seed::rng(db.schema_seed), &job.config.params));
            if let Err(e) = result {
                findings.stop = Some((StopReason::Error, format!("setup of database {} failed: {e}", db.index)));
                return;
            }
        }
    }
    match &job.config.step {
        Step::SetupOnly => {
            findings.stop = Some((StopReason::OpLimit, "setup step only".into()));
            return;
        }
        Step::VerifyOnly(dir) => {
            findings.stop = Some((StopReason::OpLimit, format!("verify step only, of {}", dir.display())));
            match crate::shard::Ledgers::load(dir) {
                Ok(ledgers) => {
                    // The shards' tracked writes, checked against what the shared engine holds.
                    if job.workload.durability.is_some() && !ledgers.writes.is_empty() {
                        let db_of = |u: u32| job.plan.users.get(u as usize).map_or(0, |s| s.db);
                        let logs: Vec<(usize, &crate::durability::WriteLog)> =
                            ledgers.writes.iter().map(|w| (db_of(w.user()), w)).collect();
                        findings.durability = Some(check_durability(job, &logs));
                    }
                    verify_all(job, findings, |db| {
                        ledgers.databases.get(&db).cloned().unwrap_or_default()
                    });
                }
                Err(e) => findings.stop = Some((StopReason::Error, e)),
            }
            return;
        }
        Step::Run => {}
    }
    if let Some(at) = job.config.start_at_ms
        && !wait_for_barrier(at)
    {
        findings.stop = Some((StopReason::Interrupted, "while waiting for the start barrier".into()));
        return;
    }
    run_users(job, findings);
    // After a crash the engine cannot be asked; with users abandoned their ledgers are gone.
    if findings
        .stop
        .as_ref()
        .is_some_and(|(r, _)| matches!(r, StopReason::CrashDetected | StopReason::StuckOps))
    {
        return;
    }
    // Faults due at the end: after the users stopped, before the verify step.
    for f in job.faults.iter().filter(|f| f.at_ms.is_none()) {
        let record = inject(job.workload.adapter.as_ref(), job.proxy.as_deref(), f, None, &|| false);
        findings.faults.push(record);
    }
    // The acknowledged-write checker, once per database, on what the engine holds now.
    if job.workload.durability.is_some() && !shares_engine(job) {
        let logs: Vec<(usize, &crate::durability::WriteLog)> =
            findings.users.iter().map(|u| (u.summary.db, &u.writes)).collect();
        findings.durability = Some(check_durability(job, &logs));
    }
    check_isolation(job, findings);
    // The shards of a run on a shared engine leave the verify step to its own step, after the
    // merge: their ledgers go to ledger.json.
    if shares_engine(job) {
        return;
    }
    let ledgers = ledgers_of(&findings.users);
    verify_all(job, findings, |db| {
        ledgers.databases.get(&db).cloned().unwrap_or_default()
    });
}

/// Injects one fault; what it did, as a row of the summary (`at_s`: `at`, when it went in).
fn inject<A: Adapter>(
    adapter: &A,
    proxy: Option<&crate::netproxy::NetProxy>,
    f: &PlannedFault,
    at: Option<f64>,
    stopping: &dyn Fn() -> bool,
) -> FaultRecord {
    // The network's faults are the run's own, through its proxy.
    let result = match proxy.filter(|_| f.kind.is_network()) {
        Some(proxy) => panic::catch(|| proxy.inject(f, stopping)),
        None => panic::catch(|| adapter.inject(f, stopping)),
    }
    .unwrap_or_else(|p| Err(crate::OpError::msg(p)));
    let (target, recovery_ms, error, check) = match result {
        Ok(i) => (i.target, i.recovery.map(|d| d.as_millis() as u64), None, i.check),
        Err(e) => (adapter.name().to_owned(), None, Some(e.to_string()), None),
    };
    FaultRecord {
        at_s: at,
        target,
        recovery_ms,
        error,
        check,
        skipped: None,
        ..FaultRecord::skipped(f, String::new())
    }
}

/// Injects the timed faults of the schedule, each when it is due from `start` (or as soon as
/// the fault before it is over: its row then says when it really went in). Nothing is injected
/// once the users' time is over — their deadline, their stop, or Ctrl-C: the faults left get
/// rows that say so, and a hold under way ends then. Returns, per row, the outage it opened.
fn run_faults<A: Adapter>(
    adapter: &A,
    proxy: Option<&crate::netproxy::NetProxy>,
    faults: &[PlannedFault],
    start: Instant,
    deadline: Option<Instant>,
    shared: &Shared,
) -> Vec<Option<usize>> {
    let over = || {
        shared.users_over.load(Ordering::SeqCst)
            || shared.signal.is_stopped()
            || signal::interrupted()
            || deadline.is_some_and(|d| Instant::now() >= d)
    };
    let secs = |t: Instant| round3(t.saturating_duration_since(start).as_secs_f64());
    let mut outages = Vec::new();
    let mut rows = Vec::new();
    let mut timed = faults.iter().filter(|f| f.at_ms.is_some());
    for f in timed.by_ref() {
        let due = start + Duration::from_millis(f.at_ms.unwrap_or(0));
        while !over() {
            let now = Instant::now();
            if now >= due {
                break;
            }
            std::thread::park_timeout((due - now).min(Duration::from_millis(50)));
        }
        if over() {
            rows.push(skip_row(f, secs(Instant::now())));
            break;
        }
        // Counted before and after, so the count is odd while the fault is under way: a user
        // whose connection broke then, or that connected to the server about to go down (and
        // read the count before), knows a fault broke it.
        let breaks = f.kind.breaks_connections();
        if breaks {
            shared.breaks.fetch_add(1, Ordering::SeqCst);
        }
        let at = Instant::now();
        let outage = shared
            .outages
            .open(UserClock::stamp(start, at), f.kind.takes_engine_away());
        let record = inject(adapter, proxy, f, Some(secs(at)), &over);
        shared.outages.back(outage, UserClock::stamp(start, Instant::now()));
        if breaks {
            shared.breaks.fetch_add(1, Ordering::SeqCst);
        }
        if record.error.is_some() {
            shared.outages.cancel(outage);
            outages.push(None);
        } else {
            outages.push(Some(outage));
        }
        if let Ok(mut all) = shared.faults.lock() {
            all.push(record);
        }
    }
    // The rest came due after the users' time (or never will within it).
    let stopped = secs(Instant::now());
    rows.extend(timed.map(|f| skip_row(f, stopped)));
    if let Ok(mut all) = shared.faults.lock() {
        outages.extend(rows.iter().map(|_| None));
        all.extend(rows);
    }
    outages
}

/// The row of a timed fault not injected because the users' time was over at `over_s`.
fn skip_row(f: &PlannedFault, over_s: f64) -> FaultRecord {
    let due = f.at_ms.unwrap_or(0) as f64 / 1000.0;
    let why = if signal::interrupted() {
        format!("due at {due}s; the run was interrupted first")
    } else {
        format!("due at {due}s; the users' time was over at {over_s}s: nothing is injected after it")
    };
    FaultRecord::skipped(f, why)
}

/// The isolation checker, on the history the users recorded. A shard's history is part of the
/// run's (its reads see other shards' writes): it is checked after the merge, not alone.
fn check_isolation<A: Adapter>(job: &Job<'_, A>, findings: &mut Findings) {
    let (Some(expect), Some(history)) = (job.workload.isolation, findings.history.as_ref()) else {
        return;
    };
    if job.config.shard.is_some() {
        findings.warnings.push(
            "a shard's transactions are checked with the other shards' after the merge (cargo stress check \
             MERGED)"
                .into(),
        );
        return;
    }
    match history.finish() {
        Ok(txns) => findings.isolation = Some(crate::isolation::check(&txns, expect.model, expect.kind)),
        Err(e) => {
            let mut report = crate::isolation::check(&[], expect.model, expect.kind);
            report.incomplete = Some(format!("the history could not be kept: {e}"));
            findings.isolation = Some(report);
        }
    }
}

/// Reads back every tracked key of each database and classifies the writes of `logs` (each
/// with its user's database).
fn check_durability<A: Adapter>(
    job: &Job<'_, A>,
    logs: &[(usize, &crate::durability::WriteLog)],
) -> crate::durability::Durability {
    let mut out = crate::durability::Durability::default();
    let Some(read) = &job.workload.durability else {
        return out;
    };
    let ids = |u: u32| job.plan.users.get(u as usize).map(|s| s.id.clone());
    for db in &job.plan.databases {
        let mut present: Vec<i64> = Vec::new();
        let result = panic::catch(|| {
            job.workload
                .adapter
                .connect(db.index)
                .and_then(|mut conn| read(&mut conn, &mut |k| present.push(k)))
        });
        // Keys that could not be read back say nothing of what is lost: the database's writes
        // stay unclassified, and the error fails the check.
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                out.errors
                    .push(format!("database {}: reading the keys back failed: {e}", db.index));
                continue;
            }
            Err(p) => {
                out.errors
                    .push(format!("database {}: reading the keys back {p}", db.index));
                continue;
            }
        }
        let mine: Vec<&crate::durability::WriteLog> =
            logs.iter().filter(|(d, _)| *d == db.index).map(|(_, w)| *w).collect();
        out.add(&crate::durability::check(&mine, &present, &ids));
    }
    out
}

/// The acknowledged writes of these users, per database.
fn ledgers_of(users: &[UserResult]) -> crate::shard::Ledgers {
    let mut out = crate::shard::Ledgers::default();
    for u in users {
        out.databases.entry(u.summary.db).or_default().merge(&u.ledger);
        if u.writes.len() > 0 {
            out.writes.push(u.writes.clone());
        }
    }
    out
}

/// The verify step, once per database, against `ledger(db)`.
fn verify_all<A: Adapter>(job: &Job<'_, A>, findings: &mut Findings, ledger: impl Fn(usize) -> Ledger) {
    let adapter = &job.workload.adapter;
    if let Some(verify) = &job.workload.verify {
        findings.verify.ran = true;
        for db in &job.plan.databases {
            let ledger = ledger(db.index);
            let result = panic::catch(|| {
                adapter
                    .connect(db.index)
                    .and_then(|mut conn| verify(&mut conn, &ledger))
            });
            match result {
                Ok(Ok(())) => {}
                Ok(Err(e)) => findings.verify.errors.push(format!("database {}: {e}", db.index)),
                Err(p) => findings.verify.errors.push(format!("database {}: {p}", db.index)),
            }
        }
        findings.verify.passed = findings.verify.errors.is_empty();
    }
}

/// The ops of the workload's classes: names across classes (the same name in two classes is
/// one op in the summary), each class's op ids and draw table, and the id of `connect`.
struct Ops {
    names: Vec<String>,
    op_ids: Vec<Vec<u32>>,
    tables: Vec<OpTable>,
    connect_id: u32,
}

impl Ops {
    fn of<A: Adapter>(workload: &Workload<A>) -> Self {
        let mut names: Vec<String> = Vec::new();
        let mut op_ids: Vec<Vec<u32>> = Vec::new();
        let mut tables = Vec::new();
        for class in &workload.classes {
            op_ids.push(
                class
                    .ops
                    .iter()
                    .map(|op| match names.iter().position(|n| *n == op.name) {
                        Some(i) => i as u32,
                        None => {
                            names.push(op.name.clone());
                            (names.len() - 1) as u32
                        }
                    })
                    .collect(),
            );
            tables.push(OpTable::new(class).expect("validated before the run"));
        }
        names.push("connect".to_owned());
        let connect_id = (names.len() - 1) as u32;
        Self {
            names,
            op_ids,
            tables,
            connect_id,
        }
    }
}

/// This process's users (a shard's part of the plan), each with its class, its index in its
/// class over the whole run (the stages' gate ranks users across every shard) and its index in
/// the plan.
fn my_users<A: Adapter>(job: &Job<'_, A>) -> Vec<(crate::seed::UserSeed, usize, usize, u32)> {
    let classes = &job.workload.classes;
    let mut index_in_class: Vec<usize> = vec![0; classes.len()];
    let mut mine = Vec::new();
    for (global, user) in job.plan.users.iter().enumerate() {
        let ci = classes
            .iter()
            .position(|c| c.name == user.class)
            .expect("replay users were checked against the classes");
        let in_class = index_in_class[ci];
        index_in_class[ci] += 1;
        if job.config.shard.is_none_or(|s| s.owns(global)) && job.config.runs(&user.id) {
            mine.push((user.clone(), ci, in_class, global as u32));
        }
    }
    mine
}

/// The users' part of the run: user threads, the monitor, the stall watcher and the faults;
/// what they measured goes to `findings`.
fn run_users<A: Adapter>(job: &mut Job<'_, A>, findings: &mut Findings) {
    let ops = Ops::of(&job.workload);
    findings.op_names = ops.names.clone();
    let mine = my_users(job);
    let shared = Arc::new(Shared::new(mine.len()));
    let config = Arc::new(job.config.clone());
    if job.workload.isolation.is_some() {
        match crate::history::HistorySink::new(job.out_dir) {
            Ok(sink) => findings.history = Some(Arc::new(sink)),
            Err(e) => findings.warnings.push(format!("transactions are not checked: {e}")),
        }
    }
    let mut sources: Vec<Box<dyn MetricsSource>> = vec![Box::new(ProcessMetrics::new())];
    sources.extend(job.workload.adapter.metrics_sources());
    sources.append(&mut job.sources);
    let target_share = mine.len() as f64 / job.plan.users.len().max(1) as f64;
    let mut monitor = new_monitor(
        &job.name,
        &config,
        &job.thresholds,
        sources,
        &mut job.observers,
        &shared,
        &ops.names,
    );
    monitor.target_share = target_share;
    for o in monitor.observers.iter_mut() {
        o.on_start(&RunStart {
            workload: &job.name,
            seed: job.plan.seed,
            users: mine.len(),
            duration: config.duration(),
            ops_per_user: config.ops_per_user,
            out_dir: job.out_dir,
        });
    }
    // A user sends one part per interval in which it finished ops, so the collector's work
    // grows with users, not with ops. Bounded all the same: should the collector fall behind
    // (a thousand users on two cores), users wait for it instead of queueing without limit.
    let (tx, rx) = crossbeam::channel::bounded::<Batch>(mine.len().max(1) * PARTS_IN_FLIGHT_PER_USER);
    super::since::prepare();
    let spawning = Instant::now();
    let users = Users {
        workload: &job.workload,
        plan: &job.plan,
        config: &config,
        shared: &shared,
        history: findings.history.clone(),
        controls: job.controls.as_ref(),
    };
    let handles = users.spawn(&ops, &mine, &tx);
    drop(tx);
    let all_started = handles.len() == mine.len();
    let opened = if all_started {
        shared.open_when_all(handles.len())
    } else {
        None
    };
    let (end, start, stuck, outages) = match opened {
        Some(start) => {
            findings.users_started = SystemTime::now().checked_sub(start.elapsed());
            match (job.out_dir, findings.users_started) {
                (Some(dir), Some(wall)) => monitor.collector.stream_log(dir, wall, &job.name),
                (None, _) => monitor.collector.discard_log(),
                _ => {}
            }
            let around = Around {
                workload: &job.workload,
                faults: &job.faults,
                proxy: job.proxy.as_ref(),
                controls: job.controls.as_ref(),
                out_dir: job.out_dir,
                config: &config,
            };
            let (end, stuck, outages, profile) = measure(&around, &shared, &mut monitor, &rx, start);
            findings.profile = profile;
            (end, start, stuck, outages)
        }
        None => {
            shared.cancel_start();
            if signal::interrupted() {
                shared
                    .signal
                    .stop(StopReason::Interrupted, Some("while users were connecting".into()));
            }
            let now = Instant::now();
            (now, now, false, Vec::new())
        }
    };
    findings.startup = start.saturating_duration_since(spawning);
    findings.duration = end.saturating_duration_since(start);
    let abandoned = join_users(
        handles,
        stuck,
        &mine,
        &shared,
        &mut monitor,
        start,
        &ops.names,
        findings,
    );
    // Batches of users that finished after the monitor stopped listening.
    while let Ok(batch) = rx.try_recv() {
        monitor.collector.add(&batch);
    }
    let grace = monitor.policy.stuck_grace;
    keep_monitor(monitor, &shared, findings);
    settle_stop(&shared, &abandoned, grace, findings);
    settle_faults(&shared, &outages, findings);
}

/// The monitor of a run: its sampler over `sources`, its stop policy and limits, its collector.
fn new_monitor<'m>(
    name: &str,
    config: &RunConfig,
    thresholds: &[Threshold],
    sources: Vec<Box<dyn MetricsSource>>,
    observers: &'m mut Vec<Box<dyn Observer>>,
    shared: &'m Shared,
    names: &[String],
) -> Monitor<'m> {
    let mut monitor = Monitor {
        shared,
        sampler: Sampler::new(sources),
        policy: StopPolicy {
            deadline: None,
            stuck_grace: Duration::from_millis(config.stuck_grace_ms),
            stopped_at: None,
            abort_on: if config.abort_on_fail {
                thresholds.to_vec()
            } else {
                Vec::new()
            },
            warmup: Duration::from_millis(config.warmup_ms),
            op_names: names.to_vec(),
        },
        limits: Limits::new(
            config.max_memory_mb,
            config.max_cpu_percent,
            config.max_disk_mb,
            Duration::from_millis(config.limit_grace_ms),
        ),
        collector: Collector::new(names),
        observers,
        backpressure: Backpressure::default(),
        pause_reason: None,
        paused_since: None,
        totals: (0, 0),
        duration: config.users_deadline(),
        config: config.clone(),
        start: Instant::now(),
        workload: name.to_owned(),
        stage: None,
        told_stopping: false,
        target_share: 1.0,
        faults_told: 0,
    };
    if config.shard.is_some() {
        monitor.collector.keep_service_seconds();
    }
    monitor
}

/// What the user threads are started with.
struct Users<'j, A: Adapter> {
    workload: &'j Workload<A>,
    plan: &'j SeedPlan,
    config: &'j Arc<RunConfig>,
    shared: &'j Arc<Shared>,
    history: Option<Arc<crate::history::HistorySink>>,
    /// Controls from outside the run (the dashboard), or a replay's recorded ones.
    controls: Option<&'j Arc<super::control::ControlHub>>,
}

impl<A: Adapter> Users<'_, A> {
    /// Starts a thread per user of `mine`; stops the run (and calls the start off) when one
    /// cannot be started. Returns the threads started.
    fn spawn(
        &self,
        ops: &Ops,
        mine: &[(crate::seed::UserSeed, usize, usize, u32)],
        tx: &crossbeam::channel::Sender<Batch>,
    ) -> Vec<std::thread::JoinHandle<UserResult>> {
        let (workload, config, shared) = (self.workload, self.config, self.shared);
        // What the user threads share, owned: a thread stuck in an op is abandoned with its copy.
        let classes = Arc::new(workload.classes.clone());
        let (tables, op_ids) = (Arc::new(ops.tables.clone()), Arc::new(ops.op_ids.clone()));
        let mut handles = Vec::new();
        for (user, ci, index_in_class, plan_index) in mine {
            let user_job = UserJob {
                pace: self.pace(user, *ci, *index_in_class),
                adapter: Arc::clone(&workload.adapter),
                classes: Arc::clone(&classes),
                tables: Arc::clone(&tables),
                op_ids: Arc::clone(&op_ids),
                class_index: *ci,
                user_index: handles.len(),
                plan_index: *plan_index,
                connect_id: ops.connect_id,
                seed: user.clone(),
                db_seed: self.plan.databases.get(user.db).map_or(0, |d| d.schema_seed),
                config: Arc::clone(config),
                shared: Arc::clone(shared),
                tx: tx.clone(),
                history: self.history.clone(),
            };
            let spawned = std::thread::Builder::new()
                .name(format!("stress-user-{}", user.id))
                .spawn(move || run_user(user_job));
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    // Without this user the gate would never open: call the start off, and the
                    // users already waiting return at once.
                    shared.signal.stop(
                        StopReason::Error,
                        Some(format!(
                            "cannot start user thread {} ({} of {} started): {e}; run fewer users, or raise the \
                             process's thread or memory limits (ulimit -u, ulimit -v)",
                            user.id,
                            handles.len(),
                            mine.len()
                        )),
                    );
                    shared.cancel_start();
                    break;
                }
            }
            if shared.signal.is_stopped() || signal::interrupted() {
                break;
            }
        }
        handles
    }

    /// A user's pace: classes with a rate of their own follow it; the others share the
    /// workload's, as one of all the run's users (a shard runs its users' shares).
    fn pace(&self, user: &crate::seed::UserSeed, ci: usize, index_in_class: usize) -> Pace {
        let (classes, config) = (&self.workload.classes, self.config);
        let has_rate = |class: &str| classes.iter().any(|c| c.name == class && c.rate.is_some());
        let total_users = self.plan.users.iter().filter(|u| !has_rate(&u.class)).count().max(1) as f64;
        let peak = config.stages.iter().map(|s| s.target).fold(0.0, f64::max);
        let in_class = config
            .users
            .iter()
            .find(|(c, _)| *c == user.class)
            .map_or(1, |(_, n)| (*n).max(1));
        let rank = (index_in_class as f64 + 0.5) / in_class as f64;
        Pace {
            share: match (classes[ci].rate, config.rate, config.stages.is_empty()) {
                (Some(r), _, _) => Share::Fixed(r / in_class as f64),
                (None, None, _) => Share::None,
                (None, Some(r), true) => Share::Fixed(r / total_users),
                (None, Some(_), false) => Share::Staged(1.0 / total_users),
            },
            arrival: config.arrival,
            rng: seed::rng(seed::derive(user.seed, "arrival", "")),
            stages: config.stages.clone(),
            gate: (config.rate.is_none() && classes[ci].rate.is_none() && peak > 0.0).then_some(Gate { rank, peak }),
            latency_limit: config.latency_limit_ms.map(Duration::from_millis),
            next: None,
            slots: 0,
            missed: 0,
            paused_at: None,
            // Users that share the run's rate follow its changes (`--dashboard`, a replay).
            control: match (classes[ci].rate, self.controls) {
                (None, Some(hub)) => hub.rate().map(|r| (r, 1.0 / total_users)),
                _ => None,
            },
            control_seen: 0,
        }
    }
}

/// The users' time, from `start`: the monitor runs until the users are done, beside a stall
/// watcher and the fault thread. Returns when it ended, whether users were left in an op, and
/// per fault row the outage it opened.
fn measure<A: Adapter>(
    around: &Around<'_, A>,
    shared: &Arc<Shared>,
    monitor: &mut Monitor<'_>,
    rx: &crossbeam::channel::Receiver<Batch>,
    start: Instant,
) -> (Instant, bool, Vec<Option<usize>>, Profiled) {
    let Around {
        workload,
        faults,
        proxy,
        controls,
        out_dir,
        config,
    } = *around;
    let users_done = Arc::new(AtomicBool::new(false));
    // A thread of its own looks for stalls every 100 ms: the monitor may itself be held by a
    // metrics source reading the frozen server.
    let watcher = {
        let (shared, users_done) = (Arc::clone(shared), Arc::clone(&users_done));
        std::thread::Builder::new()
            .name("stress-stall-watch".into())
            .spawn(move || {
                while !users_done.load(Ordering::Relaxed) {
                    // Parked, not asleep: the run's end wakes it at once.
                    std::thread::park_timeout(STALL_WATCH);
                    let stall = stall_at(&shared.clocks, UserClock::stamp(start, Instant::now()));
                    shared.max_stall_us.fetch_max(stall, Ordering::Relaxed);
                }
            })
            .ok()
    };
    // Faults on a thread of their own: a pause holds it, not the monitor.
    let timed: Vec<PlannedFault> = faults.iter().filter(|f| f.at_ms.is_some()).copied().collect();
    let deadline = config.users_deadline().map(|d| start + d);
    let injector = (!timed.is_empty())
        .then(|| {
            let (adapter, shared, proxy) = (Arc::clone(&workload.adapter), Arc::clone(shared), proxy.cloned());
            std::thread::Builder::new()
                .name("stress-faults".into())
                .spawn(move || run_faults(adapter.as_ref(), proxy.as_deref(), &timed, start, deadline, &shared))
                .ok()
        })
        .flatten();
    let profiling = crate::profile::begin(config, out_dir, workload.adapter.profiled_pid());
    let replaying = controls.and_then(|c| c.attach(shared, start));
    let (end, stuck) = monitor.run(rx, start);
    if let Some(c) = controls {
        c.detach(replaying);
    }
    let profile = profiling.map(|p| p.and_then(crate::profile::Recording::stop));
    // The users' time is over: no fault goes in after it, and a hold under way ends now.
    shared.users_over.store(true, Ordering::SeqCst);
    let mut outages = Vec::new();
    if let Some(t) = injector {
        t.thread().unpark();
        outages = t.join().unwrap_or_default();
        monitor.tell_faults();
    }
    users_done.store(true, Ordering::Relaxed);
    if let Some(w) = watcher {
        w.thread().unpark();
        let _ = w.join();
    }
    (end, stuck, outages, profile)
}

/// The CPU profile of the users' time (`--cpu-profile`), when one was asked for.
type Profiled = Option<Result<crate::profile::Recorded, String>>;

/// What runs around the users while they run: the fault thread (and the network proxy), the
/// controls, the profiler.
struct Around<'j, A: Adapter> {
    workload: &'j Workload<A>,
    faults: &'j [PlannedFault],
    proxy: Option<&'j Arc<crate::netproxy::NetProxy>>,
    controls: Option<&'j Arc<super::control::ControlHub>>,
    out_dir: Option<&'j Path>,
    config: &'j RunConfig,
}

/// Joins the user threads into `findings.users`. Users still in an op after the grace are
/// abandoned, not waited for: their in-flight op is counted as failed, and they are named
/// (returned).
#[expect(
    clippy::too_many_arguments,
    reason = "the phase reads the run's parts one by one; a struct of them would only rename them"
)]
fn join_users(
    handles: Vec<std::thread::JoinHandle<UserResult>>,
    stuck: bool,
    mine: &[(crate::seed::UserSeed, usize, usize, u32)],
    shared: &Shared,
    monitor: &mut Monitor<'_>,
    start: Instant,
    names: &[String],
    findings: &mut Findings,
) -> Vec<String> {
    let mut abandoned: Vec<String> = Vec::new();
    for (index, h) in handles.into_iter().enumerate() {
        if stuck && !h.is_finished() {
            let seed = &mine[index].0;
            let clock = &shared.clocks[index];
            let op = clock.op.load(Ordering::Relaxed).checked_sub(1);
            let busy = clock.busy_since.load(Ordering::Relaxed);
            let in_flight_us = UserClock::stamp(start, Instant::now()).saturating_sub(busy);
            let op_name = op.map_or("?", |o| names[o as usize].as_str()).to_owned();
            if let Some(o) = op {
                monitor.collector.add(&Batch {
                    interval: findings.duration.as_secs(),
                    ops: vec![(o, OpPart::failed_op())],
                    ..Batch::default()
                });
            }
            shared.errors.record(
                &seed.id,
                &op_name,
                || {
                    format!(
                        "stuck: still in the op {:.1}s after it started; abandoned",
                        in_flight_us as f64 / 1e6
                    )
                },
                findings.duration,
            );
            abandoned.push(format!("{} in `{op_name}`", seed.id));
            let ops = clock.ops.load(Ordering::Relaxed) + 1;
            findings.users.push(abandoned_user(seed, ops, mine[index].3));
            continue;
        }
        match h.join() {
            Ok(result) => findings.users.push(result),
            Err(_) => findings.stop = Some((StopReason::Error, "a user thread panicked".into())),
        }
    }
    abandoned
}

/// What is known of a user abandoned in an op: its ops so far, the one in flight failed.
fn abandoned_user(seed: &crate::seed::UserSeed, ops: u64, plan_index: u32) -> UserResult {
    UserResult {
        summary: crate::report::UserSummary {
            id: seed.id.clone(),
            class: seed.class.clone(),
            seed: seed.seed,
            db: seed.db,
            ops,
            failed: 1,
            substituted: 0,
            op_digest: String::new(),
            scheduled_ops: None,
            retries: 0,
            retried_ops: 0,
            interrupted: 0,
            exhausted: 0,
        },
        ledger: Ledger::default(),
        measures: Measures::default(),
        writes: crate::durability::WriteLog::new(plan_index),
    }
}

/// What the monitor and its sampler measured, into `findings`.
fn keep_monitor(monitor: Monitor<'_>, shared: &Shared, findings: &mut Findings) {
    let Monitor {
        mut collector,
        sampler,
        backpressure,
        ..
    } = monitor;
    let Sampler {
        peaks,
        baseline,
        server_latency,
        warned,
        ..
    } = sampler;
    collector.max_stall_us = shared.max_stall_us.load(Ordering::Relaxed);
    findings.collector = Some(collector);
    findings.peaks = peaks;
    findings.baseline = baseline;
    findings.server_latency = server_latency;
    findings.backpressure = backpressure;
    findings.warnings.extend(warned);
}

/// Why the users' part stopped: users abandoned, else the stop signal's reason when it is not
/// a normal one (or nothing else was found), else an op limit.
fn settle_stop(shared: &Shared, abandoned: &[String], grace: Duration, findings: &mut Findings) {
    if !abandoned.is_empty() {
        findings.stop = Some((
            StopReason::StuckOps,
            format!(
                "{} still in an op {:.0}s after the run stopped ({}), abandoned: {}",
                if abandoned.len() == 1 {
                    "1 user was"
                } else {
                    "users were"
                },
                grace.as_secs_f64(),
                shared.signal.reason().map_or("?".into(), |(r, _)| format!("{r:?}")),
                abandoned.join(", ")
            ),
        ));
        return;
    }
    match shared.signal.reason() {
        Some((reason, detail)) if !reason.is_normal() || findings.stop.is_none() => {
            findings.stop = Some((reason, detail.unwrap_or_default()));
        }
        None if findings.stop.is_none() => findings.stop = Some((StopReason::OpLimit, String::new())),
        _ => {}
    }
}

/// The faults' rows, each outage as it stood when the users stopped (closed by an op that
/// succeeded, or open), and the errors kept.
fn settle_faults(shared: &Shared, outages: &[Option<usize>], findings: &mut Findings) {
    findings.faults = shared.faults.lock().map(|f| f.clone()).unwrap_or_default();
    for (record, outage) in findings.faults.iter_mut().zip(outages) {
        if let Some(i) = outage {
            record.outage_ms = shared.outages.length_us(*i).map(|us| us / 1000);
            record.outage_open = record.outage_ms.is_none();
        }
    }
    // An outage is a stall: users waited on the engine and none got an answer.
    let longest_outage_us = findings
        .faults
        .iter()
        .filter_map(|f| f.outage_span(findings.duration.as_secs_f64()))
        .map(|(from, to)| ((to - from) * 1e6) as u64)
        .max()
        .unwrap_or(0);
    if let Some(c) = findings.collector.as_mut() {
        c.max_stall_us = c.max_stall_us.max(longest_outage_us);
    }
    findings.errors = shared.errors.take();
    findings.errors_seen = shared.errors.seen.load(Ordering::Relaxed);
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn summarize<A: Adapter>(job: &Job<'_, A>, started_at: SystemTime, f: &Findings) -> Summary {
    let empty = Collector::new(&[]);
    let c = f.collector.as_ref().unwrap_or(&empty);
    // Rates count the measured part of the run: the warm-up's ops are not in the statistics.
    let warmup = Duration::from_millis(job.config.warmup_ms);
    let secs = f.duration.saturating_sub(warmup).as_secs_f64();
    let record = record(job, started_at, f, c, secs);
    let mut observed = observed(c, &f.op_names, secs);
    observed.delivered = report::schedule(&record.users).1;
    let mut summary = record.into_summary();
    // A shard's figures are a part of the run's: its thresholds are judged on the merged run.
    let thresholds = if job.config.shard.is_some() {
        &[][..]
    } else {
        &job.thresholds[..]
    };
    summary.judge(thresholds, &observed, job.config.max_error_rate, &job.workload.checkers);
    summary
}

/// What the run measured, from its findings and its collector's totals.
fn record<A: Adapter>(job: &Job<'_, A>, started_at: SystemTime, f: &Findings, c: &Collector, secs: f64) -> Record {
    let (total_ops, failed_ops) = c.counts();
    let ops = f
        .op_names
        .iter()
        .cloned()
        .zip(c.per_op())
        .filter(|(name, s)| name != "connect" || s.count > 0)
        .collect();
    let mut measures = Measures::default();
    for u in &f.users {
        measures.merge(&u.measures);
    }
    let users: Vec<report::UserSummary> = f.users.iter().map(|u| u.summary.clone()).collect();
    let mut warnings = f.warnings.clone();
    if let (Some(due), Some(share)) = report::schedule(&users)
        && share < DELIVERED_WARNING
    {
        warnings.push(format!(
            "the schedule made {due} ops due and {:.1}% of them ran: the users could not keep up, \
             slots were skipped or users were paused",
            share * 100.0
        ));
    }
    if c.max_stall_us >= STALL_WARNING.as_micros() as u64 {
        warnings.push(format!(
            "for {:.1}s ops were in flight and none completed: the engine stalled (max_stall_s)",
            c.max_stall_us as f64 / 1e6
        ));
    }
    if f.errors_seen > f.errors.len() {
        warnings.push(format!(
            "{} more errors were counted but not kept",
            f.errors_seen - f.errors.len()
        ));
    }
    let (reason, detail) = f.stop.clone().unwrap_or((StopReason::OpLimit, String::new()));
    Record {
        workload: job.name.clone(),
        adapter: job.workload.adapter.name().to_owned(),
        seed: job.plan.seed,
        smoke: job.config.smoke,
        started_at: report::rfc3339(started_at),
        stop: (reason, (!detail.is_empty()).then_some(detail)),
        window_s: secs,
        users_s: f.duration.as_secs_f64(),
        startup_s: f.startup.as_secs_f64(),
        counts: Counts {
            total_ops,
            failed_ops,
            substituted_ops: c.substituted,
            rows: c.rows,
            bytes: c.bytes,
            late_ops: c.schedule.late,
            skipped_ops: c.schedule.skipped,
            warmup_ops: c.schedule.warmup,
            max_lag_us: c.schedule.max_lag_us,
            lag_sum_us: c.schedule.lag_sum_us,
        },
        latency_us: c.total().summary(),
        service_us: c.total_service().summary(),
        max_stall_us: c.max_stall_us,
        ops,
        timeseries: c.timeseries(),
        users,
        resources: f.peaks.clone(),
        resources_start: f.baseline.clone(),
        phases: measures.phase_stats(),
        figures: measures.figure_stats(),
        server_latency_us: f.server_latency.iter().map(|(k, h)| (k.clone(), h.summary())).collect(),
        backpressure: f.backpressure.clone(),
        verify: f.verify.clone(),
        errors: f.errors.clone(),
        errors_seen: f.errors_seen,
        warnings,
        faults: f.faults.clone(),
        durability: f.durability.clone(),
        isolation: f.isolation.clone(),
        shards: None,
        checks: Vec::new(),
        failures: Vec::new(),
    }
}

/// How often the stall watcher looks at the users' clocks.
const STALL_WATCH: Duration = Duration::from_millis(100);

/// A stall this long or longer is warned about.
const STALL_WARNING: Duration = Duration::from_secs(3);

/// Below this share of the scheduled ops delivered, the summary warns.
const DELIVERED_WARNING: f64 = 0.9;
