//! The ledger surface of `tg_engine`: track (JSON and one-call track-response), resolve,
//! upsert customer, margin queries, state save/restore.

use crate::boundary::{
    Failure, FfiResult, OutBuf, borrow, borrow_mut, boundary, input_limited, input_str,
    require_out, utf8, write_out,
};
use crate::decimal::tg_decimal;
use crate::engine::{EngineObject, tg_engine};
use crate::error::tg_error;
use crate::json::{push_key, push_opt_str, push_str};
use crate::price::TG_MAX_JSON_BYTES;
use crate::status::*;
use crate::usage::{TG_MAX_BODY_BYTES, extract_failure, provider_and_model, tg_stream};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt::Write as _;
use tollgate_engine::engine::UnpricedReason;
use tollgate_engine::event::{Event, EventRef, MAX_ID_BYTES};
use tollgate_engine::extract::{self, LineItem};
use tollgate_engine::ledger::days::parse_day;
use tollgate_engine::ledger::record::Record;
use tollgate_engine::ledger::{
    Dimension, Filter, IngestResult, MAX_QUERY_BYTES, MarginRow, QueryError, RejectKind, Rejection,
    ReportQuery,
};

/// Bound on the JSON output of one track, resolve or customer call (per line item for
/// `tg_track_response`). These calls change state, so they check `out_cap` against this
/// bound *before* changing anything: a buffer of this size never loses a result.
pub const TG_RECORD_OUT_MAX: usize = 4096;
/// Bound on one rendered result: leaves room for `{"results":[…]}` around it, so one line
/// item of `tg_track_response` also fits in `TG_RECORD_OUT_MAX`.
const ITEM_OUT_MAX: usize = TG_RECORD_OUT_MAX - 32;
/// Largest state accepted by `tg_state_restore`, in bytes.
pub const TG_MAX_STATE_BYTES: usize = 1 << 30;
/// `tg_margin.margin_pct_hundredths` when revenue is 0 (the percentage is undefined).
pub const TG_MARGIN_PCT_NONE: i64 = i64::MIN;

/// The current margin of one customer, fixed layout (for enforcement in a request path, no
/// JSON). Amounts are exact cents. Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct tg_margin {
    /// All revenue: usage + outcome + subscription.
    pub revenue_cents: tg_decimal,
    /// Per-event revenue.
    pub usage_revenue_cents: tg_decimal,
    /// Revenue of resolved runs.
    pub outcome_revenue_cents: tg_decimal,
    /// Subscription revenue accrued through the ledger clock's day.
    pub subscription_revenue_cents: tg_decimal,
    /// Cost of the events.
    pub cost_cents: tg_decimal,
    /// Revenue − cost.
    pub margin_cents: tg_decimal,
    /// Margin as hundredths of a percent of revenue, rounded half-even (`7000` = 70.00 %),
    /// saturating at the `int64_t` range; `TG_MARGIN_PCT_NONE` when revenue is 0.
    pub margin_pct_hundredths: i64,
    /// Accepted events.
    pub events: u64,
    /// Accepted events whose LLM part could not be priced.
    pub unpriced_events: u64,
    /// Runs not resolved yet.
    pub runs_open: u64,
    /// Runs resolved.
    pub runs_resolved: u64,
    /// Runs escalated.
    pub runs_escalated: u64,
    /// Runs failed.
    pub runs_failed: u64,
}

