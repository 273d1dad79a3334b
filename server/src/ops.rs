//! Operations endpoints: `GET /healthz` (the process answers).

use crate::state::AppState;
use axum::Router;
use axum::routing::get;

/// The ops routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz() -> &'static str {
    "ok\n"
}
