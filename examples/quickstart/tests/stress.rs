//! The harness: `cargo test -p quickstart --test stress` smoke-runs the workloads,
//! `-- --ignored` runs them in full.

use quickstart as _;

fn main() -> std::process::ExitCode {
    stress_core::main()
}
