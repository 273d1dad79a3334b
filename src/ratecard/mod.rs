//! Rate card: the LiteLLM registry parsed exactly, validated, as immutable snapshots (docs/reference/pricing.md (rate card)).
//!
//! A registry file is an object from registry key to entry. Every price is taken from its JSON
//! literal text ([`Cents::from_usd_literal`]), never through a float. The whole file is validated
//! before anything is published: a bad file is rejected with a [`RateCardError`] that names the
//! registry key, the field and the reason.
//!
//! ```
//! use tollgate_engine::ratecard::RateCard;
//! let card = RateCard::parse(br#"{"my-model": {"litellm_provider": "openai",
//!     "input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05}}"#).unwrap();
//! let entry = card.entry("my-model").unwrap();
//! assert_eq!(entry.price("input_cost_per_token").unwrap().to_string(), "0.0003"); // cents
//!
//! let err = RateCard::parse(br#"{"m": {"input_cost_per_token": -1}}"#).unwrap_err();
//! assert_eq!(err.to_string(), "registry key `m`, field `input_cost_per_token`: must not be negative");
//! ```

mod diff;
pub(crate) mod fields;
pub(crate) mod num;

pub use diff::{FieldChange, Repriced, SnapshotDiff};
pub use num::{Multiplier, usd_string};

use crate::money::{AmountError, Cents};
use fields::FieldId;
use num::Dec;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// Largest accepted registry file, in bytes.
pub const MAX_REGISTRY_BYTES: usize = 64 << 20;
/// Most entries accepted in one registry.
pub const MAX_ENTRIES: usize = 100_000;
/// Longest accepted registry key, in bytes (the same as the longest `model` an event may carry).
pub const MAX_KEY_BYTES: usize = crate::event::MAX_NAME_BYTES;

/// Identifier of a published rate-card snapshot: the first 8 bytes of the SHA-256 of its
/// source bytes, printed as 16 lower-case hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SnapshotId(pub u64);

impl fmt::Display for SnapshotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Most fields accepted in one entry (nested price objects included).
pub const MAX_FIELDS_PER_ENTRY: usize = 1024;
/// Most tiers accepted in one `tiered_pricing` list.
pub const MAX_TIERS: usize = 64;
/// Most off-peak windows (over all rules) accepted in one `off_peak_pricing` block.
pub const MAX_OFF_PEAK_WINDOWS: usize = 64;

/// Keys at the top of a registry that are not models and are skipped whatever their shape.
pub const RESERVED_KEYS: [&str; 2] = ["sample_spec", "fallback_generalizations"];

/// The embedded default registry (LiteLLM 1.110.2; see `data/ratecard/SOURCE.md`).
pub const EMBEDDED_REGISTRY: &[u8] = include_bytes!("../../data/ratecard/litellm-1.110.2.json");

/// Why a registry was rejected: the registry key, the field (a path inside the entry, e.g.
/// `tiered_pricing[1].input_cost_per_token`) and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateCardError {
    /// The registry key at fault, `None` when the file as a whole is.
    pub key: Option<String>,
    /// The field inside the entry, `None` when the entry as a whole is.
    pub field: Option<String>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for RateCardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.key, &self.field) {
            (Some(k), Some(field)) => {
                write!(f, "registry key `{k}`, field `{field}`: {}", self.reason)
            }
            (Some(k), None) => write!(f, "registry key `{k}`: {}", self.reason),
            (None, _) => f.write_str(&self.reason),
        }
    }
}

impl std::error::Error for RateCardError {}

fn file_error(reason: impl Into<String>) -> RateCardError {
    RateCardError {
        key: None,
        field: None,
        reason: reason.into(),
    }
}

fn entry_error(key: &str, field: Option<&str>, reason: impl Into<String>) -> RateCardError {
    RateCardError {
        key: Some(crate::event::clip(key)),
        field: field.map(str::to_string),
        reason: reason.into(),
    }
}

/// One tier of a `tiered_pricing` list (`start < P <= end` selects it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tier {
    pub start: Dec,
    pub start_floor: u64,
    pub end_floor: u64,
    pub input: Option<Cents>,
    pub output: Option<Cents>,
    pub cache_read: Option<Cents>,
    pub cache_write: Option<Cents>,
    pub cache_write_1h: Option<Cents>,
    pub reasoning: Option<Cents>,
}

/// A time-of-day window `[start, end)` in milliseconds since midnight; `start >= end` wraps
/// past midnight, `start == end` is the whole day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub start_ms: u32,
    pub end_ms: u32,
}

impl Window {
    fn contains(self, ms_of_day: u32) -> bool {
        if self.start_ms < self.end_ms {
            self.start_ms <= ms_of_day && ms_of_day < self.end_ms
        } else {
            ms_of_day >= self.start_ms || ms_of_day < self.end_ms
        }
    }
}

/// A day-of-week rule of an off-peak block: its windows apply on the days of `weekdays`
/// (bit `d` for ISO weekday `d`, 1 = Monday).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OffPeakRule {
    pub weekdays: u8,
    pub windows: Vec<Window>,
}

