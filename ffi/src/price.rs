//! Pricing: one event as JSON in / JSON out, and the struct-based batch fast path
//! (`tg_price_item[]` in, `tg_price_out[]` out, one crossing for many items).

use crate::boundary::{Failure, FfiResult, OutBuf, borrow, boundary, input_limited, utf8};
use crate::decimal::tg_decimal;
use crate::engine::tg_engine;
use crate::error::tg_error;
use crate::status::*;
use tollgate_engine::engine::{
    CostSource, Engine, MatchKind, PriceError, PriceInput, UnpricedReason,
};
use tollgate_engine::event::{
    EventKind, EventRef, MAX_ATTR_BYTES, MAX_NAME_BYTES, MAX_TIMESTAMP_MS,
};
use tollgate_engine::money::Cents;
use tollgate_engine::usage::{ServiceTier, Usage};

/// Largest JSON record (one event, resolve, customer, query) accepted, in bytes.
pub const TG_MAX_JSON_BYTES: usize = 1 << 20;
/// Most items one `tg_price_batch` call accepts.
pub const TG_MAX_BATCH_ITEMS: usize = 1 << 16;
/// Largest `names` arena of one `tg_price_batch` call, in bytes.
pub const TG_MAX_NAMES_BYTES: usize = 64 << 20;

/// `tg_price_item.timestamp_ms` value meaning "no timestamp": priced with the snapshot in
/// force now.
pub const TG_TIMESTAMP_NONE: i64 = -1;

/// `tg_price_item.kind`: an LLM call, priced from the rate card.
pub const TG_KIND_LLM: u32 = 0;
/// `tg_price_item.kind`: a tool call (cost = provider/external cost only).
pub const TG_KIND_TOOL: u32 = 1;
/// `tg_price_item.kind`: a retrieval step (cost = provider/external cost only).
pub const TG_KIND_RETRIEVAL: u32 = 2;

/// `tg_price_item.service_tier`: standard (absent, `default`, `auto`, `standard`).
pub const TG_TIER_STANDARD: u32 = 0;
/// `tg_price_item.service_tier`: flex.
pub const TG_TIER_FLEX: u32 = 1;
/// `tg_price_item.service_tier`: priority (`fast`).
pub const TG_TIER_PRIORITY: u32 = 2;
/// `tg_price_item.service_tier`: batch.
pub const TG_TIER_BATCH: u32 = 3;
/// `tg_price_item.service_tier`: balanced.
pub const TG_TIER_BALANCED: u32 = 4;
/// `tg_price_item.service_tier`: ultrafast.
pub const TG_TIER_ULTRAFAST: u32 = 5;

/// `tg_price_item.flags`: `provider_cost_cents` is set (used verbatim, the rate card is skipped).
pub const TG_ITEM_HAS_PROVIDER_COST: u32 = 1;
/// `tg_price_item.flags`: `external_cost_cents` is set (added to the cost).
pub const TG_ITEM_HAS_EXTERNAL_COST: u32 = 2;

/// `tg_price_out.source`: token counts × the rate card (or an override).
pub const TG_SOURCE_RATE_CARD: u32 = 0;
/// `tg_price_out.source`: `provider_cost_cents` used verbatim.
pub const TG_SOURCE_PROVIDER: u32 = 1;
/// `tg_price_out.source`: a non-LLM step, external cost only.
pub const TG_SOURCE_EXTERNAL: u32 = 2;
/// `tg_price_out.source`: nothing priced the LLM part (see `reason`).
pub const TG_SOURCE_UNPRICED: u32 = 3;

/// `tg_price_out.match_kind`: the model did not resolve.
pub const TG_MATCH_NONE: u32 = 0;
/// `tg_price_out.match_kind`: the name (or `provider/name`) is a registry key.
pub const TG_MATCH_EXACT: u32 = 1;
/// `tg_price_out.match_kind`: found after stripping a prefix, region, date or suffix.
pub const TG_MATCH_STRIPPED: u32 = 2;
/// `tg_price_out.match_kind`: resolved through `alias_of`.
pub const TG_MATCH_ALIAS: u32 = 3;
/// `tg_price_out.match_kind`: a gateway's `vendor/model` split was used (audit these).
pub const TG_MATCH_INFERRED: u32 = 4;
/// `tg_price_out.match_kind`: a per-model override priced it.
pub const TG_MATCH_OVERRIDE: u32 = 5;