pub(crate) fn record_failure(r: &Rejection) -> Failure {
    let status = match r.kind {
        RejectKind::Invalid => TG_ERR_INVALID_INPUT,
        RejectKind::TooLate => TG_ERR_TOO_LATE,
        RejectKind::Overflow => TG_ERR_OVERFLOW,
        // A panic interrupted an earlier update: the ledger refuses every change.
        RejectKind::Poisoned => TG_ERR_PANIC,
    };
    Failure::owned(status, r.to_string())
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Renders an ingest result, within `ITEM_OUT_MAX` bytes by construction: long texts
/// are clipped, and warnings that would not fit are counted in `warningsOmitted`.
pub(crate) fn push_ingest(out: &mut String, r: &IngestResult) {
    let start = out.len();
    out.push('{');
    match r {
        IngestResult::Accepted(a) => {
            out.push_str("\"status\":\"accepted\"");
            // Amounts and snapshot ids are digits, signs and points: no escape needed.
            let _ = write!(out, ",\"costCents\":\"{}\"", a.cost_cents);
            let _ = write!(out, ",\"revenueCents\":\"{}\"", a.revenue_cents);
            push_key(out, "priced", false);
            out.push_str(if a.priced { "true" } else { "false" });
            push_key(out, "reason", false);
            push_opt_str(out, a.reason.map(UnpricedReason::as_str));
            push_key(out, "snapshot", false);
            match a.snapshot {
                Some(s) => {
                    let _ = write!(out, "\"{s}\"");
                }
                None => out.push_str("null"),
            }
            push_key(out, "warnings", false);
            out.push('[');
            let mut omitted = 0usize;
            for w in &a.warnings {
                // 256 bytes escape to at most 1,536; keep the whole object under the bound.
                // Written in place, and taken back when it does not fit.
                let before = out.len();
                if !out.ends_with('[') {
                    out.push(',');
                }
                let text = out.len();
                push_str(out, clip(w, 256));
                if out.len() - start - (text - before) + 64 > ITEM_OUT_MAX {
                    out.truncate(before);
                    omitted += 1;
                }
            }
            out.push(']');
            if omitted > 0 {
                let _ = write!(out, ",\"warningsOmitted\":{omitted}");
            }
        }
        IngestResult::Duplicate => out.push_str("\"status\":\"duplicate\""),
        IngestResult::Conflict { reason } => {
            out.push_str("\"status\":\"conflict\"");
            push_key(out, "reason", false);
            push_str(out, clip(reason, 256));
        }
        IngestResult::Rejected(rej) => {
            out.push_str("\"status\":\"rejected\"");
            push_key(out, "kind", false);
            push_str(out, rej.kind.as_str());
            push_key(out, "field", false);
            push_str(out, rej.field);
            push_key(out, "error", false);
            push_str(out, clip(&rej.to_string(), 512));
        }
    }
    out.push('}');
}

/// The single-record form: a rejection is the call's error, anything else is rendered.
pub(crate) fn single_record(out: OutBuf, r: &IngestResult) -> FfiResult {
    if let IngestResult::Rejected(rej) = r {
        return Err(record_failure(rej));
    }
    let mut s = String::with_capacity(256);
    push_ingest(&mut s, r);
    out.write(s.as_bytes())
}

/// Tracks one event (docs/reference/events.md (event record) JSON): prices it with the snapshot in force at its timestamp
/// and applies it to the ledger exactly once. Writes
/// `{"status":"accepted","costCents":"…","revenueCents":"…","priced":true,"reason":null,
/// "snapshot":"…","warnings":[…]}` (`priced` false when the LLM part could not be priced,
/// `reason` then `"unknown_model"` or `"no_token_price"`, as `tg_price_json` reports it), `{"status":"duplicate"}` (same key, same content: nothing changed) or
/// `{"status":"conflict","reason":"…"}` (same key, different money-relevant content: nothing
/// changed, the first stands).
///
/// `out_cap` must be at least `TG_RECORD_OUT_MAX`; a smaller buffer fails with
/// `TG_ERR_BUFFER_TOO_SMALL` (`*out_len` = `TG_RECORD_OUT_MAX`) **before** anything is
/// tracked.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT` (event above
/// `TG_MAX_JSON_BYTES`); `TG_ERR_INVALID_UTF8`; `TG_ERR_INVALID_INPUT` (the detail names the
/// field); `TG_ERR_TOO_LATE` (older than the dedupe window: not counted); `TG_ERR_OVERFLOW`;
/// `TG_ERR_BUFFER_TOO_SMALL`. Every failure leaves the ledger unchanged.
/// Thread-safety: safe to call concurrently on one engine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_track_json(
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
        out.require(TG_RECORD_OUT_MAX)?;
        utf8(event, "event")?;
        let parsed = Event::from_json(event)
            .map_err(|e| Failure::owned(TG_ERR_INVALID_INPUT, e.to_string()))?;
        let r = match engine.store() {
            Some(store) => store
                .ingest_json(event)
                .map_err(crate::store::store_failure)?,
            None => engine.ledger()?.track(&engine.pricing, &parsed),
        };
        single_record(out, &r)
    })
}

/// Event fields a track-response context may carry: who and what the call was for. Usage,
/// model and provider come from the response itself.
const CONTEXT_FIELDS: [&str; 10] = [
    "customerId",
    "runId",
    "agentId",
    "idempotencyKey",
    "timestamp",
    "ts",
    "revenueUnitCents",
    "units",
    "outcome",
    "externalCostCents",
];

/// Parses the context object of a track-response call.
fn context_map(context: &[u8]) -> FfiResult<Map<String, Value>> {
    if context.is_empty() {
        return Ok(Map::new());
    }
    utf8(context, "context")?;
    let v: Value = serde_json::from_slice(context).map_err(|e| {
        Failure::owned(
            TG_ERR_INVALID_INPUT,
            format!(
                "context: malformed JSON at line {} column {}",
                e.line(),
                e.column()
            ),
        )
    })?;
    let Value::Object(map) = v else {
        return Err(Failure::new(
            TG_ERR_INVALID_INPUT,
            "context: must be a JSON object",
        ));
    };
    if let Some(k) = map.keys().find(|k| !CONTEXT_FIELDS.contains(&k.as_str())) {
        return Err(Failure::owned(
            TG_ERR_INVALID_INPUT,
            format!(
                "context: field `{}` is not allowed (usage, model and provider come from the response; allowed: {})",
                clip(k, 64),
                CONTEXT_FIELDS.join(", ")
            ),
        ));
    }
    Ok(map)
}

