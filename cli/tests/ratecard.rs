//! Rate cards: the embedded copy, snapshots and their ids, overrides across swaps, diffs (library
//! and `tollgate ratecard diff`), and `tollgate price --rate-card`.

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use tollgate_engine::engine::{Engine, MatchKind, PriceInput, SnapshotId};
use tollgate_engine::ratecard::{EMBEDDED_REGISTRY, RateCard};
use tollgate_engine::usage::Usage;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

#[test]
fn embedded_registry_matches_its_recorded_sha256() {
    let source = std::fs::read_to_string(root().join("data/ratecard/SOURCE.md")).unwrap();
    let digest: String = Sha256::digest(EMBEDDED_REGISTRY)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        source.contains(&digest),
        "SOURCE.md does not record sha256 {digest}"
    );
    // The snapshot id is the first 8 bytes of that digest.
    let id = RateCard::embedded().id();
    assert_eq!(id.to_string(), digest[..16]);
    assert_eq!(Engine::embedded().snapshots()[0].id, id);
}

#[test]
fn embedded_registry_matches_the_shared_copy_when_present() {
    let shared = root().join("../shared/data/litellm-1.110.2/model_prices_and_context_window.json");
    match std::fs::read(&shared) {
        Ok(bytes) => assert_eq!(
            bytes,
            EMBEDDED_REGISTRY,
            "data/ratecard differs from {}",
            shared.display()
        ),
        Err(_) => {
            assert!(
                std::env::var_os("TOLLGATE_REQUIRE_SHARED").is_none(),
                "{} not found and TOLLGATE_REQUIRE_SHARED is set",
                shared.display()
            );
            eprintln!("SKIPPED: {} is not present", shared.display())
        }
    }
}

#[test]
fn every_embedded_rate_is_the_literal_text() {
    // Spot checks against the registry text: 2.0000000000000002e-07 USD = 0.000020000000000000002 cents.
    let card = RateCard::embedded();
    let e = card.entry("novita/nvidia/nemotron-3-nano-30b-a3b").unwrap();
    assert_eq!(
        e.price("output_cost_per_token").unwrap().to_string(),
        "0.000020000000000000002"
    );
    let e = card.entry("claude-opus-4-8").unwrap();
    // "provider_specific_entry": {"us": 1.1, "fast": 2.0}, stored like USD amounts (× 100).
    assert_eq!(
        e.price("provider_specific_entry.us").unwrap().to_string(),
        "110"
    );
    assert_eq!(e.provider(), Some("anthropic"));
    // sample_spec and fallback_generalizations are not models.
    assert!(card.entry("sample_spec").is_none());
    assert!(card.entry("fallback_generalizations").is_none());
}

#[test]
fn overrides_layer_over_every_snapshot_and_survive_swaps() {
    let v1 = br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06}}"#;
    let v2 = br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 2e-06}}"#;
    let engine = Engine::from_registry(v1).unwrap();
    let u = Usage {
        tokens_in: 1000,
        ..Usage::default()
    };
    let price = |provider: &str, model: &str, t: i64| {
        let mut input = PriceInput::llm(Some(provider), model, &u);
        input.timestamp_ms = Some(t);
        engine.price(&input).unwrap()
    };
    // 1000 × 1e-06 USD = 0.1 cents.
    assert_eq!(price("openai", "m", 0).cost_cents.to_string(), "0.1");
    // Negotiated: 5e-07 USD per token → 0.05 cents, in the old snapshot too.
    engine
        .set_override("m", br#"{"input_cost_per_token": 5e-07}"#)
        .unwrap();
    engine.publish_registry(v2, 10_000).unwrap();
    for t in [0, 20_000] {
        let r = price("openai", "m", t);
        assert_eq!(r.cost_cents.to_string(), "0.05");
        assert_eq!(r.match_kind, Some(MatchKind::Override));
    }
    // Also reached as provider/model.
    assert_eq!(
        price("openai", "openai/m", 20_000).cost_cents.to_string(),
        "0.05"
    );
    // An override can add a model the registry lacks: 1000 × 3e-06 USD = 0.3 cents.
    engine
        .set_override(
            "my-llama",
            br#"{"input_cost_per_token": 3e-06, "litellm_provider": "vllm"}"#,
        )
        .unwrap();
    assert_eq!(
        price("vllm", "my-llama", 20_000).cost_cents.to_string(),
        "0.3"
    );
    // Removing it restores the registry, snapshot by snapshot: 0.1 before 10 s, 0.2 after.
    assert!(engine.remove_override("m"));
    assert_eq!(price("openai", "m", 0).cost_cents.to_string(), "0.1");
    assert_eq!(price("openai", "m", 20_000).cost_cents.to_string(), "0.2");
    assert!(!engine.remove_override("m"));
}