/// `tg_price_out.reason`: priced (or priced by the provider / external cost).
pub const TG_REASON_NONE: u32 = 0;
/// `tg_price_out.reason`: the model does not resolve to any registry entry.
pub const TG_REASON_UNKNOWN_MODEL: u32 = 1;
/// `tg_price_out.reason`: the entry exists but has no token prices.
pub const TG_REASON_NO_TOKEN_PRICE: u32 = 2;
/// `tg_price_out.reason`: a `truncated` event (usage unknown). Only JSON records carry that
/// kind, so the struct paths never report it; listed so the reasons match the JSON's.
pub const TG_REASON_TRUNCATED: u32 = 3;

/// A slice `[offset, offset + len)` of the `names` arena passed to `tg_price_batch`.
/// `len == 0` means absent. Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct tg_span {
    /// Byte offset into the arena.
    pub offset: u32,
    /// Length in bytes; 0 = absent.
    pub len: u32,
}

/// One usage to price (docs/reference/events.md (usage)), fixed layout (184 bytes, 8-byte aligned). Zero-initialise
/// it (`= {0}`: an LLM call, standard tier, no costs) and set `timestamp_ms` to
/// `TG_TIMESTAMP_NONE` or an epoch-millisecond time.
///
/// Names are spans of one `names` arena shared by the whole batch rather than pointers, so a
/// batch is two flat buffers with no pointers inside (what garbage-collected callers such as
/// Go, Node and Python can build cheaply and safely). Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct tg_price_item {
    /// Fresh input tokens (not read from or written to the prompt cache).
    pub tokens_in: u64,
    /// Input tokens read from the prompt cache.
    pub cached_tokens: u64,
    /// Input tokens written to the cache at the standard (5-minute) rate.
    pub cache_write_5m_tokens: u64,
    /// Input tokens written to the cache with a 1-hour TTL.
    pub cache_write_1h_tokens: u64,
    /// Part of `tokens_in` that is audio.
    pub audio_tokens_in: u64,
    /// Part of `tokens_in` that is image.
    pub image_tokens_in: u64,
    /// All output tokens, including reasoning, audio and image output.
    pub tokens_out: u64,
    /// Part of `tokens_out` spent on reasoning.
    pub reasoning_tokens: u64,
    /// Part of `tokens_out` that is audio.
    pub audio_tokens_out: u64,
    /// Part of `tokens_out` that is image.
    pub image_tokens_out: u64,
    /// Web-search requests.
    pub web_search_requests: u64,
    /// Tool calls.
    pub tool_calls: u64,
    /// Event time in epoch milliseconds (selects the snapshot in force), or
    /// `TG_TIMESTAMP_NONE`.
    pub timestamp_ms: i64,
    /// Cost stated by the provider; used verbatim when `TG_ITEM_HAS_PROVIDER_COST` is set.
    pub provider_cost_cents: tg_decimal,
    /// Extra non-LLM cost, added when `TG_ITEM_HAS_EXTERNAL_COST` is set.
    pub external_cost_cents: tg_decimal,
    /// Provider or gateway name (e.g. `openai`, `openrouter`).
    pub provider: tg_span,
    /// Model name as given (required for `TG_KIND_LLM`).
    pub model: tg_span,
    /// Anthropic-style inference geography (`us`), optional.
    pub inference_geo: tg_span,
    /// Anthropic-style speed (`fast`), optional.
    pub speed: tg_span,
    /// `TG_KIND_*`.
    pub kind: u32,
    /// `TG_TIER_*`: the tier the provider served.
    pub service_tier: u32,
    /// `TG_ITEM_*` bits.
    pub flags: u32,
    /// Must be 0.
    pub reserved: u32,
}

