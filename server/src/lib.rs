//! The self-hosted Tollgate margin server (`tollgate serve`).
//!
//! It speaks the `tollgateai` SDK's HTTP API (`/api/*`), so a team using that SDK self-hosts by
//! pointing `TOLLGATE_BASE_URL` here. Each workspace is a durable Tollgate store (engine, ledger,
//! journal) under `DATA/workspaces/<id>/`; API keys (`DATA/keys.json`, hashed) are bound to one
//! workspace and scoped `ingest`, `read` or `admin`. docs/reference/server.md is the user's
//! guide; docs/ARCHITECTURE.md places the modules.
//!
//! The map:
//! - [`config`]: [`ServerConfig`], limits, the log sink;
//! - [`state`]: [`AppState`], shared by every route;
//! - [`workspace`]: workspaces, their stores and the batching committer (the ingest path);
//! - [`keys`], [`auth`]: API keys and the `Authorization: Bearer` extractor;
//! - [`limits`]: the per-key rate limit and the body limit; [`error`]: JSON errors;
//! - [`router`]: composes [`ops`], [`product`], [`dashboard`] (and the other modules' routes);
//! - [`dashboard`]: the HTML dashboard (read-key login, sessions, pages, SVG charts).
//!
//! ```no_run
//! let config = tollgate_server::ServerConfig::new("/var/lib/tollgate");
//! tollgate_server::run(config).unwrap(); // until SIGTERM or ctrl-c
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod auth;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod product;
pub mod router;
pub mod state;
pub mod v1;
pub mod workspace;

