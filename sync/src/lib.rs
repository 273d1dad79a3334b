//! # Tollgate rate-card sync
//!
//! Keeps a data directory's rate card current: pulls a LiteLLM registry
//! (`model_prices_and_context_window.json`) from a file, a directory of dated files or an
//! HTTP(S) URL, validates it whole, and publishes it into a [`Store`] (stored content-addressed
//! with its `effectiveFrom`, so history and event-time pricing survive restarts). Every pull
//! reports what changed: models added, removed and repriced.
//!
//! HTTP is [`ureq`] with rustls (no OpenSSL): conditional requests (`If-None-Match` /
//! `If-Modified-Since` from the last accepted response, kept in `DIR/sync-state.json`), a
//! timeout, retries with exponential backoff on network errors and 5xx, and a size limit.
//!
//! ```no_run
//! use tollgate_engine::store::{Store, StoreOptions};
//! use tollgate_sync::{Source, SyncOptions, pull};
//! let store = Store::open("data", StoreOptions::default())?;
//! let report = pull(&store, &Source::Url(tollgate_sync::DEFAULT_URL.into()), &SyncOptions::default())?;
//! println!("{report}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod refresher;

pub use refresher::{DEFAULT_INTERVAL, DEFAULT_JITTER, Refresher};

use sha2::{Digest, Sha256};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tollgate_engine::engine::SnapshotId;
use tollgate_engine::ratecard::{MAX_REGISTRY_BYTES, RateCard, RateCardError, SnapshotDiff};
use tollgate_engine::store::{Store, StoreError};

/// LiteLLM's public registry, the default source.
pub const DEFAULT_URL: &str =
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";
/// Default timeout of one HTTP attempt (connect, send and read the whole body).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default retries after a failed attempt (network error, timeout, 5xx).
pub const DEFAULT_RETRIES: u32 = 3;
/// Default wait before the first retry; doubled before each next one.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);

/// Where registries come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// One registry file, effective from the moment it is pulled.
    File(PathBuf),
    /// A directory of dated registry files: every `*.json` whose name holds a `YYYY-MM-DD`
    /// date is effective from that day, 00:00 UTC.
    Dir(PathBuf),
    /// An HTTP(S) URL, effective from the moment it is pulled.
    Url(String),
}

impl Source {
    /// `http://…` / `https://…` is a URL; an existing directory a [`Source::Dir`]; anything
    /// else a file.
    pub fn parse(s: &str) -> Source {
        if s.starts_with("https://") || s.starts_with("http://") {
            Source::Url(s.to_string())
        } else if Path::new(s).is_dir() {
            Source::Dir(s.into())
        } else {
            Source::File(s.into())
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) | Source::Dir(p) => write!(f, "{}", p.display()),
            Source::Url(u) => f.write_str(u),
        }
    }
}

/// How a pull fetches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyncOptions {
    /// Timeout of one HTTP attempt.
    pub timeout: Duration,
    /// Retries after a failed attempt.
    pub retries: u32,
    /// Wait before the first retry (doubled each time).
    pub backoff: Duration,
    /// Largest registry accepted, in bytes.
    pub max_bytes: u64,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            timeout: DEFAULT_TIMEOUT,
            retries: DEFAULT_RETRIES,
            backoff: DEFAULT_BACKOFF,
            max_bytes: MAX_REGISTRY_BYTES as u64,
        }
    }
}

