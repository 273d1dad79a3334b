//! Guardrail decisions: `allow()` before a call, reservations while it runs, breaches after.
//!
//! Map of the parts: [`super::policy`] is what a policy says (parsing, validation, periods);
//! this module is what the ledger keeps for it — running sums per period (O(1) to read and to
//! update: the current day, ISO week and month of every customer and agent are kept inline,
//! older periods in a map; no query ever scans days), the policies in force, reservations — and
//! the decision itself.
//!
//! # The decision
//! [`Ledger::allow`] finds the policy in force for the customer (its own, else its plan's,
//! else the default) and checks its rules in a fixed order — maximum cost per run, maximum cost
//! per agent per period, the budget, the minimum margin — against the booked sums plus the
//! amounts reserved by calls in flight. The first rule broken decides; the policy's action
//! turns it into `block`, `downgrade` (a cheaper model from the downgrade map whose estimate
//! passes every rule, else `block`) or a flagged `allow`.
//!
//! A limit `L` with booked cost `C` and reservations `R` leaves `L − C − R`. A call with an
//! estimate `e` fits when `e ≤ L − C − R` (so a budget may be used up exactly); a call without
//! an estimate (its cost is unknown) fits while `L − C − R > 0`.
//!
//! # Concurrency guarantee
//! `allow` reads a consistent cut of the ledger (between whole records). Calls allowed at the
//! same time each see the same remaining budget, so **without reservations a limit is exceeded
//! by at most the cost of the calls allowed but not yet tracked** (the calls in flight).
//! [`Ledger::allow_and_reserve`] decides and reserves under one write lock, so every later
//! decision sees the reservation: **with reservations a limit is exceeded by at most the sum,
//! over calls in flight, of what each call cost beyond its reservation** — zero when estimates
//! are upper bounds. [`Ledger::settle`] tracks the real usage, then releases the reservation
//! (between the two, the call is counted twice: the error is on the safe side).

use super::book::{Book, Customer, Map, plus};
use super::days::{Day, day_of_ms};
use super::policy::{Action, DowngradeRule, Limit, Period, Policy, Scope};
use super::query::Percent;
use super::record::{RecordError, check_id};
use super::{Accepted, Clock, IngestResult, Ledger, RejectKind, Rejection};
use crate::engine::{Engine, PriceInput};
use crate::event::{Event, EventKind, MAX_NAME_BYTES, MAX_TIMESTAMP_MS};
use crate::money::Cents;
use crate::usage::Usage;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

/// Default lifetime of a reservation: 10 minutes.
pub const DEFAULT_RESERVATION_TTL_MS: u64 = 10 * 60 * 1000;
/// Longest lifetime of a reservation: 24 hours.
pub const MAX_RESERVATION_TTL_MS: u64 = 24 * 60 * 60 * 1000;
/// Most reservations held at once by one ledger.
pub const MAX_RESERVATIONS: usize = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Running sums per period
// ---------------------------------------------------------------------------------------------

/// Cost, revenue (usage + outcome; subscription revenue is computed from the plan) and events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flow {
    pub cost: Cents,
    pub revenue: Cents,
    pub events: u64,
}

impl Flow {
    #[inline]
    fn add(&mut self, o: &Flow) {
        self.cost = plus(self.cost, o.cost);
        self.revenue = plus(self.revenue, o.revenue);
        self.events = self.events.wrapping_add(o.events);
    }
}

/// The periods kept per customer and agent.
const KINDS: [Period; 3] = [Period::Day, Period::Week, Period::Month];

/// Running sums of the current day, ISO week and month (the periods of the latest day seen),
/// and of earlier periods in a map (events may arrive out of order). Period indexes grow with
/// the day, so the three current buckets always belong to the same latest day.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeriodSums {
    /// Whether `idx`/`cur` hold anything yet.
    has: bool,
    /// Indexes of the current day, week and month.
    idx: [i64; 3],
    cur: [Flow; 3],
    past: Map<(u8, i64), Flow>,
}

impl PeriodSums {
    /// Adds `f` to the periods holding `day`. O(1): the common case (the latest day) adds to
    /// three inline buckets.
    #[inline]
    pub fn add(&mut self, day: Day, f: &Flow) {
        if self.has && day == self.idx[0] {
            for c in &mut self.cur {
                c.add(f);
            }
            return;
        }
        self.add_slow(day, f);
    }

    fn add_slow(&mut self, day: Day, f: &Flow) {
        let newer = !self.has || day > self.idx[0];
        for (k, kind) in KINDS.iter().enumerate() {
            let i = kind.index_of(day);
            if self.has && i == self.idx[k] {
                self.cur[k].add(f);
            } else if newer {
                if self.has {
                    let old = self.cur[k];
                    self.past
                        .entry((k as u8, self.idx[k]))
                        .or_default()
                        .add(&old);
                }
                self.idx[k] = i;
                self.cur[k] = *f;
            } else {
                self.past.entry((k as u8, i)).or_default().add(f);
            }
        }
        self.has = true;
    }

    /// The sums of the period `index` of `kind` (not `All`). O(1).
    #[inline]
    pub fn get(&self, kind: Period, index: i64) -> Flow {
        let k = match kind {
            Period::Day => 0,
            Period::Week => 1,
            Period::Month => 2,
            Period::All => return Flow::default(),
        };
        if self.has && self.idx[k] == index {
            return self.cur[k];
        }
        self.past
            .get(&(k as u8, index))
            .copied()
            .unwrap_or_default()
    }

    /// Every period of `kind` with sums, in index order (for reports).
    pub fn all(&self, kind: Period) -> Vec<(i64, Flow)> {
        let Some(k) = KINDS.iter().position(|p| *p == kind) else {
            return Vec::new();
        };
        let mut v: Vec<(i64, Flow)> = self
            .past
            .iter()
            .filter(|((kk, _), _)| usize::from(*kk) == k)
            .map(|((_, i), f)| (*i, *f))
            .collect();
        if self.has {
            v.push((self.idx[k], self.cur[k]));
        }
        v.sort_by_key(|(i, _)| *i);
        v
    }
}

/// One agent's sums within a customer.
#[derive(Clone, Debug, Default)]
pub(crate) struct AgentSums {
    pub all: Flow,
    pub periods: PeriodSums,
}

impl AgentSums {
    /// The sums of the period `index` of `kind` (all time for [`Period::All`]).
    fn in_period(&self, kind: Period, index: i64) -> Flow {
        match kind {
            Period::All => self.all,
            _ => self.periods.get(kind, index),
        }
    }
}

/// Books `f` (dated `day`) into the customer's period sums and its agent's.
#[inline]
pub(crate) fn book_flow(c: &mut Customer, agent: u32, day: Day, f: &Flow) {
    c.periods.add(day, f);
    if agent != 0 {
        let a = c.agents.entry(agent).or_default();
        a.all.add(f);
        a.periods.add(day, f);
    }
}

// ---------------------------------------------------------------------------------------------
// Policies in force
// ---------------------------------------------------------------------------------------------

/// One version of a policy, in force from `effective_ms` (its `timestamp_ms` is set to it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PolicyVersion {
    pub effective_ms: i64,
    pub policy: Arc<Policy>,
}

/// The policies the ledger holds, by scope; each list sorted by `effective_ms` (among equal
/// instants, arrival order).
#[derive(Clone, Debug, Default)]
pub(crate) struct PolicyBook {
    pub customer: Map<u32, Vec<PolicyVersion>>,
    pub plan: Map<Arc<str>, Vec<PolicyVersion>>,
    pub default: Vec<PolicyVersion>,
}

