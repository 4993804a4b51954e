//! `cargo stress`: see the library for everything it does.

fn main() -> std::process::ExitCode {
    cargo_stress::main(std::env::args_os())
}
