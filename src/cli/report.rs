//! `tollgate report` (SPEC §8).

use std::process::ExitCode;

/// Flags of `tollgate report`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> ExitCode {
    eprintln!("tollgate report: not implemented yet");
    ExitCode::from(2)
}
