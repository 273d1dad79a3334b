//! `tollgate ratecard …`: rate-card tools.

use super::price::write_json_str;
use std::io::Write;
use std::process::ExitCode;
use tollgate_engine::ratecard::{RateCard, SnapshotDiff, usd_string};
use tollgate_engine::store::{Store, StoreOptions};
use tollgate_sync::{Source, SyncOptions};

/// Rate-card subcommands.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Lists models added, removed and repriced between two registry files (old → new price
    /// per field, in US dollars as the registry states them).
    Diff {
        /// The older registry file.
        old: std::path::PathBuf,
        /// The newer registry file.
        new: std::path::PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Pulls a registry into a data directory: validated whole, stored content-addressed,
    /// published, and the diff against the card in force printed. Exit status 0 when the pull
    /// succeeded (published, unchanged or not modified), 1 when it failed (nothing
    /// published), 2 when the data directory cannot be opened.
    Pull {
        /// A registry file, a directory of dated registry files (`*YYYY-MM-DD*.json`, each
        /// effective from that day) or an HTTP(S) URL. Default: LiteLLM's public registry.
        #[arg(long, value_name = "URL|FILE|DIR")]
        from: Option<String>,
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: std::path::PathBuf,
        /// Seconds before one HTTP attempt gives up.
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        timeout: u64,
        /// Retries after a failed HTTP attempt (network error, timeout, 5xx).
        #[arg(long, default_value_t = 3)]
        retries: u32,
    },
    /// Lists the rate cards published into a data directory, oldest first.
    History {
        /// The data directory.
        #[arg(long, value_name = "DIR")]
        data: std::path::PathBuf,
    },
}

fn load(path: &std::path::Path) -> Result<RateCard, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    RateCard::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn open(dir: &std::path::Path) -> Result<Store, ExitCode> {
    Store::open(dir, StoreOptions::default()).map_err(|e| {
        eprintln!("tollgate ratecard: {e}");
        ExitCode::from(2)
    })
}

fn pull_cmd(from: Option<String>, data: &std::path::Path, timeout: u64, retries: u32) -> ExitCode {
    let store = match open(data) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let source = Source::parse(from.as_deref().unwrap_or(tollgate_sync::DEFAULT_URL));
    let opts = SyncOptions {
        timeout: std::time::Duration::from_secs(timeout.max(1)),
        retries,
        ..SyncOptions::default()
    };
    match tollgate_sync::pull(&store, &source, &opts) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate ratecard pull: {e}");
            ExitCode::from(1)
        }
    }
}

fn history_cmd(data: &std::path::Path) -> ExitCode {
    if !data.join("store.json").exists() {
        eprintln!(
            "tollgate ratecard history: {} is not a data directory",
            data.display()
        );
        return ExitCode::from(2);
    }
    let store = match open(data) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let snaps = store.engine().snapshots();
    let models = |eff: i64| {
        snaps
            .iter()
            .find(|s| s.effective_from_ms == eff)
            .map_or(0, |s| s.models)
    };
    let history = store.history();
    if history.first().is_none_or(|c| c.effective_from_ms > 0) {
        println!(
            "{:<24}  {:<64}  {:>6}  embedded (LiteLLM 1.110.2)",
            tollgate_sync::format_ms(0),
            "-",
            models(0)
        );
    }
    for c in &history {
        println!(
            "{:<24}  {}  {:>6}",
            tollgate_sync::format_ms(c.effective_from_ms),
            c.content,
            models(c.effective_from_ms)
        );
    }
    ExitCode::SUCCESS
}

/// Runs the subcommand.
pub fn run(cmd: Command) -> ExitCode {
    match cmd {
        Command::Pull {
            from,
            data,
            timeout,
            retries,
        } => pull_cmd(from, &data, timeout, retries),
        Command::History { data } => history_cmd(&data),
        Command::Diff { old, new, json } => {
            let (old, new) = match (load(&old), load(&new)) {
                (Ok(o), Ok(n)) => (o, n),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("tollgate ratecard diff: {e}");
                    return ExitCode::from(2);
                }
            };
            let d = new.diff_from(&old);
            let text = if json {
                diff_json(&old, &new, &d)
            } else {
                d.to_string().into_bytes()
            };
            let mut stdout = std::io::stdout().lock();
            if stdout
                .write_all(&text)
                .and_then(|()| stdout.flush())
                .is_err()
            {
                return ExitCode::from(2);
            }
            ExitCode::SUCCESS
        }
    }
}

/// `{"old":"<id>","new":"<id>","added":[…],"removed":[…],"repriced":[{"key":…,"changes":[{"field":…,"old":"<usd>"|null,"new":…}]}]}`
fn diff_json(old: &RateCard, new: &RateCard, d: &SnapshotDiff) -> Vec<u8> {
    let mut out = Vec::new();
    let list = |out: &mut Vec<u8>, items: &[String]| {
        out.push(b'[');
        for (i, k) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_str(out, k);
        }
        out.push(b']');
    };
    out.extend_from_slice(
        format!(
            "{{\"old\":\"{}\",\"new\":\"{}\",\"added\":",
            old.id(),
            new.id()
        )
        .as_bytes(),
    );
    list(&mut out, &d.added);
    out.extend_from_slice(b",\"removed\":");
    list(&mut out, &d.removed);
    out.extend_from_slice(b",\"repriced\":[");
    for (i, r) in d.repriced.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        write_json_str(&mut out, &r.key);
        out.extend_from_slice(b",\"changes\":[");
        for (j, c) in r.changes.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"field\":");
            write_json_str(&mut out, &c.field);
            for (name, v) in [(&b",\"oldUsd\":"[..], c.old), (&b",\"newUsd\":"[..], c.new)] {
                out.extend_from_slice(name);
                match v {
                    Some(v) => write_json_str(&mut out, &usd_string(v)),
                    None => out.extend_from_slice(b"null"),
                }
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
    }
    out.extend_from_slice(b"],\"counts\":{\"added\":");
    out.extend_from_slice(d.added.len().to_string().as_bytes());
    out.extend_from_slice(b",\"removed\":");
    out.extend_from_slice(d.removed.len().to_string().as_bytes());
    out.extend_from_slice(b",\"repriced\":");
    out.extend_from_slice(d.repriced.len().to_string().as_bytes());
    out.extend_from_slice(b"}}\n");
    out
}
