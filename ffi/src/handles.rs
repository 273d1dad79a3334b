//! The handle registry: every handle the C ABI hands out (`tg_engine`, `tg_snapshot`,
//! `tg_stream`, `tg_sync_report`, `tg_refresher`) is an opaque pointer-sized value that
//! indexes a slot of this registry, never the address of the object behind it.
//!
//! A handle value packs, on 64-bit targets (most significant bits first):
//!
//! | bits   | field                                                              |
//! |--------|--------------------------------------------------------------------|
//! | 63..56 | `0x74`, a marker no pointer into user-space memory carries          |
//! | 55..52 | the handle kind (1 engine, 2 snapshot, 3 stream, 4 sync report, 5 refresher) |
//! | 51..24 | the slot's generation (28 bits)                                     |
//! | 23..0  | the slot index (up to 16,777,216 live handles)                      |
//!
//! (On 32-bit targets: kind in bits 31..28, generation 27..14, index 13..0, no marker.)
//!
//! A slot holds the handle value it was issued under (`live`, 0 when free) and the pointer
//! to the boxed object. Looking a handle up reads only the registry — a fixed table of chunk
//! pointers and chunks that are allocated once and **never freed** — and compares the slot's
//! `live` value with the whole handle; only on equality is the object pointer read. Freeing
//! swaps `live` to 0 first (compare-and-swap: of two frees of one handle exactly one wins),
//! then drops the object, then returns the slot with its generation advanced. A slot whose
//! generation is exhausted is retired instead of reused, so **no handle value is ever issued
//! twice**: a freed, unpinned or stopped handle, a handle of another kind and a value this
//! library never issued are told apart from a live handle by comparing integers, without
//! reading the memory of any object, freed or not.
//!
//! What it does not cover: freeing a handle *while another call on the same handle is
//! running* (the header forbids it for every kind): the other call may already hold the
//! object.
//!
//! Cost: the lookup is lock-free (two dependent loads from memory that never moves and one
//! comparison); creating and freeing take a mutex around the free list.

use crate::boundary::{Failure, FfiResult};
use crate::status::{TG_ERR_INVALID_HANDLE, TG_ERR_LIMIT, TG_ERR_NULL};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// A C handle type: a zero-sized opaque type the header declares (`typedef struct tg_x tg_x`).
/// A value of `*const tg_x` is a registry handle of kind [`Handle::KIND`] standing for a
/// boxed [`Handle::Inner`].
pub trait Handle {
    /// The Rust object behind the handle.
    type Inner;
    /// The kind number packed into the handle value (1..=15, unique per type).
    const KIND: usize;
    /// The C type name, for messages.
    const NAME: &'static str;
    /// The function(s) that end the handle's life, for messages.
    const RELEASED_BY: &'static str;
}

#[cfg(target_pointer_width = "64")]
mod layout {
    pub(super) const INDEX_BITS: u32 = 24;
    pub(super) const GEN_BITS: u32 = 28;
    pub(super) const KIND_SHIFT: u32 = 52;
    pub(super) const MARK: usize = 0x74 << 56;
    pub(super) const MARK_MASK: usize = 0xff << 56;
}
#[cfg(not(target_pointer_width = "64"))]
mod layout {
    pub(super) const INDEX_BITS: u32 = 14;
    pub(super) const GEN_BITS: u32 = 14;
    pub(super) const KIND_SHIFT: u32 = 28;
    pub(super) const MARK: usize = 0;
    pub(super) const MARK_MASK: usize = 0;
}
use layout::*;

const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;
const GEN_MASK: usize = (1 << GEN_BITS) - 1;
const KIND_MASK: usize = 0xf;
/// Most handles that may be live at once.
pub(crate) const MAX_LIVE: usize = 1 << INDEX_BITS;

/// Slots in chunk 0; chunk `k` holds `FIRST_CHUNK << k`.
const FIRST_CHUNK: usize = 64;
/// Enough chunks for every index: `FIRST_CHUNK * (2^CHUNKS - 1) >= MAX_LIVE`.
const CHUNKS: usize = (INDEX_BITS - FIRST_CHUNK.trailing_zeros() + 1) as usize;
const _: () = assert!(FIRST_CHUNK * ((1 << CHUNKS) - 1) >= MAX_LIVE);
const _: () = assert!(INDEX_BITS + GEN_BITS <= KIND_SHIFT);

