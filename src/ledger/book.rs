//! The ledger's state and the all-or-nothing application of records to it.
//!
//! Every amount the ledger adds is ≥ 0, so every partial sum (a cell, a run, a customer) is
//! bounded by the matching global total. Each record therefore checks only the global totals
//! for overflow before it changes anything; once they fit, the commit cannot fail.

use super::days::{Day, accrue_monthly, day_of_ms};
use super::dedupe::{DedupeTable, Fingerprint, minute_of_ms};
use super::guard::{AgentSums, Flow, PeriodSums, PolicyBook, Reservations, book_flow};
use super::record::{CustomerUpsert, Plan, PricingModel, Resolution};
use super::{Accepted, IngestResult, RejectKind, Rejection};
use crate::engine::UnpricedReason;
use crate::event::{EventView, Outcome};
use crate::money::Cents;
use crate::ratecard::SnapshotId;
use std::sync::Arc;

/// Hash map used throughout the ledger.
pub(crate) type Map<K, V> = hashbrown::HashMap<K, V, foldhash::fast::RandomState>;

/// `a + b` for sums whose bound was checked against the global totals before the commit.
#[inline]
pub(crate) fn plus(a: Cents, b: Cents) -> Cents {
    Cents::from_raw(a.raw().saturating_add(b.raw()))
}

/// Slots of [`Names::recent`] (a power of two).
const RECENT_NAME_SLOTS: usize = 1024;

/// Interned strings (customer, run, agent, model and provider names). Id 0 means "none".
#[derive(Clone)]
pub(crate) struct Names {
    pub list: Vec<Arc<str>>,
    index: Map<Arc<str>, u32>,
    /// Ids of names found recently, direct-mapped on a cheap hash of the text (0 = empty). Only
    /// a hint: a hit is taken only when `list[id]` is the text itself, and names are never
    /// renumbered, so a stale or colliding slot costs one lookup in `index`, never a wrong id.
    recent: Vec<u32>,
}

impl Default for Names {
    fn default() -> Self {
        Names {
            list: vec![Arc::from("")],
            index: Map::default(),
            recent: vec![0; RECENT_NAME_SLOTS],
        }
    }
}

/// `a == b`, without a `memcmp` call for texts of 4 to 16 bytes (most ids): two overlapping
/// words per side cover every byte.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if (8..=16).contains(&a.len())
        && let (Some(ah), Some(at), Some(bh), Some(bt)) = (
            a.first_chunk::<8>(),
            a.last_chunk::<8>(),
            b.first_chunk::<8>(),
            b.last_chunk::<8>(),
        )
    {
        return ah == bh && at == bt;
    }
    if (4..8).contains(&a.len())
        && let (Some(ah), Some(at), Some(bh), Some(bt)) = (
            a.first_chunk::<4>(),
            a.last_chunk::<4>(),
            b.first_chunk::<4>(),
            b.last_chunk::<4>(),
        )
    {
        return ah == bh && at == bt;
    }
    a == b
}

impl Names {
    #[inline]
    pub fn get(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }

    /// [`Names::get`], through the `recent` memo (which it updates).
    #[inline(always)]
    pub fn find(&mut self, s: &str) -> Option<u32> {
        let h = crate::namehash::name_bits(s).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let slot = (h >> (64 - RECENT_NAME_SLOTS.trailing_zeros())) as usize;
        let id = self.recent[slot];
        if id != 0
            && let Some(name) = self.list.get(id as usize)
            && same_text(name, s)
        {
            return Some(id);
        }
        let found = self.index.get(s).copied();
        if let Some(id) = found {
            self.recent[slot] = id;
        }
        found
    }

    /// [`Names::get`], through the `recent` memo without updating it (for readers under a
    /// shared lock: `allow`). A name booked lately is found by a few-instruction fingerprint
    /// and one word compare, with no string hash and no `memcmp` call.
    #[inline(always)]
    pub fn peek(&self, s: &str) -> Option<u32> {
        let h = crate::namehash::name_bits(s).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let slot = (h >> (64 - RECENT_NAME_SLOTS.trailing_zeros())) as usize;
        let id = self.recent[slot];
        if id != 0
            && let Some(name) = self.list.get(id as usize)
            && same_text(name, s)
        {
            return Some(id);
        }
        self.index.get(s).copied()
    }

