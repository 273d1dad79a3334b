//! Slow and half-open clients against the release `tollgate serve`: connections that open and
//! never send, that send their request head or body one byte at a time, and that pipeline
//! thousands of requests and never read an answer. The server must time every one of them out
//! (its open sockets fall back to where they were), its resident memory must stay bounded
//! while they hold on and not grow from one wave to the next, and a well-behaved client must
//! keep being answered 200 meanwhile.
//!
//! `TOLLGATE_SERVER_BIN=$PWD/target/release/tollgate cargo test -p tollgate-server --test
//! slow_clients -- --nocapture`. Bounded: three waves, each given at most 120 s to be timed out (about 32 s each: the
//! 30 s write and request timeouts).

mod load;

use load::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const IDLE: usize = 200;
const SLOW_HEAD: usize = 200;
const SLOW_BODY: usize = 100;
const NO_READ: usize = 20;
/// Pipelined requests each never-reading client sends (as far as the server takes them): the
/// answers to them are far more than the socket buffers hold (the client's receive buffer
/// is set to 4 KiB), so the server's writes stall.
const NO_READ_REQUESTS: usize = 4_000;
/// How long a wave may take to be timed out completely.
const WAVE_LIMIT: Duration = Duration::from_secs(120);
/// Memory the server may gain over where it started, while a wave of 520 misbehaving
/// connections is open and after it (measured: +65–96 MiB at the peaks of four runs; what a
/// wave leaves behind is freed memory the allocator keeps in its per-thread arenas, which rose
/// over three waves in one run, 86 → 104 → 133 MiB, and levelled off in another, 100 → 121 →
/// 111 → 117 MiB, so the bound is absolute, not wave to wave).
const RSS_BOUND_KIB: u64 = 160 * 1024;
/// Waves, one after the other.
const WAVES: usize = 3;

/// Sockets the server process holds open.
fn sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| {
                    std::fs::read_link(e.path())
                        .map(|l| l.to_string_lossy().starts_with("socket:"))
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0)
}

/// The server's TCP connections, for a failure message: `peer-port state tx-queue rx-queue`
/// (from `/proc/net/tcp`, matched by the socket inodes the process holds).
fn server_conns(pid: u32) -> Vec<String> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            l.to_string_lossy()
                .strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .map(str::to_string)
        })
        .collect();
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 9 && inodes.contains(f[9])).then(|| {
                let port = |a: &str| {
                    u16::from_str_radix(a.rsplit(':').next().unwrap_or("0"), 16).unwrap_or(0)
                };
                format!("peer {} state {} queues {}", port(f[2]), f[3], f[4])
            })
        })
        .collect()
}

/// Is the server's end of `s` closed? (Reads whatever it sent, e.g. a 408, without blocking.)
fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return true,
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    s.set_nonblocking(true).unwrap();
    s
}

/// A connection whose receive buffer is 4 KiB (set before connecting, so the window stays
/// small): a client that does not read blocks the server's writes after a few answers.
fn small_window(addr: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.connect_timeout(&addr.into(), Duration::from_secs(5))
        .unwrap();
    let s: TcpStream = s.into();
    s.set_nonblocking(true).unwrap();
    s
}

struct Wave {
    timed_out_s: f64,
    rss_peak_kib: u64,
    sockets_peak: usize,
}

