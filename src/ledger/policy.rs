//! Guardrail policies: what a customer may spend, and what happens when a call would break it.
//!
//! A [`Policy`] applies to one customer, to every customer on a named plan, or to everyone (the
//! default); the most specific one in force decides (customer, then plan, then default). It
//! carries any of four rules — a cost budget per period, a minimum margin over a period (with a
//! minimum activity below which it does not apply), a maximum cost per run and a maximum cost
//! per agent per period — plus the action on a breach and a downgrade map.
//!
//! Policies are upserted as `policy` records (a JSON Lines record type, like `customer`),
//! effective from their timestamp, and saved with the ledger state. A record with
//! `"retired": true` (and no rules) retires its scope's policy from its timestamp on. A policy record is
//! validated whole: any invalid field rejects it with the field and the reason, and nothing
//! changes. [`Policy::to_json`] writes the canonical record, which parses back to the same
//! policy.
//!
//! ```
//! use tollgate_engine::ledger::policy::{Action, Period, Scope};
//! use tollgate_engine::ledger::record::Record;
//! let r = Record::from_json(br#"{"type":"policy","policyId":"acme-cap","customerId":"acme",
//!     "budget":{"cents":"5000","period":"month"},"action":"downgrade",
//!     "downgrade":{"gpt-4o":"gpt-4o-mini"}}"#).unwrap();
//! let Record::Policy(p) = r else { unreachable!() };
//! assert_eq!(p.scope, Scope::Customer("acme".into()));
//! assert_eq!(p.budget.as_ref().unwrap().period, Period::Month);
//! assert_eq!(p.action, Action::Downgrade);
//! assert_eq!(Record::from_json(p.to_json().as_bytes()).unwrap(), Record::Policy(p));
//! ```

use super::days::{Day, date_of_day, day_of_date};
use super::record::{RecordError, check_id};
use crate::event::{MAX_NAME_BYTES, clip, json_reason, parse_amount, parse_count, parse_timestamp};
use crate::money::Cents;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest amount a policy may name (budget, cap, minimum revenue): 10^12 cents
/// (USD 10 billion).
pub const MAX_POLICY_AMOUNT_CENTS: i64 = 1_000_000_000_000;
/// Most entries of one downgrade map.
pub const MAX_DOWNGRADE_ENTRIES: usize = 64;
/// Lowest accepted minimum margin: −1,000,000 % (in hundredths of a percent).
pub const MIN_MARGIN_FLOOR_HUNDREDTHS: i64 = -100_000_000;

/// The span a budget, cap or margin rule covers. Periods are UTC calendar periods: a day, an
/// ISO week (Monday to Sunday), a calendar month, or all time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Period {
    /// One UTC day.
    Day,
    /// One ISO week, Monday 00:00 UTC to Sunday 24:00 UTC.
    Week,
    /// One calendar month (UTC).
    Month,
    /// Everything since the ledger began.
    All,
}

impl Period {
    /// Parses the wire name (`day`, `week`, `month`, `all`).
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            "all" => Some(Period::All),
            _ => None,
        }
    }

    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
            Period::All => "all",
        }
    }

    /// The index of the period holding `day`: the day itself, the ISO week number since the
    /// week of 1970-01-01, `year × 12 + month − 1`, or 0 for all time.
    #[inline]
    pub fn index_of(self, day: Day) -> i64 {
        match self {
            Period::Day => day,
            // 1970-01-01 is a Thursday: day + 3 counts from the Monday before it.
            Period::Week => (day + 3).div_euclid(7),
            Period::Month => month_index(day),
            Period::All => 0,
        }
    }

    /// First day of the period with index `index` (`None` for all time).
    pub fn first_day(self, index: i64) -> Option<Day> {
        match self {
            Period::Day => Some(index),
            Period::Week => Some(index * 7 - 3),
            Period::Month if (FAST_FIRST_MONTH..=FAST_LAST_MONTH).contains(&index) => Some(
                days_from_civil(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1),
            ),
            Period::Month => {
                let year = i32::try_from(index.div_euclid(12)).ok()?;
                let month = time::Month::try_from(index.rem_euclid(12) as u8 + 1).ok()?;
                Some(day_of_date(
                    time::Date::from_calendar_date(year, month, 1).ok()?,
                ))
            }
            Period::All => None,
        }
    }

    /// Last day of the period with index `index` (`None` for all time).
    pub fn last_day(self, index: i64) -> Option<Day> {
        match self {
            Period::All => None,
            _ => Some(self.first_day(index + 1)? - 1),
        }
    }

    /// The period's label: `2026-01-05`, `2026-W02` (ISO week), `2026-01`, or `all`.
    pub fn label(self, index: i64) -> String {
        let Some(first) = self.first_day(index) else {
            return "all".to_string();
        };
        let Some(date) = date_of_day(first) else {
            return format!("{} {index}", self.as_str());
        };
        match self {
            Period::Day => format!(
                "{:04}-{:02}-{:02}",
                date.year(),
                u8::from(date.month()),
                date.day()
            ),
            Period::Week => {
                let (year, week, _) = date.to_iso_week_date();
                format!("{year:04}-W{week:02}")
            }
            Period::Month => format!("{:04}-{:02}", date.year(), u8::from(date.month())),
            Period::All => "all".to_string(),
        }
    }
}

