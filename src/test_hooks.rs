//! Test-only panic injection (compiled for unit tests and with the `test-hooks` feature,
//! never in a release artifact): arms a deliberate panic at a named point of an update, on the
//! calling thread, so tests can check that a panic mid-update makes the state refuse further
//! use instead of serving a half-applied update.

use std::cell::Cell;

/// Where the armed panic fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Site {
    /// Inside a ledger update, while the book is locked for writing.
    LedgerApply = 1,
    /// In a store's journal leader, after the batch is journaled and before it is applied.
    StoreLead = 2,
}

thread_local! {
    static ARMED: Cell<u32> = const { Cell::new(0) };
}

/// Arms one panic at `site` on this thread (the next time this thread passes it).
pub fn panic_next(site: Site) {
    ARMED.set(site as u32);
}

/// Panics when a panic at `site` is armed on this thread (once).
pub(crate) fn hit(site: Site) {
    if ARMED.get() == site as u32 {
        ARMED.set(0);
        panic!("test hook: deliberate panic at {site:?}");
    }
}
