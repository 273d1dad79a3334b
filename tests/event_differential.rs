//! `Event::from_json` (a hand-written single-pass parser) against the serde-based parser it
//! replaced (`event_reference`, kept unchanged): on generated and mutated event JSON both must
//! give the same `Ok(Event)`, or an error on the same field with the same reason.
//!
//! The deliberate differences, which `check` and `same` below allow and nothing else:
//! - a JSON number given where a string is expected is shown as written (`floating point
//!   `1e3``), where serde_json showed the `f64` it parsed (`floating point `1000.0``) — or, for
//!   a number beyond the `f64` range, only the position;
//! - only an object is an event: serde also took the positional array form of a struct, and
//!   named the struct (`expected struct RawEvent`) where the parser says `expected a JSON object`;
//! - a byte that is not UTF-8 inside a string is `invalid UTF-8 inside a string` (serde:
//!   `malformed JSON`) at the same position, on the field whose value holds it.

mod event_reference;

use event_reference::Reference;
use proptest::prelude::*;
use tollgate_engine::event::{Event, EventError};

const FIELDS: [&str; 31] = [
    "type",
    "customerId",
    "runId",
    "agentId",
    "provider",
    "model",
    "tokensIn",
    "cachedTokens",
    "cacheWrite5mTokens",
    "cacheWrite1hTokens",
    "audioTokensIn",
    "imageTokensIn",
    "tokensOut",
    "reasoningTokens",
    "audioTokensOut",
    "imageTokensOut",
    "webSearchRequests",
    "toolCalls",
    "serviceTier",
    "inferenceGeo",
    "speed",
    "providerCostCents",
    "externalCostCents",
    "revenueUnitCents",
    "reportedCostCents",
    "units",
    "outcome",
    "idempotencyKey",
    "responseId",
    "timestamp",
    "ts",
];

/// Both parsers on `input`; panics with both answers when they differ.
fn check(input: &[u8]) {
    let new = Event::from_json(input);
    let first = input
        .iter()
        .find(|b| !matches!(b, b' ' | b'\n' | b'\r' | b'\t'));
    if first == Some(&b'[') {
        let e = new.expect_err("an array is not an event");
        assert!(
            e.field.is_empty()
                && e.reason
                    .starts_with("invalid type: sequence, expected a JSON object at line "),
            "{:?}: {e}",
            String::from_utf8_lossy(input)
        );
        return;
    }
    let old = Reference::from_json(input);
    let agree = match (&new, &old) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => same(a, b),
        _ => false,
    };
    assert!(
        agree,
        "input {:?}\n new: {new:?}\n old: {old:?}",
        String::from_utf8_lossy(input)
    );
}

/// Equal errors, allowing only the documented difference for numbers in string fields.
fn same(new: &EventError, old: &EventError) -> bool {
    let old = &EventError {
        field: old.field,
        reason: old
            .reason
            .replace("expected struct RawEvent", "expected a JSON object"),
    };
    let utf8 = "invalid UTF-8 inside a string at line ";
    if new.reason.starts_with(utf8) {
        // The same position; the field is named where the byte is inside a value.
        return old.field.is_empty()
            && new.reason == old.reason.replace("malformed JSON at line ", utf8);
    }
    if new.field != old.field {
        return false;
    }
    if new.reason == old.reason {
        return true;
    }
    let float = "invalid type: floating point `";
    match (new.reason.find(float), old.reason.find(float)) {
        // Both name a float: equal once the value is taken out.
        (Some(_), Some(_)) => without_float(&new.reason) == without_float(&old.reason),
        // serde_json: a number beyond the f64 range is a syntax error ("number out of range").
        (Some(0), None) => old.reason.starts_with("malformed JSON at line "),
        _ => false,
    }
}

fn without_float(reason: &str) -> String {
    let start = reason.find("floating point `").unwrap() + "floating point `".len();
    let end = start + reason[start..].find('`').unwrap();
    format!("{}{}", &reason[..start], &reason[end..])
}

// ---------------------------------------------------------------------------------------------
// Generators.

/// JSON whitespace, often none.
fn ws() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(String::new()),
        1 => Just(" ".to_string()),
        1 => Just("\n".to_string()),
        1 => Just("\t \r\n ".to_string()),
    ]
}

