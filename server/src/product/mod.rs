//! The `tollgateai` SDK's HTTP API (`/api/*`, camelCase), as its Python client 1.1.0 calls
//! it: `POST /api/track`. Every route needs an `ingest` (or `admin`) key — the SDK uses one
//! key for everything — and touches only that key's workspace.

pub mod dialect;
mod track;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use tollgate_engine::ledger::{IngestResult, RejectKind};

/// The product routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/api/track", post(track::track))
}

/// The answer to one ingested record: 200 with what was booked, or the error (409 for a
/// conflicting repeat of an idempotency key, 400/422 for a rejection).
pub fn ingest_response(r: IngestResult) -> Result<Value, ApiError> {
    match r {
        IngestResult::Accepted(a) => Ok(json!({
            "ok": true,
            "status": "accepted",
            "costCents": a.cost_cents.to_string(),
            "revenueCents": a.revenue_cents.to_string(),
            "priced": a.priced,
            "warnings": a.warnings,
        })),
        IngestResult::Duplicate => Ok(json!({"ok": true, "status": "duplicate"})),
        IngestResult::Conflict { reason } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!(
                "this idempotency key was used before with different content; the first stands: {reason}"
            ),
        )),
        IngestResult::Rejected(rej) => Err(match rej.kind {
            RejectKind::Invalid => ApiError::bad_request("invalid_field", rej.to_string()),
            RejectKind::TooLate => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "too_late",
                rej.to_string(),
            ),
            RejectKind::Overflow => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "overflow",
                rej.to_string(),
            ),
        }),
    }
}
