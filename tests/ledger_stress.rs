//! Stress: threads ingest overlapping logs with 30 % retries while another publishes and
//! restores snapshots. Every event is accepted exactly once; nothing is lost or double counted.

mod ledger_support;

use ledger_support::logs::Rng;
use ledger_support::*;
use std::sync::atomic::{AtomicBool, Ordering};
use tollgate_engine::ledger::{Clock, IngestResult, Ledger};
use tollgate_engine::money::Cents;

const EVENTS: usize = 3000;

fn event(i: usize) -> String {
    // Every event keyed; cost i/100 cents; revenue 1 cent; all within one hour.
    format!(
        r#"{{"type":"tool","customerId":"c{}","runId":"r{}","idempotencyKey":"k{i}","externalCostCents":"{}.{:02}","revenueUnitCents":"1","ts":{}}}"#,
        i % 8,
        i % 50,
        i / 100,
        i % 100,
        T0 + (i as i64) * 1000
    )
}

/// Events `range` in order, with 30 % of them followed by a retry of an earlier one.
fn stream(range: std::ops::Range<usize>, seed: u64) -> Vec<String> {
    let mut r = Rng(seed);
    let mut out = Vec::new();
    for i in range.clone() {
        out.push(event(i));
        if r.chance(30) {
            let j = range.start + r.below((i - range.start + 1) as u64) as usize;
            out.push(event(j));
        }
    }
    out
}

#[test]
fn overlapping_writers_and_snapshots_lose_nothing() {
    let shared = ledger();
    let done = AtomicBool::new(false);
    let streams = [
        stream(0..2000, 1),
        stream(1000..EVENTS, 2),
        stream(500..2500, 3),
    ];
    let (accepted_total, snapshots) = std::thread::scope(|s| {
        let writers: Vec<_> = streams
            .iter()
            .map(|lines| {
                let l = &shared;
                s.spawn(move || {
                    let mut accepted = 0u64;
                    for line in lines {
                        match apply(l, line) {
                            IngestResult::Accepted(_) => accepted += 1,
                            IngestResult::Duplicate => {}
                            other => panic!("{other:?} for {line}"),
                        }
                    }
                    accepted
                })
            })
            .collect();
        let reader = s.spawn(|| {
            let mut n = 0;
            let mut last_events = 0;
            while !done.load(Ordering::Acquire) || n == 0 {
                let bytes = shared.state_bytes();
                let copy = Ledger::restore(&bytes, Clock::Fixed(NOW)).unwrap();
                let rep = copy.report(None, None).unwrap();
                // Each snapshot is a consistent cut: customers add up, events only grow.
                let sum: u64 = rep.customers.iter().map(|(_, m)| m.events).sum();
                assert_eq!(sum, rep.totals.events);
                assert!(rep.totals.events >= last_events);
                assert_eq!(
                    rep.totals.revenue_cents,
                    Cents::from_whole_cents(rep.totals.events as i64)
                );
                last_events = rep.totals.events;
                n += 1;
            }
            n
        });
        let total: u64 = writers.into_iter().map(|w| w.join().unwrap()).sum();
        done.store(true, Ordering::Release);
        (total, reader.join().unwrap())
    });
    assert!(snapshots >= 1);
    // Exactly once: 3000 distinct keys accepted once in total across the writers.
    assert_eq!(accepted_total, EVENTS as u64);
    let serial = ledger();
    for i in 0..EVENTS {
        assert!(accepted(&apply(&serial, &event(i))));
    }
    assert_eq!(shared.state_bytes(), serial.state_bytes());
    let t = shared.report(None, None).unwrap().totals;
    // Cost = Σ i/100 for i < 3000 = 2999 × 3000 / 2 / 100 = 44 985 cents; revenue 1 each.
    assert_eq!(t.cost_cents, cents("44985"));
    assert_eq!(t.revenue_cents, cents("3000"));
    assert_eq!(t.events, 3000);
}
