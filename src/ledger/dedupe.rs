//! The exactly-once key table (docs/reference/ledger.md (exactly-once)), built for ≤ 32 bytes per retained key.
//!
//! A key is kept as a 104-bit fingerprint (xxh3-128 of the key with 24 bits dropped), a 32-bit
//! digest of the event's money-relevant fields and the event minute (u32 minutes since 1970,
//! enough for 9999-12-31). The top 8 fingerprint bits pick one of [`SHARDS`] open-addressing
//! tables (Robin Hood linear probing, any capacity, not a power of two), so a slot stores the
//! other 96 bits: 20 bytes a slot. A shard is rebuilt when it passes [`MAX_LOAD_PCT`] full:
//! expired entries are dropped and the survivors re-laid at [`REBUILD_LOAD_PCT`] load, so a large
//! table stays between 66 % and 82 % full and costs at most 20 / 0.66 ≈ 30.3 bytes per key
//! (tables under ~60,000 keys grow in bigger steps, up to 40 bytes a key: under 3 MB in all).
//! Rebuilding one shard (1/256 of the keys) at a time keeps every insert's pause short, and the
//! moderate load keeps the probe to the first free slot short.
//!
//! A false duplicate needs two live keys with the same 104 bits: below 10^-13 even with 10^9
//! keys retained. A digest collision can only turn a reported *conflict* into a *duplicate*:
//! both leave the ledger unchanged, so 32 bits are plenty there.

use xxhash_rust::xxh3::xxh3_128;

/// Number of independently rebuilt sub-tables.
pub const SHARDS: usize = 256;
/// Smallest capacity of a shard.
const MIN_SHARD_SLOTS: usize = 4;
/// A shard is rebuilt before it becomes fuller than this (percent).
pub const MAX_LOAD_PCT: usize = 82;
/// A rebuilt shard is sized to be this full (percent).
pub const REBUILD_LOAD_PCT: usize = 66;
/// Below this many entries a shard is rebuilt only half full, so small tables grow in few
/// steps. A shard leaves that regime by 210 entries (82 % of 256 slots), so from about 60,000
/// keys on every shard is within the 32-byte budget; below, the table is under 3 MB anyway.
const SMALL_SHARD_ENTRIES: usize = 128;
/// Load of a rebuilt small shard (percent).
const SMALL_REBUILD_LOAD_PCT: usize = 50;
/// Milliseconds in the coarse time unit kept per entry.
pub const MS_PER_MINUTE: i64 = 60_000;

/// Bits 32..56 of the second fingerprint word: dropped, so a slot holds the rest in 12 bytes.
const DROPPED_BITS: u64 = 0x00FF_FFFF_0000_0000;

/// The fingerprint of a dedupe key: xxh3-128 with bits 32..56 of the high word cleared
/// (104 bits). Never all-zero in its stored part (zero marks an empty slot).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub [u64; 2]);

impl Fingerprint {
    /// Fingerprint of a key's bytes.
    pub fn of(key: &str) -> Fingerprint {
        let h = xxh3_128(key.as_bytes());
        Fingerprint::normalized([h as u64, (h >> 64) as u64])
    }

    /// Clears the dropped bits and makes the stored part non-zero.
    pub fn normalized(fp: [u64; 2]) -> Fingerprint {
        let lo = fp[0];
        let hi = fp[1] & !DROPPED_BITS;
        let lo = if lo == 0 && hi as u32 == 0 { 1 } else { lo };
        Fingerprint([lo, hi])
    }

    /// True when the dropped bits are clear and the stored part is non-zero.
    pub fn is_normalized(&self) -> bool {
        Fingerprint::normalized(self.0) == *self
    }

    #[inline]
    fn shard(&self) -> usize {
        (self.0[1] >> 56) as usize % SHARDS
    }

    #[inline]
    fn stored(&self) -> [u32; 3] {
        [self.0[0] as u32, (self.0[0] >> 32) as u32, self.0[1] as u32]
    }
}

/// One retained key, as exchanged with the table (state, merge).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    fingerprint: Fingerprint,
    digest: u32,
    minute: u32,
}

impl Entry {
    /// A new entry.
    pub fn new(fingerprint: Fingerprint, digest: u32, minute: u32) -> Entry {
        Entry {
            fingerprint,
            digest,
            minute,
        }
    }
    /// The key's fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }
    /// The money digest of the event that first used the key.
    pub fn digest(&self) -> u32 {
        self.digest
    }
    /// The minute (since 1970) of the event that first used the key.
    pub fn minute(&self) -> u32 {
        self.minute
    }
    /// True when the key's event lies wholly before `cutoff_ms` (the start of the window).
    pub fn expired(&self, cutoff_ms: Option<i64>) -> bool {
        expired(self.minute, cutoff_ms)
    }
}