/// The version of one scope in force at `ts`, retirements included.
fn version_in_force(versions: &[PolicyVersion], ts: i64) -> Option<&Arc<Policy>> {
    let i = versions.partition_point(|v| v.effective_ms <= ts);
    i.checked_sub(1).map(|i| &versions[i].policy)
}

/// The policy of one scope in force at `ts` (`None` when it has none or it was retired).
fn in_force(versions: &[PolicyVersion], ts: i64) -> Option<&Arc<Policy>> {
    version_in_force(versions, ts).filter(|p| !p.retired)
}

impl PolicyBook {
    pub fn is_empty(&self) -> bool {
        self.customer.is_empty() && self.plan.is_empty() && self.default.is_empty()
    }

    /// Every version, in a canonical order: default, plans by name, customers by name.
    pub fn versions(&self, names: &super::book::Names) -> Vec<&PolicyVersion> {
        let mut out: Vec<&PolicyVersion> = self.default.iter().collect();
        let mut plans: Vec<_> = self.plan.iter().collect();
        plans.sort_by(|a, b| a.0.cmp(b.0));
        out.extend(plans.into_iter().flat_map(|(_, v)| v.iter()));
        let mut customers: Vec<_> = self.customer.iter().collect();
        customers.sort_by(|a, b| names.name(*a.0).cmp(names.name(*b.0)));
        out.extend(customers.into_iter().flat_map(|(_, v)| v.iter()));
        out
    }
}

impl Book {
    /// The policy in force for a customer at `ts`: its own, else its plan's, else the default.
    fn policy_for(&self, customer: Option<u32>, ts: i64) -> Option<&Arc<Policy>> {
        if self.policies.is_empty() {
            return None;
        }
        if let Some(id) = customer {
            if let Some(p) = self
                .policies
                .customer
                .get(&id)
                .and_then(|v| in_force(v, ts))
            {
                return Some(p);
            }
            if !self.policies.plan.is_empty()
                && let Some(name) = self
                    .customers
                    .get(&id)
                    .and_then(|c| c.version_at(ts))
                    .and_then(|v| v.plan.as_ref())
                    .and_then(|p| p.name.as_deref())
                && let Some(p) = self.policies.plan.get(name).and_then(|v| in_force(v, ts))
            {
                return Some(p);
            }
        }
        in_force(&self.policies.default, ts)
    }

    /// Appends a saved policy version (restore): versions arrive in canonical order.
    pub(crate) fn restore_policy(&mut self, p: Policy) -> Result<(), &'static str> {
        let ts = p
            .timestamp_ms
            .ok_or("a saved policy without its timestamp")?;
        let list = match &p.scope {
            Scope::Customer(c) => {
                let id = self.names.intern(c);
                self.policies.customer.entry(id).or_default()
            }
            Scope::Plan(name) => self.policies.plan.entry(name.clone()).or_default(),
            Scope::Default => &mut self.policies.default,
        };
        if list.last().is_some_and(|v| v.effective_ms > ts) {
            return Err("policy versions are not in time order");
        }
        list.push(PolicyVersion {
            effective_ms: ts,
            policy: Arc::new(p),
        });
        Ok(())
    }

    /// Applies a policy upsert. Without a timestamp it takes effect at the ledger clock (from
    /// the beginning before any activity). The same terms as the version in force → duplicate.
    pub(crate) fn apply_policy(&mut self, p: &Policy, cap_ms: i64) -> IngestResult {
        let ts = p.timestamp_ms.or_else(|| self.clock(cap_ms)).unwrap_or(0);
        let version = PolicyVersion {
            effective_ms: ts,
            policy: Arc::new(Policy {
                timestamp_ms: Some(ts),
                ..p.clone()
            }),
        };
        let list = match &p.scope {
            Scope::Customer(c) => {
                let id = self.names.intern(c);
                self.policies.customer.entry(id).or_default()
            }
            Scope::Plan(name) => self.policies.plan.entry(name.clone()).or_default(),
            Scope::Default => &mut self.policies.default,
        };
        // Retiring a scope that has no policy in force changes nothing.
        if version_in_force(list, ts).map_or(p.retired, |cur| {
            cur.same_terms(p) || (cur.retired && p.retired)
        }) {
            return IngestResult::Duplicate;
        }
        let at = list.partition_point(|v| v.effective_ms <= ts);
        list.insert(at, version);
        IngestResult::Accepted(Accepted {
            cost_cents: Cents::ZERO,
            revenue_cents: Cents::ZERO,
            snapshot: None,
            priced: true,
            reason: None,
            warnings: Vec::new(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Reservations
// ---------------------------------------------------------------------------------------------

/// The id of a reservation (unique within one ledger's lifetime).
pub type ReservationId = u64;

#[derive(Clone, Debug)]
struct Reservation {
    customer: Arc<str>,
    agent: Option<Arc<str>>,
    run: Option<Arc<str>>,
    cents: Cents,
    expires_ms: i64,
}

/// Amounts held by a customer's reservations: in total, per agent, per run (with counts so an
/// entry leaves when its last reservation does).
#[derive(Clone, Debug, Default)]
pub(crate) struct Held {
    total: Cents,
    count: u64,
    agents: Map<Arc<str>, (Cents, u64)>,
    runs: Map<Arc<str>, (Cents, u64)>,
}

fn hold(m: &mut Map<Arc<str>, (Cents, u64)>, k: &Arc<str>, c: Cents) {
    let e = m.entry(k.clone()).or_default();
    e.0 = plus(e.0, c);
    e.1 += 1;
}

fn unhold(m: &mut Map<Arc<str>, (Cents, u64)>, k: &str, c: Cents) {
    if let Some(e) = m.get_mut(k) {
        e.0 = Cents::from_raw(e.0.raw() - c.raw());
        e.1 -= 1;
        if e.1 == 0 {
            m.remove(k);
        }
    }
}

/// Reservations not yet settled, released or expired. Not part of the saved state: they
/// describe calls in flight in this process.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reservations {
    next_id: u64,
    by_id: Map<u64, Reservation>,
    expiry: BTreeSet<(i64, u64)>,
    held: Map<Arc<str>, Held>,
    /// Sum of every reservation (bounds each partial sum, so those never overflow).
    total: Cents,
}

impl Reservations {
    /// Whether a reservation expired at or before `now_ms` is still held.
    #[inline]
    fn needs_purge(&self, now_ms: i64) -> bool {
        self.expiry.first().is_some_and(|(t, _)| *t <= now_ms)
    }

    fn purge(&mut self, now_ms: i64) {
        while let Some(&(t, id)) = self.expiry.first() {
            if t > now_ms {
                break;
            }
            self.remove(id);
        }
    }

    fn insert(&mut self, r: Reservation) -> Option<ReservationId> {
        if self.by_id.len() >= MAX_RESERVATIONS {
            return None;
        }
        let total = self.total.checked_add(r.cents)?;
        self.total = total;
        self.next_id += 1;
        let id = self.next_id;
        let h = self.held.entry(r.customer.clone()).or_default();
        h.total = plus(h.total, r.cents);
        h.count += 1;
        if let Some(a) = &r.agent {
            hold(&mut h.agents, a, r.cents);
        }
        if let Some(run) = &r.run {
            hold(&mut h.runs, run, r.cents);
        }
        self.expiry.insert((r.expires_ms, id));
        self.by_id.insert(id, r);
        Some(id)
    }

    fn remove(&mut self, id: ReservationId) -> Option<Reservation> {
        let r = self.by_id.remove(&id)?;
        self.expiry.remove(&(r.expires_ms, id));
        self.total = Cents::from_raw(self.total.raw() - r.cents.raw());
        if let Some(h) = self.held.get_mut(&*r.customer) {
            h.total = Cents::from_raw(h.total.raw() - r.cents.raw());
            h.count -= 1;
            if let Some(a) = &r.agent {
                unhold(&mut h.agents, a, r.cents);
            }
            if let Some(run) = &r.run {
                unhold(&mut h.runs, run, r.cents);
            }
            if h.count == 0 {
                self.held.remove(&*r.customer);
            }
        }
        Some(r)
    }

    #[inline]
    fn held(&self, customer: &str) -> Option<&Held> {
        if self.by_id.is_empty() {
            None
        } else {
            self.held.get(customer)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The decision
// ---------------------------------------------------------------------------------------------

/// What a call is expected to cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Estimate<'a> {
    /// An amount in cents.
    Cents(Cents),
    /// Expected usage of a model, priced by the engine (the rate card in force at the
    /// decision time).
    Usage {
        /// Provider, if known (helps the model lookup).
        provider: Option<&'a str>,
        /// Model name as the provider knows it.
        model: &'a str,
        /// Expected token counts.
        usage: &'a Usage,
    },
}

/// The question `allow` answers: may this customer make this call now?
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AllowRequest<'a> {
    /// The customer (required).
    pub customer_id: &'a str,
    /// The agent making the call (for the per-agent cap).
    pub agent_id: Option<&'a str>,
    /// The model the call would use (for a downgrade); defaults to the usage estimate's model.
    pub model: Option<&'a str>,
    /// The run the call belongs to (for the per-run cap).
    pub run_id: Option<&'a str>,
    /// What the call is expected to cost; `None` = unknown.
    pub estimate: Option<Estimate<'a>>,
    /// The decision time (epoch ms; selects the periods, the policy and plan in force, and
    /// expires reservations); `None` = now (under [`Clock::Log`]: the ledger clock).
    pub at_ms: Option<i64>,
}

impl<'a> AllowRequest<'a> {
    /// A request for `customer_id` with nothing else known.
    pub fn new(customer_id: &'a str) -> AllowRequest<'a> {
        AllowRequest {
            customer_id,
            agent_id: None,
            model: None,
            run_id: None,
            estimate: None,
            at_ms: None,
        }
    }
}

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Go ahead (possibly flagged: see [`Decision::flagged`]).
    Allow,
    /// Go ahead with [`Decision::suggested_model`] instead.
    Downgrade,
    /// Do not make the call.
    Block,
}

impl Verdict {
    /// Wire name (`allow`, `downgrade`, `block`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Downgrade => "downgrade",
            Verdict::Block => "block",
        }
    }
}

/// Why: `ok`, or the rule that was (or would be) broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Every rule of the policy passes.
    Ok,
    /// No policy applies to the customer.
    NoPolicy,
    /// The call would exceed the maximum cost of its run.
    MaxRunCost,
    /// The call would exceed the agent's maximum cost for the period.
    MaxAgentCost,
    /// The call would exceed the customer's budget for the period.
    Budget,
    /// The period's margin is (or would fall) below the minimum.
    MinMargin,
}

impl Reason {
    /// Wire name: `ok`, `no_policy`, `max_run_cost`, `max_agent_cost`, `budget_exceeded`,
    /// `min_margin`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::NoPolicy => "no_policy",
            Reason::MaxRunCost => "max_run_cost",
            Reason::MaxAgentCost => "max_agent_cost",
            Reason::Budget => "budget_exceeded",
            Reason::MinMargin => "min_margin",
        }
    }
}

