//! The run's own network proxy: the users' TCP connections to a server go through it when the
//! schedule has a network fault, so that the faults (`net-delay`, `net-bandwidth`, `net-drop`,
//! `net-reset`, `net-partition`) need no root and touch nothing else on the machine — and work
//! against a server the run did not start.
//!
//! It listens on a free loopback port and, for each connection it accepts, opens one to the
//! upstream address and pumps bytes both ways. What it does to those bytes is its [`Toxics`],
//! set and cleared while the connections live (the model is toxiproxy's: latency, bandwidth,
//! timeout, reset_peer):
//!
//! - **delay**: each chunk is delivered `delay` after the proxy read it, in each direction (a
//!   link's propagation delay: bytes that arrive together are delayed once, not once per chunk
//!   before them);
//! - **rate**: each direction's bytes leave at most `rate` bytes a second;
//! - **blackhole**: nothing is delivered, connections stay open and the bytes are held (as TCP
//!   holds them across a network that drops packets): they flow again when it ends, unless a
//!   client gave up first;
//! - **refuse**: each new connection is reset as soon as it is accepted;
//! - [`NetProxy::reset_all`]: every open connection is reset at once (a TCP RST to both sides,
//!   unsent bytes discarded).
//!
//! Blocking std threads: one accepts, and each connection has a reader and a writer per
//! direction (a reader timestamps what it reads, so that a delayed writer does not delay what
//! comes after it twice). Without toxics and with nothing queued, the reader writes each chunk
//! on itself: a read and a write per chunk, no hop to another thread (BENCHMARKS.md measures
//! what that costs).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crate::OpError;
use crate::fault::{FaultArg, FaultKind, Injected, PlannedFault};

/// The most bytes one read takes.
const CHUNK: usize = 64 * 1024;
/// Chunks read and not yet written, per direction: beyond them the reader waits (and TCP holds
/// the rest).
const QUEUE: usize = 16;
/// How long a blocked write waits before it looks again whether its connection was reset.
const WRITE_POLL: Duration = Duration::from_millis(200);
/// How long the proxy waits for the upstream to take a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The stack of each pump thread: they hold no more than a few locals.
const STACK: usize = 128 * 1024;

/// What the proxy does to the bytes and connections that pass it. The default does nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Toxics {
    /// Each chunk is delivered this long after it was read, in each direction.
    pub delay: Duration,
    /// At most this many bytes a second in each direction of each connection (`None`: no limit).
    pub rate: Option<u64>,
    /// Nothing is delivered; bytes are held and connections stay open.
    pub blackhole: bool,
    /// New connections are reset as soon as they are accepted.
    pub refuse: bool,
}

impl Toxics {
    fn active(&self) -> bool {
        *self != Self::default()
    }
}

/// What the proxy counted since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyCounts {
    /// Connections accepted and passed on to the upstream.
    pub connections: u64,
    /// Connections reset as soon as they were accepted (`refuse`).
    pub refused: u64,
    /// Open connections reset by [`NetProxy::reset_all`].
    pub reset: u64,
    /// Connections the upstream did not take.
    pub upstream_failed: u64,
}

struct State {
    upstream: SocketAddr,
    toxics: Mutex<Toxics>,
    /// Whether any toxic is set: the pumps' fast path reads only this.
    active: AtomicBool,
    changed: Condvar,
    conns: Mutex<Vec<Weak<Conn>>>,
    closing: AtomicBool,
    connections: AtomicU64,
    refused: AtomicU64,
    reset: AtomicU64,
    upstream_failed: AtomicU64,
}

impl State {
    fn toxics(&self) -> Toxics {
        if !self.active.load(Ordering::Relaxed) {
            return Toxics::default();
        }
        self.toxics.lock().map(|t| *t).unwrap_or_default()
    }
}

/// One proxied connection: the client's socket and the upstream's.
struct Conn {
    client: TcpStream,
    server: TcpStream,
    dead: AtomicBool,
}

impl Conn {
    /// Resets both sides: unsent bytes discarded and a TCP RST when the last handle closes
    /// (linger 0), every pump woken so that they end and close it.
    fn kill(&self) {
        if self.dead.swap(true, Ordering::SeqCst) {
            return;
        }
        for s in [&self.client, &self.server] {
            let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
            // Wakes a blocked read with end-of-stream and sends nothing (a FIN would come
            // before the RST).
            let _ = s.shutdown(Shutdown::Read);
        }
    }
}

