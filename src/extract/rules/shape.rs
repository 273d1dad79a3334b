//! Shared pieces of the provider readers: the raw usage object (the union of every
//! provider's snake_case and camelCase keys), error events, foreign-shape detection,
//! service tiers and cache-write TTL splits.

use super::fields;
use super::flat::Raw;
use crate::event::MAX_ATTR_BYTES;
use crate::extract::error::{ErrorKind, ExtractError, token_or_hidden};
use crate::extract::frame::json::Captures;
use crate::extract::paths::Cap;
use crate::usage::ServiceTier;
use serde::Deserialize;
use std::borrow::Cow;

/// Every usage key any provider uses. Values stay raw so that type errors are reported by
/// our own code (which never echoes input text).
#[derive(Deserialize, Default)]
pub(crate) struct RawUsage<'a> {
    // OpenAI Chat Completions (and compatible gateways)
    #[serde(borrow)]
    pub prompt_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    pub completion_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    pub prompt_tokens_details: Option<Raw<'a>>,
    #[serde(borrow)]
    pub completion_tokens_details: Option<Raw<'a>>,
    #[serde(borrow)]
    pub prompt_cache_hit_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    pub cost: Option<Raw<'a>>,
    // OpenAI Responses, Anthropic
    #[serde(borrow)]
    pub input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    pub output_tokens: Option<Raw<'a>>,
    // OpenAI's transcription usage spells it `input_token_details`.
    #[serde(borrow, alias = "input_token_details")]
    pub input_tokens_details: Option<Raw<'a>>,
    #[serde(borrow)]
    pub output_tokens_details: Option<Raw<'a>>,
    // Anthropic
    #[serde(borrow)]
    pub cache_read_input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    pub cache_creation_input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    pub cache_creation: Option<Raw<'a>>,
    #[serde(borrow)]
    pub server_tool_use: Option<Raw<'a>>,
    #[serde(borrow)]
    pub service_tier: Option<Raw<'a>>,
    #[serde(borrow)]
    pub inference_geo: Option<Raw<'a>>,
    #[serde(borrow)]
    pub speed: Option<Raw<'a>>,
    #[serde(borrow)]
    pub iterations: Option<Raw<'a>>,
    // Bedrock Converse
    #[serde(rename = "inputTokens", borrow)]
    pub input_tokens_b: Option<Raw<'a>>,
    #[serde(rename = "outputTokens", borrow)]
    pub output_tokens_b: Option<Raw<'a>>,
    #[serde(rename = "cacheReadInputTokens", borrow)]
    pub cache_read_b: Option<Raw<'a>>,
    #[serde(rename = "cacheReadInputTokenCount", borrow)]
    pub cache_read_count_b: Option<Raw<'a>>,
    #[serde(rename = "cacheWriteInputTokens", borrow)]
    pub cache_write_b: Option<Raw<'a>>,
    #[serde(rename = "cacheWriteInputTokenCount", borrow)]
    pub cache_write_count_b: Option<Raw<'a>>,
    #[serde(rename = "cacheDetails", borrow)]
    pub cache_details_b: Option<Raw<'a>>,
    #[serde(rename = "totalTokens", borrow)]
    pub total_tokens_b: Option<Raw<'a>>,
    // Gemini usageMetadata keys, to recognise a Gemini object handed over as `usage`.
    #[serde(rename = "promptTokenCount", borrow)]
    pub prompt_token_count: Option<Raw<'a>>,
}

impl RawUsage<'_> {
    /// Which provider's usage this object is, judged by keys only one provider uses.
    pub(crate) fn dialect(&self) -> Option<Dialect> {
        if self.prompt_tokens.is_some() || self.completion_tokens.is_some() {
            Some(Dialect::OpenAiChat)
        } else if self.input_tokens_b.is_some() || self.output_tokens_b.is_some() {
            Some(Dialect::Bedrock)
        } else if self.cache_creation_input_tokens.is_some()
            || self.cache_read_input_tokens.is_some()
            || self.cache_creation.is_some()
            || self.iterations.is_some()
        {
            Some(Dialect::Anthropic)
        } else if self.input_tokens_details.is_some() {
            Some(Dialect::OpenAiResponses)
        } else if self.prompt_token_count.is_some() {
            Some(Dialect::Gemini)
        } else {
            None
        }
    }
}

/// A provider dialect, for "wrong provider" errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    OpenAiChat,
    OpenAiResponses,
    Anthropic,
    Bedrock,
    Gemini,
}

