//! Guardrails on `tg_engine`: policy upserts, `allow` decisions (JSON and a fixed-layout fast
//! path), reservations (settle, release) and policy breaches.

use crate::boundary::{
    Failure, FfiResult, OutBuf, borrow, boundary, input, input_limited, input_str, quick_text,
    require_out, utf8, write_out,
};
use crate::decimal::tg_decimal;
use crate::engine::tg_engine;
use crate::error::tg_error;
use crate::ledger::{
    TG_MARGIN_PCT_NONE, TG_RECORD_OUT_MAX, book_typed_record, push_ingest, record_failure,
};
use crate::price::TG_MAX_JSON_BYTES;
use crate::status::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use tollgate_engine::event::{Event, MAX_ID_BYTES, MAX_NAME_BYTES};
use tollgate_engine::ledger::guard::{
    AllowRequest, Decision, Estimate, PeriodRef, Reason, ReservationId, Verdict,
};
use tollgate_engine::ledger::policy::Period;
use tollgate_engine::ledger::record::Record;
use tollgate_engine::ledger::{IngestResult, Rejection};
use tollgate_engine::money::Cents;
use tollgate_engine::usage::Usage;

/// Bound on the JSON `tg_allow_json` writes. A buffer of this size always suffices; a call
/// that reserves checks `out_cap` against it **before** reserving.
pub const TG_DECISION_JSON_MAX: usize = 8192;
/// Longest policy id (`tg_decision.policy_id`), in bytes.
pub const TG_POLICY_ID_MAX: usize = 256;
/// Longest model name (`tg_decision.suggested_model`), in bytes.
pub const TG_MODEL_NAME_MAX: usize = 512;
/// Size of `tg_decision.period_label`.
pub const TG_PERIOD_LABEL_MAX: usize = 16;
/// `tg_allow_request.at_ms`: decide at the engine's clock now.
pub const TG_AT_NOW: i64 = i64::MIN;

/// `tg_allow_request.flags`: the request carries `estimate_cents`.
pub const TG_ALLOW_HAS_ESTIMATE: u32 = 1;
/// `tg_allow_request.flags`: the request carries an expected usage of `model` (the token
/// fields), priced by the engine. Excludes `TG_ALLOW_HAS_ESTIMATE`.
pub const TG_ALLOW_HAS_USAGE: u32 = 2;
/// `tg_allow_request.flags`: reserve the estimate when the call may go ahead.
pub const TG_ALLOW_RESERVE: u32 = 4;

/// `tg_decision.verdict`: go ahead.
pub const TG_VERDICT_ALLOW: i32 = 0;
/// `tg_decision.verdict`: go ahead with `suggested_model`.
pub const TG_VERDICT_DOWNGRADE: i32 = 1;
/// `tg_decision.verdict`: do not make the call.
pub const TG_VERDICT_BLOCK: i32 = 2;

/// `tg_decision.reason`: every rule passes.
pub const TG_GUARD_OK: i32 = 0;
/// `tg_decision.reason`: no policy applies.
pub const TG_GUARD_NO_POLICY: i32 = 1;
/// `tg_decision.reason`: the run's maximum cost.
pub const TG_GUARD_MAX_RUN_COST: i32 = 2;
/// `tg_decision.reason`: the agent's maximum cost for the period.
pub const TG_GUARD_MAX_AGENT_COST: i32 = 3;
/// `tg_decision.reason`: the customer's budget for the period.
pub const TG_GUARD_BUDGET: i32 = 4;
/// `tg_decision.reason`: the minimum margin over the period.
pub const TG_GUARD_MIN_MARGIN: i32 = 5;

/// `tg_decision.period`: a UTC day.
pub const TG_PERIOD_DAY: i32 = 0;
/// `tg_decision.period`: an ISO week.
pub const TG_PERIOD_WEEK: i32 = 1;
/// `tg_decision.period`: a calendar month.
pub const TG_PERIOD_MONTH: i32 = 2;
/// `tg_decision.period`: all time.
pub const TG_PERIOD_ALL: i32 = 3;
/// `tg_decision.period`: a run (`TG_GUARD_MAX_RUN_COST`).
pub const TG_PERIOD_RUN: i32 = 4;
/// `tg_decision.period`: none (no policy).
pub const TG_PERIOD_NONE: i32 = 5;

