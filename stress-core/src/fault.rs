//! Faults injected into the engine on a seeded schedule (`--fault SPEC`): what a spec says,
//! the schedule drawn from the run's seed (its own stream, recorded in `replay.json` before the
//! first fault, so that a replay injects the same faults at the same offsets), and what each
//! injection did (a row of `summary.json`'s `faults`).
//!
//! A spec is `KIND[(ARG)][:HOLD]@WHEN`: `pause:3s@at=20s`, `kill@every=5s..15s`, `restart@every=30s`,
//! `disk-full:10s@at=12s`, `corrupt@end`. Adapters declare which kinds they can inject
//! ([`crate::Adapter::faults`]); asking for another is refused before anything runs.

use std::fmt;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::syntax;

/// What a fault does to the engine. Marked `#[non_exhaustive]`: kinds are added here, with
/// their [`FaultFacts`], and in the adapters that inject them ([`crate::Adapter::faults`]);
/// an adapter's `match` needs a last arm for the kinds it does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FaultKind {
    /// SIGKILL the engine (a server's whole process group at once), start it again on the same
    /// data, wait until it accepts connections.
    Kill,
    /// SIGSTOP the engine for the fault's hold time, then SIGCONT.
    Pause,
    /// Stop the engine cleanly and start it again.
    Restart,
    /// Fill the engine's size-limited filesystem for the hold time, then free it.
    DiskFull,
    /// With the engine stopped, damage bytes of a data or WAL file chosen by the seed.
    Corrupt,
    /// Through the run's network proxy: each direction's bytes delayed by the argument
    /// (`net-delay(250ms):3s`) for the hold time.
    NetDelay,
    /// Through the run's network proxy: each direction of each connection limited to the
    /// argument's bytes a second (`net-bandwidth(64KB/s):5s`) for the hold time.
    NetBandwidth,
    /// Through the run's network proxy: a blackhole for the hold time — no byte delivered,
    /// the bytes held and the connections left open (the case that makes clients hang).
    NetDrop,
    /// Through the run's network proxy: every open connection reset at once (a TCP RST).
    NetReset,
    /// Through the run's network proxy: new connections refused and open ones blackholed
    /// for the hold time.
    NetPartition,
    /// Cut the power under the engine: stop its whole tree, drop every write its filesystem
    /// has not fsynced, start it again on what is left.
    PowerLoss,
    /// A power loss that also keeps a prefix of the last unsynced write (a torn page), its
    /// length drawn from the seed.
    #[serde(rename = "power-loss:torn")]
    PowerLossTorn,
    /// The next `fsync` of a file fails with EIO and its unsynced writes are dropped, as Linux
    /// does.
    FsyncError,
    /// Every write and `fsync` of the engine's filesystem takes the argument longer, for the
    /// hold time.
    IoDelay,
}

/// What a kind of fault needs of the machine or the run, checked before anything starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Need {
    /// Root and private mount namespaces (`unshare --mount`): a filesystem of the run's own.
    MountNamespace,
    /// The run's network proxy between the users and the engine: an adapter whose users reach
    /// it over TCP ([`crate::Adapter::tcp_target`]). No root, nothing else on the machine.
    NetworkProxy,
    /// FUSE (`/dev/fuse`), root and mount namespaces: the fault filesystem.
    Fuse,
}

impl Need {
    /// Whether this machine has it: one line naming what is missing and the fix otherwise.
    pub fn check(self) -> Result<(), String> {
        match self {
            Need::MountNamespace => crate::sizedfs::can_create(),
            // The adapter's part is checked with the adapter; the machine needs nothing.
            Need::NetworkProxy => Ok(()),
            Need::Fuse => crate::sizedfs::can_create_fuse(),
        }
    }
}

/// What a kind takes in parentheses after its name (`net-delay(250ms)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgUnit {
    /// Nothing.
    None,
    /// A time: `250ms`, `1s`.
    Duration,
    /// A rate of bytes: `64KB/s`, `1MiB/s`, `500B/s`.
    Rate,
}

/// The argument of one fault, typed (a row of `replay.json` carries it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultArg {
    /// A time, ms.
    Ms(u64),
    /// A rate, bytes per second.
    BytesPerS(u64),
}

impl fmt::Display for FaultArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultArg::Ms(ms) => write!(f, "{ms}ms"),
            FaultArg::BytesPerS(b) => write!(f, "{b}B/s"),
        }
    }
}

/// Everything the run and the parser know of a kind, in one place: adding a kind is a variant,
/// its facts in [`FaultKind::facts`], and the adapters that inject it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultFacts {
    /// Its name in specs and reports.
    pub name: &'static str,
    /// What it does, one line (for `--help` and errors).
    pub about: &'static str,
    /// What it takes in parentheses.
    pub arg: ArgUnit,
    /// Whether it lasts a given time (`pause:3s`).
    pub holds: bool,
    /// Whether it may come `@end` (after the users stopped, before verify): never for a kind
    /// that holds, since no user would meet it.
    pub at_end: bool,
    /// Whether it breaks the users' connections.
    pub breaks_connections: bool,
    /// Whether it takes the whole engine away until it is over (a full disk still serves
    /// reads).
    pub takes_engine_away: bool,
    /// What it needs of the machine, checked before anything starts.
    pub needs: &'static [Need],
}

