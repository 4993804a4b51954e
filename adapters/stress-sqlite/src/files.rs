//! The size on disk of the SQLite files (database, WAL and shared-memory index).

use std::path::PathBuf;

use stress_core::monitor::{MetricsSource, Reading, ResourceKind};

/// Reports `disk_mb`: the database files with their `-wal` and `-shm` companions.
#[derive(Debug)]
pub(crate) struct SqliteFiles {
    paths: Vec<PathBuf>,
}

impl SqliteFiles {
    pub(crate) fn new(paths: Vec<PathBuf>) -> Self {
        Self { paths }
    }

    pub(crate) fn bytes(&self) -> u64 {
        bytes_of(&self.paths)
    }
}

/// The bytes of the database files at `paths`, with their `-wal` and `-shm` companions: three
/// `stat` calls a database, cheap enough to ask before every write.
pub(crate) fn bytes_of(paths: &[PathBuf]) -> u64 {
    let mut total = 0;
    for p in paths {
        for suffix in ["", "-wal", "-shm"] {
            let mut f = p.clone().into_os_string();
            f.push(suffix);
            total += std::fs::metadata(&f).map_or(0, |m| m.len());
        }
    }
    total
}

impl MetricsSource for SqliteFiles {
    fn name(&self) -> &str {
        "sqlite"
    }

    fn sample(&mut self) -> Result<Vec<Reading>, String> {
        Ok(vec![Reading::new(
            "disk_mb",
            ResourceKind::DiskMb,
            self.bytes() as f64 / 1_048_576.0,
        )])
    }
}
