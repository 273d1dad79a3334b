//! The pricing engine: rate-card snapshot history behind `arc-swap`, overrides, and the price
//! entry points (SPEC §3.2, §4).
//!
//! An [`Engine`] holds every published [`Snapshot`] ordered by `effectiveFrom`. A price call
//! loads the current state once (one `arc-swap` load), picks the snapshot in force at the
//! event's timestamp (events older than the earliest snapshot use the earliest), looks the
//! model up and computes the exact cost. Publishing swaps the state atomically; readers never block
//! and never see a half-built card. Per-model overrides live beside the history and survive
//! every swap.
//!
//! ```
//! use tollgate_engine::engine::{Engine, PriceInput, MatchKind};
//! use tollgate_engine::usage::Usage;
//!
//! let engine = Engine::embedded();
//! let usage = Usage { tokens_in: 1_000_000, ..Usage::default() };
//! let r = engine.price(&PriceInput::llm(Some("bedrock"), "us.anthropic.claude-sonnet-4-6", &usage)).unwrap();
//! // Registry: input_cost_per_token = 3.3e-06 USD; 1,000,000 × 3.3e-06 USD = 3.30 USD = 330 cents.
//! assert_eq!(r.cost_cents.to_string(), "330");
//! assert!(r.priced);
//! assert_eq!(r.match_kind, Some(MatchKind::Exact));
//! ```

use crate::event::{Event, EventKind, EventRef, EventView};
pub use crate::lookup::MatchKind;
use crate::lookup::{self, Index};
use crate::money::Cents;
use crate::pricing::{Calc, PriceTable};
pub use crate::ratecard::SnapshotId;
use crate::ratecard::{RateCard, RateCardError, SnapshotDiff};
use crate::usage::Usage;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// Where the cost of a result came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CostSource {
    /// Token counts × the rate card (or an override).
    RateCard,
    /// `providerCostCents` used verbatim.
    Provider,
    /// A non-LLM event (`tool`, `retrieval`): only `externalCostCents`.
    External,
    /// Nothing priced it (see [`UnpricedReason`]).
    Unpriced,
}

/// Why an event is unpriced (costs 0 but is *not* a real $0 price).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnpricedReason {
    /// The model name matches no registry entry.
    UnknownModel,
    /// The entry exists but has no token prices (priced per second, per image, …).
    NoTokenPrice,
}

/// The result of pricing one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceResult {
    /// Total cost in cents: the LLM cost (rate card or provider-stated) plus
    /// `externalCostCents`. Exact.
    pub cost_cents: Cents,
    /// False when the LLM part could not be priced (`reason` says why).
    pub priced: bool,
    /// Where the cost came from.
    pub source: CostSource,
    /// The registry key (or override name) found, `None` when the name matched nothing.
    pub model: Option<Arc<str>>,
    /// How the model matched, `None` when the name matched nothing.
    pub match_kind: Option<MatchKind>,
    /// The snapshot that priced the event.
    pub snapshot: SnapshotId,
    /// Why it is unpriced.
    pub reason: Option<UnpricedReason>,
    /// Warnings, e.g. inconsistent usage (`reasoningTokens > tokensOut`).
    pub warnings: Vec<String>,
}

impl PriceResult {
    /// Appends the result as one JSON object (no newline), the wire form of `tollgate price`
    /// and of the C ABI's JSON price path: camelCase, the amount an exact decimal string of
    /// cents, the snapshot id as 16 hex digits, absent values as `null`.
    ///
    /// ```
    /// use tollgate_engine::engine::{Engine, PriceInput};
    /// use tollgate_engine::usage::Usage;
    ///
    /// let engine = Engine::embedded();
    /// // gpt-4o: $2.50 per million input tokens = 0.00025 cents per token.
    /// let usage = Usage { tokens_in: 1_000, ..Usage::default() };
    /// let r = engine.price(&PriceInput::llm(Some("openai"), "gpt-4o", &usage))?;
    /// let json = r.to_json();
    /// assert!(json.starts_with(r#"{"costCents":"0.25","priced":true,"model":"gpt-4o","snapshot":""#));
    /// assert!(json.ends_with(r#""reason":null,"warnings":[],"match":"exact","source":"ratecard"}"#));
    /// # Ok::<(), tollgate_engine::engine::PriceError>(())
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use crate::json_text::{write_cents, write_hex16, write_json_str};
        let quoted = |out: &mut Vec<u8>, s: Option<&str>| match s {
            Some(s) => {
                out.push(b'"');
                out.extend_from_slice(s.as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        };
        out.extend_from_slice(b"{\"costCents\":\"");
        write_cents(out, self.cost_cents);
        out.extend_from_slice(b"\",\"priced\":");
        out.extend_from_slice(if self.priced { b"true" } else { b"false" });
        out.extend_from_slice(b",\"model\":");
        match &self.model {
            Some(m) => write_json_str(out, m),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"snapshot\":\"");
        write_hex16(out, self.snapshot.0);
        out.extend_from_slice(b"\",\"reason\":");
        // The enum names below need no escaping.
        quoted(out, self.reason.map(UnpricedReason::as_str));
        out.extend_from_slice(b",\"warnings\":[");
        for (i, w) in self.warnings.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_json_str(out, w);
        }
        out.extend_from_slice(b"],\"match\":");
        quoted(out, self.match_kind.map(MatchKind::as_str));
        out.extend_from_slice(b",\"source\":");
        quoted(out, Some(self.source.as_str()));
        out.push(b'}');
    }

    /// The result as a JSON object; see [`PriceResult::write_json`].
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(160);
        self.write_json(&mut out);
        // Every piece written is UTF-8 (ASCII punctuation, escaped `str`s, digits).
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The inputs of one price call, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct PriceInput<'a> {
    /// What kind of step this is (non-LLM steps skip the rate card).
    pub kind: EventKind,
    /// Provider or gateway name, if known.
    pub provider: Option<&'a str>,
    /// Model name as given.
    pub model: Option<&'a str>,
    /// The usage to price.
    pub usage: &'a Usage,
    /// Event time (epoch ms); selects the snapshot in force. `None` = now.
    pub timestamp_ms: Option<i64>,
    /// `providerCostCents`: when set, used verbatim instead of the rate card.
    pub provider_cost_cents: Option<Cents>,
    /// `externalCostCents`: added to the cost.
    pub external_cost_cents: Option<Cents>,
}

