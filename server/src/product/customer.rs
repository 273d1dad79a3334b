//! `POST /api/sdk/customer`: create or change a customer (the SDK's `upsert_customer`).

use super::{dialect, dialect_error, ingest_response};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::keys::Scope;
use crate::limits::read_body;
use crate::state::AppState;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::Value;

pub(super) async fn customer(
    State(st): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    auth.require(Scope::Ingest)?;
    let limit = st.config().limits.max_body_bytes;
    let bytes = read_body(body, super::track::content_length(&headers), limit).await?;
    let ws = st.workspace(&auth).await?;
    let line = dialect::customer_to_record(&bytes, ws.store().ledger()).map_err(dialect_error)?;
    let ids = super::customer_ids(&line);
    let r = ws.ingest(line).await?;
    let mut answer = ingest_response(r)?;
    // The SDK's `upsert_customer` answers `{"status", "customerId", "id", "planId"}`. The
    // ledger keys a customer by its own id, so `id` is `customerId`; `planId` is the name of
    // the plan in force after this change (the SDK's plan ids are our plan names), null when
    // the customer has no named plan.
    let customer = ids.customer_id.map_or(Value::Null, Value::String);
    answer["customerId"] = customer.clone();
    answer["id"] = customer;
    answer["planId"] = ids.plan_name.map_or(Value::Null, Value::String);
    Ok(Json(answer))
}
