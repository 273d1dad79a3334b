//! The boundary every exported body runs inside, and the typed helpers that turn C arguments
//! into Rust values: `(ptr, len)` inputs and caller output buffers (handles: `handles.rs`).
//!
//! Rules enforced here, once, for the whole ABI:
//! - a panic never unwinds into C: it becomes `TG_ERR_PANIC`;
//! - `(NULL, 0)` is an empty input; `(NULL, n > 0)` is `TG_ERR_NULL`;
//! - outputs are written only on success, except the needed length on
//!   `TG_ERR_BUFFER_TOO_SMALL`;
//! - a handle is looked up in the handle registry before use (`handles.rs`);
//! - nothing the caller passes is retained: inputs are borrowed for the call only.

use crate::error::{tg_error, write_error};
use crate::status::*;
use std::any::Any;
use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

pub use crate::handles::{borrow, borrow_mut};
pub(crate) use crate::handles::{
    free as handle_free, handle_type, insert as handle_new, remove as handle_remove,
};

/// Why a call failed: a status code and a message for the caller's `tg_error`.
#[derive(Debug)]
pub struct Failure {
    /// The status returned to C.
    pub status: i32,
    /// Detail for `tg_error::message` (never prompt or completion text).
    pub message: Cow<'static, str>,
}

impl Failure {
    /// A failure with a static message.
    pub const fn new(status: i32, message: &'static str) -> Failure {
        Failure {
            status,
            message: Cow::Borrowed(message),
        }
    }

    /// A failure with a formatted message.
    pub fn owned(status: i32, message: String) -> Failure {
        Failure {
            status,
            message: Cow::Owned(message),
        }
    }

    fn from_panic(payload: Box<dyn Any + Send>) -> Failure {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic payload".to_string());
        Failure::owned(TG_ERR_PANIC, format!("internal error (panic): {what}"))
    }
}

/// Result of an exported body.
pub type FfiResult<T = ()> = Result<T, Failure>;

/// Runs an exported function body: maps `Ok` to `TG_OK`, an `Err` to its status, a panic to
/// `TG_ERR_PANIC`; on failure writes the detail into `*err` (when `err` is not NULL).
///
/// Every exported function that returns a status goes through this (a test checks the source).
#[inline]
pub(crate) fn boundary(err: *mut tg_error, body: impl FnOnce() -> FfiResult) -> i32 {
    let failure = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return TG_OK,
        Ok(Err(failure)) => failure,
        Err(payload) => Failure::from_panic(payload),
    };
    // SAFETY: every exported function documents `err` as NULL or a writable `tg_error`.
    unsafe { write_error(err, failure.status, &failure.message) };
    failure.status
}

/// The boundary for the few functions that return a value rather than a status
/// (`tg_abi_version`, `tg_status_str`, the `free` functions): a panic yields `on_panic`.
#[inline]
pub fn boundary_value<R>(on_panic: R, body: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(on_panic)
}

/// Borrows a `(ptr, len)` input for the duration of the call. `(NULL, 0)` is the empty input.
///
/// # Safety
/// When `ptr` is not NULL it must point to `len` readable bytes that stay unchanged during the
/// call.
#[inline]
pub unsafe fn input<'a>(ptr: *const u8, len: usize, what: &'static str) -> FfiResult<&'a [u8]> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Failure::owned(
                TG_ERR_NULL,
                format!("{what}: pointer is NULL but length is {len}"),
            ))
        };
    }
    if len > isize::MAX as usize {
        return Err(Failure::owned(
            TG_ERR_LIMIT,
            format!("{what}: length {len} is not a valid size"),
        ));
    }
    // SAFETY: non-NULL, length checked, readable per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// Like [`input`], with a byte limit named by the caller (`TG_MAX_*`).
///
/// # Safety
/// As [`input`].
#[inline]
pub unsafe fn input_limited<'a>(
    ptr: *const u8,
    len: usize,
    max: usize,
    what: &'static str,
) -> FfiResult<&'a [u8]> {
    if len > max {
        return Err(Failure::owned(
            TG_ERR_LIMIT,
            format!("{what}: {len} bytes exceeds the limit of {max} bytes"),
        ));
    }
    // SAFETY: forwarded contract.
    unsafe { input(ptr, len, what) }
}

/// Borrows a `(ptr, len)` UTF-8 text input.
///
/// # Safety
/// As [`input`].
#[inline]
pub unsafe fn input_str<'a>(
    ptr: *const u8,
    len: usize,
    max: usize,
    what: &'static str,
) -> FfiResult<&'a str> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { input_limited(ptr, len, max, what)? };
    utf8(bytes, what)
}