impl<'a> PriceInput<'a> {
    /// The inputs of an LLM call priced now (no timestamp, no stated costs).
    pub fn llm(provider: Option<&'a str>, model: &'a str, usage: &'a Usage) -> PriceInput<'a> {
        PriceInput {
            kind: EventKind::Llm,
            provider,
            model: Some(model),
            usage,
            timestamp_ms: None,
            provider_cost_cents: None,
            external_cost_cents: None,
        }
    }

    /// The price inputs of an event parsed without copying ([`EventRef`]).
    pub fn from_event_ref(e: &'a EventRef<'_>) -> PriceInput<'a> {
        PriceInput::from_view(&e.view())
    }

    /// The price inputs of a parsed event.
    pub fn from_event(e: &'a Event) -> PriceInput<'a> {
        PriceInput::from_view(&e.view())
    }

    pub(crate) fn from_view(e: &EventView<'a>) -> PriceInput<'a> {
        PriceInput {
            kind: e.kind,
            provider: e.provider,
            model: e.model,
            usage: e.usage,
            timestamp_ms: e.timestamp_ms,
            provider_cost_cents: e.provider_cost_cents,
            external_cost_cents: e.external_cost_cents,
        }
    }
}

/// A price call that could not produce a result at all (as opposed to an *unpriced* result).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriceError {
    /// A count is outside `0..=2^53`.
    InvalidUsage(crate::usage::CountError),
    /// An `llm` event without a model name.
    MissingModel,
    /// The exact cost does not fit the fixed-point range (absurd counts × rates).
    Overflow,
}

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceError::InvalidUsage(e) => e.fmt(f),
            PriceError::MissingModel => f.write_str("model: is required for an llm event"),
            PriceError::Overflow => {
                f.write_str("cost exceeds the exact range of the engine (1.7e14 cents)")
            }
        }
    }
}

impl std::error::Error for PriceError {}

impl CostSource {
    /// Wire name: `ratecard`, `provider`, `external`, `unpriced`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CostSource::RateCard => "ratecard",
            CostSource::Provider => "provider",
            CostSource::External => "external",
            CostSource::Unpriced => "unpriced",
        }
    }
}

impl UnpricedReason {
    /// Wire name: `unknown_model`, `no_token_price`.
    pub const fn as_str(self) -> &'static str {
        match self {
            UnpricedReason::UnknownModel => "unknown_model",
            UnpricedReason::NoTokenPrice => "no_token_price",
        }
    }
}

/// Most snapshots an engine keeps in its history.
pub const MAX_SNAPSHOTS: usize = 10_000;
/// Most per-model overrides an engine holds.
pub const MAX_OVERRIDES: usize = 10_000;

/// Why a publish or override change was refused. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EngineError {
    /// The registry (or override entry) is invalid.
    RateCard(RateCardError),
    /// The history already holds [`MAX_SNAPSHOTS`] snapshots.
    HistoryFull,
    /// The engine already holds [`MAX_OVERRIDES`] overrides.
    TooManyOverrides,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EngineError::RateCard(e) => e.fmt(f),
            EngineError::HistoryFull => write!(
                f,
                "the snapshot history is full ({MAX_SNAPSHOTS} snapshots); publish at an existing effectiveFrom to replace one"
            ),
            EngineError::TooManyOverrides => {
                write!(f, "too many overrides (the limit is {MAX_OVERRIDES})")
            }
        }
    }
}

impl std::error::Error for EngineError {}

impl From<RateCardError> for EngineError {
    fn from(e: RateCardError) -> Self {
        EngineError::RateCard(e)
    }
}

/// An immutable, compiled rate card with its `effectiveFrom` instant: what one price call uses.
pub struct Snapshot {
    card: Arc<RateCard>,
    effective_from_ms: i64,
    index: Index,
    /// Per row: the compiled prices it uses (an alias row shares its owner's table).
    tables: Box<[Arc<PriceTable>]>,
    /// Per row: the key reported as `model` (an alias row reports its owner).
    keys: Box<[Arc<str>]>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("id", &self.id())
            .field("effective_from_ms", &self.effective_from_ms)
            .field("models", &self.card.entries().len())
            .finish()
    }
}

impl Snapshot {
    /// Compiles a validated card into a snapshot effective from `effective_from_ms` (epoch ms).
    pub fn build(card: Arc<RateCard>, effective_from_ms: i64) -> Snapshot {
        Snapshot::build_reusing(card, effective_from_ms, None)
    }

    /// Like [`Snapshot::build`], sharing compiled tables with `previous` for unchanged entries
    /// (a daily registry sync changes a few models; the rest costs nothing).
    fn build_reusing(
        card: Arc<RateCard>,
        effective_from_ms: i64,
        previous: Option<&Snapshot>,
    ) -> Snapshot {
        let index = Index::build(&card);
        let entries = card.entries();
        let mut own: Vec<Option<Arc<PriceTable>>> = vec![None; entries.len()];
        for (i, e) in entries.iter().enumerate() {
            if e.alias_of().is_some() {
                continue;
            }
            let reused = previous.and_then(|p| {
                let j = p.card.index_of(e.key())?;
                (p.card.entries()[j as usize] == *e).then(|| p.tables[j as usize].clone())
            });
            own[i] = Some(reused.unwrap_or_else(|| Arc::new(PriceTable::compile(e))));
        }
        let tables = (0..entries.len())
            .map(|i| {
                let t = index.target(i as u32) as usize;
                own[t]
                    .clone()
                    .unwrap_or_else(|| Arc::new(PriceTable::compile(&entries[t])))
            })
            .collect();
        let keys = (0..entries.len())
            .map(|i| Arc::from(entries[index.target(i as u32) as usize].key()))
            .collect();
        Snapshot {
            card,
            effective_from_ms,
            index,
            tables,
            keys,
        }
    }

    /// The snapshot id: the content hash of the registry it was built from.
    pub fn id(&self) -> SnapshotId {
        self.card.id()
    }

