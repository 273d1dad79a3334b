//! `Event::from_json`: one event line parsed and validated (the first step of `tollgate price`
//! and `tollgate report`); `EventRef::from_json`, the same without copying the text.
//!
//! `cargo bench --bench event`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tollgate_engine::event::{Event, EventRef};

/// Lines shaped like `scripts/gen_price_lines.py` output and like the ledger bench's log.
const LINES: [&str; 4] = [
    r#"{"customerId":"c267","provider":"openai","model":"gpt-4o-mini-2024-07-18","tokensIn":9906,"cachedTokens":0,"tokensOut":2427,"timestamp":1767225600000,"reasoningTokens":1612}"#,
    r#"{"customerId":"c165","provider":"openai","model":"o3-mini","tokensIn":15220,"cachedTokens":0,"tokensOut":3260,"timestamp":1767225601000,"cacheWrite5mTokens":4015,"cacheWrite1hTokens":308,"serviceTier":"priority"}"#,
    r#"{"customerId":"cust-42","runId":"run-4242","agentId":"agent-2","provider":"anthropic","model":"claude-sonnet-4-5","tokensIn":3042,"cachedTokens":42,"tokensOut":342,"idempotencyKey":"req-0000004242","ts":1793577642420}"#,
    r#"{"type":"tool","customerId":"acme","runId":"r-1","externalCostCents":"1.5","idempotencyKey":"tool-1","timestamp":"2026-11-02T10:00:00Z"}"#,
];

fn from_json(c: &mut Criterion) {
    let mut g = c.benchmark_group("event");
    g.throughput(Throughput::Elements(LINES.len() as u64));
    g.bench_function("from_json", |b| {
        b.iter(|| {
            for line in LINES {
                black_box(Event::from_json(black_box(line.as_bytes())).unwrap());
            }
        })
    });
    g.bench_function("from_json_ref", |b| {
        b.iter(|| {
            for line in LINES {
                black_box(EventRef::from_json(black_box(line.as_bytes())).unwrap());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, from_json);
criterion_main!(benches);
