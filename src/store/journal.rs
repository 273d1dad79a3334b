//! The journal's bytes: segment files, entry framing, and the scan that finds where the whole
//! entries end.
//!
//! A segment file (`wal-NNNNNNNNNNNNNNNNNNNN.tgj`, the number in decimal) is:
//! ```text
//! header   24 bytes: magic "TGJOURNL" | version u32 | segment u64 | crc32 u32 (of the 20 before)
//! entry*   len u32 | crc32 u32 (of len and body) | body (len bytes)
//! body     kind u8 | payload
//!   1 record    now_ms i64 | the record's JSON line, exactly as accepted
//!   2 publish   effective_from_ms i64 | SHA-256 of the registry file (32 bytes)
//!   3 override  model_len u16 | model | the override entry's JSON
//!   4 unoverride model
//!   5 event     an accepted event as the ledger booked it (version 2 on; layout below)
//! ```
//! Little-endian throughout. The journal never interprets a record's line: whatever record
//! types the ledger parses (events, resolutions, customers, policies…) replay through the same
//! parser.
//!
//! An event entry (kind 5) is what a buffered store (`interval`, `none`) journals for an event
//! the ledger accepted: replay applies it without parsing or pricing it again.
//! ```text
//! now_ms i64 | ts i64 | flags u16 | snapshot u64 | cost i128 | savings i128 | units u64
//! tokens 6 × u64 (in, cached, cache write 5m, cache write 1h, out, reasoning)
//! outcome u8 (0 none, 1 resolved, 2 escalated, 3 failed)
//! reason u8 (0 none, 1 unknown model, 2 no token price, 3 truncated)
//! [fingerprint 2 × u64 | digest u32]     when flags & KEY
//! [revenue unit cents i128]              when flags & UNIT
//! customer, then [run] [agent] [model] [provider] when their flags are set: each u16 length | UTF-8
//! ```
//! Money is the exact mantissa of [`crate::money::Cents`] (24 fractional digits of a cent).
//!
//! Version 1 segments (kinds 1–4) are read as they are; a store opened on a directory whose
//! newest segment is version 1 starts a new version 2 segment rather than append to it, so no
//! version 1 file ever holds a kind 5 entry. A version 1 build refuses version 2 segments with
//! the version in the message.

use crate::engine::{SnapshotId, UnpricedReason};
use crate::event::Outcome;
use crate::ledger::TokenTotals;
use crate::ledger::dedupe::Fingerprint;
use crate::ledger::replay::PricedEvent;
use crate::money::Cents;
use std::fmt;

/// Version of the segment format written by this build (2: event entries, kind 5).
pub const JOURNAL_VERSION: u32 = 2;
/// Oldest segment format this build reads.
pub const OLDEST_JOURNAL_VERSION: u32 = 1;
/// Largest entry body: a record is at most 64 KiB, an override entry as well.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;
pub(crate) const MAGIC: &[u8; 8] = b"TGJOURNL";
pub(crate) const HEADER_BYTES: usize = 24;
pub(crate) const FRAME_BYTES: usize = 8;

const KIND_RECORD: u8 = 1;
const KIND_PUBLISH: u8 = 2;
const KIND_OVERRIDE: u8 = 3;
const KIND_UNOVERRIDE: u8 = 4;
const KIND_EVENT: u8 = 5;

const F_TS_GIVEN: u16 = 1;
const F_PRICED: u16 = 1 << 1;
const F_KEY: u16 = 1 << 2;
const F_UNIT: u16 = 1 << 3;
const F_RUN: u16 = 1 << 4;
const F_AGENT: u16 = 1 << 5;
const F_MODEL: u16 = 1 << 6;
const F_PROVIDER: u16 = 1 << 7;
const F_ALL: u16 = (1 << 8) - 1;
/// The fixed part of an event entry, after the kind byte.
const EVENT_FIXED_BYTES: usize = 8 + 8 + 2 + 8 + 16 + 16 + 8 + 6 * 8 + 1 + 1;

