//! Margin queries (docs/reference/ledger.md (margin queries)): filters, group-bys, exact cents.

use super::Ledger;
use super::book::{Book, CellKey, Map, RunCounts, RunStatus, Sums, TokenTotals, plus};
use super::days::{Day, accrue_monthly, date_of_day, day_of_ms, format_day};
use crate::money::Cents;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// Most days a query may spread subscription revenue over one by one (grouping by day):
/// 100 years.
pub const MAX_QUERY_DAYS: i64 = 36_600;

/// A dimension to filter or group by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    /// `customerId`.
    Customer,
    /// A run: `(customerId, runId)` (grouping by run also groups by customer).
    Run,
    /// `agentId`.
    Agent,
    /// `model` as the events named it.
    Model,
    /// `provider` as the events named it.
    Provider,
    /// UTC day.
    Day,
    /// ISO 8601 week (Monday to Sunday, UTC), labelled `2026-W45`.
    Week,
    /// Calendar month (UTC), labelled `2026-11`.
    Month,
}

impl Dimension {
    /// Every dimension, in the order of [`GroupKey`]'s fields.
    pub const ALL: [Dimension; 8] = [
        Dimension::Customer,
        Dimension::Run,
        Dimension::Agent,
        Dimension::Model,
        Dimension::Provider,
        Dimension::Day,
        Dimension::Week,
        Dimension::Month,
    ];

    /// The dimension's name on the command line and in JSON queries: `customer`, `run`,
    /// `agent`, `model`, `provider`, `day`, `week`, `month`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dimension::Customer => "customer",
            Dimension::Run => "run",
            Dimension::Agent => "agent",
            Dimension::Model => "model",
            Dimension::Provider => "provider",
            Dimension::Day => "day",
            Dimension::Week => "week",
            Dimension::Month => "month",
        }
    }

    /// The dimension named `name` (see [`Dimension::as_str`]).
    ///
    /// ```
    /// use tollgate_engine::ledger::Dimension;
    /// assert_eq!(Dimension::parse("week"), Some(Dimension::Week));
    /// assert_eq!(Dimension::parse("Week"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Dimension> {
        Dimension::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

/// Which money a query covers. Every field is optional; an unset field does not filter.
///
/// Subscription revenue belongs to a customer and a day only: a filter on run, agent, model or
/// provider excludes it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this customer.
    pub customer_id: Option<String>,
    /// Only runs with this id (of any customer unless `customer_id` is set too).
    pub run_id: Option<String>,
    /// Only this agent.
    pub agent_id: Option<String>,
    /// Only this model (as the events named it).
    pub model: Option<String>,
    /// Only this provider.
    pub provider: Option<String>,
    /// First UTC day (inclusive).
    pub from_day: Option<Day>,
    /// Last UTC day (inclusive). Unset: events of any day; subscription revenue through the
    /// ledger clock's day.
    pub to_day: Option<Day>,
    /// Only runs whose current status is this (money outside any run never matches).
    pub outcome: Option<RunStatus>,
}

impl Filter {
    fn attribution_only(&self) -> bool {
        self.run_id.is_some()
            || self.agent_id.is_some()
            || self.model.is_some()
            || self.provider.is_some()
            || self.outcome.is_some()
    }
}

/// A query could not be answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryError {
    /// `from_day` is after `to_day`.
    InvertedWindow,
    /// A sum leaves the exact range of [`Cents`] (absurd plan amounts over absurd windows).
    Overflow,
    /// Grouping subscription revenue by day over more than [`MAX_QUERY_DAYS`] days.
    WindowTooLarge,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QueryError::InvertedWindow => "the window's first day is after its last day",
            QueryError::Overflow => "a sum exceeds the exact range of the engine (1.7e14 cents)",
            QueryError::WindowTooLarge => {
                "grouping by day over more than 100 years; give a smaller window"
            }
        })
    }
}

impl std::error::Error for QueryError {}

/// A margin percentage, rounded half-even to hundredths of a percent (display only; the
/// amounts it comes from are exact).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent {
    /// The percentage × 100 (`7000` = 70.00 %). Saturates beyond ±1.7 × 10^36 %.
    pub hundredths: i128,
}