#[inline]
fn expired(minute: u32, cutoff_ms: Option<i64>) -> bool {
    match cutoff_ms {
        None => false,
        Some(c) => (i64::from(minute) + 1) * MS_PER_MINUTE <= c,
    }
}

/// A stored slot: 96 fingerprint bits, digest, minute. All-zero fingerprint = empty.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Slot([u32; 5]);

impl Slot {
    fn new(e: &Entry) -> Slot {
        let [a, b, c] = e.fingerprint.stored();
        Slot([a, b, c, e.digest, e.minute])
    }
    #[inline]
    fn key(&self) -> [u32; 3] {
        [self.0[0], self.0[1], self.0[2]]
    }
    #[inline]
    fn fp0(&self) -> u64 {
        u64::from(self.0[0]) | (u64::from(self.0[1]) << 32)
    }
    #[inline]
    fn is_empty(&self) -> bool {
        self.key() == [0, 0, 0]
    }
    #[inline]
    fn live(&self, cutoff_ms: Option<i64>) -> bool {
        !self.is_empty() && !expired(self.0[4], cutoff_ms)
    }
    fn entry(&self, shard: usize) -> Entry {
        Entry {
            fingerprint: Fingerprint([self.fp0(), ((shard as u64) << 56) | u64::from(self.0[2])]),
            digest: self.0[3],
            minute: self.0[4],
        }
    }
}

/// The minute of an epoch-millisecond timestamp (timestamps are validated to 0..=9999-12-31).
pub fn minute_of_ms(ms: i64) -> u32 {
    u32::try_from(ms.max(0) / MS_PER_MINUTE).unwrap_or(u32::MAX)
}

#[derive(Clone, Default)]
struct Shard {
    slots: Box<[Slot]>,
    len: usize,
}

impl Shard {
    #[inline]
    fn home_of(fp0: u64, cap: usize) -> usize {
        // Multiply-shift range reduction: any capacity, no modulo.
        ((u128::from(fp0) * cap as u128) >> 64) as usize
    }

    #[inline]
    fn distance(&self, s: &Slot, pos: usize) -> usize {
        let home = Shard::home_of(s.fp0(), self.slots.len());
        if pos >= home {
            pos - home
        } else {
            pos + self.slots.len() - home
        }
    }

    fn find(&self, fp: &Fingerprint) -> Option<usize> {
        self.probe(fp).ok()
    }

    /// The slot of a fingerprint, else where it would be inserted (`None` when the shard has
    /// no slots): a lookup stops exactly where a Robin Hood insert of the key would go.
    fn probe(&self, fp: &Fingerprint) -> Result<usize, Option<usize>> {
        let cap = self.slots.len();
        if cap == 0 {
            return Err(None);
        }
        let key = fp.stored();
        let mut pos = Shard::home_of(fp.0[0], cap);
        let mut dist = 0;
        loop {
            let s = &self.slots[pos];
            if s.is_empty() {
                return Err(Some(pos));
            }
            if s.key() == key {
                return Ok(pos);
            }
            if self.distance(s, pos) < dist {
                return Err(Some(pos));
            }
            pos += 1;
            if pos == cap {
                pos = 0;
            }
            dist += 1;
            if dist > cap {
                return Err(None);
            }
        }
    }

    /// Robin Hood insert of a fingerprint known to be absent; capacity must allow one more.
    /// Returns the slot that was empty and is now filled (the end of the shifted run).
    ///
    /// The entry goes before the first resident that sits closer to its home (a later home),
    /// and the rest of the run moves up one slot: a cluster stays sorted by home, which is what
    /// the classic swap loop keeps too (it differs only in the order of entries with equal
    /// homes, which neither lookups nor the sorted state care about). Only the search for the
    /// insertion point computes homes; the shift is a plain copy.
    fn place(&mut self, e: Slot) -> usize {
        let cap = self.slots.len();
        let mut pos = Shard::home_of(e.fp0(), cap);
        let mut dist = 0;
        // The insertion point: an empty slot, or the first resident closer to its home.
        loop {
            let resident = &self.slots[pos];
            if resident.is_empty() || self.distance(resident, pos) < dist {
                break;
            }
            pos += 1;
            if pos == cap {
                pos = 0;
            }
            dist += 1;
        }
        self.place_at(pos, e)
    }

