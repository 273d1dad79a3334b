//! The `tollgateai` SDK's HTTP API (`/api/*`, camelCase), as its Python client 1.1.0 calls
//! it: `POST /api/track` (usage events and resolutions), `POST /api/sdk/customer`,
//! `POST /api/guard`. Writes need an `ingest` (or `admin`) key — the SDK uses one key for
//! everything; the guard, which changes nothing, also takes a `read` key. Every route touches
//! only its key's workspace.

mod customer;
pub mod dialect;
mod guard;
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
    Router::new()
        .route("/api/track", post(track::track))
        .route("/api/sdk/customer", post(customer::customer))
        .route("/api/guard", post(guard::guard))
}

/// A body that does not map: 400 `invalid_json` when the body itself is not the expected JSON
/// object, `invalid_field` naming the field otherwise.
pub fn dialect_error(e: dialect::DialectError) -> ApiError {
    let code = if e.field.is_empty() {
        "invalid_json"
    } else {
        "invalid_field"
    };
    ApiError::bad_request(code, e.to_string())
}

/// The customer and plan name of a mapped `customer` record line, for the SDK's
/// `upsert_customer` answer. A line that does not parse (it always does: the dialect wrote it)
/// gives nulls.
pub(crate) fn customer_ids(line: &[u8]) -> CustomerIds {
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Plan {
        name: Option<String>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(rename_all = "camelCase")]
    struct Line {
        customer_id: Option<String>,
        plan: Option<Plan>,
    }
    let l: Line = serde_json::from_slice(line).unwrap_or_default();
    CustomerIds {
        customer_id: l.customer_id,
        plan_name: l.plan.and_then(|p| p.name),
    }
}

/// See [`customer_ids`].
pub(crate) struct CustomerIds {
    pub(crate) customer_id: Option<String>,
    pub(crate) plan_name: Option<String>,
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
            RejectKind::Poisoned => ApiError::internal(rej.to_string()),
        }),
    }
}
