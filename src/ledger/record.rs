//! The records of a JSON Lines ledger log (docs/reference/cli.md `report`): events, resolutions,
//! customer upserts and guardrail policies, dispatched on `type`.
//!
//! Parsing is as strict as [`Event::from_json`]: unknown fields, wrong types, oversize values
//! and malformed timestamps are rejected with an error naming the field.

use crate::event::{
    Event, EventError, MAX_ID_BYTES, MAX_NAME_BYTES, Outcome, clip, json_reason, parse_amount,
    parse_count, parse_timestamp,
};
use crate::money::Cents;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;

/// Largest accepted `seats`.
pub const MAX_SEATS: u64 = 100_000_000;
/// Largest accepted plan amount (`unitRevenueCents`, `seatPriceCents`, `monthlyFeeCents`):
/// 10^10 cents (USD 100 million).
pub const MAX_PLAN_AMOUNT_CENTS: i64 = 10_000_000_000;
/// Longest accepted JSON Lines record, in bytes.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// How a customer is charged (docs/reference/ledger.md (customers and plans)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PricingModel {
    /// Each accepted event without an explicit `revenueUnitCents` earns
    /// `unitRevenueCents × units`.
    UsageBased,
    /// A resolved run earns `unitRevenueCents` unless the resolution names an amount.
    OutcomeBased,
    /// `seats × seatPriceCents` per calendar month, accrued daily.
    PerSeat,
    /// `monthlyFeeCents` per calendar month, accrued daily.
    Flat,
}

impl PricingModel {
    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<PricingModel> {
        match s {
            "usage_based" => Some(PricingModel::UsageBased),
            "outcome_based" => Some(PricingModel::OutcomeBased),
            "per_seat" => Some(PricingModel::PerSeat),
            "flat" => Some(PricingModel::Flat),
            _ => None,
        }
    }
    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PricingModel::UsageBased => "usage_based",
            PricingModel::OutcomeBased => "outcome_based",
            PricingModel::PerSeat => "per_seat",
            PricingModel::Flat => "flat",
        }
    }
}

/// A customer's plan. Every plan may carry a monthly fee.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Plan {
    /// Display name.
    pub name: Option<String>,
    /// How the customer is charged.
    pub pricing_model: PricingModel,
    /// Revenue per unit (`usage_based`) or per resolved run (`outcome_based`).
    pub unit_revenue_cents: Cents,
    /// Price of one seat per month (`per_seat`).
    pub seat_price_cents: Cents,
    /// Monthly fee (any plan).
    pub monthly_fee_cents: Cents,
}

impl Plan {
    /// The subscription amount of one calendar month for `seats` seats:
    /// `seats × seatPriceCents` on a `per_seat` plan, plus `monthlyFeeCents` on any plan.
    pub fn monthly_cents(&self, seats: u64) -> Option<Cents> {
        let seat_part = if self.pricing_model == PricingModel::PerSeat {
            self.seat_price_cents.checked_mul_count(seats)?
        } else {
            Cents::ZERO
        };
        seat_part.checked_add(self.monthly_fee_cents)
    }
}

/// `resolve(runId, customerId, outcome, revenueUnitCents?)` (docs/reference/ledger.md (runs)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The run's customer.
    pub customer_id: String,
    /// The run.
    pub run_id: String,
    /// How the run ended.
    pub outcome: Outcome,
    /// Revenue of a resolved run, overriding the plan's `unitRevenueCents`.
    pub revenue_unit_cents: Option<Cents>,
    /// When the run was resolved (epoch ms); `None` = ingest time. Resolution revenue is dated
    /// here.
    pub timestamp_ms: Option<i64>,
}

/// `upsertCustomer(id, name, seats, plan)` (docs/reference/ledger.md (customers and plans)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerUpsert {
    /// The customer.
    pub customer_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Seats (used by `per_seat` plans).
    pub seats: u64,
    /// The plan; `None` = no plan (revenue only from explicit `revenueUnitCents`).
    pub plan: Option<Plan>,
    /// When the change takes effect (epoch ms); `None` = ingest time.
    pub timestamp_ms: Option<i64>,
}

/// One record of a ledger log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// `track`, `llm`, `tool`, `retrieval` or no `type`.
    Event(Box<Event>),
    /// `type: "resolve"`.
    Resolve(Resolution),
    /// `type: "customer"`.
    Customer(CustomerUpsert),
    /// `type: "policy"`: a guardrail policy upsert (see [`super::policy`]).
    Policy(Box<super::policy::Policy>),
}

