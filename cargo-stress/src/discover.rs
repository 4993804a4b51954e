//! Finding and building harnesses: cargo metadata for the packages, their manifests for the
//! `harness = false` targets, and `cargo test --no-run` with JSON messages for the binaries.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cargo_metadata::{Message, Metadata, MetadataCommand, Package};

use crate::cli::{BuildArgs, Selection};
use crate::error::{CliError, usage};

/// A `harness = false` target of a package that depends on `stress-core`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The package.
    pub package: String,
    /// The package's manifest.
    pub manifest_path: PathBuf,
    /// `test`, `bench` or `example`.
    pub kind: String,
    /// The target's name.
    pub target: String,
}

/// A built candidate.
#[derive(Debug, Clone)]
pub struct Built {
    /// What was built.
    pub candidate: Candidate,
    /// The executable.
    pub exe: PathBuf,
}

/// The `cargo` to run: the one that runs us, if any.
pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Reads the workspace at or above the current directory, or at `manifest_path`.
pub fn metadata(manifest_path: Option<&Path>) -> Result<Metadata, CliError> {
    let mut cmd = MetadataCommand::new();
    if let Some(p) = manifest_path {
        if !p.is_file() {
            return Err(usage(format!(
                "{} does not exist: give the path of a Cargo.toml",
                p.display()
            )));
        }
        cmd.manifest_path(p);
    }
    cmd.no_deps().exec().map_err(|e| {
        let here = manifest_path.map_or_else(
            || std::env::current_dir().map_or_else(|_| ".".into(), |d| d.display().to_string()),
            |p| p.display().to_string(),
        );
        let cause = e.to_string();
        let cause = cause
            .lines()
            .find(|l| l.contains("error"))
            .unwrap_or(&cause)
            .trim()
            .to_owned();
        usage(format!(
            "{here} is not a cargo project ({cause}): run cargo stress inside one, or pass --manifest-path"
        ))
    })
}

/// The packages the selection names, as cargo would pick them.
fn packages<'m>(meta: &'m Metadata, sel: &Selection) -> Result<Vec<&'m Package>, CliError> {
    let members = meta.workspace_packages();
    if !sel.packages.is_empty() {
        return sel
            .packages
            .iter()
            .map(|name| {
                members
                    .iter()
                    .copied()
                    .find(|p| p.name.as_str() == name)
                    .ok_or_else(|| {
                        let known: Vec<&str> = members.iter().map(|p| p.name.as_str()).collect();
                        usage(format!(
                            "package `{name}` is not in this workspace (its packages: {})",
                            known.join(", ")
                        ))
                    })
            })
            .collect();
    }
    if sel.workspace {
        return Ok(members);
    }
    if let Some(root) = meta.root_package() {
        return Ok(vec![root]);
    }
    let defaults: Vec<&Package> = members
        .iter()
        .copied()
        .filter(|p| meta.workspace_default_members.contains(&p.id))
        .collect();
    Ok(if defaults.is_empty() { members } else { defaults })
}

/// Where else to look when a workload is not found: the workspace members with a stress harness
/// that the selection left out (the default members leave out the Hyper crates, so that the
/// first `cargo stress run` builds no engine it does not use), as a sentence to append to an
/// error; empty when there are none.
pub fn elsewhere(meta: &Metadata, sel: &Selection) -> String {
    let Ok(picked) = packages(meta, sel) else {
        return String::new();
    };
    let others: Vec<&str> = meta
        .workspace_packages()
        .into_iter()
        .filter(|p| !picked.iter().any(|q| q.id == p.id))
        .filter(|p| p.dependencies.iter().any(|d| d.name == "stress-core"))
        .map(|p| p.name.as_str())
        .collect();
    if others.is_empty() {
        String::new()
    } else {
        format!(
            " (not looked in: {}; pass -p NAME or --workspace to build and search them too)",
            others.join(", ")
        )
    }
}

