//! The `tollgate` command line: a thin shell over the library (docs/reference/cli.md).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cli;

/// Exact LLM pricing and live gross margin.
#[derive(Parser)]
#[command(name = "tollgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Price JSON Lines events from stdin: one JSON result line per input line, in order.
    Price(cli::price::Args),
    /// Read the usage off one raw provider response (JSON, SSE or JSON Lines).
    Usage(cli::usage::Args),
    /// Ingest JSON Lines records and print the margin report.
    Report(cli::report::Args),
    /// Persistent-ledger tools (data directories).
    #[command(subcommand)]
    Ledger(cli::ledger::Command),
    /// Rate-card tools.
    #[command(subcommand)]
    Ratecard(cli::ratecard::Command),
    /// Runs the self-hosted margin server (the tollgateai SDK's HTTP API) until SIGTERM.
    Serve(cli::serve::ServeArgs),
    /// API keys of a server's data directory.
    #[command(subcommand)]
    Keys(cli::serve::KeysCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Price(args) => cli::price::run(args),
        Command::Usage(args) => cli::usage::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Ledger(cmd) => cli::ledger::run(cmd),
        Command::Ratecard(cmd) => cli::ratecard::run(cmd),
        Command::Serve(args) => cli::serve::serve(args),
        Command::Keys(cmd) => cli::serve::keys(cmd),
    }
}
