//! Model-name lookup (docs/reference/pricing.md (model lookup) "resolution"; called lookup here because "resolve" names a
//! run's outcome): from the `provider` and `model` a caller or a provider
//! response gives to one registry entry, saying how it matched.
//!
//! The order follows LiteLLM 1.110.2 (`cost_per_token` then `get_model_info`): first an exact
//! (case-sensitive) pick among `provider/model`, `model` and `model` without its prefix, then
//! case-insensitive candidates — `provider/model`, `model`, the model without its provider
//! prefix (Bedrock: without routing prefixes, region paths and ARNs), and the *stripped* name
//! (Bedrock cross-region prefixes and throughput suffixes, vertex/gemini `-001`, `ft:` fine-tune
//! suffixes, a trailing `-YYYY-MM-DD`), each as `provider/stripped` then `stripped` — taking the
//! first whose entry's `litellm_provider` agrees with the provider. `alias_of` rows lead to
//! their owner. Gateways without rows of their own (`openrouter`, `openai_compatible`, `vllm`,
//! …) fall back to the `vendor/model` split, reported as [`MatchKind::Inferred`].
//!
//! Every lookup hashes the lower-cased name in a stack buffer: no allocation on the common path.

use crate::namehash::{NameHash, eq_lower_bytes, hash_bytes};
use crate::pricing::Calc;
use crate::ratecard::RateCard;
use hashbrown::HashTable;
use std::collections::HashSet;

/// How the model name was matched to a registry key (docs/reference/pricing.md (model lookup)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchKind {
    /// The name (or `provider/name`) is a registry key.
    Exact,
    /// Found after stripping a prefix, region, date or suffix.
    Stripped,
    /// Found through `alias_of`.
    Alias,
    /// A gateway's `vendor/model` split was used; audit these.
    Inferred,
    /// A per-model override priced it.
    Override,
}

impl MatchKind {
    /// Wire name: `exact`, `stripped`, `alias`, `inferred`, `override`.
    pub const fn as_str(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Stripped => "stripped",
            MatchKind::Alias => "alias",
            MatchKind::Inferred => "inferred",
            MatchKind::Override => "override",
        }
    }
}

/// Longest name (provider + `/` + model) a lookup handles; longer names are not found.
pub const MAX_LOOKUP_BYTES: usize = 2 * crate::event::MAX_NAME_BYTES + 64;

/// Gateway vendor prefixes that differ from the LiteLLM provider name (an extension of SPEC
/// docs/reference/pricing.md (model lookup)'s `vendor/model` split; reported as inferred like every gateway match).
const VENDOR_PROVIDERS: &[(&str, &str)] = &[
    ("google", "gemini"),
    ("x-ai", "xai"),
    ("mistralai", "mistral"),
    ("moonshotai", "moonshot"),
    ("z-ai", "zai"),
];

/// Bedrock cross-region inference prefixes (`us.anthropic.…`), longest first.
const BEDROCK_CROSS_REGION: &[&str] = &["us-gov.", "global.", "apac.", "us.", "eu.", "jp.", "au."];

/// Bedrock routing prefixes (`converse/…`, `invoke/…`).
const BEDROCK_ROUTES: &[&str] = &["converse/", "invoke/"];

/// A candidate name `head/tail` or just `tail`, never materialized.
#[derive(Clone, Copy, Debug)]
struct Name<'a> {
    head: Option<&'a str>,
    tail: &'a str,
}