/// A JSON string literal of `s`, each character written plainly or escaped.
fn encode(s: &str, escapes: &[u8]) -> String {
    let mut out = String::from("\"");
    for (i, c) in s.chars().enumerate() {
        let how = escapes.get(i).copied().unwrap_or(0) % 4;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' if how < 2 => out.push_str("\\n"),
            '\t' if how < 2 => out.push_str("\\t"),
            '/' if how == 1 => out.push_str("\\/"),
            c if (c as u32) < 0x20 || how == 3 => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text for string fields: ids, names, known words, unicode, control characters, long ones.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z0-9_./:-]{1,20}",
        2 => prop::sample::select(vec![
            "llm", "track", "tool", "retrieval", "truncated", "resolve", "customer", "LLM", "",
            "default", "auto", "standard", "flex", "priority", "fast", "batch", "balanced",
            "ultrafast", "Priority", "gold", "resolved", "escalated", "failed", "won", "us",
            "openai", "anthropic", "gpt-4o", "claude-sonnet-4-5", "é", "a\u{85}b", "a\u{7f}",
        ]).prop_map(str::to_string),
        1 => any::<String>(),
        1 => "\\PC{0,8}[\u{0}-\u{1f}\u{7f}\u{80}-\u{9f}]\\PC{0,8}",
        1 => "[😀é€\u{10ffff}a]{1,6}",
        1 => (250usize..=520).prop_map(|n| "x".repeat(n)),
        1 => (60usize..=70).prop_map(|n| "é".repeat(n)),
    ]
}

/// Raw JSON values: numbers of every shape, strings, literals, nested junk.
fn raw() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        6 => any::<u64>().prop_map(|v| (v % 100_000).to_string()),
        2 => any::<u64>().prop_map(|v| v.to_string()),
        2 => prop::sample::select(vec![
            "0", "-0", "-1", "1.5", "0.5", "1e3", "1E+2", "2e-3", "1.0", "10.00",
            "9007199254740992", "9007199254740993", "18446744073709551615",
            "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
            "123456789012345678901234567890", "1e400", "-1e400", "1e-400", "0e999999999999",
            "1.7976931348623157e308", "1e308", "3e308", "\"5\"", "\"1.25\"", "\"-3\"",
            "\"abc\"", "\"\"", "\"1e2\"", "true", "false", "null",
            "\"2026-01-02T03:04:05.006Z\"", "\"2026-01-02T03:04:05+02:00\"", "\"yesterday\"",
            "1700000000000", "253402300799999", "253402300800000", "\"0.000000000000000000000001\"",
            "\"0.0000000000000000000000001\"", "1e14", "\"170141183460469231731687303715884105727\"",
        ]).prop_map(str::to_string),
        1 => text().prop_map(|s| encode(&s, &[])),
    ];
    let nested = leaf.clone().prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z]{0,3}", inner), 0..3).prop_map(|v| {
                let members: Vec<String> =
                    v.iter().map(|(k, x)| format!("\"{k}\" : {x}")).collect();
                format!("{{ {} }}", members.join(" , "))
            }),
        ]
    });
    prop_oneof![6 => leaf, 1 => nested]
}

/// A value for `field`, mostly of the right kind.
fn value(field: &'static str) -> BoxedStrategy<String> {
    let string_field = matches!(
        field,
        "type"
            | "customerId"
            | "runId"
            | "agentId"
            | "provider"
            | "model"
            | "serviceTier"
            | "inferenceGeo"
            | "speed"
            | "outcome"
            | "idempotencyKey"
            | "responseId"
    );
    if string_field {
        prop_oneof![
            8 => (text(), prop::collection::vec(any::<u8>(), 0..24))
                .prop_map(|(s, e)| encode(&s, &e)),
            1 => Just("null".to_string()),
            1 => raw(),
        ]
        .boxed()
    } else {
        prop_oneof![
            8 => raw(),
            1 => Just("null".to_string()),
        ]
        .boxed()
    }
}

/// A key: mostly a field (sometimes escaped), sometimes unknown.
fn key() -> impl Strategy<Value = (String, String)> {
    prop_oneof![
        40 => prop::sample::select(FIELDS.to_vec()).prop_map(|f| (f.to_string(), format!("\"{f}\""))),
        1 => (prop::sample::select(FIELDS.to_vec()), prop::collection::vec(any::<u8>(), 0..24))
            .prop_map(|(f, e)| (f.to_string(), encode(f, &e))),
        2 => prop::sample::select(vec!["tokenIn", "Model", "", "model ", "extra", "tokens_in", "type\u{0}"])
            .prop_map(|k| (k.to_string(), encode(k, &[]))),
    ]
}

