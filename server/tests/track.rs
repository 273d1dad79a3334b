//! `POST /api/track` end to end over real TCP: the SDK's body in, the ledger's cents out,
//! durable across a restart.

mod common;
use common::*;
use tollgate_server::keys::Scope;

#[test]
fn healthz_answers() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), |_| {});
    let r = get(&format!("{}/healthz", s.url()), None);
    assert_eq!((r.status, r.body.as_str()), (200, "ok\n"));
    let r = get(&format!("{}/nope", s.url()), None);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "not_found");
}

#[test]
fn track_books_exact_provider_cost_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "acme", Scope::Ingest);
    let s = start(dir.path(), |_| {});
    // A float as Python's json.dumps writes 0.1 + 0.2: the text is the amount.
    let body = br#"{"customerId":"c1","runId":"r1","provider":"openai","model":"gpt-4o",
        "tokensIn":10,"tokensOut":5,"providerCostCents":0.30000000000000004,
        "idempotencyKey":"evt-1","ts":"2026-03-01T10:00:00Z"}"#;
    let r = post(&format!("{}/api/track", s.url()), Some(&k), body);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "accepted");
    assert_eq!(r.json()["costCents"], "0.30000000000000004");
    s.stop().unwrap();

    let s = start(dir.path(), |_| {});
    let ws = futures_block(s.state().workspaces(), "acme");
    let m = ws.store().ledger().customer_margin("c1").unwrap().unwrap();
    assert_eq!(m.cost_cents.to_string(), "0.30000000000000004");
    // The same event again after the restart: still one record.
    let r = post(&format!("{}/api/track", s.url()), Some(&k), body);
    assert_eq!(r.json()["status"], "duplicate", "{}", r.body);
    let m = ws.store().ledger().customer_margin("c1").unwrap().unwrap();
    assert_eq!(m.cost_cents.to_string(), "0.30000000000000004");
}

/// Opens a workspace from a test thread.
fn futures_block(
    w: &tollgate_server::workspace::Workspaces,
    id: &str,
) -> std::sync::Arc<tollgate_server::workspace::Workspace> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(w.get(id))
        .unwrap()
}
