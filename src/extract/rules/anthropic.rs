//! Anthropic Messages (docs/reference/extraction.md): a body, or an SSE stream of `message_start` +
//! `message_delta` events, also as served by Bedrock InvokeModel and compatible proxies.
//!
//! `input_tokens` excludes the cache, so it is `tokensIn` as is; `output_tokens` includes
//! thinking. In a stream, `message_start.message.usage` is the start and every
//! `message_delta.usage` **replaces** (never adds to) each field it carries.
//!
//! `usage.iterations[]` (server-side compaction, advisor, fallback): iterations run on the
//! response's model (compaction, message — they name no model, or the response's) are summed
//! into its line item; each `advisor_message` iteration, and any iteration naming another
//! model (a fallback), becomes its own line item on that model.

use super::fields::{self, Join, count, object};
use super::flat::Raw;
use super::shape::{self, Dialect};
use crate::extract::error::{ErrorKind, ExtractError};
use crate::extract::frame::json::Captures;
use crate::extract::item::{LineItem, Provider};
use crate::extract::paths::{Cap, Ctr};
use crate::usage::Usage;
use serde::Deserialize;

#[derive(Deserialize, Default)]
struct CacheCreation<'a> {
    #[serde(borrow)]
    ephemeral_5m_input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    ephemeral_1h_input_tokens: Option<Raw<'a>>,
}

#[derive(Deserialize, Default)]
struct ServerToolUse<'a> {
    #[serde(borrow)]
    web_search_requests: Option<Raw<'a>>,
}

#[derive(Deserialize, Default)]
struct OutputDetails<'a> {
    #[serde(borrow)]
    thinking_tokens: Option<Raw<'a>>,
}

#[derive(Deserialize, Default)]
struct RawIteration<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Raw<'a>>,
    #[serde(borrow)]
    model: Option<Raw<'a>>,
    #[serde(borrow)]
    input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    output_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_read_input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_creation_input_tokens: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_creation: Option<Raw<'a>>,
}

/// The usage fields of the message so far; `None` = not reported yet.
#[derive(Default, Clone)]
struct Fields {
    input: Option<u64>,
    output: Option<u64>,
    cache_read: Option<u64>,
    cache_creation: Option<u64>,
    eph_5m: Option<u64>,
    eph_1h: Option<u64>,
    thinking: Option<u64>,
    web_search: Option<u64>,
    tier: Option<String>,
    geo: Option<String>,
    speed: Option<String>,
    iterations: Option<Vec<Iteration>>,
}

#[derive(Clone)]
struct Iteration {
    advisor: bool,
    model: Option<String>,
    counts: Counts,
    /// Counts taken as reported although inconsistent.
    warnings: Vec<String>,
}

/// Disjoint input buckets and output of one billed unit.
#[derive(Clone, Copy, Default)]
struct Counts {
    input: u64,
    cached: u64,
    write_5m: u64,
    write_1h: u64,
    output: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) -> Result<(), ExtractError> {
        let path = "usage.iterations";
        self.input = fields::sum(&[self.input, o.input], path)?;
        self.cached = fields::sum(&[self.cached, o.cached], path)?;
        self.write_5m = fields::sum(&[self.write_5m, o.write_5m], path)?;
        self.write_1h = fields::sum(&[self.write_1h, o.write_1h], path)?;
        self.output = fields::sum(&[self.output, o.output], path)?;
        Ok(())
    }
}

/// Reader state.
#[derive(Default)]
pub(crate) struct State {
    model: Option<String>,
    id: Option<String>,
    fields: Fields,
    saw_usage: bool,
    /// A body or a `message_delta` (final usage) was seen.
    saw_final: bool,
    /// `tool_use` blocks (a body's content, a stream's `content_block_start` events).
    tool_calls: u64,
}

