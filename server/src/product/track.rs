//! `POST /api/track`: one usage event or resolution.

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

pub(super) async fn track(
    State(st): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    auth.require(Scope::Ingest)?;
    let bytes = read_body(
        body,
        content_length(&headers),
        st.config().limits.max_body_bytes,
    )
    .await?;
    let (line, event_id) = dialect::track_to_keyed_record(&bytes).map_err(dialect_error)?;
    let ws = st.workspace(&auth).await?;
    let r = ws.ingest(line).await?;
    let mut answer = ingest_response(r)?;
    // The SDK's `track` answers `{"status", "eventId"}`: the key the event is booked (and
    // deduplicated) under; null for an event sent without one.
    answer["eventId"] = event_id.map_or(Value::Null, Value::String);
    Ok(Json(answer))
}

/// The `Content-Length` header, if it is a number.
pub(crate) fn content_length(h: &HeaderMap) -> Option<u64> {
    h.get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}
