//! `report.html` of a real run, opened in headless Chromium with no network at all (a network
//! namespace of its own when we are root): the page loads nothing, and its charts render.
//!
//! Chromium comes from Debian's `chromium` package, which `scripts/test-suite` installs when it
//! is missing.

use std::time::Duration;

use stress_core::prelude::*;

#[path = "../../tests/support/browser.rs"]
mod browser;
use browser::dump_dom;

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
        "Latency per second (log scale)",
        "Errors per second",
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
    // Every checker's section is in the checks table, as it said it.
    assert!(!s.checks.is_empty());
    for c in &s.checks {
        assert!(
            dom.contains(&format!("<td>{}</td>", c.name)),
            "{} in the checks table",
            c.name
        );
    }

    // `cargo stress report DIR` rebuilds it from the files alone.
    std::fs::remove_file(&page_path).unwrap();
    let rebuilt = stress_core::report::html::write(&out).unwrap();
    assert_eq!(std::fs::read_to_string(rebuilt).unwrap(), page);
}

/// Data never breaks the page: op names that would end or comment out its script (`</script>`,
/// `<!--<script>`) are data, every chart is still drawn, and the workload's own figures are in
/// their table. One slow op does not flatten the latency chart: its axis is logarithmic.
#[test]
fn names_that_look_like_markup_break_no_chart() {
    fn fast(u: &mut User<Bare>) -> OpResult {
        u.figure("bytes <sent>", 512.0);
        if u.ops_done() == 3 {
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(Outcome::rows(1))
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let w = Workload::new(Bare).class(UserClass::new("clerk", 2).write("<!--<script>", 0.5, fast).read(
        "</script><script>alert(1)</script>",
        0.5,
        fast,
    ));
    let r = Runner::new("markup")
        .seed(4)
        .ops_per_user(300)
        .think_ms(0, 3)
        .output_dir(&out)
        .run(w)
        .unwrap();
    assert!(r.summary.passed, "{:?}", r.summary.failures);
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let data = page
        .split("id=\"data\">")
        .nth(1)
        .unwrap()
        .split("</script>")
        .next()
        .unwrap();
    assert!(!data.contains('<'), "no `<` inside the page's JSON: {data}");
    let dom = dump_dom(&out.join("report.html"));
    assert!(!dom.contains("<script>alert(1)"), "a name is never markup");
    let charts = dom.matches("<svg class=\"chart\"").count();
    // Throughput, errors, latency, users, memory, CPU, and one spectrum per op.
    assert!(charts >= 8, "{charts} charts: {dom}");
    let lines = dom.matches("<path d=\"M").count();
    assert!(lines >= charts, "every chart drew a line: {lines} for {charts} charts");
    assert!(
        dom.contains("<figcaption>&lt;!--&lt;script&gt;</figcaption>"),
        "the op's spectrum, named"
    );
    assert!(
        dom.contains("Figures the workload recorded") && dom.contains("bytes &lt;sent&gt;"),
        "the figures"
    );
}
