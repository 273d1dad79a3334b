//! `tollgate usage` (SPEC §8).

use std::process::ExitCode;

/// Flags of `tollgate usage`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> ExitCode {
    eprintln!("tollgate usage: not implemented yet");
    ExitCode::from(2)
}
