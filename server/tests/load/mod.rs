//! Shared parts of the load, crash and slow-client tests: the release `tollgate` binary run as
//! a real server process on 127.0.0.1, API keys made with `tollgate keys create`, the `wrk`
//! load tool, a raw HTTP/1.1 connection (for clients that misbehave on purpose), `VmRSS`, and
//! the disk's fsync latency.
//!
//! These tests run against a real binary: they need `TOLLGATE_SERVER_BIN` (the release
//! `tollgate`, as `.ci/run` builds it) and, for load, `wrk` on `PATH`. Without
//! `TOLLGATE_SERVER_BIN` they print why and pass (a plain `cargo test --workspace`); with it,
//! anything missing is a failure.

#![allow(dead_code)] // each test target uses its own part of this module

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The release `tollgate` binary, or `None` (the caller prints a skip line and passes).
pub fn server_bin(test: &str) -> Option<PathBuf> {
    match std::env::var_os("TOLLGATE_SERVER_BIN") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_file(),
                "TOLLGATE_SERVER_BIN={} is not a file",
                p.display()
            );
            Some(std::fs::canonicalize(p).unwrap())
        }
        None => {
            println!(
                "{test}: skipped — set TOLLGATE_SERVER_BIN to a release `tollgate` \
                 (cargo build --release -p tollgate-cli; TOLLGATE_SERVER_BIN=target/release/tollgate)"
            );
            None
        }
    }
}

/// splitmix64: the seeded choices of the tests (seed printed, env var repeats it).
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The seed from `var`, else the clock; printed by the caller.
pub fn seed(var: &str) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// A free port on 127.0.0.1 (bound and released; the server binds it right after).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tollgate keys create` for `workspace` with `scope`: the secret it prints once.
pub fn create_key(bin: &Path, data: &Path, workspace: &str, scope: &str) -> String {
    let out = Command::new(bin)
        .args(["keys", "create", "--data"])
        .arg(data)
        .args(["--workspace", workspace, "--scope", scope])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tollgate keys create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    secret_of(&text).unwrap_or_else(|| panic!("no key in the output of keys create"))
}

/// The secret in `keys create`'s output: a JSON object's `key`/`secret` field, or the one
/// long token of the text.
fn secret_of(text: &str) -> Option<String> {
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text.trim()) {
        for f in ["key", "secret", "apiKey", "token"] {
            if let Some(s) = v.get(f).and_then(|s| s.as_str()) {
                return Some(s.to_string());
            }
        }
    }
    text.split_whitespace()
        .filter(|w| {
            w.len() >= 24
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
        .max_by_key(|w| w.len())
        .map(str::to_string)
}

/// A `tollgate serve` child process on 127.0.0.1.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: PathBuf,
}

impl Server {
    /// Starts `tollgate serve --data DIR --listen 127.0.0.1:PORT --rate-limit 0` (plus `extra`
    /// arguments) and waits until it answers `/healthz` (at most 60 s). Its output goes to
    /// `log`. No per-key rate limit: these tests send tens of thousands of requests a second
    /// with one key.
    pub fn start(bin: &Path, data: &Path, log: &Path, extra: &[&str]) -> Server {
        for attempt in 0..3 {
            let port = free_port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let out = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap();
            let child = Command::new(bin)
                .arg("serve")
                .arg("--data")
                .arg(data)
                .args(["--listen", &addr.to_string(), "--rate-limit", "0"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .spawn()
                .unwrap();
            let mut s = Server {
                child,
                addr,
                log: log.to_path_buf(),
            };
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                if let Some(st) = s.child.try_wait().unwrap() {
                    // The port may have been taken between our probe and its bind: retry.
                    if attempt < 2 {
                        break;
                    }
                    panic!("tollgate serve exited with {st}: {}", s.log_tail());
                }
                if let Ok((200, _)) = request_once(addr, "GET", "/healthz", None, b"") {
                    return s;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if s.child.try_wait().unwrap().is_none() {
                panic!(
                    "tollgate serve did not answer /healthz within 60 s: {}",
                    s.log_tail()
                );
            }
        }
        unreachable!()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server process (`VmRSS`, KiB).
    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    /// SIGKILL, and reap.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM (graceful shutdown: drain, checkpoint) and wait at most `limit`; SIGKILL after.
    /// Returns whether it exited on its own, with success.
    pub fn terminate(&mut self, limit: Duration) -> bool {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill9();
        false
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut start = text.len().saturating_sub(2000);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill9();
        }
    }
}

/// CPU time a process has used (user + system), in seconds (`/proc/<pid>/stat`, clock ticks
/// of 1/100 s as Linux reports them on x86-64).
pub fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// `VmRSS` of a process, KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A raw HTTP/1.1 keep-alive connection: the well-behaved client of the slow-client test and
/// the probe of `Server::start`. Requests carry `Content-Length`; responses are read by their
/// `Content-Length` (the server sends no chunked bodies for these routes).
pub struct Conn {
    stream: BufReader<TcpStream>,
}

impl Conn {
    pub fn open(addr: SocketAddr, timeout: Duration) -> std::io::Result<Conn> {
        let s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.set_nodelay(true)?;
        Ok(Conn {
            stream: BufReader::new(s),
        })
    }

    /// Sends one request and reads its response: (status, body).
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: &[u8],
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(k) = key {
            head.push_str(&format!("Authorization: Bearer {k}\r\n"));
        }
        head.push_str("\r\n");
        let s = self.stream.get_mut();
        let mut msg = head.into_bytes();
        msg.extend_from_slice(body);
        s.write_all(&msg)?;
        self.read_response()
    }

    fn read_response(&mut self) -> std::io::Result<(u16, Vec<u8>)> {
        let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
        let mut line = String::new();
        if self.stream.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            ));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("bad status line"))?;
        let mut len = 0usize;
        loop {
            line.clear();
            if self.stream.read_line(&mut line)? == 0 {
                return Err(bad("connection closed in the headers"));
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((n, v)) = l.split_once(':')
                && n.eq_ignore_ascii_case("content-length")
            {
                len = v.trim().parse().map_err(|_| bad("bad content-length"))?;
            }
        }
        let mut body = vec![0; len];
        self.stream.read_exact(&mut body)?;
        Ok((status, body))
    }
}

