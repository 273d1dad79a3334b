//! Incremental UTF-8 validation across chunk boundaries (a chunk may end mid-character).

/// Validates a byte stream fed in arbitrary pieces. Holds at most 3 bytes of an unfinished
/// character between pieces.
#[derive(Default)]
pub(crate) struct Utf8Stream {
    pending: [u8; 4],
    pending_len: u8,
}

/// Offset (within the piece just fed) of the first invalid byte.
pub(crate) struct Utf8Error(pub usize);

impl Utf8Stream {
    /// Validates `bytes`, continuing an unfinished character from the previous piece.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Utf8Error> {
        if self.pending_len == 0 && bytes.is_ascii() {
            return Ok(());
        }
        let mut consumed = 0usize;
        if self.pending_len > 0 {
            let need = char_width(self.pending[0]) - self.pending_len as usize;
            let take = need.min(bytes.len());
            for (k, &b) in bytes[..take].iter().enumerate() {
                if b & 0xC0 != 0x80 {
                    return Err(Utf8Error(k));
                }
                self.pending[self.pending_len as usize] = b;
                self.pending_len += 1;
            }
            if take < need {
                return Ok(());
            }
            let width = self.pending_len as usize;
            self.pending_len = 0;
            if std::str::from_utf8(&self.pending[..width]).is_err() {
                // Overlong encodings, surrogates and out-of-range scalars land here.
                return Err(Utf8Error(0));
            }
            bytes = &bytes[take..];
            consumed = take;
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) => {
                let valid = e.valid_up_to();
                match e.error_len() {
                    Some(_) => Err(Utf8Error(consumed + valid)),
                    None => {
                        // An unfinished character at the end: keep it for the next piece.
                        let tail = &bytes[valid..];
                        self.pending[..tail.len()].copy_from_slice(tail);
                        self.pending_len = tail.len() as u8;
                        Ok(())
                    }
                }
            }
        }
    }

    /// True when the stream ended in the middle of a character.
    pub(crate) fn unfinished(&self) -> bool {
        self.pending_len > 0
    }

    pub(crate) fn reset(&mut self) {
        self.pending_len = 0;
    }
}

/// Width of a UTF-8 character from its lead byte (1 for bytes that cannot lead; those are
/// rejected by `from_utf8` before ever becoming pending).
fn char_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_characters_validate_at_every_offset() {
        let text = "a—b👋c".as_bytes(); // 1 + 3 + 1 + 4 + 1 bytes
        for cut in 0..=text.len() {
            let mut v = Utf8Stream::default();
            assert!(v.feed(&text[..cut]).is_ok());
            assert!(v.feed(&text[cut..]).is_ok());
            assert!(!v.unfinished(), "cut at {cut}");
        }
    }

    #[test]
    fn invalid_bytes_are_found_across_pieces() {
        let mut v = Utf8Stream::default();
        assert!(v.feed(b"ab\xE2\x80").is_ok());
        assert!(v.unfinished());
        // 0x41 cannot continue the 3-byte character started by 0xE2.
        assert_eq!(v.feed(b"A").err().map(|e| e.0), Some(0));
        let mut v = Utf8Stream::default();
        assert_eq!(v.feed(b"abc\xFFdef").err().map(|e| e.0), Some(3));
        // Encoded surrogate U+D800 (ED A0 80), split after the lead byte.
        let mut v = Utf8Stream::default();
        assert!(v.feed(b"\xED").is_ok());
        assert!(v.feed(b"\xA0\x80").is_err());
    }
}
