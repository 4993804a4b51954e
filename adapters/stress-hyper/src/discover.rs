//! Finding `hyperd`: `HYPERD_PATH`, then the `tableauhyperapi` Python package, then an error
//! that says how to install it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use stress_core::OpError;

/// How to get hyperd, for every error that says it is missing.
pub(crate) const INSTALL_HINT: &str = "install it with `pip install tableauhyperapi` (hyperd ships in that wheel) \
     or run scripts/install-hyperd, then set HYPERD_PATH to the binary or its directory";

/// The hyperd to run: the one given, else `HYPERD_PATH` (a binary or a directory holding
/// one), else the one inside an installed `tableauhyperapi` Python package.
pub(crate) fn find_hyperd(given: Option<&Path>) -> Result<PathBuf, OpError> {
    let (path, origin) = match given {
        Some(p) => (resolve(p), "the adapter's .hyperd(..)"),
        None => match std::env::var_os("HYPERD_PATH").filter(|v| !v.is_empty()) {
            Some(v) => (resolve(Path::new(&v)), "HYPERD_PATH"),
            None => match python_package_hyperd() {
                Some(p) => (p, "the tableauhyperapi Python package"),
                None => {
                    return Err(OpError::msg(format!(
                        "hyperd not found: HYPERD_PATH is not set and no tableauhyperapi Python package is installed; {INSTALL_HINT}"
                    )));
                }
            },
        },
    };
    check_executable(&path, origin)?;
    Ok(path)
}

/// A directory means the `hyperd` inside it.
fn resolve(p: &Path) -> PathBuf {
    if p.is_dir() { p.join("hyperd") } else { p.to_path_buf() }
}

fn check_executable(path: &Path, origin: &str) -> Result<(), OpError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        OpError::msg(format!(
            "hyperd not found at {} (from {origin}): {e}; {INSTALL_HINT}",
            path.display()
        ))
    })?;
    if !meta.is_file() {
        return Err(OpError::msg(format!(
            "hyperd at {} (from {origin}) is not a file; {INSTALL_HINT}",
            path.display()
        )));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(OpError::msg(format!(
            "hyperd at {} (from {origin}) is not executable: run `chmod +x {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

/// `<package>/bin/hyper/hyperd` of an installed `tableauhyperapi`, located without importing
/// it (the import loads a 40 MB library).
fn python_package_hyperd() -> Option<PathBuf> {
    const FIND: &str = "import importlib.util as u; s = u.find_spec('tableauhyperapi'); \
                        print(list(s.submodule_search_locations)[0] if s else '')";
    ["python3", "python"].iter().find_map(|py| {
        let out = Command::new(py).args(["-c", FIND]).output().ok()?;
        let dir = String::from_utf8(out.stdout).ok()?;
        let dir = dir.trim();
        if !out.status.success() || dir.is_empty() {
            return None;
        }
        let hyperd = Path::new(dir).join("bin").join("hyper").join("hyperd");
        hyperd.is_file().then_some(hyperd)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_names_the_path_and_the_install_command() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_hyperd(Some(&dir.path().join("nope"))).unwrap_err().to_string();
        assert!(
            err.contains("nope") && err.contains("pip install tableauhyperapi"),
            "{err}"
        );
    }

    #[test]
    fn a_directory_means_the_hyperd_inside_it_and_it_must_be_executable() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("hyperd");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = find_hyperd(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("not executable") && err.contains("chmod +x"), "{err}");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_hyperd(Some(dir.path())).unwrap(), bin);
    }
}
