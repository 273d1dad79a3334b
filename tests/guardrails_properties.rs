//! Guardrail properties (proptest) and the concurrency guarantee under 8 threads.

use proptest::prelude::*;
use std::sync::{Arc, Barrier};
use tollgate_engine::engine::Engine;
use tollgate_engine::event::Event;
use tollgate_engine::ledger::guard::{AllowRequest, Estimate, Reason, Verdict};
use tollgate_engine::ledger::record::Record;
use tollgate_engine::ledger::{Clock, IngestResult, Ledger, LedgerConfig};
use tollgate_engine::money::Cents;

/// 2026-03-10T00:00:00Z.
const T: i64 = 1_773_100_800_000;

fn engine() -> &'static Engine {
    static E: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    E.get_or_init(Engine::embedded)
}

fn ledger_with_budget(budget_cents: i64, action: &str) -> Ledger {
    let l = Ledger::new(LedgerConfig {
        clock: Clock::Fixed(T),
        ..LedgerConfig::default()
    });
    let json = format!(
        r#"{{"type":"policy","policyId":"p","customerId":"c","budget":{{"cents":"{budget_cents}","period":"all"}},"action":"{action}","ts":0}}"#
    );
    let r = l.ingest(engine(), &Record::from_json(json.as_bytes()).unwrap());
    assert!(matches!(r, IngestResult::Accepted(_)));
    l
}

