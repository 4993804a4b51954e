//! Side by side with pgbench on one managed PostgreSQL: `pgbench -i -s 10`, then alternating
//! A B A B pgbench and a cargo-stress workload running the same transaction (select-only, then
//! tpcb-like) through the SQL layer, 8 clients each, 5 pairs; TPS, latency, client CPU per
//! 1,000 transactions, ratio per pair. `STRESS_PG_DRIVER=postgres` runs the workload on the
//! `postgres` crate instead of the wire client. With `--tls` the server takes TLS connections
//! only (a certificate made for the run) and both clients connect with `sslmode=require`.
//!
//! `cargo bench -p stress-bench --bench pgbench [-- --tls] [--pairs N]`

use std::process::Command;
use std::time::Duration;

use stress_bench::{arg, full, median, own_cpu_seconds};
use stress_core::prelude::*;
use stress_core::{Adapter, StartContext};
use stress_postgres::{PgConn, Postgres};

struct Pg {
    port: u16,
    /// TLS for both clients (`sslmode=require`): the server takes nothing else.
    tls: bool,
}

impl Pg {
    fn sslmode(&self) -> &'static str {
        if self.tls { "require" } else { "prefer" }
    }

    fn dsn(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres password={PASSWORD} dbname=stress_0 sslmode={}",
            self.port,
            self.sslmode()
        )
    }
}

/// Runs pgbench; returns (tps, average latency ms, client CPU seconds).
fn pgbench(pg: &Pg, args: &[&str]) -> (f64, f64, f64) {
    // The shell reports the CPU of the pgbench it waited for (cutime + cstime of its own stat).
    let cmd = format!(
        "PGPASSWORD={PASSWORD} PGSSLMODE={} pgbench -h 127.0.0.1 -p {} -U postgres {} stress_0 > \"$OUT\" 2>&1; cat /proc/$$/stat",
        pg.sslmode(),
        pg.port,
        args.join(" ")
    );
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env("OUT", out_file.path())
        .output()
        .unwrap();
    let text = std::fs::read_to_string(out_file.path()).unwrap();
    let stat = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split_whitespace().collect();
    let cpu = (fields[13].parse::<f64>().unwrap() + fields[14].parse::<f64>().unwrap()) / 100.0;
    let find = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("pgbench printed no `{prefix}`: {text}"))
    };
    (find("tps = "), find("latency average = "), cpu)
}

fn select_only(u: &mut User<Postgres>) -> OpResult {
    let aid = u.rng().random_range(1..=100_000 * SCALE);
    let rows = u.conn().query(
        "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
        &[Value::Int(aid)],
    )?;
    std::hint::black_box(&rows[0][0]);
    Ok(Outcome::rows(1))
}

/// pgbench's built-in tpcb-like transaction.
fn tpcb_like(u: &mut User<Postgres>) -> OpResult {
    let r = u.rng();
    let aid = Value::Int(r.random_range(1..=100_000 * SCALE));
    let bid = Value::Int(r.random_range(1..=SCALE));
    let tid = Value::Int(r.random_range(1..=10 * SCALE));
    let delta = Value::Int(r.random_range(-5000..=5000));
    u.conn().transaction(|c: &mut PgConn| {
        c.execute(
            "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
            &[delta.clone(), aid.clone()],
        )?;
        let rows = c.query(
            "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
            std::slice::from_ref(&aid),
        )?;
        std::hint::black_box(&rows[0][0]);
        c.execute(
            "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2",
            &[delta.clone(), tid.clone()],
        )?;
        c.execute(
            "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2",
            &[delta.clone(), bid.clone()],
        )?;
        c.execute(
            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
            &[tid, bid, aid, delta],
        )?;
        Ok(())
    })?;
    Ok(Outcome::rows(5))
}

const SCALE: i32 = 10;