struct Slot {
    /// The handle value this slot is live under; 0 while free.
    live: AtomicUsize,
    /// The boxed object (`Box<Inner>` of the slot's kind); NULL while free.
    object: AtomicPtr<()>,
}

/// The chunk tables: allocated on demand under [`FREE`], never freed.
static TABLE: [AtomicPtr<Slot>; CHUNKS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; CHUNKS];

struct FreeList {
    /// Free slots and the generation each is issued under next.
    free: Vec<(u32, u32)>,
    /// The next never-used index.
    next: usize,
}

static FREE: Mutex<FreeList> = Mutex::new(FreeList {
    free: Vec::new(),
    next: 0,
});

/// The chunk and offset of slot `index`.
#[inline(always)]
fn locate(index: usize) -> (usize, usize) {
    let j = index / FIRST_CHUNK + 1;
    let k = (usize::BITS - 1 - j.leading_zeros()) as usize;
    (k, index - FIRST_CHUNK * ((1 << k) - 1))
}

/// The slot of `index`, when its chunk exists.
#[inline(always)]
fn slot(index: usize) -> Option<&'static Slot> {
    let (k, off) = locate(index);
    let chunk = TABLE[k].load(Ordering::Acquire);
    if chunk.is_null() {
        return None;
    }
    // SAFETY: chunk `k` has `FIRST_CHUNK << k` slots (allocated in `insert`) and
    // `off < FIRST_CHUNK << k` by `locate`; chunks are never freed.
    Some(unsafe { &*chunk.add(off) })
}

#[inline(always)]
fn value_of(kind: usize, generation: usize, index: usize) -> usize {
    MARK | (kind << KIND_SHIFT) | (generation << INDEX_BITS) | index
}

/// Registers `value` and returns its handle (C owns it until the type's release function).
///
/// Fails with `TG_ERR_LIMIT` (and drops `value`) when [`MAX_LIVE`] handles are live.
pub fn insert<C: Handle>(value: C::Inner) -> FfiResult<*mut C> {
    const { assert!(C::KIND >= 1 && C::KIND <= KIND_MASK) };
    let object = Box::into_raw(Box::new(value)).cast::<()>();
    // The free list is consistent at every point a panic could interrupt it (allocation
    // failure aborts), so a poisoned lock is safe to take over.
    let mut free = FREE.lock().unwrap_or_else(PoisonError::into_inner);
    let (index, generation) = match free.free.pop() {
        Some((i, g)) => (i as usize, g as usize),
        None if free.next < MAX_LIVE => {
            let index = free.next;
            let (k, off) = locate(index);
            if off == 0 && TABLE[k].load(Ordering::Relaxed).is_null() {
                let chunk: Box<[Slot]> = (0..FIRST_CHUNK << k)
                    .map(|_| Slot {
                        live: AtomicUsize::new(0),
                        object: AtomicPtr::new(std::ptr::null_mut()),
                    })
                    .collect();
                TABLE[k].store(Box::leak(chunk).as_mut_ptr(), Ordering::Release);
            }
            free.next += 1;
            (index, 0)
        }
        None => {
            drop(free);
            // SAFETY: made by `Box::into_raw` above and not shared.
            drop(unsafe { Box::from_raw(object.cast::<C::Inner>()) });
            return Err(Failure::owned(
                TG_ERR_LIMIT,
                format!(
                    "{}: {MAX_LIVE} handles are live; free some before creating more",
                    C::NAME
                ),
            ));
        }
    };
    let h = value_of(C::KIND, generation, index);
    let s = slot(index).expect("the chunk of an issued index exists");
    s.object.store(object, Ordering::Relaxed);
    s.live.store(h, Ordering::Release);
    drop(free);
    Ok(std::ptr::without_provenance_mut(h))
}

/// The object behind a live handle of kind `C`.
#[inline(always)]
fn lookup<C: Handle>(ptr: *const C) -> FfiResult<*mut C::Inner> {
    let h = ptr.addr();
    if (h >> KIND_SHIFT) & KIND_MASK == C::KIND
        && let Some(s) = slot(h & INDEX_MASK)
        && s.live.load(Ordering::Acquire) == h
    {
        let object = s.object.load(Ordering::Acquire);
        if !object.is_null() {
            return Ok(object.cast());
        }
    }
    Err(invalid::<C>(h))
}