/// Days 1970-01-01 ..= 9999-12-31 (every timestamp a record may carry) take the arithmetic
/// paths below (a few integer operations instead of a calendar-date conversion per decision);
/// anything else the general one.
const FAST_LAST_DAY: Day = 2_932_896;
const FAST_FIRST_MONTH: i64 = 1970 * 12;
const FAST_LAST_MONTH: i64 = 9999 * 12 + 11;

/// Day since 1970-01-01 of a date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> Day {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The last day [`month_index`] computed and its month (`day << 32 | month`; 0 = none yet:
/// day 0 is in month 23,640, so the packed value is never 0). Decisions of one day ask for the
/// same month over and over: one relaxed load answers them.
static LAST_MONTH: AtomicU64 = AtomicU64::new(0);

fn month_index(day: Day) -> i64 {
    if (0..=FAST_LAST_DAY).contains(&day) {
        let last = LAST_MONTH.load(Ordering::Relaxed);
        if last != 0 && (last >> 32) as i64 == day {
            return i64::from(last as u32);
        }
        let m = civil_month_index(day);
        LAST_MONTH.store(((day as u64) << 32) | m as u64, Ordering::Relaxed);
        return m;
    }
    match date_of_day(day) {
        Some(d) => i64::from(d.year()) * 12 + i64::from(u8::from(d.month())) - 1,
        None => 0,
    }
}

/// [`month_index`] of a day in `0..=FAST_LAST_DAY`, computed.
fn civil_month_index(day: Day) -> i64 {
    // (year, month) by H. Hinnant's `civil_from_days`, in unsigned arithmetic: from 1970 on
    // every term is non-negative, and unsigned divisions by constants need no sign
    // corrections.
    let z = day as u64 + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let (m, carry) = if mp < 10 { (mp + 3, 0) } else { (mp - 9, 1) };
    ((yoe + era * 400 + carry) * 12 + m - 1) as i64
}

/// What a breach does to the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Refuse the call.
    Block,
    /// Offer a cheaper model from the downgrade map (blocks when there is none that fits).
    Downgrade,
    /// Let the call through, flagged with the breach.
    Allow,
}

impl Action {
    /// Parses the wire name (`block`, `downgrade`, `allow`).
    pub fn parse(s: &str) -> Option<Action> {
        match s {
            "block" => Some(Action::Block),
            "downgrade" => Some(Action::Downgrade),
            "allow" => Some(Action::Allow),
            _ => None,
        }
    }

    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::Block => "block",
            Action::Downgrade => "downgrade",
            Action::Allow => "allow",
        }
    }
}

/// How `suggestedModel` is picked from the downgrade map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum DowngradeRule {
    /// Follow the chain (model → cheaper → cheaper still …) and suggest the first model whose
    /// estimate passes every rule of the policy (default).
    #[default]
    FirstFit,
    /// Suggest only the direct replacement of the model, if it passes every rule.
    Next,
}

impl DowngradeRule {
    /// Parses the wire name (`first_fit`, `next`).
    pub fn parse(s: &str) -> Option<DowngradeRule> {
        match s {
            "first_fit" => Some(DowngradeRule::FirstFit),
            "next" => Some(DowngradeRule::Next),
            _ => None,
        }
    }

