//! The serde-based event parser that `Event::from_json` used until it was replaced by a
//! hand-written single-pass parser: kept here, unchanged, as the reference of the differential
//! test (`tests/event_differential.rs`). It must stay the old code: do not "fix" it.

#![allow(dead_code)]

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use tollgate_engine::event::{
    Event, EventError, EventKind, MAX_ATTR_BYTES, MAX_ID_BYTES, MAX_NAME_BYTES, MAX_TIMESTAMP_MS,
    Outcome,
};
use tollgate_engine::money::{AmountError, Cents};
use tollgate_engine::usage::{MAX_COUNT, ServiceTier, Usage};

fn err(field: &'static str, reason: impl Into<String>) -> EventError {
    EventError {
        field,
        reason: reason.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawEvent<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    customer_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    run_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    agent_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    provider: Option<Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow)]
    tokens_in: Option<&'a RawValue>,
    #[serde(borrow)]
    cached_tokens: Option<&'a RawValue>,
    #[serde(rename = "cacheWrite5mTokens", borrow)]
    cache_write_5m_tokens: Option<&'a RawValue>,
    #[serde(rename = "cacheWrite1hTokens", borrow)]
    cache_write_1h_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    audio_tokens_in: Option<&'a RawValue>,
    #[serde(borrow)]
    image_tokens_in: Option<&'a RawValue>,
    #[serde(borrow)]
    tokens_out: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    audio_tokens_out: Option<&'a RawValue>,
    #[serde(borrow)]
    image_tokens_out: Option<&'a RawValue>,
    #[serde(borrow)]
    web_search_requests: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_calls: Option<&'a RawValue>,
    #[serde(borrow)]
    service_tier: Option<Cow<'a, str>>,
    #[serde(borrow)]
    inference_geo: Option<Cow<'a, str>>,
    #[serde(borrow)]
    speed: Option<Cow<'a, str>>,
    #[serde(borrow)]
    provider_cost_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    external_cost_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    revenue_unit_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    reported_cost_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    units: Option<&'a RawValue>,
    #[serde(borrow)]
    outcome: Option<Cow<'a, str>>,
    #[serde(borrow)]
    idempotency_key: Option<Cow<'a, str>>,
    #[serde(borrow)]
    response_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
}

pub struct Reference;

