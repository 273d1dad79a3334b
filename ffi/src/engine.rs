//! `tg_engine`: the engine handle. Creation and options, rate-card publishing, the snapshot
//! history, per-model overrides. (Pricing is in `price.rs`, pinned snapshots in
//! `snapshot.rs`, the ledger in `ledger.rs`.)

use crate::boundary::{
    Failure, FfiResult, OutBuf, borrow, boundary, boundary_value, handle_free, handle_new,
    handle_type, input_limited, input_str, require_out, utf8, write_out,
};
use crate::error::tg_error;
use crate::status::*;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use tollgate_engine::engine::{Engine, EngineError, SnapshotId};
use tollgate_engine::event::{MAX_NAME_BYTES, MAX_TIMESTAMP_MS};
use tollgate_engine::ledger::{Clock, Ledger, LedgerConfig};
use tollgate_engine::ratecard::{MAX_REGISTRY_BYTES, RateCard};
use tollgate_engine::store::Store;

/// Largest rate card accepted, in bytes (the full registry is ≈3.5 MB).
pub const TG_MAX_RATE_CARD_BYTES: usize = 64 << 20;
const _: () = assert!(TG_MAX_RATE_CARD_BYTES == MAX_REGISTRY_BYTES);
/// Largest override entry (one registry entry object), in bytes.
pub const TG_MAX_OVERRIDE_BYTES: usize = 64 << 10;

/// `tg_engine_options.dedupe_window_ms` value selecting the default window (24 hours).
pub const TG_DEDUPE_WINDOW_DEFAULT: i64 = -1;
/// `tg_engine_options.dedupe_window_ms` value keeping idempotency keys forever.
pub const TG_DEDUPE_WINDOW_FOREVER: i64 = 0;
/// Largest dedupe window accepted, in milliseconds (10 years).
pub const TG_MAX_DEDUPE_WINDOW_MS: i64 = 316_224_000_000; // 10 × 366 days; a literal so C sees a 64-bit constant
/// `tg_engine_options.clock_ms` value selecting the system clock.
pub const TG_CLOCK_SYSTEM: i64 = -1;

const DEFAULT_DEDUPE_WINDOW_MS: i64 = 86_400_000;

/// Options of `tg_engine_new`. Initialise with `tg_engine_options_default()` and change the
/// fields you need, so a caller never passes an unset field. Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct tg_engine_options {
    /// How long idempotency keys are retained, in event-time milliseconds:
    /// `TG_DEDUPE_WINDOW_DEFAULT` (-1) = 24 hours, `TG_DEDUPE_WINDOW_FOREVER` (0) = forever,
    /// else 1..=`TG_MAX_DEDUPE_WINDOW_MS`.
    pub dedupe_window_ms: i64,
    /// "Now" for the ledger (the default timestamp of records without one, the bound on how
    /// far a future timestamp moves the dedupe window, subscription accrual):
    /// `TG_CLOCK_SYSTEM` (-1) = the system clock, else a fixed epoch-millisecond instant
    /// (for tests and replays).
    pub clock_ms: i64,
}

/// The engine: rate-card snapshot history, pricing, and the ledger (customers, runs, margin).
///
/// Thread-safety: **may be used from many threads at once**; every function taking a
/// `const tg_engine *` is safe to call concurrently on one engine. Only `tg_engine_free` needs
/// exclusive access: no other call may be running on the engine, and it must not be used
/// afterwards. Lifetime: owned by the caller from `tg_engine_new` until `tg_engine_free`.
pub struct tg_engine {
    _opaque: [u8; 0],
}
handle_type!(tg_engine => EngineObject, 1, "tg_engine_free / tg_engine_close");

