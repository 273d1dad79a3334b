//! The `tollgateai` SDK's event dialect (version 1.1.0), mapped exactly to our records.
//!
//! Pure functions from the request body's bytes to one JSON line in the ledger's own format
//! (docs/reference/events.md), so the mapping is testable without a server.
//!
//! **Disjoint buckets.** The SDK's builders (`openai_event_from`, `gemini_event_from`)
//! subtract the sub-categories from the totals: its `tokensIn` excludes cached, audio, image
//! and video input; its `tokensOut` excludes reasoning, audio and image output. Our `tokensIn`
//! is the fresh input *including* its audio and image parts, our `tokensOut` all output
//! *including* reasoning, audio and image. So:
//!
//! - ours `tokensIn`  = `tokensIn + audioTokensIn + imageTokensIn + videoTokensIn`
//! - ours `tokensOut` = `tokensOut + reasoningTokens + audioTokensOut + imageTokensOut`
//! - `cachedTokens`, `cacheWrite5mTokens`, `cacheWrite1hTokens`, `reasoningTokens`,
//!   `audioTokensIn/Out`, `imageTokensIn/Out`, `webSearchRequests`, `toolCalls`: as sent.
//! - `textTokensIn/Out`, `acceptedPredictionTokens`, `rejectedPredictionTokens`, `latencyMs`:
//!   informational (already inside the totals); checked to be counts, not stored.
//!
//! The Anthropic and Bedrock builders send no sub-buckets, so the sums leave their counts as
//! they are (Anthropic's `input_tokens` already excludes cache reads and writes).
//!
//! Amounts (`providerCostCents`, `revenueUnitCents`, `externalCostCents`) are copied as the
//! JSON text they arrived as: a float such as `0.30000000000000004` is that exact decimal, never
//! an `f64`. A track with `model: "resolution"` and an `outcome` is a resolution (the SDK's
//! `resolve`).
//!
//! ```
//! use tollgate_server::product::dialect::track_to_record;
//! let line = track_to_record(br#"{"customerId":"c","provider":"openai","model":"gpt-4o",
//!     "tokensIn":70,"tokensOut":20,"reasoningTokens":10,"cachedTokens":30,"audioTokensIn":5,
//!     "providerCostCents":0.30000000000000004,"idempotencyKey":"r1"}"#).unwrap();
//! let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
//! assert_eq!(v["tokensIn"], 75);   // 70 fresh text + 5 audio
//! assert_eq!(v["tokensOut"], 30);  // 20 + 10 reasoning
//! assert!(String::from_utf8(line).unwrap().contains(r#""providerCostCents":0.30000000000000004"#));
//! ```

use serde::Deserialize;
use serde_json::value::RawValue;
use std::fmt;
use tollgate_engine::ledger::record::{CustomerUpsert, Plan};
use tollgate_engine::money::Cents;
use tollgate_engine::usage::ServiceTier;

/// Why a request body does not map: the field (camelCase as sent; `""` for the body) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DialectError {
    /// The offending field.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for DialectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for DialectError {}

fn err(field: &str, reason: impl Into<String>) -> DialectError {
    DialectError {
        field: field.to_string(),
        reason: reason.into(),
    }
}

