//! Stopping a run: the first reason wins; sleeping users wake at once; Ctrl-C is one of the
//! reasons.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use crate::verdict::StopReason;

/// The stop flag users check between ops, and the reason behind it.
#[derive(Debug, Default)]
pub(crate) struct StopSignal {
    stopped: AtomicBool,
    reason: Mutex<Option<(StopReason, Option<String>)>>,
    cv: Condvar,
}

impl StopSignal {
    /// Stops the run unless it already stopped for another reason.
    pub(crate) fn stop(&self, reason: StopReason, detail: Option<String>) {
        let mut r = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        if r.is_none() {
            *r = Some((reason, detail));
        }
        self.stopped.store(true, Ordering::Release);
        self.cv.notify_all();
    }

    #[inline]
    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    pub(crate) fn reason(&self) -> Option<(StopReason, Option<String>)> {
        self.reason.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits while `cond` holds, checking it every 10 ms, or until the run stops.
    pub(crate) fn wait_while(&self, cond: impl Fn() -> bool) {
        loop {
            if !cond() || self.sleep(Duration::from_millis(10)) {
                return;
            }
        }
    }

    /// Sleeps for `d` or until the run stops; returns whether it stopped.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut guard = self.reason.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.is_stopped() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            guard = self
                .cv
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Ctrl-Cs (and passed-on SIGTERMs) so far: a second one stops waiting for stuck users.
static INTERRUPTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static HANDLER: OnceLock<()> = OnceLock::new();

/// Installs the Ctrl-C handler (once per process): Ctrl-C stops the current run with
/// `Interrupted` and its reports are written. The process never exits from the handler: that
/// would skip the destructors that stop managed servers.
pub(crate) fn install_interrupt_handler() {
    HANDLER.get_or_init(|| {
        let result = ctrlc::set_handler(|| {
            INTERRUPTS.fetch_add(1, Ordering::SeqCst);
            if INTERRUPTED.swap(true, Ordering::SeqCst) {
                eprintln!("still stopping: users still in an op are abandoned now");
            } else {
                eprintln!("interrupted: stopping users and writing reports");
            }
        });
        if let Err(e) = result {
            eprintln!("warning: Ctrl-C will not stop runs cleanly: {e}");
        }
    });
}

/// Stops the current run as Ctrl-C would, saying why (a lifeline that broke).
pub(crate) fn interrupt(why: &str) {
    if !INTERRUPTED.swap(true, Ordering::SeqCst) {
        // Not eprintln!: stderr may be a pipe whose reader is gone (that is often the why).
        let _ = writeln!(
            std::io::stderr(),
            "interrupted: {why}: stopping users and writing reports"
        );
    }
}

/// With `enabled` (`STRESS_LIFELINE=stdin`, or `cargo stress`'s hand-over: it holds the other
/// end of our stdin), stdin reaching its end means `cargo stress` is gone, killed or not: the run stops
/// as on Ctrl-C and writes its reports, rather than running on with nobody to report to.
pub(crate) fn watch_stdin_lifeline(enabled: bool) {
    static WATCHING: OnceLock<()> = OnceLock::new();
    if !enabled {
        return;
    }
    WATCHING.get_or_init(|| {
        let _ = std::thread::Builder::new().name("stress-lifeline".into()).spawn(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            interrupt("cargo stress went away");
        });
    });
}

/// Whether Ctrl-C was pressed more than once: stop waiting for users stuck in an op.
pub(crate) fn interrupted_again() -> bool {
    INTERRUPTS.load(Ordering::SeqCst) >= 2
}

/// Whether Ctrl-C was pressed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_reason_wins_and_sleepers_wake() {
        let s = std::sync::Arc::new(StopSignal::default());
        let s2 = s.clone();
        let sleeper = std::thread::spawn(move || s2.sleep(Duration::from_secs(600)));
        s.stop(StopReason::ResourceLimit, Some("memory".into()));
        s.stop(StopReason::DurationElapsed, None);
        assert!(sleeper.join().unwrap(), "woken by the stop, not by the 600 s timeout");
        assert_eq!(s.reason(), Some((StopReason::ResourceLimit, Some("memory".into()))));
        assert!(!StopSignal::default().sleep(Duration::from_millis(1)));
    }
}
