//! The pricing engine: rate-card snapshot history behind `arc-swap`, overrides, and the price
//! entry points (docs/reference/pricing.md (snapshots), docs/reference/pricing.md).
//!
//! An [`Engine`] holds every published [`Snapshot`] ordered by `effectiveFrom`. A price call
//! loads the current state once (one `arc-swap` load), picks the snapshot in force at the
//! event's timestamp (events older than the earliest snapshot use the earliest), looks the
//! model up and computes the exact cost. Publishing swaps the state atomically; readers never block
//! and never see a half-built card. Per-model overrides live beside the history and survive
//! every swap.
//!
//! Inside: `result` holds what a price call takes and returns (and its JSON), `snapshot` the
//! compiled snapshots, `cache` the per-thread state cache; this module the engine itself and
//! the pricing decision.
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

mod cache;
use cache::{ENGINE_IDS, LookupMemo};
mod result;
mod snapshot;

use crate::event::EventKind;
use crate::lookup;
pub use crate::lookup::MatchKind;
use crate::money::Cents;
use crate::pricing::{Calc, PriceTable, SearchRule};
pub use crate::ratecard::SnapshotId;
use crate::ratecard::{RateCard, RateCardError, SnapshotDiff};
use crate::usage::{ServiceTier, Usage};
use arc_swap::ArcSwap;
pub use result::{CostSource, PriceError, PriceInput, PriceResult, PricedCost, UnpricedReason};
pub use snapshot::{Snapshot, SnapshotInfo};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

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

/// What [`Engine::publish_registry`] published: the snapshot's id and the registry's warnings
/// (fields accepted but unused for pricing; empty for a clean registry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The new snapshot's id (its content hash).
    pub snapshot: SnapshotId,
    /// One line per field that looks like a rate but matches no rate name the engine knows
    /// ([`RateCard::warnings`]).
    pub warnings: Vec<String>,
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

