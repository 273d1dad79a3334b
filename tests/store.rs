//! The durable store: reopen, torn tails at every byte offset, damage in the middle refused
//! with its offset, the directory lock, checkpoints, rate cards and overrides after a restart.

use std::fs;
use std::path::{Path, PathBuf};
use tollgate_engine::engine::{Engine, PriceInput};
use tollgate_engine::ledger::{Clock, IngestResult, Ledger, LedgerConfig};
use tollgate_engine::store::{Durability, Store, StoreError, StoreOptions};
use tollgate_engine::usage::Usage;

fn event(customer: &str, key: &str, cents: u32) -> Vec<u8> {
    format!(
        r#"{{"type":"tool","customerId":"{customer}","externalCostCents":"{cents}","idempotencyKey":"{key}","ts":"2026-01-01T10:00:00Z"}}"#
    )
    .into_bytes()
}

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tgj"))
        .collect();
    v.sort();
    v
}

fn cost_of(store: &Store, customer: &str) -> String {
    store
        .ledger()
        .customer_margin(customer)
        .unwrap()
        .map_or("none".into(), |m| m.cost_cents.to_string())
}

/// Entry offsets of a segment: 24-byte header, then `len u32 | crc u32 | body`.
fn entry_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut v = vec![];
    let mut pos = 24;
    while pos + 8 <= bytes.len() {
        v.push(pos);
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 8 + len;
    }
    v
}

#[test]
fn records_survive_a_reopen_and_duplicates_stay_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        for i in 0..10 {
            let r = s.ingest_json(&event("acme", &format!("k{i}"), 2)).unwrap();
            assert!(matches!(r, IngestResult::Accepted(_)));
        }
        // Not journaled: does not parse.
        let r = s.ingest_json(b"{not json").unwrap();
        assert!(matches!(r, IngestResult::Rejected(_)));
    }
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(s.recovery().records, 10);
    assert_eq!(s.recovery().torn_tail, None);
    assert_eq!(cost_of(&s, "acme"), "20"); // 10 × 2 cents
    assert_eq!(
        s.ingest_json(&event("acme", "k3", 2)).unwrap(),
        IngestResult::Duplicate
    );
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let e = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
    assert!(matches!(e, StoreError::Locked(_)), "{e}");
    assert!(e.to_string().contains("in use by another process"), "{e}");
    drop(s);
    Store::open(dir.path(), StoreOptions::default()).unwrap();
}

/// Builds a directory of `n` records (2 cents each, keys k0..) and returns its segment bytes.
fn journal_of(n: usize) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    for i in 0..n {
        s.ingest_json(&event("acme", &format!("k{i}"), 2)).unwrap();
    }
    drop(s);
    let seg = segments(dir.path()).pop().unwrap();
    let bytes = fs::read(&seg).unwrap();
    (dir, seg, bytes)
}

#[test]
fn a_torn_tail_is_cut_at_every_byte_offset_of_the_last_entries() {
    let (dir, seg, bytes) = journal_of(6);
    let offsets = entry_offsets(&bytes);
    assert_eq!(offsets.len(), 6);
    let from = offsets[3]; // the last three entries
    let ends: Vec<usize> = offsets[1..].iter().copied().chain([bytes.len()]).collect();
    for cut in from..bytes.len() {
        // Entries that end at or before the cut are whole; the journal ends after the last.
        let whole = ends.iter().filter(|e| **e <= cut).count();
        let boundary = if whole == 0 { 24 } else { ends[whole - 1] };
        for garble in [None, Some(0x00u8), Some(0xA5)] {
            let mut b = bytes[..cut].to_vec();
            if let Some(g) = garble {
                // A torn write: the rest of the file is there but wrong.
                b.extend(std::iter::repeat_n(g, bytes.len() - cut));
            }
            fs::write(&seg, &b).unwrap();
            let s = Store::open(dir.path(), StoreOptions::default())
                .unwrap_or_else(|e| panic!("cut {cut} garble {garble:?}: {e}"));
            assert_eq!(s.recovery().records, whole as u64, "cut {cut} {garble:?}");
            assert_eq!(cost_of(&s, "acme"), (2 * whole).to_string());
            match s.recovery().torn_tail.clone() {
                None => assert_eq!(b.len(), boundary, "cut {cut} {garble:?}: nothing torn"),
                Some(t) => {
                    assert_eq!(t.offset as usize, boundary, "cut {cut} {garble:?}");
                    assert_eq!(t.offset + t.bytes_cut, b.len() as u64);
                }
            }
            // The cut is made on disk and the journal goes on from there.
            s.ingest_json(&event("acme", "after", 2)).unwrap();
            drop(s);
            let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
            assert_eq!(s.recovery().torn_tail, None);
            assert_eq!(s.recovery().records, whole as u64 + 1);
            drop(s);
        }
    }
}

