//! OpenAI Chat Completions and Responses, and OpenAI-compatible gateways (docs/reference/extraction.md).
//!
//! Chat: `usage.prompt_tokens` includes cache reads and writes, so
//! `tokensIn = prompt − cached − written`; `completion_tokens` includes reasoning. Streams put
//! usage on one chunk (the last with a non-null `usage`; Groq may use `x_groq.usage`; vLLM
//! may repeat it; Azure sends an early chunk without it): the last one wins.
//! Responses: the same on `input_tokens` / `output_tokens`; a stream's usage is on the
//! `response.completed` (or `.incomplete` / `.failed`) event.

use super::fields::{self, Join, count, count0, object, sum, usd_cost};
use super::flat::Raw;
use super::shape::{self, Dialect, Latest, RawUsage};
use crate::extract::error::{ErrorKind, ExtractError};
use crate::extract::frame::json::Captures;
use crate::extract::item::{LineItem, Provider};
use crate::extract::paths::{Cap, Ctr};
use crate::money::{CENTS_SCALE, Cents};
use crate::usage::Usage;
use serde::Deserialize;

#[derive(Deserialize, Default)]
struct Details<'a> {
    #[serde(borrow)]
    cached_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_write_tokens: Option<Raw<'a>>,
    // Anthropic-style names some compatible servers use inside the details (Perplexity,
    // Alibaba): cache reads / writes, and the writes' TTL breakdown.
    #[serde(borrow)]
    cache_read_input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_creation_input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_creation: Option<Raw<'a>>,
    #[serde(borrow)]
    audio_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    image_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    reasoning_tokens: Option<Raw<'a>>,
}

#[derive(Deserialize, Default)]
struct CacheCreation<'a> {
    #[serde(borrow)]
    ephemeral_5m_input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    ephemeral_1h_input_tokens: Option<Raw<'a>>,
}

/// The usage keys beyond the token counts: web-search counts and reported costs of the
/// compatible servers.
struct Extras<'a> {
    /// OpenRouter.
    server_tool_use_details: Option<Raw<'a>>,
    server_tool_use: Option<Raw<'a>>,
    /// xAI.
    server_side_tool_usage_details: Option<Raw<'a>>,
    cost_in_usd_ticks: Option<Raw<'a>>,
    /// Perplexity (Sonar chat; Agent API).
    num_search_queries: Option<Raw<'a>>,
    tool_calls_details: Option<Raw<'a>>,
    /// Responses usage that nests the tool usage.
    tool_usage: Option<Raw<'a>>,
    /// Moonshot states cache reads at the top of the usage.
    cached_tokens: Option<Raw<'a>>,
    /// Mistral puts the served tier inside the usage.
    service_tier: Option<Raw<'a>>,
    total_tokens: Option<Raw<'a>>,
}

/// Usage read off one payload.
struct Found {
    usage: Usage,
    /// Counts kept as reported although inconsistent.
    warnings: Vec<String>,
    reasoning_reported: bool,
    cost: Option<Cents>,
    /// Web searches the usage (or the tool usage beside it) states; `None` = not stated.
    web_search: Option<u64>,
    tier: Option<String>,
}