impl<'a> Name<'a> {
    fn bare(tail: &'a str) -> Name<'a> {
        Name { head: None, tail }
    }
    fn with(head: &'a str, tail: &'a str) -> Name<'a> {
        Name {
            head: Some(head),
            tail,
        }
    }
    /// `p/self` (a bare name put under a provider).
    fn under(self, p: &'a str) -> Name<'a> {
        Name::with(p, self.tail)
    }
    /// Whether `key` (already lower case) equals this name, ignoring ASCII case.
    fn eq_lower(&self, key: &[u8]) -> bool {
        match self.head {
            None => eq_lower_bytes(key, self.tail.as_bytes()),
            Some(h) => {
                let (h, t) = (h.as_bytes(), self.tail.as_bytes());
                key.len() == h.len() + 1 + t.len()
                    && eq_lower_bytes(&key[..h.len()], h)
                    && key[h.len()] == b'/'
                    && eq_lower_bytes(&key[h.len() + 1..], t)
            }
        }
    }
    #[cfg(test)]
    fn to_owned_string(self) -> String {
        match self.head {
            Some(h) => format!("{h}/{}", self.tail),
            None => self.tail.to_string(),
        }
    }
}

#[inline]
fn hash_name(name: Name<'_>) -> u64 {
    let mut h = NameHash::new();
    if let Some(head) = name.head {
        h.push(head.as_bytes());
        h.push(b"/");
    }
    h.push(name.tail.as_bytes());
    h.finish()
}

/// The case-insensitive name index of one rate card.
#[derive(Debug)]
pub(crate) struct Index {
    table: HashTable<u32>,
    lower: Box<[Box<[u8]>]>,
    /// Resolutions computed when the snapshot is built, for the names callers use most: each
    /// row's key and its key without the `provider/` prefix, under the row's provider (SPEC
    /// docs/reference/pricing.md (model lookup): "resolution results are cacheable per snapshot"). Keyed by (provider, model).
    /// One entry per (provider, model), hashed by the model: a hit reads the table's slot and
    /// one run of `memo_text`, no further indirection.
    memo: HashTable<MemoEntry>,
    /// The lower-case texts of the memo entries, each model followed by its provider.
    memo_text: Box<[u8]>,
    /// For each entry, the entry whose prices it uses (itself, or its `alias_of` owner).
    target: Box<[u32]>,
    /// `litellm_provider` values that have rows.
    providers: HashSet<Box<str>>,
}

/// A precomputed resolution: the lower-case model name `memo_text[at..at + model_len]` under
/// the lower-case provider that follows it (`provider_len` bytes).
#[derive(Clone, Copy, Debug)]
struct MemoEntry {
    at: u32,
    model_len: u16,
    provider_len: u16,
    found: Found,
}

impl MemoEntry {
    fn model<'t>(&self, text: &'t [u8]) -> &'t [u8] {
        let at = self.at as usize;
        &text[at..at + usize::from(self.model_len)]
    }
    fn provider<'t>(&self, text: &'t [u8]) -> &'t [u8] {
        let at = self.at as usize + usize::from(self.model_len);
        &text[at..at + usize::from(self.provider_len)]
    }
}

impl Index {
    /// Fills the memo: every row's key (and key without its provider prefix) under the row's
    /// provider and that provider's family, looked up by the full algorithm.
    fn build_memo(&mut self, card: &RateCard) {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for (i, e) in card.entries().iter().enumerate() {
            let Some(lp) = card.entries()[self.target(i as u32) as usize].provider() else {
                continue;
            };
            let mut providers = vec![lp];
            if is_bedrock(lp) {
                providers = vec!["bedrock", "bedrock_converse"];
            } else if lp.starts_with("vertex_ai") && lp != "vertex_ai" {
                providers.push("vertex_ai");
            }
            for p in providers {
                pairs.push((p, e.key()));
                if let Some(rest) = strip_provider(e.key(), p) {
                    pairs.push((p, rest));
                }
            }
        }
        let mut memo: HashTable<MemoEntry> = HashTable::new();
        let mut text: Vec<u8> = Vec::new();
        for (p, m) in pairs {
            if p.bytes().any(|c| c.is_ascii_uppercase()) || p.len() > 64 {
                continue;
            }
            let Some((row, kind)) = lookup_in(card, self, Some(p), m, true) else {
                continue;
            };
            // Only matches on the name as given are case-insensitively stable.
            if kind != MatchKind::Exact {
                continue;
            }
            let result = finish(card, self, Some(p), row, kind);
            let ml = m.to_ascii_lowercase().into_bytes();
            let (Ok(at), Ok(model_len), Ok(provider_len)) = (
                u32::try_from(text.len()),
                u16::try_from(ml.len()),
                u16::try_from(p.len()),
            ) else {
                continue;
            };
            let h = hash_bytes(&ml);
            // The first resolution of a (provider, model) pair stands.
            if memo
                .find(h, |e: &MemoEntry| {
                    e.model(&text) == ml.as_slice() && e.provider(&text) == p.as_bytes()
                })
                .is_some()
            {
                continue;
            }
            text.extend_from_slice(&ml);
            text.extend_from_slice(p.as_bytes());
            let entry = MemoEntry {
                at,
                model_len,
                provider_len,
                found: result,
            };
            memo.insert_unique(h, entry, |e| hash_bytes(e.model(&text)));
        }
        self.memo = memo;
        self.memo_text = text.into_boxed_slice();
    }

