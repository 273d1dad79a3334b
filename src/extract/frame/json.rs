//! A streaming JSON scanner that validates every byte but keeps only what usage needs.
//!
//! Provider responses are mostly content (text deltas, tool arguments, encrypted reasoning);
//! the usage is a few hundred bytes at a known path. The scanner walks the JSON grammar one
//! piece at a time, follows a small static tree of interesting paths ([`ROOT`]), and copies
//! only the values found there (a `usage` object, `model`, `id`, …) into a bounded buffer.
//! Everything else is checked and skipped, so memory does not depend on content length and a
//! value may be split across pieces anywhere, even inside a string escape or a number.
//!
//! A top-level object is one *payload*. A top-level array is a stream whose elements are the
//! payloads (Gemini's non-SSE `streamGenerateContent`). Several top-level values in a row
//! (JSON Lines) are several payloads.

use crate::extract::paths::{
    Cap, Ctr, MAX_KEY_BYTES, N_CAPS, N_CTRS, Node, ROOT, STREAM_ARRAY, Tally, filter_bit,
};
use memchr::memchr2;

/// Deepest nesting accepted (serde_json's default recursion limit).
pub const MAX_JSON_DEPTH: usize = 128;
/// Most bytes copied out of one payload (the usage objects, ids, model names, …).
pub const MAX_CAPTURE_BYTES: usize = 64 * 1024;

/// Why the scanner stopped, with the offset of the offending byte in the piece fed.
#[derive(Debug)]
pub(crate) struct ScanError {
    pub kind: ScanErrorKind,
    pub message: &'static str,
    pub index: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanErrorKind {
    Syntax,
    TooDeep,
    TooLarge,
}

fn syntax(message: &'static str, index: usize) -> ScanError {
    ScanError {
        kind: ScanErrorKind::Syntax,
        message,
        index,
    }
}

/// What a state function of [`JsonScanner`] decided.
enum Flow {
    /// Go on at this index of the piece.
    Go(usize),
    /// Stop feeding: a payload completed.
    Stop(Step),
}

/// After a value ended (`ended`: the payload that completed, if any), go on at `next`.
#[inline]
fn then(ended: Result<Option<Step>, ScanError>, next: usize) -> Result<Flow, ScanError> {
    Ok(match ended? {
        Some(step) => Flow::Stop(step),
        None => Flow::Go(next),
    })
}

/// Result of feeding a piece.
pub(crate) enum Step {
    /// Every byte was consumed; no payload completed.
    NeedMore,
    /// A payload completed after this many bytes of the piece; read it with
    /// [`JsonScanner::captures`], then call [`JsonScanner::clear_payload`] and feed the rest.
    Payload(usize),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum St {
    /// Between top-level values.
    Between,
    /// Expecting a value (after `:` or `,` in an array).
    Value,
    /// After `[`: a value or `]`.
    ArrFirst,
    /// After `{`: a key or `}`.
    ObjFirst,
    /// After `,` in an object: a key.
    ObjKey,
    Key,
    KeyEsc,
    KeyHex(u8),
    Colon,
    /// After a value inside a container: `,` or the closing bracket.
    After,
    Str,
    StrEsc,
    StrHex(u8),
    Num(Num),
    Lit(&'static [u8], u8),
}

#[derive(Clone, Copy)]
struct Frame {
    obj: bool,
    node: Option<&'static Node>,
}

#[derive(Clone, Copy)]
enum Slot {
    Empty,
    Present,
    Bytes(u32, u32),
}

/// The values captured from the current payload.
pub(crate) struct Captures<'a> {
    buf: &'a [u8],
    slots: &'a [Slot; N_CAPS],
    tallies: &'a [u32; N_CTRS],
    hashes: &'a [u64],
    type_escaped: bool,
}

impl Captures<'_> {
    /// Raw JSON text of the captured value (`None` when absent).
    pub(crate) fn raw(&self, cap: Cap) -> Option<&[u8]> {
        match self.slots[cap as usize] {
            Slot::Bytes(a, b) => Some(&self.buf[a as usize..b as usize]),
            _ => None,
        }
    }

    /// Raw text when present and not `null`.
    pub(crate) fn value(&self, cap: Cap) -> Option<&[u8]> {
        self.raw(cap).filter(|r| *r != b"null")
    }

    /// For presence-only paths: a non-null value was seen.
    pub(crate) fn present(&self, cap: Cap) -> bool {
        !matches!(self.slots[cap as usize], Slot::Empty)
    }

    /// The captured top-level `type` was written with escapes (rare: compare it decoded).
    pub(crate) fn type_escaped(&self) -> bool {
        self.type_escaped
    }

    /// A counter of this payload.
    pub(crate) fn count(&self, ctr: Ctr) -> u32 {
        self.tallies[ctr as usize]
    }