/// The precise error for a handle value that is not a live handle of kind `C`.
#[cold]
#[inline(never)]
fn invalid<C: Handle>(h: usize) -> Failure {
    const KINDS: [&str; 6] = [
        "",
        "tg_engine",
        "tg_snapshot",
        "tg_stream",
        "tg_sync_report",
        "tg_refresher",
    ];
    let name = C::NAME;
    if h == 0 {
        return Failure::owned(TG_ERR_NULL, format!("{name}: pointer is NULL"));
    }
    let kind = (h >> KIND_SHIFT) & KIND_MASK;
    let issued = h & MARK_MASK == MARK && kind != 0 && slot(h & INDEX_MASK).is_some();
    let why = if !issued {
        format!("{name}: not a handle this library issued (0x{h:x})")
    } else if kind != C::KIND {
        format!(
            "{name}: a {} handle was passed where a {name} is expected",
            KINDS.get(kind).unwrap_or(&"different")
        )
    } else {
        format!(
            "{name}: the handle was already released ({}); it must not be used again",
            C::RELEASED_BY
        )
    };
    Failure::owned(TG_ERR_INVALID_HANDLE, why)
}

/// Borrows a handle shared (`const T *`) for the duration of the call.
///
/// # Safety
/// No call may free the handle while the borrow is in use (the header's contract: no free
/// runs concurrently with another call on the same handle). Any value is accepted otherwise:
/// NULL, stale, foreign and wrong-kind values are reported, never dereferenced.
#[inline(always)]
pub unsafe fn borrow<'a, C: Handle>(ptr: *const C) -> FfiResult<&'a C::Inner> {
    let object = lookup(ptr)?;
    // SAFETY: a live slot of kind `C` holds a `Box<C::Inner>` that stays alive until the
    // handle is freed, which the caller's contract excludes during this call.
    Ok(unsafe { &*object })
}

/// Borrows a handle exclusively (`T *`) for the duration of the call.
///
/// # Safety
/// As [`borrow`], and no other call may use the handle during the call (stated per type in
/// the header).
#[inline(always)]
pub unsafe fn borrow_mut<'a, C: Handle>(ptr: *mut C) -> FfiResult<&'a mut C::Inner> {
    let object = lookup(ptr.cast_const())?;
    // SAFETY: as `borrow`; exclusivity per the contract.
    Ok(unsafe { &mut *object })
}

/// Ends a handle's life and returns its object: the handle (and every copy of its value) is
/// from then on reported as released. Of two concurrent removals of one handle exactly one
/// succeeds.
///
/// # Safety
/// No other call may be using the handle (the header's contract for every release function).
pub unsafe fn remove<C: Handle>(ptr: *mut C) -> FfiResult<Box<C::Inner>> {
    let h = ptr.addr();
    lookup(ptr.cast_const())?;
    let index = h & INDEX_MASK;
    let s = slot(index).expect("a live handle's slot exists");
    if s.live
        .compare_exchange(h, 0, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Err(invalid::<C>(h));
    }
    let object = s.object.swap(std::ptr::null_mut(), Ordering::AcqRel);
    let generation = (h >> INDEX_BITS) & GEN_MASK;
    if generation < GEN_MASK {
        FREE.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .free
            .push((index as u32, (generation + 1) as u32));
    } // else: the slot is retired, so its last handle value is never issued again.
    // SAFETY: the slot was live under `h`, of kind `C`: `object` is the `Box<C::Inner>` made
    // by `insert`, and this call alone took it out.
    Ok(unsafe { Box::from_raw(object.cast::<C::Inner>()) })
}

/// Frees a handle (for the `void` release functions): NULL is a no-op, and so is a value
/// that is not a live handle of kind `C` (released already, another kind, never issued),
/// which is detected without touching any object.
///
/// # Safety
/// As [`remove`].
pub unsafe fn free<C: Handle>(ptr: *mut C) {
    // SAFETY: forwarded contract.
    if let Ok(object) = unsafe { remove(ptr) } {
        drop(object);
    }
}