impl Percent {
    /// `numerator / denominator × 100 %`, rounded half-even to 0.01 %; `None` when the
    /// denominator is not positive.
    pub fn of(numerator: Cents, denominator: Cents) -> Option<Percent> {
        let d = denominator.raw();
        if d <= 0 {
            return None;
        }
        let neg = numerator.is_negative();
        let q = mul_div_half_even(numerator.raw().unsigned_abs(), 10_000, d as u128);
        let q = i128::try_from(q).unwrap_or(i128::MAX);
        Some(Percent {
            hundredths: if neg { -q } else { q },
        })
    }
}

impl fmt::Display for Percent {
    /// `70.00`, `-150.00`, `33.33`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.hundredths.unsigned_abs();
        let sign = if self.hundredths < 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:02}", a / 100, a % 100)
    }
}

/// `round_half_even(a × k / d)` exactly, for `d > 0` and `k ≤ 2^32`; saturates at `u128::MAX`.
fn mul_div_half_even(a: u128, k: u128, d: u128) -> u128 {
    let (q, r) = match a.checked_mul(k) {
        Some(p) => (p / d, p % d),
        None => {
            // 256-bit product (hi, lo), then schoolbook binary division; the remainder stays
            // below d < 2^127, so doubling it never overflows.
            let (ah, al) = (a >> 64, a & u128::from(u64::MAX));
            let (ph, pl) = (ah * k, al * k);
            let (lo, carry) = (ph << 64).overflowing_add(pl);
            let hi = (ph >> 64) + u128::from(carry);
            let mut r: u128 = 0;
            let mut q_hi: u128 = 0;
            let mut q_lo: u128 = 0;
            for i in (0..256).rev() {
                let bit = if i >= 128 {
                    (hi >> (i - 128)) & 1
                } else {
                    (lo >> i) & 1
                };
                r = (r << 1) | bit;
                q_hi = (q_hi << 1) | (q_lo >> 127);
                q_lo <<= 1;
                if r >= d {
                    r -= d;
                    q_lo |= 1;
                }
            }
            if q_hi != 0 {
                return u128::MAX;
            }
            (q_lo, r)
        }
    };
    let twice = r.saturating_mul(2);
    if twice > d || (twice == d && q % 2 == 1) {
        q.saturating_add(1)
    } else {
        q
    }
}

/// `a / n` rounded half-even to the resolution of [`Cents`]; `None` when `n` is 0.
fn div_count(a: Cents, n: u64) -> Option<Cents> {
    if n == 0 {
        return None;
    }
    let q = mul_div_half_even(a.raw().unsigned_abs(), 1, u128::from(n));
    // |q| ≤ |a|, so it fits.
    let q = i128::try_from(q).unwrap_or(i128::MAX);
    Some(Cents::from_raw(if a.is_negative() { -q } else { q }))
}

/// Revenue, cost and counts of one group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Margin {
    /// All revenue: usage + outcome + subscription.
    pub revenue_cents: Cents,
    /// Per-event revenue (`revenueUnitCents × units` or the `usage_based` plan).
    pub usage_revenue_cents: Cents,
    /// Revenue of resolved runs.
    pub outcome_revenue_cents: Cents,
    /// Subscription revenue (monthly fees, seats) accrued over the window's days.
    pub subscription_revenue_cents: Cents,
    /// Cost of the events.
    pub cost_cents: Cents,
    /// Cache and batch savings: what the events' cache-read tokens would have cost as fresh
    /// input, and their batch-tier tokens at the standard tier, minus what they cost. Counted
    /// for events the ledger priced from the rate card (zero for stated provider costs and
    /// for events priced by the caller, [`Ledger::track_priced`](super::Ledger::track_priced)).
    pub cache_savings_cents: Cents,
    /// Accepted events.
    pub events: u64,
    /// Accepted events whose LLM part could not be priced (counted at cost 0).
    pub unpriced_events: u64,
    /// Token totals of the events.
    pub tokens: TokenTotals,
    /// Distinct runs with events or a resolution in the group, by their current status.
    pub runs: RunCounts,
}

impl Margin {
    /// Gross margin: revenue − cost, exact.
    pub fn margin_cents(&self) -> Cents {
        // Both are ≥ 0 and within range, so the difference always fits.
        Cents::from_raw(
            self.revenue_cents
                .raw()
                .saturating_sub(self.cost_cents.raw()),
        )
    }

    /// Margin as a percentage of revenue, `None` when revenue is 0.
    pub fn margin_pct(&self) -> Option<Percent> {
        Percent::of(self.margin_cents(), self.revenue_cents)
    }

