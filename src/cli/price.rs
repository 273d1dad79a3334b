//! `tollgate price` (SPEC §8).

use std::process::ExitCode;

/// Flags of `tollgate price`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs the subcommand.
pub fn run(_args: Args) -> ExitCode {
    eprintln!("tollgate price: not implemented yet");
    ExitCode::from(2)
}
