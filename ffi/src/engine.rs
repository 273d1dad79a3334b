//! `tg_engine`: the engine handle (rate-card snapshots, pricing, ledger).

use crate::boundary::{
    Failure, FfiResult, Handle, boundary, boundary_value, box_free, box_into_raw, handle_type,
    input_limited, require_out, write_out,
};
use crate::error::tg_error;
use crate::status::*;
use std::sync::Arc;
use tollgate::engine::Engine;

/// Largest rate card accepted by `tg_engine_new`, in bytes (the full registry is ≈3.5 MB).
pub const TG_MAX_RATE_CARD_BYTES: usize = 64 << 20;

/// `tg_engine_options.dedupe_window_ms` value selecting the default window (24 hours).
pub const TG_DEDUPE_WINDOW_DEFAULT: i64 = -1;
/// `tg_engine_options.dedupe_window_ms` value keeping idempotency keys forever.
pub const TG_DEDUPE_WINDOW_FOREVER: i64 = 0;
/// Largest dedupe window accepted, in milliseconds (10 years).
pub const TG_MAX_DEDUPE_WINDOW_MS: i64 = 10 * 366 * 86_400_000;

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
}

/// The engine: rate-card snapshot history, pricing, and the ledger (customers, runs, margin).
///
/// Thread-safety: **may be used from many threads at once**; every function taking a
/// `const tg_engine *` is safe to call concurrently on one engine. Only `tg_engine_free` needs
/// exclusive access: no other call may be running on the engine, and it must not be used
/// afterwards. Lifetime: owned by the caller from `tg_engine_new` until `tg_engine_free`.
pub struct tg_engine {
    tag: u64,
    pub(crate) pricing: Arc<Engine>,
    #[allow(dead_code)] // until the ledger lands
    pub(crate) dedupe_window_ms: i64,
}
handle_type!(tg_engine, 0x7467_656e_6769_6e65); // "tgengine"

/// The default options (dedupe window 24 hours). Thread-safety: any thread. Never fails.
#[unsafe(no_mangle)]
pub extern "C" fn tg_engine_options_default() -> tg_engine_options {
    boundary_value(
        tg_engine_options {
            dedupe_window_ms: TG_DEDUPE_WINDOW_DEFAULT,
        },
        || tg_engine_options {
            dedupe_window_ms: TG_DEDUPE_WINDOW_DEFAULT,
        },
    )
}

fn window_ms(options: &tg_engine_options) -> FfiResult<i64> {
    match options.dedupe_window_ms {
        TG_DEDUPE_WINDOW_DEFAULT => Ok(DEFAULT_DEDUPE_WINDOW_MS),
        w @ 0..=TG_MAX_DEDUPE_WINDOW_MS => Ok(w),
        w => Err(Failure::owned(
            TG_ERR_INVALID_INPUT,
            format!(
                "dedupe_window_ms: {w} is not -1 (default), 0 (forever) or 1..={TG_MAX_DEDUPE_WINDOW_MS}"
            ),
        )),
    }
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
            tg_engine_options_default()
        } else {
            // SAFETY: documented contract: NULL or a readable tg_engine_options.
            unsafe { *options }
        };
        let dedupe_window_ms = window_ms(&options)?;
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
            return Err(Failure::new(
                TG_ERR_RATE_CARD,
                "rate_card: custom rate cards need the pricing core",
            ));
        };
        let engine = tg_engine {
            tag: tg_engine::TAG,
            pricing: Arc::new(pricing),
            dedupe_window_ms,
        };
        // SAFETY: checked non-NULL above.
        unsafe { write_out(out, box_into_raw(engine)) };
        FfiResult::Ok(())
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
        unsafe { box_free(engine) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_options_are_rejected_and_nothing_is_written() {
        let mut out: *mut tg_engine = std::ptr::null_mut();
        let mut e = tg_error::empty();
        let opts = tg_engine_options {
            dedupe_window_ms: -5,
        };
        let s = unsafe { tg_engine_new(&opts, std::ptr::null(), 0, &mut out, &mut e) };
        assert_eq!(s, TG_ERR_INVALID_INPUT);
        assert!(out.is_null());
        assert!(e.message_str().starts_with("dedupe_window_ms: -5 is not"));
        let s = unsafe { tg_engine_new(&opts, std::ptr::null(), 3, &mut out, &mut e) };
        assert_eq!(s, TG_ERR_INVALID_INPUT);
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
}