/// Opens every kind of misbehaving connection, keeps the slow ones trickling, and waits until
/// the server has closed all of them (or `WAVE_LIMIT`).
fn wave(server: &Server, key: &str, base_sockets: usize) -> Wave {
    let addr = server.addr;
    let start = Instant::now();
    let mut idle: Vec<TcpStream> = (0..IDLE).map(|_| connect(addr)).collect();
    let head = format!(
        "POST /api/track HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nX-Padding: {}\r\nContent-Length: 2\r\n\r\n{{}}",
        "p".repeat(200)
    )
    .into_bytes();
    let mut slow_head: Vec<(TcpStream, usize)> =
        (0..SLOW_HEAD).map(|_| (connect(addr), 0)).collect();
    let body_head = format!(
        "POST /api/track HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    );
    let mut slow_body: Vec<(TcpStream, usize)> = (0..SLOW_BODY)
        .map(|_| {
            let mut s = connect(addr);
            s.write_all(body_head.as_bytes()).unwrap();
            (s, 0)
        })
        .collect();
    // Thousands of pipelined requests, written as far as the server reads them; never read.
    // One key: after the first they are duplicates, so the ledger does not grow with them.
    let one = |_: usize| {
        let b = r#"{"customerId":"noread","provider":"openai","model":"gpt-4o","tokensIn":10,"idempotencyKey":"nr-1"}"#;
        format!(
            "POST /api/track HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
    };
    let pipelined: Vec<u8> = (0..NO_READ_REQUESTS)
        .flat_map(|i| one(i).into_bytes())
        .collect();
    let mut no_read: Vec<(TcpStream, usize)> =
        (0..NO_READ).map(|_| (small_window(addr), 0)).collect();

    let mut rss_peak = 0;
    let mut sockets_peak = 0;
    loop {
        // One byte to each slow connection per tick.
        for (s, pos) in slow_head.iter_mut().chain(slow_body.iter_mut()) {
            let _ = s.write(&[if *pos < head.len() { head[*pos] } else { b' ' }]);
            *pos += 1;
        }
        for (s, pos) in no_read.iter_mut() {
            if *pos < pipelined.len()
                && let Ok(n) = s.write(&pipelined[*pos..])
            {
                *pos += n;
            }
        }
        rss_peak = rss_peak.max(server.rss_kib());
        sockets_peak = sockets_peak.max(sockets(server.pid()));
        idle.retain_mut(|s| !closed(s));
        slow_head.retain_mut(|(s, _)| !closed(s));
        slow_body.retain_mut(|(s, _)| !closed(s));
        let open_server_side = sockets(server.pid()).saturating_sub(base_sockets);
        if idle.is_empty() && slow_head.is_empty() && slow_body.is_empty() && open_server_side == 0
        {
            break;
        }
        assert!(
            start.elapsed() < WAVE_LIMIT,
            "after {WAVE_LIMIT:?} still open: {} idle, {} slow-head, {} slow-body (client side); {open_server_side} extra server sockets; \
             never-reading clients on ports {:?}; the server's connections: {:?}",
            idle.len(),
            slow_head.len(),
            slow_body.len(),
            no_read
                .iter()
                .map(|(s, _)| s.local_addr().unwrap().port())
                .collect::<Vec<_>>(),
            server_conns(server.pid())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(no_read);
    Wave {
        timed_out_s: start.elapsed().as_secs_f64(),
        rss_peak_kib: rss_peak,
        sockets_peak,
    }
}

#[test]
fn slow_and_half_open_clients_are_timed_out_and_memory_stays_bounded() {
    let Some(bin) = server_bin("slow_clients") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = create_key(&bin, &data, "slow", "ingest");
    let server = Server::start(&bin, &data, &tmp.path().join("server.log"), &[]);
    // Warm up: the workspace opened, the allocator's pools in use.
    let warm = wrk(server.addr, &key, "warm", 1, 16, 2);
    assert_eq!(warm.status_errors, 0);
    std::thread::sleep(Duration::from_millis(500));
    let base_sockets = sockets(server.pid());
    let rss_base = server.rss_kib();

    // The well-behaved client, all along.
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<u64>::new()));
    let normal = {
        let (stop, served, latencies, key, addr) = (
            stop.clone(),
            served.clone(),
            latencies.clone(),
            key.clone(),
            server.addr,
        );
        std::thread::spawn(move || {
            let mut conn = Conn::open(addr, Duration::from_secs(10)).unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let b = format!(
                    r#"{{"customerId":"normal","provider":"openai","model":"gpt-4o","tokensIn":100,"tokensOut":10,"idempotencyKey":"normal-{i}"}}"#
                );
                let t = Instant::now();
                let (status, body) = conn
                    .request("POST", "/api/track", Some(&key), b.as_bytes())
                    .unwrap_or_else(|e| panic!("normal client, request {i}: {e}"));
                latencies
                    .lock()
                    .unwrap()
                    .push(t.elapsed().as_micros() as u64);
                assert_eq!(
                    status,
                    200,
                    "normal client: {}",
                    String::from_utf8_lossy(&body)
                );
                served.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    // Waves of misbehaving clients, one after the other: each is timed out completely; the
    // memory a wave leaves behind (the allocator keeps freed pages) must not keep growing.
    let mut waves = Vec::new();
    for _ in 0..WAVES {
        let w = wave(&server, &key, base_sockets + 1);
        waves.push((w, server.rss_kib()));
    }
    stop.store(true, Ordering::Relaxed);
    normal.join().unwrap();
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap());
    lat.sort_unstable();
    let q = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)] as f64 / 1e3;
    println!(
        "slow clients: {IDLE} idle + {SLOW_HEAD} byte-a-tick heads + {SLOW_BODY} byte-a-tick bodies + {NO_READ} never-reading \
         pipeliners per wave; server VmRSS before the waves {rss_base} KiB, sockets {base_sockets}"
    );
    for (i, (w, after)) in waves.iter().enumerate() {
        println!(
            "slow clients: wave {}: all timed out in {:.1} s; server sockets peak {}, VmRSS peak {} KiB, {after} KiB after",
            i + 1,
            w.timed_out_s,
            w.sockets_peak,
            w.rss_peak_kib
        );
    }
    println!(
        "slow clients: the normal client got {} answers, all 200 (p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms); /proc/loadavg {}",
        served.load(Ordering::Relaxed),
        q(0.5),
        q(0.99),
        q(1.0),
        loadavg()
    );
    assert!(served.load(Ordering::Relaxed) > 0);
    for (i, (w, _)) in waves.iter().enumerate() {
        assert!(
            w.rss_peak_kib.saturating_sub(rss_base) < RSS_BOUND_KIB,
            "wave {}: the server grew by {} KiB",
            i + 1,
            w.rss_peak_kib - rss_base
        );
        assert!(
            w.sockets_peak > base_sockets + IDLE,
            "wave {}: the connections were never open server-side",
            i + 1
        );
    }
    for (i, (_, after)) in waves.iter().enumerate() {
        assert!(
            after.saturating_sub(rss_base) < RSS_BOUND_KIB,
            "wave {}: the server kept {} KiB more than before the waves",
            i + 1,
            after - rss_base
        );
    }
}