/// Declares the [`Handle`] impl of a zero-sized opaque C type (`pub struct tg_x { _opaque:
/// [u8; 0] }`, written out so cbindgen, which does not expand macros, declares it).
macro_rules! handle_type {
    ($ty:ident => $inner:ty, $kind:expr, $released_by:expr) => {
        impl $crate::handles::Handle for $ty {
            type Inner = $inner;
            const KIND: usize = $kind;
            const NAME: &'static str = stringify!($ty);
            const RELEASED_BY: &'static str = $released_by;
        }
    };
}
pub(crate) use handle_type;

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing {
        _opaque: [u8; 0],
    }
    handle_type!(Thing => String, 14, "thing_free");
    struct Other {
        _opaque: [u8; 0],
    }
    handle_type!(Other => u8, 15, "other_free");

    #[test]
    fn chunks_cover_every_index() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
        let (k, off) = locate(MAX_LIVE - 1);
        assert!(k < CHUNKS && off < FIRST_CHUNK << k);
    }

    #[test]
    fn stale_foreign_and_wrong_kind_handles_are_reported() {
        let p = insert::<Thing>("three".into()).unwrap();
        assert_eq!(p.addr() >> 56, 0x74);
        assert_eq!(unsafe { borrow(p) }.unwrap(), "three");
        let o = insert::<Other>(1).unwrap();
        let f = unsafe { borrow(o.cast::<Thing>()) }.err().unwrap();
        assert_eq!(f.status, TG_ERR_INVALID_HANDLE);
        assert!(
            f.message.contains("where a Thing is expected"),
            "{}",
            f.message
        );
        // A pointer to real memory: not a handle, and never read.
        let x = 7u64;
        let f = unsafe { borrow(std::ptr::from_ref(&x).cast::<Thing>()) }
            .err()
            .unwrap();
        assert_eq!(f.status, TG_ERR_INVALID_HANDLE);
        assert!(f.message.contains("not a handle this library issued"));
        let f = unsafe { borrow::<Thing>(std::ptr::null()) }.err().unwrap();
        assert_eq!(
            (f.status, &*f.message),
            (TG_ERR_NULL, "Thing: pointer is NULL")
        );

        unsafe { free(o.cast::<Thing>()) }; // wrong kind: ignored, not freed as a Thing
        assert_eq!(*unsafe { borrow(o) }.unwrap(), 1);
        assert_eq!(*unsafe { remove(o) }.unwrap(), 1);
        assert_eq!(
            unsafe { remove(o) }.err().unwrap().status,
            TG_ERR_INVALID_HANDLE
        );

        unsafe { free(p) };
        let f = unsafe { borrow(p) }.err().unwrap();
        assert_eq!(f.status, TG_ERR_INVALID_HANDLE);
        assert!(
            f.message.contains("already released (thing_free)"),
            "{}",
            f.message
        );
        unsafe { free(p) }; // double free: a no-op
        unsafe { free::<Thing>(std::ptr::null_mut()) };

        // The slot is reused under a new generation: the old value stays dead.
        let q = insert::<Thing>("four".into()).unwrap();
        assert_ne!(q, p);
        assert!(unsafe { borrow(p) }.is_err());
        assert_eq!(unsafe { borrow(q) }.unwrap(), "four");
        unsafe { free(q) };
    }

    #[test]
    fn concurrent_removals_of_one_handle_succeed_once() {
        for _ in 0..50 {
            let p = insert::<Thing>("x".into()).unwrap().addr();
            let wins: usize = std::thread::scope(|s| {
                let hs: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(move || {
                            let p = std::ptr::without_provenance_mut::<Thing>(p);
                            usize::from(unsafe { remove(p) }.is_ok())
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(wins, 1);
        }
    }

    #[test]
    fn many_live_handles_grow_the_table() {
        let hs: Vec<_> = (0..5000)
            .map(|i| insert::<Other>(i as u8).unwrap())
            .collect();
        for (i, h) in hs.iter().enumerate() {
            assert_eq!(*unsafe { borrow(*h) }.unwrap(), i as u8);
        }
        for h in &hs {
            unsafe { free(*h) };
        }
        for h in &hs {
            assert!(unsafe { borrow(*h) }.is_err());
        }
    }
}
