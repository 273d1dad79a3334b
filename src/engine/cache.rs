//! The per-thread state cache: each thread keeps the last engine states it priced with (and
//! a lookup memo per state), so a price call reads one atomic counter instead of taking an
//! `arc-swap` guard.

use super::{Engine, Found, Hit, Override, Overrides, Snapshot, State, find_hit, find_model};
use crate::lookup::MatchKind;
use crate::pricing::Calc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

/// Per thread, the last states used by up to [`STATE_CACHE_SLOTS`] engines. A price call then
/// reads one atomic counter instead of taking an `arc-swap` guard (measured: a fifth of a
/// by-name price).
///
/// What it keeps alive: a slot holds at most one superseded state of a live engine until that
/// thread prices with the engine again. When an engine is dropped, the dropping thread's slots
/// for it are cleared at once, and every other thread clears its slots of dropped engines on
/// its next price call with any engine (one relaxed load of a global drop counter per call
/// notices). Only a thread that never prices again keeps up to [`STATE_CACHE_SLOTS`] states of
/// dropped engines, until it exits.
const STATE_CACHE_SLOTS: usize = 4;

/// One cached state: of which engine, at which generation, whether that engine is still alive,
/// and the lookup memo of that state.
struct StateSlot {
    engine: u64,
    generation: u64,
    alive: Weak<()>,
    state: Arc<State>,
    memo: LookupMemo,
}

/// A thread's slots, and the value of [`ENGINE_DROPS`] when it last cleared dropped engines.
struct StateCache {
    slots: [Option<StateSlot>; STATE_CACHE_SLOTS],
    seen_drops: u64,
}

impl StateCache {
    /// Clears the slots of dropped engines if an engine was dropped since the last look.
    #[inline]
    fn forget_dropped(&mut self) {
        let drops = ENGINE_DROPS.load(Ordering::Acquire);
        if drops != self.seen_drops {
            self.seen_drops = drops;
            for s in &mut self.slots {
                if s.as_ref().is_some_and(|x| x.alive.strong_count() == 0) {
                    *s = None;
                }
            }
        }
    }
}

/// Engines dropped in this process so far: a thread whose cache saw another count clears the
/// slots of dropped engines.
static ENGINE_DROPS: AtomicU64 = AtomicU64::new(0);

/// Slots of a [`LookupMemo`] (a power of two).
pub(super) const LOOKUP_MEMO_SLOTS: usize = 64;

/// Longest provider + model text a [`LookupMemo`] keeps (longer names are looked up each time).
pub(super) const LOOKUP_MEMO_MAX_KEY_BYTES: usize = 256;

/// Per thread and per cached state, the last by-name lookups (direct-mapped on a hash of the
/// names): `find_model` is a pure function of the state's overrides, the snapshot and the two names,
/// so a result is reused while its state is cached (a new generation gets an empty memo).
/// Measured: the lookup was ~370 of the ~820 instructions of a by-name `price_cost`.
#[derive(Default)]
pub(super) struct LookupMemo {
    slots: Vec<MemoSlot>,
}

/// One memo entry. The names are kept inline (the provider's bytes, then the model's), not in
/// two heap strings: a probe and a fill touch the slot's own lines only. Header first
/// (`repr(C)`), so the lengths, the snapshot and a short name share a cache line.
#[repr(C)]
struct MemoSlot {
    filled: bool,
    /// The provider's length plus one; 0 for no provider.
    provider_len: u16,
    model_len: u16,
    /// `Arc::as_ptr` of the snapshot (kept alive by the state that owns this memo).
    snapshot: usize,
    found: Option<KeptHit>,
    text: [u8; LOOKUP_MEMO_MAX_KEY_BYTES],
}

impl Default for MemoSlot {
    fn default() -> MemoSlot {
        MemoSlot {
            filled: false,
            provider_len: 0,
            model_len: 0,
            snapshot: 0,
            found: None,
            text: [0; LOOKUP_MEMO_MAX_KEY_BYTES],
        }
    }
}

/// A [`Hit`] as a memo slot keeps it: a row by index (the snapshot it indexes is alive while
/// the slot names it), an override by reference count.
enum KeptHit {
    Row(u32, Calc, MatchKind),
    Override(Arc<Override>, Calc),
}

