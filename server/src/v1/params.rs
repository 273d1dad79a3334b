//! Query-string parameters of the `/v1` read endpoints, turned into the ledger's own
//! [`ReportQuery`] by its own parser, so the server accepts exactly what `tollgate report` and
//! the bindings accept, with the same error messages.

use crate::error::ApiError;
use axum::http::StatusCode;
use serde_json::{Map, Value};
use tollgate_engine::ledger::ReportQuery;

/// The filter parameters every margin endpoint and `/v1/report` take (the names of
/// [`ReportQuery::from_json`]).
pub const FILTERS: [&str; 8] = [
    "customerId",
    "runId",
    "agentId",
    "model",
    "provider",
    "outcome",
    "from",
    "to",
];

/// Longest query string read (the ledger's own query limit).
pub const MAX_QUERY_STRING_BYTES: usize = tollgate_engine::ledger::MAX_QUERY_BYTES;

pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

/// The decoded `name=value` pairs of a query string; a name given twice is an error (which of
/// the two was meant is unknown).
pub(crate) fn pairs(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let raw = raw.unwrap_or("");
    if raw.len() > MAX_QUERY_STRING_BYTES {
        return Err(bad_request(format!(
            "the query string is longer than {MAX_QUERY_STRING_BYTES} bytes"
        )));
    }
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        if out.iter().any(|(name, _)| *name == k) {
            return Err(bad_request(format!(
                "parameter \"{k}\" is given more than once"
            )));
        }
        out.push((k.into_owned(), v.into_owned()));
    }
    Ok(out)
}

/// Builds a [`ReportQuery`] from `pairs`: the filters, plus `groupBy` (comma separated),
/// `sort` and `top` when `grouping` is true. Any other name is an error naming it, unless it
/// is one of `extra` (the caller's own parameters, left for it to read).
pub(crate) fn report_query(
    pairs: &[(String, String)],
    grouping: bool,
    extra: &[&str],
) -> Result<ReportQuery, ApiError> {
    let mut obj = Map::new();
    for (k, v) in pairs {
        let name = k.as_str();
        if extra.contains(&name) {
            continue;
        }
        let value = match name {
            _ if FILTERS.contains(&name) => Value::String(v.clone()),
            "groupBy" if grouping => Value::Array(
                v.split(',')
                    .map(str::trim)
                    .filter(|d| !d.is_empty())
                    .map(|d| Value::String(d.to_string()))
                    .collect(),
            ),
            "sort" if grouping => Value::String(v.clone()),
            "top" if grouping => match v.parse::<u64>() {
                Ok(n) if n > 0 => Value::from(n),
                _ => return Err(bad_request("top: expected a positive integer")),
            },
            _ => {
                let mut known: Vec<&str> = FILTERS.to_vec();
                if grouping {
                    known.extend(["groupBy", "sort", "top"]);
                }
                known.extend(extra);
                return Err(bad_request(format!(
                    "unknown parameter \"{}\" (expected {})",
                    clip(name),
                    known.join(", ")
                )));
            }
        };
        obj.insert(k.clone(), value);
    }
    let text = Value::Object(obj).to_string();
    ReportQuery::from_json(text.as_bytes()).map_err(bad_request)
}

/// At most 64 characters of a user-supplied name, for error messages.
pub(crate) fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// The value of parameter `name`, if given.
pub(crate) fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_engine::ledger::Dimension;

    #[test]
    fn filters_and_grouping() {
        let p = pairs(Some(
            "customerId=acme&groupBy=model,day&top=3&from=2026-11-01",
        ))
        .unwrap();
        let q = report_query(&p, true, &[]).unwrap();
        assert_eq!(q.filter.customer_id.as_deref(), Some("acme"));
        assert_eq!(q.group_by, vec![Dimension::Model, Dimension::Day]);
        assert_eq!(q.top, Some(3));
        let e = report_query(&p, false, &[]).unwrap_err();
        assert!(
            e.message.contains("unknown parameter \"groupBy\""),
            "{}",
            e.message
        );
        assert!(pairs(Some("a=1&a=2")).is_err());
        let p = pairs(Some("from=2026-13-01")).unwrap();
        assert!(
            report_query(&p, false, &[])
                .unwrap_err()
                .message
                .starts_with("from:")
        );
        let p = pairs(Some("top=0")).unwrap();
        assert!(report_query(&p, true, &[]).is_err());
    }
}
