//! `tollgate ledger check DIR` beside a live owner: another process owns the directory and
//! keeps writing (and checkpointing) in `sync` mode; the check runs again and again while it
//! does, succeeds read-only, never blocks or breaks the owner (every one of its writes is
//! acknowledged), and changes nothing. Bounded: the owner stops after 400 records or 20 s.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tollgate_engine::ledger::IngestResult;
use tollgate_engine::store::{Durability, Store, StoreOptions};

const CHILD: &str = "TG_LIVE_OWNER_DIR";
const RECORDS: u64 = 400;

fn line(i: u64) -> String {
    format!(
        r#"{{"type":"tool","customerId":"c","externalCostCents":"2","idempotencyKey":"k{i}","ts":"2026-01-01T10:00:00Z"}}"#
    )
}

fn sync() -> StoreOptions {
    StoreOptions {
        durability: Durability::Sync,
        ..StoreOptions::default()
    }
}

/// The owner (runs only in the child process).
#[test]
fn live_owner() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return;
    };
    let store = Store::open(&dir, sync()).unwrap();
    let mut out = std::io::stdout();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let start = Instant::now();
    let mut i = 0;
    while i < RECORDS && start.elapsed() < Duration::from_secs(20) {
        let r = store.ingest_json(line(i).as_bytes()).unwrap();
        assert!(matches!(r, IngestResult::Accepted(_)), "{r:?}");
        if i % 100 == 99 {
            store.checkpoint().unwrap();
        }
        i += 1;
        // Paced, so the checks below overlap the writes.
        std::thread::sleep(Duration::from_millis(2));
    }
    store.close().unwrap();
    writeln!(out, "done {i}").unwrap();
    out.flush().unwrap();
}

#[test]
fn ledger_check_runs_read_only_beside_a_live_owner() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "live_owner", "--nocapture", "--test-threads=1"])
        .env(CHILD, &dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.ends_with("ready")),
        "owner never became ready"
    );
    // The directory is owned: a second owner is refused, the check is not.
    assert!(Store::in_use(&dir).unwrap());
    let mut checks = 0;
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(30) {
        let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["ledger", "check"])
            .arg(&dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "check beside a live owner: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains(": recovers"), "{text}");
        if child.try_wait().unwrap().is_none() && text.contains("in use by a running process") {
            checks += 1;
        }
    }
    let done: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "the owner failed while checks ran: {done:?}"
    );
    assert!(
        done.iter().any(|l| l == &format!("done {RECORDS}")),
        "the owner did not finish its writes: {done:?}"
    );
    assert!(checks >= 1, "no check overlapped the owner");
    // Nothing was changed by the checks: every record is there once.
    assert!(!Store::in_use(&dir).unwrap());
    let store = Store::open(&dir, sync()).unwrap();
    let m = store.ledger().customer_margin("c").unwrap().unwrap();
    assert_eq!(
        (m.events, m.cost_cents.to_string()),
        (RECORDS, (2 * RECORDS).to_string())
    );
}