/// A model looked up once, priced many times (README (Performance) "price by pre-resolved handle"). It keeps
/// the snapshot it was found in: after a publish, look it up again to use the new card.
#[derive(Clone)]
pub struct ModelHandle {
    snapshot: Arc<Snapshot>,
    table: Arc<PriceTable>,
    calc: Calc,
    search: SearchRule,
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
        let c = rate_card_cost(
            &self.table,
            (self.calc, self.kind, self.search),
            usage,
            timestamp_ms,
            Cents::ZERO,
            self.snapshot.id(),
        )?;
        Ok(c.cost_cents)
    }

    /// The full price result of `usage` on this model.
    pub fn price(
        &self,
        usage: &Usage,
        timestamp_ms: Option<i64>,
    ) -> Result<PriceResult, PriceError> {
        check_usage(usage)?;
        let c = rate_card_cost(
            &self.table,
            (self.calc, self.kind, self.search),
            usage,
            timestamp_ms,
            Cents::ZERO,
            self.snapshot.id(),
        )?;
        Ok(with_name_and_warnings(c, Some(&self.model), usage))
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
    /// Liveness token: per-thread cache slots hold a `Weak` of it, dead once the engine drops.
    alive: Arc<()>,
}

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
        Engine::from_state(State {
            snapshots: vec![snapshot],
            overrides: Arc::new(Overrides::default()),
        })
    }

    fn from_state(state: State) -> Engine {
        Engine {
            state: ArcSwap::from_pointee(state),
            generation: AtomicU64::new(0),
            id: ENGINE_IDS.fetch_add(1, Ordering::Relaxed),
            writer: Mutex::new(()),
            alive: Arc::new(()),
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
        // Poisoning is harmless here: the mutex guards no data (the state is swapped whole,
        // after `f` returns), so a writer that panicked left nothing half applied.
        let _guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.state.load_full();
        let (next, out) = f(&current)?;
        // The history stays strictly ordered by `effectiveFrom` (one snapshot per instant).
        debug_assert!(
            next.snapshots
                .windows(2)
                .all(|w| w[0].effective_from_ms < w[1].effective_from_ms)
                && !next.snapshots.is_empty(),
            "snapshot history out of order after a write"
        );
        self.state.store(Arc::new(next));
        self.generation.fetch_add(1, Ordering::Release);
        Ok(out)
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
    /// `effective_from_ms`. A bad file is rejected whole and nothing changes. The result
    /// carries the new snapshot's id and the registry's warnings ([`RateCard::warnings`]: a
    /// field that looks like a rate but matches no rate name the engine knows is accepted,
    /// prices nothing, and is reported here).
    ///
    /// ```
    /// use tollgate_engine::engine::Engine;
    /// let engine = Engine::embedded();
    /// let p = engine.publish_registry(br#"{"m": {"input_cost_per_token": 1e-06,
    ///     "input_cost_per_token_above_abck_tokens": 2e-06}}"#, 1000).unwrap();
    /// assert_eq!(p.snapshot, engine.snapshots()[1].id);
    /// assert_eq!(p.warnings, ["registry key `m`: `input_cost_per_token_above_abck_tokens` looks like a rate but matches no rate name the engine knows; it is not used for pricing"]);
    /// ```
    pub fn publish_registry(
        &self,
        bytes: &[u8],
        effective_from_ms: i64,
    ) -> Result<Published, EngineError> {
        let card = Arc::new(RateCard::parse(bytes)?);
        let warnings = card.warnings();
        let previous = self.state.load().snapshots.last().cloned();
        let snapshot = Snapshot::build_reusing(card, effective_from_ms, previous.as_deref());
        let snapshot = self.publish(Arc::new(snapshot))?;
        Ok(Published { snapshot, warnings })
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

    /// Pins one published snapshot: an engine over exactly that snapshot and the overrides in
    /// force now, captured together in one load of the state (so a concurrent publish or
    /// override change is either wholly before the pin or wholly after it). Everything priced
    /// through the pinned engine uses that card, whatever the event timestamps and whatever is
    /// published or overridden later. `None` picks the snapshot in force now; `Some(id)` the
    /// published snapshot with that id, or nothing when there is none.
    ///
    /// ```
    /// use tollgate_engine::engine::{Engine, PriceInput};
    /// use tollgate_engine::usage::Usage;
    /// let engine = Engine::from_registry(br#"{"m": {"input_cost_per_token": 1e-06}}"#).unwrap();
    /// let pinned = engine.pin(None).unwrap();
    /// engine.publish_registry(br#"{"m": {"input_cost_per_token": 3e-06}}"#, 0).unwrap();
    /// let u = Usage { tokens_in: 1000, ..Usage::default() };
    /// let input = PriceInput::llm(Some("openai"), "m", &u);
    /// // 1000 × 1e-06 USD = 0.1 cents on the pinned card; 1000 × 3e-06 USD = 0.3 on the new one.
    /// assert_eq!(pinned.price(&input).unwrap().cost_cents.to_string(), "0.1");
    /// assert_eq!(engine.price(&input).unwrap().cost_cents.to_string(), "0.3");
    /// ```
    pub fn pin(&self, snapshot: Option<SnapshotId>) -> Option<Engine> {
        let st = self.state.load();
        let snap = match snapshot {
            None => st.at(None),
            Some(id) => st.snapshots.iter().find(|s| s.id() == id)?,
        };
        Some(Engine::from_state(State {
            snapshots: vec![snap.clone()],
            overrides: st.overrides.clone(),
        }))
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
                search: table.search_rule(provider, kind == MatchKind::Inferred),
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
    ///
    /// It is [`Engine::price_cost`] plus the model name and the warnings: one decision.
    pub fn price(&self, input: &PriceInput<'_>) -> Result<PriceResult, PriceError> {
        check_usage(input.usage)?;
        self.with_state_memo(|st, memo| {
            let (d, name) = decide(st, input, memo)?;
            Ok(with_name_and_warnings(d.cost, name, input.usage))
        })
    }

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
        self.with_state_memo(|st, memo| decide(st, input, memo).map(|(c, _)| c.cost))
    }

    /// [`Engine::price_cost`] and the cache and batch savings of the same call, from one model
    /// lookup: what the usage would have cost with every cache-read token priced as fresh input
    /// and a batch tier priced as standard, minus its cost. The savings are zero when the cost
    /// did not come from the rate card, when there is nothing to save, when that standard
    /// usage is out of range, or when the difference is not positive. The same figures as
    /// pricing the standard usage again with [`Engine::price_cost`] (one lookup fewer).
    pub(crate) fn price_cost_and_savings(
        &self,
        input: &PriceInput<'_>,
    ) -> Result<(PricedCost, Cents), PriceError> {
        check_usage(input.usage)?;
        self.with_state_memo(|st, memo| {
            let (d, _) = decide(st, input, memo)?;
            let savings = match d.table {
                Some((table, calc, kind)) if d.cost.source == CostSource::RateCard => {
                    savings_on(table, calc, kind, input, &d.cost)
                }
                _ => Cents::ZERO,
            };
            Ok((d.cost, savings))
        })
    }
}

/// The savings of [`Engine::price_cost_and_savings`] for a call the rate card priced at
/// `priced` on `table`.
fn savings_on(
    table: &PriceTable,
    calc: Calc,
    kind: MatchKind,
    input: &PriceInput<'_>,
    priced: &PricedCost,
) -> Cents {
    let u = input.usage;
    if u.cached_tokens == 0 && u.service_tier != ServiceTier::Batch {
        return Cents::ZERO;
    }
    let Some(tokens_in) = u.tokens_in.checked_add(u.cached_tokens) else {
        return Cents::ZERO;
    };
    let mut standard = u.clone();
    standard.tokens_in = tokens_in;
    standard.cached_tokens = 0;
    if standard.service_tier == ServiceTier::Batch {
        standard.service_tier = ServiceTier::Standard;
    }
    if check_usage(&standard).is_err() {
        return Cents::ZERO;
    }
    let external = input.external_cost_cents.unwrap_or(Cents::ZERO);
    // The searches cost the same either way (same rule as the priced call); they cancel out.
    let search = table.search_rule(input.provider, kind == MatchKind::Inferred);
    match rate_card_cost(
        table,
        (calc, kind, search),
        &standard,
        input.timestamp_ms,
        external,
        priced.snapshot,
    ) {
        Ok(s) if s.priced => s
            .cost_cents
            .checked_sub(priced.cost_cents)
            .filter(|d| !d.is_negative())
            .unwrap_or(Cents::ZERO),
        _ => Cents::ZERO,
    }
}

/// What [`decide`] reached: the cost, and the price table, provider rule and match kind that
/// priced it when the rate card (or an override) did.
struct Decided<'a> {
    cost: PricedCost,
    table: Option<(&'a PriceTable, Calc, MatchKind)>,
}

/// A model found for a price call: its compiled prices, provider rule, reported name and how
/// it matched.
type Found<'a> = (&'a Arc<PriceTable>, Calc, &'a Arc<str>, MatchKind);

/// The pricing decision, written once (docs/reference/pricing.md): a non-LLM step costs its stated amounts; an
/// LLM call needs a model; a provider-stated cost is used verbatim; an unknown model is
/// unpriced; else the rate card (or override) prices it. Returns the cost and the name of the
/// model found (the name is borrowed: [`Engine::price_cost`] never touches it).
#[inline(always)]
fn decide<'a>(
    st: &'a State,
    input: &PriceInput<'_>,
    memo: Option<&'a mut LookupMemo>,
) -> Result<(Decided<'a>, Option<&'a Arc<str>>), PriceError> {
    let snap = st.at(input.timestamp_ms);
    let snapshot = snap.id();
    let external = input.external_cost_cents.unwrap_or(Cents::ZERO);
    let done = |cost_cents, priced, source, match_kind, reason| Decided {
        cost: PricedCost {
            cost_cents,
            priced,
            source,
            match_kind,
            reason,
            snapshot,
            web_search_cents: Cents::ZERO,
        },
        table: None,
    };
    if input.kind == EventKind::Truncated {
        // Usage unknown: nothing to price, and no zero passed off as a price.
        return Ok((
            done(
                Cents::ZERO,
                false,
                CostSource::Unpriced,
                None,
                Some(UnpricedReason::Truncated),
            ),
            None,
        ));
    }
    if input.kind != EventKind::Llm {
        return Ok((
            match input.provider_cost_cents {
                Some(p) => done(
                    p.checked_add(external).ok_or(PriceError::Overflow)?,
                    true,
                    CostSource::Provider,
                    None,
                    None,
                ),
                None => done(external, true, CostSource::External, None, None),
            },
            None,
        ));
    }
    let model = input.model.ok_or(PriceError::MissingModel)?;
    let found: Option<Found<'a>> = match memo {
        Some(m) => m.lookup(&st.overrides, snap, input.provider, model),
        None => find_model(&st.overrides, snap, input.provider, model),
    };
    if let Some(stated) = input.provider_cost_cents {
        return Ok((
            done(
                stated.checked_add(external).ok_or(PriceError::Overflow)?,
                true,
                CostSource::Provider,
                found.map(|f| f.3),
                None,
            ),
            found.map(|f| f.2),
        ));
    }
    let Some((table, calc, name, kind)) = found else {
        return Ok((
            done(
                external,
                false,
                CostSource::Unpriced,
                None,
                Some(UnpricedReason::UnknownModel),
            ),
            None,
        ));
    };
    // The search rule is only worked out when there are searches to price.
    let search = if input.usage.web_search_requests == 0 {
        SearchRule::PerSearch
    } else {
        table.search_rule(input.provider, kind == MatchKind::Inferred)
    };
    let c = rate_card_cost(
        table,
        (calc, kind, search),
        input.usage,
        input.timestamp_ms,
        external,
        snapshot,
    )?;
    Ok((
        Decided {
            cost: c,
            table: Some((&**table, calc, kind)),
        },
        Some(name),
    ))
}