/// The body of `POST /api/track`, as the SDK sends it (unknown fields are rejected with
/// their name: a typo must not silently drop usage).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Track<'a> {
    #[serde(borrow)]
    customer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    agent_id: Option<&'a RawValue>,
    #[serde(borrow)]
    run_id: Option<&'a RawValue>,
    #[serde(borrow)]
    provider: Option<&'a RawValue>,
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    tokens_in: Option<&'a RawValue>,
    #[serde(borrow)]
    tokens_out: Option<&'a RawValue>,
    #[serde(borrow)]
    reasoning_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    cached_tokens: Option<&'a RawValue>,
    #[serde(borrow, rename = "cacheWrite5mTokens")]
    cache_write_5m_tokens: Option<&'a RawValue>,
    #[serde(borrow, rename = "cacheWrite1hTokens")]
    cache_write_1h_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    audio_tokens_in: Option<&'a RawValue>,
    #[serde(borrow)]
    audio_tokens_out: Option<&'a RawValue>,
    #[serde(borrow)]
    image_tokens_in: Option<&'a RawValue>,
    #[serde(borrow)]
    image_tokens_out: Option<&'a RawValue>,
    #[serde(borrow)]
    video_tokens_in: Option<&'a RawValue>,
    #[serde(borrow)]
    text_tokens_in: Option<&'a RawValue>,
    #[serde(borrow)]
    text_tokens_out: Option<&'a RawValue>,
    #[serde(borrow)]
    accepted_prediction_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    rejected_prediction_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    latency_ms: Option<&'a RawValue>,
    #[serde(borrow)]
    service_tier: Option<&'a RawValue>,
    #[serde(borrow)]
    web_search_requests: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_calls: Option<&'a RawValue>,
    #[serde(borrow)]
    revenue_unit_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    provider_cost_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    external_cost_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    units: Option<&'a RawValue>,
    #[serde(borrow)]
    outcome: Option<&'a RawValue>,
    #[serde(borrow)]
    idempotency_key: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
}

/// A present, non-null raw value.
fn given(v: Option<&RawValue>) -> Option<&RawValue> {
    v.filter(|r| r.get() != "null")
}

/// A token count: a JSON integer (the SDK's builders can produce a negative count from
/// inconsistent provider usage; it is accepted here only as a term of a sum that ends up
/// non-negative).
fn count(field: &str, v: Option<&RawValue>) -> Result<i128, DialectError> {
    let Some(v) = given(v) else { return Ok(0) };
    let t = v.get();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(
            field,
            format!("expected a whole number of tokens, got {}", clip(t)),
        ));
    }
    t.parse::<i128>().map_err(|_| {
        err(
            field,
            format!("expected a whole number of tokens, got {}", clip(t)),
        )
    })
}

fn clip(t: &str) -> String {
    if t.len() <= 40 {
        t.to_string()
    } else {
        let mut end = 40;
        while !t.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &t[..end])
    }
}

/// `provider`: as sent, except the SDK's name for Gemini. `wrap_gemini` and
/// `gemini_event_from` default to `"google"`, which is no provider of the rate card (the
/// Gemini API's rows are `gemini/…`); it is read as `"gemini"`.
fn provider(o: &mut Out, v: Option<&RawValue>) -> Result<(), DialectError> {
    let Some(v) = given(v) else { return Ok(()) };
    match json_str(v) {
        Some(p) if p.eq_ignore_ascii_case("google") => o.raw("provider", "\"gemini\""),
        Some(_) => o.raw("provider", v.get()),
        None => {
            return Err(err(
                "provider",
                format!("must be a string (got {})", clip(v.get())),
            ));
        }
    }
    Ok(())
}

/// `serviceTier`: the provider's own tier name, which `openai_event_from` forwards unchanged
/// (`service_tier`). Read as the extraction reads a served tier (docs/DECISIONS.md, served
/// tier): the engine's names as such, Groq's `on_demand` as the default tier, any other name
/// (OpenAI's `scale`) as the default tier — never a refused event, which would lose the usage.
fn service_tier(o: &mut Out, v: Option<&RawValue>) -> Result<(), DialectError> {
    let Some(v) = given(v) else { return Ok(()) };
    let name = json_str(v).ok_or_else(|| {
        err(
            "serviceTier",
            format!("must be a string (got {})", clip(v.get())),
        )
    })?;
    let tier = ServiceTier::parse(&name).unwrap_or(ServiceTier::Standard);
    o.raw("serviceTier", &format!("\"{}\"", tier.as_str()));
    Ok(())
}

fn json_str(v: &RawValue) -> Option<String> {
    serde_json::from_str::<String>(v.get()).ok()
}