/// The events of a response's line items with the caller's context merged in. A second or
/// later line item gets `<idempotencyKey>#<n>` so each has its own key. All are parsed (and
/// validated) before any is applied.
///
/// Each event's JSON is the line item's own JSON with the context's members appended: the
/// context may hold only `CONTEXT_FIELDS`, none of which a line item writes, so appending is
/// the merge (no parse of the line item back into a map and no second serialization).
fn line_item_events(
    items: &[LineItem],
    context: &Map<String, Value>,
) -> FfiResult<Vec<(Event, Vec<u8>)>> {
    let key = match context.get("idempotencyKey") {
        Some(Value::String(k)) => Some(k.as_str()),
        _ => None,
    };
    // `,"name":value` for every member but a string idempotencyKey (written per item).
    let mut members = String::new();
    for (k, v) in context {
        if key.is_some() && k == "idempotencyKey" {
            continue;
        }
        members.push(',');
        members.push_str(&json_text(&Value::String(k.clone()))?);
        members.push(':');
        members.push_str(&json_text(v)?);
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut json = item.to_json();
            if json.pop() != Some('}') {
                return Err(Failure::owned(TG_ERR_PANIC, "line item JSON: not an object".to_string()));
            }
            json.push_str(&members);
            if let Some(k) = key {
                json.push_str(",\"idempotencyKey\":");
                if i == 0 {
                    json.push_str(&json_text(&Value::String(k.to_owned()))?);
                } else {
                    let suffixed = format!("{k}#{}", i + 1);
                    if suffixed.len() > MAX_ID_BYTES {
                        return Err(Failure::owned(
                            TG_ERR_INVALID_INPUT,
                            format!(
                                "idempotencyKey: with the line-item suffix it exceeds {MAX_ID_BYTES} bytes"
                            ),
                        ));
                    }
                    json.push_str(&json_text(&Value::String(suffixed))?);
                }
            }
            json.push('}');
            let json = json.into_bytes();
            let event = Event::from_json(&json)
                .map_err(|e| Failure::owned(TG_ERR_INVALID_INPUT, e.to_string()))?;
            Ok((event, json))
        })
        .collect()
}

/// A JSON value as text (serde_json's writer).
fn json_text(v: &Value) -> FfiResult<String> {
    serde_json::to_string(v).map_err(|e| Failure::owned(TG_ERR_PANIC, format!("event JSON: {e}")))
}

/// The context as an event holding its who-and-what fields, validated by the event parser
/// (`None` when it is not a valid context: the JSON path then reports why).
fn context_event(context: &[u8]) -> Option<Event> {
    let map = context_map(context).ok()?;
    let mut json = String::with_capacity(16 + context.len());
    json.push_str("{\"type\":\"tool\"");
    for (k, v) in &map {
        json.push(',');
        json.push_str(&json_text(&Value::String(k.clone())).ok()?);
        json.push(':');
        json.push_str(&json_text(v).ok()?);
    }
    json.push('}');
    Event::from_json(json.as_bytes()).ok()
}

thread_local! {
    /// The last valid context this thread tracked with, and its event: a wrapper passes the
    /// same context bytes with every response, so it is parsed once.
    static CONTEXT: RefCell<Option<(Vec<u8>, Event)>> = const { RefCell::new(None) };
}

/// Contexts longer than this are parsed per call, not remembered.
const CONTEXT_MEMO_MAX: usize = 1024;

/// The in-memory engine's path: each line item's event is built directly from the item and
/// the context (no JSON text in between), then tracked. `None` when the context or an item
/// is not valid: the JSON path ([`line_item_events`]) then reports the error exactly as
/// before, having changed nothing.
fn track_direct(
    engine: &EngineObject,
    items: &[LineItem],
    context: &[u8],
    out: &OutBuf,
) -> FfiResult<Option<Tracked>> {
    let with = |ctx: &Event| -> FfiResult<Option<Tracked>> {
        out.require(TG_RECORD_OUT_MAX * items.len())?;
        let ctx = ctx.borrowed();
        if let [item] = items {
            // One line item (nearly every response): no list of events or results.
            let Ok(event) = EventRef::from_line_item(item, &ctx) else {
                return Ok(None);
            };
            let ledger = engine.ledger()?;
            return Ok(Some(Tracked::One(
                ledger.track_ref(&engine.pricing, &event),
            )));
        }
        let mut events = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let Ok(mut event) = EventRef::from_line_item(item, &ctx) else {
                return Ok(None);
            };
            if i > 0
                && let Some(k) = &ctx.idempotency_key
            {
                let suffixed = format!("{k}#{}", i + 1);
                if suffixed.len() > MAX_ID_BYTES {
                    return Ok(None);
                }
                event.idempotency_key = Some(Cow::Owned(suffixed));
            }
            events.push(event);
        }
        let ledger = engine.ledger()?;
        Ok(Some(Tracked::Many(
            events
                .iter()
                .map(|e| ledger.track_ref(&engine.pricing, e))
                .collect(),
        )))
    };
    if context.len() > CONTEXT_MEMO_MAX {
        return match context_event(context) {
            Some(ctx) => with(&ctx),
            None => Ok(None),
        };
    }
    CONTEXT.with(|memo| {
        let mut memo = memo.borrow_mut();
        if !matches!(&*memo, Some((bytes, _)) if bytes.as_slice() == context) {
            *memo = None;
            let Some(ctx) = context_event(context) else {
                return Ok(None);
            };
            *memo = Some((context.to_vec(), ctx));
        }
        match &*memo {
            Some((_, ctx)) => with(ctx),
            None => Ok(None),
        }
    })
}