    /// Puts `e` at its insertion point `pos` (as found by [`Shard::probe`] or the search in
    /// [`Shard::place`]), moving the rest of the run up one slot. Returns the slot that was
    /// empty and is now filled.
    fn place_at(&mut self, pos: usize, e: Slot) -> usize {
        let cap = self.slots.len();
        self.len += 1;
        if self.slots[pos].is_empty() {
            self.slots[pos] = e;
            return pos;
        }
        // The end of the run (there is a free slot: the caller keeps the load below 100 %).
        let mut end = pos;
        loop {
            end += 1;
            if end == cap {
                end = 0;
            }
            if self.slots[end].is_empty() {
                break;
            }
        }
        if end > pos {
            self.slots.copy_within(pos..end, pos + 1);
        } else {
            // The run wraps past the last slot.
            self.slots.copy_within(0..end, 1);
            self.slots[0] = self.slots[cap - 1];
            self.slots.copy_within(pos..cap - 1, pos + 1);
        }
        self.slots[pos] = e;
        end
    }

    fn rebuild(&mut self, cutoff_ms: Option<i64>, extra: usize) {
        let old = std::mem::take(&mut self.slots);
        let first_live = first_live_minute(cutoff_ms);
        let live_at = |s: &Slot| !s.is_empty() && u64::from(s.0[4]) >= first_live;
        let live = if first_live == 0 {
            self.len
        } else {
            old.iter().filter(|s| live_at(s)).count()
        };
        let want = (live + extra) * 100;
        // Small shards grow fast (memory is no concern there); large ones in small steps so
        // the table stays within the per-key budget.
        let load = if live < SMALL_SHARD_ENTRIES {
            SMALL_REBUILD_LOAD_PCT
        } else {
            REBUILD_LOAD_PCT
        };
        let cap = want.div_ceil(load).max(MIN_SHARD_SLOTS);
        self.slots = vec![Slot::default(); cap].into_boxed_slice();
        self.len = 0;
        // A Robin Hood table keeps each cluster sorted by home slot, and the home is a monotone
        // function of the fingerprint at any capacity. Walking the old table (entries that
        // wrapped past its end last) therefore yields the new homes almost in order, and an
        // entry whose home is not below any earlier one just takes the first free slot from its
        // home on: no probing, no swaps. Anything else takes the general insert.
        // Entries that wrapped sit at the very start of the old table, ahead of the first
        // cluster's own entries; anything out of order still lands right (general insert).
        let old_cap = old.len();
        let wrapped = old
            .iter()
            .enumerate()
            .take_while(|(i, s)| !s.is_empty() && *i < Shard::home_of(s.fp0(), old_cap))
            .count();
        let mut cursor = 0;
        let mut max_home = 0;
        for s in old[wrapped..].iter().chain(&old[..wrapped]) {
            if !live_at(s) {
                continue;
            }
            let home = Shard::home_of(s.fp0(), cap);
            let pos = home.max(cursor);
            if home >= max_home && pos < cap {
                self.slots[pos] = *s;
                self.len += 1;
                cursor = pos + 1;
                max_home = home;
            } else {
                let filled = self.place(*s);
                if filled >= cursor {
                    cursor = filled + 1;
                }
            }
        }
    }
}

/// The first minute not expired at `cutoff_ms`: an entry is live when its minute is at least
/// this ([`expired`] as one comparison).
fn first_live_minute(cutoff_ms: Option<i64>) -> u64 {
    match cutoff_ms {
        // (minute + 1) × 60,000 ≤ c  ⇔  minute < ⌊c / 60,000⌋.
        Some(c) => u64::try_from(c.div_euclid(MS_PER_MINUTE)).unwrap_or(0),
        None => 0,
    }
}

