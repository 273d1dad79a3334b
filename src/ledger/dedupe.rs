//! The exactly-once key table (SPEC §6.2), built for ≤ 32 bytes per retained key.
//!
//! An entry is 24 bytes: the 128-bit fingerprint of the dedupe key, a 32-bit digest of the
//! event's money-relevant fields and the event minute (u32 minutes since 1970, enough for
//! 9999-12-31). Entries live in [`SHARDS`] open-addressing tables (Robin Hood linear probing,
//! any capacity, not a power of two). A shard is rebuilt when it passes [`MAX_LOAD_PCT`] full:
//! expired entries are dropped and the survivors are re-laid at [`REBUILD_LOAD_PCT`] load, so a
//! large table stays between 78 % and 92 % full and costs 24 / 0.78 ≈ 30.8 bytes per key at worst
//! (tables under ~60,000 keys grow in bigger steps, up to 48 bytes a key: under 3 MB in all).
//! Rebuilding one shard (1/256 of the keys) at a time keeps every insert's pause short.
//!
//! A digest collision can only turn a reported *conflict* into a *duplicate*: both leave the
//! ledger unchanged, so 32 bits are plenty there. Fingerprints are 128 bits: a false duplicate
//! among 10^9 keys has odds below 10^-20.

use xxhash_rust::xxh3::xxh3_128;

/// Number of independently rebuilt sub-tables.
pub const SHARDS: usize = 256;
/// Smallest capacity of a shard.
const MIN_SHARD_SLOTS: usize = 4;
/// A shard is rebuilt before it becomes fuller than this (percent).
pub const MAX_LOAD_PCT: usize = 92;
/// A rebuilt shard is sized to be this full (percent).
pub const REBUILD_LOAD_PCT: usize = 78;
/// Below this many entries a shard is rebuilt only half full, so small tables grow in few
/// steps. A shard leaves that regime by 235 entries (92 % of 256 slots), so from about 60,000
/// keys on every shard is within the 32-byte budget; below, the table is under 3 MB anyway.
const SMALL_SHARD_ENTRIES: usize = 128;
/// Load of a rebuilt small shard (percent).
const SMALL_REBUILD_LOAD_PCT: usize = 50;
/// Milliseconds in the coarse time unit kept per entry.
pub const MS_PER_MINUTE: i64 = 60_000;

/// The 128-bit fingerprint of a dedupe key. Never all-zero (zero marks an empty slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub [u64; 2]);

impl Fingerprint {
    /// Fingerprint of a key's bytes (xxh3-128).
    pub fn of(key: &str) -> Fingerprint {
        let h = xxh3_128(key.as_bytes());
        let (lo, hi) = (h as u64, (h >> 64) as u64);
        Fingerprint([if lo == 0 && hi == 0 { 1 } else { lo }, hi])
    }
}

/// One retained key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Entry {
    /// The key's fingerprint; `[0, 0]` marks an empty slot.
    pub fingerprint: [u64; 2],
    /// Digest (high 32 bits) and event minute (low 32 bits).
    meta: u64,
}

impl Entry {
    /// A new entry.
    pub fn new(fp: Fingerprint, digest: u32, minute: u32) -> Entry {
        Entry {
            fingerprint: fp.0,
            meta: (u64::from(digest) << 32) | u64::from(minute),
        }
    }
    /// The money digest of the event that first used the key.
    pub fn digest(&self) -> u32 {
        (self.meta >> 32) as u32
    }
    /// The minute (since 1970) of the event that first used the key.
    pub fn minute(&self) -> u32 {
        self.meta as u32
    }
    fn is_empty(&self) -> bool {
        self.fingerprint == [0, 0]
    }
    /// True when the key's event lies wholly before `cutoff_ms` (the start of the window).
    pub fn expired(&self, cutoff_ms: Option<i64>) -> bool {
        match cutoff_ms {
            None => false,
            Some(c) => (i64::from(self.minute()) + 1) * MS_PER_MINUTE <= c,
        }
    }
}

