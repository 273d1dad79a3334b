//! `tollgate price` (docs/reference/cli.md): JSON Lines events on stdin, one JSON result line per input line.
//!
//! The output path writes JSON by hand into one reused buffer (no `serde_json::Value`), reads
//! with a large buffer and reuses the line buffer, so the command prices well over a million
//! lines per second on one core.

use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use tollgate_engine::engine::{Engine, PriceInput, PriceResult, Snapshot};
use tollgate_engine::event::EventRef;
use tollgate_engine::ratecard::RateCard;

/// Longest accepted input line, in bytes; longer lines get a per-line error.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Flags of `tollgate price`.
#[derive(clap::Args)]
pub struct Args {
    /// Registry file (LiteLLM `model_prices_and_context_window.json` format) replacing the
    /// embedded default rate card.
    #[arg(long, value_name = "FILE")]
    pub rate_card: Option<PathBuf>,
}

/// Loads the engine for `--rate-card`, or the embedded card. The card's warnings (fields that
/// look like a rate but match no known rate name) go to stderr.
pub fn load_engine(rate_card: Option<&PathBuf>) -> Result<Engine, String> {
    match rate_card {
        None => Ok(Engine::embedded()),
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let card = RateCard::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            for w in card.warnings() {
                eprintln!("tollgate: warning: {}: {w}", path.display());
            }
            Ok(Engine::with_snapshot(Arc::new(Snapshot::build(
                Arc::new(card),
                0,
            ))))
        }
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> ExitCode {
    let engine = match load_engine(args.rate_card.as_ref()) {
        Ok(e) => e,
        Err(msg) => {
            eprintln!("tollgate price: {msg}");
            return ExitCode::from(2);
        }
    };
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let output = BufWriter::with_capacity(1 << 20, stdout.lock());
    let input = stdin;
    match price_stream(&engine, input, output) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("tollgate price: {e}");
            ExitCode::from(2)
        }
    }
}

/// Bytes of input handed to a worker at once (whole lines).
const BLOCK_BYTES: usize = 1 << 20;
/// Most threads pricing in parallel.
const MAX_WORKERS: usize = 8;
/// Blocks read but not yet written, per worker: what bounds memory when the reader of our
/// output stalls (each block is at most about 2 MiB in and its results out).
const BLOCKS_IN_FLIGHT_PER_WORKER: usize = 2;

/// A run of whole input lines: the bytes, each line's range (without its `\n`), and for an
/// oversize line (whose bytes were not kept) an empty range flagged as such.
struct Block {
    seq: u64,
    first_line: u64,
    bytes: Vec<u8>,
    lines: Vec<(usize, usize, bool)>,
}

/// Splits the input into blocks of whole lines. Returns `false` at end of input.
struct Splitter<R> {
    input: R,
    carry: Vec<u8>,
    /// Inside an oversize line: discard bytes up to the next newline.
    skipping: bool,
    eof: bool,
    next_line: u64,
    seq: u64,
}

/// The content length of a line given without its `\n`: a final `\r` is part of the line
/// end, not of the content (so a CRLF file has the same limit as an LF one).
fn content_len(line: &[u8]) -> usize {
    line.len() - usize::from(line.last() == Some(&b'\r'))
}

impl<R: Read> Splitter<R> {
    fn next_block(&mut self) -> std::io::Result<Option<Block>> {
        let mut bytes = std::mem::take(&mut self.carry);
        let mut lines = Vec::new();
        let first_line = self.next_line;
        // Always read past the carried partial line (at least one byte, unless the input
        // ended): each call then either finds its newline, finds it oversize or grows it, so
        // the input ends in a bounded number of calls.
        let want = BLOCK_BYTES.max(bytes.len() + 1);
        while !self.eof && bytes.len() < want {
            let start = bytes.len();
            bytes.reserve(BLOCK_BYTES);
            let n = (&mut self.input)
                .take(BLOCK_BYTES as u64)
                .read_to_end(&mut bytes)?;
            if n == 0 {
                self.eof = true;
            }
            if self.skipping {
                match memchr::memchr(b'\n', &bytes[start..]) {
                    Some(k) => {
                        bytes.drain(start..=start + k);
                        self.skipping = false;
                    }
                    None => bytes.truncate(start),
                }
            }
        }
        // Cut into lines.
        let mut at = 0;
        while let Some(k) = memchr::memchr(b'\n', &bytes[at..]) {
            let end = at + k;
            lines.push((at, end, content_len(&bytes[at..end]) > MAX_LINE_BYTES));
            at = end + 1;
        }
        let tail = bytes.len() - at;
        if self.eof {
            if tail > 0 {
                lines.push((at, bytes.len(), content_len(&bytes[at..]) > MAX_LINE_BYTES));
            }
        } else if tail > MAX_LINE_BYTES + 1 {
            // An oversize line without its end yet (more than the limit even if its last
            // byte is the `\r` of a CRLF): report it and skip the rest of it.
            lines.push((at, at, true));
            self.skipping = true;
            bytes.truncate(at);
        } else {
            self.carry = bytes[at..].to_vec();
            bytes.truncate(at);
        }
        if lines.is_empty() && self.eof && self.carry.is_empty() {
            return Ok(None);
        }
        self.next_line += lines.len() as u64;
        let seq = self.seq;
        self.seq += 1;
        Ok(Some(Block {
            seq,
            first_line,
            bytes,
            lines,
        }))
    }
}