/// Reader state: the latest usage seen and the latest non-empty model / id / tier of the
/// stream (every chunk repeats them; Azure's first chunk has them empty), plus the tool-call
/// counters of a stream.
#[derive(Default)]
pub(crate) struct State {
    last: Option<Found>,
    model: Latest,
    id: Latest,
    tier: Latest,
    /// Whole Chat tool calls (`message.tool_calls[]`), over every payload.
    chat_tool_calls: u64,
    /// Streamed Chat tool calls: first deltas (with an id), and one more than the largest
    /// index seen.
    delta_ids: u64,
    delta_index: u64,
    /// Responses output items of the payload that carried the usage.
    resp_tool_calls: u64,
    resp_web_search: u64,
    /// A top-level usage was seen: it wins over a usage inside a choice.
    top_usage: bool,
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
        self.chat_tool_calls += u64::from(caps.count(Ctr::ChatToolCalls));
        self.delta_ids += u64::from(caps.count(Ctr::ChatDeltaIds));
        self.delta_index = self
            .delta_index
            .max(u64::from(caps.count(Ctr::ChatDeltaIndex)));
        if shape::type_is(caps, "response.failed") && caps.value(usage_c).is_none() {
            return Err(failed(caps));
        }
        let choice_usage = caps
            .value(Cap::ChoiceUsage)
            .filter(|_| !responses_event && !self.top_usage);
        let (raw, path) = match (
            caps.value(usage_c),
            caps.value(Cap::XGroqUsage).or(choice_usage),
        ) {
            (Some(u), _) => (
                u,
                if responses_event {
                    "response.usage"
                } else {
                    "usage"
                },
            ),
            (None, Some(u)) if caps.value(Cap::XGroqUsage).is_some() => (u, "x_groq.usage"),
            (None, Some(u)) => (u, "choices[].usage"),
            (None, None) => return Ok(()),
        };
        if path != "choices[].usage" {
            self.top_usage = true;
        }
        let (u, x) = usage_and_extras(raw, path)?;
        let mut found = match u.dialect() {
            Some(Dialect::OpenAiChat) => chat(&u, &x, path)?,
            Some(Dialect::OpenAiResponses) | None if u.input_tokens.is_some() => {
                responses(&u, &x, path)?
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
        // The tool usage beside the usage wins; then what the usage states; then the
        // Responses web_search_call items.
        let stated = count(
            caps.value(search_c).map(raw_value).transpose()?,
            "tool_usage.web_search.num_requests",
        )?;
        self.resp_tool_calls = u64::from(caps.count(Ctr::RespToolCalls));
        self.resp_web_search = u64::from(caps.count(Ctr::RespWebSearch));
        found.web_search = stated.or(found.web_search);
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
        let mut usage = found.usage;
        usage.web_search_requests = found.web_search.unwrap_or(self.resp_web_search);
        // A streamed call is announced once with an index (and usually an id); the largest
        // index is the better count when a server repeats ids on every delta.
        let streamed = if self.delta_index > 0 {
            self.delta_index
        } else {
            self.delta_ids
        };
        usage.tool_calls = fields::sum(
            &[self.chat_tool_calls, streamed, self.resp_tool_calls],
            "tool calls",
        )?;
        let mut item = LineItem {
            provider,
            model,
            response_id: id,
            usage,
            reasoning_reported: found.reasoning_reported,
            served_tier: None,
            reported_cost_cents: found.cost,
            warnings: found.warnings,
        };
        let tier = match self.tier.text("service_tier")? {
            Some(t) => Some(t),
            None => found.tier.map(std::borrow::Cow::Owned),
        };
        if let Some(t) = tier {
            super::apply_tier(&mut item, &t);
        }
        Ok(vec![item])
    }
}

/// A captured value as a raw field (the scanner validated its JSON).
fn raw_value(raw: &[u8]) -> Result<Raw<'_>, ExtractError> {
    fields::text(raw).map(Raw::new)
}

fn details<'a>(
    v: Option<Raw<'a>>,
    path: impl std::fmt::Display,
) -> Result<Details<'a>, ExtractError> {
    Ok(object::<Details<'a>>(fields::present(v), path)?.unwrap_or_default())
}

/// Cache reads and (5-minute, 1-hour) writes stated in a details object.
fn cache_parts(
    d: &Details<'_>,
    path: impl std::fmt::Display + Copy,
    warnings: &mut Vec<String>,
) -> Result<(u64, u64, u64), ExtractError> {
    let p = |k| Join(path, k);
    let read = match count(d.cached_tokens, p("cached_tokens"))? {
        Some(v) => v,
        None => count0(d.cache_read_input_tokens, p("cache_read_input_tokens"))?,
    };
    let total = match count(d.cache_write_tokens, p("cache_write_tokens"))? {
        Some(v) => Some(v),
        None => count(
            d.cache_creation_input_tokens,
            p("cache_creation_input_tokens"),
        )?,
    };
    let cc = object::<CacheCreation<'_>>(fields::present(d.cache_creation), p("cache_creation"))?
        .unwrap_or_default();
    let (w5, w1) = shape::split_writes(
        total,
        count(
            cc.ephemeral_5m_input_tokens,
            p("cache_creation.ephemeral_5m_input_tokens"),
        )?,
        count(
            cc.ephemeral_1h_input_tokens,
            p("cache_creation.ephemeral_1h_input_tokens"),
        )?,
        p("cache_write_tokens"),
        p("cache_creation.ephemeral_1h_input_tokens"),
        warnings,
    );
    Ok((read, w5, w1))
}

