//! End-to-end: hostile input to the real `cargo stress` on the fixture crate. Each case once
//! hung, ran to the end before failing, or failed with a message that named nothing; now each
//! ends (within a hang guard) with its documented exit code and one line that names the flag,
//! the variable or the file.

#[path = "e2e_support.rs"]
#[expect(dead_code, reason = "shared with the other end-to-end tests")]
mod support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::{command, fixture_args, last_error, text};

/// How long a case may take, a build of the fixture included, before it is killed and fails:
/// a guard against a hang, never a measurement.
const HANG_GUARD: Duration = Duration::from_secs(600);

/// `cargo stress <args>` on the fixture with `env`, killed (and failed) after [`HANG_GUARD`].
fn guarded(args: &[&str], env: &[(&str, &str)]) -> Output {
    within_guard(&fixture_args(args), env)
}

/// `cargo stress <args>` as they are, with `env`, killed (and failed) after [`HANG_GUARD`].
fn within_guard(args: &[impl AsRef<std::ffi::OsStr> + std::fmt::Debug], env: &[(&str, &str)]) -> Output {
    let child = command(args, Path::new(env!("CARGO_MANIFEST_DIR")), env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(HANG_GUARD) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("cargo stress {args:?} still ran after {HANG_GUARD:?}: killed");
        }
    }
}

/// The lines of stderr that are ours (cargo's build output aside).
fn our_lines(out: &Output) -> Vec<String> {
    text(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("error: ") || l.starts_with("warning: "))
        .map(str::to_owned)
        .collect()
}

/// Runs a case and checks its exit code and that it printed exactly one `error:` line holding
/// every one of `wants`.
fn refused(args: &[&str], env: &[(&str, &str)], code: i32, wants: &[&str]) -> String {
    let out = guarded(args, env);
    let errors: Vec<String> = our_lines(&out)
        .into_iter()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(out.status.code(), Some(code), "{args:?} {env:?}: {}", text(&out.stderr));
    assert_eq!(errors.len(), 1, "{args:?} {env:?}: one error line, not {errors:#?}");
    assert_eq!(
        errors[0],
        last_error(&out),
        "{args:?} {env:?}: the error is the last line"
    );
    for want in wants {
        assert!(
            errors[0].contains(want),
            "{args:?} {env:?}: {:?} lacks {want:?}",
            errors[0]
        );
    }
    errors[0].clone()
}

