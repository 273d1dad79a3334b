//! Operations endpoints, without authentication (they carry no secrets and no tenant data):
//! `GET /healthz` (the process answers), `GET /readyz` (ready for traffic), `GET /metrics`
//! (Prometheus, [`crate::metrics`]) and `GET /openapi.json` ([`crate::openapi`]).

use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

/// The ops routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

/// Liveness: the process runs its HTTP stack. Nothing else is checked (a full disk is a
/// readiness problem, not a reason to restart the process).
async fn healthz() -> &'static str {
    "ok\n"
}

/// Readiness: 200 `{"ready": true, ...}` when the server takes traffic, else 503 with the
/// problems: shutting down; the data directory does not take a write (a small file is created,
/// written and removed); an open workspace's store refuses writes (a failed fsync, a failing
/// background write, closed).
async fn readyz(State(st): State<AppState>) -> Response {
    let st2 = st.clone();
    let checked = tokio::task::spawn_blocking(move || {
        let mut problems = Vec::new();
        if st2.shutting_down() {
            problems.push("shutting down".to_string());
        }
        if let Err(e) = probe_dir(&st2.config().data_dir) {
            problems.push(format!("the data directory does not take writes: {e}"));
        }
        let open = st2.workspaces().opened();
        for ws in &open {
            if let Err(e) = ws.store().writable() {
                problems.push(format!("workspace {}: {e}", ws.id()));
            }
        }
        (open.len(), problems)
    })
    .await;
    let (workspaces, problems) = match checked {
        Ok(x) => x,
        Err(e) => (0, vec![format!("the readiness check failed: {e}")]),
    };
    let ready = problems.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        axum::Json(json!({"ready": ready, "workspaces": workspaces, "problems": problems})),
    )
        .into_response()
}

/// Creates, writes and removes a small file in `dir`.
fn probe_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    let path = dir.join(format!(".readyz-{}", std::process::id()));
    let mut f = std::fs::File::create(&path)?;
    let written = f.write_all(b"ok");
    drop(f);
    let removed = std::fs::remove_file(&path);
    written.and(removed)
}

async fn metrics(State(st): State<AppState>) -> Response {
    let open = st.workspaces().opened();
    let text = st.metrics().render(open.iter().map(|w| &**w.store()));
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}