pub use config::{Limits, LogSink, RatecardSync, ServerConfig, TlsFiles};
pub use state::AppState;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::net::SocketAddr;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Why the server could not start or stop cleanly.
#[derive(Debug)]
pub enum ServerError {
    /// Binding the listen address failed.
    Bind(SocketAddr, std::io::Error),
    /// The keys file could not be read.
    Keys(keys::KeyError),
    /// The runtime could not start, or another I/O failure.
    Io(std::io::Error),
    /// Checkpointing stores at shutdown failed (workspace, error).
    Shutdown(Vec<(String, String)>),
    /// The TLS certificate or key could not be loaded.
    Tls(String),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::Bind(a, e) => write!(f, "cannot listen on {a}: {e}"),
            ServerError::Keys(e) => write!(f, "{e}"),
            ServerError::Io(e) => write!(f, "{e}"),
            ServerError::Tls(e) => write!(f, "TLS: {e}"),
            ServerError::Shutdown(errs) => {
                f.write_str("shutdown could not checkpoint:")?;
                for (w, e) in errs {
                    write!(f, " workspace {w}: {e};")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ServerError {}

/// A server running on its own threads (a tokio runtime). [`Server::stop`] shuts it down
/// gracefully; dropping it does too.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<Result<(), ServerError>>>,
}

impl Server {
    /// Binds `config.listen` and starts serving (no signal handling: the caller stops it).
    pub fn start(config: ServerConfig) -> Result<Server, ServerError> {
        Server::start_inner(config, false)
    }

    fn start_inner(config: ServerConfig, signals: bool) -> Result<Server, ServerError> {
        std::fs::create_dir_all(&config.data_dir).map_err(ServerError::Io)?;
        let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let keys = keys::KeyStore::open(&config.data_dir).map_err(ServerError::Keys)?;
        let listener = std::net::TcpListener::bind(config.listen)
            .map_err(|e| ServerError::Bind(config.listen, e))?;
        listener.set_nonblocking(true).map_err(ServerError::Io)?;
        let addr = listener.local_addr().map_err(ServerError::Io)?;
        let state = AppState::new(config, keys);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("tollgate-http")
            .build()
            .map_err(ServerError::Io)?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("tollgate-server".into())
            .spawn(move || runtime.block_on(serve(listener, st, stop_rx, signals, tls)))
            .map_err(ServerError::Io)?;
        let scheme = if state.config().tls.is_some() {
            "https"
        } else {
            "http"
        };
        state.log(&format!("tollgate server listening on {scheme}://{addr}"));
        Ok(Server {
            addr,
            state,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// The address it listens on (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>` (`https://` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.state.config().tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The shared state (workspaces, keys) — tests read the ledgers through it.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting, drains in-flight requests (up to the drain timeout), lets every
    /// committer finish and checkpoints every workspace's store.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.stop_inner()
    }

    /// Blocks until the server ends (after a signal, when started by [`run`]).
    pub fn wait(mut self) -> Result<(), ServerError> {
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| {
                Err(ServerError::Io(std::io::Error::other(
                    "the server thread panicked",
                )))
            }),
            None => Ok(()),
        }
    }

    fn stop_inner(&mut self) -> Result<(), ServerError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.wait_inner()
    }

    fn wait_inner(&mut self) -> Result<(), ServerError> {
        match self.thread.take() {
            Some(t) => t.join().unwrap_or_else(|_| {
                Err(ServerError::Io(std::io::Error::other(
                    "the server thread panicked",
                )))
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// Runs the server until SIGTERM or ctrl-c, then shuts down gracefully (stop accepting,
/// drain, checkpoint every store).
pub fn run(config: ServerConfig) -> Result<(), ServerError> {
    Server::start_inner(config, true)?.wait()
}

async fn shutdown_signal(stop: oneshot::Receiver<()>, signals: bool) {
    if !signals {
        let _ = stop.await;
        return;
    }
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = stop => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    tokio::select! {
        _ = stop => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Loads the PEM files into a rustls acceptor (ring; TLS 1.2 and 1.3; ALPN http/1.1).
fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, ServerError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| ServerError::Tls(format!("{}: {e}", files.cert.display())))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "{}: no certificate in the file",
            files.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .map_err(|e| ServerError::Tls(format!("{}: {e}", files.key.display())))?;
    // ring: the provider the workspace already builds (ureq's rustls in tollgate-sync), no
    // second crypto library and no C toolchain for aws-lc. rustls 0.23.48 marks it deprecated
    // for lacking post-quantum key exchange; classical TLS 1.3 is what the SDK's urllib speaks.
    #[allow(deprecated)]
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(format!("the certificate and key do not fit: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config)))
}

async fn serve(
    listener: std::net::TcpListener,
    state: AppState,
    stop: oneshot::Receiver<()>,
    signals: bool,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<(), ServerError> {
    let listener = tokio::net::TcpListener::from_std(listener).map_err(ServerError::Io)?;
    let limits = state.config().limits;
    let app = router::app(state.clone());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let shutdown = shutdown_signal(stop, signals);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _peer)) = accepted else {
                    // EMFILE and the like: back off a moment instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                // hyper has no write timeout: a client that never reads its answers would
                // hold the connection (and its buffers) forever once the socket is full.
                let mut io = tokio_io_timeout::TimeoutStream::new(stream);
                io.set_write_timeout(Some(limits.write_timeout));
                let io = Box::pin(io);
                let svc = TowerToHyperService::new(app.clone());
                match &tls {
                    None => {
                        let conn = graceful.watch(http.serve_connection(TokioIo::new(io), svc));
                        tokio::spawn(async move {
                            let _ = conn.await;
                        });
                    }
                    Some(acceptor) => {
                        // The handshake gets the same time as a request head.
                        let (acceptor, http, watcher) = (acceptor.clone(), http.clone(), graceful.watcher());
                        tokio::spawn(async move {
                            let Ok(Ok(tls_stream)) = tokio::time::timeout(limits.header_timeout, acceptor.accept(io)).await else {
                                return;
                            };
                            let _ = watcher.watch(http.serve_connection(TokioIo::new(tls_stream), svc)).await;
                        });
                    }
                }
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    state.begin_shutdown();
    state.log("shutting down: draining requests");
    if tokio::time::timeout(limits.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        state.log("shutdown: drain timeout; closing the remaining connections");
    }
    let st = state.clone();
    let errors = tokio::task::spawn_blocking(move || st.workspaces().shutdown_all())
        .await
        .map_err(|e| ServerError::Io(std::io::Error::other(e.to_string())))?;
    state.log("shutdown: every workspace checkpointed");
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServerError::Shutdown(errors))
    }
}
