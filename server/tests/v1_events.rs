//! `POST /v1/events` over real TCP: a batch of mixed good, duplicate, conflicting and bad
//! records answered one by one in order, JSON Lines and JSON arrays, limits, scopes, and the
//! record counters of `/metrics` moving by exactly what the batch did.
//!
//! Cents by hand from the embedded LiteLLM 1.110.2 card: gpt-4o input $2.50, cached input
//! $1.25, output $10 per million tokens = 0.00025 / 0.000125 / 0.001 cent per token.

mod v1_support;

use serde_json::json;
use v1_support::{Env, WS, metric, start};

const DAY1: &str = "2026-11-02T10:00:00Z";

fn mixed_batch() -> Vec<String> {
    vec![
        // 1: a customer on a usage-based plan: 5 cents per event.
        r#"{"type":"customer","customerId":"acme","plan":{"pricingModel":"usage_based","unitRevenueCents":5},"ts":"2026-11-01T00:00:00Z"}"#.into(),
        // 2: 1200 × 0.00025 + 800 × 0.000125 + 350 × 0.001 = 0.3 + 0.1 + 0.35 = 0.75 cents.
        format!(r#"{{"customerId":"acme","runId":"r1","agentId":"bot","provider":"openai","model":"gpt-4o","tokensIn":1200,"cachedTokens":800,"tokensOut":350,"idempotencyKey":"k1","ts":"{DAY1}"}}"#),
        // 3: the same again: a duplicate.
        format!(r#"{{"customerId":"acme","runId":"r1","agentId":"bot","provider":"openai","model":"gpt-4o","tokensIn":1200,"cachedTokens":800,"tokensOut":350,"idempotencyKey":"k1","ts":"{DAY1}"}}"#),
        // 4: the same key, other usage: a conflict (the first stands).
        format!(r#"{{"customerId":"acme","runId":"r1","agentId":"bot","provider":"openai","model":"gpt-4o","tokensIn":1300,"idempotencyKey":"k1","ts":"{DAY1}"}}"#),
        // 5: a negative count.
        r#"{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":-1}"#.into(),
        // 6: not JSON.
        "this is not json".into(),
        // 7: a policy: needs the admin scope.
        r#"{"type":"policy","policyId":"p1","customerId":"acme","budget":{"cents":"5","period":"day"}}"#.into(),
        // 8: a model the card does not know: accepted, unpriced, cost 0, revenue 5.
        format!(r#"{{"customerId":"acme","provider":"openai","model":"no-such-model-xyz","tokensIn":10,"idempotencyKey":"k2","ts":"{DAY1}"}}"#),
        // 9: blank (skipped, keeps line numbers).
        "   ".into(),
        // 10: the run resolves (usage-based: no outcome revenue).
        format!(r#"{{"type":"resolve","customerId":"acme","runId":"r1","outcome":"resolved","ts":"{DAY1}"}}"#),
    ]
}

fn scrape(env: &Env) -> String {
    let r = env.call("GET", "/metrics", None, None, None);
    assert_eq!(r.status, 200);
    r.body
}

#[test]
fn a_mixed_batch_is_answered_record_by_record_in_order() {
    let env = start();
    let before = scrape(&env);
    let v = env.events(&env.ingest, &mixed_batch());
    let results = v["results"].as_array().unwrap();
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "accepted",
            "accepted",
            "duplicate",
            "conflict",
            "rejected",
            "rejected",
            "rejected",
            "accepted",
            "accepted"
        ]
    );
    let lines: Vec<u64> = results
        .iter()
        .map(|r| r["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, [1, 2, 3, 4, 5, 6, 7, 8, 10]);
    let index: Vec<u64> = results
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(index, (0..9).collect::<Vec<u64>>());
    assert_eq!(results[1]["costCents"], "0.75");
    assert_eq!(results[1]["revenueCents"], "5");
    assert_eq!(results[1]["priced"], true);
    assert_eq!(results[4]["field"], "tokensIn");
    assert_eq!(results[4]["kind"], "invalid");
    assert_eq!(results[5]["kind"], "invalid");
    assert_eq!(results[6]["field"], "type");
    assert!(
        results[6]["error"]
            .as_str()
            .unwrap()
            .contains("admin scope")
    );
    assert_eq!(results[7]["priced"], false);
    assert_eq!(results[7]["costCents"], "0");
    assert_eq!(
        (
            v["accepted"].as_u64(),
            v["duplicates"].as_u64(),
            v["conflicts"].as_u64(),
            v["rejected"].as_u64(),
            v["unpriced"].as_u64()
        ),
        (Some(4), Some(1), Some(1), Some(3), Some(1))
    );

    // What the ledger holds: 0.75 cents of cost, 2 × 5 cents of usage revenue, no policy.
    let store = env.store(WS);
    let m = store.ledger().customer_margin("acme").unwrap().unwrap();
    assert_eq!(m.cost_cents.to_string(), "0.75");
    assert_eq!(m.revenue_cents.to_string(), "10");
    assert!(store.ledger().policies().is_empty());

    // The counters moved by exactly the batch.
    let after = scrape(&env);
    let delta = |name: &str, labels: &[(&str, &str)]| {
        metric(&after, name, labels) - metric(&before, name, labels)
    };
    assert_eq!(
        delta("tollgate_records_total", &[("outcome", "accepted")]),
        4.0
    );
    assert_eq!(
        delta("tollgate_records_total", &[("outcome", "duplicate")]),
        1.0
    );
    assert_eq!(
        delta("tollgate_records_total", &[("outcome", "conflict")]),
        1.0
    );
    assert_eq!(
        delta("tollgate_records_total", &[("outcome", "rejected")]),
        3.0
    );
    assert_eq!(delta("tollgate_unpriced_events_total", &[]), 1.0);
    assert_eq!(
        delta(
            "tollgate_http_request_duration_seconds_count",
            &[
                ("route", "/v1/events"),
                ("status", "200"),
                ("method", "POST")
            ]
        ),
        1.0
    );
    // Sync durability: the batch was fsync'ed at least once before it was answered.
    assert!(
        delta("tollgate_journal_fsync_duration_seconds_count", &[]) >= 1.0,
        "{after}"
    );
    // The same batch again: everything already applied is a duplicate now, nothing changes.
    let again = env.events(&env.ingest, &mixed_batch());
    assert_eq!(again["accepted"], 0, "{again}");
    assert_eq!(again["rejected"], 3);
    let m = store.ledger().customer_margin("acme").unwrap().unwrap();
    assert_eq!(m.cost_cents.to_string(), "0.75");
}

#[test]
fn a_json_array_is_a_batch_too() {
    let env = start();
    let body = json!([
        {"customerId": "globex", "provider": "openai", "model": "gpt-4o", "tokensOut": 1000, "idempotencyKey": "a\"1é", "ts": DAY1},
        5,
        {"customerId": "globex", "type": "tool", "externalCostCents": "0.000000000000000000000001", "ts": DAY1}
    ]);
    let r = env.call(
        "POST",
        "/v1/events",
        Some(&env.ingest),
        Some("application/json"),
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    v1_support::validate("post", "/v1/events", 200, &v);
    let results = v["results"].as_array().unwrap();
    assert_eq!(results[0]["status"], "accepted", "{v}");
    // 1000 output tokens × 0.001 cent = 1 cent; the tool step costs exactly 10^-24 cent.
    assert_eq!(results[0]["costCents"], "1");
    assert_eq!(results[1]["status"], "rejected");
    assert_eq!(results[2]["costCents"], "0.000000000000000000000001");
    assert!(results.iter().all(|r| r.get("line").is_none()));
    let m = env
        .store(WS)
        .ledger()
        .customer_margin("globex")
        .unwrap()
        .unwrap();
    assert_eq!(m.cost_cents.to_string(), "1.000000000000000000000001");
}

#[test]
fn bodies_are_bounded_and_typed() {
    let env = start();
    let post = |ct: Option<&str>, body: &[u8]| {
        env.call("POST", "/v1/events", Some(&env.ingest), ct, Some(body))
    };
    // Too many records: refused whole, nothing applied.
    let many =
        vec![r#"{"type":"tool","customerId":"bulk","externalCostCents":"1"}"#; 10_001].join("\n");
    let r = post(Some("application/x-ndjson"), many.as_bytes());
    assert_eq!(
        (r.status, r.code().as_str()),
        (413, "too_large"),
        "{}",
        r.body
    );
    assert!(env.store(WS).ledger().customer_margin("bulk").is_none());
    // Too many bytes: refused on the announced length, before the body is read (the client
    // below sends only the head, so the answer cannot depend on a body it never sent).
    let head = raw_head(&env, 8 * 1024 * 1024 + 1);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // Another content type; an empty batch; a broken array.
    assert_eq!(post(Some("text/csv"), b"{}").status, 415);
    assert_eq!(
        post(Some("application/x-ndjson"), b"\n\n").code(),
        "invalid_body"
    );
    assert_eq!(
        post(Some("application/json"), b"[{},").code(),
        "invalid_body"
    );
    // The limit itself is fine: 10,000 records of 1 cent each, one answer each, journaled with
    // one group commit (one fsync: the batch is one job of the committer, never split).
    let fsyncs = || {
        let m = env.call("GET", "/metrics", None, None, None).body;
        metric(&m, "tollgate_journal_fsync_duration_seconds_count", &[])
    };
    let before = fsyncs();
    let max =
        vec![r#"{"type":"tool","customerId":"bulk","externalCostCents":"1"}"#; 10_000].join("\n");
    let r = post(None, max.as_bytes());
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["accepted"], 10_000);
    assert_eq!(fsyncs() - before, 1.0);
    let m = env
        .store(WS)
        .ledger()
        .customer_margin("bulk")
        .unwrap()
        .unwrap();
    assert_eq!(m.cost_cents.to_string(), "10000");
}

/// Sends a POST /v1/events head announcing `length` bytes and returns the answer's status
/// line and headers.
fn raw_head(env: &Env, length: usize) -> String {
    use std::io::{Read, Write};
    let addr = env.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        s,
        "POST /v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\nContent-Type: application/x-ndjson\r\nContent-Length: {length}\r\n\r\n",
        env.ingest
    )
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn scopes_and_workspaces() {
    let env = start();
    let line = r#"{"type":"tool","customerId":"acme","externalCostCents":"2"}"#;
    let post = |key: Option<&str>| {
        env.call(
            "POST",
            "/v1/events",
            key,
            Some("application/x-ndjson"),
            Some(line.as_bytes()),
        )
    };
    assert_eq!(post(None).status, 401);
    assert_eq!(post(Some("tg_not_a_key")).status, 401);
    let r = post(Some(&env.read));
    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"));
    assert!(env.store(WS).ledger().customer_margin("acme").is_none());
    // An admin key may ingest; another workspace's key writes only there.
    assert_eq!(post(Some(&env.admin)).status, 200);
    assert_eq!(post(Some(&env.other_ingest)).status, 200);
    let mine = env
        .store(WS)
        .ledger()
        .customer_margin("acme")
        .unwrap()
        .unwrap();
    assert_eq!(mine.cost_cents.to_string(), "2");
    let theirs = env
        .store(v1_support::OTHER)
        .ledger()
        .customer_margin("acme")
        .unwrap()
        .unwrap();
    assert_eq!(theirs.cost_cents.to_string(), "2");
    assert_eq!(theirs.events, 1);
    assert_eq!(mine.events, 1);
}