/// One `allow` question, fixed layout (no JSON). Texts are `(pointer, length)` pairs,
/// `(NULL, 0)` = absent; they are read during the call only. Zero-initialise it and set
/// `at_ms` to `TG_AT_NOW` or an epoch-millisecond time. Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct tg_allow_request {
    /// The customer (required).
    pub customer_id: *const u8,
    /// Length of `customer_id`.
    pub customer_id_len: usize,
    /// The agent (for the per-agent cap), optional.
    pub agent_id: *const u8,
    /// Length of `agent_id`.
    pub agent_id_len: usize,
    /// The run (for the per-run cap), optional.
    pub run_id: *const u8,
    /// Length of `run_id`.
    pub run_id_len: usize,
    /// The model the call would use (for a downgrade; required with `TG_ALLOW_HAS_USAGE`).
    pub model: *const u8,
    /// Length of `model`.
    pub model_len: usize,
    /// The provider of `model`, optional (helps the model lookup).
    pub provider: *const u8,
    /// Length of `provider`.
    pub provider_len: usize,
    /// Estimated cost in cents (with `TG_ALLOW_HAS_ESTIMATE`).
    pub estimate_cents: tg_decimal,
    /// Expected fresh input tokens (with `TG_ALLOW_HAS_USAGE`).
    pub tokens_in: u64,
    /// Expected cache-read input tokens.
    pub cached_tokens: u64,
    /// Expected cache-write (5 minute) input tokens.
    pub cache_write_5m_tokens: u64,
    /// Expected cache-write (1 hour) input tokens.
    pub cache_write_1h_tokens: u64,
    /// Expected output tokens (reasoning included).
    pub tokens_out: u64,
    /// Expected reasoning tokens (part of `tokens_out`).
    pub reasoning_tokens: u64,
    /// Decision time in epoch ms, or `TG_AT_NOW`.
    pub at_ms: i64,
    /// Lifetime of a reservation in ms (0 = the default, 10 minutes; at most 24 hours).
    pub ttl_ms: u64,
    /// `TG_ALLOW_*` bits.
    pub flags: u32,
    /// Must be 0.
    pub reserved: u32,
}

/// The decision, fixed layout. Amounts are exact cents. Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct tg_decision {
    /// `TG_VERDICT_*`.
    pub verdict: i32,
    /// `TG_GUARD_*`: why.
    pub reason: i32,
    /// 1 when allowed despite a breach (the policy's action is `allow`).
    pub flagged: i32,
    /// `TG_PERIOD_*`: the period of the figures.
    pub period: i32,
    /// Which period (day number since 1970-01-01, ISO week index, year × 12 + month − 1, 0).
    pub period_index: i64,
    /// Margin of the scope in hundredths of a percent, or `TG_MARGIN_PCT_NONE`.
    pub margin_pct_hundredths: i64,
    /// Booked cost of the scope.
    pub cost_cents: tg_decimal,
    /// Revenue of the scope.
    pub revenue_cents: tg_decimal,
    /// Budget left net of cost and reservations (valid when `has_remaining_budget`).
    pub remaining_budget_cents: tg_decimal,
    /// The estimate as priced (valid when `has_estimate`).
    pub estimate_cents: tg_decimal,
    /// The reservation made, or 0.
    pub reservation_id: u64,
    /// 1 when the policy has a budget rule.
    pub has_remaining_budget: i32,
    /// 1 when the estimate is known.
    pub has_estimate: i32,
    /// Length of `policy_id` (0: no policy).
    pub policy_id_len: u32,
    /// Length of `suggested_model` (0: none).
    pub suggested_model_len: u32,
    /// Length of `period_label`.
    pub period_label_len: u32,
    /// Must be ignored.
    pub reserved: u32,
    /// The deciding policy's id (not NUL-terminated).
    pub policy_id: [u8; TG_POLICY_ID_MAX],
    /// The model to use on a downgrade (not NUL-terminated).
    pub suggested_model: [u8; TG_MODEL_NAME_MAX],
    /// `2026-01-05`, `2026-W02`, `2026-01`, `all`, `run` or empty.
    pub period_label: [u8; TG_PERIOD_LABEL_MAX],
}