    /// Cost per resolved run: the group's whole cost (runs that failed or escalated included)
    /// divided by its resolved runs, rounded half-even to the engine's resolution (10^-24
    /// cent). `None` when no run of the group is resolved.
    ///
    /// ```
    /// use tollgate_engine::ledger::{Margin, RunCounts};
    /// let m = Margin {
    ///     cost_cents: "10".parse().unwrap(),
    ///     runs: RunCounts { resolved: 3, failed: 1, ..RunCounts::default() },
    ///     ..Margin::default()
    /// };
    /// // 10 / 3 = 3.333…, 24 digits, the last rounded half-even.
    /// assert_eq!(m.cost_per_resolved_run().unwrap().to_string(), "3.333333333333333333333333");
    /// ```
    pub fn cost_per_resolved_run(&self) -> Option<Cents> {
        div_count(self.cost_cents, self.runs.resolved)
    }

    /// Revenue per event: the group's revenue (subscriptions included) divided by its events,
    /// rounded half-even to 10^-24 cent. `None` when the group has no event.
    pub fn revenue_per_event(&self) -> Option<Cents> {
        div_count(self.revenue_cents, self.events)
    }

    /// This group's share of `total_cost` as a percentage rounded half-even to 0.01 % (e.g.
    /// the share of cost of a model among all models). `None` when `total_cost` is 0.
    pub fn cost_share_of(&self, total_cost: Cents) -> Option<Percent> {
        Percent::of(self.cost_cents, total_cost)
    }

    pub(crate) fn from_sums(s: &Sums, subscription: Cents, runs: RunCounts) -> Option<Margin> {
        Some(Margin {
            revenue_cents: s
                .usage_revenue
                .checked_add(s.outcome_revenue)?
                .checked_add(subscription)?,
            usage_revenue_cents: s.usage_revenue,
            outcome_revenue_cents: s.outcome_revenue,
            subscription_revenue_cents: subscription,
            cost_cents: s.cost,
            cache_savings_cents: s.savings,
            events: s.events,
            unpriced_events: s.unpriced,
            tokens: s.tokens,
            runs,
        })
    }
}

/// The dimension values of a group. Fields of dimensions not grouped by are `None`; a grouped
/// dimension is also `None` for money that has no value there (subscription revenue has no
/// run, agent, model or provider; resolution revenue has no agent, model or provider).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupKey {
    /// Customer.
    pub customer_id: Option<Arc<str>>,
    /// Run (with `customer_id`).
    pub run_id: Option<Arc<str>>,
    /// Agent.
    pub agent_id: Option<Arc<str>>,
    /// Model.
    pub model: Option<Arc<str>>,
    /// Provider.
    pub provider: Option<Arc<str>>,
    /// UTC day.
    pub day: Option<Day>,
    /// ISO week, as the day of its Monday.
    pub week: Option<Day>,
    /// Calendar month, as the day of its first.
    pub month: Option<Day>,
}

impl GroupKey {
    /// The day as `YYYY-MM-DD`.
    pub fn day_string(&self) -> Option<String> {
        self.day.map(format_day)
    }

    /// The ISO week as `YYYY-Www` (the ISO week-numbering year: 2026-12-28 is in `2026-W53`,
    /// 2027-01-01 too).
    pub fn week_string(&self) -> Option<String> {
        self.week.map(format_week)
    }

    /// The month as `YYYY-MM`.
    pub fn month_string(&self) -> Option<String> {
        self.month.map(|d| format_day(d)[..7].to_string())
    }

    /// The text of one dimension's value (`None`: no value, e.g. the model of subscription
    /// revenue).
    pub fn text(&self, d: Dimension) -> Option<String> {
        let s = |v: &Option<Arc<str>>| v.as_deref().map(str::to_string);
        match d {
            Dimension::Customer => s(&self.customer_id),
            Dimension::Run => s(&self.run_id),
            Dimension::Agent => s(&self.agent_id),
            Dimension::Model => s(&self.model),
            Dimension::Provider => s(&self.provider),
            Dimension::Day => self.day_string(),
            Dimension::Week => self.week_string(),
            Dimension::Month => self.month_string(),
        }
    }
}

