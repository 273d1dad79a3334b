//! Events (docs/reference/events.md (event record)): the JSON record of one priced step, shared by `tollgate price`,
//! `tollgate report`, the ledger and the C ABI.
//!
//! Parsing is strict: unknown fields (a typo such as `tokenIn`), wrong types, negative,
//! fractional or oversize counts, oversize identifiers and malformed timestamps are rejected
//! with an error that names the field and the reason. Nothing is guessed.

use crate::extract::LineItem;
use crate::money::{AmountError, Cents};
use crate::usage::{MAX_COUNT, ServiceTier, Usage};
use parse::f;
use std::borrow::Cow;
use std::fmt;

mod parse;

/// Longest accepted identifier (`customerId`, `runId`, `agentId`, `idempotencyKey`,
/// `responseId`), in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// Longest accepted `provider` or `model` name, in bytes.
pub const MAX_NAME_BYTES: usize = 512;
/// Longest accepted `inferenceGeo` / `speed` / `serviceTier` value, in bytes.
pub const MAX_ATTR_BYTES: usize = 64;
/// Largest accepted epoch-millisecond timestamp: 9999-12-31T23:59:59.999Z.
pub const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// What kind of step an event records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// An LLM call, priced from the rate card (`"llm"`, `"track"`, or no `type`).
    #[default]
    Llm,
    /// A tool call: its cost is `externalCostCents` / `providerCostCents`.
    Tool,
    /// A retrieval step: its cost is `externalCostCents` / `providerCostCents`.
    Retrieval,
    /// An LLM call whose response ended before the provider reported its usage (a stream
    /// the caller stopped early, a connection cut mid-way): the call happened, its usage and
    /// cost are unknown. It carries no usage or cost fields and is booked as an unpriced
    /// event (reason `truncated`, with a warning), never as a zero-token call
    /// (docs/reference/events.md (truncated calls)).
    Truncated,
}

impl EventKind {
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Llm => "llm",
            EventKind::Tool => "tool",
            EventKind::Retrieval => "retrieval",
            EventKind::Truncated => "truncated",
        }
    }
}

/// Outcome of a run (docs/reference/ledger.md (runs)). Only `Resolved` earns outcome revenue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The run achieved its goal.
    Resolved,
    /// The run was handed to a human.
    Escalated,
    /// The run failed.
    Failed,
}

impl Outcome {
    /// Parses `resolved | escalated | failed` (exact, lower case).
    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "resolved" => Some(Outcome::Resolved),
            "escalated" => Some(Outcome::Escalated),
            "failed" => Some(Outcome::Failed),
            _ => None,
        }
    }

    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::Escalated => "escalated",
            Outcome::Failed => "failed",
        }
    }
}

/// One parsed, validated event.
///
/// `Event::default()` is an `llm` event of one unit with no usage, as an object naming only
/// a model parses:
///
/// ```
/// use tollgate_engine::event::Event;
/// assert_eq!(Event::default().units, 1);
/// let parsed = Event::from_json(br#"{"model":"m"}"#).unwrap();
/// assert_eq!(Event { model: Some("m".into()), ..Event::default() }, parsed);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `type`.
    pub kind: EventKind,
    /// `customerId` (required by the ledger, optional for pricing alone).
    pub customer_id: Option<String>,
    /// `runId`.
    pub run_id: Option<String>,
    /// `agentId`.
    pub agent_id: Option<String>,
    /// `provider`: a LiteLLM provider name or a gateway (`openai_compatible`, `openrouter`).
    pub provider: Option<String>,
    /// `model` as the caller or the provider response gives it (required for `llm` events).
    pub model: Option<String>,
    /// The usage fields of docs/reference/events.md (usage).
    pub usage: Usage,
    /// `providerCostCents`: stated cost, used verbatim instead of the rate card.
    pub provider_cost_cents: Option<Cents>,
    /// `externalCostCents`: extra non-LLM cost, added verbatim.
    pub external_cost_cents: Option<Cents>,
    /// `revenueUnitCents`: explicit revenue per unit for this event.
    pub revenue_unit_cents: Option<Cents>,
    /// `units` (default 1).
    pub units: u64,
    /// `outcome`: a single-call run's outcome, as if resolved at once.
    pub outcome: Option<Outcome>,
    /// `idempotencyKey`; falls back to `responseId` when absent.
    pub idempotency_key: Option<String>,
    /// `timestamp` / `ts` in epoch milliseconds (UTC); `None` = ingest time.
    pub timestamp_ms: Option<i64>,
    /// `responseId` as extracted from the provider response (informational).
    pub response_id: Option<String>,
    /// `reportedCostCents`: a cost the provider reported alongside usage (e.g. OpenRouter
    /// `usage.cost`), kept for audit; it does not replace the rate card.
    pub reported_cost_cents: Option<Cents>,
}