#[test]
fn hostile_flags_and_variables_are_refused_in_one_line_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never");
    let never_s = never.to_str().unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        // Once hung until the year 9999 (or forever).
        (
            &["run", "tick", "--start-at", "9999-12-31T23:59:59Z"],
            &[],
            &["--start-at", "`9999-12-31T23:59:59Z` is more than a day from now"],
        ),
        (
            &["run", "tick", "--start-at", "@1e30"],
            &[],
            &["--start-at", "`@1e30` is more than a day from now"],
        ),
        (
            &["run", "tick", "--stages", "1s:1e308"],
            &[],
            &["--stages", "stage `1s:1e308` targets more than this machine can run"],
        ),
        (
            &["run", "tick", "--rate", "10", "--stages", "1s:1e308"],
            &[],
            &["--stages", "stage `1s:1e308` targets more than"],
        ),
        // n * total wrapped in scale_users.
        (
            &["run", "checkout", "--users", "18446744073709551615"],
            &[],
            &[
                "18446744073709551615 users is more than this run may start",
                "STRESS_MAX_USERS",
            ],
        ),
        // Found after the run, or not at all.
        (
            &["run", "tick", "--junit", "/proc/junit.xml"],
            &[],
            &["--junit /proc/junit.xml: cannot write in /proc"],
        ),
        (
            &["run", "tick", "--summary-md", "/proc/summary.md"],
            &[],
            &["--summary-md /proc/summary.md: cannot write in /proc"],
        ),
        (
            &["run", "lookup", "--param", "delay_us=-5"],
            &[],
            &["parameter `delay_us` takes a whole number from 0 to 10000000, not `-5`"],
        ),
        (
            &["run", "tick", "--shard", "0/18446744073709551615"],
            &[],
            &[
                "shard 0/18446744073709551615 (--shard, STRESS_SHARD)",
                "more than the run's 2 users",
            ],
        ),
        // Messages that named nothing, or too much.
        (
            &["run", "tick", "--rate", "1e308"],
            &[],
            &["--rate", "`1e308` ops/s is more than this machine can schedule"],
        ),
        (
            &["run", "tick"],
            &[("STRESS_STUCK_GRACE", "99999999999h")],
            &[
                "STRESS_STUCK_GRACE=`99999999999h`",
                "`99999999999h` is longer than 30 days",
            ],
        ),
        (
            &["run", "tick", "--stages", "99999999999h:10"],
            &[],
            &["--stages", "stage `99999999999h:10`", "30 days"],
        ),
        (
            &["run", "tick", "--latency-limit", "1s"],
            &[],
            &[
                "--latency-limit needs a target rate",
                "without a schedule no op is late",
            ],
        ),
        (
            &["run", "tick"],
            &[("STRESS_SEED", "abc")],
            &["STRESS_SEED=`abc` is invalid"],
        ),
    ];
    for (args, env, wants) in cases {
        let mut args = args.to_vec();
        args.extend(["--out", never_s]);
        let line = refused(&args, env, 2, wants);
        assert!(!line.contains("harness exit code"), "{args:?}: {line}");
        assert!(line.len() < 400, "{args:?}: {line}");
        assert!(!never.exists(), "{args:?} left an output directory");
    }
}

#[test]
fn bad_network_faults_are_refused_in_one_line_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never");
    let never_s = never.to_str().unwrap();
    let cases: &[(&str, &[&str])] = &[
        (
            "net-delay:3s@at=1s",
            &["says not how long `net-delay` delays (`net-delay(250ms)`)"],
        ),
        ("net-bandwidth(fast):3s@at=1s", &["rate `fast` has no unit `fast`"]),
        ("net-drop@at=1s", &["says not how long `net-drop` lasts"]),
        (
            "net-partition:2s@end",
            &["puts `net-partition` at the end, when no user would meet it"],
        ),
        ("net-delay(250ms):2s@end", &["puts `net-delay` at the end"]),
        // A fine spec, and an engine its users reach by no TCP address.
        (
            "net-reset@at=1s",
            &[
                "bare cannot inject `net-reset` faults",
                "network faults need an engine its users reach over TCP",
            ],
        ),
    ];
    for (spec, wants) in cases {
        let args = ["run", "tick", "--duration", "3s", "--fault", spec, "--out", never_s];
        let line = refused(&args, &[], 2, wants);
        assert!(line.contains(spec) || line.contains("net-reset"), "{spec}: {line}");
        assert!(!never.exists(), "{spec} left an output directory");
    }
}

