//! Our own HTTP API, `/v1` (docs/reference/server-api.md): batch ingest in our record format,
//! margin listings with filters and paging, the report query, the rate card and the guardrail
//! policies. JSON in our own camelCase (the event format's and `tollgate report`'s), amounts as
//! exact decimal strings of cents.
//!
//! Scopes: `POST /v1/events` needs `ingest`; the reads need `read`; rate-card overrides and
//! policy writes need `admin` (which allows everything). Every route touches only the key's
//! workspace. Reads run on the blocking pool (a report over a large ledger is CPU work); writes
//! go through the workspace's committer ([`crate::workspace::Workspace::ingest_many`]) or, for
//! overrides, the store on the blocking pool.

pub mod events;
pub mod margins;
pub mod params;
pub mod policies;
pub mod ratecard;
pub mod report;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::keys::Scope;
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde_json::Value;
use std::sync::Arc;
use tollgate_engine::store::Store;

/// The `/v1` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/events", post(ingest_events))
        .route("/v1/customers", get(customers))
        .route("/v1/runs", get(runs))
        .route("/v1/agents", get(agents))
        .route("/v1/models", get(models))
        .route("/v1/days", get(days))
        .route("/v1/report", get(report_handler))
        .route("/v1/ratecard", get(ratecard_status))
        .route("/v1/ratecard/history", get(ratecard_history))
        .route("/v1/ratecard/diff", get(ratecard_diff))
        .route(
            "/v1/ratecard/overrides",
            get(list_overrides).post(set_override),
        )
        .route("/v1/ratecard/overrides/{model}", delete(remove_override))
        .route("/v1/policies", get(list_policies))
        .route(
            "/v1/policies/{policyId}",
            put(put_policy).delete(retire_policy),
        )
}

/// Runs a read of the key's workspace store on the blocking pool.
async fn read<T: Send + 'static>(
    st: &AppState,
    auth: &Auth,
    f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    auth.require(Scope::Read)?;
    let ws = st.workspace(auth).await?;
    let store: Arc<Store> = ws.store().clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::internal(format!("the query failed: {e}")))?
}

fn json(v: Value) -> Response {
    axum::Json(v).into_response()
}

async fn listing(
    st: AppState,
    auth: Auth,
    q: Option<String>,
    l: margins::Listing,
) -> Result<Response, ApiError> {
    read(&st, &auth, move |s| {
        margins::page(s.ledger(), l, q.as_deref())
    })
    .await
    .map(json)
}

async fn customers(
    State(st): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    listing(st, auth, q, margins::CUSTOMERS).await
}

async fn runs(
    State(st): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    listing(st, auth, q, margins::RUNS).await
}

async fn agents(
    State(st): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    listing(st, auth, q, margins::AGENTS).await
}

async fn models(
    State(st): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    listing(st, auth, q, margins::MODELS).await
}

async fn days(
    State(st): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    listing(st, auth, q, margins::DAYS).await
}

async fn report_handler(
    State(st): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    read(&st, &auth, move |s| {
        report::report(s.ledger(), q.as_deref())
    })
    .await
}

async fn ingest_events(
    State(st): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    auth.require(Scope::Ingest)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("invalid").to_string());
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bytes = crate::limits::read_body(body, length, events::MAX_BATCH_BYTES).await?;
    let batch = events::split(&bytes, content_type.as_deref())?;
    // Records an ingest key may not send are answered here and never journaled.
    let screened: Vec<Option<tollgate_engine::ledger::IngestResult>> =
        batch.records.iter().map(|r| events::screen(r)).collect();
    let lines: Vec<Vec<u8>> = batch
        .records
        .iter()
        .zip(&screened)
        .filter(|(_, s)| s.is_none())
        .map(|(r, _)| r.to_vec())
        .collect();
    let refused: Vec<_> = screened.iter().flatten().cloned().collect();
    st.metrics().count_results(&refused);
    let ws = st.workspace(&auth).await?;
    let mut applied = if lines.is_empty() {
        Vec::new()
    } else {
        ws.ingest_many(lines).await?
    }
    .into_iter();
    let results: Vec<_> = screened
        .into_iter()
        .map(|s| {
            s.or_else(|| applied.next())
                .unwrap_or(tollgate_engine::ledger::IngestResult::Duplicate)
        })
        .collect();
    Ok(json(events::respond(&batch, &results)))
}

