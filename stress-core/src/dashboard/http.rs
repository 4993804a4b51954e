//! The dashboard's HTTP: one request per connection, the token checked before anything else.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::{State, control_frame};
use crate::control::ControlAction;

const PAGE: &str = include_str!("page.html");
/// A request head or body larger than this is refused.
const MAX_REQUEST: usize = 16 * 1024;
/// How often an idle event stream sends a comment, so that a closed page is noticed.
const KEEPALIVE: Duration = Duration::from_secs(1);

struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    body: String,
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.take(MAX_REQUEST as u64));
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0u8; length.min(MAX_REQUEST)];
    reader.read_exact(&mut body).ok()?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    Some(Request {
        method,
        path: path.to_owned(),
        query: pairs(query),
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn respond(mut stream: &TcpStream, status: &str, content_type: &str, body: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// Equal strings, compared in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub(super) fn handle(stream: TcpStream, state: &State) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_nonblocking(false);
    let Some(req) = read_request(&stream) else {
        respond(&stream, "400 Bad Request", "text/plain", "bad request\n");
        return;
    };
    let get = |k: &str| req.query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match get("token") {
        None => {
            respond(
                &stream,
                "401 Unauthorized",
                "text/plain",
                "this dashboard wants the token printed with its URL (?token=…)\n",
            );
            return;
        }
        Some(t) if !same(t, &state.token) => {
            respond(&stream, "403 Forbidden", "text/plain", "wrong token\n");
            return;
        }
        Some(_) => {}
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/") => {
            let page = PAGE
                .replace("{{WORKLOAD}}", &html_escape(&state.workload))
                .replace("/*CHARTS*/", crate::report::html::CHARTS_JS);
            respond(&stream, "200 OK", "text/html; charset=utf-8", &page);
        }
        ("GET", "/events") => events(stream, state),
        ("POST", "/control") => {
            let mut form = pairs(&req.body);
            form.extend(req.query.iter().cloned());
            let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let action = match field("action").as_deref() {
                Some("pause") => Ok(ControlAction::Pause),
                Some("resume") => Ok(ControlAction::Resume),
                Some("stop") => Ok(ControlAction::Stop),
                Some("rate") => field("ops_per_sec")
                    .ok_or_else(|| "a rate wants ops_per_sec".to_owned())
                    .and_then(|v| crate::config::values::rate(&v))
                    .map(|ops_per_sec| ControlAction::Rate { ops_per_sec }),
                other => Err(format!(
                    "unknown action {other:?}: pause, resume, stop, or rate with ops_per_sec"
                )),
            };
            match action.and_then(|a| state.hub.apply(a)) {
                Ok(c) => {
                    let frame = control_frame(&c);
                    state.push("control", frame.clone());
                    respond(&stream, "200 OK", "application/json", &frame);
                }
                Err(e) => respond(
                    &stream,
                    "409 Conflict",
                    "application/json",
                    &serde_json::json!({ "error": e }).to_string(),
                ),
            }
        }
        _ => respond(&stream, "404 Not Found", "text/plain", "not found\n"),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The event stream: every frame from the run's start, then each as it comes; ends after the
/// `done` frame, or when the dashboard closes.
fn events(mut stream: TcpStream, state: &State) {
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    if let Ok(mut log) = state.log.lock() {
        log.streams += 1;
    }
    let mut sent = 0usize;
    loop {
        let (batch, done) = {
            let Ok(log) = state.log.lock() else { break };
            let log = if log.frames.len() == sent && !log.done && !state.closed.load(Ordering::SeqCst) {
                match state.changed.wait_timeout(log, KEEPALIVE) {
                    Ok((l, _)) => l,
                    Err(_) => break,
                }
            } else {
                log
            };
            (log.frames[sent..].to_vec(), log.done)
        };
        let mut out = String::new();
        if batch.is_empty() {
            out.push_str(": keep-alive\n\n");
        }
        for f in &batch {
            out.push_str("event: ");
            out.push_str(f.name);
            out.push_str("\ndata: ");
            out.push_str(&f.data);
            out.push_str("\n\n");
        }
        sent += batch.len();
        if stream.write_all(out.as_bytes()).and_then(|()| stream.flush()).is_err() {
            break;
        }
        if done && batch.is_empty() {
            break;
        }
        if state.closed.load(Ordering::SeqCst) {
            break;
        }
    }
    if let Ok(mut log) = state.log.lock() {
        log.streams -= 1;
    }
    state.changed.notify_all();
}
