//! [`AppState`]: what every route shares (cheap to clone: one `Arc`).

use crate::config::ServerConfig;
use crate::error::ApiError;
use crate::keys::{KeyInfo, KeyStore};
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use crate::workspace::{Workspace, Workspaces};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
    metrics: Arc<Metrics>,
    shutting_down: AtomicBool,
}

impl AppState {
    /// State for a configuration whose keys are loaded.
    pub fn new(config: ServerConfig, keys: KeyStore) -> AppState {
        let options = tollgate_engine::store::StoreOptions {
            durability: config.durability,
            ..Default::default()
        };
        let metrics = Arc::new(Metrics::new());
        let workspaces = Workspaces::new(
            &config.data_dir,
            options,
            config.ratecard_sync.clone(),
            config.log.clone(),
            metrics.clone(),
        );
        let rate = RateLimiter::new(config.limits.rate_per_sec, config.limits.burst);
        AppState(Arc::new(Inner {
            config,
            keys,
            workspaces,
            rate,
            started: Instant::now(),
            metrics,
            shutting_down: AtomicBool::new(false),
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

    /// The Prometheus metrics ([`crate::metrics`]).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// True once graceful shutdown began (`/readyz` then answers 503).
    pub fn shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::Acquire)
    }

    /// Marks the start of graceful shutdown.
    pub fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::Release);
    }

    /// Writes a log line (never a key or a body).
    pub fn log(&self, line: &str) {
        self.0.config.log.log(line)
    }
}
