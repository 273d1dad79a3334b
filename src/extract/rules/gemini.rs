//! Gemini `generateContent` and `streamGenerateContent` (SSE, JSON Lines or a JSON array),
//! also Vertex AI (docs/reference/extraction.md).
//!
//! `promptTokenCount` includes cached content; tool-use prompt tokens are counted apart and
//! added: `tokensIn = prompt + toolUsePrompt − cached`. Thoughts are **not** inside
//! `candidatesTokenCount`: `tokensOut = candidates + thoughts`. In a stream every chunk's
//! `usageMetadata` is cumulative, so the last one is the total.

use super::fields::{self, Join, count, count0, fresh, sum};
use super::flat::Raw;
use super::shape::{self, Dialect, Latest};
use crate::extract::error::{ErrorKind, ExtractError};
use crate::extract::frame::json::Captures;
use crate::extract::item::{LineItem, Provider};
use crate::extract::paths::{Cap, Ctr};
use crate::usage::Usage;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Metadata<'a> {
    #[serde(borrow)]
    prompt_token_count: Option<Raw<'a>>,
    #[serde(borrow)]
    cached_content_token_count: Option<Raw<'a>>,
    #[serde(borrow)]
    candidates_token_count: Option<Raw<'a>>,
    #[serde(borrow)]
    thoughts_token_count: Option<Raw<'a>>,
    #[serde(borrow)]
    tool_use_prompt_token_count: Option<Raw<'a>>,
    #[serde(borrow)]
    prompt_tokens_details: Option<Raw<'a>>,
    #[serde(borrow)]
    cache_tokens_details: Option<Raw<'a>>,
    #[serde(borrow)]
    candidates_tokens_details: Option<Raw<'a>>,
    #[serde(borrow)]
    tool_use_prompt_tokens_details: Option<Raw<'a>>,
    #[serde(borrow)]
    service_tier: Option<Raw<'a>>,
    #[serde(borrow)]
    traffic_type: Option<Raw<'a>>,
    #[serde(borrow)]
    total_token_count: Option<Raw<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ModalityCount<'a> {
    #[serde(borrow)]
    modality: Option<Raw<'a>>,
    #[serde(borrow)]
    token_count: Option<Raw<'a>>,
}

/// Audio and image token counts of a `*TokensDetails` list.
#[derive(Default, Clone, Copy)]
struct Modal {
    audio: u64,
    image: u64,
}

/// Reader state: the latest (cumulative) `usageMetadata`, kept raw in a reused buffer and
/// read once at the end, and the latest model / response id.
#[derive(Default)]
pub(crate) struct State {
    usage_raw: Vec<u8>,
    has_usage: bool,
    model: Latest,
    id: Latest,
    /// A top-level `service_tier` (some Gemini endpoints name the served tier there).
    tier: Latest,
    /// A candidate carried a `finishReason` or the prompt was blocked: the stream completed.
    finished: bool,
    /// Named `functionCall` parts over the stream (streamed argument pieces name none).
    function_calls: u64,
    /// Distinct grounding search queries (hashes only), and queries beyond what is kept.
    queries: Vec<u64>,
    queries_unhashed: u64,
}

/// Most distinct search-query hashes kept per response.
const MAX_QUERY_HASHES: usize = 256;