/// An [`Event`] whose text borrows from the JSON it was parsed from (a string written with
/// escapes is decoded into its own buffer): the same validation, without copying the
/// identifiers. For callers that use an event and drop it, such as pricing one line.
///
/// ```
/// use tollgate_engine::event::EventRef;
/// let line = br#"{"provider":"openai","model":"gpt-4o","tokensIn":1000}"#;
/// let e = EventRef::from_json(line).unwrap();
/// assert_eq!(e.model.as_deref(), Some("gpt-4o"));
/// assert_eq!(e.into_owned().usage.tokens_in, 1000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRef<'a> {
    /// `type`.
    pub kind: EventKind,
    /// `customerId`.
    pub customer_id: Option<Cow<'a, str>>,
    /// `runId`.
    pub run_id: Option<Cow<'a, str>>,
    /// `agentId`.
    pub agent_id: Option<Cow<'a, str>>,
    /// `provider`.
    pub provider: Option<Cow<'a, str>>,
    /// `model` (required for `llm` events).
    pub model: Option<Cow<'a, str>>,
    /// The usage fields of docs/reference/events.md (usage).
    pub usage: Usage,
    /// `providerCostCents`.
    pub provider_cost_cents: Option<Cents>,
    /// `externalCostCents`.
    pub external_cost_cents: Option<Cents>,
    /// `revenueUnitCents`.
    pub revenue_unit_cents: Option<Cents>,
    /// `units` (default 1).
    pub units: u64,
    /// `outcome`.
    pub outcome: Option<Outcome>,
    /// `idempotencyKey`.
    pub idempotency_key: Option<Cow<'a, str>>,
    /// `timestamp` / `ts` in epoch milliseconds (UTC); `None` = ingest time.
    pub timestamp_ms: Option<i64>,
    /// `responseId`.
    pub response_id: Option<Cow<'a, str>>,
    /// `reportedCostCents`.
    pub reported_cost_cents: Option<Cents>,
}

impl<'a> EventRef<'a> {
    /// Parses one JSON object into an event, validating every field exactly as
    /// [`Event::from_json`] does (same accepted inputs, same errors).
    pub fn from_json(bytes: &'a [u8]) -> Result<EventRef<'a>, EventError> {
        let mut fields = parse::Fields::new();
        parse::parse(bytes, &mut fields).map_err(|e| err(e.field(), e.reason()))?;
        validate(&mut fields)
    }

    /// The owned event.
    pub fn into_owned(self) -> Event {
        let own = |s: Option<Cow<'_, str>>| s.map(Cow::into_owned);
        Event {
            kind: self.kind,
            customer_id: own(self.customer_id),
            run_id: own(self.run_id),
            agent_id: own(self.agent_id),
            provider: own(self.provider),
            model: own(self.model),
            usage: self.usage,
            provider_cost_cents: self.provider_cost_cents,
            external_cost_cents: self.external_cost_cents,
            revenue_unit_cents: self.revenue_unit_cents,
            units: self.units,
            outcome: self.outcome,
            idempotency_key: own(self.idempotency_key),
            timestamp_ms: self.timestamp_ms,
            response_id: own(self.response_id),
            reported_cost_cents: self.reported_cost_cents,
        }
    }
}

impl Event {
    /// The event's fields borrowed (the inverse of [`EventRef::into_owned`]): no string is
    /// copied, so a context event kept across calls can be merged into each call's events
    /// for free.
    ///
    /// ```
    /// use tollgate_engine::event::Event;
    /// let e = Event::from_json(br#"{"customerId":"cust-1","model":"gpt-4o"}"#).unwrap();
    /// let r = e.borrowed();
    /// assert_eq!(r.customer_id.as_deref(), Some("cust-1"));
    /// assert_eq!(r.into_owned(), e);
    /// ```
    pub fn borrowed(&self) -> EventRef<'_> {
        fn b(s: &Option<String>) -> Option<Cow<'_, str>> {
            s.as_deref().map(Cow::Borrowed)
        }
        EventRef {
            kind: self.kind,
            customer_id: b(&self.customer_id),
            run_id: b(&self.run_id),
            agent_id: b(&self.agent_id),
            provider: b(&self.provider),
            model: b(&self.model),
            usage: self.usage.clone(),
            provider_cost_cents: self.provider_cost_cents,
            external_cost_cents: self.external_cost_cents,
            revenue_unit_cents: self.revenue_unit_cents,
            units: self.units,
            outcome: self.outcome,
            idempotency_key: b(&self.idempotency_key),
            timestamp_ms: self.timestamp_ms,
            response_id: b(&self.response_id),
            reported_cost_cents: self.reported_cost_cents,
        }
    }
}

