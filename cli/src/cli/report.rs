//! `tollgate report` (docs/reference/cli.md): ingest JSON Lines records (events, resolutions, customers) and
//! print the margin report per customer, per run, totals and unpriced models.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tollgate_engine::engine::Engine;
use tollgate_engine::ledger::days::{Day, format_day, parse_day};
use tollgate_engine::ledger::record::MAX_RECORD_BYTES;
use tollgate_engine::ledger::{
    Clock, DEFAULT_DEDUPE_WINDOW_MS, IngestCounts, IngestResult, Ledger, LedgerConfig, Margin,
    Report,
};
use tollgate_engine::money::Cents;
use tollgate_engine::store::{Durability, Store, StoreOptions};

/// Rejected records printed to stderr one by one; the rest are only counted.
pub const MAX_REJECTIONS_SHOWN: u64 = 20;
/// Fractional digits of a cent shown in the table (the `--json` output is exact).
pub const TABLE_DIGITS: u32 = 4;

/// Flags of `tollgate report`.
///
/// Exit status: 0 when every record was applied (duplicates and conflicts are normal
/// outcomes), 1 when some record was rejected (the report is printed all the same), 2 when the
/// report could not be made (unreadable file, bad flag, corrupt state).
#[derive(clap::Args)]
#[command(
    after_help = "Records: events (type llm, track, tool, retrieval or none), resolutions (type resolve) and customer upserts (type customer), one JSON object a line.\n\nExit status: 0 when every record was applied (duplicates and conflicts are normal outcomes), 1 when some record was rejected (the report is still printed; rejections are listed on stderr), 2 when no report could be made."
)]
pub struct Args {
    /// Registry file (LiteLLM `model_prices_and_context_window.json` format) replacing the
    /// embedded default rate card.
    #[arg(long, value_name = "FILE")]
    pub rate_card: Option<PathBuf>,
    /// Ledger state file: restored first when it exists, saved (atomically) after ingest.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Print the report as JSON (amounts as exact decimal strings of cents).
    #[arg(long)]
    pub json: bool,
    /// First UTC day of the report window (YYYY-MM-DD, inclusive).
    #[arg(long, value_name = "DAY", value_parser = parse_day)]
    pub from: Option<Day>,
    /// Last UTC day of the report window (YYYY-MM-DD, inclusive). Without it, subscription
    /// revenue accrues through the day of the latest event or resolution.
    #[arg(long, value_name = "DAY", value_parser = parse_day)]
    pub to: Option<Day>,
    /// Dedupe window in hours of event time for a new ledger (0 = keep keys forever). A
    /// restored state keeps its own window.
    #[arg(long, value_name = "HOURS")]
    pub dedupe_window_hours: Option<u64>,
    /// Data directory of a persistent ledger: the records are appended to its journal
    /// (fsync'ed before the report is printed) and the report covers everything it holds.
    /// Created when missing. Its rate cards are its own (`tollgate ratecard pull --data`).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["state", "rate_card"])]
    pub data: Option<PathBuf>,
    /// JSON Lines files of records (`-` = standard input; none = standard input).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> ExitCode {
    match report(&args) {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("tollgate report: {msg}");
            ExitCode::from(2)
        }
    }
}

fn report(args: &Args) -> Result<ExitCode, String> {
    if let (Some(a), Some(b)) = (args.from, args.to)
        && a > b
    {
        return Err(format!(
            "--from {} is after --to {}",
            format_day(a),
            format_day(b)
        ));
    }
    let window_ms = match args.dedupe_window_hours {
        None => None,
        Some(h) => Some(
            h.checked_mul(3_600_000)
                .ok_or("--dedupe-window-hours is too large")?,
        ),
    };
    if let Some(dir) = &args.data {
        let store = open_store(dir, window_ms)?;
        let mut sink = Sink::Store(&store);
        let counts = ingest_files(args, &mut sink)?;
        return print_report(args, store.ledger(), &counts);
    }
    let engine = super::price::load_engine(args.rate_card.as_ref())?;
    let ledger = match &args.state {
        Some(path) if path.exists() => {
            let l =
                Ledger::load(path, Clock::Log).map_err(|e| format!("{}: {e}", path.display()))?;
            if let Some(w) = window_ms
                && w != l.dedupe_window_ms()
            {
                return Err(format!(
                    "--dedupe-window-hours {} differs from the window saved in {} ({} ms)",
                    w / 3_600_000,
                    path.display(),
                    l.dedupe_window_ms()
                ));
            }
            l
        }
        _ => Ledger::new(LedgerConfig {
            dedupe_window_ms: window_ms.unwrap_or(DEFAULT_DEDUPE_WINDOW_MS),
            // A report replays a log: its own time, not the wall clock's.
            clock: Clock::Log,
        }),
    };

    let mut sink = Sink::Memory(&engine, &ledger);
    let counts = ingest_files(args, &mut sink)?;
    if let Some(path) = &args.state {
        ledger
            .save(path)
            .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
    }
    print_report(args, &ledger, &counts)
}

