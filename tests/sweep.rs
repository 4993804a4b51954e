//! End-to-end: `cargo stress sweep` and `cargo stress matrix` on the fixture's `blobs` workload
//! (SQLite; a CHECK constraint refuses bodies over 3,000 bytes), `stall` (an op that waits for
//! Ctrl-C from `size` 2 on) for the iteration timeout and Ctrl-C, and `--param` on `run`.
//!
//! Every iteration is a real run of the harness in its own directory. Nothing here depends on
//! timing: the breaking points come from the engine refusing a size or from an op that never
//! returns, never from a latency; the reports' figures are checked against each iteration's
//! own `summary.json`, and the scaling verdicts and optimal points against those figures.

#[path = "e2e_support.rs"]
mod support;

#[path = "support/browser.rs"]
mod browser;

use std::path::Path;

use support::*;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The CSV as rows of fields, quoted fields unquoted (RFC 4180; no field here spans lines).
fn csv(dir: &Path, name: &str) -> Vec<Vec<String>> {
    read(&dir.join(name)).lines().map(csv_fields).collect()
}

fn csv_fields(line: &str) -> Vec<String> {
    let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

fn column<'a>(rows: &'a [Vec<String>], name: &str) -> Vec<&'a str> {
    let i = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    rows[1..].iter().map(|r| r[i].as_str()).collect()
}

/// The field `name` of row `row` (from 0, after the header).
fn cell<'a>(rows: &'a [Vec<String>], row: usize, name: &str) -> &'a str {
    column(rows, name)[row]
}

/// Whether a CSV number (integers plainly, others to 3 decimals) is `want`, or empty for none.
fn same_number(csv: &str, want: Option<f64>) -> bool {
    match want {
        None => csv.is_empty(),
        Some(w) => csv
            .parse::<f64>()
            .is_ok_and(|x| (x - w).abs() <= 0.0005 + 1e-12 * w.abs()),
    }
}

/// Every row of a sweep's or matrix's CSV holds the figures of its iteration's own
/// `summary.json` (in the directory the row names).
fn assert_rows_match_summaries(out_dir: &Path, rows: &[Vec<String>]) {
    for i in 0..rows.len() - 1 {
        let dir = cell(rows, i, "dir");
        let s = summary(&out_dir.join(dir));
        let f = |v: &serde_json::Value| v.as_f64().unwrap_or_else(|| panic!("{dir}: {v} is not a number"));
        let at = |name: &str| cell(rows, i, name);
        let check = |name: &str, want: Option<f64>| {
            assert!(
                same_number(at(name), want),
                "{dir}: {name} is {:?} in the CSV, {want:?} in summary.json",
                at(name)
            );
        };
        assert_eq!(at("ops"), s["total_ops"].to_string(), "{dir}: ops");
        assert_eq!(at("failed_ops"), s["failed_ops"].to_string(), "{dir}: failed_ops");
        let duration = f(&s["duration_s"]);
        check("duration_s", Some(duration));
        check("ops_per_sec", Some(f(&s["ops_per_sec"])));
        check("rows_per_sec", Some(f(&s["rows_per_sec"])));
        let bytes = f(&s["total_bytes"]);
        check(
            "bytes_per_sec",
            Some(if duration > 0.0 { bytes / duration } else { 0.0 }),
        );
        for p in ["p50", "p95", "p99", "max"] {
            assert_eq!(at(&format!("{p}_us")), s["latency_us"][p].to_string(), "{dir}: {p}");
        }
        // Every phase and figure the workload recorded has its column, whatever its name.
        for (p, v) in s["phases"].as_object().into_iter().flatten() {
            check(
                &format!("phase_{p}_ms"),
                v["latency_us"]["mean"].as_f64().map(|us| us / 1e3),
            );
        }
        for (name, v) in s["figures"].as_object().into_iter().flatten() {
            check(&format!("figure_{name}"), v["mean"].as_f64());
        }
        let delta = |peak: &str, start: &str| {
            Some((s["resources"][peak].as_f64()? - s["resources_start"][start].as_f64()?).max(0.0))
        };
        check(
            "process_peak_mb",
            delta("process.hwm_mb", "process.rss_mb").or_else(|| delta("process.rss_mb", "process.rss_mb")),
        );
        let servers: Vec<f64> = s["resources"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.ends_with(".memory_mb") && !k.starts_with("process."))
            .filter_map(|k| delta(k, k))
            .collect();
        check("server_peak_mb", (!servers.is_empty()).then(|| servers.iter().sum()));
    }
}

