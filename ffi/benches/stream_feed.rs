//! The C ABI stream feed per event: what an SDK wrapper pays the engine for each stream chunk.
//!
//! `cargo bench -p tollgate-ffi --bench stream_feed`
//!
//! One open `tg_stream` is fed 1,000 SSE events, one event per `tg_stream_feed` call, over
//! and over (a stream may carry any number of content events; memory stays bounded). The
//! figure is per event (criterion's throughput is in events):
//!
//! - `c_abi/openai_sse_event`: OpenAI chat completion chunks of ~360–400 bytes (the shape of
//!   the recorded openai SDK streams, text deltas with escapes and non-ASCII);
//! - `c_abi/anthropic_sse_event`, `c_abi/gemini_sse_event`: the same text as Anthropic
//!   `content_block_delta` and Gemini `streamGenerateContent` events;
//! - `rust/openai_sse_event`: the same OpenAI events through `Accumulator::feed` directly, so
//!   the difference is the boundary (handle lookup, argument checks, `catch_unwind`).
//!
//! Before the criterion groups, one line per case gives the CPU time per event (best of 5 ×
//! 100,000 events, from `/proc/thread-self/schedstat`), the figure to compare on a loaded
//! machine.

mod cpu;

use cpu::thread_cpu_ns;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tollgate_engine::extract::{Accumulator, Provider};
use tollgate_ffi::status::TG_OK;
use tollgate_ffi::usage::{tg_stream, tg_stream_feed, tg_stream_free, tg_stream_new};

/// Events fed per criterion iteration.
const EVENTS: usize = 1_000;

/// Deterministic filler text of varying length (with some escapes and non-ASCII).
fn text(i: usize) -> String {
    const WORDS: [&str; 8] = [
        "the",
        "quick",
        "brown",
        "fox \\\"jumps\\\"",
        "over",
        "the lazy",
        "dog —",
        "naïve",
    ];
    let n = 1 + i % 5;
    (0..n)
        .map(|k| WORDS[(i + k) % WORDS.len()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first event of a stream (it fixes the format) and the content events that follow.
fn events(provider: Provider) -> (Vec<u8>, Vec<Vec<u8>>) {
    let content = |i: usize| match provider {
        Provider::OpenAi => format!(
            "data: {{\"id\":\"chatcmpl-Dx0XpqH8w09uBXwq1zFGYdETjtnEl\",\"object\":\"chat.completion.chunk\",\"created\":1782955817,\"model\":\"gpt-4o-mini-2024-07-18\",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_d0469e1700\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null,\"obfuscation\":\"C63r\"}}\n\n",
            text(i)
        ),
        Provider::Anthropic => format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{}\"}}}}\n\n",
            text(i)
        ),
        Provider::Gemini => format!(
            "data: {{\"candidates\": [{{\"content\": {{\"parts\": [{{\"text\": \"{}\"}}],\"role\": \"model\"}},\"index\": 0}}],\"usageMetadata\": {{\"promptTokenCount\": 46,\"candidatesTokenCount\": {},\"totalTokenCount\": {},\"promptTokensDetails\": [{{\"modality\": \"TEXT\",\"tokenCount\": 46}}]}},\"modelVersion\": \"gemini-3-flash-preview\",\"responseId\": \"n1P6abvRFaKdz7IPkcuQ2Aw\"}}\r\n\r\n",
            text(i),
            i + 1,
            i + 47
        ),
        _ => unreachable!("SSE providers only"),
    };
    let first = match provider {
        Provider::Anthropic => b"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-20250514\",\"id\":\"msg_01ALwQ87pTS7hH1PjSdC9wJD\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"usage\":{\"input_tokens\":43,\"output_tokens\":1}}}\n\n".to_vec(),
        _ => content(EVENTS).into_bytes(),
    };
    (
        first,
        (0..EVENTS).map(|i| content(i).into_bytes()).collect(),
    )
}

fn name(provider: Provider) -> &'static str {
    match provider {
        Provider::OpenAi => "openai",
        Provider::Anthropic => "anthropic",
        Provider::Gemini => "gemini",
        _ => unreachable!("SSE providers only"),
    }
}

/// An open C stream that has read `first`.
fn c_stream(provider: Provider, first: &[u8]) -> *mut tg_stream {
    let p = name(provider).as_bytes();
    let mut s: *mut tg_stream = std::ptr::null_mut();
    let st = unsafe {
        tg_stream_new(
            p.as_ptr(),
            p.len(),
            std::ptr::null(),
            0,
            &mut s,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(st, TG_OK);
    assert_eq!(feed(s, first), TG_OK);
    s
}

#[inline]
fn feed(s: *mut tg_stream, chunk: &[u8]) -> i32 {
    unsafe { tg_stream_feed(s, chunk.as_ptr(), chunk.len(), std::ptr::null_mut()) }
}

/// The best of 5 rounds of 100 × `EVENTS` events, in CPU ns per event (`None` without procfs).
/// `STREAM_FEED_ROUNDS=n` sets the 100 (e.g. 1 under callgrind or `perf stat`).
fn cpu_ns_per_event(mut round: impl FnMut()) -> Option<f64> {
    let rounds: usize = std::env::var("STREAM_FEED_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = thread_cpu_ns()?;
        for _ in 0..rounds {
            round();
        }
        best = best.min((thread_cpu_ns()? - start) as f64 / (rounds.max(1) * EVENTS) as f64);
    }
    Some(best)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("stream_feed");
    g.throughput(Throughput::Elements(EVENTS as u64));
    for provider in [Provider::OpenAi, Provider::Anthropic, Provider::Gemini] {
        let (first, evs) = events(provider);
        let bytes: usize = evs.iter().map(Vec::len).sum();
        let s = c_stream(provider, &first);
        let mut round = || {
            for e in &evs {
                assert_eq!(feed(s, black_box(e)), TG_OK);
            }
        };
        if let Some(ns) = cpu_ns_per_event(&mut round) {
            println!(
                "c_abi/{}_sse_event: {ns:.0} ns CPU per event ({:.0} bytes per event)",
                name(provider),
                bytes as f64 / EVENTS as f64
            );
        }
        g.bench_function(format!("c_abi/{}_sse_event", name(provider)), |b| {
            b.iter(&mut round)
        });
        unsafe { tg_stream_free(s) };

        if provider == Provider::OpenAi {
            let mut acc = Accumulator::new(provider, None).unwrap();
            acc.feed(&first).unwrap();
            let mut round = || {
                for e in &evs {
                    acc.feed(black_box(e)).unwrap();
                }
            };
            if let Some(ns) = cpu_ns_per_event(&mut round) {
                println!("rust/openai_sse_event: {ns:.0} ns CPU per event");
            }
            g.bench_function("rust/openai_sse_event", |b| b.iter(&mut round));
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
