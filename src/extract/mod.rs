//! Usage extraction from raw provider responses and streams (docs/reference/extraction.md).
//!
//! SDK wrappers hand the engine the raw response body — or each stream chunk as it arrives —
//! and get back normalized [`LineItem`]s ([`crate::usage::Usage`] plus model, response id,
//! served tier, web-search requests and any provider-reported cost). No wrapper counts tokens.
//!
//! - [`extract`]: one whole body → line items.
//! - [`Accumulator`]: feed byte chunks split anywhere (mid-line, mid-event, mid-character),
//!   then [`Accumulator::finish`]. Memory stays bounded whatever the content length: content
//!   is validated and skipped, never stored.
//!
//! The format is detected from the first bytes: a JSON body, JSON Lines of stream payloads (or
//! a JSON array of them), SSE (`data:` / `event:` lines, `[DONE]`), or the raw AWS
//! `application/vnd.amazon.eventstream` binary framing (CRCs verified).
//!
//! Never zero by accident: a response or stream that reports no usage is an
//! [`ErrorKind::NoUsage`] error, not zero tokens. No content is retained: no prompt or
//! completion text appears in any line item, error message or `Debug` output.

mod anthropic;
mod bedrock;
mod chunk;
mod error;
mod eventstream;
mod fields;
mod gemini;
mod item;
mod json;
mod openai;
mod shape;
mod sse;
mod utf8;

pub use error::{ErrorKind, ExtractError};
pub use eventstream::MAX_EVENTSTREAM_HEADER_BYTES;
pub use item::{LineItem, Provider};
pub use json::{MAX_CAPTURE_BYTES, MAX_JSON_DEPTH};

use crate::event::{MAX_ID_BYTES, MAX_NAME_BYTES};
use json::{Captures, JsonScanner, ScanError, ScanErrorKind, Step};
use std::fmt;
use utf8::Utf8Stream;

/// Default longest line of SSE or JSON Lines input (a JSON body counts as one line), in bytes
/// (16 MiB). Lines are streamed, not buffered: the limit rejects runaway input, it does not
/// size a buffer.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;
/// Default largest single payload, in bytes (16 MiB): one JSON body, one JSON Lines value,
/// one SSE event's data, or one event-stream message. Streamed, not buffered.
pub const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// Size limits of an [`Accumulator`].
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

/// Reads the usage off one whole response body (any supported format).
///
/// `request_model` is the model the caller asked for: used when the response names none, and
/// always for Bedrock Converse (whose bodies never name it).
///
/// ```
/// use tollgate_engine::extract::{extract, Provider};
/// let body = br#"{"id":"msg_1","type":"message","model":"claude-sonnet-4-5",
///   "content":[{"type":"text","text":"Hi"}],
///   "usage":{"input_tokens":3,"cache_read_input_tokens":1111,"cache_creation_input_tokens":418,
///            "output_tokens":33}}"#;
/// let items = extract(Provider::Anthropic, None, body).unwrap();
/// assert_eq!(items.len(), 1);
/// let u = &items[0].usage;
/// // Anthropic's input_tokens excludes the cache: it is the fresh input as is.
/// assert_eq!((u.tokens_in, u.cached_tokens, u.cache_write_5m_tokens, u.tokens_out), (3, 1111, 418, 33));
/// assert_eq!(items[0].response_id.as_deref(), Some("msg_1"));
/// ```
pub fn extract(
    provider: Provider,
    request_model: Option<&str>,
    body: &[u8],
) -> Result<Vec<LineItem>, ExtractError> {
    let mut acc = Accumulator::new(provider, request_model)?;
    acc.feed(body)?;
    acc.finish()
}

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

enum Reader {
    OpenAi(openai::State),
    Anthropic(anthropic::State),
    Bedrock(bedrock::State),
    Gemini(gemini::State),
}

/// The payload callback of the framing layers: the event-stream event type (when the input
/// is an AWS event stream) and the payload's captured values.
pub(crate) type Sink<'a> = dyn FnMut(Option<&str>, &Captures<'_>) -> Result<(), ExtractError> + 'a;

