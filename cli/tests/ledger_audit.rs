//! Audit of `tollgate report --json` against docs/reference/ledger.md / docs/reference/cli.md, over small hand-written logs.
//! Every expected figure is worked out by hand from the SPEC text (arithmetic in comments),
//! never copied from the program's output. They pin tricky behaviour against the SPEC and
//! DECISIONS.
//!
//! Costs use `type: tool` steps with `externalCostCents` (added verbatim, docs/reference/events.md (usage)) wherever the
//! rate card is not the point, so the money is plain arithmetic. LLM rates, where used, are
//! the registry's in cents per token: gpt-4o 0.00025 in / 0.001 out, gpt-4o-mini 0.000015 in.

use serde_json::Value;
use std::io::Write;
use std::process::{Command, Output, Stdio};

fn run(args: &[&str], log: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("report")
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(log.as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

/// `tollgate report --json ARGS` over `log` on stdin.
fn report(args: &[&str], log: &str) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = run(&all, log);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn find<'a>(list: &'a Value, pairs: &[(&str, &str)]) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|x| pairs.iter().all(|(k, v)| x[*k] == *v))
        .unwrap_or_else(|| panic!("no entry with {pairs:?} in {list}"))
}

fn customer<'a>(r: &'a Value, id: &str) -> &'a Value {
    find(&r["customers"], &[("customerId", id)])
}

fn run_of<'a>(r: &'a Value, cust: &str, id: &str) -> &'a Value {
    find(&r["runs"], &[("customerId", cust), ("runId", id)])
}

// ---------------------------------------------------------------------------------------------
// Subscription accrual (docs/reference/ledger.md (customers and plans): per calendar month, straight-line per UTC day)
// ---------------------------------------------------------------------------------------------

const PER_SEAT_FEB_2025: &str = r#"
{"type":"customer","customerId":"a","name":"A","seats":3,"plan":{"name":"p","pricingModel":"per_seat","seatPriceCents":700}}
{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2025-02-01T00:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2025-02-07T23:00:00Z"}
"#;

#[test]
fn per_seat_accrues_per_day_of_a_28_day_month() {
    // 3 seats × 700 = 2100 a month; February 2025 has 28 days.
    // No window: Feb 1 ..= Feb 7 (day of the last event) = 7 days → 2100 × 7 / 28 = 525.
    let r = report(&[], PER_SEAT_FEB_2025);
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "525");
    assert_eq!(r["totals"]["revenueCents"], "525");
    assert_eq!(r["totals"]["costCents"], "2");
    assert_eq!(r["totals"]["marginCents"], "523");
    // 523 / 525 = 99.6190… % → "99.62".
    assert_eq!(r["totals"]["marginPct"], "99.62");
    // Whole February: exactly the month's 2100.
    let r = report(
        &["--from", "2025-02-01", "--to", "2025-02-28"],
        PER_SEAT_FEB_2025,
    );
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "2100");
    // Jan 30 ..= Mar 2. The customer record has no timestamp: in force from the ledger's first
    // day of activity (Feb 1, DECISIONS), so Jan 30/31 accrue nothing. February 2100, plus
    // March 1, 2 of 31 days. Exact split of 2100 over 31 days in 10^-24 cent:
    // q = 2100·10^24 div 31 = 67.741935483870967741935483 (r = 27 units go to the last 27
    // days), so Mar 1 and 2 get q each: 2q = 135.483870967741935483870966.
    // 2100 + 135.483870967741935483870966 = 2235.483870967741935483870966.
    let r = report(
        &["--from", "2025-01-30", "--to", "2025-03-02"],
        PER_SEAT_FEB_2025,
    );
    assert_eq!(
        r["totals"]["subscriptionRevenueCents"],
        "2235.483870967741935483870966"
    );
}

const SEAT_CHANGE_APRIL: &str = r#"
{"type":"customer","customerId":"a","name":"A","seats":2,"plan":{"name":"p","pricingModel":"per_seat","seatPriceCents":300,"monthlyFeeCents":100},"ts":"2025-04-01T00:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2025-04-05T00:00:00Z"}
{"type":"customer","customerId":"a","name":"A","seats":5,"plan":{"name":"p","pricingModel":"per_seat","seatPriceCents":300,"monthlyFeeCents":100},"ts":"2025-04-11T12:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2025-04-20T00:00:00Z"}
"#;