impl LookupMemo {
    /// `find_model(overrides, snap, provider, model)`, from the memo when it holds the same
    /// names for the same snapshot.
    pub(super) fn lookup<'a>(
        &'a mut self,
        overrides: &'a Overrides,
        snap: &'a Arc<Snapshot>,
        provider: Option<&str>,
        model: &str,
    ) -> Option<Found<'a>> {
        if provider.map_or(0, str::len) + model.len() > LOOKUP_MEMO_MAX_KEY_BYTES {
            return find_model(overrides, snap, provider, model);
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
        let p = provider.map_or(&[][..], str::as_bytes);
        let m = model.as_bytes();
        // Both lengths fit: their sum is at most LOOKUP_MEMO_MAX_KEY_BYTES (checked above).
        let plen = provider.map_or(0, |p| p.len() + 1) as u16;
        let end = p.len() + m.len();
        if !(slot.filled
            && slot.snapshot == at
            && slot.provider_len == plen
            && usize::from(slot.model_len) == m.len()
            && slot.text[..p.len()] == *p
            && slot.text[p.len()..end] == *m)
        {
            slot.found = find_hit(overrides, snap, provider, model).map(|h| match h {
                Hit::Row(row, calc, kind) => KeptHit::Row(row, calc, kind),
                Hit::Override(ov, calc) => KeptHit::Override(ov.clone(), calc),
            });
            slot.filled = true;
            slot.snapshot = at;
            slot.provider_len = plen;
            slot.model_len = m.len() as u16;
            slot.text[..p.len()].copy_from_slice(p);
            slot.text[p.len()..end].copy_from_slice(m);
        }
        slot.found.as_ref().map(|f| match f {
            KeptHit::Row(row, calc, kind) => Hit::Row(*row, *calc, *kind).found(snap),
            KeptHit::Override(ov, calc) => Hit::Override(ov, *calc).found(snap),
        })
    }
}

thread_local! {
    static STATE_CACHE: std::cell::RefCell<StateCache> = const {
        std::cell::RefCell::new(StateCache {
            slots: [None, None, None, None],
            seen_drops: 0,
        })
    };
}

pub(super) static ENGINE_IDS: AtomicU64 = AtomicU64::new(1);

impl Engine {
    /// Runs `f` on the current state: the thread's cached one when no publish happened since,
    /// else one `arc-swap` load (which then refreshes the cache). One state per call.
    #[inline]
    pub(super) fn with_state<R>(&self, f: impl Fn(&State) -> R) -> R {
        let generation = self.generation.load(Ordering::Acquire);
        let cached = STATE_CACHE.try_with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            cache.forget_dropped();
            let slot = cache
                .slots
                .iter()
                .flatten()
                .find(|x| x.engine == self.id && x.generation == generation)?;
            Some(f(&slot.state))
        });
        if let Ok(Some(r)) = cached {
            return r;
        }
        let st = self.state.load_full();
        let _ = STATE_CACHE.try_with(|cache| {
            if let Ok(mut cache) = cache.try_borrow_mut() {
                let i = cache
                    .slots
                    .iter()
                    .position(|s| s.as_ref().is_none_or(|x| x.engine == self.id))
                    .unwrap_or((generation as usize) % STATE_CACHE_SLOTS);
                cache.slots[i] = Some(StateSlot {
                    engine: self.id,
                    generation,
                    alive: Arc::downgrade(&self.alive),
                    state: st.clone(),
                    memo: LookupMemo::default(),
                });
            }
        });
        f(&st)
    }

    /// [`Engine::with_state`], also handing `f` the thread's lookup memo of that state (`None`
    /// when the state is not cached on this thread yet, or the cache is in use).
    #[inline]
    pub(super) fn with_state_memo<R>(&self, f: impl Fn(&State, Option<&mut LookupMemo>) -> R) -> R {
        let generation = self.generation.load(Ordering::Acquire);
        let cached = STATE_CACHE.try_with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            cache.forget_dropped();
            let slot = cache
                .slots
                .iter_mut()
                .flatten()
                .find(|x| x.engine == self.id && x.generation == generation)?;
            Some(f(&slot.state, Some(&mut slot.memo)))
        });
        if let Ok(Some(r)) = cached {
            return r;
        }
        self.with_state(|st| f(st, None))
    }
}

impl Drop for Engine {
    /// Releases the engine's states from every thread's cache: this thread's at once, the
    /// others' on their next price call (a thread that never prices again keeps them until
    /// it exits).
    fn drop(&mut self) {
        // The last strong reference of the liveness token: every slot's `alive` is now dead.
        self.alive = Arc::new(());
        ENGINE_DROPS.fetch_add(1, Ordering::Release);
        let _ = STATE_CACHE.try_with(|cache| {
            if let Ok(mut cache) = cache.try_borrow_mut() {
                cache.forget_dropped();
            }
        });
    }
}
