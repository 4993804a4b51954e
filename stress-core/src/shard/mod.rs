//! Sharded runs: one run split over N processes (machines, pods), each owning a fixed part of
//! the users, and merged back into one run exactly.
//!
//! Shard `I` of `N` owns the users whose index in the run's seed plan (class by class, in the
//! workload's class order) satisfies `index % N == I`, so every class is spread over the
//! shards. Each user keeps the seed, database and op sequence it has in an unsharded run; the
//! workload's rate is split by the users' shares, as in one process. Every shard writes its
//! run directory as usual plus `shard.json` (what [`merge`](merge::merge) checks and needs
//! beyond the interval log) and `ledger.json` (the writes its users acknowledged).

pub mod merge;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::ledger::Ledger;

/// The version of `shard.json` this build writes and reads.
pub const SHARD_FORMAT_VERSION: u64 = 1;

pub use crate::config::{AUTO_INDEX_VARS, Shard, Step};

/// `shard.json`: who the shard is, and what the merge needs beyond the summary and the
/// interval log (exact histograms of service time, untimed time and phases; the wall-clock
/// start; the schedule's lag sum).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// [`SHARD_FORMAT_VERSION`].
    pub format_version: u64,
    /// The cargo-stress version that ran it.
    pub tool_version: String,
    /// The workload.
    pub workload: String,
    /// The adapter.
    pub adapter: String,
    /// The global seed.
    pub seed: u64,
    /// This shard's index.
    pub index: usize,
    /// How many shards the run has.
    pub count: usize,
    /// A hash of the run's configuration without the shard (equal in every shard of one run).
    pub config_hash: String,
    /// Whether the shards share one engine (a server given by address): setup and verify are
    /// steps of their own then.
    pub shared_engine: bool,
    /// When the users started, ms since the Unix epoch.
    pub users_started_ms: u64,
    /// The start barrier (`--start-at`), ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_ms: Option<u64>,
    /// How much later than the barrier the users started, ms (0 when on time or no barrier).
    #[serde(default)]
    pub late_ms: u64,
    /// The schedule lag summed over the slots, µs.
    #[serde(default)]
    pub lag_sum_us: u64,
    /// Whether any op ran on a schedule (service time kept apart from latency).
    #[serde(default)]
    pub open_loop: bool,
    /// Per op: its service time over the run, as a serialized histogram.
    #[serde(default)]
    pub service: BTreeMap<String, EncodedHistogram>,
    /// Per second: the service time of every op, as a serialized histogram.
    #[serde(default)]
    pub service_seconds: BTreeMap<u64, EncodedHistogram>,
    /// Per op: its untimed time.
    #[serde(default)]
    pub untimed: BTreeMap<String, EncodedHistogram>,
    /// Per phase: its durations.
    #[serde(default)]
    pub phases: BTreeMap<String, EncodedHistogram>,
    /// What the workload expects of its transactions, when it checks isolation: the merge
    /// joins the shards' `history.jsonl` and checks the whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<crate::isolation::Expectation>,
}

impl ShardManifest {
    /// Reads `dir/shard.json`; one line naming the problem otherwise.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join("shard.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "{} is not a shard's run directory (it has no shard.json): give the directories of runs \
                     made with --shard I/N",
                    dir.display()
                ));
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let version = v.get("format_version").and_then(serde_json::Value::as_u64);
        if version != Some(SHARD_FORMAT_VERSION) {
            return Err(format!(
                "{} is shard format_version {}, this cargo-stress reads {SHARD_FORMAT_VERSION}: rerun the shards \
                 with this version",
                path.display(),
                version.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
            ));
        }
        serde_json::from_value(v).map_err(|e| format!("{} is not a shard manifest: {e}", path.display()))
    }
}

/// `ledger.json`: per database, the writes the users acknowledged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledgers {
    /// By database index.
    pub databases: BTreeMap<usize, Ledger>,
    /// The users' tracked writes, for the acknowledged-write checker of the verify step (in a
    /// sharded run on a shared engine, whose shards cannot check alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<crate::durability::WriteLog>,
}

