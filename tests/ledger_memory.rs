//! Memory of the dedupe table: real heap bytes per retained key, measured by an instrumented
//! global allocator at 1,000,000 keys (docs/reference/ledger.md (exactly-once): ≤ 32 bytes per key).

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use tollgate_engine::ledger::dedupe::{DedupeTable, Entry, Fingerprint};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The allocator counts every thread: tests in this file run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_million_keys_cost_at_most_32_bytes_each() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
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

#[test]
fn the_budget_holds_from_sixty_thousand_keys_on() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // heap_bytes() equals the allocator's count (checked above); sample sizes from 60,000 to
    // 1,000,000 keys, including the sizes right after shards leave the small regime.
    let mut table = DedupeTable::new();
    let mut next = 0u64;
    for target in [
        60_000u64, 70_000, 100_000, 250_000, 400_000, 700_000, 1_000_000,
    ] {
        while next < target {
            table.insert(Entry::new(Fingerprint::of(&format!("k{next}")), 0, 0), None);
            next += 1;
        }
        assert!(
            table.heap_bytes() <= 32 * target as usize,
            "{} bytes for {target} keys",
            table.heap_bytes()
        );
    }
}
