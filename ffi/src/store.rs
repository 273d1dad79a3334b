//! A durable `tg_engine` on a data directory (`tg_engine_open`): every ledger record, rate-card
//! publish and override change is journaled before its call returns, and recovered when the
//! directory is opened again. Every other `tg_engine` call works on it unchanged.

use crate::boundary::{
    Failure, OutBuf, borrow, boundary, boundary_value, handle_new, handle_remove, input_str,
    require_out, write_out,
};
use crate::engine::{EngineObject, engine_failure, tg_engine};
use crate::error::tg_error;
use crate::json::push_str;
use crate::status::*;
use std::fmt::Write as _;
use tollgate_engine::store::{Durability, Store, StoreError, StoreOptions};

/// `tg_store_options.durability`: every record is fsync'ed before its call returns;
/// concurrent callers share fsyncs (group commit).
pub const TG_DURABILITY_SYNC: i32 = 0;
/// `tg_store_options.durability`: fsync every `interval_ms` by a background thread; a crash
/// loses at most the calls of the last `interval_ms` plus one write and fsync.
pub const TG_DURABILITY_INTERVAL: i32 = 1;
/// `tg_store_options.durability`: written every 50 ms, never fsync'ed.
pub const TG_DURABILITY_NONE: i32 = 2;
/// Longest path of a data directory, in bytes.
pub const TG_MAX_PATH_BYTES: usize = 4096;

/// Options of `tg_engine_open`. Initialise with `tg_store_options_default()` and change the
/// fields you need. Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct tg_store_options {
    /// `TG_DURABILITY_SYNC` (default), `TG_DURABILITY_INTERVAL` or `TG_DURABILITY_NONE`.
    pub durability: i32,
    /// Milliseconds between fsyncs in `TG_DURABILITY_INTERVAL` mode (1..=60000; default 100).
    pub interval_ms: i64,
    /// Dedupe window of a new directory's ledger, as `tg_engine_options.dedupe_window_ms`
    /// (-1 = 24 hours, 0 = forever); an existing directory keeps its own.
    pub dedupe_window_ms: i64,
    /// Journal bytes that start a background checkpoint: -1 = the default (256 MiB), 0 = only
    /// `tg_engine_checkpoint`.
    pub checkpoint_bytes: i64,
}

const DEFAULT_STORE_OPTIONS: tg_store_options = tg_store_options {
    durability: TG_DURABILITY_SYNC,
    interval_ms: 100,
    dedupe_window_ms: -1,
    checkpoint_bytes: -1,
};

/// The default options (sync durability, 24-hour dedupe window, checkpoints every 256 MiB of
/// journal). Thread-safety: any thread. Never fails.
#[unsafe(no_mangle)]
pub extern "C" fn tg_store_options_default() -> tg_store_options {
    boundary_value(DEFAULT_STORE_OPTIONS, || DEFAULT_STORE_OPTIONS)
}

/// The status and detail of a store error.
pub(crate) fn store_failure(e: StoreError) -> Failure {
    let status = match &e {
        StoreError::Io { .. } | StoreError::Poisoned(_) => TG_ERR_IO,
        StoreError::Panicked(_) => TG_ERR_PANIC,
        StoreError::Locked(_) => TG_ERR_LOCKED,
        StoreError::Corrupt { .. } => TG_ERR_STATE,
        StoreError::Config(_) => TG_ERR_INVALID_INPUT,
        StoreError::RateCard(_) => TG_ERR_RATE_CARD,
        StoreError::Engine(en) => return engine_failure(en.clone()),
        StoreError::Closed => TG_ERR_MISUSE,
        _ => TG_ERR_IO,
    };
    Failure::owned(status, e.to_string())
}