const OWN: &[Dialect] = &[Dialect::Anthropic];

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
        if let Some(d) = openai_object(caps) {
            return Err(shape::wrong_provider(provider.as_str(), d));
        }
        self.tool_calls += u64::from(caps.count(Ctr::AnthToolUse));
        let (model_c, id_c, usage_c, final_event) = if shape::type_is(caps, "message_start") {
            // A message_start that already has a stop reason holds the whole message
            // (prepopulated content): its usage is final.
            let complete = caps.present(Cap::MsgStopReason);
            (Cap::MsgModel, Cap::MsgId, Cap::MsgUsage, complete)
        } else if shape::type_is(caps, "message_delta")
            // A whole body (`"type": "message"`), or a proxy's body without a type.
            || shape::type_is(caps, "message")
            || caps.value(Cap::Type).is_none()
        {
            (Cap::Model, Cap::Id, Cap::Usage, true)
        } else {
            // content_block_*, ping, message_stop, …
            return Ok(());
        };
        let model = fields::model_name(fields::string(caps.value(model_c), "model")?, "model")?;
        let id = fields::response_id(fields::string(caps.value(id_c), "id")?, "id")?;
        if model.is_some() {
            self.model = model;
        }
        if id.is_some() {
            self.id = id;
        }
        let Some(raw) = caps.value(usage_c) else {
            return Ok(());
        };
        let path = if usage_c == Cap::MsgUsage {
            "message.usage"
        } else {
            "usage"
        };
        let u = shape::raw_usage(raw, path)?;
        if let Some(
            d @ (Dialect::OpenAiChat
            | Dialect::OpenAiResponses
            | Dialect::Bedrock
            | Dialect::Gemini),
        ) = u.dialect()
        {
            return Err(shape::wrong_provider(provider.as_str(), d));
        }
        self.merge(&u, path)?;
        self.saw_usage = true;
        if final_event {
            self.saw_final = true;
        }
        Ok(())
    }

    /// Replace-not-add: every field present in this usage object replaces the old value.
    fn merge(&mut self, u: &shape::RawUsage<'_>, path: &str) -> Result<(), ExtractError> {
        let f = &mut self.fields;
        let p = |k| Join(path, k);
        replace(&mut f.input, count(u.input_tokens, p("input_tokens"))?);
        replace(&mut f.output, count(u.output_tokens, p("output_tokens"))?);
        replace(
            &mut f.cache_read,
            count(u.cache_read_input_tokens, p("cache_read_input_tokens"))?,
        );
        replace(
            &mut f.cache_creation,
            count(
                u.cache_creation_input_tokens,
                p("cache_creation_input_tokens"),
            )?,
        );
        if let Some(cc) =
            object::<CacheCreation<'_>>(fields::present(u.cache_creation), p("cache_creation"))?
        {
            replace(
                &mut f.eph_5m,
                count(
                    cc.ephemeral_5m_input_tokens,
                    p("cache_creation.ephemeral_5m_input_tokens"),
                )?,
            );
            replace(
                &mut f.eph_1h,
                count(
                    cc.ephemeral_1h_input_tokens,
                    p("cache_creation.ephemeral_1h_input_tokens"),
                )?,
            );
        }
        if let Some(od) = object::<OutputDetails<'_>>(
            fields::present(u.output_tokens_details),
            p("output_tokens_details"),
        )? {
            replace(
                &mut f.thinking,
                count(
                    od.thinking_tokens,
                    p("output_tokens_details.thinking_tokens"),
                )?,
            );
        }
        if let Some(st) =
            object::<ServerToolUse<'_>>(fields::present(u.server_tool_use), p("server_tool_use"))?
        {
            replace(
                &mut f.web_search,
                count(
                    st.web_search_requests,
                    p("server_tool_use.web_search_requests"),
                )?,
            );
        }
        replace(
            &mut f.tier,
            fields::string_field(u.service_tier, p("service_tier"))?.filter(|s| !s.is_empty()),
        );
        if fields::present(u.inference_geo).is_some() {
            f.geo = shape::attribute(u.inference_geo, p("inference_geo"))?;
        }
        if fields::present(u.speed).is_some() {
            f.speed = shape::attribute(u.speed, p("speed"))?;
        }
        if let Some(list) = fields::array(u.iterations, p("iterations"))? {
            let mut its = Vec::with_capacity(list.len());
            for (k, raw) in list.into_iter().enumerate() {
                its.push(iteration(raw, &format!("{path}.iterations[{k}]"))?);
            }
            f.iterations = Some(its);
        }
        Ok(())
    }

    pub(crate) fn retained(&self) -> usize {
        let s = |o: &Option<String>| o.as_ref().map_or(0, String::capacity);
        let f = &self.fields;
        s(&self.model)
            + s(&self.id)
            + s(&f.tier)
            + s(&f.geo)
            + s(&f.speed)
            + f.iterations.as_ref().map_or(0, |v| {
                v.capacity() * std::mem::size_of::<Iteration>()
                    + v.iter().map(|it| s(&it.model)).sum::<usize>()
            })
    }

    pub(crate) fn finish(
        self,
        provider: Provider,
        request_model: Option<&str>,
    ) -> Result<Vec<LineItem>, ExtractError> {
        if !self.saw_usage {
            return Err(ExtractError::new(
                ErrorKind::NoUsage,
                "no usage reported: the response has no `usage`",
            ));
        }
        if !self.saw_final {
            return Err(ExtractError::new(
                ErrorKind::NoUsage,
                "no final usage: the stream ended after message_start, before its message_delta (truncated stream)",
            ));
        }
        let f = self.fields;
        let model = super::pick_model(self.model, request_model)?;
        // An iteration is its own line item when it ran on another model.
        let response_model = model.clone();
        let separate =
            |it: &Iteration| it.advisor || it.model.as_deref().is_some_and(|m| m != response_model);
        let mut items = Vec::new();
        let mut warnings = Vec::new();
        let executor = match f.iterations.as_deref() {
            Some(its) if !its.is_empty() => {
                let mut total = Counts::default();
                for it in its.iter().filter(|it| !separate(it)) {
                    total.add(&it.counts)?;
                    warnings.extend(it.warnings.iter().cloned());
                }
                total
            }
            _ => {
                let (write_5m, write_1h) = shape::split_writes(
                    f.cache_creation,
                    f.eph_5m,
                    f.eph_1h,
                    "usage.cache_creation_input_tokens",
                    "usage.cache_creation.ephemeral_1h_input_tokens",
                    &mut warnings,
                );
                Counts {
                    input: f.input.ok_or_else(|| missing("usage.input_tokens"))?,
                    cached: f.cache_read.unwrap_or(0),
                    write_5m,
                    write_1h,
                    output: f.output.ok_or_else(|| missing("usage.output_tokens"))?,
                }
            }
        };
        let mut first = item(provider, model, self.id.clone(), &executor, &f);
        first.usage.reasoning_tokens = f.thinking.unwrap_or(0);
        first.reasoning_reported = f.thinking.is_some();
        first.usage.web_search_requests = f.web_search.unwrap_or(0);
        first.usage.tool_calls = self.tool_calls;
        first.warnings.extend(warnings);
        items.push(first);
        for it in f.iterations.iter().flatten().filter(|it| separate(it)) {
            let model = it.model.clone().ok_or_else(|| {
                ExtractError::new(
                    ErrorKind::MissingModel,
                    "an advisor iteration in usage.iterations names no model",
                )
            })?;
            let id = match &self.id {
                Some(id) => Some(super::nth_id(id, items.len() + 1)?),
                None => None,
            };
            let mut li = item(provider, model, id, &it.counts, &f);
            li.warnings.extend(it.warnings.iter().cloned());
            items.push(li);
        }
        Ok(items)
    }
}