impl FaultKind {
    /// Every kind, in the order the help lists them.
    pub const ALL: &'static [FaultKind] = &[
        Self::Kill,
        Self::Pause,
        Self::Restart,
        Self::DiskFull,
        Self::Corrupt,
        Self::NetDelay,
        Self::NetBandwidth,
        Self::NetDrop,
        Self::NetReset,
        Self::NetPartition,
        Self::PowerLoss,
        Self::PowerLossTorn,
        Self::FsyncError,
        Self::IoDelay,
    ];

    /// The kinds an adapter injects into an engine it runs itself (a managed server, a hosted
    /// SQLite): every kind but the network's, which the run injects through its proxy.
    pub const ENGINE: &'static [FaultKind] = &[
        Self::Kill,
        Self::Pause,
        Self::Restart,
        Self::DiskFull,
        Self::Corrupt,
        Self::PowerLoss,
        Self::PowerLossTorn,
        Self::FsyncError,
        Self::IoDelay,
    ];

    /// The kinds the run injects itself, through its network proxy, into the users'
    /// connections of any adapter with a TCP target.
    pub const NETWORK: &'static [FaultKind] = &[
        Self::NetDelay,
        Self::NetBandwidth,
        Self::NetDrop,
        Self::NetReset,
        Self::NetPartition,
    ];

    /// Its facts.
    pub fn facts(self) -> &'static FaultFacts {
        const STOPS: FaultFacts = FaultFacts {
            name: "",
            about: "",
            arg: ArgUnit::None,
            holds: false,
            at_end: true,
            breaks_connections: true,
            takes_engine_away: true,
            needs: &[],
        };
        const KILL: FaultFacts = FaultFacts {
            name: "kill",
            about: "SIGKILL the engine, start it again on the same data",
            ..STOPS
        };
        const PAUSE: FaultFacts = FaultFacts {
            name: "pause",
            about: "SIGSTOP the engine for HOLD, then SIGCONT",
            holds: true,
            at_end: false,
            breaks_connections: false,
            ..STOPS
        };
        const RESTART: FaultFacts = FaultFacts {
            name: "restart",
            about: "stop the engine cleanly and start it again",
            ..STOPS
        };
        const DISK_FULL: FaultFacts = FaultFacts {
            name: "disk-full",
            about: "fill the engine's filesystem for HOLD, then free it",
            holds: true,
            at_end: false,
            // PostgreSQL panics when it cannot write WAL; reads are still served.
            breaks_connections: true,
            takes_engine_away: false,
            needs: &[Need::MountNamespace],
            ..STOPS
        };
        const CORRUPT: FaultFacts = FaultFacts {
            name: "corrupt",
            about: "with the engine stopped, damage bytes of a data or WAL file",
            ..STOPS
        };
        const POWER_LOSS: FaultFacts = FaultFacts {
            name: "power-loss",
            about: "cut the power: stop the engine, drop every write not fsynced, start it again on what is left",
            needs: &[Need::Fuse],
            ..STOPS
        };
        const POWER_LOSS_TORN: FaultFacts = FaultFacts {
            name: "power-loss:torn",
            about: "a power-loss that keeps a seeded prefix of the last unsynced write (a torn page)",
            ..POWER_LOSS
        };
        const FSYNC_ERROR: FaultFacts = FaultFacts {
            name: "fsync-error",
            about: "the next fsync fails with EIO and drops the file's unsynced writes, as Linux does",
            at_end: false,
            // PostgreSQL panics on a failed fsync and restarts; SQLite reports an error.
            breaks_connections: true,
            takes_engine_away: false,
            needs: &[Need::Fuse],
            ..STOPS
        };
        const IO_DELAY: FaultFacts = FaultFacts {
            name: "io-delay",
            about: "every write and fsync takes ARG longer for HOLD",
            arg: ArgUnit::Duration,
            holds: true,
            at_end: false,
            breaks_connections: false,
            takes_engine_away: false,
            needs: &[Need::Fuse],
        };
        // The network's: the engine is never touched; what the users meet is the network's.
        const NET: FaultFacts = FaultFacts {
            name: "",
            about: "",
            arg: ArgUnit::None,
            holds: true,
            at_end: false,
            breaks_connections: false,
            takes_engine_away: false,
            needs: &[Need::NetworkProxy],
        };
        const NET_DELAY: FaultFacts = FaultFacts {
            name: "net-delay",
            about: "delay each direction's bytes by ARG for HOLD (through the run's proxy)",
            arg: ArgUnit::Duration,
            ..NET
        };
        const NET_BANDWIDTH: FaultFacts = FaultFacts {
            name: "net-bandwidth",
            about: "limit each direction of each connection to ARG bytes a second for HOLD",
            arg: ArgUnit::Rate,
            ..NET
        };
        // Connections stay open: a user meets a timeout (its own or none), not a broken
        // connection, and an op that failed then counts as failed.
        const NET_DROP: FaultFacts = FaultFacts {
            name: "net-drop",
            about: "blackhole for HOLD: bytes held, connections left open",
            takes_engine_away: true,
            ..NET
        };
        const NET_RESET: FaultFacts = FaultFacts {
            name: "net-reset",
            about: "reset every open connection at once (TCP RST)",
            holds: false,
            breaks_connections: true,
            ..NET
        };
        const NET_PARTITION: FaultFacts = FaultFacts {
            name: "net-partition",
            about: "for HOLD: new connections refused, open ones blackholed",
            takes_engine_away: true,
            ..NET
        };
        match self {
            Self::NetDelay => &NET_DELAY,
            Self::NetBandwidth => &NET_BANDWIDTH,
            Self::NetDrop => &NET_DROP,
            Self::NetReset => &NET_RESET,
            Self::NetPartition => &NET_PARTITION,
            Self::PowerLoss => &POWER_LOSS,
            Self::PowerLossTorn => &POWER_LOSS_TORN,
            Self::FsyncError => &FSYNC_ERROR,
            Self::IoDelay => &IO_DELAY,
            Self::Kill => &KILL,
            Self::Pause => &PAUSE,
            Self::Restart => &RESTART,
            Self::DiskFull => &DISK_FULL,
            Self::Corrupt => &CORRUPT,
        }
    }

    /// Its name in specs and reports.
    pub fn name(self) -> &'static str {
        self.facts().name
    }

    /// Whether it breaks the users' connections: kill, restart and corrupt stop the engine; a
    /// full disk may (PostgreSQL panics when it cannot write WAL).
    pub fn breaks_connections(self) -> bool {
        self.facts().breaks_connections
    }

    /// Whether it takes the whole engine away until its injection is over (kill, restart and
    /// corrupt stop it, pause freezes it); a full disk refuses writes and still serves reads.
    pub fn takes_engine_away(self) -> bool {
        self.facts().takes_engine_away
    }

    /// Whether the fault lasts a given time (`pause:3s`, `disk-full:10s`).
    pub fn holds(self) -> bool {
        self.facts().holds
    }

    /// Whether the run injects it itself, through its network proxy ([`Need::NetworkProxy`]),
    /// rather than the adapter.
    pub fn is_network(self) -> bool {
        self.facts().needs.contains(&Need::NetworkProxy)
    }

    /// The kinds' names, for messages: `kill, pause, …`.
    pub fn list(kinds: &[FaultKind]) -> String {
        if kinds.is_empty() {
            return "none".to_owned();
        }
        kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
    }
}

