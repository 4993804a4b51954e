//! The Hyper adapter against a real hyperd it starts itself (`HYPERD_PATH`, or the
//! `tableauhyperapi` Python package; `scripts/install-hyperd` installs one).

#[path = "../../../tests/support/other_account.rs"]
mod other_account;
use other_account::{is_root, psql_as_nobody};

use std::path::Path;

use stress_core::sql::{ColumnType, SqlConn, TableDef, Value};
use stress_core::{Adapter, StartContext};
use stress_hyper::{DataFormat, Hyper, HyperConn, Transport};

fn ctx(databases: usize, out: &Path) -> StartContext<'_> {
    StartContext {
        databases,
        out_dir: Some(out),
        seed: 0,
        params: stress_core::params::Params::none(),
        setup: true,
        teardown: true,
        faults: &[],
    }
}

fn alive(pid: u32) -> bool {
    stress_core::monitor::read_process(&pid.to_string()).is_some_and(|p| p.state != 'Z')
}

/// hyperd processes whose command line mentions `needle` (to find orphans of a run).
fn hyperds_mentioning(needle: &str) -> Vec<u32> {
    stress_core::monitor::pids_with_cmdline(needle)
        .into_iter()
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).contains("hyperd"))
        })
        .collect()
}

fn items() -> TableDef {
    TableDef::new("items")
        .column("id", ColumnType::Int)
        .column("small", ColumnType::SmallInt)
        .column("big", ColumnType::BigInt)
        .column("price", ColumnType::Double)
        .column("name", ColumnType::Text)
        .column("active", ColumnType::Bool)
        .nullable("at", ColumnType::Timestamp)
}

fn item(i: i32) -> Vec<Value> {
    vec![
        Value::Int(i),
        Value::SmallInt((i % 100) as i16),
        Value::BigInt(i64::from(i) << 33),
        Value::Double(f64::from(i) / 8.0),
        Value::Text(format!("item-{i}'s")),
        Value::Bool(i % 3 == 0),
        if i % 10 == 0 {
            Value::Null
        } else {
            Value::Timestamp(1_700_000_000_123_456 + i64::from(i))
        },
    ]
}

/// Every type, both insert paths and both read paths return what went in.
#[test]
fn the_sql_layer_round_trips_in_every_format_and_transport() {
    for (transport, format) in [
        (Transport::LibPq, DataFormat::HyperBinary),
        (Transport::Grpc, DataFormat::Arrow),
        (Transport::LibPq, DataFormat::Arrow),
        (Transport::Grpc, DataFormat::HyperBinary),
    ] {
        let out = tempfile::tempdir().unwrap();
        let mut h = Hyper::managed().transport(transport).data_format(format);
        h.start(&ctx(2, out.path())).unwrap();
        let pid = h.hyperd_pid().unwrap();
        assert!(alive(pid));
        let mut c: HyperConn = h.connect(0).unwrap();
        assert_eq!((c.transport(), c.data_format()), (transport, format));
        c.create_table(&items(), false).unwrap();
        let rows: Vec<Vec<Value>> = (0..500).map(item).collect();
        assert_eq!(c.bulk_insert(&items(), &rows).unwrap(), 500);
        // A single-row INSERT with parameters, NULL among them.
        let mut one = item(1000);
        one[6] = Value::Null;
        assert_eq!(c.execute(&items().insert_sql(), &one).unwrap(), 1);
        let back = c
            .query(
                "SELECT id, small, big, price, name, active, at FROM items WHERE id >= $1 ORDER BY id",
                &[Value::Int(0)],
            )
            .unwrap();
        let mut want = rows.clone();
        want.push(one);
        assert_eq!(back, want, "{transport:?}/{format:?}");
        assert_eq!(c.count_rows("items").unwrap(), 501);
        // Temporary tables stay on this session, whatever the transport.
        let scratch = TableDef::new("scratch").column("id", ColumnType::Int);
        c.create_table(&scratch, true).unwrap();
        c.bulk_insert(&scratch, &[vec![Value::Int(1)], vec![Value::Int(2)]])
            .unwrap();
        assert_eq!(c.count_rows("scratch").unwrap(), 2);
        c.drop_table("scratch").unwrap();
        // Databases are separate files.
        let mut other = h.connect(1).unwrap();
        assert!(other.count_rows("items").is_err());
        let files = h.database_paths().to_vec();
        assert!(
            files.iter().all(|p| p.starts_with(out.path()) && p.is_file()),
            "{files:?}"
        );
        drop((c, other));
        h.stop().unwrap();
        assert!(!alive(pid), "hyperd stopped");
        assert!(files.iter().all(|p| !p.exists()), "databases removed");
        assert!(
            out.path().join("hyperd").read_dir().unwrap().count() > 0,
            "the log stays"
        );
    }
}

