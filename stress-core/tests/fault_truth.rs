//! Faults are reported as they happened: when each was due and when it went in, how long the
//! engine was out, nothing injected after the users stopped, no hold that outlives the run.
//!
//! The engine here is a small one of the test's own, whose faults do what a server's do to its
//! users: a `kill` takes it down for a while (ops in flight lose their connection, connecting
//! is refused until it is back), a `pause` freezes it (ops and the monitor's metrics read hang
//! until it resumes). The faults' scheduling, timing and accounting are the framework's and are
//! what these tests hold to the truth; the real engines' own tests do the same against real
//! servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use stress_core::fault::{FaultKind, Injected, PlannedFault};
use stress_core::monitor::{MetricsSource, Reading};
use stress_core::prelude::*;
use stress_core::{Adapter, StartContext, Summary};

/// The engine's state, shared by the adapter, its connections and its metrics source.
#[derive(Debug, Default)]
struct State {
    /// Killed: connections break and connecting is refused.
    down: AtomicBool,
    /// Paused: everything that touches the engine hangs.
    frozen: AtomicBool,
    /// Kills so far (each a new "incarnation": connections of an older one are broken).
    kills: AtomicU64,
}

impl State {
    fn wait_while_frozen(&self) {
        while self.frozen.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[derive(Debug)]
struct Flaky {
    state: Arc<State>,
    /// How long a killed engine takes to come back.
    comes_back_after: Duration,
}

impl Flaky {
    fn new(comes_back_after: Duration) -> Self {
        Self {
            state: Arc::default(),
            comes_back_after,
        }
    }
}

/// A connection: the incarnation it was made to.
#[derive(Debug)]
struct FlakyConn {
    state: Arc<State>,
    incarnation: u64,
}

impl FlakyConn {
    fn query(&self) -> Result<(), OpError> {
        self.state.wait_while_frozen();
        if self.state.down.load(Ordering::SeqCst) || self.state.kills.load(Ordering::SeqCst) != self.incarnation {
            return Err(OpError::msg("connection lost"));
        }
        Ok(())
    }
}

struct Frozen(Arc<State>);

impl MetricsSource for Frozen {
    fn name(&self) -> &str {
        "flaky"
    }

    /// Like a server's metrics query: hangs while the engine is frozen.
    fn sample(&mut self) -> Result<Vec<Reading>, String> {
        self.0.wait_while_frozen();
        Ok(Vec::new())
    }
}

impl Adapter for Flaky {
    type Conn = FlakyConn;

    fn name(&self) -> &'static str {
        "flaky"
    }

    fn start(&mut self, _: &StartContext<'_>) -> Result<(), OpError> {
        Ok(())
    }

    fn connect(&self, _: usize) -> Result<FlakyConn, OpError> {
        self.state.wait_while_frozen();
        if self.state.down.load(Ordering::SeqCst) {
            return Err(OpError::msg("connection refused"));
        }
        Ok(FlakyConn {
            state: Arc::clone(&self.state),
            incarnation: self.state.kills.load(Ordering::SeqCst),
        })
    }

    fn metrics_sources(&self) -> Vec<Box<dyn MetricsSource>> {
        vec![Box::new(Frozen(Arc::clone(&self.state)))]
    }

    fn is_indeterminate(&self, e: &OpError) -> bool {
        e.to_string().contains("connection lost")
    }

    fn faults(&self) -> Vec<FaultKind> {
        vec![FaultKind::Kill, FaultKind::Pause]
    }

    fn inject(&self, fault: &PlannedFault, stopping: &dyn Fn() -> bool) -> Result<Injected, OpError> {
        match fault.kind {
            FaultKind::Kill => {
                self.state.down.store(true, Ordering::SeqCst);
                self.state.kills.fetch_add(1, Ordering::SeqCst);
                std::thread::sleep(self.comes_back_after);
                self.state.down.store(false, Ordering::SeqCst);
                Ok(Injected {
                    target: "flaky".into(),
                    recovery: Some(self.comes_back_after),
                    check: None,
                })
            }
            FaultKind::Pause => {
                let hold = Duration::from_millis(fault.hold_ms.unwrap_or(0));
                let until = std::time::Instant::now() + hold;
                self.state.frozen.store(true, Ordering::SeqCst);
                while !stopping() && std::time::Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(5));
                }
                self.state.frozen.store(false, Ordering::SeqCst);
                Ok(Injected {
                    target: "flaky".into(),
                    recovery: Some(Duration::ZERO),
                    check: None,
                })
            }
            k => Err(OpError::msg(format!("flaky cannot inject {k}"))),
        }
    }
}

