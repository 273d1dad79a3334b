//! Rate-card sync on a durable `tg_engine`: one pull (`tg_ratecard_pull`), the history of
//! published cards (`tg_ratecard_history_json`), and the background refresher
//! (`tg_refresher`). The fetching (file, dated directory, HTTP(S) through rustls) is the
//! `tollgate-sync` crate's; the core engine stays free of HTTP and TLS.

use crate::boundary::{
    Failure, OutBuf, borrow, boundary, boundary_value, handle_free, handle_new, handle_type,
    input_str, require_out, write_out,
};
use crate::engine::tg_engine;
use crate::error::tg_error;
use crate::json::push_str;
use crate::status::*;
use crate::store::{TG_MAX_PATH_BYTES, store_failure};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tollgate_engine::store::Store;
use tollgate_sync::{Outcome, Refresher, Source, SyncError, SyncOptions, SyncReport};

/// Longest source (a URL, a file or a directory path), in bytes.
pub const TG_MAX_SOURCE_BYTES: usize = TG_MAX_PATH_BYTES;

/// How a pull fetches. Initialise with `tg_sync_options_default()`. Plain data.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct tg_sync_options {
    /// Timeout of one HTTP attempt in ms (connect, send, read the whole body); default 30000.
    pub timeout_ms: u64,
    /// Retries after a network error, timeout, truncated body or 5xx; default 3.
    pub retries: u32,
    /// Must be 0.
    pub reserved: u32,
    /// Wait before the first retry in ms, doubled before each next one; default 500.
    pub backoff_ms: u64,
    /// Largest registry accepted, in bytes; default 64 MiB (the registry limit).
    pub max_bytes: u64,
}

fn default_sync_options() -> tg_sync_options {
    let d = SyncOptions::default();
    tg_sync_options {
        timeout_ms: d.timeout.as_millis() as u64,
        retries: d.retries,
        reserved: 0,
        backoff_ms: d.backoff.as_millis() as u64,
        max_bytes: d.max_bytes,
    }
}

/// The default pull options (30 s timeout, 3 retries from 500 ms, 64 MiB). Thread-safety: any
/// thread. Never fails.
#[unsafe(no_mangle)]
pub extern "C" fn tg_sync_options_default() -> tg_sync_options {
    boundary_value(default_sync_options(), default_sync_options)
}

fn options_of(o: *const tg_sync_options) -> Result<SyncOptions, Failure> {
    let o = if o.is_null() {
        default_sync_options()
    } else {
        // SAFETY: non-NULL; the caller passes a readable options struct for the call.
        unsafe { *o }
    };
    let bad = |m: String| Failure::owned(TG_ERR_INVALID_INPUT, m);
    if o.reserved != 0 {
        return Err(bad("reserved: must be 0".into()));
    }
    if o.timeout_ms == 0 || o.timeout_ms > 3_600_000 {
        return Err(bad(format!(
            "timeout_ms: {} is not in 1..=3600000",
            o.timeout_ms
        )));
    }
    if o.retries > 100 {
        return Err(bad(format!("retries: {} is more than 100", o.retries)));
    }
    if o.backoff_ms > 600_000 {
        return Err(bad(format!(
            "backoff_ms: {} is more than 600000",
            o.backoff_ms
        )));
    }
    let limit = tollgate_engine::ratecard::MAX_REGISTRY_BYTES as u64;
    if o.max_bytes == 0 || o.max_bytes > limit {
        return Err(bad(format!(
            "max_bytes: {} is not in 1..={limit}",
            o.max_bytes
        )));
    }
    Ok(SyncOptions {
        timeout: Duration::from_millis(o.timeout_ms),
        retries: o.retries,
        backoff: Duration::from_millis(o.backoff_ms),
        max_bytes: o.max_bytes,
    })
}

/// The status and detail of a failed pull (the detail says why nothing was published).
fn sync_failure(e: SyncError) -> Failure {
    let status = match &e {
        SyncError::Invalid { .. } => TG_ERR_RATE_CARD,
        SyncError::TooLarge { .. } => TG_ERR_LIMIT,
        SyncError::Store(_) => {
            let SyncError::Store(s) = e else {
                unreachable!()
            };
            return store_failure(s);
        }
        _ => TG_ERR_IO,
    };
    Failure::owned(status, e.to_string())
}