/// Checks what the schedule's kinds need of the machine (root and mount namespaces, …), each
/// once: one line naming what is missing otherwise.
pub fn check_needs(faults: &[PlannedFault]) -> Result<(), String> {
    let mut checked: Vec<Need> = Vec::new();
    for f in faults {
        for &need in f.kind.facts().needs {
            if !checked.contains(&need) {
                need.check().map_err(|e| format!("fault `{}`: {e}", f.kind))?;
                checked.push(need);
            }
        }
    }
    Ok(())
}

/// Parses a rate of bytes: `500B/s`, `64KB/s` (1000), `1MiB/s` (1024), `2GB/s`; the `/s` may
/// be left out. One line naming the form otherwise.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t.strip_suffix("/s").unwrap_or(t);
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "b" | "" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        u => {
            return Err(format!(
                "rate `{s}` has no unit `{u}`: give B/s, KB/s, MB/s, GB/s, KiB/s, MiB/s or GiB/s"
            ));
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("rate `{s}` is not a number of bytes per second, like 64KB/s"))?;
    let bytes = n * scale;
    if !(1.0..=1e12).contains(&bytes) {
        return Err(format!("rate `{s}` is out of range: give 1B/s to 1000GB/s"));
    }
    Ok(bytes.round() as u64)
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When a spec's faults happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum When {
    /// Once, this long after the users started.
    At(Duration),
    /// Again and again: each gap drawn uniformly from `min..=max` (equal for a fixed period).
    Every {
        /// The shortest gap.
        min: Duration,
        /// The longest gap.
        max: Duration,
    },
    /// Once, after the users stopped and before the verify step.
    End,
}

/// One `--fault` spec, parsed where the user typed it and carried typed from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// What.
    pub kind: FaultKind,
    /// What it takes in parentheses (`net-delay(250ms)`), for the kinds that take one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg: Option<FaultArg>,
    /// For how long (pause, disk-full).
    pub hold: Option<Duration>,
    /// When.
    pub when: When,
}

/// The spec's form, with every kind's name.
fn form() -> String {
    format!(
        "give KIND[(ARG)][:HOLD]@WHEN, like pause:3s@at=20s, kill@every=5s..15s, restart@every=30s, \
         disk-full:10s@at=12s, corrupt@end, net-delay(250ms):3s@at=2s or net-bandwidth(64KB/s):5s@every=20s \
         (KIND: {})",
        FaultKind::list(FaultKind::ALL)
    )
}

