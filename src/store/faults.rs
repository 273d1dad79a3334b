//! Injected I/O errors for the unit tests of the write path: a write that stops half-way
//! with an error (as `ENOSPC` leaves a file), and an fsync that fails (as `EIO` does).
//! Compiled only for tests.

use super::{Durability, Store, StoreError, StoreOptions};
use crate::ledger::IngestResult;
use std::fs::File;
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};

/// How many of the next writes / fsyncs fail.
#[derive(Default)]
pub(super) struct Faults {
    writes: AtomicU32,
    fsyncs: AtomicU32,
}

fn take(n: &AtomicU32) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

impl Faults {
    pub(super) fn write(&self, mut f: &File, batch: &[u8]) -> std::io::Result<()> {
        if take(&self.writes) {
            // Half the batch reaches the file, then the disk is full.
            f.write_all(&batch[..batch.len() / 2])?;
            return Err(std::io::Error::from_raw_os_error(28)); // ENOSPC
        }
        f.write_all(batch)
    }

    pub(super) fn fsync(&self, f: &File) -> std::io::Result<()> {
        if take(&self.fsyncs) {
            return Err(std::io::Error::from_raw_os_error(5)); // EIO
        }
        f.sync_data()
    }
}

fn tool(key: &str, cents: u32) -> Vec<u8> {
    format!(
        r#"{{"type":"tool","customerId":"c","externalCostCents":"{cents}","idempotencyKey":"{key}","ts":"2026-01-01T10:00:00Z"}}"#
    )
    .into_bytes()
}

fn cost(store: &Store) -> String {
    store
        .ledger()
        .customer_margin("c")
        .map_or("none".into(), |m| m.unwrap().cost_cents.to_string())
}

fn open(dir: &std::path::Path, durability: Durability) -> Store {
    Store::open(
        dir,
        StoreOptions {
            durability,
            ..StoreOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn a_failed_write_rejects_the_record_applies_nothing_and_the_next_write_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Durability::Sync);
    assert!(matches!(
        store.ingest_json(&tool("a", 5)).unwrap(),
        IngestResult::Accepted(_)
    ));
    store.shared.faults.writes.store(1, Ordering::SeqCst);
    let e = store.ingest_json(&tool("b", 7)).unwrap_err();
    assert!(matches!(e, StoreError::Io { .. }), "{e}");
    assert!(e.to_string().contains("No space left"), "{e}");
    // Nothing of b applied; reads work.
    assert_eq!(cost(&store), "5");
    // The half-written entry was cut back: the next record is accepted and journaled after a.
    assert!(matches!(
        store.ingest_json(&tool("c", 11)).unwrap(),
        IngestResult::Accepted(_)
    ));
    assert_eq!(cost(&store), "16");
    drop(store);
    let store = open(dir.path(), Durability::Sync);
    assert!(
        store.recovery().torn_tail.is_none(),
        "{:?}",
        store.recovery()
    );
    assert_eq!(store.recovery().records, 2);
    assert_eq!(cost(&store), "16"); // 5 + 11: b never counted
    // b was never applied: sending it again is new.
    assert!(matches!(
        store.ingest_json(&tool("b", 7)).unwrap(),
        IngestResult::Accepted(_)
    ));
    assert_eq!(cost(&store), "23");
}

#[test]
fn a_failed_fsync_rejects_the_record_keeps_reads_poisons_writes_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Durability::Sync);
    assert!(matches!(
        store.ingest_json(&tool("a", 5)).unwrap(),
        IngestResult::Accepted(_)
    ));
    store.shared.faults.fsyncs.store(1, Ordering::SeqCst);
    let e = store.ingest_json(&tool("b", 7)).unwrap_err();
    assert!(matches!(e, StoreError::Poisoned(_)), "{e}");
    assert!(e.to_string().contains("fsync"), "{e}");
    assert_eq!(cost(&store), "5", "nothing of b applied");
    // Writes stay refused (what the disk holds is unknown) while reads keep working.
    let e = store.ingest_json(&tool("c", 11)).unwrap_err();
    assert!(matches!(e, StoreError::Poisoned(_)), "{e}");
    assert_eq!(cost(&store), "5");
    assert!(store.ledger().customer_margin("c").is_some());
    drop(store);
    // Reopening recovers from what the disk holds. b was written before its fsync failed:
    // it may be there; a client retrying it (same key) never counts it twice.
    let store = open(dir.path(), Durability::Sync);
    let before = cost(&store);
    assert!(before == "5" || before == "12", "{before}");
    let retried = store.ingest_json(&tool("b", 7)).unwrap();
    assert!(
        matches!(retried, IngestResult::Accepted(_) | IngestResult::Duplicate),
        "{retried:?}"
    );
    assert_eq!(cost(&store), "12");
    assert!(matches!(
        store.ingest_json(&tool("c", 11)).unwrap(),
        IngestResult::Accepted(_)
    ));
    assert_eq!(cost(&store), "23");
}

