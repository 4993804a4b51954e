//! What the user sees while workloads run: a live status line on a terminal, plain periodic
//! lines otherwise.

use std::io::{IsTerminal, Write};

use stress_core::protocol::Event;
use stress_core::report::{ProgressLine, start_line};

/// Renders the harness's progress events.
#[derive(Debug)]
pub struct Status {
    tty: bool,
    shown: bool,
    last_plain_s: f64,
    every_s: f64,
    /// Shows nothing (the runs of `shrink`, which prints one line per candidate).
    quiet: bool,
}

impl Status {
    /// A status line on stderr; plain lines every `every_s` seconds when stderr is not a terminal.
    pub fn new(every_s: f64) -> Self {
        Self {
            tty: std::io::stderr().is_terminal(),
            shown: false,
            last_plain_s: 0.0,
            every_s,
            quiet: false,
        }
    }

    /// A status that shows nothing: the runs behind one line of their own (`shrink`'s).
    pub fn quiet() -> Self {
        Self {
            quiet: true,
            ..Self::new(f64::INFINITY)
        }
    }

    /// Handles one `stress-progress` event.
    pub fn event(&mut self, e: &Event) {
        if self.quiet {
            return;
        }
        match e {
            Event::Start {
                workload,
                seed,
                users,
                duration_s,
                ops_per_user,
                ..
            } => {
                self.last_plain_s = 0.0;
                let line = start_line(workload, *users as u64, *seed, *duration_s, *ops_per_user);
                self.println(&line);
            }
            Event::Interval {
                workload,
                elapsed_s,
                duration_s,
                total_ops,
                failed_ops,
                interval,
                paused,
            } => {
                let line = ProgressLine {
                    workload,
                    elapsed_s: *elapsed_s,
                    duration_s: *duration_s,
                    total_ops: *total_ops,
                    interval_ops: interval.ops,
                    p99_us: interval.p99_us,
                    failed_ops: *failed_ops,
                    paused: paused.as_deref(),
                }
                .to_string();
                if self.tty {
                    eprint!("\r\x1b[2K{line}");
                    let _ = std::io::stderr().flush();
                    self.shown = true;
                } else if *elapsed_s >= self.last_plain_s + self.every_s {
                    self.last_plain_s = *elapsed_s;
                    eprintln!("{line}");
                }
            }
            // The verdict is read from summary.json (or the summary handed over); the live
            // line goes as the run ends.
            Event::Stop { .. } => self.clear(),
            other => {
                if let Some(line) = other.human() {
                    self.println(&line);
                }
            }
        }
    }

    /// Prints a line above the status line.
    pub fn println(&mut self, line: &str) {
        if self.quiet {
            return;
        }
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