fn tool(cost_hundredths: i64, ts: i64) -> Event {
    let cost = Cents::from_whole_cents(cost_hundredths)
        .checked_mul_ratio(1, 100)
        .unwrap();
    Event::from_json(
        format!(r#"{{"type":"tool","customerId":"c","externalCostCents":"{cost}","ts":{ts}}}"#)
            .as_bytes(),
    )
    .unwrap()
}

fn hundredths(n: i64) -> Cents {
    Cents::from_whole_cents(n)
        .checked_mul_ratio(1, 100)
        .unwrap()
}

#[derive(Clone, Debug)]
enum Op {
    Spend(i64),
    Reserve(i64),
    Release(usize),
    Settle(usize, i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0i64..5_000).prop_map(Op::Spend),
        (0i64..5_000).prop_map(Op::Reserve),
        (0usize..8).prop_map(Op::Release),
        ((0usize..8), (0i64..5_000)).prop_map(|(i, c)| Op::Settle(i, c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// No `allow` for an estimate larger than the remaining budget net of reservations, and
    /// every estimate that fits is allowed. The test keeps its own tally of cost and holds.
    #[test]
    fn no_allow_beyond_the_remaining_budget(
        budget in 0i64..20_000,
        ops in proptest::collection::vec(op(), 0..24),
        estimate in 0i64..25_000,
    ) {
        let l = ledger_with_budget(budget, "block");
        let mut cost = 0i64; // hundredths of a cent
        let mut held: Vec<(u64, i64)> = Vec::new();
        for op in ops {
            match op {
                Op::Spend(c) => {
                    let r = l.track(engine(), &tool(c, T));
                    prop_assert!(matches!(r, IngestResult::Accepted(_)));
                    cost += c;
                }
                Op::Reserve(e) => {
                    let mut req = AllowRequest::new("c");
                    req.estimate = Some(Estimate::Cents(hundredths(e)));
                    req.at_ms = Some(T);
                    let d = l.allow_and_reserve(engine(), &req, None).unwrap();
                    let fits = e <= budget * 100 - cost - held.iter().map(|h| h.1).sum::<i64>();
                    prop_assert_eq!(d.reservation.is_some(), fits);
                    if let Some(id) = d.reservation {
                        held.push((id, e));
                    }
                }
                Op::Release(i) if i < held.len() => {
                    let (id, e) = held.remove(i);
                    prop_assert_eq!(l.release(id), Some(hundredths(e)));
                }
                Op::Settle(i, c) if i < held.len() => {
                    let (id, e) = held.remove(i);
                    let s = l.settle(engine(), id, &tool(c, T));
                    prop_assert_eq!(s.released_cents, Some(hundredths(e)));
                    cost += c;
                }
                _ => {}
            }
        }
        let reserved: i64 = held.iter().map(|h| h.1).sum();
        prop_assert_eq!(l.reserved_cents("c"), hundredths(reserved));
        let mut req = AllowRequest::new("c");
        req.estimate = Some(Estimate::Cents(hundredths(estimate)));
        req.at_ms = Some(T);
        let d = l.allow(engine(), &req).unwrap();
        let remaining = budget * 100 - cost - reserved;
        prop_assert_eq!(d.remaining_budget_cents, Some(hundredths(remaining)));
        if d.verdict == Verdict::Allow {
            prop_assert!(estimate <= remaining);
        } else {
            prop_assert!(estimate > remaining);
            prop_assert_eq!((d.verdict, d.reason), (Verdict::Block, Reason::Budget));
        }
        // Deterministic: the same state and question give the same answer.
        prop_assert_eq!(l.allow(engine(), &req).unwrap(), d.clone());
        if held.is_empty() {
            let back = Ledger::restore(&l.state_bytes(), Clock::Fixed(T)).unwrap();
            prop_assert_eq!(back.allow(engine(), &req).unwrap(), d);
        }
    }
}

/// 8 threads ask and track at once without reservations: each has at most one call in
/// flight, so the budget is exceeded by at most 8 calls' cost.
#[test]
fn eight_threads_without_reservations_overshoot_at_most_the_calls_in_flight() {
    const THREADS: usize = 8;
    const CALL_CENTS: i64 = 7;
    const BUDGET: i64 = 5_000;
    let l = Arc::new(ledger_with_budget(BUDGET, "block"));
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (l, start) = (l.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut calls = 0u64;
                // Bounded: at most BUDGET / CALL_CENTS + 1 calls can ever be allowed.
                for i in 0..10_000 {
                    let mut req = AllowRequest::new("c");
                    req.estimate = Some(Estimate::Cents(Cents::from_whole_cents(CALL_CENTS)));
                    req.at_ms = Some(T);
                    let d = l.allow(engine(), &req).unwrap();
                    if d.verdict == Verdict::Block {
                        break;
                    }
                    let e = tool(CALL_CENTS * 100, T + i);
                    let r = l.track(
                        engine(),
                        &Event {
                            idempotency_key: Some(format!("t{t}-{i}")),
                            ..e
                        },
                    );
                    assert!(matches!(r, IngestResult::Accepted(_)));
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    let calls: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let cost = l.customer_margin("c").unwrap().unwrap().cost_cents;
    assert_eq!(cost, Cents::from_whole_cents(CALL_CENTS * calls as i64));
    // Every allowed call saw ≥ 7 left, so at most 714 calls fit sequentially; concurrent
    // ones may add up to one per thread.
    let max = Cents::from_whole_cents(BUDGET + CALL_CENTS * THREADS as i64);
    assert!(cost <= max, "cost {cost} > {max}");
    assert!(
        cost >= Cents::from_whole_cents(BUDGET - CALL_CENTS),
        "{cost}"
    );
}

/// 8 threads reserve, then settle at or below the reservation, or release: the budget is
/// never exceeded.
#[test]
fn eight_threads_with_reservations_never_overshoot() {
    const THREADS: usize = 8;
    const BUDGET: i64 = 3_000;
    let l = Arc::new(ledger_with_budget(BUDGET, "block"));
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (l, start) = (l.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                let mut blocked = 0;
                for i in 0..5_000i64 {
                    let estimate = 5 + (i + t as i64) % 7; // 5..=11 cents
                    let mut req = AllowRequest::new("c");
                    req.estimate = Some(Estimate::Cents(Cents::from_whole_cents(estimate)));
                    req.at_ms = Some(T);
                    let d = l.allow_and_reserve(engine(), &req, None).unwrap();
                    let Some(id) = d.reservation else {
                        blocked += 1;
                        if blocked > 20 {
                            break;
                        }
                        continue;
                    };
                    if i % 5 == 0 {
                        assert!(l.release(id).is_some());
                        continue;
                    }
                    // Real cost at or below the estimate (hundredths of a cent).
                    let actual = estimate * 100 - (i % 3) * 37;
                    let e = Event {
                        idempotency_key: Some(format!("t{t}-{i}")),
                        ..tool(actual, T)
                    };
                    let s = l.settle(engine(), id, &e);
                    assert!(matches!(s.result, IngestResult::Accepted(_)));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let cost = l.customer_margin("c").unwrap().unwrap().cost_cents;
    assert!(cost <= Cents::from_whole_cents(BUDGET), "cost {cost}");
    assert_eq!(l.reserved_cents("c"), Cents::ZERO);
    // With nothing held, what is left is exactly the budget minus the booked cost.
    let mut req = AllowRequest::new("c");
    req.at_ms = Some(T);
    let d = l.allow(engine(), &req).unwrap();
    assert_eq!(
        d.remaining_budget_cents,
        Cents::from_whole_cents(BUDGET).checked_sub(cost)
    );
}
