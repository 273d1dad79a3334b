//! Overhead of the C ABI over the direct Rust call (README (Performance): ≤ 25 ns).
//!
//! `cargo bench -p tollgate-ffi --bench abi_overhead`
//!
//! - `rust/price`: `Engine::price` on a borrowed `PriceInput` (the core's own cost).
//! - `c_abi/price_struct`: the same usage through `tg_price_batch` with one item: boundary,
//!   handle check, span/UTF-8 checks, conversion in and out.
//! - `c_abi/price_batch_1000_per_item`: 1,000 items per crossing, reported per item.
//! - `c_abi/price_json`: one event as JSON in, JSON out.
//!
//! - `rust/tool` and `c_abi/tool_struct`: a non-LLM step (external cost only), where the
//!   core does almost nothing, so the difference is the boundary itself;
//!   `rust/tool_own_usage` is the Rust call with the caller building its `Usage` per call,
//!   as the C path does from the struct.
//!
//! The overhead is `c_abi/price_struct − rust/price` (and `c_abi/tool_struct − rust/tool`).
//! Before the criterion groups, one line gives the CPU time per call of
//! `rust/price_own_usage` and `c_abi/price_struct` (best of 5 × 200,000, from
//! `/proc/thread-self/schedstat`), the figure to compare on a loaded machine.

mod cpu;

use cpu::cpu_ns_per_call;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tollgate_engine::engine::{Engine, PriceInput};
use tollgate_engine::event::EventKind;
use tollgate_engine::money::Cents;
use tollgate_engine::usage::Usage;
use tollgate_ffi::engine::{tg_engine, tg_engine_free, tg_engine_new};
use tollgate_ffi::price::{
    TG_ITEM_HAS_EXTERNAL_COST, TG_KIND_TOOL, TG_TIMESTAMP_NONE, tg_price_batch, tg_price_item,
    tg_price_json, tg_price_out, tg_span,
};
use tollgate_ffi::status::TG_OK;
use tollgate_ffi::tg_decimal;

const NAMES: &[u8] = b"openaigpt-4o";

fn item() -> tg_price_item {
    tg_price_item {
        tokens_in: 1200,
        cached_tokens: 800,
        tokens_out: 350,
        timestamp_ms: TG_TIMESTAMP_NONE,
        provider: tg_span { offset: 0, len: 6 },
        model: tg_span { offset: 6, len: 6 },
        ..tg_price_item::default()
    }
}