fn rejection_failure(r: &Rejection) -> Failure {
    record_failure(r)
}

#[inline]
fn opt_text<'a>(bytes: &'a [u8], max: usize, what: &'static str) -> FfiResult<Option<&'a str>> {
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.len() > max {
        return Err(Failure::owned(
            TG_ERR_LIMIT,
            format!(
                "{what}: {} bytes exceeds the limit of {max} bytes",
                bytes.len()
            ),
        ));
    }
    utf8(bytes, what).map(Some)
}

fn verdict_code(v: Verdict) -> i32 {
    match v {
        Verdict::Allow => TG_VERDICT_ALLOW,
        Verdict::Downgrade => TG_VERDICT_DOWNGRADE,
        Verdict::Block => TG_VERDICT_BLOCK,
    }
}

fn reason_code(r: Reason) -> i32 {
    match r {
        Reason::Ok => TG_GUARD_OK,
        Reason::NoPolicy => TG_GUARD_NO_POLICY,
        Reason::MaxRunCost => TG_GUARD_MAX_RUN_COST,
        Reason::MaxAgentCost => TG_GUARD_MAX_AGENT_COST,
        Reason::Budget => TG_GUARD_BUDGET,
        Reason::MinMargin => TG_GUARD_MIN_MARGIN,
    }
}

fn copy_text(dst: &mut [u8], s: &str) -> u32 {
    let b = s.as_bytes();
    let n = b.len().min(dst.len());
    // Ids of up to 16 bytes (most policy ids) as two overlapping fixed-size moves or a short
    // loop, without a `memcpy` call.
    if (8..=16).contains(&n) && dst.len() >= 16 {
        dst[..8].copy_from_slice(&b[..8]);
        dst[n - 8..n].copy_from_slice(&b[n - 8..n]);
    } else if (4..8).contains(&n) && dst.len() >= 8 {
        dst[..4].copy_from_slice(&b[..4]);
        dst[n - 4..n].copy_from_slice(&b[n - 4..n]);
    } else if n < 4 {
        for (d, s) in dst.iter_mut().zip(&b[..n]) {
            *d = *s;
        }
    } else {
        dst[..n].copy_from_slice(&b[..n]);
    }
    n as u32
}

thread_local! {
    /// The last period label this thread formatted: consecutive decisions almost always name
    /// the same period, so the label is formatted (and allocated) once per period change, not
    /// per call.
    static LAST_LABEL: std::cell::Cell<(i32, i64, [u8; TG_PERIOD_LABEL_MAX], u32)> =
        const { std::cell::Cell::new((-1, 0, [0; TG_PERIOD_LABEL_MAX], 0)) };
}

/// The label of `p` (`2026-01-05`, `2026-W02`, `2026-01`, `all`) as the fixed-size field and
/// its length, from the thread's cache when it names the same period as the last call.
fn cached_label(code: i32, p: PeriodRef) -> ([u8; TG_PERIOD_LABEL_MAX], u32) {
    LAST_LABEL.with(|c| {
        let (k, i, label, n) = c.get();
        if k == code && i == p.index {
            return (label, n);
        }
        let mut label = [0u8; TG_PERIOD_LABEL_MAX];
        let n = copy_text(&mut label, &p.label());
        c.set((code, p.index, label, n));
        (label, n)
    })
}