/// Prices one block: the output lines and how many failed.
fn price_block(engine: &Engine, b: &Block) -> (Vec<u8>, u64) {
    let mut out = Vec::with_capacity(b.lines.len() * 200);
    let mut failed = 0;
    for (i, &(start, end, oversize)) in b.lines.iter().enumerate() {
        let n = b.first_line + i as u64 + 1;
        if oversize {
            write_error(
                &mut out,
                &format!("line is longer than {MAX_LINE_BYTES} bytes"),
                n,
            );
            failed += 1;
            continue;
        }
        let mut body = &b.bytes[start..end];
        if let Some(x) = body.strip_suffix(b"\r") {
            body = x;
        }
        match price_line(engine, body) {
            Ok(r) => {
                r.write_json(&mut out);
                out.push(b'\n');
            }
            Err(msg) => {
                write_error(&mut out, &msg, n);
                failed += 1;
            }
        }
    }
    (out, failed)
}

/// Prices every line of `input` into `output`, in order; returns how many lines failed.
///
/// Blocks of whole lines are priced on up to [`MAX_WORKERS`] threads (one snapshot state
/// shared by all) and written back in input order; at most two blocks per worker are read and
/// not yet written, so memory stays bounded however slowly the output is consumed.
pub fn price_stream(
    engine: &Engine,
    input: impl Read + Send,
    mut output: impl Write,
) -> std::io::Result<u64> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS);
    let mut splitter = Splitter {
        input,
        carry: Vec::new(),
        skipping: false,
        eof: false,
        next_line: 0,
        seq: 0,
    };
    if workers == 1 {
        let mut failed = 0;
        while let Some(block) = splitter.next_block()? {
            let (out, f) = price_block(engine, &block);
            output.write_all(&out)?;
            failed += f;
        }
        output.flush()?;
        return Ok(failed);
    }
    // Credits bound the blocks read but not yet written: the reader takes one per block, the
    // writer returns it once the block's results are written. A stalled reader of our output
    // then stalls the input too, instead of piling results up in memory.
    let in_flight = workers * BLOCKS_IN_FLIGHT_PER_WORKER;
    let (credit_tx, credit_rx) = std::sync::mpsc::sync_channel::<()>(in_flight);
    for _ in 0..in_flight {
        let _ = credit_tx.send(());
    }
    let (work_tx, work_rx) = std::sync::mpsc::sync_channel::<Block>(in_flight);
    let work_rx = std::sync::Mutex::new(work_rx);
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<(u64, Vec<u8>, u64)>(in_flight);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            scope.spawn(move || {
                loop {
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok(block)) = next else { break };
                    let (out, failed) = price_block(engine, &block);
                    if done_tx.send((block.seq, out, failed)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(done_tx);
        // The reader runs on its own thread; this thread writes results in order.
        let reader = scope.spawn(move || -> std::io::Result<()> {
            while credit_rx.recv().is_ok() {
                let Some(block) = splitter.next_block()? else {
                    break;
                };
                if work_tx.send(block).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let mut pending = std::collections::BTreeMap::new();
        let mut next = 0u64;
        let mut failed = 0u64;
        let mut write_err = None;
        for (seq, out, f) in done_rx {
            pending.insert(seq, (out, f));
            while let Some((out, f)) = pending.remove(&next) {
                failed += f;
                if write_err.is_none()
                    && let Err(e) = output.write_all(&out)
                {
                    write_err = Some(e);
                }
                // Never blocks: at most `in_flight` credits are out.
                let _ = credit_tx.try_send(());
                next += 1;
            }
        }
        reader
            .join()
            .map_err(|_| std::io::Error::other("input reader panicked"))??;
        if let Some(e) = write_err {
            return Err(e);
        }
        output.flush()?;
        Ok(failed)
    })
}

fn price_line(engine: &Engine, body: &[u8]) -> Result<PriceResult, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("empty line (expected one JSON event)".to_string());
    }
    let event = EventRef::from_json(body).map_err(|e| e.to_string())?;
    engine
        .price(&PriceInput::from_event_ref(&event))
        .map_err(|e| e.to_string())
}

/// `{"error":"…","line":N}`
pub fn write_error(out: &mut Vec<u8>, msg: &str, line: u64) {
    out.extend_from_slice(b"{\"error\":");
    write_json_str(out, msg);
    out.extend_from_slice(format!(",\"line\":{line}}}\n").as_bytes());
}

/// A JSON string literal (serde_json's escaping; writing into a `Vec` cannot fail).
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(out, s);
}