    /// When this snapshot starts to apply (epoch milliseconds).
    pub fn effective_from_ms(&self) -> i64 {
        self.effective_from_ms
    }

    /// The rate card.
    pub fn card(&self) -> &RateCard {
        &self.card
    }
}

/// A per-model override: custom prices (a negotiated discount, a self-hosted model).
struct Override {
    name: Arc<str>,
    table: Arc<PriceTable>,
    provider: Option<Box<str>>,
}

#[derive(Default)]
struct Overrides {
    /// Lower-cased model name → override.
    by_name: HashMap<Box<str>, Arc<Override>>,
}

impl Overrides {
    fn get(&self, provider: Option<&str>, model: &str) -> Option<&Arc<Override>> {
        if self.by_name.is_empty() {
            return None;
        }
        let probe = |name: String| self.by_name.get(name.to_ascii_lowercase().as_str());
        provider
            .and_then(|p| probe(format!("{p}/{model}")))
            .or_else(|| probe(model.to_string()))
    }
}

struct State {
    /// Sorted by `effective_from_ms`, at least one.
    snapshots: Vec<Arc<Snapshot>>,
    overrides: Arc<Overrides>,
}

impl State {
    fn at(&self, timestamp_ms: Option<i64>) -> &Arc<Snapshot> {
        let s = &self.snapshots;
        if s.len() == 1 {
            return &s[0];
        }
        let t = timestamp_ms.unwrap_or_else(now_ms);
        let i = s.partition_point(|x| x.effective_from_ms <= t);
        &s[i.saturating_sub(1)]
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Information about one published snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Content id.
    pub id: SnapshotId,
    /// When it starts to apply (epoch milliseconds).
    pub effective_from_ms: i64,
    /// Number of registry rows.
    pub models: usize,
}

/// A model looked up once, priced many times (SPEC §9 "price by pre-resolved handle"). It keeps
/// the snapshot it was found in: after a publish, look it up again to use the new card.
#[derive(Clone)]
pub struct ModelHandle {
    snapshot: Arc<Snapshot>,
    table: Arc<PriceTable>,
    calc: Calc,
    model: Arc<str>,
    kind: MatchKind,
}

impl fmt::Debug for ModelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModelHandle")
            .field("model", &self.model)
            .field("match", &self.kind)
            .field("snapshot", &self.snapshot.id())
            .finish()
    }
}

impl ModelHandle {
    /// The registry key (or override name) the handle prices.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// How the name matched.
    pub fn match_kind(&self) -> MatchKind {
        self.kind
    }

    /// The snapshot the handle prices with.
    pub fn snapshot(&self) -> SnapshotId {
        self.snapshot.id()
    }

    /// The cost of `usage` in cents (0 when the model has no token price; see
    /// [`ModelHandle::price`] for the full result). `timestamp_ms` only matters for models with
    /// off-peak windows (`None` = now).
    ///
    /// ```
    /// use tollgate_engine::engine::Engine;
    /// use tollgate_engine::usage::Usage;
    /// let engine = Engine::embedded();
    /// let gpt4o = engine.lookup(Some("openai"), "gpt-4o", None).unwrap();
    /// let usage = Usage { tokens_in: 1000, tokens_out: 100, ..Usage::default() };
    /// // gpt-4o: 2.5e-06 USD in, 1e-05 USD out → 1000 × 0.00025 + 100 × 0.001 = 0.35 cents.
    /// assert_eq!(gpt4o.cost(&usage, None).unwrap().to_string(), "0.35");
    /// ```
    #[inline]
    pub fn cost(&self, usage: &Usage, timestamp_ms: Option<i64>) -> Result<Cents, PriceError> {
        check_usage(usage)?;
        let ts = if self.table.has_off_peak() {
            timestamp_ms.unwrap_or_else(now_ms)
        } else {
            0
        };
        self.table
            .cost(self.calc, usage, ts)
            .map(|c| c.cents)
            .map_err(|_| PriceError::Overflow)
    }

    /// The full price result of `usage` on this model.
    pub fn price(
        &self,
        usage: &Usage,
        timestamp_ms: Option<i64>,
    ) -> Result<PriceResult, PriceError> {
        usage.validate().map_err(PriceError::InvalidUsage)?;
        priced_result(
            &self.table,
            self.calc,
            usage,
            timestamp_ms,
            Some(self.model.clone()),
            self.kind,
            self.snapshot.id(),
            None,
        )
    }
}

/// The pricing engine. `Send + Sync`; share it with `Arc` and call it from any thread.
pub struct Engine {
    state: ArcSwap<State>,
    /// Bumped after every store to `state`: a thread's cached state is current while it matches.
    generation: AtomicU64,
    /// Distinguishes engines in the per-thread state cache.
    id: u64,
    /// Serializes writers (publish, overrides); readers never take it.
    writer: Mutex<()>,
}

/// Per thread, the last states used by up to [`STATE_CACHE_SLOTS`] engines: `(engine id,
/// generation, state, lookup memo of that state)`. A price call then reads one atomic counter instead of taking an
/// `arc-swap` guard (measured: a fifth of a by-name price). A slot holds at most one superseded
/// state per thread until that thread prices again.
const STATE_CACHE_SLOTS: usize = 4;

type StateSlot = Option<(u64, u64, Arc<State>, LookupMemo)>;

/// Slots of a [`LookupMemo`] (a power of two).
const LOOKUP_MEMO_SLOTS: usize = 64;

/// Longest provider + model text a [`LookupMemo`] keeps (longer names are looked up each time).
const LOOKUP_MEMO_MAX_KEY_BYTES: usize = 256;

/// Per thread and per cached state, the last by-name lookups (direct-mapped on a hash of the
/// names): `find_model` is a pure function of the state's overrides, the snapshot and the two names,
/// so a result is reused while its state is cached (a new generation gets an empty memo).
/// Measured: the lookup was ~370 of the ~820 instructions of a by-name `price_cost`.
#[derive(Default)]
struct LookupMemo {
    slots: Vec<MemoSlot>,
}

