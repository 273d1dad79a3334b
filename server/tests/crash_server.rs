//! Real crashes of the real server: the release `tollgate serve` takes `POST /api/track` from
//! `wrk` (background load) and from a driver that logs every idempotency key it sends and the
//! status it got back; the server is killed with SIGKILL at a seeded random moment and
//! restarted on the same data directory, again and again. After every kill the workspace's
//! journal must hold every request that was answered 200, each exactly once, nothing that was
//! never sent, and its cost must equal the hand-computed sum of the records present. At the
//! end the data directory is served once more, stopped gracefully (SIGTERM), and its margins
//! must equal a clean replay: a fresh server fed exactly the records present.
//!
//! `TOLLGATE_SERVER_BIN=$PWD/target/release/tollgate cargo test -p tollgate-server --test
//! crash_server -- --nocapture`. Seeded: `TOLLGATE_SERVER_CRASH_SEED=N` repeats a run (the seed
//! is printed); `TOLLGATE_SERVER_CRASH_KILLS` sets the number of kills (default 12; the server
//! is the release binary whatever the test is built as). Bounded: 150 s for the kills, then the final check.

mod load;

use load::*;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tollgate_engine::engine::Engine;
use tollgate_engine::ledger::{Clock, IngestResult, Ledger};
use tollgate_engine::money::Cents;
use tollgate_engine::store::{Store, StoreOptions};

const WORKSPACE: &str = "crash";
const DRIVERS: u64 = 4;
const KILLS_PER_DIR: u64 = 6;
const BUDGET: Duration = Duration::from_secs(150);
const CUSTOMERS: u64 = 3;

/// The key encodes everything: `g<generation>-<thread>-<n>`; customer, cost and revenue follow
/// from `n`, so a record can be rebuilt from its key alone.
fn parts(key: &str) -> u64 {
    key.rsplit('-').next().unwrap().parse().unwrap()
}

fn customer(key: &str) -> String {
    format!("crash-c{}", parts(key) % CUSTOMERS)
}

/// The provider-stated cost in tenths of a cent (sent as a JSON float, as the SDK does).
fn cost_tenths(key: &str) -> u64 {
    let n = parts(key);
    (1 + n % 7) * 10 + n % 10
}

/// The tollgateai `track` body of a key.
fn body(key: &str) -> String {
    let n = parts(key);
    let t = cost_tenths(key);
    format!(
        r#"{{"customerId":"{}","agentId":"driver","runId":"run-{}","provider":"openai","model":"gpt-4o","tokensIn":{},"tokensOut":{},"providerCostCents":{}.{},"revenueUnitCents":{},"idempotencyKey":"{key}"}}"#,
        customer(key),
        n % 11,
        100 + n % 50,
        20 + n % 9,
        t / 10,
        t % 10,
        3 + n % 5
    )
}

/// Our own event format for a key, to probe a recovered ledger: re-ingesting a key that is
/// present is a duplicate (or a conflict if the server's mapping differs in a field the
/// ledger compares); a key that is absent is accepted.
fn probe_line(key: &str) -> String {
    let t = cost_tenths(key);
    format!(
        r#"{{"customerId":"{}","provider":"openai","model":"gpt-4o","providerCostCents":"{}.{}","idempotencyKey":"{key}"}}"#,
        customer(key),
        t / 10,
        t % 10
    )
}