    /// The id of `s`, given the result of an earlier [`Names::get`] for it.
    #[inline]
    pub fn intern_known(&mut self, known: Option<u32>, s: &str) -> u32 {
        match known {
            Some(id) => id,
            None => self.intern(s),
        }
    }

    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.index.get(s) {
            return *id;
        }
        let id = self.list.len() as u32;
        let a: Arc<str> = Arc::from(s);
        self.list.push(a.clone());
        self.index.insert(a, id);
        id
    }

    #[inline]
    pub fn name(&self, id: u32) -> &Arc<str> {
        &self.list[id as usize]
    }

    pub fn opt(&self, id: u32) -> Option<Arc<str>> {
        (id != 0).then(|| self.list[id as usize].clone())
    }
}

/// Token totals of a set of events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenTotals {
    /// Fresh input tokens.
    pub tokens_in: u64,
    /// Cache-read input tokens.
    pub cached_tokens: u64,
    /// Input tokens written to the cache at the standard rate.
    pub cache_write_5m_tokens: u64,
    /// Input tokens written to the cache with a 1-hour TTL.
    pub cache_write_1h_tokens: u64,
    /// Output tokens (reasoning included).
    pub tokens_out: u64,
    /// Reasoning tokens (part of `tokens_out`).
    pub reasoning_tokens: u64,
}

impl TokenTotals {
    pub(crate) fn of_event(e: &EventView<'_>) -> TokenTotals {
        TokenTotals {
            tokens_in: e.usage.tokens_in,
            cached_tokens: e.usage.cached_tokens,
            cache_write_5m_tokens: e.usage.cache_write_5m_tokens,
            cache_write_1h_tokens: e.usage.cache_write_1h_tokens,
            tokens_out: e.usage.tokens_out,
            reasoning_tokens: e.usage.reasoning_tokens,
        }
    }

    /// Appends the six counts as little-endian u64s, in field order (`tokens_in`,
    /// `cached_tokens`, `cache_write_5m_tokens`, `cache_write_1h_tokens`, `tokens_out`,
    /// `reasoning_tokens`): the layout both the journal's event entry and the ledger state's
    /// cells use.
    pub(crate) fn encode_le(&self, out: &mut Vec<u8>) {
        for n in [
            self.tokens_in,
            self.cached_tokens,
            self.cache_write_5m_tokens,
            self.cache_write_1h_tokens,
            self.tokens_out,
            self.reasoning_tokens,
        ] {
            out.extend_from_slice(&n.to_le_bytes());
        }
    }

    pub(crate) fn checked_add(&self, o: &TokenTotals) -> Option<TokenTotals> {
        Some(TokenTotals {
            tokens_in: self.tokens_in.checked_add(o.tokens_in)?,
            cached_tokens: self.cached_tokens.checked_add(o.cached_tokens)?,
            cache_write_5m_tokens: self
                .cache_write_5m_tokens
                .checked_add(o.cache_write_5m_tokens)?,
            cache_write_1h_tokens: self
                .cache_write_1h_tokens
                .checked_add(o.cache_write_1h_tokens)?,
            tokens_out: self.tokens_out.checked_add(o.tokens_out)?,
            reasoning_tokens: self.reasoning_tokens.checked_add(o.reasoning_tokens)?,
        })
    }

    /// `self + o` for a partial count whose matching global total was already checked (see
    /// [`Sums::add`]): counts are unsigned, so it cannot overflow and wrapping adds are exact.
    #[inline]
    fn plus_bounded(&self, o: &TokenTotals) -> TokenTotals {
        TokenTotals {
            tokens_in: self.tokens_in.wrapping_add(o.tokens_in),
            cached_tokens: self.cached_tokens.wrapping_add(o.cached_tokens),
            cache_write_5m_tokens: self
                .cache_write_5m_tokens
                .wrapping_add(o.cache_write_5m_tokens),
            cache_write_1h_tokens: self
                .cache_write_1h_tokens
                .wrapping_add(o.cache_write_1h_tokens),
            tokens_out: self.tokens_out.wrapping_add(o.tokens_out),
            reasoning_tokens: self.reasoning_tokens.wrapping_add(o.reasoning_tokens),
        }
    }
}

/// Money and counts of a set of events and resolutions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Sums {
    pub usage_revenue: Cents,
    pub outcome_revenue: Cents,
    pub cost: Cents,
    /// Cache and batch savings: what the events' cache-read and batch-priced tokens would
    /// have cost at the standard input rate and tier, minus what they cost (never negative).
    pub savings: Cents,
    pub events: u64,
    pub unpriced: u64,
    pub tokens: TokenTotals,
}

