//! `tollgate report` group-bys, filters, sorts, derived figures and output formats, end to end
//! over a small log (`cli/tests/data/report_small.jsonl`) priced by a small rate card
//! (`cli/tests/data/report_card.json`) whose rates make the arithmetic easy to check by hand.
//!
//! Rates in cents per token (USD per token × 100):
//! - `m-big` (prov-a): input 0.001, output 0.002, cache read 0.0001, batch input 0.0005,
//!   batch output 0.001;
//! - `m-small` (prov-b): input 0.0001, output 0.0004;
//! - `m-unknown`, `odd, "quoted" name`: not in the card (unpriced, cost 0).
//!
//! The log's events (revenue from the plans: cust-1 `usage_based` 5 a unit, cust-2
//! `outcome_based` 100 a resolved run, cust-10 `flat` 3000 a month from 2026-11-01):
//!
//! | event | customer | run | agent | model | day | cost | revenue | savings |
//! |---|---|---|---|---|---|---|---|---|
//! | e1 | cust-1 | r1 (resolved) | alpha | m-big | 11-02 | 1000×0.001 + 500×0.002 = 2 | 5 | 0 |
//! | e2 | cust-1 | r1 | beta | m-small | 11-02 | 10000×0.0001 + 1000×0.0004 = 1.4 | 5 | 0 |
//! | e6 | cust-1 | – | alpha | m-unknown | 11-02 | 0 (unpriced) | 5 | 0 |
//! | e7 | cust-1 | – | alpha | odd, "quoted" name | 11-02 | 0 (unpriced) | 5 | 0 |
//! | e3 | cust-2 | r2 (resolved) | alpha | m-big | 11-03 | 200×0.001 + 1000×0.0001 + 100×0.002 = 0.5 | 0 | 1000×0.001 − 1000×0.0001 = 0.9 |
//! | e4 | cust-2 | r3 (failed) | alpha | m-big, batch | 11-09 | 1000×0.0005 + 1000×0.001 = 1.5 | 0 | (1000×0.001 + 1000×0.002) − 1.5 = 1.5 |
//! | e5 | cust-10 | r4 (open) | beta | m-small | 12-01 | 1000×0.0001 = 0.1 | 3 (revenueUnitCents) | 0 |
//!
//! Plus r2's resolution: 100 of outcome revenue on 11-03, and cust-10's subscription: 3000 over
//! November's 30 days (100 a day) and 3000/31 on December 1st (the ledger clock's day), which
//! the straight-line accrual makes 96.774193548387096774193548 (3000/31 truncated to 24
//! digits; the remainder goes to the month's last days).

use serde_json::Value;
use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

const LOG: &str = "cli/tests/data/report_small.jsonl";
const CARD: &str = "cli/tests/data/report_card.json";
/// cust-10's subscription: 3000 (November) + 96.774193548387096774193548 (December 1st).
const SUBSCRIPTION: &str = "3096.774193548387096774193548";

fn tollgate(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    let mut err = Vec::new();
    child.stderr.take().unwrap().read_to_end(&mut err).unwrap();
    Output {
        status: child.wait().unwrap(),
        stdout: out,
        stderr: err,
    }
}

