//! Bad input gets a precise error and changes nothing: one test per case.

use std::io::Write;
use std::process::{Command, Stdio};
use tollgate_engine::engine::{Engine, EngineError, PriceError, PriceInput};
use tollgate_engine::event::Event;
use tollgate_engine::ratecard::{RateCard, RateCardError};
use tollgate_engine::usage::{MAX_COUNT, Usage};

const GOOD: &str = r#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06}}"#;

/// An engine with one good snapshot, and the price of 1000 input tokens of `m` on it.
fn engine() -> (Engine, String) {
    let e = Engine::from_registry(GOOD.as_bytes()).unwrap();
    let before = price_m(&e);
    // 1000 × 1e-06 USD = 0.001 USD = 0.1 cents.
    assert_eq!(before, "0.1");
    (e, before)
}

fn price_m(e: &Engine) -> String {
    let u = Usage {
        tokens_in: 1000,
        ..Usage::default()
    };
    e.price(&PriceInput::llm(Some("openai"), "m", &u))
        .unwrap()
        .cost_cents
        .to_string()
}

/// Publishing `bytes` fails with exactly `want`, and the engine is unchanged.
fn rejected(bytes: &str, want: &str) -> RateCardError {
    let (e, before) = engine();
    let snapshots = e.snapshots();
    let err = match e.publish_registry(bytes.as_bytes(), 1) {
        Err(EngineError::RateCard(err)) => err,
        other => panic!("expected a rate-card error, got {other:?}"),
    };
    assert_eq!(err.to_string(), want);
    assert_eq!(e.snapshots(), snapshots, "history changed");
    assert_eq!(price_m(&e), before, "prices changed");
    assert_eq!(RateCard::parse(bytes.as_bytes()).unwrap_err(), err);
    err
}

#[test]
fn broken_registry_json() {
    let err = rejected(
        r#"{"m": {"input_cost_per_token": 1e-06,}}"#,
        "registry: malformed JSON at line 1 column 38",
    );
    assert_eq!(err.key, None);
}

#[test]
fn registry_that_is_not_an_object() {
    rejected(
        "[1, 2]",
        "registry: expected a JSON object of entries, got sequence, expected a JSON object at line 1 column 0",
    );
}

#[test]
fn non_numeric_rate() {
    let err = rejected(
        r#"{"m": {"litellm_provider": "openai", "input_cost_per_token": "3e-06"}}"#,
        "registry key `m`, field `input_cost_per_token`: must be a JSON number, got a string",
    );
    assert_eq!(err.key.as_deref(), Some("m"));
    assert_eq!(err.field.as_deref(), Some("input_cost_per_token"));
}

#[test]
fn negative_rate() {
    rejected(
        r#"{"m": {"output_cost_per_token": -1e-06}}"#,
        "registry key `m`, field `output_cost_per_token`: must not be negative",
    );
}

#[test]
fn negative_rate_inside_a_tier() {
    rejected(
        r#"{"q": {"tiered_pricing": [{"range": [0, 1000], "input_cost_per_token": -1}]}}"#,
        "registry key `q`, field `tiered_pricing[0].input_cost_per_token`: must not be negative",
    );
}