    #[inline]
    fn memo_get(&self, provider: &str, model: &str) -> Option<Found> {
        let h = hash_bytes(model.as_bytes());
        let text = &self.memo_text;
        // Stored names are lower case; the caller's may be in any case.
        self.memo
            .find(h, |e| {
                usize::from(e.model_len) == model.len()
                    && usize::from(e.provider_len) == provider.len()
                    && eq_lower_bytes(e.model(text), model.as_bytes())
                    && eq_lower_bytes(e.provider(text), provider.as_bytes())
            })
            .map(|e| e.found)
    }

    pub(crate) fn build(card: &RateCard) -> Index {
        let entries = card.entries();
        let mut table: HashTable<u32> = HashTable::with_capacity(entries.len());
        let mut lower: Vec<Box<[u8]>> = Vec::with_capacity(entries.len());
        let mut hashes: Vec<u64> = Vec::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            let l: Box<[u8]> = e.key().to_ascii_lowercase().into_bytes().into_boxed_slice();
            let h = hash_name(Name::bare(e.key()));
            // Two keys equal but for case: the first one wins (as in the reference model).
            if table.find(h, |&j| lower[j as usize] == l).is_none() {
                table.insert_unique(h, i as u32, |&j| hashes[j as usize]);
            }
            lower.push(l);
            hashes.push(h);
        }
        let target = entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.alias_of()
                    .and_then(|t| card.index_of(t))
                    .unwrap_or(i as u32)
            })
            .collect();
        let providers = entries
            .iter()
            .filter_map(|e| e.provider())
            .map(Into::into)
            .collect();
        let mut ix = Index {
            table,
            lower: lower.into_boxed_slice(),
            memo: HashTable::new(),
            memo_text: Box::default(),
            target,
            providers,
        };
        ix.build_memo(card);
        ix
    }

    /// The entry whose prices row `i` uses.
    pub(crate) fn target(&self, i: u32) -> u32 {
        self.target[i as usize]
    }

    #[inline]
    fn find_ci(&self, name: Name<'_>) -> Option<u32> {
        if name.head.map_or(0, |h| h.len() + 1) + name.tail.len() > MAX_LOOKUP_BYTES {
            return None;
        }
        let h = hash_name(name);
        self.table
            .find(h, |&j| name.eq_lower(&self.lower[j as usize]))
            .copied()
    }
}

/// docs/reference/pricing.md (model lookup) provider agreement: equal, `bedrock` ≈ `bedrock_converse`, `vertex_ai` ≈
/// `vertex_ai-*`, `azure_ai` ≈ `azure`/`openai`; no provider on either side agrees with any.
fn provider_agrees(entry_provider: Option<&str>, p: Option<&str>) -> bool {
    let (Some(lp), Some(p)) = (entry_provider, p) else {
        return true;
    };
    lp == p
        || (is_bedrock(p) && is_bedrock(lp))
        || (p == "vertex_ai" && lp.starts_with("vertex_ai"))
        || (p == "azure_ai" && (lp == "azure" || lp == "openai"))
}

