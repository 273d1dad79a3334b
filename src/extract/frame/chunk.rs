//! Bedrock `InvokeModelWithResponseStream` chunks: each `chunk` event's payload is a JSON
//! object `{"bytes": "<base64>"}` (plus padding fields such as `"p"`) whose base64 text is one
//! event of the model's own stream (for Anthropic models, a Messages stream event).
//!
//! [`ChunkDecoder`] reads that outer object as it streams by and decodes the base64 in small
//! pieces, so neither the outer payload nor the inner event is ever held whole.

use crate::extract::error::{ErrorKind, ExtractError};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use memchr::{memchr, memchr2};

/// Base64 characters decoded at a time (a multiple of 4).
const B64_BATCH: usize = 1024;
/// Longest outer key compared (`bytes`); longer keys are other fields.
const MAX_KEY: usize = 8;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    /// Before `{`.
    Start,
    /// After `{` or `,`: a key, or `}` right after `{`.
    Key {
        first: bool,
    },
    InKey,
    InKeyEsc,
    Colon,
    /// Expecting a value: only strings are allowed in a chunk object.
    Value,
    InStr,
    InStrEsc,
    /// Inside a `\u` escape of a string that is skipped (4 hex digits).
    InStrHex(u8),
    After,
    End,
}

/// Streaming reader of one `chunk` payload.
pub(crate) struct ChunkDecoder {
    st: St,
    key: [u8; MAX_KEY],
    key_len: usize,
    /// The string being read is the `bytes` value.
    in_bytes: bool,
    saw_bytes: bool,
    /// Base64 characters not yet decoded (room for the padding after a full batch).
    pending: [u8; B64_BATCH + 4],
    pending_len: usize,
    /// `=` characters seen: only padding may follow, at most two.
    pad_count: usize,
    /// Decoded bytes of one batch (kept, so it is not zeroed for every batch).
    decoded: [u8; B64_BATCH / 4 * 3 + 3],
}

fn malformed(message: &str) -> ExtractError {
    ExtractError::new(
        ErrorKind::Malformed,
        format!("an InvokeModel stream chunk {message}"),
    )
}

impl Default for ChunkDecoder {
    fn default() -> ChunkDecoder {
        ChunkDecoder {
            st: St::Start,
            key: [0; MAX_KEY],
            key_len: 0,
            in_bytes: false,
            saw_bytes: false,
            pending: [0; B64_BATCH + 4],
            pending_len: 0,
            pad_count: 0,
            decoded: [0; B64_BATCH / 4 * 3 + 3],
        }
    }
}

impl ChunkDecoder {
    /// Starts a new chunk payload (the buffers are reused as they are).
    pub(crate) fn reset(&mut self) {
        self.st = St::Start;
        self.key_len = 0;
        self.in_bytes = false;
        self.saw_bytes = false;
        self.pending_len = 0;
        self.pad_count = 0;
    }