/// The rate-card step of the decision: the cost of the usage on `table` — tokens, plus web
/// searches at the entry's per-search price (docs/reference/pricing.md (web searches)) — or
/// unpriced (`no_token_price`) when the table has no token price; `external` is added either way.
#[inline(always)]
fn rate_card_cost(
    table: &PriceTable,
    (calc, kind, rule): (Calc, MatchKind, SearchRule),
    usage: &Usage,
    timestamp_ms: Option<i64>,
    external: Cents,
    snapshot: SnapshotId,
) -> Result<PricedCost, PriceError> {
    let ts = if table.has_off_peak() {
        timestamp_ms.unwrap_or_else(now_ms)
    } else {
        0
    };
    let cost = table
        .cost(calc, usage, ts)
        .map_err(|_| PriceError::Overflow)?;
    Ok(if cost.priced {
        let search = if usage.web_search_requests == 0 {
            Cents::ZERO
        } else {
            search_cents(table, rule, usage.web_search_requests)?
        };
        PricedCost {
            cost_cents: cost
                .cents
                .checked_add(search)
                .and_then(|c| c.checked_add(external))
                .ok_or(PriceError::Overflow)?,
            priced: true,
            source: CostSource::RateCard,
            match_kind: Some(kind),
            reason: None,
            snapshot,
            web_search_cents: search,
        }
    } else {
        PricedCost {
            cost_cents: external,
            priced: false,
            source: CostSource::Unpriced,
            match_kind: Some(kind),
            reason: Some(UnpricedReason::NoTokenPrice),
            snapshot,
            web_search_cents: Cents::ZERO,
        }
    })
}