#[derive(Default)]
struct MemoSlot {
    filled: bool,
    /// `Arc::as_ptr` of the snapshot (kept alive by the state that owns this memo).
    snapshot: usize,
    provider: Option<String>,
    model: String,
    found: Option<(Arc<PriceTable>, Calc, MatchKind)>,
}

impl LookupMemo {
    /// `find_model(overrides, snap, provider, model)` without its name, from the memo when it holds
    /// the same names for the same snapshot.
    fn lookup<'a>(
        &'a mut self,
        overrides: &'a Overrides,
        snap: &'a Arc<Snapshot>,
        provider: Option<&str>,
        model: &str,
    ) -> Option<(&'a Arc<PriceTable>, Calc, MatchKind)> {
        if provider.map_or(0, str::len) + model.len() > LOOKUP_MEMO_MAX_KEY_BYTES {
            return find_model(overrides, snap, provider, model).map(|f| (f.0, f.1, f.3));
        }
        if self.slots.is_empty() {
            self.slots.resize_with(LOOKUP_MEMO_SLOTS, MemoSlot::default);
        }
        let h = crate::namehash::name_bits(model)
            ^ crate::namehash::name_bits(provider.unwrap_or("")).rotate_left(29);
        // Top bits of a multiplicative hash (6 bits for 64 slots).
        let i = (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - LOOKUP_MEMO_SLOTS.trailing_zeros()))
            as usize;
        let slot = &mut self.slots[i];
        let at = Arc::as_ptr(snap) as usize;
        if !(slot.filled
            && slot.snapshot == at
            && slot.model == model
            && slot.provider.as_deref() == provider)
        {
            slot.found =
                find_model(overrides, snap, provider, model).map(|f| (f.0.clone(), f.1, f.3));
            slot.filled = true;
            slot.snapshot = at;
            slot.model.clear();
            slot.model.push_str(model);
            match (provider, &mut slot.provider) {
                (Some(p), Some(kept)) => {
                    kept.clear();
                    kept.push_str(p);
                }
                (p, kept) => *kept = p.map(str::to_string),
            }
        }
        slot.found.as_ref().map(|f| (&f.0, f.1, f.2))
    }
}

thread_local! {
    static STATE_CACHE: std::cell::RefCell<[StateSlot; STATE_CACHE_SLOTS]> =
        const { std::cell::RefCell::new([None, None, None, None]) };
}

static ENGINE_IDS: AtomicU64 = AtomicU64::new(1);

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("snapshots", &self.snapshots())
            .finish()
    }
}

impl Engine {
    /// An engine whose only snapshot is the embedded default rate card (LiteLLM 1.110.2),
    /// effective from the beginning of time. The card is parsed and compiled once per process.
    pub fn embedded() -> Engine {
        static SNAPSHOT: OnceLock<Arc<Snapshot>> = OnceLock::new();
        let s = SNAPSHOT
            .get_or_init(|| Arc::new(Snapshot::build(RateCard::embedded(), 0)))
            .clone();
        Engine::with_snapshot(s)
    }

    /// An engine whose only snapshot is `snapshot`.
    pub fn with_snapshot(snapshot: Arc<Snapshot>) -> Engine {
        Engine {
            state: ArcSwap::from_pointee(State {
                snapshots: vec![snapshot],
                overrides: Arc::new(Overrides::default()),
            }),
            generation: AtomicU64::new(0),
            id: ENGINE_IDS.fetch_add(1, Ordering::Relaxed),
            writer: Mutex::new(()),
        }
    }

    /// An engine over a registry file (`--rate-card FILE`), effective from the beginning of time.
    pub fn from_registry(bytes: &[u8]) -> Result<Engine, RateCardError> {
        let card = Arc::new(RateCard::parse(bytes)?);
        Ok(Engine::with_snapshot(Arc::new(Snapshot::build(card, 0))))
    }

    fn write<T>(
        &self,
        f: impl FnOnce(&State) -> Result<(State, T), EngineError>,
    ) -> Result<T, EngineError> {
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.state.load_full();
        let (next, out) = f(&current)?;
        self.state.store(Arc::new(next));
        self.generation.fetch_add(1, Ordering::Release);
        Ok(out)
    }

    /// Runs `f` on the current state: the thread's cached one when no publish happened since,
    /// else one `arc-swap` load (which then refreshes the cache). One state per call.
    #[inline]
    fn with_state<R>(&self, f: impl Fn(&State) -> R) -> R {
        let generation = self.generation.load(Ordering::Acquire);
        let cached = STATE_CACHE.try_with(|cache| {
            let cache = cache.try_borrow().ok()?;
            let (_, _, st, _) = cache
                .iter()
                .flatten()
                .find(|(id, g, _, _)| *id == self.id && *g == generation)?;
            Some(f(st))
        });
        if let Ok(Some(r)) = cached {
            return r;
        }
        let st = self.state.load_full();
        let _ = STATE_CACHE.try_with(|cache| {
            if let Ok(mut cache) = cache.try_borrow_mut() {
                let slot = cache
                    .iter()
                    .position(|s| s.as_ref().is_none_or(|(id, _, _, _)| *id == self.id))
                    .unwrap_or((generation as usize) % STATE_CACHE_SLOTS);
                cache[slot] = Some((self.id, generation, st.clone(), LookupMemo::default()));
            }
        });
        f(&st)
    }