#[test]
fn seat_change_mid_month_applies_from_the_upsert_day() {
    // v1: 2 × 300 + fee 100 = 700 a month; v2 (Apr 11): 5 × 300 + 100 = 1600. April: 30 days.
    // The version of Apr 11 governs Apr 11 (DECISIONS: per UTC day, last version of the day).
    // Whole April: 700 × 10/30 + 1600 × 20/30 = 233.33… + 1066.66… = 1300 exactly.
    let r = report(
        &["--from", "2025-04-01", "--to", "2025-04-30"],
        SEAT_CHANGE_APRIL,
    );
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "1300");
    // Apr 11 alone: 1600 / 30: q = 53.333333333333333333333333, r = 10 units (last 10 days),
    // Apr 11 is day 11 ≤ 20 → q.
    let r = report(
        &["--from", "2025-04-11", "--to", "2025-04-11"],
        SEAT_CHANGE_APRIL,
    );
    assert_eq!(
        r["totals"]["subscriptionRevenueCents"],
        "53.333333333333333333333333"
    );
    assert_eq!(r["totals"]["events"], 0);
    // No window: Apr 1 ..= Apr 20. 700/30: q = 23.333333333333333333333333 (r = 10, last 10
    // days), Apr 1..10 → 10q = 233.33333333333333333333333; 1600/30 Apr 11..20 (days ≤ 20) →
    // 10 × 53.333333333333333333333333 = 533.33333333333333333333333. Sum 766.66666666666666666666666.
    let r = report(&[], SEAT_CHANGE_APRIL);
    assert_eq!(
        r["totals"]["subscriptionRevenueCents"],
        "766.66666666666666666666666"
    );
    assert_eq!(r["window"]["subscriptionThrough"], "2025-04-20");
}

const FLAT_ACROSS_YEAR_AND_LEAP_DAY: &str = r#"
{"type":"customer","customerId":"a","name":"A","plan":{"name":"p","pricingModel":"flat","monthlyFeeCents":3100},"ts":"2023-12-15T18:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2024-02-29T12:00:00Z"}
"#;

#[test]
fn flat_fee_across_a_year_boundary_and_a_leap_february() {
    // 3100 a month. Dec 15..=31 (17 of 31 days) = 1700; Jan 2024 = 3100; Feb 2024 (29 days,
    // all) = 3100; Mar 1 = 3100 / 31 = 100. Window Dec 1 ..= Mar 1: 1700+3100+3100+100 = 8000.
    let r = report(
        &["--from", "2023-12-01", "--to", "2024-03-01"],
        FLAT_ACROSS_YEAR_AND_LEAP_DAY,
    );
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "8000");
    // No window: through Feb 29 (last event) = 1700 + 3100 + 3100 = 7900.
    let r = report(&[], FLAT_ACROSS_YEAR_AND_LEAP_DAY);
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "7900");
    // Feb 29 alone: 3100/29: q = 106.896551724137931034482758, 29q = 3099.999999999999999999999982,
    // r = 18 units → the last 18 days get q + 1; Feb 29 is the last → …759.
    let r = report(
        &["--from", "2024-02-29", "--to", "2024-02-29"],
        FLAT_ACROSS_YEAR_AND_LEAP_DAY,
    );
    assert_eq!(
        r["totals"]["subscriptionRevenueCents"],
        "106.896551724137931034482759"
    );
    // A window before the plan existed accrues nothing.
    let r = report(
        &["--from", "2023-11-01", "--to", "2023-12-14"],
        FLAT_ACROSS_YEAR_AND_LEAP_DAY,
    );
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "0");
    assert_eq!(r["totals"]["marginPct"], Value::Null);
}

#[test]
fn monthly_fee_on_every_plan_and_seats_only_on_per_seat() {
    let log = r#"
{"type":"customer","customerId":"f","name":"F","seats":10,"plan":{"name":"p","pricingModel":"flat","seatPriceCents":100,"monthlyFeeCents":3000},"ts":"2025-09-01T00:00:00Z"}
{"type":"customer","customerId":"u","name":"U","seats":10,"plan":{"name":"p","pricingModel":"usage_based","seatPriceCents":100,"unitRevenueCents":1,"monthlyFeeCents":600},"ts":"2025-09-01T00:00:00Z"}
{"type":"customer","customerId":"o","name":"O","plan":{"name":"p","pricingModel":"outcome_based","unitRevenueCents":50,"monthlyFeeCents":900},"ts":"2025-09-01T00:00:00Z"}
{"type":"customer","customerId":"f","name":"F","seats":10,"plan":{"name":"p","pricingModel":"flat","seatPriceCents":100,"monthlyFeeCents":3000},"ts":"2025-09-01T00:00:00Z"}
{"type":"tool","customerId":"u","externalCostCents":"1","ts":"2025-09-10T00:00:00Z"}
"#;
    let r = report(&[], log);
    // September has 30 days; accrual Sep 1 ..= Sep 10 = 10 days = 1/3 of a month.
    // f: flat, seats ignored: 3000 / 3 = 1000. u: usage_based fee 600 / 3 = 200, seats ignored,
    // plus 1 event × 1 = 1 → 201. o: outcome_based fee 900 / 3 = 300.
    assert_eq!(customer(&r, "f")["revenueCents"], "1000");
    assert_eq!(customer(&r, "u")["revenueCents"], "201");
    assert_eq!(customer(&r, "o")["revenueCents"], "300");
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "1500");
    // The repeated identical upsert of f is a duplicate.
    assert_eq!(r["totals"]["duplicates"], 1);
}