/// The web-search part of a rate-card price (only called with searches to price).
#[cold]
#[inline(never)]
fn search_cents(table: &PriceTable, rule: SearchRule, n: u64) -> Result<Cents, PriceError> {
    table.search_cost(rule, n).map_err(|_| PriceError::Overflow)
}

/// [`Engine::price`]'s result from [`Engine::price_cost`]'s: the name of the model found and
/// the usage warnings added.
fn with_name_and_warnings(c: PricedCost, model: Option<&Arc<str>>, usage: &Usage) -> PriceResult {
    PriceResult {
        cost_cents: c.cost_cents,
        web_search_cents: c.web_search_cents,
        priced: c.priced,
        source: c.source,
        model: model.cloned(),
        match_kind: c.match_kind,
        snapshot: c.snapshot,
        reason: c.reason,
        warnings: {
            let mut w = cost_warnings(&c, usage);
            if c.match_kind == Some(MatchKind::Inferred)
                && let Some(row) = model.filter(|m| m.starts_with("together-ai-"))
            {
                w.push(together_warning(row));
            }
            w
        },
    }
}

/// A Together AI model the registry does not price, priced by its parameter-size row.
#[cold]
fn together_warning(row: &str) -> String {
    format!(
        "the rate card has no token price for this Together AI model: priced at its parameter-size rate `{row}`"
    )
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
) -> Option<Found<'s>> {
    find_hit(overrides, snap, provider, model).map(|h| h.found(snap))
}

