//! The tollgateai SDK's API over real TCP: idempotency, precise 400s that change nothing,
//! 413, 429, customers and plans, resolutions, token pricing, the guard, the rate-card
//! refresher. Expected cents are hand calculations written next to each assertion.

mod common;
use common::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate_server::keys::Scope;
use tollgate_server::workspace::Workspace;

fn workspace(s: &tollgate_server::Server, id: &str) -> Arc<Workspace> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(s.state().workspaces().get(id))
        .unwrap()
}

fn snapshot(w: &Workspace) -> String {
    let r = w.store().ledger().report(None, None).unwrap();
    format!(
        "{} {:?}",
        r.to_json(&Default::default()),
        w.store().ledger().dedupe_stats()
    )
}

fn cost(w: &Workspace, customer: &str) -> String {
    w.store()
        .ledger()
        .customer_margin(customer)
        .unwrap()
        .unwrap()
        .cost_cents
        .to_string()
}

#[test]
fn same_idempotency_key_twice_is_one_record() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "acme", Scope::Ingest);
    let s = start(dir.path(), |_| {});
    let url = format!("{}/api/track", s.url());
    let body = br#"{"customerId":"c1","provider":"openai","model":"gpt-4o","providerCostCents":7,"idempotencyKey":"once","ts":"2026-03-01T10:00:00Z"}"#;
    let a = post(&url, Some(&k), body);
    let b = post(&url, Some(&k), body);
    assert_eq!(a.json()["status"], "accepted", "{}", a.body);
    assert_eq!(b.json()["status"], "duplicate", "{}", b.body);
    // The SDK's `track` answer names the event: the key it was booked under, both times.
    assert_eq!(a.json()["eventId"], "once", "{}", a.body);
    assert_eq!(b.json()["eventId"], "once", "{}", b.body);
    let w = workspace(&s, "acme");
    assert_eq!(cost(&w, "c1"), "7"); // one event of 7 cents, not two
    // The same key with a different amount: 409, the first stands.
    let c = post(
        &url,
        Some(&k),
        br#"{"customerId":"c1","provider":"openai","model":"gpt-4o","providerCostCents":9,"idempotencyKey":"once","ts":"2026-03-01T10:00:00Z"}"#,
    );
    assert_eq!(c.status, 409, "{}", c.body);
    assert_eq!(c.json()["error"]["code"], "conflict");
    assert_eq!(cost(&w, "c1"), "7");
}

#[test]
fn bad_input_is_a_precise_400_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "acme", Scope::Ingest);
    let s = start(dir.path(), |_| {});
    let w = workspace(&s, "acme");
    let before = snapshot(&w);
    let cases: &[(&str, &[u8], &str, &str)] = &[
        ("/api/track", b"{not json", "invalid_json", "expected"),
        (
            "/api/track",
            b"[]",
            "invalid_json",
            "the body is not a JSON object",
        ),
        (
            "/api/track",
            br#"{"customerId":"c","model":"m","tokenIn":5}"#,
            "invalid_field",
            "tokenIn: unknown field",
        ),
        (
            "/api/track",
            br#"{"customerId":"c","model":"m","tokensIn":"5"}"#,
            "invalid_field",
            "tokensIn: expected a whole number",
        ),
        (
            "/api/track",
            br#"{"customerId":"c","model":"m","providerCostCents":"abc"}"#,
            "invalid_field",
            "providerCostCents",
        ),
        (
            "/api/track",
            br#"{"model":"gpt-4o","tokensIn":5}"#,
            "invalid_field",
            "customerId",
        ),
        (
            "/api/track",
            br#"{"customerId":"c","runId":"r","model":"resolution","outcome":"won"}"#,
            "invalid_field",
            "outcome",
        ),
        (
            "/api/sdk/customer",
            br#"{"name":"x"}"#,
            "invalid_field",
            "customerId: is required",
        ),
        (
            "/api/sdk/customer",
            br#"{"customerId":"c","planId":"Nope"}"#,
            "invalid_field",
            "planId: no plan named",
        ),
        (
            "/api/sdk/customer",
            br#"{"customerId":"c","plan":{"pricingModel":"free"}}"#,
            "invalid_field",
            "plan.pricingModel",
        ),
        (
            "/api/sdk/customer",
            br#"{"customerId":"c","seats":-1}"#,
            "invalid_field",
            "seats",
        ),
        (
            "/api/guard",
            br#"{"agentId":"a"}"#,
            "invalid_field",
            "customerId: is required",
        ),
        (
            "/api/guard",
            br#"{"customerId":"c","estimatedCostCents":"x"}"#,
            "invalid_field",
            "estimatedCostCents",
        ),
    ];
    for (path, body, code, text) in cases {
        let r = post(&format!("{}{path}", s.url()), Some(&k), body);
        assert_eq!(
            r.status,
            400,
            "{path} {}: {}",
            String::from_utf8_lossy(body),
            r.body
        );
        let j = r.json();
        assert_eq!(j["error"]["code"], *code, "{}", r.body);
        let msg = j["error"]["message"].as_str().unwrap();
        assert!(msg.contains(text), "{path}: {msg:?} lacks {text:?}");
    }
    assert_eq!(snapshot(&w), before);
}

