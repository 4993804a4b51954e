//! `shrink.md`: what a search did, step by step, and how to replay what it found.

use std::fmt::Write as _;

use super::search::{End, ShrinkReport, StepOutcome};
use super::{Size, human_ms};

fn cells(s: &Size) -> [String; 4] {
    [
        s.users.to_string(),
        s.ops.map_or("(duration)".to_owned(), |n| n.to_string()),
        s.faults.to_string(),
        s.duration_ms.map_or("-".to_owned(), human_ms),
    ]
}

impl ShrinkReport {
    /// `shrink.md`: the failure chased, the original's and the smallest run's sizes, each
    /// candidate with its size and outcome, and `replay_command` (the exact command that
    /// replays the smallest run, when there is one).
    pub fn markdown(&self, workload: &str, source: &str, replay_command: Option<&str>) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Shrinking `{workload}`\n");
        let _ = writeln!(md, "Run shrunk: `{source}`\n");
        if let Some(t) = &self.target {
            let _ = writeln!(md, "Failure chased: {t}\n");
        }
        let _ = writeln!(md, "**{}**\n", self.headline());
        let end = match self.end {
            End::Done => "no pass found a smaller run that fails the same way",
            End::Budget => "the budget was spent",
            End::Interrupted => "interrupted (Ctrl-C)",
            End::NotReproduced => "the original did not fail the same way in any of its tries",
            End::NothingToShrink => "the run has no failure to chase",
        };
        let _ = writeln!(
            md,
            "Search ended: {end}, after {} candidates (the original included) in {:.1}s.\n",
            self.steps.len(),
            self.elapsed.as_secs_f64()
        );
        if let Some(b) = &self.best {
            let _ = writeln!(md, "| run | users | ops | faults | duration |");
            let _ = writeln!(md, "| --- | ---: | ---: | ---: | --- |");
            let [u, o, f, d] = cells(&self.original);
            let _ = writeln!(md, "| original | {u} | {o} | {f} | {d} |");
            let [u, o, f, d] = cells(&b.size);
            let _ = writeln!(md, "| smallest (candidate {}) | {u} | {o} | {f} | {d} |\n", b.n);
            let tries = match self.steps.get(b.n).map(|s| &s.outcome) {
                Some(StepOutcome::Failed { on_try }) => {
                    format!("1 of {on_try} tries failed (the search stops at the first)")
                }
                _ => "failed".to_owned(),
            };
            let _ = writeln!(md, "The smallest run: {tries}; its failure: {}\n", first_failure(b));
            let users: Vec<String> = super::running_users(&b.file)
                .iter()
                .map(|u| {
                    let ops = b
                        .file
                        .user_ops
                        .get(&u.id)
                        .map_or(String::new(), |n| format!(" ({n} ops)"));
                    format!("`{}`{ops}", u.id)
                })
                .collect();
            let _ = writeln!(md, "Its users: {}\n", users.join(", "));
        }
        if let Some(cmd) = replay_command {
            let _ = writeln!(md, "Replay it:\n\n```sh\n{cmd}\n```\n");
        }
        let _ = writeln!(md, "## Steps\n");
        let _ = writeln!(md, "| # | pass | change | users | ops | faults | duration | outcome |");
        let _ = writeln!(md, "| ---: | --- | --- | ---: | ---: | ---: | --- | --- |");
        for s in &self.steps {
            let [u, o, f, d] = cells(&s.size);
            let outcome = s.outcome.to_string().replace('|', "\\|");
            let change = s.change.replace('|', "\\|");
            let _ = writeln!(
                md,
                "| {} | {} | {change} | {u} | {o} | {f} | {d} | {outcome} |",
                s.n, s.pass
            );
        }
        md
    }
}

fn first_failure(b: &super::Best) -> String {
    super::target(&b.summary).map_or_else(|| "(none)".to_owned(), |f| f.message.clone())
}