/// One journal entry, borrowed from the segment bytes.
// The event variant is large (~200 bytes): entries are decoded one at a time and never
// collected, and boxing it would allocate once per replayed event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Entry<'a> {
    Record {
        now_ms: i64,
        line: &'a [u8],
    },
    Publish {
        effective_from_ms: i64,
        content: [u8; 32],
    },
    Override {
        model: &'a str,
        entry: &'a [u8],
    },
    Unoverride {
        model: &'a str,
    },
    Event(PricedEvent<'a>),
}

/// The segment file name of segment `n`.
pub(crate) fn segment_name(n: u64) -> String {
    format!("wal-{n:020}.tgj")
}

/// The segment number of a file name, if it is one.
pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?.strip_suffix(".tgj")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

pub(crate) fn header(segment: u64) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&JOURNAL_VERSION.to_le_bytes());
    h[12..20].copy_from_slice(&segment.to_le_bytes());
    let crc = crc32fast::hash(&h[..20]);
    h[20..].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Appends one framed entry to `out`.
pub(crate) fn encode(entry: &Entry<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_BYTES]);
    match entry {
        Entry::Record { now_ms, line } => {
            out.push(KIND_RECORD);
            out.extend_from_slice(&now_ms.to_le_bytes());
            out.extend_from_slice(line);
        }
        Entry::Publish {
            effective_from_ms,
            content,
        } => {
            out.push(KIND_PUBLISH);
            out.extend_from_slice(&effective_from_ms.to_le_bytes());
            out.extend_from_slice(content);
        }
        Entry::Override { model, entry } => {
            out.push(KIND_OVERRIDE);
            // Callers bound the name (ratecard::MAX_KEY_BYTES), far below u16::MAX.
            out.extend_from_slice(&(model.len() as u16).to_le_bytes());
            out.extend_from_slice(model.as_bytes());
            out.extend_from_slice(entry);
        }
        Entry::Unoverride { model } => {
            out.push(KIND_UNOVERRIDE);
            out.extend_from_slice(model.as_bytes());
        }
        Entry::Event(e) => encode_event(e, out),
    }
    let len = out.len() - start - FRAME_BYTES;
    debug_assert!(len <= MAX_ENTRY_BYTES);
    out[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    let mut h = crc32fast::Hasher::new();
    h.update(&out[start..start + 4]);
    h.update(&out[start + FRAME_BYTES..]);
    let crc = h.finalize();
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn encode_event(e: &PricedEvent<'_>, out: &mut Vec<u8>) {
    let flag = |on: bool, f: u16| if on { f } else { 0 };
    let flags = flag(e.ts_given, F_TS_GIVEN)
        | flag(e.priced, F_PRICED)
        | flag(e.key.is_some(), F_KEY)
        | flag(e.revenue_unit_cents.is_some(), F_UNIT)
        | flag(e.run.is_some(), F_RUN)
        | flag(e.agent.is_some(), F_AGENT)
        | flag(e.model.is_some(), F_MODEL)
        | flag(e.provider.is_some(), F_PROVIDER);
    out.push(KIND_EVENT);
    out.extend_from_slice(&e.now_ms.to_le_bytes());
    out.extend_from_slice(&e.ts.to_le_bytes());
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&e.snapshot.0.to_le_bytes());
    out.extend_from_slice(&e.cost_cents.raw().to_le_bytes());
    out.extend_from_slice(&e.savings_cents.raw().to_le_bytes());
    out.extend_from_slice(&e.units.to_le_bytes());
    e.tokens.encode_le(out);
    out.push(match e.outcome {
        None => 0,
        Some(Outcome::Resolved) => 1,
        Some(Outcome::Escalated) => 2,
        Some(Outcome::Failed) => 3,
    });
    out.push(match e.reason {
        None => 0,
        Some(UnpricedReason::UnknownModel) => 1,
        Some(UnpricedReason::NoTokenPrice) => 2,
        Some(UnpricedReason::Truncated) => 3,
    });
    if let Some((fp, digest)) = e.key {
        out.extend_from_slice(&fp.0[0].to_le_bytes());
        out.extend_from_slice(&fp.0[1].to_le_bytes());
        out.extend_from_slice(&digest.to_le_bytes());
    }
    if let Some(u) = e.revenue_unit_cents {
        out.extend_from_slice(&u.raw().to_le_bytes());
    }
    for s in [Some(e.customer), e.run, e.agent, e.model, e.provider]
        .into_iter()
        .flatten()
    {
        // Identifiers are bounded far below u16::MAX (a record is at most 64 KiB).
        out.extend_from_slice(&(s.len() as u16).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }
}

/// Reads the fields of an event entry in order; `None` when the bytes run out.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.take().map(i64::from_le_bytes)
    }
    fn cents(&mut self) -> Option<Cents> {
        self.take().map(|b| Cents::from_raw(i128::from_le_bytes(b)))
    }
    fn text(&mut self) -> Result<&'a str, String> {
        let n = self
            .take()
            .map(u16::from_le_bytes)
            .ok_or("event entry: cut short")?;
        let (s, rest) = self
            .0
            .split_at_checked(usize::from(n))
            .ok_or("event entry: cut short")?;
        self.0 = rest;
        std::str::from_utf8(s).map_err(|_| "event entry: an identifier is not UTF-8".to_string())
    }
}