/// A period of a rule: its kind and index (see [`Period::index_of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeriodRef {
    /// Day, week, month or all time.
    pub period: Period,
    /// Which one.
    pub index: i64,
}

impl PeriodRef {
    /// `2026-01-05`, `2026-W02`, `2026-01` or `all`.
    pub fn label(&self) -> String {
        self.period.label(self.index)
    }
}

/// The decision `allow` returns. Figures are exact; they describe the scope of the rule that
/// decided (the run for `max_run_cost`, the agent's period for `max_agent_cost`, else the
/// customer's period: the budget's, else the minimum margin's, else all time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allow, downgrade or block.
    pub verdict: Verdict,
    /// Why.
    pub reason: Reason,
    /// `allow` despite a breach (the policy's action is `allow`).
    pub flagged: bool,
    /// The policy that decided (`None` without a policy).
    pub policy_id: Option<Arc<str>>,
    /// The period of the figures; `None` for a run (`max_run_cost`) or without a policy.
    pub period: Option<PeriodRef>,
    /// The cheaper model to use on `downgrade`.
    pub suggested_model: Option<Arc<str>>,
    /// Booked cost of the scope (reservations not included).
    pub cost_cents: Cents,
    /// Revenue of the scope (usage + outcome + subscription accrued through the decision day;
    /// agents and runs have no subscription revenue).
    pub revenue_cents: Cents,
    /// Margin of the scope as a percentage of revenue (`None` when revenue is 0).
    pub margin_pct: Option<Percent>,
    /// Budget left for the period, net of booked cost and reservations, before this call
    /// (`None` without a budget rule). May be negative.
    pub remaining_budget_cents: Option<Cents>,
    /// The estimate as priced (of the suggested model on a downgrade); `None` when unknown.
    pub estimate_cents: Option<Cents>,
    /// The reservation made for this call (by [`Ledger::allow_and_reserve`]).
    pub reservation: Option<ReservationId>,
}

impl Decision {
    /// The decision as a JSON object in the product SDK's shape (camelCase keys, amounts as
    /// exact decimal strings, `marginPct` a string with two decimals or null).
    pub fn to_json(&self) -> String {
        fn opt(s: Option<String>) -> String {
            match s {
                Some(s) => serde_json::to_string(&s).unwrap_or_else(|_| "null".into()),
                None => "null".into(),
            }
        }
        let period = match (self.period, self.policy_id.is_some(), self.reason) {
            (Some(p), _, _) => Some(p.label()),
            (None, true, Reason::MaxRunCost) => Some("run".to_string()),
            _ => None,
        };
        format!(
            "{{\"decision\":\"{}\",\"reason\":\"{}\",\"flagged\":{},\"policyId\":{},\"period\":{},\"suggestedModel\":{},\"costCents\":\"{}\",\"revenueCents\":\"{}\",\"marginPct\":{},\"remainingBudgetCents\":{},\"estimateCents\":{},\"reservationId\":{}}}",
            self.verdict.as_str(),
            self.reason.as_str(),
            self.flagged,
            opt(self.policy_id.as_deref().map(str::to_string)),
            opt(period),
            opt(self.suggested_model.as_deref().map(str::to_string)),
            self.cost_cents,
            self.revenue_cents,
            opt(self.margin_pct.map(|p| p.to_string())),
            opt(self.remaining_budget_cents.map(|c| c.to_string())),
            opt(self.estimate_cents.map(|c| c.to_string())),
            self.reservation
                .map_or_else(|| "null".to_string(), |r| r.to_string()),
        )
    }
}

/// `a × k ≥ b × p` exactly (256-bit products), for `k, p` within ±2^63.
#[inline]
fn ge_scaled(a: i128, k: i64, b: i128, p: i64) -> bool {
    // Factors below 2^113 and 2^14 (a cent is 10^24: amounts up to ~10^10 cents, percentages
    // in hundredths up to ±163.84 %) give products below 2^127: compared directly in i128,
    // without overflow checks; the 256-bit products only past that.
    if (a.unsigned_abs() | b.unsigned_abs()) >> 113 == 0
        && (k.unsigned_abs() | p.unsigned_abs()) >> 14 == 0
    {
        return a * i128::from(k) >= b * i128::from(p);
    }
    ge_scaled_wide(a, k, b, p)
}

