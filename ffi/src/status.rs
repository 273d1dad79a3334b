//! Status codes: one `int32_t` result type for every function, and `tg_status_str`.
//!
//! Codes are stable: a code's meaning never changes and a removed code is never reused.

use crate::boundary::boundary_value;
use std::ffi::c_char;

/// Success.
pub const TG_OK: i32 = 0;
/// A required pointer argument is NULL, or an input pointer is NULL while its length is not 0.
pub const TG_ERR_NULL: i32 = 1;
/// A handle argument is not a live handle of the expected type: already released (freed,
/// unpinned, stopped, closed), a handle of another type, or a value this library never issued.
/// Detected without reading the released object (see Handles at the top of the header).
pub const TG_ERR_INVALID_HANDLE: i32 = 2;
/// A text input is not valid UTF-8.
pub const TG_ERR_INVALID_UTF8: i32 = 3;
/// An input is malformed or has a bad value (JSON syntax, wrong type, unknown field,
/// negative or oversize count, unknown enum value); the error detail names the field.
pub const TG_ERR_INVALID_INPUT: i32 = 4;
/// An input exceeds a documented limit (`TG_MAX_*`).
pub const TG_ERR_LIMIT: i32 = 5;
/// The output buffer is too small; `*out_len` holds the needed length and nothing else was
/// written. Call again with a buffer of at least that size.
pub const TG_ERR_BUFFER_TOO_SMALL: i32 = 6;
/// A rate card was rejected (the error detail names the registry key, field and reason);
/// the engine's snapshots are unchanged.
pub const TG_ERR_RATE_CARD: i32 = 7;
/// The named snapshot (or other referenced object) does not exist.
pub const TG_ERR_NOT_FOUND: i32 = 8;
/// The provider response reports no usage (e.g. an OpenAI stream without `include_usage`,
/// or a truncated stream). Never silently zero tokens.
pub const TG_ERR_NO_USAGE: i32 = 9;
/// State bytes are truncated, corrupted or of an unknown version; nothing was loaded.
pub const TG_ERR_STATE: i32 = 10;
/// An exact amount left the engine's range (about ±1.7e14 cents).
pub const TG_ERR_OVERFLOW: i32 = 11;
/// An event is older than the dedupe window allows; it was not counted (docs/reference/ledger.md (exactly-once)).
pub const TG_ERR_TOO_LATE: i32 = 12;
/// The call is not valid in the object's current state (e.g. feeding a stream that already
/// failed).
pub const TG_ERR_MISUSE: i32 = 13;
/// An internal error (a bug, caught at the boundary). The object it happened on may be left
/// unusable; report it.
pub const TG_ERR_PANIC: i32 = 14;
/// Reading or writing the data directory failed (a full disk, an I/O error): for a write,
/// nothing was applied. The detail names the file and the operating system's error.
pub const TG_ERR_IO: i32 = 15;
/// The data directory is owned by another process (or another open engine).
pub const TG_ERR_LOCKED: i32 = 16;

/// Every status code with its static description, in code order.
const DESCRIPTIONS: [&str; 17] = [
    "ok\0",
    "a required pointer argument is NULL\0",
    "not a live handle of the expected type\0",
    "text is not valid UTF-8\0",
    "invalid input\0",
    "input exceeds a limit\0",
    "output buffer too small\0",
    "rate card rejected\0",
    "not found\0",
    "the provider response reports no usage\0",
    "state is truncated, corrupted or of an unknown version\0",
    "amount out of range\0",
    "event is older than the dedupe window\0",
    "call not valid in the object's current state\0",
    "internal error (please report)\0",
    "reading or writing the data directory failed\0",
    "the data directory is in use by another process\0",
];

/// The static, NUL-terminated English description of a status code; `"unknown status"` for a
/// code this library does not define.
///
/// Ownership: the returned string is static; never free it. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub extern "C" fn tg_status_str(status: i32) -> *const c_char {
    boundary_value(c"unknown status".as_ptr(), || {
        usize::try_from(status)
            .ok()
            .and_then(|i| DESCRIPTIONS.get(i))
            .map_or(c"unknown status".as_ptr(), |s| s.as_ptr().cast())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn text(status: i32) -> &'static str {
        unsafe { CStr::from_ptr(tg_status_str(status)) }
            .to_str()
            .unwrap()
    }

    #[test]
    fn every_code_has_a_description() {
        for code in TG_OK..=TG_ERR_LOCKED {
            assert_ne!(text(code), "unknown status", "code {code}");
        }
        assert_eq!(text(TG_OK), "ok");
        assert_eq!(text(TG_ERR_BUFFER_TOO_SMALL), "output buffer too small");
    }

    #[test]
    fn unknown_codes_are_not_an_error() {
        assert_eq!(text(-1), "unknown status");
        assert_eq!(text(TG_ERR_LOCKED + 1), "unknown status");
        assert_eq!(text(i32::MIN), "unknown status");
    }
}
