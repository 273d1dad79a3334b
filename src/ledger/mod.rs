//! The ledger: idempotent ingest, customers and plans, runs and outcomes, margin, state
//! (SPEC §6).
//!
//! A [`Ledger`] joins every priced event to revenue. It is `Send + Sync`: ingest takes a short
//! write lock (pricing happens before it), queries a read lock. Every record is applied
//! all-or-nothing: a duplicate, a conflict or a rejection leaves the state exactly as it was.
//!
//! ```
//! use tollgate::engine::{CostSource, PriceResult, SnapshotId};
//! use tollgate::event::Event;
//! use tollgate::ledger::{Clock, IngestResult, Ledger, LedgerConfig, record::Record};
//! use tollgate::money::Cents;
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
//!     reason: None, warnings: vec![] };
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
mod query;
pub mod record;
mod report;
mod state;

pub use book::{RunCounts, RunStatus, TokenTotals};
pub use query::{
    Dimension, Filter, GroupKey, MAX_QUERY_DAYS, Margin, MarginRow, Percent, QueryError,
};
pub use report::{IngestCounts, Report, ReportRun, ReportUnpriced};
pub use state::{MAX_STATE_BYTES, MergeError, STATE_VERSION, StateError};

use crate::engine::{Engine, PriceInput, PriceResult, SnapshotId};
use crate::event::{Event, EventKind, MAX_TIMESTAMP_MS};
use crate::money::Cents;
use book::{Book, EventPrep};
use dedupe::Fingerprint;
use record::{CustomerUpsert, Record, RecordError, Resolution};
use std::fmt;
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use xxhash_rust::xxh3::xxh3_64;

/// Default dedupe window: 24 hours of event time.
pub const DEFAULT_DEDUPE_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;
/// How far past the wall clock an event may move the ledger clock (5 minutes). Later
/// timestamps are accepted and counted but do not move the dedupe window.
pub const MAX_FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;

/// Where "now" comes from: the default timestamp of records without one, and the bound on how
/// far a future timestamp can move the ledger clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A fixed instant (epoch ms), for tests and replays.
    Fixed(i64),
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
    /// False when the event's LLM part could not be priced.
    pub priced: bool,
    /// Pricing and ledger warnings.
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
}

impl RejectKind {
    /// Wire name (`invalid`, `too_late`, `overflow`).
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectKind::Invalid => "invalid",
            RejectKind::TooLate => "too_late",
            RejectKind::Overflow => "overflow",
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

fn invalid(field: &'static str, reason: impl Into<String>) -> IngestResult {
    IngestResult::Rejected(Rejection {
        kind: RejectKind::Invalid,
        field,
        reason: reason.into(),
    })
}

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
/// from any of them. Ingest takes a short write lock; queries, snapshots and reports a read lock,
/// so a snapshot or report is always a consistent cut between whole records.
pub struct Ledger {
    book: RwLock<Book>,
    clock: Clock,
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
        }
    }

    fn from_book(book: Book, clock: Clock) -> Ledger {
        Ledger {
            book: RwLock::new(book),
            clock,
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Book> {
        self.book.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Book> {
        self.book.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The clock this ledger reads "now" from.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The dedupe window in ms (0 = forever).
    pub fn dedupe_window_ms(&self) -> u64 {
        self.read().window_ms
    }

    /// The ledger clock: the latest timestamp of an accepted event or resolution, but never
    /// more than [`MAX_FUTURE_SKEW_MS`] past the wall clock. `None` before the first one.
    pub fn clock_ms(&self) -> Option<i64> {
        self.read().clock(self.clock.now_ms(), MAX_FUTURE_SKEW_MS)
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
        let now = self.clock.now_ms();
        // Price at the same instant the ledger will book.
        let mut input = PriceInput::from_event(event);
        input.timestamp_ms = Some(event.timestamp_ms.unwrap_or(now));
        match engine.price(&input) {
            Ok(price) => self.apply_event(event, &price, now),
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
        self.apply_event(event, price, self.clock.now_ms())
    }

    fn apply_event(&self, event: &Event, price: &PriceResult, now: i64) -> IngestResult {
        let Some(customer) = event.customer_id.as_deref() else {
            return invalid("customerId", "is required by the ledger");
        };
        let ts = event.timestamp_ms.unwrap_or(now);
        if !(0..=MAX_TIMESTAMP_MS).contains(&ts) {
            return invalid("timestamp", "must be between 1970 and 9999");
        }
        if let Err(e) = event.usage.validate() {
            return invalid(e.field, e.to_string());
        }
        let key = event.dedupe_key();
        let run = match (event.run_id.as_deref(), event.outcome, key) {
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
            key: key.map(|k| (Fingerprint::of(k), money_digest(event))),
            now_ms: now,
        };
        self.write().apply_event(&prep, price, MAX_FUTURE_SKEW_MS)
    }

    /// Resolves a run (SPEC §6.4). Same arguments again → duplicate; different → conflict.
    pub fn resolve(&self, r: &Resolution) -> IngestResult {
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
        self.write()
            .apply_resolution(r, self.clock.now_ms(), MAX_FUTURE_SKEW_MS)
    }

    /// Creates or changes a customer (SPEC §6.3); the change applies from its timestamp on.
    /// The same terms as the version already in force → duplicate.
    pub fn upsert_customer(&self, u: &CustomerUpsert) -> IngestResult {
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
        self.write()
            .apply_upsert(u, self.clock.now_ms(), MAX_FUTURE_SKEW_MS)
    }

    /// Applies a parsed record of any type.
    pub fn ingest(&self, engine: &Engine, record: &Record) -> IngestResult {
        match record {
            Record::Event(e) => self.track(engine, e),
            Record::Resolve(r) => self.resolve(r),
            Record::Customer(c) => self.upsert_customer(c),
        }
    }

    /// Parses one JSON Lines record and applies it; a parse error is a rejection.
    pub fn ingest_json(&self, engine: &Engine, line: &[u8]) -> IngestResult {
        match Record::from_json(line) {
            Ok(r) => self.ingest(engine, &r),
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
        e.customer_id.as_deref(),
        e.run_id.as_deref(),
        e.agent_id.as_deref(),
        e.provider.as_deref(),
        e.model.as_deref(),
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