fn decode_event(p: &[u8]) -> Result<PricedEvent<'_>, String> {
    if p.len() < EVENT_FIXED_BYTES {
        return Err("event entry: cut short".into());
    }
    let short = || "event entry: cut short".to_string();
    let mut r = Reader(p);
    let now_ms = r.i64().ok_or_else(short)?;
    let ts = r.i64().ok_or_else(short)?;
    let flags = r.take().map(u16::from_le_bytes).ok_or_else(short)?;
    if flags & !F_ALL != 0 {
        return Err(format!("event entry: unknown flags {flags:#06x}"));
    }
    let snapshot = SnapshotId(r.u64().ok_or_else(short)?);
    let cost_cents = r.cents().ok_or_else(short)?;
    let savings_cents = r.cents().ok_or_else(short)?;
    let units = r.u64().ok_or_else(short)?;
    let mut t = [0u64; 6];
    for n in &mut t {
        *n = r.u64().ok_or_else(short)?;
    }
    let [outcome, reason] = r.take().ok_or_else(short)?;
    let outcome = match outcome {
        0 => None,
        1 => Some(Outcome::Resolved),
        2 => Some(Outcome::Escalated),
        3 => Some(Outcome::Failed),
        o => return Err(format!("event entry: unknown outcome {o}")),
    };
    let reason = match reason {
        0 => None,
        1 => Some(UnpricedReason::UnknownModel),
        2 => Some(UnpricedReason::NoTokenPrice),
        3 => Some(UnpricedReason::Truncated),
        o => return Err(format!("event entry: unknown unpriced reason {o}")),
    };
    let key = if flags & F_KEY != 0 {
        let fp = Fingerprint([r.u64().ok_or_else(short)?, r.u64().ok_or_else(short)?]);
        let digest = r.take().map(u32::from_le_bytes).ok_or_else(short)?;
        if !fp.is_normalized() {
            return Err("event entry: bad key fingerprint".into());
        }
        Some((fp, digest))
    } else {
        None
    };
    let revenue_unit_cents = if flags & F_UNIT != 0 {
        Some(r.cents().ok_or_else(short)?)
    } else {
        None
    };
    let customer = r.text()?;
    let run = if flags & F_RUN != 0 {
        Some(r.text()?)
    } else {
        None
    };
    let agent = if flags & F_AGENT != 0 {
        Some(r.text()?)
    } else {
        None
    };
    let model = if flags & F_MODEL != 0 {
        Some(r.text()?)
    } else {
        None
    };
    let provider = if flags & F_PROVIDER != 0 {
        Some(r.text()?)
    } else {
        None
    };
    if !r.0.is_empty() {
        return Err(format!(
            "event entry: {} bytes after the last field",
            r.0.len()
        ));
    }
    Ok(PricedEvent {
        now_ms,
        ts,
        ts_given: flags & F_TS_GIVEN != 0,
        customer,
        run,
        agent,
        model,
        provider,
        key,
        revenue_unit_cents,
        units,
        outcome,
        tokens: TokenTotals {
            tokens_in: t[0],
            cached_tokens: t[1],
            cache_write_5m_tokens: t[2],
            cache_write_1h_tokens: t[3],
            tokens_out: t[4],
            reasoning_tokens: t[5],
        },
        cost_cents,
        savings_cents,
        priced: flags & F_PRICED != 0,
        reason,
        snapshot,
    })
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_le_bytes(a)
}