/// [`ge_scaled`] for products past ±2^127.
fn ge_scaled_wide(a: i128, k: i64, b: i128, p: i64) -> bool {
    fn wide(x: i128, y: i64) -> (bool, u128, u128) {
        let neg = (x < 0) != (y < 0);
        let (m, n) = (x.unsigned_abs(), u128::from(y.unsigned_abs()));
        let (mh, ml) = (m >> 64, m & u128::from(u64::MAX));
        let (ph, pl) = (mh * n, ml * n);
        let (lo, carry) = (ph << 64).overflowing_add(pl);
        let hi = (ph >> 64) + u128::from(carry);
        (neg && (hi | lo) != 0, hi, lo)
    }
    let (ln, lh, ll) = wide(a, k);
    let (rn, rh, rl) = wide(b, p);
    match (ln, rn) {
        (false, true) => true,
        (true, false) => false,
        (false, false) => (lh, ll) >= (rh, rl),
        (true, true) => (lh, ll) <= (rh, rl),
    }
}

/// Whether `revenue − cost` is at least `pct_hundredths` % of `revenue`. With no revenue the
/// margin is undefined: it passes only while nothing was spent.
fn margin_ok(revenue: Cents, cost: Cents, pct_hundredths: i64) -> bool {
    if revenue.raw() <= 0 {
        return cost.raw() <= 0;
    }
    let Some(m) = revenue.raw().checked_sub(cost.raw()) else {
        return false;
    };
    ge_scaled(m, 10_000, revenue.raw(), pct_hundredths)
}

/// `limit − spent − held`, saturating (amounts are bounded far inside the range).
fn left(limit: Cents, spent: Cents, held: Cents) -> Cents {
    Cents::from_raw(
        limit
            .raw()
            .saturating_sub(spent.raw())
            .saturating_sub(held.raw()),
    )
}

/// Whether a call costing `estimate` (`None` = unknown) fits in `remaining`.
fn fits(remaining: Cents, estimate: Option<Cents>) -> bool {
    match estimate {
        Some(e) => e <= remaining,
        None => remaining.raw() > 0,
    }
}

/// Everything one decision reads, looked up once.
struct View<'a> {
    book: &'a Book,
    policy: &'a Policy,
    customer_id: Option<u32>,
    customer: Option<&'a Customer>,
    held: Option<&'a Held>,
    agent: Option<&'a str>,
    run: Option<&'a str>,
    day: Day,
    /// Indexes of the decision day's day, ISO week and month (computed once per decision).
    idx: [i64; 3],
    /// The customer's sums over the budget's period and over the minimum margin's, read once
    /// per decision (zero without the rule): the rules, the figures and the remaining budget
    /// all read them from here.
    budget_flow: Flow,
    margin_flow: Flow,
}

/// What the scope of a rule shows.
struct Figures {
    period: Option<PeriodRef>,
    cost: Cents,
    revenue: Cents,
}

impl View<'_> {
    fn held_total(&self) -> Cents {
        self.held.map_or(Cents::ZERO, |h| h.total)
    }

    /// The index of the period of `kind` holding the decision day.
    #[inline]
    fn index(&self, kind: Period) -> i64 {
        match kind {
            Period::Day => self.idx[0],
            Period::Week => self.idx[1],
            Period::Month => self.idx[2],
            Period::All => 0,
        }
    }

    /// Reads the budget's and the margin's flows (once per decision; the same period once).
    fn read_rule_flows(&mut self) {
        if let Some(b) = self.policy.budget {
            self.budget_flow = self.read_customer_period(b.period);
        }
        if let Some(m) = self.policy.min_margin {
            self.margin_flow = match self.policy.budget {
                Some(b) if b.period == m.period => self.budget_flow,
                _ => self.read_customer_period(m.period),
            };
        }
    }

    /// The customer's cost, revenue (with subscription) and events over `kind` up to `day`.
    fn customer_period(&self, kind: Period) -> Flow {
        match (self.policy.budget, self.policy.min_margin) {
            (Some(b), _) if b.period == kind => self.budget_flow,
            (_, Some(m)) if m.period == kind => self.margin_flow,
            _ => self.read_customer_period(kind),
        }
    }

    fn read_customer_period(&self, kind: Period) -> Flow {
        let Some(c) = self.customer else {
            return Flow::default();
        };
        let (mut f, from) = match kind {
            Period::All => (
                Flow {
                    cost: c.sums.cost,
                    revenue: plus(c.sums.usage_revenue, c.sums.outcome_revenue),
                    events: c.sums.events,
                },
                None,
            ),
            _ => {
                let i = self.index(kind);
                (c.periods.get(kind, i), Some(i))
            }
        };
        if !c.versions.is_empty() {
            // Only subscriptions need the period's first day.
            let from = from.and_then(|i| kind.first_day(i));
            let sub = c
                .subscription(from, self.day, self.book.first_day())
                .unwrap_or(Cents::ZERO);
            f.revenue = plus(f.revenue, sub);
        }
        f
    }

    fn run_cost(&self) -> (Cents, Cents, Cents) {
        let spent = match (
            self.customer_id,
            self.run.and_then(|r| self.book.names.peek(r)),
        ) {
            (Some(c), Some(r)) => {
                self.book
                    .runs
                    .get(&(c, r))
                    .map_or((Cents::ZERO, Cents::ZERO), |r| {
                        (
                            r.sums.cost,
                            plus(r.sums.usage_revenue, r.sums.outcome_revenue),
                        )
                    })
            }
            _ => (Cents::ZERO, Cents::ZERO),
        };
        let held = match (self.held, self.run) {
            (Some(h), Some(r)) => h.runs.get(r).map_or(Cents::ZERO, |x| x.0),
            _ => Cents::ZERO,
        };
        (spent.0, spent.1, held)
    }

    fn agent_flow(&self, kind: Period) -> (Flow, Cents) {
        let flow = match (
            self.customer,
            self.agent.and_then(|a| self.book.names.peek(a)),
        ) {
            (Some(c), Some(a)) => c
                .agents
                .get(&a)
                .map_or(Flow::default(), |s| s.in_period(kind, self.index(kind))),
            _ => Flow::default(),
        };
        let held = match (self.held, self.agent) {
            (Some(h), Some(a)) => h.agents.get(a).map_or(Cents::ZERO, |x| x.0),
            _ => Cents::ZERO,
        };
        (flow, held)
    }

    /// The first rule a call costing `estimate` breaks, with the figures of its scope.
    fn breach(&self, estimate: Option<Cents>) -> Option<(Reason, Figures)> {
        let p = self.policy;
        if let (Some(cap), Some(_)) = (p.max_run_cost_cents, self.run) {
            let (cost, revenue, held) = self.run_cost();
            if !fits(left(cap, cost, held), estimate) {
                let f = Figures {
                    period: None,
                    cost,
                    revenue,
                };
                return Some((Reason::MaxRunCost, f));
            }
        }
        if let (Some(Limit { cents, period }), Some(_)) = (p.max_agent_cost, self.agent) {
            let (flow, held) = self.agent_flow(period);
            if !fits(left(cents, flow.cost, held), estimate) {
                let f = Figures {
                    period: Some(PeriodRef {
                        period,
                        index: self.index(period),
                    }),
                    cost: flow.cost,
                    revenue: flow.revenue,
                };
                return Some((Reason::MaxAgentCost, f));
            }
        }
        if let Some(b) = p.budget {
            let flow = self.budget_flow;
            if !fits(left(b.cents, flow.cost, self.held_total()), estimate) {
                return Some((Reason::Budget, self.figures(b.period, &flow)));
            }
        }
        if let Some(m) = p.min_margin {
            let flow = self.margin_flow;
            let active = m.min_revenue_cents.is_none_or(|r| flow.revenue >= r)
                && m.min_events.is_none_or(|n| flow.events >= n);
            let projected = plus(
                plus(flow.cost, self.held_total()),
                estimate.unwrap_or(Cents::ZERO),
            );
            if active && !margin_ok(flow.revenue, projected, m.pct_hundredths) {
                return Some((Reason::MinMargin, self.figures(m.period, &flow)));
            }
        }
        None
    }

    fn figures(&self, kind: Period, flow: &Flow) -> Figures {
        Figures {
            period: Some(PeriodRef {
                period: kind,
                index: self.index(kind),
            }),
            cost: flow.cost,
            revenue: flow.revenue,
        }
    }

    /// The figures shown when no rule decided: the budget's period, else the margin's, else
    /// all time.
    fn default_figures(&self) -> Figures {
        let kind = self
            .policy
            .budget
            .map(|b| b.period)
            .or(self.policy.min_margin.map(|m| m.period))
            .unwrap_or(Period::All);
        let flow = self.customer_period(kind);
        self.figures(kind, &flow)
    }

    fn remaining_budget(&self) -> Option<Cents> {
        let b = self.policy.budget?;
        Some(left(b.cents, self.budget_flow.cost, self.held_total()))
    }
}