/// Most bytes held while detecting the format.
const DETECT_BYTES: usize = 16;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A streaming usage reader: [`feed`](Accumulator::feed) chunks as they arrive, then
/// [`finish`](Accumulator::finish).
///
/// Memory is bounded regardless of content length (the scanner keeps only the usage-related
/// values, at most [`MAX_CAPTURE_BYTES`] per payload, and a few fixed buffers). After an
/// error every later call returns the same error.
///
/// ```
/// use tollgate_engine::extract::{Accumulator, Provider};
/// let stream = b"event: message_start\n\
/// data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":43,\"output_tokens\":1}}}\n\n\
/// event: content_block_delta\n\
/// data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n\
/// event: message_delta\n\
/// data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":282}}\n\n";
/// let mut acc = Accumulator::new(Provider::Anthropic, None).unwrap();
/// for chunk in stream.chunks(7) {
///     acc.feed(chunk).unwrap();
/// }
/// let items = acc.finish().unwrap();
/// // message_delta replaces output_tokens (1 -> 282); input_tokens stays 43.
/// assert_eq!((items[0].usage.tokens_in, items[0].usage.tokens_out), (43, 282));
/// ```
pub struct Accumulator {
    provider: Provider,
    request_model: Option<String>,
    limits: Limits,
    /// Bytes fed so far (the offset of the next chunk).
    offset: u64,
    format: Format,
    utf8: Utf8Stream,
    scanner: JsonScanner,
    reader: Reader,
    payloads: u64,
    failed: Option<ExtractError>,
    /// Scanner of base64 InvokeModel chunks handed over as JSON (`{"chunk":{"bytes":…}}`).
    inner: Option<Box<JsonScanner>>,
}

impl fmt::Debug for Accumulator {
    /// Shows the reader's position only, never input bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = match &self.format {
            Format::Detecting { .. } => "detecting",
            Format::Json => "json",
            Format::Sse(_) => "sse",
            Format::EventStream(_) => "aws-eventstream",
        };
        f.debug_struct("Accumulator")
            .field("provider", &self.provider)
            .field("request_model", &self.request_model)
            .field("format", &format)
            .field("bytes_fed", &self.offset)
            .field("payloads", &self.payloads)
            .field("failed", &self.failed.as_ref().map(ExtractError::kind))
            .finish()
    }
}

impl Accumulator {
    /// A reader for `provider`'s responses with the default [`Limits`]. `request_model` is
    /// the caller's model (required for Bedrock; a fallback for the others).
    pub fn new(
        provider: Provider,
        request_model: Option<&str>,
    ) -> Result<Accumulator, ExtractError> {
        Accumulator::with_limits(provider, request_model, Limits::default())
    }

    /// A reader with explicit limits.
    pub fn with_limits(
        provider: Provider,
        request_model: Option<&str>,
        limits: Limits,
    ) -> Result<Accumulator, ExtractError> {
        let request_model = match request_model {
            None => None,
            Some(m)
                if m.is_empty() || m.len() > MAX_NAME_BYTES || m.chars().any(char::is_control) =>
            {
                return Err(ExtractError::new(
                    ErrorKind::InvalidArgument,
                    format!(
                        "the model name must be 1-{MAX_NAME_BYTES} bytes without control characters"
                    ),
                ));
            }
            Some(m) => Some(m.to_string()),
        };
        let reader = match provider {
            Provider::OpenAi | Provider::OpenAiCompatible => {
                Reader::OpenAi(openai::State::default())
            }
            Provider::Anthropic => Reader::Anthropic(anthropic::State::default()),
            Provider::Bedrock => Reader::Bedrock(bedrock::State::default()),
            Provider::Gemini => Reader::Gemini(gemini::State::default()),
        };
        Ok(Accumulator {
            provider,
            request_model,
            limits,
            offset: 0,
            format: Format::Detecting {
                buf: Vec::with_capacity(DETECT_BYTES),
                start: 0,
            },
            utf8: Utf8Stream::default(),
            scanner: JsonScanner::new(limits.max_event_bytes),
            reader,
            payloads: 0,
            failed: None,
            inner: None,
        })
    }