// ---------------------------------------------------------------------------------------------
// Revenue precedence, outcomes, runs (docs/reference/ledger.md (customers and plans), docs/reference/ledger.md (runs))
// ---------------------------------------------------------------------------------------------

const PRECEDENCE: &str = r#"
{"type":"customer","customerId":"u","name":"U","plan":{"name":"p","pricingModel":"usage_based","unitRevenueCents":"2.5"}}
{"type":"customer","customerId":"o","name":"O","plan":{"name":"p","pricingModel":"outcome_based","unitRevenueCents":150}}
{"type":"tool","customerId":"u","runId":"r1","externalCostCents":"1","units":4,"ts":"2025-06-01T00:00:00Z"}
{"type":"tool","customerId":"u","runId":"r1","externalCostCents":"1","ts":"2025-06-01T00:01:00Z"}
{"type":"tool","customerId":"u","runId":"r1","externalCostCents":"1","units":3,"revenueUnitCents":"10","ts":"2025-06-01T00:02:00Z"}
{"type":"tool","customerId":"u","runId":"r1","externalCostCents":"1","units":0,"ts":"2025-06-01T00:02:30Z"}
{"type":"tool","customerId":"u","runId":"r1","externalCostCents":"1","revenueUnitCents":"0","ts":"2025-06-01T00:02:40Z"}
{"type":"tool","customerId":"o","runId":"r1","externalCostCents":"1","units":4,"ts":"2025-06-01T00:03:00Z"}
{"type":"tool","customerId":"o","runId":"r1","externalCostCents":"1","units":2,"revenueUnitCents":"7","ts":"2025-06-01T00:04:00Z"}
{"type":"resolve","customerId":"o","runId":"r1","outcome":"resolved","ts":"2025-06-01T00:05:00Z"}
{"type":"resolve","customerId":"o","runId":"r2","outcome":"resolved","revenueUnitCents":"99","ts":"2025-06-01T00:05:00Z"}
{"type":"resolve","customerId":"o","runId":"r3","outcome":"escalated","revenueUnitCents":"99","ts":"2025-06-01T00:05:00Z"}
{"type":"resolve","customerId":"o","runId":"r4","outcome":"failed","ts":"2025-06-01T00:05:00Z"}
{"type":"resolve","customerId":"u","runId":"r1","outcome":"resolved","ts":"2025-06-01T00:06:00Z"}
{"type":"tool","customerId":"o","runId":"r1","externalCostCents":"5","ts":"2025-06-01T00:07:00Z"}
{"type":"resolve","customerId":"o","runId":"r1","outcome":"resolved","ts":"2025-06-01T00:08:00Z"}
{"type":"resolve","customerId":"o","runId":"r1","outcome":"failed","ts":"2025-06-01T00:09:00Z"}
{"type":"resolve","customerId":"o","runId":"r2","outcome":"resolved","revenueUnitCents":"98","ts":"2025-06-01T00:09:00Z"}
{"type":"resolve","customerId":"o","runId":"r2","outcome":"resolved","revenueUnitCents":"99.0","ts":"2025-06-01T00:09:00Z"}
{"type":"resolve","customerId":"o","runId":"r4","outcome":"failed","ts":"2025-06-01T00:09:00Z"}
{"type":"tool","customerId":"o","runId":"r5","externalCostCents":"1","outcome":"resolved","ts":"2025-06-01T00:10:00Z"}
{"type":"tool","customerId":"o","runId":"r6","externalCostCents":"1","outcome":"failed","ts":"2025-06-01T00:10:00Z"}
"#;