/// A validated request with its estimate priced.
struct Prepared<'a> {
    req: &'a AllowRequest<'a>,
    model: Option<&'a str>,
    estimate: Option<Cents>,
}

fn reject(field: &'static str, reason: impl Into<String>) -> Rejection {
    Rejection {
        kind: RejectKind::Invalid,
        field,
        reason: reason.into(),
    }
}

fn check_opt_id(field: &'static str, v: Option<&str>) -> Result<(), Rejection> {
    match v {
        Some(s) => check_id(field, s).map_err(Rejection::from),
        None => Ok(()),
    }
}

fn check_model(field: &'static str, m: &str) -> Result<(), Rejection> {
    if m.is_empty() || m.len() > MAX_NAME_BYTES || crate::event::has_control(m) {
        return Err(reject(
            field,
            format!("must be 1 to {MAX_NAME_BYTES} bytes without control characters"),
        ));
    }
    Ok(())
}

/// Prices a usage estimate of `model`; `None` when the rate card has no price for it.
fn price_usage(
    engine: &Engine,
    provider: Option<&str>,
    model: &str,
    usage: &Usage,
    at: i64,
) -> Result<Option<Cents>, Rejection> {
    let input = PriceInput {
        kind: EventKind::Llm,
        provider,
        model: Some(model),
        usage,
        timestamp_ms: Some(at),
        provider_cost_cents: None,
        external_cost_cents: None,
    };
    match engine.price_cost(&input) {
        Ok(c) if c.priced => Ok(Some(c.cost_cents)),
        Ok(_) => Ok(None),
        Err(crate::engine::PriceError::InvalidUsage(e)) => Err(reject(e.field, e.to_string())),
        Err(e) => Err(reject("estimate", e.to_string())),
    }
}

fn prepare<'a>(
    engine: &Engine,
    req: &'a AllowRequest<'a>,
    at: i64,
) -> Result<Prepared<'a>, Rejection> {
    check_id("customerId", req.customer_id)?;
    check_opt_id("agentId", req.agent_id)?;
    check_opt_id("runId", req.run_id)?;
    if let Some(m) = req.model {
        check_model("model", m)?;
    }
    let (model, estimate) = match req.estimate {
        None => (req.model, None),
        Some(Estimate::Cents(c)) => {
            super::policy::check_policy_amount("estimateCents", c).map_err(Rejection::from)?;
            (req.model, Some(c))
        }
        Some(Estimate::Usage {
            provider,
            model,
            usage,
        }) => {
            check_model("estimate.model", model)?;
            let cost = price_usage(engine, provider, model, usage, at)?;
            (req.model.or(Some(model)), cost)
        }
    };
    Ok(Prepared {
        req,
        model,
        estimate,
    })
}

impl Book {
    /// The decision for a prepared request at `at` (read-only). Inlined into its two callers
    /// so the 200-byte `Decision` is built where it is returned, not copied there.
    #[inline(always)]
    fn decide(&self, engine: &Engine, p: &Prepared<'_>, at: i64) -> Decision {
        let customer_id = self.names.peek(p.req.customer_id);
        let Some(policy) = self.policy_for(customer_id, at) else {
            return Decision {
                verdict: Verdict::Allow,
                reason: Reason::NoPolicy,
                flagged: false,
                policy_id: None,
                period: None,
                suggested_model: None,
                cost_cents: Cents::ZERO,
                revenue_cents: Cents::ZERO,
                margin_pct: None,
                remaining_budget_cents: None,
                estimate_cents: p.estimate,
                reservation: None,
            };
        };
        let day = day_of_ms(at);
        let mut view = View {
            book: self,
            policy,
            customer_id,
            customer: customer_id.and_then(|id| self.customers.get(&id)),
            held: self.reservations.held(p.req.customer_id),
            agent: p.req.agent_id,
            run: p.req.run_id,
            day,
            idx: [day, Period::Week.index_of(day), Period::Month.index_of(day)],
            budget_flow: Flow::default(),
            margin_flow: Flow::default(),
        };
        view.read_rule_flows();
        let breach = view.breach(p.estimate);
        let (reason, figures) = match breach {
            Some(b) => b,
            None => (Reason::Ok, view.default_figures()),
        };
        let (verdict, flagged, suggested, estimate) = match (breach_action(policy, reason), reason)
        {
            (_, Reason::Ok) => (Verdict::Allow, false, None, p.estimate),
            (Action::Allow, _) => (Verdict::Allow, true, None, p.estimate),
            (Action::Block, _) => (Verdict::Block, false, None, p.estimate),
            (Action::Downgrade, _) => match downgrade(engine, &view, p, at) {
                Some((model, est)) => (Verdict::Downgrade, false, Some(model), est),
                None => (Verdict::Block, false, None, p.estimate),
            },
        };
        Decision {
            verdict,
            reason,
            flagged,
            policy_id: Some(policy.policy_id.clone()),
            period: figures.period,
            suggested_model: suggested,
            cost_cents: figures.cost,
            revenue_cents: figures.revenue,
            margin_pct: Percent::of(
                Cents::from_raw(figures.revenue.raw().saturating_sub(figures.cost.raw())),
                figures.revenue,
            ),
            remaining_budget_cents: view.remaining_budget(),
            estimate_cents: estimate,
            reservation: None,
        }
    }
}

fn breach_action(policy: &Policy, reason: Reason) -> Action {
    match reason {
        Reason::Ok | Reason::NoPolicy => Action::Allow,
        _ => policy.action,
    }
}