impl Default for Event {
    /// An `llm` event of one unit (the documented default of `units`) with no usage.
    fn default() -> Event {
        EventRef::default().into_owned()
    }
}

impl Default for EventRef<'_> {
    /// An `llm` event of one unit (the documented default of `units`) with no usage.
    fn default() -> Self {
        EventRef {
            kind: EventKind::default(),
            customer_id: None,
            run_id: None,
            agent_id: None,
            provider: None,
            model: None,
            usage: Usage::default(),
            provider_cost_cents: None,
            external_cost_cents: None,
            revenue_unit_cents: None,
            units: 1,
            outcome: None,
            idempotency_key: None,
            timestamp_ms: None,
            response_id: None,
            reported_cost_cents: None,
        }
    }
}

/// The fields of an [`Event`] or an [`EventRef`], borrowed: what the engine and the ledger read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventView<'a> {
    pub kind: EventKind,
    pub customer_id: Option<&'a str>,
    pub run_id: Option<&'a str>,
    pub agent_id: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub model: Option<&'a str>,
    pub usage: &'a Usage,
    pub provider_cost_cents: Option<Cents>,
    pub external_cost_cents: Option<Cents>,
    pub revenue_unit_cents: Option<Cents>,
    pub units: u64,
    pub outcome: Option<Outcome>,
    pub idempotency_key: Option<&'a str>,
    pub timestamp_ms: Option<i64>,
    pub response_id: Option<&'a str>,
}

impl EventView<'_> {
    /// As [`Event::dedupe_key`].
    pub fn dedupe_key(&self) -> Option<&str> {
        self.idempotency_key.or(self.response_id)
    }
}

impl Event {
    pub(crate) fn view(&self) -> EventView<'_> {
        EventView {
            kind: self.kind,
            customer_id: self.customer_id.as_deref(),
            run_id: self.run_id.as_deref(),
            agent_id: self.agent_id.as_deref(),
            provider: self.provider.as_deref(),
            model: self.model.as_deref(),
            usage: &self.usage,
            provider_cost_cents: self.provider_cost_cents,
            external_cost_cents: self.external_cost_cents,
            revenue_unit_cents: self.revenue_unit_cents,
            units: self.units,
            outcome: self.outcome,
            idempotency_key: self.idempotency_key.as_deref(),
            timestamp_ms: self.timestamp_ms,
            response_id: self.response_id.as_deref(),
        }
    }
}

impl EventRef<'_> {
    pub(crate) fn view(&self) -> EventView<'_> {
        EventView {
            kind: self.kind,
            customer_id: self.customer_id.as_deref(),
            run_id: self.run_id.as_deref(),
            agent_id: self.agent_id.as_deref(),
            provider: self.provider.as_deref(),
            model: self.model.as_deref(),
            usage: &self.usage,
            provider_cost_cents: self.provider_cost_cents,
            external_cost_cents: self.external_cost_cents,
            revenue_unit_cents: self.revenue_unit_cents,
            units: self.units,
            outcome: self.outcome,
            idempotency_key: self.idempotency_key.as_deref(),
            timestamp_ms: self.timestamp_ms,
            response_id: self.response_id.as_deref(),
        }
    }
}

/// Why an event was rejected. `field` is the camelCase wire name (empty for whole-record
/// problems such as malformed JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError {
    /// The offending field, or `""` when the record as a whole is at fault.
    pub field: &'static str,
    /// What is wrong, in words.
    pub reason: String,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for EventError {}

fn err(field: &'static str, reason: impl Into<String>) -> EventError {
    EventError {
        field,
        reason: reason.into(),
    }
}

impl Event {
    /// Parses one JSON object into an event, validating every field.
    ///
    /// ```
    /// use tollgate_engine::event::Event;
    /// let e = Event::from_json(br#"{"provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":20}"#).unwrap();
    /// assert_eq!(e.usage.tokens_in, 1000);
    /// assert_eq!(e.units, 1);
    ///
    /// let typo = Event::from_json(br#"{"model":"gpt-4o","tokenIn":5}"#).unwrap_err();
    /// assert!(typo.to_string().contains("unknown field `tokenIn`"));
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Event, EventError> {
        EventRef::from_json(bytes).map(EventRef::into_owned)
    }

    /// The key used for exactly-once dedupe: `idempotencyKey`, else `responseId`.
    pub fn dedupe_key(&self) -> Option<&str> {
        self.idempotency_key
            .as_deref()
            .or(self.response_id.as_deref())
    }
}