/// Parse error of a body as a [`DialectError`] naming the field where serde names one.
fn parse_error(e: serde_json::Error) -> DialectError {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return err(
            name,
            "unknown field (the tollgateai 1.1.0 dialect has no such field)",
        );
    }
    if let Some(rest) = msg.strip_prefix("duplicate field `")
        && let Some((name, _)) = rest.split_once('`')
    {
        return err(name, "given twice");
    }
    err(
        "",
        format!("the body is not a JSON object of the expected shape: {msg}"),
    )
}

/// Writes `{"k":v,...}` from raw JSON texts.
struct Out(Vec<u8>);

impl Out {
    fn new() -> Out {
        Out(b"{".to_vec())
    }
    fn raw(&mut self, key: &str, value: &str) {
        if self.0.len() > 1 {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
        self.0.extend_from_slice(value.as_bytes());
    }
    fn opt(&mut self, key: &str, v: Option<&RawValue>) {
        if let Some(v) = given(v) {
            self.raw(key, v.get());
        }
    }
    fn count(&mut self, key: &str, n: i128) -> Result<(), DialectError> {
        if n < 0 {
            return Err(err(
                key,
                format!("the buckets add up to a negative count ({n})"),
            ));
        }
        if n > 0 {
            self.raw(key, &n.to_string());
        }
        Ok(())
    }
    fn finish(mut self) -> Vec<u8> {
        self.0.push(b'}');
        self.0
    }
}

/// Maps the body of `POST /api/track` to one ledger record (a JSON line): an event, or a
/// resolution when `model` is `"resolution"` and an `outcome` is given. Values are checked
/// for their type here only where the mapping needs them (counts); the ledger's own parser
/// checks the rest and names the field.
pub fn track_to_record(body: &[u8]) -> Result<Vec<u8>, DialectError> {
    track_to_keyed_record(body).map(|(line, _)| line)
}

/// [`track_to_record`] and the key the record is booked and deduplicated under (the body's
/// `idempotencyKey`; `None` without one, and for a resolution, which the ledger books once per
/// run without a key): the SDK's `eventId`, read from the one parse of the body.
pub fn track_to_keyed_record(body: &[u8]) -> Result<(Vec<u8>, Option<String>), DialectError> {
    let t: Track<'_> = serde_json::from_slice(body).map_err(parse_error)?;
    let model = given(t.model).and_then(json_str);
    if model.as_deref() == Some("resolution") && given(t.outcome).is_some() {
        return Ok((resolution(&t)?, None));
    }
    let key = given(t.idempotency_key).and_then(json_str);
    Ok((event(&t)?, key))
}

/// The `event` record of a track that is not a resolution.
fn event(t: &Track<'_>) -> Result<Vec<u8>, DialectError> {
    let tokens_in = count("tokensIn", t.tokens_in)?
        + count("audioTokensIn", t.audio_tokens_in)?
        + count("imageTokensIn", t.image_tokens_in)?
        + count("videoTokensIn", t.video_tokens_in)?;
    let reasoning = count("reasoningTokens", t.reasoning_tokens)?;
    let audio_out = count("audioTokensOut", t.audio_tokens_out)?;
    let image_out = count("imageTokensOut", t.image_tokens_out)?;
    let tokens_out = count("tokensOut", t.tokens_out)? + reasoning + audio_out + image_out;
    // Informational: inside the totals already. Checked, not stored.
    for (name, v) in [
        ("textTokensIn", t.text_tokens_in),
        ("textTokensOut", t.text_tokens_out),
        ("acceptedPredictionTokens", t.accepted_prediction_tokens),
        ("rejectedPredictionTokens", t.rejected_prediction_tokens),
        ("latencyMs", t.latency_ms),
    ] {
        if count(name, v)? < 0 {
            return Err(err(name, "must not be negative"));
        }
    }
    let mut o = Out::new();
    o.raw("type", "\"llm\"");
    o.opt("customerId", t.customer_id);
    o.opt("runId", t.run_id);
    o.opt("agentId", t.agent_id);
    provider(&mut o, t.provider)?;
    o.opt("model", t.model);
    o.count("tokensIn", tokens_in)?;
    o.count("tokensOut", tokens_out)?;
    o.count("reasoningTokens", reasoning)?;
    o.count("cachedTokens", count("cachedTokens", t.cached_tokens)?)?;
    o.count(
        "cacheWrite5mTokens",
        count("cacheWrite5mTokens", t.cache_write_5m_tokens)?,
    )?;
    o.count(
        "cacheWrite1hTokens",
        count("cacheWrite1hTokens", t.cache_write_1h_tokens)?,
    )?;
    o.count("audioTokensIn", count("audioTokensIn", t.audio_tokens_in)?)?;
    o.count("audioTokensOut", audio_out)?;
    o.count("imageTokensIn", count("imageTokensIn", t.image_tokens_in)?)?;
    o.count("imageTokensOut", image_out)?;
    o.count(
        "webSearchRequests",
        count("webSearchRequests", t.web_search_requests)?,
    )?;
    o.count("toolCalls", count("toolCalls", t.tool_calls)?)?;
    service_tier(&mut o, t.service_tier)?;
    o.opt("revenueUnitCents", t.revenue_unit_cents);
    o.opt("providerCostCents", t.provider_cost_cents);
    o.opt("externalCostCents", t.external_cost_cents);
    o.opt("units", t.units);
    o.opt("outcome", t.outcome);
    o.opt("idempotencyKey", t.idempotency_key);
    o.opt("ts", t.ts);
    o.opt("timestamp", t.timestamp);
    Ok(o.finish())
}

/// `resolve(runId, customerId, outcome, revenueUnitCents)` as the SDK sends it: a zero-usage
/// track. The ledger resolves a run once (a repeat is a duplicate), so the SDK's
/// `idempotencyKey` (`<runId>#resolve`) and `agentId` are not needed.
fn resolution(t: &Track<'_>) -> Result<Vec<u8>, DialectError> {
    for (name, v) in [
        ("tokensIn", t.tokens_in),
        ("tokensOut", t.tokens_out),
        ("reasoningTokens", t.reasoning_tokens),
        ("cachedTokens", t.cached_tokens),
    ] {
        if count(name, v)? != 0 {
            return Err(err(
                name,
                "a resolution (model \"resolution\") carries no usage",
            ));
        }
    }
    if given(t.provider_cost_cents).is_some() || given(t.external_cost_cents).is_some() {
        return Err(err(
            "providerCostCents",
            "a resolution (model \"resolution\") carries no cost",
        ));
    }
    let mut o = Out::new();
    o.raw("type", "\"resolve\"");
    o.opt("customerId", t.customer_id);
    o.opt("runId", t.run_id);
    o.opt("outcome", t.outcome);
    o.opt("revenueUnitCents", t.revenue_unit_cents);
    o.opt("ts", t.ts);
    o.opt("timestamp", t.timestamp);
    Ok(o.finish())
}

/// The body of `POST /api/sdk/customer` (the SDK's `upsert_customer`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CustomerBody<'a> {
    #[serde(borrow)]
    customer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    company: Option<&'a RawValue>,
    #[serde(borrow)]
    use_case: Option<&'a RawValue>,
    #[serde(borrow)]
    seats: Option<&'a RawValue>,
    #[serde(borrow)]
    plan_id: Option<&'a RawValue>,
    #[serde(borrow)]
    plan: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
}