    /// [`Engine::with_state`], also handing `f` the thread's lookup memo of that state (`None`
    /// when the state is not cached on this thread yet, or the cache is in use).
    #[inline]
    fn with_state_memo<R>(&self, f: impl Fn(&State, Option<&mut LookupMemo>) -> R) -> R {
        let generation = self.generation.load(Ordering::Acquire);
        let cached = STATE_CACHE.try_with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            let (_, _, st, memo) = cache
                .iter_mut()
                .flatten()
                .find(|(id, g, _, _)| *id == self.id && *g == generation)?;
            Some(f(st, Some(memo)))
        });
        if let Ok(Some(r)) = cached {
            return r;
        }
        self.with_state(|st| f(st, None))
    }

    /// Publishes a snapshot atomically. Events at or after its `effectiveFrom` (and before the
    /// next snapshot's) are priced with it; a snapshot already published at the same instant is
    /// replaced. Readers pricing concurrently see either the old or the new history, never a mix.
    pub fn publish(&self, snapshot: Arc<Snapshot>) -> Result<SnapshotId, EngineError> {
        let id = snapshot.id();
        self.write(|cur| {
            let mut snapshots = cur.snapshots.clone();
            match snapshots
                .binary_search_by_key(&snapshot.effective_from_ms, |s| s.effective_from_ms)
            {
                Ok(i) => snapshots[i] = snapshot,
                Err(_) if snapshots.len() >= MAX_SNAPSHOTS => return Err(EngineError::HistoryFull),
                Err(i) => snapshots.insert(i, snapshot),
            }
            Ok((
                State {
                    snapshots,
                    overrides: cur.overrides.clone(),
                },
                id,
            ))
        })
    }

    /// Parses, validates, compiles and publishes a registry file effective from
    /// `effective_from_ms`. A bad file is rejected whole and nothing changes.
    pub fn publish_registry(
        &self,
        bytes: &[u8],
        effective_from_ms: i64,
    ) -> Result<SnapshotId, EngineError> {
        let card = Arc::new(RateCard::parse(bytes)?);
        let previous = self.state.load().snapshots.last().cloned();
        let snapshot = Snapshot::build_reusing(card, effective_from_ms, previous.as_deref());
        self.publish(Arc::new(snapshot))
    }

    /// The published snapshots, oldest `effectiveFrom` first.
    pub fn snapshots(&self) -> Vec<SnapshotInfo> {
        self.state
            .load()
            .snapshots
            .iter()
            .map(|s| SnapshotInfo {
                id: s.id(),
                effective_from_ms: s.effective_from_ms,
                models: s.card.entries().len(),
            })
            .collect()
    }

    /// The snapshot in force at `timestamp_ms` (`None` = now).
    pub fn snapshot_at(&self, timestamp_ms: Option<i64>) -> Arc<Snapshot> {
        self.state.load().at(timestamp_ms).clone()
    }

    /// The difference between two published snapshots (`None` if either id is unknown).
    pub fn diff(&self, old: SnapshotId, new: SnapshotId) -> Option<SnapshotDiff> {
        let st = self.state.load();
        let find = |id| st.snapshots.iter().find(|s| s.id() == id);
        Some(find(new)?.card.diff_from(&find(old)?.card))
    }

    /// Sets the custom prices of `model` (matched case-insensitively as `model` or
    /// `provider/model`, and wherever a name leads to the registry key `model`). `entry` is a
    /// registry entry object (`{"input_cost_per_token": 2e-06, …}`) validated like the registry;
    /// its prices replace the registry's for that model in every snapshot, and the override
    /// survives publishes. An override can name a model the registry lacks.
    ///
    /// ```
    /// use tollgate_engine::engine::{Engine, PriceInput, MatchKind};
    /// use tollgate_engine::usage::Usage;
    /// let engine = Engine::embedded();
    /// engine.set_override("gpt-4o", br#"{"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06}"#).unwrap();
    /// let usage = Usage { tokens_in: 1000, ..Usage::default() };
    /// let r = engine.price(&PriceInput::llm(Some("openai"), "gpt-4o", &usage)).unwrap();
    /// assert_eq!(r.cost_cents.to_string(), "0.2"); // 1000 × 2e-06 USD = 0.002 USD
    /// assert_eq!(r.match_kind, Some(MatchKind::Override));
    /// ```
    pub fn set_override(&self, model: &str, entry: &[u8]) -> Result<(), EngineError> {
        let parsed = crate::ratecard::parse_single_entry(model, entry)?;
        let ov = Arc::new(Override {
            name: Arc::from(model),
            table: Arc::new(PriceTable::compile(&parsed)),
            provider: parsed.provider().map(Into::into),
        });
        self.write(|cur| {
            let mut by_name = cur.overrides.by_name.clone();
            let key: Box<str> = model.to_ascii_lowercase().into();
            if !by_name.contains_key(&key) && by_name.len() >= MAX_OVERRIDES {
                return Err(EngineError::TooManyOverrides);
            }
            by_name.insert(key, ov);
            Ok((
                State {
                    snapshots: cur.snapshots.clone(),
                    overrides: Arc::new(Overrides { by_name }),
                },
                (),
            ))
        })
    }

    /// Removes the override of `model`; `true` if there was one.
    pub fn remove_override(&self, model: &str) -> bool {
        self.write(|cur| {
            let mut by_name = cur.overrides.by_name.clone();
            let removed = by_name
                .remove(model.to_ascii_lowercase().as_str())
                .is_some();
            Ok((
                State {
                    snapshots: cur.snapshots.clone(),
                    overrides: Arc::new(Overrides { by_name }),
                },
                removed,
            ))
        })
        .unwrap_or(false)
    }

    /// Looks a model up once, for repeated pricing with [`ModelHandle::cost`]. `None` when the
    /// name matches nothing (it would be priced as `unknown_model`).
    pub fn lookup(
        &self,
        provider: Option<&str>,
        model: &str,
        timestamp_ms: Option<i64>,
    ) -> Option<ModelHandle> {
        self.with_state(|st| {
            let snap = st.at(timestamp_ms);
            let (table, calc, name, kind) = find_model(&st.overrides, snap, provider, model)?;
            Some(ModelHandle {
                snapshot: snap.clone(),
                table: table.clone(),
                calc,
                model: name.clone(),
                kind,
            })
        })
    }

    /// The former name of [`Engine::lookup`] ("resolve" now only names a run's outcome).
    #[deprecated(note = "renamed to `Engine::lookup`")]
    pub fn resolve(
        &self,
        provider: Option<&str>,
        model: &str,
        timestamp_ms: Option<i64>,
    ) -> Option<ModelHandle> {
        self.lookup(provider, model, timestamp_ms)
    }

    /// Prices one event with the snapshot in force at its timestamp.
    ///
    /// The result is *unpriced* (cost 0 plus any `externalCostCents`, `priced: false`, with a
    /// reason) when the model name matches nothing or has no token price — never a silent $0.
    /// `providerCostCents` replaces the rate card; `externalCostCents` is added.
    pub fn price(&self, input: &PriceInput<'_>) -> Result<PriceResult, PriceError> {
        check_usage(input.usage)?;
        self.with_state(|st| price_in(st, input))
    }
}