/// Fills `*out` from a decision, touching only the bytes it needs.
///
/// # Safety
/// `out` must be non-NULL and writable.
unsafe fn write_decision(out: *mut tg_decision, d: &Decision) {
    // SAFETY: per the contract; every field is plain data.
    let o = unsafe { &mut *out };
    o.verdict = verdict_code(d.verdict);
    o.reason = reason_code(d.reason);
    o.flagged = i32::from(d.flagged);
    let (period, index) = match (d.period, d.policy_id.is_some()) {
        (Some(p), _) => (
            match p.period {
                Period::Day => TG_PERIOD_DAY,
                Period::Week => TG_PERIOD_WEEK,
                Period::Month => TG_PERIOD_MONTH,
                Period::All => TG_PERIOD_ALL,
            },
            p.index,
        ),
        (None, true) => (TG_PERIOD_RUN, 0),
        (None, false) => (TG_PERIOD_NONE, 0),
    };
    o.period = period;
    o.period_index = index;
    o.margin_pct_hundredths = d.margin_pct.map_or(TG_MARGIN_PCT_NONE, |p| {
        i64::try_from(p.hundredths).unwrap_or(if p.hundredths < 0 {
            i64::MIN + 1
        } else {
            i64::MAX
        })
    });
    o.cost_cents = tg_decimal::from_cents(d.cost_cents);
    o.revenue_cents = tg_decimal::from_cents(d.revenue_cents);
    o.remaining_budget_cents =
        tg_decimal::from_cents(d.remaining_budget_cents.unwrap_or(Cents::ZERO));
    o.has_remaining_budget = i32::from(d.remaining_budget_cents.is_some());
    o.estimate_cents = tg_decimal::from_cents(d.estimate_cents.unwrap_or(Cents::ZERO));
    o.has_estimate = i32::from(d.estimate_cents.is_some());
    o.reservation_id = d.reservation.unwrap_or(0);
    o.policy_id_len = d
        .policy_id
        .as_deref()
        .map_or(0, |p| copy_text(&mut o.policy_id, p));
    o.suggested_model_len = d
        .suggested_model
        .as_deref()
        .map_or(0, |m| copy_text(&mut o.suggested_model, m));
    o.period_label_len = match period {
        TG_PERIOD_RUN => copy_text(&mut o.period_label, "run"),
        TG_PERIOD_NONE => 0,
        _ => d.period.map_or(0, |p| {
            let (label, n) = cached_label(period, p);
            o.period_label = label;
            n
        }),
    };
    o.reserved = 0;
}

/// Upserts a guardrail policy (a `policy` record: `{"policyId", "customerId"? | "planName"?,
/// "budget"?: {"cents","period"}, "minMargin"?: {"pct","period","minRevenueCents"?,
/// "minEvents"?}, "maxRunCostCents"?, "maxAgentCost"?: {"cents","period"}, "action"?:
/// "block|downgrade|allow", "downgrade"?: {model: cheaper model}, "downgradeRule"?:
/// "first_fit|next", "timestamp"?}`; `"type":"policy"` optional). Effective from its
/// timestamp; the same terms as the version in force → `{"status":"duplicate"}`.
///
/// Output and statuses as `tg_track_json` (`out_cap` ≥ `TG_RECORD_OUT_MAX`, checked first);
/// an invalid policy is `TG_ERR_INVALID_INPUT` naming the field, and changes nothing.
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_upsert_policy_json(
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
        book_typed_record(engine, record, out, "policy", |ledger, r| match r {
            Record::Policy(p) => Some(ledger.upsert_policy(&p)),
            _ => None,
        })
    })
}

/// The JSON form of an `allow` question.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AllowJson<'a> {
    #[serde(borrow)]
    customer_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    agent_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    run_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    model: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    estimate_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    estimate: Option<&'a RawValue>,
    at_ms: Option<i64>,
    reserve: Option<bool>,
    ttl_ms: Option<u64>,
}

fn invalid(msg: String) -> Failure {
    Failure::owned(TG_ERR_INVALID_INPUT, msg)
}

