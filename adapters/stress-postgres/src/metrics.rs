//! The server's resources: the process tree of a managed server (memory as PSS, CPU) from
//! `/proc`, and database size, connections, commits and rollbacks from `pg_stat_database`.

use std::path::PathBuf;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postgres::Client;
use stress_core::monitor::{CpuMeter, Health, MetricsSource, Reading, ResourceKind, read_tree};

use crate::server::last_lines;

/// A managed server's process, for `/proc` readings and crash detection.
#[derive(Debug)]
pub(crate) struct Watched {
    /// The postmaster's pid (a new one after a fault started it again).
    pub(crate) pid: Arc<std::sync::atomic::AtomicU32>,
    /// Set while a fault stops and starts the server: not a crash.
    pub(crate) restarting: Arc<std::sync::atomic::AtomicBool>,
    pub(crate) child: Arc<Mutex<Child>>,
    pub(crate) log: PathBuf,
}

pub(crate) struct PgMetrics {
    pub(crate) watched: Option<Watched>,
    pub(crate) config: postgres::Config,
    pub(crate) tls: crate::tls::Tls,
    pub(crate) databases: Vec<String>,
    /// Backends of the monitor itself counted in `numbackends` (it connects to a watched
    /// database only on a given server).
    pub(crate) own_backends: f64,
    pub(crate) client: Option<Client>,
    pub(crate) cpu: CpuMeter,
}

impl std::fmt::Debug for PgMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgMetrics")
            .field("watched", &self.watched)
            .finish_non_exhaustive()
    }
}

impl PgMetrics {
    fn process_readings(&mut self, out: &mut Vec<Reading>) {
        let Some(w) = &self.watched else { return };
        let Some(tree) = read_tree(w.pid.load(std::sync::atomic::Ordering::SeqCst)) else {
            return;
        };
        let percent = self.cpu.percent(tree.cpu_seconds);
        let bytes = tree.bytes;
        out.push(Reading::new(
            "memory_mb",
            ResourceKind::MemoryMb,
            bytes as f64 / 1_048_576.0,
        ));
        out.push(Reading::new("cpu_percent", ResourceKind::CpuPercent, percent));
    }

    fn stats_readings(&mut self, out: &mut Vec<Reading>) -> Result<(), String> {
        if self.client.is_none() {
            let mut config = self.config.clone();
            config.connect_timeout(Duration::from_secs(2));
            self.client = Some(crate::client(&config, &self.tls).map_err(|e| e.to_string())?);
        }
        let client = self.client.as_mut().expect("connected above");
        let row = client
            .query_one(
                "SELECT coalesce(sum(pg_database_size(datname)), 0)::float8, coalesce(sum(numbackends), 0)::float8, \
                 coalesce(sum(xact_commit), 0)::float8, coalesce(sum(xact_rollback), 0)::float8 \
                 FROM pg_stat_database WHERE datname = ANY($1)",
                &[&self.databases],
            )
            .map_err(|e| {
                self.client = None;
                e.to_string()
            })?;
        out.push(Reading::new(
            "db_size_mb",
            ResourceKind::DiskMb,
            row.get::<_, f64>(0) / 1_048_576.0,
        ));
        out.push(Reading::new(
            "connections",
            ResourceKind::Other,
            (row.get::<_, f64>(1) - self.own_backends).max(0.0),
        ));
        out.push(Reading::new("commits", ResourceKind::Other, row.get(2)));
        out.push(Reading::new("rollbacks", ResourceKind::Other, row.get(3)));
        Ok(())
    }
}

impl MetricsSource for PgMetrics {
    fn name(&self) -> &str {
        "postgres"
    }

    fn sample(&mut self) -> Result<Vec<Reading>, String> {
        let mut out = Vec::new();
        self.process_readings(&mut out);
        let stats = self.stats_readings(&mut out);
        match stats {
            Err(e) if out.is_empty() => Err(format!("cannot read pg_stat_database: {e}")),
            _ => Ok(out),
        }
    }

    fn health(&mut self) -> Health {
        let Some(w) = &self.watched else { return Health::Alive };
        if w.restarting.load(std::sync::atomic::Ordering::SeqCst) {
            return Health::Alive;
        }
        let status = w
            .child
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_wait()
            .ok()
            .flatten();
        match status {
            None => Health::Alive,
            Some(status) => {
                let log = std::fs::read_to_string(&w.log).unwrap_or_default();
                Health::Crashed(format!(
                    "postgres (pid {}) exited ({status}); last log lines: {}",
                    w.pid.load(std::sync::atomic::Ordering::SeqCst),
                    last_lines(&log, 3)
                ))
            }
        }
    }
}
