//! Provider rules: what each provider's payloads mean (SPEC §5's table).
//!
//! The framing layer ([`super::frame`]) hands over each payload's captured values; the
//! provider's reader ([`openai`], [`anthropic`], [`bedrock`], [`gemini`]) folds them into line
//! items. [`fields`] parses single values (counts, names, costs) and [`shape`] holds what
//! several providers share (usage shapes, provider detection, errors, served tiers).

pub(crate) mod anthropic;
pub(crate) mod bedrock;
pub(crate) mod fields;
pub(crate) mod flat;
pub(crate) mod gemini;
pub(crate) mod openai;
pub(crate) mod shape;

use super::frame::eventstream;
use super::frame::feed_scanner;
use super::frame::json::{Captures, JsonScanner, MAX_CAPTURE_BYTES};
use super::paths;
use crate::event::MAX_ID_BYTES;
use crate::extract::error::{ErrorKind, ExtractError};
use crate::extract::item::{LineItem, Provider};

// The OpenAI and Gemini states keep their latest model / id / tier inline (a few hundred
// bytes): the reader lives once per response inside its `Accumulator`, and boxing the large
// variants would cost an allocation per response, which the inline text is there to avoid.
#[allow(clippy::large_enum_variant)]
enum Reader {
    OpenAi(openai::State),
    Anthropic(anthropic::State),
    Bedrock(bedrock::State),
    Gemini(gemini::State),
}

/// One response's provider reader: payloads in, line items out.
pub(crate) struct Rules {
    provider: Provider,
    reader: Reader,
    /// Scanner of base64 InvokeModel chunks handed over as JSON (`{"chunk":{"bytes":…}}`).
    inner: Option<Box<JsonScanner>>,
}

impl Rules {
    pub(crate) fn new(provider: Provider) -> Rules {
        let reader = match provider {
            Provider::OpenAi | Provider::OpenAiCompatible => {
                Reader::OpenAi(openai::State::default())
            }
            Provider::Anthropic => Reader::Anthropic(anthropic::State::default()),
            Provider::Bedrock => Reader::Bedrock(bedrock::State::default()),
            Provider::Gemini => Reader::Gemini(gemini::State::default()),
        };
        Rules {
            provider,
            reader,
            inner: None,
        }
    }

    /// The AWS event-stream events this provider reads (`None`: it has no event streams).
    pub(crate) fn event_stream_events(provider: Provider) -> Option<fn(&str) -> eventstream::Read> {
        match provider {
            Provider::Bedrock => Some(bedrock_events),
            Provider::Anthropic => Some(anthropic_events),
            _ => None,
        }
    }

    /// Bytes held by the reader's buffers.
    pub(crate) fn retained(&self) -> usize {
        let reader = match &self.reader {
            Reader::OpenAi(s) => s.retained(),
            Reader::Anthropic(s) => s.retained(),
            Reader::Bedrock(s) => s.retained(),
            Reader::Gemini(s) => s.retained(),
        };
        reader + self.inner.as_ref().map_or(0, |s| s.retained())
    }

    /// Reads one payload (`event_type`: its event-stream event type, if any).
    pub(crate) fn payload(
        &mut self,
        event_type: Option<&str>,
        caps: &Captures<'_>,
    ) -> Result<(), ExtractError> {
        reader_payload(
            &mut self.reader,
            &mut self.inner,
            self.provider,
            event_type,
            caps,
        )
    }

    /// The line items of the whole response. `streamed`: the input was a stream of payloads.
    pub(crate) fn finish(
        self,
        request_model: Option<&str>,
        streamed: bool,
    ) -> Result<Vec<LineItem>, ExtractError> {
        let provider = self.provider;
        match self.reader {
            Reader::OpenAi(s) => s.finish(provider, request_model),
            Reader::Anthropic(s) => s.finish(provider, request_model),
            Reader::Bedrock(s) => s.finish(provider, request_model),
            Reader::Gemini(s) => s.finish(provider, request_model, streamed),
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
        && let Some(raw) = caps.value(paths::Cap::Bytes)
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