impl Sums {
    /// Adds `o` to a partial sum (a cell, a customer, a run) at a commit, once
    /// `totals.checked_sum(o)` succeeded. The counts are unsigned, so a partial count never
    /// exceeds its checked total: wrapping adds are exact there (and cheaper). Money stays
    /// saturating: an `Event` built in Rust (not parsed) can carry a negative
    /// `revenueUnitCents`, and then a partial sum is not bounded by the total.
    #[inline]
    pub fn add(&mut self, o: &Sums) {
        self.usage_revenue = plus(self.usage_revenue, o.usage_revenue);
        self.outcome_revenue = plus(self.outcome_revenue, o.outcome_revenue);
        self.cost = plus(self.cost, o.cost);
        self.savings = plus(self.savings, o.savings);
        self.events = self.events.wrapping_add(o.events);
        self.unpriced = self.unpriced.wrapping_add(o.unpriced);
        self.tokens = self.tokens.plus_bounded(&o.tokens);
    }

    /// `self + o`, or `None` when any total leaves its range.
    pub fn checked_sum(&self, o: &Sums) -> Option<Sums> {
        let s = Sums {
            usage_revenue: self.usage_revenue.checked_add(o.usage_revenue)?,
            outcome_revenue: self.outcome_revenue.checked_add(o.outcome_revenue)?,
            cost: self.cost.checked_add(o.cost)?,
            savings: self.savings.checked_add(o.savings)?,
            events: self.events.checked_add(o.events)?,
            unpriced: self.unpriced.checked_add(o.unpriced)?,
            tokens: self.tokens.checked_add(&o.tokens)?,
        };
        // Revenue of a group is usage + outcome; keep that sum in range too.
        s.usage_revenue.checked_add(s.outcome_revenue)?;
        Some(s)
    }
}

/// Where a cell's money is attributed. Ids index [`Names`]; 0 = none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct CellKey {
    pub day: i32,
    pub customer: u32,
    pub run: u32,
    pub agent: u32,
    pub model: u32,
    pub provider: u32,
}

/// One version of a customer (name, seats, plan), effective from `effective_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Version {
    pub effective_ms: i64,
    /// Upserted without a timestamp before the ledger saw any activity: in force from the
    /// beginning (`effective_ms` is 0), its subscription accruing from the ledger's first day.
    pub from_start: bool,
    pub name: Option<Arc<str>>,
    pub seats: u64,
    pub plan: Option<Plan>,
    /// Subscription amount per calendar month under this version.
    pub monthly: Cents,
}

impl Version {
    fn same_terms(&self, name: Option<&str>, seats: u64, plan: Option<&Plan>) -> bool {
        self.name.as_deref() == name && self.seats == seats && self.plan.as_ref() == plan
    }

    /// First subscription day, given the ledger's first day of activity.
    fn start_day(&self, first_day: Option<Day>) -> Day {
        if self.from_start {
            first_day.unwrap_or(Day::MAX)
        } else {
            day_of_ms(self.effective_ms)
        }
    }
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Customer {
    /// Versions sorted by `effective_ms`; among equal instants, arrival order.
    pub versions: Vec<Version>,
    pub sums: Sums,
    pub runs: RunCounts,
    /// Subscription of every closed segment (all versions but the last) of a dated version,
    /// `None` on overflow.
    pub closed_accrual: Option<Cents>,
    /// The closed segment of a from-start version, if any: its monthly amount and last day
    /// (it starts on the ledger's first day, which may still move).
    pub start_segment: Option<(Cents, Day)>,
    /// Running sums of the current day, week and month (and earlier ones), for guardrails.
    pub periods: PeriodSums,
    /// The same per agent (by name id), with the agent's all-time sums.
    pub agents: Map<u32, AgentSums>,
}

impl Customer {
    /// The version in force at `ts`.
    pub fn version_at(&self, ts: i64) -> Option<&Version> {
        let i = self.versions.partition_point(|v| v.effective_ms <= ts);
        i.checked_sub(1).map(|i| &self.versions[i])
    }

    /// Subscription segments: (first day, last day or `None` = open-ended, monthly amount,
    /// from-start). The last version of a UTC day governs that day.
    fn segments(
        &self,
        first_day: Option<Day>,
    ) -> impl Iterator<Item = (Day, Option<Day>, Cents, bool)> + '_ {
        self.versions.iter().enumerate().map(move |(i, v)| {
            // A from-start successor sits at instant 0 too, so this version's segment is empty.
            let end = self
                .versions
                .get(i + 1)
                .map(|n| day_of_ms(n.effective_ms) - 1);
            (v.start_day(first_day), end, v.monthly, v.from_start)
        })
    }

    pub(crate) fn recompute_closed(&mut self) {
        let mut total = Some(Cents::ZERO);
        let mut start_segment = None;
        for (start, end, monthly, from_start) in self.segments(None) {
            match (end, from_start) {
                (Some(end), false) => {
                    total = total.and_then(|t| {
                        accrue_monthly(monthly, start, end).and_then(|a| t.checked_add(a))
                    });
                }
                (Some(end), true) => start_segment = Some((monthly, end)),
                (None, _) => {}
            }
        }
        self.closed_accrual = total;
        self.start_segment = start_segment;
    }

