//! The engine's fixed cost of tracking one non-stream provider response: `tg_track_response`,
//! the one call every SDK wrapper makes per response (README (Performance)).
//!
//! `cargo bench -p tollgate-ffi --bench track`
//!
//! One recorded body per provider (`../shared/fixtures/providers`): OpenAI chat (2.7 KB, the
//! body of the wrappers' own benches), Anthropic messages, Bedrock Converse, Gemini
//! generateContent. The context is `{"customerId":"cust-1"}` as the wrappers send it.
//!
//! - `track/<body>`: the same body again and again, as the wrappers' benches do: after the
//!   first call each is a duplicate (its key is the response id), so this is extraction +
//!   event building + the dedupe answer.
//! - `track/openai_chat_new_key`: a fresh `idempotencyKey` per call, so every call books
//!   (priced and aggregated by the ledger).
//! - `extract/<body>`: `extract::extract` alone, the usage reading inside the call.
//!
//! Before the criterion groups, one line per body gives the CPU time per call (best of
//! 5 × 20,000, from `/proc/thread-self/schedstat`), the figure to compare on a loaded
//! machine. For instruction counts run the bench binary under callgrind, e.g.
//! `valgrind --tool=callgrind target/release/deps/track-* --bench track/openai_chat$
//! --profile-time 2`.

mod cpu;

use cpu::cpu_ns_per_call;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::path::PathBuf;
use tollgate_engine::extract::{self, Provider};
use tollgate_ffi::engine::{tg_engine, tg_engine_free, tg_engine_new};
use tollgate_ffi::ledger::{TG_RECORD_OUT_MAX, tg_track_response};
use tollgate_ffi::status::TG_OK;

/// (name, provider, model the caller requested, fixture file, context).
const BODIES: [(&str, &str, &str, &str, &[u8]); 4] = [
    ("openai_chat", "openai", "", "openai_chat_1.json", CONTEXT),
    (
        "anthropic_messages",
        "anthropic",
        "",
        "anthropic_messages_1.json",
        CONTEXT,
    ),
    (
        "bedrock_converse",
        "bedrock",
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "bedrock_converse_1.json",
        // Converse bodies carry no id: the wrappers key them by the provider's request id.
        br#"{"customerId":"cust-1","idempotencyKey":"bedrock:req-1"}"#,
    ),
    (
        "gemini_generate",
        "gemini",
        "",
        "gemini_generate_1.json",
        CONTEXT,
    ),
];

const CONTEXT: &[u8] = br#"{"customerId":"cust-1"}"#;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/providers")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
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

/// One `tg_track_response`; returns its status and output length.
fn track(
    engine: *const tg_engine,
    provider: &str,
    model: &str,
    body: &[u8],
    context: &[u8],
    out: &mut [u8],
) -> (i32, usize) {
    let mut len = 0usize;
    let s = unsafe {
        tg_track_response(
            engine,
            provider.as_ptr(),
            provider.len(),
            model.as_ptr(),
            model.len(),
            body.as_ptr(),
            body.len(),
            context.as_ptr(),
            context.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut len,
            std::ptr::null_mut(),
        )
    };
    (s, len)
}

fn bench(c: &mut Criterion) {
    let engine = new_c_engine();
    let mut out = vec![0u8; TG_RECORD_OUT_MAX * 4];
    let bodies: Vec<_> = BODIES
        .iter()
        .map(|&(name, provider, model, file, context)| {
            (name, provider, model, fixture(file), context)
        })
        .collect();

    // Every body books once and is a duplicate the second time, before anything is timed.
    for (name, provider, model, body, context) in &bodies {
        for want in ["\"status\":\"accepted\"", "\"status\":\"duplicate\""] {
            let (s, len) = track(engine, provider, model, body, context, &mut out);
            let text = String::from_utf8_lossy(&out[..len]);
            assert_eq!(s, TG_OK, "{name}: {text}");
            assert!(text.contains(want), "{name}: {text}");
        }
    }

    // CPU time per call, best of 5 rounds: robust on a loaded machine. Skipped when
    // profiling (`--profile-time`), so a callgrind run counts the timed loop only.
    let profiling = std::env::args().any(|a| a == "--profile-time");
    for (name, provider, model, body, context) in &bodies {
        if profiling {
            break;
        }
        if let Some(ns) = cpu_ns_per_call(20_000, || {
            black_box(track(
                engine,
                provider,
                model,
                black_box(body),
                context,
                &mut out,
            ));
        }) {
            println!(
                "track/{name}: CPU time per call (best of 5 × 20,000) {ns:.0} ns ({} bytes)",
                body.len()
            );
        }
    }

    let mut g = c.benchmark_group("track");
    for (name, provider, model, body, context) in &bodies {
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| {
                black_box(track(
                    engine,
                    provider,
                    model,
                    black_box(body),
                    context,
                    &mut out,
                ))
            })
        });
    }
    let openai = &bodies[0].3;
    let mut n = 0u64;
    let mut keyed = Vec::with_capacity(64);
    g.bench_function("openai_chat_new_key", |b| {
        b.iter(|| {
            n += 1;
            keyed.clear();
            keyed.extend_from_slice(br#"{"customerId":"cust-1","idempotencyKey":"k-"#);
            keyed.extend_from_slice(n.to_string().as_bytes());
            keyed.extend_from_slice(b"\"}");
            black_box(track(
                engine,
                "openai",
                "",
                black_box(openai),
                &keyed,
                &mut out,
            ))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("extract");
    for (name, provider, model, body, _) in &bodies {
        let provider = Provider::parse(provider).expect("known provider");
        let model = (!model.is_empty()).then_some(*model);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function(*name, |b| {
            b.iter(|| black_box(extract::extract(provider, model, black_box(body))))
        });
    }
    g.finish();

    unsafe { tg_engine_free(engine) };
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_secs(1))
        .measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
