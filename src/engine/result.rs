//! What a price call takes and returns: [`PriceInput`], [`PriceResult`] (and its JSON wire
//! form), the allocation-free [`PricedCost`], and the error and enum types they use.

use crate::event::{Event, EventKind, EventRef, EventView};
use crate::lookup::MatchKind;
use crate::money::Cents;
use crate::ratecard::SnapshotId;
use crate::usage::Usage;
use std::fmt;
use std::sync::Arc;

/// Where the cost of a result came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CostSource {
    /// Token counts × the rate card (or an override).
    RateCard,
    /// `providerCostCents` used verbatim.
    Provider,
    /// A non-LLM event (`tool`, `retrieval`): only `externalCostCents`.
    External,
    /// Nothing priced it (see [`UnpricedReason`]).
    Unpriced,
}

/// Why an event is unpriced (costs 0 but is *not* a real $0 price).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnpricedReason {
    /// The model name matches no registry entry.
    UnknownModel,
    /// The entry exists but has no token prices (priced per second, per image, …).
    NoTokenPrice,
    /// A `truncated` event: the response ended before the provider reported its usage, so
    /// there is nothing to price (its cost is unknown, not zero).
    Truncated,
}

/// The result of pricing one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceResult {
    /// Total cost in cents: the LLM cost (rate card or provider-stated) plus
    /// `externalCostCents`. Exact.
    pub cost_cents: Cents,
    /// False when the LLM part could not be priced (`reason` says why).
    pub priced: bool,
    /// Where the cost came from.
    pub source: CostSource,
    /// The registry key (or override name) found, `None` when the name matched nothing.
    pub model: Option<Arc<str>>,
    /// How the model matched, `None` when the name matched nothing.
    pub match_kind: Option<MatchKind>,
    /// The snapshot that priced the event.
    pub snapshot: SnapshotId,
    /// Why it is unpriced.
    pub reason: Option<UnpricedReason>,
    /// Warnings, e.g. inconsistent usage (`reasoningTokens > tokensOut`), or web searches
    /// the rate card has no per-search price for.
    pub warnings: Vec<String>,
    /// The part of `cost_cents` that is web searches (`webSearchRequests` × the entry's
    /// per-search price, docs/reference/pricing.md (web searches)); 0 when there were none, when
    /// the rate card has no per-search price for the model, or when the cost did not come from
    /// the rate card (a provider-stated cost is taken whole).
    pub web_search_cents: Cents,
}

impl PriceResult {
    /// Appends the result as one JSON object (no newline), the wire form of `tollgate price`
    /// and of the C ABI's JSON price path: camelCase, the amount an exact decimal string of
    /// cents, the snapshot id as 16 hex digits, absent values as `null`.
    ///
    /// ```
    /// use tollgate_engine::engine::{Engine, PriceInput};
    /// use tollgate_engine::usage::Usage;
    ///
    /// let engine = Engine::embedded();
    /// // gpt-4o: $2.50 per million input tokens = 0.00025 cents per token.
    /// let usage = Usage { tokens_in: 1_000, ..Usage::default() };
    /// let r = engine.price(&PriceInput::llm(Some("openai"), "gpt-4o", &usage))?;
    /// let json = r.to_json();
    /// assert!(json.starts_with(r#"{"costCents":"0.25","priced":true,"model":"gpt-4o","snapshot":""#));
    /// assert!(json.ends_with(r#""reason":null,"warnings":[],"match":"exact","source":"ratecard","webSearchCents":"0"}"#));
    /// # Ok::<(), tollgate_engine::engine::PriceError>(())
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use crate::json_text::{write_cents, write_hex16, write_json_str};
        let quoted = |out: &mut Vec<u8>, s: Option<&str>| match s {
            Some(s) => {
                out.push(b'"');
                out.extend_from_slice(s.as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        };
        out.extend_from_slice(b"{\"costCents\":\"");
        write_cents(out, self.cost_cents);
        out.extend_from_slice(b"\",\"priced\":");
        out.extend_from_slice(if self.priced { b"true" } else { b"false" });
        out.extend_from_slice(b",\"model\":");
        match &self.model {
            Some(m) => write_json_str(out, m),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"snapshot\":\"");
        write_hex16(out, self.snapshot.0);
        out.extend_from_slice(b"\",\"reason\":");
        // The enum names below need no escaping.
        quoted(out, self.reason.map(UnpricedReason::as_str));
        out.extend_from_slice(b",\"warnings\":[");
        for (i, w) in self.warnings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_str(out, w);
        }
        out.extend_from_slice(b"],\"match\":");
        quoted(out, self.match_kind.map(MatchKind::as_str));
        out.extend_from_slice(b",\"source\":");
        quoted(out, Some(self.source.as_str()));
        out.extend_from_slice(b",\"webSearchCents\":\"");
        write_cents(out, self.web_search_cents);
        out.extend_from_slice(b"\"}");
    }