    /// Subscription revenue over the days `from..=to` (`from = None`: since the first version).
    /// `first_day` is the ledger's first day of activity (where from-start versions begin).
    pub fn subscription(
        &self,
        from: Option<Day>,
        to: Day,
        first_day: Option<Day>,
    ) -> Option<Cents> {
        if from.is_none()
            && let Some(last) = self.versions.last()
        {
            // Current-margin fast path: every closed segment ends before the last one starts.
            let start = last.start_day(first_day);
            if start <= to && (!last.from_start || self.versions.len() == 1) {
                let mut total = self.closed_accrual?;
                if let (Some((monthly, end)), Some(f)) = (self.start_segment, first_day) {
                    total = total.checked_add(accrue_monthly(monthly, f, end)?)?;
                }
                return total.checked_add(accrue_monthly(last.monthly, start, to)?);
            }
        }
        let mut total = Cents::ZERO;
        for (start, end, monthly, _) in self.segments(first_day) {
            let a = from.map_or(start, |f| f.max(start));
            let b = end.map_or(to, |e| e.min(to));
            total = total.checked_add(accrue_monthly(monthly, a, b)?)?;
        }
        Some(total)
    }

    /// The monthly amount governing `day` (0 before the first version).
    pub fn monthly_on(&self, day: Day, first_day: Option<Day>) -> Cents {
        self.segments(first_day)
            .filter(|(s, e, _, _)| *s <= day && e.is_none_or(|e| day <= e))
            .map(|(_, _, m, _)| m)
            .last()
            .unwrap_or(Cents::ZERO)
    }

    /// The first day any version accrues (for day-by-day queries).
    pub fn first_day(&self, first_day: Option<Day>) -> Option<Day> {
        self.versions
            .iter()
            .map(|v| v.start_day(first_day))
            .min()
            .filter(|d| *d != Day::MAX)
    }
}

/// Where a run stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunStatus {
    /// Not resolved yet.
    Open,
    /// Resolved: the run achieved its goal (earns outcome revenue).
    Resolved,
    /// Handed to a human (earns nothing).
    Escalated,
    /// Failed (earns nothing).
    Failed,
}

impl RunStatus {
    /// Wire name: `open`, `resolved`, `escalated`, `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RunStatus::Open => "open",
            RunStatus::Resolved => "resolved",
            RunStatus::Escalated => "escalated",
            RunStatus::Failed => "failed",
        }
    }

    pub(crate) fn of(resolution: Option<&RunResolution>) -> RunStatus {
        match resolution.map(|r| r.outcome) {
            None => RunStatus::Open,
            Some(Outcome::Resolved) => RunStatus::Resolved,
            Some(Outcome::Escalated) => RunStatus::Escalated,
            Some(Outcome::Failed) => RunStatus::Failed,
        }
    }
}

/// Number of runs by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunCounts {
    /// Runs not resolved yet.
    pub open: u64,
    /// Runs resolved.
    pub resolved: u64,
    /// Runs escalated.
    pub escalated: u64,
    /// Runs failed.
    pub failed: u64,
}

impl RunCounts {
    pub(crate) fn slot(&mut self, s: RunStatus) -> &mut u64 {
        match s {
            RunStatus::Open => &mut self.open,
            RunStatus::Resolved => &mut self.resolved,
            RunStatus::Escalated => &mut self.escalated,
            RunStatus::Failed => &mut self.failed,
        }
    }

    /// Counts one more run with status `s`.
    pub(crate) fn count(&mut self, s: RunStatus) {
        let n = self.slot(s);
        *n = n.saturating_add(1);
    }

    fn uncount(&mut self, s: RunStatus) {
        let n = self.slot(s);
        *n = n.saturating_sub(1);
    }

    /// Total runs.
    pub fn total(&self) -> u64 {
        self.open + self.resolved + self.escalated + self.failed
    }
}

/// A run's resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RunResolution {
    pub outcome: Outcome,
    /// The amount the resolution named, if any (compared for idempotency).
    pub explicit: Option<Cents>,
    /// Revenue the resolution earned.
    pub revenue: Cents,
    pub at_ms: i64,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Run {
    pub sums: Sums,
    pub resolution: Option<RunResolution>,
}