#[derive(Default)]
struct Log {
    submitted: HashSet<String>,
    acked: Vec<String>,
    /// Answers other than 200 (status, key): must be none in these runs.
    other: Vec<(u16, String)>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

/// Sends tracks until `stop`, logging each key before it is sent and each answer.
fn drive(
    url: String,
    key: String,
    generation: u64,
    t: u64,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Log>>,
) {
    let agent = agent();
    let bearer = format!("Bearer {key}");
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let k = format!("g{generation}-{t}-{n}");
        log.lock().unwrap().submitted.insert(k.clone());
        let r = agent
            .post(&url)
            .header("Authorization", &bearer)
            .header("Content-Type", "application/json")
            .send(body(&k).as_bytes());
        match r {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let _ = resp.body_mut().read_to_vec();
                let mut l = log.lock().unwrap();
                if status == 200 {
                    l.acked.push(k);
                } else {
                    l.other.push((status, k));
                }
            }
            // Refused or cut by the kill: unknown, may or may not be on disk.
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Opens the workspace's store (recovery, as the server's restart does) and checks it against
/// everything sent so far. Returns the keys present.
fn verify(
    ws: &Path,
    submitted: &HashSet<String>,
    acked: &[String],
    before: &HashSet<String>,
) -> HashSet<String> {
    let store = Store::open(ws, StoreOptions::default())
        .unwrap_or_else(|e| panic!("recovery of {} failed: {e}", ws.display()));
    let probe = Ledger::restore(&store.ledger().state_bytes(), Clock::System).unwrap();
    let engine = Engine::embedded();
    let mut present = HashSet::new();
    for k in submitted {
        match probe.ingest_json(&engine, probe_line(k).as_bytes()) {
            IngestResult::Duplicate | IngestResult::Conflict { .. } => {
                present.insert(k.clone());
            }
            IngestResult::Accepted(_) => {}
            other => panic!("{k}: {other:?}"),
        }
    }
    for k in acked {
        assert!(
            present.contains(k),
            "request {k} was answered 200 and is lost"
        );
    }
    for k in before {
        assert!(
            present.contains(k),
            "record {k} was present before and is lost now"
        );
    }
    // Exactly once, and nothing else: per customer, the ledger counts as many events as keys
    // are present and its cost is the hand sum of theirs.
    let mut want: HashMap<String, (u64, u64)> = HashMap::new();
    for k in &present {
        let e = want.entry(customer(k)).or_default();
        e.0 += 1;
        e.1 += cost_tenths(k);
    }
    for c in 0..CUSTOMERS {
        let id = format!("crash-c{c}");
        let (events, tenths) = want.get(&id).copied().unwrap_or_default();
        match store.ledger().customer_margin(&id) {
            None => assert_eq!(
                events, 0,
                "{id}: no customer in the ledger, {events} keys present"
            ),
            Some(m) => {
                let m = m.unwrap();
                assert_eq!(m.events, events, "{id}: events vs keys present");
                let cost: Cents = format!("{}.{}", tenths / 10, tenths % 10).parse().unwrap();
                assert_eq!(
                    m.cost_cents, cost,
                    "{id}: cost vs the sum of the keys present"
                );
            }
        }
    }
    present
}

#[test]
fn kill9_during_load_loses_no_answered_request() {
    let Some(bin) = server_bin("crash_server") else {
        return;
    };
    let seed = seed("TOLLGATE_SERVER_CRASH_SEED");
    let kills: u64 = std::env::var("TOLLGATE_SERVER_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    println!(
        "server crash test: seed {seed} (TOLLGATE_SERVER_CRASH_SEED={seed} repeats it), {kills} kills; /proc/loadavg {}",
        loadavg()
    );
    let mut rng = Rng(seed);
    let start = Instant::now();
    let mut done = 0u64;
    let mut generation = 0u64;
    let mut acked_total = 0usize;
    let mut last: Option<(tempfile::TempDir, String, HashSet<String>)> = None;
    while done < kills && start.elapsed() < BUDGET {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let key = create_key(&bin, &data, WORKSPACE, "ingest");
        let ws = data.join("workspaces").join(WORKSPACE);
        let log_path = tmp.path().join("server.log");
        let mut submitted = HashSet::new();
        let mut present = HashSet::new();
        for _ in 0..KILLS_PER_DIR {
            if done >= kills || start.elapsed() >= BUDGET {
                break;
            }
            generation += 1;
            let server = Server::start(&bin, &data, &log_path, &[]);
            let url = format!("http://{}/api/track", server.addr);
            // Background load from the real load tool, its own keys and customers.
            let mut wrk = wrk_command(server.addr, &key, &format!("bg{generation}"), 1, 16, 30)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("wrk on PATH");
            let stop = Arc::new(AtomicBool::new(false));
            let log = Arc::new(Mutex::new(Log::default()));
            let drivers: Vec<_> = (0..DRIVERS)
                .map(|t| {
                    let (url, key, stop, log) =
                        (url.clone(), key.clone(), stop.clone(), log.clone());
                    std::thread::spawn(move || drive(url, key, generation, t, stop, log))
                })
                .collect();
            // The workspace opens on its first request: the kill comes a seeded random time
            // after the first answer (0–1.5 s of load).
            let t0 = Instant::now();
            while log.lock().unwrap().acked.is_empty() {
                assert!(
                    t0.elapsed() < Duration::from_secs(30),
                    "no answer within 30 s: {}",
                    server.log_tail()
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            let wait = rng.below(1500);
            std::thread::sleep(Duration::from_millis(wait));
            let mut server = server;
            server.kill9();
            stop.store(true, Ordering::Relaxed);
            for d in drivers {
                d.join().unwrap();
            }
            let _ = wrk.kill();
            let _ = wrk.wait();
            let log = std::mem::take(&mut *log.lock().unwrap());
            assert!(
                log.other.is_empty(),
                "answers other than 200: {:?}",
                &log.other[..log.other.len().min(5)]
            );
            submitted.extend(log.submitted.iter().cloned());
            let now = verify(&ws, &submitted, &log.acked, &present);
            println!(
                "kill {}: {wait} ms after the first answer; {} sent by the driver, {} answered 200, {} present after recovery ({} in all)",
                done + 1,
                log.submitted.len(),
                log.acked.len(),
                now.len() - present.len(),
                now.len()
            );
            assert!(
                !log.acked.is_empty(),
                "kill {}: no request was answered before the kill",
                done + 1
            );
            acked_total += log.acked.len();
            present = now;
            done += 1;
        }
        last = Some((tmp, key, present));
    }
    let (tmp, key, present) = last.unwrap();
    let data = tmp.path().join("data");
    let ws = data.join("workspaces").join(WORKSPACE);
    // The crashed directory serves again and shuts down cleanly.
    let mut server = Server::start(&bin, &data, &tmp.path().join("server.log"), &[]);
    let (status, _) = request_once(
        server.addr,
        "POST",
        "/api/track",
        Some(&key),
        body("final-0-1").as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 200);
    assert!(
        server.terminate(Duration::from_secs(60)),
        "graceful shutdown failed: {}",
        server.log_tail()
    );
    let mut all: HashSet<String> = present.clone();
    all.insert("final-0-1".into());
    let present = verify(&ws, &all, &["final-0-1".to_string()], &present);

    // Clean replay: a fresh server fed exactly the records present, in key order.
    let clean_tmp = tempfile::tempdir().unwrap();
    let clean = clean_tmp.path().join("data");
    std::fs::create_dir_all(&clean).unwrap();
    let clean_key = create_key(&bin, &clean, WORKSPACE, "ingest");
    let mut server = Server::start(&bin, &clean, &clean_tmp.path().join("server.log"), &[]);
    let mut conn = Conn::open(server.addr, Duration::from_secs(10)).unwrap();
    let mut keys: Vec<&String> = present.iter().collect();
    keys.sort();
    for k in &keys {
        let (status, b) = conn
            .request("POST", "/api/track", Some(&clean_key), body(k).as_bytes())
            .unwrap();
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&b));
    }
    assert!(
        server.terminate(Duration::from_secs(60)),
        "{}",
        server.log_tail()
    );
    let crashed = Store::open(&ws, StoreOptions::default()).unwrap();
    let replayed = Store::open(
        clean.join("workspaces").join(WORKSPACE),
        StoreOptions::default(),
    )
    .unwrap();
    for c in 0..CUSTOMERS {
        let id = format!("crash-c{c}");
        let a = crashed.ledger().customer_margin(&id).map(Result::unwrap);
        let b = replayed.ledger().customer_margin(&id).map(Result::unwrap);
        assert_eq!(
            a, b,
            "{id}: the crashed directory vs a clean replay of its records"
        );
    }
    println!(
        "server crash test: {done} kills in {:.1} s, {acked_total} requests answered 200 before a kill, all present exactly once; \
         margins equal a clean replay of the {} records present; /proc/loadavg {}",
        start.elapsed().as_secs_f64(),
        keys.len(),
        loadavg()
    );
    if done < kills {
        println!("server crash test: the time budget ended the campaign after {done} kills");
    }
}
