//! Amazon Bedrock Converse and ConverseStream (docs/reference/extraction.md).
//!
//! `inputTokens` excludes the cache (reads: `cacheReadInputTokens`, writes:
//! `cacheWriteInputTokens`, split by TTL in `cacheDetails[]`); `outputTokens` includes
//! reasoning, with no breakdown. The body names no model: the caller's model id is used.
//! A stream's usage is its `metadata` event — `{"metadata": {...}}` as the AWS SDKs yield it,
//! or the raw `application/vnd.amazon.eventstream` message whose `:event-type` is `metadata`.

use super::anthropic;
use super::fields::{self, Join, count, count0, object};
use super::flat::Raw;
use super::shape::{self, Dialect};
use crate::extract::error::{ErrorKind, ExtractError};
use crate::extract::frame::json::Captures;
use crate::extract::item::{LineItem, Provider};
use crate::extract::paths::{Cap, Ctr};
use crate::usage::Usage;
use serde::Deserialize;

#[derive(Deserialize, Default)]
struct CacheDetail<'a> {
    #[serde(borrow)]
    ttl: Option<Raw<'a>>,
    #[serde(rename = "inputTokens", borrow)]
    input_tokens: Option<Raw<'a>>,
}

/// `amazon-bedrock-invocationMetrics` on the last chunk of an InvokeModelWithResponseStream.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Metrics<'a> {
    #[serde(borrow)]
    input_token_count: Option<Raw<'a>>,
    #[serde(borrow)]
    output_token_count: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_read_input_token_count: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_write_input_token_count: Option<Raw<'a>>,
}

/// Reader state: the latest usage seen.
#[derive(Default)]
pub(crate) struct State {
    usage: Option<Usage>,
    /// Warnings about the latest usage (counts kept as reported although inconsistent).
    usage_warnings: Vec<String>,
    tier: Option<String>,
    /// `toolUse` blocks: a Converse body's content, ConverseStream `contentBlockStart`s.
    tool_calls: u64,
    /// An Anthropic model's InvokeModel stream: its Messages events, read as Anthropic's.
    anthropic: Option<Box<anthropic::State>>,
}

const OWN: &[Dialect] = &[Dialect::Bedrock];

impl State {
    /// `event_type` is the event-stream `:event-type` header when the input is a raw AWS
    /// event stream (its payloads are not wrapped in `{"metadata": …}`).
    pub(crate) fn payload(
        &mut self,
        provider: Provider,
        event_type: Option<&str>,
        caps: &Captures<'_>,
    ) -> Result<(), ExtractError> {
        shape::provider_error(caps)?;
        self.tool_calls += u64::from(caps.count(Ctr::BedrockToolUse));
        let (usage_c, tier_c, path) = match event_type {
            Some("metadata") | None => {
                if event_type.is_none() && caps.value(Cap::MetaUsage).is_some() {
                    (Cap::MetaUsage, Cap::MetaTierType, "metadata.usage")
                } else if event_type.is_none() && caps.value(Cap::PayloadUsage).is_some() {
                    // An event-stream message decoded to {"headers": …, "payload": …}.
                    (Cap::PayloadUsage, Cap::MetaTierType, "payload.usage")
                } else {
                    (Cap::Usage, Cap::TierType, "usage")
                }
            }
            Some("chunk") if caps.value(Cap::Type).is_some() => {
                // A Messages stream event (typed): read with Anthropic's rules, which keep the
                // cache TTL split the invocation metrics lack.
                let a = self.anthropic.get_or_insert_with(Box::default);
                return a.payload(Provider::Anthropic, caps);
            }
            Some("chunk") => return self.invocation_metrics(caps),
            Some(_) => return Ok(()),
        };
        if usage_c == Cap::Usage
            && let Some(d) = shape::foreign_by_path(caps, OWN)
        {
            return Err(shape::wrong_provider(provider.as_str(), d));
        }
        if let Some(t) = fields::string(caps.value(tier_c), "serviceTier.type")? {
            self.tier = Some(t);
        }
        let Some(raw) = caps.value(usage_c) else {
            return Ok(());
        };
        let u = shape::raw_usage(raw, path)?;
        match u.dialect() {
            Some(Dialect::Bedrock) => {}
            Some(d) => return Err(shape::wrong_provider(provider.as_str(), d)),
            None => {
                return Err(ExtractError::new(
                    ErrorKind::InvalidUsage,
                    format!("{path} has no inputTokens / outputTokens"),
                ));
            }
        }
        let p = |k| Join(path, k);
        let input =
            count(u.input_tokens_b, p("inputTokens"))?.ok_or_else(|| missing(p("inputTokens")))?;
        let output = count(u.output_tokens_b, p("outputTokens"))?
            .ok_or_else(|| missing(p("outputTokens")))?;
        let cached = match count(u.cache_read_b, p("cacheReadInputTokens"))? {
            Some(v) => v,
            None => count0(u.cache_read_count_b, p("cacheReadInputTokenCount"))?,
        };
        let written = match count(u.cache_write_b, p("cacheWriteInputTokens"))? {
            Some(v) => Some(v),
            None => count(u.cache_write_count_b, p("cacheWriteInputTokenCount"))?,
        };
        let (mut five, mut hour) = (None, None);
        if let Some(list) = fields::array(u.cache_details_b, p("cacheDetails"))? {
            let (mut f, mut h) = (0u64, 0u64);
            for (k, raw) in list.into_iter().enumerate() {
                let at = format!("{path}.cacheDetails[{k}]");
                let d = object::<CacheDetail<'_>>(Some(raw.get()), &at)?.unwrap_or_default();
                let n = count0(d.input_tokens, Join(at.as_str(), "inputTokens"))?;
                match fields::string_field(d.ttl, Join(at.as_str(), "ttl"))?
                    .as_deref()
                    .and_then(ttl)
                {
                    Some(Ttl::FiveMinutes) => f = fields::sum(&[f, n], &at)?,
                    Some(Ttl::OneHour) => h = fields::sum(&[h, n], &at)?,
                    None => {
                        return Err(ExtractError::new(
                            ErrorKind::InvalidUsage,
                            format!("{at}.ttl must be \"5m\" or \"1h\""),
                        ));
                    }
                }
            }
            five = Some(f);
            hour = Some(h);
        }
        let mut warnings = Vec::new();
        let (write_5m, write_1h) = shape::split_writes(
            written,
            five,
            hour,
            p("cacheWriteInputTokens"),
            p("cacheDetails (1h)"),
            &mut warnings,
        );
        self.usage_warnings = warnings;
        // inputTokens excludes the cache, so totalTokens = input + output + reads + writes.
        // A total equal to input + output alone means this model counted the cache inside
        // inputTokens: take it out.
        let cache = fields::sum(&[cached, write_5m, write_1h], path)?;
        let total = count(u.total_tokens_b, p("totalTokens"))?;
        // (An input smaller than the cache cannot hold it: then the total is simply short.)
        let inclusive =
            cache > 0 && input >= cache && total.is_some() && total == input.checked_add(output);
        let input = if inclusive { input - cache } else { input };
        self.usage = Some(Usage {
            tokens_in: input,
            cached_tokens: cached,
            cache_write_5m_tokens: write_5m,
            cache_write_1h_tokens: write_1h,
            tokens_out: output,
            ..Usage::default()
        });
        Ok(())
    }