/// What a `tg_engine` handle points to.
pub struct EngineObject {
    /// The pricing engine: the handle's own, or its data directory's (`tg_engine_open`).
    pub(crate) pricing: Pricing,
    /// The ledger of an in-memory engine; `tg_state_restore` replaces its state in place. A
    /// durable engine's ledger is its store's.
    ledger: Ledger,
    /// Held shared by every call that uses the ledger and exclusively by `tg_state_restore`,
    /// so a restore waits for the calls in progress and a call sees one ledger state
    /// throughout, even when it makes several ledger calls. `tg_allow` (one ledger call, on a
    /// request path) does without it: the ledger's own lock orders it with a restore.
    calls: RwLock<()>,
    pub(crate) clock: Clock,
}

/// The engine behind a handle: in memory (`tg_engine_new`) or on a data directory
/// (`tg_engine_open`), where every change goes through the store's journal.
pub(crate) enum Pricing {
    Memory(Engine),
    Durable(std::sync::Arc<Store>),
}

impl std::ops::Deref for Pricing {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        match self {
            Pricing::Memory(e) => e,
            Pricing::Durable(s) => s.engine(),
        }
    }
}

/// The ledger for one call.
pub(crate) enum LedgerRef<'a> {
    Memory {
        /// Keeps a restore out for the call.
        _calls: RwLockReadGuard<'a, ()>,
        ledger: &'a Ledger,
    },
    Durable(&'a Ledger),
}

impl std::ops::Deref for LedgerRef<'_> {
    type Target = Ledger;
    fn deref(&self) -> &Ledger {
        match self {
            LedgerRef::Memory { ledger, .. } => ledger,
            LedgerRef::Durable(l) => l,
        }
    }
}

impl EngineObject {
    /// The data directory's store of a durable engine.
    pub(crate) fn store(&self) -> Option<&Store> {
        match &self.pricing {
            Pricing::Durable(s) => Some(s),
            Pricing::Memory(_) => None,
        }
    }

    /// The shared handle of a durable engine's store (a refresher keeps one).
    pub(crate) fn store_arc(&self) -> Option<&std::sync::Arc<Store>> {
        match &self.pricing {
            Pricing::Durable(s) => Some(s),
            Pricing::Memory(_) => None,
        }
    }

    pub(crate) fn new_durable(store: Store) -> EngineObject {
        let clock = store.ledger().clock();
        EngineObject {
            pricing: Pricing::Durable(std::sync::Arc::new(store)),
            ledger: Ledger::new(LedgerConfig::default()),
            calls: RwLock::new(()),
            clock,
        }
    }

    /// The ledger, for one call (the ledger itself is `Sync`; the lock only guards restore).
    ///
    /// Refused with `TG_ERR_PANIC` once a panic interrupted an update of it (the calls lock,
    /// the ledger's own lock, or a durable engine's store is poisoned): a half-applied state is
    /// neither served nor changed. An in-memory engine recovers with `tg_state_restore`; a
    /// durable one by closing and reopening its directory (recovery replays the journal).
    pub(crate) fn ledger(&self) -> FfiResult<LedgerRef<'_>> {
        let ledger = match &self.pricing {
            Pricing::Durable(s) => {
                if s.is_panicked() {
                    return Err(poisoned("its store (close and reopen the data directory)"));
                }
                LedgerRef::Durable(s.ledger())
            }
            Pricing::Memory(_) => LedgerRef::Memory {
                _calls: self
                    .calls
                    .read()
                    .map_err(|_| poisoned("it (tg_state_restore replaces it)"))?,
                ledger: &self.ledger,
            },
        };
        self.refuse_poisoned(&ledger)?;
        Ok(ledger)
    }

    /// The ledger for a call that makes exactly one ledger call (`tg_allow`): without the
    /// calls lock, whose two atomic operations are most of the ABI's cost on that path. The
    /// ledger's own lock orders that call with a restore (which replaces the state in place).
    /// Refused as [`EngineObject::ledger`] is (two relaxed loads).
    #[inline]
    pub(crate) fn ledger_for_one_call(&self) -> FfiResult<&Ledger> {
        let ledger = match &self.pricing {
            Pricing::Durable(s) => {
                if s.is_panicked() {
                    return Err(poisoned("its store (close and reopen the data directory)"));
                }
                s.ledger()
            }
            Pricing::Memory(_) => {
                if self.calls.is_poisoned() {
                    return Err(poisoned("it (tg_state_restore replaces it)"));
                }
                &self.ledger
            }
        };
        self.refuse_poisoned(ledger)?;
        Ok(ledger)
    }

    #[inline]
    fn refuse_poisoned(&self, ledger: &Ledger) -> FfiResult {
        if ledger.is_poisoned() {
            return Err(poisoned(match &self.pricing {
                Pricing::Durable(_) => "its ledger (close and reopen the data directory)",
                Pricing::Memory(_) => "its ledger (tg_state_restore replaces it)",
            }));
        }
        Ok(())
    }

    /// Replaces the ledger's state once no call is using it; this also ends a refusal after a
    /// panic (the new state is whole).
    pub(crate) fn replace_ledger(&self, ledger: Ledger) {
        let _no_calls = self.calls.write().unwrap_or_else(|p| {
            self.calls.clear_poison();
            p.into_inner()
        });
        #[cfg(feature = "test-hooks")]
        crate::test_hooks::hit(crate::test_hooks::SITE_STATE_RESTORE);
        // An in-memory engine's ledger is never journaled, so this cannot be refused.
        let _ = self.ledger.replace_state(ledger);
    }
}