fn query(u: &mut User<Flaky>) -> OpResult {
    u.conn().query()?;
    Ok(Outcome::done())
}

fn workload(comes_back_after: Duration) -> Workload<Flaky> {
    Workload::new(Flaky::new(comes_back_after)).class(UserClass::new("client", 2).read("query", 1.0, query))
}

fn injected(s: &Summary) -> Vec<&stress_core::fault::FaultRecord> {
    s.faults.iter().filter(|f| f.skipped.is_none()).collect()
}

/// The users of an op-limited run finish long before the schedule's kills: none is injected
/// into an engine nobody uses, each says why, and the run ends with its users.
#[test]
fn an_op_limited_run_injects_nothing_after_its_users_stop_and_ends_with_them() {
    let r = Runner::new("op_limited")
        .seed(1)
        .duration(Duration::from_secs(60))
        .ops_per_user(20)
        .fault("kill@every=1s..2s")
        .run(workload(Duration::from_millis(50)))
        .unwrap();
    let s = &r.summary;
    assert!(s.passed, "{:?}", s.failures);
    assert_eq!(s.total_ops, 40);
    assert!(
        s.faults.len() >= 30,
        "the schedule's kills all have rows: {}",
        s.faults.len()
    );
    for f in &s.faults {
        let due = f.due_s.expect("timed");
        match (&f.skipped, f.at_s) {
            (Some(why), None) => assert!(why.contains("the users' time was over"), "{why}"),
            (None, Some(at)) => assert!(
                at >= due && at <= s.duration_s,
                "injected within the users' time: {f:?}"
            ),
            _ => panic!("a row is injected or skipped: {f:?}"),
        }
    }
    // The users were done well before the deadline; so was the run.
    assert!(s.duration_s < 60.0, "{}", s.duration_s);
    let last_injected = injected(s).iter().filter_map(|f| f.at_s).fold(0.0, f64::max);
    assert!(last_injected <= s.duration_s, "{last_injected} > {}", s.duration_s);
}

/// Each kill takes the engine away for a second. The second kill comes due during the first's
/// recovery and goes in late, its row says when; the fifth comes due during the fourth's, when
/// the users' time is over, and is not injected.
/// Every outage lasts at least as long as the engine took to come back, the stall and the
/// unavailability show them, and an outage the users' end cut short says so.
#[test]
fn faults_that_come_due_during_a_recovery_go_in_late_and_say_so() {
    let back_after = Duration::from_secs(1);
    let r = Runner::new("late")
        .seed(2)
        .duration(Duration::from_millis(5500))
        .fault("kill@at=1s")
        .fault("kill@at=1500ms")
        .fault("kill@at=4s")
        .fault("kill@at=5200ms")
        .fault("kill@at=5400ms")
        .run(workload(back_after))
        .unwrap();
    let s = &r.summary;
    let rows = injected(s);
    assert_eq!(rows.len(), 4, "{:?}", s.faults);
    let skipped = &s.faults[4];
    assert_eq!(skipped.due_s, Some(5.4));
    assert!(
        skipped.at_s.is_none()
            && skipped
                .skipped
                .as_deref()
                .is_some_and(|w| w.contains("the users' time was over")),
        "{skipped:?}"
    );
    for pair in rows.windows(2) {
        let (before, f) = (pair[0], pair[1]);
        // A kill cannot go in before the one before it is over.
        assert!(f.at_s.unwrap() >= before.at_s.unwrap() + 0.999, "{before:?} then {f:?}");
    }
    let late = rows[1];
    assert!(
        late.at_s.unwrap() >= late.due_s.unwrap() + 0.4,
        "late, and said so: {late:?}"
    );
    for f in &rows {
        match f.outage_ms {
            Some(ms) => assert!(ms >= f.recovery_ms.unwrap() && ms >= 1000, "{f:?}"),
            None => assert!(f.outage_open, "{f:?}"),
        }
    }
    // A second passed between the second kill's end and the third: answers came again (the
    // 200 ms before the fourth may be too short on a busy machine: not asserted).
    assert!(rows[0].outage_ms.is_some(), "users got answers again: {:?}", rows[0]);
    assert!(
        rows[3].outage_open,
        "the last kill's outage lasted until the users' end: {:?}",
        rows[3]
    );
    // Users waited on the engine and got no answer: a stall as long as the longest outage.
    assert!(s.interrupted_ops > 0);
    let longest = rows.iter().filter_map(|f| f.outage_ms).max().unwrap() as f64 / 1000.0;
    assert!(s.max_stall_s >= longest, "{} < {longest}", s.max_stall_s);
    assert!(s.unavailable_s >= 3.0, "{}", s.unavailable_s);
    assert!(s.unavailable_s <= s.duration_s + 0.01, "{}", s.unavailable_s);
}

