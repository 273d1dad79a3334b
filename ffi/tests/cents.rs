//! The Rust side of the cross-language cents check: prices every shared vector with the core
//! directly (no C ABI). The hand-computed vectors must match exactly; with
//! `TOLLGATE_CENTS_OUT` set, every result is written to `<dir>/rust.tsv`, which CI compares
//! byte for byte with what the C, Go, Node and Python suites wrote through the ABI.

use std::fmt::Write as _;
use std::path::PathBuf;
use tollgate::engine::{Engine, PriceInput};
use tollgate::event::Event;

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

#[test]
fn shared_vectors_priced_by_the_core() {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let engine = Engine::embedded();
    let mut log = String::new();
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
    if let Some(dir) = std::env::var_os("TOLLGATE_CENTS_OUT") {
        std::fs::write(PathBuf::from(dir).join("rust.tsv"), log).unwrap();
    }
}
