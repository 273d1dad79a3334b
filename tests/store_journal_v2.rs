//! Journal format 2: buffered stores journal accepted events as booked (kind 5 entries) and
//! replay them without parsing or pricing; version 1 journals are still read, and a store
//! opened on one starts a new version 2 segment instead of appending to the old file.

use std::fs;
use std::path::{Path, PathBuf};
use tollgate_engine::ledger::{Clock, IngestResult};
use tollgate_engine::store::{Durability, Store, StoreError, StoreOptions};

/// 2026-01-01T10:00:00Z, the instant every store here runs at.
const NOW_MS: i64 = 1_767_261_600_000;

fn opts(durability: Durability) -> StoreOptions {
    StoreOptions {
        durability,
        clock: Some(Clock::Fixed(NOW_MS)),
        ..StoreOptions::default()
    }
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

/// Rewrites a segment header's version (bytes 8..12) and its CRC-32 (of bytes 0..20).
fn set_version(path: &Path, version: u32) {
    let mut b = fs::read(path).unwrap();
    b[8..12].copy_from_slice(&version.to_le_bytes());
    let crc = crc32fast::hash(&b[..20]);
    b[20..24].copy_from_slice(&crc.to_le_bytes());
    fs::write(path, b).unwrap();
}

fn version_of(path: &Path) -> u32 {
    let b = fs::read(path).unwrap();
    u32::from_le_bytes(b[8..12].try_into().unwrap())
}

/// Kind byte of every entry of a segment (24-byte header, then `len u32 | crc u32 | body`).
fn kinds(path: &Path) -> Vec<u8> {
    let b = fs::read(path).unwrap();
    let mut v = vec![];
    let mut pos = 24;
    while pos + 8 < b.len() {
        v.push(b[pos + 8]);
        pos += 8 + u32::from_le_bytes(b[pos..pos + 4].try_into().unwrap()) as usize;
    }
    v
}

/// Records of every shape an event entry encodes (keys or none, runs, agents, outcomes,
/// revenue, cache tokens, unknown models, no timestamp), duplicates, a conflict, and the
/// other record types, which stay JSON lines.
fn lines() -> Vec<String> {
    let ts = "\"ts\":\"2026-01-01T09:00:00Z\"";
    vec![
        r#"{"type":"customer","customerId":"acme","plan":{"pricingModel":"usage_based","unitRevenueCents":"2.5"}}"#.into(),
        format!(r#"{{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":200,"cachedTokens":300,"idempotencyKey":"k1",{ts}}}"#),
        format!(r#"{{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":200,"cachedTokens":300,"idempotencyKey":"k1",{ts}}}"#),
        format!(r#"{{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":9,"tokensOut":200,"idempotencyKey":"k1",{ts}}}"#),
        format!(r#"{{"customerId":"acme","runId":"r1","agentId":"triage","model":"claude-3-5-sonnet-20241022","tokensIn":500,"tokensOut":50,"units":3,"responseId":"resp-1",{ts}}}"#),
        format!(r#"{{"customerId":"globex","runId":"r2","model":"no-such-model","tokensIn":5,"tokensOut":5,"outcome":"resolved","revenueUnitCents":"40",{ts}}}"#),
        r#"{"type":"tool","customerId":"globex","externalCostCents":"0.125","idempotencyKey":"t1"}"#.into(),
        format!(r#"{{"customerId":"globex","outcome":"failed","idempotencyKey":"single-1","model":"gpt-4o-mini","tokensIn":10,"tokensOut":1,{ts}}}"#),
        r#"{"type":"resolve","customerId":"acme","runId":"r1","outcome":"escalated","ts":"2026-01-01T09:30:00Z"}"#.into(),
    ]
}

fn ingest_all(store: &Store) -> Vec<IngestResult> {
    lines()
        .iter()
        .map(|l| store.ingest_json(l.as_bytes()).unwrap())
        .collect()
}

#[test]
fn a_buffered_journal_replays_to_the_state_the_live_ledger_had() {
    let dir = tempfile::tempdir().unwrap();
    let (live, results) = {
        let s = Store::open(dir.path(), opts(Durability::Interval { interval_ms: 5 })).unwrap();
        let r = ingest_all(&s);
        s.flush().unwrap();
        (s.ledger().state_bytes(), r)
    };
    // The duplicate and the conflict changed nothing and were not journaled; the customer
    // and the resolution are JSON lines (kind 1), the six accepted events kind 5.
    assert!(matches!(results[2], IngestResult::Duplicate));
    assert!(matches!(results[3], IngestResult::Conflict { .. }));
    let segs = segments(dir.path());
    assert_eq!(segs.len(), 1);
    assert_eq!(version_of(&segs[0]), 2);
    assert_eq!(kinds(&segs[0]), vec![1, 5, 5, 5, 5, 5, 1]);

    let s = Store::open(dir.path(), opts(Durability::Interval { interval_ms: 5 })).unwrap();
    assert_eq!(s.recovery().records, 7);
    assert_eq!(s.ledger().state_bytes(), live);
    // The same lines journaled as JSON (sync mode) replay to the same state as well.
    let dir2 = tempfile::tempdir().unwrap();
    {
        let s2 = Store::open(dir2.path(), opts(Durability::Sync)).unwrap();
        ingest_all(&s2);
        assert_eq!(s2.ledger().state_bytes(), live);
    }
    assert_eq!(kinds(&segments(dir2.path())[0]), vec![1; 9]);
    let s2 = Store::open(dir2.path(), opts(Durability::Sync)).unwrap();
    assert_eq!(s2.ledger().state_bytes(), live);
    // The replayed ledger decides the same: the duplicate is still a duplicate.
    assert!(matches!(
        s.ingest_json(lines()[2].as_bytes()).unwrap(),
        IngestResult::Duplicate
    ));
    // By hand: globex has three events (r2, t1, single-1), one unpriced (no-such-model).
    let m = s.ledger().customer_margin("globex").unwrap().unwrap();
    assert_eq!((m.events, m.unpriced_events), (3, 1));
}

#[test]
fn a_version_1_journal_is_read_and_the_store_continues_in_a_new_version_2_segment() {
    let dir = tempfile::tempdir().unwrap();
    {
        // Sync mode journals JSON lines only (kinds 1-4): exactly what format 1 held.
        let s = Store::open(dir.path(), opts(Durability::Sync)).unwrap();
        ingest_all(&s);
    }
    let old = segments(dir.path()).remove(0);
    set_version(&old, 1);
    let old_bytes = fs::read(&old).unwrap();
    let live = {
        let s = Store::open(dir.path(), opts(Durability::None)).unwrap();
        assert_eq!(s.recovery().records, 9);
        let extra = r#"{"type":"tool","customerId":"initech","externalCostCents":"7","idempotencyKey":"n1"}"#;
        assert!(matches!(
            s.ingest_json(extra.as_bytes()).unwrap(),
            IngestResult::Accepted(_)
        ));
        s.flush().unwrap();
        s.ledger().state_bytes()
    };
    // The old file is untouched; the new event went to segment 2, format 2, as kind 5.
    let segs = segments(dir.path());
    assert_eq!(segs.len(), 2);
    assert_eq!(fs::read(&segs[0]).unwrap(), old_bytes);
    assert_eq!(version_of(&segs[1]), 2);
    assert_eq!(kinds(&segs[1]), vec![5]);
    let s = Store::open(dir.path(), opts(Durability::None)).unwrap();
    assert_eq!(s.recovery().segments, vec![1, 2]);
    assert_eq!(s.recovery().records, 10);
    assert_eq!(s.ledger().state_bytes(), live);
    assert_eq!(
        s.ledger()
            .customer_margin("initech")
            .unwrap()
            .unwrap()
            .cost_cents
            .to_string(),
        "7"
    );
}

#[test]
fn an_event_entry_in_a_version_1_segment_and_an_unknown_version_are_refused_precisely() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path(), opts(Durability::None)).unwrap();
        ingest_all(&s);
    }
    let seg = segments(dir.path()).remove(0);
    let first_event = {
        let b = fs::read(&seg).unwrap();
        24 + 8 + u32::from_le_bytes(b[24..28].try_into().unwrap()) as u64
    };
    set_version(&seg, 1);
    match Store::open(dir.path(), opts(Durability::None)) {
        Err(StoreError::Corrupt {
            path,
            offset,
            reason,
        }) => {
            assert_eq!(path, seg);
            assert_eq!(offset, first_event);
            assert_eq!(reason, "an event entry (kind 5) in a version 1 segment");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    set_version(&seg, 3);
    match Store::open(dir.path(), opts(Durability::None)) {
        Err(StoreError::Corrupt { offset, reason, .. }) => {
            assert_eq!(offset, 0);
            assert_eq!(
                reason,
                "journal format version 3; this build reads versions 1 to 2"
            );
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