#[test]
fn a_checksum_flip_in_the_middle_is_refused_with_its_offset() {
    let (dir, seg, bytes) = journal_of(5);
    let offsets = entry_offsets(&bytes);
    // Every byte of the first four entries (the last one is indistinguishable from a tail
    // cut short, see the test above).
    for (i, &start) in offsets[..4].iter().enumerate() {
        for at in start..offsets[i + 1] {
            let mut b = bytes.clone();
            b[at] ^= 0x04;
            fs::write(&seg, &b).unwrap();
            match Store::open(dir.path(), StoreOptions::default()) {
                Err(StoreError::Corrupt { offset, path, .. }) => {
                    assert_eq!(offset as usize, start, "flip at {at}");
                    assert_eq!(path, seg);
                }
                other => panic!("flip at {at}: {other:?}"),
            }
            // Refused, and nothing was changed on disk.
            assert_eq!(fs::read(&seg).unwrap(), b);
        }
    }
    // The header too.
    for at in 0..24 {
        let mut b = bytes.clone();
        b[at] ^= 0x01;
        fs::write(&seg, &b).unwrap();
        let e = Store::open(dir.path(), StoreOptions::default()).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { offset: 0, .. }), "{e}");
    }
    fs::write(&seg, &bytes).unwrap();
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(s.recovery().records, 5);
}

#[test]
fn check_reports_without_changing_the_directory() {
    let (dir, seg, bytes) = journal_of(3);
    let mut b = bytes.clone();
    b.truncate(bytes.len() - 5);
    fs::write(&seg, &b).unwrap();
    let (report, ledger) = Store::check(dir.path()).unwrap();
    assert_eq!(report.records, 2);
    let t = report.torn_tail.unwrap();
    assert_eq!(t.offset + t.bytes_cut, b.len() as u64);
    assert_eq!(
        ledger
            .customer_margin("acme")
            .unwrap()
            .unwrap()
            .cost_cents
            .to_string(),
        "4"
    );
    assert_eq!(fs::read(&seg).unwrap(), b);
    let none = tempfile::tempdir().unwrap();
    assert!(matches!(
        Store::check(none.path()),
        Err(StoreError::Config(_))
    ));
}

#[test]
fn checkpoints_fold_the_journal_and_recovery_continues_after_them() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        durability: Durability::Interval { interval_ms: 5 },
        ..StoreOptions::default()
    };
    {
        let s = Store::open(dir.path(), opts).unwrap();
        for i in 0..100 {
            s.ingest_json(&event("acme", &format!("a{i}"), 1)).unwrap();
        }
        let cp = s.checkpoint().unwrap();
        assert_eq!((cp.segment, cp.entries), (2, 100));
        for i in 0..50 {
            s.ingest_json(&event("acme", &format!("b{i}"), 1)).unwrap();
        }
        let cp = s.checkpoint().unwrap();
        assert_eq!((cp.segment, cp.entries), (3, 50));
        for i in 0..7 {
            s.ingest_json(&event("acme", &format!("c{i}"), 1)).unwrap();
        }
    }
    // One checkpoint and one segment are left.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tgj") || n.ends_with(".tgc"))
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let s = Store::open(dir.path(), opts).unwrap();
    assert_eq!(s.recovery().checkpoint, Some(3));
    assert_eq!(s.recovery().records, 7);
    assert_eq!(cost_of(&s, "acme"), "157");
    assert_eq!(
        s.ingest_json(&event("acme", "a5", 1)).unwrap(),
        IngestResult::Duplicate
    );
}