fn is_bedrock(p: &str) -> bool {
    p == "bedrock" || p == "bedrock_converse"
}

/// A model found on a card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Found {
    /// The row that matched.
    pub row: u32,
    /// The row whose prices apply (the `alias_of` owner for an alias row).
    pub entry: u32,
    /// The provider rule.
    pub calc: Calc,
    /// How it matched.
    pub kind: MatchKind,
    /// Whether the price row has token prices (kept here so a lookup need not read the row).
    pub token_prices: bool,
}

/// `^(us|eu|ap|ca|sa|me|af|il|mx|us-gov)-[a-z]+-\d$`: an AWS region path segment.
fn is_aws_region(s: &str) -> bool {
    let rest = [
        "us-gov-", "us-", "eu-", "ap-", "ca-", "sa-", "me-", "af-", "il-", "mx-",
    ]
    .iter()
    .find_map(|p| s.strip_prefix(p));
    let Some(rest) = rest else {
        return false;
    };
    let Some((word, digit)) = rest.rsplit_once('-') else {
        return false;
    };
    !word.is_empty()
        && word.bytes().all(|c| c.is_ascii_lowercase())
        && digit.len() == 1
        && digit.as_bytes()[0].is_ascii_digit()
}

/// docs/reference/pricing.md (model lookup) step 3 for Bedrock: routing prefixes, an ARN reduced to its last segment, a region
/// path.
fn bedrock_step3(mut name: &str) -> &str {
    while let Some(rest) = BEDROCK_ROUTES.iter().find_map(|r| name.strip_prefix(r)) {
        name = rest;
    }
    if name.len() >= 4 && name[..4].eq_ignore_ascii_case("arn:") {
        name = name.rsplit('/').next().unwrap_or(name);
    }
    if let Some((head, rest)) = name.split_once('/')
        && is_aws_region(head)
    {
        name = rest;
    }
    name
}

/// A trailing `-YYYY-MM-DD`.
fn strip_date_suffix(model: &str) -> &str {
    let b = model.as_bytes();
    if b.len() >= 11 {
        let s = &b[b.len() - 11..];
        let d = |r: std::ops::Range<usize>| s[r].iter().all(u8::is_ascii_digit);
        if s[0] == b'-' && d(1..5) && s[5] == b'-' && d(6..8) && s[8] == b'-' && d(9..11) {
            return &model[..model.len() - 11];
        }
    }
    model
}

/// `:\d+k$` (a Bedrock provisioned-throughput suffix).
fn strip_throughput(m: &str) -> &str {
    if let Some(body) = m.strip_suffix('k')
        && let Some(colon) = body.rfind(':')
    {
        let digits = &body[colon + 1..];
        if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
            return &body[..colon];
        }
    }
    m
}

/// docs/reference/pricing.md (model lookup) step 4: the stripped names of `name`, in the order they are tried.
fn stripped_names<'a>(name: &'a str, p: Option<&str>) -> [Option<Name<'a>>; 4] {
    let mut out = [None; 4];
    if p.is_some_and(is_bedrock) {
        let mut s = strip_throughput(name);
        if let Some(rest) = BEDROCK_CROSS_REGION
            .iter()
            .find_map(|pre| s.strip_prefix(pre))
        {
            s = rest;
        }
        if s.len() != name.len() {
            out[0] = Some(Name::bare(s));
        }
    }
    if matches!(p, Some("vertex_ai" | "gemini"))
        && let Some(s) = name.strip_suffix("-001")
    {
        out[1] = Some(Name::bare(s));
    }
    if let Some(rest) = name.strip_prefix("ft:") {
        let mut parts = rest.split(':');
        if let (Some(base), Some(_)) = (parts.next(), parts.next()) {
            out[2] = Some(Name::bare(&name[..3 + base.len()]));
        }
    }
    let dated = strip_date_suffix(name);
    if dated.len() != name.len() {
        out[3] = Some(Name::bare(dated));
    }
    out
}

