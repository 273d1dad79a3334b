//! `tg_test_panic_next`: test-only panic injection for the C suite's poisoning tests
//! (ffi/c/poison_tests.c). Compiled only with the `test-hooks` feature, which no release
//! artifact enables; not declared in the header.

use crate::boundary::boundary_value;
use std::cell::Cell;
use tollgate_engine::test_hooks::{Site, panic_next};

/// Site 3: while `tg_state_restore` holds the engine's ledger lock for writing.
pub(crate) const SITE_STATE_RESTORE: u32 = 3;

thread_local! {
    static ARMED: Cell<u32> = const { Cell::new(0) };
}

/// Panics when site `site` is armed on this thread (once).
pub(crate) fn hit(site: u32) {
    if ARMED.get() == site {
        ARMED.set(0);
        panic!("test hook: deliberate panic at site {site}");
    }
}

/// Arms one deliberate panic on the calling thread at `site`: 1 inside a ledger update (the
/// book locked for writing), 2 in a durable engine's journal leader after the batch is written
/// and before it is applied, 3 while `tg_state_restore` holds the engine's ledger lock.
/// Returns 0, or -1 for an unknown site.
#[unsafe(no_mangle)]
pub extern "C" fn tg_test_panic_next(site: u32) -> i32 {
    boundary_value(-1, || {
        match site {
            1 => panic_next(Site::LedgerApply),
            2 => panic_next(Site::StoreLead),
            SITE_STATE_RESTORE => ARMED.set(site),
            _ => return -1,
        }
        0
    })
}