/// Everything the ledger knows; what the state bytes save.
#[derive(Clone, Default)]
pub(crate) struct Book {
    /// Dedupe window in ms of event time; 0 = forever.
    pub window_ms: u64,
    /// Latest timestamp of an accepted event or resolution (raw, before clamping).
    pub clock_ms: Option<i64>,
    /// Earliest timestamp of an accepted event or resolution: where from-start subscriptions
    /// begin.
    pub first_ms: Option<i64>,
    pub names: Names,
    pub customers: Map<u32, Customer>,
    pub runs: Map<(u32, u32), Run>,
    pub cells: Map<CellKey, Sums>,
    pub dedupe: DedupeTable,
    pub totals: Sums,
    /// Guardrail policies in force, by scope.
    pub policies: PolicyBook,
    /// Reservations of calls in flight (not saved).
    pub reservations: Reservations,
}

/// What pricing an event gave the ledger.
pub(crate) struct Priced {
    pub cost_cents: Cents,
    /// See [`Sums::savings`]; zero when unknown (an event priced by its caller).
    pub savings_cents: Cents,
    pub priced: bool,
    pub reason: Option<UnpricedReason>,
    pub snapshot: SnapshotId,
    pub warnings: Vec<String>,
}

/// Inputs of one event computed outside the lock.
pub(crate) struct EventPrep<'a> {
    pub event: &'a EventView<'a>,
    pub customer: &'a str,
    pub run: Option<&'a str>,
    pub ts: i64,
    pub key: Option<(Fingerprint, u32)>,
    pub now_ms: i64,
}

fn reject(kind: RejectKind, field: &'static str, reason: impl Into<String>) -> IngestResult {
    IngestResult::Rejected(Rejection {
        kind,
        field,
        reason: reason.into(),
    })
}

/// An epoch-ms instant as RFC 3339 text (for messages).
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

fn overflow() -> IngestResult {
    reject(
        RejectKind::Overflow,
        "",
        "the ledger's totals would exceed the exact range of the engine (1.7e14 cents)",
    )
}

impl Book {
    /// The ledger clock: the latest plausible accepted timestamp, read no later than `cap_ms`
    /// (the wall clock plus the allowed skew; unbounded when replaying a log).
    pub fn clock(&self, cap_ms: i64) -> Option<i64> {
        self.clock_ms.map(|c| c.min(cap_ms))
    }

    /// Start of the dedupe window, `None` when keys are kept forever or nothing was seen yet.
    pub fn cutoff(&self, cap_ms: i64) -> Option<i64> {
        if self.window_ms == 0 {
            return None;
        }
        let w = i64::try_from(self.window_ms).unwrap_or(i64::MAX);
        self.clock(cap_ms).map(|c| c.saturating_sub(w))
    }

    /// Moves the clock to `ts` when it is plausible: the first timestamp, one no later than
    /// `wall_ms` (the wall clock plus the allowed skew), or one at most `MAX_CLOCK_STEP_MS`
    /// past the clock. A far-future outlier is counted but never moves the window.
    fn advance_clock(&mut self, ts: i64, wall_ms: i64) {
        self.clock_ms = Some(match self.clock_ms {
            None => ts,
            Some(c) if ts <= wall_ms || ts <= c.saturating_add(super::MAX_CLOCK_STEP_MS) => {
                c.max(ts)
            }
            Some(c) => c,
        });
        self.first_ms = Some(self.first_ms.map_or(ts, |f| f.min(ts)));
    }

    /// The ledger's first day of activity.
    pub fn first_day(&self) -> Option<Day> {
        self.first_ms.map(day_of_ms)
    }

    fn plan_at(&self, customer: Option<u32>, ts: i64) -> Option<&Plan> {
        let c = self.customers.get(&customer?)?;
        c.version_at(ts)?.plan.as_ref()
    }

    /// Probes the cell and run sums the event will update when its names are all known, and
    /// drops the answer: in a ledger whose sums outgrow the caches each probe is a cache miss,
    /// and issued here, next to the dedupe probe, the three misses overlap instead of coming one
    /// after another (safe Rust has no prefetch; a read is the next best thing). The commit
    /// below probes the same entries again, then in cache.
    #[inline]
    fn touch_sums(&self, p: &EventPrep<'_>, ids: &[Option<u32>; 5]) {
        let e = p.event;
        let known = |name: Option<&str>, id: Option<u32>| match name {
            None => Some(0),
            Some(_) => id,
        };
        if let (Some(customer), Some(run), Some(agent), Some(model), Some(provider)) = (
            ids[0],
            known(p.run, ids[1]),
            known(e.agent_id, ids[2]),
            known(e.model, ids[3]),
            known(e.provider, ids[4]),
        ) {
            let key = CellKey {
                day: day_of_ms(p.ts) as i32,
                customer,
                run,
                agent,
                model,
                provider,
            };
            std::hint::black_box(self.cells.get(&key).is_some());
            if run != 0 {
                std::hint::black_box(self.runs.get(&(customer, run)).is_some());
            }
        }
    }

