//! `Ledger::ingest_json` (which parses events without copying their text) gives the same answer
//! and the same state as `Record::from_json` followed by `Ledger::ingest`, record by record.

mod ledger_support;

use ledger_support::logs::{GenOpts, log};
use ledger_support::*;
use tollgate_engine::engine::Engine;
use tollgate_engine::ledger::record::{MAX_RECORD_BYTES, Record};
use tollgate_engine::ledger::{IngestResult, Ledger};

fn by_record(l: &Ledger, engine: &Engine, line: &[u8]) -> IngestResult {
    match Record::from_json(line) {
        Ok(r) => l.ingest(engine, &r),
        Err(e) => IngestResult::Rejected(e.into()),
    }
}

#[test]
fn ingest_json_equals_parse_then_ingest() {
    let engine = Engine::embedded();
    let oversize = format!(
        r#"{{"customerId":"c","model":"gpt-4o","runId":"{}"}}"#,
        "r".repeat(MAX_RECORD_BYTES)
    );
    let odd: Vec<Vec<u8>> = vec![
        br#"{"customerId":"c1","provider":"openai","model":"gpt-4o","tokensIn":10,"idempotencyKey":"k\u0031"}"#.to_vec(),
        br#"{"customerId":"c1","provider":"openai","model":"gpt-4o","tokensIn":10,"idempotencyKey":"k1"}"#.to_vec(),
        br#"{"customerId":"c1","model":"gpt-4o","tokenIn":10}"#.to_vec(),
        br#"{"customerId":"c1","model":"gpt-4o","tokensIn":-1}"#.to_vec(),
        br#"{"model":"gpt-4o"}"#.to_vec(),
        br#"{"type":"resolve","customerId":"c1","runId":"r","outcome":"won"}"#.to_vec(),
        br#"{"type":"resolve","customerId":"c1","runId":"r","outcome":"resolved"}"#.to_vec(),
        br#"{"type":"customer","customerId":"c1","plan":{"pricingModel":"flat","monthlyFeeCents":1}}"#.to_vec(),
        br#"{"type":"customer","customerId":"c1","plan":{"pricingModel":"gold"}}"#.to_vec(),
        br#"{"type":"nope"}"#.to_vec(),
        b"{\"customerId\":\"c\xff\",\"model\":\"m\"}".to_vec(),
        b"not json".to_vec(),
        oversize.clone().into_bytes(),
        oversize.as_bytes()[..MAX_RECORD_BYTES].to_vec(),
    ];
    for seed in 0..6 {
        let (customers, activity) = log(seed, &GenOpts::default());
        let (a, b) = (ledger(), ledger());
        let lines = customers
            .iter()
            .chain(activity.iter())
            .map(|s| s.as_bytes().to_vec())
            .chain(odd.iter().cloned());
        for line in lines {
            let want = by_record(&a, &engine, &line);
            let got = b.ingest_json(&engine, &line);
            assert_eq!(got, want, "{}", String::from_utf8_lossy(&line));
        }
        assert!(
            a.state_bytes() == b.state_bytes(),
            "seed {seed}: states differ"
        );
    }
}