/// What [`find_model`] found, before its parts are read from the snapshot: a row of the
/// snapshot or an override. A row is a plain index, so the thread's lookup memo keeps it
/// without taking a reference count.
#[derive(Clone)]
enum Hit<'s> {
    /// Row `row` of the snapshot, with its provider rule and how it matched.
    Row(u32, Calc, MatchKind),
    /// A per-model override, with its provider rule.
    Override(&'s Arc<Override>, Calc),
}

impl<'s> Hit<'s> {
    /// The price table, provider rule, reported name and match kind of the hit on `snap`.
    #[inline]
    fn found(&self, snap: &'s Snapshot) -> Found<'s> {
        match *self {
            Hit::Row(row, calc, kind) => (
                &snap.tables[row as usize],
                calc,
                &snap.keys[row as usize],
                kind,
            ),
            Hit::Override(ov, calc) => (&ov.table, calc, &ov.name, MatchKind::Override),
        }
    }
}

/// [`find_model`]'s search: the override named by the call, else the rate card's row (or the
/// override of that row's key).
#[inline]
fn find_hit<'s>(
    overrides: &'s Overrides,
    snap: &Snapshot,
    provider: Option<&str>,
    model: &str,
) -> Option<Hit<'s>> {
    let calc_for =
        |ov: &Override| Calc::for_provider(provider.or(ov.provider.as_deref()).unwrap_or("openai"));
    if let Some(ov) = overrides.get(provider, model) {
        return Some(Hit::Override(ov, calc_for(ov)));
    }
    let r = lookup::lookup(&snap.card, &snap.index, provider, model)?;
    if let Some(ov) = overrides.get(None, &snap.keys[r.row as usize]) {
        return Some(Hit::Override(ov, calc_for(ov)));
    }
    Some(Hit::Row(r.row, r.calc, r.kind))
}

/// The warnings [`Engine::price`] would have attached to the result `c` of
/// [`Engine::price_cost`] for `usage` (those of the rate card's formula, when it ran).
pub(crate) fn cost_warnings(c: &PricedCost, usage: &Usage) -> Vec<String> {
    if c.reason == Some(UnpricedReason::Truncated) {
        return vec![TRUNCATED_WARNING.to_string()];
    }
    if c.source == CostSource::RateCard || c.reason == Some(UnpricedReason::NoTokenPrice) {
        let mut w = usage_warnings(usage);
        if usage.web_search_requests > 0 {
            search_warning(c, usage.web_search_requests, &mut w);
        }
        w
    } else {
        Vec::new()
    }
}

/// Web searches the result does not price: the rate card has no per-search price for the
/// model (priced at 0), or the model has no token price at all (the event is unpriced).
#[cold]
#[inline(never)]
fn search_warning(c: &PricedCost, n: u64, w: &mut Vec<String>) {
    if c.source == CostSource::RateCard && c.web_search_cents.is_zero() {
        w.push(format!(
            "{n} web search{} not priced: the rate card has no per-search price for this model",
            if n == 1 { "" } else { "es" }
        ));
    } else if c.reason == Some(UnpricedReason::NoTokenPrice) {
        w.push(format!(
            "{n} web search{} not priced: the model has no token price",
            if n == 1 { "" } else { "es" }
        ));
    }
}

