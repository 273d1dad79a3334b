//! `tollgate report` (docs/reference/cli.md): ingest JSON Lines records (events, resolutions, customers) and
//! print the margin report per customer, per run, totals and unpriced models.

use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tollgate_engine::engine::Engine;
use tollgate_engine::ledger::days::{Day, format_day, parse_day};
use tollgate_engine::ledger::record::MAX_RECORD_BYTES;
use tollgate_engine::ledger::{
    Clock, DEFAULT_DEDUPE_WINDOW_MS, Dimension, Filter, IngestCounts, IngestResult, Ledger,
    LedgerConfig, Margin, QueryReport, Report, ReportQuery, RunStatus, Sort, dedup_dims,
    parse_dimension, parse_outcome,
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
    /// Print the report as JSON (amounts as exact decimal strings of cents); the same as
    /// `--format json`.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
    /// Output format: `table` (rounded for reading), `json` (exact), `csv` (RFC 4180, a header
    /// row, one row per group) or `jsonl` (one JSON object per group).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Group by any of customer, run, agent, model, provider, day, week, month (comma
    /// separated or repeated; rows are ordered by them in this order unless --sort is given).
    #[arg(long, value_name = "DIMS", value_delimiter = ',', value_parser = parse_dimension)]
    pub group_by: Vec<Dimension>,
    /// Only this customer.
    #[arg(long, value_name = "ID")]
    pub customer: Option<String>,
    /// Only runs with this id.
    #[arg(long, value_name = "ID")]
    pub run: Option<String>,
    /// Only this agent.
    #[arg(long, value_name = "ID")]
    pub agent: Option<String>,
    /// Only this model (as the events named it).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Only this provider (as the events named it).
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// Only runs whose current outcome is open, resolved, escalated or failed.
    #[arg(long, value_name = "OUTCOME", value_parser = parse_outcome)]
    pub outcome: Option<RunStatus>,
    /// Sort rows by revenue, cost, margin, margin% or events, descending unless `:asc`
    /// follows (`--sort margin:asc`: the biggest losses first).
    #[arg(long, value_name = "KEY[:asc|:desc]", value_parser = Sort::parse)]
    pub sort: Option<Sort>,
    /// Keep the first N rows (after sorting); totals still cover everything.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub top: Option<u64>,
    /// Never show progress (it shows on stderr only when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,
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

/// Output formats of `tollgate report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, amounts rounded for reading.
    Table,
    /// Exact JSON.
    Json,
    /// CSV, RFC 4180.
    Csv,
    /// JSON Lines, one object per row.
    Jsonl,
}

impl Args {
    fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }

    /// A query beyond the classic report was asked for: grouping, a filter, a sort, a top-N
    /// or a row format.
    fn grouped(&self) -> bool {
        !self.group_by.is_empty()
            || self.customer.is_some()
            || self.run.is_some()
            || self.agent.is_some()
            || self.model.is_some()
            || self.provider.is_some()
            || self.outcome.is_some()
            || self.sort.is_some()
            || self.top.is_some()
            || matches!(self.format(), Format::Csv | Format::Jsonl)
    }

    fn query(&self) -> ReportQuery {
        ReportQuery {
            filter: Filter {
                customer_id: self.customer.clone(),
                run_id: self.run.clone(),
                agent_id: self.agent.clone(),
                model: self.model.clone(),
                provider: self.provider.clone(),
                from_day: self.from,
                to_day: self.to,
                outcome: self.outcome,
            },
            group_by: if self.group_by.is_empty() {
                vec![Dimension::Customer]
            } else {
                dedup_dims(self.group_by.clone())
            },
            sort: self.sort,
            top: self.top.map(|t| usize::try_from(t).unwrap_or(usize::MAX)),
        }
    }
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
        return report_on(args, store.engine(), store.ledger(), Some(&store));
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
    report_on(args, &engine, &ledger, None)
}

