//! Model-name resolution (SPEC §4.4): from the `provider` and `model` a caller or a provider
//! response gives to one registry entry, saying how it matched.
//!
//! The order follows LiteLLM 1.110.2 (`cost_per_token` then `get_model_info`): first an exact
//! (case-sensitive) pick among `provider/model`, `model` and `model` without its prefix, then
//! case-insensitive candidates — `provider/model`, `model`, the model without its provider
//! prefix (Bedrock: without routing prefixes, region paths and ARNs), and the *stripped* name
//! (Bedrock cross-region prefixes and throughput suffixes, vertex/gemini `-001`, `ft:` fine-tune
//! suffixes, a trailing `-YYYY-MM-DD`), each as `provider/stripped` then `stripped` — taking the
//! first whose entry's `litellm_provider` agrees with the provider. `alias_of` rows resolve to
//! their owner. Gateways without rows of their own (`openrouter`, `openai_compatible`, `vllm`,
//! …) fall back to the `vendor/model` split, reported as [`MatchKind::Inferred`].
//!
//! Every lookup hashes the lower-cased name in a stack buffer: no allocation on the common path.

use crate::engine::MatchKind;
use crate::pricing::Calc;
use crate::ratecard::RateCard;
use hashbrown::HashTable;
use std::collections::HashSet;
use std::hash::BuildHasher;

/// Longest name (provider + `/` + model) a lookup handles; longer names do not resolve.
pub const MAX_LOOKUP_BYTES: usize = 2 * crate::event::MAX_NAME_BYTES + 64;

/// LiteLLM provider names (its `LlmProviders` set), used to recognize a `provider/` prefix.
const KNOWN_PROVIDERS: &[&str] = &[
    "a2a",
    "a2a_agent",
    "abliteration",
    "ai21",
    "ai21_chat",
    "aiand",
    "aiml",
    "aiohttp_openai",
    "amazon_nova",
    "anthropic",
    "anthropic_text",
    "apertis",
    "assemblyai",
    "auto_router",
    "aws_polly",
    "aws_textract",
    "azure",
    "azure_ai",
    "azure_speech",
    "azure_text",
    "baseten",
    "bedrock",
    "bedrock_mantle",
    "bespoke",
    "bigmodel",
    "black_forest_labs",
    "bytez",
    "cerebras",
    "charity_engine",
    "chatgpt",
    "chutes",
    "clarifai",
    "clf_ai_gateway",
    "cloudflare",
    "codestral",
    "cognition",
    "cohere",
    "cohere_chat",
    "cometapi",
    "compactifai",
    "coralbricks",
    "cortecs",
    "cursor",
    "custom",
    "custom_openai",
    "darkbloom",
    "dashscope",
    "databricks",
    "databricks_agent",
    "datarobot",
    "deepgram",
    "deepinfra",
    "deepseek",
    "docker_model_runner",
    "dotprompt",
    "edenai",
    "elevenlabs",
    "empiriolabs",
    "empower",
    "eu_jev",
    "fal_ai",
    "featherless_ai",
    "fireworks_ai",
    "friendliai",
    "galadriel",
    "gdc",
    "gemini",
    "gigachat",
    "github",
    "github_copilot",
    "gradient_ai",
    "groq",
    "helicone",
    "heroku",
    "hosted_vllm",
    "hostinger_router",
    "huggingface",
    "humanloop",
    "hyperbolic",
    "inception",
    "inferenceapis",
    "infinity",
    "jina_ai",
    "kyma",
    "lambda_ai",
    "langflow",
    "langfuse",
    "langgraph",
    "laya",
    "lemonade",
    "libertai",
    "litellm_agent",
    "litellm_proxy",
    "llamafile",
    "lm_studio",
    "manus",
    "maritalk",
    "meta",
    "meta_llama",
    "microsoft_365_copilot",
    "milvus",
    "minimax",
    "mistral",
    "modelscope",
    "mongodb",
    "moonshot",
    "morph",
    "nace",
    "nadir",
    "nano-gpt",
    "nebius",
    "neosantara",
    "nlp_cloud",
    "novita",
    "nscale",
    "nvidia_nim",
    "nvidia_riva",
    "oci",
    "ollama",
    "ollama_chat",
    "oobabooga",
    "openai",
    "openai_like",
    "opencode_go",
    "openinfer",
    "openrouter",
    "opensearch",
    "ovhcloud",
    "parallel_ai",
    "parasail",
    "perplexity",
    "petals",
    "pg_vector",
    "pinstripes",
    "poe",
    "predibase",
    "prism",
    "publicai",
    "qwen_ai_platform",
    "qwencloud",
    "ragflow",
    "recraft",
    "reducto",
    "refuseless",
    "reka",
    "replicate",
    "runwayml",
    "s3_vectors",
    "sagemaker",
    "sagemaker_chat",
    "sagemaker_nova",
    "sail",
    "sambanova",
    "sap",
    "scaledown",
    "scaleway",
    "scx-ai",
    "snowflake",
    "soniox",
    "stability",
    "strands_decider",
    "streamlake",
    "synthetic",
    "tencent",
    "tensormesh",
    "text-completion-codestral",
    "text-completion-inception",
    "text-completion-openai",
    "together_ai",
    "topaz",
    "transcribe",
    "triton",
    "typesafe",
    "v0",
    "valkey",
    "vercel_ai_gateway",
    "vertex_ai",
    "vertex_ai_beta",
    "vllm",
    "volcengine",
    "voyage",
    "wally",
    "wandb",
    "watsonx",
    "watsonx_text",
    "xai",
    "xiaomi_mimo",
    "xinference",
    "zai",
    "zerogpu",
];