#[test]
fn bad_input_is_one_clear_error_and_leaves_no_hyperd() {
    let out = tempfile::tempdir().unwrap();
    let tag = out.path().to_string_lossy().into_owned();

    // A setting hyperd rejects: its own words.
    let mut h = Hyper::managed().memory_limit("banana");
    let e = h.start(&ctx(1, out.path())).unwrap_err().to_string();
    assert!(
        e.contains("hyperd failed to start") && e.contains("memory_limit"),
        "{e}"
    );
    assert!(!e.contains('\n'), "one line: {e}");
    drop(h);

    // An unknown setting (strict settings mode).
    let mut h = Hyper::managed().setting("no_such_setting", "1");
    let e = h.start(&ctx(1, out.path())).unwrap_err().to_string();
    assert!(e.contains("no_such_setting"), "{e}");
    drop(h);

    // hyperd missing, or not executable.
    let mut h = Hyper::managed().hyperd(out.path().join("missing"));
    let e = h.start(&ctx(1, out.path())).unwrap_err().to_string();
    assert!(
        e.contains("hyperd not found") && e.contains("pip install tableauhyperapi"),
        "{e}"
    );
    let fake = out.path().join("hyperd-fake");
    std::fs::write(&fake, "not a program").unwrap();
    let mut h = Hyper::managed().hyperd(&fake);
    let e = h.start(&ctx(1, out.path())).unwrap_err().to_string();
    assert!(e.contains("not executable") && e.contains("chmod +x"), "{e}");

    // A port in use.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let mut h = Hyper::managed().port(port);
    let e = h.start(&ctx(1, out.path())).unwrap_err().to_string();
    assert!(e.contains("hyperd failed to start"), "{e}");
    assert!(
        e.contains(&port.to_string()) || e.to_lowercase().contains("address"),
        "{e}"
    );
    drop(h);

    // A database file that is not a Hyper file.
    let dbs = out.path().join("dbs");
    std::fs::create_dir_all(&dbs).unwrap();
    std::fs::write(dbs.join("db_0.hyper"), "this is not a database").unwrap();
    let mut h = Hyper::managed().database_dir(&dbs);
    let e = h.start(&ctx(1, out.path())).unwrap_err().to_string();
    assert!(
        e.contains("db_0.hyper") && e.contains("not a Hyper database file"),
        "{e}"
    );
    drop(h);

    // A bad environment knob.
    let mut h = Hyper::managed().env_vars(|k| (k == "STRESS_DATA_FORMAT").then(|| "csv".into()));
    let e = h.start(&ctx(1, out.path())).unwrap_err().to_string();
    assert!(
        e.contains("STRESS_DATA_FORMAT=csv") && e.contains("hyperbinary or arrow"),
        "{e}"
    );

    assert_eq!(hyperds_mentioning(&tag), Vec::<u32>::new(), "no orphaned hyperd");
}

/// Set in the child process the kill test re-runs itself as.
const KILLED_HARNESS: &str = "STRESS_TEST_KILLED_HYPER_HARNESS";