/// Opens (or creates, on the log's own clock) a data directory. Its journal is written in the
/// background and fsync'ed before the report is printed.
fn open_store(dir: &std::path::Path, window_ms: Option<u64>) -> Result<Store, String> {
    let new = !dir.join("store.json").exists();
    let opts = StoreOptions {
        durability: Durability::Interval { interval_ms: 200 },
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

/// Ingests the files into `ledger` (through `store`'s journal when given) and prints the report.
fn report_on(
    args: &Args,
    engine: &Engine,
    ledger: &Ledger,
    store: Option<&Store>,
) -> Result<ExitCode, String> {
    let mut counts = IngestCounts::default();
    let stdin_only = [PathBuf::from("-")];
    let files: &[PathBuf] = if args.files.is_empty() {
        &stdin_only
    } else {
        &args.files
    };
    let mut opened = Vec::with_capacity(files.len());
    let mut total_bytes = Some(0u64);
    for path in files {
        let name = path.display().to_string();
        if name == "-" {
            // Standard input's size is unknown (even when it is a file, it may be read from
            // an offset): no ETA.
            total_bytes = None;
            opened.push((None, "<stdin>".to_string()));
        } else {
            let f = std::fs::File::open(path).map_err(|e| format!("cannot read {name}: {e}"))?;
            let len = f
                .metadata()
                .ok()
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len());
            total_bytes = total_bytes.zip(len).map(|(a, b)| a.saturating_add(b));
            opened.push((Some(f), name));
        }
    }
    let mut progress = Progress::new(
        !args.no_progress && std::io::stderr().is_terminal(),
        total_bytes,
    );
    for (file, name) in opened {
        match file {
            None => {
                let stdin = std::io::stdin();
                ingest(
                    (engine, ledger, store),
                    stdin.lock(),
                    &name,
                    &mut counts,
                    &mut progress,
                )
            }
            Some(f) => ingest(
                (engine, ledger, store),
                f,
                &name,
                &mut counts,
                &mut progress,
            ),
        }?;
    }
    progress.finish();
    if let Some(s) = store {
        s.flush().map_err(|e| e.to_string())?;
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
            ledger.dedupe_window_ms() / 3_600_000
        );
    }
    if let Some(path) = &args.state {
        ledger
            .save(path)
            .map_err(|e| format!("cannot save {}: {e}", path.display()))?;
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let written = if args.grouped() {
        let rep = ledger.query(&args.query()).map_err(|e| e.to_string())?;
        match args.format() {
            Format::Table => out.write_all(grouped_table(&rep, &counts).as_bytes()),
            Format::Json => {
                let mut v = rep.to_json();
                if let Some(m) = v.as_object_mut() {
                    m.insert("records".into(), records_json(&counts));
                }
                serde_json::to_writer_pretty(&mut out, &v)
                    .map_err(std::io::Error::from)
                    .and_then(|()| out.write_all(b"\n"))
            }
            Format::Csv => rep.write_csv(&mut out),
            Format::Jsonl => rep.write_jsonl(&mut out),
        }
    } else {
        let rep = ledger
            .report(args.from, args.to)
            .map_err(|e| e.to_string())?;
        let breaches = ledger.policy_breaches();
        let text = if args.format() == Format::Json {
            let mut v = rep.to_json(&counts);
            if let (false, Some(o)) = (breaches.is_empty(), v.as_object_mut()) {
                o.insert("policyBreaches".into(), super::breaches::to_json(&breaches));
            }
            let mut s = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?;
            s.push('\n');
            s
        } else {
            table(&rep, &counts) + &super::breaches::to_text(&breaches)
        };
        out.write_all(text.as_bytes())
    };
    written
        .and_then(|()| out.flush())
        .map_err(|e| format!("cannot write the report: {e}"))?;
    Ok(if counts.rejected > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Applies every record of `input`; blank lines are skipped, a bad line is rejected and
/// reported on stderr as `file:line: reason`. With a store, each record goes through its
/// journal; a journal that cannot be written stops the ingest.
fn ingest(
    (engine, ledger, store): (&Engine, &Ledger, Option<&Store>),
    input: impl Read,
    name: &str,
    counts: &mut IngestCounts,
    progress: &mut Progress,
) -> Result<(), String> {
    let read_err = |e: std::io::Error| format!("cannot read {name}: {e}");
    let mut input = BufReader::with_capacity(1 << 20, input);
    let mut line = Vec::with_capacity(4096);
    let mut n: u64 = 0;
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
        progress.tick(read as u64);
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
            match store {
                Some(s) => s.ingest_json(body).map_err(|e| {
                    format!("{name}:{n}: {e} (the records before it are in the journal)")
                })?,
                None => ledger.ingest_json(engine, body),
            }
        };
        if let IngestResult::Rejected(e) = &result
            && counts.rejected < MAX_REJECTIONS_SHOWN
        {
            eprintln!("{name}:{n}: rejected: {e}");
        }
        counts.record(&result);
    }
    Ok(())
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

    unpriced_section(&mut out, &rep.unpriced);
    summary(&mut out, &rep.totals, counts);
    out
}

/// Progress of a long ingest on stderr: records read, their rate and, when the input's size is
/// known, the share read and the time left. Shown only when stderr is a terminal; redrawn in
/// place at most every [`Progress::interval`].
pub struct Progress {
    enabled: bool,
    total_bytes: Option<u64>,
    bytes: u64,
    records: u64,
    start: Instant,
    last: Instant,
    interval: Duration,
    drawn: bool,
}

/// Records between two looks at the clock.
const PROGRESS_STRIDE: u64 = 4096;

impl Progress {
    /// A progress display; `enabled` false makes every call a no-op. The redraw interval is
    /// 200 ms, or `TOLLGATE_PROGRESS_MS` milliseconds when that is set (0 = at every look).
    pub fn new(enabled: bool, total_bytes: Option<u64>) -> Progress {
        let interval = std::env::var("TOLLGATE_PROGRESS_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_millis(200), Duration::from_millis);
        let now = Instant::now();
        Progress {
            enabled,
            total_bytes,
            bytes: 0,
            records: 0,
            start: now,
            last: now,
            interval,
            drawn: false,
        }
    }

    /// Counts one line of `bytes` bytes.
    #[inline]
    pub fn tick(&mut self, bytes: u64) {
        self.bytes += bytes;
        self.records += 1;
        if self.enabled && self.records.is_multiple_of(PROGRESS_STRIDE) {
            let now = Instant::now();
            if now.duration_since(self.last) >= self.interval {
                self.last = now;
                self.draw(now);
            }
        }
    }

    fn rate(&self, now: Instant) -> f64 {
        // Display only: a rate, not money.
        let secs = now.duration_since(self.start).as_secs_f64();
        if secs > 0.0 {
            self.records as f64 / secs
        } else {
            0.0
        }
    }

    fn draw(&mut self, now: Instant) {
        let mut line = format!(
            "{} records read, {} records/s",
            group_digits(self.records),
            group_digits(self.rate(now) as u64)
        );
        if let Some(total) = self.total_bytes.filter(|t| *t > 0) {
            let done = self.bytes.min(total);
            let secs = now.duration_since(self.start).as_secs_f64();
            line.push_str(&format!(", {}%", done * 100 / total));
            if done > 0 {
                let left = secs * (total - done) as f64 / done as f64;
                line.push_str(&format!(", ETA {}", duration_text(left)));
            }
        }
        // Carriage return, the line, then erase whatever a longer previous line left.
        eprint!("\r{line}\x1b[K");
        self.drawn = true;
    }

    /// Ends the display with a summary line (when enabled).
    pub fn finish(&mut self) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        eprint!(
            "\r{} records read in {}, {} records/s\x1b[K\n",
            group_digits(self.records),
            duration_text(now.duration_since(self.start).as_secs_f64()),
            group_digits(self.rate(now) as u64)
        );
        self.drawn = false;
    }
}

/// `1234567` → `1,234,567`.
fn group_digits(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Seconds as `0.4 s`, `12 s`, `3 min 05 s`.
fn duration_text(secs: f64) -> String {
    if secs < 10.0 {
        format!("{secs:.1} s")
    } else if secs < 60.0 {
        format!("{secs:.0} s")
    } else {
        let s = secs as u64;
        format!("{} min {:02} s", s / 60, s % 60)
    }
}

/// The ingest tally as JSON (`records` of the grouped JSON report).
fn records_json(c: &IngestCounts) -> serde_json::Value {
    serde_json::json!({
        "accepted": c.accepted,
        "duplicates": c.duplicates,
        "conflicts": c.conflicts,
        "rejected": c.rejected,
        "tooLate": c.too_late,
    })
}

fn opt_amount(c: Option<Cents>) -> String {
    c.map_or("-".to_string(), amount)
}

fn opt_pct(p: Option<tollgate_engine::ledger::Percent>) -> String {
    p.map_or("-".to_string(), |p| format!("{p}%"))
}

/// The grouped report (`--group-by`, filters, `--sort`, `--top`) as a table.
fn grouped_table(rep: &QueryReport, counts: &IngestCounts) -> String {
    let q = &rep.query;
    let f = &q.filter;
    let mut out = String::new();
    let window = match (f.from_day, f.to_day) {
        (None, None) => "all days".to_string(),
        (a, b) => format!(
            "{} … {}",
            a.map_or("start".to_string(), format_day),
            b.map_or("end".to_string(), format_day)
        ),
    };
    let mut filters = Vec::new();
    for (label, v) in [
        ("customer", &f.customer_id),
        ("run", &f.run_id),
        ("agent", &f.agent_id),
        ("model", &f.model),
        ("provider", &f.provider),
    ] {
        if let Some(v) = v {
            filters.push(format!("{label} {v}"));
        }
    }
    if let Some(o) = f.outcome {
        filters.push(format!("outcome {}", o.as_str()));
    }
    let dims: Vec<&str> = q.group_by.iter().map(|d| d.as_str()).collect();
    out.push_str(&format!(
        "Margin by {}, {window} (UTC){}{}.\n",
        dims.join(", "),
        if filters.is_empty() {
            String::new()
        } else {
            format!("; only {}", filters.join(", "))
        },
        if f.run_id.is_some()
            || f.agent_id.is_some()
            || f.model.is_some()
            || f.provider.is_some()
            || f.outcome.is_some()
        {
            "; subscription revenue excluded (it has no run, agent, model or provider)".to_string()
        } else {
            rep.subscription_through_day
                .map(|d| format!("; subscriptions accrued through {}", format_day(d)))
                .unwrap_or_default()
        }
    ));
    out.push_str(&format!(
        "Amounts in cents, rounded half-even to {TABLE_DIGITS} decimals for display (--format json or csv is exact).{}\n\n",
        match q.sort {
            Some(s) => format!(" Sorted by {s}."),
            None => String::new(),
        }
    ));
    let keys = rep.key_columns();
    let mut head: Vec<String> = keys.iter().map(|d| d.as_str().to_uppercase()).collect();
    head.extend(
        [
            "REVENUE",
            "COST",
            "MARGIN",
            "MARGIN%",
            "EVENTS",
            "COST/RESOLVED RUN",
            "REVENUE/EVENT",
            "COST SHARE",
            "CACHE SAVINGS",
        ]
        .map(String::from),
    );
    let figures = |m: &Margin, share| {
        vec![
            amount(m.revenue_cents),
            amount(m.cost_cents),
            amount(m.margin_cents()),
            pct(m),
            m.events.to_string(),
            opt_amount(m.cost_per_resolved_run()),
            opt_amount(m.revenue_per_event()),
            opt_pct(share),
            amount(m.cache_savings_cents),
        ]
    };
    let mut rows: Vec<Vec<String>> = rep
        .rows
        .iter()
        .map(|r| {
            let mut row: Vec<String> = keys
                .iter()
                .map(|d| r.key.text(*d).unwrap_or_else(|| "-".to_string()))
                .collect();
            row.extend(figures(&r.margin, r.cost_share));
            row
        })
        .collect();
    let mut total: Vec<String> = vec![String::new(); keys.len()];
    if let Some(first) = total.first_mut() {
        *first = "TOTAL".to_string();
    }
    total.extend(figures(
        &rep.totals,
        rep.totals.cost_share_of(rep.totals.cost_cents),
    ));
    rows.push(total);
    let head_refs: Vec<&str> = head.iter().map(String::as_str).collect();
    render(&mut out, &head_refs, &rows, keys.len());
    if rep.rows.len() < rep.groups {
        out.push_str(&format!(
            "(top {} of {} groups; TOTAL covers all of them)\n",
            rep.rows.len(),
            rep.groups
        ));
    }
    unpriced_section(&mut out, &rep.unpriced);
    if !rep.breaches.is_empty() {
        out.push_str("\nPOLICY BREACHES\n");
        let rows: Vec<Vec<String>> = rep
            .breaches
            .iter()
            .map(|b| {
                vec![
                    b.customer_id.to_string(),
                    b.policy_id.to_string(),
                    b.period.clone(),
                    b.rule.clone(),
                    b.detail.clone(),
                ]
            })
            .collect();
        render(
            &mut out,
            &["CUSTOMER", "POLICY", "PERIOD", "RULE", "DETAIL"],
            &rows,
            5,
        );
    }
    summary(&mut out, &rep.totals, counts);
    out
}

fn unpriced_section(out: &mut String, unpriced: &[tollgate_engine::ledger::ReportUnpriced]) {
    out.push_str("\nUNPRICED MODELS (counted at cost 0)\n");
    if unpriced.is_empty() {
        out.push_str("(none)\n");
    } else {
        let rows: Vec<Vec<String>> = unpriced
            .iter()
            .map(|u| {
                vec![
                    u.provider.as_deref().unwrap_or("-").to_string(),
                    u.model.as_deref().unwrap_or("-").to_string(),
                    u.events.to_string(),
                ]
            })
            .collect();
        render(out, &["PROVIDER", "MODEL", "EVENTS"], &rows, 2);
    }
}

fn summary(out: &mut String, t: &Margin, counts: &IngestCounts) {
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
