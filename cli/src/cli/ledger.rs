//! `tollgate ledger …`: persistent-ledger tools.

use std::path::PathBuf;
use std::process::ExitCode;
use tollgate_engine::store::{Store, StoreError};

/// Ledger subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Verifies a data directory and prints what recovery would do (the checkpoint it starts
    /// from, the journal it replays, a torn tail it would cut) without changing anything.
    ///
    /// Read-only: it takes no lock, so it may run beside the process that owns the directory
    /// (the report is then a snapshot of a live journal).
    ///
    /// Exit status: 0 when the directory recovers (a torn tail is normal after a crash), 1
    /// when it is damaged and recovery would refuse it, 2 when it cannot be checked (not a
    /// data directory, unreadable).
    Check {
        /// The data directory.
        dir: PathBuf,
    },
}

/// Runs the subcommand.
pub fn run(cmd: Command) -> ExitCode {
    match cmd {
        Command::Check { dir } => check(&dir),
    }
}

fn check(dir: &std::path::Path) -> ExitCode {
    let (report, ledger) = match Store::check(dir) {
        Ok(r) => r,
        Err(e @ StoreError::Corrupt { .. }) => {
            println!("{}: damaged; recovery would refuse it", dir.display());
            println!("  {e}");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("tollgate ledger check: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}: recovers", dir.display());
    if Store::in_use(dir).unwrap_or(false) {
        println!(
            "  in use by a running process: this is a snapshot (a torn tail may be a write in progress)"
        );
    }
    match report.checkpoint {
        Some(n) => println!("  checkpoint: state before journal segment {n}"),
        None => println!("  checkpoint: none (replay from the start)"),
    }
    let segs = match (report.segments.first(), report.segments.last()) {
        (Some(a), Some(b)) if a == b => format!("segment {a}"),
        (Some(a), Some(b)) => format!("segments {a}..={b}"),
        _ => "no segments".to_string(),
    };
    println!(
        "  journal: {segs}, {} entries to replay ({} records)",
        report.entries, report.records
    );
    match &report.torn_tail {
        Some(t) => println!(
            "  torn tail: {} bytes at byte {} of {} would be cut ({})",
            t.bytes_cut,
            t.offset,
            t.path.display(),
            t.reason
        ),
        None => println!("  torn tail: none"),
    }
    match ledger.report(None, None) {
        Ok(r) => println!(
            "  after recovery: {} customers, {} events, revenue {} cents, cost {} cents",
            r.customers.len(),
            r.totals.events,
            r.totals.revenue_cents,
            r.totals.cost_cents
        ),
        Err(e) => println!("  after recovery: no totals ({e})"),
    }
    ExitCode::SUCCESS
}