/// A harness SIGKILLed with a managed hyperd leaves no hyperd and no temporary directory.
#[test]
fn a_harness_killed_with_sigkill_leaves_no_hyperd_and_no_temporary_files() {
    use std::io::BufRead;
    if std::env::var_os(KILLED_HARNESS).is_some() {
        let mut h = Hyper::managed();
        h.start(&StartContext {
            databases: 1,
            out_dir: None,
            seed: 0,
            params: stress_core::params::Params::none(),
            setup: true,
            teardown: true,
            faults: &[],
        })
        .unwrap();
        let temp = h.log_dir().unwrap().parent().unwrap().to_owned();
        println!("\nready {} {}", h.hyperd_pid().unwrap(), temp.display());
        std::thread::sleep(std::time::Duration::from_secs(600));
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_harness_killed_with_sigkill_leaves_no_hyperd_and_no_temporary_files",
            "--nocapture",
        ])
        .env(KILLED_HARNESS, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let (pid, temp) = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            let rest = l.strip_prefix("ready ")?;
            let (pid, dir) = rest.split_once(' ')?;
            Some((pid.parse::<u32>().ok()?, std::path::PathBuf::from(dir)))
        })
        .expect("the child started hyperd");
    assert!(alive(pid) && temp.is_dir());
    child.kill().unwrap();
    child.wait().unwrap();
    // A hang guard only.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while (alive(pid) || temp.exists()) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive(pid), "hyperd {pid} outlived its harness");
    assert!(!temp.exists(), "{} was left behind", temp.display());
}

/// The TCP ports process `pid` listens on (its sockets' inodes, found in `/proc/net/tcp*` in
/// state LISTEN).
fn tcp_listeners(pid: u32) -> Vec<u16> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let link = std::fs::read_link(e.path()).ok()?;
            let link = link.to_str()?;
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter_map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (cols.get(1)?, cols.get(3)?, cols.get(9)?);
            (*state == "0A" && inodes.iter().any(|i| i == inode))
                .then(|| u16::from_str_radix(local.rsplit(':').next()?, 16).ok())
                .flatten()
        })
        .collect()
}

/// hyperd has no password setting: a managed one serves libpq on a Unix socket in a private
/// directory and on no TCP port, so another local account cannot connect; the run can.
#[test]
fn no_other_local_account_can_connect_to_a_managed_hyperd() {
    use std::os::unix::fs::PermissionsExt;
    let out = tempfile::tempdir().unwrap();
    let mut h = Hyper::managed();
    h.start(&ctx(1, out.path())).unwrap();
    let pid = h.hyperd_pid().unwrap();
    let endpoint = h.endpoint().unwrap().to_owned();
    let socket_dir = endpoint
        .strip_prefix("tab.domain://")
        .and_then(|e| e.strip_suffix("/domain/.s.PGSQL.7483"))
        .unwrap_or_else(|| panic!("a Unix socket by default: {endpoint}"));
    let socket_dir = Path::new(socket_dir);
    assert!(socket_dir.join(".s.PGSQL.7483").exists(), "{endpoint}");
    let mode = std::fs::metadata(socket_dir).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "the socket's directory {} is private: {mode:o}",
        socket_dir.display()
    );
    assert_eq!(tcp_listeners(pid), Vec::<u16>::new(), "hyperd listens on no TCP port");
    if is_root() {
        // The socket is there, but another account cannot reach it.
        let (ok, said) = psql_as_nobody(socket_dir.to_str().unwrap(), 7483);
        assert!(!ok && said.contains("Permission denied"), "{said}");
    }
    // The run's own connections get in.
    let mut c = h.connect(0).unwrap();
    assert_eq!(c.query_scalar("SELECT 1", &[]).unwrap(), Value::Int(1));
    drop(c);
    h.stop().unwrap();
    assert!(!socket_dir.exists(), "{} was left behind", socket_dir.display());

    // A port on request: TCP, open to every local account (documented), the check above sees it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut h = Hyper::managed().port(port);
    h.start(&ctx(1, out.path())).unwrap();
    assert_eq!(tcp_listeners(h.hyperd_pid().unwrap()), vec![port]);
    assert_eq!(h.endpoint(), Some(format!("127.0.0.1:{port}").as_str()));
    h.stop().unwrap();
}