fn push_keys(s: &mut String, keys: impl Iterator<Item = impl AsRef<str>>) {
    s.push('[');
    for (i, k) in keys.enumerate() {
        if i > 0 {
            s.push(',');
        }
        push_str(s, k.as_ref());
    }
    s.push(']');
}

/// `{"source","outcome":"not_modified|unchanged|published","published":[{"content",
/// "effectiveFromMs","snapshot","from","added":[…],"removed":[…],"repriced":[…]}]}`.
fn report_json(r: &SyncReport) -> String {
    let mut s = String::from("{\"source\":");
    push_str(&mut s, &r.source);
    s.push_str(",\"outcome\":");
    let cards: &[tollgate_sync::Published] = match &r.outcome {
        Outcome::NotModified => {
            s.push_str("\"not_modified\"");
            &[]
        }
        Outcome::Unchanged => {
            s.push_str("\"unchanged\"");
            &[]
        }
        Outcome::Published(c) => {
            s.push_str("\"published\"");
            c
        }
    };
    s.push_str(",\"published\":[");
    for (i, c) in cards.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(
            s,
            "{{\"content\":\"{}\",\"effectiveFromMs\":{},\"snapshot\":\"{}\",\"from\":",
            c.content, c.effective_from_ms, c.snapshot
        );
        push_str(&mut s, &c.from);
        s.push_str(",\"added\":");
        push_keys(&mut s, c.diff.added.iter());
        s.push_str(",\"removed\":");
        push_keys(&mut s, c.diff.removed.iter());
        s.push_str(",\"repriced\":");
        push_keys(&mut s, c.diff.repriced.iter().map(|r| r.key.as_str()));
        s.push('}');
    }
    s.push_str("]}");
    s
}

fn durable_store(engine: &crate::engine::EngineObject) -> Result<&Arc<Store>, Failure> {
    engine.store_arc().ok_or_else(|| {
        Failure::new(
            TG_ERR_MISUSE,
            "engine: rate-card sync needs a durable engine (tg_engine_open), whose data directory keeps the cards",
        )
    })
}

/// Reads the source text: a URL (`http://`, `https://`), an existing directory of dated
/// registry files, or a file; empty = LiteLLM's public registry URL.
///
/// # Safety
/// As `input_str`.
unsafe fn source_of(ptr: *const u8, len: usize) -> Result<Source, Failure> {
    // SAFETY: forwarded contract.
    let text = unsafe { input_str(ptr, len, TG_MAX_SOURCE_BYTES, "source")? };
    Ok(Source::parse(if text.is_empty() {
        tollgate_sync::DEFAULT_URL
    } else {
        text
    }))
}

/// The report of one pull (`tg_ratecard_pull`), kept so that it can be read into a buffer of
/// any size without pulling again. Immutable: any thread, concurrently. Lifetime: owned by the
/// caller from `tg_ratecard_pull` until `tg_sync_report_free`.
pub struct tg_sync_report {
    _opaque: [u8; 0],
}
handle_type!(tg_sync_report => String, 4, "tg_sync_report_free");

/// Pulls a registry into a durable engine's data directory, now, on the calling thread:
/// fetches `source` (a URL, a directory of dated registry files, or a file; `(NULL, 0)` =
/// LiteLLM's public registry URL) with conditional requests, retries and a size limit,
/// validates it whole, compares it with the card in force and publishes what is new
/// (journaled, stored content-addressed, in the history). Writes the report's handle to
/// `*out`; read it with `tg_sync_report_json`.
///
/// `options` may be NULL (defaults). A bad registry publishes nothing and the detail says
/// why.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_INVALID_UTF8`;
/// `TG_ERR_INVALID_INPUT` (bad options); `TG_ERR_MISUSE` (not a durable engine);
/// `TG_ERR_RATE_CARD` (an invalid registry: nothing published); `TG_ERR_LIMIT` (source
/// path too long, or the registry larger than `max_bytes`); `TG_ERR_IO` (HTTP error status,
/// network failure or timeout after the retries, a file that cannot be read, or the journal
/// write failed). `*out` is written only on success. Ownership: the caller owns `*out` and
/// releases it with `tg_sync_report_free`. Thread-safety: any thread; blocks for the fetch.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_ratecard_pull(
    engine: *const tg_engine,
    source: *const u8,
    source_len: usize,
    options: *const tg_sync_options,
    out: *mut *mut tg_sync_report,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        require_out(out, "out")?;
        // SAFETY: documented contracts of the arguments.
        let (engine, source) = unsafe { (borrow(engine)?, source_of(source, source_len)?) };
        let opts = options_of(options)?;
        let store = durable_store(engine)?;
        let report = tollgate_sync::pull(store, &source, &opts).map_err(sync_failure)?;
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, handle_new::<tg_sync_report>(report_json(&report))?) };
        Ok(())
    })
}