/// Why a record was rejected: the field (dotted for nested fields, `""` for the whole record)
/// and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordError {
    /// The offending field, e.g. `"outcome"` or `"plan.pricingModel"`; `""` for the record.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for RecordError {}

impl From<EventError> for RecordError {
    fn from(e: EventError) -> RecordError {
        RecordError {
            field: e.field,
            reason: e.reason,
        }
    }
}

fn err(field: &'static str, reason: impl Into<String>) -> RecordError {
    RecordError {
        field,
        reason: reason.into(),
    }
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawResolve<'a> {
    #[serde(rename = "type", borrow)]
    _kind: &'a RawValue,
    #[serde(borrow)]
    customer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    run_id: Option<&'a RawValue>,
    #[serde(borrow)]
    outcome: Option<&'a RawValue>,
    #[serde(borrow)]
    revenue_unit_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawCustomer<'a> {
    #[serde(rename = "type", borrow)]
    _kind: &'a RawValue,
    #[serde(borrow)]
    customer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    seats: Option<&'a RawValue>,
    #[serde(borrow)]
    plan: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPlan<'a> {
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

impl Record {
    /// Parses one JSON Lines record, dispatching on `type`.
    ///
    /// ```
    /// use tollgate_engine::ledger::record::Record;
    /// let r = Record::from_json(br#"{"type":"resolve","customerId":"c","runId":"r","outcome":"resolved"}"#).unwrap();
    /// assert!(matches!(r, Record::Resolve(_)));
    /// let e = Record::from_json(br#"{"type":"resolve","customerId":"c","runId":"r","outcome":"won"}"#).unwrap_err();
    /// assert_eq!(e.field, "outcome");
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<Record, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(err(
                "",
                format!(
                    "record is {} bytes long; the limit is {MAX_RECORD_BYTES}",
                    bytes.len()
                ),
            ));
        }
        // Events are the common case: parse once, and look at `type` only when that fails.
        // (The JSON parser validates UTF-8 where it matters; the up-front check only runs to
        // give a failing record a precise error.)
        let event_error = match Event::from_json(bytes) {
            Ok(e) => return Ok(Record::Event(Box::new(e))),
            Err(e) => e,
        };
        if let Err(e) = std::str::from_utf8(bytes) {
            return Err(err(
                "",
                format!("record is not valid UTF-8 (byte {})", e.valid_up_to()),
            ));
        }
        let kind = match serde_json::from_slice::<Peek<'_>>(bytes) {
            Ok(p) => p.kind,
            Err(_) => return Err(event_error.into()),
        };
        match kind.as_deref() {
            Some("resolve") => parse_resolve(bytes).map(Record::Resolve),
            Some("customer") => parse_customer(bytes).map(Record::Customer),
            Some("policy") => {
                super::policy::parse_policy(bytes).map(|p| Record::Policy(Box::new(p)))
            }
            _ => Err(event_error.into()),
        }
    }
}

/// Validates an identifier (`customerId`, `runId`): 1..=[`MAX_ID_BYTES`] bytes, no control
/// characters.
pub fn check_id(field: &'static str, s: &str) -> Result<(), RecordError> {
    check_text(field, s, MAX_ID_BYTES)
}

#[inline]
fn check_text(field: &'static str, s: &str, max: usize) -> Result<(), RecordError> {
    if s.is_empty() {
        return Err(err(field, "must not be empty"));
    }
    if s.len() > max {
        return Err(err(
            field,
            format!("is {} bytes long; the limit is {max}", s.len()),
        ));
    }
    if crate::event::has_control(s) {
        return Err(err(field, "must not contain control characters"));
    }
    Ok(())
}

/// A JSON string field (`null` = absent); any other JSON type is an error naming the field.
fn text<'a>(
    v: Option<&'a RawValue>,
    field: &'static str,
) -> Result<Option<Cow<'a, str>>, RecordError> {
    match v {
        None => Ok(None),
        Some(v) if v.get() == "null" => Ok(None),
        Some(v) if v.get().starts_with('"') => serde_json::from_str::<Cow<'a, str>>(v.get())
            .map(Some)
            .map_err(|e| err(field, json_reason(&e))),
        Some(v) => Err(err(
            field,
            format!("must be a string (got {})", clip(v.get())),
        )),
    }
}