    /// Wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            DowngradeRule::FirstFit => "first_fit",
            DowngradeRule::Next => "next",
        }
    }
}

/// Whom a policy applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One customer (`customerId`).
    Customer(Arc<str>),
    /// Every customer whose plan in force has this name (`planName`).
    Plan(Arc<str>),
    /// Every customer without a customer or plan policy.
    Default,
}

/// A cost limit over a period (`budget`, `maxAgentCost`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limit {
    /// The most that may be spent in one period, in cents.
    pub cents: Cents,
    /// The period.
    pub period: Period,
}

/// The minimum-margin rule (`minMargin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MinMargin {
    /// Minimum margin in hundredths of a percent (`2000` = 20.00 %).
    pub pct_hundredths: i64,
    /// The period the margin is computed over.
    pub period: Period,
    /// The rule applies only once the period's revenue reached this amount…
    pub min_revenue_cents: Option<Cents>,
    /// …and its event count reached this many (both when both are given).
    pub min_events: Option<u64>,
}

/// One guardrail policy. See the [module documentation](self).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Policy {
    /// The policy's id, reported with every decision it makes.
    pub policy_id: Arc<str>,
    /// Whom it applies to.
    pub scope: Scope,
    /// Cost budget per period for the customer.
    pub budget: Option<Limit>,
    /// Minimum margin over a period.
    pub min_margin: Option<MinMargin>,
    /// Maximum cost of one run.
    pub max_run_cost_cents: Option<Cents>,
    /// Maximum cost of one agent per period.
    pub max_agent_cost: Option<Limit>,
    /// What a breach does.
    pub action: Action,
    /// Model → cheaper model; acyclic.
    pub downgrade: BTreeMap<Arc<str>, Arc<str>>,
    /// How `suggestedModel` is picked.
    pub downgrade_rule: DowngradeRule,
    /// When the policy takes effect (epoch ms); `None` = at the ledger clock (or from the
    /// beginning before any activity), like a customer upsert.
    pub timestamp_ms: Option<i64>,
    /// A retirement (`"retired": true`): from its timestamp on, the scope has no policy of its
    /// own, so the next scope's policy decides (a customer falls back to its plan's, then the
    /// default). A retirement carries no rules.
    pub retired: bool,
}

impl Policy {
    /// The terms, without the timestamp (two versions with the same terms are the same policy).
    pub(crate) fn same_terms(&self, o: &Policy) -> bool {
        Policy {
            timestamp_ms: None,
            ..self.clone()
        } == Policy {
            timestamp_ms: None,
            ..o.clone()
        }
    }

    /// The canonical `policy` record: fixed key order, amounts as exact decimal strings,
    /// the timestamp as epoch ms. [`Record::from_json`](super::record::Record::from_json)
    /// parses it back to the same policy.
    pub fn to_json(&self) -> String {
        let mut s = String::from("{\"type\":\"policy\",\"policyId\":");
        push_json_str(&mut s, &self.policy_id);
        match &self.scope {
            Scope::Customer(c) => {
                s.push_str(",\"customerId\":");
                push_json_str(&mut s, c);
            }
            Scope::Plan(p) => {
                s.push_str(",\"planName\":");
                push_json_str(&mut s, p);
            }
            Scope::Default => {}
        }
        if self.retired {
            s.push_str(",\"retired\":true");
            if let Some(ts) = self.timestamp_ms {
                s.push_str(&format!(",\"timestamp\":{ts}"));
            }
            s.push('}');
            return s;
        }
        if let Some(b) = &self.budget {
            s.push_str(&format!(
                ",\"budget\":{{\"cents\":\"{}\",\"period\":\"{}\"}}",
                b.cents,
                b.period.as_str()
            ));
        }
        if let Some(m) = &self.min_margin {
            let a = m.pct_hundredths.unsigned_abs();
            let sign = if m.pct_hundredths < 0 { "-" } else { "" };
            s.push_str(&format!(
                ",\"minMargin\":{{\"pct\":\"{sign}{}.{:02}\",\"period\":\"{}\"",
                a / 100,
                a % 100,
                m.period.as_str()
            ));
            if let Some(r) = m.min_revenue_cents {
                s.push_str(&format!(",\"minRevenueCents\":\"{r}\""));
            }
            if let Some(n) = m.min_events {
                s.push_str(&format!(",\"minEvents\":{n}"));
            }
            s.push('}');
        }
        if let Some(c) = self.max_run_cost_cents {
            s.push_str(&format!(",\"maxRunCostCents\":\"{c}\""));
        }
        if let Some(a) = &self.max_agent_cost {
            s.push_str(&format!(
                ",\"maxAgentCost\":{{\"cents\":\"{}\",\"period\":\"{}\"}}",
                a.cents,
                a.period.as_str()
            ));
        }
        s.push_str(&format!(",\"action\":\"{}\"", self.action.as_str()));
        if !self.downgrade.is_empty() {
            s.push_str(",\"downgrade\":{");
            for (i, (from, to)) in self.downgrade.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                push_json_str(&mut s, from);
                s.push(':');
                push_json_str(&mut s, to);
            }
            s.push('}');
        }
        s.push_str(&format!(
            ",\"downgradeRule\":\"{}\"",
            self.downgrade_rule.as_str()
        ));
        if let Some(ts) = self.timestamp_ms {
            s.push_str(&format!(",\"timestamp\":{ts}"));
        }
        s.push('}');
        s
    }

    /// The chain of replacements of `model`: its replacement, that one's, and so on (the map
    /// is acyclic, so the chain ends).
    pub fn downgrade_chain<'a>(&'a self, model: &str) -> impl Iterator<Item = &'a Arc<str>> + 'a {
        let mut next = self.downgrade.get(model);
        std::iter::from_fn(move || {
            let m = next?;
            next = self.downgrade.get(&**m);
            Some(m)
        })
    }
}