/// The value at `keys` below `v`; `None` when any level is absent, null or not an object
/// (these are optional extras: their absence is not an error, a wrong count is).
fn dig<'a>(v: Option<Raw<'a>>, keys: &[&str]) -> Option<Raw<'a>> {
    let mut cur = v;
    for k in keys {
        cur = Some(super::flat::member(fields::present(cur)?, k)?);
    }
    cur
}

/// Web searches the usage states (OpenRouter, xAI, Perplexity, nested Responses tool usage).
fn stated_web_search(x: &Extras<'_>, path: &str) -> Result<Option<u64>, ExtractError> {
    let sources: [(Option<Raw<'_>>, &str); 6] = [
        (
            dig(x.tool_usage, &["web_search", "num_requests"]),
            "tool_usage.web_search.num_requests",
        ),
        (
            dig(x.server_tool_use_details, &["web_search_requests"]),
            "server_tool_use_details.web_search_requests",
        ),
        (
            dig(x.server_tool_use, &["web_search_requests"]),
            "server_tool_use.web_search_requests",
        ),
        (
            dig(x.server_side_tool_usage_details, &["web_search_calls"]),
            "server_side_tool_usage_details.web_search_calls",
        ),
        (x.num_search_queries, "num_search_queries"),
        (
            dig(x.tool_calls_details, &["search_web", "invocation"]),
            "tool_calls_details.search_web.invocation",
        ),
    ];
    for (v, name) in sources {
        if let Some(n) = count(v, Join(path, name))? {
            return Ok(Some(n));
        }
    }
    Ok(None)
}

/// One xAI tick is 10^-10 USD = 10^-8 cents.
const TICK_RAW_CENTS: i128 = 10i128.pow(CENTS_SCALE - 8);

/// The cost the usage reports: OpenRouter `cost` (USD), Perplexity `cost.total_cost` (USD),
/// xAI `cost_in_usd_ticks`.
fn reported_cost(
    u: &RawUsage<'_>,
    x: &Extras<'_>,
    path: &str,
) -> Result<Option<Cents>, ExtractError> {
    if let Some(text) = fields::present(u.cost) {
        if !text.starts_with('{') {
            return usd_cost(u.cost, Join(path, "cost"));
        }
        // Perplexity: a breakdown object; only a US-dollar total is taken.
        let currency = fields::string_field(dig(u.cost, &["currency"]), "cost.currency")?;
        if currency.is_some_and(|c| !c.eq_ignore_ascii_case("USD")) {
            return Ok(None);
        }
        return usd_cost(dig(u.cost, &["total_cost"]), Join(path, "cost.total_cost"));
    }
    match count(x.cost_in_usd_ticks, Join(path, "cost_in_usd_ticks"))? {
        Some(t) => Ok(Some(Cents::from_raw(i128::from(t) * TICK_RAW_CENTS))),
        None => Ok(None),
    }
}

/// The usage object's keys for the Chat and Responses readers: every key of [`RawUsage`]
/// and of [`Extras`], read in one pass over the captured text.
#[derive(Deserialize, Default)]
struct ChatUsage<'a> {
    // OpenAI Chat Completions (and compatible gateways)
    #[serde(borrow)]
    prompt_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    completion_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    prompt_tokens_details: Option<Raw<'a>>,
    #[serde(borrow)]
    completion_tokens_details: Option<Raw<'a>>,
    #[serde(borrow)]
    prompt_cache_hit_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    cost: Option<Raw<'a>>,
    // OpenAI Responses, Anthropic
    #[serde(borrow)]
    input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    output_tokens: Option<Raw<'a>>,
    // OpenAI's transcription usage spells it `input_token_details`.
    #[serde(borrow, alias = "input_token_details")]
    input_tokens_details: Option<Raw<'a>>,
    #[serde(borrow)]
    output_tokens_details: Option<Raw<'a>>,
    // Anthropic
    #[serde(borrow)]
    cache_read_input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_creation_input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_creation: Option<Raw<'a>>,
    #[serde(borrow)]
    server_tool_use: Option<Raw<'a>>,
    #[serde(borrow)]
    service_tier: Option<Raw<'a>>,
    #[serde(borrow)]
    inference_geo: Option<Raw<'a>>,
    #[serde(borrow)]
    speed: Option<Raw<'a>>,
    #[serde(borrow)]
    iterations: Option<Raw<'a>>,
    // Bedrock Converse
    #[serde(rename = "inputTokens", borrow)]
    input_tokens_b: Option<Raw<'a>>,
    #[serde(rename = "outputTokens", borrow)]
    output_tokens_b: Option<Raw<'a>>,
    #[serde(rename = "cacheReadInputTokens", borrow)]
    cache_read_b: Option<Raw<'a>>,
    #[serde(rename = "cacheReadInputTokenCount", borrow)]
    cache_read_count_b: Option<Raw<'a>>,
    #[serde(rename = "cacheWriteInputTokens", borrow)]
    cache_write_b: Option<Raw<'a>>,
    #[serde(rename = "cacheWriteInputTokenCount", borrow)]
    cache_write_count_b: Option<Raw<'a>>,
    #[serde(rename = "cacheDetails", borrow)]
    cache_details_b: Option<Raw<'a>>,
    #[serde(rename = "totalTokens", borrow)]
    total_tokens_b: Option<Raw<'a>>,
    // Gemini usageMetadata keys, to recognise a Gemini object handed over as `usage`.
    #[serde(rename = "promptTokenCount", borrow)]
    prompt_token_count: Option<Raw<'a>>,
    // OpenRouter.
    #[serde(borrow)]
    server_tool_use_details: Option<Raw<'a>>,
    // xAI.
    #[serde(borrow)]
    server_side_tool_usage_details: Option<Raw<'a>>,
    #[serde(borrow)]
    cost_in_usd_ticks: Option<Raw<'a>>,
    // Perplexity (Sonar chat; Agent API).
    #[serde(borrow)]
    num_search_queries: Option<Raw<'a>>,
    #[serde(borrow)]
    tool_calls_details: Option<Raw<'a>>,
    // Responses usage that nests the tool usage.
    #[serde(borrow)]
    tool_usage: Option<Raw<'a>>,
    // Moonshot states cache reads at the top of the usage.
    #[serde(borrow)]
    cached_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    total_tokens: Option<Raw<'a>>,
}

