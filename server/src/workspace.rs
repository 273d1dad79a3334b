//! Workspaces: each has its own [`Store`] (engine + ledger + journal) under
//! `DATA/workspaces/<id>/`, opened on first use, and its own committer thread.
//!
//! **The ingest path.** A handler never blocks a tokio worker on an fsync: it sends the record
//! (one JSON line in the ledger's own format) over a bounded channel to the workspace's
//! committer thread and awaits the answer. The committer takes everything waiting (up to
//! [`MAX_BATCH`] records, whole requests only: a `/v1/events` batch is one job, never split),
//! journals it with one write and, in sync durability, one fsync ([`Store::ingest_batch`]),
//! and answers each request through its oneshot. Under load the
//! batches grow and the fsyncs are shared; alone, a request waits for one fsync. A full channel
//! makes handlers wait (backpressure), not queue without bound.

use crate::config::{LogSink, RatecardSync};
use crate::error::ApiError;
use crate::metrics::Metrics;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};
use tollgate_engine::ledger::IngestResult;
use tollgate_engine::store::{Store, StoreOptions};
use tollgate_sync::Refresher;
use tollgate_sync::{Source, SyncOptions};

/// Most records one committer batch journals with one write.
pub const MAX_BATCH: usize = 4096;
/// Records that may wait for a workspace's committer before handlers wait.
pub const QUEUE_DEPTH: usize = 16_384;

/// Records journaled together: one request's record, or a whole `/v1/events` batch (which is
/// never split over two journal writes, so a write error applies none of it).
struct Job {
    lines: Vec<Vec<u8>>,
    reply: oneshot::Sender<Result<Vec<IngestResult>, String>>,
}

/// One workspace: its store and its committer.
pub struct Workspace {
    id: String,
    store: Arc<Store>,
    tx: Mutex<Option<mpsc::Sender<Job>>>,
    committer: Mutex<Option<JoinHandle<()>>>,
    refresher: Mutex<Option<Refresher>>,
}

impl std::fmt::Debug for Workspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspace").field("id", &self.id).finish()
    }
}

impl Workspace {
    /// The workspace id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The workspace's store: read its ledger and engine freely
    /// (`ws.store().ledger().customer_margin(..)`). Write records through
    /// [`Workspace::ingest`] so they share the committer's fsyncs; other writes
    /// (`publish_registry`, `set_override`) are journaled by the store itself — call them from
    /// `tokio::task::spawn_blocking`, they may fsync.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Journals and applies one record (a JSON line in the ledger's format,
    /// docs/reference/events.md) through the committer. `Err` (503): the store could not
    /// write it (full disk, failed fsync, shutting down) — nothing was applied.
    pub async fn ingest(&self, line: Vec<u8>) -> Result<IngestResult, ApiError> {
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| ApiError::unavailable("the server is shutting down"))?;
        let (reply, rx) = oneshot::channel();
        tx.send(Job {
            lines: vec![line],
            reply,
        })
        .await
        .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        match rx.await {
            Ok(Ok(mut r)) if r.len() == 1 => Ok(r.remove(0)),
            Ok(Ok(_)) => Err(ApiError::internal("the committer answered the wrong count")),
            Ok(Err(e)) => Err(ApiError::unavailable(format!(
                "the record was not stored: {e}"
            ))),
            Err(_) => Err(ApiError::unavailable("the committer stopped")),
        }
    }

    /// Journals and applies many records together, in one journal write of the committer
    /// (never split over two, so `Err` means none of them was applied); results in input
    /// order.
    pub async fn ingest_many(&self, lines: Vec<Vec<u8>>) -> Result<Vec<IngestResult>, ApiError> {
        let n = lines.len();
        let tx = self
            .tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| ApiError::unavailable("the server is shutting down"))?;
        let (reply, rx) = oneshot::channel();
        tx.send(Job { lines, reply })
            .await
            .map_err(|_| ApiError::unavailable("the server is shutting down"))?;
        match rx.await {
            Ok(Ok(r)) if r.len() == n => Ok(r),
            Ok(Ok(_)) => Err(ApiError::internal("the committer answered the wrong count")),
            Ok(Err(e)) => Err(ApiError::unavailable(format!(
                "the records were not stored: {e}"
            ))),
            Err(_) => Err(ApiError::unavailable("the committer stopped")),
        }
    }

    /// The rate-card refresher's last pull (`Ok` report text or the error), if it runs and
    /// has pulled.
    pub fn ratecard_last_pull(&self) -> Option<Result<String, String>> {
        self.refresher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(Refresher::last)
    }

    fn open(
        dir: &Path,
        id: &str,
        options: StoreOptions,
        sync: Option<(&RatecardSync, LogSink)>,
        metrics: Arc<Metrics>,
    ) -> Result<Workspace, String> {
        let path = dir.join(id);
        std::fs::create_dir_all(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let store = Arc::new(Store::open(&path, options).map_err(|e| e.to_string())?);
        metrics.watch_store(&store);
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let s = store.clone();
        let committer = std::thread::Builder::new()
            .name(format!("commit-{id}"))
            .spawn(move || commit_loop(&s, rx, &metrics))
            .map_err(|e| format!("cannot start the committer thread: {e}"))?;
        let refresher = sync.map(|(sync, log)| {
            let ws = id.to_string();
            Refresher::start(
                store.clone(),
                Source::parse(&sync.source),
                SyncOptions::default(),
                sync.interval,
                // Spread the pulls of many workspaces (and servers) a little, at most 15 min.
                (sync.interval / 10).min(tollgate_sync::DEFAULT_JITTER),
                Some(Box::new(move |r| match r {
                    Ok(report) => log.log(&format!("workspace {ws}: rate card: {report}")),
                    Err(e) => log.log(&format!("workspace {ws}: rate-card pull failed: {e}")),
                })),
            )
        });
        Ok(Workspace {
            id: id.to_string(),
            store,
            tx: Mutex::new(Some(tx)),
            committer: Mutex::new(Some(committer)),
            refresher: Mutex::new(refresher),
        })
    }

    /// Stops taking records, lets the committer finish what is queued and checkpoints the
    /// store.
    fn shutdown(&self) -> Result<(), String> {
        if let Some(r) = self
            .refresher
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            r.stop();
        }
        self.tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = self
            .committer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = h.join();
        }
        self.store.flush().map_err(|e| e.to_string())?;
        self.store
            .checkpoint()
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn commit_loop(store: &Store, mut rx: mpsc::Receiver<Job>, metrics: &Metrics) {
    let mut batch: Vec<Job> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        // Whole jobs only: the first one always, then more while the batch has room.
        let mut records = first.lines.len();
        batch.push(first);
        while records < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => {
                    records += j.lines.len();
                    batch.push(j);
                }
                Err(_) => break,
            }
        }
        let result =
            store.ingest_batch(batch.iter().flat_map(|j| j.lines.iter().map(Vec::as_slice)));
        match result {
            Ok(results) => {
                metrics.count_results(&results);
                let mut results = results.into_iter();
                for job in batch.drain(..) {
                    let mine: Vec<IngestResult> = results.by_ref().take(job.lines.len()).collect();
                    let _ = job.reply.send(Ok(mine));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(msg.clone()));
                }
            }
        }
    }
}

