//! The payload ramp on a managed PostgreSQL (`fsync` off: these runs check behaviour, not
//! speed), in every format and both modes, over a small range of epochs: each iteration a full
//! run in its own directory, compared in `sweep.csv` and `sweep.md` as `cargo stress sweep`
//! compares them. The full range runs by hand (see the guide: docs/guide/src/sweeps.md).

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

/// The summary of iteration `i` (from 1) of a sweep in `dir`.
fn summary(dir: &Path, i: usize) -> stress_core::Summary {
    stress_core::Summary::load(&dir.join(format!("iter-{i:03}/summary.json"))).unwrap()
}

/// Whether the sweep's `server_peak_mb` (`csv`, rounded to 3 decimals) says what the summary
/// does: the server's memory peak above its reading at the users' start, never below zero.
/// Both readings must be there, and positive (a live server uses memory).
fn is_server_peak(csv: f64, s: &stress_core::Summary) -> bool {
    let key = "postgres.memory_mb";
    let start = *s
        .resources_start
        .get(key)
        .unwrap_or_else(|| panic!("no {key} at the users' start: {:?}", s.resources_start));
    let peak = *s
        .resources
        .get(key)
        .unwrap_or_else(|| panic!("no {key} peak: {:?}", s.resources));
    assert!(start > 0.0 && peak > 0.0, "a live server uses memory: {start} {peak}");
    (csv - (peak - start).max(0.0)).abs() < 0.0006
}

/// Each format writes, reads back and decodes records of 1000 and 2000 epochs, and sizes them
/// where they live: twice the epochs make a larger record on the client and in the database;
/// an op reports its epochs as rows and its payload as bytes; a phase nested in another
/// (`encode` in `write`, `decode` in `read`) takes no longer than it; a row is larger than its
/// payload and a table than its row; PostgreSQL compresses the JSON and BSON payloads but not
/// the zstd one; and zstd makes the smallest record, on the client and in the database.
#[test]
fn the_sync_ramp_writes_reads_and_sizes_records_in_every_format() {
    let mut at_2000 = Vec::new();
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
        let client = numbers(&csv, "figure_client_bytes");
        let db = numbers(&csv, "figure_db_bytes");
        assert!(
            client[0] > 0.0 && client[1] > client[0] && db[0] > 0.0 && db[1] > db[0],
            "{format}: sizes grow with epochs: {client:?} {db:?}"
        );
        let (write, encode) = (numbers(&csv, "phase_write_ms"), numbers(&csv, "phase_encode_ms"));
        let (read, decode) = (numbers(&csv, "phase_read_ms"), numbers(&csv, "phase_decode_ms"));
        for i in 0..2 {
            assert!(
                encode[i] > 0.0 && write[i] >= encode[i] && decode[i] > 0.0 && read[i] >= decode[i],
                "{format}: phases timed and nested: write {write:?} ⊇ encode {encode:?}, read {read:?} ⊇ decode {decode:?}"
            );
        }
        let row = numbers(&csv, "figure_row_db_bytes");
        let table = numbers(&csv, "figure_table_bytes");
        for i in 0..2 {
            assert!(row[i] > db[i], "{format}: a row holds its payload: {row:?} {db:?}");
            assert!(table[i] > row[i], "{format}: a table holds its row: {table:?} {row:?}");
            if format == "ndjson_zstd" {
                assert!(db[i] >= client[i], "{format}: zstd output does not compress again");
            } else {
                assert!(
                    db[i] < client[i],
                    "{format}: the server compresses it: {db:?} {client:?}"
                );
            }
        }
        let peaks = numbers(&csv, "server_peak_mb");
        for (i, epochs) in [(1, 1000), (2, 2000)] {
            let s = summary(dir.path(), i);
            assert_eq!(s.total_rows, 2 * epochs, "{format}: an op's rows are its epochs");
            assert_eq!(
                s.total_bytes as f64, s.figures["client_bytes"].sum,
                "{format}: an op's bytes are its payload"
            );
            assert!(is_server_peak(peaks[i - 1], &s), "{format}: iteration {i}: {peaks:?}");
        }
        let md = std::fs::read_to_string(dir.path().join("sweep.md")).unwrap();
        assert!(md.contains("- Breaking point: none — every iteration held"), "{md}");
        assert!(md.contains("| fixed | `format="), "{md}");
        at_2000.push((format, client[1], db[1]));
    }
    // What the formats are for: zstd makes the smallest payload, BSON the largest; zstd's is
    // the smallest in the database too, where PostgreSQL compresses the others.
    let size = |f: &str| *at_2000.iter().find(|(n, ..)| *n == f).unwrap();
    let ((_, zstd, zstd_db), (_, jsonb, jsonb_db), (_, bson, bson_db)) =
        (size("ndjson_zstd"), size("jsonb"), size("bson"));
    assert!(zstd < jsonb && jsonb < bson, "{at_2000:?}");
    assert!(zstd_db < jsonb_db && zstd_db < bson_db, "{at_2000:?}");
}

/// Eight writers at once, one record each, in both iterations; the summary counts every
/// record's size and the verify step finds every acknowledged record; the sweep's
/// `server_peak_mb` is the server's memory peak above its reading at the users' start.
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
    let peaks = numbers(&csv, "server_peak_mb");
    for (i, epochs) in [(1, 500), (2, 1500)] {
        let s = summary(dir.path(), i);
        assert_eq!(s.users.len(), 8);
        assert!(s.users.iter().all(|u| u.ops == 1), "{:?}", s.users);
        assert_eq!(s.total_rows, 8 * epochs);
        assert_eq!(s.figures["db_bytes"].count, 8);
        assert!(s.verify.ran && s.verify.passed, "{:?}", s.verify);
        assert!(is_server_peak(peaks[i - 1], &s), "iteration {i}: {peaks:?}");
    }
}