#[test]
fn rate_cards_and_overrides_price_events_by_their_time_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A card from 2026-06-01 where gpt-4o costs 1e-06 per input token (the embedded: 2.5e-06).
    let card = br#"{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06}}"#;
    let june = 1_780_272_000_000; // 2026-06-01T00:00:00Z
    let line = |key: &str, ts: &str| {
        format!(
            r#"{{"customerId":"c","provider":"openai","model":"gpt-4o","tokensIn":1000,"idempotencyKey":"{key}","ts":"{ts}"}}"#
        )
    };
    {
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        s.publish_registry(card, june).unwrap();
        // A bad card: rejected with its reason, nothing journaled.
        let e = s.publish_registry(br#"{"x": {"input_cost_per_token": "cheap"}}"#, june + 1);
        assert!(matches!(e, Err(StoreError::RateCard(_))), "{e:?}");
        s.set_override("claude-sonnet-4-6", br#"{"input_cost_per_token": 1e-05}"#)
            .unwrap();
        s.ingest_json(line("may", "2026-05-31T23:59:59Z").as_bytes())
            .unwrap();
        s.ingest_json(line("june", "2026-06-01T00:00:00Z").as_bytes())
            .unwrap();
    }
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let h = s.history();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].effective_from_ms, june);
    assert_eq!(s.card_bytes(&h[0].content).unwrap(), card);
    // 1000 × 2.5e-06 USD = 0.25 cents (embedded) + 1000 × 1e-06 USD = 0.1 cents (June card).
    assert_eq!(cost_of(&s, "c"), "0.35");
    let usage = Usage {
        tokens_in: 1000,
        ..Usage::default()
    };
    let r = s
        .engine()
        .price(&PriceInput::llm(
            Some("anthropic"),
            "claude-sonnet-4-6",
            &usage,
        ))
        .unwrap();
    assert_eq!(r.cost_cents.to_string(), "1"); // 1000 × 1e-05 USD
    assert_eq!(s.engine().snapshots().len(), 2);
    // After a checkpoint too.
    s.checkpoint().unwrap();
    s.remove_override("claude-sonnet-4-6").unwrap();
    drop(s);
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(s.history().len(), 1);
    assert_eq!(cost_of(&s, "c"), "0.35");
    let mut before_june = PriceInput::llm(Some("anthropic"), "claude-sonnet-4-6", &usage);
    before_june.timestamp_ms = Some(june - 1);
    let r = s.engine().price(&before_june).unwrap();
    assert_eq!(r.cost_cents.to_string(), "0.3"); // embedded: 3e-06 per token
}

#[test]
fn the_clock_of_a_directory_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let log = StoreOptions {
        clock: Some(Clock::Log),
        ..StoreOptions::default()
    };
    drop(Store::open(dir.path(), log).unwrap());
    let e = Store::open(
        dir.path(),
        StoreOptions {
            clock: Some(Clock::System),
            ..StoreOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, StoreError::Config(_)), "{e}");
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(s.ledger().clock(), Clock::Log);
    drop(s);
    // So is its dedupe window, before any checkpoint holds it: replay must use it.
    let dir = tempfile::tempdir().unwrap();
    let forever = StoreOptions {
        dedupe_window_ms: 0,
        ..StoreOptions::default()
    };
    let s = Store::open(dir.path(), forever).unwrap();
    s.ingest_json(&event("acme", "old", 1)).unwrap();
    drop(s);
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(s.ledger().dedupe_window_ms(), 0);
    drop(s);
    assert_eq!(Store::check(dir.path()).unwrap().1.dedupe_window_ms(), 0);
}