/// `off_peak_pricing`: replacement rates while a window is open (DeepSeek-style).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OffPeak {
    pub input: Option<Cents>,
    pub output: Option<Cents>,
    pub cache_read: Option<Cents>,
    pub cache_write: Option<Cents>,
    pub reasoning: Option<Cents>,
    /// `hours_utc`: windows open every day.
    pub every_day: Vec<Window>,
    /// `windows`: day-of-week qualified windows.
    pub rules: Vec<OffPeakRule>,
    /// Offset of `weekday_timezone` from UTC, in minutes (weekdays are read on that calendar).
    pub weekday_offset_minutes: i32,
}

impl OffPeak {
    /// Whether the block is open at `timestamp_ms` (epoch milliseconds, UTC).
    pub fn is_open(&self, timestamp_ms: i64) -> bool {
        const DAY_MS: i64 = 86_400_000;
        let ms_of_day = timestamp_ms.rem_euclid(DAY_MS) as u32;
        if self.every_day.iter().any(|w| w.contains(ms_of_day)) {
            return true;
        }
        if self.rules.is_empty() {
            return false;
        }
        let local_ms = timestamp_ms + i64::from(self.weekday_offset_minutes) * 60_000;
        // 1970-01-01 was a Thursday (ISO weekday 4).
        let iso_weekday = (local_ms.div_euclid(DAY_MS) + 3).rem_euclid(7) + 1;
        let bit = 1u8 << iso_weekday;
        self.rules
            .iter()
            .any(|r| r.weekdays & bit != 0 && r.windows.iter().any(|w| w.contains(ms_of_day)))
    }
}

/// One registry entry, validated. Prices are exact [`Cents`] (per token, per second, … as the
/// registry states them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    key: Box<str>,
    provider: Option<Box<str>>,
    mode: Option<Box<str>>,
    alias_of: Option<Box<str>>,
    web_search_billing_unit: Option<Box<str>>,
    /// Every price leaf (`input_cost_per_token`, `tiered_pricing[0].input_cost_per_token`,
    /// `provider_specific_entry.us`, …) sorted by path, for reports and diffs.
    prices: Box<[(Box<str>, Cents)]>,
    /// Token price keys, parsed, sorted by [`FieldId`].
    pub(crate) token_rates: Box<[(FieldId, Cents)]>,
    /// `tiered_pricing` tiers that carry a `range`, in file order.
    pub(crate) tiers: Box<[Tier]>,
    pub(crate) off_peak: Option<Box<OffPeak>>,
    /// `provider_specific_entry` numeric values (`us` → 1.1, `fast` → 2).
    pub(crate) multipliers: Box<[(Box<str>, Multiplier)]>,
    /// The entry has a non-empty `provider_specific_entry` object.
    psi: bool,
    /// The entry has a `tiered_pricing` list (any shape).
    tiered_field: bool,
    /// docs/reference/pricing.md (unpriced): the entry is priced per token (see [`Entry::has_token_prices`]).
    token_price: bool,
    /// Fields that look like a rate but match no rate name the engine knows (see
    /// [`RateCard::warnings`]).
    unknown_rates: Box<[Box<str>]>,
}

impl Entry {
    /// Fields of this entry that look like a rate (`…cost…`) but match no rate name the engine
    /// knows — a token rate (`input_cost_per_token[_above_<N>[k]_tokens][_<tier>]`, …) or one
    /// of LiteLLM's other price fields (per second, per image, per query, …). They are kept
    /// as prices for reports and diffs but never price anything; a typo such as
    /// `input_cost_per_token_above_abck_tokens` lands here.
    pub fn unknown_rate_fields(&self) -> &[Box<str>] {
        &self.unknown_rates
    }

    /// The registry key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `litellm_provider`.
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// `mode` (`chat`, `embedding`, …).
    pub fn mode(&self) -> Option<&str> {
        self.mode.as_deref()
    }

    /// `alias_of`: the key whose prices this row uses.
    pub fn alias_of(&self) -> Option<&str> {
        self.alias_of.as_deref()
    }

    /// `web_search_billing_unit` (`per_query` / `per_prompt`), when stated.
    pub fn web_search_billing_unit(&self) -> Option<&str> {
        self.web_search_billing_unit.as_deref()
    }

    /// Every price the entry states, as `(path, amount in cents)` sorted by path. Nested prices
    /// are named by path: `tiered_pricing[1].input_cost_per_token`, `provider_specific_entry.us`
    /// (a multiplier, stored ×100 like any USD amount), `search_context_cost_per_query.search_context_size_low`.
    pub fn prices(&self) -> &[(Box<str>, Cents)] {
        &self.prices
    }

    /// One stated price by path, in cents.
    pub fn price(&self, path: &str) -> Option<Cents> {
        self.prices
            .binary_search_by(|(p, _)| (**p).cmp(path))
            .ok()
            .map(|i| self.prices[i].1)
    }

    /// A token price by parsed key.
    pub(crate) fn rate(&self, id: FieldId) -> Option<Cents> {
        self.token_rates
            .binary_search_by(|(f, _)| f.cmp(&id))
            .ok()
            .map(|i| self.token_rates[i].1)
    }