impl Dialect {
    fn describe(self) -> &'static str {
        match self {
            Dialect::OpenAiChat => "an OpenAI Chat Completions response (usage.prompt_tokens)",
            Dialect::OpenAiResponses => "an OpenAI Responses response (usage.input_tokens_details)",
            Dialect::Anthropic => {
                "an Anthropic Messages response (message usage with cache_*_input_tokens)"
            }
            Dialect::Bedrock => "a Bedrock Converse response (usage.inputTokens)",
            Dialect::Gemini => "a Gemini response (usageMetadata)",
        }
    }

    /// The `--provider` that reads this dialect.
    fn provider_hint(self) -> &'static str {
        match self {
            Dialect::OpenAiChat | Dialect::OpenAiResponses => "openai or openai_compatible",
            Dialect::Anthropic => "anthropic",
            Dialect::Bedrock => "bedrock",
            Dialect::Gemini => "gemini",
        }
    }
}

/// The error for a response of another provider.
pub(crate) fn wrong_provider(provider: &str, found: Dialect) -> ExtractError {
    ExtractError::new(
        ErrorKind::WrongProvider,
        format!(
            "--provider {provider} was given, but the input is {}; use --provider {}",
            found.describe(),
            found.provider_hint()
        ),
    )
}

/// Parses a captured usage object.
pub(crate) fn raw_usage<'a>(
    raw: &'a [u8],
    path: impl std::fmt::Display,
) -> Result<RawUsage<'a>, ExtractError> {
    let text = fields::text(raw)?;
    Ok(fields::object::<RawUsage<'a>>(Some(text), path)?.unwrap_or_default())
}

/// True when the payload's top-level `type` is the string `name`. Compared on the raw JSON
/// text (no allocation per stream event); a value written with escapes is decoded first.
#[inline]
pub(crate) fn type_is(caps: &Captures<'_>, name: &str) -> bool {
    caps.value(Cap::Type).is_some_and(|r| {
        if r.len() == name.len() + 2 {
            return r[0] == b'"' && &r[1..r.len() - 1] == name.as_bytes();
        }
        // Escapes only lengthen a string: a shorter value cannot be `name`.
        caps.type_escaped() && r.len() > name.len() + 2 && decoded(r).is_some_and(|t| t == name)
    })
}

/// True when the payload's top-level `type` is a string starting with `prefix`.
#[inline]
pub(crate) fn type_starts_with(caps: &Captures<'_>, prefix: &str) -> bool {
    caps.value(Cap::Type).is_some_and(|r| {
        if r.first() == Some(&b'"') && r[1..].starts_with(prefix.as_bytes()) {
            return true;
        }
        caps.type_escaped() && decoded(r).is_some_and(|t| t.starts_with(prefix))
    })
}

/// A short captured JSON string, decoded (`None` when it is not a string or is long).
#[cold]
#[inline(never)]
fn decoded(raw: &[u8]) -> Option<String> {
    if raw.len() > 256 {
        return None;
    }
    serde_json::from_slice::<String>(raw).ok()
}

/// The latest non-empty value of a string field across a stream, kept as raw JSON text and
/// decoded once at the end. Values up to [`LATEST_INLINE`] bytes (model names, ids, tiers)
/// are kept inline, without a heap allocation; longer ones in a reused buffer.
pub(crate) struct Latest {
    inline: [u8; LATEST_INLINE],
    /// Length of the inline value, or `usize::MAX` when the value is in `heap`.
    len: usize,
    heap: Vec<u8>,
    set: bool,
}

/// The longest value a [`Latest`] keeps inline.
pub(crate) const LATEST_INLINE: usize = 96;

impl Default for Latest {
    fn default() -> Latest {
        Latest {
            inline: [0; LATEST_INLINE],
            len: 0,
            heap: Vec::new(),
            set: false,
        }
    }
}

impl Latest {
    /// Keeps `raw` unless it is absent, `null` or `""`.
    pub(crate) fn keep(&mut self, raw: Option<&[u8]>) {
        if let Some(r) = raw.filter(|r| *r != b"\"\"") {
            if r.len() <= LATEST_INLINE {
                self.inline[..r.len()].copy_from_slice(r);
                self.len = r.len();
            } else {
                self.heap.clear();
                self.heap.extend_from_slice(r);
                self.len = usize::MAX;
            }
            self.set = true;
        }
    }

    pub(crate) fn retained(&self) -> usize {
        self.heap.capacity()
    }

    fn raw(&self) -> &[u8] {
        if self.len == usize::MAX {
            &self.heap
        } else {
            &self.inline[..self.len]
        }
    }

    /// The decoded string (an error when it was not a JSON string).
    pub(crate) fn string(&self, path: &str) -> Result<Option<String>, ExtractError> {
        Ok(self.text(path)?.map(Cow::into_owned))
    }