/// What the customer mapping needs to know of the workspace's ledger.
pub trait CustomerLookup {
    /// The customer's latest terms, if it was ever upserted.
    fn current(&self, customer_id: &str) -> Option<CustomerUpsert>;
    /// The plan of that name (the SDK's `planId`), if any customer ever had it.
    fn plan_named(&self, name: &str) -> Option<Plan>;
}

impl CustomerLookup for tollgate_engine::ledger::Ledger {
    fn current(&self, customer_id: &str) -> Option<CustomerUpsert> {
        self.customer_terms(customer_id)
    }
    fn plan_named(&self, name: &str) -> Option<Plan> {
        tollgate_engine::ledger::Ledger::plan_named(self, name)
    }
}

/// A plan as our `customer` record writes it (amounts as exact decimal strings).
pub fn plan_json(p: &Plan) -> String {
    let mut o = Out::new();
    if let Some(n) = &p.name {
        o.raw("name", &serde_json::to_string(n).unwrap_or_default());
    }
    o.raw("pricingModel", &format!("\"{}\"", p.pricing_model.as_str()));
    o.raw("unitRevenueCents", &format!("\"{}\"", p.unit_revenue_cents));
    o.raw("seatPriceCents", &format!("\"{}\"", p.seat_price_cents));
    o.raw("monthlyFeeCents", &format!("\"{}\"", p.monthly_fee_cents));
    String::from_utf8(o.finish()).unwrap_or_default()
}

