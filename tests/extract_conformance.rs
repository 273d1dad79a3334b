//! Conformance: every recorded provider response in `../shared/fixtures/providers/` against
//! its expected normalized line items (`expected.jsonl`), fed whole, byte by byte, and split
//! at every (or a dense sample of) byte offset.

use std::path::{Path, PathBuf};
use tollgate_engine::extract::{Accumulator, LineItem, Provider, extract};

/// The fixture sets: the project's own (always), then the recorded responses of real
/// providers in `../shared` (or `$TOLLGATE_SHARED_DIR`) when present. Absent, they are skipped, unless
/// `TOLLGATE_REQUIRE_SHARED` is set (CI sets it), which makes their absence a failure.
fn fixture_dirs() -> Vec<PathBuf> {
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fixtures/providers");
    let shared = std::env::var_os("TOLLGATE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared"))
        .join("fixtures/providers");
    let mut dirs = vec![own];
    if shared.join("expected.jsonl").is_file() {
        dirs.push(shared);
    } else if std::env::var_os("TOLLGATE_REQUIRE_SHARED").is_some() {
        panic!(
            "{} not found and TOLLGATE_REQUIRE_SHARED is set",
            shared.display()
        );
    } else {
        eprintln!(
            "SKIPPED: {} not found (the recorded provider responses live in ../shared beside the repository)",
            shared.display()
        );
    }
    dirs
}

fn is_shared(dir: &Path) -> bool {
    dir.ends_with("shared/fixtures/providers")
}

struct Case {
    file: String,
    provider: Provider,
    request_model: Option<String>,
    expected: Vec<serde_json::Value>,
}

fn cases(dir: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(dir.join("expected.jsonl")).expect("read expected.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("expected.jsonl line");
            Case {
                file: v["file"].as_str().expect("file").to_string(),
                provider: Provider::parse(v["provider"].as_str().expect("provider"))
                    .expect("known provider"),
                request_model: v["requestModel"].as_str().map(str::to_string),
                expected: v["lineItems"].as_array().expect("lineItems").clone(),
            }
        })
        .collect()
}

/// The fields expected.jsonl states, from a line item.
fn actual_fields(li: &LineItem) -> serde_json::Value {
    serde_json::json!({
        "model": li.model,
        "tokensIn": li.usage.tokens_in,
        "cachedTokens": li.usage.cached_tokens,
        "cacheWrite5mTokens": li.usage.cache_write_5m_tokens,
        "cacheWrite1hTokens": li.usage.cache_write_1h_tokens,
        "tokensOut": li.usage.tokens_out,
        "reasoningTokens": if li.reasoning_reported { serde_json::json!(li.usage.reasoning_tokens) } else { serde_json::Value::Null },
    })
}

fn check(case: &Case, items: &[LineItem], how: &str) {
    assert_eq!(
        items.len(),
        case.expected.len(),
        "{} ({how}): number of line items",
        case.file
    );
    for (k, (li, exp)) in items.iter().zip(&case.expected).enumerate() {
        let got = actual_fields(li);
        for (key, want) in exp.as_object().expect("line item object") {
            assert_eq!(
                &got[key], want,
                "{} ({how}) line item {k}: field {key}",
                case.file
            );
        }
        assert_eq!(li.provider, case.provider);
    }
}

fn run_chunks(case: &Case, chunks: &mut dyn Iterator<Item = &[u8]>) -> Vec<LineItem> {
    let mut acc = Accumulator::new(case.provider, case.request_model.as_deref()).unwrap();
    for c in chunks {
        acc.feed(c)
            .unwrap_or_else(|e| panic!("{}: feed failed: {e}", case.file));
    }
    acc.finish()
        .unwrap_or_else(|e| panic!("{}: finish failed: {e}", case.file))
}