    /// Applies one priced event.
    pub fn apply_event(&mut self, p: &EventPrep<'_>, price: Priced, cap_ms: i64) -> IngestResult {
        let e = p.event;
        let cutoff = self.cutoff(cap_ms);
        if p.key.is_some()
            && let Some(c) = cutoff
            && p.ts < c
        {
            return reject(
                RejectKind::TooLate,
                if e.timestamp_ms.is_some() {
                    "timestamp"
                } else {
                    ""
                },
                format!(
                    "event time {} is older than the dedupe window, which starts at {} ({} h before the ledger clock); it cannot be deduplicated",
                    rfc3339(p.ts),
                    rfc3339(c),
                    self.window_ms / 3_600_000
                ),
            );
        }
        let ids = [
            self.names.find(p.customer),
            p.run.and_then(|r| self.names.find(r)),
            e.agent_id.and_then(|s| self.names.find(s)),
            e.model.and_then(|s| self.names.find(s)),
            e.provider.and_then(|s| self.names.find(s)),
        ];
        self.touch_sums(p, &ids);
        let vacancy = match p.key {
            None => None,
            Some((fp, digest)) => match self.dedupe.lookup(fp, cutoff) {
                Err(v) => Some((v, digest)),
                Ok(entry) => {
                    return if entry.digest() == digest {
                        IngestResult::Duplicate
                    } else {
                        IngestResult::Conflict {
                            reason: "the idempotency key was first used with different money-relevant fields; the first event stands".to_string(),
                        }
                    };
                }
            },
        };

        // The customer is looked up once: its plan now, its sums at the commit.
        let mut known_customer = ids[0].and_then(|id| self.customers.get_mut(&id));
        let plan = known_customer
            .as_deref()
            .and_then(|c| c.version_at(p.ts))
            .and_then(|v| v.plan.as_ref());
        let unit = match (e.revenue_unit_cents, plan) {
            (Some(u), _) => u,
            (None, Some(pl)) if pl.pricing_model == PricingModel::UsageBased => {
                pl.unit_revenue_cents
            }
            _ => Cents::ZERO,
        };
        let Some(usage_revenue) = unit.checked_mul_count(e.units) else {
            return overflow();
        };
        let add = Sums {
            usage_revenue,
            outcome_revenue: Cents::ZERO,
            cost: price.cost_cents,
            savings: price.savings_cents,
            events: 1,
            unpriced: u64::from(!price.priced),
            tokens: TokenTotals::of_event(e),
        };
        if price.cost_cents.is_negative() || price.savings_cents.is_negative() {
            return reject(
                RejectKind::Invalid,
                "",
                "the price result has a negative cost",
            );
        }

        // The single-call outcome, as if the run were resolved at once.
        let mut warnings = price.warnings;
        let mut resolution = None;
        if let (Some(outcome), Some(run)) = (e.outcome, p.run) {
            let existing = match (ids[0], ids[1]) {
                (Some(c), Some(r)) => self.runs.get(&(c, r)).and_then(|r| r.resolution),
                _ => None,
            };
            match existing {
                Some(res) if res.outcome == outcome && res.explicit.is_none() => {}
                Some(res) => warnings.push(format!(
                    "outcome \"{}\" ignored: run \"{}\" was already resolved as \"{}\"",
                    outcome.as_str(),
                    crate::event::clip(run),
                    res.outcome.as_str()
                )),
                None => {
                    let revenue = resolution_revenue(outcome, None, plan);
                    resolution = Some(RunResolution {
                        outcome,
                        explicit: None,
                        revenue,
                        at_ms: p.ts,
                    });
                }
            }
        }
        let outcome_add = Sums {
            outcome_revenue: resolution.map_or(Cents::ZERO, |r| r.revenue),
            ..Sums::default()
        };
        let new_totals = match resolution {
            None => self.totals.checked_sum(&add),
            Some(_) => self
                .totals
                .checked_sum(&add)
                .and_then(|t| t.checked_sum(&outcome_add)),
        };
        let Some(new_totals) = new_totals else {
            return overflow();
        };

        // Commit: nothing below can fail.
        self.totals = new_totals;
        let names = &mut self.names;
        let customer = names.intern_known(ids[0], p.customer);
        let run = p.run.map_or(0, |s| names.intern_known(ids[1], s));
        let key = CellKey {
            day: day_of_ms(p.ts) as i32,
            customer,
            run,
            agent: e.agent_id.map_or(0, |s| names.intern_known(ids[2], s)),
            model: e.model.map_or(0, |s| names.intern_known(ids[3], s)),
            provider: e.provider.map_or(0, |s| names.intern_known(ids[4], s)),
        };
        self.cells.entry(key).or_default().add(&add);
        let c = match known_customer.take() {
            Some(c) => c,
            None => self.customers.entry(customer).or_default(),
        };
        c.sums.add(&add);
        if resolution.is_some() {
            c.sums.add(&outcome_add);
        }
        book_flow(
            c,
            key.agent,
            i64::from(key.day),
            &Flow {
                cost: add.cost,
                revenue: plus(add.usage_revenue, outcome_add.outcome_revenue),
                events: 1,
            },
        );
        if run != 0 {
            let r = self.runs.entry((customer, run)).or_insert_with(|| {
                c.runs.count(RunStatus::Open);
                Run::default()
            });
            r.sums.add(&add);
            if let Some(res) = resolution {
                r.sums.add(&outcome_add);
                c.runs.uncount(RunStatus::Open);
                c.runs.count(RunStatus::of(Some(&res)));
                r.resolution = Some(res);
                let rk = CellKey {
                    day: key.day,
                    customer,
                    run,
                    ..CellKey::default()
                };
                self.cells.entry(rk).or_default().add(&outcome_add);
            }
        }
        if let Some((v, digest)) = vacancy {
            self.dedupe.fill(v, digest, minute_of_ms(p.ts), cutoff);
        }
        // The parts never exceed their whole: a customer's events within the ledger's, a
        // run's within its customer's.
        debug_assert!(
            self.customers
                .get(&customer)
                .is_some_and(|c| c.sums.events <= self.totals.events
                    && (run == 0
                        || self
                            .runs
                            .get(&(customer, run))
                            .is_some_and(|r| r.sums.events <= c.sums.events))),
            "book sums inconsistent after applying an event"
        );
        self.advance_clock(p.ts, p.now_ms.saturating_add(super::MAX_FUTURE_SKEW_MS));
        IngestResult::Accepted(Accepted {
            cost_cents: price.cost_cents,
            revenue_cents: plus(usage_revenue, outcome_add.outcome_revenue),
            snapshot: Some(price.snapshot),
            priced: price.priced,
            reason: price.reason,
            warnings,
        })
    }