fn push_json_str(out: &mut String, s: &str) {
    match serde_json::to_string(s) {
        Ok(q) => out.push_str(&q),
        Err(_) => out.push_str("\"\""),
    }
}

fn err(field: &'static str, reason: impl Into<String>) -> RecordError {
    RecordError {
        field,
        reason: reason.into(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPolicy<'a> {
    #[serde(rename = "type", borrow)]
    _kind: &'a RawValue,
    #[serde(borrow)]
    policy_id: Option<&'a RawValue>,
    #[serde(borrow)]
    customer_id: Option<&'a RawValue>,
    #[serde(borrow)]
    plan_name: Option<&'a RawValue>,
    #[serde(borrow)]
    budget: Option<&'a RawValue>,
    #[serde(borrow)]
    min_margin: Option<&'a RawValue>,
    #[serde(borrow)]
    max_run_cost_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    max_agent_cost: Option<&'a RawValue>,
    #[serde(borrow)]
    action: Option<&'a RawValue>,
    #[serde(borrow)]
    downgrade: Option<&'a RawValue>,
    #[serde(borrow)]
    downgrade_rule: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    ts: Option<&'a RawValue>,
    #[serde(borrow)]
    retired: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimit<'a> {
    #[serde(borrow)]
    cents: Option<&'a RawValue>,
    #[serde(borrow)]
    period: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawMargin<'a> {
    #[serde(borrow)]
    pct: Option<&'a RawValue>,
    #[serde(borrow)]
    period: Option<&'a RawValue>,
    #[serde(borrow)]
    min_revenue_cents: Option<&'a RawValue>,
    #[serde(borrow)]
    min_events: Option<&'a RawValue>,
}

fn present(v: Option<&RawValue>) -> Option<&RawValue> {
    v.filter(|v| v.get() != "null")
}

fn text<'a>(
    v: Option<&'a RawValue>,
    field: &'static str,
) -> Result<Option<Cow<'a, str>>, RecordError> {
    match present(v) {
        None => Ok(None),
        Some(v) if v.get().starts_with('"') => serde_json::from_str::<Cow<'a, str>>(v.get())
            .map(Some)
            .map_err(|e| err(field, json_reason(&e))),
        Some(v) => Err(err(
            field,
            format!("must be a string (got {})", clip(v.get())),
        )),
    }
}

fn object<'a, T: Deserialize<'a>>(v: &'a RawValue, field: &'static str) -> Result<T, RecordError> {
    if !v.get().starts_with('{') {
        return Err(err(field, "must be an object or null"));
    }
    serde_json::from_str(v.get()).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => err(field, e.to_string()),
            _ => err(field, json_reason(&e)),
        }
    })
}

