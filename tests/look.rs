//! End-to-end: looking inside a run. `run --cpu-profile` samples the engine with real perf and
//! report.html carries the flame graph; `run --dashboard` serves the run live to a real headless
//! Chromium, refuses requests without the run's token, streams `interval` events, takes a rate
//! change and a stop from the page (recorded in replay.json, repeated by a replay), and listens
//! no more once the run ended.
//!
//! Nothing here decides by the clock: the page is polled until it shows what it must (a hang
//! guard bounds every wait), and the dashboard's run ends when the page stops it.

#[path = "e2e_support.rs"]
#[expect(dead_code, reason = "shared with the other end-to-end tests")]
mod support;

#[path = "support/browser.rs"]
mod browser;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

/// How long a wait for the page may take before the test fails: a guard, never a measurement.
const GUARD: Duration = Duration::from_secs(180);

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A 3 s run of the fixture's `checkout` with `--cpu-profile`, into `out`.
fn profiled_run(out: &Path, seed: &str) {
    let done = on_fixture(&[
        "run",
        "checkout",
        "--exact",
        "--cpu-profile",
        "--duration",
        "3s",
        "--seed",
        seed,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(done.status.success(), "{}", text(&done.stderr));
}

#[test]
fn a_cpu_profile_names_sqlite_s_functions_and_the_report_carries_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    profiled_run(&out, "1");
    let svg = read(&out.join("flamegraph.svg"));
    assert!(svg.starts_with("<?xml"), "an SVG");
    assert!(svg.contains("sqlite3"), "the flame graph names sqlite3's C functions");
    assert!(
        svg.contains("checkout") || svg.contains("shop::"),
        "and the workload's own Rust code"
    );
    let folded = read(&out.join("profile.folded"));
    assert!(
        folded
            .lines()
            .all(|l| l.rsplit_once(' ').is_some_and(|(_, n)| n.parse::<u64>().is_ok()))
    );
    let p = read_json(&out.join("profile.json"));
    let samples = p["samples"].as_u64().unwrap();
    let in_folded: u64 = folded
        .lines()
        .map(|l| l.rsplit_once(' ').unwrap().1.parse::<u64>().unwrap())
        .sum();
    assert_eq!(samples, in_folded, "profile.json counts the folded stacks' samples");
    assert!(samples > 0);
    assert!(
        p["perf_cpu_s"].as_f64().unwrap() >= 0.0 && p["target_cpu_s"].as_f64().unwrap() > 0.0,
        "{p}"
    );
    assert!(p["target"].as_str().unwrap().contains("this process"), "{p}");
    let hottest = p["hottest"].as_array().unwrap();
    assert!(!hottest.is_empty());
    assert!(
        hottest
            .windows(2)
            .all(|w| w[0]["self_samples"].as_u64() >= w[1]["self_samples"].as_u64()),
        "hottest first: {p}"
    );
    assert!(!out.join("perf.data").exists(), "perf.data is folded, then deleted");

    // The page, after its scripts ran in a browser with no network: the flame graph in a
    // frame of its own (a data: URL: the page still loads nothing), the cost, the table.
    let dom = browser::dump_dom(&out.join("report.html"));
    assert!(dom.contains("Where the engine spent its CPU"), "{dom}");
    assert!(dom.contains("id=\"flamegraph\"") && dom.contains("src=\"data:image/svg+xml;base64,"));
    assert!(dom.contains("perf used"), "the profile's cost is printed");
    let table = &dom[dom.find("id=\"hottest\"").expect("the hottest functions' table")..];
    let first = hottest[0]["function"].as_str().unwrap();
    assert!(
        table.contains(&first.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")),
        "{first}"
    );

    // A second profiled run, and the two compared: both profiles side by side, the functions
    // with their share in each run, and the differential flame graph.
    let again = dir.path().join("again");
    profiled_run(&again, "9");
    let compared = cargo_stress(&["compare", out.to_str().unwrap(), again.to_str().unwrap()]);
    assert!(
        matches!(compared.status.code(), Some(0 | 5)),
        "no regression or one (a profile is not judged): {}{}",
        text(&compared.stdout),
        text(&compared.stderr)
    );
    assert!(
        text(&compared.stdout).contains("CPU profiles: self time moved most in"),
        "{}",
        text(&compared.stdout)
    );
    let c = read_json(&again.join("compare.json"));
    let p = &c["profile"];
    assert_eq!(p["base_samples"].as_u64(), Some(samples), "{p}");
    let functions = p["functions"].as_array().expect("the functions of both profiles");
    assert!(
        functions
            .iter()
            .any(|f| f["function"].as_str().unwrap().starts_with("sqlite3")),
        "{p}"
    );
    assert!(
        functions
            .iter()
            .any(|f| f["function"] == hottest[0]["function"] && f["base_self_percent"] == hottest[0]["self_percent"]),
        "the base run's hottest function with its share: {p}"
    );
    let diff = read(&again.join("compare-flamegraph.svg"));
    assert!(
        diff.starts_with("<?xml") && diff.contains("sqlite3"),
        "a differential flame graph"
    );
    assert!(
        diff.contains("%; +") || diff.contains("%; -") || diff.contains("%; 0.00%)"),
        "frames carry their change"
    );
    assert!(read(&again.join("compare.md")).contains("## Where the CPU went"));
    let dom = browser::dump_dom(&again.join("compare.html"));
    for frame in ["flamegraph-diff", "flamegraph-base", "flamegraph-new"] {
        let at = dom
            .find(&format!("id=\"{frame}\""))
            .unwrap_or_else(|| panic!("{frame}: {dom}"));
        assert!(dom[at..].contains("src=\"data:image/svg+xml;base64,"), "{frame}");
    }
    assert!(
        dom.contains("Where the CPU went") && dom.contains("id=\"hottest\""),
        "{dom}"
    );
}

#[test]
fn without_perf_a_cpu_profile_is_one_line_and_exit_2_before_anything_runs() {
    let cwd = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args = fixture_args(&["run", "checkout", "--cpu-profile"]);
    let out = command(&args, cwd, &[("PATH", "/nonexistent")]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("--cpu-profile") && err.contains("linux-perf"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
}

#[test]
fn a_dashboard_address_that_does_not_parse_is_refused() {
    let out = on_fixture(&["run", "checkout", "--dashboard", "nowhere:port"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("--dashboard") && err.contains("HOST:PORT"), "{err}");
}

/// One HTTP request; the status code and the body.
fn http(addr: SocketAddr, method: &str, target: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(GUARD)).unwrap();
    write!(s, "{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n").unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let code = all.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = all.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (code, body)
}

/// Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
/// commands on its fd 3, answers on its fd 4, each a JSON message ended by NUL).
struct Browser {
    child: Child,
    to: ChildStdin,
    from: BufReader<std::process::ChildStdout>,
    session: String,
    next: u64,
    _home: tempfile::TempDir,
}

impl Browser {
    fn open(url: &str) -> Self {
        let home = tempfile::tempdir().unwrap();
        let chromium = ["chromium", "chromium-browser", "google-chrome"]
            .into_iter()
            .find(|c| {
                Command::new("sh")
                    .args(["-c", &format!("command -v {c}")])
                    .output()
                    .is_ok_and(|o| o.status.success())
            })
            .expect("no Chromium: install it (Debian: apt-get install chromium; scripts/test-suite does)");
        // The shell hands our pipes to Chromium as its fds 3 and 4.
        let script = format!(
            "exec {chromium} --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
             '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1' --remote-debugging-pipe --user-data-dir=\"$0\" \"$1\" \
             3<&0 4>&1 0</dev/null 1>/dev/null 2>/dev/null"
        );
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .arg(home.path())
            .arg(url)
            .env("HOME", home.path())
            // Its singleton socket's directory too: killed, it would leave it in /tmp.
            .env("TMPDIR", home.path())
            // A group of its own: its helpers (zygote, renderer, utility processes) go with it.
            .process_group(0)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let to = child.stdin.take().unwrap();
        let from = BufReader::new(child.stdout.take().unwrap());
        let mut b = Self {
            child,
            to,
            from,
            session: String::new(),
            next: 0,
            _home: home,
        };
        let started = Instant::now();
        let target = loop {
            let targets = b.call(None, "Target.getTargets", serde_json::json!({}));
            let page = targets["targetInfos"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with("http")))
                .map(|t| t["targetId"].as_str().unwrap().to_owned());
            if let Some(id) = page {
                break id;
            }
            assert!(started.elapsed() < GUARD, "Chromium opened no page: {targets}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let attached = b.call(
            None,
            "Target.attachToTarget",
            serde_json::json!({ "targetId": target, "flatten": true }),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_owned();
        b
    }

    fn call(&mut self, session: Option<&str>, method: &str, params: serde_json::Value) -> serde_json::Value {
        let v = self.send(session, method, params);
        assert!(v.get("error").is_none(), "{method}: {v}");
        v["result"].clone()
    }

    /// One command; its whole answer (`result` or `error`).
    fn send(&mut self, session: Option<&str>, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next += 1;
        let mut msg = serde_json::json!({ "id": self.next, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = s.into();
        }
        self.to.write_all(msg.to_string().as_bytes()).unwrap();
        self.to.write_all(b"\0").unwrap();
        self.to.flush().unwrap();
        loop {
            let mut buf = Vec::new();
            let n = self.from.read_until(0, &mut buf).unwrap();
            assert!(n > 0, "Chromium closed its pipe");
            buf.pop();
            let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
            if v["id"] == self.next {
                return v;
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    /// Until the page has a document to evaluate in (it may still be loading, or
    /// replacing itself), the evaluation is tried again.
    fn eval(&mut self, expression: &str) -> serde_json::Value {
        let session = self.session.clone();
        let started = Instant::now();
        loop {
            let v = self.send(
                Some(&session),
                "Runtime.evaluate",
                serde_json::json!({ "expression": expression, "returnByValue": true }),
            );
            if v.get("error").is_none() {
                // A throw (an element not there yet) is no value: `until` asks again.
                return v["result"]["result"]["value"].clone();
            }
            assert!(started.elapsed() < GUARD, "{expression}: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Evaluates `expression` until `done` says its value is what the test waits for.
    fn until(&mut self, expression: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        let started = Instant::now();
        loop {
            let v = self.eval(expression);
            if done(&v) {
                return v;
            }
            assert!(
                started.elapsed() < GUARD,
                "the page never showed it: {expression} is {v}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Browser {
    /// Chromium and every helper it started end before its profile directory is removed: one
    /// still writing there would leave the directory behind.
    fn drop(&mut self) {
        let group = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{group}")])
            .status();
        let _ = self.child.wait();
        let in_group = || {
            std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|e| {
                std::fs::read_to_string(e.path().join("stat")).is_ok_and(|stat| {
                    // After the name: state, ppid, pgrp. A zombie has nothing left to write.
                    let f: Vec<&str> = stat[stat.rfind(')').map_or(0, |i| i + 1)..]
                        .split_whitespace()
                        .collect();
                    f.get(2) == Some(&group.to_string().as_str()) && f.first() != Some(&"Z")
                })
            })
        };
        let until = Instant::now() + Duration::from_secs(30);
        while in_group() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn the_dashboard_serves_the_run_live_and_a_replay_repeats_its_rate_change() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // A run that only the page ends: ten minutes unless it presses Stop.
    let mut run = Running::on_fixture(&[
        "run",
        "lookup",
        "--exact",
        "--seed",
        "3",
        "--dashboard",
        "--rate",
        "40",
        "--duration",
        "10m",
        "--out",
        out.to_str().unwrap(),
    ]);
    let line = run.wait_for_line("dashboard at http://");
    let url = line[line.find("http://").unwrap()..].trim().to_owned();
    let rest = url.strip_prefix("http://").unwrap();
    let (host, query) = rest.split_once('/').unwrap();
    assert!(host.starts_with("127.0.0.1:"), "loopback by default: {url}");
    let addr: SocketAddr = host.parse().unwrap();
    let token = query.strip_prefix("?token=").unwrap().to_owned();
    assert!(token.len() >= 32, "a token of 128 bits: {token}");

    // The same URL without its token is refused, and with another one.
    assert_eq!(http(addr, "GET", "/").0, 401);
    assert_eq!(http(addr, "GET", "/events").0, 401);
    assert_eq!(http(addr, "POST", "/control?action=stop").0, 401);
    assert_eq!(http(addr, "GET", "/?token=0123").0, 403);
    assert_eq!(http(addr, "GET", &format!("/events?token={}x", &token[1..])).0, 403);

    // The events stream `interval` events, each the JSON of one second of the run.
    let mut events = TcpStream::connect(addr).unwrap();
    events.set_read_timeout(Some(GUARD)).unwrap();
    write!(events, "GET /events?token={token} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut lines = BufReader::new(events).lines();
    assert!(lines.next().unwrap().unwrap().starts_with("HTTP/1.1 200"));
    let mut intervals = Vec::new();
    let mut last_event = String::new();
    while intervals.len() < 2 {
        let l = lines.next().expect("the stream went on").unwrap();
        if let Some(name) = l.strip_prefix("event: ") {
            last_event = name.to_owned();
        } else if let Some(data) = l.strip_prefix("data: ")
            && last_event == "interval"
        {
            let v: serde_json::Value = serde_json::from_str(data).unwrap();
            assert_eq!(v["event"], "interval");
            intervals.push(v["interval"]["second"].as_u64().unwrap());
        }
    }
    assert!(intervals[0] < intervals[1], "seconds in order: {intervals:?}");
    drop(lines);

    // The page in a browser: its charts drawn, then drawn again with more seconds.
    let mut page = Browser::open(&url);
    let n = page.until("+document.getElementById('live').dataset.intervals", |v| {
        v.as_u64() >= Some(2)
    });
    let charts = page.eval("document.querySelectorAll('#live svg.chart').length");
    assert!(
        charts.as_u64() >= Some(4),
        "throughput, errors, latency, users: {charts}"
    );
    page.until("+document.getElementById('live').dataset.intervals", |v| {
        v.as_u64() > n.as_u64()
    });
    let status = page.eval("document.getElementById('status').textContent");
    assert!(status.as_str().unwrap().contains("ops/s"), "{status}");

    // A rate change through the page's own controls.
    page.eval("document.getElementById('rate').value = '90'; document.getElementById('set-rate').click(); 1");
    let answer = page.until("document.getElementById('answer').textContent", |v| {
        v.as_str().is_some_and(|s| !s.is_empty())
    });
    assert!(answer.as_str().unwrap().contains("rate set to 90 ops/s"), "{answer}");
    page.until("document.getElementById('happened').textContent", |v| {
        v.as_str().is_some_and(|s| s.contains("rate set to 90"))
    });
    // Then Stop: the run ends, and the page becomes its report.
    page.eval("document.getElementById('stop').click(); 1");
    let title = page.until("document.title", |v| v.as_str().is_some_and(|t| !t.contains("live")));
    assert!(title.as_str().unwrap().contains("lookup"), "{title}");
    let report = "document.getElementById('report').contentDocument";
    page.until(&format!("{report}.querySelectorAll('svg.chart').length"), |v| {
        v.as_u64() >= Some(4)
    });
    let report_verdict = page.eval(&format!("{report}.querySelector('.verdict').textContent"));
    assert_eq!(
        report_verdict, "FAIL",
        "stopped by hand counts as interrupted, as Ctrl-C does"
    );
    drop(page);

    let done = run.finish();
    let stderr = text(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    // Nothing listens once the run ended.
    assert!(
        TcpStream::connect(addr).is_err(),
        "the dashboard still listens on {addr}"
    );
    let s = summary(&out);
    assert_eq!(s["stop_reason"], "Interrupted", "{s}");
    assert!(s["stop_detail"].as_str().unwrap().contains("stopped by hand"), "{s}");

    // replay.json holds the controls with their offsets, in order.
    let replay = read_json(&out.join("replay.json"));
    let controls = replay["controls"].as_array().expect("controls recorded");
    let actions: Vec<&str> = controls.iter().map(|c| c["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["rate", "stop"], "{replay}");
    assert_eq!(controls[0]["ops_per_sec"], 90.0);
    assert!(controls[0]["at_ms"].as_u64() <= controls[1]["at_ms"].as_u64());

    // A replay applies the rate change again at the same offset.
    let again = dir.path().join("again");
    let replayed = cargo_stress(&[
        "replay",
        out.to_str().unwrap(),
        "--debug",
        "--out",
        again.to_str().unwrap(),
    ]);
    let r = read_json(&again.join("replay.json"));
    let rc = r["controls"]
        .as_array()
        .unwrap_or_else(|| panic!("{}\n{r}", text(&replayed.stderr)));
    assert_eq!(rc[0], controls[0], "the same rate change at the same offset");
    assert!(
        text(&replayed.stdout).contains("op_digest"),
        "the replay compared its users' digests: {}{}",
        text(&replayed.stdout),
        text(&replayed.stderr)
    );
}