/// Asks whether a call may be made: `{"customerId", "agentId"?, "runId"?, "model"?,
/// "estimateCents"?: "12.5", "estimate"?: {"model", "provider"?, "tokensIn"?, "tokensOut"?,
/// … any usage field of an event}, "atMs"?: epoch ms, "reserve"?: false, "ttlMs"?: 600000}`.
/// Writes the decision: `{"decision":"allow|downgrade|block","reason":"ok|no_policy|
/// max_run_cost|max_agent_cost|budget_exceeded|min_margin","flagged":false,"policyId":…,
/// "period":"2026-01"|"2026-W02"|"2026-01-05"|"all"|"run"|null,"suggestedModel":…,
/// "costCents":"…","revenueCents":"…","marginPct":"20.00"|null,"remainingBudgetCents":…,
/// "estimateCents":…,"reservationId":null|n}`.
///
/// With `"reserve":true` the estimate (cents, or a usage the rate card prices) is reserved
/// when the call may go ahead; `out_cap` must then be at least `TG_DECISION_JSON_MAX`
/// (checked before reserving).
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT`;
/// `TG_ERR_INVALID_UTF8`; `TG_ERR_INVALID_INPUT` (the detail names the field);
/// `TG_ERR_OVERFLOW` (too many reservations); `TG_ERR_BUFFER_TOO_SMALL`.
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_allow_json(
    engine: *const tg_engine,
    request: *const u8,
    request_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, request, out) = unsafe {
            (
                borrow(engine)?,
                input_limited(request, request_len, TG_MAX_JSON_BYTES, "request")?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        utf8(request, "request")?;
        let q: AllowJson<'_> =
            serde_json::from_slice(request).map_err(|e| invalid(format!("request: {e}")))?;
        let customer = q
            .customer_id
            .as_deref()
            .ok_or_else(|| invalid("customerId: is required".into()))?;
        let estimate_event;
        let estimate = match (q.estimate_cents, q.estimate) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "estimate: give estimateCents or estimate (a usage), not both".into(),
                ));
            }
            (Some(c), None) => Some(Estimate::Cents(
                Cents::from_cents_literal(c.get().trim_matches('"'), true)
                    .map_err(|e| invalid(format!("estimateCents: {e}")))?,
            )),
            (None, Some(e)) => {
                estimate_event = Event::from_json(e.get().as_bytes())
                    .map_err(|e| invalid(format!("estimate.{e}")))?;
                let model = estimate_event
                    .model
                    .as_deref()
                    .ok_or_else(|| invalid("estimate.model: is required".into()))?;
                Some(Estimate::Usage {
                    provider: estimate_event.provider.as_deref(),
                    model,
                    usage: &estimate_event.usage,
                })
            }
            (None, None) => None,
        };
        let req = AllowRequest {
            customer_id: customer,
            agent_id: q.agent_id.as_deref(),
            model: q.model.as_deref(),
            run_id: q.run_id.as_deref(),
            estimate,
            at_ms: q.at_ms,
        };
        let ledger = engine.ledger()?;
        let d = if q.reserve == Some(true) {
            out.require(TG_DECISION_JSON_MAX)?;
            ledger.allow_and_reserve(&engine.pricing, &req, q.ttl_ms)
        } else {
            if q.ttl_ms.is_some() {
                return Err(invalid("ttlMs: only with \"reserve\": true".into()));
            }
            ledger.allow(&engine.pricing, &req)
        }
        .map_err(|r| rejection_failure(&r))?;
        out.write(d.to_json().as_bytes())
    })
}

/// `allow` without JSON: the fast path for a request path. Reads `*request`, writes
/// `*out` (only on success). With `TG_ALLOW_RESERVE` the estimate is reserved when the call
/// may go ahead (`out->reservation_id`).
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT` (a text too
/// long); `TG_ERR_INVALID_UTF8`; `TG_ERR_INVALID_INPUT` (bad flags, ids, estimate, usage or
/// time; the detail names the field); `TG_ERR_OVERFLOW` (too many reservations).
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_allow(
    engine: *const tg_engine,
    request: *const tg_allow_request,
    out: *mut tg_decision,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        if let Ok(req) = unsafe { quick_request(request, out) } {
            // The common request: the general path below would check the same and accept it.
            // SAFETY: documented contract of `engine`.
            let engine = unsafe { borrow(engine)? };
            let d = engine
                .ledger_for_one_call()?
                .allow(&engine.pricing, &req)
                .map_err(|e| rejection_failure(&e))?;
            // SAFETY: `quick_request` checked it non-NULL.
            unsafe { write_decision(out, &d) };
            return Ok(());
        }
        require_out(out, "out")?;
        if request.is_null() {
            return Err(Failure::new(TG_ERR_NULL, "request: pointer is NULL"));
        }
        // SAFETY: non-NULL; the caller passes a readable request for the call.
        let r = unsafe { &*request };
        // SAFETY: documented contracts of the arguments.
        let (engine, customer, agent, run, model, provider) = unsafe {
            (
                borrow(engine)?,
                input_str(
                    r.customer_id,
                    r.customer_id_len,
                    MAX_ID_BYTES,
                    "customer_id",
                )?,
                input(r.agent_id, r.agent_id_len, "agent_id")?,
                input(r.run_id, r.run_id_len, "run_id")?,
                input(r.model, r.model_len, "model")?,
                input(r.provider, r.provider_len, "provider")?,
            )
        };
        let (agent, run) = (
            opt_text(agent, MAX_ID_BYTES, "agent_id")?,
            opt_text(run, MAX_ID_BYTES, "run_id")?,
        );
        let (model, provider) = (
            opt_text(model, MAX_NAME_BYTES, "model")?,
            opt_text(provider, MAX_NAME_BYTES, "provider")?,
        );
        if r.flags & !(TG_ALLOW_HAS_ESTIMATE | TG_ALLOW_HAS_USAGE | TG_ALLOW_RESERVE) != 0
            || r.reserved != 0
        {
            return Err(Failure::new(
                TG_ERR_INVALID_INPUT,
                "flags: unknown bits (or reserved is not 0)",
            ));
        }
        let usage;
        let estimate = match (
            r.flags & TG_ALLOW_HAS_ESTIMATE != 0,
            r.flags & TG_ALLOW_HAS_USAGE != 0,
        ) {
            (true, true) => {
                return Err(Failure::new(
                    TG_ERR_INVALID_INPUT,
                    "flags: TG_ALLOW_HAS_ESTIMATE and TG_ALLOW_HAS_USAGE exclude each other",
                ));
            }
            (true, false) => Some(Estimate::Cents(r.estimate_cents.to_cents())),
            (false, true) => {
                usage = Usage {
                    tokens_in: r.tokens_in,
                    cached_tokens: r.cached_tokens,
                    cache_write_5m_tokens: r.cache_write_5m_tokens,
                    cache_write_1h_tokens: r.cache_write_1h_tokens,
                    tokens_out: r.tokens_out,
                    reasoning_tokens: r.reasoning_tokens,
                    ..Usage::default()
                };
                let model = model.ok_or(Failure::new(
                    TG_ERR_INVALID_INPUT,
                    "model: is required with TG_ALLOW_HAS_USAGE",
                ))?;
                Some(Estimate::Usage {
                    provider,
                    model,
                    usage: &usage,
                })
            }
            (false, false) => None,
        };
        let req = AllowRequest {
            customer_id: customer,
            agent_id: agent,
            model,
            run_id: run,
            estimate,
            at_ms: (r.at_ms != TG_AT_NOW).then_some(r.at_ms),
        };
        let ledger = engine.ledger_for_one_call()?;
        let d = if r.flags & TG_ALLOW_RESERVE != 0 {
            ledger.allow_and_reserve(&engine.pricing, &req, (r.ttl_ms != 0).then_some(r.ttl_ms))
        } else {
            ledger.allow(&engine.pricing, &req)
        }
        .map_err(|e| rejection_failure(&e))?;
        // SAFETY: checked non-NULL above.
        unsafe { write_decision(out, &d) };
        Ok(())
    })
}

