//! The Rust side of the cross-language cents check: prices every shared vector, and the line
//! items of every provider fixture, with the core directly (no C ABI). The hand-computed vectors must match exactly; with
//! `TOLLGATE_CENTS_OUT` set, every result is written to `<dir>/rust.{vectors,fixtures}.tsv`, which CI compares
//! byte for byte with what the C, Go, Node and Python suites wrote through the ABI.

use std::fmt::Write as _;
use std::path::PathBuf;
use tollgate_engine::engine::{Engine, PriceInput};
use tollgate_engine::event::Event;
use tollgate_engine::extract::{Provider, extract};

#[derive(serde::Deserialize)]
struct Vector {
    #[serde(default)]
    id: Option<String>,
    event: Box<serde_json::value::RawValue>,
    expected: Expected,
}

#[derive(serde::Deserialize)]
struct Expected {
    priced: bool,
    #[serde(rename = "costCents")]
    cost_cents: String,
}

#[derive(serde::Deserialize)]
struct Fixture {
    file: String,
    provider: String,
    #[serde(rename = "requestModel", default)]
    request_model: Option<String>,
}

#[test]
fn shared_vectors_priced_by_the_core() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let engine = Engine::embedded();
    let mut log = String::new();
    let mut fixture_log = String::new();
    let mut count = 0;
    for (file, exact) in [
        ("data/ffi/vectors.jsonl", true),
        ("data/golden/pricing.jsonl", false),
    ] {
        let Ok(text) = std::fs::read_to_string(repo.join(file)) else {
            assert!(!exact, "{file} is missing");
            continue;
        };
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: Vector = serde_json::from_str(line).unwrap();
            let id = v.id.unwrap_or_else(|| format!("ffi-{}", i + 1));
            let event = Event::from_json(v.event.get().as_bytes()).unwrap();
            let r = engine.price(&PriceInput::from_event(&event)).unwrap();
            let cents = r.cost_cents.to_string();
            if exact {
                assert_eq!(
                    (cents.as_str(), r.priced),
                    (v.expected.cost_cents.as_str(), v.expected.priced),
                    "{id}"
                );
            }
            let _ = writeln!(log, "{id}\t{cents}\t{}", r.priced);
            count += 1;
        }
    }
    assert!(count >= 11);
    // The provider fixtures: extracted and priced, one row per line item.
    let fixtures = std::env::var_os("TOLLGATE_SHARED_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo.join("../shared"))
        .join("fixtures/providers");
    let expected = std::fs::read_to_string(fixtures.join("expected.jsonl"));
    if expected.is_err() {
        assert!(
            std::env::var_os("TOLLGATE_REQUIRE_SHARED").is_none(),
            "{} is absent and TOLLGATE_REQUIRE_SHARED is set",
            fixtures.display()
        );
        eprintln!(
            "SKIPPED: {} is absent (it lives in ../shared beside the repository)",
            fixtures.display()
        );
    }
    if let Ok(expected) = expected {
        for line in expected.lines().filter(|l| !l.trim().is_empty()) {
            let f: Fixture = serde_json::from_str(line).unwrap();
            let body = std::fs::read(fixtures.join(&f.file)).unwrap();
            let provider = Provider::parse(&f.provider).unwrap();
            let items = extract(provider, f.request_model.as_deref(), &body).unwrap();
            for (i, item) in items.iter().enumerate() {
                let event = Event::from_json(item.to_json().as_bytes()).unwrap();
                let r = engine.price(&PriceInput::from_event(&event)).unwrap();
                let _ = writeln!(
                    fixture_log,
                    "fixture:{}#{i}\t{}\t{}",
                    f.file, r.cost_cents, r.priced
                );
            }
        }
    } else {
        eprintln!(
            "skipped the provider fixtures: {} is absent",
            fixtures.display()
        );
    }
    if let Some(dir) = std::env::var_os("TOLLGATE_CENTS_OUT") {
        let dir = PathBuf::from(dir);
        std::fs::write(dir.join("rust.vectors.tsv"), log).unwrap();
        std::fs::write(dir.join("rust.fixtures.tsv"), fixture_log).unwrap();
    }
}