impl<'a> EventRef<'a> {
    /// The `llm` event of one extracted line item, merged with a `context` event that says
    /// who and what the call was for (`customerId`, `runId`, `agentId`, `idempotencyKey`,
    /// `timestamp`, `revenueUnitCents`, `units`, `outcome`, `externalCostCents`; its other
    /// fields are ignored). Built directly, borrowing the item's and the context's text: the
    /// same event as [`EventRef::from_json`] of the item's [`LineItem::to_json`] with the
    /// context's members added, without the JSON text in between.
    ///
    /// The item's fields are checked as [`EventRef::from_json`] checks them (counts within
    /// [`MAX_COUNT`], `model` and `responseId` lengths and control characters, the same
    /// errors); `context` is taken as already valid (for instance parsed by
    /// [`EventRef::from_json`]).
    ///
    /// ```
    /// use tollgate_engine::event::EventRef;
    /// use tollgate_engine::extract::{extract, Provider};
    /// let body = br#"{"id":"chatcmpl-1","model":"gpt-4o","usage":{"prompt_tokens":10,"completion_tokens":2}}"#;
    /// let items = extract(Provider::OpenAi, None, body).unwrap();
    /// let context = EventRef { customer_id: Some("cust-1".into()), ..EventRef::default() };
    /// let e = EventRef::from_line_item(&items[0], &context).unwrap();
    /// let json = items[0].to_json().replace("}", r#","customerId":"cust-1"}"#);
    /// assert_eq!(e, EventRef::from_json(json.as_bytes()).unwrap());
    /// assert_eq!(e.dedupe_key(), Some("chatcmpl-1"));
    /// ```
    pub fn from_line_item(
        item: &'a LineItem,
        context: &EventRef<'a>,
    ) -> Result<EventRef<'a>, EventError> {
        let mut usage = item.usage.clone();
        if !item.reasoning_reported {
            // `reasoningTokens: null` in the item's JSON: absent.
            usage.reasoning_tokens = 0;
        }
        usage.service_tier = item.served_tier.unwrap_or(ServiceTier::Standard);
        // In `validate`'s order: counts, attributes, model; then (after the context's
        // fields) the response id.
        if usage.validate().is_err() {
            for (field, v) in usage.counts() {
                if v > MAX_COUNT {
                    return Err(err(
                        field,
                        parse_count(&v.to_string()).err().unwrap_or_default(),
                    ));
                }
            }
        }
        let borrowed = |s: &'a str| (Some(Cow::Borrowed(s)), false);
        for (v, field) in [
            (usage.inference_geo.as_deref(), "inferenceGeo"),
            (usage.speed.as_deref(), "speed"),
        ] {
            if let Some(v) = v {
                checked_str((Some(Cow::Borrowed(v)), false), field, MAX_ATTR_BYTES)?;
            }
        }
        let model = name(borrowed(&item.model), "model")?;
        let response_id = match &item.response_id {
            Some(r) => id(borrowed(r), "responseId")?,
            None => None,
        };
        Ok(EventRef {
            kind: EventKind::Llm,
            customer_id: context.customer_id.clone(),
            run_id: context.run_id.clone(),
            agent_id: context.agent_id.clone(),
            provider: Some(Cow::Borrowed(item.provider.as_str())),
            model,
            usage,
            provider_cost_cents: None,
            external_cost_cents: context.external_cost_cents,
            revenue_unit_cents: context.revenue_unit_cents,
            units: context.units,
            outcome: context.outcome,
            idempotency_key: context.idempotency_key.clone(),
            timestamp_ms: context.timestamp_ms,
            response_id,
            reported_cost_cents: item.reported_cost_cents,
        })
    }

    /// The key used for exactly-once dedupe: `idempotencyKey`, else `responseId`.
    pub fn dedupe_key(&self) -> Option<&str> {
        self.idempotency_key
            .as_deref()
            .or(self.response_id.as_deref())
    }
}