/// The proxy: listening on a loopback port of its own, passing each connection to `upstream`.
/// Dropping it resets every connection and ends its threads.
pub struct NetProxy {
    addr: SocketAddr,
    state: Arc<State>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for NetProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.state.upstream)
            .finish_non_exhaustive()
    }
}

impl NetProxy {
    /// Starts a proxy to `upstream` on a free port of 127.0.0.1.
    pub fn start(upstream: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            upstream,
            toxics: Mutex::new(Toxics::default()),
            active: AtomicBool::new(false),
            changed: Condvar::new(),
            conns: Mutex::new(Vec::new()),
            closing: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            reset: AtomicU64::new(0),
            upstream_failed: AtomicU64::new(0),
        });
        let acceptor = {
            let state = Arc::clone(&state);
            thread::Builder::new()
                .name("stress-netproxy".into())
                .spawn(move || accept_loop(&listener, &state))?
        };
        Ok(Self {
            addr,
            state,
            acceptor: Some(acceptor),
        })
    }

    /// Where clients connect: the proxy's own address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where it passes connections on.
    pub fn upstream(&self) -> SocketAddr {
        self.state.upstream
    }

    /// What it does now.
    pub fn toxics(&self) -> Toxics {
        self.state.toxics()
    }

    /// Sets what it does to the bytes from now on (to those it holds, too).
    pub fn set(&self, toxics: Toxics) {
        if let Ok(mut t) = self.state.toxics.lock() {
            *t = toxics;
            self.state.active.store(toxics.active(), Ordering::SeqCst);
        }
        self.state.changed.notify_all();
    }

    /// Passes bytes as they come again.
    pub fn clear(&self) {
        self.set(Toxics::default());
    }

    /// Resets every open connection at once; returns how many there were.
    pub fn reset_all(&self) -> usize {
        let live = self.live();
        for c in &live {
            c.kill();
        }
        self.state.changed.notify_all();
        self.state.reset.fetch_add(live.len() as u64, Ordering::Relaxed);
        live.len()
    }

    /// How many connections are open through it now.
    pub fn open_connections(&self) -> usize {
        self.live().len()
    }

    /// What it counted since it started.
    pub fn counts(&self) -> ProxyCounts {
        let s = &self.state;
        ProxyCounts {
            connections: s.connections.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            reset: s.reset.load(Ordering::Relaxed),
            upstream_failed: s.upstream_failed.load(Ordering::Relaxed),
        }
    }

    /// Injects a network fault of the run's schedule: sets the toxics its kind stands for,
    /// holds them for its hold time (cut short when `stopping()` says the users' time is over),
    /// clears them; or resets every open connection (`net-reset`). Then times a TCP connection
    /// to the upstream: the fault's recovery.
    pub fn inject(&self, fault: &PlannedFault, stopping: &dyn Fn() -> bool) -> Result<Injected, OpError> {
        let label = fault.label();
        let toxics = match (fault.kind, fault.arg) {
            (FaultKind::NetReset, _) => None,
            (FaultKind::NetDelay, Some(FaultArg::Ms(ms))) => Some(Toxics {
                delay: Duration::from_millis(ms),
                ..Toxics::default()
            }),
            (FaultKind::NetBandwidth, Some(FaultArg::BytesPerS(rate))) => Some(Toxics {
                rate: Some(rate),
                ..Toxics::default()
            }),
            (FaultKind::NetDrop, _) => Some(Toxics {
                blackhole: true,
                ..Toxics::default()
            }),
            (FaultKind::NetPartition, _) => Some(Toxics {
                blackhole: true,
                refuse: true,
                ..Toxics::default()
            }),
            _ => return Err(OpError::msg(format!("the network proxy cannot inject `{label}`"))),
        };
        let before = self.counts();
        let open = self.open_connections();
        let check = match toxics {
            None => format!("reset {} open connections", self.reset_all()),
            Some(toxics) => {
                let hold = Duration::from_millis(fault.hold_ms.unwrap_or(0));
                self.set(toxics);
                let t0 = Instant::now();
                while !stopping() && t0.elapsed() < hold {
                    thread::sleep((hold - t0.elapsed().min(hold)).min(Duration::from_millis(20)));
                }
                self.clear();
                let held = t0.elapsed().as_secs_f64();
                let refused = self.counts().refused - before.refused;
                match fault.kind {
                    FaultKind::NetPartition => {
                        format!("{held:.1}s: {open} open connections held, {refused} new ones refused")
                    }
                    FaultKind::NetDrop => format!("{held:.1}s: the bytes of {open} open connections held"),
                    _ => format!("{held:.1}s on {open} open connections"),
                }
            }
        };
        let t0 = Instant::now();
        let recovery = TcpStream::connect_timeout(&self.state.upstream, CONNECT_TIMEOUT)
            .ok()
            .map(|_| t0.elapsed());
        Ok(Injected {
            target: format!("network {} -> {}", self.addr, self.state.upstream),
            recovery,
            check: Some(check),
        })
    }

    fn live(&self) -> Vec<Arc<Conn>> {
        let Ok(mut conns) = self.state.conns.lock() else {
            return Vec::new();
        };
        conns.retain(|w| w.strong_count() > 0);
        conns
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|c| !c.dead.load(Ordering::SeqCst))
            .collect()
    }
}

