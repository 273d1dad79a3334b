//! The ledger: idempotent ingest, customers and plans, runs and outcomes, margin, state
//! (docs/reference/ledger.md).
//!
//! A [`Ledger`] joins every priced event to revenue. It is `Send + Sync`: ingest takes a short
//! write lock (pricing happens before it), queries a read lock. Every record is applied
//! all-or-nothing: a duplicate, a conflict or a rejection leaves the state exactly as it was.
//!
//! ```
//! use tollgate_engine::engine::{CostSource, PriceResult, SnapshotId};
//! use tollgate_engine::event::Event;
//! use tollgate_engine::ledger::{Clock, IngestResult, Ledger, LedgerConfig, record::Record};
//! use tollgate_engine::money::Cents;
//!
//! let ledger = Ledger::new(LedgerConfig { clock: Clock::Fixed(1_767_225_600_000), ..LedgerConfig::default() });
//! let customer = Record::from_json(br#"{"type":"customer","customerId":"acme",
//!     "plan":{"pricingModel":"usage_based","unitRevenueCents":5},"ts":"2026-01-01T00:00:00Z"}"#).unwrap();
//! let Record::Customer(c) = customer else { unreachable!() };
//! assert!(matches!(ledger.upsert_customer(&c), IngestResult::Accepted(_)));
//!
//! // An event priced elsewhere (normally `ledger.track(&engine, &event)` prices it).
//! let event = Event::from_json(br#"{"type":"tool","customerId":"acme","externalCostCents":"1.5",
//!     "idempotencyKey":"k1","ts":"2026-01-01T10:00:00Z"}"#).unwrap();
//! let price = PriceResult { cost_cents: Cents::from_cents_literal("1.5", false).unwrap(), priced: true,
//!     source: CostSource::External, model: None, match_kind: None, snapshot: SnapshotId(0),
//!     reason: None, warnings: vec![], web_search_cents: Cents::ZERO };
//! assert!(matches!(ledger.track_priced(&event, &price), IngestResult::Accepted(_)));
//! assert_eq!(ledger.track_priced(&event, &price), IngestResult::Duplicate);
//!
//! let m = ledger.customer_margin("acme").unwrap().unwrap();
//! assert_eq!(m.revenue_cents.to_string(), "5");   // usage_based: 5 × 1 unit
//! assert_eq!(m.margin_cents().to_string(), "3.5");  // 5 − 1.5
//! assert_eq!(m.margin_pct().unwrap().to_string(), "70.00");
//! ```

mod book;
pub mod days;
pub mod dedupe;
pub mod guard;
pub mod policy;
mod query;
pub mod record;
pub(crate) mod replay;
mod report;
mod report_breaches;
mod report_query;
mod state;

pub use book::{RunCounts, RunStatus, TokenTotals};
pub use query::{
    Dimension, Filter, GroupKey, MAX_QUERY_DAYS, Margin, MarginRow, Percent, QueryError,
};
pub use report::{IngestCounts, Report, ReportRun, ReportUnpriced};
pub use report_breaches::ReportBreach;
pub use report_query::{
    FIGURE_COLUMNS, MAX_QUERY_BYTES, QueryReport, ReportQuery, ReportRow, Sort, SortKey, column_of,
    dedup_dims, natural_cmp, parse_dimension, parse_outcome,
};
pub use state::{
    MAX_STATE_BYTES, MergeError, OLDEST_STATE_VERSION, SAVE_LOCK_FILE, STATE_VERSION, StateError,
};

use crate::engine::{Engine, PriceInput, PriceResult, SnapshotId, UnpricedReason};
use crate::event::{Event, EventKind, EventRef, EventView, MAX_TIMESTAMP_MS};
use crate::money::Cents;
use book::{Book, EventPrep, Priced};
use dedupe::Fingerprint;
use record::{CustomerUpsert, Record, RecordError, Resolution};
use std::fmt;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use xxhash_rust::xxh3::xxh3_64;

/// Default dedupe window: 24 hours of event time.
pub const DEFAULT_DEDUPE_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;
/// How far past the wall clock the ledger clock may read (5 minutes): a later timestamp is
/// accepted and counted but does not move the dedupe window past "now + 5 min".
pub const MAX_FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;
/// How far one timestamp beyond the wall clock may move the ledger clock past its last
/// reading (366 days). Farther ones are outliers: accepted and counted, the clock stays. This
/// is what keeps a far-future timestamp from evicting the window of a [`Clock::Log`] replay.
pub const MAX_CLOCK_STEP_MS: i64 = 366 * 24 * 60 * 60 * 1000;