#[test]
fn revenue_precedence_and_resolutions() {
    let r = report(&[], PRECEDENCE);
    // u (usage_based 2.5/unit): units 4 → 10; units default 1 → 2.5; explicit 10 × 3 units →
    // 30 (event price wins); units 0 → 0; explicit 0 → 0 (explicit wins over the plan).
    // Total 42.5. Its run's "resolved" earns nothing: the plan is not outcome_based.
    let u = run_of(&r, "u", "r1");
    assert_eq!(u["revenueCents"], "42.5");
    assert_eq!(u["costCents"], "5");
    assert_eq!(u["outcome"], "resolved");
    assert_eq!(u["events"], 5);
    // o (outcome_based 150): event without price → 0 (the plan is not usage_based); explicit
    // 7 × 2 units = 14; resolution 150. Cost 1 + 1 + 5 (an event after the resolution still
    // costs) = 7. Revenue 164, margin 157.
    let r1 = run_of(&r, "o", "r1");
    assert_eq!(r1["revenueCents"], "164");
    assert_eq!(r1["costCents"], "7");
    assert_eq!(r1["marginCents"], "157");
    assert_eq!(r1["outcome"], "resolved");
    assert_eq!(r1["events"], 3);
    // r2: resolve names 99 → 99 (not the plan's 150); "99.0" later is the same amount.
    assert_eq!(run_of(&r, "o", "r2")["revenueCents"], "99");
    assert_eq!(run_of(&r, "o", "r2")["events"], 0);
    // r3 escalated (named amount ignored), r4 failed: 0, listed without events.
    assert_eq!(run_of(&r, "o", "r3")["revenueCents"], "0");
    assert_eq!(run_of(&r, "o", "r3")["outcome"], "escalated");
    assert_eq!(run_of(&r, "o", "r4")["outcome"], "failed");
    // Single-call outcomes: r5 resolved → plan 150; r6 failed → 0, its cost 1 counts.
    assert_eq!(run_of(&r, "o", "r5")["revenueCents"], "150");
    assert_eq!(run_of(&r, "o", "r6")["revenueCents"], "0");
    assert_eq!(run_of(&r, "o", "r6")["marginCents"], "-1");
    // Totals: usage 42.5 + 14 = 56.5; outcomes 150 + 99 + 150 = 399; revenue 455.5.
    // Cost: u 5 + o (7 + 1 + 1) = 14. Margin 441.5; 441.5 / 455.5 = 96.926… % → "96.93".
    let t = &r["totals"];
    assert_eq!(t["revenueCents"], "455.5");
    assert_eq!(t["costCents"], "14");
    assert_eq!(t["marginCents"], "441.5");
    assert_eq!(t["marginPct"], "96.93");
    assert_eq!(t["events"], 10);
    // Duplicates: repeated r1 resolved, r2 with "99.0", repeated r4 failed = 3.
    // Conflicts: r1 failed after resolved, r2 with 98 = 2 (the first resolution stands).
    assert_eq!(t["duplicates"], 3);
    assert_eq!(t["conflicts"], 2);
    assert_eq!(t["rejected"], 0);
}

#[test]
fn single_call_outcome_uses_the_key_as_run_and_first_resolution_stands() {
    let log = r#"
{"type":"customer","customerId":"o","name":"O","plan":{"name":"p","pricingModel":"outcome_based","unitRevenueCents":150}}
{"type":"tool","customerId":"o","externalCostCents":"1","outcome":"resolved","idempotencyKey":"call-1","ts":"2025-06-01T00:00:00Z"}
{"type":"tool","customerId":"o","externalCostCents":"1","outcome":"resolved","idempotencyKey":"call-1","ts":"2025-06-01T00:00:01Z"}
{"type":"tool","customerId":"o","runId":"r","externalCostCents":"2","outcome":"escalated","ts":"2025-06-01T00:00:02Z"}
{"type":"tool","customerId":"o","runId":"r","externalCostCents":"3","outcome":"resolved","ts":"2025-06-01T00:00:03Z"}
{"type":"resolve","customerId":"o","runId":"r","outcome":"escalated","ts":"2025-06-01T00:00:04Z"}
"#;
    let r = report(&[], log);
    // call-1: resolved once (its retry is a duplicate): 150 − 1 = 149.
    let c = run_of(&r, "o", "call-1");
    assert_eq!(c["revenueCents"], "150");
    assert_eq!(c["marginCents"], "149");
    // r: escalated first; the later "resolved" event only adds its cost 3; the explicit
    // escalated resolve repeats the first resolution → duplicate. Revenue 0, cost 5.
    let run = run_of(&r, "o", "r");
    assert_eq!(run["outcome"], "escalated");
    assert_eq!(run["revenueCents"], "0");
    assert_eq!(run["costCents"], "5");
    assert_eq!(run["events"], 2);
    assert_eq!(r["totals"]["duplicates"], 2);
    assert_eq!(r["totals"]["conflicts"], 0);
}

#[test]
fn runs_are_keyed_by_customer_and_run_and_resolution_is_dated_at_resolve() {
    let log = r#"
{"type":"customer","customerId":"o","name":"O","plan":{"name":"p","pricingModel":"outcome_based","unitRevenueCents":150,"monthlyFeeCents":3100},"ts":"2025-01-01T00:00:00Z"}
{"type":"tool","customerId":"o","runId":"r1","externalCostCents":"10","ts":"2025-01-30T23:59:59Z"}
{"type":"resolve","customerId":"o","runId":"r1","outcome":"resolved","ts":"2025-01-31T00:00:01Z"}
{"type":"tool","customerId":"o","runId":"r1","externalCostCents":"4","ts":"2025-02-01T00:00:00Z"}
{"type":"resolve","customerId":"p","runId":"r1","outcome":"failed","ts":"2025-02-01T00:00:00Z"}
"#;
    // Jan 30: the run's cost 10, no resolution revenue yet; subscription 3100/31 = 100.
    let r = report(&["--from", "2025-01-30", "--to", "2025-01-30"], log);
    assert_eq!(run_of(&r, "o", "r1")["revenueCents"], "0");
    assert_eq!(run_of(&r, "o", "r1")["costCents"], "10");
    assert_eq!(r["totals"]["revenueCents"], "100");
    // Jan 31: the resolution's 150 + subscription 100 = 250, no events.
    let r = report(&["--from", "2025-01-31", "--to", "2025-01-31"], log);
    assert_eq!(run_of(&r, "o", "r1")["revenueCents"], "150");
    assert_eq!(r["totals"]["revenueCents"], "250");
    assert_eq!(r["totals"]["events"], 0);
    // All days: (o, r1) resolved, revenue 150, cost 14; (p, r1) is another run, failed.
    let r = report(&[], log);
    assert_eq!(run_of(&r, "o", "r1")["outcome"], "resolved");
    assert_eq!(run_of(&r, "o", "r1")["costCents"], "14");
    assert_eq!(run_of(&r, "p", "r1")["outcome"], "failed");
    // Subscription Jan 1 ..= Feb 1: 3100 + 3100/28. 3100/28 in 10^-24: q =
    // 110.714285714285714285714285, r = 20 (last 20 days); Feb 1 → q.
    assert_eq!(
        r["totals"]["subscriptionRevenueCents"],
        "3210.714285714285714285714285"
    );
}