/// Runs the workload; returns (tps, mean latency ms, client CPU seconds).
fn ours(pg: &Pg, op: fn(&mut User<Postgres>) -> OpResult, name: &str, d: Duration) -> (f64, f64, f64) {
    let w = Workload::new(Postgres::dsn(pg.dsn())).class(UserClass::new("client", 8).write(name, 1.0, op));
    let cpu0 = own_cpu_seconds();
    let s = Runner::new(name).seed(7).duration(d).run(w).unwrap().summary;
    let cpu = own_cpu_seconds() - cpu0;
    assert_eq!(s.failed_ops, 0, "{:?}", s.errors.first());
    (s.ops_per_sec, s.latency_us.mean / 1000.0, cpu)
}

/// The managed server's password for this benchmark (it listens on loopback only).
const PASSWORD: &str = "pgbench-side-by-side";

fn main() {
    // pgbench is another process: it reaches the server over TCP, with the run's password.
    let tls = std::env::args().any(|a| a == "--tls");
    let mut server = Postgres::managed()
        .tcp(true)
        .tls(tls)
        .password(PASSWORD)
        .setting("shared_buffers", "256MB")
        .setting("max_connections", "50");
    server
        .start(&StartContext {
            databases: 1,
            out_dir: None,
            seed: 0,
            params: stress_core::params::Params::none(),
            setup: true,
            teardown: true,
            faults: &[],
        })
        .expect("a managed PostgreSQL");
    let pg = Pg {
        port: server.server_port().unwrap(),
        tls,
    };
    let (secs, pairs, scale) = if full() { (20, 5, SCALE) } else { (2, 1, SCALE) };
    // `-- --pairs N`: fewer (or more) pairs than the full run's 5.
    let pairs = arg("--pairs").and_then(|n| n.parse().ok()).unwrap_or(pairs);
    let init = Command::new("pgbench")
        .env("PGPASSWORD", PASSWORD)
        .env("PGSSLMODE", pg.sslmode())
        .args([
            "-i",
            "-q",
            "-s",
            &scale.to_string(),
            "-h",
            "127.0.0.1",
            "-p",
            &pg.port.to_string(),
            "-U",
            "postgres",
            "stress_0",
        ])
        .output()
        .expect("pgbench on PATH");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let t = secs.to_string();
    for (name, args, op) in [
        (
            "select-only",
            vec!["-S", "-M", "prepared", "-c", "8", "-j", "8", "-T", &t],
            select_only as fn(&mut User<Postgres>) -> OpResult,
        ),
        (
            "tpcb-like",
            vec!["-M", "prepared", "-c", "8", "-j", "8", "-T", &t],
            tpcb_like,
        ),
    ] {
        let (mut ratios, mut a_tps, mut b_tps, mut a_cpu, mut b_cpu) = (vec![], vec![], vec![], vec![], vec![]);
        for pair in 1..=pairs {
            let (ta, la, ca) = pgbench(&pg, &args);
            let (tb, lb, cb) = ours(&pg, op, name, Duration::from_secs(secs));
            let (ka, kb) = (ca / (ta * secs as f64) * 1000.0, cb / (tb * secs as f64) * 1000.0);
            println!(
                "{name}: pair {pair}: pgbench {ta:.0} tps {la:.3} ms {ka:.4} cpu-s/1k | workload {tb:.0} tps {lb:.3} ms {kb:.4} cpu-s/1k | tps ratio {:.3}, cpu ratio {:.2}",
                tb / ta,
                kb / ka
            );
            ratios.push(tb / ta);
            a_tps.push(ta);
            b_tps.push(tb);
            a_cpu.push(ka);
            b_cpu.push(kb);
        }
        println!(
            "{name}: median pgbench {:.0} tps, workload {:.0} tps, tps ratio {:.3}; client cpu-s per 1k txn pgbench {:.4}, workload {:.4} ({:.2}x)",
            median(a_tps),
            median(b_tps),
            median(ratios),
            median(a_cpu.clone()),
            median(b_cpu.clone()),
            median(b_cpu) / median(a_cpu)
        );
    }
    server.stop().unwrap();
}
