//! Web searches priced as LiteLLM 1.110.2's `completion_cost` prices them.
//!
//! `data/oracle/websearch.jsonl` comes from `scripts/gen_golden.py --websearch`: each event (with
//! `webSearchRequests` > 0) priced by the oracle's `completion_cost`
//! (`../shared/tools/litellm_oracle.py`) twice, with its searches and with none. The engine's
//! total must equal the first within 1e-9 cents, and its `webSearchCents` the difference of the
//! two within 1e-9 cents. Where the oracle's searches cost nothing (no per-search price for the
//! model) the engine must say so in a warning.

use tollgate_engine::engine::{CostSource, Engine, PriceInput};
use tollgate_engine::event::Event;
use tollgate_engine::money::{Cents, ONE_CENT};

/// 1e-9 cents in the engine's fixed point.
const TOLERANCE: i128 = ONE_CENT / 1_000_000_000;

/// The oracle's float (its shortest repr) as exact cents.
fn oracle_cents(usd: &str) -> Cents {
    let d: rust_decimal::Decimal = usd
        .parse()
        .or_else(|_| rust_decimal::Decimal::from_scientific(usd))
        .unwrap_or_else(|e| panic!("{usd}: {e}"));
    Cents::from_decimal(d * rust_decimal::Decimal::ONE_HUNDRED).unwrap()
}

#[test]
fn web_searches_cost_what_the_oracle_completion_cost_says() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/oracle/websearch.jsonl"
    ))
    .unwrap();
    let engine = Engine::embedded();
    let (mut vectors, mut charged, mut free, mut failures) = (0, 0, 0, Vec::new());
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap();
        let event = Event::from_json(v["event"].to_string().as_bytes()).unwrap();
        assert!(event.usage.web_search_requests > 0, "{id}");
        let with = oracle_cents(v["oracle"]["withSearches"].as_str().unwrap());
        let without = oracle_cents(v["oracle"]["withoutSearches"].as_str().unwrap());
        let search = Cents::from_raw(with.raw() - without.raw());
        let r = engine.price(&PriceInput::from_event(&event)).unwrap();
        vectors += 1;
        let ok = r.priced
            && r.source == CostSource::RateCard
            && (r.cost_cents.raw() - with.raw()).abs() <= TOLERANCE
            && (r.web_search_cents.raw() - search.raw()).abs() <= TOLERANCE;
        if !ok {
            failures.push(format!(
                "{id}: engine {} (searches {}), oracle {with} (searches {search}) {:?}",
                r.cost_cents, r.web_search_cents, r.warnings
            ));
            continue;
        }
        if r.web_search_cents.is_zero() {
            free += 1;
            assert!(
                r.warnings.iter().any(|w| w.contains("no per-search price")),
                "{id}: {:?}",
                r.warnings
            );
        } else {
            charged += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {vectors} vectors differ:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    // Every vector checked; most rows state a per-search price.
    assert_eq!(vectors, 794);
    assert!(charged > 600 && free > 30, "{charged} charged, {free} free");
}

/// Hand calculations from the registry (`data/ratecard/litellm-1.110.2.json`), one per rule.
#[test]
fn one_example_per_provider_rule() {
    let engine = Engine::embedded();
    let price = |provider: Option<&str>, model: &str, searches: u64| {
        let usage = tollgate_engine::usage::Usage {
            tokens_in: 100,
            tokens_out: 10,
            web_search_requests: searches,
            ..Default::default()
        };
        let r = engine
            .price(&PriceInput::llm(provider, model, &usage))
            .unwrap();
        (r.web_search_cents.to_string(), r.cost_cents.to_string())
    };
    // gpt-4o-mini: search_context_size_medium 0.025 USD; 100 × 1.5e-07 + 10 × 6e-07 USD tokens.
    assert_eq!(
        price(Some("openai"), "gpt-4o-mini", 3),
        ("7.5".into(), "7.5021".into())
    );
    // claude-sonnet-4-5: 0.01 USD per search; tokens 100 × 3e-06 + 10 × 1.5e-05 USD.
    assert_eq!(
        price(Some("anthropic"), "claude-sonnet-4-5", 3),
        ("3".into(), "3.045".into())
    );
    // gemini-2.5-flash (Gemini 2.x, billed per grounded prompt): 0.035 USD once.
    assert_eq!(
        price(Some("gemini"), "gemini-2.5-flash", 3),
        ("3.5".into(), "3.5055".into())
    );
    // perplexity/sonar: the low size, 0.005 USD per search.
    assert_eq!(
        price(Some("perplexity"), "sonar", 2),
        ("1".into(), "1.011".into())
    );
    // gpt-4o states no per-search price: the searches cost 0 (and a warning says so).
    assert_eq!(
        price(Some("openai"), "gpt-4o", 2),
        ("0".into(), "0.035".into())
    );
    // No searches: no search part.
    assert_eq!(
        price(Some("openai"), "gpt-4o-mini", 0),
        ("0".into(), "0.0021".into())
    );
}
