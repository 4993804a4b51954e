//! Another local account (`nobody`) knocking on a server a run manages: shared by the adapters'
//! tests (`#[path]`), which check that it cannot get in.
#![allow(dead_code)]

/// The server's bin directory (where psql is too).
pub(crate) fn psql() -> std::path::PathBuf {
    let dir = std::env::var_os("PG_BINDIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::fs::read_dir("/usr/lib/postgresql")
                .unwrap()
                .flatten()
                .map(|e| e.path().join("bin"))
                .find(|b| b.join("psql").is_file())
                .expect("PostgreSQL's bin directory")
        });
    dir.join("psql")
}

/// `psql -c 'SELECT 1'` against `host`, as another local account (`nobody`) when we are root;
/// whether it got in, and what it said.
pub(crate) fn psql_as_nobody(host: &str, port: u16) -> (bool, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(psql());
    cmd.args([
        "-h",
        host,
        "-p",
        &port.to_string(),
        "-U",
        "postgres",
        "-d",
        "postgres",
        "-w",
    ])
    .args(["-c", "SELECT 1"])
    .env_remove("PGPASSWORD")
    .current_dir("/");
    if is_root() {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Whether this process runs as root (then `nobody` is another account it can become).
pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap_or(false)
}
