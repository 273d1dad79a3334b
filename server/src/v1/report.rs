//! `GET /v1/report`: the report query of `tollgate report --format json|csv|jsonl`
//! ([`Ledger::query`]), its options as query parameters.

use super::margins::query_error;
use super::params::{self, bad_request};
use crate::error::ApiError;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tollgate_engine::ledger::{Dimension, Ledger};

/// The report for the query string `raw`: filters (`customerId`, `runId`, `agentId`, `model`,
/// `provider`, `outcome`, `from`, `to`), `groupBy` (comma separated; default `customer`; empty
/// for the totals only), `sort`, `top` and `format` (`json`, the default, `csv` or `jsonl`).
pub fn report(ledger: &Ledger, raw: Option<&str>) -> Result<Response, ApiError> {
    let pairs = params::pairs(raw)?;
    let mut q = params::report_query(&pairs, true, &["format"])?;
    if params::get(&pairs, "groupBy").is_none() {
        q.group_by = vec![Dimension::Customer];
    }
    let format = params::get(&pairs, "format").unwrap_or("json");
    if !matches!(format, "json" | "csv" | "jsonl") {
        return Err(bad_request(format!(
            "format: unknown format \"{}\" (expected json, csv or jsonl)",
            params::clip(format)
        )));
    }
    let rep = ledger.query(&q).map_err(query_error)?;
    Ok(match format {
        "csv" => {
            let mut out = Vec::new();
            rep.write_csv(&mut out).map_err(internal)?;
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response()
        }
        "jsonl" => {
            let mut out = Vec::new();
            rep.write_jsonl(&mut out).map_err(internal)?;
            ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response()
        }
        _ => axum::Json(rep.to_json()).into_response(),
    })
}

fn internal(e: std::io::Error) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        format!("rendering the report: {e}"),
    )
}
