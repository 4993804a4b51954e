//! The durability workload against a PostgreSQL that takes TLS connections only, made here
//! (not by the adapter's managed server): `initdb`, a certificate authority and a server
//! certificate of this test's own, `ssl=on`, `hostnossl … reject`. The run passes with
//! `sslmode=require` and with `verify-full` against the right authority, on both drivers, and
//! is refused in one line naming the certificate problem with the wrong authority.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};

/// The harness exactly as this build made it (`CARGO_BIN_EXE_durability-stress`).
fn harness_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_durability-stress"));
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") || k.starts_with("PG") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// PostgreSQL's bin directory.
fn bindir() -> PathBuf {
    std::env::var_os("PG_BINDIR").map(PathBuf::from).unwrap_or_else(|| {
        let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries in /usr/lib/postgresql (or PG_BINDIR)")
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|b| b.join("initdb").is_file())
            .collect();
        dirs.sort();
        dirs.pop().expect("PostgreSQL's bin directory")
    })
}

/// The account the server runs as: the `postgres` account when we are root (PostgreSQL
/// refuses root), else ours.
fn server_account() -> Option<(u32, u32)> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .is_some_and(|v| v.split_whitespace().next() == Some("0"));
    if !root {
        return None;
    }
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f[0] == "postgres")
        .map(|f| (f[2].parse().unwrap(), f[3].parse().unwrap()))
}