/// Opens (or creates, on the log's own clock) a data directory.
fn open_store(dir: &std::path::Path, window_ms: Option<u64>) -> Result<Store, String> {
    let new = !dir.join("store.json").exists();
    let opts = StoreOptions {
        durability: Durability::Sync,
        // A new directory replays logs: their own time, as a report without --data does.
        clock: new.then_some(Clock::Log),
        dedupe_window_ms: window_ms.unwrap_or(DEFAULT_DEDUPE_WINDOW_MS),
        ..StoreOptions::default()
    };
    let store = Store::open(dir, opts).map_err(|e| e.to_string())?;
    if let Some(w) = window_ms
        && w != store.ledger().dedupe_window_ms()
    {
        return Err(format!(
            "--dedupe-window-hours {} differs from the window of {} ({} ms)",
            w / 3_600_000,
            dir.display(),
            store.ledger().dedupe_window_ms()
        ));
    }
    if let Some(t) = &store.recovery().torn_tail {
        eprintln!(
            "tollgate report: recovery cut a torn tail of {} bytes at byte {} of {} ({})",
            t.bytes_cut,
            t.offset,
            t.path.display(),
            t.reason
        );
    }
    Ok(store)
}

/// Where records go: an in-memory ledger, or a data directory's journal and ledger.
enum Sink<'a> {
    Memory(&'a Engine, &'a Ledger),
    Store(&'a Store),
}

impl Sink<'_> {
    fn apply(&mut self, lines: &[Vec<u8>]) -> Result<Vec<IngestResult>, String> {
        match self {
            Sink::Memory(engine, ledger) => Ok(lines
                .iter()
                .map(|l| ledger.ingest_json(engine, l))
                .collect()),
            Sink::Store(store) => store
                .ingest_batch(lines.iter().map(|l| l.as_slice()))
                .map_err(|e| format!("{e} (the records before this batch are in the journal)")),
        }
    }

    fn window_ms(&self) -> u64 {
        match self {
            Sink::Memory(_, l) => l.dedupe_window_ms(),
            Sink::Store(s) => s.ledger().dedupe_window_ms(),
        }
    }
}

fn ingest_files(args: &Args, sink: &mut Sink<'_>) -> Result<IngestCounts, String> {
    let mut counts = IngestCounts::default();
    let stdin_only = [PathBuf::from("-")];
    let files: &[PathBuf] = if args.files.is_empty() {
        &stdin_only
    } else {
        &args.files
    };
    for path in files {
        let name = path.display().to_string();
        if name == "-" {
            let stdin = std::io::stdin();
            ingest(sink, stdin.lock(), "<stdin>", &mut counts)
        } else {
            let f = std::fs::File::open(path).map_err(|e| format!("cannot read {name}: {e}"))?;
            ingest(sink, f, &name, &mut counts)
        }?;
    }
    if counts.rejected > MAX_REJECTIONS_SHOWN {
        eprintln!(
            "tollgate report: {} more records rejected",
            counts.rejected - MAX_REJECTIONS_SHOWN
        );
    }
    if counts.too_late > 0 {
        eprintln!(
            "tollgate report: {} keyed events were older than the dedupe window ({} h) behind the latest event; \
             for a log that is not in time order, use --dedupe-window-hours 0",
            counts.too_late,
            sink.window_ms() / 3_600_000
        );
    }
    Ok(counts)
}