/// The request of `tg_allow`'s fast path, read without preparing any error text: `out` and
/// `request` non-NULL, flags at most `TG_ALLOW_HAS_ESTIMATE` (no usage to price, no
/// reservation), `reserved` 0, a customer id and every other text absent or 1 to 16 ASCII
/// bytes. `Err(())` for anything else: the general path then checks it all and names what is
/// wrong.
///
/// # Safety
/// As `tg_allow`'s `request`.
#[inline(always)]
unsafe fn quick_request<'a>(
    request: *const tg_allow_request,
    out: *mut tg_decision,
) -> Result<AllowRequest<'a>, ()> {
    if out.is_null() || request.is_null() {
        return Err(());
    }
    // SAFETY: non-NULL; the caller passes a readable request for the call.
    let r = unsafe { &*request };
    if r.flags & !TG_ALLOW_HAS_ESTIMATE != 0 || r.reserved != 0 {
        return Err(());
    }
    // SAFETY: the texts' contract (readable for the call).
    let (customer, agent, run, model, provider) = unsafe {
        (
            quick_text(r.customer_id, r.customer_id_len)?.ok_or(())?,
            quick_text(r.agent_id, r.agent_id_len)?,
            quick_text(r.run_id, r.run_id_len)?,
            quick_text(r.model, r.model_len)?,
            quick_text(r.provider, r.provider_len)?,
        )
    };
    // The provider only helps price a usage, which this path never has; it was checked.
    let _ = provider;
    Ok(AllowRequest {
        customer_id: customer,
        agent_id: agent,
        model,
        run_id: run,
        estimate: (r.flags & TG_ALLOW_HAS_ESTIMATE != 0)
            .then(|| Estimate::Cents(r.estimate_cents.to_cents())),
        at_ms: (r.at_ms != TG_AT_NOW).then_some(r.at_ms),
    })
}

