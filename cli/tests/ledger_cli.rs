//! `tollgate report` end to end over the demo log `data/sample/events.jsonl`, with the real
//! embedded rate card. Every LLM cost below is `tokens × registry rate` worked out by hand
//! (rates in cents per token: gpt-4o 0.00025 in / 0.000125 cached / 0.001 out; gpt-4o-mini
//! 0.000015 / 0.00006; claude-sonnet-4-5 0.0003 in / 0.00003 cache read / 0.000375 cache write /
//! 0.0015 out; claude-haiku-4-5 0.0001 / 0.0005) and agrees with LiteLLM 1.110.2's
//! `cost_per_token` on the same usage.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

const DEMO: &str = "data/sample/events.jsonl";

fn tollgate(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn json_report(args: &[&str]) -> Value {
    let mut all = vec!["report", "--json"];
    all.extend_from_slice(args);
    let out = tollgate(&all, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn find<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| x[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value}"))
}

#[test]
fn demo_log_totals() {
    let r = json_report(&[DEMO]);
    let t = &r["totals"];
    // Revenue: acme 25 usage (5 events × 2 + 10 units × 1.5) + 500 fee; globex 150 + 400;
    // initech 4 seats × 750 = 3000/month; umbrella 600/month. November has 30 days and the
    // subscriptions accrue Nov 1..=5 (the last event's day): acme 3000 → 500, initech
    // 3000 → 500, umbrella 600 → 100. Total 525 + 550 + 500 + 100 = 1675.
    assert_eq!(t["revenueCents"], "1675");
    // Cost: acme 2.31, globex 59.145, initech 3.67, umbrella 132, hooli 0.021 (per customer
    // below) = 197.146.
    assert_eq!(t["costCents"], "197.146");
    assert_eq!(t["marginCents"], "1477.854");
    // 1477.854 / 1675 = 88.2300… % → 88.23.
    assert_eq!(t["marginPct"], "88.23");
    // 22 event lines − 1 retry (duplicate) − 1 conflicting retry = 20 events.
    assert_eq!(t["events"], 20);
    // Duplicates: the acme-1 retry and the repeated g-101 resolve. Conflicts: the globex-4
    // retry with other tokens and the g-102 resolve that contradicts "escalated".
    assert_eq!(t["duplicates"], 2);
    assert_eq!(t["conflicts"], 2);
    assert_eq!(t["rejected"], 0);
    assert_eq!(t["unpricedEvents"], 1);
    assert_eq!(t["subscriptionRevenueCents"], "1100");
}

#[test]
fn demo_log_customers() {
    let r = json_report(&[DEMO]);
    let c = &r["customers"];
    assert_eq!(c.as_array().unwrap().len(), 5);
    // acme: 0.75 (gpt-4o 1200 in + 800 cached + 350 out = 0.3 + 0.1 + 0.35) + 0.36 (mini:
    // 20000 × 0.000015 + 1000 × 0.00006) + 0.5 (tool) + 0 (unknown model) + 0.5 (haiku:
    // 3000 × 0.0001 + 400 × 0.0005) + 0.2 (retrieval) = 2.31.
    let acme = find(c, "customerId", "acme");
    assert_eq!(
        (
            &acme["revenueCents"],
            &acme["costCents"],
            &acme["marginCents"]
        ),
        (
            &Value::from("525"),
            &Value::from("2.31"),
            &Value::from("522.69")
        )
    );
    assert_eq!(acme["events"], 6);
    // globex: 2.475 (sonnet 2000 × 0.0003 + 10000 × 0.00003 + 1000 × 0.000375 + 800 × 0.0015)
    // + 1.6 (gpt-4o 4000 in, 600 out) + 49.5 (sonnet 120000 in = 36, 9000 out = 13.5) + 3.5
    // (gpt-4o 8000 in, 1500 out) + 0.27 (mini 10000 in, 2000 out) + 1.8 (sonnet 1000/1000)
    // = 59.145.
    let globex = find(c, "customerId", "globex");
    assert_eq!(globex["costCents"], "59.145");
    assert_eq!(globex["revenueCents"], "550");
    // initech: 1.25 (gpt-4o 3000 in, 500 out) + 2 (tool) + 0.42 (provider-stated) = 3.67.
    assert_eq!(find(c, "customerId", "initech")["costCents"], "3.67");
    // umbrella: 4 × (100000 × 0.00025 + 8000 × 0.001 = 33) = 132 against 100 of fee: −32 %.
    let umbrella = find(c, "customerId", "umbrella");
    assert_eq!(umbrella["marginCents"], "-32");
    assert_eq!(umbrella["marginPct"], "-32.00");
    // hooli: no plan, so no revenue: margin % is null. 1000 × 0.000015 + 100 × 0.00006.
    let hooli = find(c, "customerId", "hooli");
    assert_eq!(hooli["costCents"], "0.021");
    assert_eq!(hooli["marginPct"], Value::Null);
}

#[test]
fn demo_log_runs_and_unpriced() {
    let r = json_report(&[DEMO]);
    let runs = r["runs"].as_array().unwrap();
    let got: Vec<(String, String, String, String)> = runs
        .iter()
        .map(|x| {
            (
                x["runId"].as_str().unwrap().to_string(),
                x["outcome"].as_str().unwrap().to_string(),
                x["revenueCents"].as_str().unwrap().to_string(),
                x["costCents"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        // acme-r1: 3 events × 2 usage revenue; 0.75 + 0.36 + 0.5.
        ("acme-r1", "open", "6", "1.61"),
        ("acme-r2", "open", "2", "0"),
        // A single-call run: its event carries outcome "resolved" (usage plan: no outcome
        // revenue, just the event's 2).
        ("acme-r3", "resolved", "2", "0.5"),
        ("g-101", "resolved", "150", "4.075"),
        ("g-102", "escalated", "0", "49.5"),
        ("g-103", "failed", "0", "3.5"),
        ("g-104", "open", "0", "0.27"),
        // Resolved with an explicit 400 instead of the plan's 150.
        ("g-105", "resolved", "400", "1.8"),
        ("in-7", "resolved", "0", "3.25"),
        ("u-1", "open", "0", "132"),
    ];
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0.as_str(), g.1.as_str(), g.2.as_str(), g.3.as_str()), w);
    }
    assert_eq!(
        r["unpriced"],
        serde_json::json!([{"provider": "openai", "model": "acme-ft-llm", "events": 1}])
    );
}

#[test]
fn a_day_window() {
    let r = json_report(&["--from", "2026-11-03", "--to", "2026-11-03", DEMO]);
    let t = &r["totals"];
    // Nov 3 only: fees 100 (acme) + 100 (initech) + 20 (umbrella); usage: acme-4 and acme-5
    // earn 2 each. Costs: acme 0 + 0.5; globex 49.5; initech 1.25 + 2; umbrella 33.
    assert_eq!(t["revenueCents"], "224");
    assert_eq!(t["costCents"], "86.25");
    assert_eq!(t["events"], 6);
    assert_eq!(r["window"]["from"], "2026-11-03");
}

#[test]
fn table_output() {
    let out = tollgate(&["report", DEMO], None);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("rounded half-even to 4 decimals"));
    let total = text.lines().find(|l| l.starts_with("TOTAL")).unwrap();
    let cols: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "TOTAL",
            "1675.0000",
            "197.1460",
            "1477.8540",
            "88.23%",
            "20"
        ]
    );
    assert!(text.contains("openai    acme-ft-llm"));
}