/// The Monday of `day`'s ISO week.
pub(crate) fn week_of(day: Day) -> Day {
    // 1970-01-01 was a Thursday: day 0 is weekday 3 counting Monday as 0.
    day - (day + 3).rem_euclid(7)
}

/// The first day of `day`'s month.
pub(crate) fn month_of(day: Day) -> Day {
    match date_of_day(day) {
        Some(d) => day - i64::from(d.day()) + 1,
        None => day,
    }
}

/// `YYYY-Www` of the ISO week starting on Monday `monday`.
fn format_week(monday: Day) -> String {
    // The ISO year and week are those of the week's Thursday.
    match date_of_day(monday + 3) {
        Some(t) => format!("{:04}-W{:02}", t.year(), t.iso_week()),
        None => format!("week of day {monday}"),
    }
}

/// One row of a grouped query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarginRow {
    /// The group.
    pub key: GroupKey,
    /// Its numbers.
    pub margin: Margin,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct IdKey {
    customer: u32,
    run: u32,
    agent: u32,
    model: u32,
    provider: u32,
    day: Option<i64>,
    week: Option<i64>,
    month: Option<i64>,
}

#[derive(Default)]
struct Acc {
    sums: Sums,
    subscription: Option<Cents>,
    runs: HashSet<(u32, u32)>,
}

struct Resolved {
    customer: Option<u32>,
    run: Option<u32>,
    agent: Option<u32>,
    model: Option<u32>,
    provider: Option<u32>,
}

impl Book {
    /// Subscription revenue runs through this day when a query gives no last day.
    pub(crate) fn clock_day(&self, cap_ms: i64) -> Option<Day> {
        self.clock(cap_ms).map(day_of_ms)
    }

    pub(crate) fn status_of(&self, customer: u32, run: u32) -> RunStatus {
        RunStatus::of(
            self.runs
                .get(&(customer, run))
                .and_then(|r| r.resolution.as_ref()),
        )
    }

