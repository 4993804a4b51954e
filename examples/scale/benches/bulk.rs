//! Bulk load at scale: the harness against a hand-written rusqlite loop, and 1M → 100M rows.
//!
//! ```sh
//! # 5 alternating pairs at 10M rows: hand loop, then the bulk_load workload, in fresh files
//! cargo bench -p scale --bench bulk -- --compare 10000000 --pairs 5
//! # the scaling runs: each size a fresh file, in process and hosted
//! cargo bench -p scale --bench bulk -- --scale 1000000,10000000,100000000 --engines local,hosted
//! ```
//!
//! Both insert the same rows ([`scale::bulk::row`]) in the same batches (`--batch`, default
//! 10,000: one `BEGIN IMMEDIATE` transaction and one prepared statement each), into files in
//! the same temporary directory kind (`stress-sqlite-*` under `/dev/shm`, or `$TMPDIR` with
//! `--disk`), WAL and
//! `synchronous=NORMAL` as the adapter sets them. Rows per second: the hand loop's from its first
//! `BEGIN` to its last `COMMIT`; the harness's over the users' run (`total_rows / duration_s`:
//! setup and verify are outside it). Peak RSS: this process's `VmHWM`, and for a hosted run the
//! engine host's, sampled every 200 ms. Under `cargo test --benches` (no `--bench`) every mode
//! runs once on 20,000 rows.

use std::time::{Duration, Instant};

use scale::bulk::{self, INSERT, batch_range, row};
use stress_core::Runner;
use stress_sqlite::Sqlite;
use stress_sqlite::rusqlite::{Connection, TransactionBehavior};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Files on `/dev/shm` (as every SQLite benchmark here: a busy disk shared with other work
/// would measure the disk), unless `--disk` asks for `$TMPDIR`.
fn on_disk() -> bool {
    std::env::args().any(|a| a == "--disk") || !std::path::Path::new("/dev/shm").is_dir()
}

fn batches(rows: u64, batch: u64) -> u64 {
    rows.div_ceil(batch)
}

/// This process's CPU time (user + system, all threads), in seconds.
fn cpu_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks: f64 = fields
        .iter()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// The hand-written loop: rows per second from the first `BEGIN` to the last `COMMIT`, and
/// the process's CPU seconds per million rows over the same span and the count that checks it.
fn hand_loop(rows: u64, batch: u64) -> (f64, f64) {
    let dir = if on_disk() {
        tempfile::Builder::new().prefix("stress-sqlite-").tempdir()
    } else {
        tempfile::Builder::new().prefix("stress-sqlite-").tempdir_in("/dev/shm")
    }
    .unwrap();
    let path = dir.path().join("db.sqlite");
    let mut conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "NORMAL").unwrap();
    conn.execute_batch(bulk::CREATE).unwrap();
    let (t, cpu0) = (Instant::now(), cpu_s());
    for k in 0..batches(rows, batch) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).unwrap();
        {
            let mut stmt = tx.prepare_cached(INSERT).unwrap();
            for i in batch_range(k, batch, rows) {
                stmt.execute(row(i)).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    // The count is the harness's verify step: in the CPU both spend.
    let n: i64 = conn.query_row("SELECT count(*) FROM bulk", [], |r| r.get(0)).unwrap();
    assert_eq!(n as u64, rows);
    let cpu = cpu_s() - cpu0;
    (rows as f64 / secs, cpu * 1e6 / rows as f64)
}

/// What one harness run gave.
struct Load {
    rows_per_sec: f64,
    /// CPU seconds of the whole process (every harness thread) per million rows, setup and
    /// verify included: an upper bound on the harness's CPU.
    cpu_per_m: f64,
    secs: f64,
    harness_peak_mb: f64,
    engine_peak_mb: Option<f64>,
    file_mb: f64,
}

fn status_kb(pid: &str, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The engine host among this process's children (the watchdog that removes the temporary
/// files is another child).
fn engine_hosts() -> Vec<String> {
    let me = std::process::id().to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                c.split(|b| *b == 0)
                    .any(|a| a == stress_core::host::HOST_TEST.as_bytes())
            })
        })
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .map(|(_, rest)| rest.split_whitespace().nth(1) == Some(me.as_str()))
                })
                .unwrap_or(false)
        })
        .collect()
}