    /// The `provider_specific_entry` multiplier stored under `name`.
    pub(crate) fn multiplier(&self, name: &str) -> Option<Multiplier> {
        self.multipliers
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, m)| *m)
    }

    /// The entry has a `tiered_pricing` list, whatever its tiers price.
    pub(crate) fn has_tiered_field(&self) -> bool {
        self.tiered_field
    }

    /// The entry has a non-empty `provider_specific_entry` object.
    pub(crate) fn has_provider_specific_entry(&self) -> bool {
        self.psi
    }

    /// True when the entry is priced per token (docs/reference/pricing.md (rate card), docs/reference/pricing.md (unpriced)): it states a token rate (a
    /// token price key, or a `tiered_pricing` tier with an input or output rate), and not only
    /// zeros standing in for a model priced another way (per second, image, pixel, character,
    /// query, request, page or text message). An entry whose token rates are all 0 and that
    /// states no other price is a real $0 (a free model). Without token prices an event is
    /// *unpriced* (`no_token_price`).
    pub fn has_token_prices(&self) -> bool {
        self.token_price
    }
}

/// Whether a parsed key is one of docs/reference/pricing.md (rate card)'s token price keys.
fn is_spec_token_key(id: FieldId) -> bool {
    use fields::{Base, Ttl};
    matches!(
        id.base,
        Base::Input
            | Base::Output
            | Base::CacheRead
            | Base::Reasoning
            | Base::AudioIn
            | Base::AudioOut
            | Base::ImageIn
            | Base::ImageOut
    ) && id.ttl == Ttl::Default
        || (id.base == Base::CacheWrite && id.ttl != Ttl::TwelveHours)
}

/// A top-level price of another kind than tokens (per second, image, pixel, …).
fn is_other_kind_price(name: &str) -> bool {
    !name.contains(['.', '['])
        && (name == "input_cost_per_query"
            || [
                "_per_second",
                "_per_image",
                "_per_pixel",
                "_per_character",
                "_per_request",
                "_per_page",
                "_per_text_message",
            ]
            .iter()
            .any(|k| name.contains(k)))
}

fn token_price(
    token_rates: &[(FieldId, Cents)],
    tiers: &[Tier],
    prices: &[(Box<str>, Cents)],
) -> bool {
    let mut any = false;
    let mut nonzero = false;
    let values = token_rates
        .iter()
        .filter(|(id, _)| is_spec_token_key(*id))
        .map(|(_, c)| *c)
        .chain(
            tiers
                .iter()
                .flat_map(|t| [t.input, t.output].into_iter().flatten()),
        );
    for v in values {
        any = true;
        nonzero |= !v.is_zero();
    }
    if !any {
        return false;
    }
    nonzero
        || !prices
            .iter()
            .any(|(k, v)| !v.is_zero() && is_other_kind_price(k))
}

/// A parsed, validated registry: the content of one snapshot.
#[derive(Debug)]
pub struct RateCard {
    id: SnapshotId,
    sha256: [u8; 32],
    entries: Vec<Entry>,
    by_key: HashMap<Box<str>, u32>,
}