#[test]
fn many_writers_in_sync_mode_lose_nothing_and_match_a_clean_replay() {
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<Vec<u8>> = (0..8 * 50)
        .map(|i| event(&format!("c{}", i % 8), &format!("k{i}"), 1 + (i % 5) as u32))
        .collect();
    {
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        std::thread::scope(|scope| {
            for t in 0..8 {
                let s = &s;
                let lines = &lines;
                scope.spawn(move || {
                    for chunk in lines[t * 50..(t + 1) * 50].chunks(7) {
                        let r = s.ingest_batch(chunk.iter().map(|l| l.as_slice())).unwrap();
                        assert!(r.iter().all(|r| matches!(r, IngestResult::Accepted(_))));
                    }
                });
            }
        });
    }
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(s.recovery().records, 400);
    let clean = Ledger::new(LedgerConfig::default());
    let engine = Engine::embedded();
    for l in &lines {
        clean.ingest_json(&engine, l);
    }
    for c in 0..8 {
        let id = format!("c{c}");
        assert_eq!(
            s.ledger().customer_margin(&id).unwrap(),
            clean.customer_margin(&id).unwrap()
        );
    }
}

/// A small tmpfs, mounted for the test (CI runs as root; elsewhere the test says it skipped).
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let d = tempfile::tempdir().ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(d.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(d))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

fn full_disk(durability: Durability) {
    let Some(fs_) = Tmpfs::mount("1m") else {
        eprintln!("full-disk test skipped: cannot mount a tmpfs (needs root)");
        return;
    };
    let dir = fs_.0.path().join("data");
    let opts = StoreOptions {
        durability,
        checkpoint_bytes: 0,
        ..StoreOptions::default()
    };
    let s = Store::open(&dir, opts).unwrap();
    // Most of the space goes to a filler file, freed later.
    let filler = fs_.0.path().join("filler");
    let mut f = fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let _ = fs::remove_file(fs_.0.path().join("filler-2"));
    // Give back a little room so some records fit.
    let len = fs::metadata(&filler).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(len.saturating_sub(64 * 1024))
        .unwrap();
    let mut acked = vec![];
    let mut refused = 0;
    for i in 0..20_000 {
        let key = format!("k{i}");
        let before = s.ledger().customer_margin("acme").map(|m| m.unwrap());
        match s.ingest_json(&event("acme", &key, 1)) {
            Ok(r) => {
                assert!(matches!(r, IngestResult::Accepted(_)));
                acked.push(key);
            }
            Err(e) => {
                let StoreError::Io { source, .. } = &e else {
                    panic!("{e}")
                };
                assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{e}");
                // Nothing applied; reads keep working.
                assert_eq!(
                    s.ledger().customer_margin("acme").map(|m| m.unwrap()),
                    before
                );
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
        }
        if durability != Durability::Sync && refused == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    assert_eq!(refused, 3, "the disk never filled");
    assert!(!acked.is_empty());
    // Space returns: writes are accepted again.
    fs::remove_file(&filler).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match s.ingest_json(&event("acme", "after", 1)) {
            Ok(r) => {
                assert!(matches!(r, IngestResult::Accepted(_)));
                break;
            }
            Err(e) if std::time::Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("still refused after space returned: {e}"),
        }
    }
    acked.push("after".into());
    drop(s);
    let s = Store::open(&dir, opts).unwrap();
    assert_eq!(s.recovery().records, acked.len() as u64);
    assert_eq!(cost_of(&s, "acme"), acked.len().to_string());
}

use std::time::Duration;

#[test]
fn a_full_disk_rejects_the_record_keeps_reads_and_recovers_sync() {
    full_disk(Durability::Sync);
}

#[test]
fn a_full_disk_rejects_the_record_keeps_reads_and_recovers_interval() {
    full_disk(Durability::Interval { interval_ms: 5 });
}