/// The usage object read once, as the shared raw usage and the OpenAI-specific extras.
fn usage_and_extras<'a>(
    raw: &'a [u8],
    path: &str,
) -> Result<(RawUsage<'a>, Extras<'a>), ExtractError> {
    let c = object::<ChatUsage<'a>>(Some(fields::text(raw)?), path)?.unwrap_or_default();
    let x = Extras {
        server_tool_use_details: c.server_tool_use_details,
        server_tool_use: c.server_tool_use,
        server_side_tool_usage_details: c.server_side_tool_usage_details,
        cost_in_usd_ticks: c.cost_in_usd_ticks,
        num_search_queries: c.num_search_queries,
        tool_calls_details: c.tool_calls_details,
        tool_usage: c.tool_usage,
        cached_tokens: c.cached_tokens,
        service_tier: c.service_tier,
        total_tokens: c.total_tokens,
    };
    let u = RawUsage {
        prompt_tokens: c.prompt_tokens,
        completion_tokens: c.completion_tokens,
        prompt_tokens_details: c.prompt_tokens_details,
        completion_tokens_details: c.completion_tokens_details,
        prompt_cache_hit_tokens: c.prompt_cache_hit_tokens,
        cost: c.cost,
        input_tokens: c.input_tokens,
        output_tokens: c.output_tokens,
        input_tokens_details: c.input_tokens_details,
        output_tokens_details: c.output_tokens_details,
        cache_read_input_tokens: c.cache_read_input_tokens,
        cache_creation_input_tokens: c.cache_creation_input_tokens,
        cache_creation: c.cache_creation,
        server_tool_use: c.server_tool_use,
        service_tier: c.service_tier,
        inference_geo: c.inference_geo,
        speed: c.speed,
        iterations: c.iterations,
        input_tokens_b: c.input_tokens_b,
        output_tokens_b: c.output_tokens_b,
        cache_read_b: c.cache_read_b,
        cache_read_count_b: c.cache_read_count_b,
        cache_write_b: c.cache_write_b,
        cache_write_count_b: c.cache_write_count_b,
        cache_details_b: c.cache_details_b,
        total_tokens_b: c.total_tokens_b,
        prompt_token_count: c.prompt_token_count,
    };
    Ok((u, x))
}

