//! Ledger benchmarks (README (Performance)): ingest of one parsed event (dedupe + price + aggregate),
//! and `report` end to end (parse + ingest + report, classic and grouped by two dimensions) in
//! records per second.
//!
//! `cargo bench --bench ledger`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use tollgate_engine::engine::{Engine, PriceInput};
use tollgate_engine::event::Event;
use tollgate_engine::ledger::record::Record;
use tollgate_engine::ledger::{
    Clock, Dimension, IngestCounts, Ledger, LedgerConfig, ReportQuery, Sort,
};

/// 2026-11-02T00:00:00Z.
const T0: i64 = 1_793_577_600_000;

fn event_line(i: u64) -> String {
    let models = [
        "gpt-4o",
        "gpt-4o-mini",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
    ];
    let providers = ["openai", "openai", "anthropic", "anthropic"];
    let m = (i % 4) as usize;
    format!(
        r#"{{"customerId":"cust-{}","runId":"run-{}","agentId":"agent-{}","provider":"{}","model":"{}","tokensIn":{},"cachedTokens":{},"tokensOut":{},"idempotencyKey":"req-{i:010}","ts":{}}}"#,
        i % 100,
        i % 5000,
        i % 5,
        providers[m],
        models[m],
        1000 + i % 3000,
        i % 700,
        100 + i % 900,
        T0 + (i as i64) * 10
    )
}

/// Rewrites `key` as `req-` and the 10 low decimal digits of `n` (what `event_line` writes):
/// a fixed-width digit loop, so the bench loop's own cost stays small next to the ingest
/// (`write!` with a width cost ~500 instructions).
fn set_key(key: &mut String, mut n: u64) {
    let mut text = *b"req-0000000000";
    for slot in text[4..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    key.clear();
    key.push_str(std::str::from_utf8(&text).unwrap_or_default());
}

fn customers() -> Vec<String> {
    (0..100)
        .map(|c| {
            let plan = match c % 4 {
                0 => r#"{"pricingModel":"usage_based","unitRevenueCents":2}"#,
                1 => r#"{"pricingModel":"outcome_based","unitRevenueCents":150}"#,
                2 => r#"{"pricingModel":"per_seat","seatPriceCents":2500}"#,
                _ => r#"{"pricingModel":"flat","monthlyFeeCents":9900}"#,
            };
            format!(
                r#"{{"type":"customer","customerId":"cust-{c}","seats":5,"plan":{plan},"ts":"2026-11-01T00:00:00Z"}}"#
            )
        })
        .collect()
}

fn new_ledger() -> Ledger {
    new_ledger_with(LedgerConfig {
        clock: Clock::Fixed(T0 + 86_400_000),
        ..LedgerConfig::default()
    })
}

fn new_ledger_with(config: LedgerConfig) -> Ledger {
    let l = Ledger::new(config);
    for c in customers() {
        if let Ok(Record::Customer(u)) = Record::from_json(c.as_bytes()) {
            l.upsert_customer(&u);
        }
    }
    l
}

fn ingest(c: &mut Criterion) {
    let engine = Engine::embedded();
    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Elements(1));
    // A parsed event is hot in cache when it is ingested (it was just parsed): cycle through
    // 64 parsed events, giving each iteration a fresh key and timestamp (the rewrite of the
    // key, a few ns with `set_key`, is included in the figure). The ledger grows across samples, so later
    // samples run against a dedupe table of millions of keys.
    let ring: Vec<Event> = (0..64)
        .map(|i| Event::from_json(event_line(i).as_bytes()).unwrap())
        .collect();
    g.bench_function("ingest_parsed_event", |b| {
        let ledger = new_ledger();
        let mut ring = ring.clone();
        let mut next = 0u64;
        b.iter(|| {
            let e = &mut ring[(next % 64) as usize];
            if let Some(k) = e.idempotency_key.as_mut() {
                set_key(k, next);
            }
            e.timestamp_ms = Some(T0 + next as i64 * 10);
            next += 1;
            black_box(ledger.track(&engine, e))
        })
    });
    g.bench_function("ingest_parsed_event_10k_keys", |b| {
        // Companion of `ingest_parsed_event`, not a replacement: the same events, but a
        // 100-second dedupe window (10,000 events at 10 ms apart) keeps about 10,000 keys live,
        // so the table stays in cache. The gap between the two is the cost of a dedupe table
        // of millions of keys (cache and TLB misses), not of the work per event. The clock is
        // set far ahead so the window keeps moving however many iterations run.
        let ledger = new_ledger_with(LedgerConfig {
            dedupe_window_ms: 100_000,
            clock: Clock::Fixed(T0 + 365 * 86_400_000),
        });
        let mut ring = ring.clone();
        let mut next = 0u64;
        b.iter(|| {
            let e = &mut ring[(next % 64) as usize];
            if let Some(k) = e.idempotency_key.as_mut() {
                set_key(k, next);
            }
            e.timestamp_ms = Some(T0 + next as i64 * 10);
            next += 1;
            black_box(ledger.track(&engine, e))
        })
    });
    g.bench_function("ingest_priced_event", |b| {
        // The ledger alone: the same, with the price computed beforehand.
        let ledger = new_ledger();
        let mut ring = ring.clone();
        let prices: Vec<_> = ring
            .iter()
            .map(|e| engine.price(&PriceInput::from_event(e)).unwrap())
            .collect();
        let mut next = 0u64;
        b.iter(|| {
            let i = (next % 64) as usize;
            let e = &mut ring[i];
            if let Some(k) = e.idempotency_key.as_mut() {
                set_key(k, next);
            }
            e.timestamp_ms = Some(T0 + next as i64 * 10);
            next += 1;
            black_box(ledger.track_priced(e, &prices[i]))
        })
    });
    g.bench_function("ingest_duplicate_event", |b| {
        let ledger = new_ledger();
        let e = Event::from_json(event_line(1).as_bytes()).unwrap();
        ledger.track(&engine, &e);
        b.iter(|| black_box(ledger.track(&engine, &e)))
    });
    g.bench_function("customer_margin", |b| {
        let ledger = new_ledger();
        for i in 0..100_000 {
            let e = Event::from_json(event_line(i).as_bytes()).unwrap();
            ledger.track(&engine, &e);
        }
        b.iter(|| black_box(ledger.customer_margin("cust-42")))
    });
    g.finish();

    // Memory of the dedupe table through the ledger: printed, not benchmarked.
    let ledger = new_ledger();
    for i in 0..1_000_000 {
        let e = Event::from_json(event_line(i).as_bytes()).unwrap();
        ledger.track(&engine, &e);
    }
    let s = ledger.dedupe_stats();
    println!(
        "ledger dedupe table: {} keys, {} heap bytes, {}.{:02} bytes/key",
        s.keys,
        s.heap_bytes,
        s.heap_bytes / s.keys,
        (s.heap_bytes % s.keys) * 100 / s.keys
    );
}