const OWN: &[Dialect] = &[Dialect::Gemini];

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
        if let Some(raw) = caps.value(Cap::Usage) {
            let u = shape::raw_usage(raw, "usage")?;
            if let Some(d) = u.dialect().filter(|d| *d != Dialect::Gemini) {
                return Err(shape::wrong_provider(provider.as_str(), d));
            }
        }
        if caps.present(Cap::FinishReason) || caps.present(Cap::BlockReason) {
            self.finished = true;
        }
        // A usage-only chunk (no candidates) is the stream's closing usage report.
        if caps.value(Cap::UsageMetadata).is_some() && !caps.present(Cap::Candidates) {
            self.finished = true;
        }
        self.function_calls += u64::from(caps.count(Ctr::GemFunctionCalls));
        let hashes = caps.hashes();
        for h in hashes {
            if !self.queries.contains(h) {
                if self.queries.len() < MAX_QUERY_HASHES {
                    self.queries.push(*h);
                } else {
                    self.queries_unhashed += 1;
                }
            }
        }
        let counted = u64::from(caps.count(Ctr::GemSearchQueries));
        self.queries_unhashed += counted.saturating_sub(hashes.len() as u64);
        self.model.keep(caps.value(Cap::ModelVersion));
        self.id.keep(caps.value(Cap::ResponseId));
        self.tier.keep(caps.value(Cap::ServiceTier));
        if let Some(raw) = caps.value(Cap::UsageMetadata) {
            self.usage_raw.clear();
            self.usage_raw.extend_from_slice(raw);
            self.has_usage = true;
        }
        Ok(())
    }

    pub(crate) fn retained(&self) -> usize {
        self.usage_raw.capacity()
            + self.model.retained()
            + self.id.retained()
            + self.tier.retained()
            + self.queries.capacity() * std::mem::size_of::<u64>()
    }

    pub(crate) fn finish(
        self,
        provider: Provider,
        request_model: Option<&str>,
        streamed: bool,
    ) -> Result<Vec<LineItem>, ExtractError> {
        if !self.has_usage {
            return Err(ExtractError::new(
                ErrorKind::NoUsage,
                "no usage reported: the response has no `usageMetadata`",
            ));
        }
        if streamed && !self.finished {
            return Err(ExtractError::new(
                ErrorKind::Truncated,
                "the Gemini stream ended before a chunk with a finishReason: its cumulative usage is not final",
            ));
        }
        let mut warnings = Vec::new();
        let (mut usage, reasoning_reported, tier) = read_metadata(&self.usage_raw, &mut warnings)?;
        usage.tool_calls = self.function_calls;
        usage.web_search_requests = fields::sum(
            &[self.queries.len() as u64, self.queries_unhashed],
            "groundingMetadata.webSearchQueries",
        )?;
        let model = fields::model_name(self.model.string("modelVersion")?, "modelVersion")?;
        let model = super::pick_model(model, request_model)?;
        let id = fields::response_id(self.id.string("responseId")?, "responseId")?;
        let mut item = LineItem {
            provider,
            model,
            response_id: id,
            usage,
            reasoning_reported,
            served_tier: None,
            reported_cost_cents: None,
            warnings,
        };
        let tier = match tier {
            Some(t) => Some(t),
            None => self.tier.string("service_tier")?,
        };
        if let Some(t) = &tier {
            super::apply_tier(&mut item, t);
        }
        Ok(vec![item])
    }
}