/// The bulk_load workload: one loader, `rows` rows in batches, the run bounded by its op limit.
fn harness(rows: u64, batch: u64, hosted: bool) -> Load {
    let db = if on_disk() {
        Sqlite::temp_file()
    } else {
        Sqlite::in_memory()
    };
    let db = if hosted { db.hosted() } else { db };
    let done = std::sync::atomic::AtomicBool::new(false);
    let (engine_kb, file_kb) = (
        std::sync::atomic::AtomicU64::new(0),
        std::sync::atomic::AtomicU64::new(0),
    );
    let cpu = cpu_s();
    let s = std::thread::scope(|scope| {
        // Only a hosted run has an engine host to look for: in process, the scan of /proc would
        // be CPU the hand loop does not spend.
        scope.spawn(|| {
            while hosted && !done.load(std::sync::atomic::Ordering::Relaxed) {
                for child in engine_hosts() {
                    if let Some(kb) = status_kb(&child, "VmHWM:") {
                        engine_kb.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let s = Runner::new("bulk_load")
            .seed(1)
            .param("rows", rows)
            .param("batch", batch)
            .ops_per_user(batches(rows, batch))
            .run(bulk::bulk(db))
            .unwrap()
            .summary;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        s
    });
    assert_eq!(
        s.total_rows,
        rows,
        "{} ops, {:?}, {:?}",
        s.total_ops,
        s.stop_detail,
        s.errors.first()
    );
    assert_eq!(s.failed_ops, 0, "{:?}", s.errors.first());
    assert!(s.verify.ran && s.verify.passed, "{:?}", s.verify);
    let disk = s.resources.get("sqlite.disk_mb").copied().unwrap_or(0.0);
    file_kb.store((disk * 1024.0) as u64, std::sync::atomic::Ordering::Relaxed);
    let cpu = cpu_s() - cpu;
    let engine = engine_kb.into_inner();
    Load {
        rows_per_sec: s.total_rows as f64 / s.duration_s,
        cpu_per_m: cpu * 1e6 / rows as f64,
        secs: s.duration_s,
        harness_peak_mb: status_kb("self", "VmHWM:").unwrap_or(0) as f64 / 1024.0,
        engine_peak_mb: (hosted && engine > 0).then(|| engine as f64 / 1024.0),
        file_mb: file_kb.into_inner() as f64 / 1024.0,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn compare(rows: u64, batch: u64, pairs: usize) {
    println!("bulk load, {rows} rows in batches of {batch}: hand loop vs harness, {pairs} alternating pairs");
    println!("pair  hand rows/s   harness rows/s  ratio  hand cpu s/M  harness cpu s/M  cpu ratio");
    let (mut hand, mut ours, mut ratios, mut cpu_ratios) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for p in 1..=pairs {
        let (h, hc) = hand_loop(rows, batch);
        let l = harness(rows, batch, false);
        let (w, wc) = (l.rows_per_sec, l.cpu_per_m);
        println!(
            "{p:<5} {h:<13.0} {w:<15.0} {:<6.3} {hc:<12.3} {wc:<16.3} {:.3}",
            w / h,
            wc / hc
        );
        hand.push(h);
        ours.push(w);
        ratios.push(w / h);
        cpu_ratios.push(wc / hc);
    }
    println!(
        "median: hand {:.0} rows/s, harness {:.0} rows/s, ratio {:.3}; CPU per row harness/hand {:.3}",
        median(hand),
        median(ours),
        median(ratios),
        median(cpu_ratios)
    );
}

fn scale(sizes: &[u64], batch: u64, engines: &[&str]) {
    println!("bulk load scaling, batches of {batch}");
    println!("engine  rows        secs      rows/s      harness_peak_mb  engine_peak_mb  file_mb");
    for engine in engines {
        let mut rates = Vec::new();
        for &rows in sizes {
            // A process of its own per size, so that one size's peak does not count in the next's.
            let exe = std::env::current_exe().unwrap();
            let bench: &[&str] = if std::env::args().any(|a| a == "--bench") {
                &["--bench"]
            } else {
                &[]
            };
            let disk: &[&str] = if on_disk() { &["--disk"] } else { &[] };
            let out = std::process::Command::new(exe)
                .args(bench)
                .args(disk)
                .args([
                    "--one",
                    &rows.to_string(),
                    "--batch",
                    &batch.to_string(),
                    "--engine",
                    engine,
                ])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            println!("{line}");
            let rate: f64 = line
                .split_whitespace()
                .nth(3)
                .and_then(|r| r.parse().ok())
                .unwrap_or(0.0);
            rates.push((rows, rate));
        }
        for w in rates.windows(2) {
            let ((a, ra), (b, rb)) = (w[0], w[1]);
            println!(
                "{engine}: {a} → {b} rows: rows/s × {:.3} (linear within 20%: {})",
                rb / ra,
                if rb / ra >= 0.8 { "yes" } else { "no" }
            );
        }
    }
}

fn one(rows: u64, batch: u64, engine: &str) {
    let l = harness(rows, batch, engine == "hosted");
    println!(
        "{engine:<7} {rows:<11} {:<9.1} {:<11.0} {:<16.1} {:<15} {:.1}",
        l.secs,
        l.rows_per_sec,
        l.harness_peak_mb,
        l.engine_peak_mb
            .map_or_else(|| "in process".to_owned(), |m| format!("{m:.1}")),
        l.file_mb
    );
}

fn main() {
    // A hosted run starts its engine host as this binary again: serve it, and nothing else.
    stress_core::serve_engine_host();
    let bench = std::env::args().any(|a| a == "--bench");
    let batch: u64 = arg("--batch")
        .and_then(|b| b.parse().ok())
        .unwrap_or(bulk::DEFAULT_BATCH);
    // Syscalls on a file cost more in a process of several threads (the kernel's file
    // references): every measurement here runs in one, like the harness's users.
    let parked = std::thread::spawn(std::thread::park);
    if let Some(rows) = arg("--one").and_then(|r| r.parse().ok()) {
        one(rows, batch, &arg("--engine").unwrap_or_else(|| "local".into()));
    } else if let Some(sizes) = arg("--scale") {
        let sizes: Vec<u64> = sizes.split(',').map(|s| s.parse().unwrap()).collect();
        let engines = arg("--engines").unwrap_or_else(|| "local,hosted".into());
        scale(&sizes, batch, &engines.split(',').collect::<Vec<_>>());
    } else if bench {
        let rows = arg("--compare").and_then(|r| r.parse().ok()).unwrap_or(10_000_000);
        let pairs = arg("--pairs").and_then(|p| p.parse().ok()).unwrap_or(5);
        compare(rows, batch, pairs);
    } else {
        compare(20_000, 1_000, 1);
        scale(&[20_000, 40_000], 1_000, &["local", "hosted"]);
    }
    parked.thread().unpark();
    let _ = parked.join();
}
