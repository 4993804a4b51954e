//! The run's network proxy (`stress_core::netproxy`, in place in runs with a `net-*` fault):
//! what it costs with no fault under way. One managed PostgreSQL over TCP; alternating A B, B A a
//! workload of 8 users whose op is one round trip (`SELECT $1::int`, the cheapest statement, so
//! that the proxy's share is the largest) straight to the server, then through a proxy in the same
//! process; ops/s, mean latency and the process's CPU per 1,000 ops (the proxy's threads
//! included) per pair, and the medians.
//!
//! `cargo bench -p stress-postgres --bench netproxy` (here, not in `stress-bench`, so that it
//! builds without the Hyper crates); `cargo test --benches` runs one brief pair.

use std::time::Duration;

use stress_core::netproxy::NetProxy;
use stress_core::prelude::*;
use stress_core::{Adapter, StartContext};
use stress_postgres::Postgres;

const PASSWORD: &str = "netproxy-side-by-side";

/// Whether `cargo bench` asked for the full measurement (`--bench`), not the brief smoke run.
fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// CPU seconds (user + system) this process has used so far: the users' and the proxy's.
fn own_cpu_seconds() -> f64 {
    stress_core::monitor::read_process("self").map_or(0.0, |p| p.cpu_seconds)
}

fn round_trip(u: &mut User<Postgres>) -> OpResult {
    let x = u.rng().random_range(0..1_000_000);
    let rows = u.conn().query("SELECT $1::int", &[Value::Int(x)])?;
    std::hint::black_box(&rows[0][0]);
    Ok(Outcome::rows(1))
}

/// Runs the workload against `port`; returns (ops/s, mean latency µs, CPU s per 1k ops).
fn run(port: u16, d: Duration) -> (f64, f64, f64) {
    let dsn = format!("host=127.0.0.1 port={port} user=postgres password={PASSWORD} dbname=stress_0");
    let w = Workload::new(Postgres::dsn(dsn)).class(UserClass::new("client", 8).read("select", 1.0, round_trip));
    let cpu0 = own_cpu_seconds();
    let s = Runner::new("netproxy").seed(7).duration(d).run(w).unwrap().summary;
    let cpu = own_cpu_seconds() - cpu0;
    assert_eq!(s.failed_ops, 0, "{:?}", s.errors.first());
    (
        s.ops_per_sec,
        s.latency_us.mean,
        cpu * 1000.0 / s.total_ops.max(1) as f64,
    )
}

fn main() {
    let mut server = Postgres::managed()
        .tcp(true)
        .password(PASSWORD)
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
    let port = server.server_port().unwrap();
    let proxy = NetProxy::start(([127, 0, 0, 1], port).into()).expect("the proxy");
    let (secs, pairs) = if full() { (10, 5) } else { (1, 1) };
    let d = Duration::from_secs(secs);
    let (mut direct, mut proxied) = (Vec::new(), Vec::new());
    println!(
        "| pair | direct ops/s | proxied ops/s | ratio | direct mean µs | proxied mean µs | CPU s/1k ops (direct / proxied) |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for pair in 1..=pairs {
        // A B, then B A: the order alternates, so that neither side always runs first.
        let (a, b) = if pair % 2 == 1 {
            let a = run(port, d);
            (a, run(proxy.addr().port(), d))
        } else {
            let b = run(proxy.addr().port(), d);
            (run(port, d), b)
        };
        println!(
            "| {pair} | {:.0} | {:.0} | {:.3} | {:.0} | {:.0} | {:.4} / {:.4} |",
            a.0,
            b.0,
            b.0 / a.0,
            a.1,
            b.1,
            a.2,
            b.2
        );
        direct.push(a);
        proxied.push(b);
    }
    let m = |v: &[(f64, f64, f64)], f: fn(&(f64, f64, f64)) -> f64| median(v.iter().map(f).collect());
    let ratios: Vec<f64> = direct.iter().zip(&proxied).map(|(a, b)| b.0 / a.0).collect();
    println!(
        "| median | {:.0} | {:.0} | {:.3} | {:.0} | {:.0} | {:.4} / {:.4} |",
        m(&direct, |r| r.0),
        m(&proxied, |r| r.0),
        median(ratios),
        m(&direct, |r| r.1),
        m(&proxied, |r| r.1),
        m(&direct, |r| r.2),
        m(&proxied, |r| r.2)
    );
    drop(proxy);
    server.stop().expect("the server stops");
}
