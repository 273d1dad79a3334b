//! A durable engine: an [`Engine`] and a [`Ledger`] on a data directory, every state change
//! journaled before its result returns (write-ahead), recovered after a crash.
//!
//! The parts, from the bytes up:
//! - `journal`: segment files and entry framing (length, CRC-32, versioned format) and the scan
//!   that tells a torn tail from damage in the middle;
//! - `files`: the directory lock, the meta file, content-addressed rate-card files and
//!   checkpoints;
//! - `replay`: recovery (the newest checkpoint, then the journal after it) and the one
//!   function that applies an entry, shared by live writes and replay;
//! - this module: [`Store`], group commit and the durability modes, checkpoints.
//!
//! Records are journaled as their JSON line, exactly as accepted, with the wall-clock instant
//! they were applied at; replay parses them with the ledger's own parser and applies them at
//! that instant, so every record type the ledger knows replays without the journal knowing
//! it, and a replay decides exactly as the first run did. In `interval` and `none` mode, where
//! a record is applied before it is journaled, an accepted event is journaled as the ledger
//! booked it instead (its price, dedupe fingerprint and identities, in binary): replay applies
//! it in bulk without parsing or pricing it again (journal format 2).
//!
//! ```
//! use tollgate_engine::ledger::IngestResult;
//! use tollgate_engine::store::{Store, StoreOptions};
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
//! let r = store.ingest_json(br#"{"type":"tool","customerId":"acme","externalCostCents":"1.5","idempotencyKey":"k1","ts":"2026-01-01T10:00:00Z"}"#).unwrap();
//! assert!(matches!(r, IngestResult::Accepted(_)));
//! drop(store); // or a crash: the record is on disk already
//! let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
//! assert_eq!(store.ledger().customer_margin("acme").unwrap().unwrap().cost_cents.to_string(), "1.5");
//! assert_eq!(store.recovery().records, 1);
//! ```

#[cfg(test)]
mod faults;
mod files;
mod journal;
mod replay;

pub use files::CHECKPOINT_VERSION;
pub use journal::{JOURNAL_VERSION, MAX_ENTRY_BYTES};

use crate::engine::{Engine, EngineError, Published, Snapshot};
use crate::ledger::guard::{ReservationId, Settlement};
use crate::ledger::record::MAX_RECORD_BYTES;
use crate::ledger::{Clock, DEFAULT_DEDUPE_WINDOW_MS, IngestResult, Ledger, RejectKind, Rejection};
use crate::ratecard::{RateCard, RateCardError};
use files::{Manifest, io_err};
use journal::Entry;
use replay::{Applied, Target};
use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
#[cfg(not(test))]
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Called with the duration of every journal fsync (see [`Store::set_fsync_observer`]).
pub type FsyncObserver = Arc<dyn Fn(Duration) + Send + Sync>;

/// When the journal is fsync'ed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// Every entry is on disk (fsync'ed) before its result returns. Concurrent writers share
    /// fsyncs (group commit): while one fsync runs, the next batch gathers.
    Sync,
    /// Entries are written and fsync'ed by a background thread every `interval_ms`: a crash
    /// loses at most the results returned in the last `interval_ms` plus one write and fsync.
    Interval {
        /// Milliseconds between fsyncs (1..=60,000).
        interval_ms: u64,
    },
    /// Written by a background thread every 50 ms, never fsync'ed: the operating system
    /// decides when the bytes reach the disk. A process crash loses at most the last 50 ms; a
    /// power loss, anything not yet written back.
    None,
}

/// How often [`Durability::None`] writes its buffer to the file.
pub const NONE_WRITE_INTERVAL_MS: u64 = 50;
/// Bytes buffered (interval / none) before the background writer is woken early.
const FLUSH_SOON_BYTES: usize = 1 << 20;
/// Bytes buffered (interval / none) beyond which writers wait for the background writer.
pub const MAX_PENDING_BYTES: usize = 64 << 20;
/// Default journal size that triggers a background checkpoint.
pub const DEFAULT_CHECKPOINT_BYTES: u64 = 256 << 20;

/// Options of [`Store::open`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreOptions {
    /// When the journal is fsync'ed (default [`Durability::Sync`]).
    pub durability: Durability,
    /// The ledger's clock. A new directory records it; an existing one keeps the clock it was
    /// created with (replay must use it) and `Some` different clock is an error. `None`: the
    /// directory's clock, or [`Clock::System`] for a new one.
    pub clock: Option<Clock>,
    /// Dedupe window of a new directory's ledger (recorded in `store.json`; an existing
    /// directory keeps its own).
    pub dedupe_window_ms: u64,
    /// Journal bytes since the last checkpoint that start a background checkpoint; 0 = only
    /// explicit [`Store::checkpoint`] calls.
    pub checkpoint_bytes: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Sync,
            clock: None,
            dedupe_window_ms: DEFAULT_DEDUPE_WINDOW_MS,
            checkpoint_bytes: DEFAULT_CHECKPOINT_BYTES,
        }
    }
}