fn price_in(st: &State, input: &PriceInput<'_>) -> Result<PriceResult, PriceError> {
    let usage = input.usage;
    {
        let snap = st.at(input.timestamp_ms);
        let external = input.external_cost_cents.unwrap_or(Cents::ZERO);
        if input.kind != EventKind::Llm {
            let (cost, source) = match input.provider_cost_cents {
                Some(p) => (
                    p.checked_add(external).ok_or(PriceError::Overflow)?,
                    CostSource::Provider,
                ),
                None => (external, CostSource::External),
            };
            return Ok(PriceResult {
                cost_cents: cost,
                priced: true,
                source,
                model: None,
                match_kind: None,
                snapshot: snap.id(),
                reason: None,
                warnings: Vec::new(),
            });
        }
        let model = input.model.ok_or(PriceError::MissingModel)?;
        let found = find_model(&st.overrides, snap, input.provider, model);
        if let Some(stated) = input.provider_cost_cents {
            return Ok(PriceResult {
                cost_cents: stated.checked_add(external).ok_or(PriceError::Overflow)?,
                priced: true,
                source: CostSource::Provider,
                model: found.as_ref().map(|f| f.2.clone()),
                match_kind: found.as_ref().map(|f| f.3),
                snapshot: snap.id(),
                reason: None,
                warnings: Vec::new(),
            });
        }
        let Some((table, calc, name, kind)) = found else {
            return Ok(PriceResult {
                cost_cents: external,
                priced: false,
                source: CostSource::Unpriced,
                model: None,
                match_kind: None,
                snapshot: snap.id(),
                reason: Some(UnpricedReason::UnknownModel),
                warnings: Vec::new(),
            });
        };
        priced_result(
            table,
            calc,
            usage,
            input.timestamp_ms,
            Some(name.clone()),
            kind,
            snap.id(),
            input.external_cost_cents,
        )
    }
}

/// The cost of one price call without the model name and warnings: a `Copy` value, nothing to
/// allocate or reference-count (see [`Engine::price_cost`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PricedCost {
    /// Total cost in cents (as [`PriceResult::cost_cents`]).
    pub cost_cents: Cents,
    /// As [`PriceResult::priced`].
    pub priced: bool,
    /// As [`PriceResult::source`].
    pub source: CostSource,
    /// As [`PriceResult::match_kind`].
    pub match_kind: Option<MatchKind>,
    /// As [`PriceResult::reason`].
    pub reason: Option<UnpricedReason>,
    /// As [`PriceResult::snapshot`].
    pub snapshot: SnapshotId,
}

impl Engine {
    /// Like [`Engine::price`], returning only the cost and how it was reached: no model name
    /// (no reference count to take) and no warnings. The fast path for callers that need the
    /// amount alone.
    ///
    /// ```
    /// use tollgate_engine::engine::{Engine, PriceInput};
    /// use tollgate_engine::usage::Usage;
    /// let u = Usage { tokens_in: 1000, tokens_out: 100, ..Usage::default() };
    /// let c = Engine::embedded().price_cost(&PriceInput::llm(Some("openai"), "gpt-4o", &u)).unwrap();
    /// // 1000 × 2.5e-06 + 100 × 1e-05 USD = 0.0035 USD.
    /// assert_eq!(c.cost_cents.to_string(), "0.35");
    /// ```
    pub fn price_cost(&self, input: &PriceInput<'_>) -> Result<PricedCost, PriceError> {
        check_usage(input.usage)?;
        self.with_state_memo(|st, memo| price_cost_in(st, input, memo))
    }
}

#[inline(always)]
fn price_cost_in(
    st: &State,
    input: &PriceInput<'_>,
    memo: Option<&mut LookupMemo>,
) -> Result<PricedCost, PriceError> {
    let usage = input.usage;
    {
        let snap = st.at(input.timestamp_ms);
        let external = input.external_cost_cents.unwrap_or(Cents::ZERO);
        let done = |cost_cents, priced, source, match_kind, reason| PricedCost {
            cost_cents,
            priced,
            source,
            match_kind,
            reason,
            snapshot: snap.id(),
        };
        if input.kind != EventKind::Llm {
            return Ok(match input.provider_cost_cents {
                Some(p) => done(
                    p.checked_add(external).ok_or(PriceError::Overflow)?,
                    true,
                    CostSource::Provider,
                    None,
                    None,
                ),
                None => done(external, true, CostSource::External, None, None),
            });
        }
        let model = input.model.ok_or(PriceError::MissingModel)?;
        let found = match memo {
            Some(m) => m.lookup(&st.overrides, snap, input.provider, model),
            None => find_model(&st.overrides, snap, input.provider, model).map(|f| (f.0, f.1, f.3)),
        };
        if let Some(stated) = input.provider_cost_cents {
            return Ok(done(
                stated.checked_add(external).ok_or(PriceError::Overflow)?,
                true,
                CostSource::Provider,
                found.map(|f| f.2),
                None,
            ));
        }
        let Some((table, calc, kind)) = found else {
            return Ok(done(
                external,
                false,
                CostSource::Unpriced,
                None,
                Some(UnpricedReason::UnknownModel),
            ));
        };
        let ts = if table.has_off_peak() {
            input.timestamp_ms.unwrap_or_else(now_ms)
        } else {
            0
        };
        let cost = table
            .cost(calc, usage, ts)
            .map_err(|_| PriceError::Overflow)?;
        Ok(if cost.priced {
            done(
                cost.cents
                    .checked_add(external)
                    .ok_or(PriceError::Overflow)?,
                true,
                CostSource::RateCard,
                Some(kind),
                None,
            )
        } else {
            done(
                external,
                false,
                CostSource::Unpriced,
                Some(kind),
                Some(UnpricedReason::NoTokenPrice),
            )
        })
    }
}

