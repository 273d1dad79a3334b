//! Model-name lookup (docs/reference/pricing.md (model lookup)) on the embedded registry: each case names the registry row it
//! must reach and how it matched. The rows are facts of `data/ratecard/litellm-1.110.2.json`.

use tollgate_engine::engine::{Engine, MatchKind, PriceInput, UnpricedReason};
use tollgate_engine::usage::Usage;

fn resolves(provider: Option<&str>, model: &str) -> (Option<String>, Option<MatchKind>) {
    let u = Usage {
        tokens_in: 1,
        ..Usage::default()
    };
    let r = Engine::embedded()
        .price(&PriceInput::llm(provider, model, &u))
        .unwrap();
    (r.model.as_deref().map(str::to_string), r.match_kind)
}

fn check(provider: Option<&str>, model: &str, key: &str, kind: MatchKind) {
    assert_eq!(
        resolves(provider, model),
        (Some(key.to_string()), Some(kind)),
        "{provider:?} / {model}"
    );
}

#[test]
fn exact_and_case_insensitive() {
    check(Some("openai"), "gpt-4o", "gpt-4o", MatchKind::Exact);
    check(Some("OpenAI"), "GPT-4O", "gpt-4o", MatchKind::Exact);
    // `provider/model` is tried first: the gemini rows are keyed `gemini/…`.
    check(
        Some("gemini"),
        "gemini-2.5-flash",
        "gemini/gemini-2.5-flash",
        MatchKind::Exact,
    );
    // A dated key that exists is itself the row.
    check(
        Some("openai"),
        "gpt-4o-2024-08-06",
        "gpt-4o-2024-08-06",
        MatchKind::Exact,
    );
    // Without a provider, the name is looked up as given.
    check(None, "gpt-4o", "gpt-4o", MatchKind::Exact);
}

#[test]
fn provider_prefix_and_agreement() {
    // `openai/gpt-4o` is not a key; without its prefix it is.
    check(
        Some("openai"),
        "openai/gpt-4o",
        "gpt-4o",
        MatchKind::Stripped,
    );
    // The `gpt-4o` row belongs to openai: an anthropic caller does not get it.
    assert_eq!(resolves(Some("anthropic"), "gpt-4o"), (None, None));
    // azure_ai agrees with azure and openai rows.
    check(Some("azure_ai"), "gpt-4o", "gpt-4o", MatchKind::Exact);
    // Rows whose own ids repeat the provider name.
    check(
        Some("perplexity"),
        "perplexity/perplexity/glm-5.2",
        "perplexity/perplexity/glm-5.2",
        MatchKind::Exact,
    );
}

#[test]
fn bedrock_routes_regions_arns_cross_region_and_throughput() {
    check(
        Some("bedrock"),
        "us.anthropic.claude-sonnet-4-6",
        "us.anthropic.claude-sonnet-4-6",
        MatchKind::Exact,
    );
    check(
        Some("bedrock"),
        "converse/us.anthropic.claude-sonnet-4-6",
        "us.anthropic.claude-sonnet-4-6",
        MatchKind::Stripped,
    );
    // Routing prefix, then region path.
    check(
        Some("bedrock"),
        "bedrock/invoke/us-east-1/anthropic.claude-sonnet-4-6",
        "anthropic.claude-sonnet-4-6",
        MatchKind::Stripped,
    );
    // An ARN reduced to its last segment.
    check(
        Some("bedrock"),
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-6",
        "us.anthropic.claude-sonnet-4-6",
        MatchKind::Stripped,
    );
    // Cross-region prefix and `:18k` throughput suffix stripped together.
    check(
        Some("bedrock"),
        "apac.anthropic.claude-3-5-sonnet-20241022-v2:0:18k",
        "anthropic.claude-3-5-sonnet-20241022-v2:0",
        MatchKind::Stripped,
    );
    check(
        Some("bedrock"),
        "us-gov.anthropic.claude-3-5-sonnet-20240620-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        MatchKind::Stripped,
    );
    // bedrock ≈ bedrock_converse: the row above is a bedrock_converse row.
    check(
        Some("bedrock_converse"),
        "us.anthropic.claude-sonnet-4-6",
        "us.anthropic.claude-sonnet-4-6",
        MatchKind::Exact,
    );
}

#[test]
fn vertex_version_fine_tunes_and_dates() {
    check(
        Some("vertex_ai"),
        "gemini-2.0-flash-001",
        "vertex_ai/gemini-2.0-flash",
        MatchKind::Stripped,
    );
    check(
        Some("openai"),
        "ft:gpt-4o-mini-2024-07-18:my-org::abc123",
        "ft:gpt-4o-mini-2024-07-18",
        MatchKind::Stripped,
    );
    // A date the registry does not list falls back to the undated row.
    check(
        Some("openai"),
        "gpt-4o-2099-01-01",
        "gpt-4o",
        MatchKind::Stripped,
    );
}

#[test]
fn alias_rows_use_their_owner() {
    // "bedrock/claude-opus-latest": {"alias_of": "global.anthropic.claude-opus-5-5"}
    check(
        Some("bedrock"),
        "claude-opus-latest",
        "global.anthropic.claude-opus-5-5",
        MatchKind::Alias,
    );
}

#[test]
fn gateways_infer_vendor_rows() {
    // openrouter has no rows: `anthropic/claude-sonnet-4.5` → the anthropic row, dots as dashes.
    check(
        Some("openrouter"),
        "anthropic/claude-sonnet-4.5",
        "claude-sonnet-4-5",
        MatchKind::Inferred,
    );
    check(
        Some("openai_compatible"),
        "openai/gpt-4o",
        "gpt-4o",
        MatchKind::Inferred,
    );
    // The gateway vendor `google` is LiteLLM's `gemini`.
    check(
        Some("vllm"),
        "google/gemini-2.5-pro",
        "gemini/gemini-2.5-pro",
        MatchKind::Inferred,
    );
}

#[test]
fn unknown_names_are_unpriced() {
    let u = Usage {
        tokens_in: 1,
        ..Usage::default()
    };
    for (p, m) in [
        (Some("openai"), "gpt-9-ultra"),
        (Some("openrouter"), "nobody/nothing"),
        (None, "openai/gpt-4o"),
        (Some("openai"), ""),
    ] {
        let r = Engine::embedded()
            .price(&PriceInput::llm(p, m, &u))
            .unwrap();
        assert!(
            !r.priced && r.reason == Some(UnpricedReason::UnknownModel),
            "{p:?}/{m}: {r:?}"
        );
    }
    let long = "m".repeat(10_000);
    let r = Engine::embedded()
        .price(&PriceInput::llm(Some("openai"), &long, &u))
        .unwrap();
    assert_eq!(r.reason, Some(UnpricedReason::UnknownModel));
}

#[test]
fn handles_match_names() {
    let engine = Engine::embedded();
    let h = engine
        .lookup(
            Some("bedrock"),
            "converse/us.anthropic.claude-sonnet-4-6",
            None,
        )
        .unwrap();
    assert_eq!(h.model(), "us.anthropic.claude-sonnet-4-6");
    assert_eq!(h.match_kind(), MatchKind::Stripped);
    // 1000 × 3.3e-06 USD = 0.33 cents.
    let u = Usage {
        tokens_in: 1000,
        ..Usage::default()
    };
    assert_eq!(h.cost(&u, None).unwrap().to_string(), "0.33");
    assert!(engine.lookup(Some("openai"), "nope", None).is_none());
}