fn required_id(v: Option<&RawValue>, field: &'static str) -> Result<String, RecordError> {
    let s = text(v, field)?.ok_or_else(|| err(field, "is required"))?;
    check_id(field, &s)?;
    Ok(s.into_owned())
}

fn optional_name(v: Option<&RawValue>, field: &'static str) -> Result<Option<String>, RecordError> {
    match text(v, field)? {
        None => Ok(None),
        Some(s) => {
            check_text(field, &s, MAX_NAME_BYTES)?;
            Ok(Some(s.into_owned()))
        }
    }
}

fn is_null(v: Option<&RawValue>) -> bool {
    v.is_none_or(|v| v.get() == "null")
}

fn timestamp_of(
    timestamp: Option<&RawValue>,
    ts: Option<&RawValue>,
) -> Result<Option<i64>, RecordError> {
    match (is_null(timestamp), is_null(ts)) {
        (false, false) => Err(err("timestamp", "given twice (as timestamp and as ts)")),
        (false, true) => timestamp
            .map(|v| parse_timestamp(v.get()).map_err(|r| err("timestamp", r)))
            .transpose(),
        (true, false) => ts
            .map(|v| parse_timestamp(v.get()).map_err(|r| err("ts", r)))
            .transpose(),
        (true, true) => Ok(None),
    }
}

fn plan_amount(v: Option<&RawValue>, field: &'static str) -> Result<Cents, RecordError> {
    if is_null(v) {
        return Ok(Cents::ZERO);
    }
    let c = v
        .map(|v| parse_amount(v.get()).map_err(|r| err(field, r)))
        .transpose()?
        .unwrap_or(Cents::ZERO);
    check_plan_amount(field, c)?;
    Ok(c)
}

/// Checks a plan amount against [`MAX_PLAN_AMOUNT_CENTS`].
pub fn check_plan_amount(field: &'static str, c: Cents) -> Result<(), RecordError> {
    if c.is_negative() {
        return Err(err(field, "must not be negative"));
    }
    if c > Cents::from_whole_cents(MAX_PLAN_AMOUNT_CENTS) {
        return Err(err(
            field,
            format!("{c} exceeds the limit of {MAX_PLAN_AMOUNT_CENTS} cents"),
        ));
    }
    Ok(())
}

fn parse_resolve(bytes: &[u8]) -> Result<Resolution, RecordError> {
    let raw: RawResolve<'_> =
        serde_json::from_slice(bytes).map_err(|e| err("", json_reason(&e)))?;
    let outcome = text(raw.outcome, "outcome")?.ok_or_else(|| err("outcome", "is required"))?;
    let outcome = Outcome::parse(&outcome).ok_or_else(|| {
        err(
            "outcome",
            format!(
                "unknown outcome \"{}\" (expected resolved, escalated or failed)",
                clip(&outcome)
            ),
        )
    })?;
    let revenue_unit_cents = if is_null(raw.revenue_unit_cents) {
        None
    } else {
        let c = raw
            .revenue_unit_cents
            .map(|v| parse_amount(v.get()).map_err(|r| err("revenueUnitCents", r)))
            .transpose()?;
        if let Some(c) = c {
            check_plan_amount("revenueUnitCents", c)?;
        }
        c
    };
    Ok(Resolution {
        customer_id: required_id(raw.customer_id, "customerId")?,
        run_id: required_id(raw.run_id, "runId")?,
        outcome,
        revenue_unit_cents,
        timestamp_ms: timestamp_of(raw.timestamp, raw.ts)?,
    })
}

fn parse_customer(bytes: &[u8]) -> Result<CustomerUpsert, RecordError> {
    let raw: RawCustomer<'_> =
        serde_json::from_slice(bytes).map_err(|e| err("", json_reason(&e)))?;
    let seats = if is_null(raw.seats) {
        0
    } else {
        let text = raw.seats.map(RawValue::get).unwrap_or("0");
        let n = parse_count(text).map_err(|r| err("seats", r))?;
        if n > MAX_SEATS {
            return Err(err(
                "seats",
                format!("{n} exceeds the limit of {MAX_SEATS} seats"),
            ));
        }
        n
    };
    let plan = match raw.plan {
        Some(v) if v.get() != "null" => Some(parse_plan(v)?),
        _ => None,
    };
    let upsert = CustomerUpsert {
        customer_id: required_id(raw.customer_id, "customerId")?,
        name: optional_name(raw.name, "name")?,
        seats,
        plan,
        timestamp_ms: timestamp_of(raw.timestamp, raw.ts)?,
    };
    Ok(upsert)
}

