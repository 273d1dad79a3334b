//! `settle` on a data directory is durable: a child process reserves and settles in `sync`
//! mode and is killed with SIGKILL; after recovery every settlement whose result was returned
//! is present exactly once, with its cost. And `Ledger::settle` on a store's ledger, which
//! would track without journaling, is refused and changes nothing.
//!
//! Bounded: 3 kills, each child stops itself after 60 s (the parent kills it long before on an
//! idle machine; the margin is for a loaded one, where 19 fsync-ed settlements once took
//! longer than 10 s).

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;
use tollgate_engine::event::Event;
use tollgate_engine::ledger::IngestResult;
use tollgate_engine::ledger::guard::{AllowRequest, Estimate, Verdict};
use tollgate_engine::money::Cents;
use tollgate_engine::store::{Durability, Store, StoreOptions};

const CHILD: &str = "TG_SETTLE_CHILD_DIR";
const POLICY: &str = r#"{"type":"policy","policyId":"b","customerId":"c","budget":{"cents":"1000000","period":"all"},"ts":0}"#;

fn cents(s: &str) -> Cents {
    Cents::from_cents_literal(s, true).unwrap()
}

/// The settled event of call `gen-n`: 2.5 cents (reserved: 3).
fn event(key: &str) -> String {
    format!(
        r#"{{"type":"tool","customerId":"c","externalCostCents":"2.5","idempotencyKey":"{key}","ts":"2026-01-01T10:00:00Z"}}"#
    )
}

fn sync_options() -> StoreOptions {
    StoreOptions {
        durability: Durability::Sync,
        ..StoreOptions::default()
    }
}

/// Runs only inside the child process (the parent passes the directory in the environment).
#[test]
fn child_reserves_and_settles() {
    let Some(dir) = std::env::var_os(CHILD) else {
        return;
    };
    let generation = std::env::var("TG_SETTLE_GEN").unwrap();
    let store = Store::open(&dir, sync_options()).unwrap();
    store.ingest_json(POLICY.as_bytes()).unwrap();
    let mut out = std::io::stdout();
    writeln!(out, "ready").unwrap();
    out.flush().unwrap();
    let start = std::time::Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(60) {
        let mut req = AllowRequest::new("c");
        req.estimate = Some(Estimate::Cents(cents("3")));
        let d = store
            .ledger()
            .allow_and_reserve(store.engine(), &req, None)
            .unwrap();
        assert_eq!(d.verdict, Verdict::Allow);
        let key = format!("{generation}-{n}");
        let s = store
            .settle(d.reservation.unwrap(), event(&key).as_bytes())
            .unwrap();
        assert!(matches!(s.result, IngestResult::Accepted(_)), "{s:?}");
        assert_eq!(s.released_cents, Some(cents("3")));
        writeln!(out, "ack {key}").unwrap();
        out.flush().unwrap();
        n += 1;
    }
}

#[test]
fn settlements_survive_kill_9() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut acked: Vec<String> = Vec::new();
    for generation in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "child_reserves_and_settles",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, dir.path())
            .env("TG_SETTLE_GEN", generation.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Read until the child is ready, then until it acknowledged 5 + 7 × generation
        // settlements; kill it right after one (mid-way through the next).
        let want = 5 + 7 * generation;
        let mut got = 0;
        for l in lines.by_ref() {
            let l = l.unwrap();
            if let Some(k) = l.strip_prefix("ack ") {
                acked.push(k.to_string());
                got += 1;
                if got == want {
                    break;
                }
            }
        }
        assert_eq!(got, want, "child stopped early");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // What the child printed after the last read also was acknowledged.
        for l in lines.map_while(Result::ok) {
            if let Some(k) = l.strip_prefix("ack ") {
                acked.push(k.to_string());
            }
        }
        let store = Store::open(dir.path(), sync_options()).unwrap();
        let m = store.ledger().customer_margin("c").unwrap().unwrap();
        // Every acknowledged settlement is there; beyond them at most the one in flight at
        // each kill so far (a settlement journaled but killed before its "ack" line), so up to
        // `generation + 1` more after this generation's kill.
        let n = acked.len() as u64;
        let in_flight = generation as u64 + 1;
        assert!(
            m.events >= n && m.events <= n + in_flight,
            "{} events for {n} acknowledged settlements after {in_flight} kills",
            m.events
        );
        // 2.5 cents each, exactly once.
        let tenths = m.events * 25;
        assert_eq!(
            m.cost_cents,
            cents(&format!("{}.{}", tenths / 10, tenths % 10))
        );
        for k in &acked {
            assert_eq!(
                store.ingest_json(event(k).as_bytes()).unwrap(),
                IngestResult::Duplicate,
                "acknowledged settlement {k} lost"
            );
        }
    }
}

#[test]
fn ledger_settle_on_a_store_is_refused_and_changes_nothing() {
    if std::env::var_os(CHILD).is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), sync_options()).unwrap();
    let mut req = AllowRequest::new("c");
    req.estimate = Some(Estimate::Cents(cents("3")));
    let d = store
        .ledger()
        .allow_and_reserve(store.engine(), &req, None)
        .unwrap();
    let r = d.reservation.unwrap();
    let ev = Event::from_json(event("k").as_bytes()).unwrap();
    let s = store.ledger().settle(store.engine(), r, &ev);
    match &s.result {
        IngestResult::Rejected(rej) => {
            assert_eq!(rej.field, "reservation");
            assert!(rej.reason.contains("Store::settle"), "{}", rej.reason);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.released_cents, None);
    assert!(store.ledger().customer_margin("c").is_none());
    assert_eq!(
        store.ledger().reserved_cents("c"),
        cents("3"),
        "reservation kept"
    );
    // The durable way; an event of another customer is refused and keeps the reservation.
    let other = br#"{"type":"tool","customerId":"d","externalCostCents":"1"}"#;
    let s = store.settle(r, other).unwrap();
    assert!(matches!(&s.result, IngestResult::Rejected(x) if x.field == "customerId"));
    assert_eq!(store.ledger().reserved_cents("c"), cents("3"));
    let s = store.settle(r, event("k").as_bytes()).unwrap();
    assert!(matches!(s.result, IngestResult::Accepted(_)));
    assert_eq!(s.released_cents, Some(cents("3")));
    drop(store);
    let store = Store::open(dir.path(), sync_options()).unwrap();
    assert_eq!(
        store
            .ledger()
            .customer_margin("c")
            .unwrap()
            .unwrap()
            .cost_cents,
        cents("2.5")
    );
}