/// The results of [`track_direct`]: one line item's, or several.
enum Tracked {
    One(IngestResult),
    Many(Vec<IngestResult>),
}

impl Tracked {
    fn as_slice(&self) -> &[IngestResult] {
        match self {
            Tracked::One(r) => std::slice::from_ref(r),
            Tracked::Many(v) => v,
        }
    }
}

/// `{"results":[…]}` of a track-response call.
///
/// Rendered in a per-thread buffer reused from call to call (no allocation once it has
/// grown to the results' size; it is given back when a call needed more than
/// `RESULTS_BUF_KEEP` bytes), then copied to `out`.
fn write_results(out: OutBuf, results: &[IngestResult]) -> FfiResult {
    RESULTS_BUF.with(|buf| {
        let mut s = buf.take();
        s.clear();
        s.reserve(64 + 256 * results.len());
        s.push_str("{\"results\":[");
        for (i, r) in results.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_ingest(&mut s, r);
        }
        s.push_str("]}");
        let written = out.write(s.as_bytes());
        if s.capacity() <= RESULTS_BUF_KEEP {
            buf.set(s);
        }
        written
    })
}

/// The largest results buffer kept per thread between calls.
const RESULTS_BUF_KEEP: usize = 16 * 1024;

thread_local! {
    /// `write_results`' text buffer (a `Cell`: taken for the call, put back after it, so a
    /// re-entrant use finds an empty one rather than failing).
    static RESULTS_BUF: std::cell::Cell<String> = const { std::cell::Cell::new(String::new()) };
}

fn track_items(
    engine: &EngineObject,
    items: &[LineItem],
    context: &[u8],
    out: OutBuf,
) -> FfiResult {
    if engine.store().is_none()
        && let Some(results) = track_direct(engine, items, context, &out)?
    {
        return write_results(out, results.as_slice());
    }
    let context = context_map(context)?;
    out.require(TG_RECORD_OUT_MAX * items.len())?;
    let events = line_item_events(items, &context)?;
    let results = match engine.store() {
        Some(store) => store
            .ingest_batch(events.iter().map(|(_, json)| json.as_slice()))
            .map_err(crate::store::store_failure)?,
        None => {
            let ledger = engine.ledger()?;
            events
                .iter()
                .map(|(e, _)| ledger.track(&engine.pricing, e))
                .collect()
        }
    };
    write_results(out, &results)
}

