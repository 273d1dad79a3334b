//! Bad input, one test per case: each record gets a precise error (kind, field, reason) and the
//! ledger's whole state is byte-for-byte what it was before.

mod ledger_support;

use ledger_support::*;
use tollgate_engine::event::Outcome;
use tollgate_engine::ledger::record::{CustomerUpsert, Resolution};
use tollgate_engine::ledger::{IngestResult, Ledger, RejectKind, Rejection};
use tollgate_engine::money::Cents;

/// A ledger with a bit of everything in it.
fn base() -> Ledger {
    let l = ledger();
    let r = feed(
        &l,
        r#"
        {"type":"customer","customerId":"c","plan":{"pricingModel":"usage_based","unitRevenueCents":5,"monthlyFeeCents":100},"ts":"2026-01-01T00:00:00Z"}
        {"customerId":"c","runId":"r","provider":"openai","model":"m","providerCostCents":"1.5","idempotencyKey":"k1","ts":"2026-01-02T00:00:00Z"}
        {"type":"resolve","customerId":"c","runId":"r","outcome":"resolved","ts":"2026-01-02T01:00:00Z"}
        "#,
    );
    assert!(r.iter().all(accepted), "{r:?}");
    l
}

/// Applies `bytes` to a fresh base ledger and returns the rejection, checking that nothing
/// changed.
fn rejected_bytes(bytes: &[u8]) -> Rejection {
    let l = base();
    let before = l.state_bytes();
    let r = match tollgate_engine::ledger::record::Record::from_json(bytes) {
        Ok(rec) => match rec {
            tollgate_engine::ledger::record::Record::Event(e) => l.track_priced(&e, &price_of(&e)),
            tollgate_engine::ledger::record::Record::Resolve(r) => l.resolve(&r),
            tollgate_engine::ledger::record::Record::Customer(c) => l.upsert_customer(&c),
            tollgate_engine::ledger::record::Record::Policy(p) => l.upsert_policy(&p),
        },
        Err(e) => IngestResult::Rejected(e.into()),
    };
    assert_eq!(l.state_bytes(), before, "state changed");
    match r {
        IngestResult::Rejected(e) => e,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn rejected(line: &str) -> Rejection {
    rejected_bytes(line.as_bytes())
}

fn check(line: &str, field: &str, reason: &str) {
    let e = rejected(line);
    assert_eq!(e.kind, RejectKind::Invalid, "{e}");
    assert_eq!(e.field, field, "{e}");
    assert!(e.reason.contains(reason), "{e}");
}

// ---- events -------------------------------------------------------------------------------

#[test]
fn event_malformed_json() {
    check(r#"{"customerId":"c","model":"m""#, "", "malformed JSON");
}

#[test]
fn event_invalid_utf8() {
    let mut bytes = br#"{"customerId":"c","model":"m","agentId":"x"}"#.to_vec();
    bytes[41] = 0xff; // inside the agentId string
    let e = rejected_bytes(&bytes);
    assert_eq!(e.kind, RejectKind::Invalid);
    assert_eq!(e.reason, "record is not valid UTF-8 (byte 41)");
}

#[test]
fn event_unknown_field() {
    check(
        r#"{"customerId":"c","model":"m","tokenIn":5}"#,
        "",
        "unknown field `tokenIn`",
    );
}

#[test]
fn event_count_of_wrong_type() {
    check(
        r#"{"customerId":"c","model":"m","tokensIn":"5"}"#,
        "tokensIn",
        "not a string",
    );
}

#[test]
fn event_negative_count() {
    check(
        r#"{"customerId":"c","model":"m","tokensOut":-1}"#,
        "tokensOut",
        "negative",
    );
}

#[test]
fn event_huge_count() {
    check(
        r#"{"customerId":"c","model":"m","cachedTokens":9007199254740993}"#,
        "cachedTokens",
        "2^53",
    );
}

#[test]
fn event_fractional_count() {
    check(
        r#"{"customerId":"c","model":"m","units":1.5}"#,
        "units",
        "whole number",
    );
}

#[test]
fn event_oversize_key() {
    let key = "k".repeat(257);
    check(
        &format!(r#"{{"customerId":"c","model":"m","idempotencyKey":"{key}"}}"#),
        "idempotencyKey",
        "the limit is 256",
    );
}

#[test]
fn event_empty_customer() {
    check(r#"{"customerId":"","model":"m"}"#, "customerId", "empty");
}

#[test]
fn event_control_characters_in_id() {
    check(
        r#"{"customerId":"c\u0007","model":"m"}"#,
        "customerId",
        "control",
    );
}

#[test]
fn event_missing_customer() {
    check(
        r#"{"model":"m","tokensIn":1}"#,
        "customerId",
        "required by the ledger",
    );
}

#[test]
fn event_missing_model() {
    check(r#"{"customerId":"c","tokensIn":1}"#, "model", "required");
}

#[test]
fn event_bad_timestamp() {
    check(
        r#"{"customerId":"c","model":"m","ts":"yesterday"}"#,
        "ts",
        "RFC 3339",
    );
}

#[test]
fn event_timestamp_given_twice() {
    check(
        r#"{"customerId":"c","model":"m","ts":1,"timestamp":2}"#,
        "timestamp",
        "twice",
    );
}

#[test]
fn event_negative_amount() {
    check(
        r#"{"type":"tool","customerId":"c","externalCostCents":"-1"}"#,
        "externalCostCents",
        "negative",
    );
}

#[test]
fn event_too_precise_amount() {
    check(
        r#"{"type":"tool","customerId":"c","revenueUnitCents":"0.0000000000000000000000001"}"#,
        "revenueUnitCents",
        "fractional digits",
    );
}

#[test]
fn event_unknown_type() {
    check(
        r#"{"type":"payment","customerId":"c"}"#,
        "type",
        "unknown type",
    );
}

#[test]
fn event_outcome_without_a_run() {
    check(
        r#"{"type":"tool","customerId":"c","outcome":"resolved"}"#,
        "outcome",
        "runId",
    );
}

#[test]
fn event_unknown_outcome() {
    check(
        r#"{"type":"tool","customerId":"c","runId":"r","outcome":"won"}"#,
        "outcome",
        "unknown outcome",
    );
}

#[test]
fn event_too_late() {
    // The base ledger's clock is 2026-01-02T01:00Z; a keyed event 2 days older is too late.
    let e = rejected(
        r#"{"type":"tool","customerId":"c","idempotencyKey":"old","ts":"2025-12-31T00:00:00Z"}"#,
    );
    assert_eq!(e.kind, RejectKind::TooLate);
    assert_eq!(e.field, "timestamp");
    assert!(e.reason.contains("older than the dedupe window"), "{e}");
}

#[test]
fn event_overflowing_the_totals() {
    let l = base();
    // 10^14 cents fits one event; a second pushes the cost total past 1.7 × 10^14.
    let big = r#"{"type":"tool","customerId":"c","externalCostCents":"100000000000000","ts":"2026-01-02T02:00:00Z"}"#;
    assert!(accepted(&apply(&l, big)));
    let before = l.state_bytes();
    let IngestResult::Rejected(e) = apply(&l, big) else {
        panic!("expected overflow")
    };
    assert_eq!(e.kind, RejectKind::Overflow);
    assert_eq!(l.state_bytes(), before);
}

#[test]
fn event_record_too_long() {
    let pad = "x".repeat(70_000);
    check(
        &format!(r#"{{"customerId":"c","model":"{pad}"}}"#),
        "",
        "the limit is 65536",
    );
}

#[test]
fn event_through_the_api_with_a_bad_count() {
    let l = base();
    let before = l.state_bytes();
    let mut e =
        tollgate_engine::event::Event::from_json(br#"{"customerId":"c","model":"m"}"#).unwrap();
    e.usage.tokens_in = u64::MAX;
    let IngestResult::Rejected(r) = l.track_priced(&e, &price_of(&e)) else {
        panic!("expected a rejection")
    };
    assert_eq!(r.field, "tokensIn");
    assert_eq!(l.state_bytes(), before);
}

// ---- resolutions --------------------------------------------------------------------------

#[test]
fn resolve_missing_run() {
    check(
        r#"{"type":"resolve","customerId":"c","outcome":"resolved"}"#,
        "runId",
        "required",
    );
}

#[test]
fn resolve_missing_outcome() {
    check(
        r#"{"type":"resolve","customerId":"c","runId":"r2"}"#,
        "outcome",
        "required",
    );
}

#[test]
fn resolve_unknown_outcome() {
    check(
        r#"{"type":"resolve","customerId":"c","runId":"r2","outcome":"done"}"#,
        "outcome",
        "unknown outcome",
    );
}

#[test]
fn resolve_negative_amount() {
    check(
        r#"{"type":"resolve","customerId":"c","runId":"r2","outcome":"resolved","revenueUnitCents":-3}"#,
        "revenueUnitCents",
        "negative",
    );
}

#[test]
fn resolve_amount_above_the_limit() {
    check(
        r#"{"type":"resolve","customerId":"c","runId":"r2","outcome":"resolved","revenueUnitCents":"10000000001"}"#,
        "revenueUnitCents",
        "exceeds the limit",
    );
}

#[test]
fn resolve_unknown_field() {
    check(
        r#"{"type":"resolve","customerId":"c","runId":"r2","outcome":"resolved","model":"m"}"#,
        "",
        "unknown field `model`",
    );
}

#[test]
fn resolve_through_the_api_with_an_empty_run() {
    let l = base();
    let before = l.state_bytes();
    let r = l.resolve(&Resolution {
        customer_id: "c".into(),
        run_id: String::new(),
        outcome: Outcome::Resolved,
        revenue_unit_cents: None,
        timestamp_ms: Some(T0),
    });
    let IngestResult::Rejected(e) = r else {
        panic!("expected a rejection")
    };
    assert_eq!((e.field, e.reason.as_str()), ("runId", "must not be empty"));
    assert_eq!(l.state_bytes(), before);
}

// ---- customers ----------------------------------------------------------------------------

#[test]
fn customer_unknown_pricing_model() {
    check(
        r#"{"type":"customer","customerId":"d","plan":{"pricingModel":"freemium"}}"#,
        "plan.pricingModel",
        "unknown pricing model",
    );
}

#[test]
fn customer_plan_without_pricing_model() {
    check(
        r#"{"type":"customer","customerId":"d","plan":{"monthlyFeeCents":5}}"#,
        "plan.pricingModel",
        "required",
    );
}

#[test]
fn customer_plan_not_an_object() {
    check(
        r#"{"type":"customer","customerId":"d","plan":"gold"}"#,
        "plan",
        "object",
    );
}

#[test]
fn customer_unknown_plan_field() {
    check(
        r#"{"type":"customer","customerId":"d","plan":{"pricingModel":"flat","fee":5}}"#,
        "plan",
        "unknown field `fee`",
    );
}

#[test]
fn customer_plan_amount_above_the_limit() {
    check(
        r#"{"type":"customer","customerId":"d","plan":{"pricingModel":"flat","monthlyFeeCents":"1e11"}}"#,
        "plan.monthlyFeeCents",
        "exceeds the limit",
    );
}

#[test]
fn customer_negative_seats() {
    check(
        r#"{"type":"customer","customerId":"d","seats":-2}"#,
        "seats",
        "negative",
    );
}

#[test]
fn customer_too_many_seats() {
    check(
        r#"{"type":"customer","customerId":"d","seats":100000001}"#,
        "seats",
        "exceeds the limit",
    );
}

#[test]
fn customer_missing_id() {
    check(
        r#"{"type":"customer","name":"D"}"#,
        "customerId",
        "required",
    );
}

#[test]
fn customer_name_too_long() {
    let name = "n".repeat(513);
    check(
        &format!(r#"{{"type":"customer","customerId":"d","name":"{name}"}}"#),
        "name",
        "the limit is 512",
    );
}

#[test]
fn customer_unknown_field() {
    check(
        r#"{"type":"customer","customerId":"d","tier":"gold"}"#,
        "",
        "unknown field `tier`",
    );
}

#[test]
fn customer_through_the_api_with_a_negative_fee() {
    let l = base();
    let before = l.state_bytes();
    let r = l.upsert_customer(&CustomerUpsert {
        customer_id: "d".into(),
        name: None,
        seats: 0,
        plan: Some(tollgate_engine::ledger::record::Plan {
            name: None,
            pricing_model: tollgate_engine::ledger::record::PricingModel::Flat,
            unit_revenue_cents: Cents::ZERO,
            seat_price_cents: Cents::ZERO,
            monthly_fee_cents: Cents::from_whole_cents(-1),
        }),
        timestamp_ms: Some(T0),
    });
    let IngestResult::Rejected(e) = r else {
        panic!("expected a rejection")
    };
    assert_eq!(e.field, "plan.monthlyFeeCents");
    assert_eq!(l.state_bytes(), before);
}

// ---- conflicts change nothing either --------------------------------------------------------

#[test]
fn conflicting_event_changes_nothing() {
    let l = base();
    let before = l.state_bytes();
    let r = apply(
        &l,
        r#"{"customerId":"c","runId":"r","provider":"openai","model":"m","providerCostCents":"2","idempotencyKey":"k1","ts":"2026-01-02T00:00:00Z"}"#,
    );
    assert!(matches!(r, IngestResult::Conflict { .. }), "{r:?}");
    assert_eq!(l.state_bytes(), before);
}

// ---- wrong JSON types name the field ---------------------------------------------------------

#[test]
fn resolve_run_of_wrong_type() {
    check(
        r#"{"type":"resolve","customerId":"c","runId":5,"outcome":"resolved"}"#,
        "runId",
        "must be a string (got 5)",
    );
}

#[test]
fn customer_name_of_wrong_type() {
    check(
        r#"{"type":"customer","customerId":"d","name":true}"#,
        "name",
        "must be a string (got true)",
    );
}

#[test]
fn customer_pricing_model_of_wrong_type() {
    check(
        r#"{"type":"customer","customerId":"d","plan":{"pricingModel":["flat"]}}"#,
        "plan.pricingModel",
        "must be a string",
    );
}

#[test]
fn customer_seats_of_wrong_type() {
    check(
        r#"{"type":"customer","customerId":"d","seats":"12"}"#,
        "seats",
        "not a string",
    );
}