fn item(provider: Provider, model: String, id: Option<String>, c: &Counts, f: &Fields) -> LineItem {
    let mut li = LineItem {
        provider,
        model,
        response_id: id,
        usage: Usage {
            tokens_in: c.input,
            cached_tokens: c.cached,
            cache_write_5m_tokens: c.write_5m,
            cache_write_1h_tokens: c.write_1h,
            tokens_out: c.output,
            inference_geo: f.geo.clone().map(String::into_boxed_str),
            speed: f.speed.clone().map(String::into_boxed_str),
            ..Usage::default()
        },
        reasoning_reported: false,
        served_tier: None,
        reported_cost_cents: None,
        warnings: Vec::new(),
    };
    if let Some(t) = &f.tier {
        super::apply_tier(&mut li, t);
    }
    li
}

fn replace<T>(slot: &mut Option<T>, v: Option<T>) {
    if v.is_some() {
        *slot = v;
    }
}

fn missing(path: impl std::fmt::Display) -> ExtractError {
    ExtractError::new(ErrorKind::InvalidUsage, format!("{path} is missing"))
}

fn iteration(raw: Raw<'_>, path: &str) -> Result<Iteration, ExtractError> {
    let it = object::<RawIteration<'_>>(Some(raw.get()), path)?.unwrap_or_default();
    let kind = fields::string_field(it.kind, Join(path, "type"))?;
    let model = fields::model_name(
        fields::string_field(it.model, Join(path, "model"))?,
        Join(path, "model"),
    )?;
    let cc = object::<CacheCreation<'_>>(
        fields::present(it.cache_creation),
        Join(path, "cache_creation"),
    )?
    .unwrap_or_default();
    let mut warnings = Vec::new();
    let (write_5m, write_1h) = shape::split_writes(
        count(
            it.cache_creation_input_tokens,
            Join(path, "cache_creation_input_tokens"),
        )?,
        count(
            cc.ephemeral_5m_input_tokens,
            Join(path, "cache_creation.ephemeral_5m_input_tokens"),
        )?,
        count(
            cc.ephemeral_1h_input_tokens,
            Join(path, "cache_creation.ephemeral_1h_input_tokens"),
        )?,
        Join(path, "cache_creation_input_tokens"),
        Join(path, "cache_creation.ephemeral_1h_input_tokens"),
        &mut warnings,
    );
    Ok(Iteration {
        warnings,
        advisor: kind.as_deref() == Some("advisor_message"),
        model,
        counts: Counts {
            input: fields::count0(it.input_tokens, Join(path, "input_tokens"))?,
            cached: fields::count0(
                it.cache_read_input_tokens,
                Join(path, "cache_read_input_tokens"),
            )?,
            write_5m,
            write_1h,
            output: fields::count0(it.output_tokens, Join(path, "output_tokens"))?,
        },
    })
}

/// An OpenAI object (`"object": "chat.completion"`, `"response"`, …) handed to the
/// Anthropic reader.
fn openai_object(caps: &Captures<'_>) -> Option<Dialect> {
    let raw = caps.value(Cap::Object)?;
    let obj = serde_json::from_slice::<String>(raw).ok()?;
    if obj.starts_with("chat.completion") {
        Some(Dialect::OpenAiChat)
    } else if obj == "response" {
        Some(Dialect::OpenAiResponses)
    } else {
        None
    }
}