/// Validates the collected fields, in a fixed order (the first failing field is reported).
fn validate<'a>(raw: &mut parse::Fields<'a>) -> Result<EventRef<'a>, EventError> {
    let kind = match raw.take_str(f::TYPE).as_deref() {
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
            tokens_in: count(raw, f::TOKENS_IN, "tokensIn")?,
            cached_tokens: count(raw, f::CACHED_TOKENS, "cachedTokens")?,
            cache_write_5m_tokens: count(raw, f::CACHE_WRITE_5M, "cacheWrite5mTokens")?,
            cache_write_1h_tokens: count(raw, f::CACHE_WRITE_1H, "cacheWrite1hTokens")?,
            audio_tokens_in: count(raw, f::AUDIO_IN, "audioTokensIn")?,
            image_tokens_in: count(raw, f::IMAGE_IN, "imageTokensIn")?,
            tokens_out: count(raw, f::TOKENS_OUT, "tokensOut")?,
            reasoning_tokens: count(raw, f::REASONING, "reasoningTokens")?,
            audio_tokens_out: count(raw, f::AUDIO_OUT, "audioTokensOut")?,
            image_tokens_out: count(raw, f::IMAGE_OUT, "imageTokensOut")?,
            web_search_requests: count(raw, f::WEB_SEARCH, "webSearchRequests")?,
            tool_calls: count(raw, f::TOOL_CALLS, "toolCalls")?,
            service_tier: match raw.take_str(f::SERVICE_TIER).as_deref() {
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
            inference_geo: attr(raw.text(f::INFERENCE_GEO), "inferenceGeo")?,
            speed: attr(raw.text(f::SPEED), "speed")?,
        };
    let model = name(raw.text(f::MODEL), "model")?;
    if kind == EventKind::Llm && model.is_none() {
        return Err(err("model", "is required for an llm event"));
    }
    let units = match raw.raw(f::UNITS) {
        None => 1,
        Some(v) => parse_count(v).map_err(|r| err("units", r))?,
    };
    if kind == EventKind::Truncated {
        truncated_fields(raw, &usage)?;
    }
    let timestamp_ms = match (raw.raw(f::TIMESTAMP), raw.raw(f::TS)) {
        (Some(_), Some(_)) => {
            return Err(err("timestamp", "given twice (as timestamp and as ts)"));
        }
        (Some(_), None) => timestamp(raw, f::TIMESTAMP, "timestamp")?,
        (None, Some(_)) => timestamp(raw, f::TS, "ts")?,
        (None, None) => None,
    };
    Ok(EventRef {
        kind,
        customer_id: id(raw.text(f::CUSTOMER_ID), "customerId")?,
        run_id: id(raw.text(f::RUN_ID), "runId")?,
        agent_id: id(raw.text(f::AGENT_ID), "agentId")?,
        provider: name(raw.text(f::PROVIDER), "provider")?,
        model,
        usage,
        provider_cost_cents: amount(raw.raw(f::PROVIDER_COST), "providerCostCents")?,
        external_cost_cents: amount(raw.raw(f::EXTERNAL_COST), "externalCostCents")?,
        revenue_unit_cents: amount(raw.raw(f::REVENUE_UNIT), "revenueUnitCents")?,
        reported_cost_cents: amount(raw.raw(f::REPORTED_COST), "reportedCostCents")?,
        units,
        outcome: match raw.take_str(f::OUTCOME).as_deref() {
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
        idempotency_key: id(raw.text(f::IDEMPOTENCY_KEY), "idempotencyKey")?,
        response_id: id(raw.text(f::RESPONSE_ID), "responseId")?,
        timestamp_ms,
    })
}

/// A `truncated` event states that its usage is unknown: a usage count or a cost on it would
/// contradict that (the first such field is reported).
fn truncated_fields(raw: &parse::Fields<'_>, usage: &Usage) -> Result<(), EventError> {
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
    for (slot, field) in [
        (f::PROVIDER_COST, "providerCostCents"),
        (f::EXTERNAL_COST, "externalCostCents"),
        (f::REPORTED_COST, "reportedCostCents"),
    ] {
        if raw.raw(slot).is_some() {
            return Err(err(
                field,
                "a truncated event carries no cost: its cost is unknown",
            ));
        }
    }
    Ok(())
}

/// serde_json's message, without echoing any of the input text.
pub(crate) fn json_reason(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax => format!("malformed JSON at line {} column {}", e.line(), e.column()),
        Category::Eof => "malformed JSON: unexpected end of input".to_string(),
        Category::Io => format!("I/O error: {e}"),
        Category::Data => e.to_string(),
    }
}

