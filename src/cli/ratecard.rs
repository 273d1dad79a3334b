//! `tollgate ratecard …`: rate-card tools.

use std::process::ExitCode;

/// Rate-card subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Lists models added, removed and repriced between two registry files.
    Diff {
        /// The older registry file.
        old: std::path::PathBuf,
        /// The newer registry file.
        new: std::path::PathBuf,
    },
}

/// Runs the subcommand.
pub fn run(_cmd: Command) -> ExitCode {
    eprintln!("tollgate ratecard: not implemented yet");
    ExitCode::from(2)
}
