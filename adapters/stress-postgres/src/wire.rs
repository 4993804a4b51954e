//! A blocking client of PostgreSQL's frontend/backend protocol (version 3) for the users'
//! connections: one socket read and written by the user's own thread, no runtime between them.
//!
//! The `postgres` crate drives a tokio runtime per connection: each call is a `block_on`, a
//! request on a channel to the connection task, the task's write, its read, and the response on
//! another channel. Here a statement is one `write` of Bind + Execute + Sync and the `read`s that
//! bring back its answer, as libpq does. Messages are built and parsed by `postgres-protocol`
//! and values encoded by `postgres-types` — the crates the `postgres` crate itself is made of.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use fallible_iterator::FallibleIterator;
use postgres::Config;
use postgres::config::Host;
use postgres::types::{IsNull, Kind as TypeKind, ToSql, Type};
use postgres_protocol::authentication::{md5_hash, sasl};
use postgres_protocol::message::backend::{DataRowBody, ErrorResponseBody, Message};
use postgres_protocol::message::frontend;

use crate::tls::Tls;

/// An error of the wire client: the server's own (with its SQLSTATE), or the connection's.
#[derive(Debug)]
pub struct WireError {
    kind: Kind,
    cause: Option<Box<dyn StdError + Send + Sync>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// The client's own words, whole.
    Message(String),
    Io,
    Closed,
    /// No answer within the connection's answer timeout: the connection was given up.
    TimedOut(Duration),
    Db,
    Unexpected,
    ToSql(usize),
    FromSql(usize),
    Parameters(usize, usize),
    Authentication,
    Config,
}

impl WireError {
    fn new(kind: Kind, cause: Option<Box<dyn StdError + Send + Sync>>) -> Self {
        Self { kind, cause }
    }

    fn io(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return Self::new(Kind::Closed, None);
        }
        Self::new(Kind::Io, Some(Box::new(e)))
    }

    fn closed() -> Self {
        Self::new(Kind::Closed, None)
    }

    fn unexpected(what: &str) -> Self {
        Self::new(Kind::Unexpected, Some(what.into()))
    }

    fn config(why: &str) -> Self {
        Self::new(Kind::Config, Some(why.into()))
    }

    fn db(body: &ErrorResponseBody) -> Self {
        match DbError::parse(body) {
            Ok(e) => Self::new(Kind::Db, Some(Box::new(e))),
            Err(e) => Self::io(e),
        }
    }

    pub(crate) fn message(m: String) -> Self {
        Self::new(Kind::Message(m), None)
    }

    pub(crate) fn from_sql(column: usize, e: Box<dyn StdError + Send + Sync>) -> Self {
        Self::new(Kind::FromSql(column), Some(e))
    }

    /// The server's SQLSTATE (`40001`, `57P01`, …), when the server refused the statement.
    pub fn code(&self) -> Option<&str> {
        self.as_db_error().map(|d| d.code.as_str())
    }

    /// The server's error, when it was one.
    pub fn as_db_error(&self) -> Option<&DbError> {
        self.cause.as_ref().and_then(|c| c.downcast_ref::<DbError>())
    }

    /// Whether the connection is gone (closed, or a read or write failed).
    pub fn is_closed(&self) -> bool {
        matches!(self.kind, Kind::Io | Kind::Closed | Kind::TimedOut(_))
    }

    /// Whether the client gave up waiting for the server (its answer timeout).
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, Kind::TimedOut(_))
    }
}

impl fmt::Display for WireError {
    /// The same words as the `postgres` crate's errors, so that messages read alike whichever
    /// client ran the statement.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Message(m) => f.write_str(m),
            Kind::Io => f.write_str("error communicating with the server"),
            Kind::Closed => f.write_str("connection closed"),
            Kind::TimedOut(d) => write!(
                f,
                "timed out: no answer from the server in {} ms (statement_timeout plus a second), the connection given up",
                d.as_millis()
            ),
            Kind::Db => f.write_str("db error"),
            Kind::Unexpected => f.write_str("unexpected message from server"),
            Kind::ToSql(i) => write!(f, "error serializing parameter {i}"),
            Kind::FromSql(i) => write!(f, "error deserializing column {i}"),
            Kind::Parameters(real, expected) => write!(f, "expected {expected} parameters but got {real}"),
            Kind::Authentication => f.write_str("authentication error"),
            Kind::Config => f.write_str("invalid configuration"),
        }
    }
}

