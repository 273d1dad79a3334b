//! AWS `application/vnd.amazon.eventstream` framing (Bedrock ConverseStream over the wire).
//!
//! A message is `total_len:u32 | headers_len:u32 | prelude_crc:u32 | headers | payload |
//! message_crc:u32`, big-endian, both CRCs CRC-32 (IEEE). Both are verified. Only the
//! payloads of wanted events (Bedrock: `metadata`, `contentBlockStart`) are scanned as JSON, and
//! InvokeModelWithResponseStream `chunk` events are base64-decoded and their inner event scanned
//! — either is applied only after the message CRC checks out; content events are skipped
//! unread (only their CRC is computed).

use super::chunk::ChunkDecoder;
use super::json::{JsonScanner, Step};
use super::utf8::Utf8Stream;
use super::{Limits, Sink, scan_error, through_utf8};
use crate::extract::error::{ErrorKind, ExtractError, token_or_hidden};

/// Largest header block accepted (the AWS limit).
pub const MAX_EVENTSTREAM_HEADER_BYTES: usize = 128 * 1024;
/// Prelude (12 bytes) plus the trailing message CRC (4 bytes).
const FRAME_OVERHEAD: usize = 16;
/// Longest header string kept (event and exception type names).
const MAX_HEADER_VALUE_BYTES: usize = 128;
/// Outer chunk payload bytes decoded at a time (bounds the decoded buffer).
const CHUNK_PIECE_BYTES: usize = 4096;

/// How a wanted event's payload is read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Read {
    /// Not read (only its CRC is checked).
    Skip,
    /// A JSON payload, scanned.
    Json,
    /// `{"bytes": "<base64>"}` whose decoded text is scanned.
    Chunk,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    Prelude,
    Headers,
    Payload,
    Crc,
}

pub(crate) struct EventStream {
    st: St,
    prelude: [u8; 12],
    got: usize,
    headers: Vec<u8>,
    headers_len: usize,
    payload_left: usize,
    crc: crc32fast::Hasher,
    tail: [u8; 4],
    event_type: String,
    message_type: String,
    exception_type: String,
    scan: bool,
    chunk: bool,
    payload_done: bool,
    utf8: Utf8Stream,
    wanted: fn(&str) -> Read,
    decoder: Box<ChunkDecoder>,
    decoded: Vec<u8>,
    limits: Limits,
    /// Input offset of the current message's first byte.
    msg_start: u64,
}

