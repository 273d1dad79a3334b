//! `POST /api/guard`: may this customer make another model call (the SDK's `allow`)? Answers
//! the ledger's guardrail decision in the SDK's shape; changes nothing.

use super::{dialect, dialect_error};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::keys::Scope;
use crate::limits::read_body;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tollgate_engine::ledger::guard::{AllowRequest, Estimate};

pub(super) async fn guard(
    State(st): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    auth.require_any(&[Scope::Ingest, Scope::Read])?;
    let limit = st.config().limits.max_body_bytes;
    let bytes = read_body(body, super::track::content_length(&headers), limit).await?;
    let q = dialect::guard_query(&bytes).map_err(dialect_error)?;
    let ws = st.workspace(&auth).await?;
    let req = AllowRequest {
        customer_id: &q.customer_id,
        agent_id: q.agent_id.as_deref(),
        model: q.model.as_deref(),
        run_id: q.run_id.as_deref(),
        estimate: q.estimated_cost_cents.map(Estimate::Cents),
        at_ms: None,
    };
    let store = ws.store();
    let decision = store
        .ledger()
        .allow(store.engine(), &req)
        .map_err(|r| ApiError::bad_request("invalid_field", r.to_string()))?;
    let mut resp = decision.to_json().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}