/// Checks UTF-8, naming the input and the offset of the first bad byte.
#[inline]
pub fn utf8<'a>(bytes: &'a [u8], what: &'static str) -> FfiResult<&'a str> {
    if short_ascii(bytes) {
        // SAFETY: every byte is ASCII, so the bytes are UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => Err(invalid_utf8(what, e.valid_up_to())),
    }
}

/// A short optional text of a request's fast path: `(NULL, 0)` or an empty input is `None`,
/// 1 to 16 ASCII bytes are the text; anything else (`(NULL, n > 0)`, longer, non-ASCII) is
/// `Err(())`: the caller then takes its general path, which accepts the same values and names
/// what is wrong with the others. No error text is prepared here.
///
/// # Safety
/// As [`input`].
#[inline(always)]
pub(crate) unsafe fn quick_text<'a>(ptr: *const u8, len: usize) -> Result<Option<&'a str>, ()> {
    if len == 0 {
        return Ok(None);
    }
    if ptr.is_null() || len > 16 {
        return Err(());
    }
    // SAFETY: non-NULL, 1 to 16 bytes, readable per the caller's contract.
    let b = unsafe { std::slice::from_raw_parts(ptr, len) };
    if short_ascii(b) {
        // SAFETY: every byte is ASCII, so the bytes are UTF-8.
        Ok(Some(unsafe { std::str::from_utf8_unchecked(b) }))
    } else {
        Err(())
    }
}

/// Whether `b` is 16 bytes or shorter and ASCII: two overlapping words (or four bytes, or
/// each byte) tested at once, inline. Ids on the request path (`tg_allow`) are short, and a
/// call into `from_utf8` costs more than the test itself.
#[inline(always)]
fn short_ascii(b: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if let (Some(h), Some(t)) = (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        return b.len() <= 16 && (u64::from_le_bytes(*h) | u64::from_le_bytes(*t)) & HIGH == 0;
    }
    if let (Some(h), Some(t)) = (b.first_chunk::<4>(), b.last_chunk::<4>()) {
        return (u32::from_le_bytes(*h) | u32::from_le_bytes(*t)) & 0x8080_8080 == 0;
    }
    b.iter().all(u8::is_ascii)
}

/// The error of [`utf8`], out of line (ids on the request path are checked on every call).
#[cold]
#[inline(never)]
fn invalid_utf8(what: &'static str, offset: usize) -> Failure {
    Failure::owned(
        TG_ERR_INVALID_UTF8,
        format!("{what}: invalid UTF-8 at byte offset {offset}"),
    )
}

/// A caller-provided output buffer `(out, out_cap, out_len)`.
///
/// `out_len` is required. `out` may be NULL only when `out_cap` is 0 (a pure size query, which
/// fails with `TG_ERR_BUFFER_TOO_SMALL` and the needed length unless the output is empty).
pub struct OutBuf {
    out: *mut u8,
    cap: usize,
    out_len: *mut usize,
}

impl OutBuf {
    /// Validates the three arguments without writing anything.
    ///
    /// # Safety
    /// `out` must be NULL or point to `cap` writable bytes; `out_len` must be NULL or point to
    /// a writable `size_t`. Neither may overlap any input.
    pub unsafe fn new(out: *mut u8, cap: usize, out_len: *mut usize) -> FfiResult<OutBuf> {
        if out_len.is_null() {
            return Err(Failure::new(TG_ERR_NULL, "out_len: pointer is NULL"));
        }
        if out.is_null() && cap != 0 {
            return Err(Failure::owned(
                TG_ERR_NULL,
                format!("out: pointer is NULL but out_cap is {cap}"),
            ));
        }
        Ok(OutBuf { out, cap, out_len })
    }

    /// Fails *before* any side effect when the buffer cannot hold `needed` bytes, reporting
    /// `needed`. Used by calls that change state, so a too-small buffer never loses a result.
    pub fn require(&self, needed: usize) -> FfiResult {
        if self.cap < needed {
            // SAFETY: validated in `new`.
            unsafe { self.out_len.write(needed) };
            return Err(Failure::owned(
                TG_ERR_BUFFER_TOO_SMALL,
                format!(
                    "output needs at least {needed} bytes; out_cap is {}",
                    self.cap
                ),
            ));
        }
        Ok(())
    }

    /// Copies `bytes` out and sets `*out_len`, or reports the needed length.
    pub fn write(self, bytes: &[u8]) -> FfiResult {
        self.require(bytes.len())?;
        // SAFETY: validated in `new`; `bytes.len() <= cap`; when `cap == 0` nothing is copied
        // (and `out` may be NULL, which `copy_nonoverlapping` accepts for a zero count only
        // when aligned and non-null, so skip it).
        unsafe {
            if !bytes.is_empty() {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.out, bytes.len());
            }
            self.out_len.write(bytes.len());
        }
        Ok(())
    }
}