fn print_report(args: &Args, ledger: &Ledger, counts: &IngestCounts) -> Result<ExitCode, String> {
    let counts = *counts;
    let rep = ledger
        .report(args.from, args.to)
        .map_err(|e| e.to_string())?;
    let text = if args.json {
        let mut s =
            serde_json::to_string_pretty(&rep.to_json(&counts)).map_err(|e| e.to_string())?;
        s.push('\n');
        s
    } else {
        table(&rep, &counts)
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(if counts.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Records applied together (one journal write and fsync with `--data`).
const BATCH: usize = 4096;

/// Applies every record of `input`; blank lines are skipped, a bad line is rejected and
/// reported on stderr as `file:line: reason`.
fn ingest(
    sink: &mut Sink<'_>,
    input: impl Read,
    name: &str,
    counts: &mut IngestCounts,
) -> Result<(), String> {
    let mut input = BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::with_capacity(4096);
    let mut n: u64 = 0;
    // Line numbers and lines waiting for the sink; results already known (oversize lines).
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut numbers: Vec<u64> = Vec::new();
    let done = |results: Vec<(u64, IngestResult)>, counts: &mut IngestCounts| {
        for (n, result) in results {
            if let IngestResult::Rejected(e) = &result
                && counts.rejected < MAX_REJECTIONS_SHOWN
            {
                eprintln!("{name}:{n}: rejected: {e}");
            }
            counts.record(&result);
        }
    };
    let mut flush =
        |batch: &mut Vec<Vec<u8>>, numbers: &mut Vec<u64>, counts: &mut IngestCounts| {
            if batch.is_empty() {
                return Ok(());
            }
            let results = sink.apply(batch)?;
            done(numbers.drain(..).zip(results).collect(), counts);
            batch.clear();
            Ok::<(), String>(())
        };
    let read_err = |e: std::io::Error| format!("cannot read {name}: {e}");
    loop {
        line.clear();
        // The limit is on content: a record of MAX_RECORD_BYTES plus its line end (`\n` or
        // `\r\n`) fits. Read up to 2 bytes beyond it to see the end.
        let read = (&mut input)
            .take(MAX_RECORD_BYTES as u64 + 2)
            .read_until(b'\n', &mut line)
            .map_err(read_err)?;
        if read == 0 {
            break;
        }
        n += 1;
        let result = if line.last() != Some(&b'\n') && line.len() > MAX_RECORD_BYTES + 1 {
            // Skip the rest of the oversize line.
            let mut sink = Vec::new();
            loop {
                sink.clear();
                let r = (&mut input)
                    .take(1 << 16)
                    .read_until(b'\n', &mut sink)
                    .map_err(read_err)?;
                if r == 0 || sink.last() == Some(&b'\n') {
                    break;
                }
            }
            IngestResult::Rejected(
                tollgate_engine::ledger::record::RecordError {
                    field: "",
                    reason: format!("record is longer than {MAX_RECORD_BYTES} bytes"),
                }
                .into(),
            )
        } else {
            let body = line.trim_ascii();
            if body.is_empty() {
                continue;
            }
            batch.push(body.to_vec());
            numbers.push(n);
            if batch.len() >= BATCH {
                flush(&mut batch, &mut numbers, counts)?;
            }
            continue;
        };
        // In input order: what is waiting goes first.
        flush(&mut batch, &mut numbers, counts)?;
        done(vec![(n, result)], counts);
    }
    flush(&mut batch, &mut numbers, counts)
}

/// An amount rounded half-even to [`TABLE_DIGITS`] fractional digits, zero-padded.
fn amount(c: Cents) -> String {
    let s = c.round_half_even(TABLE_DIGITS).to_string();
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    format!("{int}.{frac:0<width$}", width = TABLE_DIGITS as usize)
}

fn pct(m: &Margin) -> String {
    m.margin_pct().map_or("-".to_string(), |p| format!("{p}%"))
}

/// Left-aligned text columns then right-aligned number columns.
fn render(out: &mut String, head: &[&str], rows: &[Vec<String>], text_cols: usize) {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = w[i].saturating_sub(c.chars().count());
            if i < text_cols {
                s.push_str(c);
                if i + 1 < cells.len() {
                    s.push_str(&" ".repeat(pad));
                }
            } else {
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.push('\n');
        s
    };
    out.push_str(&line(head.to_vec()));
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
}

fn money_cols(m: &Margin) -> Vec<String> {
    vec![
        amount(m.revenue_cents),
        amount(m.cost_cents),
        amount(m.margin_cents()),
        pct(m),
        m.events.to_string(),
    ]
}

/// The human-readable report.
fn table(rep: &Report, counts: &IngestCounts) -> String {
    let mut out = String::new();
    let window = match (rep.from_day, rep.to_day) {
        (None, None) => "all days".to_string(),
        (f, t) => format!(
            "{} … {}",
            f.map_or("start".to_string(), format_day),
            t.map_or("end".to_string(), format_day)
        ),
    };
    out.push_str(&format!(
        "Margin report, {window} (UTC){}.\nAmounts in cents, rounded half-even to {TABLE_DIGITS} decimals for display (--json is exact).\n\n",
        rep.subscription_through_day
            .map(|d| format!("; subscriptions accrued through {}", format_day(d)))
            .unwrap_or_default()
    ));
    let head = ["CUSTOMER", "REVENUE", "COST", "MARGIN", "MARGIN%", "EVENTS"];
    let mut rows: Vec<Vec<String>> = rep
        .customers
        .iter()
        .map(|(c, m)| {
            let mut r = vec![c.to_string()];
            r.extend(money_cols(m));
            r
        })
        .collect();
    let mut total = vec!["TOTAL".to_string()];
    total.extend(money_cols(&rep.totals));
    rows.push(total);
    render(&mut out, &head, &rows, 1);

    out.push_str("\nRUNS\n");
    if rep.runs.is_empty() {
        out.push_str("(none)\n");
    } else {
        let head = [
            "CUSTOMER", "RUN", "OUTCOME", "REVENUE", "COST", "MARGIN", "MARGIN%", "EVENTS",
        ];
        let rows: Vec<Vec<String>> = rep
            .runs
            .iter()
            .map(|r| {
                let mut row = vec![
                    r.customer_id.to_string(),
                    r.run_id.to_string(),
                    r.status.as_str().to_string(),
                ];
                row.extend(money_cols(&r.margin));
                row
            })
            .collect();
        render(&mut out, &head, &rows, 3);
    }

    out.push_str("\nUNPRICED MODELS (counted at cost 0)\n");
    if rep.unpriced.is_empty() {
        out.push_str("(none)\n");
    } else {
        let rows: Vec<Vec<String>> = rep
            .unpriced
            .iter()
            .map(|u| {
                vec![
                    u.provider.as_deref().unwrap_or("-").to_string(),
                    u.model.as_deref().unwrap_or("-").to_string(),
                    u.events.to_string(),
                ]
            })
            .collect();
        render(&mut out, &["PROVIDER", "MODEL", "EVENTS"], &rows, 2);
    }
    let t = &rep.totals;
    out.push_str(&format!(
        "\n{} events ({} unpriced); runs: {} open, {} resolved, {} escalated, {} failed\n\
         revenue: usage {}, outcomes {}, subscriptions {}\n\
         records: {} accepted, {} duplicates, {} conflicts, {} rejected\n",
        t.events,
        t.unpriced_events,
        t.runs.open,
        t.runs.resolved,
        t.runs.escalated,
        t.runs.failed,
        amount(t.usage_revenue_cents),
        amount(t.outcome_revenue_cents),
        amount(t.subscription_revenue_cents),
        counts.accepted,
        counts.duplicates,
        counts.conflicts,
        counts.rejected
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_amounts_are_padded_half_even() {
        assert_eq!(amount("0.12345".parse().unwrap()), "0.1234");
        assert_eq!(amount("0.12355".parse().unwrap()), "0.1236");
        assert_eq!(amount("12".parse().unwrap()), "12.0000");
        assert_eq!(amount("-1.5".parse().unwrap()), "-1.5000");
    }
}