/// Writes a pull's report: `{"source","outcome":"not_modified|unchanged|published",
/// "published":[{"content","effectiveFromMs","snapshot","from","added":[keys],
/// "removed":[keys],"repriced":[keys]}]}` (the diff against the card in force before each
/// published card).
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_BUFFER_TOO_SMALL` (retry
/// with `*out_len`). Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_sync_report_json(
    report: *const tg_sync_report,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (report, out) = unsafe { (borrow(report)?, OutBuf::new(out, out_cap, out_len)?) };
        out.write(report.as_bytes())
    })
}

/// Frees a report; `tg_sync_report_free(NULL)` is a no-op. Thread-safety: any thread, once no
/// other call uses it. Never fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_sync_report_free(report: *mut tg_sync_report) {
    boundary_value((), || {
        // SAFETY: documented contract: a live report not in use, or NULL.
        unsafe { handle_free(report) }
    })
}

/// Writes the rate cards published into a durable engine's data directory, oldest first:
/// `{"cards":[{"effectiveFromMs","content","models"}]}` (`content`: SHA-256 of the registry
/// file, stored as `DIR/cards/<content>.json`; `models`: entries of the card). The embedded
/// card, effective from the beginning of time, is not listed unless a card replaced it.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_MISUSE` (not a durable
/// engine); `TG_ERR_BUFFER_TOO_SMALL` (retry with `*out_len`). Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_ratecard_history_json(
    engine: *const tg_engine,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (engine, out) = unsafe { (borrow(engine)?, OutBuf::new(out, out_cap, out_len)?) };
        let store = durable_store(engine)?;
        let snaps = store.engine().snapshots();
        let mut s = String::from("{\"cards\":[");
        for (i, c) in store.history().iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let models = snaps
                .iter()
                .find(|x| x.effective_from_ms == c.effective_from_ms)
                .map_or(0, |x| x.models);
            let _ = write!(
                s,
                "{{\"effectiveFromMs\":{},\"content\":\"{}\",\"models\":{models}}}",
                c.effective_from_ms, c.content
            );
        }
        s.push_str("]}");
        out.write(s.as_bytes())
    })
}

/// A background refresher: pulls a source into a durable engine's data directory once at
/// start, then every interval plus a random jitter, until `tg_refresher_stop`.
///
/// Thread-safety: `tg_refresher_status_json` may be called from any thread, concurrently;
/// `tg_refresher_stop` needs exclusive access. Lifetime: owned by the caller from
/// `tg_refresher_start` until `tg_refresher_stop`. It keeps the engine's data directory open:
/// stop it before `tg_engine_close` (which refuses while a refresher runs).
pub struct tg_refresher {
    _opaque: [u8; 0],
}

/// The last pull of a refresher: the report JSON, or the status and detail of the error.
type LastPull = Arc<Mutex<Option<Result<String, (i32, String)>>>>;

/// What a `tg_refresher` handle points to.
pub struct RefresherObject {
    refresher: Option<Refresher>,
    /// The last pull: the report JSON or the error (status, detail).
    last: LastPull,
}
handle_type!(tg_refresher => RefresherObject, 5, "tg_refresher_stop");