/// Why a pull published nothing.
#[derive(Debug)]
#[non_exhaustive]
pub enum SyncError {
    /// The server answered with an error status (after the retries, for 5xx).
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// Network failure or timeout (after the retries), or a body cut short.
    Network {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The registry is larger than [`SyncOptions::max_bytes`].
    TooLarge {
        /// The source.
        source: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// The registry is invalid: nothing was published.
    Invalid {
        /// The source (file name or URL).
        source: String,
        /// The registry's own error (key, field, reason).
        error: RateCardError,
    },
    /// A file or directory could not be read.
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The store refused the card (journal write failed, history full).
    Store(StoreError),
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::Status { url, status } => write!(f, "{url}: HTTP status {status}"),
            SyncError::Network { url, reason } => write!(f, "{url}: {reason}"),
            SyncError::TooLarge { source, limit } => {
                write!(f, "{source}: the registry is larger than {limit} bytes")
            }
            SyncError::Invalid { source, error } => {
                write!(f, "{source}: invalid registry, nothing published: {error}")
            }
            SyncError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            SyncError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SyncError {}

/// One card a pull published.
#[derive(Clone, Debug)]
pub struct Published {
    /// SHA-256 of the registry file (hex): its name under `DIR/cards/`.
    pub content: String,
    /// When it takes effect (epoch ms).
    pub effective_from_ms: i64,
    /// The snapshot id the engine gave it.
    pub snapshot: SnapshotId,
    /// Against the card in force before it at that instant.
    pub diff: SnapshotDiff,
    /// Where it came from (a file of a directory source, else the source).
    pub from: String,
    /// The registry's warnings: fields accepted but unused for pricing
    /// (`Engine::publish_registry`).
    pub warnings: Vec<String>,
}

/// What a pull did.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// The server said the registry has not changed since the last pull (HTTP 304).
    NotModified,
    /// The registry's prices equal the card in force: nothing published.
    Unchanged,
    /// Cards published, oldest `effectiveFrom` first.
    Published(Vec<Published>),
}

/// The report of one pull.
#[derive(Clone, Debug)]
pub struct SyncReport {
    /// The source pulled.
    pub source: String,
    /// What happened.
    pub outcome: Outcome,
}

impl fmt::Display for SyncReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            Outcome::NotModified => {
                writeln!(f, "{}: not modified since the last pull", self.source)
            }
            Outcome::Unchanged => writeln!(
                f,
                "{}: prices unchanged from the card in force; nothing published",
                self.source
            ),
            Outcome::Published(cards) => {
                for c in cards {
                    writeln!(
                        f,
                        "published {} (snapshot {}) from {}, effective {}: {} added, {} removed, {} repriced",
                        &c.content[..16],
                        c.snapshot,
                        c.from,
                        format_ms(c.effective_from_ms),
                        c.diff.added.len(),
                        c.diff.removed.len(),
                        c.diff.repriced.len()
                    )?;
                    write!(f, "{}", c.diff)?;
                    for w in &c.warnings {
                        writeln!(f, "warning: {w}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// An epoch-ms instant as RFC 3339 UTC.
pub fn format_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms} ms"))
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Pulls `source` into `store`: fetches, validates whole, compares with the card in force
/// and publishes what is new. A bad registry publishes nothing and the error says why.
pub fn pull(store: &Store, source: &Source, opts: &SyncOptions) -> Result<SyncReport, SyncError> {
    let outcome = match source {
        Source::File(p) => {
            let bytes = read_limited(p, opts.max_bytes)?;
            publish_one(store, &bytes, now_ms(), &p.display().to_string())?
        }
        Source::Dir(d) => pull_dir(store, d, opts)?,
        Source::Url(url) => match http::fetch(store.dir(), url, opts)? {
            None => Outcome::NotModified,
            Some(fetched) => {
                let o = publish_one(store, &fetched.bytes, now_ms(), url)?;
                // Remembered only once the body was accepted (published or unchanged).
                fetched.remember(store.dir());
                o
            }
        },
    };
    Ok(SyncReport {
        source: source.to_string(),
        outcome,
    })
}

fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, SyncError> {
    let io = |error| SyncError::Io {
        path: path.to_path_buf(),
        error,
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    f.take(max + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > max {
        return Err(SyncError::TooLarge {
            source: path.display().to_string(),
            limit: max,
        });
    }
    Ok(bytes)
}

fn parse(bytes: &[u8], source: &str) -> Result<RateCard, SyncError> {
    RateCard::parse(bytes).map_err(|error| SyncError::Invalid {
        source: source.to_string(),
        error,
    })
}

fn publish_one(
    store: &Store,
    bytes: &[u8],
    effective_from_ms: i64,
    from: &str,
) -> Result<Outcome, SyncError> {
    let card = parse(bytes, from)?;
    let before = store.engine().snapshot_at(Some(effective_from_ms));
    let diff = card.diff_from(before.card());
    if diff.is_empty() {
        return Ok(Outcome::Unchanged);
    }
    let published = store
        .publish_registry(bytes, effective_from_ms)
        .map_err(SyncError::Store)?;
    Ok(Outcome::Published(vec![Published {
        content: hex(&Sha256::digest(bytes)),
        effective_from_ms,
        snapshot: published.snapshot,
        diff,
        from: from.to_string(),
        warnings: published.warnings,
    }]))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The `YYYY-MM-DD` in a file name, as epoch ms of that day's start (UTC).
fn date_in_name(name: &str) -> Option<i64> {
    let b = name.as_bytes();
    (0..b.len().saturating_sub(9)).find_map(|i| {
        let s = name.get(i..i + 10)?;
        let d =
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
        Some(d.midnight().assume_utc().unix_timestamp() * 1000)
    })
}

/// Every dated registry not yet in the history, validated all before any is published.
fn pull_dir(store: &Store, dir: &Path, opts: &SyncOptions) -> Result<Outcome, SyncError> {
    let io = |error| SyncError::Io {
        path: dir.to_path_buf(),
        error,
    };
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let path = e.map_err(io)?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if let (true, Some(ms)) = (name.ends_with(".json"), date_in_name(name)) {
            files.push((ms, path));
        }
    }
    files.sort();
    let history = store.history();
    let mut todo = Vec::new();
    for (ms, path) in files {
        let bytes = read_limited(&path, opts.max_bytes)?;
        let content = hex(&Sha256::digest(&bytes));
        if history
            .iter()
            .any(|h| h.effective_from_ms == ms && h.content == content)
        {
            continue;
        }
        parse(&bytes, &path.display().to_string())?;
        todo.push((ms, path, bytes));
    }
    let mut published = Vec::new();
    for (ms, path, bytes) in todo {
        if let Outcome::Published(p) = publish_one(store, &bytes, ms, &path.display().to_string())?
        {
            published.extend(p);
        }
    }
    Ok(if published.is_empty() {
        Outcome::Unchanged
    } else {
        Outcome::Published(published)
    })
}

mod http {
    use super::{SyncError, SyncOptions};
    use std::path::Path;

    /// A 200 response and the validators to send next time.
    pub(super) struct Fetched {
        pub bytes: Vec<u8>,
        url: String,
        etag: Option<String>,
        last_modified: Option<String>,
    }

    const STATE: &str = "sync-state.json";

    impl Fetched {
        /// Keeps the validators for the next conditional request (best effort: a failure only
        /// costs a full download next time).
        pub fn remember(&self, dir: &Path) {
            let v = serde_json::json!({
                "url": self.url, "etag": self.etag, "lastModified": self.last_modified,
            });
            let tmp = dir.join(".sync-state.tmp");
            if std::fs::write(&tmp, v.to_string()).is_ok() {
                let _ = std::fs::rename(&tmp, dir.join(STATE));
            }
        }
    }

    fn validators(dir: &Path, url: &str) -> (Option<String>, Option<String>) {
        let Ok(bytes) = std::fs::read(dir.join(STATE)) else {
            return (None, None);
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            return (None, None);
        };
        if v["url"].as_str() != Some(url) {
            return (None, None);
        }
        let s = |k: &str| v[k].as_str().map(str::to_string);
        (s("etag"), s("lastModified"))
    }

    /// `None` = 304 Not Modified.
    pub(super) fn fetch(
        dir: &Path,
        url: &str,
        opts: &SyncOptions,
    ) -> Result<Option<Fetched>, SyncError> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(opts.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("tollgate-sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        let (etag, last_modified) = validators(dir, url);
        let mut wait = opts.backoff;
        let mut attempt = 0;
        loop {
            let r = once(&agent, url, opts, etag.as_deref(), last_modified.as_deref());
            let retry = match &r {
                Err(SyncError::Network { .. }) => true,
                Err(SyncError::Status { status, .. }) => *status >= 500,
                _ => false,
            };
            if !retry || attempt >= opts.retries {
                return r;
            }
            attempt += 1;
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2);
        }
    }

    fn once(
        agent: &ureq::Agent,
        url: &str,
        opts: &SyncOptions,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Option<Fetched>, SyncError> {
        let net = |e: ureq::Error| SyncError::Network {
            url: url.to_string(),
            reason: e.to_string(),
        };
        let mut req = agent.get(url);
        if let Some(e) = etag {
            req = req.header("If-None-Match", e);
        }
        if let Some(m) = last_modified {
            req = req.header("If-Modified-Since", m);
        }
        let mut resp = req.call().map_err(net)?;
        let status = resp.status().as_u16();
        if status == 304 {
            return Ok(None);
        }
        if status != 200 {
            return Err(SyncError::Status {
                url: url.to_string(),
                status,
            });
        }
        let header = |k: &str| {
            resp.headers()
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (etag, last_modified) = (header("etag"), header("last-modified"));
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(opts.max_bytes)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => SyncError::TooLarge {
                    source: url.to_string(),
                    limit: opts.max_bytes,
                },
                e => net(e),
            })?;
        Ok(Some(Fetched {
            bytes,
            url: url.to_string(),
            etag,
            last_modified,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_file_names() {
        // 2026-11-01T00:00:00Z
        assert_eq!(
            date_in_name("litellm-2026-11-01.json"),
            Some(1_793_491_200_000)
        );
        assert_eq!(date_in_name("2026-11-01.json"), Some(1_793_491_200_000));
        assert_eq!(date_in_name("2026-13-01.json"), None);
        assert_eq!(date_in_name("prices.json"), None);
    }

    #[test]
    fn sources() {
        assert_eq!(
            Source::parse("https://x/y.json"),
            Source::Url("https://x/y.json".into())
        );
        assert_eq!(
            Source::parse("/no/such/file.json"),
            Source::File("/no/such/file.json".into())
        );
        assert_eq!(Source::parse("."), Source::Dir(".".into()));
    }
}