fn amount(v: Option<&RawValue>, field: &'static str) -> Result<Option<Cents>, RecordError> {
    let Some(v) = present(v) else {
        return Ok(None);
    };
    let c = parse_amount(v.get()).map_err(|r| err(field, r))?;
    check_policy_amount(field, c)?;
    Ok(Some(c))
}

/// Checks a policy amount: not negative, at most [`MAX_POLICY_AMOUNT_CENTS`].
pub fn check_policy_amount(field: &'static str, c: Cents) -> Result<(), RecordError> {
    if c.is_negative() {
        return Err(err(field, "must not be negative"));
    }
    if c > Cents::from_whole_cents(MAX_POLICY_AMOUNT_CENTS) {
        return Err(err(
            field,
            format!("{c} exceeds the limit of {MAX_POLICY_AMOUNT_CENTS} cents"),
        ));
    }
    Ok(())
}

fn period(v: Option<&RawValue>, field: &'static str) -> Result<Period, RecordError> {
    let p = text(v, field)?.ok_or_else(|| err(field, "is required"))?;
    Period::parse(&p).ok_or_else(|| {
        err(
            field,
            format!(
                "unknown period \"{}\" (expected day, week, month or all)",
                clip(&p)
            ),
        )
    })
}

fn limit(
    v: Option<&RawValue>,
    cents_field: &'static str,
    period_field: &'static str,
    object_field: &'static str,
) -> Result<Option<Limit>, RecordError> {
    let Some(v) = present(v) else {
        return Ok(None);
    };
    let raw: RawLimit<'_> = object(v, object_field)?;
    let cents = amount(raw.cents, cents_field)?.ok_or_else(|| err(cents_field, "is required"))?;
    Ok(Some(Limit {
        cents,
        period: period(raw.period, period_field)?,
    }))
}

/// A percentage with at most two decimals, as hundredths.
fn pct_hundredths(v: &RawValue) -> Result<i64, String> {
    // `parse_amount` takes no sign: strip a leading minus (inside a string or not).
    let text = v.get();
    let (negative, unsigned) = match (text.strip_prefix("\"-"), text.strip_prefix('-')) {
        (Some(rest), _) => (true, format!("\"{rest}")),
        (None, Some(rest)) => (true, rest.to_string()),
        (None, None) => (false, text.to_string()),
    };
    let c = parse_amount(&unsigned)?;
    let c = if negative {
        Cents::from_raw(-c.raw())
    } else {
        c
    };
    // One hundredth of a percent, in the mantissa units of `Cents` (10^-24).
    const HUNDREDTH: i128 = 10i128.pow(crate::money::CENTS_SCALE - 2);
    if c.raw() % HUNDREDTH != 0 {
        return Err("has more than two decimals".to_string());
    }
    let h = c.raw() / HUNDREDTH;
    if h > 10_000 {
        return Err(format!(
            "{c} % is above 100 % (a margin cannot exceed 100 %)"
        ));
    }
    if h < i128::from(MIN_MARGIN_FLOOR_HUNDREDTHS) {
        return Err(format!(
            "{c} % is below the lowest accepted minimum, -1000000 %"
        ));
    }
    Ok(h as i64)
}

fn min_margin(v: Option<&RawValue>) -> Result<Option<MinMargin>, RecordError> {
    let Some(v) = present(v) else {
        return Ok(None);
    };
    let raw: RawMargin<'_> = object(v, "minMargin")?;
    let pct = present(raw.pct).ok_or_else(|| err("minMargin.pct", "is required"))?;
    let pct_hundredths = pct_hundredths(pct).map_err(|r| err("minMargin.pct", r))?;
    let min_events = present(raw.min_events)
        .map(|v| parse_count(v.get()).map_err(|r| err("minMargin.minEvents", r)))
        .transpose()?;
    Ok(Some(MinMargin {
        pct_hundredths,
        period: period(raw.period, "minMargin.period")?,
        min_revenue_cents: amount(raw.min_revenue_cents, "minMargin.minRevenueCents")?,
        min_events,
    }))
}