/// Fresh (uncached) input: the prompt less its cache reads and writes.
///
/// OpenRouter reports the tokens it stores in a provider's cache as both written and read
/// (Gemini through OpenRouter: `prompt_tokens` 2168, `cached_tokens` 2161, `cache_write_tokens`
/// 2161, and a stated prompt cost of 7 fresh + 2161 read + 2161 written). When reads and
/// writes together exceed the prompt, the writes are taken to be the same tokens as the
/// reads: fresh input is the prompt less the reads, every bucket is kept as reported, and a
/// warning says so. Reads alone larger than the prompt leave 0 fresh tokens (and a warning).
/// Never an error: real usage is never dropped.
fn fresh_input(
    prompt: u64,
    prompt_name: impl std::fmt::Display,
    cached: u64,
    written: u64,
    warnings: &mut Vec<String>,
) -> u64 {
    if let Some(fresh) = prompt.checked_sub(cached.saturating_add(written)) {
        return fresh;
    }
    match prompt.checked_sub(cached) {
        Some(fresh) => {
            warnings.push(format!(
                "{prompt_name} ({prompt}) is smaller than cached + cache-write tokens ({cached} + {written}): the cache writes are taken to be the cached tokens written again, so the fresh input is {fresh}; every count is kept as reported"
            ));
            fresh
        }
        None => {
            warnings.push(format!(
                "inconsistent usage: {prompt_name} ({prompt}) is smaller than the cached tokens ({cached}); every count is kept as reported and the fresh input is taken as 0"
            ));
            0
        }
    }
}

