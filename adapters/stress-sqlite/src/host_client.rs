//! The client half of the SQLite engine host, in the harness: starting, stopping and killing
//! the host process ([`Host`]), and a user's connection to it ([`HostConn`]). The server half,
//! in the child, is [`host_server`](crate::host_server).

use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use stress_core::OpError;
use stress_core::lifeline::Lifeline;
use stress_core::sql::{Row, Value};

use crate::host_wire::{HOST_VAR, Reply, Request, read_frame, write_frame};

/// The error of a user whose connection to the host broke: the host was killed or stopped. An
/// op that meets it may have committed (the reply was lost), so it is indeterminate.
#[derive(Debug)]
pub struct HostLost(String);

impl std::fmt::Display for HostLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the SQLite engine host went away: {}", self.0)
    }
}

impl std::error::Error for HostLost {}

/// A user's connection to the host: one socket, one SQLite connection in the host.
#[derive(Debug)]
pub(crate) struct HostConn {
    stream: UnixStream,
}

impl HostConn {
    pub(crate) fn open(
        socket: &Path,
        db: &Path,
        busy_timeout: Duration,
        pragmas: &[(String, String)],
    ) -> Result<Self, OpError> {
        let stream = UnixStream::connect(socket).map_err(|e| OpError::from(HostLost(e.to_string())))?;
        let mut conn = Self { stream };
        conn.call(Request::Open {
            path: db.to_owned(),
            busy_timeout_ms: busy_timeout.as_millis() as u64,
            pragmas: pragmas.to_vec(),
        })?;
        Ok(conn)
    }

    fn call(&mut self, request: Request) -> Result<Reply, OpError> {
        let lost = |e: std::io::Error| OpError::from(HostLost(e.to_string()));
        write_frame(&mut self.stream, &request).map_err(lost)?;
        match read_frame::<Reply>(&mut self.stream).map_err(lost)? {
            Reply::Failed {
                code: Some(code),
                message,
            } => Err(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message)).into()),
            Reply::Failed { code: None, message } => Err(OpError::msg(message)),
            reply => Ok(reply),
        }
    }

    pub(crate) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, OpError> {
        match self.call(Request::Execute {
            sql: sql.to_owned(),
            params: params.to_vec(),
        })? {
            Reply::Count(n) => Ok(n),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, OpError> {
        match self.call(Request::Query {
            sql: sql.to_owned(),
            params: params.to_vec(),
        })? {
            Reply::Rows(rows) => Ok(rows),
            other => Err(unexpected(&other)),
        }
    }

    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), OpError> {
        self.call(Request::Batch { sql: sql.to_owned() }).map(drop)
    }

    pub(crate) fn insert_all(&mut self, sql: &str, rows: &[Row]) -> Result<u64, OpError> {
        match self.call(Request::Insert {
            sql: sql.to_owned(),
            rows: rows.to_vec(),
        })? {
            Reply::Count(n) => Ok(n),
            other => Err(unexpected(&other)),
        }
    }
}

fn unexpected(reply: &Reply) -> OpError {
    OpError::msg(format!("the SQLite engine host answered out of turn: {reply:?}"))
}

/// Whether the host at `socket` answers.
pub(crate) fn answers(socket: &Path) -> bool {
    UnixStream::connect(socket).is_ok_and(|mut s| {
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        write_frame(&mut s, &Request::Ping).is_ok() && matches!(read_frame::<Reply>(&mut s), Ok(Reply::Done))
    })
}

/// The running host process.
#[derive(Debug)]
pub(crate) struct Host {
    child: Child,
    /// Closing it stops the host.
    stdin: Option<ChildStdin>,
    /// Kills the host if the harness dies without stopping it.
    lifeline: Option<Lifeline>,
}

/// How long a host may take to serve after it started.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

impl Host {
    /// Starts the host on `socket` and waits until it answers.
    /// Inside the mount namespace of `disk` if given (the databases on its size-limited
    /// filesystem, at the paths the namespace sees).
    pub(crate) fn start(socket: &Path, disk: Option<&dyn stress_core::sizedfs::Namespaced>) -> Result<Self, OpError> {
        let exe = std::env::current_exe()
            .map_err(|e| OpError::msg(format!("cannot find the harness's executable to host SQLite: {e}")))?;
        let mut command = match disk {
            Some(fs) => fs.command(&exe, None),
            None => Command::new(&exe),
        };
        let mut child = command
            .args(stress_core::host::HOST_ARGS)
            .env(HOST_VAR, socket)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Not in our process group: a Ctrl-C to the harness stops the users first, then us.
            .process_group(0)
            .spawn()
            .map_err(|e| OpError::msg(format!("cannot start the SQLite engine host {}: {e}", exe.display())))?;
        let stdin = child.stdin.take();
        // Whatever kills the harness, the host goes, and its socket's directory with it.
        let lifeline = Lifeline::guard(Some(child.id()), socket.parent(), Duration::from_secs(1));
        let mut host = Self {
            child,
            stdin,
            lifeline: None,
        };
        host.lifeline = Some(
            lifeline.map_err(|e| OpError::msg(format!("cannot start the watchdog of the SQLite engine host: {e}")))?,
        );
        let until = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = host.child.try_wait() {
                return Err(OpError::msg(format!(
                    "the SQLite engine host ({}) exited at start ({status}): a harness with a main of its own \
                     must call stress_core::serve_engine_host() first thing (a libtest test binary: a test named \
                     `{}` that calls it)",
                    exe.display(),
                    stress_core::host::HOST_TEST
                )));
            }
            if answers(socket) {
                return Ok(host);
            }
            if Instant::now() >= until {
                return Err(OpError::msg(format!(
                    "the SQLite engine host did not serve within {} s",
                    READY_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Its pid.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: every connection and transaction in flight dies with it.
    pub(crate) fn kill(mut self) -> Result<(), OpError> {
        let pid = self.pid();
        self.child
            .kill()
            .map_err(|e| OpError::msg(format!("cannot kill the SQLite engine host (pid {pid}): {e}")))?;
        let _ = self.child.wait();
        if let Some(l) = self.lifeline.take() {
            l.release();
        }
        Ok(())
    }

    /// A clean stop: closes its stdin and waits (10 s at most, then SIGKILL).
    pub(crate) fn stop(mut self) {
        self.stdin = None;
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(l) = self.lifeline.take() {
            l.release();
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if self.lifeline.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
