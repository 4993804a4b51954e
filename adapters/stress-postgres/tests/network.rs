//! Network faults (`net-*`) through the run's proxy, against real PostgreSQL servers.

use std::time::Duration;

use stress_core::prelude::*;
use stress_postgres::{PgConn, Postgres};

fn inserts(pg: Postgres) -> Workload<Postgres> {
    Workload::new(pg)
        .setup(|db: &mut PgConn, _| db.batch("CREATE TABLE t (x INTEGER NOT NULL)"))
        .class(
            UserClass::new("writer", 3).write("insert", 1.0, |u: &mut User<Postgres>| {
                let n = u.conn().execute("INSERT INTO t VALUES (1)", &[])?;
                Ok(Outcome::rows(n))
            }),
        )
        .think_ms(1, 5)
}

#[test]
fn network_faults_on_a_server_reached_by_no_tcp_address_are_refused_before_it_starts() {
    // A managed server without TCP: a Unix socket only.
    let e = Runner::new("net")
        .duration(Duration::from_secs(2))
        .fault("net-reset@at=1s")
        .run(inserts(Postgres::managed().tcp(false)))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("postgres cannot inject `net-reset` faults")
            && e.contains("network faults need a server the users reach over TCP"),
        "{e}"
    );
}

#[test]
fn a_partition_of_a_managed_server_over_tcp_ends_in_timeouts_and_the_users_come_back() {
    let pg = Postgres::managed()
        .tcp(true)
        .setting("fsync", "off")
        .statement_timeout(Duration::from_millis(500));
    let r = Runner::new("net")
        .seed(3)
        .duration(Duration::from_secs(6))
        .fault("net-partition:2s@at=1s")
        .run(inserts(pg))
        .unwrap();
    let s = &r.summary;
    assert_eq!(s.faults.len(), 1, "{:?}", s.faults);
    let f = &s.faults[0];
    println!("{f:?}");
    assert_eq!((f.kind, &f.error), (stress_core::fault::FaultKind::NetPartition, &None));
    assert!(f.target.starts_with("network 127.0.0.1:"), "{}", f.target);
    assert!(f.check.as_deref().unwrap().contains("3 open connections held"), "{f:?}");
    // The users' open connections were held: each timed out (500 ms + 1 s), and the new ones
    // they opened were refused until the partition ended.
    let errors: Vec<&str> = s.errors.iter().map(|e| e.message.as_str()).collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("timed out: no answer from the server in 1500 ms")),
        "{errors:?}"
    );
    assert!(f.check.as_deref().unwrap().contains("new ones refused"), "{f:?}");
    // An op succeeded after the partition: the outage closed.
    assert!(f.outage_ms.is_some() && !f.outage_open, "{f:?}");
    assert_eq!(s.stop_reason, stress_core::StopReason::DurationElapsed);
}
