//! The scale-out design of `docs/SCALING.md`, simulated: one event stream is partitioned by
//! workspace + customer (as a distributed log's producer would key it), each partition is
//! consumed in order by its own ledger, and the ledgers are combined with `Ledger::merge` for a
//! cross-shard query. The merged ledger must be byte-for-byte the state of one ledger that saw
//! the whole stream, and answer the same report — for several shard counts and interleavings.
//!
//! The workload: 800 customers on usage, outcome and per-seat plans, 20,000 activity records
//! (LLM calls on real registry models priced from the embedded card, tools, an unknown model,
//! resolutions), 2 % exact retries (duplicates) and 0.5 % reused keys with another body
//! (conflicts), dated over ten days. The figures printed (ingest and merge time) feed the
//! worked example of `docs/SCALING.md`; nothing is gated on them.

use std::time::Instant;
use tollgate_engine::engine::Engine;
use tollgate_engine::ledger::{Clock, IngestCounts, IngestResult, Ledger, LedgerConfig};

const CUSTOMERS: u64 = 800;
const ACTIVITY: u64 = 20_000;
/// 2026-11-11T00:00:00Z: after every event, so no record is dated in the future.
const NOW_MS: i64 = 1_794_355_200_000;
const DAY_MS: i64 = 86_400_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The partition of a record: FNV-1a of `workspace/customer`, modulo the partition count —
/// what a producer keying its messages by workspace and customer gets from the log.
fn partition(workspace: &str, customer: &str, n: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in workspace.bytes().chain([b'/']).chain(customer.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h % n
}

fn ts(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// (customer id, record line), in stream order.
fn workload(seed: u64) -> Vec<(String, String)> {
    let mut r = Rng(seed);
    let mut out = Vec::new();
    let start = NOW_MS - 10 * DAY_MS;
    for c in 0..CUSTOMERS {
        let plan = match c % 3 {
            0 => {
                r#"{"name":"Usage","pricingModel":"usage_based","unitRevenueCents":3,"monthlyFeeCents":2500}"#
            }
            1 => r#"{"name":"Outcome","pricingModel":"outcome_based","unitRevenueCents":120}"#,
            _ => r#"{"name":"Team","pricingModel":"per_seat","seatPriceCents":900}"#,
        };
        out.push((
            format!("cust-{c}"),
            format!(
                r#"{{"type":"customer","customerId":"cust-{c}","name":"Customer {c}","seats":{},"plan":{plan},"ts":"{}"}}"#,
                1 + c % 9,
                ts(start)
            ),
        ));
    }
    let models = [
        ("openai", "gpt-4o"),
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5"),
        ("gemini", "gemini-2.5-flash"),
        ("openai", "in-house-llm-v2"), // not in the registry: unpriced, never $0
    ];
    let mut sent: Vec<(String, String)> = Vec::new();
    for i in 0..ACTIVITY {
        let c = r.below(CUSTOMERS);
        let customer = format!("cust-{c}");
        let run = format!("run-{c}-{}", r.below(40));
        let at = ts(start + (i as i64) * (10 * DAY_MS) / ACTIVITY as i64);
        let roll = r.below(1000);
        let line = if roll < 20 && !sent.is_empty() {
            // An exact retry of an earlier record: a duplicate.
            let j = r.below(sent.len() as u64) as usize;
            out.push(sent[j].clone());
            continue;
        } else if roll < 25 && !sent.is_empty() {
            // An earlier key with another body: a conflict, in one ledger as in its shard.
            let j = r.below(sent.len() as u64) as usize;
            let (cust, old) = sent[j].clone();
            let changed = old.replacen("\"tokensOut\":", "\"tokensOut\":1", 1);
            if changed == old {
                continue;
            }
            out.push((cust, changed));
            continue;
        } else if roll < 110 {
            let outcome = ["resolved", "escalated", "failed"][r.below(3) as usize];
            format!(
                r#"{{"type":"resolve","customerId":"{customer}","runId":"{run}","outcome":"{outcome}","ts":"{at}"}}"#
            )
        } else if roll < 180 {
            format!(
                r#"{{"type":"tool","customerId":"{customer}","runId":"{run}","agentId":"search","externalCostCents":"0.{}","idempotencyKey":"k{i}","ts":"{at}"}}"#,
                1 + r.below(9)
            )
        } else {
            let (p, m) = models[r.below(models.len() as u64) as usize];
            format!(
                r#"{{"customerId":"{customer}","runId":"{run}","agentId":"agent-{}","provider":"{p}","model":"{m}","tokensIn":{},"cachedTokens":{},"tokensOut":{},"idempotencyKey":"k{i}","ts":"{at}"}}"#,
                r.below(5),
                100 + r.below(20_000),
                r.below(4) * 512,
                10 + r.below(3_000)
            )
        };
        if line.contains("idempotencyKey") {
            sent.push((customer.clone(), line.clone()));
        }
        out.push((customer, line));
    }
    out
}

fn ledger() -> Ledger {
    // Keys kept for the whole stream (window 0) and a fixed clock: the decisions of a shard
    // and of the whole depend on nothing but the records (docs/SCALING.md explains why a
    // finite window needs the same clock on every shard).
    Ledger::new(LedgerConfig {
        dedupe_window_ms: 0,
        clock: Clock::Fixed(NOW_MS),
    })
}

fn tally(counts: &mut IngestCounts, r: &IngestResult) {
    if let IngestResult::Rejected(rej) = r {
        panic!("the workload has no invalid record: {rej:?}");
    }
    counts.record(r);
}

#[test]
fn partitioned_ledgers_merge_to_the_single_ledger() {
    let engine = Engine::embedded();
    let stream = workload(20_261_207);
    let t = Instant::now();
    let whole = ledger();
    let mut counts = IngestCounts::default();
    for (_, line) in &stream {
        tally(&mut counts, &whole.ingest_json(&engine, line.as_bytes()));
    }
    let one_s = t.elapsed().as_secs_f64();
    let (dups, conflicts) = (counts.duplicates, counts.conflicts);
    assert!(dups > 200 && conflicts > 50, "{counts:?}");
    let whole_state = whole.state_bytes();
    let whole_report = whole
        .report(None, None)
        .unwrap()
        .to_json(&IngestCounts::default());
    println!(
        "one ledger: {} records ({} duplicates, {} conflicts) in {one_s:.2} s, state {} bytes",
        stream.len(),
        dups,
        conflicts,
        whole_state.len()
    );

    for (shards, seed) in [(2u64, 1u64), (3, 2), (8, 3)] {
        // Each partition keeps the stream's order (a log partition is ordered); partitions are
        // consumed independently, here one after the other in a shuffled order.
        let mut parts: Vec<Vec<&str>> = vec![Vec::new(); shards as usize];
        for (customer, line) in &stream {
            parts[partition("ws-main", customer, shards) as usize].push(line);
        }
        let mut order: Vec<usize> = (0..shards as usize).collect();
        let mut r = Rng(seed);
        for i in (1..order.len()).rev() {
            order.swap(i, r.below(i as u64 + 1) as usize);
        }
        let ledgers: Vec<Ledger> = (0..shards).map(|_| ledger()).collect();
        let mut shard_counts = IngestCounts::default();
        let t = Instant::now();
        for &p in &order {
            for line in &parts[p] {
                tally(
                    &mut shard_counts,
                    &ledgers[p].ingest_json(&engine, line.as_bytes()),
                );
            }
        }
        let ingest_s = t.elapsed().as_secs_f64();
        // Every record got the decision it got in the single ledger.
        assert_eq!(shard_counts, counts, "{shards} shards");
        let t = Instant::now();
        let mut merged = ledgers[0].merge(&ledgers[1]).unwrap();
        for l in &ledgers[2..] {
            merged = merged.merge(l).unwrap();
        }
        let merge_s = t.elapsed().as_secs_f64();
        assert!(
            merged.state_bytes() == whole_state,
            "{shards} shards: merged state differs from the single ledger"
        );
        let report = merged
            .report(None, None)
            .unwrap()
            .to_json(&IngestCounts::default());
        assert_eq!(report, whole_report, "{shards} shards");
        let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
        println!(
            "{shards} shards {sizes:?}: ingest {ingest_s:.2} s in all, merge {merge_s:.3} s; merged state == single ledger"
        );
    }
    // A cross-shard query is exact: the total margin is the sum of the shards' totals.
    let totals = &whole_report["totals"];
    println!(
        "totals: revenue {} cost {} margin {}",
        totals["revenueCents"], totals["costCents"], totals["marginCents"]
    );
}

/// A customer routed to two shards is refused by `merge`, never double counted.
#[test]
fn merge_refuses_a_customer_on_two_shards() {
    let engine = Engine::embedded();
    let (a, b) = (ledger(), ledger());
    let line = |k: &str| {
        format!(
            r#"{{"type":"tool","customerId":"acme","externalCostCents":"1.5","idempotencyKey":"{k}","ts":"2026-11-05T10:00:00Z"}}"#
        )
    };
    assert!(matches!(
        a.ingest_json(&engine, line("a1").as_bytes()),
        IngestResult::Accepted(_)
    ));
    assert!(matches!(
        b.ingest_json(&engine, line("b1").as_bytes()),
        IngestResult::Accepted(_)
    ));
    let e = a.merge(&b).unwrap_err();
    assert!(e.to_string().contains("acme"), "{e}");
}
