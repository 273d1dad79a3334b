//! Golden pricing vectors: every vector in `data/golden/*.jsonl` priced by the embedded engine.
//!
//! The vectors come from the reference pricer (LiteLLM 1.110.2) via `scripts/gen_golden.py`;
//! where the product deliberately differs from the reference (`docs/pricing-deviations.md`) a
//! vector carries a `deviation` id and its expected cost comes from the independent exact model
//! `scripts/spec_model.py`. Expected costs are exact decimal strings of cents.
//!
//! The check: `priced` must match, and the cost must be within 1e-9 relative of the expected
//! cost (an expected 0 must be exactly 0). The comparison is integer arithmetic on the exact
//! decimal mantissas — no floating point. Every mismatch is collected; the test prints a summary
//! per category (and per deviation id) with a few examples, then fails if there was any.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use tollgate_engine::engine::{Engine, PriceInput};
use tollgate_engine::event::Event;
use tollgate_engine::money::CENTS_SCALE;

/// Relative tolerance 1e-9, as the integer pair `TOL_NUM / TOL_DEN`.
const TOL_NUM: u128 = 1;
const TOL_DEN: u128 = 1_000_000_000;
/// Examples printed per category in the failure summary.
const EXAMPLES_PER_GROUP: usize = 3;

#[derive(Deserialize)]
struct Vector<'a> {
    id: String,
    category: String,
    #[serde(borrow)]
    event: &'a RawValue,
    expected: Expected,
    #[serde(default)]
    deviation: Option<String>,
}

#[derive(Deserialize)]
struct Expected {
    priced: bool,
    #[serde(rename = "costCents")]
    cost_cents: String,
    #[serde(default)]
    model: Option<String>,
}

/// An exact non-negative decimal: `mantissa × 10^-scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Exact {
    mantissa: u128,
    scale: u32,
}

/// Parses a plain decimal string (`"330"`, `"0.4245"`, no sign, no exponent) exactly.
fn parse_exact(text: &str) -> Option<Exact> {
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut mantissa: u128 = 0;
    for b in int.bytes().chain(frac.bytes()) {
        mantissa = mantissa
            .checked_mul(10)?
            .checked_add(u128::from(b - b'0'))?;
    }
    Some(Exact {
        mantissa,
        scale: u32::try_from(frac.len()).ok()?,
    })
}

/// Whether `actual` is within 1e-9 relative of `expected` (both exact). `Err` explains values
/// that cannot be compared (negative, or beyond 128-bit range at a common scale, which for
/// costs below 10^14 cents means they differ wildly).
fn within_tolerance(actual: Exact, expected: Exact) -> Result<bool, &'static str> {
    if expected.mantissa == 0 {
        return Ok(actual.mantissa == 0);
    }
    let scale = actual.scale.max(expected.scale);
    let lift =
        |v: Exact| -> Option<u128> { v.mantissa.checked_mul(10u128.checked_pow(scale - v.scale)?) };
    let (Some(a), Some(e)) = (lift(actual), lift(expected)) else {
        return Err("values too far apart to compare at a common scale");
    };
    let diff = a.abs_diff(e);
    // |a − e| ≤ e × 1e-9  ⇔  |a − e| × 10^9 ≤ e  (overflow means the difference is huge)
    Ok(match diff.checked_mul(TOL_DEN) {
        Some(lhs) => lhs <= e * TOL_NUM,
        None => false,
    })
}

fn golden_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no golden vector files in {}",
        dir.display()
    );
    files
}

struct Failure {
    group: String,
    line: String,
}