fn new_c_engine() -> *mut tg_engine {
    let mut e: *mut tg_engine = std::ptr::null_mut();
    let s = unsafe {
        tg_engine_new(
            std::ptr::null(),
            std::ptr::null(),
            0,
            &mut e,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(s, TG_OK);
    e
}

fn bench(c: &mut Criterion) {
    let rust = Engine::embedded();
    let usage = Usage {
        tokens_in: 1200,
        cached_tokens: 800,
        tokens_out: 350,
        ..Usage::default()
    };
    let input = PriceInput {
        kind: EventKind::Llm,
        provider: Some("openai"),
        model: Some("gpt-4o"),
        usage: &usage,
        timestamp_ms: None,
        provider_cost_cents: None,
        external_cost_cents: None,
    };
    // Both paths must agree before timing anything: 0.75 cents (data/ffi/vectors.jsonl).
    assert_eq!(rust.price(&input).unwrap().cost_cents.to_string(), "0.75");

    let engine = new_c_engine();
    let one = [item()];
    let mut out = [tg_price_out::default()];
    let s = unsafe {
        tg_price_batch(
            engine,
            one.as_ptr(),
            1,
            NAMES.as_ptr(),
            NAMES.len(),
            out.as_mut_ptr(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!((s, out[0].status), (TG_OK, TG_OK));
    assert_eq!(out[0].cost_cents.to_cents().to_string(), "0.75");

    // CPU time per call, best of 5 rounds: robust on a loaded machine, where wall-clock
    // figures include the time the thread waited for a core.
    let rust_ns = cpu_ns_per_call(200_000, || {
        let usage = black_box(&usage).clone();
        let _ = black_box(rust.price(&PriceInput {
            usage: &usage,
            ..input
        }));
    });
    let abi_ns = cpu_ns_per_call(200_000, || unsafe {
        black_box(tg_price_batch(
            engine,
            black_box(one.as_ptr()),
            1,
            NAMES.as_ptr(),
            NAMES.len(),
            out.as_mut_ptr(),
            std::ptr::null_mut(),
        ));
    });
    if let (Some(rust_ns), Some(abi_ns)) = (rust_ns, abi_ns) {
        println!(
            "abi_overhead: CPU time per call (best of 5 × 200,000): rust/price_own_usage \
             {rust_ns:.1} ns, c_abi/price_struct {abi_ns:.1} ns, overhead {:+.1} ns",
            abi_ns - rust_ns
        );
    }

    let mut g = c.benchmark_group("abi_overhead");
    g.bench_function("rust/price", |b| {
        b.iter(|| black_box(rust.price(black_box(&input))))
    });
    // The same, with the caller building its usage record per call (as the C path must).
    g.bench_function("rust/price_own_usage", |b| {
        b.iter(|| {
            let usage = black_box(&usage).clone();
            black_box(rust.price(&PriceInput {
                usage: &usage,
                ..input
            }))
        })
    });
    let no_usage = Usage::default();
    let tool_input = PriceInput {
        kind: EventKind::Tool,
        provider: None,
        model: None,
        usage: &no_usage,
        timestamp_ms: Some(1_767_225_600_000),
        provider_cost_cents: None,
        external_cost_cents: Some(Cents::from_whole_cents(3)),
    };
    g.bench_function("rust/tool", |b| {
        b.iter(|| black_box(rust.price(black_box(&tool_input))))
    });
    // The same, with the caller building its usage record per call (as the C path must).
    g.bench_function("rust/tool_own_usage", |b| {
        b.iter(|| {
            let usage = black_box(&no_usage).clone();
            black_box(rust.price(&PriceInput {
                usage: &usage,
                ..tool_input
            }))
        })
    });
    let tool = [tg_price_item {
        kind: TG_KIND_TOOL,
        flags: TG_ITEM_HAS_EXTERNAL_COST,
        external_cost_cents: tg_decimal::from_cents(Cents::from_whole_cents(3)),
        timestamp_ms: 1_767_225_600_000,
        ..tg_price_item::default()
    }];
    g.bench_function("c_abi/tool_struct", |b| {
        b.iter(|| unsafe {
            tg_price_batch(
                engine,
                black_box(tool.as_ptr()),
                1,
                std::ptr::null(),
                0,
                out.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        })
    });
    g.bench_function("c_abi/price_struct", |b| {
        b.iter(|| unsafe {
            tg_price_batch(
                engine,
                black_box(one.as_ptr()),
                1,
                NAMES.as_ptr(),
                NAMES.len(),
                out.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        })
    });
    let many: Vec<tg_price_item> = (0..1000)
        .map(|i| tg_price_item {
            tokens_in: i,
            ..item()
        })
        .collect();
    let mut many_out = vec![tg_price_out::default(); many.len()];
    g.throughput(Throughput::Elements(many.len() as u64));
    g.bench_function("c_abi/price_batch_1000_per_item", |b| {
        b.iter(|| unsafe {
            tg_price_batch(
                engine,
                black_box(many.as_ptr()),
                many.len(),
                NAMES.as_ptr(),
                NAMES.len(),
                many_out.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        })
    });
    g.throughput(Throughput::Elements(1));
    let event = br#"{"provider":"openai","model":"gpt-4o","tokensIn":1200,"cachedTokens":800,"tokensOut":350}"#;
    let mut buf = [0u8; 512];
    let mut len = 0usize;
    g.bench_function("c_abi/price_json", |b| {
        b.iter(|| unsafe {
            tg_price_json(
                engine,
                black_box(event.as_ptr()),
                event.len(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut len,
                std::ptr::null_mut(),
            )
        })
    });
    g.finish();
    unsafe { tg_engine_free(engine) };
}

criterion_group!(benches, bench);
criterion_main!(benches);