#[test]
fn interval_mode_refuses_records_while_the_journal_cannot_be_written_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    // A long interval: only the explicit flushes below write (deterministic).
    let store = open(
        dir.path(),
        Durability::Interval {
            interval_ms: 60_000,
        },
    );
    assert!(matches!(
        store.ingest_json(&tool("a", 5)).unwrap(),
        IngestResult::Accepted(_)
    ));
    store.flush().unwrap();
    store.shared.faults.writes.store(1, Ordering::SeqCst);
    // Applied in memory and buffered; the write fails.
    assert!(matches!(
        store.ingest_json(&tool("b", 7)).unwrap(),
        IngestResult::Accepted(_)
    ));
    let e = store.flush().unwrap_err();
    assert!(matches!(e, StoreError::Io { .. }), "{e}");
    // While the journal cannot be written, a new record is refused and applies nothing.
    let e = store.ingest_json(&tool("c", 11)).unwrap_err();
    assert!(matches!(e, StoreError::Io { .. }), "{e}");
    assert_eq!(cost(&store), "12");
    // The failed bytes stayed buffered; the next flush writes them and records are accepted
    // again.
    store.flush().unwrap();
    assert!(matches!(
        store.ingest_json(&tool("c", 11)).unwrap(),
        IngestResult::Accepted(_)
    ));
    store.flush().unwrap();
    assert_eq!(cost(&store), "23");
    drop(store);
    let store = open(dir.path(), Durability::Sync);
    assert!(store.recovery().torn_tail.is_none());
    assert_eq!(store.recovery().records, 3);
    assert_eq!(cost(&store), "23");
}

/// A panic in the journal leader (after the batch is written, before it is applied) makes
/// the store refuse every later write with `StoreError::Panicked` — including a second
/// writer's, which must not wait forever for the dead leader — and a reopen recovers the
/// journaled record.
#[test]
fn a_panic_in_the_journal_leader_refuses_writes_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), Durability::Sync);
    assert!(matches!(
        store.ingest_json(&tool("a", 5)).unwrap(),
        IngestResult::Accepted(_)
    ));
    assert!(!store.is_panicked());
    crate::test_hooks::panic_next(crate::test_hooks::Site::StoreLead);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.ingest_json(&tool("b", 7))
    }));
    assert!(r.is_err(), "the armed panic fired");
    assert!(store.is_panicked());
    let e = std::thread::scope(|s| s.spawn(|| store.ingest_json(&tool("c", 11))).join())
        .unwrap()
        .unwrap_err();
    assert!(matches!(e, StoreError::Panicked(_)), "{e}");
    assert!(e.to_string().contains("reopen the directory"), "{e}");
    assert_eq!(cost(&store), "5", "b was journaled, not applied");
    drop(store);
    let store = open(dir.path(), Durability::Sync);
    assert_eq!(cost(&store), "12", "recovery applies the journaled b");
    assert!(!store.is_panicked());
}
