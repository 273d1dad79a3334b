//! The JSON side of [`Event::from_json`](super::Event::from_json): one pass over the bytes of
//! one flat event object, collecting each field's string or raw value text.
//!
//! It replaced a `serde_json` derive (kept as the reference of `tests/event_differential.rs`)
//! and accepts what that accepted — including `null` for an absent field, JSON escapes in keys
//! and strings, any JSON value (validated, kept as text) in the number fields — and rejects the
//! rest the same way: the first problem in document order, with the same message and
//! line/column. Two differences on purpose: only an object is an event (serde also took the
//! positional array form of a struct; now `invalid type: sequence, expected a JSON object`),
//! and a byte that is not UTF-8 inside a field's string names that field.
//! Values are not converted here; [`super`] validates the collected text.

use std::borrow::Cow;
use std::ops::Not;

/// The wire fields, in declaration order.
pub(super) const FIELDS: [&str; N_FIELDS] = [
    "type",
    "customerId",
    "runId",
    "agentId",
    "provider",
    "model",
    "tokensIn",
    "cachedTokens",
    "cacheWrite5mTokens",
    "cacheWrite1hTokens",
    "audioTokensIn",
    "imageTokensIn",
    "tokensOut",
    "reasoningTokens",
    "audioTokensOut",
    "imageTokensOut",
    "webSearchRequests",
    "toolCalls",
    "serviceTier",
    "inferenceGeo",
    "speed",
    "providerCostCents",
    "externalCostCents",
    "revenueUnitCents",
    "reportedCostCents",
    "units",
    "outcome",
    "idempotencyKey",
    "responseId",
    "timestamp",
    "ts",
];

/// Number of wire fields.
pub(super) const N_FIELDS: usize = 31;

/// How serde listed the fields in an unknown-field error.
const FIELD_LIST: &str = "one of `type`, `customerId`, `runId`, `agentId`, `provider`, `model`, \
`tokensIn`, `cachedTokens`, `cacheWrite5mTokens`, `cacheWrite1hTokens`, `audioTokensIn`, \
`imageTokensIn`, `tokensOut`, `reasoningTokens`, `audioTokensOut`, `imageTokensOut`, \
`webSearchRequests`, `toolCalls`, `serviceTier`, `inferenceGeo`, `speed`, `providerCostCents`, \
`externalCostCents`, `revenueUnitCents`, `reportedCostCents`, `units`, `outcome`, \
`idempotencyKey`, `responseId`, `timestamp`, `ts`";

/// Field indices (positions in [`FIELDS`]).
pub(super) mod f {
    pub const TYPE: usize = 0;
    pub const CUSTOMER_ID: usize = 1;
    pub const RUN_ID: usize = 2;
    pub const AGENT_ID: usize = 3;
    pub const PROVIDER: usize = 4;
    pub const MODEL: usize = 5;
    pub const TOKENS_IN: usize = 6;
    pub const CACHED_TOKENS: usize = 7;
    pub const CACHE_WRITE_5M: usize = 8;
    pub const CACHE_WRITE_1H: usize = 9;
    pub const AUDIO_IN: usize = 10;
    pub const IMAGE_IN: usize = 11;
    pub const TOKENS_OUT: usize = 12;
    pub const REASONING: usize = 13;
    pub const AUDIO_OUT: usize = 14;
    pub const IMAGE_OUT: usize = 15;
    pub const WEB_SEARCH: usize = 16;
    pub const TOOL_CALLS: usize = 17;
    pub const SERVICE_TIER: usize = 18;
    pub const INFERENCE_GEO: usize = 19;
    pub const SPEED: usize = 20;
    pub const PROVIDER_COST: usize = 21;
    pub const EXTERNAL_COST: usize = 22;
    pub const REVENUE_UNIT: usize = 23;
    pub const REPORTED_COST: usize = 24;
    pub const UNITS: usize = 25;
    pub const OUTCOME: usize = 26;
    pub const IDEMPOTENCY_KEY: usize = 27;
    pub const RESPONSE_ID: usize = 28;
    pub const TIMESTAMP: usize = 29;
    pub const TS: usize = 30;
}

/// Fields whose value must be a JSON string (or `null`); the others take any JSON value,
/// kept as its raw text.
const STRING_FIELDS: u32 = (1 << f::TYPE)
    | (1 << f::CUSTOMER_ID)
    | (1 << f::RUN_ID)
    | (1 << f::AGENT_ID)
    | (1 << f::PROVIDER)
    | (1 << f::MODEL)
    | (1 << f::SERVICE_TIER)
    | (1 << f::INFERENCE_GEO)
    | (1 << f::SPEED)
    | (1 << f::OUTCOME)
    | (1 << f::IDEMPOTENCY_KEY)
    | (1 << f::RESPONSE_ID);