/// One call from a raw provider response to the ledger: extracts the usage (as
/// `tg_usage_extract`), builds one event per line item from it plus `context`, prices and
/// tracks each. `context` is a JSON object (or `(NULL, 0)`) with any of `customerId` (the
/// ledger requires it), `runId`, `agentId`, `idempotencyKey` (default: the response id),
/// `timestamp`/`ts`, `revenueUnitCents`, `units`, `outcome`, `externalCostCents`.
///
/// Writes `{"results":[…]}`, one track result per line item (as `tg_track_json`; a line item
/// the ledger rejects appears as `{"status":"rejected","kind":"too_late",…}` while the others
/// still apply). `out_cap` must be at least `TG_RECORD_OUT_MAX × line items` (checked
/// after extraction, before anything is tracked; `*out_len` reports it).
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT`;
/// `TG_ERR_INVALID_UTF8`; `TG_ERR_INVALID_INPUT` (bad context, or the response: see
/// `tg_usage_extract`); `TG_ERR_NO_USAGE`; `TG_ERR_BUFFER_TOO_SMALL`. On failure nothing was
/// tracked. Thread-safety: safe to call concurrently on one engine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_track_response(
    engine: *const tg_engine,
    provider: *const u8,
    provider_len: usize,
    model: *const u8,
    model_len: usize,
    body: *const u8,
    body_len: usize,
    context: *const u8,
    context_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, (provider, model), body, context, out) = unsafe {
            (
                borrow(engine)?,
                provider_and_model(provider, provider_len, model, model_len)?,
                input_limited(body, body_len, TG_MAX_BODY_BYTES, "body")?,
                input_limited(context, context_len, TG_MAX_JSON_BYTES, "context")?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        let items = extract::extract(provider, model, body).map_err(|e| extract_failure(&e))?;
        track_items(engine, &items, context, out)
    })
}

/// `tg_track_response` for a response read through a `tg_stream`: finishes the stream (if
/// not yet finished) and tracks its line items with `context`. The stream stays owned by the
/// caller; tracking the same stream again is reported as duplicates by the ledger (same
/// idempotency keys).
///
/// Returns the statuses of `tg_track_response`, plus those of `tg_stream_finish`.
/// Thread-safety: the engine may be shared; the stream must not be in use elsewhere.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_stream_track(
    engine: *const tg_engine,
    stream: *mut tg_stream,
    context: *const u8,
    context_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, stream, context, out) = unsafe {
            (
                borrow(engine)?,
                borrow_mut(stream)?,
                input_limited(context, context_len, TG_MAX_JSON_BYTES, "context")?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        let items = stream.finish()?;
        track_items(engine, items, context, out)
    })
}

/// Books one record of a known type (`resolve`, `customer`, `policy`): a durable engine
/// journals it before applying it; otherwise `apply` puts it into the in-memory ledger
/// (`None`: the record is of another type, which `typed_record` already excludes). One
/// result is written to `out` (`out_cap` ≥ `TG_RECORD_OUT_MAX`, checked first).
pub(crate) fn book_typed_record(
    engine: &EngineObject,
    record: &[u8],
    out: OutBuf,
    kind: &'static str,
    apply: impl FnOnce(&tollgate_engine::ledger::Ledger, Record) -> Option<IngestResult>,
) -> FfiResult {
    out.require(TG_RECORD_OUT_MAX)?;
    let (record, json) = typed_record(record, kind)?;
    let result = match engine.store() {
        Some(store) => store
            .ingest_json(&json)
            .map_err(crate::store::store_failure)?,
        None => apply(&*engine.ledger()?, record).ok_or_else(|| {
            Failure::owned(TG_ERR_PANIC, format!("{kind} record of another type"))
        })?,
    };
    single_record(out, &result)
}

/// Wraps a record of a known type: adds `"type"` when absent, rejects another type.
/// The record and the JSON line it was parsed from (`type` filled in).
pub(crate) fn typed_record(json: &[u8], kind: &'static str) -> FfiResult<(Record, Vec<u8>)> {
    utf8(json, "record")?;
    let v: Value = serde_json::from_slice(json).map_err(|e| {
        Failure::owned(
            TG_ERR_INVALID_INPUT,
            format!("malformed JSON at line {} column {}", e.line(), e.column()),
        )
    })?;
    let Value::Object(mut map) = v else {
        return Err(Failure::new(TG_ERR_INVALID_INPUT, "must be a JSON object"));
    };
    match map.get("type") {
        None => {
            map.insert("type".into(), Value::String(kind.into()));
        }
        Some(Value::String(t)) if t == kind => {}
        Some(_) => {
            return Err(Failure::owned(
                TG_ERR_INVALID_INPUT,
                format!("type: must be \"{kind}\" (or absent) here"),
            ));
        }
    }
    let bytes = serde_json::to_vec(&Value::Object(map))
        .map_err(|e| Failure::owned(TG_ERR_PANIC, format!("record JSON: {e}")))?;
    let record = Record::from_json(&bytes).map_err(|e| record_failure(&Rejection::from(e)))?;
    Ok((record, bytes))
}

/// Resolves a run (docs/reference/ledger.md (runs)): `{"runId","customerId","outcome":"resolved|escalated|failed",
/// "revenueUnitCents"?, "timestamp"?}` (`"type":"resolve"` optional). Same arguments again →
/// `{"status":"duplicate"}`; different → `{"status":"conflict",…}` (the first stands).
///
/// Output and statuses as `tg_track_json` (`out_cap` ≥ `TG_RECORD_OUT_MAX`, checked first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_resolve_json(
    engine: *const tg_engine,
    record: *const u8,
    record_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, record, out) = unsafe {
            (
                borrow(engine)?,
                input_limited(record, record_len, TG_MAX_JSON_BYTES, "record")?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        book_typed_record(engine, record, out, "resolve", |ledger, r| match r {
            Record::Resolve(r) => Some(ledger.resolve(&r)),
            _ => None,
        })
    })
}