impl FaultSpec {
    /// Parses a spec; one line naming what is wrong and the form otherwise.
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: String| format!("fault `{s}` {why}: {}", form());
        let (what, when) = s
            .trim()
            .split_once('@')
            .ok_or_else(|| bad("says not when (no `@`)".into()))?;
        let what = what.trim();
        // The longest name the spec starts with, followed by its end, `(` or `:` (a name may
        // hold a `:` of its own).
        let kind = FaultKind::ALL
            .iter()
            .copied()
            .filter(|k| {
                what.strip_prefix(k.name())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with(['(', ':']))
            })
            .max_by_key(|k| k.name().len())
            .ok_or_else(|| {
                let name = what.split(['(', ':']).next().unwrap_or(what).trim();
                bad(format!("has no kind `{name}`"))
            })?;
        let facts = kind.facts();
        let rest = &what[kind.name().len()..];
        let (arg, rest) = match rest.strip_prefix('(') {
            Some(inner) => {
                let (arg, after) = inner
                    .split_once(')')
                    .ok_or_else(|| bad(format!("opens `(` after `{kind}` and does not close it")))?;
                (Some(arg.trim()), after)
            }
            None => (None, rest),
        };
        let arg = match (arg, facts.arg) {
            (None, ArgUnit::None) => None,
            (Some(_), ArgUnit::None) => return Err(bad(format!("gives `{kind}` an argument, and it takes none"))),
            (None, ArgUnit::Duration) => {
                return Err(bad(format!("says not how long `{kind}` delays (`{kind}(250ms)`)")));
            }
            (None, ArgUnit::Rate) => return Err(bad(format!("says not the rate of `{kind}` (`{kind}(64KB/s)`)"))),
            (Some(a), ArgUnit::Duration) => {
                let d = syntax::parse_duration(a).map_err(|e| bad(e.to_string()))?;
                if d.is_zero() || d > Duration::from_secs(3600) {
                    return Err(bad(format!("delays by `{a}`: give more than 0 and at most 1h")));
                }
                Some(FaultArg::Ms(d.as_millis() as u64))
            }
            (Some(a), ArgUnit::Rate) => Some(FaultArg::BytesPerS(parse_rate(a).map_err(bad)?)),
        };
        let hold = match rest.strip_prefix(':') {
            Some(h) => Some(h.trim()),
            None if rest.trim().is_empty() => None,
            None => return Err(bad(format!("has `{rest}` after `{kind}`"))),
        };
        let duration = |v: &str| -> Result<Duration, String> {
            let d = syntax::parse_duration(v).map_err(|e| bad(e.to_string()))?;
            if d.is_zero() {
                return Err(bad(format!("has no time in `{v}`")));
            }
            Ok(d)
        };
        let hold = match (hold, facts.holds) {
            (Some(h), true) => Some(duration(h)?),
            (None, true) => return Err(bad(format!("says not how long `{kind}` lasts (`{kind}:3s@…`)"))),
            (Some(_), false) => return Err(bad(format!("gives a time to `{kind}`, which does not last"))),
            (None, false) => None,
        };
        let when = when.trim();
        let when = if when == "end" {
            if !facts.at_end {
                return Err(bad(format!("puts `{kind}` at the end, when no user would meet it")));
            }
            When::End
        } else if let Some(at) = when.strip_prefix("at=") {
            When::At(syntax::parse_duration(at.trim()).map_err(|e| bad(e.to_string()))?)
        } else if let Some(every) = when.strip_prefix("every=") {
            let (min, max) = match every.split_once("..") {
                Some((a, b)) => (duration(a.trim())?, duration(b.trim())?),
                None => {
                    let d = duration(every.trim())?;
                    (d, d)
                }
            };
            if min > max {
                return Err(bad(format!("has an empty range `{every}`")));
            }
            When::Every { min, max }
        } else {
            return Err(bad(format!("has no time `{when}` (at=…, every=… or end)")));
        };
        Ok(Self { kind, arg, hold, when })
    }
}

/// One fault of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedFault {
    /// What.
    pub kind: FaultKind,
    /// When, ms after the users started; `None`: after they stopped.
    pub at_ms: Option<u64>,
    /// For how long, ms (pause, disk-full).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_ms: Option<u64>,
    /// What it takes in parentheses (`net-delay(250ms)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg: Option<FaultArg>,
}

impl PlannedFault {
    /// A fault of `kind` at `at_ms` (`None`: at the end), with no hold and no argument.
    pub fn new(kind: FaultKind, at_ms: Option<u64>) -> Self {
        Self {
            kind,
            at_ms,
            hold_ms: None,
            arg: None,
        }
    }

    /// The same, held for `hold_ms`.
    pub fn held(self, hold_ms: u64) -> Self {
        Self {
            hold_ms: Some(hold_ms),
            ..self
        }
    }