/// Where "now" comes from: the default timestamp of records without one, and the bound on how
/// far a future timestamp can move the ledger clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock (a live service): the ledger clock reads at most
    /// [`MAX_FUTURE_SKEW_MS`] past it.
    #[default]
    System,
    /// A fixed instant (epoch ms), for tests: like `System`, frozen.
    Fixed(i64),
    /// Replaying a log (`tollgate report`): the log's own time. The ledger clock is the
    /// latest plausible timestamp seen, not bounded by the wall clock, so a log dated in the
    /// future accrues subscriptions through its own last day; records without a timestamp are
    /// dated at that clock (the wall clock before the first one). A timestamp later than both
    /// the wall clock and the ledger clock plus [`MAX_CLOCK_STEP_MS`] does not move it.
    Log,
}

impl Clock {
    /// The current instant in epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_millis()).unwrap_or(MAX_TIMESTAMP_MS))
                .unwrap_or(0)
                .clamp(0, MAX_TIMESTAMP_MS),
            Clock::Fixed(ms) => *ms,
            Clock::Log => Clock::System.now_ms(),
        }
    }
}

/// Configuration of a new ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LedgerConfig {
    /// Dedupe window in milliseconds of event time; `0` keeps keys forever. Saved in the state.
    pub dedupe_window_ms: u64,
    /// The clock.
    pub clock: Clock,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            dedupe_window_ms: DEFAULT_DEDUPE_WINDOW_MS,
            clock: Clock::System,
        }
    }
}

/// What happened to a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IngestResult {
    /// Applied.
    Accepted(Accepted),
    /// Seen before with the same content: nothing changed.
    Duplicate,
    /// Seen before with different money-relevant content: nothing changed; the first stands.
    Conflict {
        /// What conflicted.
        reason: String,
    },
    /// Not applied: nothing changed.
    Rejected(Rejection),
}

/// Details of an accepted record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Cost booked (0 for resolutions and customer upserts).
    pub cost_cents: Cents,
    /// Revenue booked at ingest: the event's usage revenue plus any resolution revenue.
    /// Subscription revenue accrues by day and is not part of any single record.
    pub revenue_cents: Cents,
    /// The rate-card snapshot that priced an event; `None` for other records.
    pub snapshot: Option<SnapshotId>,
    /// False when the event's LLM part could not be priced (`reason` says why).
    pub priced: bool,
    /// Why the event's LLM part is unpriced (as [`PriceResult::reason`]); `None` when priced
    /// and for records other than events.
    pub reason: Option<UnpricedReason>,
    /// Pricing and ledger warnings (the pricing ones are those [`Engine::price`] gives).
    pub warnings: Vec<String>,
}

/// Why a record was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectKind {
    /// Malformed or invalid input.
    Invalid,
    /// A keyed event older than the dedupe window: it could not be deduplicated safely.
    TooLate,
    /// A total would leave the exact range of [`Cents`].
    Overflow,
    /// A panic interrupted an earlier update of this ledger, so its state may be half
    /// applied: every later change (and every save) is refused. Restore a saved state or
    /// replay the journal into a new ledger.
    Poisoned,
}

impl RejectKind {
    /// Wire name (`invalid`, `too_late`, `overflow`, `poisoned`).
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectKind::Invalid => "invalid",
            RejectKind::TooLate => "too_late",
            RejectKind::Overflow => "overflow",
            RejectKind::Poisoned => "poisoned",
        }
    }
}

/// A rejection with a precise error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The kind of rejection.
    pub kind: RejectKind,
    /// The offending field (camelCase, dotted when nested) or `""` for the whole record.
    pub field: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, self.field.is_empty()) {
            (RejectKind::Invalid, true) => f.write_str(&self.reason),
            (RejectKind::Invalid, false) => write!(f, "{}: {}", self.field, self.reason),
            (k, true) => write!(f, "{}: {}", k.as_str(), self.reason),
            (k, false) => write!(f, "{}: {}: {}", k.as_str(), self.field, self.reason),
        }
    }
}

impl From<RecordError> for Rejection {
    fn from(e: RecordError) -> Rejection {
        Rejection {
            kind: RejectKind::Invalid,
            field: e.field,
            reason: e.reason,
        }
    }
}