    /// Bytes currently held in the accumulator's own buffers. It stays bounded however long
    /// the content is (a few KiB for typical responses, at most about
    /// [`MAX_CAPTURE_BYTES`] + [`MAX_EVENTSTREAM_HEADER_BYTES`] plus the usage values kept);
    /// useful for tests and monitoring.
    pub fn buffered_bytes(&self) -> usize {
        let format = match &self.format {
            Format::Detecting { buf, .. } => buf.capacity(),
            Format::Json | Format::Sse(_) => 0,
            Format::EventStream(es) => es.retained(),
        };
        let reader = match &self.reader {
            Reader::OpenAi(s) => s.retained(),
            Reader::Anthropic(s) => s.retained(),
            Reader::Bedrock(s) => s.retained(),
            Reader::Gemini(s) => s.retained(),
        };
        let inner = self.inner.as_ref().map_or(0, |s| s.retained());
        format + reader + inner + self.scanner.retained()
    }

    /// Feeds the next chunk of the response. Chunks may split lines, events, JSON values and
    /// UTF-8 characters anywhere.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ExtractError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.feed_inner(chunk);
        self.offset += chunk.len() as u64;
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    /// Ends the input and returns the line items (at least one), or why there are none.
    pub fn finish(mut self) -> Result<Vec<LineItem>, ExtractError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let off = self.offset;
        let provider = self.provider;
        let Accumulator {
            format,
            scanner,
            reader,
            payloads,
            utf8,
            inner,
            ..
        } = &mut self;
        let mut sink = |ev: Option<&str>, caps: &Captures<'_>| {
            *payloads += 1;
            reader_payload(reader, inner, provider, ev, caps)
        };
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
                s.finish(off, scanner, &mut sink)?;
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
        let streamed = streamed || self.payloads > 1 || self.scanner.saw_array();
        let model = self.request_model.as_deref();
        match self.reader {
            Reader::OpenAi(s) => s.finish(provider, model),
            Reader::Anthropic(s) => s.finish(provider, model),
            Reader::Bedrock(s) => s.finish(provider, model),
            Reader::Gemini(s) => s.finish(provider, model, streamed),
        }
    }

    fn feed_inner(&mut self, chunk: &[u8]) -> Result<(), ExtractError> {
        let mut off = self.offset;
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
            match detect(buf, self.provider) {
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
                                if self.provider == Provider::Bedrock {
                                    bedrock_events
                                } else {
                                    anthropic_events
                                },
                            )))
                        }
                    };
                    self.process(&held, held_off)?;
                }
            }
        }
        self.process(chunk, off)
    }

    /// Runs bytes (already past format detection) through the framing layer.
    fn process(&mut self, bytes: &[u8], off: u64) -> Result<(), ExtractError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let provider = self.provider;
        let Accumulator {
            format,
            scanner,
            reader,
            payloads,
            utf8,
            inner,
            ..
        } = self;
        let mut sink = |ev: Option<&str>, caps: &Captures<'_>| {
            *payloads += 1;
            reader_payload(reader, inner, provider, ev, caps)
        };
        match format {
            Format::Detecting { .. } => Ok(()),
            Format::Json => {
                check_utf8(utf8, bytes, off)?;
                feed_scanner(scanner, bytes, off, &mut sink)
            }
            Format::Sse(s) => {
                check_utf8(utf8, bytes, off)?;
                s.feed(bytes, off, scanner, &mut sink)
            }
            Format::EventStream(es) => es.feed(bytes, off, scanner, &mut sink),
        }
    }
}

/// The event-stream events Bedrock reads: ConverseStream usage and tool starts, and
/// InvokeModelWithResponseStream chunks (for their invocation metrics).
fn bedrock_events(event_type: &str) -> eventstream::Read {
    match event_type {
        "metadata" | "contentBlockStart" => eventstream::Read::Json,
        "chunk" => eventstream::Read::Chunk,
        _ => eventstream::Read::Skip,
    }
}

/// Anthropic models through InvokeModelWithResponseStream: every chunk is a Messages event.
/// A ConverseStream `metadata` event is read too, to name the provider it belongs to.
fn anthropic_events(event_type: &str) -> eventstream::Read {
    match event_type {
        "chunk" => eventstream::Read::Chunk,
        "metadata" => eventstream::Read::Json,
        _ => eventstream::Read::Skip,
    }
}