/// Creates or changes a customer (docs/reference/ledger.md (customers and plans)): `{"customerId","name"?,"seats"?,"plan"?:
/// {"name","pricingModel":"usage_based|outcome_based|per_seat|flat","unitRevenueCents",
/// "seatPriceCents","monthlyFeeCents"},"timestamp"?}` (`"type":"customer"` optional).
/// Idempotent: the same terms again → `{"status":"duplicate"}`. An upsert replaces the whole
/// customer: an omitted `plan` means no plan from then on, omitted `seats` means 0.
///
/// Output and statuses as `tg_track_json` (`out_cap` ≥ `TG_RECORD_OUT_MAX`, checked first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_upsert_customer_json(
    engine: *const tg_engine,
    record: *const u8,
    record_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, record, out) = unsafe {
            (
                borrow(engine)?,
                input_limited(record, record_len, TG_MAX_JSON_BYTES, "record")?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        book_typed_record(engine, record, out, "customer", |ledger, r| match r {
            Record::Customer(c) => Some(ledger.upsert_customer(&c)),
            _ => None,
        })
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Query {
    customer_id: Option<String>,
    run_id: Option<String>,
    agent_id: Option<String>,
    model: Option<String>,
    provider: Option<String>,
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    group_by: Vec<String>,
}

const GROUP_NAMES: [(&str, Dimension); 6] = [
    ("customer", Dimension::Customer),
    ("run", Dimension::Run),
    ("agent", Dimension::Agent),
    ("model", Dimension::Model),
    ("provider", Dimension::Provider),
    ("day", Dimension::Day),
];

fn parse_query(json: &[u8]) -> FfiResult<(Filter, Vec<Dimension>)> {
    let q: Query = if json.is_empty() {
        serde_json::from_str("{}").map_err(|e| Failure::owned(TG_ERR_PANIC, e.to_string()))?
    } else {
        utf8(json, "query")?;
        serde_json::from_slice(json)
            .map_err(|e| Failure::owned(TG_ERR_INVALID_INPUT, format!("query: {e}")))?
    };
    let day = |v: Option<String>, field: &str| -> FfiResult<_> {
        v.map(|d| {
            parse_day(&d).map_err(|e| Failure::owned(TG_ERR_INVALID_INPUT, format!("{field}: {e}")))
        })
        .transpose()
    };
    let mut dims = Vec::with_capacity(q.group_by.len());
    for g in &q.group_by {
        let d = GROUP_NAMES
            .iter()
            .find(|(n, _)| n == g)
            .map(|(_, d)| *d)
            .ok_or_else(|| {
                Failure::owned(
                    TG_ERR_INVALID_INPUT,
                    format!(
                        "groupBy: unknown dimension \"{}\" (expected customer, run, agent, model, provider or day)",
                        clip(g, 64)
                    ),
                )
            })?;
        if !dims.contains(&d) {
            dims.push(d);
        }
    }
    let filter = Filter {
        customer_id: q.customer_id,
        run_id: q.run_id,
        agent_id: q.agent_id,
        model: q.model,
        provider: q.provider,
        from_day: day(q.from, "from")?,
        to_day: day(q.to, "to")?,
        ..Filter::default()
    };
    Ok((filter, dims))
}

fn query_failure(e: QueryError) -> Failure {
    let status = match e {
        QueryError::Overflow => TG_ERR_OVERFLOW,
        _ => TG_ERR_INVALID_INPUT,
    };
    Failure::owned(status, e.to_string())
}

/// One row: the ledger's margin JSON plus the row's group keys (a grouped dimension without
/// a value for this money, e.g. the model of subscription revenue, is `null`).
fn row_json(row: &MarginRow, dims: &[Dimension]) -> Value {
    let mut v = row.margin.to_json();
    if let Value::Object(m) = &mut v {
        let k = &row.key;
        let text = |x: Option<&str>| x.map_or(Value::Null, |s| Value::String(s.to_string()));
        for d in dims {
            match d {
                Dimension::Customer => {
                    m.insert("customerId".into(), text(k.customer_id.as_deref()));
                }
                // Grouping by run also groups by customer: a run is (customerId, runId).
                Dimension::Run => {
                    m.insert("customerId".into(), text(k.customer_id.as_deref()));
                    m.insert("runId".into(), text(k.run_id.as_deref()));
                }
                Dimension::Agent => {
                    m.insert("agentId".into(), text(k.agent_id.as_deref()));
                }
                Dimension::Model => {
                    m.insert("model".into(), text(k.model.as_deref()));
                }
                Dimension::Provider => {
                    m.insert("provider".into(), text(k.provider.as_deref()));
                }
                Dimension::Day | Dimension::Week | Dimension::Month => {
                    m.insert(d.as_str().into(), text(k.text(*d).as_deref()));
                }
            }
        }
    }
    v
}

/// Answers a margin query (docs/reference/ledger.md (margin queries)). `query` is a JSON object (or `(NULL, 0)` for
/// everything): optional filters `customerId`, `runId`, `agentId`, `model`, `provider`,
/// `from`/`to` (UTC days `YYYY-MM-DD`, inclusive) and `groupBy` (a list of `customer`, `run`,
/// `agent`, `model`, `provider`, `day`). Writes `{"rows":[{<group keys>, "revenueCents",
/// "usageRevenueCents", "outcomeRevenueCents", "subscriptionRevenueCents", "costCents",
/// "marginCents", "marginPct" (string, null when revenue is 0), "events", "unpricedEvents",
/// "tokens":{…}, "runs":{"open","resolved","escalated","failed"}}]}` (keys in alphabetical
/// order), rows sorted by group key;
/// without `groupBy` one row of totals (none when nothing matches).
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT`;
/// `TG_ERR_INVALID_UTF8`; `TG_ERR_INVALID_INPUT` (unknown field, bad day, `from` after `to`);
/// `TG_ERR_OVERFLOW`; `TG_ERR_BUFFER_TOO_SMALL` (retry with `*out_len`; the ledger may have
/// grown in between, so loop). Changes nothing. Thread-safety: any thread, concurrently.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_margin_query_json(
    engine: *const tg_engine,
    query: *const u8,
    query_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, query, out) = unsafe {
            (
                borrow(engine)?,
                input_limited(query, query_len, TG_MAX_JSON_BYTES, "query")?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        let (filter, dims) = parse_query(query)?;
        let rows = engine
            .ledger()?
            .margin(&filter, &dims)
            .map_err(query_failure)?;
        let rows: Vec<Value> = rows.iter().map(|r| row_json(r, &dims)).collect();
        let mut body = Map::new();
        body.insert("rows".into(), Value::Array(rows));
        out.write(Value::Object(body).to_string().as_bytes())
    })
}

/// `tg_report_query` output: the report as one JSON object.
pub const TG_REPORT_JSON: u32 = 0;
/// `tg_report_query` output: the rows as CSV (RFC 4180, header row, CRLF line ends).
pub const TG_REPORT_CSV: u32 = 1;
/// `tg_report_query` output: the rows as JSON Lines, one object a line.
pub const TG_REPORT_JSONL: u32 = 2;

/// Answers a report query: the same group-by, filters, sort, top-N and derived figures as
/// `tollgate report`, computed by the library so no binding re-implements them. `query` is
/// a JSON object (or `(NULL, 0)` for the totals alone; at most 64 KiB): filters `customerId`,
/// `runId`, `agentId`, `model`, `provider`, `outcome` (`open`, `resolved`, `escalated`,
/// `failed`), `from` / `to` (UTC days `YYYY-MM-DD`, inclusive); `groupBy` (a list of
/// `customer`, `run`, `agent`, `model`, `provider`, `day`, `week`, `month`); `sort`
/// (`revenue`, `cost`, `margin`, `margin%`, `events`, optionally followed by `:asc` or
/// `:desc`; default descending); `top` (a positive integer). Without `sort`, rows are in
/// natural order of their ids (`cust-2` before `cust-10`).
///
/// `format` is `TG_REPORT_JSON`: `{"query", "totals", "rows", "groups" (rows before `top`),
/// "unpriced", "breaches", "window"}`; `TG_REPORT_CSV`; or `TG_REPORT_JSONL`. A row holds its
/// id columns (`customerId`, `runId`, `agentId`, `model`, `provider`, `day`, `week`, `month`
/// as grouped; `null` / an empty CSV field where the money has no value) and `revenueCents`,
/// `costCents`, `marginCents`, `marginPct`, `events`, `unpricedEvents`,
/// `usageRevenueCents`, `outcomeRevenueCents`, `subscriptionRevenueCents`,
/// `costPerResolvedRunCents`, `revenuePerEventCents`, `costSharePct`, `cacheSavingsCents`,
/// `runsOpen`, `runsResolved`, `runsEscalated`, `runsFailed` and the token totals. Amounts
/// are exact decimal strings of cents.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT`;
/// `TG_ERR_INVALID_UTF8`; `TG_ERR_INVALID_INPUT` (unknown field, bad value, `from` after
/// `to`, unknown `format`); `TG_ERR_OVERFLOW`; `TG_ERR_BUFFER_TOO_SMALL` (retry with
/// `*out_len`; the ledger may have grown in between, so loop). Changes nothing.
/// Thread-safety: any thread, concurrently.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tg_report_query(
    engine: *const tg_engine,
    query: *const u8,
    query_len: usize,
    format: u32,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, query, out) = unsafe {
            (
                borrow(engine)?,
                input_limited(query, query_len, MAX_QUERY_BYTES, "query")?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        utf8(query, "query")?;
        let q =
            ReportQuery::from_json(query).map_err(|e| Failure::owned(TG_ERR_INVALID_INPUT, e))?;
        if format > TG_REPORT_JSONL {
            return Err(Failure::owned(
                TG_ERR_INVALID_INPUT,
                format!(
                    "format: unknown report format {format} (expected TG_REPORT_JSON, TG_REPORT_CSV or TG_REPORT_JSONL)"
                ),
            ));
        }
        let rep = engine.ledger()?.query(&q).map_err(query_failure)?;
        let mut body = Vec::new();
        match format {
            TG_REPORT_JSON => {
                serde_json::to_writer(&mut body, &rep.to_json())
                    .map_err(|e| Failure::owned(TG_ERR_PANIC, e.to_string()))?;
            }
            TG_REPORT_CSV => rep
                .write_csv(&mut body)
                .map_err(|e| Failure::owned(TG_ERR_PANIC, e.to_string()))?,
            _ => rep
                .write_jsonl(&mut body)
                .map_err(|e| Failure::owned(TG_ERR_PANIC, e.to_string()))?,
        }
        out.write(&body)
    })
}

/// A customer's current margin in O(1) (all its events and resolutions, subscription revenue
/// through the ledger clock's day), as a fixed-layout struct for a request path: e.g. stop
/// serving a customer whose `margin_cents` went negative.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT`;
/// `TG_ERR_INVALID_UTF8`; `TG_ERR_NOT_FOUND` (the ledger has never seen the customer);
/// `TG_ERR_OVERFLOW`. `*out` is written only on success. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_customer_margin(
    engine: *const tg_engine,
    customer_id: *const u8,
    customer_id_len: usize,
    out: *mut tg_margin,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        require_out(out, "out")?;
        // SAFETY: documented contracts of the arguments.
        let (engine, id) = unsafe {
            (
                borrow(engine)?,
                input_str(customer_id, customer_id_len, MAX_ID_BYTES, "customer_id")?,
            )
        };
        let m = engine
            .ledger()?
            .customer_margin(id)
            .ok_or_else(|| {
                Failure::owned(
                    TG_ERR_NOT_FOUND,
                    format!("customer_id: no customer \"{}\"", clip(id, 64)),
                )
            })?
            .map_err(query_failure)?;
        let pct = m.margin_pct().map_or(TG_MARGIN_PCT_NONE, |p| {
            i64::try_from(p.hundredths).unwrap_or(if p.hundredths < 0 {
                i64::MIN + 1
            } else {
                i64::MAX
            })
        });
        let c = tg_margin {
            revenue_cents: tg_decimal::from_cents(m.revenue_cents),
            usage_revenue_cents: tg_decimal::from_cents(m.usage_revenue_cents),
            outcome_revenue_cents: tg_decimal::from_cents(m.outcome_revenue_cents),
            subscription_revenue_cents: tg_decimal::from_cents(m.subscription_revenue_cents),
            cost_cents: tg_decimal::from_cents(m.cost_cents),
            margin_cents: tg_decimal::from_cents(m.margin_cents()),
            margin_pct_hundredths: pct,
            events: m.events,
            unpriced_events: m.unpriced_events,
            runs_open: m.runs.open,
            runs_resolved: m.runs.resolved,
            runs_escalated: m.runs.escalated,
            runs_failed: m.runs.failed,
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, c) };
        Ok(())
    })
}