fn run_ok(args: &[&str]) -> Vec<u8> {
    let mut all = vec!["report", "--rate-card", CARD];
    all.extend_from_slice(args);
    all.push(LOG);
    let out = tollgate(&all);
    assert!(
        out.status.success(),
        "{:?}: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The grouped JSON report for `args`.
fn query(args: &[&str]) -> Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    serde_json::from_slice(&run_ok(&all)).unwrap()
}

fn rows(r: &Value) -> &Vec<Value> {
    r["rows"].as_array().unwrap()
}

/// The rows' values of `column` (null → "-").
fn column(r: &Value, col: &str) -> Vec<String> {
    rows(r)
        .iter()
        .map(|x| match &x[col] {
            Value::String(s) => s.clone(),
            Value::Null => "-".to_string(),
            v => v.to_string(),
        })
        .collect()
}

#[test]
fn by_customer_in_natural_order_with_derived_figures() {
    let r = query(&["--group-by", "customer"]);
    assert_eq!(column(&r, "customerId"), ["cust-1", "cust-2", "cust-10"]);
    // cust-1: revenue 4 events × 5 = 20; cost 2 + 1.4 = 3.4; margin 16.6 = 83.00 % of 20.
    let c1 = &rows(&r)[0];
    assert_eq!(c1["revenueCents"], "20");
    assert_eq!(c1["costCents"], "3.4");
    assert_eq!(c1["marginCents"], "16.6");
    assert_eq!(c1["marginPct"], "83.00");
    assert_eq!(c1["events"], 4);
    assert_eq!(c1["unpricedEvents"], 2);
    // One resolved run (r1): 3.4 / 1. Revenue per event: 20 / 4 = 5.
    assert_eq!(c1["costPerResolvedRunCents"], "3.4");
    assert_eq!(c1["revenuePerEventCents"], "5");
    // Share of the total cost 5.5: 3.4 / 5.5 = 61.8181… % → 61.82.
    assert_eq!(c1["costSharePct"], "61.82");
    assert_eq!(c1["cacheSavingsCents"], "0");
    // cust-2: revenue 100 (r2 resolved); cost 0.5 + 1.5 = 2; r2 resolved, r3 failed: 2 / 1;
    // 100 / 2 events = 50; 2 / 5.5 = 36.3636… % → 36.36; savings 0.9 + 1.5 = 2.4.
    let c2 = &rows(&r)[1];
    assert_eq!(
        (&c2["revenueCents"], &c2["costCents"], &c2["marginPct"]),
        (&"100".into(), &"2".into(), &"98.00".into())
    );
    assert_eq!(c2["costPerResolvedRunCents"], "2");
    assert_eq!(c2["revenuePerEventCents"], "50");
    assert_eq!(c2["costSharePct"], "36.36");
    assert_eq!(c2["cacheSavingsCents"], "2.4");
    assert_eq!(
        (&c2["runsResolved"], &c2["runsFailed"]),
        (&1.into(), &1.into())
    );
    // cust-10: 3 + the subscription; no resolved run; 0.1 / 5.5 = 1.8181… % → 1.82.
    let c10 = &rows(&r)[2];
    assert_eq!(c10["revenueCents"], "3099.774193548387096774193548");
    assert_eq!(c10["subscriptionRevenueCents"], SUBSCRIPTION);
    assert_eq!(c10["costPerResolvedRunCents"], Value::Null);
    assert_eq!(c10["revenuePerEventCents"], "3099.774193548387096774193548");
    assert_eq!(c10["costSharePct"], "1.82");
    // Totals: revenue 20 + 100 + 3099.774193548387096774193548; cost 5.5; 7 events;
    // two resolved runs (r1, r2): 5.5 / 2 = 2.75; revenue per event:
    // 3219.774193548387096774193548 / 7 = 459.967741935483870967741935|428… → …935.
    let t = &r["totals"];
    assert_eq!(t["revenueCents"], "3219.774193548387096774193548");
    assert_eq!(t["costCents"], "5.5");
    assert_eq!(t["events"], 7);
    assert_eq!(t["costPerResolvedRunCents"], "2.75");
    assert_eq!(t["revenuePerEventCents"], "459.967741935483870967741935");
    assert_eq!(t["cacheSavingsCents"], "2.4");
    assert_eq!(t["costSharePct"], "100.00");
    assert_eq!(r["groups"], 3);
    // The unpriced list is kept: both unknown models, natural order.
    assert_eq!(
        r["unpriced"],
        serde_json::json!([
            {"provider": "prov-a", "model": "m-unknown", "events": 1},
            {"provider": "prov-a", "model": "odd, \"quoted\" name", "events": 1},
        ])
    );
    // And the records summary.
    assert_eq!(r["records"]["accepted"], 13);
    assert_eq!(r["breaches"], serde_json::json!([]));
}

#[test]
fn share_of_cost_by_model() {
    let r = query(&["--group-by", "model"]);
    // Natural order, money without a model (resolutions, subscriptions) last.
    assert_eq!(
        column(&r, "model"),
        ["m-big", "m-small", "m-unknown", "odd, \"quoted\" name", "-"]
    );
    // m-big: 2 + 0.5 + 1.5 = 4 of 5.5 = 72.7272… % → 72.73; m-small: 1.4 + 0.1 = 1.5 →
    // 27.2727… % → 27.27; the unpriced models 0.00; the rest has no cost.
    assert_eq!(column(&r, "costCents"), ["4", "1.5", "0", "0", "0"]);
    assert_eq!(
        column(&r, "costSharePct"),
        ["72.73", "27.27", "0.00", "0.00", "0.00"]
    );
    // m-big's savings: e3's cache reads 0.9 + e4's batch 1.5.
    assert_eq!(column(&r, "cacheSavingsCents"), ["2.4", "0", "0", "0", "0"]);
    // Revenue per event: m-big 5 / 3; m-small (5 + 3) / 2 = 4; the last row has no event.
    assert_eq!(
        column(&r, "revenuePerEventCents"),
        ["1.666666666666666666666667", "4", "5", "5", "-"]
    );
}

#[test]
fn cost_per_resolved_run_by_agent() {
    let r = query(&["--group-by", "agent", "--outcome", "resolved"]);
    // Resolved runs: r1 (e1 alpha 2, e2 beta 1.4) and r2 (e3 alpha 0.5, resolution 100).
    assert_eq!(column(&r, "agentId"), ["alpha", "beta", "-"]);
    // alpha: 2.5 over two resolved runs = 1.25; beta: 1.4 over one.
    assert_eq!(column(&r, "costCents"), ["2.5", "1.4", "0"]);
    assert_eq!(column(&r, "costPerResolvedRunCents"), ["1.25", "1.4", "0"]);
    // Totals: cost 3.9 over r1 and r2; revenue 5 + 5 + 100; no subscription under an
    // outcome filter.
    let t = &r["totals"];
    assert_eq!(t["costCents"], "3.9");
    assert_eq!(t["costPerResolvedRunCents"], "1.95");
    assert_eq!(t["revenueCents"], "110");
    assert_eq!(t["subscriptionRevenueCents"], "0");
    assert_eq!(t["events"], 3);
    // Without the filter, alpha's runs are r1, r2 (resolved) and r3 (failed): (2 + 0.5 + 1.5)
    // / 2; the unpriced e6/e7 belong to no run but their cost (0) counts.
    let all = query(&["--group-by", "agent"]);
    assert_eq!(column(&all, "costPerResolvedRunCents")[0], "2");
}

#[test]
fn by_day_week_and_month() {
    let r = query(&["--group-by", "day", "--customer", "cust-2"]);
    // cust-2 has no subscription: e3 + r2's resolution on 11-03, e4 on 11-09.
    assert_eq!(column(&r, "day"), ["2026-11-03", "2026-11-09"]);
    assert_eq!(column(&r, "revenueCents"), ["100", "0"]);
    assert_eq!(column(&r, "costCents"), ["0.5", "1.5"]);
    let r = query(&["--group-by", "week"]);
    // cust-10's 100 a day from Sunday 2026-11-01 (ISO week 44) to Tuesday 2026-12-01
    // (week 49: Nov 30 at 100 + Dec 1 at 96.774193548387096774193548, plus e5's 3).
    assert_eq!(
        column(&r, "week"),
        [
            "2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"
        ]
    );
    assert_eq!(
        column(&r, "subscriptionRevenueCents"),
        [
            "100",
            "700",
            "700",
            "700",
            "700",
            "196.774193548387096774193548"
        ]
    );
    // Week 45 (Nov 2–8): e1, e2, e6, e7, e3 (cost 2 + 1.4 + 0.5 = 3.9), usage revenue 20,
    // r2's 100, seven days of subscription: 820.
    assert_eq!(column(&r, "revenueCents")[1], "820");
    assert_eq!(column(&r, "costCents")[1], "3.9");
    assert_eq!(
        column(&r, "revenueCents")[5],
        "199.774193548387096774193548"
    );
    let r = query(&["--group-by", "month"]);
    assert_eq!(column(&r, "month"), ["2026-11", "2026-12"]);
    // November: 20 + 100 + 3000; December: 3 + 96.774193548387096774193548.
    assert_eq!(
        column(&r, "revenueCents"),
        ["3120", "99.774193548387096774193548"]
    );
    assert_eq!(column(&r, "costCents"), ["5.4", "0.1"]);
}

#[test]
fn two_dimensions_runs_and_providers() {
    let r = query(&["--group-by", "provider,customer"]);
    // Ordered by provider, then customer; money without a provider last (r1's resolution
    // earned nothing but is a fact of cust-1: a row of zeros with one resolved run).
    let keys: Vec<(String, String)> = column(&r, "provider")
        .into_iter()
        .zip(column(&r, "customerId"))
        .collect();
    let k = |p: &str, c: &str| (p.to_string(), c.to_string());
    assert_eq!(
        keys,
        [
            k("prov-a", "cust-1"),
            k("prov-a", "cust-2"),
            k("prov-b", "cust-1"),
            k("prov-b", "cust-10"),
            k("-", "cust-1"),
            k("-", "cust-2"),
            k("-", "cust-10"),
        ]
    );
    // prov-a/cust-1: e1 (2) and the two unpriced events; prov-b/cust-10: e5.
    assert_eq!(
        column(&r, "costCents"),
        ["2", "2", "1.4", "0.1", "0", "0", "0"]
    );
    assert_eq!(column(&r, "revenueCents")[4..], ["0", "100", SUBSCRIPTION]);
    assert_eq!(column(&r, "runsResolved")[4], "1");
    // A run brings its customer column, and runs order naturally within a customer.
    let r = query(&["--group-by", "run"]);
    assert_eq!(
        column(&r, "customerId"),
        ["cust-1", "cust-1", "cust-2", "cust-2", "cust-10", "cust-10"]
    );
    assert_eq!(column(&r, "runId"), ["r1", "-", "r2", "r3", "r4", "-"]);
    assert_eq!(
        column(&r, "costCents"),
        ["3.4", "0", "0.5", "1.5", "0.1", "0"]
    );
}

#[test]
fn sort_and_top() {
    // Margins: cust-1 16.6, cust-2 98, cust-10 3099.674193548387096774193548.
    let r = query(&["--group-by", "customer", "--sort", "margin:asc"]);
    assert_eq!(column(&r, "customerId"), ["cust-1", "cust-2", "cust-10"]);
    let r = query(&["--group-by", "customer", "--sort", "margin"]);
    assert_eq!(column(&r, "customerId"), ["cust-10", "cust-2", "cust-1"]);
    // Cost descending: 3.4, 2, 0.1; the top one only, totals still over everything.
    let r = query(&["--group-by", "customer", "--sort", "cost", "--top", "1"]);
    assert_eq!(column(&r, "customerId"), ["cust-1"]);
    assert_eq!(r["groups"], 3);
    assert_eq!(r["totals"]["costCents"], "5.5");
    // Events ascending: 1 (cust-10), 2 (cust-2), 4 (cust-1).
    let r = query(&["--group-by", "customer", "--sort", "events:asc"]);
    assert_eq!(column(&r, "customerId"), ["cust-10", "cust-2", "cust-1"]);
    // Revenue descending.
    let r = query(&["--group-by", "customer", "--sort", "revenue:desc"]);
    assert_eq!(column(&r, "customerId"), ["cust-10", "cust-2", "cust-1"]);
    // Margin %: by model, m-small 8 − 1.5 = 6.5 of 8 = 81.25 %, m-big 5 − 4 = 1 of 5 = 20 %,
    // the unpriced 100 %, the rest 100 %; ties keep the natural order.
    let r = query(&["--group-by", "model", "--sort", "margin%:asc"]);
    assert_eq!(
        column(&r, "marginPct"),
        ["20.00", "81.25", "100.00", "100.00", "100.00"]
    );
    assert_eq!(
        column(&r, "model"),
        ["m-big", "m-small", "m-unknown", "odd, \"quoted\" name", "-"]
    );
    // Rows without revenue (no margin %) come last in either direction.
    let r = query(&["--group-by", "run", "--sort", "margin%:desc"]);
    assert_eq!(column(&r, "marginPct").last().unwrap(), "-");
    let r = query(&["--group-by", "run", "--sort", "margin%:asc"]);
    assert_eq!(column(&r, "marginPct").last().unwrap(), "-");
    // A top without a sort keeps the natural order.
    let r = query(&["--group-by", "customer", "--top", "2"]);
    assert_eq!(column(&r, "customerId"), ["cust-1", "cust-2"]);
}

#[test]
fn every_filter() {
    let total = |args: &[&str]| -> (String, String, u64) {
        let r = query(args);
        let t = &r["totals"];
        (
            t["revenueCents"].as_str().unwrap().to_string(),
            t["costCents"].as_str().unwrap().to_string(),
            t["events"].as_u64().unwrap(),
        )
    };
    let s = |a: &str, b: &str, n| (a.to_string(), b.to_string(), n);
    // Filters on run, agent, model, provider or outcome exclude subscription revenue.
    assert_eq!(total(&["--customer", "cust-2"]), s("100", "2", 2));
    assert_eq!(total(&["--agent", "beta"]), s("8", "1.5", 2));
    assert_eq!(total(&["--model", "m-big"]), s("5", "4", 3));
    assert_eq!(total(&["--provider", "prov-a"]), s("15", "4", 5));
    assert_eq!(total(&["--run", "r1"]), s("10", "3.4", 2));
    assert_eq!(total(&["--outcome", "failed"]), s("0", "1.5", 1));
    assert_eq!(total(&["--outcome", "open"]), s("3", "0.1", 1));
    // Combined: alpha's m-big events of cust-2 in the window Nov 3..=8 (e3 only).
    assert_eq!(
        total(&[
            "--customer",
            "cust-2",
            "--agent",
            "alpha",
            "--model",
            "m-big",
            "--from",
            "2026-11-03",
            "--to",
            "2026-11-08"
        ]),
        s("0", "0.5", 1)
    );
    // A window alone keeps subscriptions: Nov 3..=9 is cust-10's 7 × 100, plus r2's 100;
    // e3 and e4 cost 2.
    assert_eq!(
        total(&["--from", "2026-11-03", "--to", "2026-11-09"]),
        s("800", "2", 2)
    );
    // A name the ledger never saw matches nothing.
    let r = query(&["--group-by", "customer", "--agent", "ghost"]);
    assert!(rows(&r).is_empty());
    assert_eq!(r["totals"]["events"], 0);
}

#[test]
fn csv_read_back_by_python_csv_and_pandas() {
    let csv = run_ok(&["--format", "csv", "--group-by", "customer,model"]);
    let text = String::from_utf8(csv.clone()).unwrap();
    // A header row, CRLF line ends, the quoted model name quoted per RFC 4180.
    assert!(
        text.starts_with("customerId,model,revenueCents,costCents,marginCents,marginPct,events,")
    );
    assert!(text.contains("\r\ncust-1,\"odd, \"\"quoted\"\" name\",5,0,5,100.00,1,1,"));
    let jsonl = run_ok(&["--format", "jsonl", "--group-by", "customer,model"]);
    let expected: Vec<Value> = jsonl
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    // cust-1: m-big, m-small, m-unknown, the quoted name, and r1's resolution (no model);
    // cust-2: m-big and r2's resolution; cust-10: m-small and the subscription.
    assert_eq!(expected.len(), 9);
    // Python reads the CSV back with the csv module and with pandas (every column as text, so
    // no float ever touches an amount), and prints both as JSON lists of rows.
    let script = r#"
import csv, io, json, os, sys
data = sys.stdin.buffer.read().decode("utf-8")
rows = list(csv.DictReader(io.StringIO(data, newline="")))
out = {"csv": rows}
try:
    import pandas
except ImportError:
    if os.environ.get("TOLLGATE_REQUIRE_PANDAS"):
        raise
    pandas = None
if pandas is not None:
    df = pandas.read_csv(io.StringIO(data), dtype=str, keep_default_na=False)
    out["pandas"] = df.to_dict(orient="records")
print(json.dumps(out))
"#;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(&csv).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Every field equals the JSON Lines row's value as text (null = empty field).
    let as_text = |v: &Value| match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    let mut readers = vec!["csv"];
    if parsed.get("pandas").is_some() {
        readers.push("pandas");
    } else {
        eprintln!("pandas is not installed: the CSV was read back by Python's csv module only");
    }
    for reader in readers {
        let got = parsed[reader].as_array().unwrap();
        assert_eq!(got.len(), expected.len(), "{reader}");
        for (g, e) in got.iter().zip(&expected) {
            let (g, e) = (g.as_object().unwrap(), e.as_object().unwrap());
            assert_eq!(
                g.keys().collect::<Vec<_>>().len(),
                e.keys().count(),
                "{reader}"
            );
            for (k, v) in e {
                assert_eq!(g[k].as_str().unwrap(), as_text(v), "{reader} {k}");
            }
        }
        // And the hand-computed values survive: cust-10's exact revenue, the quoted name.
        let c10 = got
            .iter()
            .find(|r| r["customerId"] == "cust-10" && r["model"] == "")
            .unwrap();
        assert_eq!(c10["revenueCents"], SUBSCRIPTION);
        assert!(got.iter().any(|r| r["model"] == "odd, \"quoted\" name"));
    }
}

#[test]
fn classic_json_keeps_its_shape_and_orders_ids_naturally() {
    let classic: Value = serde_json::from_slice(&run_ok(&["--json"])).unwrap();
    let same: Value = serde_json::from_slice(&run_ok(&["--format", "json"])).unwrap();
    assert_eq!(classic, same);
    let keys: Vec<&String> = classic.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["customers", "runs", "totals", "unpriced", "window"]);
    let ids: Vec<&str> = classic["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["customerId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["cust-1", "cust-2", "cust-10"]);
    // The table too.
    let table = String::from_utf8(run_ok(&[])).unwrap();
    let p = |s: &str| table.find(&format!("\n{s} ")).unwrap();
    assert!(p("cust-1") < p("cust-2") && p("cust-2") < p("cust-10"));
    assert!(table.contains("records: 13 accepted"));
}

