//! Workload parameters, phases and figures through a whole run: declared with defaults, set
//! through the API and the environment, read by setup and ops, recorded in `replay.json` and
//! restored by a replay; phases and figures summed into `summary.json`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use stress_core::prelude::*;
use stress_core::{EnvConfig, ReplayFile, RunError};

/// The workload; its setup stores the `epochs` it saw in `setup_saw` (one per test: tests
/// run in parallel).
fn workload_seen_by(setup_saw: Arc<AtomicU64>) -> Workload<Bare> {
    Workload::new(Bare)
        .param("epochs", 100u64)
        .param_choice("format", "jsonb", &["jsonb", "bson"])
        .param("ratio", 0.5)
        .setup_with_params(move |_, _, p| {
            setup_saw.store(p.get::<u64>("epochs")?, Ordering::SeqCst);
            Ok(())
        })
        .class(UserClass::new("writer", 2).write("record", 1.0, |u| {
            let epochs: u64 = u.param("epochs")?;
            let bytes = u.phase("encode", |u| {
                let format: String = u.param("format").unwrap_or_default();
                epochs * if format == "bson" { 2 } else { 1 }
            });
            u.phase("write", |u| {
                // An untimed part inside a phase is left out of it.
                u.untimed(|_| std::thread::sleep(UNTIMED));
            });
            u.figure("client_bytes", bytes as f64);
            u.figure("epochs_seen", epochs as f64);
            Ok(Outcome::rows(epochs).with_bytes(bytes))
        }))
        .class(UserClass::new("reader", 1).read("look", 1.0, |_| Ok(Outcome::rows(1))))
}

fn workload() -> Workload<Bare> {
    workload_seen_by(Arc::default())
}

/// What each write sleeps in an untimed part of its `write` phase.
const UNTIMED: Duration = Duration::from_millis(100);

#[test]
fn parameters_reach_setup_and_ops_and_are_recorded_for_replay() {
    let dir = tempfile::tempdir().unwrap();
    let setup_saw = Arc::new(AtomicU64::new(0));
    let first = Runner::new("params")
        .seed(9)
        .ops_per_user(4)
        .param("epochs", "2k")
        .param("format", "bson")
        .output_dir(dir.path().join("a"))
        .run(workload_seen_by(Arc::clone(&setup_saw)))
        .unwrap();
    let s = &first.summary;
    assert!(s.passed, "{:?}", s.failures);
    assert_eq!(setup_saw.load(Ordering::SeqCst), 2_000);
    assert_eq!(s.figures["epochs_seen"].max, 2_000.0);
    assert_eq!(s.figures["client_bytes"].mean, 4_000.0);
    assert_eq!(s.figures["client_bytes"].count, 8, "2 writers × 4 ops");
    assert_eq!(s.phases["write"].count, 8);
    assert_eq!(s.phases["encode"].count, 8);
    // Counted in, the sleep would make every write at least 100,000 µs; and it is in the
    // ops' untimed time instead.
    assert!(
        s.ops["record"]
            .untimed_us
            .as_ref()
            .is_some_and(|u| u.count == 8 && u.mean >= 0.99 * UNTIMED.as_micros() as f64),
        "{:?}",
        s.ops["record"]
    );
    assert!(
        s.phases["write"].latency_us.max < UNTIMED.as_micros() as u64,
        "the untimed sleep is not in the phase: {:?}",
        s.phases["write"]
    );
    assert!(
        s.resources_start.contains_key("process.rss_mb"),
        "{:?}",
        s.resources_start
    );
    assert!(s.resources.contains_key("process.hwm_mb"), "{:?}", s.resources);

    let replay = ReplayFile::load(&dir.path().join("a")).unwrap();
    let recorded: serde_json::Value = serde_json::to_value(&replay.config.params).unwrap();
    assert_eq!(
        recorded,
        serde_json::json!({"epochs": 2000, "format": "bson", "ratio": 0.5})
    );
    // A replay restores them, whatever the environment says now.
    let env = EnvConfig::from_vars([("STRESS_PARAM_EPOCHS".to_owned(), "7".to_owned())]).unwrap();
    let again = Runner::new("params")
        .env(env)
        .unwrap()
        .replay_file(dir.path().join("a"))
        .unwrap()
        .output_dir(dir.path().join("b"))
        .run(workload())
        .unwrap();
    assert_eq!(again.summary.figures["epochs_seen"].max, 2_000.0);
    let digests = |s: &stress_core::Summary| s.users.iter().map(|u| u.op_digest.clone()).collect::<Vec<_>>();
    assert_eq!(digests(&again.summary), digests(s));
}

