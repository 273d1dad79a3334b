//! Heap allocations and minor page faults of one `tg_track_response` of a recorded 2.7 KB
//! OpenAI chat body (`../shared/fixtures/providers/openai_chat_1.json`), counted by a
//! counting global allocator on the calling thread and by the thread's `minflt`
//! (`/proc/thread-self/stat`). The figures are printed (`-- --nocapture`); the test holds the
//! allocation count under a bound, so a change that brings back per-call `String`s or
//! `serde_json` values in the track path shows here.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::PathBuf;
use tollgate_ffi::engine::{tg_engine, tg_engine_free, tg_engine_new};
use tollgate_ffi::ledger::{TG_RECORD_OUT_MAX, tg_track_response};
use tollgate_ffi::status::TG_OK;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

/// Minor page faults of this thread so far (`None` without procfs).
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; minflt is field 10 overall.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(7)?.parse().ok()
}

fn track(engine: *const tg_engine, body: &[u8], context: &[u8], out: &mut [u8]) -> String {
    let mut len = 0usize;
    let s = unsafe {
        tg_track_response(
            engine,
            "openai".as_ptr(),
            6,
            std::ptr::null(),
            0,
            body.as_ptr(),
            body.len(),
            context.as_ptr(),
            context.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut len,
            std::ptr::null_mut(),
        )
    };
    let text = String::from_utf8_lossy(&out[..len]).into_owned();
    assert_eq!(s, TG_OK, "{text}");
    text
}

/// (allocations, minor faults) per call over `n` calls of `f` (warmed up first).
fn per_call(n: u64, mut f: impl FnMut(u64)) -> (f64, Option<f64>) {
    for i in 0..100 {
        f(i);
    }
    let (a0, f0) = (allocs(), minor_faults());
    for i in 100..100 + n {
        f(i);
    }
    let (a1, f1) = (allocs(), minor_faults());
    let faults = f0.zip(f1).map(|(x, y)| (y - x) as f64 / n as f64);
    ((a1 - a0) as f64 / n as f64, faults)
}

#[test]
fn a_tracked_response_allocates_little_and_does_not_fault() {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures/providers/openai_chat_1.json");
    let body = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut engine: *mut tg_engine = std::ptr::null_mut();
    let s = unsafe {
        tg_engine_new(
            std::ptr::null(),
            std::ptr::null(),
            0,
            &mut engine,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(s, TG_OK);
    let mut out = vec![0u8; TG_RECORD_OUT_MAX * 4];
    let context = br#"{"customerId":"cust-1"}"#;

    let first = track(engine, &body, context, &mut out);
    assert!(first.contains("\"status\":\"accepted\""), "{first}");
    // The same response again: extraction, the event and the dedupe answer.
    let (dup_allocs, dup_faults) = per_call(2_000, |_| {
        let text = track(engine, &body, context, &mut out);
        assert!(text.contains("\"status\":\"duplicate\""), "{text}");
    });
    // A fresh key per call: every call books (priced and aggregated).
    let contexts: Vec<Vec<u8>> = (0..2_100)
        .map(|i| format!(r#"{{"customerId":"cust-1","idempotencyKey":"k-{i}"}}"#).into_bytes())
        .collect();
    let (new_allocs, new_faults) = per_call(2_000, |i| {
        let text = track(engine, &body, &contexts[i as usize], &mut out);
        assert!(text.contains("\"status\":\"accepted\""), "{text}");
    });
    unsafe { tg_engine_free(engine) };
    println!(
        "tg_track_response, openai_chat_1.json: duplicate {dup_allocs:.1} allocations and \
         {dup_faults:?} minor faults per call; new key {new_allocs:.1} allocations and \
         {new_faults:?} minor faults per call"
    );
    // 12 and 27.3 when written (19 and 40.3 before the rules' own reader): the extraction's
    // set-up, the line item (its model and id) and, on a new key, the booked entry and the
    // re-parsed context are what is left.
    assert!(
        dup_allocs <= 13.0,
        "duplicate: {dup_allocs} allocations per call"
    );
    assert!(
        new_allocs <= 30.0,
        "new key: {new_allocs} allocations per call"
    );
}