#[test]
fn non_object_entry() {
    rejected(
        r#"{"m": {"input_cost_per_token": 1e-06}, "broken": [1e-06]}"#,
        "registry key `broken`: must be a JSON object, got an array",
    );
    // `sample_spec` is documentation and skipped whatever its shape.
    let card =
        RateCard::parse(br#"{"sample_spec": "see docs", "m": {"input_cost_per_token": 1e-06}}"#)
            .unwrap();
    assert_eq!(card.entries().len(), 1);
}

#[test]
fn rate_more_precise_than_exact_arithmetic_allows() {
    rejected(
        r#"{"m": {"input_cost_per_token": 1e-27}}"#,
        "registry key `m`, field `input_cost_per_token`: has more than 26 fractional digits of a dollar; it cannot be held exactly",
    );
}

#[test]
fn alias_to_a_missing_row() {
    rejected(
        r#"{"a": {"alias_of": "nowhere"}}"#,
        "registry key `a`, field `alias_of`: names `nowhere`, which is not a registry key",
    );
}

#[test]
fn duplicate_registry_key() {
    rejected(
        r#"{"m": {"input_cost_per_token": 1e-06}, "m": {"input_cost_per_token": 2e-06}}"#,
        "registry key `m`: key appears twice in the registry",
    );
}

#[test]
fn malformed_off_peak_window() {
    rejected(
        r#"{"d": {"input_cost_per_token": 1e-06, "off_peak_pricing": {"input_cost_per_token": 5e-07, "hours_utc": "25:00-01:00"}}}"#,
        "registry key `d`, field `off_peak_pricing.hours_utc`: `25:00-01:00` is not a \"HH:MM-HH:MM\" window",
    );
}

#[test]
fn oversize_registry_key() {
    let key = "k".repeat(tollgate_engine::ratecard::MAX_KEY_BYTES + 1);
    let (e, before) = engine();
    let err = e
        .publish_registry(format!(r#"{{"{key}": {{}}}}"#).as_bytes(), 1)
        .unwrap_err();
    assert!(
        err.to_string()
            .ends_with("key is 513 bytes long; the limit is 512"),
        "{err}"
    );
    assert_eq!(price_m(&e), before);
}

#[test]
fn bad_override_changes_nothing() {
    let (e, before) = engine();
    let err = e
        .set_override("m", br#"{"input_cost_per_token": "cheap"}"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "registry key `m`, field `input_cost_per_token`: must be a JSON number, got a string"
    );
    assert_eq!(price_m(&e), before);
}

// ---- events ------------------------------------------------------------------------------

/// Runs `tollgate price` on `input`: (stdout lines, exit code).
fn run_price(input: &[u8]) -> (Vec<String>, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("price")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    (
        text.lines().map(str::to_string).collect(),
        out.status.code().unwrap_or(-1),
    )
}

/// A bad event line between two good ones: exactly that line fails with an error starting with
/// `want`, the others are priced, and the command exits 1.
fn bad_event(line: &str, want: &str) {
    let good = r#"{"provider":"openai","model":"gpt-4o","tokensIn":1000}"#;
    let (lines, code) = run_price(format!("{good}\n{line}\n{good}\n").as_bytes());
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 3);
    // gpt-4o: 1000 × 2.5e-06 USD = 0.25 cents.
    assert!(
        lines[0].starts_with(r#"{"costCents":"0.25","priced":true"#),
        "{}",
        lines[0]
    );
    let err: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(err["line"], 2);
    let msg = err["error"].as_str().unwrap();
    assert!(msg.starts_with(want), "{msg}");
    assert_eq!(err.as_object().map(|o| o.len()), Some(2), "{}", lines[1]);
    assert_eq!(lines[2], lines[0]);
    // The library says the same.
    assert_eq!(
        Event::from_json(line.as_bytes()).unwrap_err().to_string(),
        msg
    );
}

#[test]
fn negative_count() {
    bad_event(
        r#"{"model":"gpt-4o","tokensIn":-5}"#,
        "tokensIn: must not be negative (got -5)",
    );
}

#[test]
fn fractional_count() {
    bad_event(
        r#"{"model":"gpt-4o","tokensOut":12.5}"#,
        "tokensOut: must be a whole number (got 12.5)",
    );
}

#[test]
fn count_above_two_to_the_53() {
    bad_event(
        r#"{"model":"gpt-4o","cachedTokens":9007199254740993}"#,
        "cachedTokens: 9007199254740993 exceeds the maximum count 2^53 (9007199254740992)",
    );
}

#[test]
fn missing_model() {
    bad_event(
        r#"{"provider":"openai","tokensIn":5}"#,
        "model: is required for an llm event",
    );
}

#[test]
fn unknown_field_typo() {
    bad_event(
        r#"{"model":"gpt-4o","tokenIn":5}"#,
        "unknown field `tokenIn`, expected one of `type`, `customerId`,",
    );
}

#[test]
fn malformed_event_json() {
    bad_event(
        r#"{"model":"gpt-4o","#,
        "malformed JSON: unexpected end of input",
    );
}

#[test]
fn counts_above_two_to_the_53_through_the_api() {
    let u = Usage {
        tokens_out: MAX_COUNT + 1,
        ..Usage::default()
    };
    let err = Engine::embedded()
        .price(&PriceInput::llm(Some("openai"), "gpt-4o", &u))
        .unwrap_err();
    assert!(matches!(err, PriceError::InvalidUsage(_)));
    assert_eq!(
        err.to_string(),
        "tokensOut = 9007199254740993 exceeds the maximum count 2^53 (9007199254740992)"
    );
}

#[test]
fn invalid_utf8_line() {
    let good = br#"{"provider":"openai","model":"gpt-4o","tokensIn":1000}"#;
    let mut input = good.to_vec();
    input.extend_from_slice(b"\n{\"model\":\"gpt-\xff\"}\n");
    input.extend_from_slice(good);
    let (lines, code) = run_price(&input);
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[1],
        // The byte that is not UTF-8 is named with the field whose string holds it.
        r#"{"error":"model: invalid UTF-8 inside a string at line 1 column 15","line":2}"#
    );
}

#[test]
fn empty_and_oversize_lines() {
    let big = format!(r#"{{"model":"{}"}}"#, "x".repeat(tollgate_max_line() + 10));
    let (lines, code) = run_price(format!("\n{big}\n{{\"model\":\"gpt-4o\"}}\n").as_bytes());
    assert_eq!(code, 1);
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        r#"{"error":"empty line (expected one JSON event)","line":1}"#
    );
    assert_eq!(
        lines[1],
        r#"{"error":"line is longer than 1048576 bytes","line":2}"#
    );
    assert!(
        lines[2].starts_with(r#"{"costCents":"0","priced":true"#),
        "{}",
        lines[2]
    );
}

fn tollgate_max_line() -> usize {
    1 << 20
}