/// The names of docs/reference/pricing.md (model lookup) on one card.
fn lookup_named(card: &RateCard, ix: &Index, provider: Option<&str>, model: &str) -> Option<Found> {
    if model.is_empty() || model.len() > crate::event::MAX_NAME_BYTES {
        return None;
    }
    // The precomputed resolutions first (they compare the provider in any case).
    if let Some(p) = provider
        && let Some(r) = ix.memo_get(p, model)
    {
        return Some(r);
    }
    // Provider names are lower case; accept any case without allocating.
    let pbuf: [u8; 64];
    let provider = match provider {
        Some(p) if p.bytes().any(|c| c.is_ascii_uppercase()) => {
            if p.len() > 64 {
                return None;
            }
            let mut b = [0u8; 64];
            b[..p.len()].copy_from_slice(p.as_bytes());
            b[..p.len()].make_ascii_lowercase();
            pbuf = b;
            std::str::from_utf8(&pbuf[..p.len()]).ok()
        }
        other => other,
    };
    let (row, kind) = lookup_in(card, ix, provider, model, true)?;
    Some(finish(card, ix, provider, row, kind))
}

/// Looks `(provider, model)` up on one card (docs/reference/pricing.md (model lookup)), then
/// LiteLLM's Together AI rule: a Together model the card does not price by token is priced by
/// its parameter-size row, reported as [`MatchKind::Inferred`].
pub(crate) fn lookup(
    card: &RateCard,
    ix: &Index,
    provider: Option<&str>,
    model: &str,
) -> Option<Found> {
    let found = lookup_named(card, ix, provider, model);
    // The row's token prices first: a name found with them (the common case) skips the two
    // substring searches of `is_together`.
    if found.is_none_or(|r| !r.token_prices)
        && is_together(provider, model)
        && let Some(bucket) = together_bucket(model)
        && let Some(row) = ix.find_ci(Name::bare(bucket))
    {
        return Some(finish(
            card,
            ix,
            Some("together_ai"),
            row,
            MatchKind::Inferred,
        ));
    }
    found
}

/// A Together AI model: the provider, or (as LiteLLM tests it) the name mentions
/// `togethercomputer` or `together_ai`.
fn is_together(provider: Option<&str>, model: &str) -> bool {
    provider.is_some_and(|p| p.eq_ignore_ascii_case("together_ai"))
        || model.contains("togethercomputer")
        || model.contains("together_ai")
}

/// Together AI prices a model it does not list by its parameter count: the registry's
/// `together-ai-*` rows, chosen from the first `<N>b` in the name (LiteLLM 1.110.2's
/// `get_model_params_and_category`: the first run of digits followed by `b`, in any case;
/// `qwen/Qwen2-72B-Instruct` → 72 → `together-ai-41.1b-80b`). `None` without such a run or
/// above 110 billion.
fn together_bucket(model: &str) -> Option<&'static str> {
    let b = model.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i < b.len() && b[i].eq_ignore_ascii_case(&b'b') {
            // Leading zeros do not count; a run longer than any bucket is above them all.
            let digits = model[start..i].trim_start_matches('0');
            let billions: u64 = if digits.len() > 6 {
                u64::MAX
            } else {
                digits.parse().unwrap_or(0)
            };
            return [
                (4, "together-ai-up-to-4b"),
                (8, "together-ai-4.1b-8b"),
                (21, "together-ai-8.1b-21b"),
                (41, "together-ai-21.1b-41b"),
                (80, "together-ai-41.1b-80b"),
                (110, "together-ai-81.1b-110b"),
            ]
            .into_iter()
            .find(|(max, _)| billions <= *max)
            .map(|(_, row)| row);
        }
    }
    None
}

