use payload_ramp as _; // link the crate whose workloads should run

fn main() -> std::process::ExitCode {
    stress_core::main()
}