impl Ledgers {
    /// Reads `dir/ledger.json`.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let path = dir.join("ledger.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "cannot read {}: {e} (a merged sharded run has it; merge the shards first)",
                path.display()
            )
        })?;
        serde_json::from_str(&text).map_err(|e| format!("{} is not a ledger: {e}", path.display()))
    }

    /// Adds another's entries.
    pub fn merge(&mut self, other: &Ledgers) {
        for (db, l) in &other.databases {
            self.databases.entry(*db).or_default().merge(l);
        }
        self.writes.extend(other.writes.iter().cloned());
        self.writes.sort_by_key(crate::durability::WriteLog::user);
    }
}

/// A histogram as `shard.json` holds it: HdrHistogram's compressed V2 format in base64 (as in
/// interval logs), and the exact maximum, which that format rounds to its bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodedHistogram {
    /// The largest value recorded, exactly.
    pub max: u64,
    /// The histogram.
    pub hdr: String,
}

/// Encodes a histogram.
pub(crate) fn encode(h: &crate::stats::LatencyHistogram) -> EncodedHistogram {
    use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};
    let mut bytes = Vec::new();
    let written = V2DeflateSerializer::new().serialize(h.inner(), &mut bytes);
    debug_assert!(written.is_ok(), "serializing to memory cannot fail");
    EncodedHistogram {
        max: h.exact_max(),
        hdr: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes),
    }
}

/// Decodes what [`encode`] wrote.
pub(crate) fn decode(e: &EncodedHistogram) -> Result<crate::stats::LatencyHistogram, String> {
    let raw = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &e.hdr)
        .map_err(|e| format!("bad base64: {e}"))?;
    let h: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
        .deserialize(&mut raw.as_slice())
        .map_err(|e| format!("bad histogram: {e:?}"))?;
    let mut h = crate::stats::LatencyHistogram::from_inner(h);
    h.set_exact_max(e.max);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_user_belongs_to_exactly_one_shard_and_every_class_is_spread() {
        let plan = crate::seed::SeedPlan::derive(5, &[("a", 4), ("b", 3)], 1);
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for (i, _) in plan.users.iter().enumerate() {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1);
        }
        for s in &shards {
            let classes: Vec<&str> = plan
                .users
                .iter()
                .enumerate()
                .filter(|(i, _)| s.owns(*i))
                .map(|(_, u)| u.class.as_str())
                .collect();
            assert!(
                classes.contains(&"a") && classes.contains(&"b"),
                "shard {s}: {classes:?}"
            );
        }
    }

    /// The merge adds serialized histograms: the result is the histogram of the union of the
    /// values, count for count.
    #[test]
    fn merged_serialized_histograms_equal_the_histogram_of_the_union() {
        use rand::Rng;
        let mut rng = crate::seed::rng(11);
        let mut union = crate::stats::LatencyHistogram::new();
        let mut merged = crate::stats::LatencyHistogram::new();
        for part in 0..3 {
            let mut h = crate::stats::LatencyHistogram::new();
            for _ in 0..5_000 {
                // Spread over six decades, as latencies are.
                let v = 10f64.powf(rng.random_range(0.0..6.0)) as u64 + part;
                h.record(v);
                union.record(v);
            }
            merged.merge(&decode(&encode(&h)).expect("decodes what it encoded"));
        }
        assert_eq!(merged.len(), union.len());
        assert_eq!(merged.summary(), union.summary());
        assert!(
            merged
                .inner()
                .iter_recorded()
                .zip(union.inner().iter_recorded())
                .all(
                    |(a, b)| a.value_iterated_to() == b.value_iterated_to() && a.count_at_value() == b.count_at_value()
                ),
            "every bucket's count is the same"
        );
        assert_eq!(
            merged.inner().iter_recorded().count(),
            union.inner().iter_recorded().count()
        );
    }
}