impl Drop for NetProxy {
    fn drop(&mut self) {
        self.state.closing.store(true, Ordering::SeqCst);
        self.reset_all();
        // The acceptor is blocked in accept: a connection of our own wakes it.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>) {
    for client in listener.incoming() {
        if state.closing.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else {
            // Out of descriptors, say: the client sees its connection fail; the proxy goes on.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        if state.toxics().refuse {
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            state.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let state = Arc::clone(state);
        let spawned = thread::Builder::new()
            .name("stress-netproxy".into())
            .stack_size(STACK)
            .spawn(move || serve(client, &state));
        if spawned.is_err() {
            // No thread for it: the client's connection is closed.
            continue;
        }
    }
}

/// Connects `client` to the upstream and pumps both ways until both directions end.
fn serve(client: TcpStream, state: &Arc<State>) {
    let server = match TcpStream::connect_timeout(&state.upstream, CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(_) => {
            // As the upstream would: the client's connection is reset.
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            state.upstream_failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let clones = || -> io::Result<[TcpStream; 6]> {
        for s in [&client, &server] {
            s.set_write_timeout(Some(WRITE_POLL))?;
        }
        Ok([
            client.try_clone()?,
            server.try_clone()?,
            server.try_clone()?,
            server.try_clone()?,
            client.try_clone()?,
            client.try_clone()?,
        ])
    };
    let Ok(
        [
            from_client,
            to_server,
            straight_to_server,
            from_server,
            to_client,
            straight_to_client,
        ],
    ) = clones()
    else {
        return;
    };
    let (up, down) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let conn = Arc::new(Conn {
        client,
        server,
        dead: AtomicBool::new(false),
    });
    if let Ok(mut conns) = state.conns.lock() {
        conns.retain(|w| w.strong_count() > 0);
        conns.push(Arc::downgrade(&conn));
    }
    state.connections.fetch_add(1, Ordering::Relaxed);
    // A reset that came while this one connected finds it now.
    if state.closing.load(Ordering::SeqCst) {
        conn.kill();
    }
    let (tx_up, rx_up) = crossbeam::channel::bounded(QUEUE);
    let (tx_down, rx_down) = crossbeam::channel::bounded(QUEUE);
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        thread::Builder::new().name(name.into()).stack_size(STACK).spawn(f).ok()
    };
    let threads = [
        spawn("stress-netproxy", {
            let (conn, state, up) = (Arc::clone(&conn), Arc::clone(state), Arc::clone(&up));
            Box::new(move || {
                let to = Side {
                    queue: tx_up,
                    straight: straight_to_server,
                    queued: &up,
                };
                read_side(from_client, to, &conn, &state);
            })
        }),
        spawn("stress-netproxy", {
            let (conn, state, up) = (Arc::clone(&conn), Arc::clone(state), Arc::clone(&up));
            Box::new(move || write_side(to_server, &rx_up, &up, &conn, &state))
        }),
        spawn("stress-netproxy", {
            let (conn, state, down) = (Arc::clone(&conn), Arc::clone(state), Arc::clone(&down));
            Box::new(move || {
                let to = Side {
                    queue: tx_down,
                    straight: straight_to_client,
                    queued: &down,
                };
                read_side(from_server, to, &conn, &state);
            })
        }),
    ];
    if threads.iter().any(Option::is_none) {
        conn.kill();
    }
    write_side(to_client, &rx_down, &down, &conn, state);
    for t in threads.into_iter().flatten() {
        let _ = t.join();
    }
}

/// A chunk read, and when.
struct Chunk {
    at: Instant,
    bytes: Vec<u8>,
}

/// Where a reader's chunks go: its direction's queue (to the writer, which applies the
/// toxics), or straight to the destination from the reader's own thread.
struct Side<'a> {
    queue: crossbeam::channel::Sender<Chunk>,
    straight: TcpStream,
    /// Chunks queued and not yet written.
    queued: &'a AtomicUsize,
}

/// Reads from `from` until the end of its stream, an error or a reset; an error resets the
/// whole connection (as the peer reset its side). With no toxic set and nothing queued, a
/// chunk goes straight on from this thread (the cost of the proxy with no fault under way: no
/// hop to another thread); otherwise through the queue, in order.
fn read_side(mut from: TcpStream, mut to: Side<'_>, conn: &Conn, state: &State) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if !state.active.load(Ordering::SeqCst) && to.queued.load(Ordering::SeqCst) == 0 {
                    if write_some(&mut to.straight, &buf[..n], conn).is_err() {
                        conn.kill();
                        return;
                    }
                    continue;
                }
                let chunk = Chunk {
                    at: Instant::now(),
                    bytes: buf[..n].to_vec(),
                };
                to.queued.fetch_add(1, Ordering::SeqCst);
                if to.queue.send(chunk).is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                conn.kill();
                return;
            }
        }
    }
}

