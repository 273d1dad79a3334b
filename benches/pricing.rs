//! SPEC §9: price one usage by provider + model name, and by a pre-resolved handle.
//!
//! `cargo bench --bench pricing`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tollgate::engine::{Engine, PriceInput};
use tollgate::usage::Usage;

fn usage() -> Usage {
    Usage {
        tokens_in: 1_200,
        cached_tokens: 800,
        cache_write_5m_tokens: 300,
        tokens_out: 350,
        reasoning_tokens: 120,
        ..Usage::default()
    }
}

fn by_name(c: &mut Criterion) {
    let engine = Engine::embedded();
    let u = usage();
    let mut g = c.benchmark_group("price_by_name");
    for (provider, model) in [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("bedrock", "us.anthropic.claude-sonnet-4-6"),
        ("gemini", "gemini-2.5-pro"),
    ] {
        g.bench_function(format!("price_cost/{provider}/{model}"), |b| {
            b.iter(|| {
                let input = PriceInput::llm(Some(black_box(provider)), black_box(model), &u);
                black_box(engine.price_cost(&input).unwrap().cost_cents)
            })
        });
        g.bench_function(format!("price/{provider}/{model}"), |b| {
            b.iter(|| {
                let input = PriceInput::llm(Some(black_box(provider)), black_box(model), &u);
                black_box(engine.price(&input).unwrap().cost_cents)
            })
        });
    }
    g.finish();
}

fn by_handle(c: &mut Criterion) {
    let engine = Engine::embedded();
    let u = usage();
    let mut g = c.benchmark_group("price_by_handle");
    for (provider, model) in [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("gemini", "gemini-2.5-pro"),
    ] {
        let h = engine.resolve(Some(provider), model, None).unwrap();
        g.bench_function(format!("{provider}/{model}"), |b| {
            b.iter(|| black_box(h.cost(black_box(&u), None).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, by_name, by_handle);
criterion_main!(benches);
