//! The auth extractor: `Authorization: Bearer <key>` → [`Auth`] (the key's [`KeyInfo`]),
//! rate-limited per key.
//!
//! - no header, not `Bearer`, an unknown or revoked key → 401 `unauthorized`;
//! - over the key's rate → 429 `rate_limited` with `Retry-After`;
//! - [`Auth::require`] a scope the key lacks → 403 `forbidden`.
//!
//! A handler that takes `Auth` reads no body before the key is checked.
//!
//! ```no_run
//! use axum::extract::State;
//! use tollgate_server::{AppState, auth::Auth, error::ApiError, keys::Scope};
//! async fn handler(State(st): State<AppState>, auth: Auth) -> Result<String, ApiError> {
//!     auth.require(Scope::Read)?;
//!     let ws = st.workspace(&auth).await?;
//!     let cost = ws.store().ledger().customer_margin("acme").and_then(Result::ok).map(|m| m.cost_cents);
//!     Ok(format!("{}: {:?}", ws.id(), cost.map(|c| c.to_string())))
//! }
//! ```

use crate::error::ApiError;
use crate::keys::{KeyInfo, Scope};
use crate::state::AppState;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::sync::{Arc, Mutex};

/// An authenticated request's key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth(pub KeyInfo);

impl std::ops::Deref for Auth {
    type Target = KeyInfo;
    fn deref(&self) -> &KeyInfo {
        &self.0
    }
}

impl Auth {
    /// `Ok` if the key's scope allows `scope` (admin allows everything), else 403.
    pub fn require(&self, scope: Scope) -> Result<(), ApiError> {
        if self.0.scope.allows(scope) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this key's scope is {}; this request needs {}",
                self.0.scope.as_str(),
                scope.as_str()
            )))
        }
    }
}

impl Auth {
    /// `Ok` if the key's scope allows any of `scopes`, else 403.
    pub fn require_any(&self, scopes: &[Scope]) -> Result<(), ApiError> {
        if scopes.iter().any(|s| self.0.scope.allows(*s)) {
            Ok(())
        } else {
            let names: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
            Err(ApiError::forbidden(format!(
                "this key's scope is {}; this request needs one of {}",
                self.0.scope.as_str(),
                names.join(", ")
            )))
        }
    }
}

/// Where the auth extractor leaves the key id for the access log (a request extension set by
/// the logging middleware).
#[derive(Clone, Debug, Default)]
pub struct KeyIdSlot(pub Arc<Mutex<Option<String>>>);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Auth, ApiError> {
        let key = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or_else(ApiError::unauthorized)?;
        st.keys().reload_if_changed();
        let info = st.keys().verify(key).ok_or_else(ApiError::unauthorized)?;
        if let Some(slot) = parts.extensions.get::<KeyIdSlot>() {
            *slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(info.id.clone());
        }
        if let Err(wait) = st.rate_limiter().check(&info.id) {
            return Err(ApiError::rate_limited(wait.as_secs_f64().ceil() as u64));
        }
        Ok(Auth(info))
    }
}
