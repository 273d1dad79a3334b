//! `tollgate keys` and `tollgate serve` as a user runs them: the real binary, a real TCP
//! request, SIGTERM, a restart.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn tollgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 request with `Connection: close`: (status, body).
fn http(port: u16, method: &str, path: &str, key: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let auth = key
        .map(|k| format!("Authorization: Bearer {k}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|x| x.1.to_string())
        .unwrap_or_default();
    (status, body)
}

fn serve(data: &std::path::Path, port: u16) -> Child {
    let mut child = tollgate()
        .args(["serve", "--data"])
        .arg(data)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the "listening" line (bounded).
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("serve started");
    assert!(line.contains("listening on"), "{line}");
    std::thread::spawn(move || for _ in rx {});
    child
}

fn sigterm(child: &mut Child) -> std::process::ExitStatus {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let t0 = Instant::now();
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn keys_serve_sigterm_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let out = tollgate()
        .args(["keys", "create", "--data"])
        .arg(data)
        .args(["--workspace", "acme", "--scope", "ingest", "--name", "sdk"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        key.starts_with("tgk_") && key.len() == 4 + 12 + 1 + 64,
        "{key}"
    );
    let bad = tollgate()
        .args(["keys", "create", "--data"])
        .arg(data)
        .args(["--workspace", "../x", "--scope", "ingest"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let list = tollgate()
        .args(["keys", "list", "--data"])
        .arg(data)
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    assert!(
        list.contains(&key[4..16]) && list.contains("acme\tingest"),
        "{list}"
    );
    assert!(!list.contains(&key[17..]), "keys list shows a secret");

    let port = free_port();
    let mut child = serve(data, port);
    assert_eq!(http(port, "GET", "/healthz", None, "").0, 200);
    let ev = r#"{"customerId":"c1","provider":"openai","model":"gpt-4o","providerCostCents":2.25,"idempotencyKey":"e1"}"#;
    let (status, body) = http(port, "POST", "/api/track", Some(&key), ev);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""costCents":"2.25""#), "{body}");
    assert!(sigterm(&mut child).success());

    // Restarted: the event is there (a repeat is a duplicate), then revoke the key.
    let mut child = serve(data, port);
    let (status, body) = http(port, "POST", "/api/track", Some(&key), ev);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""status":"duplicate""#), "{body}");
    let id = &key[4..16];
    let rv = tollgate()
        .args(["keys", "revoke", "--data"])
        .arg(data)
        .arg(id)
        .output()
        .unwrap();
    assert!(rv.status.success());
    let t0 = Instant::now();
    while http(port, "POST", "/api/track", Some(&key), ev).0 != 401 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "revoked key still accepted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(sigterm(&mut child).success());
}