/// hyperd's gRPC takes no credentials either: with `transport=grpc` it listens on a Unix socket
/// beside libpq's, in the same private directory, and on no TCP port; another local account
/// cannot connect to it, the run's reads go over it.
#[test]
fn no_other_local_account_can_reach_a_managed_hyperds_grpc_listener() {
    let out = tempfile::tempdir().unwrap();
    let mut h = Hyper::managed().transport(Transport::Grpc);
    h.start(&ctx(1, out.path())).unwrap();
    let pid = h.hyperd_pid().unwrap();
    assert_eq!(
        tcp_listeners(pid),
        Vec::<u16>::new(),
        "hyperd listens on no TCP port, gRPC on"
    );
    let endpoint = h.endpoint().unwrap().to_owned();
    let socket_dir = Path::new(
        endpoint
            .strip_prefix("tab.domain://")
            .and_then(|e| e.strip_suffix("/domain/.s.PGSQL.7483"))
            .unwrap(),
    )
    .to_owned();
    let grpc = socket_dir.join("grpc:0");
    // Ours can connect: the socket is there and listening.
    std::os::unix::net::UnixStream::connect(&grpc)
        .unwrap_or_else(|e| panic!("the gRPC socket {}: {e}", grpc.display()));
    if is_root() {
        use std::os::unix::process::CommandExt;
        let knock = std::process::Command::new("perl")
            .args([
                "-MIO::Socket::UNIX",
                "-e",
                "IO::Socket::UNIX->new(Peer => $ARGV[0]) or die \"$!\\n\"; print \"in\\n\"",
            ])
            .arg(&grpc)
            .current_dir("/")
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&knock.stderr);
        assert!(!knock.status.success() && said.contains("Permission denied"), "{said}");
    }
    // The run's reads go over it, and over it again after a kill (hyperd binds the same path).
    let mut c = h.connect(0).unwrap();
    assert_eq!(c.transport(), Transport::Grpc);
    assert_eq!(c.query_scalar("SELECT 1", &[]).unwrap(), Value::Int(1));
    drop(c);
    let kill = stress_core::fault::PlannedFault::new(stress_core::fault::FaultKind::Kill, Some(0));
    h.inject(&kill, &|| false).unwrap();
    assert_ne!(h.hyperd_pid(), Some(pid));
    let mut c = h.connect(0).unwrap();
    assert_eq!(c.query_scalar("SELECT 2", &[]).unwrap(), Value::Int(2));
    drop(c);
    h.stop().unwrap();
    assert!(!grpc.exists(), "{} was left behind", grpc.display());
}

#[test]
fn a_paused_hyperd_shows_in_the_latencies_and_comes_back() {
    use std::time::Duration;
    use stress_core::fault::FaultKind;
    use stress_core::prelude::{Outcome, Runner, User, UserClass, Workload};
    let probe = |u: &mut User<Hyper>| {
        let c: &mut HyperConn = u.conn();
        Ok(Outcome::rows(c.query_count("SELECT 1", &[])?))
    };
    let w = Workload::new(Hyper::managed()).class(UserClass::new("reader", 2).read("probe", 1.0, probe));
    let r = Runner::new("hyper_pause")
        .seed(2)
        .duration(Duration::from_secs(4))
        .fault("pause:1500ms@at=1s")
        .run(w)
        .unwrap();
    let s = &r.summary;
    assert!(s.passed, "{:?} {:?}", s.failures, s.errors.first());
    let f = &s.faults[0];
    assert_eq!(
        (f.kind, f.due_s, f.error.as_deref()),
        (FaultKind::Pause, Some(1.0), None)
    );
    assert!(f.at_s.is_some_and(|a| a >= 1.0), "{f:?}");
    assert!(f.target.starts_with("hyperd (pid "), "{}", f.target);
    assert!(f.recovery_ms.is_some(), "hyperd accepted connections again");
    assert!(s.latency_us.max >= 1_000_000, "{:?}", s.latency_us);
}