/// Why the bytes at an offset are not a whole entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Fewer bytes than a frame, or than the length announces.
    Short,
    /// A length of 0 or above [`MAX_ENTRY_BYTES`].
    Length(u32),
    /// The checksum does not match.
    Checksum,
    /// Checksum right, body not decodable: written by a newer format, or a bug.
    Body(String),
}

impl fmt::Display for Bad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bad::Short => f.write_str("the entry is cut short"),
            Bad::Length(n) => write!(f, "entry length {n} is out of range"),
            Bad::Checksum => f.write_str("checksum mismatch"),
            Bad::Body(why) => f.write_str(why),
        }
    }
}

/// The entry framed at the start of `bytes` and its framed size.
pub(crate) fn decode(bytes: &[u8]) -> Result<(Entry<'_>, usize), Bad> {
    if bytes.len() < FRAME_BYTES {
        return Err(Bad::Short);
    }
    let len = le_u32(bytes);
    if len == 0 || len as usize > MAX_ENTRY_BYTES {
        return Err(Bad::Length(len));
    }
    let end = FRAME_BYTES + len as usize;
    if bytes.len() < end {
        return Err(Bad::Short);
    }
    let mut h = crc32fast::Hasher::new();
    h.update(&bytes[..4]);
    h.update(&bytes[FRAME_BYTES..end]);
    if h.finalize() != le_u32(&bytes[4..]) {
        return Err(Bad::Checksum);
    }
    let body = &bytes[FRAME_BYTES..end];
    let p = &body[1..];
    let entry = match body[0] {
        KIND_RECORD if p.len() >= 8 => Entry::Record {
            now_ms: le_i64(p),
            line: &p[8..],
        },
        KIND_PUBLISH if p.len() == 40 => {
            let mut content = [0u8; 32];
            content.copy_from_slice(&p[8..]);
            Entry::Publish {
                effective_from_ms: le_i64(p),
                content,
            }
        }
        KIND_OVERRIDE if p.len() >= 2 => {
            let n = usize::from(u16::from_le_bytes([p[0], p[1]]));
            let model = p
                .get(2..2 + n)
                .and_then(|m| std::str::from_utf8(m).ok())
                .ok_or_else(|| Bad::Body("override entry: bad model name".into()))?;
            Entry::Override {
                model,
                entry: &p[2 + n..],
            }
        }
        KIND_UNOVERRIDE => Entry::Unoverride {
            model: std::str::from_utf8(p)
                .map_err(|_| Bad::Body("override removal: bad model name".into()))?,
        },
        KIND_EVENT => Entry::Event(decode_event(p).map_err(Bad::Body)?),
        k => return Err(Bad::Body(format!("unknown entry kind {k}"))),
    };
    Ok((entry, end))
}

/// Checks a segment header and gives its format version; `Err` says what is wrong.
pub(crate) fn check_header(bytes: &[u8], segment: u64) -> Result<u32, String> {
    if bytes.len() < HEADER_BYTES {
        return Err("the header is cut short".into());
    }
    if &bytes[..8] != MAGIC {
        return Err("not a journal segment (bad magic)".into());
    }
    if crc32fast::hash(&bytes[..20]) != le_u32(&bytes[20..]) {
        return Err("header checksum mismatch".into());
    }
    let version = le_u32(&bytes[8..]);
    if !(OLDEST_JOURNAL_VERSION..=JOURNAL_VERSION).contains(&version) {
        return Err(format!(
            "journal format version {version}; this build reads versions {OLDEST_JOURNAL_VERSION} to {JOURNAL_VERSION}"
        ));
    }
    let n = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or([0; 8]));
    if n != segment {
        return Err(format!("header names segment {n}, file name {segment}"));
    }
    Ok(version)
}

