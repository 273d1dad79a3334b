//! Hot swap under load (docs/reference/pricing.md (snapshots)): reader threads price continuously while a writer publishes
//! hundreds of snapshots; every result must be exactly the answer of one published snapshot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use tollgate_engine::engine::{Engine, PriceInput, SnapshotId};
use tollgate_engine::usage::Usage;

const SNAPSHOTS: u64 = 300;
const READERS: usize = 3;

/// Registry `i`: model `m` at `(i + 1) × 1e-06` USD per input token, and a model `only-{i}`
/// that exists in that snapshot alone.
fn registry(i: u64) -> Vec<u8> {
    format!(
        r#"{{"m": {{"litellm_provider": "openai", "input_cost_per_token": {}e-06, "output_cost_per_token": 1e-06}},
            "only-{i}": {{"litellm_provider": "openai", "input_cost_per_token": 1e-06}}}}"#,
        i + 1
    )
    .into_bytes()
}

#[test]
fn readers_always_see_exactly_one_published_snapshot() {
    let engine = Arc::new(Engine::from_registry(&registry(0)).unwrap());
    // Snapshot id → the cost it gives 1000 input tokens of `m`: 1000 × (i + 1) × 1e-06 USD
    // = (i + 1) × 0.1 cents.
    let mut expected: HashMap<SnapshotId, String> = HashMap::new();
    let first = engine.snapshots()[0].id;
    expected.insert(first, "0.1".to_string());
    let ids: Vec<(SnapshotId, String)> = (1..SNAPSHOTS)
        .map(|i| {
            let card = tollgate_engine::ratecard::RateCard::parse(&registry(i)).unwrap();
            let cost = format!(
                "{}",
                tollgate_engine::money::Cents::from_usd_literal(&format!("{}e-03", i + 1)).unwrap()
            );
            (card.id(), cost)
        })
        .collect();
    expected.extend(ids.iter().cloned());
    let expected = Arc::new(expected);

    let stop = Arc::new(AtomicBool::new(false));
    let priced = Arc::new(AtomicU64::new(0));
    let start = Arc::new(Barrier::new(READERS + 1));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (engine, expected, stop, priced, start) = (
                engine.clone(),
                expected.clone(),
                stop.clone(),
                priced.clone(),
                start.clone(),
            );
            std::thread::spawn(move || {
                let u = Usage {
                    tokens_in: 1000,
                    ..Usage::default()
                };
                start.wait();
                let mut seen = std::collections::HashSet::new();
                while !stop.load(Ordering::Relaxed) {
                    let r = engine
                        .price(&PriceInput::llm(Some("openai"), "m", &u))
                        .unwrap();
                    let want = expected.get(&r.snapshot).unwrap_or_else(|| {
                        panic!("result names an unpublished snapshot {}", r.snapshot)
                    });
                    assert_eq!(&r.cost_cents.to_string(), want, "snapshot {}", r.snapshot);
                    seen.insert(r.snapshot);
                    priced.fetch_add(1, Ordering::Relaxed);
                }
                seen.len()
            })
        })
        .collect();

    start.wait();
    for i in 1..SNAPSHOTS {
        // Same effectiveFrom: each publish replaces the current card atomically.
        engine.publish_registry(&registry(i), 0).unwrap();
        if i % 16 == 0 {
            std::thread::yield_now();
        }
    }
    // Let the readers see the last card too.
    while priced.load(Ordering::Relaxed) < 10_000 {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    let distinct: usize = readers
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap_or(0);
    assert!(distinct >= 1);
    // The final state is the last publish: 300 × 0.1 cents.
    let u = Usage {
        tokens_in: 1000,
        ..Usage::default()
    };
    let last = engine
        .price(&PriceInput::llm(Some("openai"), "m", &u))
        .unwrap();
    assert_eq!(last.cost_cents.to_string(), "30");
    assert_eq!(engine.snapshots().len(), 1);
}

#[test]
fn history_prices_each_event_with_the_snapshot_in_force() {
    // Snapshot i effective from i × 1000 ms; readers ask for random instants while the writer
    // keeps adding later snapshots. An event at t uses the snapshot with the largest
    // effectiveFrom <= t (the earliest one for earlier events).
    let engine = Arc::new(Engine::from_registry(&registry(0)).unwrap());
    let published = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (engine, published, stop) = (engine.clone(), published.clone(), stop.clone());
        std::thread::spawn(move || {
            let u = Usage {
                tokens_in: 1000,
                ..Usage::default()
            };
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let known = published.load(Ordering::Acquire);
                // An instant inside the span already published: its answer is fixed.
                let i = (n * 7919) % known;
                let mut input = PriceInput::llm(Some("openai"), "m", &u);
                input.timestamp_ms = Some(i as i64 * 1000 + 999);
                let r = engine.price(&input).unwrap();
                // Snapshot i prices 1000 tokens at (i + 1) × 0.1 cents.
                let want =
                    tollgate_engine::money::Cents::from_usd_literal(&format!("{}e-03", i + 1))
                        .unwrap();
                assert_eq!(r.cost_cents, want, "event at {}", i * 1000 + 999);
            }
        })
    };
    for i in 1..SNAPSHOTS {
        engine
            .publish_registry(&registry(i), i as i64 * 1000)
            .unwrap();
        published.store(i + 1, Ordering::Release);
    }
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    assert_eq!(engine.snapshots().len(), SNAPSHOTS as usize);
    // Before the earliest snapshot: the earliest. Far in the future: the latest.
    let u = Usage {
        tokens_in: 1000,
        ..Usage::default()
    };
    let at = |t: i64| {
        let mut input = PriceInput::llm(Some("openai"), "m", &u);
        input.timestamp_ms = Some(t);
        engine.price(&input).unwrap().cost_cents.to_string()
    };
    assert_eq!(at(-5), "0.1");
    assert_eq!(at(i64::MAX), "30");
    // A model that exists in snapshot 7 only resolves for events in its span.
    let only7 = |t: i64| {
        let mut input = PriceInput::llm(Some("openai"), "only-7", &u);
        input.timestamp_ms = Some(t);
        engine.price(&input).unwrap().priced
    };
    assert!(only7(7_500));
    assert!(!only7(8_500));
}
