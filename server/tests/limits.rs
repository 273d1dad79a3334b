//! Connection limits over raw TCP: a request head over the limit, a client that never
//! finishes its head (slowloris), an idle kept-alive connection.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn read_all(mut s: TcpStream) -> String {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn oversized_head_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), |c| c.limits.max_header_bytes = 8192);
    let mut c = TcpStream::connect(s.addr()).unwrap();
    let big = "a".repeat(20_000);
    // The server may close while we still write: ignore write errors, read the answer.
    let _ = write!(
        c,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n"
    );
    let out = read_all(c);
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 431"), "{out}");
    // The server still serves others.
    assert_eq!(get(&format!("{}/healthz", s.url()), None).status, 200);
}

#[test]
fn unfinished_head_and_idle_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(dir.path(), |c| {
        c.limits.header_timeout = Duration::from_millis(500)
    });
    // Half a request head, then nothing.
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.write_all(b"POST /api/track HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let t0 = Instant::now();
    let out = read_all(c);
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "a slow head was not cut off"
    );
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 408"), "{out}");
    // A kept-alive connection that goes idle after one request.
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let t0 = Instant::now();
    let out = read_all(c);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "an idle connection was kept"
    );
}