/// Gateway vendor prefixes that differ from the LiteLLM provider name.
const VENDOR_PROVIDERS: &[(&str, &str)] = &[
    ("google", "gemini"),
    ("x-ai", "xai"),
    ("mistralai", "mistral"),
    ("meta-llama", "meta_llama"),
    ("qwen", "dashscope"),
    ("moonshotai", "moonshot"),
    ("z-ai", "zai"),
    ("amazon", "bedrock"),
];

/// Bedrock regions a region path (`us-east-1/…`) may name.
const BEDROCK_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "eu-north-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ca-central-1",
    "sa-east-1",
];

/// Bedrock cross-region inference prefixes (`us.anthropic.…`).
const BEDROCK_CROSS_REGION: &[&str] = &["global", "us", "eu", "apac", "jp", "au", "us-gov"];

/// Bedrock routing prefixes LiteLLM strips, in order.
const BEDROCK_ROUTES: &[&str] = &[
    "bedrock/",
    "chat_completions/",
    "converse/",
    "invoke/",
    "openai/",
    "mantle/",
    "nova-2/",
    "nova/",
];

/// LiteLLM's `azure_llms` / `azure_embedding_models` renames, applied before lookup.
const AZURE_RENAMES: &[(&str, &str)] = &[
    ("gpt-35-turbo", "azure/gpt-35-turbo"),
    ("gpt-35-turbo-instruct", "azure/gpt-35-turbo-instruct"),
    ("azure/gpt-41", "gpt-4.1"),
    ("azure/gpt-41-mini", "gpt-4.1-mini"),
    ("azure/gpt-41-nano", "gpt-4.1-nano"),
    ("ada", "azure/ada"),
];

/// Databricks legacy endpoint names and their registry keys.
const DATABRICKS_LEGACY: &[(&str, &str)] = &[
    ("dbrx-instruct", "databricks-dbrx-instruct"),
    (
        "meta-llama-3.1-70b-instruct",
        "databricks-meta-llama-3-1-70b-instruct",
    ),
    (
        "meta-llama-3.1-405b-instruct",
        "databricks-meta-llama-3-1-405b-instruct",
    ),
    (
        "mixtral-8x7b-instruct-v0.1",
        "databricks-mixtral-8x7b-instruct",
    ),
    ("bge-large-en", "databricks-bge-large-en"),
    ("gte-large-en", "databricks-gte-large-en"),
    ("llama-2-70b-chat", "databricks-llama-2-70b-chat"),
];

fn is_known_provider(p: &str) -> bool {
    KNOWN_PROVIDERS.binary_search(&p).is_ok()
}

/// A candidate name `head/tail`, `outer/head/tail` or just `tail`, never materialized.
#[derive(Clone, Copy, Debug)]
struct Name<'a> {
    outer: Option<&'a str>,
    head: Option<&'a str>,
    tail: &'a str,
}

