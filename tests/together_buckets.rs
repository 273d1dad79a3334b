//! Together AI models the rate card does not price by token are priced, as LiteLLM 1.110.2's
//! `completion_cost` prices them, by their parameter-size row (`together-ai-41.1b-80b`, …),
//! reported `"match": "inferred"` with a warning. The expected costs in
//! `data/oracle/together_buckets.jsonl` are the oracle's (`../shared/tools/litellm_oracle.py`,
//! `api: completion_cost`, provider `together_ai`); where LiteLLM cannot price a model
//! (no `<N>b` in the name, or above 110B) the engine reports it unpriced.

use tollgate_engine::engine::{Engine, MatchKind, PriceInput};
use tollgate_engine::money::Cents;
use tollgate_engine::usage::Usage;

#[test]
fn unlisted_together_models_are_priced_by_parameter_size_like_the_oracle() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/oracle/together_buckets.jsonl"
    ))
    .unwrap();
    let engine = Engine::embedded();
    let (mut agreed, mut bucketed, mut unpriced) = (0, 0, 0);
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let model = v["model"].as_str().unwrap();
        let provider = v["provider"].as_str();
        let usage = Usage {
            tokens_in: v["tokensIn"].as_u64().unwrap(),
            tokens_out: v["tokensOut"].as_u64().unwrap(),
            ..Usage::default()
        };
        let r = engine
            .price(&PriceInput::llm(provider, model, &usage))
            .unwrap();
        let Some(provider) = provider else {
            // LiteLLM needs the provider here (it raises); the engine takes the
            // `togethercomputer/` in the name as LiteLLM's own Together test does.
            assert_eq!(r.match_kind, Some(MatchKind::Inferred), "{line}");
            assert!(
                r.model.as_deref().unwrap().starts_with("together-ai-"),
                "{line}"
            );
            continue;
        };
        assert_eq!(provider, "together_ai");
        match v["usd"].as_str() {
            Some(usd) => {
                assert!(r.priced, "{line}: {r:?}");
                let want = Cents::from_usd_literal(usd).unwrap().raw();
                let got = r.cost_cents.raw();
                // The oracle's float against exact cents: within 1e-9 relative.
                assert!(
                    (got - want).abs() * 1_000_000_000 <= want.abs(),
                    "{line}: engine {} cents",
                    r.cost_cents
                );
                if r.match_kind == Some(MatchKind::Inferred) {
                    bucketed += 1;
                    assert!(
                        r.warnings
                            .iter()
                            .any(|w| w.contains("parameter-size rate `together-ai-")),
                        "{line}: {:?}",
                        r.warnings
                    );
                }
                agreed += 1;
            }
            None => {
                assert!(!r.priced, "{line}: {r:?}");
                unpriced += 1;
            }
        }
    }
    assert_eq!((agreed, bucketed, unpriced), (48, 44, 8));
}

#[test]
fn the_examples_of_the_rule() {
    let engine = Engine::embedded();
    let usage = Usage {
        tokens_in: 1_000_000,
        ..Usage::default()
    };
    for (model, row, cents) in [
        // 72B: 41.1B–80B at 9e-07 USD per token → 90 cents per million.
        ("qwen/Qwen2-72B-Instruct", "together-ai-41.1b-80b", "90"),
        // Listed without token prices: 34B, 21.1B–41B at 8e-07 USD.
        (
            "togethercomputer/CodeLlama-34b-Instruct",
            "together-ai-21.1b-41b",
            "80",
        ),
    ] {
        let r = engine
            .price(&PriceInput::llm(Some("together_ai"), model, &usage))
            .unwrap();
        assert_eq!(
            (r.model.as_deref(), r.match_kind, r.cost_cents.to_string()),
            (Some(row), Some(MatchKind::Inferred), cents.to_string())
        );
        assert_eq!(
            r.warnings,
            [format!(
                "the rate card has no token price for this Together AI model: priced at its parameter-size rate `{row}`"
            )]
        );
    }
}
