//! Which part of a run this process runs: a shard of its users (`--shard I/N`), and the steps
//! a sharded run on a shared engine adds (`--setup-only`, `--verify-only`). The sharded run
//! itself — manifests and the merge — is `crate::shard`'s.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The variables `--shard auto/N` reads the index from, in this order: a Kubernetes Indexed
/// Job's, a Slurm job array's, a Nomad allocation's.
pub const AUTO_INDEX_VARS: &[&str] = &["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "NOMAD_ALLOC_INDEX"];

/// Shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// From 0.
    pub index: usize,
    /// How many shards the run has.
    pub count: usize,
}

impl Shard {
    /// Whether the user at `global_index` of the run's seed plan is this shard's.
    pub fn owns(&self, global_index: usize) -> bool {
        global_index % self.count == self.index
    }

    /// Parses `I/N` or `auto/N` (the index from the first of [`AUTO_INDEX_VARS`] that `var`
    /// finds).
    pub fn parse_with(s: &str, var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let what = "give I/N with I from 0 to N-1, like 0/3, or auto/N to take I from JOB_COMPLETION_INDEX, \
                    SLURM_ARRAY_TASK_ID or NOMAD_ALLOC_INDEX";
        let (i, n) = s
            .trim()
            .split_once('/')
            .ok_or_else(|| format!("`{s}` is not a shard: {what}"))?;
        let count: usize = n
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` has no shard count after the `/`: {what}"))?;
        if count == 0 {
            return Err(format!("`{s}` has 0 shards: {what}"));
        }
        let index: usize = if i.trim() == "auto" {
            let (name, value) = AUTO_INDEX_VARS
                .iter()
                .find_map(|v| var(v).map(|x| (*v, x)))
                .ok_or_else(|| {
                    format!(
                        "`{s}` takes the shard index from {}, and none is set: give the index (0/{count}) or \
                         run it as a Kubernetes Indexed Job, a Slurm array or a Nomad job",
                        AUTO_INDEX_VARS.join(", ")
                    )
                })?;
            value
                .trim()
                .parse()
                .map_err(|_| format!("{name}={value} is not a shard index: expected a whole number"))?
        } else {
            i.trim()
                .parse()
                .map_err(|_| format!("`{s}` has no shard index before the `/`: {what}"))?
        };
        if index >= count {
            return Err(format!(
                "`{s}` is shard {index} of {count}: shards are numbered 0 to {}",
                count - 1
            ));
        }
        Ok(Self { index, count })
    }

    /// [`parse_with`](Self::parse_with) on this process's environment.
    pub fn parse(s: &str) -> Result<Self, String> {
        Self::parse_with(s, |v| std::env::var(v).ok())
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a step of a sharded run on a shared engine does beside running users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Setup, users, verify: a whole run (or a shard of one).
    #[default]
    Run,
    /// Only the setup step, once, before the shards of a run on a shared engine.
    SetupOnly,
    /// Only the verify step, after the merge of a run on a shared engine, against the merged
    /// run's acknowledged writes (its `ledger.json`); the result goes into that run's summary.
    VerifyOnly(std::path::PathBuf),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_refuse_with_the_fix() {
        let none = |_: &str| None;
        assert_eq!(Shard::parse_with("1/3", none), Ok(Shard { index: 1, count: 3 }));
        assert_eq!(Shard::parse_with(" 0 / 1 ", none), Ok(Shard { index: 0, count: 1 }));
        for (bad, want) in [
            ("3/3", "shards are numbered 0 to 2"),
            ("0/0", "has 0 shards"),
            ("1", "is not a shard"),
            ("x/3", "no shard index"),
            ("1/x", "no shard count"),
            ("auto/3", "none is set"),
        ] {
            let e = Shard::parse_with(bad, none).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
        let k8s = |v: &str| (v == "JOB_COMPLETION_INDEX").then(|| "2".to_owned());
        assert_eq!(Shard::parse_with("auto/3", k8s), Ok(Shard { index: 2, count: 3 }));
        let slurm = |v: &str| (v == "SLURM_ARRAY_TASK_ID").then(|| "5".to_owned());
        assert!(Shard::parse_with("auto/3", slurm).unwrap_err().contains("shard 5 of 3"));
        let junk = |v: &str| (v == "NOMAD_ALLOC_INDEX").then(|| "two".to_owned());
        assert!(
            Shard::parse_with("auto/3", junk)
                .unwrap_err()
                .contains("NOMAD_ALLOC_INDEX=two")
        );
    }
}