impl<'a> Name<'a> {
    fn bare(tail: &'a str) -> Name<'a> {
        Name {
            outer: None,
            head: None,
            tail,
        }
    }
    fn with(head: &'a str, tail: &'a str) -> Name<'a> {
        Name {
            outer: None,
            head: Some(head),
            tail,
        }
    }
    fn parts(&self) -> impl Iterator<Item = &'a str> {
        self.outer
            .into_iter()
            .chain(self.head)
            .chain(std::iter::once(self.tail))
    }
    fn len(&self) -> usize {
        self.parts().map(|p| p.len() + 1).sum::<usize>() - 1
    }
    /// Writes the lower-cased name into `buf`; `None` when it does not fit.
    fn lower_into<'b>(&self, buf: &'b mut [u8; MAX_LOOKUP_BYTES]) -> Option<&'b [u8]> {
        let len = self.len();
        if len > MAX_LOOKUP_BYTES {
            return None;
        }
        let mut at = 0;
        for (i, part) in self.parts().enumerate() {
            if i > 0 {
                buf[at] = b'/';
                at += 1;
            }
            buf[at..at + part.len()].copy_from_slice(part.as_bytes());
            at += part.len();
        }
        buf[..len].make_ascii_lowercase();
        Some(&buf[..len])
    }
    fn eq_exact(&self, key: &str) -> bool {
        if key.len() != self.len() {
            return false;
        }
        let mut rest = key;
        for (i, part) in self.parts().enumerate() {
            if i > 0 {
                match rest.strip_prefix('/') {
                    Some(r) => rest = r,
                    None => return false,
                }
            }
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }
    fn to_owned_string(self) -> String {
        self.parts().collect::<Vec<_>>().join("/")
    }
}

/// The case-insensitive name index of one rate card.
#[derive(Debug)]
pub(crate) struct Index {
    table: HashTable<u32>,
    lower: Box<[Box<[u8]>]>,
    hasher: foldhash::fast::FixedState,
    /// Two keys differ only in case: exact lookups must consult the card.
    collisions: bool,
    /// For each entry, the entry whose prices it uses (itself, or its `alias_of` owner).
    target: Box<[u32]>,
    /// `litellm_provider` values that have rows.
    providers: HashSet<Box<str>>,
}

impl Index {
    pub(crate) fn build(card: &RateCard) -> Index {
        let hasher = foldhash::fast::FixedState::with_seed(0x7011_6a7e);
        let entries = card.entries();
        let mut table = HashTable::with_capacity(entries.len());
        let mut lower = Vec::with_capacity(entries.len());
        let mut collisions = false;
        for (i, e) in entries.iter().enumerate() {
            let l: Box<[u8]> = e.key().to_ascii_lowercase().into_bytes().into_boxed_slice();
            let h = hasher.hash_one(&*l);
            // LiteLLM's lower-case map keeps the last key; exact matches are checked first.
            match table.find_mut(h, |&j: &u32| *lower_of(&lower, j) == *l) {
                Some(slot) => {
                    collisions = true;
                    *slot = i as u32;
                }
                None => {
                    table.insert_unique(h, i as u32, |&j: &u32| {
                        let k: &[u8] = if (j as usize) < lower.len() {
                            &lower[j as usize]
                        } else {
                            &l
                        };
                        hasher.hash_one(k)
                    });
                }
            }
            lower.push(l);
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
        Index {
            table,
            lower: lower.into_boxed_slice(),
            hasher,
            collisions,
            target,
            providers,
        }
    }

    /// The entry whose prices row `i` uses.
    pub(crate) fn target(&self, i: u32) -> u32 {
        self.target[i as usize]
    }

    #[inline]
    fn find_ci(&self, name: Name<'_>) -> Option<u32> {
        let mut buf = [0u8; MAX_LOOKUP_BYTES];
        let l = name.lower_into(&mut buf)?;
        let h = self.hasher.hash_one(l);
        self.table
            .find(h, |&j| *self.lower[j as usize] == *l)
            .copied()
    }

    /// Case-sensitive membership (Python `key in model_cost`).
    fn find_exact(&self, card: &RateCard, name: Name<'_>) -> Option<u32> {
        let i = self.find_ci(name)?;
        if name.eq_exact(card.entries()[i as usize].key()) {
            return Some(i);
        }
        if !self.collisions {
            return None;
        }
        card.index_of(&name.to_owned_string())
    }
}

fn lower_of(lower: &[Box<[u8]>], j: u32) -> &[u8] {
    &lower[j as usize]
}

/// LiteLLM `_check_provider_match`.
fn provider_matches(entry_provider: Option<&str>, p: &str) -> bool {
    let Some(lp) = entry_provider else {
        return true;
    };
    lp == p
        || (p == "vertex_ai" && lp.starts_with("vertex_ai"))
        || (p == "fireworks_ai" && lp.starts_with("fireworks_ai"))
        || (p.starts_with("bedrock") && lp.starts_with("bedrock"))
        || p == "litellm_proxy"
        || (p == "azure_ai" && (lp == "azure" || lp == "openai"))
        || p == "github"
        || p == "nadir"
}

/// A resolved model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// The row that matched.
    pub row: u32,
    /// The row whose prices apply (the `alias_of` owner for an alias row).
    pub entry: u32,
    /// The provider rule.
    pub calc: Calc,
    /// How it matched.
    pub kind: MatchKind,
}

