//! `run --dashboard [ADDR]` (`STRESS_DASHBOARD`): the run served live while it goes — the
//! charts of report.html drawn from the run's events each second (Server-Sent Events), faults,
//! stages and controls marked as they happen, buttons to pause and resume the users, change
//! the rate and stop the run; when the run ends, the page becomes its report.
//!
//! A small HTTP/1.1 server on `std::net` (a handful of routes, one thread per connection, no
//! keep-alive): a web framework would bring an async runtime into every harness for four
//! routes. Every route wants the run's token (`?token=…`, random, printed with the URL): none
//! is 401, a wrong one 403. It binds to loopback unless told otherwise, and stops listening
//! when the run ends.
//!
//! Routes: `GET /` the page; `GET /events` the event stream (`start`, `interval`, `pause`,
//! `resume`, `stage`, `fault`, `stopping`, `control`, `done` — each `data:` the JSON of a
//! [`crate::protocol::Event`], a [`Control`], or for `done` the final report); `POST /control`
//! with `action=pause|resume|stop` or `action=rate&ops_per_sec=N`.

mod http;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::control::{Control, Controls};
use crate::protocol::Event;
use crate::report::{Observer, Progress, RunStart, Summary};

/// How long the end of a run waits for open pages to receive the final report.
const DRAIN: Duration = Duration::from_secs(3);

/// One SSE frame: its event name and its JSON.
#[derive(Debug, Clone)]
struct Frame {
    name: &'static str,
    data: String,
}

#[derive(Debug, Default)]
struct Log {
    frames: Vec<Frame>,
    /// The run ended: after the last frame, streams close.
    done: bool,
    /// Streams open now (each ends once it sent the `done` frame).
    streams: usize,
}

#[derive(Debug)]
struct State {
    workload: String,
    token: String,
    log: Mutex<Log>,
    changed: Condvar,
    closed: AtomicBool,
    hub: Arc<dyn Controls>,
}

impl State {
    fn push(&self, name: &'static str, data: String) {
        if let Ok(mut log) = self.log.lock() {
            log.frames.push(Frame { name, data });
        }
        self.changed.notify_all();
    }
}

/// The dashboard of one run: its server, and the observer that feeds it.
#[derive(Debug)]
pub struct Dashboard {
    state: Arc<State>,
    server: Option<JoinHandle<()>>,
    url: String,
}

/// A random token: 128 bits from the kernel.
fn token() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(|e| format!("--dashboard: cannot read /dev/urandom for a token: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Parses a `--dashboard` address: `HOST:PORT`, `:PORT` or `PORT` (loopback), an IP address
/// alone (port 0: any free one).
pub fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    crate::config::values::listen_addr(s)
}

impl Dashboard {
    /// Binds `addr`, starts serving, and says where on stderr (with a warning when the address
    /// is not loopback).
    pub(crate) fn start(addr: SocketAddr, workload: &str, hub: Arc<dyn Controls>) -> Result<Self, String> {
        let listener = TcpListener::bind(addr).map_err(|e| format!("--dashboard: cannot listen on {addr}: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("--dashboard: {e}"))?;
        let local = listener.local_addr().map_err(|e| format!("--dashboard: {e}"))?;
        let state = Arc::new(State {
            workload: workload.to_owned(),
            token: token()?,
            log: Mutex::new(Log::default()),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
            hub,
        });
        let host = if local.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else {
            local.ip().to_string()
        };
        let host = if local.is_ipv6() && !local.ip().is_unspecified() {
            format!("[{host}]")
        } else {
            host
        };
        let url = format!("http://{host}:{}/?token={}", local.port(), state.token);
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{workload}: dashboard at {url}");
        if !local.ip().is_loopback() {
            let _ = writeln!(
                err,
                "{workload}: the dashboard listens on {local}, not on loopback: whoever reaches it with the token \
                 can watch the run and pause, change or stop it"
            );
        }
        drop(err);
        let server = {
            let state = Arc::clone(&state);
            std::thread::Builder::new()
                .name("stress-dashboard".into())
                .spawn(move || serve(listener, state))
                .map_err(|e| format!("--dashboard: cannot start its thread: {e}"))?
        };
        Ok(Self {
            state,
            server: Some(server),
            url,
        })
    }

    /// The page's URL, with its token.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn close(&mut self) {
        self.state.closed.store(true, Ordering::SeqCst);
        self.state.changed.notify_all();
        if let Some(server) = self.server.take() {
            let _ = server.join();
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.close();
    }
}

fn serve(listener: TcpListener, state: Arc<State>) {
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    while !state.closed.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let state = Arc::clone(&state);
                if let Ok(h) = std::thread::Builder::new()
                    .name("stress-dashboard-conn".into())
                    .spawn(move || http::handle(stream, &state))
                {
                    connections.push(h);
                }
                connections.retain(|h| !h.is_finished());
            }
            // Nothing to accept: look again soon (the listener is non-blocking so that the
            // end of the run can close it).
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(25)),
            Err(_) => std::thread::sleep(Duration::from_millis(25)),
        }
    }
    drop(listener);
    // Streams see `closed` within their next wait; none outlives the run.
    for h in connections {
        let _ = h.join();
    }
}