fn parse_plan(v: &RawValue) -> Result<Plan, RecordError> {
    if !v.get().starts_with('{') {
        return Err(err("plan", "must be an object or null"));
    }
    let raw: RawPlan<'_> = serde_json::from_str(v.get()).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => err("plan", e.to_string()),
            _ => err("plan", json_reason(&e)),
        }
    })?;
    let model = text(raw.pricing_model, "plan.pricingModel")?
        .ok_or_else(|| err("plan.pricingModel", "is required"))?;
    let pricing_model = PricingModel::parse(&model).ok_or_else(|| {
        err(
            "plan.pricingModel",
            format!(
                "unknown pricing model \"{}\" (expected usage_based, outcome_based, per_seat or flat)",
                clip(&model)
            ),
        )
    })?;
    Ok(Plan {
        name: optional_name(raw.name, "plan.name")?,
        pricing_model,
        unit_revenue_cents: plan_amount(raw.unit_revenue_cents, "plan.unitRevenueCents")?,
        seat_price_cents: plan_amount(raw.seat_price_cents, "plan.seatPriceCents")?,
        monthly_fee_cents: plan_amount(raw.monthly_fee_cents, "plan.monthlyFeeCents")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reject(json: &str) -> RecordError {
        Record::from_json(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn parses_each_record_type() {
        let r = Record::from_json(
            br#"{"type":"customer","customerId":"acme","name":"Acme","seats":12,
            "plan":{"name":"Team","pricingModel":"per_seat","seatPriceCents":"2500","monthlyFeeCents":100},
            "ts":"2026-01-01T00:00:00Z"}"#,
        )
        .unwrap();
        let Record::Customer(c) = r else {
            panic!("not a customer")
        };
        assert_eq!(c.seats, 12);
        let plan = c.plan.unwrap();
        assert_eq!(plan.pricing_model, PricingModel::PerSeat);
        // 12 seats × 2500 + 100 = 30100 cents a month.
        assert_eq!(
            plan.monthly_cents(12).unwrap(),
            Cents::from_whole_cents(30_100)
        );
        let r = Record::from_json(
            br#"{"type":"resolve","customerId":"acme","runId":"r1","outcome":"resolved","revenueUnitCents":"50","timestamp":1700000000000}"#,
        )
        .unwrap();
        let Record::Resolve(r) = r else {
            panic!("not a resolve")
        };
        assert_eq!(r.revenue_unit_cents, Some(Cents::from_whole_cents(50)));
        assert_eq!(r.timestamp_ms, Some(1_700_000_000_000));
        assert!(matches!(
            Record::from_json(br#"{"type":"track","customerId":"c","model":"m"}"#).unwrap(),
            Record::Event(_)
        ));
    }

    #[test]
    fn bad_records_name_the_field() {
        assert_eq!(
            reject(r#"{"type":"resolve","customerId":"c","runId":"r","outcome":"won"}"#).field,
            "outcome"
        );
        assert_eq!(
            reject(r#"{"type":"resolve","customerId":"c","outcome":"failed"}"#).field,
            "runId"
        );
        assert!(
            reject(
                r#"{"type":"resolve","customerId":"c","runId":"r","outcome":"failed","tokensIn":3}"#
            )
            .reason
            .contains("unknown field `tokensIn`")
        );
        assert_eq!(
            reject(r#"{"type":"customer","customerId":"c","plan":{"pricingModel":"freemium"}}"#)
                .field,
            "plan.pricingModel"
        );
        assert_eq!(
            reject(r#"{"type":"customer","customerId":"c","plan":{"pricingModel":"flat","monthlyFeeCents":-5}}"#)
                .field,
            "plan.monthlyFeeCents"
        );
        assert!(
            reject(
                r#"{"type":"customer","customerId":"c","plan":{"pricingModel":"flat","fee":5}}"#
            )
            .reason
            .contains("unknown field `fee`")
        );
        assert_eq!(
            reject(r#"{"type":"customer","customerId":"c","seats":-1}"#).field,
            "seats"
        );
        assert_eq!(reject(r#"{"type":"bogus","model":"m"}"#).field, "type");
        assert_eq!(
            reject(r#"{"type":"customer","name":"x"}"#).field,
            "customerId"
        );
    }
}
