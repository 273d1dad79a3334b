//! Guardrail decisions (issue 12 targets: `allow` with an estimate in cents ≤ 100 ns, with an
//! expected usage priced by the engine ≤ 250 ns).
//!
//! `cargo bench --bench guard -- --warm-up-time 1 --measurement-time 3`
//!
//! A ledger of 100 customers with a month of events each (3 agents, 10 runs), and a
//! customer policy with every rule: budget per month, minimum margin per week (activity
//! reached), maximum cost per run and per agent per day. Each decision passes every rule
//! (the slowest path: all four are evaluated).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tollgate_engine::engine::Engine;
use tollgate_engine::ledger::guard::{AllowRequest, Estimate, Verdict};
use tollgate_engine::ledger::{Clock, Ledger, LedgerConfig};
use tollgate_engine::money::Cents;
use tollgate_engine::usage::Usage;

/// 2026-01-15T12:00:00Z.
const T: i64 = 1_768_478_400_000;

fn ledger(engine: &Engine) -> Ledger {
    let l = Ledger::new(LedgerConfig {
        clock: Clock::Fixed(T),
        ..LedgerConfig::default()
    });
    for c in 0..100 {
        let policy = format!(
            r#"{{"type":"policy","policyId":"p{c}","customerId":"cust-{c}","budget":{{"cents":"1000000","period":"month"}},"minMargin":{{"pct":"10","period":"week","minEvents":5}},"maxRunCostCents":"100000","maxAgentCost":{{"cents":"100000","period":"day"}},"ts":0}}"#
        );
        l.ingest_json(engine, policy.as_bytes());
        for i in 0..300i64 {
            let ev = format!(
                r#"{{"type":"tool","customerId":"cust-{c}","agentId":"agent-{}","runId":"run-{}","externalCostCents":"1.5","revenueUnitCents":"10","ts":{}}}"#,
                i % 3,
                i % 10,
                T - (i % 30) * 86_400_000
            );
            l.ingest_json(engine, ev.as_bytes());
        }
    }
    l
}

/// CPU time this thread has run, in ns (`/proc/thread-self/schedstat`, first field): the
/// time a call costs whatever else the machine runs (wall-clock figures on a loaded machine
/// include the time the thread waited for a core).
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The best of 5 rounds of `n` calls of `f`, in CPU ns per call (`None` without procfs).
fn cpu_ns_per_call(n: u32, mut f: impl FnMut()) -> Option<f64> {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let start = thread_cpu_ns()?;
        for _ in 0..n {
            f();
        }
        best = best.min((thread_cpu_ns()? - start) as f64 / f64::from(n));
    }
    Some(best)
}

fn bench(c: &mut Criterion) {
    let engine = Engine::embedded();
    let l = ledger(&engine);
    let usage = Usage {
        tokens_in: 1200,
        cached_tokens: 800,
        tokens_out: 350,
        ..Usage::default()
    };
    let mut cents = AllowRequest::new("cust-42");
    cents.agent_id = Some("agent-1");
    cents.run_id = Some("run-7");
    cents.model = Some("gpt-4o");
    cents.at_ms = Some(T);
    cents.estimate = Some(Estimate::Cents(Cents::from_whole_cents(3)));
    let mut priced = cents;
    priced.estimate = Some(Estimate::Usage {
        provider: Some("openai"),
        model: "gpt-4o",
        usage: &usage,
    });
    // Both pass every rule; the usage estimate prices at 0.75 cents (data/ffi/vectors.jsonl).
    assert_eq!(l.allow(&engine, &cents).unwrap().verdict, Verdict::Allow);
    let d = l.allow(&engine, &priced).unwrap();
    assert_eq!(d.verdict, Verdict::Allow);
    assert_eq!(d.estimate_cents.unwrap().to_string(), "0.75");
    for (name, req) in [
        ("allow_cents_estimate", &cents),
        ("allow_usage_estimate", &priced),
    ] {
        if let Some(ns) = cpu_ns_per_call(200_000, || {
            black_box(l.allow(&engine, black_box(req)).unwrap());
        }) {
            println!("guard/{name}: {ns:.0} ns of CPU time per call (best of 5 × 200,000)");
        }
    }
    let mut g = c.benchmark_group("guard");
    g.bench_function("allow_cents_estimate", |b| {
        b.iter(|| black_box(l.allow(&engine, black_box(&cents)).unwrap()))
    });
    g.bench_function("allow_usage_estimate", |b| {
        b.iter(|| black_box(l.allow(&engine, black_box(&priced)).unwrap()))
    });
    let mut none = AllowRequest::new("cust-42");
    none.at_ms = Some(T);
    none.estimate = Some(Estimate::Cents(Cents::from_whole_cents(3)));
    g.bench_function("allow_cents_budget_only_request", |b| {
        b.iter(|| black_box(l.allow(&engine, black_box(&none)).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