    /// Reads the next piece of the outer payload, appending decoded inner bytes to `out`
    /// (at most three quarters of `part.len()` plus one batch).
    pub(crate) fn feed(&mut self, part: &[u8], out: &mut Vec<u8>) -> Result<(), ExtractError> {
        let mut i = 0;
        while i < part.len() {
            let b = part[i];
            match self.st {
                St::Start | St::Colon | St::Value | St::After | St::End | St::Key { .. }
                    if matches!(b, b' ' | b'\n' | b'\r' | b'\t') => {}
                St::Start => {
                    if b != b'{' {
                        return Err(malformed("payload is not a JSON object"));
                    }
                    self.st = St::Key { first: true };
                }
                St::Key { first } => match b {
                    b'"' => {
                        self.key_len = 0;
                        self.st = St::InKey;
                    }
                    b'}' if first => self.st = St::End,
                    _ => return Err(malformed("payload has a malformed key")),
                },
                St::InKey => match b {
                    b'"' => self.st = St::Colon,
                    b'\\' => self.st = St::InKeyEsc,
                    c if c < 0x20 => return Err(malformed("payload has a malformed key")),
                    _ => {
                        if self.key_len < MAX_KEY {
                            self.key[self.key_len] = b;
                        }
                        self.key_len += 1;
                    }
                },
                St::InKeyEsc => {
                    // An escaped key is never `bytes`.
                    self.key_len = MAX_KEY + 1;
                    self.st = St::InKey;
                }
                St::Colon => {
                    if b != b':' {
                        return Err(malformed("payload is missing a ':'"));
                    }
                    self.st = St::Value;
                }
                St::Value => {
                    if b != b'"' {
                        return Err(malformed("payload has a value that is not a string"));
                    }
                    self.in_bytes =
                        &self.key[..self.key_len.min(MAX_KEY)] == b"bytes" && self.key_len == 5;
                    if self.in_bytes {
                        if self.saw_bytes {
                            return Err(malformed("payload has `bytes` twice"));
                        }
                        self.saw_bytes = true;
                    }
                    self.st = St::InStr;
                }
                St::InStr => {
                    if self.in_bytes {
                        // Base64 text runs until the closing quote; only `\/` is an escape
                        // a JSON writer may put in it.
                        let run_end =
                            memchr2(b'"', b'\\', &part[i..]).map_or(part.len(), |k| i + k);
                        self.base64(&part[i..run_end], out)?;
                        i = run_end;
                        if i == part.len() {
                            continue;
                        }
                        if part[i] == b'"' {
                            self.flush(out, true)?;
                            self.st = St::After;
                        } else {
                            self.st = St::InStrEsc;
                        }
                    } else {
                        match b {
                            b'"' => self.st = St::After,
                            b'\\' => self.st = St::InStrEsc,
                            c if c < 0x20 => {
                                return Err(malformed("payload has a control character"));
                            }
                            _ => {}
                        }
                    }
                }
                St::InStrEsc => {
                    if self.in_bytes {
                        if b != b'/' {
                            return Err(malformed("has an escape inside its base64 `bytes`"));
                        }
                        self.base64(b"/", out)?;
                        self.st = St::InStr;
                    } else {
                        self.st = match b {
                            b'u' => St::InStrHex(4),
                            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => St::InStr,
                            _ => return Err(malformed("payload has an invalid escape")),
                        };
                    }
                }
                St::InStrHex(left) => {
                    if !b.is_ascii_hexdigit() {
                        return Err(malformed("payload has an invalid escape"));
                    }
                    self.st = if left == 1 {
                        St::InStr
                    } else {
                        St::InStrHex(left - 1)
                    };
                }
                St::After => match b {
                    b',' => self.st = St::Key { first: false },
                    b'}' => self.st = St::End,
                    _ => return Err(malformed("payload is malformed after a value")),
                },
                St::End => return Err(malformed("payload has data after its object")),
            }
            i += 1;
        }
        Ok(())
    }

    /// The payload ended: true when it held a `bytes` value (all of it decoded by now).
    pub(crate) fn finish(&self) -> Result<bool, ExtractError> {
        if self.st != St::End {
            return Err(malformed("payload is not one complete JSON object"));
        }
        Ok(self.saw_bytes)
    }

    fn base64(&mut self, text: &[u8], out: &mut Vec<u8>) -> Result<(), ExtractError> {
        let (mut data, pad) = match memchr(b'=', text) {
            Some(p) => (&text[..p], &text[p..]),
            None => (text, &[][..]),
        };
        if self.pad_count > 0 && !data.is_empty() {
            return Err(malformed("has base64 text after its padding"));
        }
        while !data.is_empty() {
            let take = (B64_BATCH - self.pending_len).min(data.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            self.pending_len += take;
            data = &data[take..];
            if self.pending_len == B64_BATCH {
                self.flush(out, false)?;
            }
        }
        if !pad.is_empty() {
            if pad.iter().any(|&c| c != b'=') || self.pad_count + pad.len() > 2 {
                return Err(malformed("has base64 text after its padding"));
            }
            self.pad_count += pad.len();
        }
        Ok(())
    }

    /// Decodes the pending characters: at the end of the string all of them (with the
    /// padding), else the whole groups of four.
    fn flush(&mut self, out: &mut Vec<u8>, last: bool) -> Result<(), ExtractError> {
        let n = if last {
            for k in 0..self.pad_count {
                self.pending[self.pending_len + k] = b'=';
            }
            let n = self.pending_len + self.pad_count;
            if !n.is_multiple_of(4) {
                return Err(malformed(
                    "has base64 `bytes` whose length is not a multiple of 4",
                ));
            }
            n
        } else {
            self.pending_len - self.pending_len % 4
        };
        if n == 0 {
            return Ok(());
        }
        let k = STANDARD
            .decode_slice(&self.pending[..n], &mut self.decoded)
            .map_err(|_| malformed("has `bytes` that are not valid base64"))?;
        out.extend_from_slice(&self.decoded[..k]);
        let kept = self.pending_len.saturating_sub(n);
        self.pending.copy_within(n..n + kept, 0);
        self.pending_len = kept;
        Ok(())
    }
}
