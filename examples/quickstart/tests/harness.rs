//! The harness binary (`tests/stress.rs`) as users and tools drive it: listing, smoke runs,
//! full runs, replay through `STRESS_REPLAY_FILE`, bad input, and Ctrl-C.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The quickstart's harness exactly as this build made it: the `quickstart-stress` binary target
/// (the same `tests/stress.rs` as the `stress` test target), whose path cargo gives the tests.
/// Not a file picked by name or date from `deps/`, where earlier builds' binaries stay.
fn harness() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_quickstart-stress"))
}

fn command(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    cmd
}

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    command(&harness(), args, env).output().unwrap()
}

/// The harness linked into a target directory of its own (`target/debug/deps/`, beside
/// cargo's `CACHEDIR.TAG`) and run from an empty working directory with its own temporary
/// directory: everywhere a run writes unless told otherwise (`<target>/stress/`, `./target`,
/// temporary databases) is inside the sandbox, and nothing else is.
struct Sandbox {
    dir: tempfile::TempDir,
    exe: PathBuf,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let deps = dir.path().join("target/debug/deps");
        std::fs::create_dir_all(&deps).unwrap();
        std::fs::write(
            dir.path().join("target/CACHEDIR.TAG"),
            "Signature: 8a477f597d28d172789f06886806bc55\n",
        )
        .unwrap();
        let exe = deps.join("stress-0123456789abcdef");
        if std::fs::hard_link(harness(), &exe).is_err() {
            std::fs::copy(harness(), &exe).unwrap();
        }
        for d in ["cwd", "tmp"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        Self { dir, exe }
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        command(&self.exe, args, env)
            .current_dir(self.dir.path().join("cwd"))
            .env("TMPDIR", self.dir.path().join("tmp"))
            .output()
            .unwrap()
    }

