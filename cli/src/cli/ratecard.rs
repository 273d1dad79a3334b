//! `tollgate ratecard …`: rate-card tools.

use super::price::write_json_str;
use std::io::Write;
use std::process::ExitCode;
use tollgate_engine::ratecard::{RateCard, SnapshotDiff, usd_string};

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
}

fn load(path: &std::path::Path) -> Result<RateCard, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    RateCard::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs the subcommand.
pub fn run(cmd: Command) -> ExitCode {
    match cmd {
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
