//! `tg_snapshot`: a pinned rate-card snapshot, a frozen pricing view for consistent
//! (re)pricing while the engine keeps publishing.

use crate::boundary::{
    OutBuf, borrow, boundary, boundary_value, handle_free, handle_new, handle_type, input_limited,
    require_out, write_out,
};
use crate::engine::{frozen_view, tg_engine};
use crate::error::tg_error;
use crate::price::{TG_MAX_JSON_BYTES, price_batch, price_json, tg_price_item, tg_price_out};
use std::sync::Arc;
use tollgate_engine::engine::Engine;

/// `tg_snapshot_pin` argument selecting the snapshot in force now.
pub const TG_SNAPSHOT_CURRENT: u64 = 0;

/// A pinned snapshot: one published rate card plus the engine's overrides as they were when
/// it was pinned. Everything priced through it uses exactly that card, whatever the event
/// timestamps and whatever is published or overridden later, so a batch of repricing gives
/// consistent answers. It keeps its card alive on its own: it stays valid after
/// `tg_engine_free`.
///
/// Thread-safety: immutable; **may be used from many threads at once**. Lifetime: from
/// `tg_snapshot_pin` until `tg_snapshot_unpin`.
pub struct tg_snapshot {
    _opaque: [u8; 0],
}
handle_type!(tg_snapshot => SnapshotObject, 2, "tg_snapshot_unpin");

/// What a `tg_snapshot` handle points to.
pub struct SnapshotObject {
    id: u64,
    effective_from_ms: i64,
    pricing: Arc<Engine>,
}

/// Pins the published snapshot `snapshot_id` (`TG_SNAPSHOT_CURRENT` = the one in force now)
/// and writes the handle to `*out`.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_NOT_FOUND` (no
/// published snapshot has that id: never published, or replaced by a publish at the same
/// instant). The snapshot and the engine's overrides are captured together, in one atomic
/// load: an override set or removed concurrently is wholly in the pin or wholly out of it. Ownership: the caller
/// owns `*out` and releases it with `tg_snapshot_unpin`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_snapshot_pin(
    engine: *const tg_engine,
    snapshot_id: u64,
    out: *mut *const tg_snapshot,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        require_out(out, "out")?;
        // SAFETY: documented contract.
        let engine = unsafe { borrow(engine)? };
        let pricing = frozen_view(engine, snapshot_id)?;
        let snap = pricing.snapshot_at(None);
        let pinned = SnapshotObject {
            id: snap.id().0,
            effective_from_ms: snap.effective_from_ms(),
            pricing,
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, handle_new::<tg_snapshot>(pinned)?.cast_const()) };
        Ok(())
    })
}

/// Writes the pinned snapshot's id and `effectiveFrom` (epoch ms). Either out-pointer may
/// be NULL when not wanted.
///
/// Returns `TG_OK`; `TG_ERR_NULL` (`snapshot` NULL); `TG_ERR_INVALID_HANDLE`.
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_snapshot_info(
    snapshot: *const tg_snapshot,
    out_id: *mut u64,
    out_effective_from_ms: *mut i64,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contract.
        let snap = unsafe { borrow(snapshot)? };
        // SAFETY: each is NULL (skipped) or writable per the contract.
        unsafe {
            if !out_id.is_null() {
                write_out(out_id, snap.id);
            }
            if !out_effective_from_ms.is_null() {
                write_out(out_effective_from_ms, snap.effective_from_ms);
            }
        }
        Ok(())
    })
}

/// `tg_price_json` with the pinned snapshot (the event's timestamp does not choose the card).
/// Same arguments, output and statuses. Thread-safety: any thread, concurrently.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_snapshot_price_json(
    snapshot: *const tg_snapshot,
    event: *const u8,
    event_len: usize,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (snap, event, out) = unsafe {
            (
                borrow(snapshot)?,
                input_limited(event, event_len, TG_MAX_JSON_BYTES, "event")?,
                OutBuf::new(out, out_cap, out_len)?,
            )
        };
        price_json(&snap.pricing, event, out)
    })
}

/// `tg_price_batch` with the pinned snapshot. Same arguments, output and statuses.
/// Thread-safety: any thread, concurrently.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_snapshot_price_batch(
    snapshot: *const tg_snapshot,
    items: *const tg_price_item,
    item_count: usize,
    names: *const u8,
    names_len: usize,
    results: *mut tg_price_out,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let snap = unsafe { borrow(snapshot)? };
        // SAFETY: as above.
        unsafe { price_batch(&snap.pricing, items, item_count, names, names_len, results) }
    })
}

/// Releases a pinned snapshot. `tg_snapshot_unpin(NULL)` is a no-op; the handle must not be
/// used afterwards (and no other call may be using it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_snapshot_unpin(snapshot: *const tg_snapshot) {
    boundary_value((), || {
        // SAFETY: documented contract: NULL or a pinned snapshot not in use.
        unsafe { handle_free(snapshot.cast_mut()) }
    })
}
