//! `replay.json`: everything needed to run the same users through the same streams again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{Origin, RunConfig};
use crate::error::ReplayError;
use crate::seed::{DatabaseSeed, SeedPlan, UserSeed};
use crate::verdict::StopReason;

/// The version of `replay.json` this build writes and reads.
pub const REPLAY_FORMAT_VERSION: u64 = 1;

/// A `replay.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayFile {
    /// [`REPLAY_FORMAT_VERSION`].
    pub format_version: u64,
    /// The stress-core version that wrote it.
    pub tool_version: String,
    /// The RNG and how it was seeded.
    pub rng: String,
    /// The workload's name.
    pub workload: String,
    /// The adapter's name.
    pub adapter: String,
    /// The adapter's settings.
    pub adapter_config: serde_json::Value,
    /// The global seed.
    pub seed: u64,
    /// The full resolved configuration.
    pub config: RunConfig,
    /// Every user's identity and seed.
    pub users: Vec<UserSeed>,
    /// Every database's setup seed.
    pub databases: Vec<DatabaseSeed>,
    /// Why the run stopped (`null` while it runs).
    pub stop_reason: Option<StopReason>,
    /// The package and target the harness was built from, when `cargo stress` ran it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// The fault schedule drawn from the seed (`--fault`), injected again as it is by a replay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<crate::fault::PlannedFault>,
    /// How many ops each user ran (by id), written when the run ends: a replay runs each user
    /// to its count, so that a run bounded by time replays the same ops and its digests match.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub user_ops: std::collections::BTreeMap<String, u64>,
    /// The controls applied while the users ran (the dashboard's pause, resume, rate and stop),
    /// each with its offset: a replay applies them again at the same offsets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<crate::control::Control>,
}

impl ReplayFile {
    /// The recorded seeds, as given (never re-derived).
    pub fn seed_plan(&self) -> SeedPlan {
        SeedPlan {
            seed: self.seed,
            users: self.users.clone(),
            databases: self.databases.clone(),
        }
    }

    /// Reads a `replay.json`, or the one inside a run directory.
    pub fn load(path: &Path) -> Result<Self, ReplayError> {
        let file: PathBuf = if path.is_dir() {
            path.join("replay.json")
        } else {
            path.to_owned()
        };
        let text = std::fs::read_to_string(&file).map_err(|source| ReplayError::Read {
            path: file.clone(),
            source,
        })?;
        let malformed = |message: String| ReplayError::Malformed {
            path: file.clone(),
            message,
        };
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| malformed(format!("not JSON: {e}")))?;
        let version = v
            .get("format_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| malformed("it has no format_version".into()))?;
        if version != REPLAY_FORMAT_VERSION {
            return Err(ReplayError::Version {
                path: file,
                found: version,
                supported: REPLAY_FORMAT_VERSION,
                tool: v
                    .get("tool_version")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("unknown")
                    .to_owned(),
            });
        }
        // From the text, not the value: serde_json then names the line and column.
        serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))
    }

    /// The directory the file was in, to refuse writing a replay over its original.
    pub(crate) fn source_dir(path: &Path) -> PathBuf {
        if path.is_dir() {
            path.to_owned()
        } else {
            path.parent().unwrap_or(Path::new(".")).to_owned()
        }
    }
}