#[test]
fn the_environment_sets_parameters_and_the_load() {
    let env = EnvConfig::from_vars([
        ("STRESS_PARAM_RATIO".to_owned(), "0.25".to_owned()),
        ("STRESS_PARAM_USERS".to_owned(), "6".to_owned()),
    ])
    .unwrap();
    let r = Runner::new("params")
        .env(env)
        .unwrap()
        .ops_per_user(1)
        .run(workload())
        .unwrap();
    assert!(r.passed(), "{:?}", r.summary.failures);
    let classes: Vec<&str> = r.summary.users.iter().map(|u| u.class.as_str()).collect();
    assert_eq!(classes.len(), 6, "users=6 over writer:reader 2:1");
    assert_eq!(classes.iter().filter(|c| **c == "writer").count(), 4);
    assert_eq!(r.summary.figures["epochs_seen"].max, 100.0, "the default");
}

#[test]
fn bad_parameters_fail_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            Runner::new("params").param("nope", 1),
            "parameter `nope` is not declared by the workload (its parameters: epochs, format, ratio; users and rate set the load)",
        ),
        (
            Runner::new("params").param("format", "xml"),
            "parameter `format` takes one of jsonb, bson, not `xml`",
        ),
        (
            Runner::new("params").param("epochs", "many"),
            "parameter `epochs` takes a whole number",
        ),
        (
            Runner::new("params").param("users", 0),
            "STRESS_PARAM_USERS=`0` is invalid: expected a whole number of users above 0",
        ),
    ];
    for (runner, expect) in cases {
        let out = dir.path().join("never");
        let err = runner.output_dir(&out).run(workload()).unwrap_err();
        assert!(matches!(err, RunError::Config(_)), "{err:?}");
        assert!(err.to_string().contains(expect), "{err}");
        assert!(!out.exists(), "nothing is written: {expect}");
    }
    let bad =
        Workload::new(Bare)
            .param("rate", 1)
            .class(UserClass::new("x", 1).read("r", 1.0, |_| Ok(Outcome::done())));
    let err = Runner::new("bad").run(bad).unwrap_err().to_string();
    assert!(
        err.contains("parameter `rate` is the load setting of that name"),
        "{err}"
    );
}

/// An engine with a setting of its own, declared as a parameter: every workload on it has it.
struct Moded {
    seen: Arc<std::sync::Mutex<Option<String>>>,
}

impl Adapter for Moded {
    type Conn = ();

    fn name(&self) -> &'static str {
        "moded"
    }

    fn params(&self) -> Vec<stress_core::ParamDef> {
        let mut mode = stress_core::ParamDef::new("mode", "fast");
        mode.choices = vec!["fast".into(), "safe".into()];
        vec![mode]
    }

    fn start(&mut self, ctx: &stress_core::StartContext<'_>) -> Result<(), OpError> {
        *self.seen.lock().unwrap() = ctx.params.value("mode").map(|v| v.to_string());
        Ok(())
    }

    fn connect(&self, _db: usize) -> Result<(), OpError> {
        Ok(())
    }
}

#[test]
fn an_adapter_declares_the_parameters_it_reads_for_every_workload_on_it() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let workload = || {
        Workload::new(Moded { seen: seen.clone() })
            .param("epochs", 3u64)
            .class(UserClass::new("u", 1).write("op", 1.0, |_: &mut User<Moded>| Ok(Outcome::done())))
    };
    let names: Vec<String> = workload().params().iter().map(|p| p.name.clone()).collect();
    assert_eq!(names, ["mode", "epochs"], "the adapter's first, then the workload's");
    Runner::new("moded").ops_per_user(1).run(workload()).unwrap();
    assert_eq!(seen.lock().unwrap().as_deref(), Some("fast"), "its default reaches it");
    let layer = stress_core::ConfigLayer {
        params: vec![("mode".into(), "safe".into())],
        ..Default::default()
    };
    let r = Runner::new("moded")
        .ops_per_user(1)
        .settings(&layer)
        .run(workload())
        .unwrap();
    assert!(r.passed(), "{:?}", r.summary.failures);
    assert_eq!(
        seen.lock().unwrap().as_deref(),
        Some("safe"),
        "--param mode=safe reaches it"
    );
    let bad = stress_core::ConfigLayer {
        params: vec![("mode".into(), "reckless".into())],
        ..Default::default()
    };
    let e = Runner::new("moded")
        .ops_per_user(1)
        .settings(&bad)
        .run(workload())
        .unwrap_err();
    assert!(e.to_string().contains("reckless"), "{e}");
    // A workload that declares it again is refused, naming it.
    let twice = workload().param("mode", "fast");
    let e = Runner::new("moded").ops_per_user(1).run(twice).unwrap_err().to_string();
    assert!(e.contains("mode") && e.contains("declared twice"), "{e}");
}