/// The result for one `tg_price_item`, fixed layout (48 bytes). Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct tg_price_out {
    /// Total cost in cents, exact: LLM cost (rate card or provider-stated) + external cost.
    pub cost_cents: tg_decimal,
    /// Id of the rate-card snapshot that priced the item.
    pub snapshot_id: u64,
    /// `TG_OK`, or why this item could not be priced at all: `TG_ERR_INVALID_INPUT` (count
    /// above 2^53, missing model, bad span, kind, tier, flags or timestamp, negative cost),
    /// `TG_ERR_INVALID_UTF8` (a name), `TG_ERR_LIMIT` (a name too long), `TG_ERR_OVERFLOW`.
    /// When not `TG_OK` the other fields are 0.
    pub status: i32,
    /// 1 when the LLM part was priced; 0 when unpriced (cost 0 is then *not* a real $0).
    pub priced: u32,
    /// `TG_SOURCE_*`.
    pub source: u32,
    /// `TG_MATCH_*`.
    pub match_kind: u32,
    /// `TG_REASON_*`.
    pub reason: u32,
    /// Number of warnings (e.g. `reasoning_tokens > tokens_out`); the JSON path returns
    /// their text.
    pub warning_count: u32,
}

const _: () = assert!(std::mem::size_of::<tg_price_item>() == 184);
const _: () = assert!(std::mem::size_of::<tg_price_out>() == 48);

/// Prices one event given as JSON (the event record of docs/reference/events.md (event record); `customerId` etc. are
/// accepted and ignored here) and writes the result as JSON:
/// `{"costCents":"0.4245","priced":true,"model":"gpt-4o","snapshot":"<16 hex>","reason":null,
/// "warnings":[],"match":"exact","source":"ratecard","webSearchCents":"0"}` (exactly what `tollgate price` prints).
///
/// `event` is `(pointer, length)`, at most `TG_MAX_JSON_BYTES`. Output into
/// `out[0..out_cap]`, length in `*out_len`.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT`;
/// `TG_ERR_INVALID_UTF8`; `TG_ERR_INVALID_INPUT` (malformed event; the detail names the
/// field); `TG_ERR_OVERFLOW`; `TG_ERR_BUFFER_TOO_SMALL` (`*out_len` = needed length).
/// Thread-safety: safe to call concurrently on one engine. Changes nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_price_json(
    engine: *const tg_engine,
    event: *const u8,
    event_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, event, out) = unsafe {
            (
                borrow(engine)?,
                input_limited(event, event_len, TG_MAX_JSON_BYTES, "event")?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        price_json(&engine.pricing, event, out)
    })
}

/// The JSON price path on one pricing engine (the live one, or a pinned view).
pub(crate) fn price_json(pricing: &Engine, event: &[u8], out: OutBuf) -> FfiResult {
    utf8(event, "event")?;
    // Parsed without copying its text (same validation as `Event::from_json`), and the result
    // written into a reused per-thread buffer: this is the one-call hot path of the bindings.
    let event = EventRef::from_json(event)
        .map_err(|e| Failure::owned(TG_ERR_INVALID_INPUT, e.to_string()))?;
    let result = pricing
        .price(&PriceInput::from_event_ref(&event))
        .map_err(price_failure)?;
    thread_local! {
        static TEXT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    TEXT.with(|text| {
        let mut text = text.borrow_mut();
        text.clear();
        result.write_json(&mut text);
        let written = out.write(&text);
        if text.capacity() > 1 << 16 {
            *text = Vec::new(); // keep memory bounded after an unusually large result
        }
        written
    })
}

fn price_error_status(e: &PriceError) -> i32 {
    match e {
        PriceError::Overflow => TG_ERR_OVERFLOW,
        _ => TG_ERR_INVALID_INPUT,
    }
}

pub(crate) fn price_failure(e: PriceError) -> Failure {
    Failure::owned(price_error_status(&e), e.to_string())
}

/// Prices `item_count` items in one call, writing `results[i]` for `items[i]`. Each item is
/// priced independently with the snapshot in force at its timestamp; a bad item gets its own
/// status in `results[i].status` and does not fail the call.
///
/// `items` points to `item_count` items (`(NULL, 0)` is an empty batch), at most
/// `TG_MAX_BATCH_ITEMS`. `names` is `(pointer, length)`, at most `TG_MAX_NAMES_BYTES`: the
/// arena the items' spans point into (UTF-8 per span). `results` must have room for
/// `item_count` entries and must not overlap `items` or `names`.
///
/// Returns `TG_OK` (per-item statuses in `results`); `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`;
/// `TG_ERR_LIMIT`. On failure `results` is not written.
/// Thread-safety: safe to call concurrently on one engine. Changes nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_price_batch(
    engine: *const tg_engine,
    items: *const tg_price_item,
    item_count: usize,
    names: *const u8,
    names_len: usize,
    results: *mut tg_price_out,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let engine = unsafe { borrow(engine)? };
        // SAFETY: as above.
        unsafe {
            price_batch(
                &engine.pricing,
                items,
                item_count,
                names,
                names_len,
                results,
            )
        }
    })
}