// ---------------------------------------------------------------------------------------------
// Exactly-once (docs/reference/ledger.md (exactly-once))
// ---------------------------------------------------------------------------------------------

const DEDUPE: &str = r#"
{"customerId":"a","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":100,"idempotencyKey":"k1","ts":"2025-06-01T00:00:00Z"}
{"customerId":"a","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":100,"idempotencyKey":"k1","ts":"2025-06-01T00:00:09Z","responseId":"x"}
{"type":"llm","customerId":"a","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":100,"idempotencyKey":"k1","ts":"2025-06-01T00:00:10Z","units":1}
{"type":"track","customerId":"a","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":100,"cachedTokens":0,"idempotencyKey":"k1","ts":"2025-06-01T00:00:11Z"}
{"customerId":"a","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":101,"idempotencyKey":"k1","ts":"2025-06-01T00:00:12Z"}
{"customerId":"b","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":100,"idempotencyKey":"k1","ts":"2025-06-01T00:00:13Z"}
{"customerId":"a","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":100,"ts":"2025-06-01T00:00:14Z"}
{"customerId":"a","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":100,"ts":"2025-06-01T00:00:14Z"}
{"type":"tool","customerId":"a","externalCostCents":"1.50","idempotencyKey":"k2","ts":"2025-06-01T01:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":1.5,"idempotencyKey":"k2","ts":"2025-06-01T01:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1.5","idempotencyKey":"k2","ts":"2025-06-01T01:00:00Z","revenueUnitCents":null}
{"type":"tool","customerId":"a","externalCostCents":"1.5","idempotencyKey":"k3","ts":"2025-06-02T01:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1.5","idempotencyKey":"k4","ts":"2025-06-01T01:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1.5","idempotencyKey":"k5","ts":"2025-06-01T00:59:59.999Z"}
{"type":"tool","customerId":"a","externalCostCents":"1.5","ts":"2025-05-01T00:59:59.999Z"}
{"type":"tool","customerId":"a","externalCostCents":"1.5","idempotencyKey":"k2","ts":"2025-06-01T01:00:00Z"}
"#;