impl From<io::Error> for WireError {
    fn from(e: io::Error) -> Self {
        Self::io(e)
    }
}

impl StdError for WireError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.cause.as_ref().map(|e| &**e as _)
    }
}

/// An error the server sent: severity, SQLSTATE, message, and its detail and hint when given.
#[derive(Debug, Clone)]
pub struct DbError {
    /// `ERROR`, `FATAL`, `PANIC`.
    pub severity: String,
    /// The SQLSTATE.
    pub code: String,
    /// The server's message.
    pub message: String,
    /// Its detail, if any.
    pub detail: Option<String>,
    /// Its hint, if any.
    pub hint: Option<String>,
}

impl DbError {
    fn parse(body: &ErrorResponseBody) -> io::Result<Self> {
        let mut e = Self {
            severity: String::new(),
            code: String::new(),
            message: String::new(),
            detail: None,
            hint: None,
        };
        let mut fields = body.fields();
        while let Some(field) = fields.next()? {
            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
            match field.type_() {
                // The localized severity (S) unless the unlocalized one (V) comes too.
                b'S' if e.severity.is_empty() => e.severity = value,
                b'V' => e.severity = value,
                b'C' => e.code = value,
                b'M' => e.message = value,
                b'D' => e.detail = Some(value),
                b'H' => e.hint = Some(value),
                _ => {}
            }
        }
        Ok(e)
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, "\nDETAIL: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nHINT: {hint}")?;
        }
        Ok(())
    }
}

impl StdError for DbError {}

enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Self::Tcp(s) => s.set_read_timeout(t),
            Self::Unix(s) => s.set_read_timeout(t),
            Self::Tls(s) => s.sock.set_read_timeout(t),
        }
    }

    /// Over TCP, TLS as `tls` asks: the server asked first (SSLRequest), the handshake done
    /// if it agrees; refused if it does not and TLS is required.
    fn secure(sock: TcpStream, host: &str, tls: &Tls, timeout: Option<Duration>) -> Result<Self, WireError> {
        if !tls.wanted() {
            return Ok(Self::Tcp(sock));
        }
        sock.set_read_timeout(timeout)?;
        let mut request = BytesMut::new();
        frontend::ssl_request(&mut request);
        (&sock).write_all(&request)?;
        let mut answer = [0u8];
        (&sock).read_exact(&mut answer)?;
        match answer[0] {
            b'S' => tls
                .handshake(sock, host)
                .map(|s| Self::Tls(Box::new(s)))
                .map_err(|e| WireError::message(format!("error performing TLS handshake: {e}"))),
            b'N' if tls.required() => Err(WireError::message(format!(
                "server does not support TLS ({}): enable ssl on the server, or connect with sslmode=prefer or disable",
                tls.said()
            ))),
            b'N' => Ok(Self::Tcp(sock)),
            _ => Err(WireError::unexpected("in answer to the TLS request")),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.read(buf),
            Self::Unix(s) => s.read(buf),
            Self::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Tcp(s) => s.write(buf),
            Self::Unix(s) => s.write(buf),
            Self::Tls(s) => s.write(buf),
        }
    }

    /// A plain socket sends at `write`; a TLS session sends the records it still holds.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Tls(s) => s.flush(),
            _ => Ok(()),
        }
    }
}

/// A prepared statement: its server-side name, the types of its parameters and columns.
#[derive(Default)]
pub(crate) struct Statement {
    name: String,
    pub(crate) params: Vec<Type>,
    pub(crate) columns: Vec<(String, Type)>,
}