/// The refusal of a ledger a panic interrupted mid-update.
#[cold]
fn poisoned(what: &str) -> Failure {
    Failure::owned(
        TG_ERR_PANIC,
        format!(
            "engine: a panic interrupted an update of the ledger, so {what} refuses further use"
        ),
    )
}

const DEFAULT_OPTIONS: tg_engine_options = tg_engine_options {
    dedupe_window_ms: TG_DEDUPE_WINDOW_DEFAULT,
    clock_ms: TG_CLOCK_SYSTEM,
};

/// The default options (dedupe window 24 hours, system clock). Thread-safety: any thread.
/// Never fails.
#[unsafe(no_mangle)]
pub extern "C" fn tg_engine_options_default() -> tg_engine_options {
    boundary_value(DEFAULT_OPTIONS, || DEFAULT_OPTIONS)
}

fn check_options(options: &tg_engine_options) -> FfiResult<(i64, i64)> {
    let window = match options.dedupe_window_ms {
        TG_DEDUPE_WINDOW_DEFAULT => DEFAULT_DEDUPE_WINDOW_MS,
        w @ 0..=TG_MAX_DEDUPE_WINDOW_MS => w,
        w => {
            return Err(Failure::owned(
                TG_ERR_INVALID_INPUT,
                format!(
                    "dedupe_window_ms: {w} is not -1 (default), 0 (forever) or 1..={TG_MAX_DEDUPE_WINDOW_MS}"
                ),
            ));
        }
    };
    let clock = match options.clock_ms {
        TG_CLOCK_SYSTEM => TG_CLOCK_SYSTEM,
        c @ 0..=MAX_TIMESTAMP_MS => c,
        c => {
            return Err(Failure::owned(
                TG_ERR_INVALID_INPUT,
                format!("clock_ms: {c} is not -1 (system clock) or 0..={MAX_TIMESTAMP_MS}"),
            ));
        }
    };
    Ok((window, clock))
}

pub(crate) fn engine_failure(e: EngineError) -> Failure {
    let status = match e {
        EngineError::RateCard(_) => TG_ERR_RATE_CARD,
        _ => TG_ERR_LIMIT,
    };
    Failure::owned(status, e.to_string())
}