#[test]
fn duplicates_conflicts_and_the_24h_window() {
    let r = report(&[], DEDUPE);
    let t = &r["totals"];
    // k1 accepted; retries differing only in timestamp / responseId / spelled-out defaults
    // (type llm|track, units 1, cachedTokens 0) are duplicates (3); tokensOut 101 and another
    // customer under the same key are conflicts (2). Keyless twins: 2 events.
    // k2 accepted; "1.50" = 1.5 = 1.5 with a null field → 2 duplicates, and the last line → 1.
    // k3 moves the clock to Jun 2 01:00 → window starts Jun 1 01:00: k4 exactly at the start
    // is inside; k5 1 ms before is too_late (rejected); a keyless old event is accepted.
    assert_eq!(t["duplicates"], 6);
    assert_eq!(t["conflicts"], 2);
    assert_eq!(t["rejected"], 1);
    assert_eq!(t["tooLate"], 1);
    // Events: k1, 2 keyless, k2, k3, k4, old keyless = 7.
    assert_eq!(t["events"], 7);
    // Cost: gpt-4o 1000 × 0.00025 + 100 × 0.001 = 0.35, × 3 = 1.05; tools 4 × 1.5 = 6.
    assert_eq!(t["costCents"], "7.05");
    assert_eq!(t["revenueCents"], "0");
    assert_eq!(t["marginPct"], Value::Null);
    // Customer b exists only as a conflict: nothing is booked for it.
    assert!(
        r["customers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["customerId"] != "b")
    );
}

const FAR_FUTURE_IN_HISTORY: &str = r#"
{"type":"tool","customerId":"a","externalCostCents":"1","idempotencyKey":"k1","ts":"2025-02-01T00:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","idempotencyKey":"k2","ts":"2099-02-07T23:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","idempotencyKey":"k1","ts":"2025-02-01T00:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","idempotencyKey":"k3","ts":"2025-02-01T10:00:00Z"}
"#;

#[test]
fn far_future_timestamp_does_not_evict_the_window_of_a_past_log() {
    // docs/reference/ledger.md (exactly-once): "One far-future timestamp MUST NOT evict the window." The log's time is
    // Feb 2025; one typo'd 2099 event must not move the window away from it. Then:
    // the k1 retry (same content) is a duplicate, k3 (10 h after k1) is a new event.
    // Events k1, k2, k3 = 3, cost 3 × 1 = 3, nothing rejected.
    // (Once failed: the clock was capped at wall clock + 5 min, so the 2099 event moved the
    // window to "now" and k1's retry and k3 were rejected too_late.)
    let r = report(&[], FAR_FUTURE_IN_HISTORY);
    let t = &r["totals"];
    assert_eq!(t["rejected"], 0);
    assert_eq!(t["tooLate"], 0);
    assert_eq!(t["duplicates"], 1);
    assert_eq!(t["events"], 3);
    assert_eq!(t["costCents"], "3");
}

// ---------------------------------------------------------------------------------------------
// The report must not depend on when it is run
// ---------------------------------------------------------------------------------------------

const PER_SEAT_FEB_2099: &str = r#"
{"type":"customer","customerId":"a","name":"A","seats":3,"plan":{"name":"p","pricingModel":"per_seat","seatPriceCents":700}}
{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2099-02-01T00:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2099-02-07T23:00:00Z"}
"#;

#[test]
fn report_of_a_future_dated_log_does_not_depend_on_the_wall_clock() {
    // The same log as `per_seat_accrues_per_day_of_a_28_day_month`, dated February 2099
    // (also 28 days). Expected as there: accrue Feb 1 ..= Feb 7 → 2100 × 7 / 28 = 525.
    // (Once failed: "subscriptionThrough" was the wall-clock day, before the log, so the
    // subscription was 0 and the answer changed with the date the command ran.)
    let r = report(&[], PER_SEAT_FEB_2099);
    assert_eq!(r["window"]["subscriptionThrough"], "2099-02-07");
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "525");
    // With only --from, the window also runs through the log's last day.
    let r = report(&["--from", "2099-02-01"], PER_SEAT_FEB_2099);
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "525");
}

