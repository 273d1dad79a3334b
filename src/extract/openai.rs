//! OpenAI Chat Completions and Responses, and OpenAI-compatible gateways (SPEC §5).
//!
//! Chat: `usage.prompt_tokens` includes cache reads and writes, so
//! `tokensIn = prompt − cached − written`; `completion_tokens` includes reasoning. Streams put
//! usage on one chunk (the last with a non-null `usage`; Groq may use `x_groq.usage`; vLLM
//! may repeat it; Azure sends an early chunk without it): the last one wins.
//! Responses: the same on `input_tokens` / `output_tokens`; a stream's usage is on the
//! `response.completed` (or `.incomplete` / `.failed`) event.

use super::error::{ErrorKind, ExtractError};
use super::fields::{self, count, count0, fresh, object, sum, usd_cost};
use super::item::{LineItem, Provider};
use super::json::{Cap, Captures};
use super::shape::{self, Dialect, Latest, RawUsage};
use crate::money::Cents;
use crate::usage::Usage;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize, Default)]
struct Details<'a> {
    #[serde(borrow)]
    cached_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    cache_write_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    audio_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    image_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning_tokens: Option<&'a RawValue>,
}

/// Usage read off one payload.
struct Found {
    usage: Usage,
    reasoning_reported: bool,
    cost: Option<Cents>,
}

/// Reader state: the latest usage seen and the latest non-empty model / id / tier of the
/// stream (every chunk repeats them; Azure's first chunk has them empty).
#[derive(Default)]
pub(crate) struct State {
    last: Option<Found>,
    model: Latest,
    id: Latest,
    tier: Latest,
}

const OWN: &[Dialect] = &[Dialect::OpenAiChat, Dialect::OpenAiResponses];

impl State {
    pub(crate) fn payload(
        &mut self,
        provider: Provider,
        caps: &Captures<'_>,
    ) -> Result<(), ExtractError> {
        shape::provider_error(caps)?;
        if let Some(d) = shape::foreign_by_path(caps, OWN) {
            return Err(shape::wrong_provider(provider.as_str(), d));
        }
        let responses_event = shape::type_starts_with(caps, "response.");
        let (model_c, id_c, tier_c, usage_c, search_c) = if responses_event {
            (
                Cap::RespModel,
                Cap::RespId,
                Cap::RespServiceTier,
                Cap::RespUsage,
                Cap::RespWebSearch,
            )
        } else {
            (
                Cap::Model,
                Cap::Id,
                Cap::ServiceTier,
                Cap::Usage,
                Cap::WebSearch,
            )
        };
        self.model.keep(caps.value(model_c));
        self.id.keep(caps.value(id_c));
        self.tier.keep(caps.value(tier_c));
        let (raw, path) = match (caps.value(usage_c), caps.value(Cap::XGroqUsage)) {
            (Some(u), _) => (
                u,
                if responses_event {
                    "response.usage"
                } else {
                    "usage"
                },
            ),
            (None, Some(u)) => (u, "x_groq.usage"),
            (None, None) => return Ok(()),
        };
        let u = shape::raw_usage(raw, path)?;
        let mut found = match u.dialect() {
            Some(Dialect::OpenAiChat) => chat(&u, path)?,
            Some(Dialect::OpenAiResponses) | None if u.input_tokens.is_some() => {
                responses(&u, path)?
            }
            Some(d @ (Dialect::Anthropic | Dialect::Bedrock | Dialect::Gemini)) => {
                return Err(shape::wrong_provider(provider.as_str(), d));
            }
            _ => {
                return Err(ExtractError::new(
                    ErrorKind::InvalidUsage,
                    format!("{path} has neither prompt_tokens nor input_tokens"),
                ));
            }
        };
        found.usage.web_search_requests = count0(
            caps.value(search_c).map(raw_value).transpose()?,
            "web_search.num_requests",
        )?;
        self.last = Some(found);
        Ok(())
    }

    pub(crate) fn retained(&self) -> usize {
        self.model.retained() + self.id.retained() + self.tier.retained()
    }

    pub(crate) fn finish(
        self,
        provider: Provider,
        request_model: Option<&str>,
    ) -> Result<Vec<LineItem>, ExtractError> {
        let Some(found) = self.last else {
            return Err(ExtractError::new(
                ErrorKind::NoUsage,
                "no usage reported: the response has no non-null `usage` (a stream needs stream_options.include_usage)",
            ));
        };
        let model = fields::model_name(self.model.string("model")?, "model")?;
        let model = super::pick_model(model, request_model)?;
        let id = fields::response_id(self.id.string("id")?, "id")?;
        let mut item = LineItem {
            provider,
            model,
            response_id: id,
            usage: found.usage,
            reasoning_reported: found.reasoning_reported,
            served_tier: None,
            reported_cost_cents: found.cost,
            warnings: Vec::new(),
        };
        if let Some(t) = self.tier.string("service_tier")? {
            super::apply_tier(&mut item, &t);
        }
        Ok(vec![item])
    }
}

