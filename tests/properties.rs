//! Properties of the cost function over real registry models (proptest): never negative, zero
//! usage costs zero, monotone in every count while no threshold is crossed, additive while no
//! threshold is crossed, and a threshold crossing reprices the whole request.

use proptest::prelude::*;
use std::sync::OnceLock;
use tollgate_engine::engine::{Engine, PriceInput};
use tollgate_engine::money::Cents;
use tollgate_engine::ratecard::RateCard;
use tollgate_engine::usage::{ServiceTier, Usage};

/// `(provider, model, has thresholds or tiers)` for every row with token prices.
fn models() -> &'static [(String, String, bool)] {
    static M: OnceLock<Vec<(String, String, bool)>> = OnceLock::new();
    M.get_or_init(|| {
        RateCard::embedded()
            .entries()
            .iter()
            .filter(|e| e.has_token_prices() && e.provider().is_some())
            .map(|e| {
                let stepped = e.prices().iter().any(|(k, _)| {
                    k.contains("_above_") && k.contains("_tokens")
                        || k.starts_with("tiered_pricing")
                });
                (
                    e.provider().unwrap_or_default().to_string(),
                    e.key().to_string(),
                    stepped,
                )
            })
            .collect()
    })
}

/// The prompt sizes where a row's rates change, read from the registry text itself: `N` of
/// every `*_above_N[k]_tokens*` key and the lower bound of every `tiered_pricing` range.
fn thresholds(model: &str) -> Vec<u64> {
    static T: OnceLock<serde_json::Map<String, serde_json::Value>> = OnceLock::new();
    let rows = T.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/ratecard/litellm-1.110.2.json"
        ))
        .unwrap();
        serde_json::from_str(&text).unwrap()
    });
    let Some(row) = rows.get(model).and_then(|v| v.as_object()) else {
        return Vec::new();
    };
    let mut out: Vec<u64> = row
        .keys()
        .filter_map(|k| {
            let n = k.split("_above_").nth(1)?.split("_tokens").next()?;
            match n.strip_suffix('k') {
                Some(k) => k.parse::<u64>().ok().map(|v| v * 1000),
                None => n.parse().ok(),
            }
        })
        .collect();
    for tier in row
        .get("tiered_pricing")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
    {
        if let Some(lo) = tier
            .get("range")
            .and_then(|r| r.get(0))
            .and_then(|v| v.as_f64())
        {
            out.push(lo as u64);
        }
    }
    out
}

/// The prompt total thresholds are measured on: fresh input + cache reads + cache writes.
fn prompt(u: &Usage) -> u64 {
    u.tokens_in + u.cached_tokens + u.cache_write_5m_tokens + u.cache_write_1h_tokens
}

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(Engine::embedded)
}

fn cost(provider: &str, model: &str, u: &Usage) -> Cents {
    let mut input = PriceInput::llm(Some(provider), model, u);
    // A fixed instant, so off-peak windows cannot differ between the calls compared.
    input.timestamp_ms = Some(1_767_225_600_000);
    engine().price(&input).unwrap().cost_cents
}

const TIERS: [ServiceTier; 6] = [
    ServiceTier::Standard,
    ServiceTier::Flex,
    ServiceTier::Priority,
    ServiceTier::Batch,
    ServiceTier::Balanced,
    ServiceTier::Ultrafast,
];

/// A consistent usage: parts never exceed their whole.
fn usage(max: u64) -> impl Strategy<Value = Usage> {
    (
        (0..max, 0..max, 0..max, 0..max),
        (0..max, 0..=100u64, 0..=100u64),
        (0..=100u64, 0..=100u64, 0..=100u64),
        (0..TIERS.len(), any::<bool>(), any::<bool>()),
    )
        .prop_map(
            |(
                (tin, cached, w5, w1),
                (out, a_pct, i_pct),
                (r_pct, ao_pct, io_pct),
                (t, us, fast),
            )| {
                let audio_in = tin * a_pct / 200;
                let image_in = tin * i_pct / 200;
                let reasoning = out * r_pct / 300;
                let audio_out = out * ao_pct / 300;
                let image_out = out * io_pct / 300;
                Usage {
                    tokens_in: tin,
                    cached_tokens: cached,
                    cache_write_5m_tokens: w5,
                    cache_write_1h_tokens: w1,
                    audio_tokens_in: audio_in,
                    image_tokens_in: image_in,
                    tokens_out: out,
                    reasoning_tokens: reasoning,
                    audio_tokens_out: audio_out,
                    image_tokens_out: image_out,
                    service_tier: TIERS[t],
                    inference_geo: us.then(|| "us".into()),
                    speed: fast.then(|| "fast".into()),
                    ..Usage::default()
                }
            },
        )
}

fn model() -> impl Strategy<Value = (String, String, bool)> {
    (0..models().len()).prop_map(|i| models()[i].clone())
}

/// `u` plus `k` tokens of kind `which` (a part grows its whole too).
fn add_tokens(u: &Usage, which: usize, k: u64) -> Usage {
    let mut v = u.clone();
    match which {
        0 => v.tokens_in += k,
        1 => v.cached_tokens += k,
        2 => v.cache_write_5m_tokens += k,
        3 => v.cache_write_1h_tokens += k,
        4 => {
            v.audio_tokens_in += k;
            v.tokens_in += k;
        }
        5 => {
            v.image_tokens_in += k;
            v.tokens_in += k;
        }
        6 => v.tokens_out += k,
        7 => {
            v.reasoning_tokens += k;
            v.tokens_out += k;
        }
        8 => {
            v.audio_tokens_out += k;
            v.tokens_out += k;
        }
        _ => {
            v.image_tokens_out += k;
            v.tokens_out += k;
        }
    }
    v
}