/// Strips a Bedrock routing prefix chain (`bedrock/`, `converse/`, `invoke/`, …).
fn strip_bedrock_routes(mut m: &str) -> &str {
    for r in BEDROCK_ROUTES {
        if let Some(rest) = m.strip_prefix(r) {
            m = rest;
        }
    }
    m
}

fn contains_arn(m: &str) -> bool {
    m.as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"arn"))
}

fn last_segment(m: &str) -> &str {
    m.rsplit('/').next().unwrap_or(m)
}

/// LiteLLM `get_bedrock_base_model`.
fn bedrock_base_model(model: &str) -> &str {
    let mut s = model;
    for rp in ["bedrock/converse/", "bedrock/", "converse/"] {
        if let Some(rest) = s.strip_prefix(rp) {
            s = rest;
            break;
        }
    }
    if s.starts_with("nova-2/") {
        return "amazon.nova-2-custom";
    }
    if s.starts_with("nova/") {
        return "amazon.nova-custom";
    }
    let mut m = strip_bedrock_routes(model);
    if contains_arn(m) {
        m = last_segment(m);
    }
    m = strip_throughput_suffix(m);
    if let Some((region, rest)) = m.split_once('.')
        && BEDROCK_CROSS_REGION.contains(&region)
    {
        return rest;
    }
    if let Some((region, rest)) = m.split_once('/')
        && BEDROCK_REGIONS.contains(&region)
    {
        return rest;
    }
    m
}

/// `(:\d+):\d+k$` → `\1`, then `\[\w+\]$` → ``.
fn strip_throughput_suffix(m: &str) -> &str {
    let mut m = m;
    if let Some(body) = m.strip_suffix('k')
        && let Some(colon) = body.rfind(':')
    {
        let digits = &body[colon + 1..];
        let before = &body[..colon];
        if !digits.is_empty()
            && digits.bytes().all(|c| c.is_ascii_digit())
            && let Some(c2) = before.rfind(':')
        {
            let v = &before[c2 + 1..];
            if !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) {
                m = before;
            }
        }
    }
    if let Some(body) = m.strip_suffix(']')
        && let Some(open) = body.rfind('[')
    {
        let w = &body[open + 1..];
        if !w.is_empty() && w.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
            m = &body[..open];
        }
    }
    m
}

/// LiteLLM `_strip_model_name`.
fn strip_model_name<'a>(model: &'a str, p: &str) -> &'a str {
    match p {
        "bedrock" | "bedrock_converse" => bedrock_base_model(model),
        "vertex_ai" | "gemini" | "databricks" => {
            // `-\d+$`
            let trimmed = model.trim_end_matches(|c: char| c.is_ascii_digit());
            if trimmed.len() < model.len()
                && let Some(t) = trimmed.strip_suffix('-')
            {
                return t;
            }
            model
        }
        _ if model.contains("ft:") => {
            // `(:[^:]*){3}$`: drop the last three `:segment`s.
            let colons: Vec<usize> = model.match_indices(':').map(|(i, _)| i).collect();
            if colons.len() >= 3 {
                &model[..colons[colons.len() - 3]]
            } else {
                model
            }
        }
        _ => strip_date_suffix(model),
    }
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