    /// Applies one resolution.
    /// A resolution without a timestamp is dated at the ledger clock (the latest event it saw),
    /// else at `now_ms`.
    pub fn apply_resolution(&mut self, r: &Resolution, now_ms: i64, cap_ms: i64) -> IngestResult {
        let ts = r
            .timestamp_ms
            .or_else(|| self.clock(cap_ms))
            .unwrap_or(now_ms);
        let cust = self.names.get(&r.customer_id);
        let run = self.names.get(&r.run_id);
        if let (Some(c), Some(rn)) = (cust, run)
            && let Some(res) = self.runs.get(&(c, rn)).and_then(|x| x.resolution)
        {
            return if res.outcome == r.outcome && res.explicit == r.revenue_unit_cents {
                IngestResult::Duplicate
            } else {
                IngestResult::Conflict {
                    reason: format!(
                        "run \"{}\" was already resolved as \"{}\"{}; the first resolution stands",
                        crate::event::clip(&r.run_id),
                        res.outcome.as_str(),
                        res.explicit
                            .map(|a| format!(" with revenueUnitCents {a}"))
                            .unwrap_or_default()
                    ),
                }
            };
        }
        let plan = self.plan_at(cust, ts);
        let revenue = resolution_revenue(r.outcome, r.revenue_unit_cents, plan);
        let mut warnings = Vec::new();
        if r.outcome != Outcome::Resolved && r.revenue_unit_cents.is_some() {
            warnings.push(format!(
                "revenueUnitCents ignored: a run that is {} earns no revenue",
                r.outcome.as_str()
            ));
        }
        let add = Sums {
            outcome_revenue: revenue,
            ..Sums::default()
        };
        let Some(new_totals) = self.totals.checked_sum(&add) else {
            return overflow();
        };
        self.totals = new_totals;
        let customer = self.names.intern(&r.customer_id);
        let run = self.names.intern(&r.run_id);
        let key = CellKey {
            day: day_of_ms(ts) as i32,
            customer,
            run,
            ..CellKey::default()
        };
        self.cells.entry(key).or_default().add(&add);
        let c = self.customers.entry(customer).or_default();
        c.sums.add(&add);
        book_flow(
            c,
            0,
            i64::from(key.day),
            &Flow {
                cost: Cents::ZERO,
                revenue,
                events: 0,
            },
        );
        let entry = self.runs.entry((customer, run)).or_insert_with(|| {
            c.runs.count(RunStatus::Open);
            Run::default()
        });
        entry.sums.add(&add);
        let res = RunResolution {
            outcome: r.outcome,
            explicit: r.revenue_unit_cents,
            revenue,
            at_ms: ts,
        };
        c.runs.uncount(RunStatus::Open);
        c.runs.count(RunStatus::of(Some(&res)));
        entry.resolution = Some(res);
        self.advance_clock(ts, now_ms.saturating_add(super::MAX_FUTURE_SKEW_MS));
        IngestResult::Accepted(Accepted {
            cost_cents: Cents::ZERO,
            revenue_cents: revenue,
            snapshot: None,
            priced: true,
            reason: None,
            warnings,
        })
    }