/// The batch path on one pricing engine (the live one, or a pinned view).
///
/// # Safety
/// The `tg_price_batch` contracts of `items`, `names` and `results`.
pub(crate) unsafe fn price_batch(
    pricing: &Engine,
    items: *const tg_price_item,
    item_count: usize,
    names: *const u8,
    names_len: usize,
    results: *mut tg_price_out,
) -> FfiResult {
    if item_count > TG_MAX_BATCH_ITEMS {
        return Err(Failure::owned(
            TG_ERR_LIMIT,
            format!("item_count: {item_count} exceeds the limit of {TG_MAX_BATCH_ITEMS}"),
        ));
    }
    // SAFETY: forwarded contract.
    let names = unsafe { input_limited(names, names_len, TG_MAX_NAMES_BYTES, "names")? };
    if item_count == 0 {
        return Ok(());
    }
    if items.is_null() {
        return Err(Failure::new(TG_ERR_NULL, "items: pointer is NULL"));
    }
    if results.is_null() {
        return Err(Failure::new(TG_ERR_NULL, "results: pointer is NULL"));
    }
    // SAFETY: non-NULL, `item_count` readable items per the contract.
    let items = unsafe { std::slice::from_raw_parts(items, item_count) };
    for (i, item) in items.iter().enumerate() {
        let r = price_item(pricing, item, names);
        // SAFETY: `results` has room for `item_count` entries per the contract.
        unsafe { results.add(i).write(r) };
    }
    Ok(())
}

/// Reads a span of the arena as UTF-8, `None` when empty.
fn span(names: &[u8], s: tg_span, max: usize) -> Result<Option<&str>, i32> {
    if s.len == 0 {
        return Ok(None);
    }
    if s.len as usize > max {
        return Err(TG_ERR_LIMIT);
    }
    let start = s.offset as usize;
    let end = start
        .checked_add(s.len as usize)
        .ok_or(TG_ERR_INVALID_INPUT)?;
    let bytes = names.get(start..end).ok_or(TG_ERR_INVALID_INPUT)?;
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|_| TG_ERR_INVALID_UTF8)
}

fn amount(d: tg_decimal, set: bool) -> Result<Option<Cents>, i32> {
    if !set {
        return Ok(None);
    }
    let c = d.to_cents();
    if c.is_negative() {
        return Err(TG_ERR_INVALID_INPUT);
    }
    Ok(Some(c))
}

fn error_out(status: i32) -> tg_price_out {
    tg_price_out {
        status,
        ..tg_price_out::default()
    }
}

/// Prices one fixed-layout item; never fails the batch.
#[inline]
pub(crate) fn price_item(pricing: &Engine, item: &tg_price_item, names: &[u8]) -> tg_price_out {
    match price_item_inner(pricing, item, names) {
        Ok(r) => r,
        Err(status) => error_out(status),
    }
}

