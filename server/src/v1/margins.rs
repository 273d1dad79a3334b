//! Margin listings: `/v1/customers`, `/v1/runs`, `/v1/agents`, `/v1/models`, `/v1/days`.
//!
//! Each is a report query grouped by one dimension (a run by customer and run), with the
//! filters of `/v1/report`, in a stable order — the ids in natural order (`cust-2` before
//! `cust-10`; days by date; rows without the id, e.g. events without an agent, last) — and
//! paged by keyset: the cursor names the last row's ids, and the next page starts after them.
//! A row added between two pages therefore shows up on a later page if it sorts after the
//! cursor and never shifts or repeats the rows already returned.

use super::params::{self, bad_request};
use crate::error::ApiError;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::cmp::Ordering;
use tollgate_engine::ledger::{Dimension, Ledger, QueryError, natural_cmp};

/// Rows per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;
/// Most rows per page.
pub const MAX_LIMIT: usize = 1000;

/// One listing: its name (in the path and the cursor) and what it groups by.
#[derive(Clone, Copy, Debug)]
pub struct Listing {
    /// `customers`, `runs`, `agents`, `models`, `days`.
    pub name: &'static str,
    /// The grouping.
    pub group_by: &'static [Dimension],
}

/// `/v1/customers`: by customer.
pub const CUSTOMERS: Listing = Listing {
    name: "customers",
    group_by: &[Dimension::Customer],
};
/// `/v1/runs`: by run (customer and run id).
pub const RUNS: Listing = Listing {
    name: "runs",
    group_by: &[Dimension::Customer, Dimension::Run],
};
/// `/v1/agents`: by agent.
pub const AGENTS: Listing = Listing {
    name: "agents",
    group_by: &[Dimension::Agent],
};
/// `/v1/models`: by model (as the events named it).
pub const MODELS: Listing = Listing {
    name: "models",
    group_by: &[Dimension::Model],
};
/// `/v1/days`: by UTC day.
pub const DAYS: Listing = Listing {
    name: "days",
    group_by: &[Dimension::Day],
};

type Key = Vec<Option<String>>;

/// Ids in natural order, a missing id last (the ledger's own row order).
fn cmp_key(a: &Key, b: &Key) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (Some(x), Some(y)) => natural_cmp(x, y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn encode_cursor(listing: &str, key: &Key) -> String {
    URL_SAFE_NO_PAD.encode(json!({"v": 1, "l": listing, "k": key}).to_string())
}

fn decode_cursor(listing: &str, text: &str, width: usize) -> Result<Key, ApiError> {
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
            format!("cursor: not a cursor of /v1/{listing} (pass nextCursor back unchanged)"),
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if v.get("v") != Some(&json!(1)) || v.get("l").and_then(Value::as_str) != Some(listing) {
        return Err(bad());
    }
    let key: Key = match v.get("k").and_then(Value::as_array) {
        Some(parts) if parts.len() == width => parts
            .iter()
            .map(|p| match p {
                Value::Null => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                _ => Err(bad()),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(bad()),
    };
    Ok(key)
}

pub(crate) fn query_error(e: QueryError) -> ApiError {
    match e {
        QueryError::Overflow => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "overflow", e.to_string())
        }
        _ => bad_request(e.to_string()),
    }
}

/// One page of `listing` for the query string `raw`:
/// `{"rows": [...], "nextCursor": "..."|null, "totals": {...}, "groups": N, "window": {...}}`.
/// Rows are the flat rows of `/v1/report` (id columns and figure columns, amounts as exact
/// decimal strings of cents); `totals` and `groups` cover every row of the filter, not only
/// this page.
pub fn page(ledger: &Ledger, listing: Listing, raw: Option<&str>) -> Result<Value, ApiError> {
    let pairs = params::pairs(raw)?;
    let mut q = params::report_query(&pairs, false, &["limit", "cursor"])?;
    q.group_by = listing.group_by.to_vec();
    let limit = match params::get(&pairs, "limit") {
        None => DEFAULT_LIMIT,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(bad_request(format!(
                    "limit: expected an integer from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    let report = ledger.query(&q).map_err(query_error)?;
    let cols = report.key_columns();
    let after = match params::get(&pairs, "cursor") {
        Some(c) => Some(decode_cursor(listing.name, c, cols.len())?),
        None => None,
    };
    let mut rows: Vec<(Key, &tollgate_engine::ledger::ReportRow)> = report
        .rows
        .iter()
        .map(|r| (cols.iter().map(|d| r.key.text(*d)).collect(), r))
        .collect();
    rows.sort_by(|a, b| cmp_key(&a.0, &b.0));
    let start = match &after {
        Some(k) => rows.partition_point(|(key, _)| cmp_key(key, k) != Ordering::Greater),
        None => 0,
    };
    let end = (start + limit).min(rows.len());
    let next =
        (end < rows.len() && end > start).then(|| encode_cursor(listing.name, &rows[end - 1].0));
    let full = report.to_json();
    Ok(json!({
        "rows": rows[start..end].iter().map(|(_, r)| report.row_json(r)).collect::<Vec<_>>(),
        "nextCursor": next,
        "totals": report.totals_json(),
        "groups": report.groups,
        "window": full["window"],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip_and_refusal() {
        let k: Key = vec![Some("acme".into()), None];
        let c = encode_cursor("runs", &k);
        assert_eq!(decode_cursor("runs", &c, 2).unwrap(), k);
        assert!(decode_cursor("customers", &c, 2).is_err());
        assert!(decode_cursor("runs", &c, 1).is_err());
        assert!(decode_cursor("runs", "not base64!", 2).is_err());
    }

    #[test]
    fn missing_ids_sort_last() {
        let mut keys: Vec<Key> = vec![
            vec![None],
            vec![Some("a10".into())],
            vec![Some("a9".into())],
        ];
        keys.sort_by(cmp_key);
        assert_eq!(
            keys,
            vec![
                vec![Some("a9".into())],
                vec![Some("a10".into())],
                vec![None]
            ]
        );
    }
}
