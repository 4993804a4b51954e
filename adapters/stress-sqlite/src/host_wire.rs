//! What the two halves of the SQLite engine host say to each other (the client half in the
//! harness, [`host_client`](crate::host_client); the server half in the child,
//! [`host_server`](crate::host_server)): requests and replies, one length-prefixed JSON frame
//! each, over a Unix socket.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use stress_core::sql::{Row, Value};

/// The variable that makes a harness process serve as the SQLite engine host: the socket's
/// path.
pub const HOST_VAR: &str = "STRESS_SQLITE_HOST";

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
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
pub(crate) enum Reply {
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

pub(crate) fn write_frame<T: Serialize>(s: &mut UnixStream, msg: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&body);
    s.write_all(&frame)
}

pub(crate) fn read_frame<T: for<'de> Deserialize<'de>>(s: &mut UnixStream) -> std::io::Result<T> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len)?;
    let mut body = vec![0u8; u32::from_le_bytes(len) as usize];
    s.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(std::io::Error::other)
}