/// The result of a match on `row`: its price row (alias owner) and provider rule.
fn finish(card: &RateCard, ix: &Index, provider: Option<&str>, row: u32, kind: MatchKind) -> Found {
    let entry = ix.target(row);
    let kind = if kind != MatchKind::Inferred && entry != row {
        MatchKind::Alias
    } else {
        kind
    };
    // The provider rule: the caller's provider, or for a gateway match the row's own provider.
    let path = match kind {
        MatchKind::Inferred => card.entries()[entry as usize].provider(),
        _ => provider,
    };
    let calc = match path {
        None => Calc::GenericIfPriced,
        Some(p) if is_bedrock(p) => Calc::for_provider("bedrock"),
        Some(p) if p.starts_with("vertex_ai") => Calc::for_provider("vertex_ai"),
        Some(p) => Calc::for_provider(p),
    };
    Found {
        row,
        entry,
        calc,
        kind,
        token_prices: card.entries()[entry as usize].has_token_prices(),
    }
}

fn lookup_in(
    card: &RateCard,
    ix: &Index,
    p: Option<&str>,
    model: &str,
    gateway: bool,
) -> Option<(u32, MatchKind)> {
    let hit = |name: Name<'_>| -> Option<u32> {
        let i = ix.find_ci(name)?;
        provider_agrees(card.entries()[ix.target(i) as usize].provider(), p).then_some(i)
    };
    // `provider/` already on the model (any case)?
    let has_prefix = p.is_some_and(|p| {
        model.len() > p.len()
            && model.as_bytes()[p.len()] == b'/'
            && model[..p.len()].eq_ignore_ascii_case(p)
    });
    // 1. provider/model (or the model when it carries the prefix), 2. model.
    match p {
        Some(p) if !has_prefix => {
            if let Some(i) = hit(Name::with(p, model)) {
                return Some((i, MatchKind::Exact));
            }
        }
        _ => {}
    }
    if let Some(i) = hit(Name::bare(model)) {
        return Some((i, MatchKind::Exact));
    }
    // 3. without the provider/ prefix (Bedrock: routing prefixes, ARN, region path).
    let mut bare = match p {
        Some(p) if has_prefix => &model[p.len() + 1..],
        _ => model,
    };
    if bare.len() != model.len()
        && let Some(i) = hit(Name::bare(bare))
    {
        return Some((i, MatchKind::Stripped));
    }
    if p.is_some_and(is_bedrock) {
        let b = bedrock_step3(bare);
        if b.len() != bare.len() {
            if let Some(i) = hit(Name::bare(b)) {
                return Some((i, MatchKind::Stripped));
            }
            bare = b;
        }
    }
    // 4. stripped names, each as provider/stripped then stripped.
    for s in stripped_names(bare, p).into_iter().flatten() {
        if let Some(p) = p
            && let Some(i) = hit(s.under(p))
        {
            return Some((i, MatchKind::Stripped));
        }
        if let Some(i) = hit(s) {
            return Some((i, MatchKind::Stripped));
        }
    }
    // provider/model even when the model already starts with `provider/` (rows such as
    // `perplexity/perplexity/glm-5.2`).
    if let Some(p) = p
        && has_prefix
        && let Some(i) = hit(Name::with(p, model))
    {
        return Some((i, MatchKind::Exact));
    }
    // Gateways with no rows of their own: the `vendor/model` split.
    let p = p?;
    if !gateway || ix.providers.contains(p) {
        return None;
    }
    let (vendor, rest) = bare.split_once('/')?;
    let mut vbuf = [0u8; 64];
    if vendor.len() > vbuf.len() {
        return None;
    }
    vbuf[..vendor.len()].copy_from_slice(vendor.as_bytes());
    vbuf[..vendor.len()].make_ascii_lowercase();
    let vendor_l = std::str::from_utf8(&vbuf[..vendor.len()]).ok()?;
    let vendor_p = VENDOR_PROVIDERS
        .iter()
        .find(|(v, _)| *v == vendor_l)
        .map_or(vendor_l, |(_, p)| *p);
    let found = lookup_in(card, ix, Some(vendor_p), rest, false).or_else(|| {
        // Gateways write versions with dots (`claude-3.5-sonnet`); the registry with dashes.
        let dashed = dash_versions(rest);
        (dashed != rest)
            .then(|| lookup_in(card, ix, Some(vendor_p), &dashed, false))
            .flatten()
    })?;
    Some((found.0, MatchKind::Inferred))
}

