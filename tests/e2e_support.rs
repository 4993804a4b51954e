//! What the end-to-end tests share: the fixture crate, its target directory, and running the
//! real `cargo stress` binary on it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/shop/Cargo.toml")
}

/// `<target>/e2e-fixture`, beside the directory holding this build's binaries.
pub(crate) fn fixture_target() -> PathBuf {
    let exe = Path::new(env!("CARGO_BIN_EXE_cargo-stress"));
    exe.parent().unwrap().parent().unwrap().join("e2e-fixture")
}

pub(crate) fn cargo_stress(args: &[&str]) -> Output {
    cargo_stress_in(args, Path::new(env!("CARGO_MANIFEST_DIR")))
}

pub(crate) fn cargo_stress_in(args: &[&str], cwd: &Path) -> Output {
    cargo_stress_env(args, cwd, &[])
}

pub(crate) fn cargo_stress_env(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-stress"));
    cmd.arg("stress")
        .args(args)
        .current_dir(cwd)
        .env("CARGO_TARGET_DIR", fixture_target());
    for (k, _) in std::env::vars() {
        if k.starts_with("STRESS_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied()).output().unwrap()
}

/// `args` with `--manifest-path <fixture> --debug` after the subcommand.
pub(crate) fn on_fixture(args: &[&str]) -> Output {
    on_fixture_with(args, &[])
}

/// [`on_fixture`] with variables set for `cargo stress` (and the harness it runs).
pub(crate) fn on_fixture_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let manifest = fixture();
    let mut all = vec![args[0], "--manifest-path", manifest.to_str().unwrap(), "--debug"];
    all.extend_from_slice(&args[1..]);
    cargo_stress_env(&all, Path::new(env!("CARGO_MANIFEST_DIR")), env)
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The last line on stderr (cargo's build output comes before it).
pub(crate) fn last_error(out: &Output) -> String {
    text(&out.stderr).lines().last().unwrap_or_default().to_owned()
}

pub(crate) fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}
