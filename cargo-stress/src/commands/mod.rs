//! One module per command; what they share is in [`crate::shared`].

mod check;
pub(crate) mod compare;
mod list;
mod merge;
mod replay;
mod report;
mod run;
mod shrink;
pub(crate) mod sweep;

use crate::cli::{Cli, Command};
use crate::error::CliError;

pub(crate) fn dispatch(cli: Cli, command_line: &str) -> Result<(), CliError> {
    match cli.command {
        Command::List(a) => list::list(&a),
        Command::Run(a) => run::run(&a),
        Command::Replay(a) => replay::replay(&a),
        Command::Shrink(a) => shrink::shrink(&a),
        Command::Sweep(a) => sweep::sweep(&a, stress_core::sweep::Kind::Sweep, command_line),
        Command::Matrix(a) => sweep::sweep(&a, stress_core::sweep::Kind::Matrix, command_line),
        Command::Compare(a) => compare::compare(&a),
        Command::Report(a) => report::report(&a),
        Command::Merge(a) => merge::merge(&a),
        Command::Check(a) => check::check(&a),
    }
}
