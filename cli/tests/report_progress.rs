//! `tollgate report` shows progress on stderr when stderr is a terminal (a real
//! pseudo-terminal here, opened by Python's `pty` module) and never when it is a pipe.

use std::process::{Command, Stdio};

/// A log of 20,000 events (plus retries and resolutions) from `scripts/gen_report_log.py`.
fn log() -> tempfile::NamedTempFile {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let out = Command::new("python3")
        .args([&format!("{root}/scripts/gen_report_log.py"), "20000"])
        .output()
        .expect("python3");
    assert!(out.status.success());
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), &out.stdout).unwrap();
    f
}

/// Runs the report with stderr on a pseudo-terminal (stdout on a pipe); returns what the
/// terminal showed and what stdout got.
fn on_pty(args: &[&str]) -> (String, Vec<u8>) {
    let script = r#"
import os, pty, subprocess, sys
master, slave = pty.openpty()
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                     env=dict(os.environ, TOLLGATE_PROGRESS_MS="0"))
os.close(slave)
seen = b""
while True:
    try:
        chunk = os.read(master, 65536)
    except OSError:  # EIO: the child closed the terminal
        break
    if not chunk:
        break
    seen += chunk
out = p.stdout.read()
code = p.wait()
sys.stderr.buffer.write(seen)
sys.stdout.buffer.write(out)
sys.exit(code)
"#;
    let mut cmd = vec!["-c", script, env!("CARGO_BIN_EXE_tollgate")];
    cmd.extend_from_slice(args);
    let out = Command::new("python3")
        .args(&cmd)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.stdout,
    )
}

#[test]
fn progress_on_a_terminal_only() {
    let f = log();
    let path = f.path().to_str().unwrap();
    let args = [
        "report",
        "--format",
        "csv",
        "--group-by",
        "customer,model",
        path,
    ];
    let (tty, tty_stdout) = on_pty(&args);
    // Redrawn lines with the count, the rate, the share of the file read and an ETA (the
    // file's size is known), then a summary line.
    assert!(tty.contains("\r4,096 records read, "), "{tty:?}");
    assert!(tty.contains(" records/s, "), "{tty:?}");
    assert!(tty.contains("%, ETA "), "{tty:?}");
    // 20,000 events + 2,000 retries + 400 resolutions + 100 customers.
    assert!(tty.contains("\r22,500 records read in "), "{tty:?}");
    // On a pipe: nothing on stderr; stdout is the same report either way.
    let piped = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .env("TOLLGATE_PROGRESS_MS", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(piped.status.success());
    assert!(
        piped.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert_eq!(piped.stdout, tty_stdout);
    // --no-progress silences the terminal too.
    let mut quiet = vec!["report", "--no-progress"];
    quiet.extend_from_slice(&args[1..]);
    let (tty, _) = on_pty(&quiet);
    assert!(!tty.contains("records read"), "{tty:?}");
}