    /// The result as a JSON object; see [`PriceResult::write_json`].
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(160);
        self.write_json(&mut out);
        // Every piece written is UTF-8 (ASCII punctuation, escaped `str`s, digits).
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The inputs of one price call, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct PriceInput<'a> {
    /// What kind of step this is (non-LLM steps skip the rate card).
    pub kind: EventKind,
    /// Provider or gateway name, if known.
    pub provider: Option<&'a str>,
    /// Model name as given.
    pub model: Option<&'a str>,
    /// The usage to price.
    pub usage: &'a Usage,
    /// Event time (epoch ms); selects the snapshot in force. `None` = now.
    pub timestamp_ms: Option<i64>,
    /// `providerCostCents`: when set, used verbatim instead of the rate card.
    pub provider_cost_cents: Option<Cents>,
    /// `externalCostCents`: added to the cost.
    pub external_cost_cents: Option<Cents>,
}

impl<'a> PriceInput<'a> {
    /// The inputs of an LLM call priced now (no timestamp, no stated costs).
    pub fn llm(provider: Option<&'a str>, model: &'a str, usage: &'a Usage) -> PriceInput<'a> {
        PriceInput {
            kind: EventKind::Llm,
            provider,
            model: Some(model),
            usage,
            timestamp_ms: None,
            provider_cost_cents: None,
            external_cost_cents: None,
        }
    }

    /// The price inputs of an event parsed without copying ([`EventRef`]).
    pub fn from_event_ref(e: &'a EventRef<'_>) -> PriceInput<'a> {
        PriceInput::from_view(&e.view())
    }

    /// The price inputs of a parsed event.
    pub fn from_event(e: &'a Event) -> PriceInput<'a> {
        PriceInput::from_view(&e.view())
    }

    pub(crate) fn from_view(e: &EventView<'a>) -> PriceInput<'a> {
        PriceInput {
            kind: e.kind,
            provider: e.provider,
            model: e.model,
            usage: e.usage,
            timestamp_ms: e.timestamp_ms,
            provider_cost_cents: e.provider_cost_cents,
            external_cost_cents: e.external_cost_cents,
        }
    }
}

/// A price call that could not produce a result at all (as opposed to an *unpriced* result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriceError {
    /// A count is outside `0..=2^53`.
    InvalidUsage(crate::usage::CountError),
    /// An `llm` event without a model name.
    MissingModel,
    /// The exact cost does not fit the fixed-point range (absurd counts × rates).
    Overflow,
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceError::InvalidUsage(e) => e.fmt(f),
            PriceError::MissingModel => f.write_str("model: is required for an llm event"),
            PriceError::Overflow => {
                f.write_str("cost exceeds the exact range of the engine (1.7e14 cents)")
            }
        }
    }
}

impl std::error::Error for PriceError {}

impl CostSource {
    /// Wire name: `ratecard`, `provider`, `external`, `unpriced`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CostSource::RateCard => "ratecard",
            CostSource::Provider => "provider",
            CostSource::External => "external",
            CostSource::Unpriced => "unpriced",
        }
    }
}

impl UnpricedReason {
    /// Wire name: `unknown_model`, `no_token_price`, `truncated`.
    pub const fn as_str(self) -> &'static str {
        match self {
            UnpricedReason::UnknownModel => "unknown_model",
            UnpricedReason::NoTokenPrice => "no_token_price",
            UnpricedReason::Truncated => "truncated",
        }
    }
}

/// The cost of one price call without the model name and warnings: a `Copy` value, nothing to
/// allocate or reference-count (see [`Engine::price_cost`](super::Engine::price_cost)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PricedCost {
    /// Total cost in cents (as [`PriceResult::cost_cents`]).
    pub cost_cents: Cents,
    /// As [`PriceResult::priced`].
    pub priced: bool,
    /// As [`PriceResult::source`].
    pub source: CostSource,
    /// As [`PriceResult::match_kind`].
    pub match_kind: Option<MatchKind>,
    /// As [`PriceResult::reason`].
    pub reason: Option<UnpricedReason>,
    /// As [`PriceResult::snapshot`].
    pub snapshot: SnapshotId,
    /// As [`PriceResult::web_search_cents`].
    pub web_search_cents: Cents,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire form, field by field, with a name that needs escaping.
    #[test]
    fn price_result_json_shape() {
        let r = PriceResult {
            cost_cents: "0.4245".parse::<Cents>().unwrap(),
            priced: true,
            source: CostSource::RateCard,
            model: Some(Arc::from("gpt-4o\"x")),
            match_kind: Some(MatchKind::Exact),
            snapshot: SnapshotId(0xab),
            reason: None,
            warnings: vec!["w1".to_string()],
            web_search_cents: Cents::ZERO,
        };
        assert_eq!(
            r.to_json(),
            r#"{"costCents":"0.4245","priced":true,"model":"gpt-4o\"x","snapshot":"00000000000000ab","reason":null,"warnings":["w1"],"match":"exact","source":"ratecard","webSearchCents":"0"}"#
        );
        let unpriced = PriceResult {
            cost_cents: Cents::ZERO,
            priced: false,
            source: CostSource::Unpriced,
            model: None,
            match_kind: None,
            snapshot: SnapshotId(u64::MAX),
            reason: Some(UnpricedReason::UnknownModel),
            warnings: Vec::new(),
            web_search_cents: Cents::ZERO,
        };
        assert_eq!(
            unpriced.to_json(),
            r#"{"costCents":"0","priced":false,"model":null,"snapshot":"ffffffffffffffff","reason":"unknown_model","warnings":[],"match":null,"source":"unpriced","webSearchCents":"0"}"#
        );
    }
}
