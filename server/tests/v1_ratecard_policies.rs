//! The rate card (status, history, diff, overrides) and the guardrail policies (list, put,
//! retire) over real TCP, with the decisions of the product API's `/api/guard` before and
//! after. Expected values by hand: the registry file below, its SHA-256 computed here, and the
//! embedded LiteLLM 1.110.2 card's gpt-4o input price, $2.50 per million tokens.

mod v1_support;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use v1_support::{Env, start, start_with, validate};

/// A two-model registry: gpt-4o repriced to $1 per million input tokens, one new model.
const CARD: &str = r#"{"gpt-4o": {"input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06, "litellm_provider": "openai", "mode": "chat"},
 "brand-new-model": {"input_cost_per_token": 5e-07, "litellm_provider": "openai", "mode": "chat"}}"#;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Waits (at most 30 s) until the workspace's first rate-card pull has finished.
fn synced(env: &Env) -> Value {
    let t0 = Instant::now();
    loop {
        let v = env.get_ok("/v1/ratecard", &env.read);
        if !v["sync"]["last"].is_null() {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no pull finished: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn status_history_and_diff_after_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let card = dir.path().join("registry.json");
    std::fs::write(&card, CARD).unwrap();
    let source = card.display().to_string();
    let env = start_with(|c| {
        c.ratecard_sync = Some(tollgate_server::RatecardSync {
            source: source.clone(),
            interval: Duration::from_secs(3600),
        });
    });
    let status = synced(&env);
    assert_eq!(status["sync"]["source"], source.as_str());
    assert_eq!(status["sync"]["last"]["ok"], true, "{status}");
    assert_eq!(status["source"], "published");
    assert_eq!(status["content"], hex(&Sha256::digest(CARD.as_bytes())));
    assert_eq!(status["models"], 2);
    assert_eq!(status["snapshots"], 2);
    // Published just now: its age is seconds, not years.
    assert!(status["ageSeconds"].as_u64().unwrap() < 3600, "{status}");

    let h = env.get_ok("/v1/ratecard/history", &env.read);
    let snaps = h["snapshots"].as_array().unwrap();
    assert_eq!(snaps.len(), 2);
    assert_eq!(
        (
            snaps[0]["source"].as_str(),
            snaps[0]["effectiveFromMs"].as_i64(),
            snaps[0]["inForce"].as_bool()
        ),
        (Some("embedded"), Some(0), Some(false))
    );
    assert_eq!(
        (snaps[1]["source"].as_str(), snaps[1]["inForce"].as_bool()),
        (Some("published"), Some(true))
    );
    assert_eq!(snaps[1]["snapshot"], status["snapshot"]);
    let embedded_models = snaps[0]["models"].as_u64().unwrap();
    assert!(embedded_models > 4000);

    // Default diff: the snapshot before the one in force → the one in force.
    let d = env.get_ok("/v1/ratecard/diff", &env.read);
    assert_eq!(d["from"], snaps[0]["snapshot"]);
    assert_eq!(d["to"], snaps[1]["snapshot"]);
    assert_eq!(d["added"], json!(["brand-new-model"]));
    assert_eq!(d["counts"]["removed"].as_u64(), Some(embedded_models - 1)); // all but gpt-4o
    let gpt = d["repriced"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == "gpt-4o")
        .unwrap();
    let input = gpt["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "input_cost_per_token")
        .unwrap();
    assert_eq!(
        (input["oldUsd"].as_str(), input["newUsd"].as_str()),
        (Some("0.0000025"), Some("0.000001"))
    );
    // Explicit ids, both ways round.
    let back = env.get_ok(
        &format!(
            "/v1/ratecard/diff?from={}&to={}",
            snaps[1]["snapshot"].as_str().unwrap(),
            snaps[0]["snapshot"].as_str().unwrap()
        ),
        &env.read,
    );
    assert_eq!(back["removed"], json!(["brand-new-model"]));
    // Errors.
    let err = |q: &str| env.get(&format!("/v1/ratecard/diff{q}"), &env.read);
    assert_eq!(err("?from=xyz").status, 400);
    assert_eq!(err("?from=0123456789abcdef").status, 404);
    assert_eq!(
        err(&format!("?to={}", snaps[0]["snapshot"].as_str().unwrap())).status,
        400
    );
    assert_eq!(err("?since=1").status, 400);

    // The new card prices events from now: gpt-4o 1000 input tokens × $1e-6 = 0.1 cent.
    let v = env.events(
        &env.ingest,
        &[
            r#"{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":1000}"#
                .to_string(),
        ],
    );
    assert_eq!(v["results"][0]["costCents"], "0.1");
    assert_eq!(v["results"][0]["snapshot"], status["snapshot"]);
}

#[test]
fn overrides_are_journaled_and_price_events() {
    let env = start();
    let s = env.get_ok("/v1/ratecard", &env.read);
    assert_eq!(
        (
            s["source"].as_str(),
            s["content"].is_null(),
            s["overrides"].as_u64()
        ),
        (Some("embedded"), true, Some(0))
    );
    assert!(s["sync"]["source"].is_null() && s["sync"]["last"].is_null());
    let body = br#"{"model":"gpt-4o","entry":{"input_cost_per_token":2e-06,"output_cost_per_token":8e-06}}"#;
    let post = |key: &str, body: &[u8]| {
        env.call(
            "POST",
            "/v1/ratecard/overrides",
            Some(key),
            Some("application/json"),
            Some(body),
        )
    };
    for key in [&env.read, &env.ingest] {
        assert_eq!(post(key, body).status, 403);
    }
    let r = post(&env.admin, body);
    assert_eq!(r.status, 200, "{}", r.body);
    validate("post", "/v1/ratecard/overrides", 200, &r.json());
    assert_eq!(r.json()["overrides"][0]["model"], "gpt-4o");
    // 1000 input tokens × $2e-6 = 0.2 cent (the card says $2.50 per million: 0.25).
    let v = env.events(
        &env.ingest,
        &[
            r#"{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":1000}"#
                .to_string(),
        ],
    );
    assert_eq!(v["results"][0]["costCents"], "0.2");
    let listed = env.get_ok("/v1/ratecard/overrides", &env.read);
    assert_eq!(
        listed["overrides"][0]["entry"]["output_cost_per_token"],
        json!(8e-06)
    );
    assert_eq!(env.store(v1_support::WS).overrides().len(), 1);
    // A bad entry names the field; nothing changes.
    let r = post(
        &env.admin,
        br#"{"model":"gpt-4o","entry":{"input_cost_per_token":"cheap"}}"#,
    );
    assert_eq!(
        (r.status, r.code().as_str()),
        (400, "invalid_entry"),
        "{}",
        r.body
    );
    assert!(r.body.contains("input_cost_per_token"), "{}", r.body);
    assert_eq!(
        post(&env.admin, br#"{"model":"gpt-4o"}"#).code(),
        "invalid_body"
    );
    // Removal, then nothing left to remove.
    let del = |key: &str| {
        env.call(
            "DELETE",
            "/v1/ratecard/overrides/gpt-4o",
            Some(key),
            None,
            None,
        )
    };
    assert_eq!(del(&env.read).status, 403);
    let r = del(&env.admin);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["overrides"], json!([]));
    assert_eq!(del(&env.admin).status, 404);
    let v = env.events(
        &env.ingest,
        &[
            r#"{"customerId":"acme","provider":"openai","model":"gpt-4o","tokensIn":1000}"#
                .to_string(),
        ],
    );
    assert_eq!(v["results"][0]["costCents"], "0.25");
}

fn guard(env: &Env, estimate: &str) -> String {
    let body =
        format!(r#"{{"customerId":"acme","model":"gpt-4o","estimatedCostCents":{estimate}}}"#);
    let r = env.call(
        "POST",
        "/api/guard",
        Some(&env.ingest),
        Some("application/json"),
        Some(body.as_bytes()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["decision"].as_str().unwrap().to_string()
}

#[test]
fn policies_put_list_and_retire() {
    let env = start();
    let put = |key: &str, id: &str, body: &str| {
        env.call(
            "PUT",
            &format!("/v1/policies/{id}"),
            Some(key),
            Some("application/json"),
            Some(body.as_bytes()),
        )
    };
    let cap = r#"{"customerId":"acme","budget":{"cents":"100","period":"all"},"ts":"2026-01-01T00:00:00Z"}"#;
    assert_eq!(put(&env.read, "acme-cap", cap).status, 403);
    assert_eq!(put(&env.ingest, "acme-cap", cap).status, 403);
    assert_eq!(guard(&env, "101"), "allow"); // no policy yet
    let r = put(&env.admin, "acme-cap", cap);
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    validate("put", "/v1/policies/{policyId}", 200, &v);
    assert_eq!(v["status"], "accepted");
    assert_eq!(
        v["policy"]["budget"],
        json!({"cents": "100", "period": "all"})
    );
    assert_eq!(v["policy"]["effectiveFrom"], "2026-01-01T00:00:00Z");
    assert_eq!(v["policy"]["inForce"], true);
    assert_eq!(
        put(&env.admin, "acme-cap", cap).json()["status"],
        "duplicate"
    );
    // The budget decides: 100 fits exactly, 101 does not.
    assert_eq!(guard(&env, "100"), "allow");
    assert_eq!(guard(&env, "101"), "block");
    // Amounts keep their decimal text (no float on the way).
    let r = put(
        &env.admin,
        "precise",
        r#"{"customerId":"other","maxRunCostCents":12.345678901234567890123}"#,
    );
    assert_eq!(
        r.json()["policy"]["maxRunCostCents"],
        "12.345678901234567890123",
        "{}",
        r.body
    );
    // Bad policies name the field and change nothing.
    let bad = |id: &str, body: &str| {
        let r = put(&env.admin, id, body);
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "invalid_policy"),
            "{body}: {}",
            r.body
        );
        r.json()["error"]["message"].as_str().unwrap().to_string()
    };
    assert!(
        bad(
            "acme-cap",
            r#"{"customerId":"acme","budget":{"cents":"-1","period":"all"}}"#
        )
        .contains("budget.cents")
    );
    assert!(
        bad(
            "acme-cap",
            r#"{"customerId":"acme","budget":{"cents":"1","period":"year"}}"#
        )
        .contains("budget.period")
    );
    assert!(bad("acme-cap", r#"{"policyId":"other-id","customerId":"acme"}"#).contains("policyId"));
    assert!(bad("acme-cap", r#"{"type":"policy","customerId":"acme"}"#).contains("type"));
    assert!(bad("acme-cap", r#"{"customerId":"acme","retired":true}"#).contains("DELETE"));
    assert!(bad("acme-cap", r#"[1]"#).contains("object"));
    assert_eq!(guard(&env, "101"), "block");

    let list = env.get_ok("/v1/policies", &env.read);
    let ids: Vec<&str> = list["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["policyId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["acme-cap", "precise"]);

    // Retire: the customer has no policy any more.
    let del = |key: &str, id: &str| {
        env.call(
            "DELETE",
            &format!("/v1/policies/{id}"),
            Some(key),
            None,
            None,
        )
    };
    assert_eq!(del(&env.read, "acme-cap").status, 403);
    let r = del(&env.admin, "acme-cap");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    validate("delete", "/v1/policies/{policyId}", 200, &v);
    assert_eq!(
        (v["status"].as_str(), v["policy"]["retired"].as_bool()),
        (Some("accepted"), Some(true))
    );
    assert_eq!(guard(&env, "101"), "allow");
    assert_eq!(del(&env.admin, "acme-cap").code(), "not_found");
    let list = env.get_ok("/v1/policies", &env.read);
    let acme: Vec<&Value> = list["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["customerId"] == "acme")
        .collect();
    assert_eq!(acme.len(), 2);
    assert!(acme.iter().all(|p| p["inForce"] == false));
    // Journaled: the ledger of the store holds the retirement too.
    let store = env.store(v1_support::WS);
    assert!(store.ledger().policy_for("acme", i64::MAX / 2).is_none());
    // A new policy after the retirement decides again.
    assert_eq!(
        put(
            &env.admin,
            "acme-2",
            r#"{"customerId":"acme","budget":{"cents":"5","period":"all"}}"#
        )
        .status,
        200
    );
    assert_eq!(guard(&env, "6"), "block");
}