    /// The decoded string, borrowed when it has no escapes.
    pub(crate) fn text(&self, path: &str) -> Result<Option<Cow<'_, str>>, ExtractError> {
        if self.set {
            fields::string_cow(Some(self.raw()), path)
        } else {
            Ok(None)
        }
    }
}

/// Which foreign shape a payload has, judged by where its usage sits. `own` lists the
/// dialects the calling reader accepts.
pub(crate) fn foreign_by_path(caps: &Captures<'_>, own: &[Dialect]) -> Option<Dialect> {
    let found = if caps.value(Cap::UsageMetadata).is_some() {
        Some(Dialect::Gemini)
    } else if caps.value(Cap::MetaUsage).is_some() || caps.value(Cap::PayloadUsage).is_some() {
        Some(Dialect::Bedrock)
    } else if caps.value(Cap::MsgUsage).is_some() {
        Some(Dialect::Anthropic)
    } else if caps.value(Cap::RespUsage).is_some() {
        Some(Dialect::OpenAiResponses)
    } else if caps.value(Cap::XGroqUsage).is_some() {
        Some(Dialect::OpenAiChat)
    } else {
        ["message", "message_start", "message_delta"]
            .into_iter()
            .any(|t| type_is(caps, t))
            .then_some(Dialect::Anthropic)
    };
    found.filter(|d| !own.contains(d))
}

/// An error event inside a response (`{"error": {...}}`, `{"type": "error", ...}`).
pub(crate) fn provider_error(caps: &Captures<'_>) -> Result<(), ExtractError> {
    if caps.present(Cap::Exception) {
        return Err(ExtractError::new(
            ErrorKind::ProviderError,
            "the provider reported an error (a Bedrock stream exception event) instead of usage",
        ));
    }
    let detail = [Cap::ErrType, Cap::ErrStatus, Cap::ErrCode]
        .into_iter()
        .find_map(|c| caps.value(c));
    let is_error_type = type_is(caps, "error");
    if detail.is_none() && !is_error_type {
        return Ok(());
    }
    let name = detail
        .map(|raw| {
            let s = String::from_utf8_lossy(raw);
            s.trim_matches('"').to_string()
        })
        .unwrap_or_default();
    let shown = if name.is_empty() {
        String::new()
    } else {
        format!(" ({})", token_or_hidden(&name))
    };
    Err(ExtractError::new(
        ErrorKind::ProviderError,
        format!("the provider reported an error{shown} instead of usage"),
    ))
}

/// A served service tier: the engine's tier plus a warning when the name is not one the
/// engine knows (it is then read as the default tier).
pub(crate) fn served_tier(name: &str) -> (ServiceTier, Option<String>) {
    if let Some(t) = ServiceTier::parse(name) {
        return (t, None);
    }
    // Groq's default tier.
    if name.eq_ignore_ascii_case("on_demand") {
        return (ServiceTier::Standard, None);
    }
    (
        ServiceTier::Standard,
        Some(format!(
            "unrecognised service tier \"{}\" read as default",
            token_or_hidden(name)
        )),
    )
}

/// An Anthropic-style attribute (`inference_geo`, `speed`): at most 64 bytes; Anthropic's
/// `"not_available"` means none.
pub(crate) fn attribute(
    v: Option<Raw<'_>>,
    path: impl std::fmt::Display + Copy,
) -> Result<Option<String>, ExtractError> {
    let s = fields::string_field(v, path)?;
    match s {
        None => Ok(None),
        Some(s) if s.is_empty() || s == "not_available" => Ok(None),
        Some(s) if s.len() > MAX_ATTR_BYTES || s.chars().any(char::is_control) => {
            Err(ExtractError::new(
                ErrorKind::InvalidUsage,
                format!("{path} is not a short attribute name (at most {MAX_ATTR_BYTES} bytes)"),
            ))
        }
        Some(s) => Ok(Some(s)),
    }
}

/// Splits cache writes into (default/5-minute, 1-hour). When the total is known, the 1-hour
/// part is taken from the breakdown and the rest is at the default TTL (a total without a
/// breakdown is all default TTL). A 1-hour part larger than the total is kept as reported,
/// with no 5-minute part and a warning.
pub(crate) fn split_writes(
    total: Option<u64>,
    five_min: Option<u64>,
    one_hour: Option<u64>,
    total_name: impl std::fmt::Display,
    hour_name: impl std::fmt::Display,
    warnings: &mut Vec<String>,
) -> (u64, u64) {
    match total {
        Some(t) => {
            let h = one_hour.unwrap_or(0);
            (fields::fresh(t, total_name, h, hour_name, warnings), h)
        }
        None => (five_min.unwrap_or(0), one_hour.unwrap_or(0)),
    }
}
