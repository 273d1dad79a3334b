//! Typed reading of captured JSON values, with error messages that never echo input text.

pub(crate) use super::flat::Raw;
use crate::event::{MAX_ID_BYTES, MAX_NAME_BYTES};
use crate::extract::error::{ErrorKind, ExtractError};
use crate::money::{AmountError, Cents};
use crate::usage::MAX_COUNT;
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt::{self, Display};

/// A field path written `prefix.key` when (and only when) a message needs it: readers pass
/// paths to every typed read, and formatting each one eagerly cost more than the reads.
#[derive(Clone, Copy)]
pub(crate) struct Join<P, K>(pub P, pub K);

impl<P: Display, K: Display> Display for Join<P, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

fn invalid(message: String) -> ExtractError {
    ExtractError::new(ErrorKind::InvalidUsage, message)
}

/// Raw JSON text of a field, `None` when absent or `null`.
pub(crate) fn present(v: Option<Raw<'_>>) -> Option<&str> {
    v.map(Raw::get).filter(|t| *t != "null")
}

/// A number literal short enough to be echoed in a message (never a string).
fn shown(text: &str) -> &str {
    if text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
    {
        text
    } else {
        "a non-number"
    }
}

/// A token count: a JSON integer in `0..=2^53`. `None` when absent or `null`.
pub(crate) fn count(v: Option<Raw<'_>>, path: impl Display) -> Result<Option<u64>, ExtractError> {
    let Some(text) = present(v) else {
        return Ok(None);
    };
    count_text(text, path).map(Some)
}

/// A count that is 0 when absent.
pub(crate) fn count0(v: Option<Raw<'_>>, path: impl Display) -> Result<u64, ExtractError> {
    count(v, path).map(Option::unwrap_or_default)
}

pub(crate) fn count_text(text: &str, path: impl Display) -> Result<u64, ExtractError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<u64>() {
            Ok(v) if v <= MAX_COUNT => Ok(v),
            _ => Err(invalid(format!(
                "{path} = {} exceeds the maximum count 2^53",
                shown(text)
            ))),
        };
    }
    let why = if text.starts_with('-') {
        format!("{path} must not be negative (got {})", shown(text))
    } else if text.starts_with('"') {
        format!("{path} must be a JSON integer, not a string")
    } else if shown(text) == text {
        // Integral values written as `12.0` or `1e3` are still not integers in the wire format.
        format!("{path} must be a whole number (got {text})")
    } else {
        format!("{path} must be a non-negative integer")
    };
    Err(invalid(why))
}

/// A JSON string value (escapes decoded). `None` when absent or `null`.
pub(crate) fn string(
    raw: Option<&[u8]>,
    path: impl Display,
) -> Result<Option<String>, ExtractError> {
    Ok(string_cow(raw, path)?.map(Cow::into_owned))
}

/// [`string`], borrowing the text when it has no escapes.
pub(crate) fn string_cow(
    raw: Option<&[u8]>,
    path: impl Display,
) -> Result<Option<Cow<'_, str>>, ExtractError> {
    let Some(raw) = raw.filter(|r| *r != b"null") else {
        return Ok(None);
    };
    if raw.first() != Some(&b'"') {
        return Err(invalid(format!("{path} must be a string")));
    }
    // Most strings (ids, model names, tiers) have no escape: their text is the bytes between
    // the quotes, as the JSON reader would decode them.
    if raw.len() >= 2
        && raw[raw.len() - 1] == b'"'
        && let inner = &raw[1..raw.len() - 1]
        && !inner.iter().any(|&b| b == b'"' || b == b'\\' || b < 0x20)
        && let Ok(text) = std::str::from_utf8(inner)
    {
        return Ok(Some(Cow::Borrowed(text)));
    }
    serde_json::from_slice::<String>(raw)
        .map(|s| Some(Cow::Owned(s)))
        .map_err(|_| invalid(format!("{path} is not a valid JSON string")))
}

/// A string from a raw field.
pub(crate) fn string_field(
    v: Option<Raw<'_>>,
    path: impl Display,
) -> Result<Option<String>, ExtractError> {
    string(v.map(|r| r.get().as_bytes()), path)
}

/// A model name: 1–512 bytes, no control characters (the event rules). Empty means absent
/// (Azure's first stream chunk carries `"model": ""`).
pub(crate) fn model_name(
    s: Option<String>,
    path: impl Display,
) -> Result<Option<String>, ExtractError> {
    checked(s, path, MAX_NAME_BYTES)
}

/// A response id: 1–256 bytes, no control characters. Empty means absent.
pub(crate) fn response_id(
    s: Option<String>,
    path: impl Display,
) -> Result<Option<String>, ExtractError> {
    checked(s, path, MAX_ID_BYTES)
}