#[test]
fn subscription_of_an_undated_customer_covers_the_whole_log() {
    // Customer a (flat 3000/month, record without timestamp) is active only on Jun 10 2025.
    // DECISIONS: an undated plan is in force from the start and its subscription accrues over
    // the log's period, from the ledger's first day of activity — a flat-fee customer pays
    // for the period whether or not it made calls that day.
    // Alone: the log's period is Jun 10 → 3000 / 30 = 100.
    // With customer b's Jan 1 event the log's period starts Jan 1: Jan..May 5 × 3000 +
    // Jun 1..=10 10/30 × 3000 = 15000 + 1000 = 16000. (Per-shard ledgers agree with the whole
    // once combined with `merge`, which keeps the earliest first day.)
    let alone = r#"
{"type":"customer","customerId":"a","name":"A","plan":{"name":"p","pricingModel":"flat","monthlyFeeCents":3000}}
{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2025-06-10T00:00:00Z"}
"#;
    let combined = r#"
{"type":"customer","customerId":"a","name":"A","plan":{"name":"p","pricingModel":"flat","monthlyFeeCents":3000}}
{"type":"tool","customerId":"b","externalCostCents":"1","ts":"2025-01-01T00:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2025-06-10T00:00:00Z"}
"#;
    let r = report(&[], alone);
    assert_eq!(customer(&r, "a")["revenueCents"], "100");
    let r = report(&[], combined);
    assert_eq!(customer(&r, "a")["revenueCents"], "16000");
}

// ---------------------------------------------------------------------------------------------
// Cost sources, unpriced models, marginPct, timestamps
// ---------------------------------------------------------------------------------------------

#[test]
fn cost_sources_and_unpriced_listing() {
    let log = r#"
{"customerId":"a","provider":"openai","model":"no-such-model","tokensIn":1000,"tokensOut":100,"externalCostCents":"0.7","ts":"2025-06-01T00:00:00Z"}
{"customerId":"a","provider":"openai","model":"no-such-model","tokensIn":1,"ts":"2025-06-01T00:00:00Z"}
{"customerId":"a","provider":"azure","model":"no-such-model","tokensIn":1,"ts":"2025-06-01T00:00:00Z"}
{"customerId":"a","provider":"openai","model":"no-such-model","providerCostCents":"3","ts":"2025-06-01T00:00:00Z"}
{"customerId":"a","provider":"openai","model":"gpt-4o","tokensIn":1000,"providerCostCents":"0","ts":"2025-06-01T00:00:00Z"}
{"type":"tool","customerId":"a","ts":"2025-06-01T00:00:00Z"}
{"type":"retrieval","customerId":"a","providerCostCents":"2","externalCostCents":"0.25","ts":"2025-06-01T00:00:00Z"}
{"customerId":"a","provider":"openai","tokensIn":5,"ts":"2025-06-01T00:00:00Z"}
"#;
    let r = report(&[], log);
    let t = &r["totals"];
    // Unknown model: cost = externalCostCents alone (0.7), 0, 0; providerCostCents 3 is used
    // verbatim (priced, not unpriced); providerCostCents 0 on gpt-4o is a real 0 (rate card
    // skipped); a tool step without model costs 0; retrieval 2 + 0.25 = 2.25.
    // Total 0.7 + 3 + 2.25 = 5.95. The llm event without a model is rejected.
    assert_eq!(t["costCents"], "5.95");
    assert_eq!(t["events"], 7);
    assert_eq!(t["rejected"], 1);
    assert_eq!(t["unpricedEvents"], 3);
    // Listed per (provider, model).
    assert_eq!(
        find(
            &r["unpriced"],
            &[("provider", "openai"), ("model", "no-such-model")]
        )["events"],
        2
    );
    assert_eq!(
        find(
            &r["unpriced"],
            &[("provider", "azure"), ("model", "no-such-model")]
        )["events"],
        1
    );
    assert_eq!(r["unpriced"].as_array().unwrap().len(), 2);
}

#[test]
fn margin_pct_is_half_even_to_two_decimals_and_null_without_revenue() {
    let log = r#"
{"type":"tool","customerId":"a","externalCostCents":"199.99","revenueUnitCents":"200","ts":"2025-06-01T00:00:00Z"}
{"type":"tool","customerId":"b","externalCostCents":"199.97","revenueUnitCents":"200","ts":"2025-06-01T00:00:00Z"}
{"type":"tool","customerId":"c","externalCostCents":"200.01","revenueUnitCents":"200","ts":"2025-06-01T00:00:00Z"}
{"type":"tool","customerId":"e","externalCostCents":"1","revenueUnitCents":"3","ts":"2025-06-01T00:00:00Z"}
{"type":"tool","customerId":"f","externalCostCents":"5","revenueUnitCents":"2","ts":"2025-06-01T00:00:00Z"}
{"type":"tool","customerId":"z","externalCostCents":"5","ts":"2025-06-01T00:00:00Z"}
"#;
    let r = report(&[], log);
    // a: 0.01 / 200 = 0.005 % → half-even "0.00"; b: 0.03 / 200 = 0.015 % → "0.02";
    // c: −0.005 % → "0.00" (no "-0.00"); e: 2/3 = 66.666… → "66.67"; f: −3/2 → "-150.00";
    // z: no revenue → null.
    assert_eq!(customer(&r, "a")["marginPct"], "0.00");
    assert_eq!(customer(&r, "b")["marginPct"], "0.02");
    assert_eq!(customer(&r, "c")["marginPct"], "0.00");
    assert_eq!(customer(&r, "c")["marginCents"], "-0.01");
    assert_eq!(customer(&r, "e")["marginPct"], "66.67");
    assert_eq!(customer(&r, "f")["marginPct"], "-150.00");
    assert_eq!(customer(&r, "z")["marginPct"], Value::Null);
    assert_eq!(customer(&r, "z")["marginCents"], "-5");
    // Totals: revenue 200×3 + 3 + 2 = 605; cost 199.99+199.97+200.01+1+5+5 = 610.97;
    // margin −5.97; −5.97/605 = −0.98677… % → "-0.99". Amounts are strings.
    assert_eq!(r["totals"]["revenueCents"], "605");
    assert_eq!(r["totals"]["costCents"], "610.97");
    assert_eq!(r["totals"]["marginCents"], "-5.97");
    assert_eq!(r["totals"]["marginPct"], "-0.99");
}

#[test]
fn timestamps_in_any_offset_or_epoch_ms_land_on_their_utc_day() {
    let log = r#"
{"type":"tool","customerId":"a","externalCostCents":"1","revenueUnitCents":"2","ts":"2025-06-01T01:00:00+02:00"}
{"type":"tool","customerId":"a","externalCostCents":"10","revenueUnitCents":"20","ts":1748736000000}
{"type":"tool","customerId":"a","externalCostCents":"100","revenueUnitCents":"200","timestamp":"2025-05-31T23:59:59.999Z"}
{"type":"resolve","customerId":"a","runId":"z","outcome":"resolved","revenueUnitCents":"5","ts":1748735999999}
"#;
    // 01:00+02:00 is May 31 23:00Z; 1748736000000 ms = 2025-06-01T00:00:00Z;
    // 1748735999999 = May 31 23:59:59.999Z.
    // May 31: revenue 2 + 200 + 5 = 207, cost 101.
    let r = report(&["--from", "2025-05-31", "--to", "2025-05-31"], log);
    assert_eq!(r["totals"]["revenueCents"], "207");
    assert_eq!(r["totals"]["costCents"], "101");
    // Jun 1: revenue 20, cost 10.
    let r = report(&["--from", "2025-06-01", "--to", "2025-06-01"], log);
    assert_eq!(r["totals"]["revenueCents"], "20");
    assert_eq!(r["totals"]["costCents"], "10");
}

// ---------------------------------------------------------------------------------------------
// State across invocations, table output
// ---------------------------------------------------------------------------------------------

#[test]
fn state_round_trip_sees_duplicates_of_the_first_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s.state");
    let s = state.to_str().unwrap();
    // First invocation: the first 3 lines of DEDUPE = k1 and two duplicates of it.
    let first: String = DEDUPE
        .trim_start()
        .lines()
        .take(3)
        .collect::<Vec<_>>()
        .join("\n");
    let r = report(&["--state", s], &first);
    assert_eq!(r["totals"]["events"], 1);
    assert_eq!(r["totals"]["costCents"], "0.35");
    // Second invocation over the whole DEDUPE log: as in `duplicates_conflicts_and_the_24h_window`
    // except that the first k1 line is now a duplicate too: 6 + 1 = 7 duplicates. The ledger
    // totals equal the single-pass ones (7 events, 7.05).
    let r = report(&["--state", s], DEDUPE);
    assert_eq!(r["totals"]["duplicates"], 7);
    assert_eq!(r["totals"]["conflicts"], 2);
    assert_eq!(r["totals"]["events"], 7);
    assert_eq!(r["totals"]["costCents"], "7.05");
    // A third invocation with no input reports the saved ledger, counters at 0.
    let r = report(&["--state", s], "");
    assert_eq!(r["totals"]["events"], 7);
    assert_eq!(r["totals"]["costCents"], "7.05");
    assert_eq!(r["totals"]["duplicates"], 0);
}