/// The row (from 0) the CSV's figures make the optimal efficiency point: the OK row with the
/// largest `figure`, the first of equals.
fn optimal_row(rows: &[Vec<String>], figure: &str) -> usize {
    let status = column(rows, "status");
    let values: Vec<f64> = column(rows, figure).iter().map(|v| v.parse().unwrap()).collect();
    let mut best: Option<usize> = None;
    for i in (0..values.len()).filter(|i| status[*i] == "OK") {
        if best.is_none_or(|b| values[i] > values[b]) {
            best = Some(i);
        }
    }
    best.expect("an OK row")
}

/// One scaling verdict as the reports print it:
/// `<series> <a>→<b> (<n> points): <unit> ×F per 10× (linear ×L), p99 ×P per 10× (linear ×Q): <verdict>`.
#[derive(Debug)]
struct Verdict {
    series: String,
    first: f64,
    last: f64,
    points: usize,
    unit: String,
    factors: [f64; 4],
    verdict: String,
}

fn parse_verdict(line: &str) -> Verdict {
    let bad = || -> ! { panic!("not a scaling verdict: {line}") };
    let two_decimals = |x: &str| -> f64 {
        let ok = x.split_once('.').is_some_and(|(i, d)| !i.is_empty() && d.len() == 2);
        x.parse().ok().filter(|_| ok).unwrap_or_else(|| bad())
    };
    let (head, rest) = line.split_once(" points): ").unwrap_or_else(|| bad());
    let (head, points) = head.rsplit_once(" (").unwrap_or_else(|| bad());
    let (series, range) = head.rsplit_once(' ').unwrap_or_else(|| bad());
    let (first, last) = range.split_once('→').unwrap_or_else(|| bad());
    let (unit, rest) = rest.split_once(" ×").unwrap_or_else(|| bad());
    let (f, rest) = rest.split_once(" per 10× (linear ×").unwrap_or_else(|| bad());
    let (l, rest) = rest.split_once("), p99 ×").unwrap_or_else(|| bad());
    let (p, rest) = rest.split_once(" per 10× (linear ×").unwrap_or_else(|| bad());
    let (q, verdict) = rest.split_once("): ").unwrap_or_else(|| bad());
    Verdict {
        series: series.to_owned(),
        first: first.parse().unwrap_or_else(|_| bad()),
        last: last.parse().unwrap_or_else(|_| bad()),
        points: points.parse().unwrap_or_else(|_| bad()),
        unit: unit.to_owned(),
        factors: [f, l, p, q].map(two_decimals),
        verdict: verdict.to_owned(),
    }
}

