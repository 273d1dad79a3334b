//! Exact costs, derived by hand from the registry's literal text (`data/ratecard/…json`), where
//! a float reference is only approximately right. Every expected value shows its arithmetic.

use tollgate_engine::engine::{
    CostSource, Engine, MatchKind, PriceInput, PriceResult, UnpricedReason,
};
use tollgate_engine::event::Event;

fn price(event: &str) -> PriceResult {
    let e = Event::from_json(event.as_bytes()).unwrap();
    Engine::embedded()
        .price(&PriceInput::from_event(&e))
        .unwrap()
}

fn cents(event: &str) -> String {
    let r = price(event);
    assert!(r.priced, "unpriced: {r:?}");
    r.cost_cents.to_string()
}

#[test]
fn one_million_bedrock_sonnet_input_tokens_are_330_cents() {
    // us.anthropic.claude-sonnet-4-6: "input_cost_per_token": 3.3e-06
    // 1,000,000 × 0.0000033 USD = 3.30 USD = 330 cents (the float reference says 3.3000000000000003 USD).
    let r = price(
        r#"{"provider":"bedrock","model":"us.anthropic.claude-sonnet-4-6","tokensIn":1000000}"#,
    );
    assert_eq!(r.cost_cents.to_string(), "330");
    assert_eq!(r.model.as_deref(), Some("us.anthropic.claude-sonnet-4-6"));
    assert_eq!(r.match_kind, Some(MatchKind::Exact));
    assert_eq!(r.source, CostSource::RateCard);
}

#[test]
fn seventeen_significant_digit_rates_stay_exact() {
    // novita/nvidia/nemotron-3-nano-30b-a3b: input 5.0000000000000004e-08, output 2.0000000000000002e-07 USD.
    // 1e6 × 5.0000000000000004e-08 = 0.050000000000000004 USD = 5.0000000000000004 cents
    // 1e6 × 2.0000000000000002e-07 = 0.20000000000000002 USD = 20.000000000000002 cents
    // total 25.0000000000000024 cents — no binary float holds it.
    assert_eq!(
        cents(
            r#"{"provider":"novita","model":"novita/nvidia/nemotron-3-nano-30b-a3b","tokensIn":1000000,"tokensOut":1000000}"#
        ),
        "25.0000000000000024"
    );
}

#[test]
fn anthropic_speed_and_geo_multipliers() {
    // claude-opus-4-8: input 5e-06, output 2.5e-05, provider_specific_entry {"us": 1.1, "fast": 2.0}
    // 1000 × 5e-06 + 10 × 2.5e-05 = 0.005 + 0.00025 = 0.00525 USD = 0.525 cents
    assert_eq!(
        cents(
            r#"{"provider":"anthropic","model":"claude-opus-4-8","tokensIn":1000,"tokensOut":10}"#
        ),
        "0.525"
    );
    // × 2 (fast) × 1.1 (us) = 1.155 cents
    assert_eq!(
        cents(
            r#"{"provider":"anthropic","model":"claude-opus-4-8","tokensIn":1000,"tokensOut":10,"inferenceGeo":"us","speed":"fast"}"#
        ),
        "1.155"
    );
    // "global" selects no multiplier; speed is case-sensitive like the reference ("FAST" is not "fast").
    assert_eq!(
        cents(
            r#"{"provider":"anthropic","model":"claude-opus-4-8","tokensIn":1000,"tokensOut":10,"inferenceGeo":"global","speed":"FAST"}"#
        ),
        "0.525"
    );
}

#[test]
fn cache_reads_and_five_minute_and_one_hour_writes() {
    // claude-opus-4-8: cache_read 5e-07, cache_creation 6.25e-06, cache_creation_above_1hr 1e-05
    // 2000 × 5e-07 + 1000 × 6.25e-06 + 1000 × 1e-05 = 0.001 + 0.00625 + 0.01 = 0.01725 USD
    assert_eq!(
        cents(
            r#"{"provider":"anthropic","model":"claude-opus-4-8","cachedTokens":2000,"cacheWrite5mTokens":1000,"cacheWrite1hTokens":1000}"#
        ),
        "1.725"
    );
}

#[test]
fn priority_tier_rates() {
    // gpt-4o: input_priority 4.25e-06, cache_read_priority 2.125e-06, output_priority 1.7e-05
    // 1000 × 4.25e-06 + 500 × 2.125e-06 + 200 × 1.7e-05 = 0.00425 + 0.0010625 + 0.0034 = 0.0087125 USD
    assert_eq!(
        cents(
            r#"{"provider":"openai","model":"gpt-4o","tokensIn":1000,"cachedTokens":500,"tokensOut":200,"serviceTier":"priority"}"#
        ),
        "0.87125"
    );
    // "fast" is served as priority.
    assert_eq!(
        cents(
            r#"{"provider":"openai","model":"gpt-4o","tokensIn":1000,"cachedTokens":500,"tokensOut":200,"serviceTier":"fast"}"#
        ),
        "0.87125"
    );
}