#[test]
fn table_agrees_with_json() {
    let out = run(&[], PRECEDENCE);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    // Same figures as `revenue_precedence_and_resolutions`, 4 decimals.
    let total = text.lines().find(|l| l.starts_with("TOTAL")).unwrap();
    let cols: Vec<&str> = total.split_whitespace().collect();
    assert_eq!(
        cols,
        ["TOTAL", "455.5000", "14.0000", "441.5000", "96.93%", "10"]
    );
    let r1 = text
        .lines()
        .find(|l| l.starts_with("o ") && l.contains(" r1 "))
        .unwrap();
    let cols: Vec<&str> = r1.split_whitespace().collect();
    assert_eq!(
        cols,
        [
            "o", "r1", "resolved", "164.0000", "7.0000", "157.0000", "95.73%", "3"
        ]
    );
    // Runs without revenue show "-" for the margin %.
    let r3 = text
        .lines()
        .find(|l| l.starts_with("o ") && l.contains(" r3 "))
        .unwrap();
    assert!(r3.contains("escalated") && r3.contains(" - "), "{r3}");
    assert!(text.contains("records: 17 accepted, 3 duplicates, 2 conflicts, 0 rejected"));
}

#[test]
fn response_id_is_the_default_idempotency_key() {
    // docs/reference/extraction.md: the response id becomes the default idempotency key, so a keyless event that
    // names a responseId is deduplicated (and subject to too_late) like a keyed one.
    let log = r#"
{"type":"tool","customerId":"a","externalCostCents":"1","responseId":"resp-1","ts":"2025-06-02T00:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","responseId":"resp-1","ts":"2025-06-02T00:00:05Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","responseId":"resp-2","ts":"2025-05-01T00:00:00Z"}
"#;
    let r = report(&[], log);
    // 1 event (cost 1), 1 duplicate, the May 1 one is > 24 h behind Jun 2 → too_late.
    assert_eq!(r["totals"]["events"], 1);
    assert_eq!(r["totals"]["costCents"], "1");
    assert_eq!(r["totals"]["duplicates"], 1);
    assert_eq!(r["totals"]["tooLate"], 1);
}

#[test]
fn an_upsert_replaces_the_whole_customer() {
    // DECISIONS: `upsertCustomer(id, name, seats, plan)` sets all four; a record without
    // `plan` is a customer without a plan from then on (seats default to 0), never a merge
    // with the previous version. A per-seat customer goes from 2 to 5 seats on Apr 16 with
    // a record that names only the seats, April (30 days):
    // Apr 1..=15: 2 × 300 × 15/30 = 300; Apr 16..=30: no plan, 0; total 300.
    // The record that keeps the plan names it again: then Apr 16..=30 = 5 × 300 × 15/30 = 750.
    let log = r#"
{"type":"customer","customerId":"a","name":"A","seats":2,"plan":{"name":"p","pricingModel":"per_seat","seatPriceCents":300},"ts":"2025-04-01T00:00:00Z"}
{"type":"customer","customerId":"a","name":"A","seats":5,"ts":"2025-04-16T00:00:00Z"}
{"type":"tool","customerId":"a","externalCostCents":"1","ts":"2025-04-30T00:00:00Z"}
"#;
    let r = report(&[], log);
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "300");
    let kept = log.replace(
        r#""seats":5,"#,
        r#""seats":5,"plan":{"name":"p","pricingModel":"per_seat","seatPriceCents":300},"#,
    );
    let r = report(&[], &kept);
    assert_eq!(r["totals"]["subscriptionRevenueCents"], "1050");
}