/// One request on a fresh connection.
pub fn request_once(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: &[u8],
) -> std::io::Result<(u16, Vec<u8>)> {
    Conn::open(addr, Duration::from_secs(5))?.request(method, path, key, body)
}

/// The figures `wrk` prints through `track.lua`'s `done()`.
#[derive(Debug, Default, Clone)]
pub struct WrkResult {
    pub requests: u64,
    pub duration_us: u64,
    pub status_errors: u64,
    pub socket_errors: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
}

impl WrkResult {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 * 1e6 / self.duration_us.max(1) as f64
    }
}

/// The wrk script of these tests.
pub fn track_lua() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/load/track.lua")
}

/// The `wrk` command: `POST /api/track` with unique keys prefixed `run`, `threads` threads,
/// `conns` connections, for `secs` seconds. The API key goes through the environment.
pub fn wrk_command(
    addr: SocketAddr,
    key: &str,
    run: &str,
    threads: u32,
    conns: u32,
    secs: u32,
) -> Command {
    let mut c = Command::new("wrk");
    c.args([
        format!("-t{threads}"),
        format!("-c{conns}"),
        format!("-d{secs}s"),
        "--timeout".into(),
        "10s".into(),
        "-s".into(),
    ])
    .arg(track_lua())
    .arg(format!("http://{addr}"))
    .args(["--", run])
    .env("TOLLGATE_LOAD_KEY", key)
    .stdin(Stdio::null());
    c
}

/// Parses `track.lua`'s two result lines.
pub fn parse_wrk(out: &str) -> Option<WrkResult> {
    let mut r = WrkResult::default();
    let mut seen = 0;
    for line in out.lines() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        if tag != "wrk-result" && tag != "wrk-latency-us" {
            continue;
        }
        seen += 1;
        for kv in rest.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            let v: u64 = v.parse().ok()?;
            match k {
                "requests" => r.requests = v,
                "duration_us" => r.duration_us = v,
                "status_errors" => r.status_errors = v,
                "connect" | "read" | "write" | "timeout" => r.socket_errors += v,
                "p50" => r.p50_us = v,
                "p90" => r.p90_us = v,
                "p99" => r.p99_us = v,
                "p999" => r.p999_us = v,
                "max" => r.max_us = v,
                _ => {}
            }
        }
    }
    (seen == 2).then_some(r)
}

/// Runs wrk to completion.
pub fn wrk(
    addr: SocketAddr,
    key: &str,
    run: &str,
    threads: u32,
    conns: u32,
    secs: u32,
) -> WrkResult {
    let out = wrk_command(addr, key, run, threads, conns, secs)
        .output()
        .expect("wrk on PATH (Debian package `wrk`; .ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_wrk(&text).unwrap_or_else(|| panic!("no result lines in wrk's output: {text}"))
}

/// fdatasync latency of this disk in `dir`: `n` appends of `bytes` each followed by
/// `sync_data`. Returns (p50, p99, max) in microseconds.
pub fn fsync_latency(dir: &Path, n: usize, bytes: usize) -> (u64, u64, u64) {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let buf = vec![b'x'; bytes];
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        f.write_all(&buf).unwrap();
        let t = Instant::now();
        f.sync_data().unwrap();
        lat.push(t.elapsed().as_micros() as u64);
    }
    drop(f);
    std::fs::remove_file(&path).unwrap();
    lat.sort_unstable();
    let q = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    (q(0.5), q(0.99), lat[lat.len() - 1])
}

/// `/proc/loadavg` (the machine is shared: every printed figure carries it).
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string()
}
