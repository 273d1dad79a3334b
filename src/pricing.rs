//! The cost formula on one resolved registry entry (docs/reference/pricing.md (formula)).
//!
//! Each entry is compiled once, when its snapshot is built, into a [`PriceTable`]: for every
//! service tier the base rates and the cumulative rates after each long-context threshold, the
//! batch rates, the `tiered_pricing` tiers and the off-peak block. Pricing one usage is then a
//! handful of comparisons and checked `i128` multiplications, with no allocation and no float.
//!
//! The semantics are those of LiteLLM 1.110.2's `cost_per_token`, reproduced rule by rule; where
//! LiteLLM drops a price the registry states (its model-info key whitelist), the stated price is
//! used instead (see `docs/pricing-deviations.md`).

use crate::money::Cents;
use crate::ratecard::fields::{Base, FieldId, Suffix, Ttl};
use crate::ratecard::{Entry, Multiplier, OffPeak, Tier};
use crate::usage::{ServiceTier, Usage};

/// Which provider rule prices a request. Chosen from the provider the caller names, the way
/// LiteLLM dispatches on `custom_llm_provider`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Calc {
    /// The generic formula (openai, azure, azure_ai, gemini, deepseek, tencent, databricks,
    /// perplexity).
    Generic,
    /// Generic, then `provider_specific_entry` speed and geo multipliers.
    Anthropic,
    /// Generic, then the `provider_specific_entry` geo multiplier (`bedrock`, `bedrock_converse`).
    Bedrock,
    /// Generic with inclusive thresholds and no service tier; every output token at the output
    /// rate.
    Xai,
    /// Tier by total prompt; no service tiers, thresholds, modality or 1-hour split.
    Dashscope,
    /// `vertex_ai*`: the legacy `_above_128k_tokens` rule when the entry has it, else generic.
    Vertex,
    /// Generic; a missing cache-read rate defaults to half the input rate.
    Fireworks,
    /// Self-hosted: always 0.
    Lemonade,
    /// Any other provider: generic when the entry has an input or output rate (or tiers), else 0.
    GenericIfPriced,
}

impl Calc {
    /// The rule for a provider name (LiteLLM `custom_llm_provider`).
    pub(crate) fn for_provider(provider: &str) -> Calc {
        match provider {
            "anthropic" => Calc::Anthropic,
            "bedrock" | "bedrock_converse" => Calc::Bedrock,
            "xai" => Calc::Xai,
            "dashscope" | "qwencloud" | "qwen_ai_platform" => Calc::Dashscope,
            "vertex_ai" => Calc::Vertex,
            "fireworks_ai" => Calc::Fireworks,
            "lemonade" => Calc::Lemonade,
            "openai" | "azure" | "azure_ai" | "gemini" | "databricks" | "deepseek" | "tencent"
            | "perplexity" => Calc::Generic,
            _ => Calc::GenericIfPriced,
        }
    }

    fn inclusive_thresholds(self) -> bool {
        self == Calc::Xai
    }

    /// Whether the served tier selects tier-suffixed rates for this provider.
    fn honors_service_tier(self) -> bool {
        self != Calc::Xai
    }
}

/// The exact cost did not fit the fixed-point range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overflow;

/// Result of pricing one usage on one entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cost {
    /// Total cost in cents.
    pub cents: Cents,
    /// False when the entry (or the rule) has no token price: the cost is 0 but *unpriced*.
    pub priced: bool,
}

/// Rates after crossing one long-context threshold (`None` = keep the previous rate).
#[derive(Clone, Copy, Debug, Default)]
struct Step {
    n: u64,
    input: Option<Cents>,
    output: Option<Cents>,
    cache_read: Option<Cents>,
    cache_write: Option<Cents>,
    write_1h: Option<Cents>,
}

/// Everything the generic formula needs for one service tier.
#[derive(Clone, Debug, Default)]
struct View {
    input: Cents,
    output: Cents,
    cache_read: Option<Cents>,
    cache_write: Option<Cents>,
    write_1h: Option<Cents>,
    steps: Box<[Step]>,
    audio_in: Option<Cents>,
    audio_in_steps: Box<[(u64, Option<Cents>)]>,
    image_in: Option<Cents>,
    audio_out: Option<Cents>,
    image_out: Option<Cents>,
    /// `None`: reasoning is billed at the final output rate.
    reasoning: Option<Cents>,
}

/// One batch rate with its `_above_<N>_tokens_batches` steps.
#[derive(Clone, Debug, Default)]
struct BatchRate {
    flat: Option<Cents>,
    steps: Box<[(u64, Option<Cents>)]>,
}