/// Maps a key to its field: dispatch on the length and one distinguishing byte, then one
/// comparison with a constant (no chain of comparisons).
#[inline]
fn field_index(k: &[u8]) -> Option<usize> {
    #[inline(always)]
    fn is(k: &[u8], name: &'static str, field: usize) -> Option<usize> {
        (k == name.as_bytes()).then_some(field)
    }
    let first = *k.first()?;
    match (k.len(), first) {
        (2, _) => is(k, "ts", f::TS),
        (4, _) => is(k, "type", f::TYPE),
        (5, b'r') => is(k, "runId", f::RUN_ID),
        (5, b'm') => is(k, "model", f::MODEL),
        (5, b's') => is(k, "speed", f::SPEED),
        (5, b'u') => is(k, "units", f::UNITS),
        (7, b'a') => is(k, "agentId", f::AGENT_ID),
        (7, b'o') => is(k, "outcome", f::OUTCOME),
        (8, b'p') => is(k, "provider", f::PROVIDER),
        (8, b't') => is(k, "tokensIn", f::TOKENS_IN),
        (9, _) => match k[2] {
            b'k' => is(k, "tokensOut", f::TOKENS_OUT),
            b'o' => is(k, "toolCalls", f::TOOL_CALLS),
            _ => is(k, "timestamp", f::TIMESTAMP),
        },
        (10, b'c') => is(k, "customerId", f::CUSTOMER_ID),
        (10, b'r') => is(k, "responseId", f::RESPONSE_ID),
        (11, _) => is(k, "serviceTier", f::SERVICE_TIER),
        (12, b'c') => is(k, "cachedTokens", f::CACHED_TOKENS),
        (12, b'i') => is(k, "inferenceGeo", f::INFERENCE_GEO),
        (13, b'a') => is(k, "audioTokensIn", f::AUDIO_IN),
        (13, b'i') => is(k, "imageTokensIn", f::IMAGE_IN),
        (14, b'a') => is(k, "audioTokensOut", f::AUDIO_OUT),
        (14, b'i') if k[1] == b'm' => is(k, "imageTokensOut", f::IMAGE_OUT),
        (14, b'i') => is(k, "idempotencyKey", f::IDEMPOTENCY_KEY),
        (15, _) => is(k, "reasoningTokens", f::REASONING),
        (16, _) => is(k, "revenueUnitCents", f::REVENUE_UNIT),
        (17, b'w') => is(k, "webSearchRequests", f::WEB_SEARCH),
        (17, b'p') => is(k, "providerCostCents", f::PROVIDER_COST),
        (17, b'e') => is(k, "externalCostCents", f::EXTERNAL_COST),
        (17, b'r') => is(k, "reportedCostCents", f::REPORTED_COST),
        (18, _) if k[10] == b'5' => is(k, "cacheWrite5mTokens", f::CACHE_WRITE_5M),
        (18, _) => is(k, "cacheWrite1hTokens", f::CACHE_WRITE_1H),
        _ => None,
    }
}

/// Marks a span whose text was decoded into [`Fields::decoded`] (the string had escapes).
const DECODED: usize = usize::MAX;

/// The collected values of one event, by field.
pub(super) struct Fields<'a> {
    /// The whole document (valid UTF-8 once parsing succeeded).
    text: &'a str,
    /// Fields given with a value other than `null`.
    present: u32,
    /// Raw fields whose value is a plain integer of at most 16 digits, already in `num`.
    plain: u32,
    /// String fields written without escapes in printable ASCII (0x20..=0x7E).
    printable: u32,
    /// Byte range of each present value: string content without its quotes (`DECODED` and an
    /// index into `decoded` when it had escapes), or the raw value's text.
    span: [(usize, usize); N_FIELDS],
    num: [u64; N_FIELDS],
    /// Decoded text of strings written with escapes.
    decoded: Vec<String>,
}

impl<'a> Fields<'a> {
    /// Forgets every value.
    fn clear(&mut self) {
        self.present = 0;
        self.plain = 0;
        self.printable = 0;
        self.decoded.clear();
    }

    pub fn new() -> Fields<'a> {
        Fields {
            text: "",
            present: 0,
            plain: 0,
            printable: 0,
            span: [(0, 0); N_FIELDS],
            num: [0; N_FIELDS],
            decoded: Vec::new(),
        }
    }

    /// A string field's text, `None` when absent or `null` (a decoded string is moved out).
    #[inline]
    pub fn take_str(&mut self, field: usize) -> Option<Cow<'a, str>> {
        if self.present & (1 << field) == 0 {
            return None;
        }
        match self.span[field] {
            (DECODED, k) => self
                .decoded
                .get_mut(k)
                .map(|s| Cow::Owned(std::mem::take(s))),
            (a, b) => self.text.get(a..b).map(Cow::Borrowed),
        }
    }

    /// [`Fields::take_str`], and whether the text is known to be printable ASCII (written
    /// without escapes, no byte below 0x20 or above 0x7E).
    #[inline]
    pub fn text(&mut self, field: usize) -> (Option<Cow<'a, str>>, bool) {
        let printable = self.printable & (1 << field) != 0;
        (self.take_str(field), printable)
    }

    /// A raw field's JSON text, `None` when absent or `null`.
    #[inline]
    pub fn raw(&self, field: usize) -> Option<&'a str> {
        if self.present & (1 << field) == 0 {
            return None;
        }
        let (a, b) = self.span[field];
        self.text.get(a..b)
    }

    /// A raw field that held a plain integer: its value (no more than 16 digits, so it fits).
    #[inline]
    pub fn plain(&self, field: usize) -> Option<u64> {
        (self.plain & (1 << field) != 0).then(|| self.num[field])
    }
}