/// The type of an OID; one the `postgres-types` crate does not know is named by its number.
fn type_of(oid: u32) -> Type {
    Type::from_oid(oid).unwrap_or_else(|| Type::new(format!("oid {oid}"), oid, TypeKind::Pseudo, String::new()))
}

/// The rows a command's tag says it affected (`INSERT 0 5`, `UPDATE 3`, `COPY 7`).
fn rows_affected(tag: &str) -> u64 {
    tag.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// The size of the socket reads, and of the COPY data messages.
const CHUNK: usize = 64 * 1024;

/// One session with the server.
pub(crate) struct Conn {
    stream: Stream,
    read: BytesMut,
    scratch: Box<[u8]>,
    write: BytesMut,
    statements: Vec<Statement>,
    by_sql: HashMap<String, usize>,
    /// The last ReadyForQuery's status: `I` idle, `T` in a transaction, `E` in a failed one.
    status: u8,
    broken: bool,
    /// How long a read or write waits before the connection is given up (`None`: for ever).
    answer_timeout: Option<Duration>,
}

impl Conn {
    /// Connects as `config` says: each of its hosts in turn (TCP, or a Unix socket directory),
    /// TLS over TCP as `tls` says (never over a Unix socket, as with libpq), startup,
    /// authentication (trust, password, MD5, SCRAM-SHA-256), until the server is ready.
    pub(crate) fn connect(config: &Config, tls: &Tls) -> Result<Self, WireError> {
        let hosts = config.get_hosts();
        let addrs = config.get_hostaddrs();
        let ports = config.get_ports();
        let n = hosts.len().max(addrs.len());
        if n == 0 {
            return Err(WireError::config("both host and hostaddr are missing"));
        }
        let timeout = config.get_connect_timeout().copied();
        let mut last = None;
        for i in 0..n {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            // The name the server's certificate must carry: the host's, else the address's.
            let stream = match (addrs.get(i), hosts.get(i)) {
                (Some(ip), host) => {
                    let name = match host {
                        Some(Host::Tcp(h)) => h.clone(),
                        _ => ip.to_string(),
                    };
                    tcp(&[SocketAddr::new(*ip, port)], timeout)
                        .map_err(WireError::io)
                        .and_then(|s| Stream::secure(s, &name, tls, timeout))
                }
                (None, Some(Host::Tcp(h))) => (h.as_str(), port)
                    .to_socket_addrs()
                    .and_then(|a| tcp(&a.collect::<Vec<_>>(), timeout))
                    .map_err(WireError::io)
                    .and_then(|s| Stream::secure(s, h, tls, timeout)),
                (None, Some(Host::Unix(dir))) => UnixStream::connect(dir.join(format!(".s.PGSQL.{port}")))
                    .map(Stream::Unix)
                    .map_err(WireError::io),
                (None, None) => continue,
            };
            match stream.and_then(|s| Self::start(s, config, timeout)) {
                Ok(c) => return Ok(c),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(WireError::closed))
    }

    fn start(stream: Stream, config: &Config, timeout: Option<Duration>) -> Result<Self, WireError> {
        // The connect timeout covers the whole startup, as the `postgres` crate's does.
        stream.set_read_timeout(timeout).map_err(WireError::io)?;
        let mut c = Self {
            stream,
            read: BytesMut::with_capacity(CHUNK),
            scratch: vec![0; CHUNK].into_boxed_slice(),
            write: BytesMut::with_capacity(1024),
            statements: Vec::new(),
            by_sql: HashMap::new(),
            status: b'I',
            broken: false,
            answer_timeout: None,
        };
        let user = match config.get_user() {
            Some(u) => u.to_owned(),
            None => std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .map_err(|_| WireError::config("user missing"))?,
        };
        let mut params = vec![("client_encoding", "UTF8"), ("user", user.as_str())];
        if let Some(db) = config.get_dbname() {
            params.push(("database", db));
        }
        if let Some(o) = config.get_options() {
            params.push(("options", o));
        }
        if let Some(a) = config.get_application_name() {
            params.push(("application_name", a));
        }
        frontend::startup_message(params, &mut c.write).map_err(WireError::io)?;
        c.flush()?;
        c.authenticate(config, &user)?;
        loop {
            match c.next()? {
                Message::ReadyForQuery(b) => {
                    c.status = b.status();
                    break;
                }
                Message::BackendKeyData(_) => {}
                Message::ErrorResponse(b) => return Err(WireError::db(&b)),
                _ => return Err(WireError::unexpected("during startup")),
            }
        }
        c.stream.set_read_timeout(None).map_err(WireError::io)?;
        Ok(c)
    }

    fn authenticate(&mut self, config: &Config, user: &str) -> Result<(), WireError> {
        let password = || {
            config
                .get_password()
                .ok_or_else(|| WireError::config("password missing"))
        };
        match self.next()? {
            Message::AuthenticationOk => return Ok(()),
            Message::AuthenticationCleartextPassword => {
                frontend::password_message(password()?, &mut self.write).map_err(WireError::io)?;
            }
            Message::AuthenticationMd5Password(b) => {
                let hash = md5_hash(user.as_bytes(), password()?, b.salt());
                frontend::password_message(hash.as_bytes(), &mut self.write).map_err(WireError::io)?;
            }
            Message::AuthenticationSasl(b) => {
                let mut mechanisms = b.mechanisms();
                let mut scram = false;
                while let Some(m) = mechanisms.next().map_err(WireError::io)? {
                    scram |= m == sasl::SCRAM_SHA_256;
                }
                if !scram {
                    return Err(WireError::new(
                        Kind::Authentication,
                        Some("the server offers no SASL mechanism this client speaks (SCRAM-SHA-256)".into()),
                    ));
                }
                let mut s = sasl::ScramSha256::new(password()?, sasl::ChannelBinding::unsupported());
                frontend::sasl_initial_response(sasl::SCRAM_SHA_256, s.message(), &mut self.write)
                    .map_err(WireError::io)?;
                self.flush()?;
                let body = match self.next()? {
                    Message::AuthenticationSaslContinue(b) => b,
                    Message::ErrorResponse(b) => return Err(WireError::db(&b)),
                    _ => return Err(WireError::unexpected("during SCRAM")),
                };
                s.update(body.data())
                    .map_err(|e| WireError::new(Kind::Authentication, Some(e.into())))?;
                frontend::sasl_response(s.message(), &mut self.write).map_err(WireError::io)?;
                self.flush()?;
                let body = match self.next()? {
                    Message::AuthenticationSaslFinal(b) => b,
                    Message::ErrorResponse(b) => return Err(WireError::db(&b)),
                    _ => return Err(WireError::unexpected("during SCRAM")),
                };
                s.finish(body.data())
                    .map_err(|e| WireError::new(Kind::Authentication, Some(e.into())))?;
            }
            Message::ErrorResponse(b) => return Err(WireError::db(&b)),
            _ => {
                return Err(WireError::new(
                    Kind::Authentication,
                    Some("unsupported authentication method".into()),
                ));
            }
        }
        self.flush()?;
        match self.next()? {
            Message::AuthenticationOk => Ok(()),
            Message::ErrorResponse(b) => Err(WireError::db(&b)),
            _ => Err(WireError::unexpected("after authentication")),
        }
    }

    /// Whether a transaction is open (or failed and not yet ended) on this session.
    pub(crate) fn in_transaction(&self) -> bool {
        self.status != b'I'
    }

    /// Sends what was written. When the server has closed the connection, what it said before
    /// closing (a terminated backend's FATAL, with its SQLSTATE) is the error, if it said it.
    fn flush(&mut self) -> Result<(), WireError> {
        let r = self.stream.write_all(&self.write).and_then(|()| self.stream.flush());
        self.write.clear();
        let Err(e) = r else { return Ok(()) };
        let lost = self.lost(e);
        loop {
            match self.next() {
                Ok(Message::ErrorResponse(b)) => return Err(WireError::db(&b)),
                Ok(_) => {}
                Err(_) => return Err(lost),
            }
        }
    }

    fn lost(&mut self, e: io::Error) -> WireError {
        self.broken = true;
        match (self.answer_timeout, e.kind()) {
            (Some(d), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => WireError::new(Kind::TimedOut(d), None),
            _ => WireError::io(e),
        }
    }

    /// Gives the connection up when the server has not answered a read (or taken a write) in
    /// `t`: a network that holds the bytes cannot hang the user (a server's own
    /// `statement_timeout` never fires for a statement that never reached it).
    pub(crate) fn set_answer_timeout(&mut self, t: Option<Duration>) -> Result<(), WireError> {
        if let Stream::Tcp(s) = &self.stream {
            s.set_write_timeout(t).map_err(WireError::io)?;
        }
        self.stream.set_read_timeout(t).map_err(WireError::io)?;
        self.answer_timeout = t;
        Ok(())
    }

    /// The next message that answers something (notices and parameter changes are skipped).
    fn next(&mut self) -> Result<Message, WireError> {
        loop {
            match Message::parse(&mut self.read) {
                Ok(Some(
                    Message::NoticeResponse(_) | Message::ParameterStatus(_) | Message::NotificationResponse(_),
                )) => {
                    continue;
                }
                Ok(Some(m)) => return Ok(m),
                Ok(None) => {}
                Err(e) => {
                    self.broken = true;
                    return Err(WireError::io(e));
                }
            }
            let n = match self.stream.read(&mut self.scratch) {
                Ok(0) => {
                    self.broken = true;
                    return Err(WireError::closed());
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.lost(e)),
            };
            self.read.extend_from_slice(&self.scratch[..n]);
        }
    }

    fn usable(&self) -> Result<(), WireError> {
        if self.broken { Err(WireError::closed()) } else { Ok(()) }
    }

    /// Reads to the ReadyForQuery that ends an exchange, handing every other message to
    /// `each`; the first error (the server's, or `each`'s) is returned once the session is
    /// ready again. A connection lost after the server's error returns the server's error (a
    /// terminated backend says why before it closes).
    fn finish(&mut self, mut each: impl FnMut(&mut Self, Message) -> Result<(), WireError>) -> Result<(), WireError> {
        let mut first: Option<WireError> = None;
        loop {
            let m = match self.next() {
                Ok(m) => m,
                Err(e) => return Err(first.unwrap_or(e)),
            };
            match m {
                Message::ReadyForQuery(b) => {
                    self.status = b.status();
                    return first.map_or(Ok(()), Err);
                }
                Message::ErrorResponse(b) => {
                    let e = WireError::db(&b);
                    first.get_or_insert(e);
                }
                m => {
                    if let Err(e) = each(self, m) {
                        first.get_or_insert(e);
                    }
                }
            }
        }
    }

    /// The statement for `sql`, prepared on this session once.
    pub(crate) fn prepare(&mut self, sql: &str) -> Result<usize, WireError> {
        if let Some(&i) = self.by_sql.get(sql) {
            return Ok(i);
        }
        self.usable()?;
        let mut st = Statement {
            name: format!("s{}", self.statements.len()),
            ..Statement::default()
        };
        frontend::parse(&st.name, sql, std::iter::empty(), &mut self.write).map_err(WireError::io)?;
        frontend::describe(b'S', &st.name, &mut self.write).map_err(WireError::io)?;
        frontend::sync(&mut self.write);
        self.flush()?;
        self.finish(|_, m| {
            match m {
                Message::ParameterDescription(b) => {
                    st.params = b
                        .parameters()
                        .map(|oid| Ok(type_of(oid)))
                        .collect()
                        .map_err(WireError::io)?;
                }
                Message::RowDescription(b) => {
                    st.columns = b
                        .fields()
                        .map(|f| Ok((f.name().to_owned(), type_of(f.type_oid()))))
                        .collect()
                        .map_err(WireError::io)?;
                }
                Message::ParseComplete | Message::NoData => {}
                _ => return Err(WireError::unexpected("answering Parse")),
            }
            Ok(())
        })?;
        self.statements.push(st);
        self.by_sql.insert(sql.to_owned(), self.statements.len() - 1);
        Ok(self.statements.len() - 1)
    }

    /// Runs prepared statement `i` with `params` (binary in, binary out), handing each row to
    /// `row`; returns the rows its command tag says it affected.
    pub(crate) fn run<P: ToSql>(
        &mut self,
        i: usize,
        params: impl ExactSizeIterator<Item = P>,
        mut row: impl FnMut(&Statement, &DataRowBody) -> Result<(), WireError>,
    ) -> Result<u64, WireError> {
        self.usable()?;
        let st = std::mem::take(&mut self.statements[i]);
        let r = self.run_with(&st, params, &mut row);
        self.statements[i] = st;
        r
    }

    fn run_with<P: ToSql>(
        &mut self,
        st: &Statement,
        params: impl ExactSizeIterator<Item = P>,
        row: &mut impl FnMut(&Statement, &DataRowBody) -> Result<(), WireError>,
    ) -> Result<u64, WireError> {
        if params.len() != st.params.len() {
            return Err(WireError::new(Kind::Parameters(params.len(), st.params.len()), None));
        }
        let mut at = 0;
        let bound = frontend::bind(
            "",
            &st.name,
            Some(1),
            params.zip(&st.params),
            |(p, ty), buf| {
                at += 1;
                match p.to_sql_checked(ty, buf)? {
                    IsNull::Yes => Ok(postgres_protocol::IsNull::Yes),
                    IsNull::No => Ok(postgres_protocol::IsNull::No),
                }
            },
            Some(1),
            &mut self.write,
        );
        match bound {
            Ok(()) => {}
            Err(frontend::BindError::Conversion(e)) => {
                self.write.clear();
                return Err(WireError::new(Kind::ToSql(at - 1), Some(e)));
            }
            Err(frontend::BindError::Serialization(e)) => {
                self.write.clear();
                return Err(WireError::io(e));
            }
        }
        frontend::execute("", 0, &mut self.write).map_err(WireError::io)?;
        frontend::sync(&mut self.write);
        self.flush()?;
        let mut affected = 0;
        self.finish(|_, m| {
            match m {
                Message::DataRow(b) => row(st, &b)?,
                Message::CommandComplete(b) => affected = rows_affected(b.tag().map_err(WireError::io)?),
                Message::BindComplete | Message::EmptyQueryResponse | Message::PortalSuspended => {}
                _ => return Err(WireError::unexpected("answering Execute")),
            }
            Ok(())
        })?;
        Ok(affected)
    }

    /// Runs statements separated by `;` with the simple protocol, no parameters.
    pub(crate) fn batch(&mut self, sql: &str) -> Result<(), WireError> {
        self.usable()?;
        frontend::query(sql, &mut self.write).map_err(WireError::io)?;
        self.flush()?;
        self.finish(|c, m| {
            if let Message::CopyInResponse(_) = m {
                frontend::copy_fail("COPY FROM STDIN takes bulk_insert, not batch", &mut c.write)
                    .map_err(WireError::io)?;
                c.flush()?;
            }
            Ok(())
        })
    }

    /// `COPY … FROM STDIN (FORMAT binary)` of `rows` whose columns have `types`; returns the
    /// rows copied. A value that cannot be encoded ends the COPY with CopyFail: nothing is
    /// inserted.
    pub(crate) fn copy_in<P: ToSql, R: IntoIterator<Item = P>>(
        &mut self,
        sql: &str,
        types: &[Type],
        rows: impl IntoIterator<Item = R>,
    ) -> Result<u64, WireError> {
        self.usable()?;
        frontend::query(sql, &mut self.write).map_err(WireError::io)?;
        self.flush()?;
        match self.next()? {
            Message::CopyInResponse(_) => {}
            Message::ErrorResponse(b) => {
                let e = WireError::db(&b);
                self.finish(|_, _| Ok(()))?;
                return Err(e);
            }
            _ => return Err(WireError::unexpected("answering COPY")),
        }
        let mut data = BytesMut::with_capacity(CHUNK + 1024);
        data.put_slice(b"PGCOPY\n\xff\r\n\0");
        data.put_i32(0);
        data.put_i32(0);
        let mut failed = None;
        'rows: for row in rows {
            data.put_i16(types.len() as i16);
            for (i, (v, ty)) in row.into_iter().zip(types).enumerate() {
                let at = data.len();
                data.put_i32(0);
                match v.to_sql_checked(ty, &mut data) {
                    Ok(IsNull::Yes) => {
                        data.truncate(at);
                        data.put_i32(-1);
                    }
                    Ok(IsNull::No) => {
                        let len = (data.len() - at - 4) as i32;
                        data[at..at + 4].copy_from_slice(&len.to_be_bytes());
                    }
                    Err(e) => {
                        failed = Some(WireError::new(Kind::ToSql(i), Some(e)));
                        break 'rows;
                    }
                }
            }
            if data.len() >= CHUNK {
                self.copy_data(&mut data)?;
            }
        }
        if let Some(e) = failed {
            frontend::copy_fail("a value could not be encoded", &mut self.write).map_err(WireError::io)?;
            self.flush()?;
            let _ = self.finish(|_, _| Ok(()));
            return Err(e);
        }
        data.put_i16(-1);
        self.copy_data(&mut data)?;
        frontend::copy_done(&mut self.write);
        self.flush()?;
        let mut copied = 0;
        self.finish(|_, m| {
            if let Message::CommandComplete(b) = m {
                copied = rows_affected(b.tag().map_err(WireError::io)?);
            }
            Ok(())
        })?;
        Ok(copied)
    }

    fn copy_data(&mut self, data: &mut BytesMut) -> Result<(), WireError> {
        frontend::CopyData::new(data.split().freeze())
            .map_err(WireError::io)?
            .write(&mut self.write);
        self.flush()
    }
}

impl Drop for Conn {
    /// Says goodbye, so that the server logs no broken connection.
    fn drop(&mut self) {
        if !self.broken {
            self.write.clear();
            frontend::terminate(&mut self.write);
            let _ = self.stream.write_all(&self.write).and_then(|()| self.stream.flush());
        }
    }
}

fn tcp(addrs: &[SocketAddr], timeout: Option<Duration>) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name resolved to no address");
    for a in addrs {
        let s = match timeout {
            Some(t) => TcpStream::connect_timeout(a, t),
            None => TcpStream::connect(a),
        };
        match s {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_tags_give_the_rows_affected() {
        assert_eq!(rows_affected("INSERT 0 5"), 5);
        assert_eq!(rows_affected("UPDATE 3"), 3);
        assert_eq!(rows_affected("COPY 1000"), 1000);
        assert_eq!(rows_affected("CREATE TABLE"), 0);
    }

    #[test]
    fn errors_read_as_the_postgres_crates_do() {
        let e = WireError::new(
            Kind::Db,
            Some(Box::new(DbError {
                severity: "ERROR".into(),
                code: "42601".into(),
                message: "syntax error at or near \"SELEC\"".into(),
                detail: None,
                hint: Some("check it".into()),
            })),
        );
        let op: stress_core::OpError = e.into();
        assert_eq!(
            op.to_string(),
            "db error: ERROR: syntax error at or near \"SELEC\"\nHINT: check it"
        );
        assert_eq!(op.find::<WireError>().and_then(WireError::code), Some("42601"));
        assert_eq!(WireError::closed().to_string(), "connection closed");
        assert!(WireError::closed().is_closed() && WireError::closed().code().is_none());
    }
}
