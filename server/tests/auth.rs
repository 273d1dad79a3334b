//! Auth and isolation over real TCP: no key, a wrong key, a revoked key, another workspace's
//! key, a read key writing → 401/403 and the ledgers unchanged; keys are never stored or
//! logged; a key sees only its own workspace.

mod common;
use common::*;
use std::sync::{Arc, Mutex};
use tollgate_server::LogSink;
use tollgate_server::keys::{KeyStore, Scope};

const EVENT: &[u8] = br#"{"customerId":"c1","provider":"openai","model":"gpt-4o","providerCostCents":7,"idempotencyKey":"e1","ts":"2026-03-01T10:00:00Z"}"#;

/// Everything the workspace's ledger holds, as the report JSON (the before/after check).
fn ledger_of(s: &tollgate_server::Server, ws: &str) -> String {
    let w = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(s.state().workspaces().get(ws))
        .unwrap();
    let report = w.store().ledger().report(None, None).unwrap();
    let counts = tollgate_engine::ledger::IngestCounts::default();
    format!(
        "{} {:?}",
        report.to_json(&counts),
        w.store().ledger().dedupe_stats()
    )
}

#[test]
fn auth_matrix_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let acme_ingest = key(dir.path(), "acme", Scope::Ingest);
    let acme_read = key(dir.path(), "acme", Scope::Read);
    let other_ingest = key(dir.path(), "other", Scope::Ingest);
    let revoked = KeyStore::create(dir.path(), "acme", Scope::Ingest, None).unwrap();
    assert!(KeyStore::revoke(dir.path(), &revoked.entry.id).unwrap());
    let s = start(dir.path(), |_| {});
    let url = format!("{}/api/track", s.url());
    let before_acme = ledger_of(&s, "acme");
    let before_other = ledger_of(&s, "other");

    // A wrong key shaped like a real one: acme's id with another secret.
    let wrong = format!("{}{}", &acme_ingest[..17], "0".repeat(64));
    let cases: Vec<(&str, Option<&str>, u16, &str)> = vec![
        ("no key", None, 401, "unauthorized"),
        ("not a key", Some("hello"), 401, "unauthorized"),
        ("wrong secret", Some(&wrong), 401, "unauthorized"),
        ("revoked", Some(&revoked.secret), 401, "unauthorized"),
        ("read key writing", Some(&acme_read), 403, "forbidden"),
    ];
    for (what, k, status, code) in cases {
        let r = post(&url, k, EVENT);
        assert_eq!(r.status, status, "{what}: {}", r.body);
        assert_eq!(r.json()["error"]["code"], code, "{what}");
        assert!(
            !r.body.contains(&acme_ingest[17..]),
            "{what}: a key in a response"
        );
    }
    for path in ["/api/sdk/customer", "/api/guard"] {
        let r = post(
            &format!("{}{path}", s.url()),
            None,
            br#"{"customerId":"c1"}"#,
        );
        assert_eq!(r.status, 401, "{path}");
    }
    let r = post(
        &format!("{}/api/sdk/customer", s.url()),
        Some(&acme_read),
        br#"{"customerId":"c1"}"#,
    );
    assert_eq!(r.status, 403);
    assert_eq!(ledger_of(&s, "acme"), before_acme, "acme changed");

    // Another workspace's key writes to its own workspace only.
    let r = post(&url, Some(&other_ingest), EVENT);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        ledger_of(&s, "acme"),
        before_acme,
        "acme changed by other's key"
    );
    assert_ne!(ledger_of(&s, "other"), before_other);

    // Reads are isolated too: a policy of acme's is seen by acme's keys only.
    let acme = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let w = s.state().workspaces().get("acme").await.unwrap();
            w.ingest(br#"{"type":"policy","policyId":"acme-p","customerId":"c1","budget":{"cents":"10","period":"month"}}"#.to_vec())
                .await
                .unwrap()
        });
    assert!(matches!(
        acme,
        tollgate_engine::ledger::IngestResult::Accepted(_)
    ));
    let before_acme = ledger_of(&s, "acme");
    let guard = |k: &str| {
        post(
            &format!("{}/api/guard", s.url()),
            Some(k),
            br#"{"customerId":"c1"}"#,
        )
        .json()
    };
    assert_eq!(guard(&acme_ingest)["policyId"], "acme-p");
    assert_eq!(guard(&other_ingest)["reason"], "no_policy");
    assert_eq!(guard(&other_ingest)["policyId"], serde_json::Value::Null);

    // The guard answers a read key (it changes nothing) and changes nothing.
    let g = post(
        &format!("{}/api/guard", s.url()),
        Some(&acme_read),
        br#"{"customerId":"c1"}"#,
    );
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(ledger_of(&s, "acme"), before_acme);
}

#[test]
fn revocation_applies_to_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let k = KeyStore::create(dir.path(), "acme", Scope::Ingest, None).unwrap();
    let s = start(dir.path(), |_| {});
    let url = format!("{}/api/track", s.url());
    assert_eq!(post(&url, Some(&k.secret), EVENT).status, 200);
    KeyStore::revoke(dir.path(), &k.entry.id).unwrap();
    // The server looks at the keys file at most once a second: poll, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = post(&url, Some(&k.secret), EVENT);
        if r.status == 401 {
            break;
        }
        assert_eq!(r.status, 200);
        assert!(
            std::time::Instant::now() < deadline,
            "revocation never applied"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // A key created while it runs works too.
    let k2 = key(dir.path(), "acme", Scope::Ingest);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while post(&url, Some(&k2), EVENT).status != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "new key never accepted"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn keys_and_bodies_never_reach_disk_or_log() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "acme", Scope::Ingest);
    let bad = KeyStore::create(dir.path(), "acme", Scope::Ingest, None).unwrap();
    KeyStore::revoke(dir.path(), &bad.entry.id).unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let s = start(dir.path(), |c| {
        c.log = LogSink::new(move |l| sink.lock().unwrap().push(l.to_string()));
    });
    let marker = "BODY-MARKER-5f1c";
    let body = format!(
        r#"{{"customerId":"{marker}","provider":"openai","model":"gpt-4o","providerCostCents":1,"idempotencyKey":"{marker}"}}"#
    );
    let url = format!("{}/api/track", s.url());
    assert_eq!(post(&url, Some(&k), body.as_bytes()).status, 200);
    assert_eq!(post(&url, Some(&bad.secret), body.as_bytes()).status, 401);
    assert_eq!(
        post(&url, Some(&k), format!("{{\"{marker}\":1}}").as_bytes()).status,
        400
    );
    let bogus = format!("tgk_{marker}");
    assert_eq!(post(&url, Some(&bogus), body.as_bytes()).status, 401);
    s.stop().unwrap();

    let log = lines.lock().unwrap().join("\n");
    assert!(
        log.contains("POST /api/track 200"),
        "the log has request lines: {log}"
    );
    for secret in [&k, &bad.secret, &bogus] {
        assert!(!log.contains(secret.as_str()), "a key in the log");
        assert!(!log.contains(&secret[4..]), "part of a key in the log");
    }
    assert!(!log.contains(marker), "a request body in the log: {log}");

    // No file of the data directory holds a secret (the keys file holds hashes).
    let secrets: Vec<&str> = vec![&k[17..], &bad.secret[17..]];
    let mut files = 0;
    let mut stack = vec![dir.path().to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            files += 1;
            let bytes = std::fs::read(&p).unwrap();
            for s in &secrets {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{} holds a key secret",
                    p.display()
                );
            }
        }
    }
    assert!(files >= 3, "the scan saw the keys file and the store");
}