/// Normalizes one `usageMetadata` object: (usage, thoughts reported, served tier). Counts
/// kept although inconsistent add a warning to `warnings`.
fn read_metadata(
    raw: &[u8],
    warnings: &mut Vec<String>,
) -> Result<(Usage, bool, Option<String>), ExtractError> {
    let text = fields::text(raw)?;
    let m = fields::object::<Metadata<'_>>(Some(text), "usageMetadata")?.unwrap_or_default();
    let prompt = count0(m.prompt_token_count, "usageMetadata.promptTokenCount")?;
    let cached = count0(
        m.cached_content_token_count,
        "usageMetadata.cachedContentTokenCount",
    )?;
    let tool = count0(
        m.tool_use_prompt_token_count,
        "usageMetadata.toolUsePromptTokenCount",
    )?;
    let candidates = count0(
        m.candidates_token_count,
        "usageMetadata.candidatesTokenCount",
    )?;
    let thoughts = count(m.thoughts_token_count, "usageMetadata.thoughtsTokenCount")?;
    let total = count(m.total_token_count, "usageMetadata.totalTokenCount")?;
    let whole_in = sum(&[prompt, tool], "usageMetadata")?;
    let tokens_in = fresh(
        whole_in,
        "promptTokenCount + toolUsePromptTokenCount",
        cached,
        "cachedContentTokenCount",
        warnings,
    );
    let pm = modal(m.prompt_tokens_details, "usageMetadata.promptTokensDetails")?;
    let tm = modal(
        m.tool_use_prompt_tokens_details,
        "usageMetadata.toolUsePromptTokensDetails",
    )?;
    let cm = modal(m.cache_tokens_details, "usageMetadata.cacheTokensDetails")?;
    let om = modal(
        m.candidates_tokens_details,
        "usageMetadata.candidatesTokensDetails",
    )?;
    let audio_in = fresh(
        sum(&[pm.audio, tm.audio], "usageMetadata")?,
        "prompt AUDIO tokens",
        cm.audio,
        "cached AUDIO tokens",
        warnings,
    );
    let image_in = fresh(
        sum(&[pm.image, tm.image], "usageMetadata")?,
        "prompt IMAGE tokens",
        cm.image,
        "cached IMAGE tokens",
        warnings,
    );
    let usage = Usage {
        tokens_in,
        cached_tokens: cached,
        audio_tokens_in: audio_in,
        image_tokens_in: image_in,
        tokens_out: output_tokens(whole_in, candidates, thoughts, total)?,
        reasoning_tokens: thoughts.unwrap_or(0),
        audio_tokens_out: om.audio,
        image_tokens_out: om.image,
        ..Usage::default()
    };
    let tier = match fields::string_field(m.service_tier, "usageMetadata.serviceTier")? {
        Some(t) => Some(t),
        None => fields::string_field(m.traffic_type, "usageMetadata.trafficType")?
            .map(|t| traffic_tier(&t)),
    };
    Ok((usage, thoughts.is_some(), tier))
}

/// Output tokens: thoughts are outside `candidatesTokenCount` (added), unless the total says
/// they are inside it (`totalTokenCount = prompt + toolUse + candidates`).
fn output_tokens(
    whole_in: u64,
    candidates: u64,
    thoughts: Option<u64>,
    total: Option<u64>,
) -> Result<u64, ExtractError> {
    let thoughts = thoughts.unwrap_or(0);
    let inside = thoughts > 0
        && thoughts <= candidates
        && total.is_some_and(|t| Some(t) == whole_in.checked_add(candidates));
    if inside {
        Ok(candidates)
    } else {
        sum(&[candidates, thoughts], "usageMetadata")
    }
}

/// Vertex AI `trafficType` as a served tier name.
fn traffic_tier(t: &str) -> String {
    match t {
        "ON_DEMAND" | "PROVISIONED_THROUGHPUT" => "default",
        "ON_DEMAND_PRIORITY" => "priority",
        "ON_DEMAND_FLEX" | "FLEX" => "flex",
        "BATCH" => "batch",
        other => other,
    }
    .to_string()
}

fn modal(v: Option<Raw<'_>>, path: &str) -> Result<Modal, ExtractError> {
    let mut out = Modal::default();
    let Some(list) = fields::array(v, path)? else {
        return Ok(out);
    };
    for (k, raw) in list.into_iter().enumerate() {
        let at = format!("{path}[{k}]");
        let mc = fields::object::<ModalityCount<'_>>(Some(raw.get()), &at)?.unwrap_or_default();
        let n = count0(mc.token_count, Join(at.as_str(), "tokenCount"))?;
        match fields::string_field(mc.modality, Join(at.as_str(), "modality"))?.as_deref() {
            Some("AUDIO") => out.audio = sum(&[out.audio, n], &at)?,
            Some("IMAGE") => out.image = sum(&[out.image, n], &at)?,
            _ => {}
        }
    }
    Ok(out)
}