fn sum(a: &Usage, b: &Usage) -> Usage {
    Usage {
        tokens_in: a.tokens_in + b.tokens_in,
        cached_tokens: a.cached_tokens + b.cached_tokens,
        cache_write_5m_tokens: a.cache_write_5m_tokens + b.cache_write_5m_tokens,
        cache_write_1h_tokens: a.cache_write_1h_tokens + b.cache_write_1h_tokens,
        audio_tokens_in: a.audio_tokens_in + b.audio_tokens_in,
        image_tokens_in: a.image_tokens_in + b.image_tokens_in,
        tokens_out: a.tokens_out + b.tokens_out,
        reasoning_tokens: a.reasoning_tokens + b.reasoning_tokens,
        audio_tokens_out: a.audio_tokens_out + b.audio_tokens_out,
        image_tokens_out: a.image_tokens_out + b.image_tokens_out,
        ..a.clone()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_negative((p, m, _) in model(), u in usage(3_000_000)) {
        prop_assert!(!cost(&p, &m, &u).is_negative());
    }

    #[test]
    fn zero_usage_costs_zero((p, m, _) in model(), t in 0..TIERS.len(), us in any::<bool>()) {
        let u = Usage {
            service_tier: TIERS[t],
            inference_geo: us.then(|| "us".into()),
            ..Usage::default()
        };
        prop_assert_eq!(cost(&p, &m, &u), Cents::ZERO);
    }

    /// Adding tokens of any kind never lowers the cost while the prompt crosses no threshold.
    /// (A crossing reprices the whole request, and the registry may state an above-threshold
    /// rate below a tier's rate: see `a_threshold_crossing_can_lower_a_priority_cost`.)
    #[test]
    fn monotone_in_every_count((p, m, _) in model(), u in usage(400_000), which in 0..10usize, k in 1..300_000u64) {
        let more = add_tokens(&u, which, k);
        let (before, after) = (prompt(&u), prompt(&more));
        prop_assume!(!thresholds(&m).iter().any(|t| before <= *t && *t < after));
        let (a, b) = (cost(&p, &m, &u), cost(&p, &m, &more));
        prop_assert!(b >= a, "{p}/{m}: {a} > {b} after adding {k} of kind {which} to {u:?}");
    }

    /// On a model without thresholds or tiers, two usages cost what they cost together.
    #[test]
    fn additive_without_thresholds((p, m, stepped) in model(), a in usage(2_000_000), b in usage(2_000_000)) {
        prop_assume!(!stepped);
        let b = Usage { service_tier: a.service_tier, inference_geo: a.inference_geo.clone(), speed: a.speed.clone(), ..b };
        let both = sum(&a, &b);
        let separate = cost(&p, &m, &a).checked_add(cost(&p, &m, &b)).unwrap();
        prop_assert_eq!(cost(&p, &m, &both), separate);
    }

    /// gemini/gemini-2.5-pro (registry: input 1.25e-06 → 2.5e-06, cache read 1.25e-07 → 2.5e-07,
    /// output 1e-05 → 1.5e-05 above 200k): every token of the request moves to the higher
    /// rate once P = tokensIn + cachedTokens exceeds 200,000, whatever the split.
    #[test]
    fn threshold_crossing_reprices_the_whole_request(p in 1u64..400_000, cached_pct in 0..=100u64, out in 0u64..10_000) {
        let cached = p * cached_pct / 100;
        let u = Usage { tokens_in: p - cached, cached_tokens: cached, tokens_out: out, ..Usage::default() };
        let usd = |s: &str| Cents::from_usd_literal(s).unwrap();
        let (i, c, o) = if p > 200_000 {
            (usd("2.5e-06"), usd("2.5e-07"), usd("1.5e-05"))
        } else {
            (usd("1.25e-06"), usd("1.25e-07"), usd("1e-05"))
        };
        let expected = [(p - cached, i), (cached, c), (out, o)]
            .iter()
            .map(|(n, r)| r.checked_mul_count(*n).unwrap())
            .fold(Cents::ZERO, |s, x| s.checked_add(x).unwrap());
        prop_assert_eq!(cost("gemini", "gemini-2.5-pro", &u), expected);
    }
}

/// Why `monotone_in_every_count` stops at thresholds: azure/us/gpt-5.4 states
/// `output_cost_per_token_priority` 3.3e-05 but no priority rate above 272k, so past 272,000
/// prompt tokens a priority request's output falls back to `output_cost_per_token_above_272k_tokens`
/// 2.475e-05. The reference (LiteLLM 1.110.2, `litellm_oracle.py`) prices both requests alike:
/// 19,842 output tokens = $0.654786; the same with 272,001 cached tokens = $0.64069005
/// (cache read above 272k 5.5e-07 × 272,001 = $0.14960055 + 2.475e-05 × 19,842 = $0.4910895).
#[test]
fn a_threshold_crossing_can_lower_a_priority_cost() {
    let small = Usage {
        tokens_out: 19_842,
        service_tier: ServiceTier::Priority,
        ..Usage::default()
    };
    let large = Usage {
        cached_tokens: 272_001,
        ..small.clone()
    };
    let usd = |s: &str| Cents::from_usd_literal(s).unwrap();
    assert_eq!(cost("azure", "azure/us/gpt-5.4", &small), usd("0.654786"));
    assert_eq!(cost("azure", "azure/us/gpt-5.4", &large), usd("0.64069005"));
}