/// Reads a segment's entries one at a time, stopping at the first bad one. Replay applies
/// entries as they are read (an error found later discards everything it built).
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    bad: Option<Bad>,
}

/// How a segment's entries end.
#[derive(Debug)]
pub(crate) struct End {
    /// Where the whole entries end (the file length when nothing is wrong).
    pub end: u64,
    /// What ends the entries early: offset and reason. A bad entry followed by a good one is
    /// corruption in the middle (an error); followed by nothing good, a torn tail.
    pub bad: Option<(u64, Bad)>,
    /// True when a whole, checksummed entry exists after `bad`.
    pub good_after_bad: bool,
}

impl<'a> Cursor<'a> {
    /// The entries of a segment after its header.
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor {
            bytes,
            pos: HEADER_BYTES.min(bytes.len()),
            bad: None,
        }
    }

    /// The next whole entry and its offset; `None` at the end or at a bad entry.
    #[inline]
    pub fn next_entry(&mut self) -> Option<(u64, Entry<'a>)> {
        if self.bad.is_some() || self.pos >= self.bytes.len() {
            return None;
        }
        match decode(&self.bytes[self.pos..]) {
            Ok((e, n)) => {
                let at = self.pos as u64;
                self.pos += n;
                Some((at, e))
            }
            Err(bad) => {
                self.bad = Some(bad);
                None
            }
        }
    }

    /// True when the next entry announces itself as an event (kind 5).
    #[inline]
    pub fn next_is_event(&self) -> bool {
        self.bad.is_none() && self.bytes.get(self.pos + FRAME_BYTES) == Some(&KIND_EVENT)
    }

    /// Where the whole entries end, and why, once [`Cursor::next_entry`] gave `None`. Looks
    /// for any whole entry beyond a bad one (which tells corruption in the middle from a tail
    /// cut short).
    pub fn finish(self) -> End {
        let good_after_bad = self.bad.is_some() && whole_entry_after(self.bytes, self.pos);
        End {
            end: self.pos as u64,
            bad: self.bad.map(|b| (self.pos as u64, b)),
            good_after_bad,
        }
    }
}