/// Why a store operation failed. A failed write applies nothing.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// Reading or writing a file failed (a full disk is `source.kind() == StorageFull`). For
    /// a write, the records were rejected and nothing was applied; the store keeps serving
    /// reads and accepts writes again once the disk does.
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another process (or another `Store` in this one) owns the directory.
    Locked(PathBuf),
    /// A file of the directory is damaged: recovery refuses to guess.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Byte offset of the first bad byte or entry.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The options do not fit the directory.
    Config(String),
    /// An fsync failed: what reached the disk is unknown, so the store takes no more writes.
    /// Reads keep working; reopen the directory to recover from what the disk holds.
    Poisoned(String),
    /// The registry or override entry is invalid; nothing was journaled.
    RateCard(RateCardError),
    /// The engine refused the change (history or override table full).
    Engine(EngineError),
    /// The store was closed.
    Closed,
    /// A panic (a bug) interrupted an update of the store: what was applied is unknown, so
    /// the store takes no more writes. Reopen the directory to recover from the journal.
    Panicked(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { op, path, source } => {
                write!(f, "{op} {}: {source}", path.display())
            }
            StoreError::Locked(p) => write!(
                f,
                "{} is in use by another process (or another open store): one process owns a data directory",
                p.display()
            ),
            StoreError::Corrupt {
                path,
                offset,
                reason,
            } => write!(f, "{} at byte {offset}: {reason}", path.display()),
            StoreError::Config(s) => f.write_str(s),
            StoreError::Poisoned(s) => write!(
                f,
                "the journal is not writable after a failed fsync ({s}); reopen the directory"
            ),
            StoreError::RateCard(e) => write!(f, "{e}"),
            StoreError::Engine(e) => write!(f, "{e}"),
            StoreError::Closed => f.write_str("the store is closed"),
            StoreError::Panicked(s) => write!(
                f,
                "the store refuses further writes: a panic interrupted an update ({s}); reopen the directory"
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl StoreError {
    /// A copy for every writer of a failed batch (`io::Error` is not `Clone`).
    fn duplicate(&self) -> StoreError {
        match self {
            StoreError::Io { op, path, source } => StoreError::Io {
                op,
                path: path.clone(),
                source: std::io::Error::new(source.kind(), source.to_string()),
            },
            StoreError::Locked(p) => StoreError::Locked(p.clone()),
            StoreError::Corrupt {
                path,
                offset,
                reason,
            } => StoreError::Corrupt {
                path: path.clone(),
                offset: *offset,
                reason: reason.clone(),
            },
            StoreError::Config(s) => StoreError::Config(s.clone()),
            StoreError::Poisoned(s) => StoreError::Poisoned(s.clone()),
            StoreError::Panicked(s) => StoreError::Panicked(s.clone()),
            StoreError::RateCard(e) => StoreError::RateCard(e.clone()),
            StoreError::Engine(e) => StoreError::Engine(e.clone()),
            StoreError::Closed => StoreError::Closed,
        }
    }
}

/// A torn tail recovery cut off: the end of the last segment that was not a whole entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    /// The segment file.
    pub path: PathBuf,
    /// Where the whole entries end (the file is cut here).
    pub offset: u64,
    /// Bytes after `offset`.
    pub bytes_cut: u64,
    /// What was wrong with the bytes at `offset`.
    pub reason: String,
}

/// What recovery did when the store was opened (or would do: [`Store::check`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The checkpoint recovery started from (its segment number), if any.
    pub checkpoint: Option<u64>,
    /// The journal segments replayed after it.
    pub segments: Vec<u64>,
    /// Journal entries replayed.
    pub entries: u64,
    /// Of which ledger records.
    pub records: u64,
    /// The torn tail cut off (or that would be), if any.
    pub torn_tail: Option<TornTail>,
}

/// A published registry in the store's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardInfo {
    /// When the card takes effect (epoch ms).
    pub effective_from_ms: i64,
    /// SHA-256 of the registry file (hex); the file is `DIR/cards/<content>.json`.
    pub content: String,
}

/// What [`Store::checkpoint`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The checkpoint's segment number: it holds everything before this segment.
    pub segment: u64,
    /// Size of the checkpoint file.
    pub bytes: u64,
    /// Journal entries folded into it.
    pub entries: u64,
    /// How long each step took.
    pub timings: CheckpointTimings,
}

/// How long each step of a [`Store::checkpoint`] took, in the order they run. Only `switch`
/// holds writers; the other steps run beside them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointTimings {
    /// Creating the next journal segment file (durable before the switch).
    pub prepare: Duration,
    /// Switching the journal to the new segment: writing what is buffered, fsync of the
    /// closed segment, the swap of file handles. Writers that need the journal file wait.
    pub switch: Duration,
    /// Rebuilding the state from the previous checkpoint and the closed segments, beside the
    /// live state.
    pub rebuild: Duration,
    /// Encoding the rebuilt state.
    pub encode: Duration,
    /// Writing the checkpoint file (write, fsync, rename, fsync of the directory).
    pub write: Duration,
    /// Removing the segments and checkpoints it replaces, fsync of the directory, freeing
    /// the rebuilt state.
    pub cleanup: Duration,
}

struct FileState {
    file: File,
    segment: u64,
    /// Bytes of the file that are whole entries (where a failed write is cut back to).
    len: u64,
}

#[derive(Default)]
struct Writer {
    /// Encoded entries not yet written.
    buf: Vec<u8>,
    /// Entries in `buf` (sync mode: not yet applied).
    buf_entries: u64,
    /// Sync mode: publishes waiting in `buf`, by content hash.
    prepared: HashMap<[u8; 32], Arc<Snapshot>>,
    /// Sequence number of the first entry in `buf` (sync mode).
    buf_first: u64,
    /// Sequence number of the next entry.
    next_seq: u64,
    /// Sync mode: results not yet collected, by sequence number.
    results: HashMap<u64, Result<Applied, StoreError>>,
    /// Sync mode: a leader is writing and fsyncing a batch.
    leader: bool,
    /// Sync mode: the sequence number of the first entry not yet applied (or failed). A
    /// batch is applied once every entry before it is: in journal order, while the next
    /// batch is already being written and fsync'ed.
    applied: u64,
    /// Interval / none: the last background write failed; writes are rejected until one
    /// succeeds.
    failed: Option<StoreError>,
    poisoned: Option<String>,
    /// A panic interrupted an update (in the journal leader, or while this lock was held):
    /// writes are refused until the directory is reopened.
    panicked: Option<String>,
    closed: bool,
}

struct Shared {
    /// Injected I/O errors (unit tests only).
    #[cfg(test)]
    faults: faults::Faults,
    dir: PathBuf,
    engine: Engine,
    ledger: Ledger,
    durability: Durability,
    checkpoint_bytes: u64,
    /// The directory lock, held while the store is open.
    _lock: File,
    file: Mutex<FileState>,
    w: Mutex<Writer>,
    /// Writers wait here for their batch (sync) or for buffer space (interval / none).
    done: Condvar,
    /// The background writer waits here.
    wake: Condvar,
    manifest: Mutex<Manifest>,
    checkpointing: Mutex<()>,
    auto_checkpoint: AtomicBool,
    /// Set when a panic interrupted the journal leader (see `Writer::panicked`).
    panicked: AtomicBool,
    /// Journal bytes written since the last checkpoint.
    since_checkpoint: AtomicU64,
    checkpoint_error: Mutex<Option<String>>,
    /// Told the duration of every journal fsync, once set.
    fsync_observer: OnceLock<FsyncObserver>,
}

/// An engine and ledger on a data directory. See the [module documentation](self).
///
/// `Send + Sync`: share it between threads (`Arc<Store>`); concurrent writers share fsyncs.
/// Change state only through the store's methods: a change made on [`Store::ledger`] or
/// [`Store::engine`] directly is not journaled and is lost on restart.
pub struct Store {
    shared: Arc<Shared>,
    recovery: RecoveryReport,
    background: Option<JoinHandle<()>>,
    checkpointer: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.shared.dir)
            .field("durability", &self.shared.durability)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Locks the writer state. A panic while it was held (the lock is poisoned) leaves the
/// writer refusing writes ([`StoreError::Panicked`]) instead of carrying on with state the
/// panic may have left half-updated.
fn lock_writer(m: &Mutex<Writer>) -> MutexGuard<'_, Writer> {
    m.lock().unwrap_or_else(|poisoned| {
        let mut w = poisoned.into_inner();
        w.panicked
            .get_or_insert_with(|| "while the journal writer was locked".to_string());
        w
    })
}