    /// Every file and directory the harness created, relative to the sandbox.
    fn written(&self) -> Vec<PathBuf> {
        let ours = [
            "target",
            "target/CACHEDIR.TAG",
            "target/debug",
            "target/debug/deps",
            "cwd",
            "tmp",
        ];
        let mut found = Vec::new();
        let mut todo = vec![self.dir.path().to_owned()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                let p = e.path();
                if e.file_type().unwrap().is_dir() {
                    todo.push(p.clone());
                }
                let rel = p.strip_prefix(self.dir.path()).unwrap().to_owned();
                if p != self.exe && !ours.iter().any(|o| rel == Path::new(o)) {
                    found.push(rel);
                }
            }
        }
        found.sort();
        found
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

fn digests(s: &serde_json::Value) -> Vec<(String, String)> {
    s["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                u["op_digest"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn lists_workloads_in_libtest_terse_format() {
    let out = run(&["--list", "--format", "terse"], &[]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "orders: test\n");
}

/// A run without `--ignored` smoke-runs every workload and writes no file: not under
/// `<target>/stress/` where a full run puts its reports, not in the working directory, and it
/// leaves no temporary database behind. The full run after it, in the same sandbox, shows that
/// the sandbox is where a run writes.
#[test]
fn a_plain_run_is_a_smoke_run_that_writes_nothing() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("test orders ... ok"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(sandbox.written(), Vec::<PathBuf>::new(), "a smoke run writes nothing");

    let out = sandbox.run(&["--ignored", "--exact", "orders"], &[("STRESS_OPS_PER_USER", "1")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = sandbox.written();
    let runs: Vec<&PathBuf> = written
        .iter()
        .filter(|p| p.starts_with("target/stress/orders") && p.ends_with("summary.json"))
        .collect();
    assert_eq!(runs.len(), 1, "a full run writes its reports there: {written:?}");
}

#[test]
fn a_full_run_then_its_replay_through_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let out = run(
        &["--ignored", "--exact", "orders"],
        &[
            ("STRESS_SEED", "21"),
            ("STRESS_OPS_PER_USER", "12"),
            ("STRESS_USERS", "inserter=2,reader=2,mixed=1"),
            ("STRESS_BATCH_MAX", "200"),
            ("STRESS_OUTPUT_DIR", first.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let s = summary(&first);
    assert_eq!(s["stop_reason"], "OpLimit");
    assert_eq!(s["total_ops"], 5 * 12);
    assert_eq!(s["verify"]["passed"], true);
    assert!(
        text(&out.stderr).contains("orders: 5 users, seed 21"),
        "{}",
        text(&out.stderr)
    );

    let second = dir.path().join("second");
    let out = run(
        &[],
        &[
            ("STRESS_REPLAY_FILE", first.join("replay.json").to_str().unwrap()),
            ("STRESS_OUTPUT_DIR", second.to_str().unwrap()),
            ("STRESS_SEED", "999"),
        ],
    );
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    let r = summary(&second);
    assert_eq!(r["seed"], 21, "the replay file overrides the environment");
    assert_eq!(digests(&r), digests(&s));
}

#[test]
fn bad_environment_values_are_one_line_errors_with_exit_code_2() {
    for (var, value, expect) in [
        (
            "STRESS_DURATION",
            "abc",
            "STRESS_DURATION=`abc` is invalid: `abc` is not a duration",
        ),
        ("STRESS_USERS", "reader=x", "STRESS_USERS=`reader=x` is invalid"),
        (
            "STRESS_SEED",
            "-1",
            "STRESS_SEED=`-1` is invalid: `-1` is negative: give a whole number from 0 to",
        ),
    ] {
        let out = run(&[], &[(var, value)]);
        assert_eq!(out.status.code(), Some(2), "{var}");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("error: {expect}")), "{err}");
    }
}

/// A class the workload does not have fails the full run before it starts: no report is
/// written, neither in the output directory it was given nor, without one, under
/// `<target>/stress/`.
#[test]
fn an_unknown_class_fails_the_workload_and_writes_nothing() {
    let sandbox = Sandbox::new();
    let out_dir = sandbox.dir.path().join("out");
    let explicit = ("STRESS_OUTPUT_DIR", out_dir.to_str().unwrap());
    for env in [
        &[("STRESS_USERS", "auditor=2"), explicit][..],
        &[("STRESS_USERS", "auditor=2")],
    ] {
        let out = sandbox.run(&["--ignored"], env);
        assert!(!out.status.success(), "{env:?}");
        assert!(
            text(&out.stdout)
                .contains("class `auditor`, which this workload does not have (its classes: inserter, reader, mixed)"),
            "{env:?}: {}",
            text(&out.stdout)
        );
        assert_eq!(sandbox.written(), Vec::<PathBuf>::new(), "{env:?}: nothing written");
    }
}

#[test]
fn unknown_variables_are_warned_about() {
    let out = run(&[], &[("STRESS_DURATON", "5s")]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("warning: unknown variable STRESS_DURATON is ignored"));
}

#[test]
fn bad_replay_files_are_one_line_errors_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let good = dir.path().join("good");
    let out = run(
        &["--ignored"],
        &[
            ("STRESS_OPS_PER_USER", "1"),
            ("STRESS_OUTPUT_DIR", good.to_str().unwrap()),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let recorded = std::fs::read_to_string(good.join("replay.json")).unwrap();
    let cases = [
        (dir.path().join("missing.json"), "cannot be read"),
        (write("malformed.json", "{ not json"), "is not valid: not JSON"),
        (
            write(
                "future.json",
                &recorded.replace("\"format_version\": 1", "\"format_version\": 9"),
            ),
            "has format_version 9, this build reads 1",
        ),
        (
            write(
                "other.json",
                &recorded.replace("\"workload\": \"orders\"", "\"workload\": \"payments\""),
            ),
            "is for workload `payments`, which this binary does not have (it has: orders)",
        ),
        // Read, then checked like any setting, before libtest runs a trial (whose failure
        // would exit 101).
        (
            write(
                "adapter.json",
                &recorded.replace("\"adapter\": \"sqlite\"", "\"adapter\": \"postgres\""),
            ),
            "does not fit workload `orders` any more: it was recorded on adapter `postgres`",
        ),
        (
            write("rate.json", &recorded.replace("\"rate\": null", "\"rate\": -10.0")),
            "cannot be run as written: rate -10 does not fit",
        ),
    ];
    for (path, expect) in cases {
        let out = run(&[], &[("STRESS_REPLAY_FILE", path.to_str().unwrap())]);
        assert_eq!(out.status.code(), Some(2), "{}", path.display());
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expect), "{err}");
    }
}

#[test]
fn ctrl_c_stops_the_run_and_its_reports_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("interrupted");
    let mut cmd = Command::new(harness());
    cmd.args(["--ignored", "--exact", "orders"])
        .env("STRESS_DURATION", "10m")
        .env("STRESS_OUTPUT_DIR", &out_dir)
        .env_remove("STRESS_PROGRESS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    // The start line is printed once the Ctrl-C handler is in place.
    while !line.contains("users, seed") {
        line.clear();
        assert_ne!(stderr.read_line(&mut line).unwrap(), 0, "harness ended before starting");
    }
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "an interrupted run does not pass");
    assert!(
        rest.contains("interrupted: stopping users and writing reports"),
        "{rest}"
    );
    let s = summary(&out_dir);
    assert_eq!(s["stop_reason"], "Interrupted", "not the 10 minutes it was given");
    assert!(out_dir.join("replay.json").is_file() && out_dir.join("timeseries.csv").is_file());
}