    /// Its name with its argument, as a spec writes it: `net-delay(250ms)`.
    pub fn label(&self) -> String {
        match self.arg {
            Some(a) => format!("{}({a})", self.kind),
            None => self.kind.to_string(),
        }
    }

    /// Checks a recorded fault (a row of `replay.json`) as [`FaultSpec::parse`] checks a
    /// `--fault`: a hold exactly for the kinds that last, none at the end for those, a time
    /// within the run. One line naming what is wrong.
    pub fn validate(&self, duration: Option<Duration>) -> Result<(), String> {
        let kind = self.kind;
        let facts = kind.facts();
        match (self.arg, facts.arg) {
            (None, ArgUnit::None) | (Some(FaultArg::Ms(1..)), ArgUnit::Duration) => {}
            (Some(FaultArg::BytesPerS(1..)), ArgUnit::Rate) => {}
            (Some(_), ArgUnit::None) => {
                return Err(format!("its `{kind}` fault has an arg, and a `{kind}` takes none"));
            }
            (None, _) => return Err(format!("its `{kind}` fault has no arg, and a `{kind}` takes one")),
            (Some(a), _) => return Err(format!("its `{kind}` fault has an arg `{a}` of the wrong kind or 0")),
        }
        match (self.hold_ms, kind.holds()) {
            (None, true) => {
                return Err(format!(
                    "its `{kind}` fault has no hold_ms: a `{kind}` lasts a given time"
                ));
            }
            (Some(_), false) => {
                return Err(format!(
                    "its `{kind}` fault has a hold_ms, but a `{kind}` does not last"
                ));
            }
            (Some(0), true) => return Err(format!("its `{kind}` fault holds for 0 ms")),
            _ => {}
        }
        match (self.at_ms, duration) {
            (None, _) if !facts.at_end => Err(format!("its `{kind}` fault is at the end, when no user would meet it")),
            (Some(at), Some(d)) if u128::from(at) >= d.as_millis() => Err(format!(
                "its `{kind}` fault at {at} ms is at or after the run's end ({} ms)",
                d.as_millis()
            )),
            _ => Ok(()),
        }
    }
}

/// The most faults a schedule may hold.
pub const MAX_FAULTS: usize = 10_000;

/// Draws the schedule of `specs` from the run's `seed` (its own stream): every fault before
/// `duration`, sorted by time. A time at or beyond the run's end, or a repeating fault in a run
/// with no duration, is an error naming the fix.
pub fn schedule(specs: &[FaultSpec], seed: u64, duration: Option<Duration>) -> Result<Vec<PlannedFault>, String> {
    let mut rng = crate::seed::rng(crate::seed::derive(seed, "faults", ""));
    let mut out = Vec::new();
    for spec in specs {
        let hold_ms = spec.hold.map(|h| h.as_millis() as u64);
        match spec.when {
            When::End => out.push(PlannedFault {
                kind: spec.kind,
                at_ms: None,
                hold_ms,
                arg: spec.arg,
            }),
            When::At(at) => {
                if let Some(d) = duration.filter(|d| at >= *d) {
                    return Err(format!(
                        "fault {}@at={}s is at or after the run's end ({}s): give a time within the run",
                        spec.kind,
                        at.as_secs_f64(),
                        d.as_secs_f64()
                    ));
                }
                out.push(PlannedFault {
                    kind: spec.kind,
                    at_ms: Some(at.as_millis() as u64),
                    hold_ms,
                    arg: spec.arg,
                });
            }
            When::Every { min, max } => {
                let Some(d) = duration else {
                    return Err(format!(
                        "fault {}@every=… repeats until the run's end, and this run has no duration: give one \
                         (--duration), or faults at=…",
                        spec.kind
                    ));
                };
                let (min, max) = (min.as_millis() as u64, max.as_millis() as u64);
                let mut t = 0u64;
                loop {
                    t += rng.random_range(min..=max);
                    if t >= d.as_millis() as u64 {
                        break;
                    }
                    if out.len() >= MAX_FAULTS {
                        return Err(format!(
                            "the faults would be more than {MAX_FAULTS}: give a longer period"
                        ));
                    }
                    out.push(PlannedFault {
                        kind: spec.kind,
                        at_ms: Some(t),
                        hold_ms,
                        arg: spec.arg,
                    });
                }
            }
        }
    }
    // Timed faults in time order, those at the end last (a stable sort keeps the specs' order).
    out.sort_by_key(|f| f.at_ms.unwrap_or(u64::MAX));
    Ok(out)
}