fn raw_value(raw: &[u8]) -> Result<&RawValue, ExtractError> {
    serde_json::from_slice::<&RawValue>(raw)
        .map_err(|_| ExtractError::new(ErrorKind::Malformed, "captured value is not valid JSON"))
}

fn details<'a>(v: Option<&'a RawValue>, path: &str) -> Result<Details<'a>, ExtractError> {
    Ok(object::<Details<'a>>(fields::present(v), path)?.unwrap_or_default())
}

/// Chat Completions usage (also OpenAI-compatible servers and DeepSeek).
fn chat(u: &RawUsage<'_>, path: &str) -> Result<Found, ExtractError> {
    let prompt = count(u.prompt_tokens, &format!("{path}.prompt_tokens"))?.ok_or_else(|| {
        ExtractError::new(
            ErrorKind::InvalidUsage,
            format!("{path}.prompt_tokens is missing"),
        )
    })?;
    let completion = count0(u.completion_tokens, &format!("{path}.completion_tokens"))?;
    let pd = details(
        u.prompt_tokens_details,
        &format!("{path}.prompt_tokens_details"),
    )?;
    let cd = details(
        u.completion_tokens_details,
        &format!("{path}.completion_tokens_details"),
    )?;
    // DeepSeek reports cache hits as prompt_cache_hit_tokens.
    let cached = match count(
        u.prompt_cache_hit_tokens,
        &format!("{path}.prompt_cache_hit_tokens"),
    )? {
        Some(hit) => hit,
        None => count0(pd.cached_tokens, "prompt_tokens_details.cached_tokens")?,
    };
    let written = count0(
        pd.cache_write_tokens,
        "prompt_tokens_details.cache_write_tokens",
    )?;
    let tokens_in = fresh(
        prompt,
        &format!("{path}.prompt_tokens"),
        sum(&[cached, written], path)?,
        "cached + cache-write tokens",
    )?;
    let reasoning = count(
        cd.reasoning_tokens,
        "completion_tokens_details.reasoning_tokens",
    )?;
    Ok(Found {
        usage: Usage {
            tokens_in,
            cached_tokens: cached,
            cache_write_5m_tokens: written,
            audio_tokens_in: count0(pd.audio_tokens, "prompt_tokens_details.audio_tokens")?,
            image_tokens_in: count0(pd.image_tokens, "prompt_tokens_details.image_tokens")?,
            tokens_out: completion,
            reasoning_tokens: reasoning.unwrap_or(0),
            audio_tokens_out: count0(cd.audio_tokens, "completion_tokens_details.audio_tokens")?,
            image_tokens_out: count0(cd.image_tokens, "completion_tokens_details.image_tokens")?,
            ..Usage::default()
        },
        reasoning_reported: reasoning.is_some(),
        cost: usd_cost(u.cost, &format!("{path}.cost"))?,
    })
}

/// Responses API usage (also OpenRouter's Responses endpoint).
fn responses(u: &RawUsage<'_>, path: &str) -> Result<Found, ExtractError> {
    let input = count0(u.input_tokens, &format!("{path}.input_tokens"))?;
    let output = count0(u.output_tokens, &format!("{path}.output_tokens"))?;
    let idd = details(
        u.input_tokens_details,
        &format!("{path}.input_tokens_details"),
    )?;
    let odd = details(
        u.output_tokens_details,
        &format!("{path}.output_tokens_details"),
    )?;
    let cached = count0(idd.cached_tokens, "input_tokens_details.cached_tokens")?;
    let written = count0(
        idd.cache_write_tokens,
        "input_tokens_details.cache_write_tokens",
    )?;
    let tokens_in = fresh(
        input,
        &format!("{path}.input_tokens"),
        sum(&[cached, written], path)?,
        "cached + cache-write tokens",
    )?;
    let reasoning = count(
        odd.reasoning_tokens,
        "output_tokens_details.reasoning_tokens",
    )?;
    Ok(Found {
        usage: Usage {
            tokens_in,
            cached_tokens: cached,
            cache_write_5m_tokens: written,
            audio_tokens_in: count0(idd.audio_tokens, "input_tokens_details.audio_tokens")?,
            image_tokens_in: count0(idd.image_tokens, "input_tokens_details.image_tokens")?,
            tokens_out: output,
            reasoning_tokens: reasoning.unwrap_or(0),
            audio_tokens_out: count0(odd.audio_tokens, "output_tokens_details.audio_tokens")?,
            image_tokens_out: count0(odd.image_tokens, "output_tokens_details.image_tokens")?,
            ..Usage::default()
        },
        reasoning_reported: reasoning.is_some(),
        cost: usd_cost(u.cost, &format!("{path}.cost"))?,
    })
}