fn strip_provider<'a>(model: &'a str, p: &str) -> Option<&'a str> {
    model.strip_prefix(p)?.strip_prefix('/')
}

/// `claude-3.5-sonnet` → `claude-3-5-sonnet`: dots between digits become dashes.
fn dash_versions(s: &str) -> String {
    let b = s.as_bytes();
    s.char_indices()
        .map(|(i, c)| {
            let digit_before = i > 0 && b[i - 1].is_ascii_digit();
            let digit_after = b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if c == '.' && digit_before && digit_after {
                '-'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: &str, p: Option<&str>) -> Vec<String> {
        stripped_names(n, p)
            .into_iter()
            .flatten()
            .map(|n| n.to_owned_string())
            .collect()
    }

    #[test]
    fn hashing_ignores_case_and_splits() {
        let a = hash_name(Name::bare("Bedrock/US.Anthropic.Claude-Sonnet-4-6:0"));
        let b = hash_name(Name::with("bedrock", "us.anthropic.claude-sonnet-4-6:0"));
        assert_eq!(a, b);
        assert_ne!(
            a,
            hash_name(Name::bare("bedrock/us.anthropic.claude-sonnet-4-6:1"))
        );
    }

    #[test]
    fn bedrock_names() {
        assert_eq!(bedrock_step3("converse/invoke/us-east-1/x.y"), "x.y");
        assert_eq!(
            bedrock_step3(
                "arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-sonnet-4-6"
            ),
            "us.anthropic.claude-sonnet-4-6"
        );
        assert_eq!(
            names(
                "us.anthropic.claude-3-5-sonnet-20241022-v2:0:51k",
                Some("bedrock")
            ),
            vec!["anthropic.claude-3-5-sonnet-20241022-v2:0"]
        );
        assert_eq!(
            names("us-gov.x-v1:0", Some("bedrock_converse")),
            vec!["x-v1:0"]
        );
        assert!(is_aws_region("us-gov-west-1") && is_aws_region("ap-southeast-2"));
        assert!(!is_aws_region("us.anthropic") && !is_aws_region("us-east-12"));
    }

    #[test]
    fn stripped_names_in_order() {
        assert_eq!(
            names("gemini-2.0-flash-001", Some("vertex_ai")),
            vec!["gemini-2.0-flash"]
        );
        assert_eq!(
            names("gemini-2.0-flash-001", Some("openai")),
            Vec::<String>::new()
        );
        assert_eq!(
            names("ft:gpt-4o-mini-2024-07-18:org::id", Some("openai")),
            vec!["ft:gpt-4o-mini-2024-07-18"]
        );
        assert_eq!(names("gpt-4o-2024-08-06", Some("openai")), vec!["gpt-4o"]);
        assert_eq!(dash_versions("claude-3.5-sonnet"), "claude-3-5-sonnet");
    }
}
#[cfg(test)]
mod memo_tests {
    use super::*;

    /// Every precomputed resolution equals what the full algorithm answers for that name, in any
    /// case.
    #[test]
    fn memo_agrees_with_the_full_algorithm() {
        let card = RateCard::embedded();
        let ix = Index::build(&card);
        assert!(ix.memo.len() > 4000);
        for e in ix.memo.iter() {
            let model = std::str::from_utf8(e.model(&ix.memo_text)).unwrap();
            let p = std::str::from_utf8(e.provider(&ix.memo_text)).unwrap();
            let upper = model.to_ascii_uppercase();
            let r = e.found;
            for m in [model, upper.as_str()] {
                let (row, kind) = lookup_in(&card, &ix, Some(p), m, true).unwrap();
                assert_eq!(finish(&card, &ix, Some(p), row, kind), r, "{p} / {m}");
                assert_eq!(ix.memo_get(p, m), Some(r));
                assert_eq!(ix.memo_get(&p.to_ascii_uppercase(), m), Some(r));
            }
        }
    }
}