/// All workspaces of a data directory, opened on first use.
pub struct Workspaces {
    dir: PathBuf,
    options: StoreOptions,
    sync: Option<RatecardSync>,
    log: LogSink,
    metrics: Arc<Metrics>,
    open: Mutex<HashMap<String, Arc<Workspace>>>,
    /// Serializes opening (a store open reads its journal; two opens of one directory would
    /// fight over its lock).
    opening: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Workspaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workspaces")
            .field("dir", &self.dir)
            .finish()
    }
}

impl Workspaces {
    /// Workspaces under `DATA/workspaces/`, each store opened with `options`; with `sync`,
    /// each opened workspace runs a rate-card refresher (logging to `log`).
    pub fn new(
        data_dir: &Path,
        options: StoreOptions,
        sync: Option<RatecardSync>,
        log: LogSink,
        metrics: Arc<Metrics>,
    ) -> Workspaces {
        Workspaces {
            dir: data_dir.join("workspaces"),
            options,
            sync,
            log,
            metrics,
            open: Mutex::new(HashMap::new()),
            opening: tokio::sync::Mutex::new(()),
        }
    }

    /// The workspace `id`, opening (creating) its store on first use, off the async workers.
    /// `id` must be a valid workspace name (keys are checked when created).
    pub async fn get(&self, id: &str) -> Result<Arc<Workspace>, ApiError> {
        if let Some(w) = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(w.clone());
        }
        if !crate::keys::valid_workspace(id) {
            return Err(ApiError::not_found(format!("no workspace {id:?}")));
        }
        let _guard = self.opening.lock().await;
        if let Some(w) = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(w.clone());
        }
        let (dir, options, owned) = (self.dir.clone(), self.options, id.to_string());
        let (sync, log, metrics) = (self.sync.clone(), self.log.clone(), self.metrics.clone());
        let ws = tokio::task::spawn_blocking(move || {
            Workspace::open(
                &dir,
                &owned,
                options,
                sync.as_ref().map(|s| (s, log)),
                metrics,
            )
        })
        .await
        .map_err(|e| ApiError::internal(format!("opening the workspace failed: {e}")))?
        .map_err(|e| {
            ApiError::unavailable(format!("the workspace's store cannot be opened: {e}"))
        })?;
        let ws = Arc::new(ws);
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id.to_string(), ws.clone());
        Ok(ws)
    }

    /// The workspaces opened so far.
    pub fn opened(&self) -> Vec<Arc<Workspace>> {
        let mut v: Vec<_> = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// Ids of the workspaces that exist on disk (opened or not).
    pub fn on_disk(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| crate::keys::valid_workspace(n))
            .collect();
        v.sort();
        v
    }

    /// Stops every committer after its queue drains and checkpoints every store (blocking:
    /// call it from a blocking context). Returns the errors, by workspace.
    pub fn shutdown_all(&self) -> Vec<(String, String)> {
        let all: Vec<_> = self
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        let mut errors = Vec::new();
        for (id, ws) in all {
            if let Err(e) = ws.shutdown() {
                errors.push((id, e));
            }
        }
        errors
    }
}