    /// Hashes of the [`Tally::Hashed`] strings of this payload (at most
    /// [`MAX_PAYLOAD_HASHES`]; the counter counts them all).
    pub(crate) fn hashes(&self) -> &[u64] {
        self.hashes
    }
}

/// Most hashed strings kept per payload (web-search queries of one response).
pub(crate) const MAX_PAYLOAD_HASHES: usize = 32;
/// Longest scalar compared or parsed for a tally (type names, small integers).
const OBS_BYTES: usize = 24;

/// A scalar value being watched for a [`Tally`]: only its first [`OBS_BYTES`] are kept.
#[derive(Clone, Copy)]
struct Obs {
    tally: Tally,
    buf: [u8; OBS_BYTES],
    len: usize,
    /// Too long, escaped or not the expected kind: it cannot match.
    spoiled: bool,
    hash: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Obs {
    fn new(tally: Tally) -> Obs {
        Obs {
            tally,
            buf: [0; OBS_BYTES],
            len: 0,
            spoiled: false,
            hash: FNV_OFFSET,
        }
    }

    fn feed(&mut self, part: &[u8]) {
        if let Tally::Hashed(_) = self.tally {
            // FNV-1a over the raw bytes: equal queries hash equally, no text is kept.
            for &b in part {
                self.hash = (self.hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
            }
            self.len = self.len.saturating_add(part.len());
            return;
        }
        if self.len + part.len() > OBS_BYTES {
            self.spoiled = true;
            return;
        }
        self.buf[self.len..self.len + part.len()].copy_from_slice(part);
        self.len += part.len();
    }

    /// An escape sequence inside the string (its byte after the backslash).
    fn escape(&mut self, b: u8) {
        match self.tally {
            Tally::Hashed(_) => self.feed(&[b'\\', b]),
            _ => self.spoiled = true,
        }
    }
}

/// The streaming scanner (see the module docs).
pub(crate) struct JsonScanner {
    st: St,
    stack: Vec<Frame>,
    /// Node that applies to the next value to start.
    next: Option<&'static Node>,
    /// Depth at which a completed value is a payload (0, or 1 inside a top-level array).
    payload_depth: usize,
    key: [u8; MAX_KEY_BYTES],
    key_len: usize,
    /// Key is being matched (its object has interesting children).
    key_live: bool,
    /// Key cannot match (too long or escaped).
    key_dead: bool,
    /// Capture in progress: slot, depth at which it started.
    cap: Option<(Cap, usize)>,
    cap_start: u32,
    /// Index in the current piece where the capture's unsaved bytes begin.
    cap_from: usize,
    buf: Vec<u8>,
    slots: [Slot; N_CAPS],
    /// Bytes of the current payload so far (before this piece) and the limit.
    payload_bytes: usize,
    /// Index in the current piece where the payload began (0 when it began before).
    payload_from: usize,
    max_payload_bytes: usize,
    in_payload: bool,
    /// A top-level array (a stream of payloads) was seen.
    saw_array: bool,
    /// The scalar being watched for a tally, if any.
    obs: Option<Obs>,
    tallies: [u32; N_CTRS],
    hashes: [u64; MAX_PAYLOAD_HASHES],
    n_hashes: usize,
    /// A `\u` escape inside a key being matched: the code unit so far.
    key_u: u32,
    /// The `type` capture of this payload holds an escape.
    type_escaped: bool,
    /// The innermost open container is off every path (its frame's node is `None`): its
    /// content is read by [`Self::skip`].
    off: bool,
}

impl JsonScanner {
    pub(crate) fn new(max_payload_bytes: usize) -> JsonScanner {
        JsonScanner {
            st: St::Between,
            stack: Vec::with_capacity(16),
            next: None,
            payload_depth: 0,
            key: [0; MAX_KEY_BYTES],
            key_len: 0,
            key_live: false,
            key_dead: false,
            cap: None,
            cap_start: 0,
            cap_from: 0,
            buf: Vec::new(),
            slots: [Slot::Empty; N_CAPS],
            payload_bytes: 0,
            payload_from: 0,
            max_payload_bytes,
            in_payload: false,
            saw_array: false,
            obs: None,
            tallies: [0; N_CTRS],
            hashes: [0; MAX_PAYLOAD_HASHES],
            n_hashes: 0,
            key_u: 0,
            type_escaped: false,
            off: false,
        }
    }

    pub(crate) fn max_payload_bytes(&self) -> usize {
        self.max_payload_bytes
    }

    /// Bytes held by the scanner's buffers.
    pub(crate) fn retained(&self) -> usize {
        self.buf.capacity() + self.stack.capacity() * std::mem::size_of::<Frame>()
    }

    pub(crate) fn set_max_payload_bytes(&mut self, max: usize) {
        self.max_payload_bytes = max;
    }

    /// True once a top-level array (a JSON array of stream payloads) was read.
    pub(crate) fn saw_array(&self) -> bool {
        self.saw_array
    }

    /// The captures of the payload that just completed.
    pub(crate) fn captures(&self) -> Captures<'_> {
        Captures {
            buf: &self.buf,
            slots: &self.slots,
            tallies: &self.tallies,
            hashes: &self.hashes[..self.n_hashes],
            type_escaped: self.type_escaped,
        }
    }

    /// Forgets the captures of the last payload.
    pub(crate) fn clear_payload(&mut self) {
        self.buf.clear();
        self.slots = [Slot::Empty; N_CAPS];
        self.tallies = [0; N_CTRS];
        self.n_hashes = 0;
        self.obs = None;
        self.type_escaped = false;
    }

    /// True while a top-level value has started but not ended.
    pub(crate) fn in_value(&self) -> bool {
        !matches!(self.st, St::Between)
    }

    /// Resets to the initial state (used per event-stream message).
    pub(crate) fn reset(&mut self) {
        self.st = St::Between;
        self.stack.clear();
        self.off = false;
        self.next = None;
        self.cap = None;
        self.in_payload = false;
        self.payload_bytes = 0;
        self.clear_payload();
    }

    /// Ends the input: a top-level number or literal cannot be pending (top-level values
    /// are objects or arrays), so the scanner must simply be between values.
    pub(crate) fn finish(&self) -> Result<(), ScanError> {
        if self.st == St::Between {
            Ok(())
        } else {
            Err(syntax("the input ends in the middle of a JSON value", 0))
        }
    }

    /// Feeds one piece. Stops early when a payload completes (see [`Step`]).
    ///
    /// Errors do not depend on how the input is split into pieces: each is reported at the
    /// first byte at fault, and when a limit is passed before a later error in the same piece
    /// the limit is reported (as feeding the bytes one at a time would).
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<Step, ScanError> {
        let n = bytes.len();
        self.cap_from = 0;
        self.payload_from = 0;
        let result = self.run(bytes);
        // Bytes of the piece read (through the offending byte on an error).
        let end = match &result {
            Ok(Step::Payload(k)) => *k,
            Ok(Step::NeedMore) => n,
            Err(e) => e.index + 1,
        };
        if self.in_payload || matches!(result, Ok(Step::Payload(_))) {
            let counted = self
                .payload_bytes
                .saturating_add(end.saturating_sub(self.payload_from));
            if counted > self.max_payload_bytes {
                // The first byte beyond the limit.
                return Err(ScanError {
                    kind: ScanErrorKind::TooLarge,
                    message: "payload",
                    index: self.payload_from + (self.max_payload_bytes - self.payload_bytes),
                });
            }
            self.payload_bytes = counted;
        }
        if self.cap.is_some() && !matches!(result, Ok(Step::Payload(_))) {
            // A capture still open: its bytes of this piece are saved now (the piece will not
            // be seen again), or, after an error, checked against the limit.
            let upto = end.min(n);
            if let Err(e) = result {
                self.check_capture(self.cap_from, upto)?;
                return Err(e);
            }
            self.save_capture(bytes, self.cap_from, upto)?;
        }
        let result = result?;
        if let Step::Payload(_) = result {
            self.payload_bytes = 0;
        }
        Ok(result)
    }

    /// The grammar: one state function per [`St`], each reading from index `i` and saying
    /// where to go on (or that a payload completed).
    #[inline]
    fn run(&mut self, bytes: &[u8]) -> Result<Step, ScanError> {
        let mut i = 0usize;
        while i < bytes.len() {
            if self.off {
                // Content off every path: read by the lean loop up to the bracket that closes
                // the outermost such container (left to this loop: it may end a capture or a
                // payload) or the end of the piece.
                i = self.skip(bytes, i)?;
                if i >= bytes.len() {
                    break;
                }
            }
            let b = bytes[i];
            let flow = match self.st {
                St::Str => self.string(bytes, i),
                St::StrEsc | St::KeyEsc => self.escape(b, i),
                St::StrHex(left) | St::KeyHex(left) => self.hex_digit(b, i, left),
                St::Key => self.key(bytes, i),
                // A whole run of whitespace at once (pretty-printed bodies: `\n` + indent).
                _ if is_ws(b) && !matches!(self.st, St::Num(_) | St::Lit(..)) => {
                    Ok(Flow::Go(skip_ws(bytes, i + 1)))
                }
                St::Between => self.top_level(b, i),
                St::Value | St::ArrFirst => self.value(bytes, b, i),
                St::ObjFirst | St::ObjKey => self.object_key(bytes, b, i),
                St::Colon => self.colon(b, i),
                St::After => self.after_value(bytes, b, i),
                St::Num(state) => self.number(bytes, b, i, state),
                St::Lit(word, pos) => self.literal(bytes, b, i, word, pos),
            }?;
            match flow {
                Flow::Go(next) => i = next,
                Flow::Stop(step) => return Ok(step),
            }
        }
        Ok(Step::NeedMore)
    }

    /// Inside a string value: skips its contents in bulk up to the closing quote or an escape.
    #[inline]
    fn string(&mut self, bytes: &[u8], i: usize) -> Result<Flow, ScanError> {
        let Some(k) = find_stop(&bytes[i..]) else {
            if let Some(o) = &mut self.obs {
                o.feed(&bytes[i..]);
            }
            return Ok(Flow::Go(bytes.len()));
        };
        if let Some(o) = &mut self.obs {
            o.feed(&bytes[i..i + k]);
        }
        let i = i + k;
        match bytes[i] {
            b'"' => match self.end_value(bytes, i, true)? {
                Some(step) => Ok(Flow::Stop(step)),
                None => self.next_key(bytes, i + 1),
            },
            b'\\' => {
                self.st = St::StrEsc;
                Ok(Flow::Go(i + 1))
            }
            _ => Err(syntax("control character inside a JSON string", i)),
        }
    }

    /// The byte after a backslash, in a string value or a key.
    fn escape(&mut self, b: u8, i: usize) -> Result<Flow, ScanError> {
        let in_key = self.st == St::KeyEsc;
        let plain = match b {
            b'"' | b'\\' | b'/' => Some(b),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            b'u' => None,
            _ => return Err(syntax("invalid escape in a JSON string", i)),
        };
        if in_key {
            // Keys written with escapes still match their decoded name.
            if let Some(c) = plain {
                self.push_key(&[c]);
            }
            self.key_u = 0;
        } else {
            if let Some(o) = &mut self.obs {
                o.escape(b);
            }
            if let Some((Cap::Type, _)) = self.cap {
                self.type_escaped = true;
            }
        }
        self.st = match (plain, in_key) {
            (Some(_), true) => St::Key,
            (Some(_), false) => St::Str,
            (None, true) => St::KeyHex(4),
            (None, false) => St::StrHex(4),
        };
        Ok(Flow::Go(i + 1))
    }

    /// One of the four hex digits of a `\u` escape (`left` of them still to read).
    fn hex_digit(&mut self, b: u8, i: usize, left: u8) -> Result<Flow, ScanError> {
        let Some(digit) = (b as char).to_digit(16) else {
            return Err(syntax("invalid \\u escape in a JSON string", i));
        };
        let in_key = matches!(self.st, St::KeyHex(_));
        if in_key {
            self.key_u = self.key_u * 16 + digit;
            if left == 1 {
                // Path keys are ASCII: a non-ASCII code unit cannot match.
                match u8::try_from(self.key_u) {
                    Ok(c) if c.is_ascii() => self.push_key(&[c]),
                    _ => self.key_dead = true,
                }
            }
        } else if let Some(o) = &mut self.obs {
            o.escape(b);
        }
        self.st = match (left, in_key) {
            (1, true) => St::Key,
            (1, false) => St::Str,
            (l, true) => St::KeyHex(l - 1),
            (l, false) => St::StrHex(l - 1),
        };
        Ok(Flow::Go(i + 1))
    }

    /// Inside an object key: collects it (when it could match a path) up to the closing quote.
    #[inline]
    fn key(&mut self, bytes: &[u8], i: usize) -> Result<Flow, ScanError> {
        let stop = find_stop(&bytes[i..]);
        let part = &bytes[i..i + stop.unwrap_or(bytes.len() - i)];
        self.push_key(part);
        let Some(k) = stop else {
            return Ok(Flow::Go(bytes.len()));
        };
        let i = i + k;
        match bytes[i] {
            b'"' => {
                self.next = self.match_key();
                self.st = St::Colon;
                return self.colon_value(bytes, i + 1);
            }
            b'\\' => self.st = St::KeyEsc,
            _ => return Err(syntax("control character inside a JSON string", i)),
        }
        Ok(Flow::Go(i + 1))
    }

    /// Reads content off every path from `i` (the innermost open container is off-path):
    /// the same grammar, checks and errors as the state functions, without the path tree,
    /// key matching, captures or tallies (none apply off the paths; a capture in progress
    /// is copied by its byte range, a `type` capture still notes escapes). Stops at the end of
    /// the piece, or before the bracket that would close the outermost off-path container,
    /// which the main loop reads. Returns the index reached; the state is kept in `self.st`,
    /// so a piece may end anywhere.
    #[inline(never)]
    fn skip(&mut self, bytes: &[u8], mut i: usize) -> Result<usize, ScanError> {
        // Frames below `floor` are on a path; from `floor` up they are off every path.
        let floor = self
            .stack
            .iter()
            .rposition(|f| f.node.is_some())
            .map_or(0, |p| p + 1);
        let n = bytes.len();
        let mut st = self.st;
        let result = loop {
            let Some(&b) = bytes.get(i) else {
                break Ok(i);
            };
            match st {
                St::Str | St::Key => {
                    let Some(k) = find_stop(&bytes[i..]) else {
                        i = n;
                        continue;
                    };
                    i += k;
                    let key = st == St::Key;
                    match bytes[i] {
                        b'"' => st = if key { St::Colon } else { St::After },
                        b'\\' => st = if key { St::KeyEsc } else { St::StrEsc },
                        _ => break Err(syntax("control character inside a JSON string", i)),
                    }
                    i += 1;
                }
                St::StrEsc | St::KeyEsc => {
                    let key = st == St::KeyEsc;
                    st = match (b, key) {
                        (b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't', true) => St::Key,
                        (b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't', false) => St::Str,
                        (b'u', true) => St::KeyHex(4),
                        (b'u', false) => St::StrHex(4),
                        _ => break Err(syntax("invalid escape in a JSON string", i)),
                    };
                    if !key && let Some((Cap::Type, _)) = self.cap {
                        self.type_escaped = true;
                    }
                    i += 1;
                }
                St::StrHex(left) | St::KeyHex(left) => {
                    if !b.is_ascii_hexdigit() {
                        break Err(syntax("invalid \\u escape in a JSON string", i));
                    }
                    st = match (left, st) {
                        (1, St::KeyHex(_)) => St::Key,
                        (1, _) => St::Str,
                        (l, St::KeyHex(_)) => St::KeyHex(l - 1),
                        (l, _) => St::StrHex(l - 1),
                    };
                    i += 1;
                }
                St::Num(state) => {
                    let digit = b.is_ascii_digit();
                    let nxt = match (state, b) {
                        (Num::Minus, b'0') => Num::Zero,
                        (Num::Minus, _) if digit => Num::Int,
                        (Num::Int, _) if digit => Num::Int,
                        (Num::Zero | Num::Int, b'.') => Num::Dot,
                        (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Num::E,
                        (Num::Dot | Num::Frac, _) if digit => Num::Frac,
                        (Num::E, b'+' | b'-') => Num::ESign,
                        (Num::E | Num::ESign | Num::Exp, _) if digit => Num::Exp,
                        _ => {
                            if !matches!(state, Num::Zero | Num::Int | Num::Frac | Num::Exp) {
                                break Err(syntax("malformed JSON number", i));
                            }
                            // The number ended just before this byte; re-read it in `After`.
                            st = St::After;
                            continue;
                        }
                    };
                    st = St::Num(nxt);
                    i += 1;
                    if matches!(nxt, Num::Int | Num::Frac | Num::Exp) {
                        while i < n && bytes[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                St::Lit(word, pos) => {
                    if b != word[pos as usize] {
                        break Err(syntax("invalid JSON literal", i));
                    }
                    st = if pos as usize + 1 == word.len() {
                        St::After
                    } else {
                        St::Lit(word, pos + 1)
                    };
                    i += 1;
                }
                _ if is_ws(b) => i = skip_ws(bytes, i + 1),
                St::Value | St::ArrFirst => {
                    if st == St::ArrFirst && b == b']' {
                        if self.stack.len() <= floor + 1 {
                            break Ok(i);
                        }
                        self.stack.pop();
                        st = St::After;
                        i += 1;
                        continue;
                    }
                    st = match b {
                        b'{' | b'[' => {
                            if self.stack.len() >= MAX_JSON_DEPTH {
                                break Err(ScanError {
                                    kind: ScanErrorKind::TooDeep,
                                    message: "JSON nesting",
                                    index: i,
                                });
                            }
                            let obj = b == b'{';
                            self.stack.push(Frame { obj, node: None });
                            if obj { St::ObjFirst } else { St::ArrFirst }
                        }
                        b'"' => St::Str,
                        b'-' => St::Num(Num::Minus),
                        b'0' => St::Num(Num::Zero),
                        b'1'..=b'9' => St::Num(Num::Int),
                        b't' => St::Lit(b"true", 1),
                        b'f' => St::Lit(b"false", 1),
                        b'n' => St::Lit(b"null", 1),
                        _ => break Err(syntax("expected a JSON value", i)),
                    };
                    i += 1;
                }
                St::ObjFirst | St::ObjKey => {
                    if b == b'"' {
                        st = St::Key;
                    } else if st == St::ObjFirst && b == b'}' {
                        if self.stack.len() <= floor + 1 {
                            break Ok(i);
                        }
                        self.stack.pop();
                        st = St::After;
                    } else {
                        break Err(syntax("expected a string key in a JSON object", i));
                    }
                    i += 1;
                }
                St::Colon => {
                    if b != b':' {
                        break Err(syntax("expected ':' after an object key", i));
                    }
                    st = St::Value;
                    i += 1;
                }
                St::After => {
                    let Some(top) = self.stack.last().copied() else {
                        break Ok(i);
                    };
                    match b {
                        b',' => st = if top.obj { St::ObjKey } else { St::Value },
                        b'}' | b']' => {
                            if self.stack.len() <= floor + 1 {
                                break Ok(i);
                            }
                            if top.obj != (b == b'}') {
                                break Err(syntax("mismatched closing bracket", i));
                            }
                            self.stack.pop();
                        }
                        _ => {
                            break Err(syntax(
                                if top.obj {
                                    "expected ',' or '}' in a JSON object"
                                } else {
                                    "expected ',' or ']' in a JSON array"
                                },
                                i,
                            ));
                        }
                    }
                    i += 1;
                }
                // Not reached (an open container is never between top-level values).
                St::Between => break Ok(i),
            }
        };
        self.st = st;
        result
    }

    /// Between top-level values: an object (a payload) or an array (a stream of payloads).
    fn top_level(&mut self, b: u8, i: usize) -> Result<Flow, ScanError> {
        match b {
            b'{' => self.payload_depth = 0,
            b'[' => {
                self.payload_depth = 1;
                self.saw_array = true;
            }
            _ => {
                return Err(syntax("expected a JSON object (or an array of objects)", i));
            }
        }
        self.next = Some(if b == b'[' { &STREAM_ARRAY } else { &ROOT });
        self.st = self.begin_value(b, i)?;
        Ok(Flow::Go(i + 1))
    }

    /// Expecting a value (or, right after `[`, the `]` of an empty array).
    #[inline]
    fn value(&mut self, bytes: &[u8], b: u8, i: usize) -> Result<Flow, ScanError> {
        if self.st == St::ArrFirst && b == b']' {
            return then(self.close(bytes, i, false), i + 1);
        }
        self.st = self.begin_value(b, i)?;
        Ok(Flow::Go(i + 1))
    }

    /// Expecting a key (or, right after `{`, the `}` of an empty object).
    #[inline]
    fn object_key(&mut self, bytes: &[u8], b: u8, i: usize) -> Result<Flow, ScanError> {
        if b == b'"' {
            self.key_len = 0;
            self.key_dead = false;
            self.key_live = self.cap.is_none()
                && self
                    .stack
                    .last()
                    .and_then(|f| f.node)
                    .is_some_and(|n| !n.kids.is_empty());
            self.st = St::Key;
            Ok(Flow::Go(i + 1))
        } else if self.st == St::ObjFirst && b == b'}' {
            then(self.close(bytes, i, true), i + 1)
        } else {
            Err(syntax("expected a string key in a JSON object", i))
        }
    }

    /// Right after a key's closing quote at `i - 1`: takes the common `:` (and one space) and
    /// starts the value in place, saving trips through the state loop. Anything unusual is
    /// left to the loop, which reads the same bytes with the same checks.
    #[inline]
    fn colon_value(&mut self, bytes: &[u8], i: usize) -> Result<Flow, ScanError> {
        if bytes.get(i) != Some(&b':') {
            return Ok(Flow::Go(i));
        }
        self.st = St::Value;
        let mut j = i + 1;
        if bytes.get(j) == Some(&b' ') {
            j += 1;
        }
        match bytes.get(j) {
            Some(&b) if !is_ws(b) => {
                self.st = self.begin_value(b, j)?;
                if let St::Num(state) = self.st {
                    return self.digits(bytes, j + 1, state);
                }
                Ok(Flow::Go(j + 1))
            }
            _ => Ok(Flow::Go(j)),
        }
    }

    /// After a value ended inside a container (state `After`), at `i`: takes the common `,"`
    /// that starts the next key of an object. Anything else is left to the loop.
    #[inline]
    fn next_key(&mut self, bytes: &[u8], i: usize) -> Result<Flow, ScanError> {
        if self.st == St::After
            && bytes.get(i) == Some(&b',')
            && self.stack.last().is_some_and(|f| f.obj)
        {
            // `,"` or, pretty-printed, `,` + whitespace + `"`.
            let j = skip_ws(bytes, i + 1);
            if bytes.get(j) == Some(&b'"') {
                self.st = St::ObjKey;
                return self.object_key(bytes, b'"', j);
            }
        }
        Ok(Flow::Go(i))
    }

    /// Inside a number whose last byte (before `i`) left it in `state`: takes a run of digits
    /// at once when the state continues with digits alone. The loop reads the byte after.
    #[inline]
    fn digits(&mut self, bytes: &[u8], i: usize, state: Num) -> Result<Flow, ScanError> {
        let next = match state {
            Num::Int => Num::Int,
            Num::Dot | Num::Frac => Num::Frac,
            Num::ESign | Num::E | Num::Exp => Num::Exp,
            Num::Minus | Num::Zero => return Ok(Flow::Go(i)),
        };
        let rest = bytes.get(i..).unwrap_or(&[]);
        let k = rest
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(rest.len());
        if k > 0 {
            if let Some(o) = &mut self.obs {
                o.feed(&rest[..k]);
            }
            self.st = St::Num(next);
        }
        Ok(Flow::Go(i + k))
    }

    /// After a key: the `:`.
    fn colon(&mut self, b: u8, i: usize) -> Result<Flow, ScanError> {
        if b != b':' {
            return Err(syntax("expected ':' after an object key", i));
        }
        self.st = St::Value;
        Ok(Flow::Go(i + 1))
    }

    /// After a value inside a container: `,` or the closing bracket.
    #[inline]
    fn after_value(&mut self, bytes: &[u8], b: u8, i: usize) -> Result<Flow, ScanError> {
        let Some(top) = self.stack.last().copied() else {
            return Err(syntax("unexpected character after a JSON value", i));
        };
        match b {
            b',' => {
                if top.obj {
                    self.st = St::ObjKey;
                } else {
                    self.next = top.node.and_then(|n| n.elem);
                    self.st = St::Value;
                }
                Ok(Flow::Go(i + 1))
            }
            b'}' | b']' => match self.close(bytes, i, b == b'}')? {
                Some(step) => Ok(Flow::Stop(step)),
                None => self.next_key(bytes, i + 1),
            },
            _ => Err(syntax(
                if top.obj {
                    "expected ',' or '}' in a JSON object"
                } else {
                    "expected ',' or ']' in a JSON array"
                },
                i,
            )),
        }
    }

    /// Inside a number: its grammar, one byte at a time.
    #[inline]
    fn number(&mut self, bytes: &[u8], b: u8, i: usize, state: Num) -> Result<Flow, ScanError> {
        let digit = b.is_ascii_digit();
        let nxt = match (state, b) {
            (Num::Minus, b'0') => Some(Num::Zero),
            (Num::Minus, _) if digit => Some(Num::Int),
            (Num::Int, _) if digit => Some(Num::Int),
            (Num::Zero | Num::Int, b'.') => Some(Num::Dot),
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Some(Num::E),
            (Num::Dot | Num::Frac, _) if digit => Some(Num::Frac),
            (Num::E, b'+' | b'-') => Some(Num::ESign),
            (Num::E | Num::ESign | Num::Exp, _) if digit => Some(Num::Exp),
            _ => None,
        };
        match nxt {
            Some(s) => {
                if let Some(o) = &mut self.obs {
                    o.feed(&[b]);
                }
                self.st = St::Num(s);
                self.digits(bytes, i + 1, s)
            }
            None => {
                if !matches!(state, Num::Zero | Num::Int | Num::Frac | Num::Exp) {
                    return Err(syntax("malformed JSON number", i));
                }
                // The number ended just before this byte; re-read it in `After`.
                match self.end_value(bytes, i, false)? {
                    Some(step) => Ok(Flow::Stop(step)),
                    None => self.next_key(bytes, i),
                }
            }
        }
    }

    /// Inside `true`, `false` or `null` (`pos` bytes of `word` already read).
    fn literal(
        &mut self,
        bytes: &[u8],
        b: u8,
        i: usize,
        word: &'static [u8],
        pos: u8,
    ) -> Result<Flow, ScanError> {
        if b != word[pos as usize] {
            return Err(syntax("invalid JSON literal", i));
        }
        if pos as usize + 1 == word.len() {
            return match self.end_value(bytes, i, true)? {
                Some(step) => Ok(Flow::Stop(step)),
                None => self.next_key(bytes, i + 1),
            };
        }
        self.st = St::Lit(word, pos + 1);
        Ok(Flow::Go(i + 1))
    }

    fn push_key(&mut self, part: &[u8]) {
        if !self.key_live || self.key_dead {
            return;
        }
        if self.key_len + part.len() > MAX_KEY_BYTES {
            self.key_dead = true;
            return;
        }
        self.key[self.key_len..self.key_len + part.len()].copy_from_slice(part);
        self.key_len += part.len();
    }

    fn match_key(&self) -> Option<&'static Node> {
        if !self.key_live || self.key_dead {
            return None;
        }
        let key = &self.key[..self.key_len];
        let parent = self.stack.last()?.node?;
        if parent.filter & filter_bit(key) == 0 {
            return None;
        }
        // Keys are short: a length check and an inline byte compare beat a memcmp call.
        parent
            .kids
            .iter()
            .find(|k| k.key.len() == key.len() && k.key.iter().zip(key).all(|(a, b)| a == b))
    }

    /// Starts the value whose first byte is `b` at index `i`; returns the next state.
    ///
    /// Most values are scalars off every path inside a payload: those only pick their state.
    #[inline]
    fn begin_value(&mut self, b: u8, i: usize) -> Result<St, ScanError> {
        if self.next.is_none() && self.stack.len() != self.payload_depth {
            match b {
                b'"' => return Ok(St::Str),
                b'1'..=b'9' => return Ok(St::Num(Num::Int)),
                b'n' => return Ok(St::Lit(b"null", 1)),
                _ => {}
            }
        }
        self.begin_value_slow(b, i)
    }

    /// [`Self::begin_value`] for containers, values on a path and payload starts.
    #[inline(never)]
    fn begin_value_slow(&mut self, b: u8, i: usize) -> Result<St, ScanError> {
        let node = self.next.take();
        let depth = self.stack.len();
        if depth == self.payload_depth {
            if b != b'{' {
                return Err(syntax("a stream payload must be a JSON object", i));
            }
            self.clear_payload();
            self.in_payload = true;
            self.payload_bytes = 0;
            self.payload_from = i;
        }
        if let (Some(node), None) = (node, self.cap) {
            if let Some(cap) = node.cap {
                if !node.presence {
                    self.cap = Some((cap, depth));
                    self.cap_start = self.buf.len() as u32;
                    self.cap_from = i;
                } else if b != b'n' {
                    self.slots[cap as usize] = Slot::Present;
                }
            }
            if let Some(t) = node.tally {
                self.begin_tally(t, b);
            }
        }
        // Inside a capture the tree is not followed: the whole value is copied.
        let follow = if self.cap.is_some() { None } else { node };
        Ok(match b {
            b'{' | b'[' => {
                if depth >= MAX_JSON_DEPTH {
                    return Err(ScanError {
                        kind: ScanErrorKind::TooDeep,
                        message: "JSON nesting",
                        index: i,
                    });
                }
                let obj = b == b'{';
                let node = follow.filter(|n| {
                    if obj {
                        !n.kids.is_empty()
                    } else {
                        n.elem.is_some()
                    }
                });
                self.stack.push(Frame { obj, node });
                self.off = node.is_none();
                if obj {
                    St::ObjFirst
                } else {
                    self.next = node.and_then(|n| n.elem);
                    St::ArrFirst
                }
            }
            b'"' => St::Str,
            b'-' => St::Num(Num::Minus),
            b'0' => St::Num(Num::Zero),
            b'1'..=b'9' => St::Num(Num::Int),
            b't' => St::Lit(b"true", 1),
            b'f' => St::Lit(b"false", 1),
            b'n' => St::Lit(b"null", 1),
            _ => return Err(syntax("expected a JSON value", i)),
        })
    }

    /// Closes the innermost container at index `i` (the bracket byte).
    fn close(&mut self, bytes: &[u8], i: usize, obj: bool) -> Result<Option<Step>, ScanError> {
        match self.stack.pop() {
            Some(f) if f.obj == obj => {
                self.off = self.stack.last().is_some_and(|f| f.node.is_none());
                self.end_value(bytes, i, true)
            }
            _ => Err(syntax("mismatched closing bracket", i)),
        }
    }

    /// A value ended at `i` (`inclusive`: byte `i` belongs to it). Finishes a capture and
    /// reports a completed payload.
    #[inline]
    fn end_value(
        &mut self,
        bytes: &[u8],
        i: usize,
        inclusive: bool,
    ) -> Result<Option<Step>, ScanError> {
        let depth = self.stack.len();
        let end = if inclusive { i + 1 } else { i };
        if self.obs.is_some() {
            // Watched values are scalars: the value ending now is the watched one.
            self.end_tally();
        }
        if let Some((cap, cap_depth)) = self.cap
            && cap_depth == depth
        {
            self.save_capture(bytes, self.cap_from, end)?;
            self.slots[cap as usize] = Slot::Bytes(self.cap_start, self.buf.len() as u32);
            self.cap = None;
        }
        self.st = if depth == 0 { St::Between } else { St::After };
        if depth == self.payload_depth && self.in_payload {
            self.in_payload = false;
            return Ok(Some(Step::Payload(end)));
        }
        Ok(None)
    }

    fn bump(&mut self, ctr: Ctr) {
        let t = &mut self.tallies[ctr as usize];
        *t = t.saturating_add(1);
    }

    /// A value starts (first byte `b`) at a node with a tally.
    #[cold]
    #[inline(never)]
    fn begin_tally(&mut self, t: Tally, b: u8) {
        match t {
            Tally::Present(c) => {
                if b != b'n' {
                    self.bump(c);
                }
            }
            Tally::OneOf(_) | Tally::Hashed(_) => {
                if b == b'"' {
                    self.obs = Some(Obs::new(t));
                }
            }
            Tally::MaxPlusOne(_) => {
                if b.is_ascii_digit() {
                    let mut o = Obs::new(t);
                    o.feed(&[b]);
                    self.obs = Some(o);
                }
            }
        }
    }

    /// A watched value ended (rare: kept out of the hot path).
    #[cold]
    #[inline(never)]
    fn end_tally(&mut self) {
        let Some(o) = self.obs.take() else {
            return;
        };
        match o.tally {
            Tally::Present(_) => {}
            Tally::OneOf(names) => {
                if !o.spoiled
                    && let Some((_, c)) = names.iter().find(|(n, _)| *n == &o.buf[..o.len])
                {
                    self.bump(*c);
                }
            }
            Tally::Hashed(c) => {
                if o.len > 0 {
                    self.bump(c);
                    if self.n_hashes < MAX_PAYLOAD_HASHES {
                        self.hashes[self.n_hashes] = o.hash;
                        self.n_hashes += 1;
                    }
                }
            }
            Tally::MaxPlusOne(c) => {
                let digits = &o.buf[..o.len];
                if !o.spoiled
                    && !digits.is_empty()
                    && digits.iter().all(u8::is_ascii_digit)
                    && let Ok(v) = std::str::from_utf8(digits).unwrap_or("x").parse::<u32>()
                {
                    let t = &mut self.tallies[c as usize];
                    *t = (*t).max(v.saturating_add(1));
                }
            }
        }
    }

    /// Keeps `bytes[from..to]` of the capture in progress.
    fn save_capture(&mut self, bytes: &[u8], from: usize, to: usize) -> Result<(), ScanError> {
        self.check_capture(from, to)?;
        self.buf.extend_from_slice(&bytes[from..to]);
        Ok(())
    }

    /// Whether `to - from` more captured bytes fit; if not, the error is at the first byte
    /// that does not.
    fn check_capture(&self, from: usize, to: usize) -> Result<(), ScanError> {
        if self.buf.len() + (to - from) > MAX_CAPTURE_BYTES {
            return Err(ScanError {
                kind: ScanErrorKind::TooLarge,
                message: "captured usage",
                index: from + (MAX_CAPTURE_BYTES - self.buf.len()),
            });
        }
        Ok(())
    }
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// Index of the first non-whitespace byte of `bytes` at or after `i` (`bytes.len()` when none).
#[inline]
fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && is_ws(bytes[i]) {
        i += 1;
    }
    i
}

/// Bytes that end a run of plain string content: `"`, `\\` and control characters (which
/// JSON forbids inside strings).
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 0x20 {
        t[c] = true;
        c += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// Length of the plain string content at the start of `s` (index of the first stop byte).
/// Short strings (keys, ids, small deltas) dominate, so the first [`HEAD`] bytes are tested
/// eight at a time in a word ([`stop_mask`]); long content is searched with memchr, then
/// checked for control characters.
#[inline]
fn find_stop(s: &[u8]) -> Option<usize> {
    const HEAD: usize = 32;
    let head = s.len().min(HEAD);
    let mut k = 0;
    while k + 8 <= head {
        let Some(w) = s[k..].first_chunk::<8>() else {
            break;
        };
        let m = stop_mask(u64::from_le_bytes(*w));
        if m != 0 {
            return Some(k + (m.trailing_zeros() / 8) as usize);
        }
        k += 8;
    }
    if let Some(p) = s[k..head].iter().position(|&b| STOP[b as usize]) {
        return Some(k + p);
    }
    if s.len() <= HEAD {
        return None;
    }
    find_stop_long(&s[HEAD..]).map(|k| HEAD + k)
}

/// [`find_stop`] past its head: long content, kept out of line so the short path inlines.
#[inline(never)]
fn find_stop_long(tail: &[u8]) -> Option<usize> {
    let end = memchr2(b'"', b'\\', tail).unwrap_or(tail.len());
    match find_control(&tail[..end]) {
        Some(c) => Some(c),
        None if end < tail.len() => Some(end),
        None => None,
    }
}

/// Index of the first control character (below 0x20) of `s`, eight bytes at a time.
#[inline]
fn find_control(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    let mut k = 0;
    for w in &mut words {
        let w = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        // Non-zero exactly when a byte is below 0x20 (a borrow starts only at such a byte).
        if w.wrapping_sub(ONES * 0x20) & !w & HIGH != 0 {
            break;
        }
        k += 8;
    }
    s[k..].iter().position(|&b| b < 0x20).map(|p| k + p)
}

/// The high bit of each byte of `w` (little-endian) that is a [`STOP`] byte, exact up to and
/// including the lowest such byte (bytes above it may be flagged falsely by a borrow, so only
/// the lowest set bit is meaningful).
#[inline(always)]
fn stop_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v;
    let quote = zero(w ^ (ONES * u64::from(b'"')));
    let backslash = zero(w ^ (ONES * u64::from(b'\\')));
    // Bytes below 0x20 (control characters).
    let control = w.wrapping_sub(ONES * 0x20) & !w;
    (quote | backslash | control) & HIGH
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Feeds `pieces` and returns the raw `usage` capture of every payload, or the error.
    fn scan(pieces: &[&[u8]]) -> Result<Vec<Option<Vec<u8>>>, ScanError> {
        let mut s = JsonScanner::new(usize::MAX);
        let mut out = Vec::new();
        for piece in pieces {
            let mut rest = *piece;
            while !rest.is_empty() {
                match s.feed(rest)? {
                    Step::NeedMore => break,
                    Step::Payload(k) => {
                        out.push(s.captures().raw(Cap::Usage).map(<[u8]>::to_vec));
                        s.clear_payload();
                        rest = &rest[k..];
                    }
                }
            }
        }
        s.finish()?;
        Ok(out)
    }

    /// The word-at-a-time search finds the first `"`, `\\` or control byte, whatever the
    /// bytes around it (non-ASCII included) and wherever it sits in the head or tail.
    #[test]
    fn find_stop_finds_the_first_stop_byte() {
        let naive = |s: &[u8]| s.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
        let fills: [u8; 6] = [b'a', b' ', 0x7f, 0x80, 0xe2, 0xff];
        for len in 0..48 {
            for fill in fills {
                let mut s = vec![fill; len];
                assert_eq!(find_stop(&s), naive(&s));
                for at in 0..len {
                    for stop in 0..=255u8 {
                        s[at] = stop;
                        assert_eq!(
                            find_stop(&s),
                            naive(&s),
                            "len {len} fill {fill} at {at} byte {stop}"
                        );
                        // A second stop byte later never hides the first.
                        if at + 1 < len {
                            s[len - 1] = b'"';
                            assert_eq!(find_stop(&s), naive(&s));
                            s[len - 1] = fill;
                        }
                    }
                    s[at] = fill;
                }
            }
        }
    }

    #[test]
    fn find_control_finds_the_first_control_byte() {
        for len in 0..40 {
            for fill in [b'a', 0x20, 0x7f, 0x80, 0xff] {
                let mut s = vec![fill; len];
                assert_eq!(find_control(&s), None);
                for at in 0..len {
                    for c in [0u8, 0x01, 0x0a, 0x1f] {
                        s[at] = c;
                        assert_eq!(find_control(&s), Some(at), "len {len} fill {fill} at {at}");
                        s[len - 1] = 0;
                        assert_eq!(find_control(&s), Some(at));
                        s[len - 1] = fill;
                        s[at] = c;
                    }
                    s[at] = fill;
                }
            }
        }
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            "[ -~\\PC]{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_]{1,8}|usage|model|id", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever the split, the `usage` capture is exactly serde_json's `usage` value, and
        /// unrelated content of any shape is skipped.
        #[test]
        fn usage_capture_matches_serde(usage in json_value(), other in json_value(),
                                       pretty in any::<bool>(), cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4)) {
            let doc = serde_json::json!({"content": other, "usage": usage});
            let text = if pretty { serde_json::to_vec_pretty(&doc).unwrap() } else { serde_json::to_vec(&doc).unwrap() };
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(text.len() + 1)).collect();
            at.sort_unstable();
            let mut pieces = Vec::new();
            let mut prev = 0;
            for a in at { pieces.push(&text[prev..a]); prev = a; }
            pieces.push(&text[prev..]);
            let got = scan(&pieces).unwrap();
            prop_assert_eq!(got.len(), 1);
            let raw = got[0].clone().unwrap();
            let parsed: Value = serde_json::from_slice(&raw).unwrap();
            prop_assert_eq!(parsed, doc["usage"].clone());
        }

        /// Byte mutations: the scanner accepts exactly the documents serde_json accepts as a
        /// single JSON object.
        #[test]
        fn validity_matches_serde(v in json_value(), edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4)) {
            let mut text = serde_json::to_vec(&serde_json::json!({"x": v})).unwrap();
            const ALPHABET: &[u8] = b"{}[]\",:\\0-.e1 ntufalse";
            for (i, c) in edits {
                let k = i.index(text.len());
                let choice = ALPHABET[(c as usize * 3 + k) % ALPHABET.len()];
                text[k] = choice;
            }
            // UTF-8 is checked before the scanner (by the accumulator), not by it.
            prop_assume!(std::str::from_utf8(&text).is_ok());
            // serde's grammar check (IgnoredAny: no range check on numbers, as ours).
            let serde_ok = serde_json::from_slice::<serde::de::IgnoredAny>(&text).is_ok()
                && text.first() == Some(&b'{');
            let ours = scan(&[&text]).map(|p| p.len() == 1).unwrap_or(false);
            prop_assert_eq!(ours, serde_ok, "{}", String::from_utf8_lossy(&text));
        }
    }

    /// Feeds `doc` cut at `cuts` and returns every payload's `usage` and `type` captures,
    /// or the error as (kind, message, offset in the whole document).
    #[allow(clippy::type_complexity)]
    fn scan_at(
        doc: &[u8],
        cuts: &[usize],
    ) -> Result<Vec<(Option<Vec<u8>>, Option<Vec<u8>>, bool)>, (ScanErrorKind, &'static str, usize)>
    {
        let mut s = JsonScanner::new(usize::MAX);
        let mut out = Vec::new();
        let mut bounds = cuts.to_vec();
        bounds.push(doc.len());
        let mut prev = 0;
        for &at in &bounds {
            let mut base = prev;
            let mut rest = &doc[prev..at];
            prev = at;
            while !rest.is_empty() {
                match s.feed(rest) {
                    Err(e) => return Err((e.kind, e.message, base + e.index)),
                    Ok(Step::NeedMore) => break,
                    Ok(Step::Payload(k)) => {
                        let c = s.captures();
                        out.push((
                            c.raw(Cap::Usage).map(<[u8]>::to_vec),
                            c.raw(Cap::Type).map(<[u8]>::to_vec),
                            c.type_escaped(),
                        ));
                        s.clear_payload();
                        rest = &rest[k..];
                        base += k;
                    }
                }
            }
        }
        s.finish().map_err(|e| (e.kind, e.message, doc.len()))?;
        Ok(out)
    }

    proptest! {
        /// Mutated documents whose off-path content (skipped by the lean loop) and captured
        /// values are nested: the outcome, an error's kind, message and offset included, is
        /// the same whole, byte by byte and cut in two anywhere.
        #[test]
        fn outcome_does_not_depend_on_the_split(v in json_value(), u in json_value(), t in json_value(),
                                                pretty in any::<bool>(),
                                                edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 0..3),
                                                cut in any::<prop::sample::Index>()) {
            let doc = serde_json::json!({"content": [v, {"k": u.clone()}], "usage": u, "type": t});
            let mut text = if pretty { serde_json::to_vec_pretty(&doc).unwrap() } else { serde_json::to_vec(&doc).unwrap() };
            const ALPHABET: &[u8] = b"{}[]\",:\\0-.e1 ntufalse";
            for (i, c) in edits {
                let k = i.index(text.len());
                text[k] = ALPHABET[(c as usize * 3 + k) % ALPHABET.len()];
            }
            prop_assume!(std::str::from_utf8(&text).is_ok());
            let whole = scan_at(&text, &[]);
            let bytes: Vec<usize> = (1..text.len()).collect();
            prop_assert_eq!(&scan_at(&text, &bytes), &whole);
            prop_assert_eq!(&scan_at(&text, &[cut.index(text.len() + 1)]), &whole);
        }
    }

    #[test]
    fn errors_inside_skipped_content_are_reported_at_their_byte() {
        let cases: [(&[u8], ScanErrorKind, usize); 8] = [
            (br#"{"a":{"b":[1,2}]}}"#, ScanErrorKind::Syntax, 14),
            (br#"{"a":{"b":"x\q"}}"#, ScanErrorKind::Syntax, 13),
            (br#"{"a":{"b":"\u12g4"}}"#, ScanErrorKind::Syntax, 15),
            (br#"{"a":{"b":01}}"#, ScanErrorKind::Syntax, 11),
            (br#"{"a":{"b":-}}"#, ScanErrorKind::Syntax, 11),
            (br#"{"a":{"b":nul}}"#, ScanErrorKind::Syntax, 13),
            (br#"{"a":{"b" 1}}"#, ScanErrorKind::Syntax, 10),
            (br#"{"usage":{"b":[tru]}}"#, ScanErrorKind::Syntax, 18),
        ];
        for (doc, kind, at) in cases {
            for cut in 0..=doc.len() {
                let got = scan_at(doc, &[cut]).map(|_| ()).map_err(|(k, _, o)| (k, o));
                assert_eq!(
                    got,
                    Err((kind, at)),
                    "{} cut at {cut}",
                    String::from_utf8_lossy(doc)
                );
            }
        }
        let deep = format!(
            r#"{{"a":{}{}}}"#,
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        let e = scan_at(deep.as_bytes(), &[])
            .map(|_| ())
            .map_err(|(k, _, o)| (k, o));
        // The root object is depth 1: the 128th bracket opens depth 129.
        assert_eq!(e, Err((ScanErrorKind::TooDeep, 5 + MAX_JSON_DEPTH - 1)));
    }

    #[test]
    fn captures_survive_splits_inside_escapes_and_numbers() {
        let doc = br#"{"usage":{"a":"x\u00e9\"y","n":-12.5e+3},"model":"m\\1"}"#;
        for cut in 0..=doc.len() {
            let got = scan(&[&doc[..cut], &doc[cut..]]).unwrap();
            assert_eq!(
                got,
                vec![Some(br#"{"a":"x\u00e9\"y","n":-12.5e+3}"#.to_vec())],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn escaped_keys_match_their_decoded_name_and_long_keys_never_match() {
        // "us\u0061ge" and "usag\u0065" are "usage" written with escapes.
        let doc = br#"{"us\u0061ge":{"a":1}}"#;
        for cut in 0..=doc.len() {
            let got = scan(&[&doc[..cut], &doc[cut..]]).unwrap();
            assert_eq!(got, vec![Some(br#"{"a":1}"#.to_vec())], "cut at {cut}");
        }
        assert_eq!(
            scan(&[br#"{"usag\u0065":2}"#]).unwrap(),
            vec![Some(b"2".to_vec())]
        );
        // A non-ASCII escape cannot spell a path key; \/ is a plain slash.
        assert_eq!(scan(&[br#"{"usag\u00e9":2}"#]).unwrap(), vec![None]);
        assert_eq!(scan(&[br#"{"us\/age":2}"#]).unwrap(), vec![None]);
        let long = format!(r#"{{"{}":1,"usage":2}}"#, "k".repeat(40));
        assert_eq!(scan(&[long.as_bytes()]).unwrap(), vec![Some(b"2".to_vec())]);
    }

    /// Feeds one document in every two-piece split and returns the tallies of its payload.
    fn tallies_of(doc: &[u8]) -> ([u32; N_CTRS], Vec<u64>) {
        let mut seen = None;
        for cut in 0..=doc.len() {
            let mut s = JsonScanner::new(usize::MAX);
            let mut got = None;
            for piece in [&doc[..cut], &doc[cut..]] {
                let mut rest = piece;
                while !rest.is_empty() {
                    match s.feed(rest).unwrap() {
                        Step::NeedMore => break,
                        Step::Payload(k) => {
                            let c = s.captures();
                            got = Some((*c.tallies, c.hashes().to_vec()));
                            s.clear_payload();
                            rest = &rest[k..];
                        }
                    }
                }
            }
            let got = got.unwrap();
            if let Some(prev) = &seen {
                assert_eq!(prev, &got, "cut at {cut}");
            }
            seen = Some(got);
        }
        seen.unwrap()
    }

    #[test]
    fn tallies_count_tool_calls_and_searches_whatever_the_split() {
        // Two Chat tool calls in a body, one legacy function_call: 3.
        let (t, _) = tallies_of(
            br#"{"choices":[{"message":{"tool_calls":[{"id":"a"},{"id":"b"}],"function_call":{"name":"f"}}}]}"#,
        );
        assert_eq!(t[Ctr::ChatToolCalls as usize], 3);
        // Stream deltas: ids counted, largest index 4 gives 5; "index": 1.5 is not an integer.
        let (t, _) = tallies_of(
            br#"{"choices":[{"delta":{"tool_calls":[{"index":4,"id":"c"},{"index":1.5},{"index":0,"id":null}]}}]}"#,
        );
        assert_eq!(
            (
                t[Ctr::ChatDeltaIds as usize],
                t[Ctr::ChatDeltaIndex as usize]
            ),
            (1, 5)
        );
        // Responses items: function_call and custom_tool_call are tool calls; an escaped type
        // name or a longer one is not compared.
        let (t, _) = tallies_of(
            br#"{"output":[{"type":"function_call"},{"type":"web_search_call"},{"type":"custom_tool_call"},{"type":"web_search_call_x"},{"type":"function\u005fcall"},{"type":"message","content":[{"type":"function_call"}]}]}"#,
        );
        assert_eq!(
            (
                t[Ctr::RespToolCalls as usize],
                t[Ctr::RespWebSearch as usize]
            ),
            (2, 1)
        );
        // Gemini: queries counted and hashed (equal queries hash equally; "" is not a query).
        let (t, h) = tallies_of(
            br#"{"candidates":[{"groundingMetadata":{"webSearchQueries":["q one","q \"two\"","q one",""]},"content":{"parts":[{"functionCall":{"name":"f"}},{"functionCall":{"partialArgs":[]}}]}}]}"#,
        );
        assert_eq!(t[Ctr::GemSearchQueries as usize], 3);
        assert_eq!(t[Ctr::GemFunctionCalls as usize], 1);
        assert_eq!(h.len(), 3);
        assert_eq!(h[0], h[2]);
        assert_ne!(h[0], h[1]);
        // Anthropic and Bedrock blocks.
        let (t, _) = tallies_of(
            br#"{"content":[{"type":"text","text":"tool_use"},{"type":"tool_use"},{"type":"server_tool_use"}],"output":{"message":{"content":[{"toolUse":{}},{"text":"x"}]}}}"#,
        );
        assert_eq!(
            (
                t[Ctr::AnthToolUse as usize],
                t[Ctr::BedrockToolUse as usize]
            ),
            (1, 1)
        );
    }

    #[test]
    fn capture_limit_is_enforced() {
        let big = format!(r#"{{"usage":"{}"}}"#, "u".repeat(MAX_CAPTURE_BYTES));
        let e = scan(&[big.as_bytes()]).err().map(|e| e.kind);
        assert_eq!(e, Some(ScanErrorKind::TooLarge));
    }
}