/// Marks the store as panicked when dropped during a panic (the journal leader: a batch
/// journaled but not applied, or applied in part), and wakes the writers waiting for it.
struct PanicMarker<'a> {
    shared: &'a Shared,
    what: &'static str,
}

impl Drop for PanicMarker<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut w = lock_writer(&self.shared.w);
            w.panicked.get_or_insert_with(|| self.what.to_string());
            self.shared.panicked.store(true, Ordering::Relaxed);
            self.shared.done.notify_all();
        }
    }
}

/// Nice value of the thread that builds a checkpoint: the lowest. It matters only where the
/// thread could not enter `SCHED_IDLE` (see [`lower_priority`]).
#[cfg(target_os = "linux")]
const CHECKPOINT_NICE: i32 = 19;

/// Puts the calling thread in the `SCHED_IDLE` scheduling class, then lowers its nice value to
/// [`CHECKPOINT_NICE`] (Linux: both are per thread). Best effort: a refusal leaves the
/// priority as it was.
///
/// Why `SCHED_IDLE` and not only nice 19: the scheduler (EEVDF, Linux 6.6+) lets the task on
/// a CPU finish its time slice (~3 ms) before a woken task of a higher weight preempts it. A
/// writer that blocks for a few microseconds (a contended lock, a page fault) hands its CPU
/// to the nice-19 checkpoint thread and, once woken, waits up to that slice for it back: the
/// multi-millisecond ingest stalls of a checkpoint. A woken normal task always preempts a
/// `SCHED_IDLE` task at once.
#[cfg(target_os = "linux")]
fn lower_priority() {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let _ = set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Min,
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
    );
    let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), CHECKPOINT_NICE);
}

/// Other systems: the priority is left as it is.
#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

fn create_segment(dir: &Path, n: u64) -> Result<File, StoreError> {
    let path = dir.join(journal::segment_name(n));
    files::write_atomic(&path, &journal::header(n))?;
    open_segment(&path)
}

fn open_segment(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| io_err("open journal", path, e))
}

/// Cuts a segment back to `end`, where its whole entries end, and syncs it.
fn cut_torn_tail(path: &Path, end: u64) -> Result<(), StoreError> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_err("open journal", path, e))?;
    f.set_len(end)
        .and_then(|_| f.sync_all())
        .map_err(|e| io_err("cut the torn tail of", path, e))
}

fn lock_dir(dir: &Path) -> Result<File, StoreError> {
    let path = dir.join("LOCK");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_err("open", &path, e))?;
    // A lock just released can still be held for a moment by a process that forked while it
    // was open (the child's copy of the descriptor lives until it execs): retry for a bounded
    // time before reporting the directory as in use.
    for attempt in 0..=LOCK_RETRIES {
        match f.try_lock() {
            Ok(()) => return Ok(f),
            Err(std::fs::TryLockError::WouldBlock) if attempt < LOCK_RETRIES => {
                std::thread::sleep(std::time::Duration::from_millis(LOCK_RETRY_MS));
            }
            Err(std::fs::TryLockError::WouldBlock) => break,
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err("lock", &path, e)),
        }
    }
    Err(StoreError::Locked(dir.to_path_buf()))
}

/// How often, and how far apart, [`lock_dir`] retries a directory lock held by someone else
/// (250 ms in all) before it reports [`StoreError::Locked`].
const LOCK_RETRIES: u32 = 25;
const LOCK_RETRY_MS: u64 = 10;