#[test]
fn table_output_of_a_grouped_query() {
    let table = String::from_utf8(run_ok(&[
        "--group-by",
        "customer",
        "--sort",
        "cost",
        "--top",
        "2",
    ]))
    .unwrap();
    assert!(
        table.starts_with("Margin by customer, all days (UTC)"),
        "{table}"
    );
    assert!(table.contains("Sorted by cost:desc."));
    let lines: Vec<&str> = table.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("CUSTOMER"))
        .unwrap();
    assert!(lines[head + 1].starts_with("cust-1 "));
    assert!(lines[head + 2].starts_with("cust-2 "));
    assert!(lines[head + 3].starts_with("TOTAL "));
    assert!(table.contains("(top 2 of 3 groups; TOTAL covers all of them)"));
    assert!(table.contains("UNPRICED MODELS"));
    assert!(table.contains("records: 13 accepted, 0 duplicates, 0 conflicts, 0 rejected"));
}

#[test]
fn bad_query_flags_are_refused() {
    for (args, needle) in [
        (vec!["--sort", "price"], "unknown sort key \"price\""),
        (vec!["--sort", "cost:up"], "unknown sort direction \"up\""),
        (
            vec!["--group-by", "customer,colour"],
            "unknown dimension \"colour\"",
        ),
        (vec!["--top", "0"], "--top"),
        (vec!["--outcome", "done"], "unknown outcome \"done\""),
        (vec!["--format", "xml"], "--format"),
        (vec!["--json", "--format", "csv"], "--json"),
    ] {
        let mut all = vec!["report"];
        all.extend_from_slice(&args);
        all.push(LOG);
        let out = tollgate(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}