impl Reference {
    /// The serde-based parser `Event::from_json` used before the hand-written one.
    pub fn from_json(bytes: &[u8]) -> Result<Event, EventError> {
        // Validating UTF-8 once lets serde_json skip it for every string; invalid input takes
        // the byte path so its error message is unchanged.
        let raw: RawEvent<'_> = match std::str::from_utf8(bytes) {
            Ok(text) => serde_json::from_str(text),
            Err(_) => serde_json::from_slice(bytes),
        }
        .map_err(|e| err("", json_reason(&e)))?;
        Reference::from_raw(raw)
    }

    fn from_raw(raw: RawEvent<'_>) -> Result<Event, EventError> {
        let kind = match raw.kind.as_deref() {
            None | Some("llm") | Some("track") => EventKind::Llm,
            Some("tool") => EventKind::Tool,
            Some("retrieval") => EventKind::Retrieval,
            Some("truncated") => EventKind::Truncated,
            Some(other @ ("resolve" | "customer")) => {
                return Err(err(
                    "type",
                    format!("\"{other}\" is a {other} record, not an event"),
                ));
            }
            Some(other) => {
                return Err(err(
                    "type",
                    format!(
                        "unknown type \"{}\" (expected llm, track, tool, retrieval or truncated)",
                        clip(other)
                    ),
                ));
            }
        };
        let usage = Usage {
            tokens_in: count(raw.tokens_in, "tokensIn")?,
            cached_tokens: count(raw.cached_tokens, "cachedTokens")?,
            cache_write_5m_tokens: count(raw.cache_write_5m_tokens, "cacheWrite5mTokens")?,
            cache_write_1h_tokens: count(raw.cache_write_1h_tokens, "cacheWrite1hTokens")?,
            audio_tokens_in: count(raw.audio_tokens_in, "audioTokensIn")?,
            image_tokens_in: count(raw.image_tokens_in, "imageTokensIn")?,
            tokens_out: count(raw.tokens_out, "tokensOut")?,
            reasoning_tokens: count(raw.reasoning_tokens, "reasoningTokens")?,
            audio_tokens_out: count(raw.audio_tokens_out, "audioTokensOut")?,
            image_tokens_out: count(raw.image_tokens_out, "imageTokensOut")?,
            web_search_requests: count(raw.web_search_requests, "webSearchRequests")?,
            tool_calls: count(raw.tool_calls, "toolCalls")?,
            service_tier: match raw.service_tier.as_deref() {
                None => ServiceTier::Standard,
                Some(s) => ServiceTier::parse(s).ok_or_else(|| {
                    err(
                        "serviceTier",
                        format!(
                            "unknown tier \"{}\" (expected default, auto, standard, flex, priority, fast, batch, balanced or ultrafast)",
                            clip(s)
                        ),
                    )
                })?,
            },
            inference_geo: attr(raw.inference_geo, "inferenceGeo")?,
            speed: attr(raw.speed, "speed")?,
        };
        let model = name(raw.model, "model")?;
        if kind == EventKind::Llm && model.is_none() {
            return Err(err("model", "is required for an llm event"));
        }
        let units = match raw.units {
            None => 1,
            Some(v) if v.get() == "null" => 1,
            Some(v) => parse_count(v.get()).map_err(|r| err("units", r))?,
        };
        if kind == EventKind::Truncated {
            let counts = [
                (usage.tokens_in, "tokensIn"),
                (usage.cached_tokens, "cachedTokens"),
                (usage.cache_write_5m_tokens, "cacheWrite5mTokens"),
                (usage.cache_write_1h_tokens, "cacheWrite1hTokens"),
                (usage.audio_tokens_in, "audioTokensIn"),
                (usage.image_tokens_in, "imageTokensIn"),
                (usage.tokens_out, "tokensOut"),
                (usage.reasoning_tokens, "reasoningTokens"),
                (usage.audio_tokens_out, "audioTokensOut"),
                (usage.image_tokens_out, "imageTokensOut"),
                (usage.web_search_requests, "webSearchRequests"),
                (usage.tool_calls, "toolCalls"),
            ];
            if let Some((_, field)) = counts.iter().find(|(n, _)| *n != 0) {
                return Err(err(
                    field,
                    "a truncated event carries no usage: its usage is unknown",
                ));
            }
            for (v, field) in [
                (raw.provider_cost_cents, "providerCostCents"),
                (raw.external_cost_cents, "externalCostCents"),
                (raw.reported_cost_cents, "reportedCostCents"),
            ] {
                if v.is_some_and(|v| v.get() != "null") {
                    return Err(err(
                        field,
                        "a truncated event carries no cost: its cost is unknown",
                    ));
                }
            }
        }
        let timestamp_ms = match (raw.timestamp, raw.ts) {
            (Some(_), Some(_)) => {
                return Err(err("timestamp", "given twice (as timestamp and as ts)"));
            }
            (Some(v), None) => timestamp(v, "timestamp")?,
            (None, Some(v)) => timestamp(v, "ts")?,
            (None, None) => None,
        };
        Ok(Event {
            kind,
            customer_id: id(raw.customer_id, "customerId")?,
            run_id: id(raw.run_id, "runId")?,
            agent_id: id(raw.agent_id, "agentId")?,
            provider: name(raw.provider, "provider")?,
            model,
            usage,
            provider_cost_cents: amount(raw.provider_cost_cents, "providerCostCents")?,
            external_cost_cents: amount(raw.external_cost_cents, "externalCostCents")?,
            revenue_unit_cents: amount(raw.revenue_unit_cents, "revenueUnitCents")?,
            reported_cost_cents: amount(raw.reported_cost_cents, "reportedCostCents")?,
            units,
            outcome: match raw.outcome.as_deref() {
                None => None,
                Some(s) => Some(Outcome::parse(s).ok_or_else(|| {
                    err(
                        "outcome",
                        format!(
                            "unknown outcome \"{}\" (expected resolved, escalated or failed)",
                            clip(s)
                        ),
                    )
                })?),
            },
            idempotency_key: id(raw.idempotency_key, "idempotencyKey")?,
            response_id: id(raw.response_id, "responseId")?,
            timestamp_ms,
        })
    }
}

/// serde_json's message, without echoing any of the input text.
fn json_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax => format!("malformed JSON at line {} column {}", e.line(), e.column()),
        Category::Eof => "malformed JSON: unexpected end of input".to_string(),
        Category::Io => format!("I/O error: {e}"),
        Category::Data => e.to_string(),
    }
}

/// At most 64 characters of a user value for an error message.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Parses a JSON count literal: a non-negative integer ≤ 2^53, no fraction, no exponent.
/// `s.chars().any(char::is_control)` on bytes: C0 controls, DEL, and C1 controls
/// (U+0080–U+009F, encoded `C2 80`–`C2 9F`).
fn has_control(s: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let b = s.as_bytes();
    // Fast path, 8 bytes at a time: no byte below 0x20, no 0x7F, no 0xC2 (which starts C1).
    let mut chunks = b.chunks_exact(8);
    let suspicious = chunks.any(|c| {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        (w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0)
            || zero_byte(w ^ (ONES * 0x7f))
            || zero_byte(w ^ (ONES * 0xc2))
    }) || chunks
        .remainder()
        .iter()
        .any(|&c| c < 0x20 || c == 0x7f || c == 0xc2);
    if !suspicious {
        return false;
    }
    b.iter().enumerate().any(|(i, &c)| {
        c < 0x20
            || c == 0x7f
            || (c == 0xc2 && b.get(i + 1).is_some_and(|&n| (0x80..=0x9f).contains(&n)))
    })
}

