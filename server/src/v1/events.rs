//! `POST /v1/events`: a batch of records in our own format (docs/reference/events.md) as JSON
//! Lines or a JSON array, journaled with one group commit, one result per record in order.

use crate::error::ApiError;
use axum::http::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tollgate_engine::ledger::{IngestResult, RejectKind, Rejection};

/// Largest request body of `POST /v1/events` (8 MiB); a larger one is refused whole (413).
pub const MAX_BATCH_BYTES: usize = 8 << 20;
/// Most records in one batch; more is refused whole (413).
pub const MAX_BATCH_RECORDS: usize = 10_000;

/// The records of one request body, in order.
#[derive(Debug)]
pub struct Batch<'a> {
    /// Each record's text.
    pub records: Vec<&'a [u8]>,
    /// JSON Lines: each record's 1-based line number (blank lines are skipped).
    pub lines: Option<Vec<usize>>,
}

fn too_large(msg: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", msg)
}

/// Splits a body into records. A body whose first non-blank byte is `[` is a JSON array of
/// records; anything else is JSON Lines (one record a line, LF or CRLF, blank lines skipped).
/// The content type, when given, must be one of `application/x-ndjson`, `application/jsonl`,
/// `application/json` or `text/plain`.
pub fn split<'a>(body: &'a [u8], content_type: Option<&str>) -> Result<Batch<'a>, ApiError> {
    if let Some(ct) = content_type {
        let mime = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if !matches!(
            mime.as_str(),
            "application/x-ndjson" | "application/jsonl" | "application/json" | "text/plain"
        ) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!(
                    "content type \"{}\": send application/x-ndjson (JSON Lines) or application/json (an array of records)",
                    super::params::clip(&mime)
                ),
            ));
        }
    }
    if body.len() > MAX_BATCH_BYTES {
        return Err(too_large(format!(
            "the body is {} bytes; the limit is {MAX_BATCH_BYTES}",
            body.len()
        )));
    }
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let batch = if first == Some(&b'[') {
        let list: Vec<&RawValue> = serde_json::from_slice(body).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                format!("the body starts with '[' but is not a JSON array: {e}"),
            )
        })?;
        Batch {
            records: list.into_iter().map(|r| r.get().as_bytes()).collect(),
            lines: None,
        }
    } else {
        let mut records = Vec::new();
        let mut lines = Vec::new();
        for (i, line) in body.split(|b| *b == b'\n').enumerate() {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            records.push(line);
            lines.push(i + 1);
        }
        Batch {
            records,
            lines: Some(lines),
        }
    };
    if batch.records.len() > MAX_BATCH_RECORDS {
        return Err(too_large(format!(
            "the batch has {} records; the limit is {MAX_BATCH_RECORDS}",
            batch.records.len()
        )));
    }
    if batch.records.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the batch holds no records",
        ));
    }
    Ok(batch)
}

/// Records an ingest key may not send: policies change guardrails and need the admin scope
/// (`PUT /v1/policies/{policyId}`). `Some(rejection)` for such a record.
pub fn screen(record: &[u8]) -> Option<IngestResult> {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow, default)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    // Cheap test first: only a record that mentions "policy" can be one.
    if !record.windows(6).any(|w| w == b"policy") {
        return None;
    }
    match serde_json::from_slice::<Kind<'_>>(record) {
        Ok(Kind { kind: Some(k) }) if k == "policy" => Some(IngestResult::Rejected(Rejection {
            kind: RejectKind::Invalid,
            field: "type",
            reason: "policy records need the admin scope: PUT /v1/policies/{policyId}".into(),
        })),
        _ => None,
    }
}

/// The response: `{"results": [{"index", "line"?, "status", ...}], "accepted", "duplicates",
/// "conflicts", "rejected", "unpriced"}`; each result is the ledger's own result JSON
/// ([`IngestResult::to_json`]) with the record's position added.
pub fn respond(batch: &Batch<'_>, results: &[IngestResult]) -> Value {
    let mut counts = [0u64; 5];
    let list: Vec<Value> = results
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let slot = match r {
                IngestResult::Accepted(a) => {
                    if !a.priced {
                        counts[4] += 1;
                    }
                    0
                }
                IngestResult::Duplicate => 1,
                IngestResult::Conflict { .. } => 2,
                IngestResult::Rejected(_) => 3,
            };
            counts[slot] += 1;
            let mut v = r.to_json();
            if let Some(o) = v.as_object_mut() {
                o.insert("index".into(), json!(i));
                if let Some(lines) = &batch.lines {
                    o.insert("line".into(), json!(lines[i]));
                }
            }
            v
        })
        .collect();
    json!({
        "results": list,
        "accepted": counts[0],
        "duplicates": counts[1],
        "conflicts": counts[2],
        "rejected": counts[3],
        "unpriced": counts[4],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_arrays() {
        let b = split(b"{\"a\":1}\r\n\n  \n{\"b\":2}", None).unwrap();
        assert_eq!(b.records, vec![&b"{\"a\":1}"[..], &b"{\"b\":2}"[..]]);
        assert_eq!(b.lines, Some(vec![1, 4]));
        let b = split(b" [ {\"a\": \"x\\n\"} , 5 ]", Some("application/json")).unwrap();
        assert_eq!(b.records, vec![&b"{\"a\": \"x\\n\"}"[..], &b"5"[..]]);
        assert!(split(b"[1,", None).is_err());
        assert!(split(b"\n\n", None).is_err());
        assert_eq!(
            split(b"{}", Some("text/csv")).unwrap_err().status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn policies_are_screened() {
        assert!(screen(br#"{"type":"policy","policyId":"p"}"#).is_some());
        assert!(screen(br#"{"type":"llm","customerId":"policy"}"#).is_none());
        assert!(screen(br#"{"customerId":"c"}"#).is_none());
    }
}