    /// Runs the query; `None` in the result's id means "no value".
    pub(crate) fn margin(
        &self,
        filter: &Filter,
        dims: &[Dimension],
        cap_ms: i64,
    ) -> Result<Vec<MarginRow>, QueryError> {
        if let (Some(a), Some(b)) = (filter.from_day, filter.to_day)
            && a > b
        {
            return Err(QueryError::InvertedWindow);
        }
        let lookup = |v: &Option<String>| -> Result<Option<u32>, ()> {
            match v {
                None => Ok(None),
                Some(s) => self.names.get(s).map(Some).ok_or(()),
            }
        };
        let ids = match (
            lookup(&filter.customer_id),
            lookup(&filter.run_id),
            lookup(&filter.agent_id),
            lookup(&filter.model),
            lookup(&filter.provider),
        ) {
            (Ok(customer), Ok(run), Ok(agent), Ok(model), Ok(provider)) => Resolved {
                customer,
                run,
                agent,
                model,
                provider,
            },
            // A name the ledger never saw matches nothing.
            _ => return Ok(Vec::new()),
        };
        let has = |d: Dimension| dims.contains(&d);
        let by_run = has(Dimension::Run);
        let by_customer = has(Dimension::Customer) || by_run;
        let project = |k: &CellKey| IdKey {
            customer: if by_customer { k.customer } else { 0 },
            run: if by_run { k.run } else { 0 },
            agent: if has(Dimension::Agent) { k.agent } else { 0 },
            model: if has(Dimension::Model) { k.model } else { 0 },
            provider: if has(Dimension::Provider) {
                k.provider
            } else {
                0
            },
            day: has(Dimension::Day).then_some(i64::from(k.day)),
            week: has(Dimension::Week).then(|| week_of(i64::from(k.day))),
            month: has(Dimension::Month).then(|| month_of(i64::from(k.day))),
        };
        let by_period = has(Dimension::Day) || has(Dimension::Week) || has(Dimension::Month);
        let from = filter.from_day;
        let to = filter.to_day;
        let mut groups: Map<IdKey, Acc> = Map::default();
        for (k, s) in &self.cells {
            let day = i64::from(k.day);
            if ids.customer.is_some_and(|c| c != k.customer)
                || ids.run.is_some_and(|r| r != k.run)
                || ids.agent.is_some_and(|a| a != k.agent)
                || ids.model.is_some_and(|m| m != k.model)
                || ids.provider.is_some_and(|p| p != k.provider)
                || from.is_some_and(|f| day < f)
                || to.is_some_and(|t| day > t)
                || filter
                    .outcome
                    .is_some_and(|o| k.run == 0 || self.status_of(k.customer, k.run) != o)
            {
                continue;
            }
            let acc = groups.entry(project(k)).or_default();
            acc.sums.add(s);
            if k.run != 0 {
                acc.runs.insert((k.customer, k.run));
            }
        }

        // Subscription revenue: by customer and day only.
        let through = to.or_else(|| self.clock_day(cap_ms));
        if !filter.attribution_only()
            && let Some(through) = through
        {
            for (&cid, cust) in &self.customers {
                if ids.customer.is_some_and(|c| c != cid) || cust.versions.is_empty() {
                    continue;
                }
                let base = IdKey {
                    customer: if by_customer { cid } else { 0 },
                    run: 0,
                    agent: 0,
                    model: 0,
                    provider: 0,
                    day: None,
                    week: None,
                    month: None,
                };
                if by_period {
                    let Some(start) = cust.first_day(self.first_day()) else {
                        continue;
                    };
                    let first = from.map_or(start, |f| f.max(start));
                    if through.saturating_sub(first) > MAX_QUERY_DAYS {
                        return Err(QueryError::WindowTooLarge);
                    }
                    for d in first..=through {
                        let amount = accrue_monthly(cust.monthly_on(d, self.first_day()), d, d)
                            .ok_or(QueryError::Overflow)?;
                        if amount.is_zero() {
                            continue;
                        }
                        add_subscription(
                            groups
                                .entry(IdKey {
                                    day: has(Dimension::Day).then_some(d),
                                    week: has(Dimension::Week).then(|| week_of(d)),
                                    month: has(Dimension::Month).then(|| month_of(d)),
                                    ..base
                                })
                                .or_default(),
                            amount,
                        )?;
                    }
                } else {
                    let amount = cust
                        .subscription(from, through, self.first_day())
                        .ok_or(QueryError::Overflow)?;
                    if !amount.is_zero() {
                        add_subscription(groups.entry(base).or_default(), amount)?;
                    }
                }
            }
        }

        let mut rows = Vec::with_capacity(groups.len());
        for (k, acc) in groups {
            let mut runs = RunCounts::default();
            for (c, r) in &acc.runs {
                runs.count(self.status_of(*c, *r));
            }
            let margin =
                Margin::from_sums(&acc.sums, acc.subscription.unwrap_or(Cents::ZERO), runs)
                    .ok_or(QueryError::Overflow)?;
            rows.push(MarginRow {
                key: GroupKey {
                    customer_id: self.names.opt(k.customer),
                    run_id: self.names.opt(k.run),
                    agent_id: self.names.opt(k.agent),
                    model: self.names.opt(k.model),
                    provider: self.names.opt(k.provider),
                    day: k.day,
                    week: k.week,
                    month: k.month,
                },
                margin,
            });
        }
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(rows)
    }

    /// A customer's margin over all time, subscription through the ledger clock's day. O(1)
    /// in the number of events, runs and customers.
    pub(crate) fn customer_margin(
        &self,
        customer: &str,
        cap_ms: i64,
    ) -> Option<Result<Margin, QueryError>> {
        let c = self.customers.get(&self.names.get(customer)?)?;
        let subscription = match self.clock_day(cap_ms) {
            None => Some(Cents::ZERO),
            Some(d) => c.subscription(None, d, self.first_day()),
        };
        Some(
            subscription
                .and_then(|s| Margin::from_sums(&c.sums, s, c.runs))
                .ok_or(QueryError::Overflow),
        )
    }
}

fn add_subscription(acc: &mut Acc, amount: Cents) -> Result<(), QueryError> {
    let total = acc
        .subscription
        .unwrap_or(Cents::ZERO)
        .checked_add(amount)
        .ok_or(QueryError::Overflow)?;
    // Keep usage + outcome + subscription in range as well.
    plus(acc.sums.usage_revenue, acc.sums.outcome_revenue)
        .checked_add(total)
        .ok_or(QueryError::Overflow)?;
    acc.subscription = Some(total);
    Ok(())
}