/// A whole event object: members in any order, duplicates possible, random whitespace.
fn object() -> impl Strategy<Value = String> {
    let member = key().prop_flat_map(|(name, literal)| {
        let field = FIELDS
            .iter()
            .find(|f| **f == name)
            .copied()
            .unwrap_or("model");
        (Just(literal), value(field), ws(), ws(), ws(), ws(), 0u8..40)
    });
    (prop::collection::vec(member, 0..9), ws(), ws()).prop_map(|(members, lead, trail)| {
        let mut out = format!("{lead}{{");
        for (i, (k, v, a, b, c, d, shape)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match shape {
                // A key without its value, or a value without its key.
                0 => out.push_str(&format!("{a}{k}{b}")),
                1 => out.push_str(&format!("{a}{v}{d}")),
                _ => out.push_str(&format!("{a}{k}{b}:{c}{v}{d}")),
            }
        }
        out.push('}');
        out.push_str(&trail);
        out
    })
}

/// A plausible event: distinct known fields with values of the right kind (usually accepted).
fn plausible() -> impl Strategy<Value = String> {
    let fields = prop::sample::subsequence(FIELDS.to_vec(), 0..14).prop_shuffle();
    fields
        .prop_flat_map(|fs| {
            let values: Vec<BoxedStrategy<String>> = fs
                .iter()
                .map(|f| match *f {
                    "type" => prop::sample::select(vec!["\"llm\"", "\"tool\"", "\"track\""])
                        .prop_map(str::to_string)
                        .boxed(),
                    "serviceTier" => prop::sample::select(vec!["\"flex\"", "\"Priority\"", "null"])
                        .prop_map(str::to_string)
                        .boxed(),
                    "outcome" => prop::sample::select(vec!["\"resolved\"", "\"failed\""])
                        .prop_map(str::to_string)
                        .boxed(),
                    "timestamp" | "ts" => {
                        prop::sample::select(vec!["1700000000000", "\"2026-01-02T03:04:05.006Z\""])
                            .prop_map(str::to_string)
                            .boxed()
                    }
                    "providerCostCents" | "externalCostCents" | "revenueUnitCents"
                    | "reportedCostCents" => {
                        prop::sample::select(vec!["\"1.25\"", "0.5", "3", "1e2"])
                            .prop_map(str::to_string)
                            .boxed()
                    }
                    f if value_is_string(f) => (
                        "[a-zA-Z0-9é😀 _./-]{1,24}",
                        prop::collection::vec(any::<u8>(), 0..24),
                    )
                        .prop_map(|(s, e)| encode(&s, &e))
                        .boxed(),
                    _ => (0u64..=(1 << 53)).prop_map(|v| v.to_string()).boxed(),
                })
                .collect();
            (Just(fs), values, ws())
        })
        .prop_map(|(fs, vs, w)| {
            let members: Vec<String> = fs
                .iter()
                .zip(&vs)
                .map(|(f, v)| format!("\"{f}\":{w}{v}"))
                .collect();
            let mut body = members.join(&format!(",{w}"));
            if !fs.contains(&"model") {
                if !body.is_empty() {
                    body.push(',');
                }
                body.push_str("\"model\":\"gpt-4o\"");
            }
            format!("{{{body}}}")
        })
}

fn value_is_string(f: &str) -> bool {
    matches!(
        f,
        "customerId"
            | "runId"
            | "agentId"
            | "provider"
            | "model"
            | "inferenceGeo"
            | "speed"
            | "idempotencyKey"
            | "responseId"
    )
}

/// The array form serde accepts for a struct: elements in field order.
fn array() -> impl Strategy<Value = String> {
    prop_oneof![1 => 27usize..=33, 3 => Just(31)].prop_flat_map(|n| {
        let elements: Vec<BoxedStrategy<String>> = (0..n)
            .map(|i| match FIELDS.get(i) {
                Some(&"model") => {
                    prop_oneof![Just("\"gpt-4o\"".to_string()), value("model")].boxed()
                }
                Some(f) => prop_oneof![12 => Just("null".to_string()), 1 => value(f)].boxed(),
                None => Just("null".to_string()).boxed(),
            })
            .collect();
        (elements, ws()).prop_map(|(v, w)| format!("[{w}{}{w}]", v.join(&format!("{w},"))))
    })
}

/// Byte-level damage.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate(usize),
    Delete(usize),
    Insert(usize, u8),
    Replace(usize, u8),
    Repeat(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        prop::sample::select(
            b"{}[]\",:\\ \n0-1.eE+untfalsr\x00\x1f\x7f\xff\xc2\x80\xe2\xa8".to_vec()
        ),
        any::<u8>(),
    ];
    prop_oneof![
        1 => any::<usize>().prop_map(Mutation::Truncate),
        2 => any::<usize>().prop_map(Mutation::Delete),
        2 => (any::<usize>(), byte.clone()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        2 => (any::<usize>(), byte).prop_map(|(a, b)| Mutation::Replace(a, b)),
        1 => (any::<usize>(), 1usize..12).prop_map(|(a, n)| Mutation::Repeat(a, n)),
    ]
}

fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let len = b.len();
        let at = |x: usize| if len == 0 { 0 } else { x % (len + 1) };
        match *m {
            Mutation::Truncate(x) => b.truncate(at(x)),
            Mutation::Delete(x) if len > 0 => {
                b.remove(x % len);
            }
            Mutation::Insert(x, c) => b.insert(at(x), c),
            Mutation::Replace(x, c) if len > 0 => b[x % len] = c,
            Mutation::Repeat(x, n) if len > 0 => {
                let s = x % len;
                let e = (s + n).min(len);
                let piece = b[s..e].to_vec();
                b.splice(e..e, piece);
            }
            _ => {}
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5000, ..ProptestConfig::default() })]

    #[test]
    fn plausible_events_agree(doc in plausible()) {
        check(doc.as_bytes());
    }

    #[test]
    fn arbitrary_objects_agree(doc in object()) {
        check(doc.as_bytes());
    }

    #[test]
    fn mutated_events_agree(doc in prop_oneof![plausible(), object()], ms in prop::collection::vec(mutation(), 1..4)) {
        check(&mutate(doc.into_bytes(), &ms));
    }

    #[test]
    fn array_forms_are_rejected(doc in array(), ms in prop::collection::vec(mutation(), 0..2)) {
        check(&mutate(doc.into_bytes(), &ms));
    }

    #[test]
    fn arbitrary_bytes_agree(b in prop::collection::vec(any::<u8>(), 0..64)) {
        check(&b);
    }

    #[test]
    fn arbitrary_top_level_values_agree(v in raw(), lead in ws(), trail in ws()) {
        check(format!("{lead}{v}{trail}").as_bytes());
    }
}

/// A document using every field, escapes, unicode and whitespace; every truncation and every
/// single-byte deletion of it.
#[test]
fn every_truncation_and_deletion_agrees() {
    let doc = "{ \"type\" : \"llm\",\n\"customerId\":\"c\\u00e9\\\"1\",\"runId\":\"r\\ud83d\\ude00\",\
        \"agentId\":\"a\\/b\",\"provider\":\"anthropic\",\"model\":\"claude-sonnet-4-5\",\
        \"tokensIn\":3,\"cachedTokens\":1111,\"cacheWrite5mTokens\":418,\"cacheWrite1hTokens\":7,\
        \"audioTokensIn\":0,\"imageTokensIn\":1,\"tokensOut\":33,\"reasoningTokens\":null,\
        \"audioTokensOut\":0,\"imageTokensOut\":0,\"webSearchRequests\":1,\"toolCalls\":2,\
        \"serviceTier\":\"fast\",\"inferenceGeo\":\"us\",\"speed\":\"fast\",\
        \"providerCostCents\":\"1.25\",\"externalCostCents\":0.5,\"revenueUnitCents\":1e1,\
        \"reportedCostCents\":[1,{\"a\":[true,false,null]}],\"units\":3,\"outcome\":\"resolved\",\
        \"idempotencyKey\":\"k1\",\"responseId\":\"msg_1\",\"timestamp\":\"2026-01-02T03:04:05.006Z\"}\r\n";
    let b = doc.as_bytes();
    check(b);
    for n in 0..b.len() {
        check(&b[..n]);
        let mut d = b.to_vec();
        d.remove(n);
        check(&d);
    }
}

