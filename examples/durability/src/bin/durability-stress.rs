//! The `stress` harness (`tests/stress.rs`) as a binary target too: the harness tests run
//! exactly the one this build made (`CARGO_BIN_EXE_durability-stress`).

use durability as _;

fn main() -> std::process::ExitCode {
    stress_core::main()
}
