//! What the user sees while workloads run: a live status line on a terminal, plain periodic
//! lines otherwise.

use std::io::{IsTerminal, Write};

use stress_core::report::{ProgressLine, start_line};

/// Renders the harness's progress events.
#[derive(Debug)]
pub struct Status {
    tty: bool,
    shown: bool,
    last_plain_s: f64,
    every_s: f64,
}

impl Status {
    /// A status line on stderr; plain lines every `every_s` seconds when stderr is not a terminal.
    pub fn new(every_s: f64) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            shown: false,
            last_plain_s: 0.0,
            every_s,
        }
    }

    /// Handles one `stress-progress` event.
    pub fn event(&mut self, e: &serde_json::Value) {
        let name = e["workload"].as_str().unwrap_or("?");
        match e["event"].as_str() {
            Some("start") => {
                self.last_plain_s = 0.0;
                let line = start_line(
                    name,
                    e["users"].as_u64().unwrap_or(0),
                    e["seed"].as_u64().unwrap_or(0),
                    e["duration_s"].as_f64(),
                    e["ops_per_user"].as_u64(),
                );
                self.println(&line);
            }
            Some("interval") => {
                let elapsed = e["elapsed_s"].as_f64().unwrap_or(0.0);
                let i = &e["interval"];
                let line = ProgressLine {
                    workload: name,
                    elapsed_s: elapsed,
                    duration_s: e["duration_s"].as_f64(),
                    total_ops: e["total_ops"].as_u64().unwrap_or(0),
                    interval_ops: i["ops"].as_u64().unwrap_or(0),
                    p99_us: i["p99_us"].as_u64().unwrap_or(0),
                    failed_ops: e["failed_ops"].as_u64().unwrap_or(0),
                    paused: e["paused"].as_str(),
                }
                .to_string();
                if self.tty {
                    eprint!("\r\x1b[2K{line}");
                    let _ = std::io::stderr().flush();
                    self.shown = true;
                } else if elapsed >= self.last_plain_s + self.every_s {
                    self.last_plain_s = elapsed;
                    eprintln!("{line}");
                }
            }
            _ => {}
        }
    }

    /// Prints a line above the status line.
    pub fn println(&mut self, line: &str) {
        self.clear();
        eprintln!("{line}");
    }

    /// Removes the status line.
    pub fn clear(&mut self) {
        if self.shown {
            eprint!("\r\x1b[2K");
            self.shown = false;
        }
    }
}
