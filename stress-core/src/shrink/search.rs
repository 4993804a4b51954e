//! The search: replay the original until it fails again, then try smaller candidates pass by
//! pass, keeping each one that fails the same way, until no pass finds a smaller one, the
//! budget is spent, or the caller says stop.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::Summary;
use crate::report::ReplayFile;
use crate::verdict::StopReason;

use super::plan::{describe_fault, shortest_duration};
use super::{Candidate, Pass, Size, human_ms, plan, same_failure, target};

/// How hard to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Runs of each candidate at most; the first that fails the same way decides (default 3).
    pub tries: u32,
    /// How long to search; then the smallest failing run so far is the result (default 10
    /// minutes). The original's first try always runs.
    pub budget: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            tries: 3,
            budget: Duration::from_secs(600),
        }
    }
}

/// One run the search asks for.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The candidate's number: 0 for the original, then 1, 2, … in the order tried.
    pub n: usize,
    /// Which try of the candidate, from 1.
    pub attempt: u32,
    /// The run to replay.
    pub file: &'a ReplayFile,
}

/// What running an [`Attempt`] gave.
#[derive(Debug, Clone)]
pub enum Trial {
    /// It ran: its summary.
    Ran(Box<Summary>),
    /// It did not start (the harness refused the file, say): not a failure of the same way.
    NotStarted(String),
    /// Stop searching (Ctrl-C): keep what was found.
    Stop,
}

/// How a candidate did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepOutcome {
    /// It failed the same way, at this try (the tries before it did not).
    Failed {
        /// The try that failed.
        on_try: u32,
    },
    /// None of its tries failed the same way.
    Held {
        /// Tries run.
        tries: u32,
        /// How the last try failed instead, if it failed at all.
        other: Option<String>,
    },
    /// It did not start.
    NotStarted {
        /// Why.
        why: String,
    },
    /// The search stopped while it ran (budget, Ctrl-C): undecided.
    Stopped {
        /// Tries that ran and did not fail the same way.
        tries: u32,
    },
}

impl fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { on_try } => write!(f, "FAILS the same way (try {on_try}: 1 of {on_try} failed)"),
            Self::Held { tries, other: None } => write!(f, "passes (0 of {tries} tries failed)"),
            Self::Held {
                tries,
                other: Some(other),
            } => write!(
                f,
                "fails another way (0 of {tries} tries failed the same way; last: {other})"
            ),
            Self::NotStarted { why } => write!(f, "did not start: {why}"),
            Self::Stopped { tries } => write!(f, "stopped after {tries} tries: undecided"),
        }
    }
}

/// One candidate tried.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Its number (0: the original).
    pub n: usize,
    /// What it shrank.
    pub pass: Pass,
    /// What changed.
    pub change: String,
    /// Its size.
    pub size: Size,
    /// How it did.
    pub outcome: StepOutcome,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "shrink {:>3}  {:<9} {}  [{}]: {}",
            self.n, self.pass, self.change, self.size, self.outcome
        )
    }
}

/// The smallest run that failed the same way.
#[derive(Debug, Clone)]
pub struct Best {
    /// Its candidate's number (0: the original, which nothing smaller reproduced).
    pub n: usize,
    /// The try that failed (its run is the one to keep).
    pub attempt: u32,
    /// The run.
    pub file: ReplayFile,
    /// What its failing try found.
    pub summary: Summary,
    /// Its size.
    pub size: Size,
}

/// Why the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum End {
    /// No pass found a smaller failing run: the best is as small as this search gets.
    Done,
    /// The budget was spent: the best so far.
    Budget,
    /// The caller said stop (Ctrl-C): the best so far.
    Interrupted,
    /// The original never failed the same way in its tries: nothing was shrunk.
    NotReproduced,
    /// The original has no failure to chase (it passed, or was only interrupted).
    NothingToShrink,
}