    /// Applies one customer upsert.
    /// An upsert without a timestamp takes effect at the ledger clock (the latest event it
    /// saw); before any activity it is in force from the beginning.
    pub fn apply_upsert(&mut self, u: &CustomerUpsert, cap_ms: i64) -> IngestResult {
        let (ts, from_start) = match u.timestamp_ms.or_else(|| self.clock(cap_ms)) {
            Some(ts) => (ts, false),
            None => (0, true),
        };
        let monthly = match &u.plan {
            None => Cents::ZERO,
            Some(p) => match p.monthly_cents(u.seats) {
                Some(m) => m,
                None => return overflow(),
            },
        };
        let id = self.names.get(&u.customer_id);
        if let Some(c) = id.and_then(|id| self.customers.get(&id))
            && let Some(v) = c.version_at(ts)
            && v.same_terms(u.name.as_deref(), u.seats, u.plan.as_ref())
        {
            return IngestResult::Duplicate;
        }
        let id = self.names.intern(&u.customer_id);
        let c = self.customers.entry(id).or_default();
        let at = c.versions.partition_point(|v| v.effective_ms <= ts);
        c.versions.insert(
            at,
            Version {
                effective_ms: ts,
                from_start,
                name: u.name.as_deref().map(Arc::from),
                seats: u.seats,
                plan: u.plan.clone(),
                monthly,
            },
        );
        c.recompute_closed();
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

/// Revenue of a resolution: only `resolved` earns; a named amount beats the plan's
/// `unitRevenueCents`, which counts only on an `outcome_based` plan.
fn resolution_revenue(outcome: Outcome, explicit: Option<Cents>, plan: Option<&Plan>) -> Cents {
    if outcome != Outcome::Resolved {
        return Cents::ZERO;
    }
    match (explicit, plan) {
        (Some(a), _) => a,
        (None, Some(p)) if p.pricing_model == PricingModel::OutcomeBased => p.unit_revenue_cents,
        _ => Cents::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `same_text` against `==` for every length from 0 to 40 bytes, with one byte changed at
    /// every position (and the lengths differing by one).
    #[test]
    fn same_text_is_string_equality() {
        for n in 0..=40usize {
            let a: String = (0..n).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            assert!(same_text(&a, &a.clone()), "{a}");
            for i in 0..n {
                let mut b = a.clone().into_bytes();
                b[i] = b'#';
                let b = String::from_utf8(b).unwrap();
                assert!(!same_text(&a, &b), "{a} vs {b}");
            }
            let longer = format!("{a}z");
            assert!(!same_text(&a, &longer), "{a} vs {longer}");
            assert!(!same_text(&longer, &a), "{longer} vs {a}");
        }
    }

    /// `find` answers exactly what `get` answers, with more names than memo slots (so slots
    /// collide and are overwritten), names never interned, and the empty text (never interned:
    /// id 0 means "none").
    #[test]
    fn find_agrees_with_get() {
        let mut names = Names::default();
        let texts: Vec<String> = (0..3 * RECENT_NAME_SLOTS)
            .map(|i| match i % 3 {
                0 => format!("cust-{i}"),
                1 => format!("run-{i:012}"),
                _ => format!("a-much-longer-agent-name-{i}"),
            })
            .collect();
        for t in texts.iter().step_by(2) {
            names.intern(t);
        }
        for _ in 0..2 {
            for t in texts.iter().chain([&String::new()]) {
                let want = names.get(t);
                // Every other text was interned.
                let interned = texts
                    .iter()
                    .position(|x| x == t)
                    .is_some_and(|i| i % 2 == 0);
                assert_eq!(want.is_some(), interned, "{t}");
                assert_eq!(names.find(t), want, "{t}");
                if let Some(id) = want {
                    assert_eq!(&**names.name(id), t.as_str());
                }
            }
        }
    }
}
