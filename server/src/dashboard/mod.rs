//! The dashboard: server-rendered HTML pages of one workspace's margins, behind a login with a
//! read (or admin) API key.
//!
//! Routes: `GET /` (overview; `?sort=margin:asc` orders the customers), `GET /customers/{id}`, `GET /login`, `POST /login`,
//! `POST /logout`, `GET /assets/dashboard.css`. No JavaScript: pages are maud templates
//! (`pages`), charts inline SVG drawn on the server (`chart`).
//!
//! Security, in one place:
//! - A key logs in through the form (never a URL); the server keeps a session (random 256-bit
//!   id, held in memory by its SHA-256, idle and absolute expiry, `session`) and sends only its
//!   id in a cookie that is `HttpOnly; SameSite=Strict; Path=/` (`Secure` over TLS).
//! - Every POST checks a CSRF token (the session's; for the login form a double-submitted
//!   cookie) and refuses a cross-origin `Origin` or `Sec-Fetch-Site`.
//! - Every request re-checks the session's key: a revoked key ends its sessions at once.
//! - A session reads only its key's workspace; pages never contain the key, and nothing here
//!   logs a request.
//! - `Content-Security-Policy` allows no script at all, so even markup that slipped through
//!   escaping could not run.

mod backend;
mod chart;
mod data;
mod format;
mod pages;
mod session;

use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Response, StatusCode};
use axum::response::{Html, IntoResponse, Redirect};
use axum::routing::{get, post};
use axum::{Extension, Form, Router, middleware};
use serde::Deserialize;
use session::{LOGIN_COOKIE, LOGIN_FORM_LIFETIME, MAX_LIFETIME, SESSION_COOKIE, Session, Sessions};
use std::sync::Arc;
use std::time::Duration;
use tollgate_engine::ledger::Sort;

/// The dashboard's own state: its sessions and the last rate-card diff.
#[derive(Default)]
struct Dashboard {
    sessions: Sessions,
    diffs: data::DiffCache,
}

type Dash = Extension<Arc<Dashboard>>;

/// The dashboard's routes (merged into the server's router).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/customers/{id}", get(customer))
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/assets/dashboard.css", get(css))
        .layer(Extension(Arc::new(Dashboard::default())))
        .layer(middleware::map_response(security_headers))
}

/// Headers on every dashboard response: no script may run, no framing, no caching of pages,
/// no referrer leaves the origin.
async fn security_headers(mut res: axum::response::Response) -> axum::response::Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // `same-origin`, not `no-referrer`: under `no-referrer` Chromium sends `Origin: null` on
    // the page's own form posts, which the cross-origin check must refuse.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn cookie_of<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| session::cookie(v, name))
}

/// Cookies get `Secure` when the server terminates TLS or a proxy in front says it did.
fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    backend::tls(state)
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

/// A request a browser marks as coming from another origin (`Sec-Fetch-Site`, or an `Origin`
/// whose host differs from `Host`). Requests without either header (not from a browser) pass
/// on to the CSRF token check.
fn cross_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let host = headers.get(header::HOST).map(HeaderValue::as_bytes);
    let authority = origin.to_str().ok().and_then(|o| {
        o.strip_prefix("http://")
            .or_else(|| o.strip_prefix("https://"))
    });
    match (authority, host) {
        (Some(a), Some(h)) => !a.as_bytes().eq_ignore_ascii_case(h),
        _ => true,
    }
}

fn page(status: StatusCode, markup: maud::Markup) -> axum::response::Response {
    (status, Html(markup.into_string())).into_response()
}