fn model_name(s: &str, field: &'static str) -> Result<Arc<str>, RecordError> {
    if s.is_empty() {
        return Err(err(field, "a model name must not be empty"));
    }
    if s.len() > MAX_NAME_BYTES {
        return Err(err(
            field,
            format!(
                "a model name is {} bytes long; the limit is {MAX_NAME_BYTES}",
                s.len()
            ),
        ));
    }
    if s.chars().any(char::is_control) {
        return Err(err(
            field,
            "a model name must not contain control characters",
        ));
    }
    Ok(Arc::from(s))
}

fn downgrade_map(v: Option<&RawValue>) -> Result<BTreeMap<Arc<str>, Arc<str>>, RecordError> {
    let Some(v) = present(v) else {
        return Ok(BTreeMap::new());
    };
    if !v.get().starts_with('{') {
        return Err(err(
            "downgrade",
            "must be an object of model → cheaper model",
        ));
    }
    let raw: BTreeMap<Cow<'_, str>, &RawValue> =
        serde_json::from_str(v.get()).map_err(|e| err("downgrade", json_reason(&e)))?;
    if raw.len() > MAX_DOWNGRADE_ENTRIES {
        return Err(err(
            "downgrade",
            format!(
                "has {} entries; the limit is {MAX_DOWNGRADE_ENTRIES}",
                raw.len()
            ),
        ));
    }
    let mut map = BTreeMap::new();
    for (from, to) in &raw {
        let to = text(Some(to), "downgrade")?
            .ok_or_else(|| err("downgrade", format!("\"{}\" maps to null", clip(from))))?;
        if from == &to {
            return Err(err(
                "downgrade",
                format!("\"{}\" is mapped to itself", clip(from)),
            ));
        }
        map.insert(
            model_name(from, "downgrade")?,
            model_name(&to, "downgrade")?,
        );
    }
    // Every chain must end: walking more steps than there are entries means a cycle.
    for start in map.keys() {
        let mut m = start;
        for _ in 0..=map.len() {
            match map.get(m) {
                Some(n) if n == start => {
                    return Err(err(
                        "downgrade",
                        format!(
                            "the chain from \"{}\" comes back to it (a cycle)",
                            clip(start)
                        ),
                    ));
                }
                Some(n) => m = n,
                None => break,
            }
        }
    }
    Ok(map)
}