/// Writes the whole ledger state (dedupe window, customers and plan history, runs,
/// aggregates) as versioned, checksummed bytes, for `tg_state_restore`. The rate-card
/// snapshots are not part of it.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_BUFFER_TOO_SMALL` (retry
/// with `*out_len`; loop, since the ledger may grow in between). Changes nothing.
/// Thread-safety: any thread; concurrent tracks land either in these bytes or after them.
/// Since ABI 1.1 (the same function was called `tg_state_snapshot` before).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_state_save(
    engine: *const tg_engine,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        unsafe { state_save(engine, out, out_cap, out_len) }
    })
}

/// The body of `tg_state_save` and its alias.
///
/// # Safety
/// The arguments' contracts are `tg_state_save`'s.
unsafe fn state_save(
    engine: *const tg_engine,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
) -> FfiResult {
    // SAFETY: documented contracts of the arguments.
    let (engine, out) = unsafe { (borrow(engine)?, OutBuf::new(out, out_cap, out_len)?) };
    let ledger = engine.ledger()?;
    if ledger.is_poisoned() {
        // A panic interrupted an update: a half-applied state must not be saved.
        return Err(Failure::new(
            TG_ERR_PANIC,
            "the ledger is unusable: a panic interrupted an update, so its state may be half applied",
        ));
    }
    out.write(&ledger.state_bytes())
}

