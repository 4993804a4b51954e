//! The engine of one run: adapter start, setup, user threads and the monitor, verify step,
//! reports.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use super::monitor_loop::Monitor;
use super::pace::{Gate, Pace, Share};
use super::panic;
use super::sampling::Sampler;
use super::shared::{ErrorLog, Shared, StartGate, UserClock, observed, stall_at};
use super::signal::{self, StopReason, StopSignal};
use super::stop_policy::StopPolicy;
use super::user_loop::{UserJob, UserResult, run_user};
use crate::adapter::{Adapter, StartContext};
use crate::config::RunConfig;
use crate::fault::{FaultKind, FaultRecord, PlannedFault};
use crate::ledger::Ledger;
use crate::monitor::{Limits, MetricsSource, ProcessMetrics};
use crate::protocol::SUMMARY_PREFIX;
use crate::report::{
    self, Backpressure, ErrorRecord, Observer, REPLAY_FORMAT_VERSION, ReplayFile, RunStart, SUMMARY_FORMAT_VERSION,
    Summary, Verify,
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
            let phases = panic::catch(|| run_started(&mut job, &mut findings));
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
        replay.stop_reason = Some(summary.stop_reason);
        replay.user_ops = summary.users.iter().map(|u| (u.id.clone(), u.ops)).collect();
        replay.controls = job.controls.as_ref().map(|c| c.applied()).unwrap_or_default();
        // As the run had it: start may have taken settings from the parameters (Hyper's paths).
        replay.adapter_config = job.workload.adapter.describe();
        let intervals = findings.collector.as_ref().map_or(&[][..], Collector::intervals);
        let csv = report::timeseries_csv(intervals);
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
                let manifest = shard_manifest(&job, &findings, shard, users_started, late_ms);
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
            // writing failed, and the summary goes to stderr, where `cargo stress` reads it.
            for p in &problems {
                eprintln!("error: {p}");
            }
            summary.passed = false;
            summary
                .failures
                .push(Failure::new(FailureKind::ReportsNotWritten { problems }));
            let json = serde_json::to_string(&summary).unwrap_or_default();
            let _ = writeln!(std::io::stderr(), "{SUMMARY_PREFIX}{json}");
        }
    }
    for o in &mut job.observers {
        o.on_finish(&summary, job.out_dir);
    }
    summary
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
        let record = inject(job.workload.adapter.as_ref(), f, None, &|| false);
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
fn inject<A: Adapter>(adapter: &A, f: &PlannedFault, at: Option<f64>, stopping: &dyn Fn() -> bool) -> FaultRecord {
    let result = panic::catch(|| adapter.inject(f, stopping)).unwrap_or_else(|p| Err(crate::OpError::msg(p)));
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
        let record = inject(adapter, f, Some(secs(at)), &over);
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

fn run_users<A: Adapter>(job: &mut Job<'_, A>, findings: &mut Findings) {
    let workload = &job.workload;
    // Op names across classes: the same name in two classes is one op in the summary.
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
    findings.op_names = names.clone();

    // This process's users (a shard's part of the plan), each with its index in its class
    // over the whole run: the stages' gate ranks users across every shard.
    let mut index_in_class: Vec<usize> = vec![0; workload.classes.len()];
    let mut mine: Vec<(crate::seed::UserSeed, usize, usize, u32)> = Vec::new();
    for (global, user) in job.plan.users.iter().enumerate() {
        let ci = workload
            .classes
            .iter()
            .position(|c| c.name == user.class)
            .expect("replay users were checked against the classes");
        let in_class = index_in_class[ci];
        index_in_class[ci] += 1;
        if job.config.shard.is_none_or(|s| s.owns(global)) && job.config.runs(&user.id) {
            mine.push((user.clone(), ci, in_class, global as u32));
        }
    }
    let shared = Arc::new(Shared {
        signal: StopSignal::default(),
        paused: AtomicBool::new(false),
        disk_over: AtomicBool::new(false),
        errors: ErrorLog::default(),
        active: AtomicUsize::new(0),
        gate: StartGate::default(),
        clocks: (0..mine.len()).map(|_| UserClock::default()).collect(),
        max_stall_us: std::sync::atomic::AtomicU64::new(0),
        faults: std::sync::Mutex::new(Vec::new()),
        breaks: std::sync::atomic::AtomicU64::new(0),
        outages: Default::default(),
        users_over: AtomicBool::new(false),
    });
    let users_done = Arc::new(AtomicBool::new(false));
    let config = Arc::new(job.config.clone());
    if workload.isolation.is_some() {
        match crate::history::HistorySink::new(job.out_dir) {
            Ok(sink) => findings.history = Some(Arc::new(sink)),
            Err(e) => findings.warnings.push(format!("transactions are not checked: {e}")),
        }
    }
    let mut sources: Vec<Box<dyn MetricsSource>> = vec![Box::new(ProcessMetrics::new())];
    let keep_service_seconds = job.config.shard.is_some();
    sources.extend(workload.adapter.metrics_sources());
    sources.append(&mut job.sources);
    let mut monitor = Monitor {
        shared: &shared,
        sampler: Sampler::new(sources),
        policy: StopPolicy {
            deadline: None,
            stuck_grace: Duration::from_millis(config.stuck_grace_ms),
            stopped_at: None,
            abort_on: if config.abort_on_fail {
                job.thresholds.clone()
            } else {
                Vec::new()
            },
            warmup: Duration::from_millis(config.warmup_ms),
            op_names: names.clone(),
        },
        limits: Limits::new(
            config.max_memory_mb,
            config.max_cpu_percent,
            config.max_disk_mb,
            Duration::from_millis(config.limit_grace_ms),
        ),
        collector: Collector::new(&names),
        observers: &mut job.observers,
        backpressure: Backpressure::default(),
        pause_reason: None,
        paused_since: None,
        totals: (0, 0),
        duration: config.users_deadline(),
        config: (*config).clone(),
        start: Instant::now(),
        workload: job.name.clone(),
        stage: None,
        told_stopping: false,
        target_share: mine.len() as f64 / job.plan.users.len().max(1) as f64,
        faults_told: 0,
    };
    if keep_service_seconds {
        monitor.collector.keep_service_seconds();
    }
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
    // Users of classes with a rate of their own follow it; the others share the workload's, as
    // one of all the run's users (a shard runs its users' shares).
    let has_rate = |class: &str| workload.classes.iter().any(|c| c.name == class && c.rate.is_some());
    let total_users = job.plan.users.iter().filter(|u| !has_rate(&u.class)).count().max(1) as f64;
    let peak = config.stages.iter().map(|s| s.target).fold(0.0, f64::max);
    let spawning = Instant::now();
    let planned = mine.len();
    // What the user threads share, owned: a thread stuck in an op is abandoned with its copy.
    let (classes, tables, op_ids) = (Arc::new(workload.classes.clone()), Arc::new(tables), Arc::new(op_ids));
    let mut handles = Vec::new();
    for (user, ci, index_in_class, plan_index) in &mine {
        let (ci, index_in_class, plan_index) = (*ci, *index_in_class, *plan_index);
        let in_class = config
            .users
            .iter()
            .find(|(c, _)| *c == user.class)
            .map_or(1, |(_, n)| (*n).max(1));
        let rank = (index_in_class as f64 + 0.5) / in_class as f64;
        let pace = Pace {
            share: match (workload.classes[ci].rate, config.rate, config.stages.is_empty()) {
                (Some(r), _, _) => Share::Fixed(r / in_class as f64),
                (None, None, _) => Share::None,
                (None, Some(r), true) => Share::Fixed(r / total_users),
                (None, Some(_), false) => Share::Staged(1.0 / total_users),
            },
            arrival: config.arrival,
            rng: seed::rng(seed::derive(user.seed, "arrival", "")),
            stages: config.stages.clone(),
            gate: (config.rate.is_none() && workload.classes[ci].rate.is_none() && peak > 0.0)
                .then_some(Gate { rank, peak }),
            latency_limit: config.latency_limit_ms.map(Duration::from_millis),
            next: None,
            slots: 0,
            missed: 0,
            paused_at: None,
            // Users that share the run's rate follow its changes (`--dashboard`, a replay).
            control: match (workload.classes[ci].rate, &job.controls) {
                (None, Some(hub)) => hub.rate().map(|r| (r, 1.0 / total_users)),
                _ => None,
            },
            control_seen: 0,
        };
        let user_job = UserJob {
            pace,
            adapter: Arc::clone(&workload.adapter),
            classes: Arc::clone(&classes),
            tables: Arc::clone(&tables),
            op_ids: Arc::clone(&op_ids),
            class_index: ci,
            user_index: handles.len(),
            plan_index,
            connect_id,
            seed: user.clone(),
            db_seed: job.plan.databases.get(user.db).map_or(0, |d| d.schema_seed),
            config: config.clone(),
            shared: Arc::clone(&shared),
            tx: tx.clone(),
            history: findings.history.clone(),
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
                        planned
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
    drop(tx);
    let spawned = handles.len();
    let opened = if spawned == planned {
        shared.open_when_all(spawned)
    } else {
        None
    };
    let mut outages: Vec<Option<usize>> = Vec::new();
    let (end, start, stuck) = match opened {
        Some(start) => {
            findings.users_started = SystemTime::now().checked_sub(start.elapsed());
            match (job.out_dir, findings.users_started) {
                (Some(dir), Some(wall)) => monitor.collector.stream_log(dir, wall, &job.name),
                (None, _) => monitor.collector.discard_log(),
                _ => {}
            }
            // A thread of its own looks for stalls every 100 ms: the monitor may itself be
            // held by a metrics source reading the frozen server.
            let watcher = {
                let (shared, users_done) = (Arc::clone(&shared), Arc::clone(&users_done));
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
            let timed: Vec<PlannedFault> = job.faults.iter().filter(|f| f.at_ms.is_some()).copied().collect();
            let deadline = config.users_deadline().map(|d| start + d);
            let injector = (!timed.is_empty())
                .then(|| {
                    let (adapter, shared) = (Arc::clone(&workload.adapter), Arc::clone(&shared));
                    std::thread::Builder::new()
                        .name("stress-faults".into())
                        .spawn(move || run_faults(adapter.as_ref(), &timed, start, deadline, &shared))
                        .ok()
                })
                .flatten();
            let profiling = crate::profile::begin(&config, job.out_dir, workload.adapter.profiled_pid());
            let replaying = job.controls.as_ref().and_then(|c| c.attach(&shared, start));
            let (end, stuck) = monitor.run(&rx, start);
            if let Some(c) = &job.controls {
                c.detach(replaying);
            }
            findings.profile = profiling.map(|p| p.and_then(crate::profile::Recording::stop));
            // The users' time is over: no fault goes in after it, and a hold under way ends now.
            shared.users_over.store(true, Ordering::SeqCst);
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
            (end, start, stuck)
        }
        None => {
            shared.cancel_start();
            if signal::interrupted() {
                shared
                    .signal
                    .stop(StopReason::Interrupted, Some("while users were connecting".into()));
            }
            let now = Instant::now();
            (now, now, false)
        }
    };
    findings.startup = start.saturating_duration_since(spawning);
    findings.duration = end.saturating_duration_since(start);
    // Users still in an op after the grace are abandoned, not waited for: their in-flight op
    // is counted as failed, and they are named.
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
            findings.users.push(UserResult {
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
                writes: crate::durability::WriteLog::new(mine[index].3),
            });
            continue;
        }
        match h.join() {
            Ok(result) => findings.users.push(result),
            Err(_) => findings.stop = Some((StopReason::Error, "a user thread panicked".into())),
        }
    }
    // Batches of users that finished after the monitor stopped listening.
    while let Ok(batch) = rx.try_recv() {
        monitor.collector.add(&batch);
    }
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
                monitor.policy.stuck_grace.as_secs_f64(),
                shared.signal.reason().map_or("?".into(), |(r, _)| format!("{r:?}")),
                abandoned.join(", ")
            ),
        ));
    }
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
    let stop = shared.signal.reason();
    match stop {
        _ if !abandoned.is_empty() => {}
        Some((reason, detail)) if !reason.is_normal() || findings.stop.is_none() => {
            findings.stop = Some((reason, detail.unwrap_or_default()));
        }
        None if findings.stop.is_none() => findings.stop = Some((StopReason::OpLimit, String::new())),
        _ => {}
    }
    findings.faults = shared.faults.lock().map(|f| f.clone()).unwrap_or_default();
    // Each outage as it stood when the users stopped: closed by an op that succeeded, or open.
    for (record, outage) in findings.faults.iter_mut().zip(&outages) {
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
    let (stop_reason, detail) = f.stop.clone().unwrap_or((StopReason::OpLimit, String::new()));
    let empty = Collector::new(&[]);
    let c = f.collector.as_ref().unwrap_or(&empty);
    let (total_ops, failed_ops) = c.counts();
    // Rates count the measured part of the run: the warm-up's ops are not in the statistics.
    let warmup = Duration::from_millis(job.config.warmup_ms);
    let secs = f.duration.saturating_sub(warmup).as_secs_f64();
    let per_sec = |n: u64| if secs > 0.0 { round3(n as f64 / secs) } else { 0.0 };
    let ops = f
        .op_names
        .iter()
        .cloned()
        .zip(c.per_op())
        .filter(|(name, s)| name != "connect" || s.count > 0)
        .collect();
    let mut observed = observed(c, &f.op_names, secs);
    observed.delivered = schedule(&f.users).1;
    let mut measures = Measures::default();
    for u in &f.users {
        measures.merge(&u.measures);
    }
    let mut warnings = f.warnings.clone();
    let (scheduled_ops, delivered) = schedule(&f.users);
    if let (Some(due), Some(share)) = (scheduled_ops, delivered)
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
    let mut summary = Summary {
        format_version: SUMMARY_FORMAT_VERSION,
        workload: job.name.clone(),
        adapter: job.workload.adapter.name().to_owned(),
        seed: job.plan.seed,
        smoke: job.config.smoke,
        started_at: report::rfc3339(started_at),
        stop_reason,
        stop_detail: (!detail.is_empty()).then_some(detail),
        duration_s: round3(secs),
        startup_s: round3(f.startup.as_secs_f64()),
        total_ops,
        failed_ops,
        substituted_ops: c.substituted,
        ops_per_sec: per_sec(total_ops),
        rows_per_sec: per_sec(c.rows),
        total_rows: c.rows,
        total_bytes: c.bytes,
        latency_us: c.total().summary(),
        service_us: c.total_service().summary(),
        late_ops: c.schedule.late,
        skipped_ops: c.schedule.skipped,
        warmup_ops: c.schedule.warmup,
        max_lag_us: c.schedule.max_lag_us,
        mean_lag_us: if c.schedule.lag_sum_us > 0 {
            round3(c.schedule.lag_sum_us as f64 / (total_ops + c.schedule.skipped).max(1) as f64)
        } else {
            0.0
        },
        max_stall_s: round3(c.max_stall_us as f64 / 1e6),
        unavailable_s: crate::fault::unavailable_s(&f.faults, f.duration.as_secs_f64()),
        scheduled_ops,
        delivered,
        retried_ops: f.users.iter().map(|u| u.summary.retried_ops).sum(),
        retries: f.users.iter().map(|u| u.summary.retries).sum(),
        exhausted_ops: f.users.iter().map(|u| u.summary.exhausted).sum(),
        interrupted_ops: f.users.iter().map(|u| u.summary.interrupted).sum(),
        thresholds: Vec::new(),
        timeseries: c.intervals().to_vec(),
        ops,
        users: f.users.iter().map(|u| u.summary.clone()).collect(),
        resources: f.peaks.iter().map(|(k, v)| (k.clone(), round3(*v))).collect(),
        resources_start: f.baseline.iter().map(|(k, v)| (k.clone(), round3(*v))).collect(),
        phases: measures.phase_stats(),
        figures: measures.figure_stats(),
        server_latency_us: f.server_latency.iter().map(|(k, h)| (k.clone(), h.summary())).collect(),
        backpressure: f.backpressure.clone(),
        verify: f.verify.clone(),
        errors: f.errors.clone(),
        warnings,
        passed: true,
        failures: Vec::new(),
        shards: None,
        faults: f.faults.clone(),
        durability: f.durability.clone(),
        isolation: f.isolation.clone(),
    };
    // A shard's figures are a part of the run's: its thresholds are judged on the merged run.
    let thresholds = if job.config.shard.is_some() {
        &[][..]
    } else {
        &job.thresholds[..]
    };
    summary.judge(thresholds, &observed, job.config.max_error_rate);
    summary
}

/// How often the stall watcher looks at the users' clocks.
const STALL_WATCH: Duration = Duration::from_millis(100);

/// A stall this long or longer is warned about.
const STALL_WARNING: Duration = Duration::from_secs(3);

/// Below this share of the scheduled ops delivered, the summary warns.
const DELIVERED_WARNING: f64 = 0.9;

/// The ops the users' schedules made due, and the share of them that ran; `None` in a closed
/// loop.
fn schedule(users: &[UserResult]) -> (Option<u64>, Option<f64>) {
    let scheduled: Vec<(u64, u64)> = users
        .iter()
        .filter_map(|u| Some((u.summary.scheduled_ops?, u.summary.ops)))
        .collect();
    if scheduled.is_empty() {
        return (None, None);
    }
    let due: u64 = scheduled.iter().map(|(d, _)| d).sum();
    let ran: u64 = scheduled.iter().map(|(_, r)| r).sum();
    let share = if due == 0 { 1.0 } else { round3(ran as f64 / due as f64) };
    (Some(due), Some(share))
}
