//! `tg_error`: error detail in a caller-owned struct (no thread-local "last error": goroutines
//! hop threads and koffi's async calls run on worker threads).

use std::ffi::c_char;

/// Capacity of [`tg_error::message`] in bytes, NUL terminator included.
pub const TG_ERROR_MESSAGE_CAP: usize = 512;

/// Error detail of a failed call, written into memory the caller owns.
///
/// Functions that take a `tg_error *err` write it only when they fail, and only when `err` is
/// not NULL; on success it is left untouched. `message` is UTF-8, NUL-terminated, and never
/// contains prompt or completion text; a longer message is cut at a character boundary to fit.
/// Plain data: no ownership, copy it freely.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct tg_error {
    /// The status the call returned.
    pub status: i32,
    /// Length of `message` in bytes, excluding the NUL terminator.
    pub message_len: u32,
    /// The message text (UTF-8), NUL-terminated.
    pub message: [c_char; TG_ERROR_MESSAGE_CAP],
}

impl tg_error {
    /// The message as Rust text (for tests and the Rust-side bench).
    pub fn message_str(&self) -> &str {
        let len = (self.message_len as usize).min(TG_ERROR_MESSAGE_CAP - 1);
        // SAFETY: c_char and u8 have the same size and alignment.
        let bytes = unsafe { std::slice::from_raw_parts(self.message.as_ptr().cast::<u8>(), len) };
        std::str::from_utf8(bytes).unwrap_or("")
    }

    /// An empty error (status 0, empty message): the initial value bindings use.
    pub const fn empty() -> tg_error {
        tg_error {
            status: 0,
            message_len: 0,
            message: [0; TG_ERROR_MESSAGE_CAP],
        }
    }
}

/// Writes `status` and `message` into `*err` when `err` is not NULL.
///
/// # Safety
/// `err` must be NULL or point to writable memory for one `tg_error`.
pub(crate) unsafe fn write_error(err: *mut tg_error, status: i32, message: &str) {
    if err.is_null() {
        return;
    }
    let mut len = message.len().min(TG_ERROR_MESSAGE_CAP - 1);
    while !message.is_char_boundary(len) {
        len -= 1;
    }
    // SAFETY: the caller guarantees `err` is writable; fields are written through raw pointers
    // so uninitialised caller memory is fine.
    unsafe {
        let msg = std::ptr::addr_of_mut!((*err).message).cast::<u8>();
        std::ptr::copy_nonoverlapping(message.as_ptr(), msg, len);
        *msg.add(len) = 0;
        std::ptr::addr_of_mut!((*err).status).write(status);
        std::ptr::addr_of_mut!((*err).message_len).write(len as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_at_a_char_boundary() {
        let mut e = tg_error::empty();
        // 510 ASCII bytes + "é" (2 bytes) = 512 bytes: the "é" does not fit in 511, so the
        // message is cut before it, at 510 bytes.
        let msg = format!("{}é", "a".repeat(510));
        unsafe { write_error(&mut e, 4, &msg) };
        assert_eq!(e.status, 4);
        assert_eq!(e.message_len, 510);
        assert_eq!(e.message_str(), "a".repeat(510));
        assert_eq!(e.message[510], 0);
    }

    #[test]
    fn null_error_is_ignored() {
        unsafe { write_error(std::ptr::null_mut(), 4, "x") };
    }
}
