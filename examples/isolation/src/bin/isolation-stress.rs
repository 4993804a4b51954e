//! The `stress` harness (`tests/stress.rs`) as a binary target too: the tests run exactly the
//! one this build made (`CARGO_BIN_EXE_isolation-stress`).

use isolation as _;

fn main() -> std::process::ExitCode {
    stress_core::main()
}