/// Reads (or, when `create`, writes) the meta file: the clock and dedupe window the
/// directory's journal was written with.
fn settle_meta(
    dir: &Path,
    wanted: Option<Clock>,
    window_ms: u64,
    create: bool,
) -> Result<files::Meta, StoreError> {
    let path = dir.join("store.json");
    match fs::read(&path) {
        Ok(bytes) => {
            let have = files::parse_meta(&bytes).map_err(|reason| StoreError::Corrupt {
                path: path.clone(),
                offset: 0,
                reason,
            })?;
            match wanted {
                Some(w) if w != have.clock => Err(StoreError::Config(format!(
                    "{} was created with clock {:?}; it cannot be opened with {w:?}",
                    dir.display(),
                    have.clock
                ))),
                _ => Ok(have),
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let meta = files::Meta {
                clock: wanted.unwrap_or_default(),
                window_ms,
            };
            files::write_atomic(&path, files::meta_json(&meta).as_bytes())?;
            Ok(meta)
        }
        Err(e) => Err(io_err("read", &path, e)),
    }
}

fn report_of(r: &replay::Replayed) -> RecoveryReport {
    RecoveryReport {
        checkpoint: r.checkpoint,
        segments: r.segments.clone(),
        entries: r.entries,
        records: r.records,
        torn_tail: r.torn.clone(),
    }
}

impl Store {
    /// Opens (creating if needed) the data directory `dir`, takes its lock, and recovers: the
    /// newest checkpoint, then the journal after it. A torn tail (the end of the last segment
    /// that is not a whole entry, as a crash mid-write leaves) is cut off and reported in
    /// [`Store::recovery`]; damage anywhere else is [`StoreError::Corrupt`] with the offset.
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Store, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        if let Durability::Interval { interval_ms } = options.durability
            && !(1..=60_000).contains(&interval_ms)
        {
            return Err(StoreError::Config(format!(
                "interval_ms {interval_ms} is out of range 1..=60000"
            )));
        }
        fs::create_dir_all(&dir).map_err(|e| io_err("create directory", &dir, e))?;
        let lock_file = lock_dir(&dir)?;
        let meta = settle_meta(&dir, options.clock, options.dedupe_window_ms, true)?;
        let r = replay::replay(&dir, meta.clock, meta.window_ms, None)?;
        let recovery = report_of(&r);
        let file = match r.last {
            // A segment of an older format is closed as it is: this build's entries go to a
            // new segment of the current format (docs/DECISIONS.md, journal format 2).
            Some((n, _)) if r.last_version < journal::JOURNAL_VERSION => {
                if let Some(t) = &r.torn {
                    cut_torn_tail(&t.path, t.offset)?;
                }
                FileState {
                    file: create_segment(&dir, n + 1)?,
                    segment: n + 1,
                    len: journal::HEADER_BYTES as u64,
                }
            }
            Some((n, end)) => {
                let path = dir.join(journal::segment_name(n));
                if r.torn.is_some() {
                    cut_torn_tail(&path, end)?;
                }
                FileState {
                    file: open_segment(&path)?,
                    segment: n,
                    len: end,
                }
            }
            None => {
                let n = r.checkpoint.unwrap_or(1);
                FileState {
                    file: create_segment(&dir, n)?,
                    segment: n,
                    len: journal::HEADER_BYTES as u64,
                }
            }
        };
        let since = file.len;
        r.ledger.mark_journaled();
        let shared = Arc::new(Shared {
            dir,
            engine: r.engine,
            ledger: r.ledger,
            durability: options.durability,
            checkpoint_bytes: options.checkpoint_bytes,
            _lock: lock_file,
            file: Mutex::new(file),
            w: Mutex::new(Writer::default()),
            done: Condvar::new(),
            wake: Condvar::new(),
            manifest: Mutex::new(r.manifest),
            checkpointing: Mutex::new(()),
            auto_checkpoint: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
            since_checkpoint: AtomicU64::new(since),
            checkpoint_error: Mutex::new(None),
            fsync_observer: OnceLock::new(),
            #[cfg(test)]
            faults: faults::Faults::default(),
        });
        let background = match options.durability {
            Durability::Sync => None,
            Durability::Interval { interval_ms } => {
                let s = shared.clone();
                Some(std::thread::spawn(move || s.background(interval_ms, true)))
            }
            Durability::None => {
                let s = shared.clone();
                Some(std::thread::spawn(move || {
                    s.background(NONE_WRITE_INTERVAL_MS, false)
                }))
            }
        };
        Ok(Store {
            shared,
            recovery,
            background,
            checkpointer: Mutex::new(None),
        })
    }

    /// What recovery did when the store was opened.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// Verifies a data directory without changing it: what recovery would replay and cut.
    /// Read-only: it takes no lock, so it works beside a running owner without blocking or
    /// disturbing it (the report is then a snapshot, and a torn tail may be a write in
    /// progress; see [`Store::in_use`]). A checkpoint that removes files while they are read
    /// makes it start over (a few times at most). Returns the report and the recovered ledger
    /// (for totals).
    pub fn check(dir: impl AsRef<Path>) -> Result<(RecoveryReport, Ledger), StoreError> {
        let dir = dir.as_ref();
        if !dir.join("store.json").exists() {
            return Err(StoreError::Config(format!(
                "{} is not a tollgate data directory (no store.json)",
                dir.display()
            )));
        }
        let meta = settle_meta(dir, None, DEFAULT_DEDUPE_WINDOW_MS, false)?;
        let mut attempt = 0;
        loop {
            match replay::replay(dir, meta.clock, meta.window_ms, None) {
                Ok(r) => return Ok((report_of(&r), r.ledger)),
                // A live owner's checkpoint deleted a file between listing and reading it.
                Err(StoreError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound && attempt < 5 =>
                {
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// True while a process (or a [`Store`] in this one) owns the directory. Probes the lock
    /// without waiting and without holding it (a shared lock taken and released at once
    /// when the directory is free), so it never blocks an owner.
    pub fn in_use(dir: impl AsRef<Path>) -> Result<bool, StoreError> {
        let path = dir.as_ref().join("LOCK");
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("open", &path, e)),
        };
        match f.try_lock_shared() {
            Ok(()) => {
                let _ = f.unlock();
                Ok(false)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(true),
            Err(std::fs::TryLockError::Error(e)) => Err(io_err("lock", &path, e)),
        }
    }

    /// The engine (pricing, snapshots). Read through it; change it through the store.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    /// The ledger (margins, reports, state). Read through it; change it through the store.
    pub fn ledger(&self) -> &Ledger {
        &self.shared.ledger
    }

    /// True once a panic interrupted an update of the store: every write is refused from then
    /// on ([`StoreError::Panicked`]) until the directory is reopened. Lock-free.
    pub fn is_panicked(&self) -> bool {
        self.shared.panicked.load(Ordering::Relaxed) || self.shared.w.is_poisoned()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The durability mode.
    pub fn durability(&self) -> Durability {
        self.shared.durability
    }

    /// Applies one JSON Lines record (any type the ledger reads) and journals it. A record
    /// that does not parse is rejected and not journaled. `Err` means the journal could not
    /// be written: nothing was applied.
    pub fn ingest_json(&self, line: &[u8]) -> Result<IngestResult, StoreError> {
        let mut out = self.ingest_batch(std::iter::once(line))?;
        Ok(out.pop().unwrap_or(IngestResult::Duplicate))
    }

    /// Applies many records with one journal write (and, in sync mode, one shared fsync):
    /// the way to reach high durable throughput. Results are in input order. `Err`: nothing
    /// of the batch was applied.
    pub fn ingest_batch<'a>(
        &self,
        lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<IngestResult>, StoreError> {
        let now_ms = self.shared.ledger.clock().now_ms();
        if self.shared.durability != Durability::Sync {
            let out = self.shared.ingest_buffered(lines, now_ms)?;
            self.maybe_checkpoint();
            return Ok(out);
        }
        let mut buf = Vec::new();
        // Index into the results, or the parse rejection.
        let mut slots: Vec<Result<usize, IngestResult>> = Vec::new();
        let mut n = 0;
        for line in lines {
            match precheck(line) {
                Ok(()) => {
                    journal::encode(&Entry::Record { now_ms, line }, &mut buf);
                    slots.push(Ok(n));
                    n += 1;
                }
                Err(r) => slots.push(Err(r)),
            }
        }
        let mut applied = if n == 0 {
            Vec::new()
        } else {
            self.submit(buf, n as u64, None)?
        };
        let mut out = Vec::with_capacity(slots.len());
        for s in slots {
            out.push(match s {
                Ok(i) => match std::mem::replace(&mut applied[i], Applied::Unoverride(false)) {
                    Applied::Ingest(r) => r,
                    other => unreachable!("a record entry applied as {other:?}"),
                },
                Err(r) => r,
            });
        }
        Ok(out)
    }

    /// [`Ledger::settle`] on a data directory: tracks the real usage of a reserved call (one
    /// JSON event line) through the journal, like [`Store::ingest_json`], then releases the
    /// reservation (reservations describe calls in flight in this process and are not
    /// state). The event must be for the reservation's customer, else it is rejected (field
    /// `customerId`) and nothing changes; a rejected event keeps the reservation. `Err`
    /// means the journal could not be written: nothing was applied and the reservation is
    /// kept.
    ///
    /// ```
    /// use tollgate_engine::ledger::guard::{AllowRequest, Estimate};
    /// use tollgate_engine::money::Cents;
    /// use tollgate_engine::store::{Store, StoreOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    /// let mut req = AllowRequest::new("acme");
    /// req.estimate = Some(Estimate::Cents(Cents::from_cents_literal("60", true).unwrap()));
    /// let d = store.ledger().allow_and_reserve(store.engine(), &req, None).unwrap();
    /// let s = store
    ///     .settle(d.reservation.unwrap(), br#"{"type":"tool","customerId":"acme","externalCostCents":"70"}"#)
    ///     .unwrap();
    /// assert_eq!(s.released_cents.unwrap().to_string(), "60");
    /// drop(store); // or a crash: the settled event is on disk already
    /// let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    /// assert_eq!(store.ledger().customer_margin("acme").unwrap().unwrap().cost_cents.to_string(), "70");
    /// ```
    pub fn settle(
        &self,
        reservation: ReservationId,
        event_line: &[u8],
    ) -> Result<Settlement, StoreError> {
        let ledger = self.ledger();
        if let Some(owner) = ledger.reservation_customer(reservation) {
            // An event that does not parse is rejected by the ingest below, with its error.
            if let Ok(e) = crate::event::EventRef::from_json(event_line)
                && e.view().customer_id != Some(&*owner)
            {
                return Ok(Settlement {
                    result: IngestResult::Rejected(Rejection {
                        kind: RejectKind::Invalid,
                        field: "customerId",
                        reason: format!(
                            "reservation {reservation} belongs to customer \"{}\"",
                            crate::event::clip(&owner)
                        ),
                    }),
                    released_cents: None,
                });
            }
        }
        let result = self.ingest_json(event_line)?;
        let released_cents = match result {
            IngestResult::Rejected(_) => None,
            _ => ledger.release(reservation),
        };
        Ok(Settlement {
            result,
            released_cents,
        })
    }

    /// Validates a registry file whole, stores it content-addressed in the data directory,
    /// journals and publishes it effective from `effective_from_ms`. A bad file is rejected
    /// with the registry's own error and nothing changes. The result carries the snapshot id
    /// and the registry's warnings, as [`Engine::publish_registry`]'s.
    pub fn publish_registry(
        &self,
        bytes: &[u8],
        effective_from_ms: i64,
    ) -> Result<Published, StoreError> {
        let card = RateCard::parse(bytes).map_err(StoreError::RateCard)?;
        let warnings = card.warnings();
        let snapshot = Arc::new(Snapshot::build(Arc::new(card), effective_from_ms));
        let content = files::store_card(&self.shared.dir, bytes)?;
        let mut buf = Vec::new();
        journal::encode(
            &Entry::Publish {
                effective_from_ms,
                content,
            },
            &mut buf,
        );
        let mut out = self.submit(buf, 1, Some((content, snapshot)))?;
        match out.pop() {
            Some(Applied::Published(r)) => r
                .map(|snapshot| Published { snapshot, warnings })
                .map_err(StoreError::Engine),
            other => unreachable!("a publish applied as {other:?}"),
        }
    }

    /// [`Engine::set_override`], journaled.
    pub fn set_override(&self, model: &str, entry: &[u8]) -> Result<(), StoreError> {
        crate::ratecard::parse_single_entry(model, entry).map_err(StoreError::RateCard)?;
        if entry.len() > MAX_RECORD_BYTES {
            return Err(StoreError::Config(format!(
                "override entry is {} bytes; the limit is {MAX_RECORD_BYTES}",
                entry.len()
            )));
        }
        let mut buf = Vec::new();
        journal::encode(&Entry::Override { model, entry }, &mut buf);
        match self.submit(buf, 1, None)?.pop() {
            Some(Applied::Override(r)) => r.map_err(StoreError::Engine),
            other => unreachable!("an override applied as {other:?}"),
        }
    }

    /// [`Engine::remove_override`], journaled; `true` if there was one.
    pub fn remove_override(&self, model: &str) -> Result<bool, StoreError> {
        if model.is_empty() || model.len() > MAX_RECORD_BYTES {
            return Ok(false);
        }
        let mut buf = Vec::new();
        journal::encode(&Entry::Unoverride { model }, &mut buf);
        match self.submit(buf, 1, None)?.pop() {
            Some(Applied::Unoverride(r)) => Ok(r),
            other => unreachable!("an override removal applied as {other:?}"),
        }
    }

    /// The published registries, oldest `effectiveFrom` first (the embedded card, which is
    /// in force before the first of them, is not listed).
    pub fn history(&self) -> Vec<CardInfo> {
        lock(&self.shared.manifest)
            .cards
            .iter()
            .map(|(eff, sha)| CardInfo {
                effective_from_ms: *eff,
                content: files::hex(sha),
            })
            .collect()
    }

    /// The overrides in force: (model as given, entry JSON), by lower-cased model name.
    pub fn overrides(&self) -> Vec<(String, Vec<u8>)> {
        lock(&self.shared.manifest)
            .overrides
            .values()
            .cloned()
            .collect()
    }

    /// The bytes of a published registry (by the hex content id of [`CardInfo::content`]).
    pub fn card_bytes(&self, content: &str) -> Result<Vec<u8>, StoreError> {
        let sha = lock(&self.shared.manifest)
            .cards
            .values()
            .find(|s| files::hex(*s) == content)
            .copied()
            .ok_or_else(|| StoreError::Config(format!("no published rate card {content}")))?;
        files::load_card(&self.shared.dir, &sha)
    }

    /// Writes everything buffered and fsyncs it now (a no-op in sync mode).
    pub fn flush(&self) -> Result<(), StoreError> {
        match self.shared.durability {
            Durability::Sync => Ok(()),
            _ => self.shared.flush_buffer(true),
        }
    }

    /// Writes a checkpoint and drops the journal before it. Ingest is held only while the
    /// journal switches to a new segment file (a swap of file handles); the checkpoint itself
    /// is built by replaying the closed segments onto the previous checkpoint, beside the live
    /// state, so the caller of this method waits, writers do not. That build runs on a thread
    /// of its own (`tollgate-checkpoint`) at the lowest CPU priority (on Linux the
    /// `SCHED_IDLE` class at nice 19: a writer that wakes up takes the CPU from it at once),
    /// and it reads and writes its files at most 128 KiB per system call (a long copy inside
    /// the kernel would keep the CPU from a woken writer); on a busy machine the scheduler
    /// runs writers first and the checkpoint takes longer instead.
    /// [`CheckpointInfo::timings`] tells how long each step took.
    pub fn checkpoint(&self) -> Result<CheckpointInfo, StoreError> {
        self.shared.checkpoint()
    }

    /// Whether the store takes writes now: `Err` when it was closed, when an fsync failed
    /// ([`StoreError::Poisoned`]: reopen the directory) or, in interval / none mode, when the
    /// last background write failed (the error; writes resume once a retry succeeds). A sync
    /// mode write that fails (a full disk) leaves nothing behind to report here: it rejects its
    /// own batch only.
    ///
    /// ```
    /// use tollgate_engine::store::{Store, StoreOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    /// assert!(store.writable().is_ok());
    /// ```
    pub fn writable(&self) -> Result<(), StoreError> {
        let w = lock_writer(&self.shared.w);
        Shared::check_writable(&w)?;
        match &w.failed {
            Some(e) => Err(e.duplicate()),
            None => Ok(()),
        }
    }

    /// Sets the function told the duration of every journal fsync (a write's fsync in
    /// [`Durability::Sync`], the background fsync in [`Durability::Interval`]; failed ones
    /// included), for latency metrics. It runs on the writing thread while the journal file is
    /// held, so it must be quick (update a histogram, nothing more). Once per store: `false`
    /// when one was set already (the first stays).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use tollgate_engine::store::{Store, StoreOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path(), StoreOptions::default()).unwrap(); // sync mode
    /// let fsyncs = Arc::new(AtomicU64::new(0));
    /// let seen = fsyncs.clone();
    /// assert!(store.set_fsync_observer(Arc::new(move |_took| { seen.fetch_add(1, Ordering::Relaxed); })));
    /// store.ingest_json(br#"{"type":"tool","customerId":"acme","externalCostCents":"1"}"#).unwrap();
    /// assert_eq!(fsyncs.load(Ordering::Relaxed), 1);
    /// ```
    pub fn set_fsync_observer(&self, observer: FsyncObserver) -> bool {
        self.shared.fsync_observer.set(observer).is_ok()
    }

    /// The error of the last background checkpoint, if it failed.
    pub fn checkpoint_error(&self) -> Option<String> {
        lock(&self.shared.checkpoint_error).clone()
    }

    /// Flushes, fsyncs and releases the directory. Dropping the store does the same and
    /// ignores errors.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), StoreError> {
        if let Some(h) = lock(&self.checkpointer).take() {
            let _ = h.join();
        }
        {
            let mut w = lock_writer(&self.shared.w);
            if w.closed {
                return Ok(());
            }
            w.closed = true;
        }
        self.shared.wake.notify_all();
        self.shared.done.notify_all();
        if let Some(h) = self.background.take() {
            let _ = h.join();
        }
        // Whatever the background writer left (it flushes on close), then one last fsync.
        self.shared.flush_buffer(true)
    }

    fn submit(
        &self,
        buf: Vec<u8>,
        n: u64,
        prepared: Option<([u8; 32], Arc<Snapshot>)>,
    ) -> Result<Vec<Applied>, StoreError> {
        let out = self.shared.submit(buf, n, prepared)?;
        self.maybe_checkpoint();
        Ok(out)
    }

    /// Starts a background checkpoint when the journal has grown past the threshold.
    fn maybe_checkpoint(&self) {
        let s = &self.shared;
        if s.checkpoint_bytes == 0
            || s.since_checkpoint.load(Ordering::Relaxed) < s.checkpoint_bytes
            || s.auto_checkpoint.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let shared = s.clone();
        let h = std::thread::spawn(move || {
            let r = shared.checkpoint();
            *lock(&shared.checkpoint_error) = r.err().map(|e| e.to_string());
            shared.auto_checkpoint.store(false, Ordering::Release);
        });
        if let Some(old) = lock(&self.checkpointer).replace(h) {
            let _ = old.join();
        }
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// Cheap checks before a line is journaled: the size limit and that it parses. A line that
/// fails is rejected here, never journaled.
fn precheck(line: &[u8]) -> Result<(), IngestResult> {
    if line.len() <= MAX_RECORD_BYTES && crate::event::EventRef::from_json(line).is_ok() {
        return Ok(());
    }
    match crate::ledger::record::Record::from_json(line) {
        Ok(_) => Ok(()),
        Err(e) => Err(IngestResult::Rejected(Rejection {
            kind: RejectKind::Invalid,
            field: e.field,
            reason: e.reason,
        })),
    }
}

impl Shared {
    fn target<'a>(&'a self, manifest: &'a mut Manifest) -> Target<'a> {
        Target {
            dir: &self.dir,
            engine: &self.engine,
            ledger: &self.ledger,
            manifest,
        }
    }

    /// Journals `n` encoded entries and applies them, in journal order with every other
    /// writer's. Sync mode: the entries are on disk before this returns; a write error
    /// applies none of them.
    fn submit(
        &self,
        buf: Vec<u8>,
        n: u64,
        prepared: Option<([u8; 32], Arc<Snapshot>)>,
    ) -> Result<Vec<Applied>, StoreError> {
        match self.durability {
            Durability::Sync => self.submit_sync(buf, n, prepared),
            _ => self.submit_buffered(buf, prepared),
        }
    }

    fn check_writable(w: &Writer) -> Result<(), StoreError> {
        if w.closed {
            return Err(StoreError::Closed);
        }
        if let Some(p) = &w.poisoned {
            return Err(StoreError::Poisoned(p.clone()));
        }
        if let Some(p) = &w.panicked {
            return Err(StoreError::Panicked(p.clone()));
        }
        Ok(())
    }

    fn submit_sync(
        &self,
        buf: Vec<u8>,
        n: u64,
        prepared: Option<([u8; 32], Arc<Snapshot>)>,
    ) -> Result<Vec<Applied>, StoreError> {
        let mut w = lock_writer(&self.w);
        Self::check_writable(&w)?;
        if w.buf.is_empty() {
            w.buf = buf;
        } else {
            w.buf.extend_from_slice(&buf);
        }
        let first = w.next_seq;
        w.next_seq += n;
        w.buf_entries += n;
        if let Some((sha, s)) = prepared {
            w.prepared.insert(sha, s);
        }
        let mut out = Vec::with_capacity(n as usize);
        loop {
            if let Some(r) = w.results.remove(&(first + out.len() as u64)) {
                out.push(r);
                if out.len() as u64 == n {
                    return out.into_iter().collect();
                }
                continue;
            }
            if let Some(p) = &w.panicked {
                // The leader of this entry's batch panicked: its outcome is unknown.
                return Err(StoreError::Panicked(p.clone()));
            }
            if !w.leader && w.buf_first <= first {
                w = self.lead(w);
                continue;
            }
            w = self.done.wait(w).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Writes, fsyncs and applies the pending batch, then hands out its results. The journal
    /// is handed to the next leader as soon as this batch is on disk, so the next batch's
    /// write and fsync (waiting on the disk) overlap this batch's apply (on the CPU); batches
    /// still apply one at a time, in journal order.
    fn lead<'a>(&'a self, mut w: MutexGuard<'a, Writer>) -> MutexGuard<'a, Writer> {
        w.leader = true;
        let batch = std::mem::take(&mut w.buf);
        let first = w.buf_first;
        let count = w.buf_entries;
        let mut prepared = std::mem::take(&mut w.prepared);
        w.buf_first = w.next_seq;
        w.buf_entries = 0;
        // After a failed fsync nothing more is written: what the disk holds is unknown.
        let poisoned = w.poisoned.clone();
        drop(w);
        // A panic from here on (writing, or applying in part) marks the store as panicked.
        let marker = PanicMarker {
            shared: self,
            what: "in the journal leader",
        };
        let written = match poisoned {
            Some(p) => Err(StoreError::Poisoned(p)),
            None => self.write_batch(&batch, true),
        };
        #[cfg(any(test, feature = "test-hooks"))]
        if written.is_ok() {
            crate::test_hooks::hit(crate::test_hooks::Site::StoreLead);
        }
        let mut w = lock_writer(&self.w);
        if let Err(StoreError::Poisoned(p)) = &written {
            w.poisoned.get_or_insert_with(|| p.clone());
        }
        w.leader = false;
        self.done.notify_all();
        while w.applied < first {
            if let Some(p) = w.panicked.clone() {
                // An earlier batch's leader panicked: this batch's turn to apply never comes.
                for i in 0..count {
                    w.results
                        .insert(first + i, Err(StoreError::Panicked(p.clone())));
                }
                self.done.notify_all();
                drop(marker);
                return w;
            }
            w = self.done.wait(w).unwrap_or_else(PoisonError::into_inner);
        }
        drop(w);
        let mut results: Vec<Result<Applied, StoreError>> = Vec::with_capacity(count as usize);
        match &written {
            Ok(()) => {
                let mut m = lock(&self.manifest);
                let mut t = self.target(&mut m);
                let mut pos = 0;
                while pos < batch.len() {
                    let (e, len) = match journal::decode(&batch[pos..]) {
                        Ok(x) => x,
                        Err(bad) => unreachable!("an entry this process encoded: {bad}"),
                    };
                    let snap = match &e {
                        Entry::Publish { content, .. } => prepared.remove(content),
                        _ => None,
                    };
                    results.push(replay::apply(&mut t, &e, snap));
                    pos += len;
                }
            }
            Err(e) => {
                for _ in 0..count {
                    results.push(Err(e.duplicate()));
                }
            }
        }
        drop(marker);
        let mut w = lock_writer(&self.w);
        for (i, r) in results.into_iter().enumerate() {
            w.results.insert(first + i as u64, r);
        }
        w.applied = first + count;
        self.done.notify_all();
        w
    }

    /// Appends `batch` to the current segment (and fsyncs when `fsync`). A failed write is
    /// cut back so the file ends with whole entries; a failed fsync poisons the journal.
    fn write_batch(&self, batch: &[u8], fsync: bool) -> Result<(), StoreError> {
        let mut f = lock(&self.file);
        self.write_locked(&mut f, batch, fsync)
    }

    /// Interval / none: append to the buffer and apply, both under the writer lock (so the
    /// journal order is the order of application).
    fn submit_buffered(
        &self,
        buf: Vec<u8>,
        prepared: Option<([u8; 32], Arc<Snapshot>)>,
    ) -> Result<Vec<Applied>, StoreError> {
        let mut w = self.writable_buffer()?;
        let mut m = lock(&self.manifest);
        let mut t = self.target(&mut m);
        let mut out = Vec::new();
        let mut prepared = prepared;
        let mut pos = 0;
        while pos < buf.len() {
            let (e, len) = match journal::decode(&buf[pos..]) {
                Ok(x) => x,
                Err(bad) => unreachable!("an entry this process encoded: {bad}"),
            };
            let snap = match &e {
                Entry::Publish { .. } => prepared.take().map(|(_, s)| s),
                _ => None,
            };
            out.push(replay::apply(&mut t, &e, snap)?);
            pos += len;
        }
        drop(m);
        w.buf.extend_from_slice(&buf);
        if w.buf.len() >= FLUSH_SOON_BYTES {
            self.wake.notify_all();
        }
        Ok(out)
    }

    /// Interval / none: applies each record and journals the accepted ones, under the writer
    /// lock (so the journal order is the order of application). A record that is not
    /// accepted changed nothing and is not journaled.
    fn ingest_buffered<'a>(
        &self,
        lines: impl IntoIterator<Item = &'a [u8]>,
        now_ms: i64,
    ) -> Result<Vec<IngestResult>, StoreError> {
        let mut w = self.writable_buffer()?;
        let mut out = Vec::new();
        for line in lines {
            // An accepted event is journaled as booked (replay neither parses nor prices it
            // again); any other accepted record as its line.
            let mut booked = false;
            let buf = &mut w.buf;
            let r = self.ledger.ingest_json_booked(
                &self.engine,
                line,
                now_ms,
                Some(&mut |e| {
                    journal::encode(&Entry::Event(*e), buf);
                    booked = true;
                }),
            );
            if !booked && matches!(r, IngestResult::Accepted(_)) {
                journal::encode(&Entry::Record { now_ms, line }, &mut w.buf);
            }
            out.push(r);
        }
        if w.buf.len() >= FLUSH_SOON_BYTES {
            self.wake.notify_all();
        }
        Ok(out)
    }

    /// Interval / none: the writer lock once the buffer takes writes (not failed, not full).
    fn writable_buffer(&self) -> Result<MutexGuard<'_, Writer>, StoreError> {
        let mut w = lock_writer(&self.w);
        loop {
            Self::check_writable(&w)?;
            if let Some(e) = &w.failed {
                return Err(e.duplicate());
            }
            if w.buf.len() < MAX_PENDING_BYTES {
                return Ok(w);
            }
            self.wake.notify_all();
            w = self.done.wait(w).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Interval / none: the background writer.
    fn background(&self, interval_ms: u64, fsync: bool) {
        let interval = Duration::from_millis(interval_ms);
        loop {
            let closed = {
                let w = lock_writer(&self.w);
                let (w, _) = self
                    .wake
                    .wait_timeout_while(w, interval, |w| {
                        !w.closed && w.buf.len() < FLUSH_SOON_BYTES
                    })
                    .unwrap_or_else(PoisonError::into_inner);
                w.closed
            };
            let _ = self.flush_buffer(fsync);
            if closed {
                return;
            }
        }
    }

    /// Writes the buffer to the journal (and fsyncs). On failure the bytes go back to the
    /// front of the buffer and writers are refused until a later flush succeeds.
    fn flush_buffer(&self, fsync: bool) -> Result<(), StoreError> {
        // The file lock first: flushes (and segment switches) happen in buffer order.
        let mut f = lock(&self.file);
        let pending = std::mem::take(&mut lock_writer(&self.w).buf);
        self.done.notify_all();
        let r = self.write_locked(&mut f, &pending, fsync);
        let mut w = lock_writer(&self.w);
        match &r {
            Ok(()) => w.failed = None,
            Err(StoreError::Poisoned(p)) => w.poisoned = Some(p.clone()),
            Err(e) => {
                let mut back = pending;
                back.extend_from_slice(&w.buf);
                w.buf = back;
                w.failed = Some(e.duplicate());
            }
        }
        r
    }

    fn write_locked(&self, f: &mut FileState, batch: &[u8], fsync: bool) -> Result<(), StoreError> {
        let path = self.dir.join(journal::segment_name(f.segment));
        if !batch.is_empty() {
            #[cfg(test)]
            let written = self.faults.write(&f.file, batch);
            #[cfg(not(test))]
            let written = (&f.file).write_all(batch);
            if let Err(e) = written {
                if let Err(e2) = f.file.set_len(f.len) {
                    return Err(StoreError::Poisoned(format!(
                        "a write failed ({e}) and the journal could not be cut back ({e2})"
                    )));
                }
                return Err(io_err("write journal", &path, e));
            }
            f.len += batch.len() as u64;
            self.since_checkpoint
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
        }
        if fsync {
            let started = Instant::now();
            #[cfg(test)]
            let synced = self.faults.fsync(&f.file);
            #[cfg(not(test))]
            let synced = f.file.sync_data();
            if let Some(observe) = self.fsync_observer.get() {
                observe(started.elapsed());
            }
            if let Err(e) = synced {
                return Err(StoreError::Poisoned(format!(
                    "fsync {}: {e}",
                    path.display()
                )));
            }
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<CheckpointInfo, StoreError> {
        let _one = lock(&self.checkpointing);
        let mut timings = CheckpointTimings::default();
        let mut step = Instant::now();
        let mut lap = |d: &mut Duration| {
            let now = Instant::now();
            *d = now - step;
            step = now;
        };
        let next = lock(&self.file).segment + 1;
        // Made durable before the switch, so the switch itself is a swap.
        let new_file = create_segment(&self.dir, next)?;
        lap(&mut timings.prepare);
        {
            let mut f = lock(&self.file);
            if self.durability != Durability::Sync {
                let pending = std::mem::take(&mut lock_writer(&self.w).buf);
                if let Err(e) = self.write_locked(&mut f, &pending, false) {
                    let mut w = lock_writer(&self.w);
                    let mut back = pending;
                    back.extend_from_slice(&w.buf);
                    w.buf = back;
                    drop(f);
                    let _ = fs::remove_file(self.dir.join(journal::segment_name(next)));
                    return Err(e);
                }
            }
            // Sync mode: everything written is fsync'ed already; this finds nothing dirty.
            if let Err(e) = f.file.sync_data() {
                let msg = format!("fsync before a checkpoint: {e}");
                lock_writer(&self.w).poisoned = Some(msg.clone());
                return Err(StoreError::Poisoned(msg));
            }
            f.file = new_file;
            f.segment = next;
            f.len = journal::HEADER_BYTES as u64;
            self.since_checkpoint
                .store(journal::HEADER_BYTES as u64, Ordering::Relaxed);
        }
        lap(&mut timings.switch);
        // The rest runs beside the writers, on a thread of its own at the lowest CPU priority
        // (the caller waits for it): on a machine with fewer idle cores than busy threads,
        // the scheduler runs the writers first instead of queueing them behind the rebuild.
        let built = std::thread::scope(|scope| {
            let worker = std::thread::Builder::new()
                .name("tollgate-checkpoint".into())
                .spawn_scoped(scope, || {
                    lower_priority();
                    let mut t = timings;
                    self.build_checkpoint(next, &mut t).map(|r| (r, t))
                });
            match worker {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                // No thread to be had: build it on this one.
                Err(_) => {
                    let mut t = timings;
                    self.build_checkpoint(next, &mut t).map(|r| (r, t))
                }
            }
        });
        let ((bytes, entries), timings) = built?;
        Ok(CheckpointInfo {
            segment: next,
            bytes,
            entries,
            timings,
        })
    }

    /// The part of a checkpoint that runs beside the writers: rebuilds the state before
    /// segment `next` from the previous checkpoint and the closed segments, writes it, and
    /// removes what it replaces. Returns the file's size and the entries folded in.
    fn build_checkpoint(
        &self,
        next: u64,
        timings: &mut CheckpointTimings,
    ) -> Result<(u64, u64), StoreError> {
        let mut step = Instant::now();
        let mut lap = |d: &mut Duration| {
            let now = Instant::now();
            *d = now - step;
            step = now;
        };
        let clock = self.ledger.clock();
        let r = replay::replay(&self.dir, clock, self.ledger.dedupe_window_ms(), Some(next))?;
        lap(&mut timings.rebuild);
        let cp = files::Checkpoint {
            segment: next,
            state: r.ledger.state_bytes_checked(),
            manifest: r.manifest,
        };
        let bytes = files::encode_checkpoint(&cp);
        if cfg!(debug_assertions) {
            // The checkpoint commits the state: decode(encode(checkpoint)) == checkpoint.
            let back = files::decode_checkpoint(&bytes).expect("a checkpoint just encoded decodes");
            assert!(
                back.segment == cp.segment
                    && back.state == cp.state
                    && back.manifest == cp.manifest,
                "checkpoint: decode(encode(checkpoint)) differs from checkpoint"
            );
        }
        lap(&mut timings.encode);
        files::write_atomic(&self.dir.join(files::checkpoint_name(next)), &bytes)?;
        lap(&mut timings.write);
        let listing = replay::list(&self.dir)?;
        for n in listing.segments.iter().filter(|n| **n < next) {
            files::remove_file_bounded(&self.dir.join(journal::segment_name(*n)));
        }
        for n in listing.checkpoints.iter().filter(|n| **n < next) {
            files::remove_file_bounded(&self.dir.join(files::checkpoint_name(*n)));
        }
        files::sync_dir(&self.dir)?;
        let (len, entries) = (bytes.len() as u64, r.entries);
        drop((bytes, cp, r.engine, r.ledger));
        lap(&mut timings.cleanup);
        Ok((len, entries))
    }
}

const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Store>();
};

#[cfg(all(test, target_os = "linux"))]
mod priority_tests {
    /// Field `n` (1-based, as in proc(5)) of `/proc/thread-self/stat`.
    fn stat_field(n: usize) -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after_name = &stat[stat.rfind(')').unwrap() + 1..];
        // Fields 1 (pid) and 2 (comm) come before the name's closing parenthesis.
        after_name
            .split_whitespace()
            .nth(n - 3)
            .unwrap()
            .parse()
            .unwrap()
    }

    /// The nice value (field 19) and the scheduling policy (field 41; `SCHED_IDLE` is 5 in
    /// sched(7)'s `<sched.h>`, `SCHED_OTHER` 0) of the calling thread.
    fn nice_and_policy() -> (i64, i64) {
        (stat_field(19), stat_field(41))
    }

    #[test]
    fn the_checkpoint_thread_runs_in_sched_idle_at_nice_19_and_only_it() {
        let before = nice_and_policy();
        let worker = std::thread::spawn(|| {
            super::lower_priority();
            nice_and_policy()
        })
        .join()
        .unwrap();
        assert_eq!(worker, (19, 5));
        assert_eq!(
            nice_and_policy(),
            before,
            "the caller's priority is unchanged"
        );
        assert_eq!(before.1, 0, "the caller runs in SCHED_OTHER");
    }
}
