//! `tollgate report` over a log with `policy` records lists the breaches per customer.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn report(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("report")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// acme: budget 100 a month, runs capped at 50. January: r1 costs 60 (> 50), r2 45, so the
/// month costs 105 (> 100). February: 10. beta has no policy. gamma is on plan "Team", whose
/// policy wants a 50 % margin over the month once revenue reaches 10: revenue 20, cost 15 →
/// 25 % < 50 %.
const LOG: &str = r#"
{"type":"policy","policyId":"cap","customerId":"acme","budget":{"cents":"100","period":"month"},"maxRunCostCents":"50","ts":"2026-01-01T00:00:00Z"}
{"type":"customer","customerId":"gamma","plan":{"name":"Team","pricingModel":"usage_based","unitRevenueCents":"10"},"ts":"2026-01-01T00:00:00Z"}
{"type":"policy","policyId":"team-margin","planName":"Team","minMargin":{"pct":"50","period":"month","minRevenueCents":"10"},"ts":"2026-01-01T00:00:00Z"}
{"type":"tool","customerId":"acme","runId":"r1","externalCostCents":"60","ts":"2026-01-10T00:00:00Z"}
{"type":"tool","customerId":"acme","runId":"r2","externalCostCents":"45","ts":"2026-01-11T00:00:00Z"}
{"type":"tool","customerId":"acme","externalCostCents":"10","ts":"2026-02-11T00:00:00Z"}
{"type":"tool","customerId":"beta","externalCostCents":"500","ts":"2026-01-11T00:00:00Z"}
{"type":"tool","customerId":"gamma","externalCostCents":"7.5","ts":"2026-01-12T00:00:00Z"}
{"type":"tool","customerId":"gamma","externalCostCents":"7.5","ts":"2026-01-13T00:00:00Z"}
"#;

#[test]
fn breaches_in_text_and_json() {
    let out = report(&[], LOG);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let section = text.split("Policy breaches").nth(1).unwrap();
    let lines: Vec<&str> = section.lines().skip(1).map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "acme max_run_cost run r1: cost 60 > 50 (policy cap)",
            "acme budget_exceeded 2026-01: cost 105 > 100 (policy cap)",
            "gamma min_margin 2026-01: margin 25.00 % < 50.00 % (policy team-margin)",
        ]
    );
    let out = report(&["--json"], LOG);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = v["policyBreaches"].as_array().unwrap();
    assert_eq!(b.len(), 3);
    assert_eq!(b[1]["costCents"], "105");
    assert_eq!(b[1]["period"], "2026-01");
    assert_eq!(b[2]["revenueCents"], "20");
    assert_eq!(b[2]["limit"], "50.00");
}

#[test]
fn no_policies_no_section_and_a_bad_policy_is_rejected() {
    let out = report(
        &["--json"],
        r#"{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2026-01-01T00:00:00Z"}"#,
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("policyBreaches").is_none());
    let out = report(
        &[],
        r#"{"type":"policy","policyId":"p","budget":{"cents":"5","period":"fortnight"}}"#,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("budget.period: unknown period \"fortnight\""),
        "{err}"
    );
}
