//! `type: "truncated"`: a call whose response ended before the provider reported its usage.
//! Booked exactly once as an unpriced event (reason `truncated`, a warning), never as a
//! zero-token call; usage or cost fields on it are refused.

mod ledger_support;

use ledger_support::ledger;
use tollgate_engine::engine::{CostSource, Engine, PriceInput, UnpricedReason};
use tollgate_engine::event::{Event, EventKind};
use tollgate_engine::ledger::IngestResult;
use tollgate_engine::ledger::record::Record;
use tollgate_engine::money::Cents;

const TRUNCATED: &str = r#"{"type":"truncated","customerId":"acme","runId":"r1","provider":"openai","model":"gpt-4o","idempotencyKey":"req:abc"}"#;

#[test]
fn a_truncated_call_is_an_unpriced_event_with_a_warning() {
    let engine = Engine::embedded();
    let e = Event::from_json(TRUNCATED.as_bytes()).unwrap();
    assert_eq!(e.kind, EventKind::Truncated);
    assert_eq!(e.kind.as_str(), "truncated");
    let p = engine.price(&PriceInput::from_event(&e)).unwrap();
    assert!(!p.priced);
    assert_eq!(p.source, CostSource::Unpriced);
    assert_eq!(p.reason, Some(UnpricedReason::Truncated));
    assert_eq!(p.cost_cents, Cents::ZERO);
    assert_eq!(p.warnings.len(), 1);
    assert!(p.warnings[0].starts_with("truncated: "), "{:?}", p.warnings);

    let l = ledger();
    // A plan of 5 cents per call: the call happened, so it earns its usage revenue.
    let plan = br#"{"type":"customer","customerId":"acme","timestamp":"2020-01-01T00:00:00Z","plan":{"pricingModel":"usage_based","unitRevenueCents":5}}"#;
    assert!(matches!(
        l.ingest_json(&engine, plan),
        IngestResult::Accepted(_)
    ));
    let IngestResult::Accepted(a) = l.ingest_json(&engine, TRUNCATED.as_bytes()) else {
        panic!("not accepted")
    };
    assert!(!a.priced);
    assert_eq!(a.cost_cents, Cents::ZERO);
    assert_eq!(a.revenue_cents, "5".parse::<Cents>().unwrap());
    assert!(
        a.warnings.iter().any(|w| w.starts_with("truncated: ")),
        "{:?}",
        a.warnings
    );
    // Exactly once: the same key again is a duplicate.
    assert_eq!(
        l.ingest_json(&engine, TRUNCATED.as_bytes()),
        IngestResult::Duplicate
    );
    // A real call of the same customer beside it.
    let real = br#"{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":100,"idempotencyKey":"resp-1"}"#;
    assert!(matches!(
        l.ingest_json(&engine, real),
        IngestResult::Accepted(_)
    ));
    let m = l.customer_margin("acme").unwrap().unwrap();
    assert_eq!(m.events, 2);
    assert_eq!(m.unpriced_events, 1);
    assert_eq!(m.tokens.tokens_in, 1000);
    // gpt-4o: 1000 × $2.50/M + 100 × $10/M = $0.0035 = 0.35 cents (the truncated call adds 0
    // to the priced total and is counted as unpriced instead).
    assert_eq!(m.cost_cents, "0.35".parse::<Cents>().unwrap());
}

#[test]
fn usage_or_cost_on_a_truncated_record_is_refused() {
    for (field, line) in [
        (
            "tokensIn",
            r#"{"type":"truncated","customerId":"c","model":"m","tokensIn":1}"#,
        ),
        (
            "tokensOut",
            r#"{"type":"truncated","customerId":"c","tokensOut":3}"#,
        ),
        (
            "providerCostCents",
            r#"{"type":"truncated","customerId":"c","providerCostCents":"0"}"#,
        ),
        (
            "externalCostCents",
            r#"{"type":"truncated","customerId":"c","externalCostCents":"1"}"#,
        ),
        (
            "reportedCostCents",
            r#"{"type":"truncated","customerId":"c","reportedCostCents":"1"}"#,
        ),
    ] {
        let e = Record::from_json(line.as_bytes()).unwrap_err();
        assert_eq!(e.field, field, "{line}: {e}");
    }
    // Zero counts state nothing and are accepted; the model is optional (the caller may not
    // know it when the response was cut before naming it).
    assert!(Event::from_json(br#"{"type":"truncated","customerId":"c","tokensIn":0}"#).is_ok());
    let l = ledger();
    let engine = Engine::embedded();
    assert!(matches!(
        l.ingest_json(
            &engine,
            br#"{"type":"truncated","customerId":"c","provider":"anthropic"}"#
        ),
        IngestResult::Accepted(_)
    ));
}