/// Maps the body of `POST /api/sdk/customer` to a `customer` record. The SDK leaves out what
/// the caller did not give, so a term not given keeps its current value (`name`, `seats`, the
/// plan); `planId` names a plan declared inline before (by its `name`) in this workspace;
/// `company` and `useCase` are accepted and not stored (the ledger has no such terms).
///
/// ```
/// use tollgate_server::product::dialect::{customer_to_record, CustomerLookup};
/// use tollgate_engine::ledger::record::{CustomerUpsert, Plan};
/// struct Empty;
/// impl CustomerLookup for Empty {
///     fn current(&self, _: &str) -> Option<CustomerUpsert> { None }
///     fn plan_named(&self, _: &str) -> Option<Plan> { None }
/// }
/// let line = customer_to_record(br#"{"customerId":"c","name":"Acme","seats":3,
///     "plan":{"name":"Usage","pricingModel":"usage_based","unitRevenueCents":10}}"#, &Empty).unwrap();
/// assert_eq!(String::from_utf8(line).unwrap(), r#"{"type":"customer","customerId":"c","name":"Acme","seats":3,"plan":{"name":"Usage","pricingModel":"usage_based","unitRevenueCents":10}}"#);
/// let e = customer_to_record(br#"{"customerId":"c","planId":"Gold"}"#, &Empty).unwrap_err();
/// assert_eq!(e.field, "planId");
/// ```
pub fn customer_to_record(
    body: &[u8],
    ledger: &impl CustomerLookup,
) -> Result<Vec<u8>, DialectError> {
    let b: CustomerBody<'_> = serde_json::from_slice(body).map_err(parse_error)?;
    let id_raw = given(b.customer_id).ok_or_else(|| err("customerId", "is required"))?;
    let id = json_str(id_raw).ok_or_else(|| err("customerId", "must be a string"))?;
    for (name, v) in [("company", b.company), ("useCase", b.use_case)] {
        if let Some(v) = given(v)
            && json_str(v).is_none()
        {
            return Err(err(name, "must be a string"));
        }
    }
    let current = ledger.current(&id);
    let mut o = Out::new();
    o.raw("type", "\"customer\"");
    o.raw("customerId", id_raw.get());
    match (
        given(b.name),
        current.as_ref().and_then(|c| c.name.as_ref()),
    ) {
        (Some(v), _) => o.raw("name", v.get()),
        (None, Some(n)) => o.raw("name", &serde_json::to_string(n).unwrap_or_default()),
        (None, None) => {}
    }
    match (given(b.seats), current.as_ref()) {
        (Some(v), _) => o.raw("seats", v.get()),
        (None, Some(c)) => o.raw("seats", &c.seats.to_string()),
        (None, None) => {}
    }
    match (given(b.plan_id), given(b.plan)) {
        (Some(_), Some(_)) => {
            return Err(err("planId", "give planId or an inline plan, not both"));
        }
        (Some(pid), None) => {
            let name = json_str(pid).ok_or_else(|| err("planId", "must be a string"))?;
            let plan = ledger.plan_named(&name).ok_or_else(|| {
                err(
                    "planId",
                    format!(
                        "no plan named {} in this workspace (declare it once inline: \"plan\": {{\"name\": ...}})",
                        clip(pid.get())
                    ),
                )
            })?;
            o.raw("plan", &plan_json(&plan));
        }
        (None, Some(inline)) => o.raw("plan", &inline_plan(inline)?),
        (None, None) => {
            if let Some(p) = current.as_ref().and_then(|c| c.plan.as_ref()) {
                o.raw("plan", &plan_json(p));
            }
        }
    }
    o.opt("ts", b.ts);
    Ok(o.finish())
}