/// The minute of an epoch-millisecond timestamp (timestamps are validated to 0..=9999-12-31).
pub fn minute_of_ms(ms: i64) -> u32 {
    u32::try_from(ms.max(0) / MS_PER_MINUTE).unwrap_or(u32::MAX)
}

#[derive(Clone, Default)]
struct Shard {
    slots: Box<[Entry]>,
    len: usize,
}

impl Shard {
    #[inline]
    fn home(&self, fp: &[u64; 2]) -> usize {
        // Multiply-shift range reduction: any capacity, no modulo.
        ((u128::from(fp[0]) * self.slots.len() as u128) >> 64) as usize
    }

    #[inline]
    fn distance(&self, e: &Entry, pos: usize) -> usize {
        let home = self.home(&e.fingerprint);
        if pos >= home {
            pos - home
        } else {
            pos + self.slots.len() - home
        }
    }

    fn find(&self, fp: &[u64; 2]) -> Option<usize> {
        let cap = self.slots.len();
        if cap == 0 {
            return None;
        }
        let mut pos = self.home(fp);
        let mut dist = 0;
        loop {
            let s = &self.slots[pos];
            if s.is_empty() {
                return None;
            }
            if s.fingerprint == *fp {
                return Some(pos);
            }
            if self.distance(s, pos) < dist {
                return None;
            }
            pos += 1;
            if pos == cap {
                pos = 0;
            }
            dist += 1;
            if dist > cap {
                return None;
            }
        }
    }

    /// Robin Hood insert of a fingerprint known to be absent; capacity must allow one more.
    fn place(&mut self, mut e: Entry) {
        let cap = self.slots.len();
        let mut pos = self.home(&e.fingerprint);
        let mut dist = 0;
        loop {
            let resident = self.slots[pos];
            if resident.is_empty() {
                self.slots[pos] = e;
                self.len += 1;
                return;
            }
            let rd = self.distance(&resident, pos);
            if rd < dist {
                self.slots[pos] = e;
                e = resident;
                dist = rd;
            }
            pos += 1;
            if pos == cap {
                pos = 0;
            }
            dist += 1;
        }
    }

    fn rebuild(&mut self, cutoff_ms: Option<i64>, extra: usize) {
        let old = std::mem::take(&mut self.slots);
        let live = old
            .iter()
            .filter(|e| !e.is_empty() && !e.expired(cutoff_ms))
            .count();
        let want = (live + extra) * 100;
        // Small shards grow fast (memory is no concern there); large ones in small steps so
        // the table stays within the per-key budget.
        let load = if live < SMALL_SHARD_ENTRIES {
            SMALL_REBUILD_LOAD_PCT
        } else {
            REBUILD_LOAD_PCT
        };
        let cap = want.div_ceil(load).max(MIN_SHARD_SLOTS);
        self.slots = vec![Entry::default(); cap].into_boxed_slice();
        self.len = 0;
        for e in old.iter() {
            if !e.is_empty() && !e.expired(cutoff_ms) {
                self.place(*e);
            }
        }
    }
}

/// The set of retained keys.
#[derive(Clone)]
pub struct DedupeTable {
    shards: Box<[Shard]>,
    len: usize,
}

impl Default for DedupeTable {
    fn default() -> Self {
        DedupeTable::new()
    }
}

impl DedupeTable {
    /// An empty table.
    pub fn new() -> DedupeTable {
        DedupeTable {
            shards: vec![Shard::default(); SHARDS].into_boxed_slice(),
            len: 0,
        }
    }

    #[inline]
    fn shard_of(fp: &[u64; 2]) -> usize {
        (fp[1] >> 56) as usize % SHARDS
    }

