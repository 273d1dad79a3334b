//! Amazon Bedrock Converse and ConverseStream (SPEC §5).
//!
//! `inputTokens` excludes the cache (reads: `cacheReadInputTokens`, writes:
//! `cacheWriteInputTokens`, split by TTL in `cacheDetails[]`); `outputTokens` includes
//! reasoning, with no breakdown. The body names no model: the caller's model id is used.
//! A stream's usage is its `metadata` event — `{"metadata": {...}}` as the AWS SDKs yield it,
//! or the raw `application/vnd.amazon.eventstream` message whose `:event-type` is `metadata`.

use super::error::{ErrorKind, ExtractError};
use super::fields::{self, count, count0, object};
use super::item::{LineItem, Provider};
use super::json::{Cap, Captures};
use super::shape::{self, Dialect};
use crate::usage::Usage;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize, Default)]
struct CacheDetail<'a> {
    #[serde(borrow)]
    ttl: Option<&'a RawValue>,
    #[serde(rename = "inputTokens", borrow)]
    input_tokens: Option<&'a RawValue>,
}

/// Reader state: the latest usage seen.
#[derive(Default)]
pub(crate) struct State {
    usage: Option<Usage>,
    tier: Option<String>,
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
        let p = |k: &str| format!("{path}.{k}");
        let input = count(u.input_tokens_b, &p("inputTokens"))?
            .ok_or_else(|| missing(&p("inputTokens")))?;
        let output = count(u.output_tokens_b, &p("outputTokens"))?
            .ok_or_else(|| missing(&p("outputTokens")))?;
        let cached = match count(u.cache_read_b, &p("cacheReadInputTokens"))? {
            Some(v) => v,
            None => count0(u.cache_read_count_b, &p("cacheReadInputTokenCount"))?,
        };
        let written = match count(u.cache_write_b, &p("cacheWriteInputTokens"))? {
            Some(v) => Some(v),
            None => count(u.cache_write_count_b, &p("cacheWriteInputTokenCount"))?,
        };
        let (mut five, mut hour) = (None, None);
        if let Some(list) = fields::array(u.cache_details_b, &p("cacheDetails"))? {
            let (mut f, mut h) = (0u64, 0u64);
            for (k, raw) in list.into_iter().enumerate() {
                let at = format!("{path}.cacheDetails[{k}]");
                let d = object::<CacheDetail<'_>>(Some(raw.get()), &at)?.unwrap_or_default();
                let n = count0(d.input_tokens, &format!("{at}.inputTokens"))?;
                match fields::string_field(d.ttl, &format!("{at}.ttl"))?.as_deref() {
                    Some("5m") => f = fields::sum(&[f, n], &at)?,
                    Some("1h") => h = fields::sum(&[h, n], &at)?,
                    _ => {
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
        let (write_5m, write_1h) = shape::split_writes(
            written,
            five,
            hour,
            &p("cacheWriteInputTokens"),
            &p("cacheDetails (1h)"),
        )?;
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

    pub(crate) fn finish(
        self,
        provider: Provider,
        request_model: Option<&str>,
    ) -> Result<Vec<LineItem>, ExtractError> {
        let Some(usage) = self.usage else {
            return Err(ExtractError::new(
                ErrorKind::NoUsage,
                "no usage reported: no `usage` (Converse) or `metadata` event (ConverseStream)",
            ));
        };
        let Some(model) = request_model else {
            return Err(ExtractError::new(
                ErrorKind::MissingModel,
                "Bedrock responses do not name the model: pass the request's model id (--model)",
            ));
        };
        let mut item = LineItem {
            provider,
            model: model.to_string(),
            response_id: None,
            usage,
            reasoning_reported: false,
            served_tier: None,
            reported_cost_cents: None,
            warnings: Vec::new(),
        };
        if let Some(t) = &self.tier {
            super::apply_tier(&mut item, t);
        }
        Ok(vec![item])
    }
}

fn missing(path: &str) -> ExtractError {
    ExtractError::new(ErrorKind::InvalidUsage, format!("{path} is missing"))
}
