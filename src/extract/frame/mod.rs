//! Stream framing: how the bytes of a response become JSON payloads, whatever the provider.
//!
//! The format is detected from the first significant bytes: a JSON body or JSON Lines of
//! payloads (or a JSON array of them), SSE ([`sse`]), or the AWS event-stream binary framing
//! ([`eventstream`], with base64 InvokeModel chunks decoded by [`chunk`]). Text formats are
//! checked as UTF-8 ([`utf8`]) and every payload goes through the JSON grammar ([`json`]),
//! which keeps only the values on the usage paths ([`super::paths`]). Each completed payload
//! is handed to a [`Sink`]; nothing here knows what a provider's fields mean.

pub(crate) mod chunk;
pub(crate) mod eventstream;
pub(crate) mod json;
pub(crate) mod sse;
pub(crate) mod utf8;

use super::item::Provider;
use crate::extract::error::{ErrorKind, ExtractError};
use json::{
    Captures, JsonScanner, MAX_CAPTURE_BYTES, MAX_JSON_DEPTH, ScanError, ScanErrorKind, Step,
};
use utf8::Utf8Stream;

/// Default longest line of SSE or JSON Lines input (a JSON body counts as one line), in bytes
/// (16 MiB). Lines are streamed, not buffered: the limit rejects runaway input, it does not
/// size a buffer.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Default largest single payload, in bytes (16 MiB): one JSON body, one JSON Lines value,
/// one SSE event's data, or one event-stream message. Streamed, not buffered.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Size limits of an [`Accumulator`](crate::extract::Accumulator).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest line (SSE, JSON Lines; a JSON body counts as one line), in bytes.
    pub max_line_bytes: usize,
    /// Largest payload (body, JSON Lines value, SSE event data, event-stream message), in
    /// bytes.
    pub max_event_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_line_bytes: MAX_LINE_BYTES,
            max_event_bytes: MAX_EVENT_BYTES,
        }
    }
}

/// The payload callback of the framing layers: the event-stream event type (when the input
/// is an AWS event stream) and the payload's captured values.
pub(crate) type Sink<'a> = dyn FnMut(Option<&str>, &Captures<'_>) -> Result<(), ExtractError> + 'a;

/// Most bytes held while detecting the format.
const DETECT_BYTES: usize = 16;
const BOM: &[u8] = b"\xEF\xBB\xBF";

enum Format {
    /// Waiting for enough significant bytes to tell the format.
    Detecting {
        buf: Vec<u8>,
        start: u64,
    },
    Json,
    Sse(sse::Sse),
    EventStream(Box<eventstream::EventStream>),
}

/// The framing of one response: format detection, then the format's reader and the JSON
/// scanner its payloads go through.
pub(crate) struct Framing {
    provider: Provider,
    /// The event-stream events the provider reads (`None`: event streams are not read).
    events: Option<fn(&str) -> eventstream::Read>,
    limits: Limits,
    format: Format,
    utf8: Utf8Stream,
    scanner: JsonScanner,
}

impl Framing {
    pub(crate) fn new(
        provider: Provider,
        events: Option<fn(&str) -> eventstream::Read>,
        limits: Limits,
    ) -> Framing {
        Framing {
            provider,
            events,
            limits,
            format: Format::Detecting {
                buf: Vec::with_capacity(DETECT_BYTES),
                start: 0,
            },
            utf8: Utf8Stream::default(),
            scanner: JsonScanner::new(limits.max_event_bytes),
        }
    }

