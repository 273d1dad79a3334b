//! The result of extraction: [`LineItem`]s, and the provider names the engine reads.

use crate::money::Cents;
use crate::usage::{ServiceTier, Usage};
use std::fmt::Write as _;

/// The response shapes extraction understands (docs/reference/extraction.md), named as on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    /// OpenAI Chat Completions and Responses, including Azure OpenAI.
    OpenAi,
    /// Anthropic Messages, including Bedrock InvokeModel bodies and
    /// InvokeModelWithResponseStream event streams.
    Anthropic,
    /// Amazon Bedrock Converse / ConverseStream (the model id comes from the caller).
    Bedrock,
    /// Google Gemini `generateContent` / `streamGenerateContent` (also Vertex AI).
    Gemini,
    /// OpenAI-compatible gateways and servers: OpenRouter, Groq, vLLM, DeepSeek, Together,
    /// Cerebras, xAI, Mistral, Moonshot, Perplexity, …
    OpenAiCompatible,
}

impl Provider {
    /// Every provider, in command-line order.
    pub const ALL: [Provider; 5] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::Bedrock,
        Provider::Gemini,
        Provider::OpenAiCompatible,
    ];

    /// Parses a command-line name (`openai`, `anthropic`, `bedrock`, `gemini`,
    /// `openai_compatible`), exactly.
    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The name, as on the command line and in line items.
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Bedrock => "bedrock",
            Provider::Gemini => "gemini",
            Provider::OpenAiCompatible => "openai_compatible",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One billable unit of a response: usage on one model.
///
/// Most responses give one line item. An Anthropic response with an advisor gives one per
/// advisor iteration, each on the advisor's own model.
///
/// Its JSON form ([`LineItem::to_json`]) uses event field names only, so a line item becomes
/// a valid event (docs/reference/events.md (event record)) once the caller adds `customerId`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineItem {
    /// The provider the response was read as.
    pub provider: Provider,
    /// The model that served this line item: the response's own model name when it has one,
    /// else the caller's (always the caller's for Bedrock Converse).
    pub model: String,
    /// The provider's response id (`id`, `message.id`, `responseId`): the default
    /// idempotency key. A second or later line item of one response gets `<id>#<n>` (n = its
    /// 1-based position) so that each line item has its own key.
    pub response_id: Option<String>,
    /// Normalized counts (docs/reference/events.md (usage)). `usage.service_tier` mirrors [`LineItem::served_tier`].
    pub usage: Usage,
    /// False when the provider gave no reasoning breakdown (`reasoningTokens: null`); then
    /// `usage.reasoning_tokens` is 0 and reasoning, if any, is inside `tokens_out`.
    pub reasoning_reported: bool,
    /// The tier the provider says it served, `None` when it did not say.
    pub served_tier: Option<ServiceTier>,
    /// Cost the provider reported with the usage (OpenRouter `usage.cost`, in USD, converted
    /// exactly to cents). Audit only: it does not replace the rate card.
    pub reported_cost_cents: Option<Cents>,
    /// Notes about the extraction (e.g. an unrecognised service tier read as default).
    pub warnings: Vec<String>,
}

impl LineItem {
    /// The line item as one JSON object in the shape of docs/reference/cli.md (`tollgate usage`):
    /// `provider, model, tokensIn, cachedTokens, cacheWrite5mTokens, cacheWrite1hTokens,
    /// tokensOut, reasoningTokens, audioTokensIn, audioTokensOut, imageTokensIn,
    /// imageTokensOut, webSearchRequests, toolCalls, serviceTier, responseId`, followed by
    /// `reportedCostCents` (a decimal string), `inferenceGeo` and `speed` when known.
    ///
    /// ```
    /// use tollgate_engine::extract::{extract, Provider};
    /// let body = br#"{"id":"chatcmpl-1","model":"gpt-4o","usage":{"prompt_tokens":10,"completion_tokens":2}}"#;
    /// let items = extract(Provider::OpenAi, None, body).unwrap();
    /// assert_eq!(
    ///     items[0].to_json(),
    ///     r#"{"provider":"openai","model":"gpt-4o","tokensIn":10,"cachedTokens":0,"cacheWrite5mTokens":0,"cacheWrite1hTokens":0,"tokensOut":2,"reasoningTokens":null,"audioTokensIn":0,"audioTokensOut":0,"imageTokensIn":0,"imageTokensOut":0,"webSearchRequests":0,"toolCalls":0,"serviceTier":null,"responseId":"chatcmpl-1"}"#
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        let u = &self.usage;
        let mut s = String::with_capacity(384);
        s.push_str("{\"provider\":");
        push_str(&mut s, self.provider.as_str());
        s.push_str(",\"model\":");
        push_str(&mut s, &self.model);
        let _ = write!(
            s,
            ",\"tokensIn\":{},\"cachedTokens\":{},\"cacheWrite5mTokens\":{},\"cacheWrite1hTokens\":{},\"tokensOut\":{},\"reasoningTokens\":",
            u.tokens_in,
            u.cached_tokens,
            u.cache_write_5m_tokens,
            u.cache_write_1h_tokens,
            u.tokens_out
        );
        if self.reasoning_reported {
            let _ = write!(s, "{}", u.reasoning_tokens);
        } else {
            s.push_str("null");
        }
        let _ = write!(
            s,
            ",\"audioTokensIn\":{},\"audioTokensOut\":{},\"imageTokensIn\":{},\"imageTokensOut\":{},\"webSearchRequests\":{},\"toolCalls\":{},\"serviceTier\":",
            u.audio_tokens_in,
            u.audio_tokens_out,
            u.image_tokens_in,
            u.image_tokens_out,
            u.web_search_requests,
            u.tool_calls
        );
        match self.served_tier {
            Some(t) => push_str(&mut s, t.as_str()),
            None => s.push_str("null"),
        }
        s.push_str(",\"responseId\":");
        match &self.response_id {
            Some(id) => push_str(&mut s, id),
            None => s.push_str("null"),
        }
        if let Some(c) = self.reported_cost_cents {
            s.push_str(",\"reportedCostCents\":");
            push_str(&mut s, &c.to_string());
        }
        if let Some(g) = &u.inference_geo {
            s.push_str(",\"inferenceGeo\":");
            push_str(&mut s, g);
        }
        if let Some(sp) = &u.speed {
            s.push_str(",\"speed\":");
            push_str(&mut s, sp);
        }
        s.push('}');
        s
    }
}

/// Appends `v` as a JSON string literal.
fn push_str(out: &mut String, v: &str) {
    // serde_json's escaping; serializing a &str cannot fail.
    out.push_str(&serde_json::to_string(v).unwrap_or_else(|_| "\"\"".to_string()));
}
