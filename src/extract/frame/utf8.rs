//! Incremental UTF-8 validation across chunk boundaries (a chunk may end mid-character).

/// Validates a byte stream fed in arbitrary pieces. Holds at most 3 bytes of an unfinished
/// character between pieces.
#[derive(Default)]
pub(crate) struct Utf8Stream {
    pending: [u8; 4],
    pending_len: u8,
}

/// Where the first invalid sequence starts, relative to the start of the piece just fed: the
/// lead byte of a character begun in an earlier piece is before it (-1 to -3). This is the
/// position `std::str::from_utf8` gives for the whole input (`valid_up_to`), however the input
/// was split.
pub(crate) struct Utf8Error(pub i64);

impl Utf8Stream {
    /// Validates `bytes`, continuing an unfinished character from the previous piece.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Utf8Error> {
        let mut consumed = 0usize;
        if self.pending_len > 0 {
            // The unfinished character plus what this piece adds to it, judged as a whole
            // (the second byte's range depends on the lead byte: surrogates, overlongs).
            let held = self.pending_len as usize;
            let need = char_width(self.pending[0]) - held;
            let take = need.min(bytes.len());
            let mut buf = [0u8; 4];
            buf[..held].copy_from_slice(&self.pending[..held]);
            buf[held..held + take].copy_from_slice(&bytes[..take]);
            match std::str::from_utf8(&buf[..held + take]) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_some() => {
                    self.pending_len = 0;
                    return Err(Utf8Error(-(held as i64)));
                }
                Err(_) => {
                    // Still a valid beginning: only possible when the piece ran out.
                    self.pending[..held + take].copy_from_slice(&buf[..held + take]);
                    self.pending_len = (held + take) as u8;
                    return Ok(());
                }
            }
            bytes = &bytes[take..];
            consumed = take;
        }
        match std::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) => {
                let valid = e.valid_up_to();
                match e.error_len() {
                    Some(_) => Err(Utf8Error((consumed + valid) as i64)),
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

    /// The bytes of the unfinished character held from earlier pieces.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.pending[..self.pending_len as usize]
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
        // 0x41 cannot continue the 3-byte character started by 0xE2: the invalid sequence
        // starts at 0xE2, two bytes before this piece (where from_utf8 of the whole puts it).
        assert_eq!(v.feed(b"A").err().map(|e| e.0), Some(-2));
        assert_eq!(
            std::str::from_utf8(std::hint::black_box(b"ab\xE2\x80A"))
                .unwrap_err()
                .valid_up_to(),
            2
        );
        let mut v = Utf8Stream::default();
        assert_eq!(v.feed(b"abc\xFFdef").err().map(|e| e.0), Some(3));
        // Encoded surrogate U+D800 (ED A0 80), split after the lead byte.
        // U+D800's second byte is already out of range for lead 0xED: rejected at the lead
        // byte as soon as it arrives, as from_utf8 of the whole rejects it.
        let mut v = Utf8Stream::default();
        assert!(v.feed(b"\xED").is_ok());
        assert_eq!(v.feed(b"\xA0").err().map(|e| e.0), Some(-1));
        assert_eq!(
            std::str::from_utf8(std::hint::black_box(b"\xED\xA0"))
                .unwrap_err()
                .error_len(),
            Some(1)
        );
    }
}