/// Every count within `0..=2^53` (the fast path compares the largest count once).
#[inline]
fn check_usage(u: &Usage) -> Result<(), PriceError> {
    let max = u
        .tokens_in
        .max(u.cached_tokens)
        .max(u.cache_write_5m_tokens)
        .max(u.cache_write_1h_tokens)
        .max(u.audio_tokens_in)
        .max(u.image_tokens_in)
        .max(u.tokens_out)
        .max(u.reasoning_tokens)
        .max(u.audio_tokens_out)
        .max(u.image_tokens_out)
        .max(u.web_search_requests)
        .max(u.tool_calls);
    if max <= crate::usage::MAX_COUNT {
        return Ok(());
    }
    u.validate().map_err(PriceError::InvalidUsage)
}

/// Override by name, else the registry, else an override named by the registry key found.
fn find_model<'s>(
    overrides: &'s Overrides,
    snap: &'s Snapshot,
    provider: Option<&str>,
    model: &str,
) -> Option<(&'s Arc<PriceTable>, Calc, &'s Arc<str>, MatchKind)> {
    let calc_for =
        |ov: &Override| Calc::for_provider(provider.or(ov.provider.as_deref()).unwrap_or("openai"));
    if let Some(ov) = overrides.get(provider, model) {
        return Some((&ov.table, calc_for(ov), &ov.name, MatchKind::Override));
    }
    let r = lookup::lookup(&snap.card, &snap.index, provider, model)?;
    if let Some(ov) = overrides.get(None, &snap.keys[r.row as usize]) {
        return Some((&ov.table, calc_for(ov), &ov.name, MatchKind::Override));
    }
    Some((
        &snap.tables[r.row as usize],
        r.calc,
        &snap.keys[r.row as usize],
        r.kind,
    ))
}

#[allow(clippy::too_many_arguments)]
fn priced_result(
    table: &PriceTable,
    calc: Calc,
    usage: &Usage,
    timestamp_ms: Option<i64>,
    model: Option<Arc<str>>,
    kind: MatchKind,
    snapshot: SnapshotId,
    external: Option<Cents>,
) -> Result<PriceResult, PriceError> {
    let ts = if table.has_off_peak() {
        timestamp_ms.unwrap_or_else(now_ms)
    } else {
        0
    };
    let cost = table
        .cost(calc, usage, ts)
        .map_err(|_| PriceError::Overflow)?;
    let external = external.unwrap_or(Cents::ZERO);
    let warnings = usage_warnings(usage);
    if !cost.priced {
        return Ok(PriceResult {
            cost_cents: external,
            priced: false,
            source: CostSource::Unpriced,
            model,
            match_kind: Some(kind),
            snapshot,
            reason: Some(UnpricedReason::NoTokenPrice),
            warnings,
        });
    }
    Ok(PriceResult {
        cost_cents: cost
            .cents
            .checked_add(external)
            .ok_or(PriceError::Overflow)?,
        priced: true,
        source: CostSource::RateCard,
        model,
        match_kind: Some(kind),
        snapshot,
        reason: None,
        warnings,
    })
}

/// The warnings [`Engine::price`] would have attached to the result `c` of
/// [`Engine::price_cost`] for `usage` (those of the rate card's formula, when it ran).
pub(crate) fn cost_warnings(c: &PricedCost, usage: &Usage) -> Vec<String> {
    if c.source == CostSource::RateCard || c.reason == Some(UnpricedReason::NoTokenPrice) {
        usage_warnings(usage)
    } else {
        Vec::new()
    }
}

/// Warnings for inconsistent usage (parts larger than their whole). Allocates only then.
#[inline]
fn usage_warnings(u: &Usage) -> Vec<String> {
    // The common case (parts within their wholes) stays inline; the messages are built apart.
    if u.reasoning_tokens + u.audio_tokens_out + u.image_tokens_out <= u.tokens_out
        && u.audio_tokens_in + u.image_tokens_in <= u.tokens_in
    {
        return Vec::new();
    }
    usage_warning_texts(u)
}