/// Chat Completions usage (also OpenAI-compatible servers and DeepSeek).
fn chat(u: &RawUsage<'_>, x: &Extras<'_>, path: &str) -> Result<Found, ExtractError> {
    let prompt = count(u.prompt_tokens, Join(path, "prompt_tokens"))?.ok_or_else(|| {
        ExtractError::new(
            ErrorKind::InvalidUsage,
            format!("{path}.prompt_tokens is missing"),
        )
    })?;
    let completion = count0(u.completion_tokens, Join(path, "completion_tokens"))?;
    let pd_path = Join(path, "prompt_tokens_details");
    let pd = details(u.prompt_tokens_details, pd_path)?;
    let cd = details(
        u.completion_tokens_details,
        Join(path, "completion_tokens_details"),
    )?;
    let mut warnings = Vec::new();
    let (read, written_5m, written_1h) = cache_parts(&pd, pd_path, &mut warnings)?;
    // DeepSeek reports cache hits as prompt_cache_hit_tokens.
    let cached = match count(
        u.prompt_cache_hit_tokens,
        Join(path, "prompt_cache_hit_tokens"),
    )? {
        Some(hit) => hit,
        None => count(x.cached_tokens, Join(path, "cached_tokens"))?.unwrap_or(read),
    };
    let tokens_in = fresh_input(
        prompt,
        Join(path, "prompt_tokens"),
        cached,
        sum(&[written_5m, written_1h], path)?,
        &mut warnings,
    );
    let reasoning = count(
        cd.reasoning_tokens,
        "completion_tokens_details.reasoning_tokens",
    )?;
    // completion_tokens includes reasoning, except where the total says otherwise: xAI's
    // total_tokens = prompt + completion + reasoning (its completion excludes reasoning).
    let total = count(x.total_tokens, Join(path, "total_tokens"))?;
    let tokens_out = match (reasoning, total) {
        (Some(r), Some(t)) if r > 0 && Some(t) == prompt.checked_add(completion + r) => {
            sum(&[completion, r], path)?
        }
        _ => completion,
    };
    Ok(Found {
        warnings,
        usage: Usage {
            tokens_in,
            cached_tokens: cached,
            cache_write_5m_tokens: written_5m,
            cache_write_1h_tokens: written_1h,
            audio_tokens_in: count0(pd.audio_tokens, "prompt_tokens_details.audio_tokens")?,
            image_tokens_in: count0(pd.image_tokens, "prompt_tokens_details.image_tokens")?,
            tokens_out,
            reasoning_tokens: reasoning.unwrap_or(0),
            audio_tokens_out: count0(cd.audio_tokens, "completion_tokens_details.audio_tokens")?,
            image_tokens_out: count0(cd.image_tokens, "completion_tokens_details.image_tokens")?,
            ..Usage::default()
        },
        reasoning_reported: reasoning.is_some(),
        cost: reported_cost(u, x, path)?,
        web_search: stated_web_search(x, path)?,
        tier: fields::string_field(x.service_tier, Join(path, "service_tier"))?,
    })
}

/// Responses API usage (also OpenRouter's, xAI's, DeepSeek's and Perplexity's Responses
/// endpoints).
fn responses(u: &RawUsage<'_>, x: &Extras<'_>, path: &str) -> Result<Found, ExtractError> {
    let input = count0(u.input_tokens, Join(path, "input_tokens"))?;
    let output = count0(u.output_tokens, Join(path, "output_tokens"))?;
    let id_path = Join(path, "input_tokens_details");
    let idd = details(u.input_tokens_details, id_path)?;
    let odd = details(u.output_tokens_details, Join(path, "output_tokens_details"))?;
    let mut warnings = Vec::new();
    let (cached, written_5m, written_1h) = cache_parts(&idd, id_path, &mut warnings)?;
    let tokens_in = fresh_input(
        input,
        Join(path, "input_tokens"),
        cached,
        sum(&[written_5m, written_1h], path)?,
        &mut warnings,
    );
    let reasoning = count(
        odd.reasoning_tokens,
        "output_tokens_details.reasoning_tokens",
    )?;
    Ok(Found {
        warnings,
        usage: Usage {
            tokens_in,
            cached_tokens: cached,
            cache_write_5m_tokens: written_5m,
            cache_write_1h_tokens: written_1h,
            audio_tokens_in: count0(idd.audio_tokens, "input_tokens_details.audio_tokens")?,
            image_tokens_in: count0(idd.image_tokens, "input_tokens_details.image_tokens")?,
            tokens_out: output,
            reasoning_tokens: reasoning.unwrap_or(0),
            audio_tokens_out: count0(odd.audio_tokens, "output_tokens_details.audio_tokens")?,
            image_tokens_out: count0(odd.image_tokens, "output_tokens_details.image_tokens")?,
            ..Usage::default()
        },
        reasoning_reported: reasoning.is_some(),
        cost: reported_cost(u, x, path)?,
        web_search: stated_web_search(x, path)?,
        tier: fields::string_field(x.service_tier, Join(path, "service_tier"))?,
    })
}

/// A `response.failed` event without usage: the provider's error code, when it is a short
/// token.
fn failed(caps: &Captures<'_>) -> ExtractError {
    let code = fields::string(caps.value(Cap::RespErrCode), "response.error.code")
        .ok()
        .flatten()
        .map(|c| format!(" ({})", crate::extract::error::token_or_hidden(&c)))
        .unwrap_or_default();
    ExtractError::new(
        ErrorKind::ProviderError,
        format!("the provider reported an error{code} instead of usage (response.failed)"),
    )
}