#[test]
fn state_is_restored_and_saved() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ledger.state");
    let s = state.to_str().unwrap();
    // Keys kept forever, so replaying the whole log finds every one of them.
    let first = json_report(&["--state", s, "--dedupe-window-hours", "0", DEMO]);
    assert!(state.exists());
    let second = json_report(&["--state", s, DEMO]);
    assert_eq!(
        second["totals"]["revenueCents"],
        first["totals"]["revenueCents"]
    );
    assert_eq!(second["totals"]["costCents"], "197.146");
    assert_eq!(second["totals"]["events"], 20);
    // Now duplicates: 21 event lines (all but the conflicting retry), 6 resolve lines (all but
    // the one contradicting "escalated") and the 4 customer upserts. The 2 conflicts stay.
    assert_eq!(second["totals"]["duplicates"], 31);
    assert_eq!(second["totals"]["conflicts"], 2);
    // A corrupt state file is refused whole and left as it was.
    let mut bytes = std::fs::read(&state).unwrap();
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&state, &bytes).unwrap();
    let out = tollgate(&["report", "--state", s, DEMO], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
    assert_eq!(std::fs::read(&state).unwrap(), bytes);
}

#[test]
fn replay_into_a_24h_state_never_double_counts() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("ledger.state");
    let s = state.to_str().unwrap();
    json_report(&["--state", s, DEMO]);
    // The restored clock is Nov 5 16:00: keyed events before Nov 4 16:00 are too late now
    // (rejected, exit 1), the later ones duplicates. Either way the totals do not move.
    let out = tollgate(&["report", "--json", "--state", s, DEMO], None);
    assert_eq!(out.status.code(), Some(1));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["totals"]["costCents"], "197.146");
    assert_eq!(r["totals"]["events"], 20);
    // Keyed event lines on or after Nov 4 16:00: g-105, umbrella-4, hooli-1, g-104.
    assert_eq!(r["totals"]["tooLate"], 22 - 4);
}