#[test]
fn batch_rates_and_the_half_price_fallback() {
    // gpt-4o: input_batches 1.25e-06, output_batches 5e-06
    // 1000 × 1.25e-06 + 200 × 5e-06 = 0.00125 + 0.001 = 0.00225 USD = 0.225 cents
    assert_eq!(
        cents(
            r#"{"provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":200,"serviceTier":"batch"}"#
        ),
        "0.225"
    );
    // us.anthropic.claude-sonnet-4-6 has no *_batches rates: half its standard rates.
    // (1000 × 3.3e-06 + 200 × 1.65e-05) / 2 = (0.0033 + 0.0033) / 2 = 0.0033 USD = 0.33 cents
    assert_eq!(
        cents(
            r#"{"provider":"bedrock","model":"us.anthropic.claude-sonnet-4-6","tokensIn":1000,"tokensOut":200,"serviceTier":"batch"}"#
        ),
        "0.33"
    );
}

#[test]
fn long_context_threshold_reprices_the_whole_request() {
    // gemini/gemini-2.5-pro: input 1.25e-06 / above 200k 2.5e-06; output 1e-05 / above 200k 1.5e-05
    // P = 200,000 is not above 200k: 200000 × 1.25e-06 + 100 × 1e-05 = 0.25 + 0.001 = 0.251 USD
    assert_eq!(
        cents(
            r#"{"provider":"gemini","model":"gemini-2.5-pro","tokensIn":200000,"tokensOut":100}"#
        ),
        "25.1"
    );
    // P = 200,001 is: 200001 × 2.5e-06 + 100 × 1.5e-05 = 0.5000025 + 0.0015 = 0.5015025 USD
    assert_eq!(
        cents(
            r#"{"provider":"gemini","model":"gemini-2.5-pro","tokensIn":200001,"tokensOut":100}"#
        ),
        "50.15025"
    );
    // P counts cache reads too: 199,001 fresh + 1,000 cached = 200,001 → every bucket at the higher rates:
    // 199001 × 2.5e-06 + 1000 × 2.5e-07 (cache_read_above_200k) + 100 × 1.5e-05
    // = 0.4975025 + 0.00025 + 0.0015 = 0.4992525 USD
    assert_eq!(
        cents(
            r#"{"provider":"gemini","model":"gemini-2.5-pro","tokensIn":199001,"cachedTokens":1000,"tokensOut":100}"#
        ),
        "49.92525"
    );
}