/// Deprecated alias of `tg_state_save` (same arguments, same result), kept for ABI 1.x
/// callers; it will be removed in the next major ABI version. "Snapshot" names a rate-card
/// snapshot only.
#[deprecated(note = "renamed to tg_state_save")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_state_snapshot(
    engine: *const tg_engine,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: the same contract as tg_state_save's, passed on unchanged.
        unsafe { state_save(engine, out, out_cap, out_len) }
    })
}

/// Replaces the engine's ledger with one restored from `tg_state_save` bytes (at most
/// `TG_MAX_STATE_BYTES`). All or nothing: truncated, corrupted or unknown-version bytes fail
/// with `TG_ERR_STATE` and the current ledger stays. After restore the engine answers every
/// query, and every future duplicate, exactly as the engine that saved the state.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT`; `TG_ERR_STATE`.
/// Thread-safety: any thread; it waits for calls in progress on the engine, and calls after
/// it see the restored ledger.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_state_restore(
    engine: *const tg_engine,
    state: *const u8,
    state_len: usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, state) = unsafe {
            (
                borrow(engine)?,
                input_limited(state, state_len, TG_MAX_STATE_BYTES, "state")?,
            )
        };
        if engine.store().is_some() {
            return Err(Failure::new(
                TG_ERR_MISUSE,
                "a durable engine's state is its data directory; it cannot be replaced",
            ));
        }
        let restored = tollgate_engine::ledger::Ledger::restore(state, engine.clock)
            .map_err(|e| Failure::owned(TG_ERR_STATE, format!("state: {e}")))?;
        engine.replace_ledger(restored);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_engine::ledger::Accepted;
    use tollgate_engine::money::Cents;

    #[test]
    fn rendered_results_stay_within_their_bound() {
        // Worst cases: long texts made of characters JSON escapes six-fold.
        let nasty = "\u{1}".repeat(5000);
        let accepted = IngestResult::Accepted(Accepted {
            cost_cents: Cents::from_raw(i128::MIN),
            revenue_cents: Cents::from_raw(i128::MAX),
            snapshot: None,
            priced: false,
            reason: Some(UnpricedReason::NoTokenPrice),
            warnings: vec![nasty.clone(); 50],
        });
        let conflict = IngestResult::Conflict {
            reason: nasty.clone(),
        };
        let rejected = IngestResult::Rejected(Rejection {
            kind: RejectKind::TooLate,
            field: "idempotencyKey",
            reason: nasty,
        });
        for r in [&accepted, &conflict, &rejected] {
            let mut s = String::new();
            push_ingest(&mut s, r);
            assert!(s.len() <= ITEM_OUT_MAX, "{} bytes", s.len());
            assert!(serde_json::from_str::<Value>(&s).is_ok());
        }
        let mut s = String::new();
        push_ingest(&mut s, &accepted);
        // Some warnings were shown, the rest counted.
        let v: Value = serde_json::from_str(&s).unwrap();
        let shown = v["warnings"].as_array().unwrap().len() as u64;
        assert!(shown >= 1);
        assert_eq!(shown + v["warningsOmitted"].as_u64().unwrap(), 50);
    }
}