impl RateCard {
    /// Warnings for a publish: one line per field that looks like a rate but matches no rate
    /// name the engine knows ([`Entry::unknown_rate_fields`]), in key order. Such a field is
    /// accepted (LiteLLM adds price fields between releases, and one unknown field must not
    /// block a registry update) but prices nothing, so it is reported rather than ignored.
    ///
    /// ```
    /// use tollgate_engine::ratecard::RateCard;
    /// let card = RateCard::parse(br#"{"m": {"litellm_provider": "openai",
    ///     "input_cost_per_token": 1e-06, "input_cost_per_token_above_abck_tokens": 2e-06}}"#).unwrap();
    /// assert_eq!(card.warnings(), ["registry key `m`: `input_cost_per_token_above_abck_tokens` looks like a rate but matches no rate name the engine knows; it is not used for pricing"]);
    /// assert!(RateCard::embedded().warnings().is_empty());
    /// ```
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in &self.entries {
            for f in e.unknown_rate_fields() {
                out.push(format!(
                    "registry key `{}`: `{f}` looks like a rate but matches no rate name the engine knows; it is not used for pricing",
                    e.key
                ));
            }
        }
        out
    }

    /// Parses and validates a registry file. Nothing is partially accepted: the first problem
    /// found rejects the whole file with a [`RateCardError`] naming key, field and reason.
    pub fn parse(bytes: &[u8]) -> Result<RateCard, RateCardError> {
        if bytes.len() > MAX_REGISTRY_BYTES {
            return Err(file_error(format!(
                "registry is {} bytes; the limit is {MAX_REGISTRY_BYTES}",
                bytes.len()
            )));
        }
        let text = std::str::from_utf8(bytes)
            .map_err(|e| file_error(format!("registry is not valid UTF-8 ({e})")))?;
        let top: Members<'_> = serde_json::from_str(text).map_err(|e| {
            file_error(format!(
                "registry: {}",
                crate::event::json_reason(&e)
                    .replace("invalid type: ", "expected a JSON object of entries, got ")
            ))
        })?;
        if top.0.len() > MAX_ENTRIES + RESERVED_KEYS.len() {
            return Err(file_error(format!(
                "registry has {} entries; the limit is {MAX_ENTRIES}",
                top.0.len()
            )));
        }
        let mut entries = Vec::with_capacity(top.0.len());
        let mut by_key: HashMap<Box<str>, u32> = HashMap::with_capacity(top.0.len());
        for (key, value) in top.0 {
            if RESERVED_KEYS.contains(&&*key) {
                continue;
            }
            if key.is_empty() {
                return Err(file_error("registry has an empty key"));
            }
            if key.len() > MAX_KEY_BYTES {
                return Err(entry_error(
                    &key,
                    None,
                    format!(
                        "key is {} bytes long; the limit is {MAX_KEY_BYTES}",
                        key.len()
                    ),
                ));
            }
            if key.chars().any(char::is_control) {
                return Err(entry_error(&key, None, "key contains control characters"));
            }
            let entry = parse_entry(&key, value)?;
            let idx = entries.len() as u32;
            if by_key.insert(key.into(), idx).is_some() {
                return Err(entry_error(
                    &entry.key,
                    None,
                    "key appears twice in the registry",
                ));
            }
            entries.push(entry);
        }
        // Alias rows must name a real, non-alias row.
        for e in &entries {
            if let Some(target) = e.alias_of() {
                match by_key.get(target) {
                    None => {
                        return Err(entry_error(
                            &e.key,
                            Some("alias_of"),
                            format!(
                                "names `{}`, which is not a registry key",
                                crate::event::clip(target)
                            ),
                        ));
                    }
                    Some(&t) if entries[t as usize].alias_of.is_some() => {
                        return Err(entry_error(
                            &e.key,
                            Some("alias_of"),
                            format!(
                                "names `{}`, which is itself an alias",
                                crate::event::clip(target)
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        let sha256: [u8; 32] = Sha256::digest(bytes).into();
        let mut first = [0u8; 8];
        first.copy_from_slice(&sha256[..8]);
        Ok(RateCard {
            id: SnapshotId(u64::from_be_bytes(first)),
            sha256,
            entries,
            by_key,
        })
    }

    /// The embedded default registry, parsed once per process.
    pub fn embedded() -> Arc<RateCard> {
        static CARD: OnceLock<Arc<RateCard>> = OnceLock::new();
        CARD.get_or_init(|| {
            Arc::new(RateCard::parse(EMBEDDED_REGISTRY).unwrap_or_else(|e| {
                // The embedded file is validated by the test suite; failing here is a build defect.
                panic!("embedded registry is invalid: {e}")
            }))
        })
        .clone()
    }

    /// Content id: the first 8 bytes of the SHA-256 of the source bytes.
    pub fn id(&self) -> SnapshotId {
        self.id
    }

    /// SHA-256 of the source bytes.
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// Entries in file order (reserved keys excluded).
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry stored under exactly `key`.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        self.by_key.get(key).map(|&i| &self.entries[i as usize])
    }

    /// Index of the entry stored under exactly `key`.
    pub(crate) fn index_of(&self, key: &str) -> Option<u32> {
        self.by_key.get(key).copied()
    }

    /// Models added, removed and repriced from `old` to `self`.
    pub fn diff_from(&self, old: &RateCard) -> SnapshotDiff {
        diff::diff(old, self)
    }
}

/// Parses one override entry (a registry entry object on its own) for the model `name`.
pub(crate) fn parse_single_entry(name: &str, bytes: &[u8]) -> Result<Entry, RateCardError> {
    if name.is_empty() || name.len() > MAX_KEY_BYTES || name.chars().any(char::is_control) {
        return Err(file_error(format!(
            "override model name must be 1..={MAX_KEY_BYTES} bytes without control characters"
        )));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|e| entry_error(name, None, format!("entry is not valid UTF-8 ({e})")))?;
    let raw: &RawValue = serde_json::from_str(text)
        .map_err(|e| entry_error(name, None, crate::event::json_reason(&e)))?;
    let entry = parse_entry(name, raw)?;
    if entry.alias_of.is_some() {
        return Err(entry_error(
            name,
            Some("alias_of"),
            "an override cannot be an alias",
        ));
    }
    Ok(entry)
}

/// Object members in document order, borrowing strings where possible.
struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> serde::Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Key<'de>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    out.push((k.0, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// What kind of JSON value a raw literal is (for error messages).
fn kind_of(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

fn is_null(raw: &RawValue) -> bool {
    raw.get() == "null"
}

fn members<'a>(
    key: &str,
    path: &str,
    raw: &'a RawValue,
) -> Result<Vec<(Cow<'a, str>, &'a RawValue)>, RateCardError> {
    if !raw.get().starts_with('{') {
        return Err(entry_error(
            key,
            (!path.is_empty()).then_some(path),
            format!("must be a JSON object, got {}", kind_of(raw)),
        ));
    }
    let m: Members<'a> = serde_json::from_str(raw.get())
        .map_err(|e| entry_error(key, Some(path), crate::event::json_reason(&e)))?;
    let mut seen: Vec<&str> = m.0.iter().map(|(k, _)| &**k).collect();
    seen.sort_unstable();
    if let Some(w) = seen.windows(2).find(|w| w[0] == w[1]) {
        let field = if path.is_empty() {
            w[0].to_string()
        } else {
            format!("{path}.{}", w[0])
        };
        return Err(entry_error(key, Some(&field), "appears twice"));
    }
    Ok(m.0)
}

fn string_field(key: &str, field: &str, raw: &RawValue) -> Result<Option<Box<str>>, RateCardError> {
    if is_null(raw) {
        return Ok(None);
    }
    let s: String = serde_json::from_str(raw.get()).map_err(|_| {
        entry_error(
            key,
            Some(field),
            format!("must be a string, got {}", kind_of(raw)),
        )
    })?;
    if s.len() > MAX_KEY_BYTES {
        return Err(entry_error(
            key,
            Some(field),
            format!("is {} bytes long; the limit is {MAX_KEY_BYTES}", s.len()),
        ));
    }
    Ok(Some(s.into_boxed_str()))
}

/// A price literal in USD → exact cents.
fn price_value(key: &str, field: &str, raw: &RawValue) -> Result<Cents, RateCardError> {
    let text = raw.get();
    if !matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9')) {
        return Err(entry_error(
            key,
            Some(field),
            format!("must be a JSON number, got {}", kind_of(raw)),
        ));
    }
    Cents::from_usd_literal(text).map_err(|e| {
        entry_error(
            key,
            Some(field),
            match e {
                AmountError::TooPrecise => {
                    "has more than 26 fractional digits of a dollar; it cannot be held exactly"
                        .to_string()
                }
                AmountError::OutOfRange => "is out of range (above 1.7e12 USD)".to_string(),
                other => other.to_string(),
            },
        )
    })
}

fn is_price_name(name: &str) -> bool {
    name.contains("cost") || name.ends_with("_multiplier")
}

/// Accumulates one entry's fields while it is parsed.
struct Builder<'k> {
    key: &'k str,
    prices: Vec<(Box<str>, Cents)>,
    token_rates: Vec<(FieldId, Cents)>,
    leaves: usize,
}

impl Builder<'_> {
    fn leaf(&mut self, path: String, value: Cents) -> Result<(), RateCardError> {
        self.leaves += 1;
        if self.leaves > MAX_FIELDS_PER_ENTRY {
            return Err(entry_error(
                self.key,
                None,
                format!("entry has more than {MAX_FIELDS_PER_ENTRY} price fields"),
            ));
        }
        self.prices.push((path.into_boxed_str(), value));
        Ok(())
    }

    /// A price-named field: a number, or an object of prices (e.g. `search_context_cost_per_query`).
    fn price_tree(
        &mut self,
        path: String,
        raw: &RawValue,
        depth: u32,
    ) -> Result<(), RateCardError> {
        if is_null(raw) {
            return Ok(());
        }
        if raw.get().starts_with('{') && depth < 4 {
            for (k, v) in members(self.key, &path, raw)? {
                self.price_tree(format!("{path}.{k}"), v, depth + 1)?;
            }
            return Ok(());
        }
        let value = price_value(self.key, &path, raw)?;
        self.leaf(path, value)
    }
}

fn parse_entry(key: &str, raw: &RawValue) -> Result<Entry, RateCardError> {
    let fields = members(key, "", raw)?;
    if fields.len() > MAX_FIELDS_PER_ENTRY {
        return Err(entry_error(
            key,
            None,
            format!(
                "entry has {} fields; the limit is {MAX_FIELDS_PER_ENTRY}",
                fields.len()
            ),
        ));
    }
    let mut b = Builder {
        key,
        prices: Vec::new(),
        token_rates: Vec::new(),
        leaves: 0,
    };
    let mut provider = None;
    let mut mode = None;
    let mut alias_of = None;
    let mut web_search_billing_unit = None;
    let mut tiers = Vec::new();
    let mut off_peak = None;
    let mut multipliers = Vec::new();
    let mut psi = false;
    let mut tiered_field = false;
    let mut unknown_rates = Vec::new();
    for (name, value) in fields {
        match &*name {
            "litellm_provider" => provider = string_field(key, &name, value)?,
            "mode" => {
                // `sample_spec`-style prose is tolerated in unused fields, not here.
                mode = string_field(key, &name, value)?;
            }
            "alias_of" => alias_of = string_field(key, &name, value)?,
            "web_search_billing_unit" => web_search_billing_unit = string_field(key, &name, value)?,
            "tiered_pricing" if !is_null(value) => {
                tiered_field = true;
                tiers = parse_tiers(&mut b, value)?;
            }
            "off_peak_pricing" if !is_null(value) => {
                off_peak = Some(Box::new(parse_off_peak(&mut b, value)?));
            }
            "provider_specific_entry" if !is_null(value) => {
                let m = members(key, "provider_specific_entry", value)?;
                psi = !m.is_empty();
                for (k, v) in m {
                    let path = format!("provider_specific_entry.{k}");
                    // Only numbers are multipliers; other values are provider metadata.
                    if matches!(v.get().as_bytes().first(), Some(b'-' | b'0'..=b'9')) {
                        let m = Multiplier::parse(v.get())
                            .map_err(|r| entry_error(key, Some(&path), r))?;
                        let as_price = price_value(key, &path, v)?;
                        b.leaf(path, as_price)?;
                        multipliers.push((k.into_owned().into_boxed_str(), m));
                    }
                }
            }
            n if is_price_name(n) => {
                if is_null(value) {
                    continue;
                }
                if let Some(id) = FieldId::parse(n) {
                    let v = price_value(key, n, value)?;
                    b.token_rates.push((id, v));
                    b.leaf(n.to_string(), v)?;
                } else {
                    if n.contains("cost") && !fields::is_known_other_price(n) {
                        unknown_rates.push(n.into());
                    }
                    b.price_tree(n.to_string(), value, 0)?;
                }
            }
            _ => {}
        }
    }
    b.prices.sort_by(|a, c| a.0.cmp(&c.0));
    b.token_rates.sort_by_key(|a| a.0);
    let token_price = token_price(&b.token_rates, &tiers, &b.prices);
    let entry = Entry {
        key: key.into(),
        provider,
        mode,
        alias_of,
        web_search_billing_unit,
        prices: b.prices.into_boxed_slice(),
        token_rates: b.token_rates.into_boxed_slice(),
        tiers: tiers.into_boxed_slice(),
        off_peak,
        multipliers: multipliers.into_boxed_slice(),
        psi,
        tiered_field,
        token_price,
        unknown_rates: unknown_rates.into_boxed_slice(),
    };
    check_exactness(&entry)?;
    Ok(entry)
}

fn parse_tiers(b: &mut Builder<'_>, raw: &RawValue) -> Result<Vec<Tier>, RateCardError> {
    let key = b.key;
    let list: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
        entry_error(
            key,
            Some("tiered_pricing"),
            format!("must be a JSON array, got {}", kind_of(raw)),
        )
    })?;
    if list.len() > MAX_TIERS {
        return Err(entry_error(
            key,
            Some("tiered_pricing"),
            format!("has {} tiers; the limit is {MAX_TIERS}", list.len()),
        ));
    }
    let mut tiers = Vec::new();
    for (i, t) in list.into_iter().enumerate() {
        let path = format!("tiered_pricing[{i}]");
        let mut tier = Tier {
            start: Dec::ZERO,
            start_floor: 0,
            end_floor: 0,
            input: None,
            output: None,
            cache_read: None,
            cache_write: None,
            cache_write_1h: None,
            reasoning: None,
        };
        let mut has_range = false;
        for (name, v) in members(key, &path, t)? {
            let fpath = format!("{path}.{name}");
            if name.ends_with("range") {
                if is_null(v) {
                    continue;
                }
                let bounds: Vec<&RawValue> = serde_json::from_str(v.get()).map_err(|_| {
                    entry_error(
                        key,
                        Some(&fpath),
                        format!("must be an array [start, end], got {}", kind_of(v)),
                    )
                })?;
                if bounds.len() != 2 {
                    return Err(entry_error(
                        key,
                        Some(&fpath),
                        "must be an array of two numbers [start, end]",
                    ));
                }
                let start = Dec::parse(bounds[0].get())
                    .map_err(|r| entry_error(key, Some(&format!("{fpath}[0]")), r))?;
                let end = Dec::parse(bounds[1].get())
                    .map_err(|r| entry_error(key, Some(&format!("{fpath}[1]")), r))?;
                if name == "range" {
                    tier.start = start;
                    tier.start_floor = start.floor_u64();
                    tier.end_floor = end.floor_u64();
                    has_range = true;
                }
                continue;
            }
            if !is_price_name(&name) {
                continue;
            }
            if is_null(v) {
                continue;
            }
            let value = price_value(key, &fpath, v)?;
            b.leaf(fpath, value)?;
            match &*name {
                "input_cost_per_token" => tier.input = Some(value),
                "output_cost_per_token" => tier.output = Some(value),
                "cache_read_input_token_cost" => tier.cache_read = Some(value),
                "cache_creation_input_token_cost" => tier.cache_write = Some(value),
                "cache_creation_input_token_cost_above_1hr" => tier.cache_write_1h = Some(value),
                "output_cost_per_reasoning_token" => tier.reasoning = Some(value),
                _ => {}
            }
        }
        if has_range {
            tiers.push(tier);
        }
    }
    Ok(tiers)
}

