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
//! ```
//! Little-endian throughout. The journal never interprets a record's line: whatever record
//! types the ledger parses (events, resolutions, customers, policies…) replay through the same
//! parser.

use std::fmt;

/// Version of the segment format written by this build.
pub const JOURNAL_VERSION: u32 = 1;
/// Largest entry body: a record is at most 64 KiB, an override entry as well.
pub const MAX_ENTRY_BYTES: usize = 1 << 20;
pub(crate) const MAGIC: &[u8; 8] = b"TGJOURNL";
pub(crate) const HEADER_BYTES: usize = 24;
pub(crate) const FRAME_BYTES: usize = 8;

const KIND_RECORD: u8 = 1;
const KIND_PUBLISH: u8 = 2;
const KIND_OVERRIDE: u8 = 3;
const KIND_UNOVERRIDE: u8 = 4;

/// One journal entry, borrowed from the segment bytes.
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
        k => return Err(Bad::Body(format!("unknown entry kind {k}"))),
    };
    Ok((entry, end))
}

/// Checks a segment header; `Err` says what is wrong.
pub(crate) fn check_header(bytes: &[u8], segment: u64) -> Result<(), String> {
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
    if version != JOURNAL_VERSION {
        return Err(format!(
            "journal format version {version}; this build reads {JOURNAL_VERSION}"
        ));
    }
    let n = u64::from_le_bytes(bytes[12..20].try_into().unwrap_or([0; 8]));
    if n != segment {
        return Err(format!("header names segment {n}, file name {segment}"));
    }
    Ok(())
}

/// The result of scanning a segment's bytes.
#[derive(Debug)]
pub(crate) struct Scan<'a> {
    /// The whole entries, with their offsets.
    pub entries: Vec<(u64, Entry<'a>)>,
    /// Where the whole entries end (the file length when nothing is wrong).
    pub end: u64,
    /// What ends the scan early: offset and reason. A bad entry followed by a good one is
    /// corruption in the middle (an error); followed by nothing good, a torn tail.
    pub bad: Option<(u64, Bad)>,
    /// True when a whole, checksummed entry exists after `bad`.
    pub good_after_bad: bool,
}

/// Scans the entries after the header. Stops at the first bad one and looks for any whole
/// entry beyond it (which tells corruption in the middle from a tail cut short).
pub(crate) fn scan(bytes: &[u8]) -> Scan<'_> {
    let mut pos = HEADER_BYTES.min(bytes.len());
    let mut entries = Vec::new();
    while pos < bytes.len() {
        match decode(&bytes[pos..]) {
            Ok((e, n)) => {
                entries.push((pos as u64, e));
                pos += n;
            }
            Err(bad) => {
                let good_after_bad = whole_entry_after(bytes, pos);
                return Scan {
                    entries,
                    end: pos as u64,
                    bad: Some((pos as u64, bad)),
                    good_after_bad,
                };
            }
        }
    }
    Scan {
        entries,
        end: pos as u64,
        bad: None,
        good_after_bad: false,
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
            && (KIND_RECORD..=KIND_UNOVERRIDE).contains(&bytes[q + FRAME_BYTES])
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
        assert_eq!(check_header(&bytes, 7), Ok(()));
        assert!(check_header(&bytes, 8).is_err());
        let s = scan(&bytes);
        assert!(s.bad.is_none());
        assert_eq!(s.end as usize, bytes.len());
        let got: Vec<_> = s.entries.into_iter().map(|(_, e)| e).collect();
        assert_eq!(got, es);
        // 24 header + 8 frame + 1 kind + 8 now + 18 line.
        assert_eq!(scan(&bytes).entries[1].0, 24 + 8 + 1 + 8 + 18);
    }

    #[test]
    fn names() {
        assert_eq!(segment_name(42), "wal-00000000000000000042.tgj");
        assert_eq!(parse_segment_name("wal-00000000000000000042.tgj"), Some(42));
        assert_eq!(parse_segment_name("wal-42.tgj"), None);
        assert_eq!(parse_segment_name("wal-0000000000000000004x.tgj"), None);
    }
}