#[cold]
#[inline(never)]
fn usage_warning_texts(u: &Usage) -> Vec<String> {
    let mut w = Vec::new();
    let out_parts = u.reasoning_tokens + u.audio_tokens_out + u.image_tokens_out;
    if out_parts > u.tokens_out {
        w.push(format!(
            "reasoningTokens + audioTokensOut + imageTokensOut ({out_parts}) exceed tokensOut ({}); every reported part is billed, text output counts as 0",
            u.tokens_out
        ));
    }
    let in_parts = u.audio_tokens_in + u.image_tokens_in;
    if in_parts > u.tokens_in {
        w.push(format!(
            "audioTokensIn + imageTokensIn ({in_parts}) exceed tokensIn ({}); text input counts as 0",
            u.tokens_in
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wire form, field by field, with a name that needs escaping.
    #[test]
    fn price_result_json_shape() {
        let r = PriceResult {
            cost_cents: "0.4245".parse::<Cents>().unwrap(),
            priced: true,
            source: CostSource::RateCard,
            model: Some(Arc::from("gpt-4o\"x")),
            match_kind: Some(MatchKind::Exact),
            snapshot: SnapshotId(0xab),
            reason: None,
            warnings: vec!["w1".to_string()],
        };
        assert_eq!(
            r.to_json(),
            r#"{"costCents":"0.4245","priced":true,"model":"gpt-4o\"x","snapshot":"00000000000000ab","reason":null,"warnings":["w1"],"match":"exact","source":"ratecard"}"#
        );
        let unpriced = PriceResult {
            cost_cents: Cents::ZERO,
            priced: false,
            source: CostSource::Unpriced,
            model: None,
            match_kind: None,
            snapshot: SnapshotId(u64::MAX),
            reason: Some(UnpricedReason::UnknownModel),
            warnings: Vec::new(),
        };
        assert_eq!(
            unpriced.to_json(),
            r#"{"costCents":"0","priced":false,"model":null,"snapshot":"ffffffffffffffff","reason":"unknown_model","warnings":[],"match":null,"source":"unpriced"}"#
        );
    }

    /// `price_cost` through the per-thread lookup memo, against `price` (which looks every
    /// name up) and against hand-computed amounts, across publishes, overrides and more names
    /// than the memo has slots.
    #[test]
    fn price_cost_lookup_memo_follows_publishes_and_overrides() {
        let fields = |engine: &Engine, input: &PriceInput<'_>| {
            let f = engine.price(input).unwrap();
            let c = engine.price_cost(input).unwrap();
            let want = (
                f.cost_cents,
                f.priced,
                f.source,
                f.match_kind,
                f.reason,
                f.snapshot,
            );
            let got = (
                c.cost_cents,
                c.priced,
                c.source,
                c.match_kind,
                c.reason,
                c.snapshot,
            );
            assert_eq!(want, got, "{input:?}");
            // Again: now from the memo.
            assert_eq!(engine.price_cost(input).unwrap(), c, "{input:?}");
            c
        };
        // Snapshot 1 from t = 0: m at 1e-06 USD per input token; snapshot 2 from t = 1000:
        // m at 3e-06.
        let engine = Engine::from_registry(
            br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06}}"#,
        )
        .unwrap();
        let u = Usage {
            tokens_in: 1000,
            ..Usage::default()
        };
        let at = |ts| PriceInput {
            timestamp_ms: Some(ts),
            ..PriceInput::llm(Some("openai"), "m", &u)
        };
        // 1000 × 1e-06 USD = 0.001 USD = 0.1 cents.
        assert_eq!(fields(&engine, &at(5000)).cost_cents.to_string(), "0.1");
        engine
            .publish_registry(
                br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 3e-06}}"#,
                1000,
            )
            .unwrap();
        for _ in 0..2 {
            // 1000 × 1e-06 USD before t = 1000; 1000 × 3e-06 USD = 0.3 cents from it on.
            assert_eq!(fields(&engine, &at(999)).cost_cents.to_string(), "0.1");
            assert_eq!(fields(&engine, &at(1000)).cost_cents.to_string(), "0.3");
        }
        // An override replaces both; its removal restores them.
        engine
            .set_override("m", br#"{"input_cost_per_token": 5e-06}"#)
            .unwrap();
        let o = fields(&engine, &at(999));
        // 1000 × 5e-06 USD = 0.5 cents.
        assert_eq!(
            (o.cost_cents.to_string(), o.match_kind),
            ("0.5".to_string(), Some(MatchKind::Override))
        );
        assert_eq!(fields(&engine, &at(1000)).cost_cents.to_string(), "0.5");
        assert!(engine.remove_override("m"));
        assert_eq!(fields(&engine, &at(999)).cost_cents.to_string(), "0.1");
        assert_eq!(fields(&engine, &at(1000)).cost_cents.to_string(), "0.3");

        // The embedded card: more names than slots (so slots are reused), the same model under
        // each provider and none, a name longer than the memo keeps, twice over.
        let engine = Engine::embedded();
        let long = "x".repeat(LOOKUP_MEMO_MAX_KEY_BYTES + 1);
        let mut names: Vec<(Option<&str>, String)> = (0..3 * LOOKUP_MEMO_SLOTS)
            .map(|i| (Some("openai"), format!("no-such-model-{i}")))
            .collect();
        for m in ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "whisper-1"] {
            for p in [Some("openai"), Some("anthropic"), None] {
                names.push((p, m.to_string()));
            }
        }
        names.push((Some("openai"), long));
        for _ in 0..2 {
            for (p, m) in &names {
                fields(&engine, &PriceInput::llm(*p, m, &u));
            }
        }
        // gpt-4o: 1000 × 2.5e-06 USD = 0.25 cents; an unknown name is unpriced.
        let g = fields(&engine, &PriceInput::llm(Some("openai"), "gpt-4o", &u));
        assert_eq!(g.cost_cents.to_string(), "0.25");
        let x = fields(
            &engine,
            &PriceInput::llm(Some("openai"), "no-such-model-7", &u),
        );
        assert_eq!(
            (x.priced, x.reason),
            (false, Some(UnpricedReason::UnknownModel))
        );
    }

    /// `price_cost` plus `cost_warnings` carries what `price` returns (the ledger relies on it).
    #[test]
    fn price_cost_and_its_warnings_match_price() {
        let engine = Engine::embedded();
        let usages = [
            Usage::default(),
            Usage {
                tokens_in: 1000,
                tokens_out: 10,
                reasoning_tokens: 50,
                ..Usage::default()
            },
            Usage {
                tokens_in: 5,
                audio_tokens_in: 9,
                cached_tokens: 7,
                ..Usage::default()
            },
        ];
        let names = [
            (Some("openai"), Some("gpt-4o")),
            (Some("anthropic"), Some("claude-sonnet-4-5")),
            (Some("openai"), Some("no-such-model")),
            (None, Some("gpt-4o")),
            // A row without token prices (priced per second): unpriced, no_token_price.
            (Some("openai"), Some("whisper-1")),
            (Some("openai"), None),
        ];
        let costs = [None, Some(Cents::from_whole_cents(3))];
        for u in &usages {
            for (provider, model) in names {
                for kind in [EventKind::Llm, EventKind::Tool] {
                    for (stated, external) in costs
                        .iter()
                        .flat_map(|a| costs.iter().map(move |b| (*a, *b)))
                    {
                        let input = PriceInput {
                            kind,
                            provider,
                            model,
                            usage: u,
                            timestamp_ms: Some(1_767_225_600_000),
                            provider_cost_cents: stated,
                            external_cost_cents: external,
                        };
                        let full = engine.price(&input);
                        let cost = engine.price_cost(&input);
                        match (full, cost) {
                            (Ok(f), Ok(c)) => {
                                assert_eq!(
                                    (
                                        f.cost_cents,
                                        f.priced,
                                        f.source,
                                        f.match_kind,
                                        f.reason,
                                        f.snapshot
                                    ),
                                    (
                                        c.cost_cents,
                                        c.priced,
                                        c.source,
                                        c.match_kind,
                                        c.reason,
                                        c.snapshot
                                    ),
                                    "{input:?}"
                                );
                                assert_eq!(f.warnings, cost_warnings(&c, u), "{input:?}");
                            }
                            (Err(a), Err(b)) => assert_eq!(a, b),
                            (f, c) => panic!("{input:?}: {f:?} vs {c:?}"),
                        }
                    }
                }
            }
        }
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn engine_is_send_and_sync() {
        assert_send_sync::<Engine>();
        assert_send_sync::<ModelHandle>();
    }
}