/// LiteLLM `get_model_info` lookup for `model` under provider `p`: the first candidate that is
/// a key (case-insensitively) whose entry's provider agrees. The bool says whether the match was
/// on the name as given (`provider/model` or `model`) rather than a stripped form.
fn model_info(card: &RateCard, ix: &Index, model: Name<'_>, p: &str) -> Option<(u32, bool)> {
    let model = match AZURE_RENAMES.iter().find(|(from, _)| model.eq_exact(from)) {
        Some((_, to)) => Name::bare(to),
        None => model,
    };
    let p = if p == "vertex_ai_beta" {
        "vertex_ai"
    } else {
        p
    };
    // `model` is either bare, or `p/tail` (the joined name stage 1 picked).
    let (prefixed, mut split) = match model.head {
        Some(_) => (true, model.tail),
        None => match strip_provider(model.tail, p) {
            Some(rest) => (true, rest),
            None => (false, model.tail),
        },
    };
    let combined = if prefixed {
        model
    } else {
        Name::with(p, model.tail)
    };
    let stripped = strip_model_name(split, p);
    if p == "bedrock" || p == "bedrock_converse" {
        let routed = strip_bedrock_routes(split);
        let region_free = match routed.split_once('/') {
            Some((r, rest)) if BEDROCK_REGIONS.contains(&r) => rest,
            _ => routed,
        };
        split = if region_free.starts_with("arn:") {
            last_segment(region_free)
        } else {
            routed
        };
    }
    let fireworks_key;
    let provider_prefixed = if p == "fireworks_ai" {
        fireworks_key = fireworks_resource(split);
        Name::with(fireworks_key.0, fireworks_key.1)
    } else if prefixed {
        Name {
            outer: Some(p),
            head: model.head,
            tail: model.tail,
        }
    } else {
        combined
    };
    let candidates = [
        (combined, true),
        (model, true),
        (Name::bare(split), false),
        (Name::with(p, stripped), false),
        (Name::bare(stripped), false),
        (provider_prefixed, false),
    ];
    for (name, exact_form) in candidates {
        if let Some(i) = ix.find_ci(name)
            && provider_matches(card.entries()[ix.target(i) as usize].provider(), p)
        {
            return Some((i, exact_form));
        }
    }
    None
}

/// `fireworks_ai/<resolve_fireworks_resource_name(model)>` as head + tail.
fn fireworks_resource(model: &str) -> (&'static str, &str) {
    let s = model.strip_prefix("fireworks_ai/").unwrap_or(model);
    if s.starts_with("accounts/") || s.starts_with("FW-") || s.contains('#') {
        ("fireworks_ai", s)
    } else if s.starts_with("routers/") || s.starts_with("models/") {
        ("fireworks_ai/accounts/fireworks", s)
    } else if s.ends_with("-fast")
        || ["firerouter", "auto", "auto-instant"].contains(&s)
        || s.starts_with("firerouter/")
    {
        ("fireworks_ai/accounts/fireworks/routers", s)
    } else {
        ("fireworks_ai/accounts/fireworks/models", s)
    }
}

/// LiteLLM's Fireworks size buckets for models it does not list.
fn fireworks_bucket(model: &str) -> &'static str {
    let m = model.to_ascii_lowercase();
    let b = m.as_bytes();
    // (\d+)x(\d+)b
    for i in 0..b.len() {
        if b[i] == b'x' {
            let l = m[..i].bytes().rev().take_while(u8::is_ascii_digit).count();
            let r = m[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
            if l > 0 && r > 0 && b.get(i + 1 + r) == Some(&b'b') {
                let a: u64 = m[i - l..i].parse().unwrap_or(u64::MAX);
                let c: u64 = m[i + 1..i + 1 + r].parse().unwrap_or(u64::MAX);
                let total = a.saturating_mul(c);
                if total <= 56 {
                    return "fireworks-ai-moe-up-to-56b";
                } else if total <= 176 {
                    return "fireworks-ai-56b-to-176b";
                }
                break;
            }
        }
    }
    // (\d+(?:p\d+)?)b — tenths are enough to compare with the 4 and 16 boundaries.
    for i in 0..b.len() {
        if !b[i].is_ascii_digit() || (i > 0 && b[i - 1].is_ascii_digit()) {
            continue;
        }
        let int_len = m[i..].bytes().take_while(u8::is_ascii_digit).count();
        let mut j = i + int_len;
        let mut frac = "";
        if b.get(j) == Some(&b'p') {
            let f = m[j + 1..].bytes().take_while(u8::is_ascii_digit).count();
            if f > 0 {
                frac = &m[j + 1..j + 1 + f];
                j += 1 + f;
            }
        }
        if b.get(j) != Some(&b'b') {
            continue;
        }
        let int: u64 = m[i..i + int_len].parse().unwrap_or(u64::MAX);
        let has_frac = frac.bytes().any(|c| c != b'0');
        return if int < 4 || (int == 4 && !has_frac) {
            "fireworks-ai-up-to-4b"
        } else if int < 16 || (int == 16 && !has_frac) {
            "fireworks-ai-4.1b-to-16b"
        } else {
            "fireworks-ai-above-16b"
        };
    }
    "fireworks-ai-default"
}