/// Tracks the real usage of a reserved call (an event, as `tg_track_json`) and releases the
/// reservation. Writes `{"result":{…as tg_track_json…},"releasedCents":"60"|null}`
/// (`null`: the reservation had already expired or been released; the event is tracked
/// anyway). An event for another customer than the reservation's is `TG_ERR_INVALID_INPUT`
/// (`customerId`), and a rejected event keeps the reservation.
///
/// `out_cap` must be at least `TG_RECORD_OUT_MAX` (checked first). Statuses as
/// `tg_track_json`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_settle_json(
    engine: *const tg_engine,
    reservation_id: u64,
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
        let parsed = Event::from_json(event).map_err(|e| invalid(e.to_string()))?;
        let s = match engine.store() {
            // A durable engine journals the event (the reservation is not state).
            Some(store) => store
                .settle(reservation_id as ReservationId, event)
                .map_err(crate::store::store_failure)?,
            None => {
                engine
                    .ledger()?
                    .settle(&engine.pricing, reservation_id as ReservationId, &parsed)
            }
        };
        if let IngestResult::Rejected(r) = &s.result {
            return Err(record_failure(r));
        }
        let mut text = String::from("{\"result\":");
        push_ingest(&mut text, &s.result);
        text.push_str(",\"releasedCents\":");
        match s.released_cents {
            Some(c) => {
                text.push('"');
                text.push_str(&c.to_string());
                text.push('"');
            }
            None => text.push_str("null"),
        }
        text.push('}');
        out.write(text.as_bytes())
    })
}

/// Releases a reservation (the call failed or was abandoned); `*released` (optional) gets
/// the amount it held.
///
/// Returns `TG_OK`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_NOT_FOUND` (not held: unknown,
/// settled, released or expired). Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_release(
    engine: *const tg_engine,
    reservation_id: u64,
    released: *mut tg_decimal,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contract of `engine`.
        let engine = unsafe { borrow(engine)? };
        let c = engine
            .ledger()?
            .release(reservation_id as ReservationId)
            .ok_or_else(|| {
                Failure::owned(
                    TG_ERR_NOT_FOUND,
                    format!("reservation {reservation_id} is not held"),
                )
            })?;
        if !released.is_null() {
            // SAFETY: non-NULL, writable per the contract.
            unsafe { write_out(released, tg_decimal::from_cents(c)) };
        }
        Ok(())
    })
}

/// Writes the policy breaches of booked usage (as `Ledger::policy_breaches`):
/// `{"breaches":[{"customerId","policyId","rule":"budget_exceeded|min_margin|max_run_cost|
/// max_agent_cost","period":"2026-01"|…|null,"subject":run or agent|null,"costCents",
/// "revenueCents","limit"}]}`.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_BUFFER_TOO_SMALL`
/// (retry with `*out_len`). Changes nothing. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_policy_breaches_json(
    engine: *const tg_engine,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, out) = unsafe { (borrow(engine)?, OutBuf::new(out, out_cap, out_len)?) };
        let rows: Vec<serde_json::Value> = engine
            .ledger()?
            .policy_breaches()
            .iter()
            .map(|b| {
                serde_json::json!({
                    "customerId": &*b.customer_id,
                    "policyId": &*b.policy_id,
                    "rule": b.rule.as_str(),
                    "period": b.period.map(|p| p.label()),
                    "subject": b.subject.as_deref(),
                    "costCents": b.cost_cents.to_string(),
                    "revenueCents": b.revenue_cents.to_string(),
                    "limit": b.limit,
                })
            })
            .collect();
        let text = serde_json::json!({ "breaches": rows }).to_string();
        out.write(text.as_bytes())
    })
}

const _: () = assert!(std::mem::size_of::<tg_allow_request>() == 168);
const _: () = assert!(std::mem::size_of::<tg_decision>() == 912);