/// Creates an engine and writes it to `*out`.
///
/// `options` may be NULL (defaults). `rate_card` is `(pointer, length)`: `(NULL, 0)` uses the
/// embedded default rate card (LiteLLM 1.110.2); otherwise it is a LiteLLM-format registry
/// (JSON, at most `TG_MAX_RATE_CARD_BYTES`) that replaces the default, effective from the
/// beginning of time. The bytes are copied; the caller keeps ownership.
///
/// Returns `TG_OK`; `TG_ERR_NULL` (`out` NULL, or `rate_card` NULL with a length);
/// `TG_ERR_INVALID_INPUT` (bad option); `TG_ERR_LIMIT`; `TG_ERR_RATE_CARD` (the card is
/// invalid: the detail names key, field and reason). `*out` is written only on success.
///
/// Ownership: the caller owns `*out` and must release it with `tg_engine_free`.
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_new(
    options: *const tg_engine_options,
    rate_card: *const u8,
    rate_card_len: usize,
    out: *mut *mut tg_engine,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        require_out(out, "out")?;
        let options = if options.is_null() {
            DEFAULT_OPTIONS
        } else {
            // SAFETY: documented contract: NULL or a readable tg_engine_options.
            unsafe { *options }
        };
        let (dedupe_window_ms, clock_ms) = check_options(&options)?;
        // SAFETY: documented (pointer, length) contract.
        let card = unsafe {
            input_limited(
                rate_card,
                rate_card_len,
                TG_MAX_RATE_CARD_BYTES,
                "rate_card",
            )?
        };
        let pricing = if card.is_empty() {
            Engine::embedded()
        } else {
            Engine::from_registry(card)
                .map_err(|e| Failure::owned(TG_ERR_RATE_CARD, e.to_string()))?
        };
        let clock = if clock_ms == TG_CLOCK_SYSTEM {
            Clock::System
        } else {
            Clock::Fixed(clock_ms)
        };
        let ledger = Ledger::new(LedgerConfig {
            dedupe_window_ms: dedupe_window_ms.unsigned_abs(),
            clock,
        });
        let engine = EngineObject {
            pricing: Pricing::Memory(pricing),
            ledger,
            calls: RwLock::new(()),
            clock,
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, handle_new::<tg_engine>(engine)?) };
        Ok(())
    })
}

/// Frees an engine and everything it owns. `tg_engine_free(NULL)` is a no-op.
///
/// No other call may be running on `engine`, and it must not be used afterwards. Pinned
/// snapshots (`tg_snapshot`) and streams stay valid: they own what they need.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_free(engine: *mut tg_engine) {
    boundary_value((), || {
        // SAFETY: documented contract: NULL or a live engine not in use.
        unsafe { handle_free(engine) }
    })
}

/// Publishes a rate card (a LiteLLM-format registry, at most `TG_MAX_RATE_CARD_BYTES`)
/// effective from `effective_from_ms` (epoch milliseconds, 0..=253402300799999): events at or
/// after that instant (and before the next snapshot's) are priced with it; events before stay
/// priced by the snapshot in force then. A card published at an instant that already has one
/// replaces it. The file is validated whole first: a bad file is rejected with
/// `TG_ERR_RATE_CARD` (the detail names the registry key, field and reason) and nothing
/// changes. Readers pricing concurrently never block and see the old or the new history,
/// never a mix. Writes the new snapshot's id (its content hash) to `*out_snapshot_id`.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_INVALID_INPUT` (bad
/// `effective_from_ms`); `TG_ERR_LIMIT` (card too large, or the history is full);
/// `TG_ERR_RATE_CARD`. Thread-safety: any thread, concurrently with pricing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_publish_rate_card(
    engine: *const tg_engine,
    rate_card: *const u8,
    rate_card_len: usize,
    effective_from_ms: i64,
    out_snapshot_id: *mut u64,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        require_out(out_snapshot_id, "out_snapshot_id")?;
        // SAFETY: documented contracts of the arguments.
        let (engine, card) = unsafe {
            (
                borrow(engine)?,
                input_limited(
                    rate_card,
                    rate_card_len,
                    TG_MAX_RATE_CARD_BYTES,
                    "rate_card",
                )?,
            )
        };
        check_effective_from(effective_from_ms)?;
        let id = publish(engine, card, effective_from_ms)?;
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out_snapshot_id, id.0) };
        Ok(())
    })
}