fn price_item_inner(
    pricing: &Engine,
    item: &tg_price_item,
    names: &[u8],
) -> Result<tg_price_out, i32> {
    const KNOWN_FLAGS: u32 = TG_ITEM_HAS_PROVIDER_COST | TG_ITEM_HAS_EXTERNAL_COST;
    if item.flags & !KNOWN_FLAGS != 0 || item.reserved != 0 {
        return Err(TG_ERR_INVALID_INPUT);
    }
    let kind = match item.kind {
        TG_KIND_LLM => EventKind::Llm,
        TG_KIND_TOOL => EventKind::Tool,
        TG_KIND_RETRIEVAL => EventKind::Retrieval,
        _ => return Err(TG_ERR_INVALID_INPUT),
    };
    let service_tier = match item.service_tier {
        TG_TIER_STANDARD => ServiceTier::Standard,
        TG_TIER_FLEX => ServiceTier::Flex,
        TG_TIER_PRIORITY => ServiceTier::Priority,
        TG_TIER_BATCH => ServiceTier::Batch,
        TG_TIER_BALANCED => ServiceTier::Balanced,
        TG_TIER_ULTRAFAST => ServiceTier::Ultrafast,
        _ => return Err(TG_ERR_INVALID_INPUT),
    };
    let timestamp_ms = match item.timestamp_ms {
        TG_TIMESTAMP_NONE => None,
        t @ 0..=MAX_TIMESTAMP_MS => Some(t),
        _ => return Err(TG_ERR_INVALID_INPUT),
    };
    let provider = span(names, item.provider, MAX_NAME_BYTES)?;
    let model = span(names, item.model, MAX_NAME_BYTES)?;
    let inference_geo = span(names, item.inference_geo, MAX_ATTR_BYTES)?;
    let speed = span(names, item.speed, MAX_ATTR_BYTES)?;
    let usage = Usage {
        tokens_in: item.tokens_in,
        cached_tokens: item.cached_tokens,
        cache_write_5m_tokens: item.cache_write_5m_tokens,
        cache_write_1h_tokens: item.cache_write_1h_tokens,
        audio_tokens_in: item.audio_tokens_in,
        image_tokens_in: item.image_tokens_in,
        tokens_out: item.tokens_out,
        reasoning_tokens: item.reasoning_tokens,
        audio_tokens_out: item.audio_tokens_out,
        image_tokens_out: item.image_tokens_out,
        service_tier,
        inference_geo: inference_geo.map(Box::from),
        speed: speed.map(Box::from),
        web_search_requests: item.web_search_requests,
        tool_calls: item.tool_calls,
    };
    let input = PriceInput {
        kind,
        provider,
        model,
        usage: &usage,
        timestamp_ms,
        provider_cost_cents: amount(
            item.provider_cost_cents,
            item.flags & TG_ITEM_HAS_PROVIDER_COST != 0,
        )?,
        external_cost_cents: amount(
            item.external_cost_cents,
            item.flags & TG_ITEM_HAS_EXTERNAL_COST != 0,
        )?,
    };
    // Read in place: moving the returned `Result` (≈120 bytes) into another layout costs
    // store-forwarding stalls that dominate the boundary's overhead on this hot path.
    let result = pricing.price(&input);
    let r = match &result {
        Ok(r) => r,
        Err(e) => return Err(price_error_status(e)),
    };
    Ok(tg_price_out {
        cost_cents: tg_decimal::from_cents(r.cost_cents),
        snapshot_id: r.snapshot.0,
        status: TG_OK,
        priced: u32::from(r.priced),
        source: match r.source {
            CostSource::RateCard => TG_SOURCE_RATE_CARD,
            CostSource::Provider => TG_SOURCE_PROVIDER,
            CostSource::External => TG_SOURCE_EXTERNAL,
            CostSource::Unpriced => TG_SOURCE_UNPRICED,
        },
        match_kind: match r.match_kind {
            None => TG_MATCH_NONE,
            Some(MatchKind::Exact) => TG_MATCH_EXACT,
            Some(MatchKind::Stripped) => TG_MATCH_STRIPPED,
            Some(MatchKind::Alias) => TG_MATCH_ALIAS,
            Some(MatchKind::Inferred) => TG_MATCH_INFERRED,
            Some(MatchKind::Override) => TG_MATCH_OVERRIDE,
        },
        reason: match r.reason {
            None => TG_REASON_NONE,
            Some(UnpricedReason::UnknownModel) => TG_REASON_UNKNOWN_MODEL,
            Some(UnpricedReason::NoTokenPrice) => TG_REASON_NO_TOKEN_PRICE,
            Some(UnpricedReason::Truncated) => TG_REASON_TRUNCATED,
        },
        warning_count: u32::try_from(r.warnings.len()).unwrap_or(u32::MAX),
    })
}