/// What a search did and found.
#[derive(Debug, Clone)]
pub struct ShrinkReport {
    /// The failure chased, as the original's summary words it.
    pub target: Option<String>,
    /// The original's size.
    pub original: Size,
    /// Tries of the original run, and whether one failed the same way (then the last one did).
    pub reproduced: StepOutcome,
    /// The smallest run that failed the same way (`None` when the original did not).
    pub best: Option<Best>,
    /// Every candidate tried, the original first.
    pub steps: Vec<Step>,
    /// Why it ended.
    pub end: End,
    /// How long it searched.
    pub elapsed: Duration,
}

impl ShrinkReport {
    /// Whether a failing run was found (the original reproduced), shrunk or not.
    pub fn reproduced(&self) -> bool {
        self.best.is_some()
    }

    /// One line: `shrunk 6 users, 1800 ops, … to 1 user, 40 ops, …`, or why nothing was.
    pub fn headline(&self) -> String {
        match (&self.best, self.end) {
            (_, End::NothingToShrink) => "nothing to shrink: the run has no failure to reproduce".to_owned(),
            (None, End::Interrupted) => "interrupted before the original failed again: nothing shrunk".to_owned(),
            (None, _) => match &self.reproduced {
                StepOutcome::Held { tries, .. } | StepOutcome::Stopped { tries } => {
                    format!("could not reproduce: 0 of {tries} tries failed")
                }
                StepOutcome::NotStarted { why } => format!("could not reproduce: the original did not start: {why}"),
                StepOutcome::Failed { .. } => unreachable!("a reproduced failure is the best"),
            },
            (Some(b), end) => {
                let how = match end {
                    End::Budget => " (budget spent: the smallest so far)",
                    End::Interrupted => " (interrupted: the smallest so far)",
                    _ => "",
                };
                if b.n == 0 {
                    format!(
                        "no smaller run fails the same way: the original ({}) is the smallest{how}",
                        b.size
                    )
                } else {
                    format!(
                        "shrunk {} to {} in {} candidates{how}",
                        self.original,
                        b.size,
                        self.steps.len() - 1
                    )
                }
            }
        }
    }
}

/// How the search ran out.
enum Halt {
    Budget,
    Interrupted,
}

struct Search<'a, R, P> {
    original: &'a Summary,
    options: Options,
    started: Instant,
    run: R,
    progress: P,
    steps: Vec<Step>,
    best: Best,
    /// Users whose op count a binary search ended at (nothing shorter failed), while no other
    /// pass has changed the run since: not searched again.
    settled: std::collections::BTreeMap<String, u64>,
}

