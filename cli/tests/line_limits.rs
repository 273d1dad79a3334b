//! Line limits of `tollgate price` (1 MiB a line) and `tollgate report` (64 KiB a record):
//! every input ends in a bounded time, a line at the limit is accepted with `\n` or `\r\n`
//! (line ends are not content), one byte more is rejected as too large, and a stalled reader
//! of `tollgate price`'s output stalls its input instead of growing its memory.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;
/// `tollgate price`'s limit (the CLI's `MAX_LINE_BYTES`).
const MAX_LINE: usize = MIB;
/// `tollgate report`'s limit (`ledger::record::MAX_RECORD_BYTES`).
const MAX_RECORD: usize = 64 * 1024;
/// A hang is a failure, not a slow run: generous on a loaded 2-core machine.
const HANG: Duration = Duration::from_secs(300);

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `tollgate args` on `input`; kills it and fails if it does not end within [`HANG`].
fn run(args: &[&str], input: Vec<u8>) -> (Vec<String>, String, i32) {
    let mut child = spawn(args);
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if started.elapsed() > HANG {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("tollgate {args:?} did not finish within {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    feeder.join().unwrap();
    let out = reader.join().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (
        out.lines().map(str::to_string).collect(),
        err,
        status.code().unwrap_or(-1),
    )
}

/// A valid event of exactly `len` bytes (JSON whitespace pads it): gpt-4o, 1000 input tokens.
fn event_of(len: usize) -> Vec<u8> {
    let head = br#"{"provider":"openai","model":"gpt-4o","tokensIn":1000"#;
    let mut e = head.to_vec();
    e.resize(len - 1, b' ');
    e.push(b'}');
    e
}

/// gpt-4o: 1000 × 2.5e-06 USD = 0.25 cents.
fn is_priced(line: &str) -> bool {
    line.starts_with(r#"{"costCents":"0.25","priced":true,"model":"gpt-4o""#)
}

fn too_long(line: &str, n: u64) -> bool {
    line == format!(r#"{{"error":"line is longer than {MAX_LINE} bytes","line":{n}}}"#)
}

#[test]
fn price_lines_at_the_limit_end_and_are_accepted() {
    // One line, no newline: 1 MiB − 1 and exactly 1 MiB are priced, 1 MiB + 1 is too long
    // (exactly 1 MiB and 1 MiB + 1 used to hang).
    for (len, ok) in [
        (MAX_LINE - 1, true),
        (MAX_LINE, true),
        (MAX_LINE + 1, false),
    ] {
        let (lines, _, code) = run(&["price"], event_of(len));
        assert_eq!(lines.len(), 1, "{len} bytes");
        if ok {
            assert!(is_priced(&lines[0]), "{len} bytes: {}", lines[0]);
            assert_eq!(code, 0);
        } else {
            assert!(too_long(&lines[0], 1), "{len} bytes: {}", lines[0]);
            assert_eq!(code, 1);
        }
    }
    // With a line end: `\n` and `\r\n` both leave a 1 MiB line acceptable; 1 MiB + 1 is too
    // long with either.
    for end in [&b"\n"[..], b"\r\n"] {
        for (len, ok) in [(MAX_LINE, true), (MAX_LINE + 1, false)] {
            let mut input = event_of(len);
            input.extend_from_slice(end);
            input.extend_from_slice(&event_of(60));
            input.extend_from_slice(end);
            let (lines, _, _) = run(&["price"], input);
            assert_eq!(lines.len(), 2, "{len} bytes + {end:?}");
            if ok {
                assert!(is_priced(&lines[0]), "{len} + {end:?}: {}", lines[0]);
            } else {
                assert!(too_long(&lines[0], 1), "{len} + {end:?}: {}", lines[0]);
            }
            assert!(is_priced(&lines[1]), "{}", lines[1]);
        }
    }
}

#[test]
fn price_oversize_line_aligned_at_a_block_boundary_ends() {
    // 16,384 good lines of 64 bytes fill the first 1 MiB block exactly; then an oversize line
    // (more than 2 MiB, no newline until its end), then one good line.
    let good = {
        let mut l = event_of(63);
        l.push(b'\n');
        l
    };
    let mut input = good.repeat(MIB / 64);
    input.extend(std::iter::repeat_n(b'x', 2 * MIB + 7));
    input.push(b'\n');
    input.extend_from_slice(&good);
    let (lines, _, code) = run(&["price"], input);
    assert_eq!(code, 1);
    assert_eq!(lines.len(), MIB / 64 + 2);
    assert!(lines[..MIB / 64].iter().all(|l| is_priced(l)));
    assert!(too_long(&lines[MIB / 64], (MIB / 64 + 1) as u64));
    assert!(is_priced(&lines[MIB / 64 + 1]));
}

#[test]
fn report_record_at_the_limit_with_crlf_is_accepted() {
    let record = |len: usize| {
        let head = br#"{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":1000,"idempotencyKey":"k"#;
        let mut e = head.to_vec();
        // A unique key, then padding to the wanted length.
        e.extend_from_slice(format!("{len}\"").as_bytes());
        e.resize(len - 1, b' ');
        e.push(b'}');
        e
    };
    for end in [&b"\n"[..], b"\r\n"] {
        for (len, ok) in [(MAX_RECORD, true), (MAX_RECORD + 1, false)] {
            let mut input = record(len);
            input.extend_from_slice(end);
            let (_, err, code) = run(&["report", "--json"], input);
            if ok {
                assert_eq!(code, 0, "{len} + {end:?}: {err}");
            } else {
                assert_eq!(code, 1, "{len} + {end:?}");
                assert!(err.contains("longer than 65536") || err.contains("limit is 65536"));
            }
        }
    }
}

/// Resident set of `pid` in KiB (Linux `/proc`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
#[cfg(target_os = "linux")]
fn price_with_a_stalled_reader_stops_reading_its_input() {
    // 48 MiB of events (786,432 lines); nobody reads the output until the input stops moving.
    let good = {
        let mut l = event_of(63);
        l.push(b'\n');
        l
    };
    let lines = 48 * MIB / 64;
    let input = Arc::new(good.repeat(lines));
    let mut child = spawn(&["price"]);
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let fed = Arc::new(AtomicU64::new(0));
    let feeder = {
        let (input, fed) = (input.clone(), fed.clone());
        std::thread::spawn(move || {
            for chunk in input.chunks(64 * 1024) {
                if stdin.write_all(chunk).is_err() {
                    return;
                }
                fed.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            }
        })
    };
    // Wait until the command has started pricing (more than one block consumed) and its input
    // has then not moved for 3 s (bounded by HANG).
    let started = Instant::now();
    let mut last = (u64::MAX, Instant::now());
    while (last.0 <= 2 * MIB as u64 || last.1.elapsed() < Duration::from_secs(3))
        && started.elapsed() < HANG
    {
        let now = fed.load(Ordering::Relaxed);
        if now != last.0 {
            last = (now, Instant::now());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let consumed = fed.load(Ordering::Relaxed);
    let stalled_rss = rss_kib(pid).unwrap();
    // Up to 8 workers × 2 blocks of 1 MiB in flight, a block being read, and the pipes'
    // buffers: far less than the input.
    eprintln!(
        "stalled reader: {consumed} of {} input bytes consumed, RSS {stalled_rss} KiB",
        input.len()
    );
    assert!(consumed < 24 * MIB as u64, "consumed {consumed} bytes");
    // Now read everything: every line is priced, in order.
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    feeder.join().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(out.lines().count(), lines);
    assert!(out.lines().all(is_priced));
    // The resident set while stalled stays within what the bounded pipeline holds (measured
    // 1.5 M lines: 66 MB normal run; before the bound the stalled run grew to 270 MB).
    assert!(stalled_rss < 160 * 1024, "stalled RSS {stalled_rss} KiB");
}
