//! `EventRef::from_line_item` builds the same event as the JSON round trip it replaces: the
//! line item's JSON (`LineItem::to_json`) with the context's members added, parsed by
//! `EventRef::from_json`. Checked on every recorded response of `../shared/fixtures/providers`
//! and the project's own fixtures, under several contexts, and on hand-made line items that
//! use every field or break a limit (same error, same field).

use std::borrow::Cow;
use std::path::PathBuf;
use tollgate_engine::event::{EventRef, MAX_ID_BYTES, MAX_NAME_BYTES};
use tollgate_engine::extract::{LineItem, Provider, extract};
use tollgate_engine::money::Cents;
use tollgate_engine::usage::{MAX_COUNT, ServiceTier, Usage};

/// Contexts as a caller writes them (JSON members), each a valid event's fields.
const CONTEXTS: [&str; 4] = [
    "",
    r#""customerId":"cust-1""#,
    r#""customerId":"cust-1","runId":"run-7","agentId":"agent-2","idempotencyKey":"key-1""#,
    r#""customerId":"c\u00e9","timestamp":"2026-01-02T03:04:05Z","revenueUnitCents":"12.5","units":3,"outcome":"resolved","externalCostCents":0.25"#,
];

/// The JSON round trip: the item's JSON with the context's members appended.
fn via_json<'a>(
    item: &LineItem,
    members: &str,
    buf: &'a mut String,
) -> Result<EventRef<'a>, String> {
    *buf = item.to_json();
    buf.pop();
    if !members.is_empty() {
        buf.push(',');
        buf.push_str(members);
    }
    buf.push('}');
    EventRef::from_json(buf.as_bytes()).map_err(|e| e.to_string())
}

fn context(members: &str) -> EventRef<'static> {
    // A `tool` event needs no model; only its context fields are used.
    let json = if members.is_empty() {
        r#"{"type":"tool"}"#.to_string()
    } else {
        format!(r#"{{"type":"tool",{members}}}"#)
    };
    let json: &'static str = Box::leak(json.into_boxed_str());
    EventRef::from_json(json.as_bytes()).expect("a valid context")
}

fn assert_same(item: &LineItem, what: &str) {
    for members in CONTEXTS {
        let ctx = context(members);
        let mut buf = String::new();
        let want = via_json(item, members, &mut buf);
        let got = EventRef::from_line_item(item, &ctx).map_err(|e| e.to_string());
        assert_eq!(got, want, "{what} with context {members}");
    }
}

fn fixture_dirs() -> Vec<PathBuf> {
    let shared = std::env::var_os("TOLLGATE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared")));
    vec![
        shared.join("fixtures/providers"),
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/fixtures/providers"
        )),
    ]
}

#[test]
fn every_recorded_response_builds_the_round_trip_event() {
    let mut checked = 0;
    for dir in fixture_dirs() {
        let Ok(expected) = std::fs::read_to_string(dir.join("expected.jsonl")) else {
            eprintln!("SKIPPED: {} not found", dir.display());
            continue;
        };
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let Some(file) = v["file"].as_str() else {
                continue;
            };
            let provider = Provider::parse(v["provider"].as_str().unwrap()).unwrap();
            let model = v["requestModel"].as_str();
            let body = std::fs::read(dir.join(file)).unwrap();
            let Ok(items) = extract(provider, model, &body) else {
                continue;
            };
            for item in &items {
                assert_same(item, file);
                checked += 1;
            }
        }
    }
    // The project's own fixtures are always there.
    assert!(checked >= 5, "only {checked} line items checked");
}

fn full_item() -> LineItem {
    LineItem {
        provider: Provider::OpenAiCompatible,
        model: "vendor/model-x".to_string(),
        response_id: Some("gen-\u{e9}1".to_string()),
        usage: Usage {
            tokens_in: 1,
            cached_tokens: 2,
            cache_write_5m_tokens: 3,
            cache_write_1h_tokens: 4,
            audio_tokens_in: 5,
            image_tokens_in: 6,
            tokens_out: 70,
            reasoning_tokens: 8,
            audio_tokens_out: 9,
            image_tokens_out: 10,
            web_search_requests: 11,
            tool_calls: 12,
            service_tier: ServiceTier::Flex,
            inference_geo: Some("us".into()),
            speed: Some("fast".into()),
        },
        reasoning_reported: true,
        served_tier: Some(ServiceTier::Flex),
        reported_cost_cents: Some(Cents::from_whole_cents(3)),
        warnings: vec!["a warning".to_string()],
    }
}

#[test]
fn every_field_and_its_absence_build_the_round_trip_event() {
    let full = full_item();
    assert_same(&full, "every field");
    let mut item = full.clone();
    item.reasoning_reported = false;
    item.usage.reasoning_tokens = 0;
    item.served_tier = None;
    item.usage.service_tier = ServiceTier::Standard;
    item.usage.inference_geo = None;
    item.usage.speed = None;
    item.response_id = None;
    item.reported_cost_cents = None;
    assert_same(&item, "no optional field");
    for tier in [
        ServiceTier::Standard,
        ServiceTier::Priority,
        ServiceTier::Batch,
    ] {
        let mut item = full.clone();
        item.served_tier = Some(tier);
        item.usage.service_tier = tier;
        assert_same(&item, tier.as_str());
    }
}

#[test]
fn an_item_beyond_a_limit_fails_on_the_same_field_with_the_same_reason() {
    let mut cases: Vec<(LineItem, &str)> = Vec::new();
    let mut item = full_item();
    item.usage.tokens_out = MAX_COUNT + 1;
    cases.push((item, "tokensOut"));
    let mut item = full_item();
    item.usage.tool_calls = u64::MAX;
    item.usage.image_tokens_in = MAX_COUNT + 7;
    cases.push((item, "imageTokensIn"));
    let mut item = full_item();
    item.model = "m".repeat(MAX_NAME_BYTES + 1);
    cases.push((item, "model"));
    let mut item = full_item();
    item.model = "bad\u{1}name".to_string();
    cases.push((item, "model"));
    let mut item = full_item();
    item.model = String::new();
    cases.push((item, "model"));
    let mut item = full_item();
    item.response_id = Some("r".repeat(MAX_ID_BYTES + 1));
    cases.push((item, "responseId"));
    let mut item = full_item();
    item.usage.speed = Some("s".repeat(65).into());
    cases.push((item, "speed"));
    let mut item = full_item();
    item.usage.inference_geo = Some("\u{85}".into());
    cases.push((item, "inferenceGeo"));
    for (item, field) in &cases {
        let ctx = context(CONTEXTS[2]);
        let got = EventRef::from_line_item(item, &ctx).unwrap_err();
        assert_eq!(got.field, *field);
        let mut buf = String::new();
        let want = via_json(item, CONTEXTS[2], &mut buf).unwrap_err();
        assert_eq!(got.to_string(), want, "{field}");
    }
}

#[test]
fn the_context_key_and_fields_carry_over() {
    let ctx = context(CONTEXTS[2]);
    let item = full_item();
    let e = EventRef::from_line_item(&item, &ctx).unwrap();
    assert_eq!(e.dedupe_key(), Some("key-1"));
    assert_eq!(e.customer_id, Some(Cow::Borrowed("cust-1")));
    assert_eq!(e.provider.as_deref(), Some("openai_compatible"));
    let none = EventRef::default();
    let e = EventRef::from_line_item(&item, &none).unwrap();
    assert_eq!(e.dedupe_key(), Some("gen-\u{e9}1"));
    assert_eq!(e.units, 1);
}