/// Writes one value through a required out-pointer (only ever called on success).
///
/// # Safety
/// `out` must be NULL or point to writable memory for one `T`.
pub unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: callers check `out` for NULL with `require_out` before doing any work.
    unsafe { out.write(value) }
}

/// Checks a required out-pointer before any work is done.
pub fn require_out<T>(out: *mut T, what: &'static str) -> FfiResult {
    if out.is_null() {
        return Err(Failure::owned(
            TG_ERR_NULL,
            format!("{what}: pointer is NULL"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_ascii_agrees_with_from_utf8_on_every_length_and_position() {
        // Every length 0..=20, a non-ASCII byte (a two-byte character, a lone continuation
        // byte, a truncated sequence) at every position: the fast test never accepts what is
        // not ASCII, and `utf8` agrees with `from_utf8` (with its offset) on all of them.
        for len in 0..=20usize {
            let ascii = vec![b'a'; len];
            assert!(short_ascii(&ascii) == (len <= 16), "{len}");
            assert_eq!(utf8(&ascii, "x").ok(), Some(&*"a".repeat(len)));
            for at in 0..len {
                for bad in [&[0xC3u8, 0xA9][..], &[0x80], &[0xE2, 0x82]] {
                    let mut b = ascii.clone();
                    b.truncate(at);
                    b.extend_from_slice(bad);
                    b.resize(len.max(b.len()), b'a');
                    assert!(!short_ascii(&b), "{b:?}");
                    match (std::str::from_utf8(&b), utf8(&b, "x")) {
                        (Ok(s), Ok(t)) => assert_eq!(s, t),
                        (Err(e), Err(f)) => {
                            assert_eq!(f.status, TG_ERR_INVALID_UTF8);
                            assert!(f.message.ends_with(&format!("offset {}", e.valid_up_to())));
                        }
                        (a, b) => panic!("{a:?} vs {:?}", b.is_ok()),
                    }
                }
            }
        }
    }

    #[test]
    fn panics_become_a_status_with_detail() {
        let mut e = tg_error::empty();
        let status = boundary(&mut e, || -> FfiResult { panic!("boom {}", 7) });
        assert_eq!(status, TG_ERR_PANIC);
        assert_eq!(e.status, TG_ERR_PANIC);
        assert_eq!(e.message_str(), "internal error (panic): boom 7");
        assert_eq!(boundary_value(5, || -> i32 { panic!("x") }), 5);
    }

    #[test]
    fn success_leaves_the_error_untouched() {
        let mut e = tg_error::empty();
        e.status = 99;
        assert_eq!(boundary(&mut e, || Ok(())), TG_OK);
        assert_eq!(e.status, 99);
    }

    #[test]
    fn null_inputs() {
        unsafe {
            assert_eq!(input(std::ptr::null(), 0, "x").unwrap(), b"");
            let f = input(std::ptr::null(), 3, "body").unwrap_err();
            assert_eq!(f.status, TG_ERR_NULL);
            assert_eq!(f.message, "body: pointer is NULL but length is 3");
            let bad = [0xffu8, b'a'];
            let f = input_str(bad.as_ptr(), 2, 10, "model").unwrap_err();
            assert_eq!(f.status, TG_ERR_INVALID_UTF8);
            assert_eq!(f.message, "model: invalid UTF-8 at byte offset 0");
            let f = input_str(bad.as_ptr(), 2, 1, "model").unwrap_err();
            assert_eq!(f.status, TG_ERR_LIMIT);
        }
    }

    #[test]
    fn small_buffers_report_the_needed_length_and_write_nothing() {
        let mut buf = [7u8; 4];
        let mut len = 0usize;
        let out = unsafe { OutBuf::new(buf.as_mut_ptr(), 3, &mut len) }.unwrap();
        let f = out.write(b"abcd").unwrap_err();
        assert_eq!(f.status, TG_ERR_BUFFER_TOO_SMALL);
        assert_eq!(len, 4);
        assert_eq!(buf, [7; 4]);
        let out = unsafe { OutBuf::new(buf.as_mut_ptr(), 4, &mut len) }.unwrap();
        out.write(b"abcd").unwrap();
        assert_eq!(&buf, b"abcd");
        // A size query: (NULL, 0).
        let out = unsafe { OutBuf::new(std::ptr::null_mut(), 0, &mut len) }.unwrap();
        assert_eq!(
            out.write(b"xy").unwrap_err().status,
            TG_ERR_BUFFER_TOO_SMALL
        );
        assert_eq!(len, 2);
        let f = unsafe { OutBuf::new(std::ptr::null_mut(), 1, &mut len) }
            .err()
            .unwrap();
        assert_eq!(f.status, TG_ERR_NULL);
        let f = unsafe { OutBuf::new(buf.as_mut_ptr(), 1, std::ptr::null_mut()) }
            .err()
            .unwrap();
        assert_eq!(f.status, TG_ERR_NULL);
    }
}
