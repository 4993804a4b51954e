//! # cargo-stress
//!
//! `cargo stress list/run/replay`: finds the `harness = false` targets of packages that depend
//! on `stress-core`, builds them (release by default) with cargo's JSON messages, asks each
//! binary what it registers, and runs workloads one after another with `STRESS_*` settings.
//! The binary is a thin shell over [`main`]; tests call the same code.
#![warn(missing_docs)]

pub mod cli;
mod commands;
pub mod discover;
pub mod error;
pub mod harness;
mod junit;
mod shared;
pub mod status;
mod summary_md;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

pub use error::{CliError, EXIT_BUILD, EXIT_FAILED, EXIT_OK, EXIT_THRESHOLDS, EXIT_USAGE};

/// Runs `cargo stress` with these arguments (the first is the program; a following `stress`,
/// as cargo passes it to an installed subcommand, is skipped) and returns its exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let mut args: Vec<OsString> = args.into_iter().collect();
    if args.get(1).is_some_and(|a| a == "stress") {
        args.remove(1);
    }
    let cli = match cli::Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            // clap's own rendering; help and version are not errors. A bad value is one line,
            // as every other usage error is: the flag, the value and what to give instead
            // (without clap's "For more information, try '--help'" after a blank line).
            if e.kind() == ErrorKind::ValueValidation {
                let rendered = e.to_string();
                eprintln!("{}", rendered.lines().next().unwrap_or_default());
                return ExitCode::from(EXIT_USAGE);
            }
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK });
        }
    };
    let command_line = command_line(&args);
    match commands::dispatch(cli, &command_line) {
        Ok(()) => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// `cargo stress …` as typed (arguments quoted for a POSIX shell where they need it), for the
/// reports of sweeps and matrices.
fn command_line(args: &[OsString]) -> String {
    let mut out = String::from("cargo stress");
    for a in args.iter().skip(1) {
        let a = a.to_string_lossy();
        let plain = !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_=.,:/+@%".contains(c));
        out.push(' ');
        if plain {
            out.push_str(&a);
        } else {
            out.push('\'');
            out.push_str(&a.replace('\'', "'\\''"));
            out.push('\'');
        }
    }
    out
}
