//! The normalized usage record (docs/reference/events.md (usage)): one shape for every provider.
//!
//! Input buckets are **disjoint**: `tokens_in` is fresh input only, cache reads and cache writes
//! are counted separately. Output parts (`reasoning`, audio, image) are subsets of `tokens_out`.

use std::fmt;

/// Largest token count accepted anywhere: 2^53, the largest integer every JSON consumer
/// (JavaScript included) represents exactly.
pub const MAX_COUNT: u64 = 1 << 53;

/// The service tier the provider **served** the request on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ServiceTier {
    /// Standard processing (absent, `default`, `auto`, `standard`).
    #[default]
    Standard,
    /// OpenAI-style flex processing (`_flex` rates).
    Flex,
    /// Priority processing (`priority`, or `fast`); `_priority` rates.
    Priority,
    /// Batch API (`_batches` rates, else half the standard rates).
    Batch,
    /// `_balanced` rates.
    Balanced,
    /// `_ultrafast` rates.
    Ultrafast,
}

impl ServiceTier {
    /// Parses a tier name case-insensitively. `None` for names the engine does not know.
    pub fn parse(name: &str) -> Option<ServiceTier> {
        const NAMES: [(&str, ServiceTier); 10] = [
            ("default", ServiceTier::Standard),
            ("auto", ServiceTier::Standard),
            ("standard", ServiceTier::Standard),
            ("", ServiceTier::Standard),
            ("flex", ServiceTier::Flex),
            ("priority", ServiceTier::Priority),
            ("fast", ServiceTier::Priority),
            ("batch", ServiceTier::Batch),
            ("balanced", ServiceTier::Balanced),
            ("ultrafast", ServiceTier::Ultrafast),
        ];
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, t)| *t)
    }

    /// The canonical wire name (`"default"` for [`ServiceTier::Standard`]).
    pub const fn as_str(self) -> &'static str {
        match self {
            ServiceTier::Standard => "default",
            ServiceTier::Flex => "flex",
            ServiceTier::Priority => "priority",
            ServiceTier::Batch => "batch",
            ServiceTier::Balanced => "balanced",
            ServiceTier::Ultrafast => "ultrafast",
        }
    }
}

impl fmt::Display for ServiceTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Token counts and serving attributes of one LLM call, normalized (docs/reference/events.md (usage)).
///
/// Every count is in `0..=MAX_COUNT`; [`Usage::validate`] checks that. Inconsistent parts
/// (e.g. `reasoning_tokens > tokens_out`) are *not* an error: they are priced the way the
/// reference does and the price result carries a warning.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Usage {
    /// Fresh input tokens: not read from and not written to the prompt cache.
    pub tokens_in: u64,
    /// Input tokens read from the prompt cache.
    pub cached_tokens: u64,
    /// Input tokens written to the cache at the standard (5-minute / default TTL) write rate.
    pub cache_write_5m_tokens: u64,
    /// Input tokens written to the cache with a 1-hour TTL.
    pub cache_write_1h_tokens: u64,
    /// Part of `tokens_in` that is audio.
    pub audio_tokens_in: u64,
    /// Part of `tokens_in` that is image.
    pub image_tokens_in: u64,
    /// All output tokens, including reasoning, audio and image output.
    pub tokens_out: u64,
    /// Part of `tokens_out` spent on reasoning / thinking.
    pub reasoning_tokens: u64,
    /// Part of `tokens_out` that is audio.
    pub audio_tokens_out: u64,
    /// Part of `tokens_out` that is image.
    pub image_tokens_out: u64,
    /// The tier the provider served.
    pub service_tier: ServiceTier,
    /// Anthropic-style inference geography (`"us"`) selecting a `provider_specific_entry`
    /// multiplier; `None` when not given.
    pub inference_geo: Option<Box<str>>,
    /// Anthropic-style speed (`"fast"`) selecting a `provider_specific_entry` multiplier.
    pub speed: Option<Box<str>>,
    /// Web searches the provider ran during the call: priced at the model's per-search price
    /// (`search_context_cost_per_query`, by the provider's rule, as LiteLLM's `completion_cost`
    /// prices them; docs/reference/pricing.md (web searches)) and reported apart as
    /// [`PriceResult::web_search_cents`](crate::engine::PriceResult::web_search_cents).
    pub web_search_requests: u64,
    /// Tool calls made during the call (reported).
    pub tool_calls: u64,
}

/// A count outside `0..=MAX_COUNT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountError {
    /// The camelCase wire name of the field.
    pub field: &'static str,
    /// The offending value.
    pub value: u64,
}

impl fmt::Display for CountError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} = {} exceeds the maximum count 2^53 ({})",
            self.field, self.value, MAX_COUNT
        )
    }
}

impl std::error::Error for CountError {}

impl Usage {
    /// Total prompt size `P = tokens_in + cached + write5m + write1h`, which decides
    /// long-context thresholds and tiers. Saturates (counts are validated to ≤ 2^53 each, so
    /// the sum of four fits easily).
    #[inline]
    pub fn prompt_total(&self) -> u64 {
        self.tokens_in
            .saturating_add(self.cached_tokens)
            .saturating_add(self.cache_write_5m_tokens)
            .saturating_add(self.cache_write_1h_tokens)
    }

    /// Checks every count is within `0..=MAX_COUNT`.
    pub fn validate(&self) -> Result<(), CountError> {
        // The common case first: the largest count is in range.
        let largest = self.counts().iter().fold(0, |m, (_, v)| m.max(*v));
        if largest <= MAX_COUNT {
            return Ok(());
        }
        for (field, value) in self.counts() {
            if value > MAX_COUNT {
                return Err(CountError { field, value });
            }
        }
        Ok(())
    }

    /// Every count with its camelCase wire name, in wire order.
    pub fn counts(&self) -> [(&'static str, u64); 12] {
        [
            ("tokensIn", self.tokens_in),
            ("cachedTokens", self.cached_tokens),
            ("cacheWrite5mTokens", self.cache_write_5m_tokens),
            ("cacheWrite1hTokens", self.cache_write_1h_tokens),
            ("audioTokensIn", self.audio_tokens_in),
            ("imageTokensIn", self.image_tokens_in),
            ("tokensOut", self.tokens_out),
            ("reasoningTokens", self.reasoning_tokens),
            ("audioTokensOut", self.audio_tokens_out),
            ("imageTokensOut", self.image_tokens_out),
            ("webSearchRequests", self.web_search_requests),
            ("toolCalls", self.tool_calls),
        ]
    }
}
