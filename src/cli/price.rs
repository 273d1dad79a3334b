//! `tollgate price` (SPEC §8): JSON Lines events on stdin, one JSON result line per input line.
//!
//! The output path writes JSON by hand into one reused buffer (no `serde_json::Value`), reads
//! with a large buffer and reuses the line buffer, so the command prices well over a million
//! lines per second on one core.

use std::io::{BufRead, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use tollgate::engine::{Engine, PriceInput, PriceResult};
use tollgate::event::Event;
use tollgate::money::{CENTS_SCALE, Cents};

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

/// Loads the engine for `--rate-card`, or the embedded card.
pub fn load_engine(rate_card: Option<&PathBuf>) -> Result<Engine, String> {
    match rate_card {
        None => Ok(Engine::embedded()),
        Some(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            Engine::from_registry(&bytes).map_err(|e| format!("{}: {e}", path.display()))
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
    let input = std::io::BufReader::with_capacity(1 << 20, stdin.lock());
    let output = BufWriter::with_capacity(1 << 20, stdout.lock());
    match price_stream(&engine, input, output) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("tollgate price: {e}");
            ExitCode::from(2)
        }
    }
}

/// Prices every line of `input` into `output`; returns how many lines failed.
pub fn price_stream(
    engine: &Engine,
    mut input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<u64> {
    let mut line = Vec::with_capacity(4096);
    let mut out = Vec::with_capacity(1 << 16);
    let mut n: u64 = 0;
    let mut failed: u64 = 0;
    loop {
        line.clear();
        let read = (&mut input)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            break;
        }
        n += 1;
        let complete = line.last() == Some(&b'\n');
        if !complete && line.len() > MAX_LINE_BYTES {
            // Skip the rest of the oversize line.
            let mut sink = Vec::new();
            loop {
                sink.clear();
                let r = (&mut input).take(1 << 16).read_until(b'\n', &mut sink)?;
                if r == 0 || sink.last() == Some(&b'\n') {
                    break;
                }
            }
            write_error(
                &mut out,
                &format!("line is longer than {MAX_LINE_BYTES} bytes"),
                n,
            );
            failed += 1;
        } else {
            let mut body: &[u8] = &line;
            if let Some(b) = body.strip_suffix(b"\n") {
                body = b;
            }
            if let Some(b) = body.strip_suffix(b"\r") {
                body = b;
            }
            match price_line(engine, body) {
                Ok(r) => write_result(&mut out, &r),
                Err(msg) => {
                    write_error(&mut out, &msg, n);
                    failed += 1;
                }
            }
        }
        if out.len() >= 1 << 16 {
            output.write_all(&out)?;
            out.clear();
        }
    }
    output.write_all(&out)?;
    output.flush()?;
    Ok(failed)
}

fn price_line(engine: &Engine, body: &[u8]) -> Result<PriceResult, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("empty line (expected one JSON event)".to_string());
    }
    let event = Event::from_json(body).map_err(|e| e.to_string())?;
    engine
        .price(&PriceInput::from_event(&event))
        .map_err(|e| e.to_string())
}

/// `{"costCents":"…","priced":…,"model":…,"snapshot":"…","reason":…,"warnings":[…],"match":…,"source":"…"}`
pub fn write_result(out: &mut Vec<u8>, r: &PriceResult) {
    out.extend_from_slice(b"{\"costCents\":\"");
    write_cents(out, r.cost_cents);
    out.extend_from_slice(b"\",\"priced\":");
    out.extend_from_slice(if r.priced { b"true" } else { b"false" });
    out.extend_from_slice(b",\"model\":");
    match &r.model {
        Some(m) => write_json_str(out, m),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"snapshot\":\"");
    write_hex16(out, r.snapshot.0);
    out.extend_from_slice(b"\",\"reason\":");
    match r.reason {
        Some(reason) => {
            out.push(b'"');
            out.extend_from_slice(reason.as_str().as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"warnings\":[");
    for (i, w) in r.warnings.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, w);
    }
    out.extend_from_slice(b"],\"match\":");
    match r.match_kind {
        Some(k) => {
            out.push(b'"');
            out.extend_from_slice(k.as_str().as_bytes());
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"source\":\"");
    out.extend_from_slice(r.source.as_str().as_bytes());
    out.extend_from_slice(b"\"}\n");
}

/// `{"error":"…","line":N}`
pub fn write_error(out: &mut Vec<u8>, msg: &str, line: u64) {
    out.extend_from_slice(b"{\"error\":");
    write_json_str(out, msg);
    out.extend_from_slice(b",\"line\":");
    write_u128(out, u128::from(line));
    out.extend_from_slice(b"}\n");
}

/// Decimal digits of `v`.
pub fn write_u128_pub(out: &mut Vec<u8>, v: u128) {
    write_u128(out, v);
}

fn write_u128(out: &mut Vec<u8>, mut v: u128) {
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Exact decimal text of an amount in cents, shortest form (same as `Cents`' `Display`).
pub fn write_cents(out: &mut Vec<u8>, c: Cents) {
    let raw = c.raw();
    if raw < 0 {
        out.push(b'-');
    }
    let abs = raw.unsigned_abs();
    let unit = 10u128.pow(CENTS_SCALE);
    write_u128(out, abs / unit);
    let mut frac = abs % unit;
    if frac != 0 {
        let mut width = CENTS_SCALE as usize;
        while frac.is_multiple_of(10) {
            frac /= 10;
            width -= 1;
        }
        out.push(b'.');
        let mut buf = [b'0'; CENTS_SCALE as usize];
        let mut i = width;
        while frac > 0 {
            i -= 1;
            buf[i] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        out.extend_from_slice(&buf[..width]);
    }
}

fn write_hex16(out: &mut Vec<u8>, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..16).rev() {
        out.push(HEX[((v >> (shift * 4)) & 0xf) as usize]);
    }
}

/// A JSON string literal with the mandatory escapes.
pub fn write_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_text_matches_display() {
        for s in [
            "0",
            "300",
            "0.4245",
            "12.000000000000000000000001",
            "-5.5",
            "0.000020000000000000002",
        ] {
            let c: Cents = s.parse().unwrap();
            let mut out = Vec::new();
            write_cents(&mut out, c);
            assert_eq!(String::from_utf8(out).unwrap(), c.to_string());
        }
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        write_json_str(&mut out, "a\"b\\c\n\u{1}é");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001é\""
        );
    }
}