/// An inline plan as the SDK sends it (`upsert_customer(plan={...})`): the ledger's plan fields,
/// with the product's pricing-model names.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SdkPlan<'a> {
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    pricing_model: Option<&'a RawValue>,
    #[serde(borrow)]
    unit_revenue_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    seat_price_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    monthly_fee_cents: Option<&'a RawValue>,
}

/// The ledger's pricing model for the product's name (tollgateai documents `per_unit |
/// per_resolution | usage_based | per_seat | flat | hybrid`): revenue per call at ingest
/// (`usage_based`, `per_unit`; `hybrid` = that plus the plan's `monthlyFeeCents`), per
/// resolved run (`per_resolution`), per seat and month, flat per month. The ledger's own
/// names are accepted as well.
///
/// ```
/// use tollgate_server::product::dialect::pricing_model;
/// assert_eq!(pricing_model("per_resolution"), Some("outcome_based"));
/// assert_eq!(pricing_model("per_galaxy"), None);
/// ```
pub fn pricing_model(name: &str) -> Option<&'static str> {
    match name {
        "usage_based" | "per_unit" | "hybrid" => Some("usage_based"),
        "per_resolution" | "outcome_based" => Some("outcome_based"),
        "per_seat" => Some("per_seat"),
        "flat" => Some("flat"),
        _ => None,
    }
}

/// Rewrites an inline plan for the ledger: `pricingModel` mapped by [`pricing_model`], the
/// amounts copied as their JSON text (exact), any other field refused with its name.
fn inline_plan(v: &RawValue) -> Result<String, DialectError> {
    if !v.get().starts_with('{') {
        return Err(err("plan", "must be an object"));
    }
    let p: SdkPlan<'_> = serde_json::from_str(v.get()).map_err(|e| {
        let e = parse_error(e);
        let field = if e.field.is_empty() {
            "plan".to_string()
        } else {
            format!("plan.{}", e.field)
        };
        DialectError {
            field,
            reason: e.reason,
        }
    })?;
    let model = given(p.pricing_model).ok_or_else(|| err("plan.pricingModel", "is required"))?;
    let ours = json_str(model).as_deref().and_then(pricing_model).ok_or_else(|| {
        err(
            "plan.pricingModel",
            format!(
                "unknown pricing model {} (expected per_unit, per_resolution, usage_based, per_seat, flat or hybrid)",
                clip(model.get())
            ),
        )
    })?;
    let mut o = Out::new();
    o.opt("name", p.name);
    o.raw("pricingModel", &format!("\"{ours}\""));
    o.opt("unitRevenueCents", p.unit_revenue_cents);
    o.opt("seatPriceCents", p.seat_price_cents);
    o.opt("monthlyFeeCents", p.monthly_fee_cents);
    Ok(String::from_utf8(o.finish()).unwrap_or_default())
}

/// The body of `POST /api/guard` (the SDK's `allow`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct GuardBody<'a> {
    #[serde(borrow)]
    customer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    agent_id: Option<&'a RawValue>,
    #[serde(borrow)]
    run_id: Option<&'a RawValue>,
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    estimated_cost_cents: Option<&'a RawValue>,
}

/// A guard question, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuardQuery {
    /// `customerId` (required).
    pub customer_id: String,
    /// `agentId`.
    pub agent_id: Option<String>,
    /// `runId` (not sent by the SDK 1.1.0; accepted for the per-run cap).
    pub run_id: Option<String>,
    /// `model`: the model the call would use (a downgrade suggests a cheaper one).
    pub model: Option<String>,
    /// `estimatedCostCents`, exact from its JSON text.
    pub estimated_cost_cents: Option<Cents>,
}

