//! A registry field that looks like a rate but matches no rate name the engine knows is
//! accepted and prices nothing; every publish reports it in its result (the engine, the
//! store, and after a reopen nothing is lost or repeated).

use tollgate_engine::engine::{Engine, PriceInput};
use tollgate_engine::store::{Store, StoreOptions};
use tollgate_engine::usage::Usage;

/// `m` with a mistyped tier threshold (`abck` for `200k`) and an unknown per-unit field.
const CARD: &[u8] = br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06,
    "input_cost_per_token_above_abck_tokens": 2e-06, "zz_cost_per_widget": 3}}"#;

fn expected() -> Vec<String> {
    [
        "registry key `m`: `input_cost_per_token_above_abck_tokens` looks like a rate but matches no rate name the engine knows; it is not used for pricing",
        "registry key `m`: `zz_cost_per_widget` looks like a rate but matches no rate name the engine knows; it is not used for pricing",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn engine_publish_reports_unknown_rate_fields() {
    let engine = Engine::embedded();
    let p = engine.publish_registry(CARD, 1000).unwrap();
    assert_eq!(p.warnings, expected());
    assert_eq!(p.snapshot, engine.snapshots()[1].id);
    // The field prices nothing: 300,000 input tokens × 1e-06 USD = 0.3 USD = 30 cents (the
    // mistyped "above" rate would have made part of it 2e-06).
    let u = Usage {
        tokens_in: 300_000,
        ..Usage::default()
    };
    let input = PriceInput {
        timestamp_ms: Some(2000),
        ..PriceInput::llm(Some("openai"), "m", &u)
    };
    assert_eq!(engine.price(&input).unwrap().cost_cents.to_string(), "30");
    // A clean registry has none.
    let clean = engine
        .publish_registry(br#"{"m": {"input_cost_per_token": 1e-06}}"#, 3000)
        .unwrap();
    assert!(clean.warnings.is_empty());
}

#[test]
fn store_publish_reports_unknown_rate_fields() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let p = s.publish_registry(CARD, 1000).unwrap();
        assert_eq!(p.warnings, expected());
        p.snapshot
    };
    // Reopened: the card is back, with the same id.
    let s = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(s.engine().snapshots()[1].id, id);
}