#[test]
fn xai_thresholds_are_inclusive_and_output_is_one_rate() {
    // xai/grok-4.5: input 2e-06 / above 200k 4e-06; output 6e-06 / above 200k 1.2e-05
    // P = 200,000 reaches the threshold (xAI: >=): 200000 × 4e-06 + 100 × 1.2e-05 = 0.8 + 0.0012 = 0.8012 USD
    assert_eq!(
        cents(r#"{"provider":"xai","model":"xai/grok-4.5","tokensIn":200000,"tokensOut":100}"#),
        "80.12"
    );
    // P = 199,999 does not: 199999 × 2e-06 + 100 × 6e-06 = 0.399998 + 0.0006 = 0.400598 USD;
    // reasoning tokens are billed at the output rate like the rest of tokensOut.
    assert_eq!(
        cents(
            r#"{"provider":"xai","model":"xai/grok-4.5","tokensIn":199999,"tokensOut":100,"reasoningTokens":60}"#
        ),
        "40.0598"
    );
}

#[test]
fn dashscope_tiers_select_by_total_prompt() {
    // dashscope/qwen-flash tiered_pricing: (0, 256000] 5e-08 / 4e-07; (256000, 1000000] 2.5e-07 / 2e-06
    // P = 256,000 is in the first tier: 256000 × 5e-08 + 1000 × 4e-07 = 0.0128 + 0.0004 = 0.0132 USD
    assert_eq!(
        cents(
            r#"{"provider":"dashscope","model":"dashscope/qwen-flash","tokensIn":256000,"tokensOut":1000}"#
        ),
        "1.32"
    );
    // P = 256,001: 256001 × 2.5e-07 + 1000 × 2e-06 = 0.06400025 + 0.002 = 0.06600025 USD
    assert_eq!(
        cents(
            r#"{"provider":"dashscope","model":"dashscope/qwen-flash","tokensIn":256001,"tokensOut":1000}"#
        ),
        "6.600025"
    );
}

#[test]
fn deepseek_off_peak_by_event_timestamp() {
    // deepseek/deepseek-v4-pro: input 1.32e-06, output 3.96e-06; off_peak_pricing input 6.6e-07,
    // output 1.98e-06, open Mon–Fri 00:00-01:00, 04:00-06:00, 10:00-00:00 UTC and all weekend.
    let at = |ts: &str| {
        cents(&format!(
            r#"{{"provider":"deepseek","model":"deepseek/deepseek-v4-pro","tokensIn":1000,"tokensOut":100,"timestamp":"{ts}"}}"#
        ))
    };
    // Monday 02:00 UTC, peak: 1000 × 1.32e-06 + 100 × 3.96e-06 = 0.00132 + 0.000396 = 0.001716 USD
    assert_eq!(at("2024-01-01T02:00:00Z"), "0.1716");
    // Monday 12:00 UTC, off-peak: 1000 × 6.6e-07 + 100 × 1.98e-06 = 0.00066 + 0.000198 = 0.000858 USD
    assert_eq!(at("2024-01-01T12:00:00Z"), "0.0858");
    // Window ends are exclusive: 06:00 is peak again, 05:59:59.999 is still off-peak.
    assert_eq!(at("2024-01-01T06:00:00Z"), "0.1716");
    assert_eq!(at("2024-01-01T05:59:59.999Z"), "0.0858");
    // Saturday 02:00 UTC: off-peak all day.
    assert_eq!(at("2024-01-06T02:00:00Z"), "0.0858");
}

#[test]
fn inconsistent_parts_are_billed_in_full_with_a_warning() {
    // o3-mini: output 4.4e-06, no reasoning rate. reasoning 150 > tokensOut 100: text output is 0
    // and the 150 reasoning tokens are billed: 150 × 4.4e-06 = 0.00066 USD = 0.066 cents.
    let r =
        price(r#"{"provider":"openai","model":"o3-mini","tokensOut":100,"reasoningTokens":150}"#);
    assert_eq!(r.cost_cents.to_string(), "0.066");
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].contains("(150) exceed tokensOut (100)"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn provider_and_external_costs_are_used_verbatim() {
    // providerCostCents replaces the rate card; externalCostCents is added: 0.42 + 1.5 = 1.92.
    let r = price(
        r#"{"provider":"openai","model":"gpt-4o","tokensIn":10,"providerCostCents":"0.42","externalCostCents":1.5}"#,
    );
    assert_eq!(r.cost_cents.to_string(), "1.92");
    assert_eq!(r.source, CostSource::Provider);
    // A tool step costs its external cost.
    let r = price(r#"{"type":"tool","externalCostCents":"0.3"}"#);
    assert_eq!(
        (r.cost_cents.to_string(), r.source),
        ("0.3".to_string(), CostSource::External)
    );
}

#[test]
fn unknown_and_unpriced_models_are_never_a_silent_zero() {
    let r =
        price(r#"{"provider":"openai","model":"my-finetune-that-does-not-exist","tokensIn":10}"#);
    assert!(!r.priced);
    assert_eq!(r.reason, Some(UnpricedReason::UnknownModel));
    assert_eq!(r.cost_cents.to_string(), "0");
    // rerank-v3.5 states input_cost_per_query 0.002 and zero token rates: priced per query only.
    let r = price(r#"{"provider":"cohere","model":"rerank-v3.5","tokensIn":10}"#);
    assert!(!r.priced);
    assert_eq!(r.reason, Some(UnpricedReason::NoTokenPrice));
    assert_eq!(r.model.as_deref(), Some("rerank-v3.5"));
    // The external cost of an unpriced event still counts.
    let r = price(r#"{"provider":"openai","model":"nope","externalCostCents":2}"#);
    assert_eq!(
        (r.priced, r.cost_cents.to_string()),
        (false, "2".to_string())
    );
}

#[test]
fn overflow_is_an_error_not_a_wrap() {
    // 2^53 tokens at rate 1 USD/token (an override): 9007199254740992 × 100 cents ≈ 9e17 cents,
    // beyond the ±1.7e14-cent range.
    let engine = Engine::embedded();
    engine
        .set_override("pricey", br#"{"input_cost_per_token": 1}"#)
        .unwrap();
    let e = Event::from_json(br#"{"model":"pricey","tokensIn":9007199254740992}"#).unwrap();
    assert_eq!(
        engine.price(&PriceInput::from_event(&e)),
        Err(tollgate_engine::engine::PriceError::Overflow)
    );
}
