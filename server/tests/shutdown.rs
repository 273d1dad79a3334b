//! Graceful shutdown under load: stop while clients are sending; every request answered 200
//! is in the ledger after a restart, and the stores were checkpointed.

mod common;
use common::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tollgate_server::keys::Scope;

#[test]
fn stop_drains_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let k = key(dir.path(), "acme", Scope::Ingest);
    let s = start(dir.path(), |_| {});
    let url = format!("{}/api/track", s.url());
    let ok = Arc::new(AtomicU64::new(0));
    let go = Arc::new(AtomicBool::new(true));
    const THREADS: u64 = 4;
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (url, k, ok, go) = (url.clone(), k.clone(), ok.clone(), go.clone());
            std::thread::spawn(move || {
                // Bounded: at most 2,000 requests or 20 s per thread.
                let t0 = Instant::now();
                for i in 0..2_000 {
                    if !go.load(Ordering::Relaxed) || t0.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                    let body = format!(
                        r#"{{"customerId":"c","provider":"openai","model":"gpt-4o","providerCostCents":1,"idempotencyKey":"t{t}-{i}"}}"#
                    );
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    match agent
                        .post(&url)
                        .header("Authorization", &format!("Bearer {k}"))
                        .send(body.as_bytes())
                    {
                        Ok(r) if r.status() == 200 => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => panic!("status {}", r.status()),
                        Err(_) => break, // the server stopped accepting
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ok.load(Ordering::SeqCst) < 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    s.stop().unwrap();
    go.store(false, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let answered = ok.load(Ordering::SeqCst);
    assert!(
        answered >= 50,
        "only {answered} requests answered before the stop"
    );
    let ws_dir = dir.path().join("workspaces/acme");
    let checkpoints = std::fs::read_dir(&ws_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("checkpoint-"))
        .count();
    assert!(checkpoints >= 1, "no checkpoint written at shutdown");

    let s = start(dir.path(), |_| {});
    let w = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(s.state().workspaces().get("acme"))
        .unwrap();
    // Each accepted event costs 1 cent: every 200 is booked; at most one request per client
    // thread was in flight when the listener closed.
    let cost: u64 = w
        .store()
        .ledger()
        .customer_margin("c")
        .unwrap()
        .unwrap()
        .cost_cents
        .to_string()
        .parse()
        .unwrap();
    assert!(
        cost >= answered && cost <= answered + THREADS,
        "{cost} booked, {answered} answered 200"
    );
}