fn with_cookie(mut res: axum::response::Response, cookie: String) -> axum::response::Response {
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

/// The session of this request, its key re-checked; otherwise a redirect to the login page.
#[allow(clippy::result_large_err)]
fn session_of(
    dash: &Dashboard,
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(String, Session), axum::response::Response> {
    let to_login = || Redirect::to("/login").into_response();
    let id = cookie_of(headers, SESSION_COOKIE).ok_or_else(to_login)?;
    let s = dash.sessions.get(id).ok_or_else(to_login)?;
    if !backend::key_valid(state, &s.key_id, &s.workspace) {
        dash.sessions.remove_key(&s.key_id);
        return Err(to_login());
    }
    Ok((id.to_string(), s))
}

fn unavailable(s: &Session) -> axum::response::Response {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        pages::message(
            "Workspace unavailable",
            "This workspace's data could not be read. Try again shortly.",
            Some(&s.workspace),
            Some(&s.csrf),
        ),
    )
}

/// The overview's query string: `?sort=KEY[:asc|:desc]` (`revenue`, `cost`, `margin`,
/// `margin_pct`, `events`) orders the customers.
#[derive(Deserialize)]
struct OverviewParams {
    sort: Option<String>,
}

async fn overview(
    State(state): State<AppState>,
    Extension(dash): Dash,
    Query(params): Query<OverviewParams>,
    headers: HeaderMap,
) -> axum::response::Response {
    let (_, s) = match session_of(&dash, &state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let sort = match params.sort.as_deref().map(Sort::parse).transpose() {
        Ok(sort) => sort,
        Err(_) => {
            return page(
                StatusCode::BAD_REQUEST,
                pages::message(
                    "Unknown order",
                    "Customers sort by revenue, cost, margin, margin_pct or events, optionally followed by :asc or :desc.",
                    Some(&s.workspace),
                    Some(&s.csrf),
                ),
            );
        }
    };
    let Some(ws) = backend::workspace(&state, &s.workspace).await else {
        return unavailable(&s);
    };
    let now = now_ms();
    let d = dash.clone();
    let view = tokio::task::spawn_blocking(move || {
        data::overview(ws.store(), &d.diffs, ws.ratecard_last_pull(), sort, now)
    })
    .await;
    match view {
        Ok(Ok(o)) => page(
            StatusCode::OK,
            pages::overview(&o, &s.workspace, &s.csrf, now),
        ),
        _ => unavailable(&s),
    }
}

async fn customer(
    State(state): State<AppState>,
    Extension(dash): Dash,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> axum::response::Response {
    let (_, s) = match session_of(&dash, &state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(ws) = backend::workspace(&state, &s.workspace).await else {
        return unavailable(&s);
    };
    let view = tokio::task::spawn_blocking(move || data::customer(ws.store(), &id)).await;
    match view {
        Ok(Ok(Some(p))) => page(StatusCode::OK, pages::customer(&p, &s.workspace, &s.csrf)),
        Ok(Ok(None)) => page(
            StatusCode::NOT_FOUND,
            pages::message(
                "No such customer",
                "This workspace has no customer with that id.",
                Some(&s.workspace),
                Some(&s.csrf),
            ),
        ),
        _ => unavailable(&s),
    }
}

/// A login form with a fresh token, also set as the login cookie.
fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
) -> axum::response::Response {
    let token = session::random_token();
    with_cookie(
        page(status, pages::login(&token, error)),
        session::set_cookie(
            LOGIN_COOKIE,
            &token,
            LOGIN_FORM_LIFETIME,
            secure(state, headers),
        ),
    )
}

async fn login_form(
    State(state): State<AppState>,
    Extension(dash): Dash,
    headers: HeaderMap,
) -> axum::response::Response {
    if session_of(&dash, &state, &headers).is_ok() {
        return Redirect::to("/").into_response();
    }
    login_page(&state, &headers, StatusCode::OK, None)
}

/// The login form's fields.
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
}

impl std::fmt::Debug for LoginForm {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginForm { .. }")
    }
}

fn forbidden(text: &str) -> axum::response::Response {
    page(
        StatusCode::FORBIDDEN,
        pages::message("Request refused", text, None, None),
    )
}

async fn login(
    State(state): State<AppState>,
    Extension(dash): Dash,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> axum::response::Response {
    if cross_origin(&headers) {
        return forbidden("Cross-origin form posts are refused.");
    }
    let token_ok = cookie_of(&headers, LOGIN_COOKIE)
        .is_some_and(|c| !form.csrf.is_empty() && session::same_secret(c, &form.csrf));
    if !token_ok {
        return login_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some("The login form expired or did not come from this page. Please try again."),
        );
    }
    match backend::login(&state, form.key.trim()) {
        backend::Login::Ok { key_id, workspace } => {
            let sid = dash.sessions.create(&key_id, &workspace);
            let secure = secure(&state, &headers);
            let res = Redirect::to("/").into_response();
            let res = with_cookie(
                res,
                session::set_cookie(SESSION_COOKIE, &sid, MAX_LIFETIME, secure),
            );
            with_cookie(
                res,
                session::set_cookie(LOGIN_COOKIE, "", Duration::ZERO, secure),
            )
        }
        backend::Login::WrongScope => login_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some("This key cannot log in: the dashboard needs a key with the read or admin scope."),
        ),
        backend::Login::Unknown => login_page(
            &state,
            &headers,
            StatusCode::UNAUTHORIZED,
            Some("Unknown or revoked key."),
        ),
    }
}

/// The logout form's field.
#[derive(Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    Extension(dash): Dash,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> axum::response::Response {
    if cross_origin(&headers) {
        return forbidden("Cross-origin form posts are refused.");
    }
    let (sid, s) = match session_of(&dash, &state, &headers) {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !session::same_secret(&s.csrf, &form.csrf) {
        return forbidden(
            "The form's security token is missing or wrong. Reload the page and try again.",
        );
    }
    dash.sessions.remove(&sid);
    with_cookie(
        Redirect::to("/login").into_response(),
        session::set_cookie(SESSION_COOKIE, "", Duration::ZERO, secure(&state, &headers)),
    )
}

async fn css() -> impl IntoResponse {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/css; charset=utf-8")
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(axum::body::Body::from(pages::CSS))
        .unwrap_or_default()
}
