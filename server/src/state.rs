//! [`AppState`]: what every route shares (cheap to clone: one `Arc`).

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::keys::{KeyInfo, KeyStore};
use crate::limits::RateLimiter;
use crate::workspace::{Workspace, Workspaces};
use std::sync::Arc;
use std::time::Instant;

/// The shared state of a running server. Handlers take `State<AppState>`.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: ServerConfig,
    keys: KeyStore,
    workspaces: Workspaces,
    rate: RateLimiter,
    started: Instant,
}

impl AppState {
    /// State for a configuration whose keys are loaded.
    pub fn new(config: ServerConfig, keys: KeyStore) -> AppState {
        let options = tollgate_engine::store::StoreOptions {
            durability: config.durability,
            ..Default::default()
        };
        let workspaces = Workspaces::new(
            &config.data_dir,
            options,
            config.ratecard_sync.clone(),
            config.log.clone(),
        );
        let rate = RateLimiter::new(config.limits.rate_per_sec, config.limits.burst);
        AppState(Arc::new(Inner {
            config,
            keys,
            workspaces,
            rate,
            started: Instant::now(),
        }))
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    /// The API keys.
    pub fn keys(&self) -> &KeyStore {
        &self.0.keys
    }

    /// All workspaces.
    pub fn workspaces(&self) -> &Workspaces {
        &self.0.workspaces
    }

    /// The per-key rate limiter.
    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.0.rate
    }

    /// When the server started.
    pub fn started(&self) -> Instant {
        self.0.started
    }

    /// The workspace of an authenticated key — the only workspace a handler may touch for
    /// that request.
    pub async fn workspace(&self, key: &KeyInfo) -> Result<Arc<Workspace>, ApiError> {
        self.0.workspaces.get(&key.workspace).await
    }

    /// Writes a log line (never a key or a body).
    pub fn log(&self, line: &str) {
        self.0.config.log.log(line)
    }
}