/// A JSON-level rejection, classified like `serde_json::error::Category`.
#[derive(Debug)]
pub(super) enum JsonError {
    /// The input ended early.
    Eof,
    /// Malformed JSON at a 1-based line and a byte column.
    Syntax { line: usize, column: usize },
    /// Well-formed JSON that is not an event (unknown or duplicate field, wrong type).
    Data {
        msg: String,
        line: usize,
        column: usize,
    },
    /// A byte that is not UTF-8 inside a string: where serde_json put it, and the field whose
    /// value holds it (`None` inside a key).
    Utf8 {
        field: Option<&'static str>,
        line: usize,
        column: usize,
    },
}

impl JsonError {
    /// The reason text (`serde_json`'s message without echoing input, as before).
    pub fn reason(&self) -> String {
        match self {
            JsonError::Eof => "malformed JSON: unexpected end of input".to_string(),
            JsonError::Syntax { line, column } => {
                format!("malformed JSON at line {line} column {column}")
            }
            JsonError::Data { msg, line, column } => {
                format!("{msg} at line {line} column {column}")
            }
            JsonError::Utf8 { line, column, .. } => {
                format!("invalid UTF-8 inside a string at line {line} column {column}")
            }
        }
    }

    /// The field the error is in, when it is inside a field's value (`""` otherwise).
    pub fn field(&self) -> &'static str {
        match self {
            JsonError::Utf8 {
                field: Some(field), ..
            } => field,
            _ => "",
        }
    }

    /// Names the field whose value the error is in.
    #[cold]
    fn in_field(self, field: usize) -> JsonError {
        match self {
            JsonError::Utf8 {
                field: None,
                line,
                column,
            } => JsonError::Utf8 {
                field: Some(FIELDS[field]),
                line,
                column,
            },
            e => e,
        }
    }
}

type Result<T> = std::result::Result<T, JsonError>;

/// Parses one event document into `out`.
pub(super) fn parse<'a>(bytes: &'a [u8], out: &mut Fields<'a>) -> Result<()> {
    if plain_ascii(bytes)
        && let Ok(text) = std::str::from_utf8(bytes)
        && fast(bytes, out).is_some()
    {
        out.text = text;
        return Ok(());
    }
    out.clear();
    general(bytes, out)
}

/// Whether every byte is printable ASCII (`0x20..=0x7E`) other than `\`: no escapes, no
/// control characters (so no whitespace but spaces), nothing to check for UTF-8. Most event
/// lines are; [`fast`] reads those. (No early exit, so it vectorizes.)
#[inline]
fn plain_ascii(b: &[u8]) -> bool {
    b.iter()
        .fold(false, |bad, &c| {
            bad | (c.wrapping_sub(0x20) > 0x5e) | (c == b'\\')
        })
        .not()
}