/// `tg_engine_publish_rate_card` that also reports the registry's warnings. Writes
/// `{"snapshot":"<16 hex>","warnings":["…"]}`: one warning per field that looks like a rate
/// (`*cost*`) but matches no rate name the engine knows; such a field is accepted (a registry
/// update is not blocked by one new LiteLLM field) and prices nothing. The output is
/// rendered and the buffer checked **before** anything is published: a buffer too small
/// fails with `TG_ERR_BUFFER_TOO_SMALL` (`*out_len` = the bytes needed) and publishes
/// nothing, so retrying with a larger buffer is safe.
///
/// Returns the statuses of `tg_engine_publish_rate_card`, plus `TG_ERR_BUFFER_TOO_SMALL`.
/// Thread-safety: any thread, concurrently with pricing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_publish_rate_card_json(
    engine: *const tg_engine,
    rate_card: *const u8,
    rate_card_len: usize,
    effective_from_ms: i64,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, card, out) = unsafe {
            (
                borrow(engine)?,
                input_limited(
                    rate_card,
                    rate_card_len,
                    TG_MAX_RATE_CARD_BYTES,
                    "rate_card",
                )?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        check_effective_from(effective_from_ms)?;
        // Validate and render first, so a small buffer changes nothing.
        let parsed = RateCard::parse(card).map_err(|e| engine_failure(EngineError::RateCard(e)))?;
        let mut s = format!("{{\"snapshot\":\"{}\",\"warnings\":[", parsed.id());
        for (i, w) in parsed.warnings().iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            crate::json::push_str(&mut s, w);
        }
        s.push_str("]}");
        drop(parsed);
        out.require(s.len())?;
        publish(engine, card, effective_from_ms)?;
        out.write(s.as_bytes())
    })
}

/// Publishes through the store when the engine is durable, else on the engine.
fn publish(engine: &EngineObject, card: &[u8], effective_from_ms: i64) -> FfiResult<SnapshotId> {
    Ok(match engine.store() {
        Some(store) => {
            store
                .publish_registry(card, effective_from_ms)
                .map_err(crate::store::store_failure)?
                .snapshot
        }
        None => {
            engine
                .pricing
                .publish_registry(card, effective_from_ms)
                .map_err(engine_failure)?
                .snapshot
        }
    })
}

fn check_effective_from(effective_from_ms: i64) -> FfiResult {
    if !(0..=MAX_TIMESTAMP_MS).contains(&effective_from_ms) {
        return Err(Failure::owned(
            TG_ERR_INVALID_INPUT,
            format!("effective_from_ms: {effective_from_ms} is not in 0..={MAX_TIMESTAMP_MS}"),
        ));
    }
    Ok(())
}

/// Writes the published snapshots, oldest `effectiveFrom` first:
/// `{"snapshots":[{"id":"<16 hex>","effectiveFromMs":0,"models":2613}]}`.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_BUFFER_TOO_SMALL`.
/// Changes nothing. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_snapshots_json(
    engine: *const tg_engine,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, out) = unsafe { (borrow(engine)?, OutBuf::new(out, out_cap, out_len)?) };
        let mut s = String::from("{\"snapshots\":[");
        for (i, info) in engine.pricing.snapshots().iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "{{\"id\":\"{}\",\"effectiveFromMs\":{},\"models\":{}}}",
                info.id, info.effective_from_ms, info.models
            );
        }
        s.push_str("]}");
        out.write(s.as_bytes())
    })
}

/// Sets custom prices for `model` (negotiated discounts, self-hosted models): `entry` is one
/// registry entry object (`{"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06}`,
/// at most `TG_MAX_OVERRIDE_BYTES`), validated like the registry. Its prices replace the
/// registry's for that model (matched case-insensitively as `model` or `provider/model`) in
/// every snapshot, survive later publishes, and may name a model the registry lacks. Results
/// priced by an override report `"match": "override"` / `TG_MATCH_OVERRIDE`.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT` (too large, or
/// too many overrides); `TG_ERR_INVALID_UTF8`; `TG_ERR_RATE_CARD` (invalid entry: nothing
/// changed). Thread-safety: any thread, concurrently with pricing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_set_override(
    engine: *const tg_engine,
    model: *const u8,
    model_len: usize,
    entry: *const u8,
    entry_len: usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, model, entry) = unsafe {
            (
                borrow(engine)?,
                input_str(model, model_len, MAX_NAME_BYTES, "model")?,
                input_limited(entry, entry_len, TG_MAX_OVERRIDE_BYTES, "entry")?,
            )
        };
        if model.is_empty() {
            return Err(Failure::new(
                TG_ERR_INVALID_INPUT,
                "model: must not be empty",
            ));
        }
        utf8(entry, "entry")?;
        match engine.store() {
            Some(store) => store
                .set_override(model, entry)
                .map_err(crate::store::store_failure),
            None => engine
                .pricing
                .set_override(model, entry)
                .map_err(engine_failure),
        }
    })
}

