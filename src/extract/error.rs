//! Extraction errors: a stable kind (for programs and the C ABI) plus a message for humans.
//!
//! Messages never contain input text: they name the field, the limit or the byte offset, and
//! echo at most a number or a short identifier-like token the provider generated.

use std::fmt;

/// What went wrong, as a stable category. The numeric [`ErrorKind::code`] and the name
/// [`ErrorKind::as_str`] never change meaning once released.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The input is neither JSON, SSE, JSON Lines nor an AWS event stream.
    UnknownFormat,
    /// Malformed JSON (or a malformed SSE / event-stream structure).
    Malformed,
    /// Text input (or a JSON payload) is not valid UTF-8.
    InvalidUtf8,
    /// The input ends in the middle of a JSON value, an SSE event or an event-stream message,
    /// or a stream ended before its final usage.
    Truncated,
    /// A line, event, nesting depth or captured object exceeds its limit.
    TooLarge,
    /// An AWS event-stream frame failed its CRC or length checks.
    CorruptFrame,
    /// The input is a response of a different provider than the one named.
    WrongProvider,
    /// The response (or stream) reports no usage at all. Never silently zero.
    NoUsage,
    /// A usage field has a wrong type, is negative, fractional, above 2^53, or the parts
    /// contradict each other (e.g. more cached tokens than prompt tokens).
    InvalidUsage,
    /// No model: the response names none and the caller gave none (Bedrock always needs one).
    MissingModel,
    /// The provider reported an error inside the response or stream.
    ProviderError,
    /// The caller passed a bad argument (e.g. an over-long model name).
    InvalidArgument,
}

impl ErrorKind {
    /// Stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::UnknownFormat => "unknown_format",
            ErrorKind::Malformed => "malformed",
            ErrorKind::InvalidUtf8 => "invalid_utf8",
            ErrorKind::Truncated => "truncated",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::CorruptFrame => "corrupt_frame",
            ErrorKind::WrongProvider => "wrong_provider",
            ErrorKind::NoUsage => "no_usage",
            ErrorKind::InvalidUsage => "invalid_usage",
            ErrorKind::MissingModel => "missing_model",
            ErrorKind::ProviderError => "provider_error",
            ErrorKind::InvalidArgument => "invalid_argument",
        }
    }

    /// Stable numeric code (1-based), for the C ABI.
    pub const fn code(self) -> i32 {
        match self {
            ErrorKind::UnknownFormat => 1,
            ErrorKind::Malformed => 2,
            ErrorKind::InvalidUtf8 => 3,
            ErrorKind::Truncated => 4,
            ErrorKind::TooLarge => 5,
            ErrorKind::CorruptFrame => 6,
            ErrorKind::WrongProvider => 7,
            ErrorKind::NoUsage => 8,
            ErrorKind::InvalidUsage => 9,
            ErrorKind::MissingModel => 10,
            ErrorKind::ProviderError => 11,
            ErrorKind::InvalidArgument => 12,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why extraction failed. Carries no input text (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractError {
    kind: ErrorKind,
    message: String,
    offset: Option<u64>,
}

impl ExtractError {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> ExtractError {
        ExtractError {
            kind,
            message: message.into(),
            offset: None,
        }
    }

    pub(crate) fn at(kind: ErrorKind, message: impl Into<String>, offset: u64) -> ExtractError {
        ExtractError {
            kind,
            message: message.into(),
            offset: Some(offset),
        }
    }

    /// Sets the byte offset, replacing any.
    pub(crate) fn at_offset(mut self, offset: u64) -> ExtractError {
        self.offset = Some(offset);
        self
    }

    /// Sets the byte offset when none is known yet.
    pub(crate) fn with_offset(mut self, offset: u64) -> ExtractError {
        if self.offset.is_none() {
            self.offset = Some(offset);
        }
        self
    }

    /// The stable category.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The human-readable message (without the offset).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Byte offset in the input where the problem was found, when it is tied to a position.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }
}

impl fmt::Display for ExtractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(o) => write!(f, "{} (at byte {o})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ExtractError {}

/// `text` when it looks like a provider-generated token (`overloaded_error`, `on_demand`,
/// `ThrottlingException`): short, ASCII letters, digits, `_`, `-`, `.`. Anything else could be
/// content and is never echoed.
pub(crate) fn token_or_hidden(text: &str) -> &str {
    if !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        text
    } else {
        "<not shown>"
    }
}