/// UTC offsets (minutes) of the calendars an off-peak block may name in `weekday_timezone`.
/// Only zones without daylight-saving time are accepted, so a weekday is always unambiguous.
const TIME_ZONES: [(&str, i32); 14] = [
    ("UTC", 0),
    ("Etc/UTC", 0),
    ("GMT", 0),
    ("Asia/Shanghai", 480),
    ("Asia/Hong_Kong", 480),
    ("Asia/Singapore", 480),
    ("Asia/Taipei", 480),
    ("Asia/Chongqing", 480),
    ("PRC", 480),
    ("Asia/Tokyo", 540),
    ("Asia/Seoul", 540),
    ("Asia/Kolkata", 330),
    ("Asia/Dubai", 240),
    ("Asia/Jakarta", 420),
];

fn parse_window(key: &str, path: &str, raw: &RawValue) -> Result<Window, RateCardError> {
    let s: String = serde_json::from_str(raw.get()).map_err(|_| {
        entry_error(
            key,
            Some(path),
            format!("must be a \"HH:MM-HH:MM\" string, got {}", kind_of(raw)),
        )
    })?;
    let bad = || {
        entry_error(
            key,
            Some(path),
            format!(
                "`{}` is not a \"HH:MM-HH:MM\" window",
                crate::event::clip(&s)
            ),
        )
    };
    let (a, z) = s.split_once('-').ok_or_else(bad)?;
    let hm = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let ok = |x: &str| !x.is_empty() && x.len() <= 2 && x.bytes().all(|c| c.is_ascii_digit());
        if !ok(h) || !ok(m) {
            return None;
        }
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some((h * 60 + m) * 60_000)
    };
    Ok(Window {
        start_ms: hm(a).ok_or_else(bad)?,
        end_ms: hm(z).ok_or_else(bad)?,
    })
}