#[test]
fn body_over_the_limit_is_413() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "acme", Scope::Ingest);
    let s = start(dir.path(), |c| c.limits.max_body_bytes = 1024);
    let w = workspace(&s, "acme");
    let before = snapshot(&w);
    let big = format!(
        r#"{{"customerId":"c","model":"gpt-4o","runId":"{}"}}"#,
        "x".repeat(2000)
    );
    let r = post(&format!("{}/api/track", s.url()), Some(&k), big.as_bytes());
    assert_eq!(r.status, 413, "{}", r.body);
    assert_eq!(r.json()["error"]["code"], "body_too_large");
    assert_eq!(snapshot(&w), before);
    // Without a key the body is never read: 401 first.
    let r = post(&format!("{}/api/track", s.url()), None, big.as_bytes());
    assert_eq!(r.status, 401);
}

#[test]
fn over_the_rate_is_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "acme", Scope::Ingest);
    let other = key(dir.path(), "acme", Scope::Ingest);
    // One request a second with a burst of 3: the 4th and later within the second are refused.
    let s = start(dir.path(), |c| {
        c.limits.rate_per_sec = 1;
        c.limits.burst = 3;
    });
    let url = format!("{}/api/guard", s.url());
    let statuses: Vec<u16> = (0..6)
        .map(|_| post(&url, Some(&k), br#"{"customerId":"c"}"#).status)
        .collect();
    assert_eq!(&statuses[..3], &[200, 200, 200], "{statuses:?}");
    let r = post(&url, Some(&k), br#"{"customerId":"c"}"#);
    assert_eq!(r.status, 429);
    assert_eq!(r.json()["error"]["code"], "rate_limited");
    let after: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3).contains(&after), "Retry-After {after}");
    // The limit is per key: another key is not affected.
    assert_eq!(
        post(&url, Some(&other), br#"{"customerId":"c"}"#).status,
        200
    );
}

#[test]
fn customers_plans_resolutions_and_token_pricing() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "acme", Scope::Ingest);
    let s = start(dir.path(), |_| {});
    let u = |p: &str| format!("{}{p}", s.url());
    // upsert_customer("c1", name="Acme", plan={...}) exactly as the SDK sends it.
    let r = post(
        &u("/api/sdk/customer"),
        Some(&k),
        br#"{"customerId": "c1", "name": "Acme", "company": "Acme Inc", "useCase": "support", "plan": {"name": "Outcome", "pricingModel": "outcome_based", "unitRevenueCents": 250}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "accepted");
    // The SDK's upsert_customer answer: {status, customerId, id, planId}.
    assert_eq!(r.json()["customerId"], "c1", "{}", r.body);
    assert_eq!(r.json()["id"], "c1", "{}", r.body);
    assert_eq!(r.json()["planId"], "Outcome", "{}", r.body);
    // A run that costs 12.5 cents (stated), resolved: revenue 250, margin 250 − 12.5 = 237.5.
    let r = post(
        &u("/api/track"),
        Some(&k),
        br#"{"customerId": "c1", "runId": "run-1", "provider": "openai", "model": "gpt-4o", "tokensIn": 10, "tokensOut": 5, "providerCostCents": 12.5, "idempotencyKey": "chatcmpl-1"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // resolve("run-1", "c1", "resolved") as the SDK sends it.
    let resolve = br#"{"customerId": "c1", "runId": "run-1", "provider": "anthropic", "model": "resolution", "tokensIn": 0, "tokensOut": 0, "outcome": "resolved", "idempotencyKey": "run-1#resolve"}"#;
    let r = post(&u("/api/track"), Some(&k), resolve);
    assert_eq!(r.json()["status"], "accepted", "{}", r.body);
    let r = post(&u("/api/track"), Some(&k), resolve);
    assert_eq!(r.json()["status"], "duplicate", "{}", r.body);
    let w = workspace(&s, "acme");
    let m = w.store().ledger().customer_margin("c1").unwrap().unwrap();
    assert_eq!(m.revenue_cents.to_string(), "250");
    assert_eq!(m.cost_cents.to_string(), "12.5");
    assert_eq!(m.margin_cents().to_string(), "237.5");

    // A partial upsert (seats only) keeps the name and the plan.
    let r = post(
        &u("/api/sdk/customer"),
        Some(&k),
        br#"{"customerId":"c1","seats":4}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t = w.store().ledger().customer_terms("c1").unwrap();
    assert_eq!(t.seats, 4);
    assert_eq!(t.name.as_deref(), Some("Acme"));
    assert_eq!(t.plan.as_ref().unwrap().name.as_deref(), Some("Outcome"));
    // planId names the plan declared inline before.
    let r = post(
        &u("/api/sdk/customer"),
        Some(&k),
        br#"{"customerId":"c2","planId":"Outcome"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let p = w
        .store()
        .ledger()
        .customer_terms("c2")
        .unwrap()
        .plan
        .unwrap();
    assert_eq!(p.unit_revenue_cents.to_string(), "250");

    // openai_event_from of a gpt-4o completion with prompt_tokens 1000 (300 cached) and
    // completion_tokens 200 (50 reasoning): the SDK sends tokensIn 700, tokensOut 150.
    // gpt-4o: input $2.50/M, cached input $1.25/M, output $10/M (LiteLLM 1.110.2), so
    // 700 × 0.00025 + 300 × 0.000125 + 200 × 0.001 = 0.175 + 0.0375 + 0.2 = 0.4125 cents.
    let r = post(
        &u("/api/track"),
        Some(&k),
        br#"{"customerId":"c3","runId":"r3","provider":"openai","model":"gpt-4o","tokensIn":700,"tokensOut":150,"reasoningTokens":50,"cachedTokens":300,"audioTokensIn":0,"audioTokensOut":0,"textTokensIn":0,"textTokensOut":0,"acceptedPredictionTokens":0,"rejectedPredictionTokens":0,"toolCalls":0,"idempotencyKey":"chatcmpl-3","latencyMs":840}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["costCents"], "0.4125");
    assert_eq!(r.json()["priced"], true);
}

#[test]
fn guard_answers_the_ledger_decision_in_the_sdk_shape() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "acme", Scope::Ingest);
    let s = start(dir.path(), |_| {});
    let w = workspace(&s, "acme");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // A monthly budget of 10 cents for c1 (policies arrive through the v1 API; here the
    // workspace's own ingest).
    let policy = br#"{"type":"policy","policyId":"p1","customerId":"c1","budget":{"cents":"10","period":"month"}}"#;
    let r = rt.block_on(w.ingest(policy.to_vec())).unwrap();
    assert!(
        matches!(r, tollgate_engine::ledger::IngestResult::Accepted(_)),
        "{r:?}"
    );
    let t = post(
        &format!("{}/api/track", s.url()),
        Some(&k),
        br#"{"customerId":"c1","provider":"openai","model":"gpt-4o","providerCostCents":7,"idempotencyKey":"g1"}"#,
    );
    assert_eq!(t.status, 200, "{}", t.body);
    let url = format!("{}/api/guard", s.url());
    // 10 − 7 = 3 cents left: 2.5 fits, 3.5 does not.
    let a = post(
        &url,
        Some(&k),
        br#"{"customerId":"c1","agentId":"bot","model":"gpt-4o","estimatedCostCents":2.5}"#,
    )
    .json();
    assert_eq!(a["decision"], "allow");
    assert_eq!(a["reason"], "ok");
    assert_eq!(a["policyId"], "p1");
    assert_eq!(a["remainingBudgetCents"], "3");
    assert_eq!(a["costCents"], "7");
    let b = post(
        &url,
        Some(&k),
        br#"{"customerId":"c1","estimatedCostCents":3.5}"#,
    )
    .json();
    assert_eq!(b["decision"], "block");
    assert_eq!(b["reason"], "budget_exceeded");
    for field in [
        "decision",
        "reason",
        "policyId",
        "period",
        "suggestedModel",
        "costCents",
        "revenueCents",
        "marginPct",
        "remainingBudgetCents",
    ] {
        assert!(
            b.get(field).is_some(),
            "the SDK's field {field} is missing: {b}"
        );
    }
    assert_eq!(cost(&w, "c1"), "7"); // asking changed nothing
}

#[test]
fn refresher_publishes_to_every_opened_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "a", Scope::Ingest);
    // A registry that doubles gpt-4o's input price to $5/M (and knows no other model).
    let registry = dir.path().join("registry.json");
    std::fs::write(
        &registry,
        r#"{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 5e-06, "output_cost_per_token": 1e-05}}"#,
    )
    .unwrap();
    let s = start(dir.path(), |c| {
        c.ratecard_sync = Some(tollgate_server::RatecardSync {
            source: registry.display().to_string(),
            interval: Duration::from_secs(3600),
        });
    });
    let a = workspace(&s, "a");
    let b = workspace(&s, "b");
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.store().history().is_empty() || b.store().history().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no rate card published: {:?}",
            a.ratecard_last_pull()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(a.ratecard_last_pull().unwrap().is_ok());
    assert_eq!(
        a.store().history()[0].content,
        b.store().history()[0].content
    );
    // 1,000 input tokens at $5/M = 1000 × 0.0005 = 0.5 cents (it was 0.25 on the embedded card).
    let r = post(
        &format!("{}/api/track", s.url()),
        Some(&k),
        br#"{"customerId":"c","provider":"openai","model":"gpt-4o","tokensIn":1000,"idempotencyKey":"x"}"#,
    );
    assert_eq!(r.json()["costCents"], "0.5", "{}", r.body);
}