/// The warning of every `truncated` event (docs/reference/events.md (truncated calls)).
pub const TRUNCATED_WARNING: &str = "truncated: the response ended before the provider reported its usage; the call is counted as an unpriced event and its cost is not in the totals";

/// The warnings [`Engine::price`] gives for `input`, from [`Engine::price_cost`]'s result `c`
/// (the ledger's path): the usage warnings, and for a match by inference (a Together AI
/// parameter-size row) the warning naming the row, which needs the model name `price_cost`
/// does not carry, so that rare case asks `price` itself.
pub(crate) fn ingest_warnings(
    engine: &Engine,
    input: &PriceInput<'_>,
    c: &PricedCost,
) -> Vec<String> {
    if c.match_kind == Some(MatchKind::Inferred) {
        return inferred_warnings(engine, input, c);
    }
    cost_warnings(c, input.usage)
}

#[cold]
#[inline(never)]
fn inferred_warnings(engine: &Engine, input: &PriceInput<'_>, c: &PricedCost) -> Vec<String> {
    match engine.price(input) {
        Ok(r) => r.warnings,
        Err(_) => cost_warnings(c, input.usage),
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
    use super::cache::{LOOKUP_MEMO_MAX_KEY_BYTES, LOOKUP_MEMO_SLOTS};
    use super::*;

    /// The savings the ledger books, as the ledger computed them before they came from the
    /// same lookup: the standard usage priced by a second `price_cost` call.
    fn savings_by_a_second_call(engine: &Engine, input: &PriceInput<'_>, c: &PricedCost) -> Cents {
        let u = input.usage;
        if c.source != CostSource::RateCard
            || (u.cached_tokens == 0 && u.service_tier != ServiceTier::Batch)
        {
            return Cents::ZERO;
        }
        let Some(tokens_in) = u.tokens_in.checked_add(u.cached_tokens) else {
            return Cents::ZERO;
        };
        let mut standard = u.clone();
        standard.tokens_in = tokens_in;
        standard.cached_tokens = 0;
        if standard.service_tier == ServiceTier::Batch {
            standard.service_tier = ServiceTier::Standard;
        }
        let standard_input = PriceInput {
            usage: &standard,
            ..*input
        };
        match engine.price_cost(&standard_input) {
            Ok(s) if s.priced => s
                .cost_cents
                .checked_sub(c.cost_cents)
                .filter(|d| !d.is_negative())
                .unwrap_or(Cents::ZERO),
            _ => Cents::ZERO,
        }
    }

    /// One lookup gives the same cost as `price_cost` and the same savings as pricing the
    /// standard usage again, over models of every provider rule, cache reads, batch, external
    /// and stated costs, unknown models, tools, and counts at the edge of the range.
    #[test]
    fn savings_from_one_lookup_equal_a_second_pricing() {
        let engine = Engine::embedded();
        let models = [
            (Some("openai"), "gpt-4o"),
            (Some("openai"), "gpt-4o-mini-2024-07-18"),
            (Some("anthropic"), "claude-sonnet-4-5"),
            (Some("anthropic"), "claude-haiku-4-5"),
            (Some("bedrock"), "us.anthropic.claude-sonnet-4-6"),
            (Some("gemini"), "gemini-2.5-pro"),
            (Some("vertex_ai"), "gemini-2.0-flash-001"),
            (None, "gpt-4.1"),
            (Some("openrouter"), "anthropic/claude-3.5-sonnet"),
            (Some("together_ai"), "qwen/Qwen2-72B-Instruct"),
            (Some("openai"), "no-such-model"),
        ];
        let max = crate::usage::MAX_COUNT;
        let usages = [
            (1_000, 0, 100, ServiceTier::Standard),
            (1_000, 800, 100, ServiceTier::Standard),
            (0, 250_000, 0, ServiceTier::Standard),
            (300_000, 10, 5, ServiceTier::Standard),
            (1_000, 0, 100, ServiceTier::Batch),
            (1_000, 800, 100, ServiceTier::Batch),
            (1_000, 800, 100, ServiceTier::Priority),
            (1_000, 800, 100, ServiceTier::Flex),
            (max, 1, 0, ServiceTier::Standard),
            (max - 5, 5, 0, ServiceTier::Standard),
        ];
        let mut with_savings = 0;
        for (provider, model) in models {
            for (tokens_in, cached_tokens, tokens_out, service_tier) in usages {
                let u = Usage {
                    tokens_in,
                    cached_tokens,
                    tokens_out,
                    service_tier,
                    ..Usage::default()
                };
                for (kind, stated, external) in [
                    (EventKind::Llm, None, None),
                    (EventKind::Llm, None, Some("0.25")),
                    (EventKind::Llm, Some("3"), None),
                    (EventKind::Tool, None, Some("1.5")),
                ] {
                    let input = PriceInput {
                        kind,
                        provider,
                        model: Some(model),
                        usage: &u,
                        timestamp_ms: Some(1_767_225_600_000),
                        provider_cost_cents: stated
                            .map(|c| Cents::from_cents_literal(c, false).unwrap()),
                        external_cost_cents: external
                            .map(|c| Cents::from_cents_literal(c, false).unwrap()),
                    };
                    let want = engine.price_cost(&input);
                    let got = engine.price_cost_and_savings(&input);
                    match (want, got) {
                        (Ok(c), Ok((c2, s))) => {
                            assert_eq!(c, c2, "{provider:?} {model} {u:?}");
                            let s2 = savings_by_a_second_call(&engine, &input, &c);
                            assert_eq!(s, s2, "{provider:?} {model} {u:?}");
                            with_savings += usize::from(s != Cents::ZERO);
                        }
                        (Err(a), Err(b)) => assert_eq!(a, b),
                        (a, b) => panic!("{a:?} vs {b:?}"),
                    }
                }
            }
        }
        assert!(with_savings > 40, "{with_savings}");
    }

    /// gpt-4o (2.5e-06 USD input, 1.25e-06 USD cached input per token): 800 cache reads save
    /// 800 × (2.5e-06 − 1.25e-06) USD = 0.001 USD = 0.1 cents.
    #[test]
    fn savings_of_cache_reads_by_hand() {
        let engine = Engine::embedded();
        let u = Usage {
            tokens_in: 1_000,
            cached_tokens: 800,
            tokens_out: 100,
            ..Usage::default()
        };
        let (c, s) = engine
            .price_cost_and_savings(&PriceInput::llm(Some("openai"), "gpt-4o", &u))
            .unwrap();
        // 1000 × 2.5e-06 + 800 × 1.25e-06 + 100 × 1e-05 = 0.0045 USD.
        assert_eq!(c.cost_cents.to_string(), "0.45");
        assert_eq!(s.to_string(), "0.1");
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

    /// `price_cost` plus `ingest_warnings` carries what `price` returns (the ledger relies on it).
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
            // Unlisted Together AI model: its parameter-size row, inferred, with a warning.
            (Some("together_ai"), Some("qwen/Qwen2-72B-Instruct")),
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
                                assert_eq!(
                                    f.warnings,
                                    ingest_warnings(&engine, &input, &c),
                                    "{input:?}"
                                );
                            }
                            (Err(a), Err(b)) => assert_eq!(a, b),
                            (f, c) => panic!("{input:?}: {f:?} vs {c:?}"),
                        }
                    }
                }
            }
        }
    }

    /// A pin keeps its snapshot and the overrides of the moment, whatever happens to the
    /// engine afterwards; an unknown id pins nothing.
    #[test]
    fn pin_captures_snapshot_and_overrides() {
        let engine = Engine::from_registry(
            br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06}}"#,
        )
        .unwrap();
        let first = engine.snapshots()[0].id;
        engine
            .set_override("o", br#"{"input_cost_per_token": 2e-06}"#)
            .unwrap();
        let later = engine
            .publish_registry(
                br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 3e-06}}"#,
                1000,
            )
            .unwrap()
            .snapshot;
        let by_id = engine.pin(Some(first)).unwrap();
        let now = engine.pin(None).unwrap();
        assert!(engine.pin(Some(SnapshotId(42))).is_none());
        // After the pins: the override goes, another comes, a third snapshot is published.
        assert!(engine.remove_override("o"));
        engine
            .set_override("m", br#"{"input_cost_per_token": 9e-06}"#)
            .unwrap();
        engine
            .publish_registry(
                br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 5e-06}}"#,
                2000,
            )
            .unwrap();
        let u = Usage {
            tokens_in: 1000,
            ..Usage::default()
        };
        let cents = |e: &Engine, model: &str, ts: i64| {
            let r = e
                .price(&PriceInput {
                    timestamp_ms: Some(ts),
                    ..PriceInput::llm(Some("openai"), model, &u)
                })
                .unwrap();
            (r.cost_cents.to_string(), r.snapshot)
        };
        // Pinned by id: 1000 × 1e-06 USD = 0.1 cents at any timestamp; the override "o" of
        // the moment: 1000 × 2e-06 USD = 0.2 cents.
        for ts in [0, 1500, 9_000_000_000_000] {
            assert_eq!(cents(&by_id, "m", ts), ("0.1".to_string(), first));
            assert_eq!(cents(&by_id, "o", ts).0, "0.2");
            // Pinned now (the snapshot from t = 1000): 1000 × 3e-06 USD = 0.3 cents.
            assert_eq!(cents(&now, "m", ts), ("0.3".to_string(), later));
        }
        // The engine itself moved on: "m" is overridden at 9e-06 (0.9 cents), "o" is gone.
        assert_eq!(cents(&engine, "m", 0).0, "0.9");
        assert!(
            !engine
                .price(&PriceInput::llm(None, "o", &u))
                .unwrap()
                .priced
        );
    }

    /// A dropped engine's snapshots are released by the per-thread caches: at once on the
    /// dropping thread, on the next price call on another thread that had cached them.
    #[test]
    fn dropped_engines_leave_no_state_in_thread_caches() {
        let registry = br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06}}"#;
        let u = Usage {
            tokens_in: 1000,
            ..Usage::default()
        };
        let input = PriceInput::llm(Some("openai"), "m", &u);
        // One thread: more engines created, used and dropped than the cache has slots.
        for _ in 0..3 * 4 {
            let engine = Engine::from_registry(registry).unwrap();
            let snap = engine.snapshot_at(None);
            engine.price(&input).unwrap();
            engine.price_cost(&input).unwrap();
            assert!(Arc::strong_count(&snap) > 1);
            drop(engine);
            // Only this test's own reference is left.
            assert_eq!(Arc::strong_count(&snap), 1);
        }
        // Another thread cached the state; the engine is dropped here; that thread's next
        // price call (with some other engine) releases it.
        let engine = Arc::new(Engine::from_registry(registry).unwrap());
        let snap = engine.snapshot_at(None);
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let other = {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let u = Usage {
                    tokens_in: 1000,
                    ..Usage::default()
                };
                let input = PriceInput::llm(Some("openai"), "m", &u);
                engine.price(&input).unwrap();
                drop(engine);
                done_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                Engine::embedded().price(&input).unwrap();
                done_tx.send(()).unwrap();
                // Keep the thread (and its cache) alive until told.
                go_rx.recv().unwrap();
            })
        };
        done_rx.recv().unwrap();
        drop(engine);
        // The other thread's cache still holds it until that thread prices again.
        assert_eq!(Arc::strong_count(&snap), 2);
        go_tx.send(()).unwrap();
        done_rx.recv().unwrap();
        assert_eq!(Arc::strong_count(&snap), 1);
        go_tx.send(()).unwrap();
        other.join().unwrap();
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn engine_is_send_and_sync() {
        assert_send_sync::<Engine>();
        assert_send_sync::<ModelHandle>();
    }
}