/// Writes the queue's chunks to `to` as the toxics allow; at the end of the stream, passes it
/// on (a FIN), unless the connection was reset.
fn write_side(
    mut to: TcpStream,
    queue: &crossbeam::channel::Receiver<Chunk>,
    queued: &AtomicUsize,
    conn: &Conn,
    state: &State,
) {
    let mut paced = Instant::now();
    while let Ok(chunk) = queue.recv() {
        let mut bytes = &chunk.bytes[..];
        while !bytes.is_empty() {
            let toxics = state.toxics();
            if conn.dead.load(Ordering::SeqCst) {
                return;
            }
            if toxics.blackhole {
                hold(conn, state);
                continue;
            }
            if !toxics.delay.is_zero() && !wait_until(chunk.at + toxics.delay, conn, state) {
                continue;
            }
            // At most a tenth of a second's worth at once, so that a lower rate or the end of
            // a limit takes effect soon.
            let piece = match toxics.rate {
                Some(rate) => {
                    let len = bytes.len().min((rate / 10).max(1) as usize);
                    let due = paced.max(Instant::now()) + Duration::from_secs_f64(len as f64 / rate.max(1) as f64);
                    if !wait_until(due, conn, state) {
                        continue;
                    }
                    paced = due;
                    len
                }
                None => bytes.len(),
            };
            match write_some(&mut to, &bytes[..piece], conn) {
                Ok(()) => bytes = &bytes[piece..],
                Err(_) => {
                    conn.kill();
                    return;
                }
            }
        }
        // Written whole: once none is left, the reader may write straight on again.
        queued.fetch_sub(1, Ordering::SeqCst);
    }
    if !conn.dead.load(Ordering::SeqCst) {
        let _ = to.shutdown(Shutdown::Write);
    }
}

/// Writes all of `bytes`, looking between tries whether the connection was reset.
fn write_some(to: &mut TcpStream, mut bytes: &[u8], conn: &Conn) -> io::Result<()> {
    while !bytes.is_empty() {
        if conn.dead.load(Ordering::SeqCst) {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        match to.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Waits while the blackhole lasts (or until the connection is reset).
fn hold(conn: &Conn, state: &State) {
    let Ok(mut t) = state.toxics.lock() else {
        return;
    };
    while t.blackhole && !conn.dead.load(Ordering::SeqCst) {
        t = match state.changed.wait_timeout(t, Duration::from_millis(100)) {
            Ok((t, _)) => t,
            Err(_) => return,
        };
    }
}

/// Waits until `due`; `false` when the toxics changed meanwhile (or the connection was reset),
/// so that the caller looks at them again.
fn wait_until(due: Instant, conn: &Conn, state: &State) -> bool {
    let Ok(mut t) = state.toxics.lock() else {
        return true;
    };
    let before = *t;
    loop {
        let now = Instant::now();
        if now >= due {
            return true;
        }
        if conn.dead.load(Ordering::SeqCst) || *t != before {
            return false;
        }
        t = match state.changed.wait_timeout(t, due - now) {
            Ok((t, _)) => t,
            Err(_) => return true,
        };
    }
}

#[cfg(test)]
mod tests;