/// Removes the override of `model`; writes 1 to `*out_removed` if there was one, else 0.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_LIMIT`;
/// `TG_ERR_INVALID_UTF8`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_remove_override(
    engine: *const tg_engine,
    model: *const u8,
    model_len: usize,
    out_removed: *mut u32,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        require_out(out_removed, "out_removed")?;
        // SAFETY: documented contracts of the arguments.
        let (engine, model) = unsafe {
            (
                borrow(engine)?,
                input_str(model, model_len, MAX_NAME_BYTES, "model")?,
            )
        };
        let removed = match engine.store() {
            Some(store) => store
                .remove_override(model)
                .map_err(crate::store::store_failure)?,
            None => engine.pricing.remove_override(model),
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out_removed, u32::from(removed)) };
        Ok(())
    })
}

/// A pricing engine over exactly one snapshot with the engine's current overrides, both
/// taken in one load ([`Engine::pin`]): what a pinned snapshot prices with.
pub(crate) fn frozen_view(engine: &EngineObject, snapshot_id: u64) -> FfiResult<Arc<Engine>> {
    let wanted = (snapshot_id != 0).then_some(SnapshotId(snapshot_id));
    let view = engine.pricing.pin(wanted).ok_or_else(|| {
        Failure::owned(
            TG_ERR_NOT_FOUND,
            format!("snapshot_id: no published snapshot {snapshot_id:016x}"),
        )
    })?;
    Ok(Arc::new(view))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_are_rejected_and_nothing_is_written() {
        let mut out: *mut tg_engine = std::ptr::null_mut();
        let mut e = tg_error::empty();
        let mut opts = tg_engine_options_default();
        opts.dedupe_window_ms = -5;
        let s = unsafe { tg_engine_new(&opts, std::ptr::null(), 0, &mut out, &mut e) };
        assert_eq!(s, TG_ERR_INVALID_INPUT);
        assert!(out.is_null());
        assert!(e.message_str().starts_with("dedupe_window_ms: -5 is not"));
        let mut opts = tg_engine_options_default();
        opts.clock_ms = -2;
        let s = unsafe { tg_engine_new(&opts, std::ptr::null(), 0, &mut out, &mut e) };
        assert_eq!(s, TG_ERR_INVALID_INPUT);
        assert!(e.message_str().starts_with("clock_ms: -2"));
        let s = unsafe {
            tg_engine_new(
                std::ptr::null(),
                std::ptr::null(),
                0,
                std::ptr::null_mut(),
                &mut e,
            )
        };
        assert_eq!(s, TG_ERR_NULL);
        unsafe { tg_engine_free(std::ptr::null_mut()) };
    }

    #[test]
    fn a_bad_rate_card_is_rejected_whole() {
        let mut out: *mut tg_engine = std::ptr::null_mut();
        let mut e = tg_error::empty();
        let card = br#"{"m": {"input_cost_per_token": "abc", "litellm_provider": "openai"}}"#;
        let s = unsafe {
            tg_engine_new(
                std::ptr::null(),
                card.as_ptr(),
                card.len(),
                &mut out,
                &mut e,
            )
        };
        assert_eq!(s, TG_ERR_RATE_CARD);
        assert!(out.is_null());
        assert!(
            e.message_str().contains("registry key `m`"),
            "{}",
            e.message_str()
        );
    }
}