#[test]
fn golden_vectors_match_the_reference() {
    let engine = Engine::embedded();
    let mut total = 0usize;
    let mut per_category: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures: Vec<Failure> = Vec::new();

    for file in golden_files() {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let where_ = format!("{}:{}", file.display(), n + 1);
            let v: Vector<'_> = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{where_}: malformed golden vector: {e}"));
            total += 1;
            *per_category.entry(v.category.clone()).or_default() += 1;
            if let Some(problem) = check(&engine, &v) {
                let group = match &v.deviation {
                    Some(d) => format!("{} [deviation {d}]", v.category),
                    None => v.category.clone(),
                };
                failures.push(Failure {
                    group,
                    line: format!(
                        "{} ({where_}): {problem}\n        event {}",
                        v.id,
                        v.event.get()
                    ),
                });
            }
        }
    }

    assert!(
        total >= 20_000,
        "expected at least 20,000 golden vectors, found {total}"
    );
    if failures.is_empty() {
        println!(
            "{total} golden vectors match ({} categories)",
            per_category.len()
        );
        return;
    }

    let mut by_group: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in &failures {
        by_group.entry(&f.group).or_default().push(&f.line);
    }
    let mut report = format!(
        "{} of {total} golden vectors do not match, in {} groups:\n",
        failures.len(),
        by_group.len()
    );
    for (group, lines) in &by_group {
        let _ = writeln!(report, "\n  {group}: {} mismatches", lines.len());
        for l in lines.iter().take(EXAMPLES_PER_GROUP) {
            let _ = writeln!(report, "    - {l}");
        }
    }
    panic!("{report}");
}

/// `None` when the engine agrees with the vector, else what differs.
fn check(engine: &Engine, v: &Vector<'_>) -> Option<String> {
    let expected_cost = match parse_exact(&v.expected.cost_cents) {
        Some(c) => c,
        None => {
            return Some(format!(
                "bad expected costCents {:?}",
                v.expected.cost_cents
            ));
        }
    };
    let event = match Event::from_json(v.event.get().as_bytes()) {
        Ok(e) => e,
        Err(e) => return Some(format!("event rejected by the parser: {e}")),
    };
    let result = match engine.price(&PriceInput::from_event(&event)) {
        Ok(r) => r,
        Err(e) => return Some(format!("price error: {e}")),
    };
    let raw = result.cost_cents.raw();
    let Ok(mantissa) = u128::try_from(raw) else {
        return Some(format!("negative cost {}", result.cost_cents));
    };
    let actual = Exact {
        mantissa,
        scale: CENTS_SCALE,
    };
    let model_note = || {
        format!(
            "(engine model {:?}, expected row {:?})",
            result.model.as_deref(),
            v.expected.model.as_deref()
        )
    };
    if result.priced != v.expected.priced {
        return Some(format!(
            "priced = {}, expected {} (cost {} cents, expected {}) {}",
            result.priced,
            v.expected.priced,
            result.cost_cents,
            v.expected.cost_cents,
            model_note()
        ));
    }
    match within_tolerance(actual, expected_cost) {
        Ok(true) => None,
        Ok(false) => Some(format!(
            "cost {} cents, expected {} {}",
            result.cost_cents,
            v.expected.cost_cents,
            model_note()
        )),
        Err(why) => Some(format!(
            "cost {} cents, expected {}: {why} {}",
            result.cost_cents,
            v.expected.cost_cents,
            model_note()
        )),
    }
}

#[test]
fn tolerance_arithmetic_is_exact() {
    let e = |s: &str| parse_exact(s).unwrap();
    // 330 vs 330.00000000000003: relative difference 9e-17, inside 1e-9.
    assert_eq!(
        within_tolerance(e("330.00000000000003"), e("330")),
        Ok(true)
    );
    // 1 vs 1.000000001: |difference| = 1e-9 ≤ 1e-9 × 1.000000001.
    assert_eq!(within_tolerance(e("1"), e("1.000000001")), Ok(true));
    // 1 vs 1.000000002: 2e-9 > 1e-9 × 1.000000002.
    assert_eq!(within_tolerance(e("1"), e("1.000000002")), Ok(false));
    // Zero must be exactly zero.
    assert_eq!(
        within_tolerance(e("0.000000000000000000000001"), e("0")),
        Ok(false)
    );
    assert_eq!(within_tolerance(e("0"), e("0")), Ok(true));
    assert_eq!(within_tolerance(e("0"), e("0.5")), Ok(false));
    // Scales up to 24 (engine) and beyond (tiny reference floats) line up exactly.
    assert_eq!(
        within_tolerance(
            Exact {
                mantissa: 12_345,
                scale: 24
            },
            e("0.00000000000000000001234500000")
        ),
        Ok(true)
    );
    assert_eq!(parse_exact("1e-5"), None);
    assert_eq!(parse_exact("-1"), None);
}