/// Position of the first `"` at or after `from`.
#[inline]
fn find_quote(b: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let rest = b.get(from..)?;
    let mut chunks = rest.chunks_exact(8);
    let mut at = from;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let q = w ^ (ONES * u64::from(b'"'));
        let hits = q.wrapping_sub(ONES) & !q & HIGH;
        if hits != 0 {
            return Some(at + (hits.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'"')
        .map(|k| at + k)
}

/// The common shape, read in one tight pass: a [`plain_ascii`] object of known, distinct keys
/// whose values are strings, plain numbers or `null`. `None` for anything else (including
/// every malformed input), which [`general`] then reads from the start for the exact answer.
fn fast<'a>(b: &'a [u8], out: &mut Fields<'a>) -> Option<()> {
    let spaces = |mut i: usize| {
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        i
    };
    let mut i = spaces(0);
    if *b.get(i)? != b'{' {
        return None;
    }
    i = spaces(i + 1);
    let mut seen = 0u32;
    if *b.get(i)? != b'}' {
        loop {
            if *b.get(i)? != b'"' {
                return None;
            }
            let end = find_quote(b, i + 1)?;
            let field = field_index(&b[i + 1..end])?;
            let bit = 1u32 << field;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            i = spaces(end + 1);
            if *b.get(i)? != b':' {
                return None;
            }
            i = spaces(i + 1);
            let start = i;
            match *b.get(i)? {
                b'"' => {
                    let end = find_quote(b, i + 1)?;
                    i = end + 1;
                    out.present |= bit;
                    if STRING_FIELDS & bit != 0 {
                        out.span[field] = (start + 1, end);
                        out.printable |= bit;
                    } else {
                        out.span[field] = (start, i);
                    }
                }
                b'n' => {
                    if b.get(i..i + 4)? != b"null" {
                        return None;
                    }
                    i += 4;
                }
                c @ b'0'..=b'9' if STRING_FIELDS & bit == 0 => {
                    let mut v = u64::from(c - b'0');
                    i += 1;
                    while let Some(&d) = b.get(i)
                        && d.is_ascii_digit()
                    {
                        v = v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                        i += 1;
                    }
                    if c == b'0' && i > start + 1 {
                        return None;
                    }
                    let mut plain = i - start <= 16;
                    if b.get(i) == Some(&b'.') {
                        i += 1;
                        let digits = i;
                        while b.get(i).is_some_and(u8::is_ascii_digit) {
                            i += 1;
                        }
                        if i == digits {
                            return None;
                        }
                        plain = false;
                    }
                    if let Some(b'e' | b'E') = b.get(i) {
                        i += 1;
                        if let Some(b'+' | b'-') = b.get(i) {
                            i += 1;
                        }
                        let digits = i;
                        while b.get(i).is_some_and(u8::is_ascii_digit) {
                            i += 1;
                        }
                        if i == digits {
                            return None;
                        }
                        plain = false;
                    }
                    out.present |= bit;
                    out.span[field] = (start, i);
                    if plain {
                        out.plain |= bit;
                        out.num[field] = v;
                    }
                }
                _ => return None,
            }
            i = spaces(i);
            match *b.get(i)? {
                b',' => i = spaces(i + 1),
                b'}' => break,
                _ => return None,
            }
        }
    }
    // Past the `}`: only spaces may follow.
    (spaces(i + 1) == b.len()).then_some(())
}

/// Any document: serde_json's grammar, acceptance and errors.
fn general<'a>(bytes: &'a [u8], out: &mut Fields<'a>) -> Result<()> {
    // Valid UTF-8 (the normal case) needs no check per string. Otherwise each string is
    // checked where serde_json checked it, for the same error; such a document always fails
    // (every byte outside a string is ASCII JSON syntax), so its fields are never read.
    let text = std::str::from_utf8(bytes);
    let mut p = Parser {
        b: bytes,
        check_utf8: text.is_err(),
        i: 0,
    };
    match p.ws() {
        None => return Err(JsonError::Eof),
        Some(b'{') => {
            p.i += 1;
            p.object(out)?;
        }
        // Objects only: serde's positional array form of a struct is not an event.
        Some(b'[') => {
            p.i += 1;
            return Err(p.data_at(
                "invalid type: sequence, expected a JSON object".to_string(),
                p.i,
            ));
        }
        Some(_) => return Err(p.invalid_type("a JSON object")),
    }
    // Only whitespace may follow.
    if p.ws().is_some() {
        return Err(p.peek_error());
    }
    match text {
        Ok(text) => {
            out.text = text;
            Ok(())
        }
        // Unreachable (see above); kept as an error rather than a panic.
        Err(e) => Err(p.syntax_at(e.valid_up_to() + 1)),
    }
}

struct Parser<'a> {
    b: &'a [u8],
    /// The input is not valid UTF-8: check strings and raw values as they close.
    check_utf8: bool,
    /// Next byte to read.
    i: usize,
}

/// `"`, `\` or a control character: where a string scan stops.
#[inline]
fn special(c: u8) -> bool {
    c == b'"' || c == b'\\' || c < 0x20
}

/// Text of a string: a range of the input, or decoded from escapes.
enum Text {
    Span(usize, usize),
    Owned(String),
}

impl<'a> Parser<'a> {
    /// Skips JSON whitespace; the next byte, if any.
    #[inline]
    fn ws(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            match c {
                b' ' | b'\n' | b'\t' | b'\r' => self.i += 1,
                _ => return Some(c),
            }
        }
        None
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Line and column of byte offset `at`, counted as serde_json counts them.
    #[cold]
    fn position(&self, at: usize) -> (usize, usize) {
        let before = &self.b[..at.min(self.b.len())];
        let start_of_line = memchr::memrchr(b'\n', before).map_or(0, |k| k + 1);
        let line = 1 + memchr::memchr_iter(b'\n', &self.b[..start_of_line]).count();
        (line, at - start_of_line)
    }

    #[cold]
    fn syntax_at(&self, at: usize) -> JsonError {
        let (line, column) = self.position(at);
        JsonError::Syntax { line, column }
    }

    /// A syntax error at the last byte read.
    #[cold]
    fn error(&self) -> JsonError {
        self.syntax_at(self.i)
    }

    /// A syntax error at the byte about to be read.
    #[cold]
    fn peek_error(&self) -> JsonError {
        self.syntax_at(self.b.len().min(self.i + 1))
    }

    #[cold]
    fn data_at(&self, msg: String, at: usize) -> JsonError {
        let (line, column) = self.position(at);
        JsonError::Data { msg, line, column }
    }

