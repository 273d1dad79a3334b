//! Memory of the dedupe table: real heap bytes per retained key, measured by an instrumented
//! global allocator at 1,000,000 keys (SPEC §6.2: ≤ 32 bytes per key).

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use tollgate::ledger::dedupe::{DedupeTable, Entry, Fingerprint};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[test]
fn a_million_keys_cost_at_most_32_bytes_each() {
    const KEYS: usize = 1_000_000;
    // Fingerprints first, so the region below measures only the table.
    let fps: Vec<Fingerprint> = (0..KEYS)
        .map(|i| Fingerprint::of(&format!("req_{i:08}")))
        .collect();
    let region = Region::new(GLOBAL);
    let mut table = DedupeTable::new();
    for (i, fp) in fps.iter().enumerate() {
        table.insert(
            Entry::new(*fp, i as u32, 29_000_000 + (i / 1000) as u32),
            None,
        );
    }
    let s = region.change();
    // Realloc growth and shrinkage are already inside bytes_allocated / bytes_deallocated.
    let live = s.bytes_allocated as i64 - s.bytes_deallocated as i64;
    let per_key = live as f64 / KEYS as f64;
    println!(
        "dedupe table: {KEYS} keys, {live} heap bytes = {per_key:.2} bytes/key (table's own count: {})",
        table.heap_bytes()
    );
    assert_eq!(table.len(), KEYS);
    assert_eq!(live as usize, table.heap_bytes());
    assert!(live as usize <= 32 * KEYS, "{per_key} bytes per key");
    // Every key is still found.
    for (i, fp) in fps.iter().enumerate().step_by(997) {
        assert_eq!(table.get(*fp, None).unwrap().digest(), i as u32);
    }
}