    /// The detected format's name (for `Debug` output).
    pub(crate) fn name(&self) -> &'static str {
        match &self.format {
            Format::Detecting { .. } => "detecting",
            Format::Json => "json",
            Format::Sse(_) => "sse",
            Format::EventStream(_) => "aws-eventstream",
        }
    }

    /// Bytes held by the framing's buffers.
    pub(crate) fn retained(&self) -> usize {
        let format = match &self.format {
            Format::Detecting { buf, .. } => buf.capacity(),
            Format::Json | Format::Sse(_) => 0,
            Format::EventStream(es) => es.retained(),
        };
        format + self.scanner.retained()
    }

    /// Frames the next chunk of the response (its first byte at input offset `off`), handing
    /// every completed payload to `sink`.
    pub(crate) fn feed(
        &mut self,
        chunk: &[u8],
        off: u64,
        sink: &mut Sink<'_>,
    ) -> Result<(), ExtractError> {
        let mut off = off;
        let mut chunk = chunk;
        if let Format::Detecting { buf, start } = &mut self.format {
            if buf.is_empty() {
                let skip = chunk
                    .iter()
                    .position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
                    .unwrap_or(chunk.len());
                chunk = &chunk[skip..];
                off += skip as u64;
                *start = off;
            }
            let take = (DETECT_BYTES - buf.len()).min(chunk.len());
            buf.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            off += take as u64;
            match detect(buf, self.events.is_some()) {
                Detected::NeedMore if buf.len() < DETECT_BYTES => return Ok(()),
                Detected::NeedMore | Detected::Unknown => {
                    return Err(ExtractError::at(
                        ErrorKind::UnknownFormat,
                        "the input is not JSON, JSON Lines, SSE or an AWS event stream",
                        *start,
                    ));
                }
                Detected::NotForProvider => {
                    return Err(ExtractError::at(
                        ErrorKind::UnknownFormat,
                        format!(
                            "the input is an AWS event stream, which is read for --provider bedrock or anthropic only (got {})",
                            self.provider
                        ),
                        *start,
                    ));
                }
                Detected::Format(fmt, skip) => {
                    // The bytes held for detection go through the framing first.
                    let mut held = std::mem::take(buf);
                    held.drain(..skip);
                    let held_off = *start + skip as u64;
                    self.format = match fmt {
                        Kind::Json => {
                            // A JSON Lines payload is one line: both limits apply.
                            self.scanner.set_max_payload_bytes(
                                self.limits.max_line_bytes.min(self.limits.max_event_bytes),
                            );
                            Format::Json
                        }
                        Kind::Sse => Format::Sse(sse::Sse::new(self.limits)),
                        Kind::EventStream => {
                            Format::EventStream(Box::new(eventstream::EventStream::new(
                                self.limits,
                                self.events.unwrap_or(|_| eventstream::Read::Skip),
                            )))
                        }
                    };
                    self.process(&held, held_off, sink)?;
                }
            }
        }
        self.process(chunk, off, sink)
    }

    /// Runs bytes (already past format detection) through the format's reader.
    fn process(&mut self, bytes: &[u8], off: u64, sink: &mut Sink<'_>) -> Result<(), ExtractError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let Framing {
            format,
            scanner,
            utf8,
            ..
        } = self;
        match format {
            Format::Detecting { .. } => Ok(()),
            Format::Json => through_utf8(utf8, bytes, off, NOT_UTF8, |b, at| {
                feed_scanner(scanner, b, at, sink)
            }),
            Format::Sse(s) => through_utf8(utf8, bytes, off, NOT_UTF8, |b, at| {
                s.feed(b, at, scanner, sink)
            }),
            Format::EventStream(es) => es.feed(bytes, off, scanner, sink),
        }
    }

    /// Ends the input at offset `off` (its length). Returns whether the input was a stream
    /// (SSE, an event stream, or a JSON array of payloads).
    pub(crate) fn finish(&mut self, off: u64, sink: &mut Sink<'_>) -> Result<bool, ExtractError> {
        let Framing {
            format,
            scanner,
            utf8,
            ..
        } = self;
        let streamed = match format {
            Format::Detecting { buf, start } => {
                return Err(if buf.is_empty() {
                    ExtractError::new(ErrorKind::NoUsage, "no usage reported: the input is empty")
                } else {
                    ExtractError::at(
                        ErrorKind::UnknownFormat,
                        "the input is too short to be a JSON, SSE or event-stream response",
                        *start,
                    )
                });
            }
            Format::Json => {
                scanner.finish().map_err(|_| {
                    ExtractError::at(
                        ErrorKind::Truncated,
                        "the input ends in the middle of a JSON value",
                        off,
                    )
                })?;
                false
            }
            Format::Sse(s) => {
                s.finish(off, scanner, sink)?;
                true
            }
            Format::EventStream(es) => {
                es.finish(off)?;
                true
            }
        };
        if utf8.unfinished() {
            return Err(ExtractError::at(
                ErrorKind::InvalidUtf8,
                "the input ends in the middle of a UTF-8 character",
                off,
            ));
        }
        Ok(streamed || scanner.saw_array())
    }
}

const NOT_UTF8: &str = "the input is not valid UTF-8";