/// True when the first 12 bytes are a well-formed prelude with a matching CRC (format
/// detection).
pub(crate) fn looks_like_prelude(b: &[u8]) -> bool {
    if b.len() < 12 {
        return false;
    }
    let total = be32(&b[0..4]) as usize;
    let headers = be32(&b[4..8]) as usize;
    total >= FRAME_OVERHEAD
        && headers <= total - FRAME_OVERHEAD
        && crc32fast::hash(&b[0..8]) == be32(&b[8..12])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn corrupt(message: impl Into<String>, at: u64) -> ExtractError {
    ExtractError::at(ErrorKind::CorruptFrame, message, at)
}

impl EventStream {
    pub(crate) fn new(limits: Limits, wanted: fn(&str) -> Read) -> EventStream {
        EventStream {
            st: St::Prelude,
            prelude: [0; 12],
            got: 0,
            headers: Vec::new(),
            headers_len: 0,
            payload_left: 0,
            crc: crc32fast::Hasher::new(),
            tail: [0; 4],
            event_type: String::new(),
            message_type: String::new(),
            exception_type: String::new(),
            scan: false,
            chunk: false,
            payload_done: false,
            utf8: Utf8Stream::default(),
            wanted,
            decoder: Box::default(),
            decoded: Vec::new(),
            limits,
            msg_start: 0,
        }
    }

    pub(crate) fn feed(
        &mut self,
        bytes: &[u8],
        off: u64,
        scanner: &mut JsonScanner,
        sink: &mut Sink<'_>,
    ) -> Result<(), ExtractError> {
        let n = bytes.len();
        let mut i = 0usize;
        while i < n {
            let at = off + i as u64;
            match self.st {
                St::Prelude => {
                    if self.got == 0 {
                        self.msg_start = at;
                    }
                    let take = (12 - self.got).min(n - i);
                    self.prelude[self.got..self.got + take].copy_from_slice(&bytes[i..i + take]);
                    self.got += take;
                    i += take;
                    if self.got == 12 {
                        // Errors about a message are reported at its first byte.
                        self.start_message(self.msg_start)?;
                        if self.headers_len == 0 {
                            self.begin_payload(scanner);
                        }
                    }
                }
                St::Headers => {
                    let take = (self.headers_len - self.headers.len()).min(n - i);
                    let part = &bytes[i..i + take];
                    self.crc.update(part);
                    self.headers.extend_from_slice(part);
                    i += take;
                    if self.headers.len() == self.headers_len {
                        self.parse_headers(self.msg_start + 12)?;
                        self.begin_payload(scanner);
                    }
                }
                St::Payload => {
                    let take = self.payload_left.min(n - i);
                    let part = &bytes[i..i + take];
                    self.crc.update(part);
                    if self.scan {
                        self.scan_payload(part, at, scanner)?;
                    } else if self.chunk {
                        self.decode_chunk(part, scanner)?;
                    }
                    self.payload_left -= take;
                    i += take;
                    if self.payload_left == 0 {
                        self.st = St::Crc;
                        self.got = 0;
                    }
                }
                St::Crc => {
                    let take = (4 - self.got).min(n - i);
                    self.tail[self.got..self.got + take].copy_from_slice(&bytes[i..i + take]);
                    self.got += take;
                    i += take;
                    if self.got == 4 {
                        self.end_message(off + i as u64, scanner, sink)?;
                    }
                }
            }
        }
        Ok(())
    }

    pub(crate) fn retained(&self) -> usize {
        std::mem::size_of::<ChunkDecoder>()
            + self.decoded.capacity()
            + self.headers.capacity()
            + self.event_type.capacity()
            + self.message_type.capacity()
            + self.exception_type.capacity()
    }

    /// End of input: it must fall between messages.
    pub(crate) fn finish(&self, off: u64) -> Result<(), ExtractError> {
        if self.st == St::Prelude && self.got == 0 {
            Ok(())
        } else {
            Err(ExtractError::at(
                ErrorKind::Truncated,
                "the event stream ends in the middle of a message",
                off,
            ))
        }
    }

    fn start_message(&mut self, at: u64) -> Result<(), ExtractError> {
        let p = self.prelude;
        let total = be32(&p[0..4]) as usize;
        let headers_len = be32(&p[4..8]) as usize;
        if crc32fast::hash(&p[0..8]) != be32(&p[8..12]) {
            return Err(corrupt("event-stream prelude CRC mismatch", at));
        }
        if total < FRAME_OVERHEAD || headers_len > total - FRAME_OVERHEAD {
            return Err(corrupt("event-stream message lengths are inconsistent", at));
        }
        if headers_len > MAX_EVENTSTREAM_HEADER_BYTES {
            return Err(ExtractError::at(
                ErrorKind::TooLarge,
                format!(
                    "event-stream headers are longer than the limit of {MAX_EVENTSTREAM_HEADER_BYTES} bytes"
                ),
                at,
            ));
        }
        let payload = total - FRAME_OVERHEAD - headers_len;
        if payload > self.limits.max_event_bytes {
            return Err(ExtractError::at(
                ErrorKind::TooLarge,
                format!(
                    "an event-stream message is longer than the limit of {} bytes",
                    self.limits.max_event_bytes
                ),
                at,
            ));
        }
        self.crc = crc32fast::Hasher::new();
        self.crc.update(&p);
        self.headers.clear();
        self.headers_len = headers_len;
        self.payload_left = payload;
        self.event_type.clear();
        self.message_type.clear();
        self.exception_type.clear();
        self.st = St::Headers;
        Ok(())
    }

    fn parse_headers(&mut self, at: u64) -> Result<(), ExtractError> {
        let h = std::mem::take(&mut self.headers);
        let bad = || corrupt("malformed event-stream headers", at);
        let mut k = 0usize;
        while k < h.len() {
            let name_len = *h.get(k).ok_or_else(bad)? as usize;
            let name = h.get(k + 1..k + 1 + name_len).ok_or_else(bad)?;
            k += 1 + name_len;
            let ty = *h.get(k).ok_or_else(bad)?;
            k += 1;
            let fixed = match ty {
                0 | 1 => Some(0),
                2 => Some(1),
                3 => Some(2),
                4 => Some(4),
                5 | 8 => Some(8),
                9 => Some(16),
                6 | 7 => None,
                _ => return Err(bad()),
            };
            let value = match fixed {
                Some(w) => {
                    let v = h.get(k..k + w).ok_or_else(bad)?;
                    k += w;
                    v
                }
                None => {
                    let len_bytes = h.get(k..k + 2).ok_or_else(bad)?;
                    let len = u16::from_be_bytes([len_bytes[0], len_bytes[1]]) as usize;
                    let v = h.get(k + 2..k + 2 + len).ok_or_else(bad)?;
                    k += 2 + len;
                    v
                }
            };
            if ty != 7 {
                continue;
            }
            let slot = match name {
                b":event-type" => &mut self.event_type,
                b":message-type" => &mut self.message_type,
                b":exception-type" | b":error-code" => &mut self.exception_type,
                _ => continue,
            };
            slot.clear();
            if value.len() <= MAX_HEADER_VALUE_BYTES
                && let Ok(s) = std::str::from_utf8(value)
            {
                slot.push_str(s);
            }
        }
        self.headers = h;
        self.headers.clear();
        Ok(())
    }

    fn begin_payload(&mut self, scanner: &mut JsonScanner) {
        let read = if self.message_type == "event" {
            (self.wanted)(&self.event_type)
        } else {
            Read::Skip
        };
        self.scan = read == Read::Json;
        self.chunk = read == Read::Chunk;
        self.payload_done = false;
        if read != Read::Skip {
            scanner.reset();
            self.utf8.reset();
            self.decoder.reset();
        }
        if self.payload_left == 0 {
            self.st = St::Crc;
            self.got = 0;
        } else {
            self.st = St::Payload;
        }
    }

    fn scan_payload(
        &mut self,
        part: &[u8],
        at: u64,
        scanner: &mut JsonScanner,
    ) -> Result<(), ExtractError> {
        let EventStream {
            utf8,
            payload_done,
            limits,
            ..
        } = self;
        through_utf8(
            utf8,
            part,
            at,
            "an event-stream JSON payload is not valid UTF-8",
            |part, at| scan_json(part, at, payload_done, scanner, limits),
        )
    }

    /// Decodes a piece of a `chunk` payload and scans the decoded text.
    fn decode_chunk(&mut self, part: &[u8], scanner: &mut JsonScanner) -> Result<(), ExtractError> {
        // Decoded text has no input offset of its own: its errors are reported at the start
        // of the payload that holds it (the same place however the input was split).
        let payload = self.msg_start + 12 + self.headers_len as u64;
        let mut decoded = std::mem::take(&mut self.decoded);
        let mut r = Ok(());
        for piece in part.chunks(CHUNK_PIECE_BYTES) {
            r = self
                .decoder
                .feed(piece, &mut decoded)
                .map_err(|e| e.at_offset(payload));
            if r.is_ok() && !decoded.is_empty() {
                r = self
                    .scan_payload(&decoded, payload, scanner)
                    .map_err(|e| e.at_offset(payload));
            }
            decoded.clear();
            if r.is_err() {
                break;
            }
        }
        self.decoded = decoded;
        r
    }

    fn end_message(
        &mut self,
        at: u64,
        scanner: &mut JsonScanner,
        sink: &mut Sink<'_>,
    ) -> Result<(), ExtractError> {
        let expected = std::mem::replace(&mut self.crc, crc32fast::Hasher::new()).finalize();
        if expected != be32(&self.tail) {
            return Err(corrupt("event-stream message CRC mismatch", at));
        }
        self.st = St::Prelude;
        self.got = 0;
        if self.message_type == "exception" || self.message_type == "error" {
            return Err(ExtractError::at(
                ErrorKind::ProviderError,
                format!(
                    "the provider reported an error ({}) instead of usage",
                    token_or_hidden(&self.exception_type)
                ),
                at,
            ));
        }
        if self.chunk {
            let had_bytes = self.decoder.finish().map_err(|e| e.with_offset(at))?;
            if !had_bytes {
                return Ok(());
            }
        } else if !self.scan {
            return Ok(());
        }
        if !self.payload_done || self.utf8.unfinished() {
            return Err(ExtractError::at(
                ErrorKind::Malformed,
                "an event-stream payload is not one complete JSON object",
                at,
            ));
        }
        let event_type = std::mem::take(&mut self.event_type);
        let r = sink(Some(&event_type), &scanner.captures());
        self.event_type = event_type;
        scanner.clear_payload();
        r.map_err(|e| e.with_offset(at))
    }
}

/// Scans (valid UTF-8) bytes of a JSON payload: one value, then only whitespace.
fn scan_json(
    part: &[u8],
    at: u64,
    payload_done: &mut bool,
    scanner: &mut JsonScanner,
    limits: &Limits,
) -> Result<(), ExtractError> {
    let rest = if *payload_done {
        part
    } else {
        match scanner.feed(part).map_err(|e| scan_error(e, at, limits))? {
            Step::NeedMore => &[][..],
            Step::Payload(k) => {
                *payload_done = true;
                &part[k..]
            }
        }
    };
    if let Some(p) = rest
        .iter()
        .position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
    {
        return Err(ExtractError::at(
            ErrorKind::Malformed,
            "an event-stream payload holds more than one JSON value",
            at + (part.len() - rest.len() + p) as u64,
        ));
    }
    Ok(())
}