/// The replacement model a downgrade suggests, with its estimate: the first model down the
/// chain (only the direct replacement under [`DowngradeRule::Next`]) whose estimate passes
/// every rule. A usage estimate is re-priced for each candidate (same counts, the
/// candidate's rates); an estimate in cents, or none, cannot be, so a candidate then passes
/// only as a call of unknown cost would (something left under every limit, margin held).
fn downgrade(
    engine: &Engine,
    view: &View<'_>,
    p: &Prepared<'_>,
    at: i64,
) -> Option<(Arc<str>, Option<Cents>)> {
    let model = p.model?;
    let steps = match view.policy.downgrade_rule {
        DowngradeRule::FirstFit => usize::MAX,
        DowngradeRule::Next => 1,
    };
    for candidate in view.policy.downgrade_chain(model).take(steps) {
        let estimate = match p.req.estimate {
            Some(Estimate::Usage { usage, .. }) => price_usage(engine, None, candidate, usage, at)
                .ok()
                .flatten(),
            _ => None,
        };
        if view.breach(estimate).is_none() {
            return Some((candidate.clone(), estimate));
        }
    }
    None
}

/// What [`Ledger::settle`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settlement {
    /// The tracking result of the real usage.
    pub result: IngestResult,
    /// The amount the reservation held, when it was still held (it is released now); `None`
    /// when it had already expired or been released.
    pub released_cents: Option<Cents>,
}

/// A policy rule broken by booked usage (for reports).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breach {
    /// The customer.
    pub customer_id: Arc<str>,
    /// The policy in force at the ledger clock.
    pub policy_id: Arc<str>,
    /// The rule broken (never `Ok` or `NoPolicy`).
    pub rule: Reason,
    /// The period (`None` for a run).
    pub period: Option<PeriodRef>,
    /// The agent or run concerned, for the per-agent and per-run caps.
    pub subject: Option<Arc<str>>,
    /// Booked cost of the scope.
    pub cost_cents: Cents,
    /// Revenue of the scope.
    pub revenue_cents: Cents,
    /// The limit: cents for caps and budgets; for `min_margin`, the minimum percentage in
    /// cents' decimal form (e.g. `20` for 20 %).
    pub limit: String,
}

impl Ledger {
    /// Upserts a guardrail policy ([`Record::Policy`](super::record::Record::Policy)); it
    /// applies from its timestamp on. The same terms as the version in force → duplicate.
    pub fn upsert_policy(&self, p: &Policy) -> IngestResult {
        self.upsert_policy_at(p, self.clock.now_ms())
    }

    /// [`Ledger::upsert_policy`] as if the wall clock read `now_ms` (journal replay).
    pub(crate) fn upsert_policy_at(&self, p: &Policy, now_ms: i64) -> IngestResult {
        if let Some(ts) = p.timestamp_ms
            && !(0..=MAX_TIMESTAMP_MS).contains(&ts)
        {
            return IngestResult::Rejected(reject("timestamp", "must be between 1970 and 9999"));
        }
        if let Err(e) = validate_policy(p) {
            return IngestResult::Rejected(e.into());
        }
        match self.write() {
            Ok(mut b) => b.apply_policy(p, self.clock_cap_at(now_ms)),
            Err(r) => IngestResult::Rejected(r),
        }
    }

    fn decision_time(&self, req: &AllowRequest<'_>) -> Result<i64, Rejection> {
        match req.at_ms {
            Some(t) if (0..=MAX_TIMESTAMP_MS).contains(&t) => Ok(t),
            Some(_) => Err(reject("atMs", "must be between 1970 and 9999")),
            None => Ok(match self.clock {
                Clock::Log => {
                    let now = self.clock.now_ms();
                    self.read().clock(i64::MAX).unwrap_or(now)
                }
                c => c.now_ms(),
            }),
        }
    }

    /// May this call be made now? Reads a consistent cut of the ledger; see the
    /// [module documentation](self) for the rules and the concurrency guarantee.
    ///
    /// ```
    /// use tollgate_engine::engine::Engine;
    /// use tollgate_engine::ledger::guard::{AllowRequest, Estimate, Reason, Verdict};
    /// use tollgate_engine::ledger::{Ledger, record::Record};
    /// use tollgate_engine::money::Cents;
    ///
    /// let ledger = Ledger::default();
    /// let Record::Policy(p) = Record::from_json(br#"{"type":"policy","policyId":"cap",
    ///     "customerId":"acme","budget":{"cents":"100","period":"month"}}"#).unwrap()
    /// else { unreachable!() };
    /// ledger.upsert_policy(&p);
    /// let engine = Engine::embedded();
    /// let mut req = AllowRequest::new("acme");
    /// req.estimate = Some(Estimate::Cents(Cents::from_whole_cents(100)));
    /// let d = ledger.allow(&engine, &req).unwrap();
    /// assert_eq!((d.verdict, d.reason), (Verdict::Allow, Reason::Ok)); // exactly the budget
    /// req.estimate = Some(Estimate::Cents(Cents::from_whole_cents(101)));
    /// let d = ledger.allow(&engine, &req).unwrap();
    /// assert_eq!((d.verdict, d.reason), (Verdict::Block, Reason::Budget));
    /// assert_eq!(d.remaining_budget_cents, Some(Cents::from_whole_cents(100)));
    /// ```
    pub fn allow(&self, engine: &Engine, req: &AllowRequest<'_>) -> Result<Decision, Rejection> {
        let at = self.decision_time(req)?;
        let prepared = prepare(engine, req, at)?;
        let book = self.read();
        if !book.reservations.needs_purge(at) {
            return Ok(book.decide(engine, &prepared, at));
        }
        drop(book);
        let mut book = self.write()?;
        book.reservations.purge(at);
        Ok(book.decide(engine, &prepared, at))
    }

    /// [`Ledger::allow`], and when the call may go ahead (`allow` or `downgrade`), reserve its
    /// estimate (of the suggested model on a downgrade) until it is settled, released, or
    /// `ttl_ms` (default [`DEFAULT_RESERVATION_TTL_MS`]) passes. Deciding and reserving happen
    /// under one lock. The estimate must be known: cents, or usage of a priced model.
    pub fn allow_and_reserve(
        &self,
        engine: &Engine,
        req: &AllowRequest<'_>,
        ttl_ms: Option<u64>,
    ) -> Result<Decision, Rejection> {
        let ttl = ttl_ms.unwrap_or(DEFAULT_RESERVATION_TTL_MS);
        if ttl == 0 || ttl > MAX_RESERVATION_TTL_MS {
            return Err(reject(
                "ttlMs",
                format!("must be between 1 and {MAX_RESERVATION_TTL_MS} ms"),
            ));
        }
        let at = self.decision_time(req)?;
        let prepared = prepare(engine, req, at)?;
        if prepared.estimate.is_none() {
            return Err(reject(
                "estimate",
                "a reservation needs a known estimate (cents, or usage of a model the rate card prices)",
            ));
        }
        let mut book = self.write()?;
        book.reservations.purge(at);
        let mut d = book.decide(engine, &prepared, at);
        if d.verdict == Verdict::Block {
            return Ok(d);
        }
        let cents = d
            .estimate_cents
            .or(prepared.estimate)
            .unwrap_or(Cents::ZERO);
        let r = Reservation {
            customer: Arc::from(req.customer_id),
            agent: req.agent_id.map(Arc::from),
            run: req.run_id.map(Arc::from),
            cents,
            expires_ms: at.saturating_add(ttl as i64),
        };
        match book.reservations.insert(r) {
            Some(id) => d.reservation = Some(id),
            None => {
                return Err(Rejection {
                    kind: RejectKind::Overflow,
                    field: "",
                    reason: format!(
                        "too many reservations in flight (the limit is {MAX_RESERVATIONS})"
                    ),
                });
            }
        }
        Ok(d)
    }