#[test]
fn snapshot_diff_through_the_engine() {
    let v1 = br#"{"a": {"input_cost_per_token": 1e-06}, "b": {"input_cost_per_token": 2e-06}}"#;
    let v2 = br#"{"b": {"input_cost_per_token": 2.5e-06}, "c": {"output_cost_per_token": 1e-05}}"#;
    let engine = Engine::from_registry(v1).unwrap();
    let new_id = engine.publish_registry(v2, 5).unwrap().snapshot;
    let old_id = engine.snapshots()[0].id;
    let d = engine.diff(old_id, new_id).unwrap();
    assert_eq!(d.added, ["c"]);
    assert_eq!(d.removed, ["a"]);
    assert_eq!(d.repriced.len(), 1);
    let change = &d.repriced[0].changes[0];
    assert_eq!(change.field, "input_cost_per_token");
    // 2e-06 USD = 0.0002 cents → 2.5e-06 USD = 0.00025 cents.
    assert_eq!(
        (
            change.old.unwrap().to_string(),
            change.new.unwrap().to_string()
        ),
        ("0.0002".into(), "0.00025".into())
    );
    assert!(engine.diff(old_id, SnapshotId(1)).is_none());
}

fn tollgate(args: &[&str], stdin: &[u8]) -> (String, String, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
        out.status.code().unwrap_or(-1),
    )
}

fn temp_file(name: &str, body: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tollgate-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn ratecard_diff_command() {
    let old = temp_file(
        "old.json",
        br#"{"a": {"input_cost_per_token": 1e-06}, "b": {"input_cost_per_token": 2e-06}}"#,
    );
    let new = temp_file(
        "new.json",
        br#"{"b": {"input_cost_per_token": 2.5e-06}, "c": {}}"#,
    );
    let (out, _, code) = tollgate(
        &[
            "ratecard",
            "diff",
            old.to_str().unwrap(),
            new.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "1 added, 1 removed, 1 repriced\n+ c\n- a\n~ b\n    input_cost_per_token: 0.000002 -> 0.0000025\n"
    );
    let (out, _, code) = tollgate(
        &[
            "ratecard",
            "diff",
            "--json",
            old.to_str().unwrap(),
            new.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["added"], serde_json::json!(["c"]));
    assert_eq!(v["repriced"][0]["changes"][0]["oldUsd"], "0.000002");
    assert_eq!(v["repriced"][0]["changes"][0]["newUsd"], "0.0000025");
    // A bad file: a precise error on stderr, non-zero exit.
    let bad = temp_file("bad.json", br#"{"x": {"input_cost_per_token": -1}}"#);
    let (_, err, code) = tollgate(
        &[
            "ratecard",
            "diff",
            old.to_str().unwrap(),
            bad.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("registry key `x`, field `input_cost_per_token`: must not be negative"),
        "{err}"
    );
}

#[test]
fn price_command_with_a_rate_card_file() {
    let card = temp_file(
        "card.json",
        br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06}}"#,
    );
    let (out, _, code) = tollgate(
        &["price", "--rate-card", card.to_str().unwrap()],
        b"{\"provider\":\"openai\",\"model\":\"m\",\"tokensIn\":1000}\n{\"provider\":\"openai\",\"model\":\"gpt-4o\"}\n",
    );
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // 1000 × 1e-06 USD = 0.1 cents; gpt-4o is not on this card.
    assert_eq!(lines[0]["costCents"], "0.1");
    assert_eq!(lines[1]["priced"], false);
    assert_eq!(lines[1]["reason"], "unknown_model");
    let bad = temp_file("bad-card.json", b"{");
    let (_, err, code) = tollgate(&["price", "--rate-card", bad.to_str().unwrap()], b"");
    assert_eq!(code, 2);
    assert!(err.contains("malformed JSON"), "{err}");
}

#[test]
fn price_command_on_the_readme_sample() {
    let sample = std::fs::read(root().join("data/sample/price.jsonl")).unwrap();
    let (out, _, code) = tollgate(&["price"], &sample);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        sample
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    );
    for l in &lines {
        // The docs/reference/cli.md fields, amounts as strings.
        for k in [
            "costCents",
            "priced",
            "model",
            "snapshot",
            "reason",
            "warnings",
        ] {
            assert!(l.get(k).is_some(), "{k} missing in {l}");
        }
        assert!(l["costCents"].is_string());
        assert_eq!(l["snapshot"], RateCard::embedded().id().to_string());
    }
    // Line 3: 1,000,000 × 3.3e-06 USD = 330 cents.
    assert_eq!(lines[2]["costCents"], "330");
}

#[test]
fn a_mistyped_rate_key_is_accepted_and_reported_never_silently_unused() {
    // `abck` instead of a token count: the key matches no rate name. The card is still
    // published (an unknown field must not block a registry update) but the field is named on
    // stderr, and it prices nothing: 1000 tokens at 1e-06 USD = 0.1 cents, not the 2e-06 rate.
    let card = temp_file(
        "typo.json",
        br#"{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06,
            "input_cost_per_token_above_abck_tokens": 2e-06}}"#,
    );
    let (out, err, code) = tollgate(
        &["price", "--rate-card", card.to_str().unwrap()],
        b"{\"provider\":\"openai\",\"model\":\"m\",\"tokensIn\":1000}\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("registry key `m`: `input_cost_per_token_above_abck_tokens` looks like a rate but matches no rate name the engine knows; it is not used for pricing"),
        "{err}"
    );
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["costCents"], "0.1");
    // Every price field of the embedded LiteLLM 1.110.2 card is known: no warning.
    assert!(RateCard::embedded().warnings().is_empty());
    let parsed = RateCard::parse(&std::fs::read(&card).unwrap()).unwrap();
    assert_eq!(
        parsed.entry("m").unwrap().unknown_rate_fields(),
        [Box::from("input_cost_per_token_above_abck_tokens")]
    );
}