/// `tollgate report` minus the process: parse every line, ingest it, build the report and
/// render it as JSON.
fn report(c: &mut Criterion) {
    report_with(c, 100_000, "report", false);
}

/// `tollgate report --group-by customer,model --sort margin:asc --format csv` minus the process,
/// over 999,140 records (the log of `scripts/gen_report_log.py 892000`).
fn report_query(c: &mut Criterion) {
    report_with(c, 892_000, "report_query", true);
}

fn report_with(c: &mut Criterion, n: u64, group: &str, grouped: bool) {
    let engine = Engine::embedded();
    let mut log = customers().join("\n");
    log.push('\n');
    for i in 0..n {
        log.push_str(&event_line(i));
        log.push('\n');
        if i % 10 == 3 {
            // Retries: 10 % duplicates.
            log.push_str(&event_line(i - 3));
            log.push('\n');
        }
        if i % 50 == 7 {
            log.push_str(&format!(
                r#"{{"type":"resolve","customerId":"cust-{}","runId":"run-{}","outcome":"resolved","ts":{}}}"#,
                i % 100,
                i % 5000,
                T0 + (i as i64) * 10
            ));
            log.push('\n');
        }
    }
    let records = log.lines().count() as u64;
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(records));
    g.sample_size(10);
    let name = if grouped {
        "group_by_customer_model"
    } else {
        "end_to_end"
    };
    g.bench_with_input(BenchmarkId::new(name, records), &log, |b, log| {
        b.iter(|| {
            let ledger = Ledger::new(LedgerConfig::default());
            let mut counts = IngestCounts::default();
            for line in log.as_bytes().split(|b| *b == b'\n') {
                if line.is_empty() {
                    continue;
                }
                // What `tollgate report` does with each line.
                counts.record(&ledger.ingest_json(&engine, line));
            }
            if grouped {
                let q = ReportQuery {
                    group_by: vec![Dimension::Customer, Dimension::Model],
                    sort: Some(Sort::parse("margin:asc").unwrap()),
                    ..ReportQuery::default()
                };
                let mut csv = Vec::new();
                ledger.query(&q).unwrap().write_csv(&mut csv).unwrap();
                black_box((csv, counts))
            } else {
                let rep = ledger.report(None, None).unwrap();
                black_box((
                    serde_json::to_string(&rep.to_json(&counts))
                        .unwrap()
                        .into_bytes(),
                    counts,
                ))
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    targets = ingest, report, report_query
}
criterion_main!(benches);