/// Passes the bytes of a text format (`bytes`, at input offset `off`) to its framing `text` as
/// far as they are valid UTF-8. A character split across pieces is held back until it is
/// whole, and bytes after an invalid sequence are never framed, so the first error in input
/// order is reported — the same kind at the same offset however the input is split.
pub(crate) fn through_utf8(
    utf8: &mut Utf8Stream,
    bytes: &[u8],
    off: u64,
    message: &'static str,
    mut text: impl FnMut(&[u8], u64) -> Result<(), ExtractError>,
) -> Result<(), ExtractError> {
    let mut held = [0u8; 4];
    let held_len = utf8.pending().len();
    held[..held_len].copy_from_slice(utf8.pending());
    let (valid, invalid) = match utf8.feed(bytes) {
        Ok(()) => (held_len + bytes.len() - utf8.pending().len(), None),
        Err(e) => {
            let at = off.saturating_add_signed(e.0);
            let error = ExtractError::at(ErrorKind::InvalidUtf8, message, at);
            (held_len.saturating_add_signed(e.0 as isize), Some(error))
        }
    };
    let from_held = valid.min(held_len);
    if from_held > 0 {
        text(&held[..from_held], off - held_len as u64)?;
    }
    if valid > held_len {
        text(&bytes[..valid - held_len], off)?;
    }
    match invalid {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Feeds JSON bytes to the scanner, handing each completed payload to `sink`.
pub(crate) fn feed_scanner(
    scanner: &mut JsonScanner,
    mut bytes: &[u8],
    mut off: u64,
    sink: &mut Sink<'_>,
) -> Result<(), ExtractError> {
    while !bytes.is_empty() {
        match scanner
            .feed(bytes)
            .map_err(|e| scan_error(e, off, &scanner_limits(scanner)))?
        {
            Step::NeedMore => return Ok(()),
            Step::Payload(k) => {
                let r = sink(None, &scanner.captures());
                scanner.clear_payload();
                r.map_err(|e| e.with_offset(off + k as u64))?;
                bytes = &bytes[k..];
                off += k as u64;
            }
        }
    }
    Ok(())
}

fn scanner_limits(scanner: &JsonScanner) -> Limits {
    Limits {
        max_line_bytes: MAX_LINE_BYTES,
        max_event_bytes: scanner.max_payload_bytes(),
    }
}

/// A scanner error as an extraction error at an absolute offset.
pub(crate) fn scan_error(e: ScanError, off: u64, limits: &Limits) -> ExtractError {
    let at = off + e.index as u64;
    match e.kind {
        ScanErrorKind::Syntax => ExtractError::at(
            ErrorKind::Malformed,
            format!("malformed JSON: {}", e.message),
            at,
        ),
        ScanErrorKind::TooDeep => ExtractError::at(
            ErrorKind::TooLarge,
            format!("JSON nesting is deeper than the limit of {MAX_JSON_DEPTH}"),
            at,
        ),
        ScanErrorKind::TooLarge if e.message == "payload" => ExtractError::at(
            ErrorKind::TooLarge,
            format!(
                "a JSON payload (body, line or event) is longer than the limit of {} bytes",
                limits.max_event_bytes
            ),
            at,
        ),
        ScanErrorKind::TooLarge => ExtractError::at(
            ErrorKind::TooLarge,
            format!(
                "the usage-related values of one payload exceed the limit of {MAX_CAPTURE_BYTES} bytes"
            ),
            at,
        ),
    }
}

enum Kind {
    Json,
    Sse,
    EventStream,
}

enum Detected {
    NeedMore,
    Unknown,
    NotForProvider,
    /// The format, and how many leading bytes (a BOM) to drop.
    Format(Kind, usize),
}

/// Detects the format; `event_streams`: the provider reads AWS event streams.
fn detect(buf: &[u8], event_streams: bool) -> Detected {
    let (s, skip) = if buf.starts_with(BOM) {
        (&buf[BOM.len()..], BOM.len())
    } else if BOM.starts_with(buf) {
        return Detected::NeedMore;
    } else {
        (buf, 0)
    };
    let ws = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'))
        .unwrap_or(s.len());
    let (s, skip) = (&s[ws..], skip + ws);
    let Some(&first) = s.first() else {
        return Detected::NeedMore;
    };
    match first {
        b'{' | b'[' => Detected::Format(Kind::Json, skip),
        b':' => Detected::Format(Kind::Sse, skip),
        0 => {
            if s.len() < 12 {
                Detected::NeedMore
            } else if !eventstream::looks_like_prelude(s) {
                Detected::Unknown
            } else if !event_streams {
                Detected::NotForProvider
            } else {
                Detected::Format(Kind::EventStream, skip)
            }
        }
        b'a'..=b'z' => {
            for name in [&b"data"[..], b"event", b"id", b"retry"] {
                if s.len() > name.len() {
                    if s.starts_with(name) && matches!(s[name.len()], b':' | b'\n' | b'\r') {
                        return Detected::Format(Kind::Sse, skip);
                    }
                } else if name.starts_with(s) {
                    return Detected::NeedMore;
                }
            }
            Detected::Unknown
        }
        _ => Detected::Unknown,
    }
}
