//! `report.html` of a real run, opened in headless Chromium with no network at all (a network
//! namespace of its own when we are root): the page loads nothing, and its charts render.
//!
//! Chromium comes from Debian's `chromium` package, which `scripts/test-suite` installs when it
//! is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use stress_core::prelude::*;

fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("sh").args(["-c", &format!("command -v {name}")]).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!("no Chromium: install it (Debian: apt-get install chromium; scripts/test-suite does)");
}

/// The page's DOM after its scripts ran, from a browser that cannot reach any network.
fn dump_dom(page: &Path) -> String {
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    });
    let browser = chromium();
    let url = format!("file://{}", page.display());
    let flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        // Belt and braces where no namespace can be made: any host resolves to nothing.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--dump-dom",
    ];
    let mut cmd = if root && Path::new("/usr/bin/unshare").exists() {
        let mut c = Command::new("/usr/bin/unshare");
        c.arg("--net").arg(&browser);
        c
    } else {
        Command::new(&browser)
    };
    let out = cmd
        .args(flags)
        .arg(&url)
        .env("HOME", page.parent().unwrap())
        .output()
        .expect("chromium runs");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn op(u: &mut User<Bare>) -> OpResult {
    std::thread::sleep(Duration::from_micros(300));
    if u.rng().random_bool(0.02) {
        return Err(OpError::msg("the engine said no <b>politely</b>"));
    }
    Ok(Outcome::rows(1))
}

#[test]
fn the_report_of_a_real_run_renders_its_charts_in_a_browser_with_no_network() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let layer = stress_core::ConfigLayer {
        stages: Some(stress_core::config::values::stages("1s:100,2s:300").unwrap()),
        max_error_rate: Some(0.5),
        ..Default::default()
    };
    let w = Workload::new(Bare).class(UserClass::new("clerk", 3).write("book", 0.7, op).read("look", 0.3, op));
    let r = Runner::new("report")
        .seed(3)
        .settings(&layer)
        .output_dir(&out)
        .run(w)
        .unwrap();
    let s = &r.summary;
    assert!(s.passed, "{:?}", s.failures);
    assert!(s.failed_ops > 0, "some ops failed, for the errors table");
    let page_path = out.join("report.html");
    let page = std::fs::read_to_string(&page_path).expect("every run writes report.html");

    // Self-contained: nothing to fetch.
    for attr in ["src=", "href="] {
        for (i, _) in page.match_indices(attr) {
            let value: String = page[i + attr.len()..].chars().take(60).collect();
            assert!(!value.contains("http"), "{attr}{value}");
        }
    }
    assert!(!page.contains("<link"), "no stylesheet is loaded");
    // Escaped: an error's text is shown, not interpreted.
    assert!(
        page.contains("the engine said no &lt;b&gt;politely"),
        "errors are shown"
    );
    assert!(!page.contains("<b>politely"), "and escaped");

    let dom = dump_dom(&page_path);
    let charts = dom.matches("<svg class=\"chart\"").count();
    // Throughput, latency, users, memory, CPU; one spectrum per op.
    assert!(charts >= 7, "{charts} charts: {dom}");
    let lines = dom.matches("<path d=\"M").count();
    assert!(lines >= charts, "every chart drew a line: {lines} for {charts} charts");
    for caption in [
        "Throughput",
        "Latency per second",
        "Active users",
        "Memory (MB)",
        "book",
        "look",
    ] {
        assert!(
            dom.contains(&format!("<figcaption>{caption}</figcaption>")),
            "{caption} chart"
        );
    }
    assert!(dom.contains("target ops/s"), "the stages' target is drawn");
    assert!(dom.contains("stroke-dasharray"), "stage changes are marked");
    assert!(dom.contains("PASS"), "the verdict is in the header");
    assert!(dom.contains(&format!("seed {}", s.seed)));
    // The page's own figures are the summary's.
    assert!(dom.contains(&format!("{} ops", s.total_ops)), "total ops in the header");

    // `cargo stress report DIR` rebuilds it from the files alone.
    std::fs::remove_file(&page_path).unwrap();
    let rebuilt = stress_core::report::html::write(&out).unwrap();
    assert_eq!(std::fs::read_to_string(rebuilt).unwrap(), page);
}