/// Where the entry of an absent (or expired) fingerprint goes, from [`DedupeTable::lookup`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Vacancy {
    fingerprint: Fingerprint,
    /// The slot of its expired entry, replaced in place.
    expired_at: Option<usize>,
    /// Where a new entry goes, if the shard is not rebuilt first.
    insert_at: Option<usize>,
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

    /// The live (not expired) entry of a fingerprint.
    pub fn get(&self, fp: Fingerprint, cutoff_ms: Option<i64>) -> Option<Entry> {
        let si = fp.shard();
        let shard = &self.shards[si];
        shard
            .find(&fp)
            .map(|p| shard.slots[p])
            .filter(|s| s.live(cutoff_ms))
            .map(|s| s.entry(si))
    }

    /// Records an entry. An expired entry with the same fingerprint is replaced in place; a
    /// live one is left alone (callers check [`DedupeTable::get`] first).
    pub fn insert(&mut self, e: Entry, cutoff_ms: Option<i64>) {
        let shard = &self.shards[e.fingerprint.shard()];
        let at = shard.probe(&e.fingerprint);
        if let Ok(p) = at
            && shard.slots[p].live(cutoff_ms)
        {
            return;
        }
        self.fill(
            Vacancy {
                fingerprint: e.fingerprint,
                expired_at: at.ok(),
                insert_at: at.err().flatten(),
            },
            e.digest,
            e.minute,
            cutoff_ms,
        );
    }

    /// The live entry of a fingerprint, or where a new one goes: [`get`](Self::get) and the
    /// search half of [`insert`](Self::insert) in one probe, for a caller that decides in
    /// between whether to insert.
    pub(crate) fn lookup(&self, fp: Fingerprint, cutoff_ms: Option<i64>) -> Result<Entry, Vacancy> {
        let si = fp.shard();
        let shard = &self.shards[si];
        match shard.probe(&fp) {
            Ok(p) if shard.slots[p].live(cutoff_ms) => Ok(shard.slots[p].entry(si)),
            at => Err(Vacancy {
                fingerprint: fp,
                expired_at: at.ok(),
                insert_at: at.err().flatten(),
            }),
        }
    }

    /// Records the entry of a fingerprint [`lookup`](Self::lookup) found vacant. The table must
    /// not have changed since that lookup.
    pub(crate) fn fill(&mut self, v: Vacancy, digest: u32, minute: u32, cutoff_ms: Option<i64>) {
        let slot = Slot::new(&Entry::new(v.fingerprint, digest, minute));
        let shard = &mut self.shards[v.fingerprint.shard()];
        if let Some(p) = v.expired_at {
            shard.slots[p] = slot;
            return;
        }
        if (shard.len + 1) * 100 > shard.slots.len() * MAX_LOAD_PCT {
            let before = shard.len;
            shard.rebuild(cutoff_ms, 1);
            self.len = self.len - before + shard.len;
            shard.place(slot);
        } else if let Some(p) = v.insert_at {
            // The probe already found the insertion point, and nothing moved since.
            shard.place_at(p, slot);
        } else {
            shard.place(slot);
        }
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
                .map(|s| s.slots.len() * std::mem::size_of::<Slot>())
                .sum::<usize>()
    }

    /// Every stored entry not expired at `cutoff_ms`, in no particular order.
    pub fn live_entries(&self, cutoff_ms: Option<i64>) -> impl Iterator<Item = Entry> + '_ {
        self.shards.iter().enumerate().flat_map(move |(i, s)| {
            s.slots
                .iter()
                .filter(move |s| s.live(cutoff_ms))
                .map(move |s| s.entry(i))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(i: u64) -> Fingerprint {
        Fingerprint::of(&format!("key-{i}"))
    }

    /// Every entry is reachable: no slot between an entry's home and its position is empty,
    /// and the Robin Hood order holds (lookups stop early only when the key is absent).
    fn check(t: &DedupeTable) {
        for (i, shard) in t.shards.iter().enumerate() {
            for (pos, s) in shard.slots.iter().enumerate() {
                if s.is_empty() {
                    continue;
                }
                assert_eq!(shard.find(&s.entry(i).fingerprint()), Some(pos));
            }
        }
    }

    #[test]
    fn rebuilds_keep_every_key_reachable() {
        // Fingerprints that share high bits (same shard) and near-equal homes stress the
        // ordered re-layout.
        let mut t = DedupeTable::new();
        for i in 0..20_000u64 {
            let lo = (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 3) | 1;
            let fp = Fingerprint::normalized([lo ^ (i % 7), 0x0100_0000_0000_0000 | i]);
            t.insert(Entry::new(fp, 0, (i % 50) as u32), Some(40 * MS_PER_MINUTE));
            if i % 997 == 0 {
                check(&t);
            }
        }
        check(&t);
    }

    #[test]
    fn slots_are_20_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 20);
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
        // (≤ 20 / 0.5 = 40 bytes a key plus headers).
        assert!(t.heap_bytes() <= 42 * 50_000);
    }

    #[test]
    fn lookup_then_fill_is_get_then_insert() {
        let mut t = DedupeTable::new();
        // Absent: a vacancy; filled, the entry is found with its digest and minute.
        let v = t.lookup(fp(1), None).unwrap_err();
        t.fill(v, 11, 10, None);
        assert_eq!(t.lookup(fp(1), None).unwrap(), Entry::new(fp(1), 11, 10));
        assert_eq!(t.len(), 1);
        // Expired (minute 10 ends at 660,000 ms): a vacancy at its slot, replaced in place.
        let v = t.lookup(fp(1), Some(660_000)).unwrap_err();
        assert!(v.expired_at.is_some());
        t.fill(v, 12, 20, Some(660_000));
        assert_eq!(t.get(fp(1), Some(660_000)).unwrap().digest(), 12);
        assert_eq!(t.len(), 1);
        // Many keys through the same path: every one reachable, none found twice.
        for i in 2..30_000 {
            let v = t.lookup(fp(i), None).unwrap_err();
            t.fill(v, i as u32, 30, None);
        }
        check(&t);
        assert_eq!(t.len(), 29_999);
        for i in 2..30_000 {
            assert_eq!(t.lookup(fp(i), None).unwrap().digest(), i as u32);
        }
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