/// What one fault of the schedule did: a row of `summary.json`'s `faults`. Times are on the
/// users' clock: seconds after the users started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    /// What.
    pub kind: FaultKind,
    /// What it took in parentheses (`net-delay(250ms)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arg: Option<FaultArg>,
    /// When the schedule made it due (`None`: at the end, after the users stopped).
    #[serde(default)]
    pub due_s: Option<f64>,
    /// When it was injected: later than `due_s` when an earlier fault's recovery outlasted the
    /// gap (`None`: at the end, or not injected — see `skipped`).
    pub at_s: Option<f64>,
    /// For how long, s (pause, disk-full), as the schedule says; a hold ends when the users'
    /// time ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_s: Option<f64>,
    /// What it hit (`postgres (pid 4242)`).
    pub target: String,
    /// From the end of the fault until the engine accepted a connection again, ms.
    pub recovery_ms: Option<u64>,
    /// From the injection until an op that began after it succeeded on the engine, ms: how long
    /// the users could not get an answer. `None` at the end (no users), for a fault that was not
    /// injected, or when no op succeeded again before the users stopped (`outage_open`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outage_ms: Option<u64>,
    /// The engine served no op again before the users stopped: `outage_ms` is then `None`,
    /// and the outage counts until the users' end in `unavailable_s`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outage_open: bool,
    /// Why it could not be injected (the process was already gone, say); the run goes on.
    pub error: Option<String>,
    /// Why it was not injected at all: it came due after the users had stopped (or the run was
    /// interrupted first). Nothing is injected into an engine no user is using.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// What the engine's own check said after the fault, where the adapter runs one
    /// (`integrity_check: ok` after a SQLite kill; what `corrupt` did and whether the engine
    /// noticed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}

impl FaultRecord {
    /// The row of a fault that was not injected, and why.
    pub fn skipped(f: &PlannedFault, why: String) -> Self {
        Self {
            kind: f.kind,
            arg: f.arg,
            due_s: f.at_ms.map(|ms| ms as f64 / 1000.0),
            at_s: None,
            hold_s: f.hold_ms.map(|ms| ms as f64 / 1000.0),
            target: String::new(),
            recovery_ms: None,
            outage_ms: None,
            outage_open: false,
            error: None,
            skipped: Some(why),
            check: None,
        }
    }

    /// The span of the users' time the engine was out, s: `[at_s, at_s + outage]`, an open
    /// outage until `users_end_s`.
    pub fn outage_span(&self, users_end_s: f64) -> Option<(f64, f64)> {
        let at = self.at_s?;
        match (self.outage_ms, self.outage_open) {
            (Some(ms), _) => Some((at, at + ms as f64 / 1000.0)),
            (None, true) => Some((at, users_end_s.max(at))),
            (None, false) => None,
        }
    }
}

/// The users' time during which the engine was out, s: the union of the faults' outages (an
/// outage that never closed lasts until `users_end_s`).
pub fn unavailable_s(faults: &[FaultRecord], users_end_s: f64) -> f64 {
    let mut spans: Vec<(f64, f64)> = faults.iter().filter_map(|f| f.outage_span(users_end_s)).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut total, mut reach) = (0.0, f64::NEG_INFINITY);
    for (from, to) in spans {
        let from = from.max(reach);
        if to > from {
            total += to - from;
            reach = to;
        }
    }
    (total * 1000.0).round() / 1000.0
}

/// What an adapter reports of an injection that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injected {
    /// What it hit.
    pub target: String,
    /// From the end of the fault until the engine accepted a connection again.
    pub recovery: Option<Duration>,
    /// What the engine's own check said after the fault ([`FaultRecord::check`]).
    pub check: Option<String>,
}

/// The `corrupt` fault's damage: `len` random bytes from `rng` written over `file` at `offset`,
/// synced.
pub fn overwrite(file: &std::path::Path, offset: u64, len: usize, rng: &mut impl Rng) -> Result<(), crate::OpError> {
    use std::io::{Seek, SeekFrom, Write};
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes[..]);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).open(file)?;
        f.seek(SeekFrom::Start(offset))?;
        f.write_all(&bytes)?;
        f.sync_all()
    };
    write().map_err(|e| crate::OpError::msg(format!("cannot damage {}: {e}", file.display())))
}

/// The random stream of the `corrupt` fault `fault` of a run with `seed`: what it damages is the
/// seed's, so the same run damages the same bytes again.
pub fn corrupt_rng(seed: u64, fault: &PlannedFault) -> crate::seed::StressRng {
    let identity = fault.at_ms.map_or_else(|| "end".to_owned(), |ms| ms.to_string());
    crate::seed::rng(crate::seed::derive(seed, "corrupt", &identity))
}