/// A pause of 1000 hours in a 3 s run: the engine's freeze also holds the monitor's metrics
/// read (as a paused server's does), yet the hold ends when the users' time does, and the run
/// ends within the stuck-op grace.
#[test]
fn a_pause_of_a_thousand_hours_ends_with_the_users_time() {
    let r = Runner::new("long_pause")
        .seed(3)
        .duration(Duration::from_secs(3))
        .fault("pause:1000h@at=1s")
        .run(workload(Duration::ZERO))
        .unwrap();
    let s = &r.summary;
    // The users' clock stops at the deadline; what ran after it is the stuck-op grace at most.
    assert!(s.duration_s < 3.0 + 10.0, "{}", s.duration_s);
    let f = &s.faults[0];
    assert_eq!(
        (f.kind, f.due_s, f.hold_s),
        (FaultKind::Pause, Some(1.0), Some(3_600_000.0))
    );
    assert!(f.at_s.is_some_and(|a| a >= 1.0), "{f:?}");
    assert!(
        s.max_stall_s >= 1.5,
        "users hung in the frozen engine: {}",
        s.max_stall_s
    );
}

/// Two users of one class that draw the same number of values per op have different digests
/// under different seeds; a replay of a run bounded by time runs each user to its recorded op
/// count, and every digest matches.
#[test]
fn digests_tell_users_apart_and_a_replay_of_a_timed_run_matches_every_one() {
    let dir = tempfile::tempdir().unwrap();
    let run = |seed: u64, out: &str| {
        Runner::new("digests")
            .seed(seed)
            .ops_per_user(5)
            .output_dir(dir.path().join(out))
            .run(workload(Duration::ZERO))
            .unwrap()
            .summary
    };
    let (a, b) = (run(9, "a"), run(42, "b"));
    assert_ne!(a.users[0].op_digest, a.users[1].op_digest, "two users of one class");
    assert_ne!(a.users[0].op_digest, b.users[0].op_digest, "one user under two seeds");

    let out = dir.path().join("timed");
    let timed = Runner::new("digests")
        .seed(7)
        .duration(Duration::from_secs(1))
        .think_ms(0, 2)
        .output_dir(&out)
        .run(workload(Duration::ZERO))
        .unwrap()
        .summary;
    let file = stress_core::ReplayFile::load(&out).unwrap();
    for u in &timed.users {
        assert_eq!(
            file.user_ops.get(&u.id),
            Some(&u.ops),
            "replay.json records {}'s count",
            u.id
        );
    }
    let again = Runner::new("digests")
        .replay_file(&out)
        .unwrap()
        .output_dir(dir.path().join("again"))
        .run(workload(Duration::ZERO))
        .unwrap()
        .summary;
    for (u, r) in timed.users.iter().zip(&again.users) {
        assert_eq!((&u.id, u.ops, &u.op_digest), (&r.id, r.ops, &r.op_digest));
    }
}

/// The adapter declares the kinds it injects (kill and pause here, in a crate of its own): a
/// kind it does not declare is refused before anything runs, naming those it does; an argument
/// for a kind that takes none is refused by the spec's parser.
#[test]
fn a_kind_the_adapter_does_not_declare_is_refused_with_the_kinds_it_does() {
    let refused = |spec: &str| {
        Runner::new("undeclared")
            .seed(1)
            .duration(Duration::from_secs(2))
            .fault(spec)
            .run(workload(Duration::from_millis(10)))
            .expect_err(spec)
            .to_string()
    };
    let m = refused("restart@at=1s");
    assert!(
        m.contains("flaky cannot inject `restart` faults: it injects kill, pause"),
        "{m}"
    );
    assert!(!m.contains('\n'), "one line: {m}");
    let m = refused("kill(250ms)@at=1s");
    assert!(m.contains("gives `kill` an argument, and it takes none"), "{m}");
    let m = refused("freeze@at=1s");
    assert!(
        m.contains("has no kind `freeze`") && m.contains("kill, pause, restart"),
        "{m}"
    );
}
