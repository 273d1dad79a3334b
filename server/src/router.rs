//! The router: composes every module's routes under one state, adds the access log, the
//! request timeout and the JSON 404.

use crate::auth::KeyIdSlot;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use std::time::Instant;
use tower_http::timeout::TimeoutLayer;

/// The whole application (each module adds its routes with one line here).
pub fn app(state: AppState) -> Router {
    let timeout = state.config().limits.request_timeout;
    Router::new()
        .merge(crate::ops::routes())
        .merge(crate::product::routes())
        .merge(crate::v1::routes())
        .merge(crate::dashboard::routes())
        .fallback(not_found)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), access_log))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// One line per request: method, path (no query string), status, milliseconds, key id. Never
/// a header value, a key or a body.
async fn access_log(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    let slot = KeyIdSlot::default();
    req.extensions_mut().insert(slot.clone());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let key = slot
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(|| "-".into());
    st.log(&format!(
        "{method} {} {} {:.1}ms key={key}",
        clip_path(&path),
        resp.status().as_u16(),
        t0.elapsed().as_secs_f64() * 1000.0
    ));
    resp
}

fn clip_path(p: &str) -> &str {
    let mut end = p.len().min(200);
    while !p.is_char_boundary(end) {
        end -= 1;
    }
    &p[..end]
}
