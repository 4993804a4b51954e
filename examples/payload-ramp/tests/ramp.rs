//! The payload ramp on a managed PostgreSQL (`fsync` off: these runs check behaviour, not
//! speed), in every format and both modes, over a small range of epochs: each iteration a full
//! run in its own directory, compared in `sweep.csv` and `sweep.md` as `cargo stress sweep`
//! compares them. The full range runs by hand (see the README).

use std::path::Path;

use stress_core::Runner;
use stress_core::prelude::Workload;
use stress_core::sweep::{self, Kind, ParamSpec, Plan, SweepReport};
use stress_postgres::Postgres;

fn ramp(
    name: &str,
    workload: fn(Postgres) -> Workload<Postgres>,
    specs: &[&str],
    ops: u64,
) -> (tempfile::TempDir, SweepReport) {
    let dir = tempfile::tempdir().unwrap();
    let plan = Plan::new(specs.iter().map(|s| ParamSpec::parse(s).unwrap()).collect()).unwrap();
    let mut report = SweepReport::new(Kind::Sweep, name, plan);
    sweep::drive(&mut report, dir.path(), &|| false, |cell, out: &Path| {
        let mut runner = Runner::new(name).seed(11).ops_per_user(ops).output_dir(out);
        for (k, v) in cell.iter().chain(&[("format".to_owned(), fixed(specs))]) {
            runner = runner.param(k, v);
        }
        let pg = Postgres::managed().setting("fsync", "off");
        runner.run(workload(pg)).map(|_| ()).map_err(|e| e.to_string())
    })
    .unwrap();
    (dir, report)
}

/// The `format=…` of the specs.
fn fixed(specs: &[&str]) -> String {
    specs.iter().find_map(|s| s.strip_prefix("format=")).unwrap().to_owned()
}

fn column(csv: &str, name: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let i = lines
        .next()
        .unwrap()
        .split(',')
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no {name}"));
    lines.map(|l| l.split(',').nth(i).unwrap().to_owned()).collect()
}

fn numbers(csv: &str, name: &str) -> Vec<f64> {
    column(csv, name)
        .iter()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}: `{v}` in\n{csv}")))
        .collect()
}

#[test]
fn the_sync_ramp_writes_reads_and_sizes_records_in_every_format() {
    let mut client_at_2000 = Vec::new();
    for format in payload_ramp::codec::FORMATS {
        let spec = format!("format={format}");
        let (dir, report) = ramp("payload_sync", payload_ramp::sync, &["epochs=1000,2000", &spec], 2);
        let failing: Vec<String> = report
            .iterations
            .iter()
            .filter(|i| !i.status.is_ok())
            .map(|i| i.detail.clone())
            .collect();
        assert!(failing.is_empty(), "{format}: {failing:?}");
        let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
        assert_eq!(column(&csv, "epochs"), ["1000", "2000"]);
        assert_eq!(column(&csv, "ops"), ["2", "2"], "{format}: one writer, two records");
        let client = numbers(&csv, "client_bytes");
        let db = numbers(&csv, "db_bytes");
        assert!(
            client[1] > client[0] && db[1] > db[0],
            "{format}: sizes grow with epochs: {client:?} {db:?}"
        );
        for col in [
            "write_ms",
            "read_ms",
            "phase_encode_ms",
            "phase_decode_ms",
            "figure_row_db_bytes",
            "figure_table_bytes",
            "server_peak_mb",
        ] {
            assert!(numbers(&csv, col).iter().all(|x| *x >= 0.0), "{format}: {col}");
        }
        let row = numbers(&csv, "figure_row_db_bytes");
        assert!(row[0] >= db[0], "{format}: a row holds its payload");
        assert_eq!(numbers(&csv, "rows_per_sec").len(), 2);
        let md = std::fs::read_to_string(dir.path().join("sweep.md")).unwrap();
        assert!(md.contains("- Breaking point: none — every iteration held"), "{md}");
        assert!(md.contains("| fixed | `format="), "{md}");
        client_at_2000.push((format, client[1]));
    }
    // What the formats are for: zstd makes the smallest payload, BSON the largest.
    let size = |f: &str| client_at_2000.iter().find(|(n, _)| *n == f).unwrap().1;
    assert!(
        size("ndjson_zstd") < size("jsonb") && size("jsonb") < size("bson"),
        "{client_at_2000:?}"
    );
}

#[test]
fn the_fanout_ramp_runs_eight_writers_at_once() {
    let (dir, report) = ramp(
        "payload_fanout",
        payload_ramp::fanout,
        &["epochs=500,1500", "format=ndjson_zstd"],
        1,
    );
    assert!(
        report.iterations.iter().all(|i| i.status.is_ok()),
        "{:?}",
        report.iterations
    );
    let csv = std::fs::read_to_string(dir.path().join("sweep.csv")).unwrap();
    assert_eq!(column(&csv, "ops"), ["8", "8"]);
    let s = stress_core::Summary::load(&dir.path().join("iter-002/summary.json")).unwrap();
    assert_eq!(s.figures["db_bytes"].count, 8);
    assert!(s.verify.ran && s.verify.passed, "{:?}", s.verify);
    // The server's memory at the users' start and its peak: what the sweep's server_peak_mb is.
    assert!(
        s.resources_start.contains_key("postgres.memory_mb"),
        "{:?}",
        s.resources_start
    );
    assert!(s.resources["postgres.memory_mb"] >= s.resources_start["postgres.memory_mb"]);
}