impl Observer for Dashboard {
    fn on_start(&mut self, s: &RunStart<'_>) {
        let event = Event::Start {
            workload: s.workload.to_owned(),
            seed: s.seed,
            users: s.users,
            duration_s: s.duration.map(|d| d.as_secs_f64()),
            ops_per_user: s.ops_per_user,
            out_dir: s.out_dir.map(Path::to_path_buf),
        };
        self.state
            .push("start", serde_json::to_string(&event).unwrap_or_default());
    }

    fn on_interval(&mut self, p: &Progress<'_>) {
        let event = Event::Interval {
            workload: self.state.workload.clone(),
            elapsed_s: p.elapsed.as_secs_f64(),
            duration_s: p.duration.map(|d| d.as_secs_f64()),
            total_ops: p.total_ops,
            failed_ops: p.failed_ops,
            interval: p.interval.clone(),
            paused: p.paused.map(str::to_owned),
        };
        self.state
            .push("interval", serde_json::to_string(&event).unwrap_or_default());
    }

    fn on_event(&mut self, event: &Event) {
        let name = match event {
            Event::Start { .. } => "start",
            Event::Interval { .. } => "interval",
            Event::Pause { .. } => "pause",
            Event::Resume { .. } => "resume",
            Event::Stage { .. } => "stage",
            Event::Stopping { .. } => "stopping",
            Event::Fault { .. } => "fault",
            Event::Stop { .. } => "stop",
        };
        self.state.push(name, serde_json::to_string(event).unwrap_or_default());
    }

    fn on_finish(&mut self, summary: &Summary, out_dir: Option<&Path>) {
        let report = out_dir
            .and_then(|d| std::fs::read_to_string(d.join("report.html")).ok())
            .unwrap_or_else(|| {
                format!(
                    "<!DOCTYPE html><title>{} · {}</title><p>The run ended ({:?}); it wrote no report.",
                    summary.workload,
                    if summary.passed { "PASS" } else { "FAIL" },
                    summary.stop_reason
                )
            });
        let data = serde_json::json!({ "passed": summary.passed, "report": report });
        // Open pages get the report before the server goes.
        let deadline = Instant::now() + DRAIN;
        if let Ok(mut log) = self.state.log.lock() {
            log.frames.push(Frame {
                name: "done",
                data: data.to_string(),
            });
            log.done = true;
            self.state.changed.notify_all();
            while log.streams > 0 && Instant::now() < deadline {
                let wait = deadline.saturating_duration_since(Instant::now());
                match self.state.changed.wait_timeout(log, wait) {
                    Ok((l, _)) => log = l,
                    Err(_) => break,
                }
            }
        }
        self.close();
    }
}

/// What a control made the page say, as an SSE frame.
fn control_frame(c: &Control) -> String {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("text".into(), c.human().into());
    }
    v.to_string()
}

/// Starts the dashboard a run asks for (`config.dashboard`), or none.
pub(crate) fn for_run(
    addr: Option<SocketAddr>,
    workload: &str,
    hub: Option<Arc<dyn Controls>>,
) -> Result<Option<Dashboard>, String> {
    match (addr, hub) {
        (Some(addr), Some(hub)) => Dashboard::start(addr, workload, hub).map(Some),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_default_to_loopback_and_bad_ones_say_what_to_give() {
        assert_eq!(parse_addr("").unwrap(), "127.0.0.1:0".parse().unwrap());
        assert_eq!(parse_addr("8080").unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(parse_addr(":8080").unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(parse_addr("0.0.0.0").unwrap(), "0.0.0.0:0".parse().unwrap());
        assert_eq!(parse_addr("[::1]:9").unwrap(), "[::1]:9".parse().unwrap());
        let e = parse_addr("localhost:80:80").unwrap_err();
        assert!(e.contains("HOST:PORT"), "{e}");
    }
}