fn reader_payload(
    reader: &mut Reader,
    inner: &mut Option<Box<JsonScanner>>,
    provider: Provider,
    event_type: Option<&str>,
    caps: &Captures<'_>,
) -> Result<(), ExtractError> {
    if event_type.is_none()
        && matches!(provider, Provider::Anthropic | Provider::Bedrock)
        && let Some(raw) = caps.value(json::Cap::Bytes)
    {
        return json_chunk(reader, inner, provider, raw);
    }
    read_payload(reader, provider, event_type, caps)
}

/// An InvokeModelWithResponseStream chunk as the SDKs yield it, serialised to JSON
/// (`{"chunk": {"bytes": "<base64>"}}`): its decoded event is read like a raw stream's chunk.
fn json_chunk(
    reader: &mut Reader,
    inner: &mut Option<Box<JsonScanner>>,
    provider: Provider,
    raw: &[u8],
) -> Result<(), ExtractError> {
    use base64::Engine as _;
    let text = fields::string(Some(raw), "chunk.bytes")?.unwrap_or_default();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|_| {
            ExtractError::new(
                ErrorKind::Malformed,
                "an InvokeModel stream chunk has `bytes` that are not valid base64",
            )
        })?;
    if std::str::from_utf8(&bytes).is_err() {
        return Err(ExtractError::new(
            ErrorKind::InvalidUtf8,
            "a decoded InvokeModel stream chunk is not valid UTF-8",
        ));
    }
    // The base64 text was at most MAX_CAPTURE_BYTES, so the event is smaller still.
    let scanner = inner.get_or_insert_with(|| Box::new(JsonScanner::new(MAX_CAPTURE_BYTES)));
    scanner.reset();
    let mut sink =
        |_: Option<&str>, caps: &Captures<'_>| read_payload(reader, provider, Some("chunk"), caps);
    feed_scanner(scanner, &bytes, 0, &mut sink)?;
    scanner.finish().map_err(|_| {
        ExtractError::new(
            ErrorKind::Malformed,
            "a decoded InvokeModel stream chunk is not a complete JSON object",
        )
    })
}

fn read_payload(
    reader: &mut Reader,
    provider: Provider,
    event_type: Option<&str>,
    caps: &Captures<'_>,
) -> Result<(), ExtractError> {
    match reader {
        Reader::OpenAi(s) => s.payload(provider, caps),
        Reader::Anthropic(s) => s.payload(provider, caps),
        Reader::Bedrock(s) => s.payload(provider, event_type, caps),
        Reader::Gemini(s) => s.payload(provider, caps),
    }
}

fn check_utf8(v: &mut Utf8Stream, bytes: &[u8], off: u64) -> Result<(), ExtractError> {
    v.feed(bytes).map_err(|e| {
        ExtractError::at(
            ErrorKind::InvalidUtf8,
            "the input is not valid UTF-8",
            off + e.0 as u64,
        )
    })
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

fn detect(buf: &[u8], provider: Provider) -> Detected {
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
            } else if !matches!(provider, Provider::Bedrock | Provider::Anthropic) {
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

/// The response's model, else the caller's.
pub(crate) fn pick_model(
    found: Option<String>,
    request: Option<&str>,
) -> Result<String, ExtractError> {
    found
        .or_else(|| request.map(str::to_string))
        .ok_or_else(|| {
            ExtractError::new(
                ErrorKind::MissingModel,
                "the response names no model: pass the request's model (--model)",
            )
        })
}

/// Sets the served tier of a line item (with a warning for names the engine does not know).
pub(crate) fn apply_tier(item: &mut LineItem, name: &str) {
    let (tier, warning) = shape::served_tier(name);
    item.served_tier = Some(tier);
    item.usage.service_tier = tier;
    if let Some(w) = warning {
        item.warnings.push(w);
    }
}

/// The response id of the `n`-th (1-based, n ≥ 2) line item of one response.
pub(crate) fn nth_id(id: &str, n: usize) -> Result<String, ExtractError> {
    let s = format!("{id}#{n}");
    if s.len() > MAX_ID_BYTES {
        return Err(ExtractError::new(
            ErrorKind::InvalidUsage,
            format!(
                "the response id is too long to derive a per-line-item id (limit {MAX_ID_BYTES} bytes)"
            ),
        ));
    }
    Ok(s)
}