fn parse_count(text: &str) -> Result<u64, String> {
    let t = text.as_bytes();
    // Fast path: up to 16 digits always fit a u64.
    if !t.is_empty() && t.len() <= 16 && t.iter().all(u8::is_ascii_digit) {
        let v = t.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0'));
        if v <= MAX_COUNT {
            return Ok(v);
        }
    }
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return Err(if text.starts_with('-') {
            format!("must not be negative (got {})", clip(text))
        } else if text.starts_with('"') {
            format!("must be a JSON integer, not a string (got {})", clip(text))
        } else if text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        {
            format!("must be a whole number (got {})", clip(text))
        } else {
            format!("must be a non-negative integer (got {})", clip(text))
        });
    }
    match text.parse::<u64>() {
        Ok(v) if v <= MAX_COUNT => Ok(v),
        _ => Err(format!(
            "{} exceeds the maximum count 2^53 ({MAX_COUNT})",
            clip(text)
        )),
    }
}

fn count(v: Option<&RawValue>, field: &'static str) -> Result<u64, EventError> {
    match v {
        None => Ok(0),
        Some(v) if v.get() == "null" => Ok(0),
        Some(v) => parse_count(v.get()).map_err(|r| err(field, r)),
    }
}

/// Parses an amount given as a JSON number or a string holding a decimal; must be ≥ 0.
fn parse_amount(text: &str) -> Result<Cents, String> {
    let inner = if let Some(s) = text.strip_prefix('"') {
        s.strip_suffix('"')
            .ok_or_else(|| "malformed string".to_string())?
    } else {
        text
    };
    match Cents::from_cents_literal(inner, false) {
        Ok(c) => Ok(c),
        Err(AmountError::NotANumber) => {
            Err(format!("must be a decimal amount (got {})", clip(text)))
        }
        Err(e) => Err(format!("{e} (got {})", clip(text))),
    }
}

fn amount(v: Option<&RawValue>, field: &'static str) -> Result<Option<Cents>, EventError> {
    match v {
        None => Ok(None),
        Some(v) if v.get() == "null" => Ok(None),
        Some(v) => parse_amount(v.get()).map(Some).map_err(|r| err(field, r)),
    }
}

fn checked_str(
    v: Option<Cow<'_, str>>,
    field: &'static str,
    max: usize,
) -> Result<Option<String>, EventError> {
    match v {
        None => Ok(None),
        Some(s) if s.is_empty() => Err(err(field, "must not be empty")),
        Some(s) if s.len() > max => Err(err(
            field,
            format!("is {} bytes long; the limit is {max}", s.len()),
        )),
        Some(s) if has_control(&s) => Err(err(field, "must not contain control characters")),
        Some(s) => Ok(Some(s.into_owned())),
    }
}

fn id(v: Option<Cow<'_, str>>, field: &'static str) -> Result<Option<String>, EventError> {
    checked_str(v, field, MAX_ID_BYTES)
}

fn name(v: Option<Cow<'_, str>>, field: &'static str) -> Result<Option<String>, EventError> {
    checked_str(v, field, MAX_NAME_BYTES)
}

fn attr(v: Option<Cow<'_, str>>, field: &'static str) -> Result<Option<Box<str>>, EventError> {
    Ok(checked_str(v, field, MAX_ATTR_BYTES)?.map(String::into_boxed_str))
}

/// Parses `timestamp`: RFC 3339 text or epoch milliseconds (a non-negative integer).
fn parse_timestamp(text: &str) -> Result<i64, String> {
    if let Some(s) = text.strip_prefix('"') {
        let s = s
            .strip_suffix('"')
            .ok_or_else(|| "malformed string".to_string())?;
        let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .map_err(|e| format!("not an RFC 3339 timestamp ({e}): {}", clip(s)))?;
        let ms = t.unix_timestamp_nanos() / 1_000_000;
        return i64::try_from(ms)
            .ok()
            .filter(|ms| (0..=MAX_TIMESTAMP_MS).contains(ms))
            .ok_or_else(|| format!("{} is before 1970 or after 9999", clip(s)));
    }
    match parse_count(text) {
        Ok(ms) if ms as i64 <= MAX_TIMESTAMP_MS => Ok(ms as i64),
        Ok(_) => Err(format!("{} is after 9999-12-31", clip(text))),
        Err(_) => Err(format!(
            "must be an RFC 3339 string or non-negative epoch milliseconds (got {})",
            clip(text)
        )),
    }
}

fn timestamp(v: &RawValue, field: &'static str) -> Result<Option<i64>, EventError> {
    if v.get() == "null" {
        return Ok(None);
    }
    parse_timestamp(v.get())
        .map(Some)
        .map_err(|r| err(field, r))
}