/// Is there a checksummed entry starting anywhere after `pos`? (Only run when something is
/// wrong; a plausible length and kind byte filter the offsets before any checksum.)
fn whole_entry_after(bytes: &[u8], pos: usize) -> bool {
    let mut q = pos + 1;
    while q + FRAME_BYTES < bytes.len() {
        let len = le_u32(&bytes[q..]) as usize;
        if len > 0
            && len <= MAX_ENTRY_BYTES
            && q + FRAME_BYTES + len <= bytes.len()
            && (KIND_RECORD..=KIND_EVENT).contains(&bytes[q + FRAME_BYTES])
            && decode(&bytes[q..]).is_ok()
        {
            return true;
        }
        q += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(entries: &[Entry<'_>]) -> Vec<u8> {
        let mut v = header(7).to_vec();
        for e in entries {
            encode(e, &mut v);
        }
        v
    }

    #[test]
    fn entries_round_trip() {
        let es = [
            Entry::Record {
                now_ms: 1_767_225_600_000,
                line: br#"{"customerId":"a"}"#,
            },
            Entry::Publish {
                effective_from_ms: -1,
                content: [7; 32],
            },
            Entry::Override {
                model: "gpt-4o",
                entry: br#"{"input_cost_per_token":1e-6}"#,
            },
            Entry::Unoverride { model: "gpt-4o" },
        ];
        let bytes = segment(&es);
        assert_eq!(check_header(&bytes, 7), Ok(JOURNAL_VERSION));
        assert!(check_header(&bytes, 8).is_err());
        let mut c = Cursor::new(&bytes);
        let mut got = Vec::new();
        while let Some(e) = c.next_entry() {
            got.push(e);
        }
        let end = c.finish();
        assert!(end.bad.is_none());
        assert_eq!(end.end as usize, bytes.len());
        // 24 header + 8 frame + 1 kind + 8 now + 18 line.
        assert_eq!(got[1].0, 24 + 8 + 1 + 8 + 18);
        let got: Vec<_> = got.into_iter().map(|(_, e)| e).collect();
        assert_eq!(got, es);
    }

    #[test]
    fn event_entries_round_trip_and_bad_bodies_are_refused() {
        let full = PricedEvent {
            now_ms: 1_767_225_600_000,
            ts: 1_767_225_000_000,
            ts_given: true,
            customer: "acme",
            run: Some("run-é"),
            agent: Some("triage"),
            model: Some("gpt-4o"),
            provider: Some("openai"),
            key: Some((Fingerprint::of("k1"), 0xdead_beef)),
            revenue_unit_cents: Some("2.5".parse().unwrap()),
            units: 3,
            outcome: Some(Outcome::Escalated),
            tokens: TokenTotals {
                tokens_in: 1,
                cached_tokens: 2,
                cache_write_5m_tokens: 3,
                cache_write_1h_tokens: 4,
                tokens_out: 5,
                reasoning_tokens: 6,
            },
            cost_cents: "0.000000000000000000000001".parse().unwrap(),
            savings_cents: "12.5".parse().unwrap(),
            priced: false,
            reason: Some(UnpricedReason::NoTokenPrice),
            snapshot: SnapshotId(u64::MAX),
        };
        let bare = PricedEvent {
            ts_given: false,
            run: None,
            agent: None,
            model: None,
            provider: None,
            key: None,
            revenue_unit_cents: None,
            outcome: None,
            priced: true,
            reason: None,
            ..full
        };
        let es = [Entry::Event(full), Entry::Event(bare)];
        let bytes = segment(&es);
        let mut c = Cursor::new(&bytes);
        let mut got = Vec::new();
        while let Some((_, e)) = c.next_entry() {
            got.push(e);
        }
        assert!(c.finish().bad.is_none());
        assert_eq!(got, es);
        // The fixed part, then the key, the unit price and five identifiers of full's body.
        let full_len = u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
        assert_eq!(
            full_len,
            1 + EVENT_FIXED_BYTES + 20 + 16 + (2 + 4) + (2 + 6) + (2 + 6) + (2 + 6) + (2 + 6)
        );

        // A body cut short, with a trailing byte, or with an unknown flag: refused.
        let body = |e: &Entry<'_>| {
            let mut v = Vec::new();
            encode(e, &mut v);
            v[FRAME_BYTES..].to_vec()
        };
        let reframe = |b: &[u8]| {
            let mut v = vec![0u8; FRAME_BYTES];
            v[..4].copy_from_slice(&(b.len() as u32).to_le_bytes());
            v.extend_from_slice(b);
            let mut h = crc32fast::Hasher::new();
            h.update(&v[..4]);
            h.update(&v[FRAME_BYTES..]);
            let crc = h.finalize();
            v[4..8].copy_from_slice(&crc.to_le_bytes());
            v
        };
        let b = body(&es[0]);
        assert_eq!(
            decode(&reframe(&b[..b.len() - 1])).unwrap_err(),
            Bad::Body("event entry: cut short".into())
        );
        let mut long = b.clone();
        long.push(0);
        assert_eq!(
            decode(&reframe(&long)).unwrap_err(),
            Bad::Body("event entry: 1 bytes after the last field".into())
        );
        let mut flagged = body(&es[1]);
        flagged[1 + 16 + 1] |= 1; // flag bit 8: unknown
        assert_eq!(
            decode(&reframe(&flagged)).unwrap_err(),
            Bad::Body("event entry: unknown flags 0x0102".into())
        );
    }

    #[test]
    fn names() {
        assert_eq!(segment_name(42), "wal-00000000000000000042.tgj");
        assert_eq!(parse_segment_name("wal-00000000000000000042.tgj"), Some(42));
        assert_eq!(parse_segment_name("wal-42.tgj"), None);
        assert_eq!(parse_segment_name("wal-0000000000000000004x.tgj"), None);
    }
}
