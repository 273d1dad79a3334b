//! Name hashing shared by model lookup, the engine's lookup memo and the ledger's name table:
//! case-insensitive word-at-a-time hashing and comparison of names (no allocation), and a
//! few-instruction fingerprint for direct-mapped caches. Pure functions over bytes; nothing
//! here knows about rate cards, engines or ledgers.

/// ASCII-lowercases the 8 bytes of `w` at once (SWAR): bytes `A..=Z` get bit 5 set.
#[inline]
pub(crate) fn lower8(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low7 = w & !HIGH;
    let ge_a = low7 + ONES * (0x80 - u64::from(b'A'));
    let gt_z = low7 + ONES * (0x7f - u64::from(b'Z'));
    let upper = (ge_a ^ gt_z) & !w & HIGH;
    w | (upper >> 2)
}

/// Little-endian load of up to 8 bytes, zero-padded (short slices use two overlapping loads).
#[inline]
pub(crate) fn load8(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 8 {
        return u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    }
    if n >= 4 {
        let lo = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let hi = u64::from(u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]));
        return lo | (hi << (8 * (n - 4)));
    }
    if n >= 2 {
        let lo = u64::from(u16::from_le_bytes([b[0], b[1]]));
        let hi = u64::from(u16::from_le_bytes([b[n - 2], b[n - 1]]));
        return lo | (hi << (8 * (n - 2)));
    }
    b.first().map_or(0, |&c| u64::from(c))
}

const HASH_SEED: u64 = 0x243f_6a88_85a3_08d3;
const HASH_K: u64 = 0x9e37_79b9_7f4a_7c15;

#[inline]
fn fold_mul(x: u64, k: u64) -> u64 {
    let p = u128::from(x) * u128::from(k);
    (p as u64) ^ ((p >> 64) as u64)
}

/// A case-insensitive hash of a byte stream, taken 8 bytes at a time (lower-cased with
/// [`lower8`]). Bytes may arrive in pieces (`provider`, `/`, `model`): the words are formed
/// across the pieces, so the joined name is never built.
pub(crate) struct NameHash {
    h: u64,
    pending: u64,
    npend: u32,
    len: u64,
}

impl NameHash {
    #[inline]
    pub(crate) fn new() -> NameHash {
        NameHash {
            h: HASH_SEED,
            pending: 0,
            npend: 0,
            len: 0,
        }
    }

    #[inline(always)]
    pub(crate) fn push(&mut self, mut b: &[u8]) {
        self.len += b.len() as u64;
        if self.npend > 0 {
            let take = (8 - self.npend as usize).min(b.len());
            self.pending |= load8(&b[..take]) << (8 * self.npend);
            self.npend += take as u32;
            b = &b[take..];
            if self.npend < 8 {
                return;
            }
            self.h = fold_mul(self.h ^ lower8(self.pending), HASH_K);
            self.pending = 0;
            self.npend = 0;
        }
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.h = fold_mul(self.h ^ lower8(load8(c)), HASH_K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            self.pending = load8(rest);
            self.npend = rest.len() as u32;
        }
    }

    #[inline]
    pub(crate) fn finish(self) -> u64 {
        let h = if self.npend > 0 {
            fold_mul(self.h ^ lower8(self.pending), HASH_K)
        } else {
            self.h
        };
        fold_mul(h ^ self.len, HASH_K.rotate_left(17))
    }
}

/// `key` (lower case) equals `name` ignoring ASCII case, compared 8 bytes at a time.
#[inline]
pub(crate) fn eq_lower_bytes(key: &[u8], name: &[u8]) -> bool {
    if key.len() != name.len() {
        return false;
    }
    let mut at = 0;
    while at + 8 <= key.len() {
        if load8(&key[at..at + 8]) != lower8(load8(&name[at..at + 8])) {
            return false;
        }
        at += 8;
    }
    load8(&key[at..]) == lower8(load8(&name[at..]))
}

/// The case-insensitive hash of `bytes` (as [`NameHash`] fed the bytes in one piece).
#[inline]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = NameHash::new();
    h.push(bytes);
    h.finish()
}

/// A few instructions' fingerprint of a name for picking a memo slot (here and in the
/// ledger's name table): its length and its first and last 8 bytes (4 bytes below 8, every
/// byte below 4). A collision only costs a lookup.
#[inline]
pub(crate) fn name_bits(s: &str) -> u64 {
    let b = s.as_bytes();
    let n = b.len();
    let (head, tail) = match (b.first_chunk::<8>(), b.last_chunk::<8>()) {
        (Some(h), Some(t)) => (u64::from_le_bytes(*h), u64::from_le_bytes(*t)),
        _ => match (b.first_chunk::<4>(), b.last_chunk::<4>()) {
            (Some(h), Some(t)) => (
                u64::from(u32::from_le_bytes(*h)),
                u64::from(u32::from_le_bytes(*t)),
            ),
            _ => (b.iter().fold(0u64, |h, &x| (h << 8) | u64::from(x)), 0),
        },
    };
    head ^ tail.rotate_left(32) ^ (n as u64).wrapping_mul(0x0100_0000_01b3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_ignores_case_and_splits() {
        assert_eq!(
            lower8(u64::from_le_bytes(*b"AZaz@[`{")),
            u64::from_le_bytes(*b"azaz@[`{")
        );
        assert!(eq_lower_bytes(b"gpt-4o-mini-2024", b"GPT-4o-Mini-2024"));
        assert!(!eq_lower_bytes(b"gpt-4o", b"gpt-4p"));
        for n in 0..=8 {
            let b: Vec<u8> = (1..=n as u8).collect();
            let mut a = [0u8; 8];
            a[..n].copy_from_slice(&b);
            assert_eq!(load8(&b), u64::from_le_bytes(a), "{n} bytes");
        }
        // Any split of the same bytes hashes alike, and case does not matter.
        let whole = hash_bytes(b"openai/gpt-4o-mini");
        let mut h = NameHash::new();
        for piece in [&b"op"[..], b"enAI/g", b"pt-4O-mi", b"ni"] {
            h.push(piece);
        }
        assert_eq!(h.finish(), whole);
        assert_ne!(whole, hash_bytes(b"openai/gpt-4o-minj"));
        // Non-ASCII bytes are left alone.
        assert_eq!(
            lower8(u64::from_le_bytes([0xc3, 0x89, 0x41, 0, 0, 0, 0, 0])),
            u64::from_le_bytes([0xc3, 0x89, 0x61, 0, 0, 0, 0, 0])
        );
    }

    #[test]
    fn name_bits_sees_length_and_both_ends() {
        assert_ne!(name_bits("gpt-4o"), name_bits("gpt-4o "));
        assert_ne!(name_bits("abcdefgh-x"), name_bits("abcdefgh-y"));
        assert_ne!(name_bits("x-abcdefgh"), name_bits("y-abcdefgh"));
        assert_eq!(name_bits(""), name_bits(""));
    }
}
