//! `tollgate report --data DIR` (a persistent ledger) and `tollgate ledger check DIR`.

use std::path::Path;
use std::process::{Command, Output};

fn tollgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

const SAMPLE: &str = "data/sample/events.jsonl";

#[test]
fn a_log_appended_in_two_parts_reports_as_the_whole_log() {
    let tmp = tempfile::tempdir().unwrap();
    let all = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(SAMPLE),
    )
    .unwrap();
    let lines: Vec<&str> = all.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let pa = tmp.path().join("a.jsonl");
    let pb = tmp.path().join("b.jsonl");
    std::fs::write(&pa, a.join("\n")).unwrap();
    std::fs::write(&pb, b.join("\n")).unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let first = tollgate(&["report", "--json", "--data", d, pa.to_str().unwrap()]);
    assert!(first.status.code() == Some(0), "{first:?}");
    let second = tollgate(&["report", "--json", "--data", d, pb.to_str().unwrap()]);
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    let whole = tollgate(&["report", "--json", SAMPLE]);
    let strip = |o: &Output| {
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        // Ingest counts describe the last invocation only; everything else is the ledger.
        let totals = v["totals"].as_object_mut().unwrap();
        for k in [
            "events",
            "duplicates",
            "conflicts",
            "rejected",
            "accepted",
            "records",
        ] {
            totals.remove(k);
        }
        v
    };
    assert_eq!(strip(&second), strip(&whole));
    // The whole sample: revenue 1675 cents, cost 197.146 cents (the README's report).
    let v: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(v["totals"]["revenueCents"], "1675");
    assert_eq!(v["totals"]["costCents"], "197.146");
}

#[test]
fn ledger_check_reports_recovery_and_refuses_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    assert_eq!(
        tollgate(&["report", "--data", d, SAMPLE]).status.code(),
        Some(0)
    );
    let ok = tollgate(&["ledger", "check", d]);
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    let out = text(&ok);
    assert!(
        out.contains("journal: segment 1, 29 entries to replay (29 records)"),
        "{out}"
    );
    assert!(out.contains("torn tail: none"), "{out}");
    assert!(
        out.contains("revenue 1675 cents, cost 197.146 cents"),
        "{out}"
    );

    let seg = data.join("wal-00000000000000000001.tgj");
    let bytes = std::fs::read(&seg).unwrap();
    // A tail cut short: recovers, and says what it would cut.
    std::fs::write(&seg, &bytes[..bytes.len() - 3]).unwrap();
    let torn = tollgate(&["ledger", "check", d]);
    assert_eq!(torn.status.code(), Some(0), "{torn:?}");
    assert!(text(&torn).contains("28 records"), "{}", text(&torn));
    assert!(
        text(&torn).contains("would be cut (the entry is cut short)"),
        "{}",
        text(&torn)
    );
    // Unchanged on disk.
    assert_eq!(std::fs::read(&seg).unwrap().len(), bytes.len() - 3);
    // A flip in the first entry's body: refused, with the offset of that entry (byte 24).
    let mut b = bytes.clone();
    b[40] ^= 1;
    std::fs::write(&seg, &b).unwrap();
    let bad = tollgate(&["ledger", "check", d]);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    assert!(
        text(&bad).contains("at byte 24: checksum mismatch"),
        "{}",
        text(&bad)
    );
    // And report --data refuses to append to it.
    let r = tollgate(&["report", "--data", d, SAMPLE]);
    assert_eq!(r.status.code(), Some(2));
    // Not a data directory.
    let none = tollgate(&["ledger", "check", tmp.path().to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(2));
}

#[test]
fn ratecard_pull_from_dated_files_then_history() {
    let tmp = tempfile::tempdir().unwrap();
    let cards = tmp.path().join("cards");
    std::fs::create_dir(&cards).unwrap();
    std::fs::write(
        cards.join("litellm-2026-06-01.json"),
        r#"{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06}}"#,
    )
    .unwrap();
    let data = tmp.path().join("data");
    let d = data.to_str().unwrap();
    let pull = tollgate(&[
        "ratecard",
        "pull",
        "--from",
        cards.to_str().unwrap(),
        "--data",
        d,
    ]);
    assert_eq!(pull.status.code(), Some(0), "{pull:?}");
    let out = text(&pull);
    // Against the embedded card (4,876 models): one kept and repriced, the rest removed.
    assert!(
        out.contains("effective 2026-06-01T00:00:00Z: 0 added, 4875 removed, 1 repriced"),
        "{out}"
    );
    let h = tollgate(&["ratecard", "history", "--data", d]);
    assert_eq!(h.status.code(), Some(0));
    let lines: Vec<String> = text(&h).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("embedded (LiteLLM 1.110.2)"));
    assert!(lines[1].starts_with("2026-06-01T00:00:00Z"), "{lines:?}");
    // A bad registry: exit 1, the reason, nothing published.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"{"gpt-4o": {"input_cost_per_token": -1}}"#).unwrap();
    let r = tollgate(&[
        "ratecard",
        "pull",
        "--from",
        bad.to_str().unwrap(),
        "--data",
        d,
    ]);
    assert_eq!(r.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r.stderr).contains("invalid registry, nothing published"));
    let h2 = tollgate(&["ratecard", "history", "--data", d]);
    assert_eq!(text(&h2), text(&h));
}
