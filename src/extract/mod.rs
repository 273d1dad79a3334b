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

//!
//! Layers, each depending only on the ones below it: this module ([`Accumulator`]) feeds
//! bytes to the framing (`frame`: format detection, JSON grammar, SSE, AWS event stream,
//! base64 chunks, UTF-8), which hands each payload's values — those on the usage paths of
//! `paths` — to the provider rules (`rules`: one reader per provider), which make the line
//! items.

mod error;
mod frame;
mod item;
mod paths;
mod rules;

pub use error::{ErrorKind, ExtractError};
pub use frame::eventstream::MAX_EVENTSTREAM_HEADER_BYTES;
pub use frame::json::{MAX_CAPTURE_BYTES, MAX_JSON_DEPTH};
pub use frame::{Limits, MAX_EVENT_BYTES, MAX_LINE_BYTES};
pub use item::{LineItem, Provider};

use crate::event::MAX_NAME_BYTES;
use frame::Framing;
use frame::json::Captures;
use rules::Rules;
use std::fmt;

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
    /// Bytes fed so far (the offset of the next chunk).
    offset: u64,
    framing: Framing,
    rules: Rules,
    payloads: u64,
    failed: Option<ExtractError>,
}

impl fmt::Debug for Accumulator {
    /// Shows the reader's position only, never input bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accumulator")
            .field("provider", &self.provider)
            .field("request_model", &self.request_model)
            .field("format", &self.framing.name())
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
        Ok(Accumulator {
            provider,
            request_model,
            offset: 0,
            framing: Framing::new(provider, Rules::event_stream_events(provider), limits),
            rules: Rules::new(provider),
            payloads: 0,
            failed: None,
        })
    }

    /// Bytes currently held in the accumulator's own buffers. It stays bounded however long
    /// the content is (a few KiB for typical responses, at most about
    /// [`MAX_CAPTURE_BYTES`] + [`MAX_EVENTSTREAM_HEADER_BYTES`] plus the usage values kept);
    /// useful for tests and monitoring.
    pub fn buffered_bytes(&self) -> usize {
        self.framing.retained() + self.rules.retained()
    }

    /// Feeds the next chunk of the response. Chunks may split lines, events, JSON values and
    /// UTF-8 characters anywhere.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), ExtractError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let Accumulator {
            framing,
            rules,
            payloads,
            offset,
            ..
        } = self;
        let mut sink = |ev: Option<&str>, caps: &Captures<'_>| {
            *payloads += 1;
            rules.payload(ev, caps)
        };
        let r = framing.feed(chunk, *offset, &mut sink);
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
        let Accumulator {
            framing,
            rules,
            payloads,
            offset,
            ..
        } = &mut self;
        let mut sink = |ev: Option<&str>, caps: &Captures<'_>| {
            *payloads += 1;
            rules.payload(ev, caps)
        };
        let streamed = framing.finish(*offset, &mut sink)?;
        let streamed = streamed || self.payloads > 1;
        self.rules.finish(self.request_model.as_deref(), streamed)
    }
}