/// Starts a background refresher on a durable engine: pulls `source` (as
/// `tg_ratecard_pull`; `(NULL, 0)` = LiteLLM's public registry URL) on its own thread
/// once now, then every `interval_ms` plus a random part of `jitter_ms` (0, 0 = the defaults:
/// 24 hours and up to 15 minutes). Writes the handle to `*out`.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_INVALID_UTF8`;
/// `TG_ERR_LIMIT`; `TG_ERR_INVALID_INPUT` (bad options; `interval_ms` below 1000 or above
/// 30 days); `TG_ERR_MISUSE` (not a durable engine). Ownership: the caller owns `*out` and
/// releases it with `tg_refresher_stop`. Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_refresher_start(
    engine: *const tg_engine,
    source: *const u8,
    source_len: usize,
    options: *const tg_sync_options,
    interval_ms: u64,
    jitter_ms: u64,
    out: *mut *mut tg_refresher,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        require_out(out, "out")?;
        // SAFETY: documented contracts of the arguments.
        let (engine, source) = unsafe { (borrow(engine)?, source_of(source, source_len)?) };
        let opts = options_of(options)?;
        let store = durable_store(engine)?.clone();
        let (interval, jitter) = if interval_ms == 0 && jitter_ms == 0 {
            (
                tollgate_sync::DEFAULT_INTERVAL,
                tollgate_sync::DEFAULT_JITTER,
            )
        } else {
            if !(1_000..=30 * 86_400_000).contains(&interval_ms) {
                return Err(Failure::owned(
                    TG_ERR_INVALID_INPUT,
                    format!("interval_ms: {interval_ms} is not in 1000..=2592000000"),
                ));
            }
            if jitter_ms > interval_ms {
                return Err(Failure::owned(
                    TG_ERR_INVALID_INPUT,
                    format!("jitter_ms: {jitter_ms} is more than interval_ms"),
                ));
            }
            (
                Duration::from_millis(interval_ms),
                Duration::from_millis(jitter_ms),
            )
        };
        let last: LastPull = Arc::new(Mutex::new(None));
        let seen = last.clone();
        let refresher = Refresher::start(
            store,
            source,
            opts,
            interval,
            jitter,
            Some(Box::new(move |r: &Result<SyncReport, SyncError>| {
                let v = match r {
                    Ok(report) => Ok(report_json(report)),
                    Err(e) => {
                        let status = match e {
                            SyncError::Invalid { .. } => TG_ERR_RATE_CARD,
                            SyncError::TooLarge { .. } => TG_ERR_LIMIT,
                            _ => TG_ERR_IO,
                        };
                        Err((status, e.to_string()))
                    }
                };
                *seen.lock().unwrap_or_else(PoisonError::into_inner) = Some(v);
            })),
        );
        let obj = RefresherObject {
            refresher: Some(refresher),
            last,
        };
        // SAFETY: checked non-NULL; writable per the contract.
        unsafe { write_out(out, handle_new::<tg_refresher>(obj)?) };
        Ok(())
    })
}

/// Writes what the refresher has done: `{"pulls":n,"last":null | {"ok":true,"report":{… as
/// tg_sync_report_json …}} | {"ok":false,"status":TG_ERR_*,"error":"why nothing was
/// published"}}`.
///
/// Returns `TG_OK`; `TG_ERR_NULL`; `TG_ERR_INVALID_HANDLE`; `TG_ERR_BUFFER_TOO_SMALL`.
/// Thread-safety: any thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_refresher_status_json(
    refresher: *const tg_refresher,
    out: *mut u8,
    out_cap: usize,
    out_len: *mut usize,
    err: *mut tg_error,
) -> i32 {
    boundary(err, || {
        // SAFETY: documented contracts of the arguments.
        let (r, out) = unsafe { (borrow(refresher)?, OutBuf::new(out, out_cap, out_len)?) };
        // Read the count before the result: a pull counted has its result recorded already
        // (the callback runs before the count moves).
        let pulls = r.refresher.as_ref().map_or(0, Refresher::pulls);
        let last = r
            .last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let mut s = format!("{{\"pulls\":{pulls},\"last\":");
        match last {
            None => s.push_str("null"),
            Some(Ok(report)) => {
                s.push_str("{\"ok\":true,\"report\":");
                s.push_str(&report);
                s.push('}');
            }
            Some(Err((status, e))) => {
                let _ = write!(s, "{{\"ok\":false,\"status\":{status},\"error\":");
                push_str(&mut s, &e);
                s.push('}');
            }
        }
        s.push('}');
        out.write(s.as_bytes())
    })
}

/// Stops a refresher (waits for a pull in progress to finish) and frees it.
/// `tg_refresher_stop(NULL)` is a no-op. No other call may be running on it, and it must not
/// be used afterwards. Thread-safety: any thread. Never fails.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn tg_refresher_stop(refresher: *mut tg_refresher) {
    boundary_value((), || {
        // SAFETY: documented contract: a live refresher not in use, or NULL.
        unsafe { handle_free(refresher) }
    })
}
