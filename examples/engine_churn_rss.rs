//! Resident memory while engines are created, used and dropped on one thread (each compiles
//! its own copy of the embedded rate card). Prints the RSS after each engine is dropped; the
//! per-thread state cache must not keep dropped engines' cards alive.
//!
//! `cargo run --release --example engine_churn_rss` (Linux: reads `/proc/self/status`).

use std::sync::Arc;
use tollgate_engine::engine::{Engine, PriceInput, Snapshot};
use tollgate_engine::ratecard::RateCard;
use tollgate_engine::usage::Usage;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let l = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_string();
            l.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn main() {
    let u = Usage {
        tokens_in: 1000,
        ..Usage::default()
    };
    let input = PriceInput::llm(Some("openai"), "gpt-4o", &u);
    println!("start: RSS {} KiB", rss_kib());
    for i in 1..=10 {
        let engine = Engine::with_snapshot(Arc::new(Snapshot::build(RateCard::embedded(), 0)));
        engine.price(&input).unwrap();
        engine.price_cost(&input).unwrap();
        drop(engine);
        println!("after engine {i} dropped: RSS {} KiB", rss_kib());
    }
}