    pub(crate) fn retained(&self) -> usize {
        self.anthropic.as_ref().map_or(0, |a| {
            std::mem::size_of::<anthropic::State>() + a.retained()
        })
    }

    /// The usage of an InvokeModelWithResponseStream: the invocation metrics Bedrock adds to
    /// the model's last event (any model; cache counts exclude nothing from the input, as in
    /// Converse).
    fn invocation_metrics(&mut self, caps: &Captures<'_>) -> Result<(), ExtractError> {
        let Some(raw) = caps.value(Cap::InvocationMetrics) else {
            return Ok(());
        };
        let path = "amazon-bedrock-invocationMetrics";
        let m = object::<Metrics<'_>>(Some(fields::text(raw)?), path)?.unwrap_or_default();
        let p = |k| Join(path, k);
        let input = count(m.input_token_count, p("inputTokenCount"))?
            .ok_or_else(|| missing(p("inputTokenCount")))?;
        let output = count(m.output_token_count, p("outputTokenCount"))?
            .ok_or_else(|| missing(p("outputTokenCount")))?;
        self.usage = Some(Usage {
            tokens_in: input,
            cached_tokens: count0(
                m.cache_read_input_token_count,
                p("cacheReadInputTokenCount"),
            )?,
            cache_write_5m_tokens: count0(
                m.cache_write_input_token_count,
                p("cacheWriteInputTokenCount"),
            )?,
            tokens_out: output,
            ..Usage::default()
        });
        Ok(())
    }

    pub(crate) fn finish(
        self,
        provider: Provider,
        request_model: Option<&str>,
    ) -> Result<Vec<LineItem>, ExtractError> {
        let Some(model) = request_model else {
            return Err(ExtractError::new(
                ErrorKind::MissingModel,
                "Bedrock responses do not name the model: pass the request's model id (--model)",
            ));
        };
        if let Some(a) = self.anthropic {
            let mut items = a.finish(provider, Some(model))?;
            // The Bedrock model id the caller invoked names the response's line item.
            if let Some(first) = items.first_mut() {
                first.model = model.to_string();
            }
            return Ok(items);
        }
        let Some(usage) = self.usage else {
            return Err(ExtractError::new(
                ErrorKind::NoUsage,
                "no usage reported: no `usage` (Converse) or `metadata` event (ConverseStream)",
            ));
        };
        let mut usage = usage;
        usage.tool_calls = self.tool_calls;
        let mut item = LineItem {
            provider,
            model: model.to_string(),
            response_id: None,
            usage,
            reasoning_reported: false,
            served_tier: None,
            reported_cost_cents: None,
            warnings: self.usage_warnings,
        };
        if let Some(t) = &self.tier {
            super::apply_tier(&mut item, t);
        }
        Ok(vec![item])
    }
}

enum Ttl {
    FiveMinutes,
    OneHour,
}

/// A cache TTL as Bedrock writes it (`5m`, `1h`), also in ISO 8601 duration form (`PT5M`,
/// `T1H`) or in seconds (`300s`), any case.
fn ttl(s: &str) -> Option<Ttl> {
    let t = s.trim().to_ascii_lowercase();
    let t = t
        .strip_prefix("pt")
        .or_else(|| t.strip_prefix('t'))
        .unwrap_or(&t);
    match t {
        "5m" | "300s" => Some(Ttl::FiveMinutes),
        "1h" | "60m" | "3600s" => Some(Ttl::OneHour),
        _ => None,
    }
}

fn missing(path: impl std::fmt::Display) -> ExtractError {
    ExtractError::new(ErrorKind::InvalidUsage, format!("{path} is missing"))
}