fn options_of(o: &tg_store_options) -> Result<StoreOptions, Failure> {
    let bad = |m: String| Failure::owned(TG_ERR_INVALID_INPUT, m);
    let durability = match o.durability {
        TG_DURABILITY_SYNC => Durability::Sync,
        TG_DURABILITY_INTERVAL => match u64::try_from(o.interval_ms) {
            Ok(ms @ 1..=60_000) => Durability::Interval { interval_ms: ms },
            _ => {
                return Err(bad(format!(
                    "interval_ms: {} is not in 1..=60000",
                    o.interval_ms
                )));
            }
        },
        TG_DURABILITY_NONE => Durability::None,
        d => {
            return Err(bad(format!(
                "durability: {d} is not 0 (sync), 1 (interval) or 2 (none)"
            )));
        }
    };
    let dedupe_window_ms = match o.dedupe_window_ms {
        -1 => tollgate_engine::ledger::DEFAULT_DEDUPE_WINDOW_MS,
        w @ 0..=crate::engine::TG_MAX_DEDUPE_WINDOW_MS => w.unsigned_abs(),
        w => {
            return Err(bad(format!(
                "dedupe_window_ms: {w} is not -1, 0 or 1..={}",
                crate::engine::TG_MAX_DEDUPE_WINDOW_MS
            )));
        }
    };
    let checkpoint_bytes = match o.checkpoint_bytes {
        -1 => tollgate_engine::store::DEFAULT_CHECKPOINT_BYTES,
        b @ 0.. => b.unsigned_abs(),
        b => {
            return Err(bad(format!(
                "checkpoint_bytes: {b} is not -1, 0 or positive"
            )));
        }
    };
    Ok(StoreOptions {
        durability,
        clock: None,
        dedupe_window_ms,
        checkpoint_bytes,
    })
}

/// Opens (creating if needed) the data directory `dir` (UTF-8 path, at most
/// `TG_MAX_PATH_BYTES`) as a durable engine and writes it to `*out`. Recovery runs first: the
/// newest checkpoint, then the journal after it; a torn tail left by a crash is cut (see
/// `tg_engine_recovery_json`). The engine prices with the embedded rate card plus every card
/// published into the directory, and its ledger holds every record journaled there. One
/// process owns a directory at a time.
///
/// `options` may be NULL (defaults).
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_UTF8`; `TG_ERR_LIMIT`;
/// `TG_ERR_INVALID_INPUT` (bad option, or the directory was made with another clock);
/// `TG_ERR_LOCKED` (another process or engine owns it); `TG_ERR_STATE` (the directory is
/// damaged: the detail names the file and byte offset; nothing was changed); `TG_ERR_IO`.
/// `*out` is written only on success.
///
/// Ownership: the caller owns `*out` and releases it with `tg_engine_close` (reports a
/// failing final flush) or `tg_engine_free`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_open(
    dir: *const u8,
    dir_len: usize,
    options: *const tg_store_options,
    out: *mut *mut tg_engine,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        require_out(out, "out")?;
        // SAFETY: documented (pointer, length) contract.
        let dir = unsafe { input_str(dir, dir_len, TG_MAX_PATH_BYTES, "dir")? };
        if dir.is_empty() {
            return Err(Failure::new(TG_ERR_INVALID_INPUT, "dir: must not be empty"));
        }
        let options = if options.is_null() {
            DEFAULT_STORE_OPTIONS
        } else {
            // SAFETY: documented contract: NULL or a readable tg_store_options.
            unsafe { *options }
        };
        let store = Store::open(dir, options_of(&options)?).map_err(store_failure)?;
        let engine = EngineObject::new_durable(store);
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, handle_new::<tg_engine>(engine)?) };
        Ok(())
    })
}

fn durable(engine: &EngineObject) -> Result<&Store, Failure> {
    engine.store().ok_or_else(|| {
        Failure::new(
            TG_ERR_MISUSE,
            "engine: not a durable engine (made by tg_engine_new, not tg_engine_open)",
        )
    })
}

/// Writes a checkpoint of a durable engine and drops the journal before it. Writers are held
/// only while the journal switches files; this call waits for the checkpoint to be written.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_MISUSE` (not a durable
/// engine); `TG_ERR_IO`; `TG_ERR_STATE`. Thread-safety: any thread, concurrently with others.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_checkpoint(engine: *const tg_engine, err: *mut tg_error) -> i32 {
    boundary(err, || {
        // SAFETY: documented contract.
        let engine = unsafe { borrow(engine)? };
        durable(engine)?.checkpoint().map_err(store_failure)?;
        Ok(())
    })
}

