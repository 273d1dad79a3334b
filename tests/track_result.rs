//! A tracked event says in its result whether it was priced, why not, and what the pricing
//! warned about, exactly as `tollgate price` (`Engine::price`) says it.

use std::path::PathBuf;
use tollgate_engine::engine::{Engine, MatchKind, PriceInput, UnpricedReason};
use tollgate_engine::event::Event;
use tollgate_engine::extract::{Provider, extract};
use tollgate_engine::ledger::{Accepted, Clock, IngestResult, Ledger, LedgerConfig};
use tollgate_engine::usage::Usage;

fn ledger() -> Ledger {
    Ledger::new(LedgerConfig {
        // 2026-01-01T00:00:00Z: the events below are dated then.
        clock: Clock::Fixed(1_767_225_600_000),
        ..LedgerConfig::default()
    })
}

fn accepted(r: IngestResult) -> Accepted {
    match r {
        IngestResult::Accepted(a) => a,
        other => panic!("not accepted: {other:?}"),
    }
}

/// `../shared/fixtures/providers/<name>`, or `None` (skipped) when `../shared` is absent and
/// `TOLLGATE_REQUIRE_SHARED` is not set.
fn shared_fixture(name: &str) -> Option<Vec<u8>> {
    let dir = std::env::var_os("TOLLGATE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")));
    let path = dir.join("fixtures/providers").join(name);
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) if std::env::var_os("TOLLGATE_REQUIRE_SHARED").is_none() => {
            eprintln!("SKIPPED: {} not found", path.display());
            None
        }
        Err(e) => panic!("{}: {e} and TOLLGATE_REQUIRE_SHARED is set", path.display()),
    }
}

/// A rate card that lacks `claude-sonnet-5` and lists `claude-opus-4-8` priced per second
/// only (no token price).
const CARD: &[u8] = br#"{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06}, "claude-opus-4-8": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_second": 0.0001}}"#;

/// A real recorded Anthropic stream (pydantic-ai's advisor-tool cassette): the executor ran
/// on `claude-sonnet-5`, the advisor on `claude-opus-4-8`. Tracked with [`CARD`] in force,
/// each line item is booked unpriced with cost 0 and revenue 10 (10 cents × 1 unit), and
/// its result says why: `unknown_model` for the executor, `no_token_price` for the advisor,
/// in the Rust result and its JSON, exactly as `Engine::price` says it.
#[test]
fn unpriced_stream_line_items_say_why_in_the_track_result() {
    let Some(body) = shared_fixture("anthropic_stream_5.sse") else {
        return;
    };
    let items = extract(Provider::Anthropic, None, &body).unwrap();
    let models: Vec<&str> = items.iter().map(|i| i.model.as_str()).collect();
    assert_eq!(models, ["claude-sonnet-5", "claude-opus-4-8"]);
    let engine = Engine::from_registry(CARD).unwrap();
    let snapshot = engine.snapshots()[0].id.to_string();
    let l = ledger();
    let reasons = [
        ("unknown_model", UnpricedReason::UnknownModel),
        ("no_token_price", UnpricedReason::NoTokenPrice),
    ];
    for (item, (wire, reason)) in items.iter().zip(reasons) {
        // The line item's JSON is an event once it has a customer (docs/reference/events.md).
        let mut event: serde_json::Value = serde_json::from_str(&item.to_json()).unwrap();
        event["customerId"] = "acme".into();
        event["revenueUnitCents"] = "10".into();
        event["idempotencyKey"] = item.response_id.clone().unwrap().into();
        let line = serde_json::to_vec(&event).unwrap();
        let r = l.ingest_json(&engine, &line);
        assert_eq!(
            r.to_json(),
            serde_json::json!({
                "status": "accepted",
                "costCents": "0",
                "revenueCents": "10",
                "snapshot": snapshot,
                "priced": false,
                "reason": wire,
                "warnings": [],
            }),
            "{}",
            item.model
        );
        let a = accepted(r);
        assert_eq!((a.priced, a.reason), (false, Some(reason)));
        // The same as `tollgate price` says for it.
        let e = Event::from_json(&line).unwrap();
        let p = engine.price(&PriceInput::from_event(&e)).unwrap();
        assert_eq!(
            (p.priced, p.reason, p.warnings),
            (false, a.reason, a.warnings)
        );
    }
}

/// The Together AI size-bucket rule reaches the track result: `qwen/Qwen2-72B-Instruct` is
/// not in the card, so it is priced at `together-ai-41.1b-80b` with a warning naming the row.
/// The oracle's `completion_cost` for 1000 in / 100 out is 0.00099 USD = 0.099 cents
/// (`data/oracle/together_buckets.jsonl`).
#[test]
fn together_size_bucket_warning_reaches_the_track_result() {
    let engine = Engine::embedded();
    let l = ledger();
    let line = br#"{"customerId":"acme","provider":"together_ai","model":"qwen/Qwen2-72B-Instruct","tokensIn":1000,"tokensOut":100}"#;
    let a = accepted(l.ingest_json(&engine, line));
    assert_eq!(a.cost_cents.to_string(), "0.099");
    assert_eq!((a.priced, a.reason), (true, None));
    assert_eq!(
        a.warnings,
        [
            "the rate card has no token price for this Together AI model: priced at its parameter-size rate `together-ai-41.1b-80b`"
        ]
    );
    // `price` says the same, and reports the match as inferred.
    let u = Usage {
        tokens_in: 1000,
        tokens_out: 100,
        ..Usage::default()
    };
    let p = engine
        .price(&PriceInput::llm(
            Some("together_ai"),
            "qwen/Qwen2-72B-Instruct",
            &u,
        ))
        .unwrap();
    assert_eq!(p.match_kind, Some(MatchKind::Inferred));
    assert_eq!(p.warnings, a.warnings);
}