/// The `harness = false` test, bench and example targets of the selected packages that
/// depend on `stress-core` and whose main calls `stress_core::main()`.
pub fn candidates(meta: &Metadata, sel: &Selection) -> Result<Vec<Candidate>, CliError> {
    let mut out = Vec::new();
    for pkg in packages(meta, sel)? {
        if !pkg.dependencies.iter().any(|d| d.name == "stress-core") {
            continue;
        }
        let text = std::fs::read_to_string(&pkg.manifest_path)
            .map_err(|e| usage(format!("cannot read {}: {e}", pkg.manifest_path)))?;
        let manifest: toml::Table =
            toml::from_str(&text).map_err(|e| usage(format!("cannot parse {}: {e}", pkg.manifest_path)))?;
        for kind in ["test", "bench", "example"] {
            let Some(toml::Value::Array(targets)) = manifest.get(kind) else {
                continue;
            };
            for t in targets {
                let harness = t.get("harness").and_then(toml::Value::as_bool).unwrap_or(true);
                let Some(name) = t.get("name").and_then(toml::Value::as_str) else {
                    continue;
                };
                let target = pkg
                    .targets
                    .iter()
                    .find(|mt| mt.name == name && mt.kind.iter().any(|k| k.to_string() == kind));
                // Other `harness = false` targets (divan benchmarks, custom mains) are not
                // built or run: running one to ask for its workloads would run it.
                let is_stress_harness = target.is_some_and(|t| {
                    std::fs::read_to_string(&t.src_path).is_ok_and(|src| code_only(&src).contains("stress_core::main"))
                });
                if !harness && is_stress_harness {
                    out.push(Candidate {
                        package: pkg.name.to_string(),
                        manifest_path: pkg.manifest_path.clone().into(),
                        kind: kind.to_owned(),
                        target: name.to_owned(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Rust source without its comments and the contents of its string and char literals: what
/// the source calls, not what it mentions.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], b.get(i + 1).copied()) {
            (b'/', Some(b'/')) => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            (b'/', Some(b'*')) => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            (b'"', _) => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.extend_from_slice(b"\"\"");
            }
            // A char literal ('x', '\n', '"'); a lifetime ('a) is code.
            (b'\'', Some(b'\\')) => {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
                i += 1;
            }
            (b'\'', Some(_)) if b.get(i + 2) == Some(&b'\'') => i += 3,
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Builds the candidates with `cargo test --no-run` (one cargo call per package), showing
/// compiler output as cargo would, and returns their executables.
pub fn build(candidates: &[Candidate], how: &BuildArgs) -> Result<Vec<Built>, CliError> {
    let mut built = Vec::new();
    let mut packages: Vec<&str> = candidates.iter().map(|c| c.package.as_str()).collect();
    packages.dedup();
    for package in packages {
        let mine: Vec<&Candidate> = candidates.iter().filter(|c| c.package == package).collect();
        let mut cmd = cargo();
        cmd.args(["test", "--no-run", "--message-format=json-render-diagnostics"])
            .arg("--manifest-path")
            .arg(&mine[0].manifest_path);
        match (&how.profile, how.debug) {
            (Some(p), _) => {
                cmd.args(["--profile", p]);
            }
            (None, true) => {}
            (None, false) => {
                cmd.arg("--release");
            }
        }
        for c in &mine {
            cmd.arg(format!("--{}", c.kind)).arg(&c.target);
        }
        cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| CliError::Build(format!("cannot run cargo: {e}")))?;
        let stdout = child.stdout.take().expect("piped");
        for message in Message::parse_stream(BufReader::new(stdout)).flatten() {
            if let Message::CompilerArtifact(a) = message
                && let Some(exe) = a.executable
                && let Some(c) = mine
                    .iter()
                    .find(|c| a.target.name == c.target && a.target.kind.iter().any(|k| k.to_string() == c.kind))
            {
                built.push(Built {
                    candidate: (*c).clone(),
                    exe: exe.into(),
                });
            }
        }
        let status = child
            .wait()
            .map_err(|e| CliError::Build(format!("cargo failed: {e}")))?;
        if !status.success() {
            return Err(CliError::Build(format!(
                "build of package `{package}` failed (cargo said why above)"
            )));
        }
    }
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_code_counts_as_a_call() {
        let harness = "use x as _;\nfn main() -> ExitCode {\n    stress_core::main()\n}\n";
        assert!(code_only(harness).contains("stress_core::main"));
        let mentions = "//! not stress_core::main()\n/* stress_core::main */\nfn main() {\n    let q = '\"';\n    panic!(\"not stress_core::main() \\\" either\");\n    let l: &'static str = \"\";\n}\n";
        let code = code_only(mentions);
        assert!(!code.contains("stress_core"), "{code}");
        assert!(code.contains("panic!") && code.contains("&'static str"), "{code}");
    }
}
