//! Candidates: a recorded run's `replay.json`, made smaller in one way. Each edit returns the
//! whole file, ready to be written and replayed; `None` when the edit would give a run that
//! cannot run (no user left, a fault past the end).

use std::fmt;

use crate::Summary;
use crate::report::ReplayFile;
use crate::seed::UserSeed;

use super::{Pass, Size, human_ms};

/// One smaller run to try.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// What it shrinks.
    pub pass: Pass,
    /// What changed, for people: `drop users writer-0, writer-1`.
    pub change: String,
    /// The run to replay.
    pub file: ReplayFile,
}

impl Candidate {
    /// Its size.
    pub fn size(&self) -> Size {
        Size::of(&self.file)
    }
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} ({})", self.pass, self.change, self.size())
    }
}

/// The recorded run as the search starts from it: each user's op count taken from the
/// summary when the file has none (a run whose counts were not written), so that every user
/// that runs has a count to shrink.
pub fn prepare(original: &ReplayFile, summary: &Summary) -> ReplayFile {
    let mut file = original.clone();
    if file.user_ops.is_empty() && !summary.users.is_empty() {
        file.user_ops = summary.users.iter().map(|u| (u.id.clone(), u.ops)).collect();
        file.config.user_ops = file.user_ops.clone();
    }
    file
}

/// The users that run in a replay of `file`: its shard's, and of those the ones chosen
/// (`only_users`), in the plan's order.
pub fn running_users(file: &ReplayFile) -> Vec<&UserSeed> {
    file.users
        .iter()
        .enumerate()
        .filter(|(i, u)| file.config.shard.is_none_or(|s| s.owns(*i)) && file.config.runs(&u.id))
        .map(|(_, u)| u)
        .collect()
}

/// `file` without the users `drop` (ids); `None` when no user would be left.
pub fn without_users(file: &ReplayFile, drop: &[&str]) -> Option<ReplayFile> {
    let keep: Vec<String> = running_users(file)
        .into_iter()
        .filter(|u| !drop.contains(&u.id.as_str()))
        .map(|u| u.id.clone())
        .collect();
    if keep.is_empty() {
        return None;
    }
    let mut out = file.clone();
    out.user_ops.retain(|id, _| keep.contains(id));
    out.config.user_ops = out.user_ops.clone();
    out.config.only_users = keep;
    Some(out)
}

/// `file` with user `id` running its first `ops` ops only.
pub fn with_ops(file: &ReplayFile, id: &str, ops: u64) -> ReplayFile {
    let mut out = file.clone();
    out.user_ops.insert(id.to_owned(), ops);
    out.config.user_ops = out.user_ops.clone();
    out
}

/// `file` without its fault number `i`.
pub fn without_fault(file: &ReplayFile, i: usize) -> Option<ReplayFile> {
    (i < file.faults.len()).then(|| {
        let mut out = file.clone();
        out.faults.remove(i);
        out
    })
}

/// `file` with its fault number `i` moved later: to after the users stopped, before the verify
/// step (`@end`), where it meets no op in flight. `None` for a fault already there, or of a kind
/// that lasts (a pause at the end would meet no user).
pub fn fault_at_end(file: &ReplayFile, i: usize) -> Option<ReplayFile> {
    let f = file.faults.get(i)?;
    if f.at_ms.is_none() || f.kind.holds() {
        return None;
    }
    let mut out = file.clone();
    out.faults[i].at_ms = None;
    // The schedule keeps its order: timed faults first, then those at the end.
    out.faults.sort_by_key(|f| f.at_ms.map_or(u64::MAX, |t| t));
    Some(out)
}

/// `file` lasting `ms` instead of its duration; `None` when a fault (with its hold) or the
/// warm-up would not fit in it, or the run has stages (whose times are its duration).
pub fn with_duration(file: &ReplayFile, ms: u64) -> Option<ReplayFile> {
    let d = file.config.duration_ms?;
    if ms >= d || ms < shortest_duration(file) || !file.config.stages.is_empty() {
        return None;
    }
    let end = std::time::Duration::from_millis(ms);
    if file.faults.iter().any(|f| f.validate(Some(end)).is_err()) {
        return None;
    }
    let mut out = file.clone();
    out.config.duration_ms = Some(ms);
    Some(out)
}