#[test]
fn stdin_and_rejected_lines() {
    let input = "{\"type\":\"tool\",\"customerId\":\"c\",\"externalCostCents\":\"1\",\"ts\":\"2026-11-01T00:00:00Z\"}\n\n{\"type\":\"tool\",\"customerId\":\"c\",\"tokenz\":1}\nnot json\n";
    let out = tollgate(&["report", "--json"], Some(input));
    // Rejected records: exit status 1, the report is still printed.
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("<stdin>:3: rejected: unknown field `tokenz`"),
        "{err}"
    );
    assert!(err.contains("<stdin>:4: rejected: malformed JSON"), "{err}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["totals"]["rejected"], 2);
    assert_eq!(r["totals"]["costCents"], "1");
}

#[test]
fn too_late_events_get_a_hint() {
    let input = "{\"type\":\"tool\",\"customerId\":\"c\",\"idempotencyKey\":\"a\",\"ts\":\"2026-11-05T00:00:00Z\"}\n{\"type\":\"tool\",\"customerId\":\"c\",\"idempotencyKey\":\"b\",\"ts\":\"2026-11-01T00:00:00Z\"}\n";
    let out = tollgate(&["report", "--json"], Some(input));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--dedupe-window-hours 0"));
    let out = tollgate(
        &["report", "--json", "--dedupe-window-hours", "0"],
        Some(input),
    );
    assert!(out.status.success());
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["totals"]["events"], 2);
}

#[test]
fn bad_flags_and_files_fail_clearly() {
    let out = tollgate(&["report", "--from", "2026-13-01", DEMO], None);
    assert_eq!(out.status.code(), Some(2));
    let out = tollgate(
        &["report", "--from", "2026-11-05", "--to", "2026-11-01", DEMO],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is after --to"));
    let out = tollgate(&["report", "no-such-file.jsonl"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read no-such-file.jsonl"));
    let out = tollgate(&["report", "--rate-card", "no-such-card.json", DEMO], None);
    assert_eq!(out.status.code(), Some(2));
    let out = tollgate(&["report", "--help"], None);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--dedupe-window-hours"));
}