#[test]
fn every_fixture_matches_expected() {
    for dir in fixture_dirs() {
        let cases = cases(&dir);
        // Every recorded response has an expectation (the decoded side-files are not inputs).
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|f| f != "INDEX.md" && f != "expected.jsonl" && !f.ends_with(".decoded.jsonl"))
            .collect();
        files.sort();
        let mut named: Vec<String> = cases.iter().map(|c| c.file.clone()).collect();
        named.sort();
        assert_eq!(files, named, "fixture files vs expected.jsonl entries");
        if is_shared(&dir) {
            assert_eq!(cases.len(), 34);
        } else {
            assert_eq!(cases.len(), 7);
        }
        for case in &cases {
            let body = std::fs::read(dir.join(&case.file)).unwrap();
            let items = extract(case.provider, case.request_model.as_deref(), &body)
                .unwrap_or_else(|e| panic!("{}: {e} [{}]", case.file, e.kind()));
            check(case, &items, "whole");
            for li in &items {
                // A line item plus a customer id is a valid event with the same usage.
                let json = li.to_json();
                let event = format!("{{\"customerId\":\"c\",{}", &json[1..]);
                let e = tollgate_engine::event::Event::from_json(event.as_bytes())
                    .unwrap_or_else(|err| panic!("{}: not a valid event: {err}", case.file));
                assert_eq!(e.usage, li.usage, "{}", case.file);
                assert_eq!(e.dedupe_key(), li.response_id.as_deref(), "{}", case.file);
            }
        }
    }
}

#[test]
fn every_fixture_fed_byte_by_byte_matches() {
    for dir in fixture_dirs() {
        for case in cases(&dir) {
            let body = std::fs::read(dir.join(&case.file)).unwrap();
            // One byte per chunk: every line, event, escape and UTF-8 character is split.
            let items = run_chunks(&case, &mut body.chunks(1));
            check(&case, &items, "byte by byte");
        }
    }
}

fn is_stream(file: &str) -> bool {
    file.ends_with(".sse") || file.ends_with(".jsonl") || file.ends_with(".eventstream")
}

#[test]
fn every_stream_fixture_split_at_dense_offsets_matches() {
    for dir in fixture_dirs() {
        for case in cases(&dir).into_iter().filter(|c| is_stream(&c.file)) {
            let body = std::fs::read(dir.join(&case.file)).unwrap();
            let whole = extract(case.provider, case.request_model.as_deref(), &body).unwrap();
            // Every offset for streams up to 4 KiB; a stride of 5 beyond (byte-by-byte feeding
            // above already splits at every offset of every file).
            let stride = if body.len() <= 4096 { 1 } else { 5 };
            for cut in (0..=body.len()).step_by(stride) {
                let (a, b) = body.split_at(cut);
                let items = run_chunks(&case, &mut [a, b].into_iter());
                assert_eq!(items, whole, "{} split at byte {cut}", case.file);
            }
        }
    }
}

#[test]
fn every_body_fixture_split_densely_matches() {
    for dir in fixture_dirs() {
        for case in cases(&dir).into_iter().filter(|c| !is_stream(&c.file)) {
            let body = std::fs::read(dir.join(&case.file)).unwrap();
            let whole = extract(case.provider, case.request_model.as_deref(), &body).unwrap();
            // Three pieces at a prime stride: covers keys, numbers and strings at every phase.
            let n = body.len();
            for cut in (0..=n).step_by(13) {
                let cut2 = (cut + n / 3).min(n);
                let items = run_chunks(
                    &case,
                    &mut [&body[..cut], &body[cut..cut2], &body[cut2..]].into_iter(),
                );
                assert_eq!(items, whole, "{} split at {cut} and {cut2}", case.file);
            }
        }
    }
}

