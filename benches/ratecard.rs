//! README (Performance): load + validate the full registry, compile a snapshot, and publish a snapshot while
//! a reader thread prices continuously.
//!
//! `cargo bench --bench ratecard`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tollgate_engine::engine::{Engine, PriceInput, Snapshot};
use tollgate_engine::ratecard::{EMBEDDED_REGISTRY, RateCard};
use tollgate_engine::usage::Usage;

fn load(c: &mut Criterion) {
    let mut g = c.benchmark_group("registry");
    g.sample_size(20);
    g.bench_function("parse_and_validate", |b| {
        b.iter(|| black_box(RateCard::parse(black_box(EMBEDDED_REGISTRY)).unwrap()))
    });
    let card = Arc::new(RateCard::parse(EMBEDDED_REGISTRY).unwrap());
    g.bench_function("compile_snapshot", |b| {
        b.iter(|| black_box(Snapshot::build(card.clone(), 0)))
    });
    g.finish();
}

fn publish(c: &mut Criterion) {
    let engine = Arc::new(Engine::embedded());
    let snapshot = Arc::new(Snapshot::build(RateCard::embedded(), 1_000));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (engine, stop) = (engine.clone(), stop.clone());
        std::thread::spawn(move || {
            let u = Usage {
                tokens_in: 1000,
                tokens_out: 100,
                ..Usage::default()
            };
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let r = engine.price(&PriceInput::llm(Some("openai"), "gpt-4o", &u));
                n += u64::from(r.is_ok());
            }
            n
        })
    };
    c.bench_function("publish_while_reading", |b| {
        b.iter(|| black_box(engine.publish(snapshot.clone()).unwrap()))
    });
    stop.store(true, Ordering::Relaxed);
    let priced = reader.join().unwrap();
    assert!(priced > 0);
}

criterion_group!(benches, load, publish);
criterion_main!(benches);