impl BatchRate {
    fn at(&self, p: u64, inclusive: bool) -> Option<Cents> {
        match self
            .steps
            .iter()
            .rev()
            .find(|(n, _)| exceeds(p, *n, inclusive))
        {
            None => self.flat,
            Some((_, v)) => v.or(self.flat),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Batch {
    input: BatchRate,
    output: BatchRate,
    cache_read: BatchRate,
    cache_write: BatchRate,
    write_1h: BatchRate,
    write_12h: BatchRate,
    /// Standard cache-read rate by `cache_read_input_token_cost_above_<N>_tokens`.
    std_cache_read: Option<Cents>,
    std_cache_read_steps: Box<[(u64, Option<Cents>)]>,
    audio_in: Option<Cents>,
    audio_in_steps: Box<[(u64, Option<Cents>)]>,
    image_in: Option<Cents>,
    image_out: Option<Cents>,
    std_image_out: Option<Cents>,
}

/// Every rate one request is billed at, resolved (fallbacks applied). Laid out in declaration
/// order (`repr(C)`): what [`bill`]'s fast path reads (`small`, `small_exp`) comes first, so a
/// price touches one or two cache lines of it, not five.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
struct Rates {
    /// The rates divided by `10^small_exp`, when every one then fits 64 bits (the common case:
    /// registry rates have few significant digits), in the order of [`bill`]'s terms, with the
    /// Fireworks cache-read rate last.
    small: Option<[u64; 11]>,
    small_exp: u32,
    /// Bit length of the largest rate, for the overflow-free fast sum.
    max_bits: u32,
    input: Cents,
    output: Cents,
    cache_read: Cents,
    /// The cache-read rate under the Fireworks rule (its 0.5 × input default).
    cache_read_fw: Cents,
    cache_write: Cents,
    write_1h: Cents,
    audio_in: Cents,
    image_in: Cents,
    audio_out: Cents,
    image_out: Cents,
    reasoning: Cents,
}

/// `10^i` for `i` in `0..=24`.
const POW10: [i128; 25] = {
    let mut t = [1i128; 25];
    let mut i = 1;
    while i < 25 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

fn bit_len(c: Cents) -> u32 {
    128 - c.raw().unsigned_abs().leading_zeros()
}

impl Rates {
    fn new(r: [Cents; 11]) -> Rates {
        let max_bits = r.iter().map(|c| bit_len(*c)).max().unwrap_or(0);
        let negative = r.iter().any(|c| c.is_negative());
        Rates {
            input: r[0],
            output: r[1],
            cache_read: r[2],
            cache_read_fw: r[3],
            cache_write: r[4],
            write_1h: r[5],
            audio_in: r[6],
            image_in: r[7],
            audio_out: r[8],
            image_out: r[9],
            reasoning: r[10],
            // Rates are never negative (validated); if one were, force the checked path.
            max_bits: if negative { 128 } else { max_bits },
            small: None,
            small_exp: 0,
        }
    }

    /// Fills `small`: the largest power of ten dividing every rate is factored out.
    fn with_small(mut self) -> Rates {
        let all = [
            self.input,
            self.cache_read,
            self.audio_in,
            self.image_in,
            self.cache_write,
            self.write_1h,
            self.output,
            self.audio_out,
            self.reasoning,
            self.image_out,
            self.cache_read_fw,
        ];
        if all.iter().any(|c| c.is_negative()) {
            return self;
        }
        // The largest exponent whose power of ten divides every non-zero rate (divisibility by
        // 10^x is monotone in x, so a binary search needs five remainders per rate).
        let mut exp = crate::money::CENTS_SCALE;
        for c in all {
            let m = c.raw();
            if m == 0 {
                continue;
            }
            let mut e = 0u32;
            for step in [16, 8, 4, 2, 1] {
                if e + step <= exp && m % POW10[(e + step) as usize] == 0 {
                    e += step;
                }
            }
            exp = exp.min(e);
        }
        let div = 10i128.pow(exp);
        let mut small = [0u64; 11];
        for (slot, c) in small.iter_mut().zip(all) {
            match u64::try_from(c.raw() / div) {
                Ok(v) => *slot = v,
                Err(_) => return self,
            }
        }
        self.small = Some(small);
        self.small_exp = exp;
        self
    }
}

/// Rates precompiled per long-context bucket: `base` below every threshold, then the rates
/// once the prompt exceeds each threshold `n` (ascending).
#[derive(Clone, Debug)]
#[repr(C)]
struct Buckets {
    /// First, so the bucket choice and the base rates' fast-path fields share a cache line.
    steps: Box<[(u64, Rates)]>,
    base: Rates,
}

impl Buckets {
    #[inline]
    fn select(&self, p: u64, inclusive: bool) -> &Rates {
        let mut r = &self.base;
        for (n, rates) in self.steps.iter() {
            if exceeds(p, *n, inclusive) {
                r = rates;
            } else {
                break;
            }
        }
        r
    }
}

/// The generic formula's sum over the buckets of `u` (docs/reference/pricing.md (formula), docs/reference/pricing.md (formula)).
#[inline]
/// `fw`: bill cached tokens at the Fireworks cache-read rate (`cache_read_fw`) instead of
/// `cache_read`.
fn bill(r: &Rates, fw: bool, u: &Usage, xai: bool) -> Result<Cents, Overflow> {
    let (audio_in, image_in) = (u.audio_tokens_in, u.image_tokens_in);
    let text_in = u.tokens_in.saturating_sub(audio_in + image_in);
    let c = u.tokens_out;
    let (reason, audio_out, image_out) = if xai {
        (0, 0, 0)
    } else {
        (u.reasoning_tokens, u.audio_tokens_out, u.image_tokens_out)
    };
    let text_out = c.saturating_sub(reason + audio_out + image_out);
    if let Some(sm) = &r.small {
        // 64 × 64-bit products summed in 128 bits (each count ≤ 2^53: no overflow), then one
        // checked scale back to the 24-digit mantissa.
        let cr = if fw { sm[10] } else { sm[1] };
        let m = |n: u64, rate: u64| u128::from(n) * u128::from(rate);
        let sum = m(text_in, sm[0])
            + m(u.cached_tokens, cr)
            + m(audio_in, sm[2])
            + m(image_in, sm[3])
            + m(u.cache_write_5m_tokens, sm[4])
            + m(u.cache_write_1h_tokens, sm[5])
            + m(text_out, sm[6])
            + m(audio_out, sm[7])
            + m(reason, sm[8])
            + m(image_out, sm[9]);
        // sum < 10 × 2^53 × 2^64 < 2^121: it fits an i128.
        let v = sum as i128;
        let pow = POW10[r.small_exp as usize];
        if (128 - sum.leading_zeros()) + (128 - pow.leading_zeros()) <= 126 {
            return Ok(Cents::from_raw(v * pow));
        }
        return v.checked_mul(pow).map(Cents::from_raw).ok_or(Overflow);
    }
    let cache_read = if fw { r.cache_read_fw } else { r.cache_read };
    let terms = [
        (text_in, r.input),
        (u.cached_tokens, cache_read),
        (audio_in, r.audio_in),
        (image_in, r.image_in),
        (u.cache_write_5m_tokens, r.cache_write),
        (u.cache_write_1h_tokens, r.write_1h),
        (text_out, r.output),
        (audio_out, r.audio_out),
        (reason, r.reasoning),
        (image_out, r.image_out),
    ];
    // Counts are at most 2^53 each, so their sum fits 57 bits; when the largest rate times
    // that sum fits 127 bits, no product or partial sum can overflow.
    let total: u64 = terms.iter().map(|(n, _)| *n).sum();
    if r.max_bits.max(bit_len(cache_read)) + (64 - total.leading_zeros()) <= 126 {
        let sum: i128 = terms
            .iter()
            .map(|(n, rate)| rate.raw() * i128::from(*n))
            .sum();
        return Ok(Cents::from_raw(sum));
    }
    let mut acc = Acc::default();
    for (n, rate) in terms {
        acc.add(n, rate)?;
    }
    Ok(acc.0)
}

/// A compiled registry entry. Laid out in declaration order (`repr(C)`): the fields every
/// price reads (the buckets, the off-peak block and the flags) come first and share a cache
/// line; the per-tier views of the general path (over 1 KiB) come last.
#[derive(Clone, Debug)]
#[repr(C)]
pub(crate) struct PriceTable {
    /// Per service tier, the precompiled buckets (`None`: use the general path).
    buckets: [Option<Box<Buckets>>; 5],
    off_peak: Option<Box<OffPeak>>,
    /// The entry states a token price at all.
    has_token_prices: bool,
    /// LiteLLM `_has_token_or_tiered_pricing`: input > 0 or output > 0 or a `tiered_pricing` list.
    token_or_tiered: bool,
    /// LiteLLM prices the entry per second (0 for token usage) before any provider rule.
    per_second_only: bool,
    has_psi: bool,
    /// The entry's provider is `fireworks_ai` (for the default cache-read ratio).
    fireworks: bool,
    /// The entry is a Claude model (`claude` in its key): Vertex AI bills its searches per
    /// search, not as Gemini grounding.
    claude: bool,
    /// The search rule of the entry's own `litellm_provider` (used when the caller names no
    /// provider, or for a gateway match).
    own_search_rule: SearchRule,
    fast: Option<Multiplier>,
    geo: Box<[(Box<str>, Multiplier)]>,
    input_128k: Option<Cents>,
    output_128k: Option<Cents>,
    /// Raw flat rates (no tier, no threshold).
    input: Option<Cents>,
    output: Option<Cents>,
    cache_read: Option<Cents>,
    cache_write: Option<Cents>,
    reasoning: Option<Cents>,
    /// Per-search prices (`search_context_cost_per_query`, …); `None` when the entry states none.
    search: Option<Box<SearchRates>>,
    /// Ranged tiers sorted by start (stable).
    tiers: Box<[Tier]>,
    batch: Batch,
    views: [View; 5],
}

/// How a provider bills web searches (LiteLLM 1.110.2 `completion_cost`, its built-in tool
/// costs; docs/reference/pricing.md (web searches)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SearchRule {
    /// Every search at the `search_context_size_medium` rate; no rate, no cost (OpenAI, Azure,
    /// Anthropic, Bedrock, Groq and every other provider).
    PerSearch,
    /// Grounding with Google Search (`gemini`, `vertex_ai` Gemini models): the medium rate, or
    /// $0.035 when the entry states none, once per grounded prompt unless the entry says
    /// `web_search_billing_unit: per_query`.
    Grounding,
    /// xAI: the first positive of the medium, low and high rates, else $0.005 per search.
    Xai,
    /// Perplexity: `search_queries_cost_per_query`, else the low rate (or a flat per-query
    /// number), per search.
    Perplexity,
}

impl SearchRule {
    /// The rule of a provider name (the caller's, or an entry's `litellm_provider`); `claude`
    /// says whether the entry is a Claude model (Vertex AI serves both families).
    pub(crate) fn for_provider(provider: &str, claude: bool) -> SearchRule {
        match provider {
            "gemini" => SearchRule::Grounding,
            p if p.starts_with("vertex_ai") && !claude => SearchRule::Grounding,
            "xai" => SearchRule::Xai,
            "perplexity" => SearchRule::Perplexity,
            _ => SearchRule::PerSearch,
        }
    }
}

/// An entry's per-search prices, in cents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SearchRates {
    low: Option<Cents>,
    medium: Option<Cents>,
    high: Option<Cents>,
    /// `search_context_cost_per_query` given as one number instead of an object.
    flat: Option<Cents>,
    /// `search_queries_cost_per_query` (Perplexity's older key).
    per_query: Option<Cents>,
    /// `web_search_billing_unit: per_query` (else Gemini grounding bills per prompt).
    billed_per_query: bool,
}

/// LiteLLM's Gemini grounding price when the entry states none: $0.035 = 3.5 cents.
const GROUNDING_DEFAULT: Cents = Cents::from_raw(35 * crate::money::ONE_CENT / 10);
/// LiteLLM's xAI web-search price when the entry states none: $5 / 1000 = 0.5 cents.
const XAI_SEARCH_DEFAULT: Cents = Cents::from_raw(crate::money::ONE_CENT / 2);

/// The per-search prices an entry states, `None` when it states none.
fn search_rates(e: &Entry) -> Option<Box<SearchRates>> {
    const CTX: &str = "search_context_cost_per_query";
    let size = |s: &str| e.price(&format!("{CTX}.search_context_size_{s}"));
    let r = SearchRates {
        low: size("low"),
        medium: size("medium"),
        high: size("high"),
        flat: e.price(CTX),
        per_query: e.price("search_queries_cost_per_query"),
        billed_per_query: e.web_search_billing_unit() == Some("per_query"),
    };
    let any = r.low.is_some()
        || r.medium.is_some()
        || r.high.is_some()
        || r.flat.is_some()
        || r.per_query.is_some();
    (any || r.billed_per_query).then(|| Box::new(r))
}

fn exceeds(p: u64, n: u64, inclusive: bool) -> bool {
    p > n || (inclusive && p == n)
}

const TIERS: [(ServiceTier, Suffix); 5] = [
    (ServiceTier::Standard, Suffix::None),
    (ServiceTier::Flex, Suffix::Flex),
    (ServiceTier::Priority, Suffix::Priority),
    (ServiceTier::Balanced, Suffix::Balanced),
    (ServiceTier::Ultrafast, Suffix::Ultrafast),
];

fn tier_index(t: ServiceTier) -> usize {
    match t {
        ServiceTier::Standard | ServiceTier::Batch => 0,
        ServiceTier::Flex => 1,
        ServiceTier::Priority => 2,
        ServiceTier::Balanced => 3,
        ServiceTier::Ultrafast => 4,
    }
}

const WALL_CLOCK_MODES: [&str; 5] = [
    "audio_transcription",
    "chat",
    "completion",
    "embedding",
    "responses",
];

impl PriceTable {
    /// Compiles an entry (for an alias row, pass the owner's entry).
    pub(crate) fn compile(e: &Entry) -> PriceTable {
        let g = |id: FieldId| e.rate(id);
        // LiteLLM `get_cost_per_unit`: a tier-suffixed key falls back to the unsuffixed one.
        let gt = |id: FieldId| g(id).or_else(|| g(id.with_suffix(Suffix::None)));
        let plain = FieldId::plain;

        let views = TIERS.map(|(_, sfx)| {
            let t = |id: FieldId| id.with_suffix(sfx);
            let mut output = gt(t(plain(Base::Output))).unwrap_or(Cents::ZERO);
            if output.is_zero()
                && let Some(img) = g(plain(Base::ImageOut))
            {
                output = img;
            }
            let write_1h_id = FieldId {
                ttl: Ttl::OneHour,
                ..plain(Base::CacheWrite)
            };
            // Thresholds: standard keys and keys suffixed for this tier.
            let mut ns: Vec<u64> = e
                .token_rates
                .iter()
                .filter(|(id, _)| {
                    matches!(
                        id.base,
                        Base::Input | Base::Output | Base::CacheRead | Base::CacheWrite
                    ) && id.threshold.is_some()
                        && (id.suffix == Suffix::None || (sfx != Suffix::None && id.suffix == sfx))
                })
                .filter_map(|(id, _)| id.threshold)
                .collect();
            ns.sort_unstable();
            ns.dedup();
            let steps = ns
                .iter()
                .map(|&n| {
                    let at = |base: Base| gt(t(plain(base).with_threshold(Some(n))));
                    Step {
                        n,
                        input: at(Base::Input),
                        output: at(Base::Output),
                        cache_read: at(Base::CacheRead),
                        cache_write: at(Base::CacheWrite),
                        // The 1-hour key moves only to an exactly present threshold key.
                        write_1h: g(t(write_1h_id.with_threshold(Some(n)))),
                    }
                })
                .collect();
            let mut audio_ns: Vec<u64> = e
                .token_rates
                .iter()
                .filter(|(id, _)| {
                    id.base == Base::AudioIn
                        && id.threshold.is_some()
                        && (id.suffix == Suffix::None || (sfx != Suffix::None && id.suffix == sfx))
                })
                .filter_map(|(id, _)| id.threshold)
                .collect();
            audio_ns.sort_unstable();
            audio_ns.dedup();
            let reasoning = if sfx == Suffix::None {
                g(plain(Base::Reasoning))
            } else if let Some(r) = g(t(plain(Base::Reasoning))) {
                Some(r)
            } else if g(t(plain(Base::Output))).is_some() {
                None
            } else {
                g(plain(Base::Reasoning))
            };
            View {
                input: gt(t(plain(Base::Input))).unwrap_or(Cents::ZERO),
                output,
                cache_read: gt(t(plain(Base::CacheRead))),
                cache_write: gt(t(plain(Base::CacheWrite))),
                write_1h: gt(t(write_1h_id)),
                steps,
                audio_in: gt(t(plain(Base::AudioIn))),
                audio_in_steps: audio_ns
                    .iter()
                    .map(|&n| (n, gt(t(plain(Base::AudioIn).with_threshold(Some(n))))))
                    .collect(),
                image_in: gt(t(plain(Base::ImageIn))),
                audio_out: g(plain(Base::AudioOut)),
                image_out: gt(t(plain(Base::ImageOut))),
                reasoning,
            }
        });

        let batch_rate = |base: Base, ttl: Ttl| {
            let id = FieldId { ttl, ..plain(base) };
            let mut ns: Vec<u64> = e
                .token_rates
                .iter()
                .filter(|(f, _)| f.base == base && f.ttl == ttl && f.suffix == Suffix::Batches)
                .filter_map(|(f, _)| f.threshold)
                .collect();
            ns.sort_unstable();
            ns.dedup();
            BatchRate {
                flat: g(id.with_suffix(Suffix::Batches)),
                steps: ns
                    .iter()
                    .map(|&n| {
                        (
                            n,
                            g(id.with_threshold(Some(n)).with_suffix(Suffix::Batches)),
                        )
                    })
                    .collect(),
            }
        };
        let thresholds_of = |base: Base, batches: bool| -> Box<[(u64, Option<Cents>)]> {
            let mut ns: Vec<u64> = e
                .token_rates
                .iter()
                .filter(|(f, _)| {
                    f.base == base
                        && f.ttl == Ttl::Default
                        && (f.suffix == Suffix::None || (batches && f.suffix == Suffix::Batches))
                })
                .filter_map(|(f, _)| f.threshold)
                .collect();
            ns.sort_unstable();
            ns.dedup();
            let sfx = if batches {
                Suffix::Batches
            } else {
                Suffix::None
            };
            ns.iter()
                .map(|&n| (n, g(plain(base).with_threshold(Some(n)).with_suffix(sfx))))
                .collect()
        };
        let batch = Batch {
            input: batch_rate(Base::Input, Ttl::Default),
            output: batch_rate(Base::Output, Ttl::Default),
            cache_read: batch_rate(Base::CacheRead, Ttl::Default),
            cache_write: batch_rate(Base::CacheWrite, Ttl::Default),
            write_1h: batch_rate(Base::CacheWrite, Ttl::OneHour),
            write_12h: batch_rate(Base::CacheWrite, Ttl::TwelveHours),
            std_cache_read: g(plain(Base::CacheRead)),
            std_cache_read_steps: thresholds_of(Base::CacheRead, false),
            audio_in: g(plain(Base::AudioIn).with_suffix(Suffix::Batches)),
            audio_in_steps: thresholds_of(Base::AudioIn, true),
            image_in: g(plain(Base::ImageIn).with_suffix(Suffix::Batches)),
            image_out: g(plain(Base::ImageOut).with_suffix(Suffix::Batches)),
            std_image_out: g(plain(Base::ImageOut)),
        };

        let mut tiers: Vec<Tier> = e.tiers.to_vec();
        tiers.sort_by(|a, b| a.start.cmp_exact(b.start));

        let input = g(plain(Base::Input));
        let output = g(plain(Base::Output));
        let positive = |c: Option<Cents>| c.is_some_and(|c| c.raw() > 0);
        let token_or_tiered = positive(input) || positive(output) || e.has_tiered_field();
        let per_second_only = !token_or_tiered
            && e.mode().is_none_or(|m| WALL_CLOCK_MODES.contains(&m))
            && [
                "cost_per_second",
                "input_cost_per_second",
                "output_cost_per_second",
            ]
            .iter()
            .any(|k| e.price(k).is_some());
        let claude = e.key().to_ascii_lowercase().contains("claude");
        let mut table = PriceTable {
            views,
            buckets: [None, None, None, None, None],
            batch,
            tiers: tiers.into_boxed_slice(),
            off_peak: e.off_peak.clone(),
            fast: e.multiplier("fast"),
            geo: e.multipliers.clone(),
            has_psi: e.has_provider_specific_entry(),
            input,
            output,
            cache_read: g(plain(Base::CacheRead)),
            cache_write: g(plain(Base::CacheWrite)),
            reasoning: g(plain(Base::Reasoning)),
            input_128k: g(plain(Base::Input).with_threshold(Some(128_000))),
            output_128k: g(plain(Base::Output).with_threshold(Some(128_000))),
            has_token_prices: e.has_token_prices(),
            token_or_tiered,
            per_second_only,
            fireworks: e.provider() == Some("fireworks_ai"),
            search: search_rates(e),
            own_search_rule: e.provider().map_or(SearchRule::PerSearch, |p| {
                SearchRule::for_provider(p, claude)
            }),
            claude,
        };
        table.buckets = std::array::from_fn(|t| table.compile_buckets(t));
        table
    }

    /// The search rule for a price call: the caller's provider names it, as LiteLLM dispatches
    /// on `custom_llm_provider`; without one (or for a gateway match, `inferred`) the entry's
    /// own `litellm_provider` does.
    pub(crate) fn search_rule(&self, provider: Option<&str>, inferred: bool) -> SearchRule {
        match provider {
            Some(p) if !inferred => SearchRule::for_provider(p, self.claude),
            _ => self.own_search_rule,
        }
    }

    /// The cost of `n` web searches under `rule` (LiteLLM 1.110.2 `completion_cost`): 0 for no
    /// searches, and 0 when the entry has no positive per-search price for the rule.
    pub(crate) fn search_cost(&self, rule: SearchRule, n: u64) -> Result<Cents, Overflow> {
        if n == 0 {
            return Ok(Cents::ZERO);
        }
        let r = self.search.as_deref();
        let get = |f: fn(&SearchRates) -> Option<Cents>| r.and_then(f);
        let positive = |c: Option<Cents>| c.filter(|c| c.raw() > 0);
        let (rate, billed) = match rule {
            SearchRule::PerSearch => (positive(get(|r| r.medium)), n),
            SearchRule::Grounding => {
                // A stated object without a medium rate also falls back to the default.
                let rate = get(|r| r.medium).unwrap_or(GROUNDING_DEFAULT);
                let per_query = r.is_some_and(|r| r.billed_per_query);
                (positive(Some(rate)), if per_query { n } else { 1 })
            }
            SearchRule::Xai => (
                positive(get(|r| r.medium))
                    .or(positive(get(|r| r.low)))
                    .or(positive(get(|r| r.high)))
                    .or(Some(XAI_SEARCH_DEFAULT)),
                n,
            ),
            SearchRule::Perplexity => (
                positive(get(|r| r.per_query).or(get(|r| r.flat)).or(get(|r| r.low))),
                n,
            ),
        };
        match rate {
            Some(rate) => rate.checked_mul_count(billed).ok_or(Overflow),
            None => Ok(Cents::ZERO),
        }
    }

    /// Whether the off-peak block (if any) is open at `timestamp_ms`.
    pub(crate) fn has_off_peak(&self) -> bool {
        self.off_peak.is_some()
    }

    /// Prices `u` under rule `calc`. `timestamp_ms` is only read when the entry has off-peak
    /// windows. Inconsistent usage is priced the way the reference does (never negative).
    pub(crate) fn cost(&self, calc: Calc, u: &Usage, timestamp_ms: i64) -> Result<Cost, Overflow> {
        let off = self.off_peak.as_deref().filter(|o| o.is_open(timestamp_ms));
        let priced = self.has_token_prices;
        if u.service_tier == ServiceTier::Batch {
            let c = self.batch_cost(calc, u, off)?;
            return Ok(Cost {
                cents: self.multipliers(calc, u, c)?,
                priced,
            });
        }
        if self.per_second_only {
            return Ok(Cost {
                cents: Cents::ZERO,
                priced,
            });
        }
        let cents = match calc {
            Calc::Lemonade => Cents::ZERO,
            Calc::Dashscope => self.dashscope(u, off)?,
            Calc::Vertex if self.input_128k.is_some() || self.output_128k.is_some() => {
                self.vertex_128k(u)?
            }
            Calc::GenericIfPriced if !self.token_or_tiered => Cents::ZERO,
            Calc::Anthropic | Calc::Bedrock => {
                let c = self.generic(calc, u, off)?;
                self.multipliers(calc, u, c)?
            }
            _ => self.generic(calc, u, off)?,
        };
        Ok(Cost { cents, priced })
    }

    /// `provider_specific_entry` multipliers: Anthropic speed (`fast`) and geo, Bedrock geo.
    fn multipliers(&self, calc: Calc, u: &Usage, c: Cents) -> Result<Cents, Overflow> {
        // `fast` is read only for a fast-mode Anthropic call (it sits outside the hot line).
        let c = if calc == Calc::Anthropic
            && self.has_psi
            && u.speed.as_deref() == Some("fast")
            && let Some(m) = self.fast
        {
            m.apply(c).ok_or(Overflow)?
        } else {
            c
        };
        match calc {
            Calc::Anthropic | Calc::Bedrock => self.geo(u).apply(c).ok_or(Overflow),
            _ => Ok(c),
        }
    }

    fn geo(&self, u: &Usage) -> Multiplier {
        let Some(geo) = u.inference_geo.as_deref() else {
            return Multiplier::ONE;
        };
        if geo.eq_ignore_ascii_case("global") || geo.eq_ignore_ascii_case("not_available") {
            return Multiplier::ONE;
        }
        self.geo
            .iter()
            .find(|(k, _)| {
                k.len() == geo.len()
                    && k.bytes()
                        .zip(geo.bytes())
                        .all(|(a, b)| a == b.to_ascii_lowercase())
            })
            .map_or(Multiplier::ONE, |(_, m)| *m)
    }

    fn generic(&self, calc: Calc, u: &Usage, off: Option<&OffPeak>) -> Result<Cents, Overflow> {
        let inclusive = calc.inclusive_thresholds();
        let p = u.prompt_total();
        let t = if calc.honors_service_tier() {
            tier_index(u.service_tier)
        } else {
            0
        };
        let xai = calc == Calc::Xai;
        // Common case: rates precompiled per threshold bucket.
        if off.is_none()
            && let Some(buckets) = &self.buckets[t]
        {
            let r = buckets.select(p, inclusive);
            return bill(r, calc == Calc::Fireworks, u, xai);
        }
        let r = self.rates_at(calc, t, p, off)?;
        bill(&r, false, u, xai)
    }

    /// Every rate the generic formula bills `p` prompt tokens at, under rule `calc`, service
    /// tier `t` and the open off-peak block `off`.
    fn rates_at(
        &self,
        calc: Calc,
        t: usize,
        p: u64,
        off: Option<&OffPeak>,
    ) -> Result<Rates, Overflow> {
        let inclusive = calc.inclusive_thresholds();
        let v = &self.views[t];
        // Base rates: a `tiered_pricing` tier (all-or-nothing), else tier + threshold keys.
        let (mut input, mut output, cache_read, cache_write, write_1h, tier);
        match self.priced_tier(p) {
            Some(t) => {
                tier = Some(t);
                input = t.input.unwrap_or(Cents::ZERO);
                output = match t.output {
                    Some(o) => o,
                    None => self.output.unwrap_or(Cents::ZERO),
                };
                let mut cr = t.cache_read.unwrap_or(input);
                let mut cw = t.cache_write.unwrap_or(input);
                if let Some(o) = off {
                    input = o.input.unwrap_or(input);
                    output = o.output.unwrap_or(output);
                    cr = o.cache_read.unwrap_or(cr);
                    cw = o.cache_write.unwrap_or(cw);
                }
                cache_read = cr;
                cache_write = cw;
                write_1h = t.cache_write_1h.unwrap_or(cw);
            }
            None => {
                tier = None;
                input = v.input;
                output = v.output;
                let mut cr = v.cache_read;
                let fireworks_default =
                    calc == Calc::Fireworks && self.fireworks && self.cache_read.is_none();
                if fireworks_default {
                    // The reference's Fireworks default: cache reads at half the input rate.
                    cr = cr.or(Some(halve(self.input.unwrap_or(Cents::ZERO))?));
                }
                let mut cw = v.cache_write;
                let mut w1h = v.write_1h;
                // Steps are sorted: each crossed threshold overrides the rates it states.
                for s in v.steps.iter().take_while(|s| exceeds(p, s.n, inclusive)) {
                    input = s.input.unwrap_or(input);
                    output = s.output.unwrap_or(output);
                    cr = s.cache_read.or(cr);
                    cw = s.cache_write.or(cw);
                    w1h = s.write_1h.or(w1h);
                }
                let input_for_missing = off.and_then(|o| o.input).unwrap_or(input);
                let mut cr = cr.unwrap_or(input_for_missing);
                let mut cw = cw.unwrap_or(input_for_missing);
                if let Some(o) = off {
                    let off_cr = match o.cache_read {
                        Some(r) => Some(r),
                        None if fireworks_default => {
                            Some(halve(o.input.or(self.input).unwrap_or(Cents::ZERO))?)
                        }
                        None => None,
                    };
                    input = o.input.unwrap_or(input);
                    output = o.output.unwrap_or(output);
                    cr = off_cr.unwrap_or(cr);
                    cw = o.cache_write.unwrap_or(cw);
                }
                cache_read = cr;
                cache_write = cw;
                write_1h = w1h.unwrap_or(cw);
            }
        }
        let audio_in = match v
            .audio_in_steps
            .iter()
            .rev()
            .find(|(n, _)| exceeds(p, *n, inclusive))
        {
            Some((_, r)) => *r,
            None => v.audio_in,
        };
        let reasoning = if let Some(rr) = off.and_then(|o| o.reasoning) {
            rr
        } else if let Some(t) = tier.filter(|t| t.reasoning.is_some() || t.output.is_some()) {
            t.reasoning.or(t.output).unwrap_or(Cents::ZERO)
        } else {
            v.reasoning.unwrap_or(output)
        };
        Ok(Rates::new([
            input,
            output,
            cache_read,
            cache_read,
            cache_write,
            write_1h,
            audio_in.unwrap_or(input),
            v.image_in.unwrap_or(input),
            v.audio_out.unwrap_or(output),
            v.image_out.unwrap_or(output),
            reasoning,
        ]))
    }

    /// Precompiles the threshold buckets of service tier `t` (`None` when the entry needs the
    /// general path: `tiered_pricing`, off-peak windows or a threshold at 0).
    fn compile_buckets(&self, t: usize) -> Option<Box<Buckets>> {
        if !self.tiers.is_empty() || self.off_peak.is_some() {
            return None;
        }
        let v = &self.views[t];
        let mut ns: Vec<u64> = v
            .steps
            .iter()
            .map(|s| s.n)
            .chain(v.audio_in_steps.iter().map(|(n, _)| *n))
            .collect();
        ns.sort_unstable();
        ns.dedup();
        if ns.first() == Some(&0) {
            return None;
        }
        // A prompt of n + 1 tokens crosses exactly the thresholds <= n, inclusive or not.
        let at = |p: u64| -> Option<Rates> {
            let mut r = self.rates_at(Calc::Generic, t, p, None).ok()?;
            r.cache_read_fw = self.rates_at(Calc::Fireworks, t, p, None).ok()?.cache_read;
            r.max_bits = r.max_bits.max(bit_len(r.cache_read_fw));
            Some(r.with_small())
        };
        let base = at(0)?;
        let steps = ns
            .iter()
            .map(|&n| Some((n, at(n.checked_add(1)?)?)))
            .collect::<Option<Box<[_]>>>()?;
        Some(Box::new(Buckets { base, steps }))
    }

    /// LiteLLM `_select_priced_tier`: the tier of `tiered_pricing` for a prompt of `p` tokens,
    /// when it has an input rate.
    fn priced_tier(&self, p: u64) -> Option<&Tier> {
        self.select_tier(p).filter(|t| t.input.is_some())
    }

    /// LiteLLM `select_tier_for_input`: first tier with `start < p <= end`; above every range,
    /// the last tier; `p == 0`, none.
    fn select_tier(&self, p: u64) -> Option<&Tier> {
        if p == 0 || self.tiers.is_empty() {
            return None;
        }
        self.tiers
            .iter()
            .find(|t| t.start_floor < p && p <= t.end_floor)
            .or(self.tiers.last())
    }

    fn dashscope(&self, u: &Usage, off: Option<&OffPeak>) -> Result<Cents, Overflow> {
        let creation = u.cache_write_5m_tokens + u.cache_write_1h_tokens;
        let text = u.tokens_in;
        let r = u.reasoning_tokens;
        let completion = u.tokens_out.saturating_sub(r);
        let flat_in = self.input.unwrap_or(Cents::ZERO);
        let flat_out = self.output.unwrap_or(Cents::ZERO);
        let (mut input, mut cr, mut cw, mut output, mut reasoning) =
            match self.select_tier(text + u.cached_tokens + creation) {
                None => (
                    flat_in,
                    self.cache_read.or(self.input).unwrap_or(Cents::ZERO),
                    self.cache_write.or(self.input).unwrap_or(Cents::ZERO),
                    flat_out,
                    self.reasoning,
                ),
                Some(t) => (
                    t.input.unwrap_or(Cents::ZERO),
                    t.cache_read.or(t.input).unwrap_or(Cents::ZERO),
                    t.cache_write.or(t.input).unwrap_or(Cents::ZERO),
                    t.output.unwrap_or(flat_out),
                    if t.reasoning.is_some() {
                        t.reasoning
                    } else if t.output.is_some() {
                        None
                    } else {
                        self.reasoning
                    },
                ),
            };
        if let Some(o) = off {
            input = o.input.unwrap_or(input);
            output = o.output.unwrap_or(output);
            cr = o.cache_read.unwrap_or(cr);
            cw = o.cache_write.unwrap_or(cw);
            reasoning = o.reasoning.or(reasoning);
        }
        let mut sum = Acc::default();
        sum.add(text, input)?;
        sum.add(u.cached_tokens, cr)?;
        sum.add(creation, cw)?;
        sum.add(completion, output)?;
        sum.add(r, reasoning.unwrap_or(output))?;
        Ok(sum.0)
    }

    fn vertex_128k(&self, u: &Usage) -> Result<Cents, Overflow> {
        let p = u.prompt_total();
        let c = u.tokens_out;
        let input = match self.input_128k {
            Some(r) if p > 128_000 => r,
            _ => self.input.unwrap_or(Cents::ZERO),
        };
        let output = match self.output_128k {
            Some(r) if c > 128_000 => r,
            _ => self.output.unwrap_or(Cents::ZERO),
        };
        let mut sum = Acc::default();
        sum.add(p, input)?;
        sum.add(c, output)?;
        Ok(sum.0)
    }

    fn batch_cost(&self, calc: Calc, u: &Usage, off: Option<&OffPeak>) -> Result<Cents, Overflow> {
        let b = &self.batch;
        let inclusive = calc.inclusive_thresholds();
        let p = u.prompt_total();
        if b.input.flat.is_none() && self.priced_tier(p).is_some() {
            // A tiered model without batch rates: half its standard (tier) rates.
            return halve(self.generic(Calc::Generic, u, off)?);
        }
        let hit = u.cached_tokens;
        let creation = u.cache_write_5m_tokens + u.cache_write_1h_tokens;
        let mut sum = Acc::default();
        let std_in = self.input.unwrap_or(Cents::ZERO);
        match b.input.at(p, inclusive) {
            Some(input) => {
                let cache_read = b.cache_read.at(p, inclusive).or_else(|| {
                    match b.std_cache_read_steps.iter().rev().find(|(n, _)| p > *n) {
                        Some((_, r)) => *r,
                        None => b.std_cache_read,
                    }
                });
                let cached = if cache_read.is_some() { hit } else { 0 };
                let cw = b.cache_write.at(p, inclusive);
                let w1h = b.write_1h.at(p, inclusive);
                let bills_writes =
                    cw.is_some() || w1h.is_some() || b.write_12h.at(p, inclusive).is_some();
                let written = if bills_writes { creation } else { 0 };
                let text =
                    p.saturating_sub(u.audio_tokens_in + u.image_tokens_in + cached + written);
                sum.add(text, input)?;
                let audio_rate = match b.audio_in_steps.iter().rev().find(|(n, _)| p > *n) {
                    Some((_, r)) => r.or(b.audio_in),
                    None => b.audio_in,
                };
                sum.add(u.audio_tokens_in, audio_rate.unwrap_or(input))?;
                sum.add(u.image_tokens_in, b.image_in.unwrap_or(input))?;
                sum.add(cached, cache_read.unwrap_or(Cents::ZERO))?;
                if bills_writes {
                    let cw = cw.unwrap_or(input);
                    sum.add(u.cache_write_5m_tokens, cw)?;
                    sum.add(u.cache_write_1h_tokens, w1h.unwrap_or(cw))?;
                }
            }
            None => {
                // No batch input rate: half the standard input, cache-read and cache-write rates.
                let mut half = Acc::default();
                half.add(u.tokens_in, std_in)?;
                half.add(hit, self.cache_read.unwrap_or(Cents::ZERO))?;
                half.add(creation, self.cache_write.unwrap_or(std_in))?;
                sum.0 = half.half()?;
            }
        }
        let text_rate = match b.output.at(p, inclusive) {
            Some(r) => r,
            None => halve(self.output.unwrap_or(Cents::ZERO))?,
        };
        let image_rate = match (b.image_out, b.std_image_out) {
            (Some(r), _) => r,
            (None, Some(s)) => halve(s)?,
            (None, None) => text_rate,
        };
        let c = u.tokens_out;
        let image = u.image_tokens_out.min(c);
        sum.add(c - image, text_rate)?;
        sum.add(image, image_rate)?;
        Ok(sum.0)
    }
}

fn halve(c: Cents) -> Result<Cents, Overflow> {
    if c.raw() % 2 != 0 {
        return Err(Overflow);
    }
    Ok(Cents::from_raw(c.raw() / 2))
}

/// Checked accumulator of `count × rate` terms.
#[derive(Default)]
struct Acc(Cents);

impl Acc {
    #[inline]
    fn add(&mut self, count: u64, rate: Cents) -> Result<(), Overflow> {
        if count == 0 {
            return Ok(());
        }
        let r = rate.raw();
        // Both factors are non-negative; when their bit lengths sum to at most 126 the product
        // cannot overflow and the (slow) checked 128-bit multiply is skipped.
        let bits = (128 - r.leading_zeros()) + (64 - count.leading_zeros());
        let term = if bits <= 126 && r >= 0 {
            Cents::from_raw(r * i128::from(count))
        } else {
            rate.checked_mul_count(count).ok_or(Overflow)?
        };
        self.0 = self.0.checked_add(term).ok_or(Overflow)?;
        Ok(())
    }

    fn half(&self) -> Result<Cents, Overflow> {
        halve(self.0)
    }
}