/// The refusal of a ledger whose lock a panic poisoned.
fn poisoned() -> Rejection {
    Rejection {
        kind: RejectKind::Poisoned,
        field: "",
        reason: POISONED.to_string(),
    }
}

/// Why a poisoned ledger refuses changes.
const POISONED: &str = "the ledger is unusable: a panic interrupted an update, so its state may be half applied; restore a saved state or replay the journal";

fn invalid(field: &'static str, reason: impl Into<String>) -> IngestResult {
    IngestResult::Rejected(Rejection {
        kind: RejectKind::Invalid,
        field,
        reason: reason.into(),
    })
}

/// Told an accepted event as the ledger booked it (see [`Ledger::ingest_json_booked`]).
pub(crate) type Sink<'s> = &'s mut dyn FnMut(&replay::PricedEvent<'_>);

/// Statistics of the dedupe table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DedupeStats {
    /// Keys stored (live, or expired and not yet dropped).
    pub keys: usize,
    /// Heap bytes held by the table.
    pub heap_bytes: usize,
}

/// The ledger. See the [module documentation](self).
///
/// `Send + Sync`: share one ledger between threads (e.g. behind an `Arc`) and call any method
/// from any of them. Ingest takes a short write lock; queries, state saves and reports a read lock,
/// so saved state or a report is always a consistent cut between whole records.
pub struct Ledger {
    book: RwLock<Book>,
    clock: Clock,
    /// Set when a [`crate::store::Store`] owns this ledger: [`Ledger::settle`] is refused
    /// (it would track without journaling); `Store::settle` is the durable one.
    journaled: std::sync::atomic::AtomicBool,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::new(LedgerConfig::default())
    }
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.read();
        f.debug_struct("Ledger")
            .field("customers", &b.customers.len())
            .field("runs", &b.runs.len())
            .field("keys", &b.dedupe.len())
            .finish()
    }
}