fn opt_string(field: &str, v: Option<&RawValue>) -> Result<Option<String>, DialectError> {
    match given(v) {
        None => Ok(None),
        Some(v) => json_str(v)
            .map(Some)
            .ok_or_else(|| err(field, format!("must be a string (got {})", clip(v.get())))),
    }
}

/// Parses the body of `POST /api/guard`.
///
/// ```
/// use tollgate_server::product::dialect::guard_query;
/// let q = guard_query(br#"{"customerId":"c","estimatedCostCents":0.1}"#).unwrap();
/// assert_eq!(q.estimated_cost_cents.unwrap().to_string(), "0.1");
/// ```
pub fn guard_query(body: &[u8]) -> Result<GuardQuery, DialectError> {
    let b: GuardBody<'_> = serde_json::from_slice(body).map_err(parse_error)?;
    let customer_id =
        opt_string("customerId", b.customer_id)?.ok_or_else(|| err("customerId", "is required"))?;
    let estimated_cost_cents = match given(b.estimated_cost_cents) {
        None => None,
        Some(v) => {
            let t = v.get();
            let inner = t
                .strip_prefix('"')
                .and_then(|s| s.strip_suffix('"'))
                .unwrap_or(t);
            Some(
                Cents::from_cents_literal(inner, false)
                    .map_err(|e| err("estimatedCostCents", format!("{e} (got {})", clip(t))))?,
            )
        }
    };
    Ok(GuardQuery {
        customer_id,
        agent_id: opt_string("agentId", b.agent_id)?,
        run_id: opt_string("runId", b.run_id)?,
        model: opt_string("model", b.model)?,
        estimated_cost_cents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(body: &str) -> serde_json::Value {
        serde_json::from_slice(&track_to_record(body.as_bytes()).unwrap()).unwrap()
    }

    struct NoCustomers;
    impl CustomerLookup for NoCustomers {
        fn current(&self, _: &str) -> Option<CustomerUpsert> {
            None
        }
        fn plan_named(&self, _: &str) -> Option<Plan> {
            None
        }
    }

    fn customer(body: &str) -> Result<serde_json::Value, DialectError> {
        customer_to_record(body.as_bytes(), &NoCustomers)
            .map(|l| serde_json::from_slice(&l).unwrap())
    }

    #[test]
    fn product_pricing_models_map_to_the_ledgers() {
        for (sent, booked) in [
            ("per_resolution", "outcome_based"),
            ("per_unit", "usage_based"),
            ("usage_based", "usage_based"),
            ("hybrid", "usage_based"),
            ("per_seat", "per_seat"),
            ("flat", "flat"),
            ("outcome_based", "outcome_based"),
        ] {
            let v = customer(&format!(
                r#"{{"customerId":"c","plan":{{"name":"P","pricingModel":"{sent}","unitRevenueCents":0.1}}}}"#
            ))
            .unwrap();
            assert_eq!(v["plan"]["pricingModel"], booked, "{sent}");
        }
        // Amounts keep their text: 0.1 is one tenth of a cent, not a double.
        let line = customer_to_record(
            br#"{"customerId":"c","plan":{"pricingModel":"hybrid","unitRevenueCents":0.1,"monthlyFeeCents":4999.99}}"#,
            &NoCustomers,
        )
        .unwrap();
        let line = String::from_utf8(line).unwrap();
        assert!(
            line.contains(r#""unitRevenueCents":0.1,"monthlyFeeCents":4999.99"#),
            "{line}"
        );
        let e = customer(r#"{"customerId":"c","plan":{"pricingModel":"per_galaxy"}}"#).unwrap_err();
        assert_eq!(e.field, "plan.pricingModel");
        let e = customer(r#"{"customerId":"c","plan":{"name":"P"}}"#).unwrap_err();
        assert_eq!(e.field, "plan.pricingModel");
        let e =
            customer(r#"{"customerId":"c","plan":{"pricingModel":"flat","fee":1}}"#).unwrap_err();
        assert_eq!(e.field, "plan.fee");
        let e = customer(r#"{"customerId":"c","plan":[1]}"#).unwrap_err();
        assert_eq!(e.field, "plan");
    }

    #[test]
    fn google_is_the_gemini_provider() {
        // gemini_event_from's default provider; the rate card's Gemini rows are gemini/….
        let v = map(
            r#"{"customerId":"c","provider":"google","model":"gemini-2.5-flash","tokensIn":1}"#,
        );
        assert_eq!(v["provider"], "gemini");
        let v = map(
            r#"{"customerId":"c","provider":"vertex_ai","model":"gemini-2.5-flash","tokensIn":1}"#,
        );
        assert_eq!(v["provider"], "vertex_ai");
        let e = track_to_record(br#"{"customerId":"c","provider":7}"#).unwrap_err();
        assert_eq!(e.field, "provider");
    }

    #[test]
    fn provider_tier_names_are_read_like_the_extraction() {
        for (sent, booked) in [
            ("on_demand", "default"), // Groq (groq_chat_1.json)
            ("scale", "default"),     // OpenAI's legacy name, unknown to the rate card
            ("default", "default"),
            ("auto", "default"),
            ("flex", "flex"),
            ("Priority", "priority"),
            ("fast", "priority"),
        ] {
            let v = map(&format!(
                r#"{{"customerId":"c","provider":"openai","model":"m","serviceTier":"{sent}"}}"#
            ));
            assert_eq!(v["serviceTier"], booked, "{sent}");
        }
        let e = track_to_record(br#"{"customerId":"c","serviceTier":1}"#).unwrap_err();
        assert_eq!(e.field, "serviceTier");
    }

    #[test]
    fn gemini_buckets_are_joined() {
        // promptTokenCount 1000 = 600 text + 100 cached + 50 audio + 150 image + 100 video;
        // candidatesTokenCount 300 = 250 text + 50 audio; thoughts 40 (outside candidates).
        // The SDK sends tokensIn 1000-100-50-150-100 = 600, tokensOut 300-50-0 = 250.
        let v = map(
            r#"{"customerId":"c","provider":"google","model":"gemini-2.5-flash",
            "tokensIn":600,"tokensOut":250,"reasoningTokens":40,"cachedTokens":100,
            "audioTokensIn":50,"audioTokensOut":50,"imageTokensIn":150,"imageTokensOut":0,
            "videoTokensIn":100,"textTokensIn":600,"textTokensOut":250,"webSearchRequests":0,
            "toolCalls":1,"idempotencyKey":"r#1","latencyMs":12}"#,
        );
        assert_eq!(v["tokensIn"], 900); // fresh input: 1000 - 100 cached
        assert_eq!(v["tokensOut"], 340); // 300 candidates + 40 thoughts
        assert_eq!(v["reasoningTokens"], 40);
        assert_eq!(v["cachedTokens"], 100);
        assert_eq!(v["audioTokensIn"], 50);
        assert_eq!(v["imageTokensIn"], 150);
        assert_eq!(v["toolCalls"], 1);
        assert!(v.get("latencyMs").is_none());
    }

    #[test]
    fn resolution_becomes_resolve() {
        let v = map(
            r#"{"customerId":"c","runId":"run1","provider":"anthropic","model":"resolution",
            "tokensIn":0,"tokensOut":0,"outcome":"resolved","revenueUnitCents":250,
            "idempotencyKey":"run1#resolve"}"#,
        );
        assert_eq!(v["type"], "resolve");
        assert_eq!(v["revenueUnitCents"], 250);
        assert!(v.get("idempotencyKey").is_none());
    }

    #[test]
    fn precise_errors() {
        let e = track_to_record(br#"{"tokenIn":5}"#).unwrap_err();
        assert_eq!(e.field, "tokenIn");
        let e = track_to_record(br#"{"tokensIn":1.5}"#).unwrap_err();
        assert_eq!(e.field, "tokensIn");
        let e = track_to_record(br#"{"tokensIn":-5,"audioTokensIn":2}"#).unwrap_err();
        assert_eq!(e.field, "tokensIn");
        let e = track_to_record(b"[1]").unwrap_err();
        assert_eq!(e.field, "");
    }
}