fn parse_windows(key: &str, path: &str, raw: &RawValue) -> Result<Vec<Window>, RateCardError> {
    if raw.get().starts_with('[') {
        let list: Vec<&RawValue> = serde_json::from_str(raw.get())
            .map_err(|e| entry_error(key, Some(path), crate::event::json_reason(&e)))?;
        list.iter()
            .enumerate()
            .map(|(i, w)| parse_window(key, &format!("{path}[{i}]"), w))
            .collect()
    } else {
        Ok(vec![parse_window(key, path, raw)?])
    }
}

fn parse_off_peak(b: &mut Builder<'_>, raw: &RawValue) -> Result<OffPeak, RateCardError> {
    let key = b.key;
    let mut op = OffPeak {
        input: None,
        output: None,
        cache_read: None,
        cache_write: None,
        reasoning: None,
        every_day: Vec::new(),
        rules: Vec::new(),
        weekday_offset_minutes: 0,
    };
    for (name, v) in members(key, "off_peak_pricing", raw)? {
        let path = format!("off_peak_pricing.{name}");
        if is_null(v) {
            continue;
        }
        match &*name {
            "hours_utc" => op.every_day = parse_windows(key, &path, v)?,
            "windows" => {
                let list: Vec<&RawValue> = serde_json::from_str(v.get()).map_err(|_| {
                    entry_error(
                        key,
                        Some(&path),
                        format!("must be an array of rules, got {}", kind_of(v)),
                    )
                })?;
                for (i, rule) in list.into_iter().enumerate() {
                    let rpath = format!("{path}[{i}]");
                    let mut r = OffPeakRule {
                        weekdays: 0b1111_1110,
                        windows: Vec::new(),
                    };
                    for (rn, rv) in members(key, &rpath, rule)? {
                        let fpath = format!("{rpath}.{rn}");
                        match &*rn {
                            "hours_utc" => r.windows = parse_windows(key, &fpath, rv)?,
                            "weekdays" if !is_null(rv) => {
                                r.weekdays = parse_weekdays(key, &fpath, rv)?
                            }
                            _ => {}
                        }
                    }
                    op.rules.push(r);
                }
            }
            "weekday_timezone" => {
                let tz = string_field(key, &path, v)?.unwrap_or_default();
                op.weekday_offset_minutes = TIME_ZONES
                    .iter()
                    .find(|(n, _)| **n == *tz.trim())
                    .map(|(_, off)| *off)
                    .ok_or_else(|| {
                        entry_error(
                            key,
                            Some(&path),
                            format!(
                                "unsupported time zone `{}` (supported: {})",
                                crate::event::clip(&tz),
                                TIME_ZONES.map(|(n, _)| n).join(", ")
                            ),
                        )
                    })?;
            }
            n if is_price_name(n) => {
                let value = price_value(key, &path, v)?;
                b.leaf(path, value)?;
                match n {
                    "input_cost_per_token" => op.input = Some(value),
                    "output_cost_per_token" => op.output = Some(value),
                    "cache_read_input_token_cost" => op.cache_read = Some(value),
                    "cache_creation_input_token_cost" => op.cache_write = Some(value),
                    "output_cost_per_reasoning_token" => op.reasoning = Some(value),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let windows = op.every_day.len() + op.rules.iter().map(|r| r.windows.len()).sum::<usize>();
    if windows > MAX_OFF_PEAK_WINDOWS {
        return Err(entry_error(
            key,
            Some("off_peak_pricing"),
            format!("has {windows} windows; the limit is {MAX_OFF_PEAK_WINDOWS}"),
        ));
    }
    Ok(op)
}

fn parse_weekdays(key: &str, path: &str, raw: &RawValue) -> Result<u8, RateCardError> {
    let list: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(|_| {
        entry_error(
            key,
            Some(path),
            format!("must be an array of weekdays, got {}", kind_of(raw)),
        )
    })?;
    let mut mask = 0u8;
    for (i, d) in list.into_iter().enumerate() {
        let text = d.get();
        let day = if let Ok(n) = text.parse::<u8>() {
            (1..=7).contains(&n).then_some(n)
        } else if let Ok(s) = serde_json::from_str::<String>(text) {
            const NAMES: [(&str, u8); 17] = [
                ("mon", 1),
                ("monday", 1),
                ("tue", 2),
                ("tues", 2),
                ("tuesday", 2),
                ("wed", 3),
                ("wednesday", 3),
                ("thu", 4),
                ("thur", 4),
                ("thurs", 4),
                ("thursday", 4),
                ("fri", 5),
                ("friday", 5),
                ("sat", 6),
                ("saturday", 6),
                ("sun", 7),
                ("sunday", 7),
            ];
            let s = s.trim().to_ascii_lowercase();
            NAMES.iter().find(|(n, _)| *n == s).map(|(_, d)| *d)
        } else {
            None
        };
        let day = day.ok_or_else(|| {
            entry_error(
                key,
                Some(&format!("{path}[{i}]")),
                format!(
                    "`{}` is not a weekday (1 = Monday … 7 = Sunday, or a name)",
                    crate::event::clip(text)
                ),
            )
        })?;
        mask |= 1 << day;
    }
    Ok(mask)
}

/// Rejects an entry whose rates, once multiplied by its multipliers or halved for batch, would
/// need more fractional digits than [`Cents`] holds: pricing must never round.
fn check_exactness(e: &Entry) -> Result<(), RateCardError> {
    let rate_digits = e
        .token_rates
        .iter()
        .map(|(_, c)| *c)
        .chain(e.tiers.iter().flat_map(|t| {
            [
                t.input,
                t.output,
                t.cache_read,
                t.cache_write,
                t.cache_write_1h,
                t.reasoning,
            ]
            .into_iter()
            .flatten()
        }))
        .chain(e.off_peak.iter().flat_map(|o| {
            [o.input, o.output, o.cache_read, o.cache_write, o.reasoning]
                .into_iter()
                .flatten()
        }))
        .map(num::cent_digits)
        .max()
        .unwrap_or(0);
    // Batch halving and the 0.5 default cache-read ratio add one digit.
    let fast = e.multiplier("fast").map_or(0, Multiplier::scale);
    let geo = e
        .multipliers
        .iter()
        .map(|(_, m)| m.scale())
        .max()
        .unwrap_or(0);
    let extra = (fast + geo).max(1);
    if rate_digits + extra > crate::money::CENTS_SCALE {
        let worst = e
            .token_rates
            .iter()
            .max_by_key(|(_, c)| num::cent_digits(*c))
            .map(|(id, _)| format!("{id:?}"))
            .unwrap_or_default();
        return Err(entry_error(
            &e.key,
            None,
            format!(
                "a rate with {rate_digits} fractional digits of a cent{} combined with multipliers of {extra} digits cannot be priced exactly (limit: {} digits)",
                if worst.is_empty() {
                    String::new()
                } else {
                    format!(" ({worst})")
                },
                crate::money::CENTS_SCALE
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_registry_parses() {
        let card = RateCard::embedded();
        assert!(card.entries().len() > 4000);
        let e = card.entry("us.anthropic.claude-sonnet-4-6").unwrap();
        // Registry text: "input_cost_per_token": 3.3e-06 → 0.00033 cents.
        assert_eq!(
            e.price("input_cost_per_token").unwrap().to_string(),
            "0.00033"
        );
        assert_eq!(e.provider(), Some("bedrock_converse"));
    }

    #[test]
    fn off_peak_windows() {
        let card = RateCard::parse(
            br#"{"m": {"input_cost_per_token": 1e-6, "off_peak_pricing": {"input_cost_per_token": 5e-7,
            "windows": [{"hours_utc": ["16:30-00:30"], "weekdays": [1, "sat"]}]}}}"#,
        )
        .unwrap();
        let op = card.entry("m").unwrap().off_peak.as_deref().unwrap();
        // 2024-01-01 was a Monday: 54 × 365 + 13 leap days = 19723 days after the epoch.
        let monday = 19_723i64 * 86_400_000;
        assert!(op.is_open(monday + 17 * 3_600_000));
        assert!(op.is_open(monday + 16 * 3_600_000 + 30 * 60_000));
        assert!(!op.is_open(monday + 16 * 3_600_000 + 29 * 60_000));
        // Tuesday 00:15 is inside the wrapped window, but Tuesday is not a listed weekday.
        assert!(!op.is_open(monday + 86_400_000 + 15 * 60_000));
        // Saturday 2024-01-06 00:15.
        assert!(op.is_open(monday + 5 * 86_400_000 + 15 * 60_000));
    }
}