/// Hand-picked corners: duplicates, nulls, escapes in keys, invalid UTF-8, literals, numbers.
#[test]
fn corner_cases_agree() {
    let cases: &[&[u8]] = &[
        b"",
        b"   ",
        b"{}",
        b"[]",
        b"null",
        b"nul",
        b"true",
        b"-",
        b"-0",
        b"1.5",
        b"\"str\\n\"",
        b"{\"model\":\"m\"}x",
        b"{\"model\":\"m\"} ",
        b"{\"model\":\"m\",}",
        b"{\"model\":\"m\" \"x\":1}",
        b"{,\"model\":\"m\"}",
        b"{\"model\" \"m\"}",
        b"{\"model\":\"m\",\"model\":\"n\"}",
        b"{\"model\":null,\"model\":\"n\"}",
        b"{\"model\":\"m\",\"model\" }",
        b"{\"model\":\"m\",\"bogus\"}",
        b"{\"model\":\"m\",\"bogus\" : 1}",
        b"{\"model\":\"m\",\"tokens\\u0049n\":5}",
        b"{\"model\":\"m\",\"tokens\\u00\":5}",
        b"{\"model\":\"m\",\"tokens\\x\":5}",
        b"{\"model\":\"m\",\"tok\\ud800\":5}",
        b"{\"model\":\"m\",\"tok\\ud800\\u0041\":5}",
        b"{\"model\":\"m\",\"tok\\udc00\":5}",
        b"{\"model\":\"m\",\"tok\\ud800x\":5}",
        b"{\"model\":\"m\",\"tok\\ud800\\x\":5}",
        b"{\"model\":\"\\u00e9\\u20ac\\ud83d\\ude00\"}",
        b"{\"model\":\"a\x01b\"}",
        b"{\"model\":\"\xff\"}",
        b"{\"model\":\"ab\xc3\"}",
        b"{\"model\":\"a\\n\xff\"}",
        b"{\"m\xffodel\":\"m\"}",
        b"{\"model\":\"m\",\"tokensIn\":\"\xff\"}",
        b"{\"model\":\"m\",\"tokensIn\":[\"\xff\"]}",
        b"{\"model\":\"m\",\"tokensIn\":[1,\xff]}",
        b"{\"model\":\"m\"}\xff",
        b"\xef\xbb\xbf{\"model\":\"m\"}",
        b"{\"model\":5}",
        b"{\"model\":-5}",
        b"{\"model\":-0}",
        b"{\"model\":1.5}",
        b"{\"model\":1e5}",
        b"{\"model\":1e400}",
        b"{\"model\":18446744073709551616}",
        b"{\"model\":-9223372036854775808}",
        b"{\"model\":-9223372036854775809}",
        b"{\"model\":true}",
        b"{\"model\":fals}",
        b"{\"model\":nulx}",
        b"{\"model\":[1]}",
        b"{\"model\":{}}",
        b"{\"model\":01}",
        b"{\"model\":1.}",
        b"{\"model\":1.e5}",
        b"{\"model\":1e}",
        b"{\"model\":1e+}",
        b"{\"model\":-}",
        b"{\"model\":-a}",
        b"{\"model\":x}",
        b"{\"model\":\"m\",\"tokensIn\":01}",
        b"{\"model\":\"m\",\"tokensIn\":1.}",
        b"{\"model\":\"m\",\"tokensIn\":1e}",
        b"{\"model\":\"m\",\"tokensIn\":-}",
        b"{\"model\":\"m\",\"tokensIn\":1.5e3}",
        b"{\"model\":\"m\",\"tokensIn\":[1,]}",
        b"{\"model\":\"m\",\"tokensIn\":[,1]}",
        b"{\"model\":\"m\",\"tokensIn\":{\"a\":1,}}",
        b"{\"model\":\"m\",\"tokensIn\":{1:1}}",
        b"{\"model\":\"m\",\"tokensIn\":{\"a\" 1}}",
        b"{\"model\":\"m\",\"tokensIn\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        b"{\"model\":\"m\",\"tokensIn\":\"a\x01\"}",
        b"{\"model\":\"m\",\"tokensIn\":\"a\\q\"}",
        b"{\"model\":\"m\",\"tokensIn\":\"\\u12\"}",
        b"{\"model\":\"m\",\"tokensIn\":\"\\u12G4\"}",
        b"{\"model\":\"m\",\"tokensIn\":nul}",
        b"{\"model\":\"m\",\"tokensIn\":null}",
        b"{\"model\":\"m\",\"timestamp\":null,\"ts\":5}",
        b"{\"model\":\"m\",\"timestamp\":1,\"ts\":5}",
        b"{\"model\":\"m\",\"units\":null}",
        b"{\"model\":\"m\",\"units\":0}",
        b"{\"model\":\"m\"\n,\n\"bogus\"\n:\n1}",
        b"{\n\"model\":\n5}",
        b"[null,null,null,null,null,\"gpt-4o\",null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null]",
        b"[null,null]",
        b"[null,null,]",
        b"[null null]",
        b"[,]",
        b"[",
        b"{",
        b"{\"",
        b"{\"model",
        b"{\"model\"",
        b"{\"model\":",
        b"{\"model\":\"",
        b"{\"model\":\"m",
        b"{\"model\":\"m\"",
        b"{\"model\":\"m\",",
        b"{\"model\":\"m\\",
        b"{\"model\":\"m\\u",
        b"{\"model\":\"m\\ud800",
        b"{\"model\":\"m\\ud800\\",
        b"{\"model\":\"m\",\"tokensIn\":[",
        b"{\"model\":\"m\",\"tokensIn\":{\"a\"",
        b"{\"model\":\"m\",\"tokensIn\":\"\\",
    ];
    for c in cases {
        check(c);
    }
}