impl Ledger {
    /// Revenue, cost and margin of everything matching `filter`, grouped by `group_by` (empty:
    /// one row of totals, or no row when nothing matches). Rows are sorted by their key.
    ///
    /// ```
    /// use tollgate_engine::ledger::{Dimension, Filter, Ledger};
    /// let ledger = Ledger::default();
    /// assert!(ledger.margin(&Filter::default(), &[Dimension::Customer]).unwrap().is_empty());
    /// ```
    pub fn margin(
        &self,
        filter: &Filter,
        group_by: &[Dimension],
    ) -> Result<Vec<MarginRow>, QueryError> {
        let cap = self.clock_cap_ms();
        self.read().margin(filter, group_by, cap)
    }

    /// Totals of everything matching `filter` (zero when nothing matches).
    pub fn totals(&self, filter: &Filter) -> Result<Margin, QueryError> {
        Ok(self
            .margin(filter, &[])?
            .pop()
            .map(|r| r.margin)
            .unwrap_or_default())
    }

    /// A customer's current margin in O(1): all of its events and resolutions, plus its
    /// subscription revenue through the ledger clock's day. `None` for an unknown customer.
    /// Meant for a request path (e.g. stop serving a customer whose margin went negative).
    pub fn customer_margin(&self, customer_id: &str) -> Option<Result<Margin, QueryError>> {
        let cap = self.clock_cap_ms();
        self.read().customer_margin(customer_id, cap)
    }

    /// A run's current margin in O(1): all of its events and its resolution (subscription
    /// revenue belongs to customers, not runs). `runs` counts the run itself by its status.
    /// `None` for an unknown run.
    pub fn run_margin(&self, customer_id: &str, run_id: &str) -> Option<Margin> {
        let b = self.read();
        let run = b
            .runs
            .get(&(b.names.get(customer_id)?, b.names.get(run_id)?))?;
        let mut runs = RunCounts::default();
        runs.count(RunStatus::of(run.resolution.as_ref()));
        // Within range: the run's sums are bounded by the checked global totals.
        Margin::from_sums(&run.sums, Cents::ZERO, runs)
    }

    /// The status of a run, `None` when the ledger has not seen it.
    pub fn run_status(&self, customer_id: &str, run_id: &str) -> Option<RunStatus> {
        let b = self.read();
        let key = (b.names.get(customer_id)?, b.names.get(run_id)?);
        b.runs
            .get(&key)
            .map(|r| RunStatus::of(r.resolution.as_ref()))
    }

    /// A customer's latest terms (the version with the latest effective time: name, seats,
    /// plan, and that time as `timestamp_ms`), `None` for a customer never upserted. A caller
    /// that changes one term re-sends the others from here (the HTTP server's partial
    /// `upsert_customer`).
    ///
    /// ```
    /// use tollgate_engine::ledger::{Ledger, record::Record};
    /// let ledger = Ledger::default();
    /// let Record::Customer(c) = Record::from_json(br#"{"type":"customer","customerId":"acme","seats":3,
    ///     "plan":{"name":"Pro","pricingModel":"per_seat","seatPriceCents":100},"ts":"2026-01-01T00:00:00Z"}"#).unwrap() else { unreachable!() };
    /// ledger.upsert_customer(&c);
    /// let t = ledger.customer_terms("acme").unwrap();
    /// assert_eq!((t.seats, t.plan.unwrap().name.as_deref()), (3, Some("Pro")));
    /// assert!(ledger.customer_terms("nobody").is_none());
    /// ```
    pub fn customer_terms(&self, customer_id: &str) -> Option<super::record::CustomerUpsert> {
        let b = self.read();
        let v = b
            .customers
            .get(&b.names.get(customer_id)?)?
            .versions
            .last()?;
        Some(super::record::CustomerUpsert {
            customer_id: customer_id.to_string(),
            name: v.name.as_deref().map(str::to_string),
            seats: v.seats,
            plan: v.plan.clone(),
            timestamp_ms: Some(v.effective_ms),
        })
    }

    /// The plan named `name` with the latest effective time among every customer's versions
    /// (a plan referred to by name, as the HTTP server's `planId`), `None` if no customer ever
    /// had a plan of that name.
    pub fn plan_named(&self, name: &str) -> Option<super::record::Plan> {
        let b = self.read();
        b.customers
            .values()
            .flat_map(|c| c.versions.iter())
            .filter(|v| v.plan.as_ref().and_then(|p| p.name.as_deref()) == Some(name))
            .max_by_key(|v| v.effective_ms)
            .and_then(|v| v.plan.clone())
    }
}