/// The earliest duration `file` could be shortened to: past its last timed fault (and its
/// hold) and its warm-up.
pub(crate) fn shortest_duration(file: &ReplayFile) -> u64 {
    let faults = file
        .faults
        .iter()
        .filter_map(|f| f.at_ms.map(|at| at + f.hold_ms.unwrap_or(0)))
        .max()
        .unwrap_or(0);
    faults.max(file.config.warmup_ms) + 1
}

/// `file` with only the databases the plan's users work on (the first ones: the plan's users
/// name databases by index); `None` when every database has a user.
pub fn fewer_databases(file: &ReplayFile) -> Option<ReplayFile> {
    let n = file.config.databases.max(1);
    let used = file.users.iter().map(|u| u.db + 1).max().unwrap_or(1);
    if used >= n {
        return None;
    }
    let mut out = file.clone();
    out.config.databases = used;
    out.databases.retain(|d| d.index < used);
    Some(out)
}

/// The first candidates of every pass for `file`, smallest change first within a pass: the
/// running users' first and second halves dropped, then each user alone; each user's ops
/// halved; each fault dropped, then each moved to the end; the duration halved; the databases
/// no user works on dropped. [`shrink`](super::shrink) goes on from whichever fails: halving
/// again, and a binary search of each user's ops and of the duration.
pub fn plan_candidates(file: &ReplayFile) -> Vec<Candidate> {
    let mut out = Vec::new();
    let users: Vec<&str> = running_users(file).iter().map(|u| u.id.as_str()).collect();
    let mut chunk = users.len().div_ceil(2);
    while users.len() > 1 && chunk >= 1 {
        for part in users.chunks(chunk) {
            if let Some(f) = without_users(file, part) {
                out.push(Candidate {
                    pass: Pass::Users,
                    change: format!(
                        "drop user{} {}",
                        if part.len() == 1 { "" } else { "s" },
                        part.join(", ")
                    ),
                    file: f,
                });
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = 1;
    }
    for id in &users {
        if let Some(n) = file.user_ops.get(*id).copied().filter(|n| *n > 1) {
            out.push(Candidate {
                pass: Pass::Ops,
                change: format!("{id}: first {} of {n} ops", n / 2),
                file: with_ops(file, id, n / 2),
            });
        }
    }
    for i in 0..file.faults.len() {
        if let Some(f) = without_fault(file, i) {
            out.push(Candidate {
                pass: Pass::Faults,
                change: format!("drop fault {}", describe_fault(file, i)),
                file: f,
            });
        }
    }
    for i in 0..file.faults.len() {
        if let Some(f) = fault_at_end(file, i) {
            out.push(Candidate {
                pass: Pass::Faults,
                change: format!("move fault {} to the end", describe_fault(file, i)),
                file: f,
            });
        }
    }
    if let Some(d) = file.config.duration_ms
        && let Some(f) = with_duration(file, (d / 2).max(shortest_duration(file)))
    {
        out.push(Candidate {
            pass: Pass::Duration,
            change: format!(
                "duration {} instead of {}",
                human_ms(f.config.duration_ms.unwrap_or(d)),
                human_ms(d)
            ),
            file: f,
        });
    }
    if let Some(f) = fewer_databases(file) {
        out.push(Candidate {
            pass: Pass::Databases,
            change: format!("{} databases instead of {}", f.config.databases, file.config.databases),
            file: f,
        });
    }
    out
}

/// `kill@2.0s`, `pause:1s@0.5s`, `restart@end`.
pub(crate) fn describe_fault(file: &ReplayFile, i: usize) -> String {
    let f = &file.faults[i];
    let hold = f.hold_ms.map_or(String::new(), |h| format!(":{}", human_ms(h)));
    let at = f.at_ms.map_or("end".to_owned(), human_ms);
    format!("{}{hold}@{at}", f.kind)
}
