use isolation as _;

fn main() -> std::process::ExitCode {
    stress_core::main()
}