/// Resolves `(provider, model)` on one card.
pub(crate) fn resolve(
    card: &RateCard,
    ix: &Index,
    provider: Option<&str>,
    model: &str,
) -> Option<Resolved> {
    if model.is_empty() || model.len() > crate::event::MAX_NAME_BYTES {
        return None;
    }
    let mut pbuf = [0u8; 64];
    let provider = match provider {
        Some(p) if p.bytes().any(|c| c.is_ascii_uppercase()) && p.len() <= pbuf.len() => {
            pbuf[..p.len()].copy_from_slice(p.as_bytes());
            pbuf[..p.len()].make_ascii_lowercase();
            std::str::from_utf8(&pbuf[..p.len()]).ok()
        }
        other => other,
    };
    if let Some(r) = resolve_as(card, ix, provider, model) {
        return Some(r);
    }
    // Gateways with no rows of their own: try the `vendor/model` split.
    let gateway = provider.is_some_and(|p| !ix.providers.contains(p));
    if gateway && let Some((vendor, rest)) = model.split_once('/') {
        let vendor_l = vendor.to_ascii_lowercase();
        let vendor_p = VENDOR_PROVIDERS
            .iter()
            .find(|(v, _)| *v == vendor_l)
            .map_or(vendor_l.as_str(), |(_, p)| *p);
        if !is_known_provider(vendor_p) || Some(vendor_p) == provider {
            return None;
        }
        let hit = resolve_as(card, ix, Some(vendor_p), rest).or_else(|| {
            // Gateways write versions with dots (`claude-3.5-sonnet`); the registry with dashes.
            let dashed = dash_versions(rest);
            (dashed != rest)
                .then(|| resolve_as(card, ix, Some(vendor_p), &dashed))
                .flatten()
        });
        return hit.map(|r| Resolved {
            kind: MatchKind::Inferred,
            ..r
        });
    }
    None
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

fn resolve_as(
    card: &RateCard,
    ix: &Index,
    provider: Option<&str>,
    model: &str,
) -> Option<Resolved> {
    // Without a provider, infer it (LiteLLM `get_llm_provider`): a known `provider/` prefix, else
    // the provider of the exact key.
    let (p, caller_supplied) = match provider {
        Some(p) => (p, true),
        None => {
            let prefix = model
                .split_once('/')
                .map(|(h, _)| h)
                .filter(|h| is_known_provider(h));
            match prefix {
                Some(h) => (h, false),
                None => {
                    let i = ix.find_exact(card, Name::bare(model))?;
                    (card.entries()[ix.target(i) as usize].provider()?, false)
                }
            }
        }
    };
    // Router deployments repeat the provider segment (`openai/openai/gpt-4o`).
    let mut model = model;
    if caller_supplied {
        while let Some(rest) = strip_provider(model, p) {
            if strip_provider(rest, p).is_some() {
                model = rest;
            } else {
                break;
            }
        }
    }
    // Stage 1 (cost_per_token): an exact pick among provider/model, model, model-without-prefix.
    let prefixed = strip_provider(model, p).is_some();
    let with_provider = if !caller_supplied || prefixed {
        Name::bare(model)
    } else {
        Name::with(p, model)
    };
    let provider_relative =
        caller_supplied && !prefixed && ix.find_exact(card, with_provider).is_some();
    let without_prefix = match model.split_once('/') {
        Some((_, rest)) if !provider_relative => rest,
        _ => model,
    };
    let picked = if ix.find_exact(card, with_provider).is_some() {
        match with_provider.head {
            // `provider/model` is a key: hand LiteLLM's lookup the joined name.
            Some(_) => None,
            None => Some(model),
        }
    } else if ix.find_exact(card, Name::bare(model)).is_some() {
        Some(model)
    } else if ix.find_exact(card, Name::bare(without_prefix)).is_some() {
        Some(without_prefix)
    } else {
        Some(model)
    };
    let calc = Calc::for_provider(p);
    // Stage 2 (get_model_info) with the provider rule's own name handling.
    let lookup = match picked {
        Some(m) => Name::bare(m),
        None => Name::with(p, model),
    };
    let found = match p {
        "vertex_ai" | "vertex_ai_beta" => model_info(card, ix, Name::bare(without_prefix), p),
        "databricks" => {
            let joined;
            let name = match lookup.head {
                Some(_) => lookup.tail,
                None => {
                    joined = lookup.tail;
                    joined.strip_prefix("databricks/").unwrap_or(joined)
                }
            };
            let key = DATABRICKS_LEGACY
                .iter()
                .find(|(prefix, _)| name.starts_with(prefix))
                .map_or(name, |(_, k)| *k);
            model_info(card, ix, Name::bare(key), p)
        }
        "fireworks_ai" => model_info(card, ix, lookup, p)
            .or_else(|| {
                let bare = match lookup.head {
                    Some(_) => lookup.tail,
                    None => lookup
                        .tail
                        .strip_prefix("fireworks_ai/")
                        .unwrap_or(lookup.tail),
                };
                resolve_as(card, ix, None, bare).map(|r| (r.row, false))
            })
            .or_else(|| {
                let full = lookup.to_owned_string();
                model_info(card, ix, Name::bare(fireworks_bucket(&full)), p)
                    .map(|(i, _)| (i, false))
            }),
        _ => model_info(card, ix, lookup, p),
    };
    let (row, exact_form) = found?;
    let entry = ix.target(row);
    let kind = if entry != row {
        MatchKind::Alias
    } else if exact_form
        && (matches_name(card, row, Name::bare(model))
            || matches_name(card, row, Name::with(p, model)))
    {
        MatchKind::Exact
    } else {
        MatchKind::Stripped
    };
    Some(Resolved {
        row,
        entry,
        calc,
        kind,
    })
}

fn matches_name(card: &RateCard, row: u32, name: Name<'_>) -> bool {
    let key = card.entries()[row as usize].key();
    let mut a = [0u8; MAX_LOOKUP_BYTES];
    name.lower_into(&mut a)
        .is_some_and(|l| l.eq_ignore_ascii_case(key.as_bytes()))
}

fn strip_provider<'a>(model: &'a str, p: &str) -> Option<&'a str> {
    model.strip_prefix(p)?.strip_prefix('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_list_is_sorted() {
        assert!(KNOWN_PROVIDERS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn bedrock_names() {
        assert_eq!(
            bedrock_base_model("us.anthropic.claude-sonnet-4-6"),
            "anthropic.claude-sonnet-4-6"
        );
        assert_eq!(
            bedrock_base_model("anthropic.claude-3-5-sonnet-20241022-v2:0:51k"),
            "anthropic.claude-3-5-sonnet-20241022-v2:0"
        );
        assert_eq!(bedrock_base_model("bedrock/converse/us-east-1/x.y"), "x.y");
        assert_eq!(
            bedrock_base_model(
                "arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-sonnet-4-6"
            ),
            "anthropic.claude-sonnet-4-6"
        );
        assert_eq!(
            bedrock_base_model("us.anthropic.claude-opus-4-6-v1[1m]"),
            "anthropic.claude-opus-4-6-v1"
        );
    }

    #[test]
    fn stripped_names() {
        assert_eq!(
            strip_model_name("gemini-2.0-flash-001", "vertex_ai"),
            "gemini-2.0-flash"
        );
        assert_eq!(
            strip_model_name("ft:gpt-4o-mini-2024-07-18:org::id", "openai"),
            "ft:gpt-4o-mini-2024-07-18"
        );
        assert_eq!(strip_model_name("gpt-4o-2024-08-06", "openai"), "gpt-4o");
        assert_eq!(strip_model_name("gpt-4o", "openai"), "gpt-4o");
        assert_eq!(dash_versions("claude-3.5-sonnet"), "claude-3-5-sonnet");
        assert_eq!(
            fireworks_bucket("llama-v3p1-8b-instruct"),
            "fireworks-ai-4.1b-to-16b"
        );
        assert_eq!(
            fireworks_bucket("mixtral-8x7b"),
            "fireworks-ai-moe-up-to-56b"
        );
        assert_eq!(fireworks_bucket("qwen-4b"), "fireworks-ai-up-to-4b");
        assert_eq!(fireworks_bucket("mystery"), "fireworks-ai-default");
    }
}