/// At most 64 characters of a user value for an error message.
pub(crate) fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(64).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// `s.chars().any(char::is_control)` on bytes: C0 controls, DEL, and C1 controls
/// (U+0080–U+009F, encoded `C2 80`–`C2 9F`). Inlined where ids are checked: ASCII ids of 4 to
/// 16 bytes (most of them) are settled here in a few instructions, anything else by
/// [`has_control_slow`].
#[inline(always)]
pub(crate) fn has_control(s: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A word of ASCII bytes (each ≤ 0x7F, so adding below never carries into the next byte)
    // is clean when every byte + 0x60 reaches 0x80 (no byte below 0x20) and no byte + 1 does
    // (no 0x7F).
    let ascii_clean = |w: u64| {
        (w | w.wrapping_add(ONES)) & HIGH == 0 && w.wrapping_add(ONES * 0x60) & HIGH == HIGH
    };
    let b = s.as_bytes();
    // Two overlapping loads cover every byte, tested as one or two words.
    let clean = match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(h), Some(t)) if b.len() <= 16 => {
            ascii_clean(u64::from_le_bytes(*h)) && ascii_clean(u64::from_le_bytes(*t))
        }
        (None, _) => match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
            (Some(h), Some(t)) => ascii_clean(
                u64::from(u32::from_le_bytes(*h)) | (u64::from(u32::from_le_bytes(*t)) << 32),
            ),
            _ => false,
        },
        _ => false,
    };
    !clean && has_control_slow(b)
}

