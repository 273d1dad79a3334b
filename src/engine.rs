//! The pricing engine: rate-card snapshot history behind `arc-swap`, overrides, and the price
//! entry points (SPEC §3.2, §4).
//!
//! INTERFACE CONTRACT (skeleton): the types and signatures below are what the ledger, the CLI
//! and the C ABI call. Their bodies are filled in by the pricing-core work (issue 2).

use crate::event::{Event, EventKind};
use crate::money::Cents;
use crate::usage::Usage;
use std::fmt;
use std::sync::Arc;

/// Identifier of a published rate-card snapshot: the first 8 bytes of the SHA-256 of its
/// source bytes, printed as 16 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotId(pub u64);

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

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

/// How the model name was matched to a registry key (SPEC §4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// The name (or `provider/name`) is a registry key.
    Exact,
    /// Found after stripping a prefix, region, date or suffix.
    Stripped,
    /// Resolved through `alias_of`.
    Alias,
    /// A gateway's `vendor/model` split was used; audit these.
    Inferred,
    /// A per-model override priced it.
    Override,
}

/// Why an event is unpriced (costs 0 but is *not* a real $0 price).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnpricedReason {
    /// The model does not resolve to any registry entry.
    UnknownModel,
    /// The entry exists but has no token prices (priced per second, per image, …).
    NoTokenPrice,
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
    /// The resolved registry key (or override name), `None` when unresolved.
    pub model: Option<Arc<str>>,
    /// How the model matched, `None` when unresolved.
    pub match_kind: Option<MatchKind>,
    /// The snapshot that priced the event.
    pub snapshot: SnapshotId,
    /// Why it is unpriced.
    pub reason: Option<UnpricedReason>,
    /// Warnings, e.g. inconsistent usage (`reasoningTokens > tokensOut`).
    pub warnings: Vec<String>,
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
    /// The price inputs of a parsed event.
    pub fn from_event(e: &'a Event) -> PriceInput<'a> {
        PriceInput {
            kind: e.kind,
            provider: e.provider.as_deref(),
            model: e.model.as_deref(),
            usage: &e.usage,
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

/// The pricing engine. `Send + Sync`; share it with `Arc` and call it from any thread.
pub struct Engine {
    _private: (),
}

impl Engine {
    /// An engine whose only snapshot is the embedded default rate card (LiteLLM 1.110.2),
    /// effective from the beginning of time.
    pub fn embedded() -> Engine {
        todo!("pricing core (issue 2)")
    }

    /// Prices one event with the snapshot in force at its timestamp.
    pub fn price(&self, _input: &PriceInput<'_>) -> Result<PriceResult, PriceError> {
        todo!("pricing core (issue 2)")
    }
}