#[test]
fn a_percentage_is_a_max_error_rate_too() {
    let dir = tempfile::tempdir().unwrap();
    for (i, share) in ["1%", "0.01"].into_iter().enumerate() {
        let out_dir = dir.path().join(format!("run-{i}"));
        let out = guarded(
            &[
                "run",
                "tick",
                "--duration",
                "1s",
                "--max-error-rate",
                share,
                "--out",
                out_dir.to_str().unwrap(),
            ],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{share}: {}", text(&out.stderr));
        let replay = support::read_json(&out_dir.join("replay.json"));
        assert_eq!(replay["config"]["max_error_rate"], 0.01, "{share}");
    }
}

#[test]
fn a_failing_on_connect_ends_the_run_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("run");
    let out = guarded(
        &[
            "run",
            "acked",
            "--param",
            "refuse_writers=1",
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(last_error(&out), "error: 1 of 1 workloads failed: acked");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("on_connect failed: the engine refused the session (refuse_writers)")
            && stdout.contains("user writer-"),
        "{stdout}"
    );
    let s = support::summary(&out_dir);
    assert_eq!(s["stop_reason"], "Error", "{s}");
    assert_eq!(s["total_ops"], 0, "the reader did not go on alone: {s}");
}

#[test]
fn damaged_and_foreign_run_files_are_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let out = guarded(
        &["run", "tick", "--duration", "1s", "--out", base.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let copy = |name: &str, edit: &dyn Fn(&Path)| {
        let d = dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        for f in ["summary.json", "replay.json", "histograms.hlog", "timeseries.csv"] {
            std::fs::copy(base.join(f), d.join(f)).unwrap();
        }
        edit(&d);
        d
    };
    let edit_summary = |d: &Path, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = support::read_json(&d.join("summary.json"));
        f(&mut v);
        std::fs::write(d.join("summary.json"), serde_json::to_string_pretty(&v).unwrap()).unwrap();
    };
    let negative = copy("negative", &|d| edit_summary(d, &|v| v["ops_per_sec"] = (-5.0).into()));
    let newer = copy("newer", &|d| edit_summary(d, &|v| v["format_version"] = 99.into()));
    let wrong_type = copy("wrong-type", &|d| edit_summary(d, &|v| v["duration_s"] = "long".into()));
    let damaged = copy("damaged", &|d| {
        let p = d.join("histograms.hlog");
        let mut b = std::fs::read(&p).unwrap();
        // A line of garbage at the start of a line halfway in: where the run's length puts
        // the middle byte (inside a histogram's base64 or not) does not change what is wrong.
        let half = b.len() / 2;
        let at = b[..half].iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
        b.splice(at..at, b"zzzzz,,,garbage!!\n".iter().copied());
        std::fs::write(&p, b).unwrap();
    });
    let no_log = copy("no-log", &|d| std::fs::remove_file(d.join("histograms.hlog")).unwrap());
    let b = base.to_str().unwrap();
    let cmd = |args: &[&str]| guarded_plain(args);
    for (args, wants) in [
        (
            vec!["compare", b, negative.to_str().unwrap()],
            vec!["negative/summary.json is damaged: field `ops_per_sec` is -5"],
        ),
        (
            vec!["compare", b, newer.to_str().unwrap()],
            vec![
                "newer/summary.json was written by a newer cargo-stress",
                "upgrade cargo-stress",
            ],
        ),
        (
            vec!["compare", b, wrong_type.to_str().unwrap()],
            vec!["wrong-type/summary.json is not a summary", "at line"],
        ),
        (
            vec!["report", damaged.to_str().unwrap()],
            vec![
                "damaged/histograms.hlog is damaged: entry",
                "is not an interval-log line",
            ],
        ),
    ] {
        let out = cmd(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        let lines = our_lines(&out);
        assert_eq!(lines.len(), 1, "{args:?}: {lines:#?}");
        for want in wants {
            assert!(lines[0].contains(want), "{args:?}: {} lacks {want:?}", lines[0]);
        }
        assert!(!lines[0].contains("ParseError"), "{}", lines[0]);
    }
    // Documented choice: the page is written, and says (as the console does) what it lacks.
    let out = cmd(&["report", no_log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        our_lines(&out),
        vec![format!(
            "warning: {} is missing: report.html has no percentile spectrum (the tables come from summary.json)",
            no_log.canonicalize().unwrap().join("histograms.hlog").display()
        )]
    );
    let page = std::fs::read_to_string(no_log.join("report.html")).unwrap();
    assert!(
        page.contains("This run has no <code>histograms.hlog</code>"),
        "the page says so"
    );
}

/// `cargo stress <args>` as given (no fixture arguments), within the hang guard.
fn guarded_plain(args: &[&str]) -> Output {
    within_guard(args, &[])
}