    /// Tracks the real usage of a reserved call and releases its reservation. The event must
    /// be for the reservation's customer (else it is rejected and nothing changes). A
    /// reservation that already expired or was released is not an error: the event is
    /// tracked and `released_cents` is `None`. A rejected event keeps the reservation.
    ///
    /// On the ledger of a [`Store`](crate::store::Store) this is rejected (field
    /// `reservation`) and changes nothing: the event would be applied without being
    /// journaled. Settle there with [`Store::settle`](crate::store::Store::settle).
    pub fn settle(&self, engine: &Engine, reservation: ReservationId, event: &Event) -> Settlement {
        if self.is_journaled() {
            return Settlement {
                result: IngestResult::Rejected(reject(
                    "reservation",
                    "this ledger belongs to a Store: settle through Store::settle, which journals the event",
                )),
                released_cents: None,
            };
        }
        let owner = self
            .read()
            .reservations
            .by_id
            .get(&reservation)
            .map(|r| r.customer.clone());
        if let Some(owner) = &owner
            && event.customer_id.as_deref() != Some(&**owner)
        {
            return Settlement {
                result: IngestResult::Rejected(reject(
                    "customerId",
                    format!(
                        "reservation {reservation} belongs to customer \"{}\"",
                        crate::event::clip(owner)
                    ),
                )),
                released_cents: None,
            };
        }
        let result = self.track(engine, event);
        let released_cents = match result {
            IngestResult::Rejected(_) => None,
            _ => self.release(reservation),
        };
        Settlement {
            result,
            released_cents,
        }
    }

    /// Releases a reservation (the call failed or was abandoned); returns the amount it held,
    /// `None` when it was not held (unknown, settled, released or expired).
    pub fn release(&self, reservation: ReservationId) -> Option<Cents> {
        self.write()
            .ok()?
            .reservations
            .remove(reservation)
            .map(|r| r.cents)
    }

    /// Drops every reservation expired at `now_ms`; returns how many. (Decisions do this on
    /// their own; this is for callers that want the memory back sooner.)
    pub fn expire_reservations(&self, now_ms: i64) -> usize {
        let Ok(mut b) = self.write() else {
            return 0;
        };
        let before = b.reservations.by_id.len();
        b.reservations.purge(now_ms);
        before - b.reservations.by_id.len()
    }

    /// The customer a held reservation belongs to (`None` when it is not held).
    pub fn reservation_customer(&self, reservation: ReservationId) -> Option<Arc<str>> {
        self.read()
            .reservations
            .by_id
            .get(&reservation)
            .map(|r| r.customer.clone())
    }

    /// The amount a customer's reservations hold now (expired ones included until purged).
    pub fn reserved_cents(&self, customer_id: &str) -> Cents {
        self.read()
            .reservations
            .held
            .get(customer_id)
            .map_or(Cents::ZERO, |h| h.total)
    }

    /// The policy in force for a customer at `at_ms` (its own, else its plan's, else the
    /// default).
    pub fn policy_for(&self, customer_id: &str, at_ms: i64) -> Option<Arc<Policy>> {
        let b = self.read();
        let id = b.names.get(customer_id);
        b.policy_for(id, at_ms).cloned()
    }

    /// Every policy version the ledger holds, in canonical order (default, plans, customers),
    /// each with `timestamp_ms` set to when it took effect.
    pub fn policies(&self) -> Vec<Arc<Policy>> {
        let b = self.read();
        b.policies
            .versions(&b.names)
            .into_iter()
            .map(|v| v.policy.clone())
            .collect()
    }

    /// Rules broken by booked usage, per customer, judged by the policy in force at the
    /// ledger clock: each budget period whose cost exceeds the budget, each margin period
    /// (with the minimum activity reached) below the minimum margin, each run over the
    /// maximum run cost, each agent period over the agent cap. Sorted by customer, rule,
    /// period and subject. Linear in the ledger's size (a report, not a request path).
    pub fn policy_breaches(&self) -> Vec<Breach> {
        self.read().breaches(self.clock_cap_ms())
    }
}

impl Book {
    /// [`Ledger::policy_breaches`], with the ledger clock read no later than `cap_ms`.
    pub(crate) fn breaches(&self, cap_ms: i64) -> Vec<Breach> {
        let b = self;
        if b.policies.is_empty() {
            return Vec::new();
        }
        let Some(now) = b.clock(cap_ms) else {
            return Vec::new();
        };
        let today = day_of_ms(now);
        let mut out = Vec::new();
        for (&cid, c) in &b.customers {
            let Some(policy) = b.policy_for(Some(cid), now) else {
                continue;
            };
            breaches_of(b, cid, c, policy, today, &mut out);
        }
        out.sort_by(|x, y| {
            (
                &x.customer_id,
                x.rule,
                x.period.map(|p| p.index),
                &x.subject,
            )
                .cmp(&(
                    &y.customer_id,
                    y.rule,
                    y.period.map(|p| p.index),
                    &y.subject,
                ))
        });
        out
    }
}

fn validate_policy(p: &Policy) -> Result<(), RecordError> {
    check_id("policyId", &p.policy_id)?;
    if p.retired
        && (p.budget.is_some()
            || p.min_margin.is_some()
            || p.max_run_cost_cents.is_some()
            || p.max_agent_cost.is_some()
            || !p.downgrade.is_empty())
    {
        return Err(RecordError {
            field: "retired",
            reason: "a retired policy carries no rules".into(),
        });
    }
    if let Scope::Customer(c) = &p.scope {
        check_id("customerId", c)?;
    }
    for (field, c) in [
        ("budget.cents", p.budget.map(|b| b.cents)),
        ("maxRunCostCents", p.max_run_cost_cents),
        ("maxAgentCost.cents", p.max_agent_cost.map(|b| b.cents)),
        (
            "minMargin.minRevenueCents",
            p.min_margin.and_then(|m| m.min_revenue_cents),
        ),
    ] {
        if let Some(c) = c {
            super::policy::check_policy_amount(field, c)?;
        }
    }
    if let Some(m) = p.min_margin
        && !(super::policy::MIN_MARGIN_FLOOR_HUNDREDTHS..=10_000).contains(&m.pct_hundredths)
    {
        return Err(RecordError {
            field: "minMargin.pct",
            reason: "must be between -1000000 and 100".into(),
        });
    }
    if p.action == Action::Downgrade && p.downgrade.is_empty() {
        return Err(RecordError {
            field: "downgrade",
            reason: "is required (non-empty) when the action is downgrade".into(),
        });
    }
    // A Rust-built map must also end every chain.
    for start in p.downgrade.keys() {
        if p.downgrade_chain(start).take(p.downgrade.len() + 1).count() > p.downgrade.len() {
            return Err(RecordError {
                field: "downgrade",
                reason: format!(
                    "the chain from \"{}\" is a cycle",
                    crate::event::clip(start)
                ),
            });
        }
    }
    Ok(())
}