/// Writes and fsyncs whatever a durable engine has buffered (`TG_DURABILITY_INTERVAL` /
/// `TG_DURABILITY_NONE`); a no-op in sync mode.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_MISUSE`; `TG_ERR_IO`.
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_flush(engine: *const tg_engine, err: *mut tg_error) -> i32 {
    boundary(err, || {
        // SAFETY: documented contract.
        let engine = unsafe { borrow(engine)? };
        durable(engine)?.flush().map_err(store_failure)?;
        Ok(())
    })
}

/// Writes what recovery did when a durable engine was opened:
/// `{"checkpoint":<segment>|null,"segments":[…],"entries":N,"records":N,
/// "tornTail":null|{"path":"…","offset":N,"bytesCut":N,"reason":"…"}}`, and the published
/// rate cards: `"rateCards":[{"effectiveFromMs":N,"content":"<sha256 hex>"}]`.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_MISUSE`;
/// `TG_ERR_BUFFER_TOO_SMALL`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_recovery_json(
    engine: *const tg_engine,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, out) = unsafe { (borrow(engine)?, OutBuf::new(out, out_cap, out_len)?) };
        let store = durable(engine)?;
        let r = store.recovery();
        let mut s = String::from("{\"checkpoint\":");
        match r.checkpoint {
            Some(n) => {
                let _ = write!(s, "{n}");
            }
            None => s.push_str("null"),
        }
        s.push_str(",\"segments\":[");
        for (i, n) in r.segments.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "{n}");
        }
        let _ = write!(
            s,
            "],\"entries\":{},\"records\":{},\"tornTail\":",
            r.entries, r.records
        );
        match &r.torn_tail {
            Some(t) => {
                s.push_str("{\"path\":");
                push_str(&mut s, &t.path.to_string_lossy());
                let _ = write!(
                    s,
                    ",\"offset\":{},\"bytesCut\":{},\"reason\":",
                    t.offset, t.bytes_cut
                );
                push_str(&mut s, &t.reason);
                s.push('}');
            }
            None => s.push_str("null"),
        }
        s.push_str(",\"rateCards\":[");
        for (i, c) in store.history().iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(
                s,
                "{{\"effectiveFromMs\":{},\"content\":\"{}\"}}",
                c.effective_from_ms, c.content
            );
        }
        s.push_str("]}");
        out.write(s.as_bytes())
    })
}

/// Closes an engine: for a durable one, writes and fsyncs what is buffered and releases the
/// directory, reporting a failure (the handle is freed either way). `tg_engine_close(NULL)`
/// is `TG_OK`. While a `tg_refresher` runs on the engine it is `TG_ERR_MISUSE` and nothing is
/// closed (stop the refresher first). No other call may be running on `engine`, and it must not be used afterwards.
///
/// Returns `TG_OK`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_IO`; `TG_ERR_MISUSE`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_engine_close(engine: *mut tg_engine, err: *mut tg_error) -> i32 {
    boundary(err, || {
        if engine.is_null() {
            return Ok(());
        }
        // SAFETY: documented contract: a live engine not in use.
        let object = unsafe { borrow(engine.cast_const())? };
        if object
            .store_arc()
            .is_some_and(|s| std::sync::Arc::strong_count(s) > 1)
        {
            return Err(Failure::new(
                TG_ERR_MISUSE,
                "engine: a refresher is running on it; tg_refresher_stop it first (nothing was closed)",
            ));
        }
        // SAFETY: as above. The handle ends here, whatever the flush says.
        let object = unsafe { handle_remove(engine)? };
        let flushed = object.store().map_or(Ok(()), Store::flush);
        drop(object);
        flushed.map_err(store_failure)
    })
}