#[test]
fn decoded_event_stream_side_file_matches_the_raw_stream() {
    for dir in fixture_dirs().into_iter().filter(|d| is_shared(d)) {
        // bedrock_conversestream_1.decoded.jsonl is the same stream decoded to
        // {"headers": …, "payload": …} lines; it must read like the raw bytes.
        let model = Some("us.amazon.nova-micro-v1:0");
        let raw = std::fs::read(dir.join("bedrock_conversestream_1.eventstream")).unwrap();
        let decoded = std::fs::read(dir.join("bedrock_conversestream_1.decoded.jsonl")).unwrap();
        let a = extract(Provider::Bedrock, model, &raw).unwrap();
        let b = extract(Provider::Bedrock, model, &decoded).unwrap();
        assert_eq!(a, b);
        assert_eq!((a[0].usage.tokens_in, a[0].usage.tokens_out), (13, 82));
    }
}

/// The outcome of feeding `chunks`: the line items, or the error's kind and offset.
fn outcome(
    case: &Case,
    chunks: &mut dyn Iterator<Item = &[u8]>,
) -> Result<Vec<LineItem>, (tollgate_engine::extract::ErrorKind, Option<u64>)> {
    let mut acc = Accumulator::new(case.provider, case.request_model.as_deref()).unwrap();
    for c in chunks {
        if let Err(e) = acc.feed(c) {
            return Err((e.kind(), e.offset()));
        }
    }
    acc.finish().map_err(|e| (e.kind(), e.offset()))
}

/// Errors do not depend on where the chunks split: every fixture with one byte replaced
/// (a NUL, an invalid UTF-8 byte, a UTF-8 lead byte, JSON punctuation) at a stride of
/// positions, or cut short, gives the same result — the same error kind at the same offset —
/// whole, one byte at a time, and split in two at several places.
#[test]
fn errors_are_the_same_however_the_input_is_split() {
    let mut checked = 0;
    for (dir, case) in fixture_dirs()
        .into_iter()
        .flat_map(|d| cases(&d).into_iter().map(move |c| (d.clone(), c)))
    {
        let body = std::fs::read(dir.join(&case.file)).unwrap();
        let n = body.len();
        let mut variants: Vec<Vec<u8>> = Vec::new();
        let stride = (n / 40).max(1);
        for (k, p) in (0..n).step_by(stride).enumerate() {
            let mut v = body.clone();
            v[p] = [0x00, 0xFF, 0xC3, b'"', b'{', b'}', b'\\', 0xE2][k % 8];
            variants.push(v);
        }
        for cut in [n / 3, n / 2, n - 1] {
            variants.push(body[..cut].to_vec());
        }
        for v in &variants {
            let whole = outcome(&case, &mut [&v[..]].into_iter());
            let bytes = outcome(&case, &mut v.chunks(1));
            assert_eq!(bytes, whole, "{}: byte by byte vs whole", case.file);
            for cut in [1, v.len() / 3, v.len() / 2, v.len().saturating_sub(2)] {
                let cut = cut.min(v.len());
                let (a, b) = v.split_at(cut);
                let split = outcome(&case, &mut [a, b].into_iter());
                assert_eq!(split, whole, "{}: split at {cut} vs whole", case.file);
            }
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
}

#[test]
fn a_malformed_anthropic_body_is_the_same_error_whatever_the_split() {
    // `{`, NUL (not allowed where a key must start), then 0xFF (not UTF-8): the NUL at byte 1
    // comes first.
    let case = Case {
        file: "inline".into(),
        provider: Provider::Anthropic,
        request_model: None,
        expected: Vec::new(),
    };
    let body = b"{\x00\xff";
    let whole = outcome(&case, &mut [&body[..]].into_iter());
    assert_eq!(
        whole,
        Err((tollgate_engine::extract::ErrorKind::Malformed, Some(1)))
    );
    assert_eq!(outcome(&case, &mut body.chunks(1)), whole);
    // A character cut between pieces and then broken: reported at its first byte, as whole.
    let body = b"{\"a\":\"\xe2\x82x\"}";
    let whole = outcome(&case, &mut [&body[..]].into_iter());
    assert_eq!(
        whole,
        Err((tollgate_engine::extract::ErrorKind::InvalidUtf8, Some(6)))
    );
    assert_eq!(outcome(&case, &mut body.chunks(1)), whole);
}