    /// A field-level error found right after a key: serde_json placed it where its attempt to
    /// close the object stopped (past whitespace, and past a `}`).
    #[cold]
    fn error_after_key(&mut self, msg: String) -> JsonError {
        if self.ws() == Some(b'}') {
            self.i += 1;
        }
        self.data_at(msg, self.i)
    }

    fn object(&mut self, out: &mut Fields<'a>) -> Result<()> {
        let mut seen: u32 = 0;
        let mut first = true;
        loop {
            match self.ws() {
                None => return Err(JsonError::Eof),
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(c) if first => {
                    first = false;
                    if c != b'"' {
                        return Err(self.peek_error());
                    }
                }
                Some(b',') => {
                    self.i += 1;
                    match self.ws() {
                        Some(b'"') => {}
                        Some(_) => return Err(self.peek_error()),
                        None => return Err(JsonError::Eof),
                    }
                }
                Some(_) => return Err(self.peek_error()),
            }
            self.i += 1;
            let field = self.key()?;
            if seen & (1 << field) != 0 {
                return Err(self.error_after_key(format!("duplicate field `{}`", FIELDS[field])));
            }
            seen |= 1 << field;
            // The colon, usually right after the key.
            if self.b.get(self.i) == Some(&b':') {
                self.i += 1;
            } else {
                match self.ws() {
                    Some(b':') => self.i += 1,
                    Some(_) => return Err(self.peek_error()),
                    None => return Err(JsonError::Eof),
                }
            }
            self.value(field, out)?;
        }
    }

    /// Reads a key (the opening quote consumed) and maps it to its field.
    #[inline]
    fn key(&mut self) -> Result<usize> {
        let start = self.i;
        // A plain key (no escape) is matched on its bytes; known keys are ASCII.
        if let Some(end) = self.scan(start)
            && self.b[end] == b'"'
            && let Some(k) = field_index(&self.b[start..end])
        {
            self.i = end + 1;
            return Ok(k);
        }
        self.unknown_or_escaped_key()
    }

    #[cold]
    fn unknown_or_escaped_key(&mut self) -> Result<usize> {
        let key = self.string()?;
        let key = self.text_of(&key);
        match field_index(key.as_bytes()) {
            Some(k) => Ok(k),
            None => {
                Err(self.error_after_key(format!("unknown field `{key}`, expected {FIELD_LIST}")))
            }
        }
    }

    /// The value of `field` (after its colon).
    #[inline]
    fn value(&mut self, field: usize, out: &mut Fields<'a>) -> Result<()> {
        let bit = 1u32 << field;
        let c = match self.b.get(self.i) {
            Some(&c) if c > b' ' => c,
            _ => match self.ws() {
                Some(c) => c,
                None => return Err(JsonError::Eof),
            },
        };
        if c == b'n' {
            self.i += 1;
            self.ident(b"ull")?;
            // `null` = absent (a value given before, if any, was a duplicate: rejected).
            return Ok(());
        }
        out.present |= bit;
        if STRING_FIELDS & bit != 0 {
            if c != b'"' {
                return Err(self.invalid_type("a string"));
            }
            self.i += 1;
            let start = self.i;
            // The usual string: no escape, no control character.
            if let Some((end, printable)) = self.scan_printable(start)
                && self.b[end] == b'"'
            {
                self.i = end + 1;
                if self.check_utf8 {
                    self.check_utf8(start, end).map_err(|e| e.in_field(field))?;
                }
                out.span[field] = (start, end);
                if printable {
                    out.printable |= bit;
                }
                return Ok(());
            }
            out.span[field] = match self.string().map_err(|e| e.in_field(field))? {
                Text::Span(a, b) => (a, b),
                Text::Owned(s) => {
                    out.decoded.push(s);
                    (DECODED, out.decoded.len() - 1)
                }
            };
            return Ok(());
        }
        let start = self.i;
        // The usual raw value: a plain integer.
        if c.is_ascii_digit() {
            let mut v = u64::from(c - b'0');
            let mut i = start + 1;
            while let Some(&d) = self.b.get(i)
                && d.is_ascii_digit()
            {
                v = v.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
                i += 1;
            }
            let next = self.b.get(i).copied();
            let leading_zero = c == b'0' && i > start + 1;
            if !leading_zero && !matches!(next, Some(b'.' | b'e' | b'E')) {
                self.i = i;
                out.span[field] = (start, i);
                if i - start <= 16 {
                    out.plain |= bit;
                    out.num[field] = v;
                }
                return Ok(());
            }
        }
        self.skip_value()?;
        if self.check_utf8
            && let Err(e) = std::str::from_utf8(&self.b[start..self.i])
        {
            let (line, column) = self.position(start + e.valid_up_to() + 1);
            return Err(JsonError::Utf8 {
                field: Some(FIELDS[field]),
                line,
                column,
            });
        }
        out.span[field] = (start, self.i);
        Ok(())
    }

