//! The background refresher: pulls a source now and then every interval (with jitter, so many
//! processes do not hit the registry at once) until stopped.

use super::{Source, SyncError, SyncOptions, SyncReport, pull};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;
use tollgate_engine::store::Store;

/// Default time between pulls: a day.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);
/// Default jitter: each wait is the interval plus up to this much more.
pub const DEFAULT_JITTER: Duration = Duration::from_secs(15 * 60);

type Callback = Box<dyn Fn(&Result<SyncReport, SyncError>) + Send>;

/// A running background refresher. Stops (and joins its thread) when dropped.
pub struct Refresher {
    stop: Arc<(Mutex<bool>, Condvar)>,
    last: Arc<Mutex<Option<Result<String, String>>>>,
    pulls: Arc<std::sync::atomic::AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Refresher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refresher")
            .field("pulls", &self.pulls())
            .finish()
    }
}

fn random_below(max: Duration) -> Duration {
    let nanos = max.as_nanos() as u64;
    if nanos == 0 {
        return Duration::ZERO;
    }
    // A randomly keyed hasher: a fresh random number without a dependency.
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    Duration::from_nanos(r % nanos)
}

impl Refresher {
    /// Starts pulling `source` into `store`: once now, then every `interval` plus a random
    /// part of `jitter`. `on_pull` (optional) sees every result (e.g. to log the diff).
    pub fn start(
        store: Arc<Store>,
        source: Source,
        options: SyncOptions,
        interval: Duration,
        jitter: Duration,
        on_pull: Option<Callback>,
    ) -> Refresher {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let last = Arc::new(Mutex::new(None));
        let pulls = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let thread = {
            let (stop, last, pulls) = (stop.clone(), last.clone(), pulls.clone());
            std::thread::spawn(move || {
                loop {
                    let r = pull(&store, &source, &options);
                    if let Some(cb) = &on_pull {
                        cb(&r);
                    }
                    *last.lock().unwrap_or_else(PoisonError::into_inner) =
                        Some(r.map(|r| r.to_string()).map_err(|e| e.to_string()));
                    pulls.fetch_add(1, std::sync::atomic::Ordering::Release);
                    let wait = interval + random_below(jitter);
                    let (lock, cv) = &*stop;
                    let stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
                    let (stopped, _) = cv
                        .wait_timeout_while(stopped, wait, |s| !*s)
                        .unwrap_or_else(PoisonError::into_inner);
                    if *stopped {
                        return;
                    }
                }
            })
        };
        Refresher {
            stop,
            last,
            pulls,
            thread: Some(thread),
        }
    }

    /// Pulls done so far.
    pub fn pulls(&self) -> u64 {
        self.pulls.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The last pull's report (`Ok`, as text) or error, if any pull finished.
    pub fn last(&self) -> Option<Result<String, String>> {
        self.last
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops the refresher and waits for a pull in progress to finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.shutdown();
    }
}