/// Sends `signal` (`STOP`, `CONT`, `KILL`) to process `root` and to every process descended
/// from it. A process group is not enough: PostgreSQL's backends, for one, make themselves the
/// leaders of groups of their own. The tree is read before any signal goes (a killed root's
/// children would be handed to init, out of its tree), and read again after the root took it
/// (a child it started meanwhile gets it too). An error is the root's only: a child may have
/// ended meanwhile.
pub fn signal_tree(root: u32, signal: &str) -> Result<(), crate::OpError> {
    let send = |pid: u32| {
        std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid.to_string()])
            .output()
    };
    let before = crate::monitor::tree_of(root);
    let out = send(root).map_err(|e| crate::OpError::msg(format!("cannot run kill: {e}")))?;
    if !out.status.success() {
        return Err(crate::OpError::msg(format!(
            "process {root} did not take SIG{signal}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    // The rest in one `kill` of many pids: a process each would take a fork each, and on a busy
    // machine the tree would be stopped (or resumed) over a second, not at once.
    let mut rest: Vec<u32> = before
        .into_iter()
        .chain(crate::monitor::tree_of(root))
        .filter(|p| *p != root)
        .collect();
    rest.sort_unstable();
    rest.dedup();
    if !rest.is_empty() {
        let mut args = vec![format!("-{signal}")];
        args.extend(rest.iter().map(u32::to_string));
        let _ = std::process::Command::new("kill").args(&args).output();
    }
    Ok(())
}

/// SIGSTOP to process `root` and its tree, returning once every thread of it has stopped (or
/// ended): the moment before a power cut. `kill` only queues the signal; a thread running on
/// another core, or in the middle of a syscall, goes on until it next returns to its own code,
/// and one that saw a syscall fail at the cut would tell its client so before it stopped
/// (SQLite's "disk I/O error" for an fsync the cut answered). Waits up to ten seconds (a thread
/// may be in a syscall that does not end); then the tree is as stopped as it gets.
pub fn halt_tree(root: u32) -> Result<(), crate::OpError> {
    signal_tree(root, "STOP")?;
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let stopped = |pid: u32| {
        crate::monitor::thread_states(pid)
            .into_iter()
            .all(|s| matches!(s, 'T' | 't' | 'Z' | 'X'))
    };
    while !crate::monitor::tree_of(root).into_iter().all(stopped) && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// A `pause` fault on a server: SIGSTOP to it and every process of its tree, the hold time
/// (cut short when the run is `stopping`), SIGCONT — always, once stopped. Then waits (up to a
/// minute) until `accepts()` says the server takes a connection again, and returns how long
/// that took after the SIGCONT (`None` if it never did).
pub fn pause_tree(
    root: u32,
    hold: Duration,
    stopping: &dyn Fn() -> bool,
    mut accepts: impl FnMut() -> bool,
) -> Result<Option<Duration>, crate::OpError> {
    signal_tree(root, "STOP")?;
    let until = std::time::Instant::now() + hold;
    while !stopping() {
        let now = std::time::Instant::now();
        if now >= until {
            break;
        }
        std::thread::sleep((until - now).min(Duration::from_millis(20)));
    }
    signal_tree(root, "CONT")?;
    let resumed = std::time::Instant::now();
    let give_up = resumed + Duration::from_secs(60);
    while std::time::Instant::now() < give_up {
        if accepts() {
            return Ok(Some(resumed.elapsed()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_read_in_the_units_people_write() {
        assert_eq!(parse_rate("500B/s"), Ok(500));
        assert_eq!(parse_rate("64KB/s"), Ok(64_000));
        assert_eq!(parse_rate("1MiB/s"), Ok(1 << 20));
        assert_eq!(parse_rate("1.5mb"), Ok(1_500_000));
        for bad in ["", "fast", "10furlongs/s", "0B/s", "1e300GB/s"] {
            let e = parse_rate(bad).unwrap_err();
            assert!(e.contains(&format!("`{bad}`")), "{e}");
        }
    }

    #[test]
    fn a_kind_is_found_by_its_longest_name_and_its_facts_guide_the_parse() {
        // Every kind parses by its own name, with a hold exactly when its facts say it holds.
        for &k in FaultKind::ALL {
            let f = k.facts();
            let spec = match (f.arg, f.holds) {
                (ArgUnit::None, false) => format!("{}@at=1s", f.name),
                (ArgUnit::None, true) => format!("{}:2s@at=1s", f.name),
                (ArgUnit::Duration, _) => format!("{}(250ms){}@at=1s", f.name, if f.holds { ":2s" } else { "" }),
                (_, _) => format!("{}(1MB/s){}@at=1s", f.name, if f.holds { ":2s" } else { "" }),
            };
            let parsed = FaultSpec::parse(&spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(parsed.kind, k, "{spec}");
            assert_eq!(parsed.hold.is_some(), f.holds, "{spec}");
            assert_eq!(
                FaultSpec::parse(&format!("{}@end", f.name)).is_ok(),
                f.at_end && f.arg == ArgUnit::None && !f.holds,
                "{spec}"
            );
        }
        let e = FaultSpec::parse("pause(1s:3s@at=1s").unwrap_err();
        assert!(e.contains("does not close it"), "{e}");
        let e = FaultSpec::parse("kill-all@at=1s").unwrap_err();
        assert!(e.contains("has no kind `kill-all`"), "{e}");
    }

    use super::*;

    #[test]
    fn specs_parse_and_bad_ones_say_why() {
        let p = |s: &str| FaultSpec::parse(s).unwrap();
        assert_eq!(
            p("pause:3s@at=20s"),
            FaultSpec {
                kind: FaultKind::Pause,
                arg: None,
                hold: Some(Duration::from_secs(3)),
                when: When::At(Duration::from_secs(20))
            }
        );
        assert_eq!(
            p(" kill@every=5s..15s ").when,
            When::Every {
                min: Duration::from_secs(5),
                max: Duration::from_secs(15)
            }
        );
        assert_eq!(p("corrupt@end").when, When::End);
        assert_eq!(p("disk-full:10s@at=12s").kind, FaultKind::DiskFull);
        for (bad, want) in [
            ("pause@at=1s", "says not how long `pause` lasts"),
            ("kill:3s@at=1s", "gives a time to `kill`"),
            ("explode@at=1s", "has no kind `explode`"),
            ("kill", "says not when"),
            ("kill@soon", "has no time `soon`"),
            ("kill@every=9s..2s", "has an empty range"),
            ("pause:2s@end", "at the end"),
            ("pause:0s@at=1s", "has no time in `0s`"),
        ] {
            let e = FaultSpec::parse(bad).unwrap_err();
            assert!(e.contains(want) && e.contains("KIND[(ARG)][:HOLD]@WHEN"), "{bad}: {e}");
        }
    }

    #[test]
    fn network_specs_parse_with_their_argument_and_bad_ones_say_why() {
        let p = |s: &str| FaultSpec::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        let delay = p("net-delay(250ms):3s@at=2s");
        assert_eq!(
            (delay.kind, delay.arg, delay.hold),
            (
                FaultKind::NetDelay,
                Some(FaultArg::Ms(250)),
                Some(Duration::from_secs(3))
            )
        );
        let rate = p("net-bandwidth(64KB/s):5s@every=10s");
        assert_eq!(
            (rate.kind, rate.arg),
            (FaultKind::NetBandwidth, Some(FaultArg::BytesPerS(64_000)))
        );
        assert_eq!(p("net-drop:2s@at=1s").kind, FaultKind::NetDrop);
        assert_eq!(p("net-reset@at=6s").hold, None);
        assert_eq!(p("net-partition:1s@at=1s").kind, FaultKind::NetPartition);
        for k in FaultKind::NETWORK {
            assert!(k.is_network() && !k.facts().at_end, "{k}");
        }
        assert!(!FaultKind::Kill.is_network());
        for (bad, want) in [
            ("net-delay:3s@at=1s", "says not how long `net-delay` delays"),
            ("net-delay(0ms):3s@at=1s", "give more than 0"),
            ("net-bandwidth(fast):3s@at=1s", "rate `fast`"),
            ("net-bandwidth:3s@at=1s", "says not the rate of `net-bandwidth`"),
            ("net-drop@at=1s", "says not how long `net-drop` lasts"),
            ("net-drop:3s@end", "at the end"),
            ("net-delay(250ms):3s@end", "at the end"),
            ("net-reset@end", "at the end"),
            ("net-reset:3s@at=1s", "gives a time to `net-reset`"),
            ("net-reset(1s)@at=1s", "takes none"),
        ] {
            let e = FaultSpec::parse(bad).unwrap_err();
            assert!(e.contains(want) && !e.contains('\n'), "{bad}: {e}");
        }
    }

    #[test]
    fn the_schedule_is_the_seeds_and_stays_within_the_run() {
        let specs = [
            FaultSpec::parse("kill@every=1s..3s").unwrap(),
            FaultSpec::parse("pause:1s@at=4s").unwrap(),
            FaultSpec::parse("corrupt@end").unwrap(),
        ];
        let d = Some(Duration::from_secs(20));
        let a = schedule(&specs, 7, d).unwrap();
        assert_eq!(a, schedule(&specs, 7, d).unwrap(), "the same seed, the same schedule");
        assert_ne!(a, schedule(&specs, 8, d).unwrap(), "another seed, another schedule");
        let kills: Vec<u64> = a
            .iter()
            .filter(|f| f.kind == FaultKind::Kill)
            .map(|f| f.at_ms.unwrap())
            .collect();
        assert!(kills.len() >= 6 && kills.len() <= 20, "{kills:?}");
        assert!(
            kills.windows(2).all(|w| (1000..=3000).contains(&(w[1] - w[0]))),
            "{kills:?}"
        );
        assert!(kills.iter().all(|t| *t < 20_000));
        assert!(
            a.iter()
                .any(|f| f.kind == FaultKind::Pause && f.at_ms == Some(4000) && f.hold_ms == Some(1000))
        );
        assert_eq!(a.last().map(|f| (f.kind, f.at_ms)), Some((FaultKind::Corrupt, None)));
        assert!(
            a.windows(2)
                .all(|w| w[0].at_ms.unwrap_or(u64::MAX) <= w[1].at_ms.unwrap_or(u64::MAX))
        );

        let late = schedule(&[FaultSpec::parse("kill@at=30s").unwrap()], 1, d).unwrap_err();
        assert!(late.contains("at or after the run's end (20s)"), "{late}");
        let open = schedule(&[FaultSpec::parse("kill@every=1s").unwrap()], 1, None).unwrap_err();
        assert!(open.contains("no duration"), "{open}");
    }
}