impl<R, P> Search<'_, R, P>
where
    R: FnMut(&Attempt<'_>) -> Trial,
    P: FnMut(&Step),
{
    /// Runs `candidate` up to `tries` times; keeps it as the best when one fails the same way.
    fn attempt(&mut self, candidate: Candidate) -> Result<bool, Halt> {
        let n = self.steps.len();
        let size = candidate.size();
        let (outcome, halt, found) = self.tries(n, &candidate.file);
        let failed = matches!(outcome, StepOutcome::Failed { .. });
        let step = Step {
            n,
            pass: candidate.pass,
            change: candidate.change,
            size,
            outcome,
        };
        (self.progress)(&step);
        self.steps.push(step);
        if let Some((attempt, summary)) = found {
            self.best = Best {
                n,
                attempt,
                file: candidate.file,
                summary,
                size,
            };
        }
        match halt {
            Some(h) => Err(h),
            None => Ok(failed),
        }
    }

    /// The tries of one run: the outcome, why the search must stop, and the failing try.
    fn tries(&mut self, n: usize, file: &ReplayFile) -> (StepOutcome, Option<Halt>, Option<(u32, Summary)>) {
        let mut other = None;
        for attempt in 1..=self.options.tries {
            // The original's first try always runs: without it there is nothing to report.
            if (n > 0 || attempt > 1) && self.started.elapsed() >= self.options.budget {
                return (StepOutcome::Stopped { tries: attempt - 1 }, Some(Halt::Budget), None);
            }
            match (self.run)(&Attempt { n, attempt, file }) {
                Trial::Stop => {
                    return (
                        StepOutcome::Stopped { tries: attempt - 1 },
                        Some(Halt::Interrupted),
                        None,
                    );
                }
                Trial::NotStarted(why) => return (StepOutcome::NotStarted { why }, None, None),
                Trial::Ran(s) => {
                    if same_failure(self.original, &s) {
                        return (StepOutcome::Failed { on_try: attempt }, None, Some((attempt, *s)));
                    }
                    if s.stop_reason == StopReason::Interrupted {
                        return (
                            StepOutcome::Stopped { tries: attempt - 1 },
                            Some(Halt::Interrupted),
                            None,
                        );
                    }
                    other = s.failures.first().map(|f| f.message.clone());
                }
            }
        }
        (
            StepOutcome::Held {
                tries: self.options.tries,
                other,
            },
            None,
            None,
        )
    }

    /// Drops halves of the users, then quarters, … then single ones (ddmin's complements).
    fn users(&mut self) -> Result<bool, Halt> {
        let mut progress = false;
        let mut chunk = plan::running_users(&self.best.file).len().div_ceil(2);
        while chunk >= 1 {
            let mut start = 0;
            loop {
                let ids: Vec<String> = plan::running_users(&self.best.file)
                    .iter()
                    .map(|u| u.id.clone())
                    .collect();
                if ids.len() <= 1 || start >= ids.len() {
                    break;
                }
                let part: Vec<&str> = ids[start..(start + chunk).min(ids.len())]
                    .iter()
                    .map(String::as_str)
                    .collect();
                let Some(file) = plan::without_users(&self.best.file, &part) else {
                    start += chunk;
                    continue;
                };
                let change = format!(
                    "drop user{} {}",
                    if part.len() == 1 { "" } else { "s" },
                    part.join(", ")
                );
                if self.attempt(Candidate {
                    pass: Pass::Users,
                    change,
                    file,
                })? {
                    progress = true; // the same start now names the users after the dropped ones
                } else {
                    start += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        Ok(progress)
    }

    /// For each user, the shortest prefix of its ops that still fails (a binary search).
    fn ops(&mut self) -> Result<bool, Halt> {
        let mut progress = false;
        let ids: Vec<String> = plan::running_users(&self.best.file)
            .iter()
            .map(|u| u.id.clone())
            .collect();
        for id in ids {
            let Some(mut hi) = self.best.file.user_ops.get(&id).copied() else {
                continue;
            };
            if self.settled.get(&id) == Some(&hi) {
                continue;
            }
            let mut lo = 1; // a user with no op is one the users pass drops
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                let file = plan::with_ops(&self.best.file, &id, mid);
                let change = format!("{id}: first {mid} of {hi} ops");
                if self.attempt(Candidate {
                    pass: Pass::Ops,
                    change,
                    file,
                })? {
                    hi = mid;
                    progress = true;
                } else {
                    lo = mid + 1;
                }
            }
            self.settled.insert(id, hi);
        }
        Ok(progress)
    }

    /// Each fault dropped (the last first), then each moved to the end.
    fn faults(&mut self) -> Result<bool, Halt> {
        let mut progress = false;
        let mut i = self.best.file.faults.len();
        while i > 0 {
            i -= 1;
            let change = format!("drop fault {}", describe_fault(&self.best.file, i));
            if let Some(file) = plan::without_fault(&self.best.file, i) {
                progress |= self.attempt(Candidate {
                    pass: Pass::Faults,
                    change,
                    file,
                })?;
            }
        }
        let mut i = 0;
        while i < self.best.file.faults.len() {
            let change = format!("move fault {} to the end", describe_fault(&self.best.file, i));
            let moved = match plan::fault_at_end(&self.best.file, i) {
                Some(file) => self.attempt(Candidate {
                    pass: Pass::Faults,
                    change,
                    file,
                })?,
                None => false,
            };
            // A moved fault goes to the end of the list: the same index is the next one.
            if moved {
                progress = true;
            } else {
                i += 1;
            }
        }
        Ok(progress)
    }

    /// The shortest duration that still fails (a binary search, to a tenth of a second).
    fn duration(&mut self) -> Result<bool, Halt> {
        let mut progress = false;
        let Some(mut hi) = self.best.file.config.duration_ms else {
            return Ok(false);
        };
        let mut lo = shortest_duration(&self.best.file);
        while hi > lo && hi - lo >= 100 {
            let mid = lo + (hi - lo) / 2;
            let Some(file) = plan::with_duration(&self.best.file, mid) else {
                break;
            };
            let change = format!("duration {} instead of {}", human_ms(mid), human_ms(hi));
            if self.attempt(Candidate {
                pass: Pass::Duration,
                change,
                file,
            })? {
                hi = mid;
                progress = true;
            } else {
                lo = mid + 1;
            }
        }
        Ok(progress)
    }

    fn databases(&mut self) -> Result<bool, Halt> {
        let Some(file) = plan::fewer_databases(&self.best.file) else {
            return Ok(false);
        };
        let change = format!(
            "{} databases instead of {}",
            file.config.databases, self.best.file.config.databases
        );
        self.attempt(Candidate {
            pass: Pass::Databases,
            change,
            file,
        })
    }

    /// The passes, again and again while one finds a smaller failing run.
    fn passes(&mut self) -> Result<(), Halt> {
        loop {
            let fewer = self.users()?;
            if fewer {
                self.settled.clear();
            }
            let shorter = self.ops()?;
            let mut changed = self.faults()?;
            changed |= self.duration()?;
            changed |= self.databases()?;
            if changed {
                // Another run: the prefixes found may not be the shortest any more.
                self.settled.clear();
            }
            if !(fewer || shorter || changed) {
                return Ok(());
            }
        }
    }
}

/// Searches for the smallest run that fails the way `original_summary` did: replays
/// `original` (with every user's op count, see [`plan::prepare`]) up to `tries` times until it
/// fails the same way — "could not reproduce" when it never does — then tries smaller
/// candidates: fewer users, shorter op prefixes, fewer faults or faults moved to the end, a
/// shorter duration, fewer databases, each up to `tries` times, keeping each that fails. `run`
/// replays one attempt; `progress` hears of each candidate as it is decided.
pub fn shrink<R, P>(
    original: &ReplayFile,
    original_summary: &Summary,
    options: &Options,
    run: R,
    mut progress: P,
) -> ShrinkReport
where
    R: FnMut(&Attempt<'_>) -> Trial,
    P: FnMut(&Step),
{
    let started = Instant::now();
    let file = plan::prepare(original, original_summary);
    let size = Size::of(&file);
    let options = Options {
        tries: options.tries.max(1),
        ..*options
    };
    let Some(failure) = target(original_summary) else {
        return ShrinkReport {
            target: None,
            original: size,
            reproduced: StepOutcome::Held { tries: 0, other: None },
            best: None,
            steps: Vec::new(),
            end: End::NothingToShrink,
            elapsed: started.elapsed(),
        };
    };
    let mut search = Search {
        original: original_summary,
        options,
        started,
        run,
        progress: &mut progress,
        steps: Vec::new(),
        settled: std::collections::BTreeMap::new(),
        best: Best {
            n: 0,
            attempt: 0,
            file: file.clone(),
            summary: original_summary.clone(),
            size,
        },
    };
    let first = search.attempt(Candidate {
        pass: Pass::Original,
        change: "the original, unchanged".to_owned(),
        file,
    });
    let reproduced = search.steps[0].outcome.clone();
    let end = match first {
        Ok(true) => match search.passes() {
            Ok(()) => End::Done,
            Err(Halt::Budget) => End::Budget,
            Err(Halt::Interrupted) => End::Interrupted,
        },
        Ok(false) | Err(Halt::Budget) => End::NotReproduced,
        Err(Halt::Interrupted) => End::Interrupted,
    };
    let found = matches!(reproduced, StepOutcome::Failed { .. });
    ShrinkReport {
        target: Some(failure.message.clone()),
        original: size,
        reproduced,
        best: found.then_some(search.best),
        steps: search.steps,
        end,
        elapsed: started.elapsed(),
    }
}
