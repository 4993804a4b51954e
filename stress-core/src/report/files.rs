//! Where a run's files go, and how they are written: atomically (temporary file + rename), so
//! that a reader never sees half a file.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::RunError;

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Results are for reading by anyone who can read the directory (tempfile makes 0600).
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    tmp.as_file().sync_data()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The files that make a directory a run's: a directory holding one is never written into.
const RUN_FILES: &[&str] = &["summary.json", "replay.json"];

/// Claims `dir` as the output directory of a new run: creates it, or accepts an existing one
/// that holds no run.
pub fn claim_exact(dir: &Path) -> Result<PathBuf, RunError> {
    if let Some(f) = RUN_FILES.iter().find(|f| dir.join(f).exists()) {
        return Err(RunError::Output {
            path: dir.to_owned(),
            message: format!("already holds a run ({f}): choose another directory or remove it"),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| RunError::Output {
        path: dir.to_owned(),
        message: format!("cannot be created: {e}"),
    })?;
    Ok(dir.to_owned())
}

/// Creates a fresh run directory `base/<workload>/<run-id>/` and points `base/<workload>/latest`
/// at it.
pub fn claim_new(base: &Path, workload: &str, seed: u64) -> Result<PathBuf, RunError> {
    let parent = base.join(sanitize(workload));
    std::fs::create_dir_all(&parent).map_err(|e| RunError::Output {
        path: parent.clone(),
        message: format!("cannot be created: {e}"),
    })?;
    for dir in run_dir_candidates(&parent, seed).take(1000) {
        match std::fs::create_dir(&dir) {
            Ok(()) => {
                mark_latest(&dir);
                return Ok(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(RunError::Output {
                    path: dir,
                    message: format!("cannot be created: {e}"),
                });
            }
        }
    }
    Err(RunError::Output {
        path: parent,
        message: "has too many runs with this seed this second".into(),
    })
}

/// A path for a new run directory `base/<workload>/<run-id>/` that does not exist yet (not
/// created: for a tool that hands it to a harness as `STRESS_OUTPUT_DIR`).
pub fn fresh_run_dir(base: &Path, workload: &str, seed: u64) -> PathBuf {
    run_dir_candidates(&base.join(sanitize(workload)), seed)
        .find(|d| !d.exists())
        .expect("an unused name")
}

/// Run directory names under `parent`, best first: `<UTC stamp>-s<seed>`, then `-1`, `-2`, …
fn run_dir_candidates(parent: &Path, seed: u64) -> impl Iterator<Item = PathBuf> + '_ {
    let stamp = crate::utc::utc_stamp(std::time::SystemTime::now());
    (0u32..).map(move |n| match n {
        0 => parent.join(format!("{stamp}-s{seed}")),
        n => parent.join(format!("{stamp}-s{seed}-{n}")),
    })
}

/// Points `latest` beside a run directory at it.
pub fn mark_latest(run_dir: &Path) {
    if let (Some(parent), Some(id)) = (run_dir.parent(), run_dir.file_name().and_then(|n| n.to_str())) {
        point_latest(parent, id);
    }
}

/// Points `parent/latest` at `id` (a relative symlink, replaced atomically). Best effort: a
/// filesystem without symlinks just has no pointer.
fn point_latest(parent: &Path, id: &str) {
    #[cfg(unix)]
    {
        let tmp = parent.join(format!(".latest-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        if std::os::unix::fs::symlink(id, &tmp).is_ok() && std::fs::rename(&tmp, parent.join("latest")).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The default base of run directories: `<target>/stress`, where `<target>` is the cargo target
/// directory holding this executable (found by its `CACHEDIR.TAG`), else `./target`.
pub fn default_base() -> PathBuf {
    let exe = std::env::current_exe().ok();
    let target = exe
        .as_deref()
        .and_then(|e| e.ancestors().skip(1).find(|d| d.join("CACHEDIR.TAG").is_file()))
        .map(Path::to_path_buf);
    target.unwrap_or_else(|| PathBuf::from("target")).join("stress")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    use crate::utc::{rfc3339, utc_stamp};

    #[test]
    fn timestamps() {
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101-000000");
        // 2024-02-29T13:45:07Z
        let t = UNIX_EPOCH + Duration::from_secs(1_709_214_307);
        assert_eq!(utc_stamp(t), "20240229-134507");
        assert_eq!(rfc3339(t), "2024-02-29T13:45:07Z");
    }

    #[test]
    fn run_directories_are_fresh_and_never_reused() {
        let base = tempfile::tempdir().unwrap();
        let a = claim_new(base.path(), "my/workload", 7).unwrap();
        let b = claim_new(base.path(), "my/workload", 7).unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(base.path().join("my_workload")));
        let latest = std::fs::read_link(base.path().join("my_workload/latest")).unwrap();
        assert_eq!(latest, Path::new(b.file_name().unwrap()));
        write_atomic(&a.join("summary.json"), b"{}").unwrap();
        let err = claim_exact(&a).unwrap_err().to_string();
        assert!(err.contains("already holds a run"), "{err}");
        assert!(claim_exact(&base.path().join("new/dir")).is_ok());
    }
}