impl Ledger {
    /// An empty ledger.
    pub fn new(config: LedgerConfig) -> Ledger {
        Ledger {
            book: RwLock::new(Book {
                window_ms: config.dedupe_window_ms,
                ..Book::default()
            }),
            clock: config.clock,
            journaled: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn from_book(book: Book, clock: Clock) -> Ledger {
        Ledger {
            book: RwLock::new(book),
            clock,
            journaled: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Marks the ledger as owned by a store (see the field).
    pub(crate) fn mark_journaled(&self) {
        self.journaled
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// True when a [`crate::store::Store`] owns this ledger.
    pub(crate) fn is_journaled(&self) -> bool {
        self.journaled.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn read(&self) -> RwLockReadGuard<'_, Book> {
        self.book.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The book for an update, or the refusal when a panic interrupted an earlier update
    /// (the lock is poisoned: the book may be half applied).
    fn write(&self) -> Result<RwLockWriteGuard<'_, Book>, Rejection> {
        self.book.write().map_err(|_| poisoned())
    }

    /// True once a panic interrupted an update of this ledger: from then on every change and
    /// every save is refused ([`RejectKind::Poisoned`]); reads still answer from the state
    /// as the panic left it.
    pub fn is_poisoned(&self) -> bool {
        self.book.is_poisoned()
    }

    /// The clock this ledger reads "now" from.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The dedupe window in ms (0 = forever).
    pub fn dedupe_window_ms(&self) -> u64 {
        self.read().window_ms
    }

    /// The ledger clock: the latest plausible timestamp of an accepted event or resolution,
    /// never more than [`MAX_FUTURE_SKEW_MS`] past the wall clock except under [`Clock::Log`].
    /// `None` before the first one.
    pub fn clock_ms(&self) -> Option<i64> {
        self.read().clock(self.clock_cap_ms())
    }

    /// The latest instant the ledger clock may read now.
    fn clock_cap_ms(&self) -> i64 {
        self.clock_cap_at(self.clock.now_ms())
    }

    /// The latest instant the ledger clock may read at wall time `now_ms`.
    fn clock_cap_at(&self, now_ms: i64) -> i64 {
        match self.clock {
            Clock::Log => i64::MAX,
            _ => now_ms.saturating_add(MAX_FUTURE_SKEW_MS),
        }
    }

    /// The timestamp of a record that has none: the wall clock (`System`, `Fixed`) or, when
    /// replaying a log, the ledger clock.
    fn default_ts_ms(&self, now_ms: i64) -> i64 {
        match self.clock {
            Clock::Log => self.read().clock_ms.unwrap_or(now_ms),
            _ => now_ms,
        }
    }

    /// Size of the dedupe table.
    pub fn dedupe_stats(&self) -> DedupeStats {
        let b = self.read();
        DedupeStats {
            keys: b.dedupe.len(),
            heap_bytes: b.dedupe.heap_bytes(),
        }
    }

    /// Prices an event with `engine` (the snapshot in force at its timestamp) and applies it.
    pub fn track(&self, engine: &Engine, event: &Event) -> IngestResult {
        self.track_view(engine, &event.view())
    }

    /// [`Ledger::track`] for an event parsed without copying its text.
    pub fn track_ref(&self, engine: &Engine, event: &EventRef<'_>) -> IngestResult {
        self.track_view(engine, &event.view())
    }

    fn track_view(&self, engine: &Engine, event: &EventView<'_>) -> IngestResult {
        self.track_view_at(engine, event, self.clock.now_ms(), None)
    }

    /// Prices and applies an event at wall time `now`; `sink` is told the accepted event as
    /// booked (what a journal replays without parsing or pricing it again).
    fn track_view_at(
        &self,
        engine: &Engine,
        event: &EventView<'_>,
        now: i64,
        sink: Option<Sink<'_>>,
    ) -> IngestResult {
        // Price at the same instant the ledger will book.
        let ts = match event.timestamp_ms {
            Some(ts) => ts,
            None => self.default_ts_ms(now),
        };
        let mut input = PriceInput::from_view(event);
        input.timestamp_ms = Some(ts);
        match engine.price_cost_and_savings(&input) {
            Ok((c, savings_cents)) => {
                let price = Priced {
                    cost_cents: c.cost_cents,
                    savings_cents,
                    priced: c.priced,
                    reason: c.reason,
                    snapshot: c.snapshot,
                    warnings: crate::engine::ingest_warnings(engine, &input, &c),
                };
                // Pricing succeeded, so the counts are valid (`price_cost` checked them).
                self.apply_event(event, price, now, ts, false, sink)
            }
            Err(e) => {
                let field = match &e {
                    crate::engine::PriceError::InvalidUsage(c) => c.field,
                    crate::engine::PriceError::MissingModel => "model",
                    crate::engine::PriceError::Overflow => "",
                };
                let kind = match e {
                    crate::engine::PriceError::Overflow => RejectKind::Overflow,
                    _ => RejectKind::Invalid,
                };
                IngestResult::Rejected(Rejection {
                    kind,
                    field,
                    reason: e.to_string(),
                })
            }
        }
    }

    /// Applies an event its caller already priced with [`Engine::price`] (for callers that
    /// price in batches). The ledger books `price.cost_cents` as the event's cost.
    pub fn track_priced(&self, event: &Event, price: &PriceResult) -> IngestResult {
        let price = Priced {
            cost_cents: price.cost_cents,
            // The caller priced the event: what its cache reads would have cost is unknown.
            savings_cents: Cents::ZERO,
            priced: price.priced,
            reason: price.reason,
            snapshot: price.snapshot,
            warnings: price.warnings.clone(),
        };
        let now = self.clock.now_ms();
        let ts = match event.timestamp_ms {
            Some(ts) => ts,
            None => self.default_ts_ms(now),
        };
        self.apply_event(&event.view(), price, now, ts, true, None)
    }

    /// Applies a priced event dated `ts` (its own timestamp or the default) at wall time `now`;
    /// `check_usage` is false when pricing already validated the counts.
    fn apply_event(
        &self,
        event: &EventView<'_>,
        price: Priced,
        now: i64,
        ts: i64,
        check_usage: bool,
        sink: Option<Sink<'_>>,
    ) -> IngestResult {
        let Some(customer) = event.customer_id else {
            return invalid("customerId", "is required by the ledger");
        };
        if !(0..=MAX_TIMESTAMP_MS).contains(&ts) {
            return invalid("timestamp", "must be between 1970 and 9999");
        }
        if check_usage && let Err(e) = event.usage.validate() {
            return invalid(e.field, e.to_string());
        }
        let key = event.dedupe_key();
        let run = match (event.run_id, event.outcome, key) {
            (Some(r), _, _) => Some(r),
            (None, Some(_), Some(k)) => Some(k),
            (None, Some(_), None) => {
                return invalid(
                    "outcome",
                    "a single-call run needs a runId (or an idempotencyKey / responseId to name it)",
                );
            }
            (None, None, _) => None,
        };
        let prep = EventPrep {
            event,
            customer,
            run,
            ts,
            key: key.map(|k| (Fingerprint::of(k), digest(event))),
            now_ms: now,
        };
        // The wall time this record was priced at: no second clock read.
        match self.write() {
            Ok(mut b) => {
                #[cfg(any(test, feature = "test-hooks"))]
                crate::test_hooks::hit(crate::test_hooks::Site::LedgerApply);
                let booked = sink.map(|s| (s, replay::PricedEvent::booked(&prep, &price)));
                let r = b.apply_event(&prep, price, self.clock_cap_at(now));
                if let (IngestResult::Accepted(_), Some((s, pe))) = (&r, booked) {
                    s(&pe);
                }
                r
            }
            Err(r) => IngestResult::Rejected(r),
        }
    }

    /// Resolves a run (docs/reference/ledger.md (runs)). Same arguments again → duplicate; different → conflict.
    pub fn resolve(&self, r: &Resolution) -> IngestResult {
        self.resolve_at(r, self.clock.now_ms())
    }

    fn resolve_at(&self, r: &Resolution, now: i64) -> IngestResult {
        if let Err(e) = record::check_id("customerId", &r.customer_id)
            .and_then(|_| record::check_id("runId", &r.run_id))
        {
            return IngestResult::Rejected(e.into());
        }
        if let Some(a) = r.revenue_unit_cents
            && let Err(e) = record::check_plan_amount("revenueUnitCents", a)
        {
            return IngestResult::Rejected(e.into());
        }
        if let Some(ts) = r.timestamp_ms
            && !(0..=MAX_TIMESTAMP_MS).contains(&ts)
        {
            return invalid("timestamp", "must be between 1970 and 9999");
        }
        match self.write() {
            Ok(mut b) => b.apply_resolution(r, now, self.clock_cap_at(now)),
            Err(r) => IngestResult::Rejected(r),
        }
    }

    /// Creates or changes a customer (docs/reference/ledger.md (customers and plans)); the change applies from its timestamp on.
    /// The same terms as the version already in force → duplicate.
    pub fn upsert_customer(&self, u: &CustomerUpsert) -> IngestResult {
        self.upsert_customer_at(u, self.clock.now_ms())
    }

    fn upsert_customer_at(&self, u: &CustomerUpsert, now: i64) -> IngestResult {
        if let Err(e) = record::check_id("customerId", &u.customer_id) {
            return IngestResult::Rejected(e.into());
        }
        if u.seats > record::MAX_SEATS {
            return invalid(
                "seats",
                format!(
                    "{} exceeds the limit of {} seats",
                    u.seats,
                    record::MAX_SEATS
                ),
            );
        }
        if let Some(p) = &u.plan {
            for (field, c) in [
                ("plan.unitRevenueCents", p.unit_revenue_cents),
                ("plan.seatPriceCents", p.seat_price_cents),
                ("plan.monthlyFeeCents", p.monthly_fee_cents),
            ] {
                if let Err(e) = record::check_plan_amount(field, c) {
                    return IngestResult::Rejected(e.into());
                }
            }
        }
        if let Some(ts) = u.timestamp_ms
            && !(0..=MAX_TIMESTAMP_MS).contains(&ts)
        {
            return invalid("timestamp", "must be between 1970 and 9999");
        }
        match self.write() {
            Ok(mut b) => b.apply_upsert(u, self.clock_cap_at(now)),
            Err(r) => IngestResult::Rejected(r),
        }
    }

    /// Applies a parsed record of any type.
    pub fn ingest(&self, engine: &Engine, record: &Record) -> IngestResult {
        self.ingest_at(engine, record, self.clock.now_ms())
    }

    /// [`Ledger::ingest`] as if the wall clock read `now_ms` (epoch ms): the instant a record
    /// without a timestamp is dated at, and the bound on how far the ledger clock may move.
    /// Replaying a journal passes each record's original instant, so the replay decides
    /// exactly as the first run did.
    ///
    /// ```
    /// use tollgate_engine::engine::Engine;
    /// use tollgate_engine::ledger::{IngestResult, Ledger, record::Record};
    /// let ledger = Ledger::default();
    /// let r = Record::from_json(br#"{"type":"customer","customerId":"acme"}"#).unwrap();
    /// let now_ms = 1_767_225_600_000; // 2026-01-01T00:00:00Z
    /// assert!(matches!(ledger.ingest_at(&Engine::embedded(), &r, now_ms), IngestResult::Accepted(_)));
    /// ```
    pub fn ingest_at(&self, engine: &Engine, record: &Record, now_ms: i64) -> IngestResult {
        match record {
            Record::Event(e) => self.track_view_at(engine, &e.view(), now_ms, None),
            Record::Resolve(r) => self.resolve_at(r, now_ms),
            Record::Customer(c) => self.upsert_customer_at(c, now_ms),
            Record::Policy(p) => self.upsert_policy_at(p, now_ms),
        }
    }

    /// Parses one JSON Lines record and applies it; a parse error is a rejection. The same as
    /// [`Record::from_json`] then [`Ledger::ingest`], without copying an event's text.
    pub fn ingest_json(&self, engine: &Engine, line: &[u8]) -> IngestResult {
        self.ingest_json_at(engine, line, self.clock.now_ms())
    }

    /// [`Ledger::ingest_json`] as if the wall clock read `now_ms` (see [`Ledger::ingest_at`]).
    pub fn ingest_json_at(&self, engine: &Engine, line: &[u8], now_ms: i64) -> IngestResult {
        self.ingest_json_booked(engine, line, now_ms, None)
    }

    /// [`Ledger::ingest_json_at`] that tells `sink` an accepted event as booked (not called
    /// for other record types, nor for an event that is not accepted).
    pub(crate) fn ingest_json_booked(
        &self,
        engine: &Engine,
        line: &[u8],
        now_ms: i64,
        sink: Option<Sink<'_>>,
    ) -> IngestResult {
        // Events are the common case; any other line takes the general path, which also
        // gives the error (the record-size limit is checked first, as there).
        if line.len() <= record::MAX_RECORD_BYTES
            && let Ok(e) = EventRef::from_json(line)
        {
            return self.track_view_at(engine, &e.view(), now_ms, sink);
        }
        match Record::from_json(line) {
            Ok(r) => self.ingest_at(engine, &r, now_ms),
            Err(e) => IngestResult::Rejected(e.into()),
        }
    }
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Ledger>();
};

/// 32-bit digest of an event's money-relevant fields: everything that decides its cost, its
/// revenue or where they are attributed. Not the timestamp, the idempotency key, the response id
/// (a provider retry gets a new one) or `reportedCostCents` (audit only).
///
/// The fields are written into one stack buffer with an unambiguous encoding (tags, lengths,
/// a bitmap of the non-zero counts) and hashed once with xxh3-64; a text longer than 64 bytes
/// contributes its own xxh3-64 instead of its bytes, which keeps the buffer bounded.
pub fn money_digest(e: &Event) -> u32 {
    digest(&e.view())
}

fn digest(e: &EventView<'_>) -> u32 {
    const INLINE_TEXT: usize = 64;
    // The longest encoding, plus one word of slack: texts are copied 8 bytes at a time.
    const CAP: usize = 8 + 2 + 12 * 8 + 7 * (2 + INLINE_TEXT) + 3 * 16 + 8 + 8;
    let mut buf = [0u8; CAP];
    let kind = match e.kind {
        EventKind::Llm => 1u8,
        EventKind::Tool => 2,
        EventKind::Retrieval => 3,
        EventKind::Truncated => 4,
    };
    let outcome = e.outcome.map_or(0, |o| 1 + o as u8);
    let amounts = [
        e.provider_cost_cents,
        e.external_cost_cents,
        e.revenue_unit_cents,
    ];
    let present = u8::from(amounts[0].is_some())
        | (u8::from(amounts[1].is_some()) << 1)
        | (u8::from(amounts[2].is_some()) << 2);
    buf[..4].copy_from_slice(&[kind, e.usage.service_tier as u8, outcome, present]);
    let u = e.usage;
    // The order of `Usage::counts`.
    let counts = [
        u.tokens_in,
        u.cached_tokens,
        u.cache_write_5m_tokens,
        u.cache_write_1h_tokens,
        u.audio_tokens_in,
        u.image_tokens_in,
        u.tokens_out,
        u.reasoning_tokens,
        u.audio_tokens_out,
        u.image_tokens_out,
        u.web_search_requests,
        u.tool_calls,
    ];
    let mut nonzero = 0u16;
    for (i, v) in counts.iter().enumerate() {
        nonzero |= u16::from(*v != 0) << i;
    }
    buf[4..6].copy_from_slice(&nonzero.to_le_bytes());
    let mut n = 6;
    // Branch-free: every count is written, and only a non-zero one is kept (the next write
    // lands on a zero one).
    for v in counts {
        buf[n..n + 8].copy_from_slice(&v.to_le_bytes());
        n += 8 * usize::from(v != 0);
    }
    for t in [
        e.customer_id,
        e.run_id,
        e.agent_id,
        e.provider,
        e.model,
        e.usage.inference_geo.as_deref(),
        e.usage.speed.as_deref(),
    ] {
        match t {
            None => {
                buf[n] = 0;
                n += 1;
            }
            Some(s) if s.len() <= INLINE_TEXT => {
                buf[n] = 1;
                buf[n + 1] = s.len() as u8;
                n += 2;
                // Whole words; the last one zero-padded (the next field overwrites the pad).
                for word in s.as_bytes().chunks(8) {
                    buf[n..n + 8].copy_from_slice(&crate::namehash::load8(word).to_le_bytes());
                    n += word.len();
                }
            }
            Some(s) => {
                buf[n] = 2;
                buf[n + 1..n + 9].copy_from_slice(&xxh3_64(s.as_bytes()).to_le_bytes());
                n += 9;
            }
        }
    }
    for a in amounts.iter().flatten() {
        buf[n..n + 16].copy_from_slice(&a.raw().to_le_bytes());
        n += 16;
    }
    buf[n..n + 8].copy_from_slice(&e.units.to_le_bytes());
    n += 8;
    xxh3_64(&buf[..n]) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Outcome};
    use crate::usage::{ServiceTier, Usage};

    /// A panic while the book is locked for an update poisons the ledger: every later change
    /// and every save is refused with `RejectKind::Poisoned`, nothing more is applied, and
    /// reads still answer from the state the panic left.
    #[test]
    fn a_panic_mid_update_makes_the_ledger_refuse_changes() {
        let engine = Engine::embedded();
        let l = Ledger::new(LedgerConfig {
            clock: Clock::Fixed(1_767_225_600_000),
            ..LedgerConfig::default()
        });
        let event = br#"{"customerId":"c","provider":"openai","model":"gpt-4o","tokensIn":1000,"idempotencyKey":"k1"}"#;
        assert!(matches!(
            l.ingest_json(&engine, event),
            IngestResult::Accepted(_)
        ));
        assert!(!l.is_poisoned());
        // The deliberate panic: a thread holding the write lock (as `apply_event` does) panics.
        std::thread::scope(|s| {
            let r = s
                .spawn(|| {
                    let _book = l.book.write().unwrap();
                    panic!("deliberate panic mid-update");
                })
                .join();
            assert!(r.is_err());
        });
        assert!(l.is_poisoned());
        let refused = |r: IngestResult| match r {
            IngestResult::Rejected(rej) => {
                assert_eq!((rej.kind, rej.field), (RejectKind::Poisoned, ""));
                assert!(
                    rej.reason.contains("a panic interrupted an update"),
                    "{rej}"
                );
            }
            other => panic!("not refused: {other:?}"),
        };
        let e2 = br#"{"customerId":"c","provider":"openai","model":"gpt-4o","tokensIn":1000,"idempotencyKey":"k2"}"#;
        refused(l.ingest_json(&engine, e2));
        refused(l.ingest_json(
            &engine,
            br#"{"type":"resolve","customerId":"c","runId":"r","outcome":"resolved"}"#,
        ));
        refused(l.ingest_json(&engine, br#"{"type":"customer","customerId":"d"}"#));
        assert_eq!(l.expire_reservations(i64::MAX), 0);
        let dir = tempfile::tempdir().unwrap();
        match l.save(&dir.path().join("state")) {
            Err(StateError::Invalid(m)) => {
                assert!(m.contains("a panic interrupted an update"), "{m}")
            }
            other => panic!("save not refused: {other:?}"),
        }
        assert!(!dir.path().join("state").exists());
        // Reads answer from what was applied before: one event of 1000 × 2.5e-06 USD = 0.25 cents.
        let m = l.customer_margin("c").unwrap().unwrap();
        assert_eq!(
            (m.events, m.cost_cents.to_string()),
            (1, "0.25".to_string())
        );
    }

    /// The digest as first written (its value is part of state format 1): the fast version
    /// must give the same value for every event.
    fn digest_reference(e: &EventView<'_>) -> u32 {
        const INLINE_TEXT: usize = 64;
        const CAP: usize = 8 + 2 + 12 * 8 + 7 * (2 + INLINE_TEXT) + 3 * 16 + 8;
        let mut buf = [0u8; CAP];
        let mut n = 0;
        let mut put = |bytes: &[u8]| {
            buf[n..n + bytes.len()].copy_from_slice(bytes);
            n += bytes.len();
        };
        let kind = match e.kind {
            EventKind::Llm => 1u8,
            EventKind::Tool => 2,
            EventKind::Retrieval => 3,
            EventKind::Truncated => 4,
        };
        let outcome = e.outcome.map_or(0, |o| 1 + o as u8);
        let amounts = [
            e.provider_cost_cents,
            e.external_cost_cents,
            e.revenue_unit_cents,
        ];
        let present = amounts
            .iter()
            .enumerate()
            .fold(0u8, |m, (i, a)| m | (u8::from(a.is_some()) << i));
        put(&[kind, e.usage.service_tier as u8, outcome, present]);
        let counts = e.usage.counts();
        let nonzero = counts
            .iter()
            .enumerate()
            .fold(0u16, |m, (i, (_, v))| m | (u16::from(*v != 0) << i));
        put(&nonzero.to_le_bytes());
        for (_, v) in counts.iter().filter(|(_, v)| *v != 0) {
            put(&v.to_le_bytes());
        }
        for t in [
            e.customer_id,
            e.run_id,
            e.agent_id,
            e.provider,
            e.model,
            e.usage.inference_geo.as_deref(),
            e.usage.speed.as_deref(),
        ] {
            match t {
                None => put(&[0]),
                Some(s) if s.len() <= INLINE_TEXT => {
                    put(&[1, s.len() as u8]);
                    put(s.as_bytes());
                }
                Some(s) => {
                    put(&[2]);
                    put(&xxh3_64(s.as_bytes()).to_le_bytes());
                }
            }
        }
        for a in amounts.iter().flatten() {
            put(&a.raw().to_le_bytes());
        }
        put(&e.units.to_le_bytes());
        xxh3_64(&buf[..n]) as u32
    }

    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn text(&mut self) -> Option<String> {
            let r = self.next();
            match r % 5 {
                0 => None,
                1 => Some("x".repeat((r >> 8) as usize % 9)),
                2 => Some("é".repeat((r >> 8) as usize % 40)),
                3 => Some("k".repeat(60 + (r >> 8) as usize % 10)),
                _ => Some(format!("name-{}", r >> 20)),
            }
        }
        fn count(&mut self) -> u64 {
            match self.next() % 3 {
                0 => 0,
                _ => self.next() >> (self.next() % 64),
            }
        }
        fn amount(&mut self) -> Option<Cents> {
            (self.next() % 2 == 1).then(|| Cents::from_raw(i128::from(self.next())))
        }
    }

    #[test]
    fn digest_equals_the_reference_encoding() {
        let mut g = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let r = g.next();
            let e = Event {
                kind: [EventKind::Llm, EventKind::Tool, EventKind::Retrieval][(r % 3) as usize],
                customer_id: g.text(),
                run_id: g.text(),
                agent_id: g.text(),
                provider: g.text(),
                model: g.text(),
                usage: Usage {
                    tokens_in: g.count(),
                    cached_tokens: g.count(),
                    cache_write_5m_tokens: g.count(),
                    cache_write_1h_tokens: g.count(),
                    audio_tokens_in: g.count(),
                    image_tokens_in: g.count(),
                    tokens_out: g.count(),
                    reasoning_tokens: g.count(),
                    audio_tokens_out: g.count(),
                    image_tokens_out: g.count(),
                    web_search_requests: g.count(),
                    tool_calls: g.count(),
                    service_tier: [ServiceTier::Standard, ServiceTier::Flex, ServiceTier::Batch]
                        [(r >> 13) as usize % 3],
                    inference_geo: g.text().map(String::into_boxed_str),
                    speed: g.text().map(String::into_boxed_str),
                },
                provider_cost_cents: g.amount(),
                external_cost_cents: g.amount(),
                revenue_unit_cents: g.amount(),
                units: g.next() % 7,
                outcome: [None, Some(Outcome::Resolved), Some(Outcome::Failed)]
                    [(r >> 17) as usize % 3],
                ..Event::default()
            };
            assert_eq!(digest(&e.view()), digest_reference(&e.view()), "{e:?}");
        }
    }
}