    /// The live (not expired) entry of a fingerprint.
    pub fn get(&self, fp: Fingerprint, cutoff_ms: Option<i64>) -> Option<Entry> {
        let shard = &self.shards[Self::shard_of(&fp.0)];
        shard
            .find(&fp.0)
            .map(|p| shard.slots[p])
            .filter(|e| !e.expired(cutoff_ms))
    }

    /// Records an entry. An expired entry with the same fingerprint is replaced in place; a
    /// live one is left alone (callers check [`DedupeTable::get`] first).
    pub fn insert(&mut self, e: Entry, cutoff_ms: Option<i64>) {
        let si = Self::shard_of(&e.fingerprint);
        let shard = &mut self.shards[si];
        if let Some(p) = shard.find(&e.fingerprint) {
            if shard.slots[p].expired(cutoff_ms) {
                shard.slots[p] = e;
            }
            return;
        }
        if (shard.len + 1) * 100 > shard.slots.len() * MAX_LOAD_PCT {
            let before = shard.len;
            shard.rebuild(cutoff_ms, 1);
            self.len = self.len - before + shard.len;
        }
        shard.place(e);
        self.len += 1;
    }

    /// Number of stored entries (live or expired but not yet dropped).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no key is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held by the table: every slot of every shard plus the shard headers.
    pub fn heap_bytes(&self) -> usize {
        self.shards.len() * std::mem::size_of::<Shard>()
            + self
                .shards
                .iter()
                .map(|s| s.slots.len() * std::mem::size_of::<Entry>())
                .sum::<usize>()
    }

    /// Every stored entry not expired at `cutoff_ms`, in no particular order.
    pub fn live_entries(&self, cutoff_ms: Option<i64>) -> impl Iterator<Item = Entry> + '_ {
        self.shards
            .iter()
            .flat_map(|s| s.slots.iter())
            .filter(move |e| !e.is_empty() && !e.expired(cutoff_ms))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(i: u64) -> Fingerprint {
        Fingerprint::of(&format!("key-{i}"))
    }

    #[test]
    fn entries_are_24_bytes() {
        assert_eq!(std::mem::size_of::<Entry>(), 24);
    }

    #[test]
    fn finds_what_it_stored_and_nothing_else() {
        let mut t = DedupeTable::new();
        for i in 0..50_000 {
            t.insert(Entry::new(fp(i), i as u32, 7), None);
        }
        assert_eq!(t.len(), 50_000);
        for i in 0..50_000 {
            assert_eq!(t.get(fp(i), None).unwrap().digest(), i as u32);
        }
        for i in 50_000..60_000 {
            assert!(t.get(fp(i), None).is_none());
        }
        // 195 keys a shard: still in the small-shard regime, at most half full after a rebuild
        // (≤ 24 / 0.5 = 48 bytes a key plus headers).
        assert!(t.heap_bytes() <= 50 * 50_000);
    }

    #[test]
    fn expired_entries_are_invisible_and_dropped_on_rebuild() {
        let mut t = DedupeTable::new();
        // minute 10 covers [600000, 660000) ms.
        t.insert(Entry::new(fp(1), 1, 10), None);
        assert!(t.get(fp(1), Some(660_000)).is_none());
        assert!(t.get(fp(1), Some(659_999)).is_some());
        // Re-inserting an expired key replaces it in place.
        t.insert(Entry::new(fp(1), 2, 20), Some(660_000));
        assert_eq!(t.get(fp(1), Some(660_000)).unwrap().digest(), 2);
        assert_eq!(t.len(), 1);
        // Fill with expired keys, then insert live ones with a cutoff: rebuilds drop the old.
        for i in 100..10_100 {
            t.insert(Entry::new(fp(i), 0, 0), None);
        }
        for i in 20_000..30_000 {
            t.insert(Entry::new(fp(i), 0, 100), Some(60_000));
        }
        assert!(t.len() < 20_001);
        for i in 20_000..30_000 {
            assert!(t.get(fp(i), Some(60_000)).is_some());
        }
    }
}