/// Parses a `policy` record (its `type` was already read).
pub(crate) fn parse_policy(bytes: &[u8]) -> Result<Policy, RecordError> {
    let raw: RawPolicy<'_> = serde_json::from_slice(bytes).map_err(|e| err("", json_reason(&e)))?;
    let policy_id =
        text(raw.policy_id, "policyId")?.ok_or_else(|| err("policyId", "is required"))?;
    check_id("policyId", &policy_id)?;
    let customer = text(raw.customer_id, "customerId")?;
    let plan = text(raw.plan_name, "planName")?;
    let scope = match (customer, plan) {
        (Some(_), Some(_)) => {
            return Err(err(
                "planName",
                "a policy applies to a customer or to a plan, not both",
            ));
        }
        (Some(c), None) => {
            check_id("customerId", &c)?;
            Scope::Customer(Arc::from(&*c))
        }
        (None, Some(p)) => {
            if p.is_empty() || p.len() > MAX_NAME_BYTES || p.chars().any(char::is_control) {
                return Err(err(
                    "planName",
                    format!("must be 1 to {MAX_NAME_BYTES} bytes without control characters"),
                ));
            }
            Scope::Plan(Arc::from(&*p))
        }
        (None, None) => Scope::Default,
    };
    let action = match text(raw.action, "action")? {
        None => Action::Block,
        Some(a) => Action::parse(&a).ok_or_else(|| {
            err(
                "action",
                format!(
                    "unknown action \"{}\" (expected block, downgrade or allow)",
                    clip(&a)
                ),
            )
        })?,
    };
    let downgrade_rule = match text(raw.downgrade_rule, "downgradeRule")? {
        None => DowngradeRule::FirstFit,
        Some(r) => DowngradeRule::parse(&r).ok_or_else(|| {
            err(
                "downgradeRule",
                format!("unknown rule \"{}\" (expected first_fit or next)", clip(&r)),
            )
        })?,
    };
    let downgrade = downgrade_map(raw.downgrade)?;
    if action == Action::Downgrade && downgrade.is_empty() {
        return Err(err(
            "downgrade",
            "is required (non-empty) when the action is downgrade",
        ));
    }
    let retired = match present(raw.retired).map(RawValue::get) {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => {
            return Err(err(
                "retired",
                format!("must be true or false (got {})", clip(v)),
            ));
        }
    };
    if retired {
        for (field, v) in [
            ("budget", raw.budget),
            ("minMargin", raw.min_margin),
            ("maxRunCostCents", raw.max_run_cost_cents),
            ("maxAgentCost", raw.max_agent_cost),
            ("action", raw.action),
            ("downgrade", raw.downgrade),
            ("downgradeRule", raw.downgrade_rule),
        ] {
            if present(v).is_some() {
                return Err(err(field, "a retired policy carries no rules"));
            }
        }
    }
    let timestamp_ms = match (present(raw.timestamp), present(raw.ts)) {
        (Some(_), Some(_)) => return Err(err("timestamp", "given twice (as timestamp and as ts)")),
        (Some(v), None) => Some(parse_timestamp(v.get()).map_err(|r| err("timestamp", r))?),
        (None, Some(v)) => Some(parse_timestamp(v.get()).map_err(|r| err("ts", r))?),
        (None, None) => None,
    };
    Ok(Policy {
        policy_id: Arc::from(&*policy_id),
        scope,
        budget: limit(raw.budget, "budget.cents", "budget.period", "budget")?,
        min_margin: min_margin(raw.min_margin)?,
        max_run_cost_cents: amount(raw.max_run_cost_cents, "maxRunCostCents")?,
        max_agent_cost: limit(
            raw.max_agent_cost,
            "maxAgentCost.cents",
            "maxAgentCost.period",
            "maxAgentCost",
        )?,
        action,
        downgrade,
        downgrade_rule,
        timestamp_ms,
        retired,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::days::parse_day;

    #[test]
    fn period_indexes_and_labels() {
        // 2026-01-04 is a Sunday, 2026-01-05 a Monday (ISO week 2 of 2026).
        let sun = parse_day("2026-01-04").unwrap();
        let mon = parse_day("2026-01-05").unwrap();
        assert_eq!(Period::Week.index_of(sun) + 1, Period::Week.index_of(mon));
        assert_eq!(Period::Week.label(Period::Week.index_of(mon)), "2026-W02");
        assert_eq!(Period::Week.label(Period::Week.index_of(sun)), "2026-W01");
        assert_eq!(
            Period::Week.first_day(Period::Week.index_of(sun)),
            Some(sun - 6)
        );
        // 2024-12-30 (Monday) starts ISO week 1 of 2025.
        let d = parse_day("2024-12-31").unwrap();
        assert_eq!(Period::Week.label(Period::Week.index_of(d)), "2025-W01");
        let feb = parse_day("2028-02-29").unwrap();
        let m = Period::Month.index_of(feb);
        assert_eq!(Period::Month.label(m), "2028-02");
        assert_eq!(
            Period::Month.first_day(m),
            Some(parse_day("2028-02-01").unwrap())
        );
        assert_eq!(Period::Month.last_day(m), Some(feb));
        assert_eq!(Period::Day.label(feb), "2028-02-29");
        assert_eq!(Period::All.label(0), "all");
        // 1970-01-01 (Thursday) is in the week starting Monday 1969-12-29.
        assert_eq!(Period::Week.first_day(Period::Week.index_of(0)), Some(-3));
    }
}

#[cfg(test)]
mod calendar_tests {
    use super::*;

    /// The arithmetic calendar agrees with the `time` crate on every day it covers.
    #[test]
    fn fast_month_paths_match_the_calendar() {
        let mut day = 0;
        while day <= FAST_LAST_DAY {
            let d = date_of_day(day).unwrap();
            let want = i64::from(d.year()) * 12 + i64::from(u8::from(d.month())) - 1;
            assert_eq!(month_index(day), want, "day {day}");
            day += if day < 40_000 { 1 } else { 13 };
        }
        for index in FAST_FIRST_MONTH..=FAST_LAST_MONTH {
            let d = time::Date::from_calendar_date(
                (index / 12) as i32,
                time::Month::try_from((index % 12) as u8 + 1).unwrap(),
                1,
            )
            .unwrap();
            assert_eq!(
                Period::Month.first_day(index),
                Some(day_of_date(d)),
                "month {index}"
            );
        }
    }
}
