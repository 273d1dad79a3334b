//! Load: the real load tool (`wrk`, with `tests/load/track.lua`) against the release
//! `tollgate serve` on 127.0.0.1, `POST /api/track` in the tollgateai dialect, every request a
//! new idempotency key, `sync` durability (every 200 is fsync'ed). Prints throughput, latency
//! percentiles, the disk's fsync latency, the server's memory and the recovery time of the
//! journal it wrote; asserts only facts (no status or socket errors; every answered request is
//! in the ledger once), never times.
//!
//! `TOLLGATE_SERVER_BIN=$PWD/target/release/tollgate cargo test -p tollgate-server --test
//! load_track -- --nocapture`. Knobs: `TOLLGATE_LOAD_SECS` (measured seconds, default 10, at
//! most 120), `TOLLGATE_LOAD_CONNS` (connections, default 64), `TOLLGATE_LOAD_THREADS` (wrk
//! threads, default 2).

mod load;

use load::*;
use std::time::Instant;
use tollgate_engine::store::{Store, StoreOptions};

fn knob(name: &str, default: u32, max: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
        .clamp(1, max)
}

#[test]
fn track_under_load() {
    let Some(bin) = server_bin("load_track") else {
        return;
    };
    let secs = knob("TOLLGATE_LOAD_SECS", 10, 120);
    let conns = knob("TOLLGATE_LOAD_CONNS", 64, 1024);
    let threads = knob("TOLLGATE_LOAD_THREADS", 2, 16);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = create_key(&bin, &data, "load", "ingest");

    let (f50, f99, fmax) = fsync_latency(&data, 500, 4096);
    println!(
        "fsync (fdatasync after a 4 KiB append, 500 samples, in the data directory): p50 {f50} µs, p99 {f99} µs, max {fmax} µs"
    );

    let log = tmp.path().join("server.log");
    let mut server = Server::start(&bin, &data, &log, &[]);
    let rss_idle = server.rss_kib();
    // Warm-up (first requests open the workspace and its store), not counted in the figures.
    let warm = wrk(server.addr, &key, "warm", threads, conns, 2);
    assert_eq!(warm.status_errors, 0, "warm-up: non-2xx answers: {warm:?}");
    let load_before = loadavg();
    let cpu_before = cpu_seconds(server.pid());
    let r = wrk(server.addr, &key, "run", threads, conns, secs);
    let cpu = cpu_seconds(server.pid()) - cpu_before;
    let load_after = loadavg();
    let rss_loaded = server.rss_kib();
    println!(
        "load: wrk -t{threads} -c{conns} -d{secs}s POST /api/track (sync durability): {} requests, {:.0} requests/s; \
         latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms; \
         non-2xx {}, socket errors {}",
        r.requests,
        r.per_second(),
        r.p50_us as f64 / 1e3,
        r.p90_us as f64 / 1e3,
        r.p99_us as f64 / 1e3,
        r.p999_us as f64 / 1e3,
        r.max_us as f64 / 1e3,
        r.status_errors,
        r.socket_errors
    );
    println!(
        "load: the server used {cpu:.1} CPU-seconds in {secs} s: {:.1} µs of CPU per request \
         (all its threads: HTTP, parsing, pricing, journal, fsync wait excluded)",
        cpu * 1e6 / r.requests.max(1) as f64
    );
    println!(
        "load: /proc/loadavg before {load_before}, after {load_after} (a shared 2-core machine: server and wrk share it); \
         server VmRSS idle {rss_idle} KiB, after the run {rss_loaded} KiB"
    );
    assert_eq!(r.status_errors, 0, "non-2xx answers under load: {r:?}");
    assert_eq!(r.socket_errors, 0, "socket errors under load: {r:?}");
    assert!(r.requests > 0);

    // A crash right after the load: the journal holds every answered request; recovery time
    // is the replay of that journal (no checkpoint was written).
    server.kill9();
    // The release server recovers the workspace when its first request arrives: the time from
    // that request to its answer is the replay of the whole journal (no checkpoint was written).
    let mut server = Server::start(&bin, &data, &log, &[]);
    let t = Instant::now();
    let (status, _) = request_once(
        server.addr,
        "POST",
        "/api/track",
        Some(&key),
        br#"{"customerId":"after","provider":"openai","model":"gpt-4o","tokensIn":1,"idempotencyKey":"after-restart"}"#,
    )
    .unwrap();
    let took = t.elapsed();
    assert_eq!(status, 200);
    server.kill9();
    let store = Store::open(
        data.join("workspaces").join("load"),
        StoreOptions::default(),
    )
    .unwrap_or_else(|e| panic!("recovery failed: {e}"));
    let rec = store.recovery().clone();
    let per_million = took.as_secs_f64() * 1e6 / rec.records.max(1) as f64;
    println!(
        "recovery after kill -9: the restarted server answered its first request after replaying {} journal records in {:.2} s ({per_million:.1} s per million records)",
        rec.records,
        took.as_secs_f64()
    );
    // Every answered request is there once: the ledger counts at least the 200s, and at most
    // those plus the requests in flight when wrk stopped (one per connection per run).
    let events: u64 = store
        .ledger()
        .report(None, None)
        .unwrap()
        .customers
        .iter()
        .map(|(_, m)| m.events)
        .sum();
    // (+1: the request after the restart.)
    let answered = warm.requests + r.requests + 1;
    assert!(
        events >= answered && events <= answered + 2 * u64::from(conns),
        "ledger holds {events} events; wrk had {answered} answered, {conns} connections"
    );
}
