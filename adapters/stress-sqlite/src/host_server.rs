//! The server half of the SQLite engine host: SQLite's connections in a child process of the
//! harness, so that a `kill` fault can SIGKILL the engine — every connection, every transaction
//! in flight — and leave the harness, its users and their acknowledgements standing.
//!
//! The child is the harness's own executable, started again (by
//! [`host_client::Host::start`](crate::host_client)) with [`HOST_VAR`] naming a Unix socket
//! ([`stress_core::serve_engine_host`] serves it). Each user connection is a socket
//! connection served by a thread of the child that owns one SQLite connection; each request
//! (a statement, a query, a batch of inserts) is answered only after SQLite returned, so a
//! write the harness saw succeed was committed by the engine. The child exits when its stdin
//! closes (the harness stopped it, or died).
//!
//! What this proves: that a committed write survives a crash of the process that wrote it, with
//! the operating system's page cache intact. Not that it survives a power loss: the kernel
//! still holds what SQLite wrote and did not sync.

use std::io::Read;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use stress_core::OpError;

use crate::conn::SqliteConn;
use crate::host_wire::{HOST_VAR, Reply, Request, read_frame, write_frame};

stress_core::__private::inventory::submit! {
    stress_core::host::EngineHost { var: HOST_VAR, serve }
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
