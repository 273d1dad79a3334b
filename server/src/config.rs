//! [`ServerConfig`]: everything `tollgate serve` can set, with safe defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tollgate_engine::store::Durability;

/// Where the server's log lines go. The server logs one line per request (method, path without
/// the query, status, milliseconds, key id) and its lifecycle; never a key or a request body.
#[derive(Clone)]
pub struct LogSink(Arc<dyn Fn(&str) + Send + Sync>);

impl LogSink {
    /// Lines to standard error (the default).
    pub fn stderr() -> LogSink {
        LogSink(Arc::new(|line: &str| eprintln!("{line}")))
    }
    /// Lines to a function (tests capture the log this way).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use tollgate_server::config::LogSink;
    /// let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    /// let s = seen.clone();
    /// let sink = LogSink::new(move |l| s.lock().unwrap().push(l.to_string()));
    /// sink.log("hello");
    /// assert_eq!(seen.lock().unwrap()[0], "hello");
    /// ```
    pub fn new(f: impl Fn(&str) + Send + Sync + 'static) -> LogSink {
        LogSink(Arc::new(f))
    }
    /// Nothing.
    pub fn discard() -> LogSink {
        LogSink(Arc::new(|_: &str| {}))
    }
    /// Writes one line.
    pub fn log(&self, line: &str) {
        (self.0)(line)
    }
}

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogSink")
    }
}

/// Request and connection limits (docs/reference/server.md (limits)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes (default 1 MiB); larger → 413.
    pub max_body_bytes: usize,
    /// Largest request head (request line and headers), in bytes (default 16 KiB; at least
    /// 8 KiB); larger → the connection is closed with 431.
    pub max_header_bytes: usize,
    /// Requests per second one API key may make on average (default 2,000); 0 = no limit.
    pub rate_per_sec: u32,
    /// Requests one key may make at once above the average (default 4,000).
    pub burst: u32,
    /// Time a client has to send a request head, and the longest a kept-alive connection may
    /// sit idle between requests (default 10 s).
    pub header_timeout: Duration,
    /// Time a request may take, body included (default 30 s); longer → 408.
    pub request_timeout: Duration,
    /// Time one write of an answer may wait for the client to read (default 30 s): a client
    /// that stops reading its answers has its connection closed after this, instead of
    /// holding a connection and its buffers forever.
    pub write_timeout: Duration,
    /// Longest graceful shutdown waits for in-flight requests (default 10 s).
    pub drain_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1 << 20,
            max_header_bytes: 16 << 10,
            rate_per_sec: 2_000,
            burst: 4_000,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// Keeping each workspace's rate card current (the tollgate-sync refresher).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RatecardSync {
    /// A file, a directory of dated files, or an `https://` URL (tollgate-sync's `Source`).
    pub source: String,
    /// Time between pulls.
    pub interval: Duration,
}

/// Built-in TLS: a certificate chain and its private key, PEM files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (leaf first), PEM.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1), PEM.
    pub key: PathBuf,
}

/// The server's configuration.
///
/// ```
/// use tollgate_server::ServerConfig;
/// let c = ServerConfig::new("/var/lib/tollgate");
/// assert_eq!(c.listen.to_string(), "127.0.0.1:8787");
/// ```
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The data directory: `keys.json` and `workspaces/<id>/` (one store each).
    pub data_dir: PathBuf,
    /// Address to listen on (default `127.0.0.1:8787`; port 0 picks a free port).
    pub listen: SocketAddr,
    /// Durability of every workspace's journal (default sync: fsync before answering).
    pub durability: Durability,
    /// Request and connection limits.
    pub limits: Limits,
    /// Rate-card refresh; `None` = the rate card changes only when published by hand.
    pub ratecard_sync: Option<RatecardSync>,
    /// Where log lines go.
    pub log: LogSink,
    /// Serve HTTPS with these files (rustls, TLS 1.2 and 1.3); `None` = plain HTTP (put a TLS
    /// proxy in front).
    pub tls: Option<TlsFiles>,
}

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

impl ServerConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: impl Into<PathBuf>) -> ServerConfig {
        ServerConfig {
            data_dir: data_dir.into(),
            listen: DEFAULT_LISTEN.parse().expect("a valid address"),
            durability: Durability::Sync,
            limits: Limits::default(),
            ratecard_sync: None,
            log: LogSink::stderr(),
            tls: None,
        }
    }

    /// For tests: `127.0.0.1:0` (a free port), no rate limit, no log output.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let server = tollgate_server::Server::start(tollgate_server::ServerConfig::for_test(dir.path())).unwrap();
    /// assert!(server.url().starts_with("http://127.0.0.1:"));
    /// server.stop().unwrap();
    /// ```
    pub fn for_test(data_dir: impl Into<PathBuf>) -> ServerConfig {
        let mut c = ServerConfig::new(data_dir);
        c.listen = "127.0.0.1:0".parse().expect("a valid address");
        c.limits.rate_per_sec = 0;
        c.log = LogSink::discard();
        c
    }
}