/// [`has_control`] of any text.
#[inline(never)]
fn has_control_slow(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let suspicious_word = |w: u64| {
        (w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0)
            || zero_byte(w ^ (ONES * 0x7f))
            || zero_byte(w ^ (ONES * 0xc2))
    };
    // Ids (4 to 16 bytes): two overlapping loads cover every byte, tested as one or two
    // words, with no per-byte loop.
    let short = match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(h), Some(t)) if b.len() <= 16 => {
            Some(suspicious_word(u64::from_le_bytes(*h)) || suspicious_word(u64::from_le_bytes(*t)))
        }
        (None, _) => match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
            (Some(h), Some(t)) => Some(suspicious_word(
                u64::from(u32::from_le_bytes(*h)) | (u64::from(u32::from_le_bytes(*t)) << 32),
            )),
            _ => None,
        },
        _ => None,
    };
    if short == Some(false) {
        return false;
    }
    // Fast path, 8 bytes at a time: no byte below 0x20, no 0x7F, no 0xC2 (which starts C1).
    let mut chunks = b.chunks_exact(8);
    let suspicious = chunks.any(|c| {
        suspicious_word(u64::from_le_bytes([
            c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
        ]))
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

/// Parses a JSON count literal: a non-negative integer ≤ 2^53, no fraction, no exponent.
pub(crate) fn parse_count(text: &str) -> Result<u64, String> {
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

/// A count field: 0 when absent.
#[inline]
fn count(raw: &parse::Fields<'_>, k: usize, field: &'static str) -> Result<u64, EventError> {
    // A plain integer was read while parsing; its text decides only when it is too large.
    if let Some(v) = raw.plain(k)
        && v <= MAX_COUNT
    {
        return Ok(v);
    }
    match raw.raw(k) {
        None => Ok(0),
        Some(v) => parse_count(v).map_err(|r| err(field, r)),
    }
}

/// Parses an amount given as a JSON number or a string holding a decimal; must be ≥ 0.
pub(crate) fn parse_amount(text: &str) -> Result<Cents, String> {
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

fn amount(v: Option<&str>, field: &'static str) -> Result<Option<Cents>, EventError> {
    match v {
        None => Ok(None),
        Some(v) => parse_amount(v).map(Some).map_err(|r| err(field, r)),
    }
}

/// A string field's value: `None` when absent; checked against `max` bytes and control
/// characters (`plain`: the parser saw only printable ASCII, so there are none).
fn checked_str<'a>(
    (v, plain): (Option<Cow<'a, str>>, bool),
    field: &'static str,
    max: usize,
) -> Result<Option<Cow<'a, str>>, EventError> {
    match v {
        None => Ok(None),
        Some(s) if s.is_empty() => Err(err(field, "must not be empty")),
        Some(s) if s.len() > max => Err(err(
            field,
            format!("is {} bytes long; the limit is {max}", s.len()),
        )),
        Some(s) if !plain && has_control(&s) => {
            Err(err(field, "must not contain control characters"))
        }
        Some(s) => Ok(Some(s)),
    }
}

fn id<'a>(
    v: (Option<Cow<'a, str>>, bool),
    field: &'static str,
) -> Result<Option<Cow<'a, str>>, EventError> {
    checked_str(v, field, MAX_ID_BYTES)
}

fn name<'a>(
    v: (Option<Cow<'a, str>>, bool),
    field: &'static str,
) -> Result<Option<Cow<'a, str>>, EventError> {
    checked_str(v, field, MAX_NAME_BYTES)
}

fn attr(
    v: (Option<Cow<'_, str>>, bool),
    field: &'static str,
) -> Result<Option<Box<str>>, EventError> {
    Ok(checked_str(v, field, MAX_ATTR_BYTES)?.map(|s| Box::from(s.as_ref())))
}

/// Parses `timestamp`: RFC 3339 text or epoch milliseconds (a non-negative integer).
pub(crate) fn parse_timestamp(text: &str) -> Result<i64, String> {
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

fn timestamp(
    raw: &parse::Fields<'_>,
    k: usize,
    field: &'static str,
) -> Result<Option<i64>, EventError> {
    if let Some(v) = raw.plain(k)
        && let Ok(ms) = i64::try_from(v)
        && ms <= MAX_TIMESTAMP_MS
    {
        return Ok(Some(ms));
    }
    match raw.raw(k) {
        None => Ok(None),
        Some(v) => parse_timestamp(v).map(Some).map_err(|r| err(field, r)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(json: &str) -> EventError {
        Event::from_json(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn parses_every_field() {
        let e = Event::from_json(
            br#"{"type":"llm","customerId":"c1","runId":"r1","agentId":"a1","provider":"anthropic",
            "model":"claude-sonnet-4-5","tokensIn":3,"cachedTokens":1111,"cacheWrite5mTokens":418,
            "cacheWrite1hTokens":7,"audioTokensIn":0,"imageTokensIn":1,"tokensOut":33,"reasoningTokens":null,
            "audioTokensOut":0,"imageTokensOut":0,"webSearchRequests":1,"toolCalls":2,"serviceTier":"fast",
            "inferenceGeo":"us","speed":"fast","providerCostCents":"1.25","externalCostCents":0.5,
            "revenueUnitCents":10,"units":3,"outcome":"resolved","idempotencyKey":"k1",
            "responseId":"msg_1","timestamp":"2026-01-02T03:04:05.006Z"}"#,
        )
        .unwrap();
        assert_eq!(e.usage.cached_tokens, 1111);
        assert_eq!(e.usage.reasoning_tokens, 0);
        assert_eq!(e.usage.service_tier, ServiceTier::Priority);
        assert_eq!(e.provider_cost_cents.unwrap().to_string(), "1.25");
        assert_eq!(e.external_cost_cents.unwrap().to_string(), "0.5");
        assert_eq!(e.units, 3);
        assert_eq!(e.outcome, Some(Outcome::Resolved));
        // 2026-01-02T03:04:05.006Z: 20455 days × 86 400 000 + 3h4m5.006s (hand computed).
        assert_eq!(e.timestamp_ms, Some(20_455 * 86_400_000 + 11_045_006));
        assert_eq!(e.dedupe_key(), Some("k1"));
    }

    #[test]
    fn bad_counts_name_the_field() {
        assert_eq!(reject(r#"{"model":"m","tokensIn":-1}"#).field, "tokensIn");
        assert!(
            reject(r#"{"model":"m","tokensIn":-1}"#)
                .reason
                .contains("negative")
        );
        assert!(
            reject(r#"{"model":"m","tokensOut":1.5}"#)
                .reason
                .contains("whole number")
        );
        assert!(
            reject(r#"{"model":"m","cachedTokens":9007199254740993}"#)
                .reason
                .contains("2^53")
        );
        assert_eq!(
            Event::from_json(br#"{"model":"m","cachedTokens":9007199254740992}"#)
                .unwrap()
                .usage
                .cached_tokens,
            1 << 53
        );
        assert!(
            reject(r#"{"model":"m","tokensIn":"5"}"#)
                .reason
                .contains("not a string")
        );
    }

    #[test]
    fn typos_and_missing_model_are_rejected() {
        assert!(
            reject(r#"{"model":"m","tokenIn":5}"#)
                .reason
                .contains("unknown field `tokenIn`")
        );
        assert_eq!(reject(r#"{"tokensIn":5}"#).field, "model");
        assert_eq!(
            Event::from_json(br#"{"type":"tool","externalCostCents":"3"}"#)
                .unwrap()
                .kind,
            EventKind::Tool
        );
        assert_eq!(
            reject(r#"{"model":"m","serviceTier":"gold"}"#).field,
            "serviceTier"
        );
        assert_eq!(reject(r#"{"type":"resolve","runId":"r"}"#).field, "type");
        assert!(reject(r#"{"model":"m""#).reason.contains("malformed JSON"));
    }

    #[test]
    fn control_characters_match_char_is_control() {
        for c in ['\u{0}', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}'] {
            assert!(has_control(&format!("a{c}b")), "{c:?}");
        }
        for c in [' ', '~', '\u{a0}', 'é', '€', '\u{c2}'] {
            assert!(!has_control(&format!("a{c}b")), "{c:?}");
            // Also inside an 8-byte word of the fast path.
            assert!(!has_control(&format!("abcdefgh{c}ijklmnop")), "{c:?}");
        }
        for c in ['\u{0}', '\u{1f}', '\u{7f}', '\u{85}'] {
            assert!(has_control(&format!("abcdefgh{c}ijklmnop")), "{c:?}");
        }
        // Ids of 1 to 20 bytes (the short path covers 4 to 16 with two overlapping loads):
        // one control character at every position is found, the same text without it passes.
        for n in 1..=20 {
            for at in 0..n {
                for c in ['\u{0}', '\u{1f}', '\u{7f}', '\u{85}'] {
                    let s: String = (0..n).map(|i| if i == at { c } else { 'x' }).collect();
                    assert!(has_control(&s), "{n} {at} {c:?}");
                }
                let s: String = (0..n).map(|i| if i == at { 'é' } else { 'x' }).collect();
                assert!(!has_control(&s), "{n} {at}");
            }
        }
        // Every ASCII byte at every position of 1 to 20 bytes, between the fillers at the
        // edges of the printable range (space, `~`) and a plain letter: a control exactly
        // when `char::is_control` says so.
        for n in 1..=20 {
            for at in 0..n {
                for b in 0u8..=0x7f {
                    for fill in [' ', '~', 'x'] {
                        let s: String = (0..n)
                            .map(|i| if i == at { char::from(b) } else { fill })
                            .collect();
                        assert_eq!(
                            has_control(&s),
                            char::from(b).is_control(),
                            "{n} {at} {b:#x} {fill:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bad_amounts_and_ids() {
        assert!(
            reject(r#"{"model":"m","providerCostCents":-1}"#)
                .reason
                .contains("negative")
        );
        assert!(
            reject(r#"{"model":"m","externalCostCents":"abc"}"#)
                .reason
                .contains("decimal amount")
        );
        let long = "k".repeat(MAX_ID_BYTES + 1);
        assert_eq!(
            reject(&format!(r#"{{"model":"m","idempotencyKey":"{long}"}}"#)).field,
            "idempotencyKey"
        );
        assert_eq!(
            reject(r#"{"model":"m","timestamp":"yesterday"}"#).field,
            "timestamp"
        );
        assert_eq!(
            Event::from_json(br#"{"model":"m","ts":1700000000000}"#)
                .unwrap()
                .timestamp_ms,
            Some(1_700_000_000_000)
        );
    }
}

#[cfg(test)]
mod review_tests {
    use super::*;

    #[test]
    fn default_event_is_one_unit_as_parsed() {
        assert_eq!(Event::default().units, 1);
        assert_eq!(EventRef::default().units, 1);
        let parsed = Event::from_json(br#"{"model":"m"}"#).unwrap();
        assert_eq!(
            Event {
                model: Some("m".into()),
                ..Event::default()
            },
            parsed
        );
    }

    #[test]
    fn only_an_object_is_an_event() {
        // The positional array form serde allowed for a struct: 31 elements, in field order.
        let mut array = String::from("[null,\"c1\"");
        for _ in 2..31 {
            array.push_str(",null");
        }
        array.push(']');
        let e = Event::from_json(array.as_bytes()).unwrap_err();
        assert_eq!(e.field, "");
        assert_eq!(
            e.reason,
            "invalid type: sequence, expected a JSON object at line 1 column 1"
        );
        let e = Event::from_json(b"  7").unwrap_err();
        assert_eq!(
            e.reason,
            "invalid type: integer `7`, expected a JSON object at line 1 column 3"
        );
        let e = Event::from_json(b"[]").unwrap_err();
        assert!(e.reason.contains("expected a JSON object"), "{e}");
    }

    #[test]
    fn a_non_utf8_byte_in_a_string_names_its_field() {
        // Byte 0xFF is the 24th byte (column 24) of the line.
        let e = Event::from_json(b"{\"model\":\"m\",\"runId\":\"r\xff1\"}").unwrap_err();
        assert_eq!(e.field, "runId");
        assert_eq!(
            e.reason,
            "invalid UTF-8 inside a string at line 1 column 24"
        );
        // With an escape before it (the slow path through the decoder).
        let e = Event::from_json(b"{\"customerId\":\"\\n\xc3\"}").unwrap_err();
        assert_eq!(e.field, "customerId");
        // A string where a number belongs: still that field.
        let e = Event::from_json(b"{\"tokensIn\":\"\xff\"}").unwrap_err();
        assert_eq!(e.field, "tokensIn");
        // Inside a key there is no field to name.
        let e = Event::from_json(b"{\"x\xff\":1}").unwrap_err();
        assert_eq!(e.field, "");
        assert!(e.reason.starts_with("invalid UTF-8 inside a string"), "{e}");
    }
}
