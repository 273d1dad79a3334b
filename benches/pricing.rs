//! README (Performance): price one usage by provider + model name, and by a pre-resolved handle.
//!
//! `cargo bench --bench pricing`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tollgate_engine::engine::{Engine, PriceInput};
use tollgate_engine::usage::Usage;

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
    // A name the thread has not priced lately misses the per-thread lookup memo (64 slots)
    // and takes the full resolution: cycle through 1,024 distinct chat models of the registry.
    let names = chat_models(1_024);
    g.bench_function("price_cost/memo_miss/1024_models", |b| {
        let mut i = 0usize;
        b.iter(|| {
            let (provider, model) = &names[i % names.len()];
            i += 1;
            let input = PriceInput::llm(Some(provider.as_str()), black_box(model.as_str()), &u);
            black_box(engine.price_cost(&input).map(|c| c.cost_cents))
        })
    });
    g.finish();
}

/// `(provider, key)` of the first `n` registry rows (by key) in chat mode with a token price.
fn chat_models(n: usize) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/ratecard/litellm-1.110.2.json"
    ))
    .expect("the embedded registry file");
    let rows: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&text).expect("registry JSON");
    let mut names: Vec<(String, String)> = rows
        .iter()
        .filter(|(_, v)| {
            v.get("mode").and_then(|m| m.as_str()) == Some("chat")
                && v.get("input_cost_per_token").is_some()
        })
        .filter_map(|(k, v)| {
            let p = v.get("litellm_provider")?.as_str()?;
            Some((p.to_string(), k.clone()))
        })
        .collect();
    names.sort();
    names.truncate(n);
    names
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
        let h = engine.lookup(Some(provider), model, None).unwrap();
        g.bench_function(format!("{provider}/{model}"), |b| {
            b.iter(|| black_box(h.cost(black_box(&u), None).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, by_name, by_handle);
criterion_main!(benches);