fn breaches_of(
    b: &Book,
    cid: u32,
    c: &Customer,
    policy: &Policy,
    today: Day,
    out: &mut Vec<Breach>,
) {
    let customer_id = b.names.name(cid).clone();
    let mut push = |rule, period, subject, cost, revenue, limit: String| {
        out.push(Breach {
            customer_id: customer_id.clone(),
            policy_id: policy.policy_id.clone(),
            rule,
            period,
            subject,
            cost_cents: cost,
            revenue_cents: revenue,
            limit,
        })
    };
    let periods = |kind: Period| -> Vec<(Option<PeriodRef>, Flow)> {
        match kind {
            Period::All => vec![(
                Some(PeriodRef {
                    period: kind,
                    index: 0,
                }),
                Flow {
                    cost: c.sums.cost,
                    revenue: plus(c.sums.usage_revenue, c.sums.outcome_revenue),
                    events: c.sums.events,
                },
            )],
            _ => c
                .periods
                .all(kind)
                .into_iter()
                .map(|(i, f)| {
                    (
                        Some(PeriodRef {
                            period: kind,
                            index: i,
                        }),
                        f,
                    )
                })
                .collect(),
        }
    };
    let with_subscription = |p: Option<PeriodRef>, mut f: Flow| -> Flow {
        if c.versions.is_empty() {
            return f;
        }
        let (from, to) = match p {
            Some(PeriodRef { period, index }) if period != Period::All => (
                period.first_day(index),
                period.last_day(index).map_or(today, |l| l.min(today)),
            ),
            _ => (None, today),
        };
        f.revenue = plus(
            f.revenue,
            c.subscription(from, to, b.first_day())
                .unwrap_or(Cents::ZERO),
        );
        f
    };
    if let Some(budget) = policy.budget {
        for (p, f) in periods(budget.period) {
            if f.cost > budget.cents {
                let f = with_subscription(p, f);
                push(
                    Reason::Budget,
                    p,
                    None,
                    f.cost,
                    f.revenue,
                    budget.cents.to_string(),
                );
            }
        }
    }
    if let Some(m) = policy.min_margin {
        for (p, f) in periods(m.period) {
            let f = with_subscription(p, f);
            let active = m.min_revenue_cents.is_none_or(|r| f.revenue >= r)
                && m.min_events.is_none_or(|n| f.events >= n);
            if active && !margin_ok(f.revenue, f.cost, m.pct_hundredths) {
                let pct = Percent {
                    hundredths: i128::from(m.pct_hundredths),
                };
                push(
                    Reason::MinMargin,
                    p,
                    None,
                    f.cost,
                    f.revenue,
                    pct.to_string(),
                );
            }
        }
    }
    if let Some(cap) = policy.max_run_cost_cents {
        for ((rc, rid), run) in &b.runs {
            if *rc == cid && run.sums.cost > cap {
                push(
                    Reason::MaxRunCost,
                    None,
                    Some(b.names.name(*rid).clone()),
                    run.sums.cost,
                    plus(run.sums.usage_revenue, run.sums.outcome_revenue),
                    cap.to_string(),
                );
            }
        }
    }
    if let Some(cap) = policy.max_agent_cost {
        for (aid, a) in &c.agents {
            let flows = match cap.period {
                Period::All => vec![(0, a.all)],
                k => a.periods.all(k),
            };
            for (i, f) in flows {
                if f.cost > cap.cents {
                    push(
                        Reason::MaxAgentCost,
                        Some(PeriodRef {
                            period: cap.period,
                            index: i,
                        }),
                        Some(b.names.name(*aid).clone()),
                        f.cost,
                        f.revenue,
                        cap.cents.to_string(),
                    );
                }
            }
        }
    }
}

impl fmt::Display for Breach {
    /// `acme  budget_exceeded  2026-01  cost 120 > 100 (policy p1)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = self.period.map_or_else(|| "run".to_string(), |p| p.label());
        write!(f, "{} {} {}", self.customer_id, self.rule.as_str(), period)?;
        if let Some(s) = &self.subject {
            write!(f, " {s}")?;
        }
        match self.rule {
            Reason::MinMargin => {
                let pct = Percent::of(
                    Cents::from_raw(
                        self.revenue_cents
                            .raw()
                            .saturating_sub(self.cost_cents.raw()),
                    ),
                    self.revenue_cents,
                );
                write!(
                    f,
                    ": margin {} % < {} % (policy {})",
                    pct.map_or_else(|| "n/a".to_string(), |p| p.to_string()),
                    self.limit,
                    self.policy_id
                )
            }
            _ => write!(
                f,
                ": cost {} > {} (policy {})",
                self.cost_cents, self.limit, self.policy_id
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ge_scaled_direct_compare_agrees_with_the_wide_products() {
        // Around the edges of the direct compare (factors 2^113 and 2^14) and past them.
        let edge = (1i128 << 113) - 1;
        let amounts = [
            0,
            1,
            -1,
            7,
            edge,
            -edge,
            edge + 1,
            -(edge + 1),
            edge / 3,
            i128::MAX / 9,
        ];
        let scales = [
            0i64,
            1,
            -1,
            10_000,
            16_383,
            -16_383,
            16_384,
            5_000,
            i64::MAX,
        ];
        for a in amounts {
            for b in amounts {
                for k in scales {
                    for p in scales {
                        assert_eq!(
                            ge_scaled(a, k, b, p),
                            ge_scaled_wide(a, k, b, p),
                            "{a} {k} {b} {p}"
                        );
                    }
                }
            }
        }
        // 3 × 10,000 ≥ 4 × 7,500 exactly; one less is not.
        assert!(ge_scaled(3, 10_000, 4, 7_500));
        assert!(!ge_scaled(3, 10_000, 4, 7_501));
    }

    #[test]
    fn ge_scaled_is_exact_past_i128() {
        let big = i128::MAX / 3;
        // big × 10000 vs (big × 10000 / 5000) × 5000, beyond the i128 range on both sides.
        assert!(ge_scaled(big, 10_000, big * 2, 5_000));
        assert!(!ge_scaled(big - 1, 10_000, big * 2, 5_000));
        assert!(ge_scaled(-5, 10_000, 10, -5_000));
        assert!(!ge_scaled(-6, 10_000, 10, -5_000));
        assert!(ge_scaled(0, 10_000, 0, 7));
    }

    #[test]
    fn margin_rule_is_exact_at_the_boundary() {
        // Revenue 100, cost 80: margin 20 % exactly.
        let r = Cents::from_whole_cents(100);
        assert!(margin_ok(r, Cents::from_whole_cents(80), 2000));
        assert!(!margin_ok(
            r,
            Cents::from_raw(Cents::from_whole_cents(80).raw() + 1),
            2000
        ));
        assert!(margin_ok(Cents::ZERO, Cents::ZERO, 2000));
        assert!(!margin_ok(Cents::ZERO, Cents::from_raw(1), -100_000_000));
    }

    #[test]
    fn period_sums_roll_over_and_take_late_events() {
        let mut s = PeriodSums::default();
        let f = |c: i64| Flow {
            cost: Cents::from_whole_cents(c),
            revenue: Cents::ZERO,
            events: 1,
        };
        // 2026-01-30 (Fri), 2026-02-02 (Mon, new week and month), then a late 2026-01-31.
        let (d1, d2, d3) = (20_483, 20_486, 20_484);
        s.add(d1, &f(1));
        s.add(d2, &f(10));
        s.add(d3, &f(100));
        let month = |d| Period::Month.index_of(d);
        assert_eq!(
            s.get(Period::Month, month(d1)).cost,
            Cents::from_whole_cents(101)
        );
        assert_eq!(
            s.get(Period::Month, month(d2)).cost,
            Cents::from_whole_cents(10)
        );
        let week = |d| Period::Week.index_of(d);
        assert_eq!(
            s.get(Period::Week, week(d1)).cost,
            Cents::from_whole_cents(101)
        );
        assert_eq!(s.get(Period::Week, week(d2)).events, 1);
        assert_eq!(s.get(Period::Day, d3).cost, Cents::from_whole_cents(100));
        assert_eq!(s.all(Period::Month).len(), 2);
    }
}