    /// First byte at or after `from` that ends a plain run of string content.
    #[inline]
    fn scan(&self, from: usize) -> Option<usize> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let rest = self.b.get(from..)?;
        let mut chunks = rest.chunks_exact(8);
        let mut at = from;
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            let quote = w ^ (ONES * u64::from(b'"'));
            let slash = w ^ (ONES * u64::from(b'\\'));
            let hits = (w.wrapping_sub(ONES * 0x20) & !w)
                | (quote.wrapping_sub(ONES) & !quote)
                | (slash.wrapping_sub(ONES) & !slash);
            let hits = hits & HIGH;
            if hits != 0 {
                return Some(at + (hits.trailing_zeros() / 8) as usize);
            }
            at += 8;
        }
        chunks
            .remainder()
            .iter()
            .position(|&c| special(c))
            .map(|k| at + k)
    }

    /// [`Parser::scan`], and whether every byte before the stop is printable ASCII
    /// (`0x20..=0x7E`; bytes below 0x20 stop the scan).
    #[inline]
    fn scan_printable(&self, from: usize) -> Option<(usize, bool)> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        let rest = self.b.get(from..)?;
        let mut chunks = rest.chunks_exact(8);
        let mut at = from;
        // Bit 7 of each byte at or above 0x7F (no carry leaves a byte: (b & 0x7F) + 1 <= 0x80).
        let mut odd = 0u64;
        for c in &mut chunks {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            let quote = w ^ (ONES * u64::from(b'"'));
            let slash = w ^ (ONES * u64::from(b'\\'));
            let hits = ((w.wrapping_sub(ONES * 0x20) & !w)
                | (quote.wrapping_sub(ONES) & !quote)
                | (slash.wrapping_sub(ONES) & !slash))
                & HIGH;
            let high = (w | ((w & LOW7) + ONES)) & HIGH;
            if hits != 0 {
                // The lowest hit is exact; only the bytes below it count.
                let first = hits & hits.wrapping_neg();
                odd |= high & (first - 1);
                return Some((at + (hits.trailing_zeros() / 8) as usize, odd == 0));
            }
            odd |= high;
            at += 8;
        }
        for (k, &c) in chunks.remainder().iter().enumerate() {
            if special(c) {
                return Some((at + k, odd == 0));
            }
            if c >= 0x7f {
                odd = 1;
            }
        }
        None
    }

    /// Reads a string whose opening quote was consumed, decoding escapes.
    fn string(&mut self) -> Result<Text> {
        let start = self.i;
        let mut scratch: Option<Vec<u8>> = None;
        let mut run = start;
        loop {
            let Some(at) = self.scan(self.i) else {
                self.i = self.b.len();
                return Err(JsonError::Eof);
            };
            match self.b[at] {
                b'"' => {
                    self.i = at + 1;
                    return match scratch {
                        None => {
                            if self.check_utf8 {
                                self.check_utf8(start, at)?;
                            }
                            Ok(Text::Span(start, at))
                        }
                        Some(mut s) => {
                            s.extend_from_slice(&self.b[run..at]);
                            String::from_utf8(s).map(Text::Owned).map_err(|e| {
                                let tail = e.as_bytes().len() - e.utf8_error().valid_up_to();
                                self.utf8_error(tail)
                            })
                        }
                    };
                }
                b'\\' => {
                    let s = scratch.get_or_insert_with(Vec::new);
                    s.extend_from_slice(&self.b[run..at]);
                    self.i = at + 1;
                    self.escape(s)?;
                    run = self.i;
                }
                _ => {
                    self.i = at + 1;
                    return Err(self.error());
                }
            }
        }
    }

    /// A string's text for a message (already checked to be UTF-8).
    fn text_of(&self, t: &Text) -> String {
        match t {
            Text::Span(a, b) => String::from_utf8_lossy(&self.b[*a..*b]).into_owned(),
            Text::Owned(s) => s.clone(),
        }
    }

    /// Invalid UTF-8 inside a string that closed at `self.i - 1`: serde_json's position (the
    /// closing quote's column minus the bytes from the first invalid one to the end).
    fn check_utf8(&self, start: usize, end: usize) -> Result<()> {
        match std::str::from_utf8(&self.b[start..end]) {
            Ok(_) => Ok(()),
            Err(e) => Err(self.utf8_error(end - start - e.valid_up_to())),
        }
    }

    #[cold]
    fn utf8_error(&self, invalid_tail: usize) -> JsonError {
        let (line, column) = self.position(self.i);
        JsonError::Utf8 {
            field: None,
            line,
            column: column.saturating_sub(invalid_tail),
        }
    }

    /// One escape (the backslash consumed), appended decoded.
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let Some(c) = self.peek() else {
            return Err(JsonError::Eof);
        };
        self.i += 1;
        let byte = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => return self.unicode_escape(out),
            _ => return Err(self.error()),
        };
        out.push(byte);
        Ok(())
    }

    /// Four hex digits.
    fn hex4(&mut self) -> Result<u16> {
        let Some(d) = self.b.get(self.i..self.i + 4) else {
            self.i = self.b.len();
            return Err(JsonError::Eof);
        };
        self.i += 4;
        let mut v: u16 = 0;
        for &c in d {
            let digit = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return Err(self.error()),
            };
            v = (v << 4) | u16::from(digit);
        }
        Ok(v)
    }

    /// `\uXXXX` (the `\u` consumed), with a surrogate pair when it takes two.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let n = self.hex4()?;
        if (0xDC00..=0xDFFF).contains(&n) {
            return Err(self.error());
        }
        let code = if (0xD800..=0xDBFF).contains(&n) {
            for want in [b'\\', b'u'] {
                match self.peek() {
                    None => return Err(JsonError::Eof),
                    Some(c) => {
                        self.i += 1;
                        if c != want {
                            return Err(self.error());
                        }
                    }
                }
            }
            let n2 = self.hex4()?;
            if !(0xDC00..=0xDFFF).contains(&n2) {
                return Err(self.error());
            }
            ((u32::from(n - 0xD800) << 10) | u32::from(n2 - 0xDC00)) + 0x1_0000
        } else {
            u32::from(n)
        };
        let ch = char::from_u32(code).ok_or_else(|| self.error())?;
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        Ok(())
    }

    /// The rest of a literal (`ull` of `null`, …).
    fn ident(&mut self, rest: &[u8]) -> Result<()> {
        for &want in rest {
            match self.peek() {
                None => return Err(JsonError::Eof),
                Some(c) => {
                    self.i += 1;
                    if c != want {
                        return Err(self.error());
                    }
                }
            }
        }
        Ok(())
    }

    /// Skips one JSON value of any shape and depth, checking its grammar.
    fn skip_value(&mut self) -> Result<()> {
        // Enclosing arrays/objects (`[` / `{`), innermost last.
        let mut stack: Vec<u8> = Vec::new();
        let mut enclosing: Option<u8> = None;
        loop {
            let Some(c) = self.ws() else {
                return Err(JsonError::Eof);
            };
            let opened = match c {
                b'n' => {
                    self.i += 1;
                    self.ident(b"ull")?;
                    None
                }
                b't' => {
                    self.i += 1;
                    self.ident(b"rue")?;
                    None
                }
                b'f' => {
                    self.i += 1;
                    self.ident(b"alse")?;
                    None
                }
                b'-' => {
                    self.i += 1;
                    self.skip_number()?;
                    None
                }
                b'0'..=b'9' => {
                    self.skip_number()?;
                    None
                }
                b'"' => {
                    self.i += 1;
                    self.skip_string()?;
                    None
                }
                b'[' | b'{' => {
                    stack.extend(enclosing.take());
                    self.i += 1;
                    Some(c)
                }
                _ => return Err(self.peek_error()),
            };
            let (mut after_value, mut frame) = match opened {
                Some(frame) => (false, frame),
                None => match enclosing.take().or_else(|| stack.pop()) {
                    Some(frame) => (true, frame),
                    None => return Ok(()),
                },
            };
            // Close as many containers as end here; stop before the next value.
            loop {
                match self.ws() {
                    Some(b',') if after_value => {
                        self.i += 1;
                        break;
                    }
                    Some(b']') if frame == b'[' => {}
                    Some(b'}') if frame == b'{' => {}
                    Some(_) if after_value => return Err(self.peek_error()),
                    Some(_) => break,
                    None => return Err(JsonError::Eof),
                }
                self.i += 1;
                match stack.pop() {
                    Some(f) => frame = f,
                    None => return Ok(()),
                }
                after_value = true;
            }
            if frame == b'{' {
                match self.ws() {
                    Some(b'"') => self.i += 1,
                    Some(_) => return Err(self.peek_error()),
                    None => return Err(JsonError::Eof),
                }
                self.skip_string()?;
                match self.ws() {
                    Some(b':') => self.i += 1,
                    Some(_) => return Err(self.peek_error()),
                    None => return Err(JsonError::Eof),
                }
            }
            enclosing = Some(frame);
        }
    }

    /// Skips a string (opening quote consumed) without decoding it; escapes are checked.
    fn skip_string(&mut self) -> Result<()> {
        loop {
            let Some(at) = self.scan(self.i) else {
                self.i = self.b.len();
                return Err(JsonError::Eof);
            };
            self.i = at;
            match self.b[at] {
                b'"' => {
                    self.i += 1;
                    return Ok(());
                }
                b'\\' => {
                    self.i += 1;
                    let Some(c) = self.peek() else {
                        return Err(JsonError::Eof);
                    };
                    self.i += 1;
                    match c {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            self.hex4()?;
                        }
                        _ => return Err(self.error()),
                    }
                }
                // A control character: reported at itself (not past it, as in a decoded
                // string).
                _ => return Err(self.error()),
            }
        }
    }

    /// Skips a number (after its `-`, if any), checking its grammar.
    fn skip_number(&mut self) -> Result<()> {
        match self.peek() {
            Some(b'0') => {
                self.i += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.peek_error());
                }
            }
            Some(b'1'..=b'9') => {
                self.i += 1;
                while let Some(b'0'..=b'9') = self.peek() {
                    self.i += 1;
                }
            }
            Some(_) => {
                self.i += 1;
                return Err(self.error());
            }
            None => return Err(self.error()),
        }
        if let Some(b'.') = self.peek() {
            self.i += 1;
            let digits = self.i;
            while let Some(b'0'..=b'9') = self.peek() {
                self.i += 1;
            }
            if self.i == digits {
                return Err(self.peek_error());
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.skip_exponent()?;
        }
        Ok(())
    }

    /// Skips `e[+-]digits` (at the `e`).
    fn skip_exponent(&mut self) -> Result<()> {
        self.i += 1;
        if let Some(b'+' | b'-') = self.peek() {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0'..=b'9') => self.i += 1,
            Some(_) => {
                self.i += 1;
                return Err(self.error());
            }
            None => return Err(self.error()),
        }
        while let Some(b'0'..=b'9') = self.peek() {
            self.i += 1;
        }
        Ok(())
    }

    /// serde_json's "invalid type" error for a value that is not what the field takes, after
    /// reading the value (its own syntax errors come first).
    #[cold]
    fn invalid_type(&mut self, expected: &str) -> JsonError {
        let start = self.i;
        let what = match self.peek() {
            Some(b'n') => {
                self.i += 1;
                if let Err(e) = self.ident(b"ull") {
                    return e;
                }
                "null".to_string()
            }
            Some(b't') => {
                self.i += 1;
                if let Err(e) = self.ident(b"rue") {
                    return e;
                }
                "boolean `true`".to_string()
            }
            Some(b'f') => {
                self.i += 1;
                if let Err(e) = self.ident(b"alse") {
                    return e;
                }
                "boolean `false`".to_string()
            }
            Some(b'-') => {
                self.i += 1;
                match self.number_kind(false) {
                    Ok(kind) => kind.describe(&self.b[start..self.i]),
                    Err(e) => return e,
                }
            }
            Some(b'0'..=b'9') => match self.number_kind(true) {
                Ok(kind) => kind.describe(&self.b[start..self.i]),
                Err(e) => return e,
            },
            Some(b'"') => {
                self.i += 1;
                match self.string() {
                    Ok(s) => format!("string {:?}", self.text_of(&s)),
                    Err(e) => return e,
                }
            }
            Some(b'[') => "sequence".to_string(),
            Some(b'{') => "map".to_string(),
            _ => return self.peek_error(),
        };
        self.data_at(format!("invalid type: {what}, expected {expected}"), self.i)
    }

    /// Reads a number the way serde_json parses one it must convert (its errors differ in
    /// places from a skipped number's): integer or not.
    #[cold]
    fn number_kind(&mut self, positive: bool) -> Result<NumberKind> {
        let Some(first) = self.peek() else {
            return Err(JsonError::Eof);
        };
        self.i += 1;
        // Magnitude while it fits a u64.
        let mut magnitude: Option<u64> = match first {
            b'0' => {
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(self.peek_error());
                }
                Some(0)
            }
            b'1'..=b'9' => {
                let mut m = Some(u64::from(first - b'0'));
                while let Some(c @ b'0'..=b'9') = self.peek() {
                    self.i += 1;
                    m = m
                        .and_then(|m| m.checked_mul(10))
                        .and_then(|m| m.checked_add(u64::from(c - b'0')));
                }
                m
            }
            _ => return Err(self.error()),
        };
        if let Some(b'.') = self.peek() {
            self.i += 1;
            let digits = self.i;
            while let Some(b'0'..=b'9') = self.peek() {
                self.i += 1;
            }
            if self.i == digits {
                return Err(match self.peek() {
                    Some(_) => self.peek_error(),
                    None => JsonError::Eof,
                });
            }
            magnitude = None;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            match self.peek() {
                Some(b'0'..=b'9') => self.i += 1,
                Some(_) => {
                    self.i += 1;
                    return Err(self.error());
                }
                None => return Err(JsonError::Eof),
            }
            while let Some(b'0'..=b'9') = self.peek() {
                self.i += 1;
            }
            magnitude = None;
        }
        Ok(match magnitude {
            Some(_) if positive => NumberKind::Integer,
            // i64 holds -2^63..=-1; serde_json reads `-0` as a float.
            Some(m) if (1..=1u64 << 63).contains(&m) => NumberKind::Integer,
            _ => NumberKind::Float,
        })
    }
}

/// How serde_json classified a number it could not use.
enum NumberKind {
    Integer,
    Float,
}

impl NumberKind {
    /// serde's words for it. A float is shown as written (serde_json printed the `f64` it
    /// parsed, e.g. `1e3` as `1000.0`; money values never go through a float here).
    fn describe(&self, literal: &[u8]) -> String {
        let text = String::from_utf8_lossy(literal);
        match self {
            NumberKind::Integer => format!("integer `{text}`"),
            NumberKind::Float => format!("floating point `{text}`"),
        }
    }
}
