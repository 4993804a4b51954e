//! The engine host: SQLite's connections in a child process of the harness, so that a `kill`
//! fault can SIGKILL the engine — every connection, every transaction in flight — and leave the
//! harness, its users and their acknowledgements standing.
//!
//! The child is the harness's own executable, started again with [`HOST_VAR`] naming a Unix
//! socket ([`stress_core::serve_engine_host`] serves it). Each user connection is a socket
//! connection served by a thread of the child that owns one SQLite connection; each request
//! (a statement, a query, a batch of inserts) is answered only after SQLite returned, so a
//! write the harness saw succeed was committed by the engine. The child exits when its stdin
//! closes (the harness stopped it, or died).
//!
//! What this proves: that a committed write survives a crash of the process that wrote it, with
//! the operating system's page cache intact. Not that it survives a power loss: the kernel
//! still holds what SQLite wrote and did not sync.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use stress_core::OpError;
use stress_core::lifeline::Lifeline;
use stress_core::sql::{Row, Value};

use crate::conn::SqliteConn;

/// The variable that makes a harness process serve as the SQLite engine host: the socket's
/// path.
pub const HOST_VAR: &str = "STRESS_SQLITE_HOST";

stress_core::__private::inventory::submit! {
    stress_core::host::EngineHost { var: HOST_VAR, serve }
}

#[derive(Debug, Serialize, Deserialize)]
enum Request {
    /// Whether the host serves (no connection of its own needed).
    Ping,
    /// Opens this session's connection.
    Open {
        path: PathBuf,
        busy_timeout_ms: u64,
        /// `PRAGMA name = value` run on the connection, in order (`synchronous` first).
        pragmas: Vec<(String, String)>,
    },
    Execute {
        sql: String,
        params: Vec<Value>,
    },
    Query {
        sql: String,
        params: Vec<Value>,
    },
    Batch {
        sql: String,
    },
    /// One prepared statement per row, in one `BEGIN IMMEDIATE` transaction.
    Insert {
        sql: String,
        rows: Vec<Row>,
    },
}

#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Done,
    Count(u64),
    Rows(Vec<Row>),
    /// SQLite's extended result code where SQLite said no (so that `SQLITE_BUSY` stays
    /// retryable), and the message.
    Failed {
        code: Option<i32>,
        message: String,
    },
}

fn write_frame<T: Serialize>(s: &mut UnixStream, msg: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    s.write_all(&frame)
}

fn read_frame<T: for<'de> Deserialize<'de>>(s: &mut UnixStream) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(std::io::Error::other)
}

/// The child's side: serves `socket` until stdin closes.
fn serve(socket: &str) -> ! {
    // The harness holds our stdin: when it closes (a clean stop) or the harness dies, we go.
    std::thread::spawn(|| {
        let mut buf = [0u8; 64];
        let mut stdin = std::io::stdin();
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => std::process::exit(0),
                Ok(_) => {}
            }
        }
    });
    let _ = std::fs::remove_file(socket);
    let listener = match UnixListener::bind(socket) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: the SQLite engine host cannot listen on {socket}: {e}");
            std::process::exit(3);
        }
    };
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || session(stream));
    }
    std::process::exit(0)
}

/// One user's connection, served until the harness closes it.
fn session(mut stream: UnixStream) {
    let mut conn: Option<SqliteConn> = None;
    while let Ok(request) = read_frame::<Request>(&mut stream) {
        let reply = match answer(&mut conn, request) {
            Ok(reply) => reply,
            // SQLite's own failure goes back as code and SQLite's message, so that the harness
            // builds the same error again (not one that quotes it).
            Err(e) => match e.find::<rusqlite::Error>() {
                Some(rusqlite::Error::SqliteFailure(f, msg)) => Reply::Failed {
                    code: Some(f.extended_code),
                    message: msg.clone().unwrap_or_else(|| f.to_string()),
                },
                _ => Reply::Failed {
                    code: None,
                    message: e.to_string(),
                },
            },
        };
        if write_frame(&mut stream, &reply).is_err() {
            return;
        }
    }
}

fn answer(conn: &mut Option<SqliteConn>, request: Request) -> Result<Reply, OpError> {
    use stress_core::sql::SqlConn;
    if let Request::Open {
        path,
        busy_timeout_ms,
        pragmas,
    } = request
    {
        *conn = Some(crate::open_local(
            &path,
            Duration::from_millis(busy_timeout_ms),
            &pragmas,
        )?);
        return Ok(Reply::Done);
    }
    if matches!(request, Request::Ping) {
        return Ok(Reply::Done);
    }
    let c = conn
        .as_mut()
        .ok_or_else(|| OpError::msg("the SQLite host was asked for a statement before a database"))?;
    Ok(match request {
        Request::Execute { sql, params } => Reply::Count(c.execute(&sql, &params)?),
        Request::Query { sql, params } => Reply::Rows(c.query(&sql, &params)?),
        Request::Batch { sql } => {
            c.batch(&sql)?;
            Reply::Done
        }
        Request::Insert { sql, rows } => Reply::Count(c.insert_all(&sql, &rows)?),
        Request::Ping | Request::Open { .. } => unreachable!("answered above"),
    })
}

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