/// hyperd killed (and restarted) under a write-heavy workload whose writes the checker tracks:
/// it comes back on the same databases every time, the users reconnect, and what it acknowledged
/// is measured (Hyper's durability is what this test writes down, see the README).
#[test]
fn a_killed_hyperd_comes_back_on_its_databases_and_the_checker_measures_it() {
    use std::time::Duration;
    use stress_core::fault::FaultKind;
    use stress_core::prelude::{Outcome, Runner, SqlConn, User, UserClass, Value, Workload};
    let insert = |u: &mut User<Hyper>| {
        let k = u.begin_write();
        u.conn().execute("INSERT INTO kv VALUES ($1)", &[Value::BigInt(k)])?;
        u.acknowledge_write(k);
        Ok(Outcome::rows(1))
    };
    let w = Workload::new(Hyper::managed())
        .setup(|db: &mut HyperConn, _| db.batch("CREATE TABLE kv (k BIGINT NOT NULL)"))
        .class(UserClass::new("writer", 3).write("insert", 1.0, insert))
        .durability(|db: &mut HyperConn, seen| {
            for row in db.query("SELECT k FROM kv", &[])? {
                if let Some(Value::BigInt(k)) = row.first() {
                    seen(*k);
                }
            }
            Ok(())
        });
    // A clean restart first: hyperd detaches the database as it shuts down, so the setup's
    // table is in its file before any kill (a kill loses everything since the last attach, the
    // schema too, and when hyperd last persisted on its own is a matter of speed).
    let r = Runner::new("hyper_kill")
        .seed(4)
        .duration(Duration::from_secs(10))
        .fault("restart@at=1s")
        .fault("kill@at=3s")
        .fault("kill@at=5s")
        .run(w)
        .unwrap();
    let s = &r.summary;
    let kinds: Vec<FaultKind> = s.faults.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [FaultKind::Restart, FaultKind::Kill, FaultKind::Kill],
        "{:?}",
        s.faults
    );
    // A kill that came due while the machine was still busy with the one before may find the
    // users' time over: it is then not injected, and says so.
    let injected: Vec<_> = s.faults.iter().filter(|f| f.skipped.is_none()).collect();
    assert!(injected.len() >= 2, "the restart and a kill at least: {:?}", s.faults);
    let mut pids = Vec::new();
    for f in &injected {
        assert_eq!(f.error, None, "{f:?}");
        assert!(f.recovery_ms.is_some(), "{f:?}");
        pids.push(f.target.clone());
    }
    pids.dedup();
    assert_eq!(pids.len(), injected.len(), "each fault hit another hyperd: {pids:?}");
    assert!(
        s.stop_reason != stress_core::StopReason::CrashDetected,
        "a fault is not a crash"
    );
    assert!(s.interrupted_ops > 0 || s.failed_ops == 0, "{:?}", s.errors.first());
    let d = s.durability.as_ref().expect("tracked");
    println!("hyper durability: {d:?}");
    assert!(d.acknowledged > 0 && d.present > 0, "{d:?}");
    assert_eq!(d.unexpected, 0, "{d:?}");
}

/// Set in the child process the watchdog test re-runs itself as: the run's output directory.
const KILLED_AFTER_KILL: &str = "STRESS_TEST_HYPER_KILLED_AFTER_KILL";

/// A hyperd started again by a `kill` fault is guarded by a watchdog of its own: the harness
/// killed after it leaves no hyperd behind, and the old watchdog, let go, did nothing meanwhile.
#[test]
fn a_harness_killed_after_a_kill_fault_leaves_no_hyperd_behind() {
    use stress_core::fault::{FaultKind, PlannedFault};
    if let Some(out) = std::env::var_os(KILLED_AFTER_KILL) {
        let out = std::path::PathBuf::from(out);
        let mut h = Hyper::managed();
        h.start(&ctx(1, &out)).unwrap();
        let before = h.hyperd_pid().unwrap();
        let kill = PlannedFault {
            kind: FaultKind::Kill,
            at_ms: Some(0),
            hold_ms: None,
            arg: None,
        };
        h.inject(&kill, &|| false).unwrap();
        let after = h.hyperd_pid().unwrap();
        assert_ne!(before, after);
        let mut c = h.connect(0).unwrap();
        assert_eq!(c.query_scalar("SELECT 1", &[]).unwrap(), Value::Int(1));
        println!("\nready {before} {after}");
        std::thread::sleep(std::time::Duration::from_secs(600));
        return;
    }
    use std::io::BufRead;
    let out = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_harness_killed_after_a_kill_fault_leaves_no_hyperd_behind",
            "--nocapture",
        ])
        .env(KILLED_AFTER_KILL, out.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let line = std::io::BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ready ").map(str::to_owned))
        .expect("the child said it was ready");
    let pids: Vec<u32> = line.split_whitespace().map(|p| p.parse().unwrap()).collect();
    let (before, after) = (pids[0], pids[1]);
    assert!(!alive(before) && alive(after), "the kill fault replaced hyperd");
    child.kill().unwrap();
    child.wait().unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while alive(after) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive(after), "hyperd {after} outlived its harness");
}