fn checked(
    s: Option<String>,
    path: impl Display,
    max: usize,
) -> Result<Option<String>, ExtractError> {
    match s {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) if s.len() > max => Err(invalid(format!(
            "{path} is {} bytes long; the limit is {max}",
            s.len()
        ))),
        Some(s) if s.chars().any(char::is_control) => {
            Err(invalid(format!("{path} contains control characters")))
        }
        Some(s) => Ok(Some(s)),
    }
}

/// A JSON object parsed into `T` (all of whose fields are raw values). `None` when absent or
/// `null`.
pub(crate) fn object<'a, T: Deserialize<'a>>(
    text: Option<&'a str>,
    path: impl Display,
) -> Result<Option<T>, ExtractError> {
    let Some(text) = text.filter(|t| *t != "null") else {
        return Ok(None);
    };
    if !text.starts_with('{') {
        return Err(invalid(format!("{path} must be a JSON object")));
    }
    super::flat::object(text).map(Some).map_err(|e| {
        let msg = e.to_string();
        // serde names our own field in a duplicate-field error; anything else is generic.
        if msg.starts_with("duplicate field `") {
            let field = msg.split('`').nth(1).unwrap_or("");
            invalid(format!("{path}.{field} appears twice"))
        } else {
            invalid(format!("{path} has an unexpected shape"))
        }
    })
}

/// A JSON array of raw elements. `None` when absent or `null`.
pub(crate) fn array(
    v: Option<Raw<'_>>,
    path: impl Display,
) -> Result<Option<Vec<Raw<'_>>>, ExtractError> {
    let Some(text) = present(v) else {
        return Ok(None);
    };
    if !text.starts_with('[') {
        return Err(invalid(format!("{path} must be a JSON array")));
    }
    super::flat::elements(text)
        .map(Some)
        .map_err(|_| invalid(format!("{path} has an unexpected shape")))
}

/// Captured bytes as text (the scanner validated UTF-8 and JSON already).
pub(crate) fn text(raw: &[u8]) -> Result<&str, ExtractError> {
    std::str::from_utf8(raw)
        .map_err(|_| ExtractError::new(ErrorKind::InvalidUtf8, "captured value is not UTF-8"))
}

/// A cost in **US dollars** given as a JSON number (OpenRouter `usage.cost`), converted to
/// cents exactly from the literal's text. `None` when absent or `null`.
pub(crate) fn usd_cost(
    v: Option<Raw<'_>>,
    path: impl Display,
) -> Result<Option<Cents>, ExtractError> {
    let Some(text) = present(v) else {
        return Ok(None);
    };
    let literal = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text);
    Cents::from_usd_literal(literal).map(Some).map_err(|e| {
        invalid(match e {
            AmountError::NotANumber => format!("{path} must be a decimal number of US dollars"),
            other => format!("{path} {other} (got {})", shown(literal)),
        })
    })
}

/// Sum of counts, checked against 2^53.
pub(crate) fn sum(parts: &[u64], path: impl Display) -> Result<u64, ExtractError> {
    let mut total: u64 = 0;
    for p in parts {
        total = total.saturating_add(*p);
    }
    if total > MAX_COUNT {
        return Err(invalid(format!(
            "{path}: the sum exceeds the maximum count 2^53"
        )));
    }
    Ok(total)
}

/// `whole − parts`. Real providers sometimes count the same tokens in two buckets (the parts
/// then exceed their whole); the usage is still kept: the result is 0 — never a negative
/// count, never an error — and a warning naming both sides goes to `warnings`.
pub(crate) fn fresh(
    whole: u64,
    whole_name: impl Display,
    parts: u64,
    parts_name: impl Display,
    warnings: &mut Vec<String>,
) -> u64 {
    match whole.checked_sub(parts) {
        Some(v) => v,
        None => {
            warnings.push(format!(
                "inconsistent usage: {whole_name} ({whole}) is smaller than {parts_name} ({parts}); every count is kept as reported and the difference is taken as 0"
            ));
            0
        }
    }
}

#[cfg(test)]
mod string_tests {
    use super::string;

    #[test]
    fn plain_and_escaped_strings_decode_as_the_json_reader_does() {
        for raw in [
            &br#""gpt-4o""#[..],
            br#""""#,
            "\"caf\u{e9}\"".as_bytes(),
            br#""a\"b""#,
            br#""tab\there""#,
            br#""\u0041BC""#,
        ] {
            let want: String = serde_json::from_slice(raw).unwrap();
            assert_eq!(string(Some(raw), "p").unwrap(), Some(want));
        }
        assert_eq!(string(Some(b"null"), "p").unwrap(), None);
        assert!(string(Some(b"12"), "p").is_err());
        // Not a whole JSON string: the JSON reader decides (an error).
        assert!(string(Some(br#""a"b""#), "p").is_err());
        assert!(string(Some(b"\"a\nb\""), "p").is_err());
    }
}