/// Least-squares slope of log10(y) over log10(x), as a factor per 10× of x.
fn per_10x(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (xs, ys): (Vec<f64>, Vec<f64>) = points.iter().map(|(x, y)| (x.log10(), y.log10())).unzip();
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let num: f64 = xs.iter().zip(&ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = xs.iter().map(|x| (x - mx).powi(2)).sum();
    10f64.powf(num / den)
}

/// Checks a verdict line of a size axis against the CSV rows it fits: its OK rows whose other
/// axes hold the values its name gives. The factors are fitted again from the CSV's figures
/// (throughput, p99) and each summary's rows per op; the printed factors must be those, and
/// the verdict must be what they make it: flagged iff throughput is below 80% of linear or p99
/// above 120% of linear (stress-core's `TOLERANCE`), each excess named.
fn assert_verdict_fits(line: &str, out_dir: &Path, rows: &[Vec<String>], axis: &str) {
    let v = parse_verdict(line);
    let others: Vec<(String, String)> = match v.series.strip_prefix(axis) {
        Some("") => Vec::new(),
        Some(rest) => rest
            .strip_prefix(" (")
            .and_then(|r| r.strip_suffix(')'))
            .unwrap_or_else(|| panic!("series {:?}", v.series))
            .split(", ")
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        None => panic!("series {:?} is not over {axis}", v.series),
    };
    let series: Vec<usize> = (0..rows.len() - 1)
        .filter(|&i| cell(rows, i, "status") == "OK")
        .filter(|&i| others.iter().all(|(k, val)| cell(rows, i, k) == val))
        .collect();
    let num = |i: usize, name: &str| cell(rows, i, name).parse::<f64>().unwrap();
    let rows_unit = series.iter().all(|&i| num(i, "rows_per_sec") > 0.0);
    assert_eq!(v.unit, if rows_unit { "rows/s" } else { "ops/s" }, "{line}");
    let throughput = if rows_unit { "rows_per_sec" } else { "ops_per_sec" };
    let mut pts: Vec<(f64, f64, f64, f64)> = series
        .iter()
        .map(|&i| {
            let s = summary(&out_dir.join(cell(rows, i, "dir")));
            let ok_ops = s["total_ops"].as_u64().unwrap() - s["failed_ops"].as_u64().unwrap();
            let rows_per_op = s["total_rows"].as_u64().unwrap() as f64 / ok_ops as f64;
            (num(i, axis), num(i, throughput), num(i, "p99_us"), rows_per_op)
        })
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert_eq!(v.points, pts.len(), "{line}");
    assert_eq!((v.first, v.last), (pts[0].0, pts[pts.len() - 1].0), "{line}");
    let fit = |y: fn(&(f64, f64, f64, f64)) -> f64| per_10x(&pts.iter().map(|p| (p.0, y(p))).collect::<Vec<_>>());
    let throughput = fit(|p| p.1);
    let p99 = fit(|p| p.2);
    let linear_p99 = if rows_unit { fit(|p| p.3) } else { 1.0 };
    let want = [throughput, 1.0, p99, linear_p99];
    for (printed, want) in v.factors.iter().zip(want) {
        assert!((printed - want).abs() <= 0.005 + 1e-9, "{line}: fitted {want:?}");
    }
    let shortfall = (1.0 - throughput).clamp(0.0, 1.0);
    let excess = (p99 / linear_p99 - 1.0).max(0.0);
    let mut worse = Vec::new();
    if shortfall > 0.2 {
        worse.push(format!("{} {:.0}% below linear", v.unit, shortfall * 100.0));
    }
    if excess > 0.2 {
        worse.push(format!("p99 {:.0}% over", excess * 100.0));
    }
    let verdict = if worse.is_empty() {
        "linear within 20%".to_owned()
    } else {
        format!("WORSE THAN LINEAR ({})", worse.join(", "))
    };
    assert_eq!(v.verdict, verdict, "{line}: fitted {want:?}");
}

/// The scaling verdicts of a report: the lines of its `## Scaling` section.
fn verdict_lines(md: &str) -> Vec<&str> {
    md.lines()
        .skip_while(|l| *l != "## Scaling")
        .take_while(|l| *l != "## Configuration")
        .filter_map(|l| l.strip_prefix("- "))
        .collect()
}

#[test]
fn a_sweep_stops_at_the_breaking_point_a_threshold_forces() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sweep");
    // Ops may fail (--max-error-rate 1): the threshold alone judges, and from size 4000 on every
    // insert is refused, so it breaks at iteration 4.
    let out = on_fixture(&[
        "sweep",
        "blobs",
        "--param",
        "size=1000..5000:1000",
        "--seed",
        "3",
        "--max-error-rate",
        "1",
        "--threshold",
        "error_rate<50%",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(4), "{stdout}{stderr}");
    assert_eq!(
        last_error(&out),
        "error: blobs broke at size=4000 (thresholds): threshold error_rate<50% breached: observed 100%"
    );
    assert!(stderr.contains("sweep blobs: iter 2/5 size=2000: OK"), "{stderr}");
    assert!(
        stdout.contains("blobs: breaking point size=4000 (iter 4): thresholds"),
        "{stdout}"
    );
    assert!(stdout.contains("blobs: stability point size=3000 (iter 3)"), "{stdout}");

    let rows = csv(&out_dir, "sweep.csv");
    assert_eq!(
        rows[0].join(","),
        "iter,size,status,ops,failed_ops,duration_s,ops_per_sec,rows_per_sec,bytes_per_sec,p50_us,p95_us,\
         p99_us,max_us,process_peak_mb,server_peak_mb,phase_read_ms,phase_write_ms,figure_client_bytes,figure_db_bytes,detail,dir"
    );
    assert_eq!(rows.len(), 5, "a header and 4 iterations: {rows:?}");
    assert_eq!(column(&rows, "size"), ["1000", "2000", "3000", "4000"]);
    assert_eq!(column(&rows, "status"), ["OK", "OK", "OK", "thresholds"]);
    assert_eq!(column(&rows, "ops"), ["6", "6", "6", "6"], "2 writers × 3 ops");
    assert_eq!(column(&rows, "failed_ops"), ["0", "0", "0", "6"]);
    assert_eq!(column(&rows, "figure_client_bytes"), ["1000", "2000", "3000", ""]);
    assert_eq!(column(&rows, "figure_db_bytes"), ["1000", "2000", "3000", ""]);
    assert_eq!(
        column(&rows, "detail"),
        ["", "", "", "threshold error_rate<50% breached: observed 100%"]
    );
    assert_eq!(column(&rows, "dir"), ["iter-001", "iter-002", "iter-003", "iter-004"]);
    assert_rows_match_summaries(&out_dir, &rows);
    assert!(
        !out_dir.join("iter-005").exists(),
        "nothing runs after the breaking point"
    );
    let replay = read_json(&out_dir.join("iter-002/replay.json"));
    assert_eq!(
        replay["config"]["params"],
        serde_json::json!({"size": 2000, "fill": "zeros"})
    );
    assert_eq!(replay["seed"], 3, "every iteration runs with the same seed");

    let md = read(&out_dir.join("sweep.md"));
    for part in [
        "# Sweep of blobs over size",
        "4 of 5 iterations ran, 3 OK. Stopped: after the breaking point",
        "- Breaking point: **size=4000** (iter 4): thresholds — threshold error_rate<50% breached: observed 100%",
        "- Stability point: **size=3000** (iter 3)",
        "| # | size | status | ops/s | rows/s | p50 | p99 | read | write | client_bytes | db_bytes | RSS peak Δ |",
        "| 4 | 4000 | **thresholds** |",
        "| workload | blobs (package shop, test `stress`, adapter sqlite) |",
        "| command | `cargo stress sweep --manifest-path ",
        "| seed | 3 (the same for every iteration) |",
        "| build profile | dev (--debug) |",
        "| parameters (defaults) | size=1000 (whole number), fill=zeros (one of zeros, random) |",
        "| users (first iteration) | writer=2 |",
        "| length | 3 ops per user |",
        "| thresholds | `error_rate<50%` |",
        "| varies | `size=1000..5000:1000` (5 values) |",
        "| after the breaking point | stops there |",
    ] {
        assert!(md.contains(part), "missing {part:?} in sweep.md:\n{md}");
    }
    // sweep.html: the same run as a page; in a browser with no network, its curves drew with
    // the points marked.
    let page = out_dir.join("sweep.html");
    let html = read(&page);
    assert!(html.contains("<h1>Sweep of blobs over size</h1>"), "{html}");
    assert!(
        html.contains("href=\"iter-004&#x2f;report.html\""),
        "each iteration links its report: {html}"
    );
    let dom = browser::dump_dom(&page);
    assert!(dom.matches("<svg class=\"chart\"").count() >= 3, "{dom}");
    assert!(
        dom.matches("<circle").count() >= 4 * 3,
        "a point per iteration and chart: {dom}"
    );
    for mark in [">breaking</text>", ">stability</text>", ">optimal</text>"] {
        assert!(dom.contains(mark), "{mark} marked: {dom}");
    }
    // The optimal point is the OK iteration with the most ops/s; iteration 4, whose refused
    // inserts are the fastest of all, is not OK.
    let best = optimal_row(&rows, "ops_per_sec");
    let (size, iter) = (cell(&rows, best, "size"), cell(&rows, best, "iter"));
    let ops_per_sec: f64 = cell(&rows, best, "ops_per_sec").parse().unwrap();
    let line = format!("- Optimal efficiency point: **size={size}** (iter {iter}): {ops_per_sec:.1} ops/s");
    assert!(md.lines().any(|l| l == line), "missing {line:?} in sweep.md:\n{md}");
    assert!(
        stdout.contains(&format!("blobs: optimal efficiency point size={size} (iter {iter})\n")),
        "{stdout}"
    );
    // One verdict, over the 3 OK iterations, as in the report on stdout.
    let verdicts = verdict_lines(&md);
    assert_eq!(verdicts.len(), 1, "{md}");
    assert!(verdicts[0].starts_with("size 1000→3000 (3 points): rows/s ×"), "{md}");
    assert_verdict_fits(verdicts[0], &out_dir, &rows, "size");
    assert!(
        stdout.contains(&format!("blobs: scaling {}\n", verdicts[0])),
        "{stdout}"
    );
}

#[test]
fn a_sweep_goes_on_when_asked_and_its_breaking_iteration_replays() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sweep");
    let out = on_fixture(&[
        "sweep",
        "blobs",
        "--param",
        "size=2500..4500:1000",
        "--param",
        "fill=random",
        "--continue",
        "--efficiency",
        "bytes_per_sec",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    // Which of the two writers failed first is theirs to race for.
    let err = last_error(&out);
    assert!(
        err.starts_with(
            "error: blobs broke at size=3500 (errors): 6 of 6 ops failed (100.000%), above max_error_rate 0; \
             first: writer-"
        ) && err.contains(" put: CHECK constraint failed: length(body) <= 3000"),
        "{err}"
    );
    let rows = csv(&out_dir, "sweep.csv");
    assert_eq!(column(&rows, "status"), ["OK", "errors", "errors"], "{rows:?}");
    assert_eq!(column(&rows, "failed_ops"), ["0", "6", "6"], "{rows:?}");
    assert_eq!(column(&rows, "figure_db_bytes"), ["2500", "", ""]);
    assert_rows_match_summaries(&out_dir, &rows);
    assert_eq!(optimal_row(&rows, "bytes_per_sec"), 0, "the one OK iteration");
    let md = read(&out_dir.join("sweep.md"));
    for part in [
        "3 of 3 iterations ran, 1 OK.",
        "- Breaking point: **size=3500** (iter 2): errors — 6 of 6 ops failed",
        "CHECK constraint failed",
        "- Stability point: **size=2500** (iter 1)",
        "- Optimal efficiency point: **size=2500** (iter 1): ",
        "| fixed | `fill=random` |",
        "| efficiency | bytes_per_sec |",
        "| after the breaking point | runs on (--continue) |",
    ] {
        assert!(md.contains(part), "missing {part:?} in sweep.md:\n{md}");
    }
    assert!(verdict_lines(&md).is_empty(), "one OK point is no series: {md}");
    // The breaking iteration is a run like any other: cargo stress replay repeats it, and it
    // fails again.
    let again = dir.path().join("again");
    let out = cargo_stress(&[
        "replay",
        out_dir.join("iter-002").to_str().unwrap(),
        "--debug",
        "--out",
        again.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        text(&out.stdout).contains("op_digest: 2 of 2 users match"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(summary(&again)["failed_ops"], 6);
}

#[test]
fn a_two_by_two_matrix_has_a_row_per_cell_and_a_scaling_verdict_per_series() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("matrix");
    let out = on_fixture(&[
        "matrix",
        "blobs",
        "--param",
        "size=1000,2000",
        "--param",
        "fill=zeros,random",
        "--param",
        "users=3",
        "--seed",
        "8",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let rows = csv(&out_dir, "matrix.csv");
    assert_eq!(&rows[0][..5], ["cell", "size", "fill", "status", "ops"]);
    assert_eq!(rows.len(), 5, "{rows:?}");
    let cells: Vec<String> = rows[1..].iter().map(|r| format!("{} {}", r[1], r[2])).collect();
    assert_eq!(cells, ["1000 zeros", "1000 random", "2000 zeros", "2000 random"]);
    assert_eq!(column(&rows, "status"), ["OK"; 4]);
    assert_eq!(column(&rows, "ops"), ["9"; 4], "users=3: 3 writers × 3 ops");
    assert_eq!(column(&rows, "figure_db_bytes"), ["1000", "1000", "2000", "2000"]);
    assert_rows_match_summaries(&out_dir, &rows);
    for i in 1..=4 {
        let replay = read_json(&out_dir.join(format!("cell-00{i}/replay.json")));
        assert_eq!(replay["config"]["users"], serde_json::json!([["writer", 3]]));
    }
    let md = read(&out_dir.join("matrix.md"));
    for part in [
        "# Matrix of blobs over size × fill",
        "4 of 4 cells ran, 4 OK.",
        "- Cells that did not hold: none",
        "| # | size | fill | status |",
        "| 4 | 2000 | random | OK |",
        "| fixed | `users=3` |",
    ] {
        assert!(md.contains(part), "missing {part:?} in matrix.md:\n{md}");
    }
    let best = optimal_row(&rows, "ops_per_sec");
    let label = format!("size={} fill={}", cell(&rows, best, "size"), cell(&rows, best, "fill"));
    let point = format!("**{label}** (cell {})", cell(&rows, best, "cell"));
    assert!(
        md.contains(&format!("- Optimal efficiency point: {point}: ")),
        "missing the optimal point {point} in matrix.md:\n{md}"
    );
    // One verdict per series of size (fill is not a number), each fitting its two cells.
    let verdicts = verdict_lines(&md);
    assert_eq!(verdicts.len(), 2, "{md}");
    assert!(
        verdicts[0].starts_with("size (fill=zeros) 1000→2000 (2 points): rows/s ×"),
        "{md}"
    );
    assert!(
        verdicts[1].starts_with("size (fill=random) 1000→2000 (2 points): rows/s ×"),
        "{md}"
    );
    for v in verdicts {
        assert_verdict_fits(v, &out_dir, &rows, "size");
        assert!(stdout.contains(&format!("blobs: scaling {v}\n")), "{stdout}");
    }
}

#[test]
fn run_takes_parameters_from_flags_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let flagged = dir.path().join("flagged");
    let out = on_fixture(&[
        "run",
        "blobs",
        "--param",
        "size=2500",
        "--param",
        "fill=random",
        "--ops-per-user",
        "1",
        "--out",
        flagged.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let replay: serde_json::Value = serde_json::from_str(&read(&flagged.join("replay.json"))).unwrap();
    assert_eq!(
        replay["config"]["params"],
        serde_json::json!({"size": 2500, "fill": "random"})
    );
    let s = summary(&flagged);
    assert_eq!(s["figures"]["db_bytes"]["mean"], 2500.0);
    assert_eq!(s["phases"]["write"]["count"], 2);

    let from_env = dir.path().join("env");
    let out = on_fixture_with(
        &[
            "run",
            "blobs",
            "--ops-per-user",
            "1",
            "--out",
            from_env.to_str().unwrap(),
        ],
        &[("STRESS_PARAM_SIZE", "1500")],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(summary(&from_env)["figures"]["db_bytes"]["mean"], 1500.0);
}

#[test]
fn bad_sweep_input_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never");
    let never_s = never.to_str().unwrap();
    let busy = dir.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["sweep", "blobs", "--param", "size=1000..4500:1000"],
            "size: range `1000..4500:1000` does not reach its end: from 1000 by 1000 the values go 4000, 5000, past 4500",
        ),
        (
            vec!["sweep", "blobs", "--param", "size="],
            "size: the list of values is empty",
        ),
        (
            vec!["sweep", "blobs", "--param", "size=1,,2"],
            "has an empty value in its list",
        ),
        (
            vec!["sweep", "blobs", "--param", "nope=1,2"],
            "workload `blobs`: parameter `nope` is not declared by the workload (its parameters: size, fill; users and rate set the load)",
        ),
        (
            vec!["sweep", "tick", "--param", "size=1,2"],
            "workload `tick`: parameter `size` is not declared by the workload (its parameters: none;",
        ),
        (
            vec!["sweep", "blobs", "--param", "fill=zeros,plaid"],
            "parameter `fill` takes one of zeros, random, not `plaid`",
        ),
        (
            vec!["sweep", "blobs", "--param", "size=1k,lots"],
            "parameter `size` takes a whole number (like 10000, 10_000 or 10k), not `lots`",
        ),
        (
            vec!["sweep", "blobs", "--param", "users=0,1"],
            "users takes a whole number of users above 0, not `0`",
        ),
        (
            vec!["sweep", "blobs", "--param", "size=1,2", "--param", "fill=zeros,random"],
            "a sweep varies one parameter, and size, fill vary: use cargo stress matrix",
        ),
        (
            vec!["sweep", "blobs", "--param", "size=1000"],
            "a sweep needs one parameter with several values",
        ),
        (
            vec!["matrix", "blobs", "--param", "size=1000"],
            "a matrix needs parameters with several values",
        ),
        (
            vec!["sweep", "blobs", "--param", "users=1,2", "--users", "writer=1"],
            "--param users sets the users: leave out --users and --stages",
        ),
        (
            vec!["sweep", "nothing", "--param", "size=1,2"],
            "no workload is named `nothing`: the workloads are acked, blobs, broken_verify, checkout, lookup, stall, tick",
        ),
        (
            vec!["run", "blobs", "--param", "size=1,2"],
            "run takes one value per parameter (`size=1,2` has 2)",
        ),
        (
            vec!["run", "checkout", "--param", "size=5"],
            "workload `checkout`: parameter `size` is not declared by the workload",
        ),
        (
            // Only the harness can tell: the first iteration does not start.
            vec!["sweep", "blobs", "--param", "size=1,2", "--threshold", "p99[nope]<1ms"],
            "workload `blobs` did not start: threshold `p99[nope]<1ms` names op `nope`, which the workload does not have (its ops: put)",
        ),
    ];
    for (mut args, expect) in cases {
        args.extend(["--out", never_s]);
        let out = on_fixture(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        // One error line (clap adds a usage hint below its own).
        let err = stderr.lines().find(|l| l.starts_with("error: ")).unwrap_or_default();
        assert!(err.contains(expect), "{args:?}: {stderr}");
        assert!(!never.exists(), "{args:?} left {}", never.display());
    }
    let out = on_fixture(&[
        "matrix",
        "blobs",
        "--param",
        "size=1,2",
        "--out",
        busy.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        last_error(&out).contains("is not empty: give --out a new or empty directory"),
        "{}",
        last_error(&out)
    );
    assert_eq!(
        std::fs::read_dir(&busy).unwrap().count(),
        1,
        "the busy directory is left as it was"
    );
}

/// An iteration still running at `--iteration-timeout` is stopped (Ctrl-C to its harness, which
/// writes its reports) and is the breaking point. Only `stall` at size 2 can time out: its op
/// waits for Ctrl-C, while size 1's returns at once; 30 s is for any harness start, however
/// loaded the machine.
#[test]
fn an_iteration_that_outlives_its_timeout_is_stopped_and_is_the_breaking_point() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sweep");
    let out = on_fixture(&[
        "sweep",
        "stall",
        "--param",
        "size=1..3:1",
        "--seed",
        "5",
        "--ops-per-user",
        "1",
        "--iteration-timeout",
        "30s",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let why = "still running after 30.00s: stopped (--iteration-timeout)";
    assert_eq!(
        last_error(&out),
        format!("error: stall broke at size=2 (timeout): {why}")
    );
    assert_eq!(
        stderr.matches("stall: waiting for Ctrl-C").count(),
        1,
        "only size 2's op waited: {stderr}"
    );
    assert!(
        stderr.contains(&format!("sweep stall: iter 2/3 size=2: timeout: {why}")),
        "{stderr}"
    );
    let rows = csv(&out_dir, "sweep.csv");
    assert_eq!(column(&rows, "status"), ["OK", "timeout"], "{rows:?}");
    assert_eq!(column(&rows, "ops"), ["1", "1"], "{rows:?}");
    assert_eq!(column(&rows, "detail"), ["", why], "{rows:?}");
    assert_rows_match_summaries(&out_dir, &rows);
    let md = read(&out_dir.join("sweep.md"));
    for part in [
        "2 of 3 iterations ran, 1 OK. Stopped: after the breaking point",
        &format!("- Breaking point: **size=2** (iter 2): timeout — {why}"),
        "- Stability point: **size=1** (iter 1)",
        "| 2 | 2 | **timeout** |",
    ] {
        assert!(md.contains(part), "missing {part:?} in sweep.md:\n{md}");
    }
    // The stopped run wrote its reports: its one op, ended by the Ctrl-C.
    let stopped = out_dir.join("iter-002");
    let s = summary(&stopped);
    assert_eq!(s["stop_reason"], "Interrupted", "{s}");
    assert_eq!(
        s["failures"],
        serde_json::json!([{"kind": "interrupted", "message": "interrupted"}])
    );
    assert_eq!((&s["total_ops"], &s["failed_ops"]), (&1.into(), &0.into()), "{s}");
    assert_eq!(read_json(&stopped.join("replay.json"))["config"]["params"]["size"], 2);
    assert_eq!(timeseries_ops(&stopped), 1);
    assert_eq!(summary(&out_dir.join("iter-001"))["stop_reason"], "OpLimit");
    assert!(
        !out_dir.join("iter-003").exists(),
        "nothing runs after the breaking point"
    );
}

/// Ctrl-C during a sweep (SIGINT to `cargo stress`'s process group, as a terminal sends it)
/// stops the iteration that runs, which writes its reports and is marked `interrupted`; the
/// finished iterations keep theirs, sweep.csv and sweep.md are written, nothing more runs,
/// and the exit code is 1. The Ctrl-C comes while size 2's op waits for it.
#[test]
fn ctrl_c_during_a_sweep_keeps_every_report_and_marks_the_interrupted_iteration() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sweep");
    let mut run = Running::on_fixture(&[
        "sweep",
        "stall",
        "--param",
        "size=1..3:1",
        "--seed",
        "5",
        "--ops-per-user",
        "1",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    run.wait_for_line("sweep stall: iter 1/3 size=1: OK");
    run.wait_for_line("stall: waiting for Ctrl-C");
    run.interrupt();
    let out = run.finish();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(last_error(&out), "error: interrupted");
    assert!(stderr.contains("sweep stall: iter 2/3 size=2: interrupted"), "{stderr}");
    assert!(stdout.contains("stall: stopped interrupted after 2 of 3"), "{stdout}");

    let rows = csv(&out_dir, "sweep.csv");
    assert_eq!(column(&rows, "status"), ["OK", "interrupted"], "{rows:?}");
    assert_eq!(column(&rows, "ops"), ["1", "1"], "{rows:?}");
    assert_eq!(column(&rows, "detail"), ["", "interrupted"], "{rows:?}");
    assert_rows_match_summaries(&out_dir, &rows);
    let md = read(&out_dir.join("sweep.md"));
    for part in [
        "2 of 3 iterations ran, 1 OK. Stopped: interrupted after 2 of 3.",
        "- Breaking point: **size=2** (iter 2): interrupted — interrupted",
        "- Stability point: **size=1** (iter 1)",
        "| 1 | 1 | OK |",
        "| 2 | 2 | **interrupted** |",
    ] {
        assert!(md.contains(part), "missing {part:?} in sweep.md:\n{md}");
    }
    let finished = out_dir.join("iter-001");
    let s = summary(&finished);
    assert_eq!(
        (&s["stop_reason"], &s["passed"]),
        (&"OpLimit".into(), &true.into()),
        "{s}"
    );
    assert_eq!(read_json(&finished.join("replay.json"))["stop_reason"], "OpLimit");
    assert_eq!(timeseries_ops(&finished), 1);
    let stopped = out_dir.join("iter-002");
    let s = summary(&stopped);
    assert_eq!(s["stop_reason"], "Interrupted", "{s}");
    assert_eq!((&s["total_ops"], &s["failed_ops"]), (&1.into(), &0.into()), "{s}");
    assert_eq!(read_json(&stopped.join("replay.json"))["stop_reason"], "Interrupted");
    assert_eq!(timeseries_ops(&stopped), 1);
    assert!(!out_dir.join("iter-003").exists(), "nothing runs after Ctrl-C");
}