fn as_account(cmd: &mut Command, account: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = account {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

/// A TLS-only server in a directory of its own, stopped (by its pid) when dropped.
struct TlsServer {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
    ca: PathBuf,
    wrong_ca: PathBuf,
}

const PASSWORD: &str = "tls-test-pw";

impl TlsServer {
    fn start() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let account = server_account();
        let dir = tempfile::tempdir().unwrap();
        let chown = |p: &Path| {
            if let Some((uid, gid)) = account {
                std::os::unix::fs::chown(p, Some(uid), Some(gid)).unwrap();
            }
        };
        chown(dir.path());
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        chown(&pwfile);
        let out = as_account(&mut Command::new(bindir().join("initdb")), account)
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--no-sync", "--no-instructions", "--auth-local=trust"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .env("LC_ALL", "C")
            .output()
            .unwrap();
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));

        // This test's own authority and the server's certificate; another authority that
        // signed nothing of the server's.
        let authority = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::default();
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            p.key_usages = vec![KeyUsagePurpose::KeyCertSign];
            p.distinguished_name.push(DnType::CommonName, name);
            let cert = p.self_signed(&key).unwrap();
            (cert, Issuer::new(p, key))
        };
        let (ca_cert, issuer) = authority("tls test CA");
        let (wrong_cert, _) = authority("a CA that signed nothing here");
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        let write = |name: &str, text: &str, mode: u32| {
            use std::os::unix::fs::PermissionsExt;
            let p = dir.path().join(name);
            std::fs::write(&p, text).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            chown(&p);
            p
        };
        write("server.crt", &cert.pem(), 0o644);
        write("server.key", &key.serialize_pem(), 0o600);
        let ca = write("ca.crt", &ca_cert.pem(), 0o644);
        let wrong_ca = write("wrong-ca.crt", &wrong_cert.pem(), 0o644);
        // TLS or nothing over TCP.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostnossl all all 0.0.0.0/0 reject\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n",
        )
        .unwrap();

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = std::fs::File::create(dir.path().join("postgres.log")).unwrap();
        chown(&dir.path().join("postgres.log"));
        let child = as_account(&mut Command::new(bindir().join("postgres")), account)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "ssl=on", "-c", "fsync=off"])
            .arg("-c")
            .arg(format!("ssl_cert_file={}", dir.path().join("server.crt").display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", dir.path().join("server.key").display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        let server = Self {
            dir,
            child,
            port,
            ca,
            wrong_ca,
        };
        // Ready when pg_isready says so over the socket (bounded: a server that never comes
        // up fails the test with its log).
        for _ in 0..600 {
            let ready = Command::new(bindir().join("pg_isready"))
                .args(["-q", "-h"])
                .arg(server.dir.path())
                .args(["-p", &port.to_string()])
                .status()
                .unwrap()
                .success();
            if ready {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the TLS server did not start: {}", server.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }

    /// A new database on the server (through its socket), for one run.
    fn database(&self, name: &str) -> &Self {
        let out = Command::new(bindir().join("psql"))
            .arg("-h")
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-U", "postgres", "-d", "postgres", "-c"])
            .arg(format!("CREATE DATABASE {name}"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        self
    }

    /// A connection string for `db`, to `localhost` unless `tls` names the host.
    fn dsn(&self, db: &str, tls: &str) -> String {
        let host = if tls.split_whitespace().any(|w| w.starts_with("host=")) {
            ""
        } else {
            "host=localhost "
        };
        format!(
            "{host}port={} user=postgres password={PASSWORD} dbname={db} {tls}",
            self.port
        )
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        // A fast shutdown of this server's postmaster, by its pid.
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

fn run(dsn: &str, driver: &str, out: &Path) -> Output {
    harness_command()
        .args(["durability_postgres", "--exact", "--ignored"])
        .env("STRESS_PG_DSN", dsn)
        .env("STRESS_PG_DRIVER", driver)
        .env("STRESS_DURATION", "3s")
        .env("STRESS_SEED", "7")
        .env("STRESS_OUTPUT_DIR", out)
        .output()
        .unwrap()
}

fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn durability_runs_over_tls_only_and_a_wrong_authority_is_refused_naming_it() {
    let server = TlsServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let ca = server.ca.display().to_string();
    let cases = [
        ("wire", "sslmode=require".to_owned()),
        ("postgres", "sslmode=require".to_owned()),
        ("wire", format!("sslmode=verify-full sslrootcert={ca}")),
        ("postgres", format!("sslmode=verify-full sslrootcert={ca}")),
        // verify-ca checks the chain, not the name: a host the certificate does not name.
        (
            "wire",
            format!("hostaddr=127.0.0.1 host=db.invalid sslmode=verify-ca sslrootcert={ca}"),
        ),
        (
            "postgres",
            format!("hostaddr=127.0.0.1 host=db.invalid sslmode=verify-ca sslrootcert={ca}"),
        ),
    ];
    for (i, (driver, tls)) in cases.iter().enumerate() {
        let out = tmp.path().join(format!("ok-{i}"));
        let db = format!("ok_{i}");
        let done = run(&server.database(&db).dsn(&db, tls), driver, &out);
        assert!(
            done.status.success(),
            "{driver} {tls}: {}\n{}",
            both(&done),
            server.log()
        );
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(s["durability"]["lost"], 0, "{driver} {tls}: {}", s["durability"]);
        assert!(
            s["durability"]["acknowledged"].as_u64().unwrap() > 0,
            "{driver} {tls}: {}",
            s["durability"]
        );
        println!(
            "{driver} {tls}: passed, {} acknowledged, {} lost",
            s["durability"]["acknowledged"], s["durability"]["lost"]
        );
    }
    // The server refuses what is not TLS: the passes above were over TLS.
    let plain = run(
        &server.dsn("postgres", "sslmode=disable"),
        "wire",
        &tmp.path().join("plain"),
    );
    assert!(!plain.status.success());
    assert!(both(&plain).contains("no encryption"), "{}", both(&plain));

    // verify-full checks the name too.
    for driver in ["wire", "postgres"] {
        let done = run(
            &server.dsn(
                "postgres",
                &format!("hostaddr=127.0.0.1 host=db.invalid sslmode=verify-full sslrootcert={ca}"),
            ),
            driver,
            &tmp.path().join(format!("name-{driver}")),
        );
        let text = both(&done);
        assert!(!done.status.success(), "{driver}: {text}");
        assert!(
            text.lines()
                .any(|l| l.contains("certificate not valid for name") && l.contains("does not name the host")),
            "{driver}: {text}"
        );
    }

    // The control: an authority that signed nothing of the server's.
    let wrong = server.wrong_ca.display().to_string();
    for driver in ["wire", "postgres"] {
        let out = tmp.path().join(format!("wrong-{driver}"));
        let done = run(
            &server.dsn("postgres", &format!("sslmode=verify-full sslrootcert={wrong}")),
            driver,
            &out,
        );
        let text = both(&done);
        assert!(!done.status.success(), "{driver}: {text}");
        let line = text
            .lines()
            .find(|l| l.contains("UnknownIssuer"))
            .unwrap_or_else(|| panic!("{driver}: no line names the certificate problem: {text}"));
        assert!(
            line.contains("the server's certificate was not signed by a CA in sslrootcert")
                && line.contains(&format!("sslrootcert={wrong}")),
            "{driver}: {line}"
        );
        // The run ended at its start: the users never ran an op.
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
        assert_eq!(s["total_ops"], 0, "{driver}: {s}");
        println!("{driver}: {line}");
    }
}

#[test]
fn bad_tls_settings_are_refused_before_anything_starts_naming_the_setting() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "host=localhost sslmode=verify",
            "sslmode=`verify` is not a mode: use disable, prefer (the default), require, verify-ca or verify-full",
        ),
        (
            "host=localhost sslmode=verify-full sslrootcert=/nonexistent/ca.crt",
            "sslrootcert=/nonexistent/ca.crt cannot be read (",
        ),
        (
            "host=localhost sslmode=verify-ca",
            "sslmode=verify-ca needs sslrootcert=FILE",
        ),
    ];
    for (i, (dsn, want)) in cases.iter().enumerate() {
        let out = tmp.path().join(i.to_string());
        let done = run(dsn, "wire", &out);
        let text = both(&done);
        assert!(!done.status.success(), "{dsn}: {text}");
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(want)).collect();
        assert_eq!(lines.len(), 1, "{dsn}: one line says {want:?}: {text}");
        assert!(lines[0].contains("STRESS_PG_DSN"), "{}", lines[0]);
        assert!(!out.join("summary.json").exists(), "{dsn}: nothing ran");
    }
}