async fn ratecard_status(State(st): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    auth.require(Scope::Read)?;
    let ws = st.workspace(&auth).await?;
    let sync = ratecard::SyncView {
        source: st.config().ratecard_sync.as_ref().map(|s| s.source.clone()),
        last: ws.ratecard_last_pull(),
    };
    read(&st, &auth, move |s| Ok(ratecard::status(s, &sync)))
        .await
        .map(json)
}

async fn ratecard_history(State(st): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    read(&st, &auth, |s| Ok(ratecard::history(s)))
        .await
        .map(json)
}

async fn ratecard_diff(
    State(st): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    read(&st, &auth, move |s| ratecard::diff(s, q.as_deref()))
        .await
        .map(json)
}

async fn list_overrides(State(st): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    read(&st, &auth, |s| Ok(ratecard::overrides(s)))
        .await
        .map(json)
}

/// Runs an admin write on the key's workspace store on the blocking pool (it fsyncs).
async fn admin_write<T: Send + 'static>(
    st: &AppState,
    auth: &Auth,
    f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    auth.require(Scope::Admin)?;
    let ws = st.workspace(auth).await?;
    let store: Arc<Store> = ws.store().clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::internal(format!("the write failed: {e}")))?
}

/// Largest body of the admin writes (an override entry, a policy): the ledger's record limit.
const MAX_ADMIN_BODY_BYTES: usize = tollgate_engine::ledger::record::MAX_RECORD_BYTES;

async fn admin_body(headers: &HeaderMap, body: Body) -> Result<axum::body::Bytes, ApiError> {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    crate::limits::read_body(body, length, MAX_ADMIN_BODY_BYTES).await
}

async fn set_override(
    State(st): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    auth.require(Scope::Admin)?;
    let bytes = admin_body(&headers, body).await?;
    let o = ratecard::parse_override(&bytes)?;
    admin_write(&st, &auth, move |s| {
        s.set_override(&o.model, o.entry.as_bytes())
            .map_err(ratecard::store_error)?;
        Ok(ratecard::overrides(s))
    })
    .await
    .map(json)
}

async fn remove_override(
    State(st): State<AppState>,
    auth: Auth,
    Path(model): Path<String>,
) -> Result<Response, ApiError> {
    admin_write(&st, &auth, move |s| {
        if !s.remove_override(&model).map_err(ratecard::store_error)? {
            return Err(ApiError::not_found(format!(
                "no override for model \"{}\"",
                params::clip(&model)
            )));
        }
        Ok(ratecard::overrides(s))
    })
    .await
    .map(json)
}

async fn list_policies(State(st): State<AppState>, auth: Auth) -> Result<Response, ApiError> {
    read(&st, &auth, |s| Ok(policies::list(s.ledger())))
        .await
        .map(json)
}

/// Journals one policy record through the workspace's committer and answers with the version
/// now in force.
async fn write_policy(st: &AppState, auth: &Auth, record: Vec<u8>) -> Result<Response, ApiError> {
    let ws = st.workspace(auth).await?;
    let result = ws.ingest(record.clone()).await?;
    let store = ws.store().clone();
    tokio::task::spawn_blocking(move || policies::write_response(store.ledger(), &record, result))
        .await
        .map_err(|e| ApiError::internal(format!("the write failed: {e}")))?
        .map(json)
}

async fn put_policy(
    State(st): State<AppState>,
    auth: Auth,
    Path(policy_id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    auth.require(Scope::Admin)?;
    let bytes = admin_body(&headers, body).await?;
    let now = tollgate_engine::ledger::Clock::System.now_ms();
    let record = policies::put_record(&policy_id, &bytes, now)?;
    write_policy(&st, &auth, record).await
}

async fn retire_policy(
    State(st): State<AppState>,
    auth: Auth,
    Path(policy_id): Path<String>,
) -> Result<Response, ApiError> {
    auth.require(Scope::Admin)?;
    let ws = st.workspace(&auth).await?;
    let record = policies::delete_record(ws.store().ledger(), &policy_id)?;
    write_policy(&st, &auth, record).await
}
