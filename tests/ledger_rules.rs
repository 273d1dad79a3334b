//! The ledger rules of docs/reference/ledger.md, each on a small log with the expected numbers worked out by
//! hand in the comments.

mod ledger_support;

use ledger_support::*;
use tollgate_engine::ledger::days::parse_day;
use tollgate_engine::ledger::{
    Clock, Dimension, Filter, IngestResult, Ledger, LedgerConfig, RejectKind, RunStatus,
};
use tollgate_engine::money::Cents;

fn customer_revenue(l: &tollgate_engine::ledger::Ledger, c: &str) -> String {
    l.customer_margin(c)
        .unwrap()
        .unwrap()
        .revenue_cents
        .to_string()
}

#[test]
fn usage_based_revenue_and_precedence() {
    let l = ledger();
    let r = feed(
        &l,
        r#"
        {"type":"customer","customerId":"u","plan":{"pricingModel":"usage_based","unitRevenueCents":5},"ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"u","units":3,"externalCostCents":"2","ts":"2026-01-01T01:00:00Z"}
        {"type":"tool","customerId":"u","units":2,"revenueUnitCents":"7.5","externalCostCents":"1","ts":"2026-01-01T02:00:00Z"}
        {"type":"tool","customerId":"nobody","units":4,"externalCostCents":"1","ts":"2026-01-01T02:00:00Z"}
        "#,
    );
    assert!(r.iter().all(accepted), "{r:?}");
    // Plan: 5 × 3 units = 15; explicit revenueUnitCents beats the plan: 7.5 × 2 = 15.
    let IngestResult::Accepted(a) = &r[1] else {
        unreachable!()
    };
    assert_eq!(a.revenue_cents, cents("15"));
    assert_eq!(customer_revenue(&l, "u"), "30");
    // A customer without a plan earns 0 without an explicit amount.
    assert_eq!(customer_revenue(&l, "nobody"), "0");
    let m = l.customer_margin("u").unwrap().unwrap();
    // 30 − (2 + 1) = 27; 27 / 30 = 90.00 %.
    assert_eq!(m.margin_cents(), cents("27"));
    assert_eq!(m.margin_pct().unwrap().to_string(), "90.00");
}

#[test]
fn outcome_based_runs() {
    let l = ledger();
    let r = feed(
        &l,
        r#"
        {"type":"customer","customerId":"o","plan":{"pricingModel":"outcome_based","unitRevenueCents":100},"ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"o","runId":"r1","externalCostCents":"10","ts":"2026-01-01T01:00:00Z"}
        {"type":"tool","customerId":"o","runId":"r1","externalCostCents":"5","ts":"2026-01-01T01:01:00Z"}
        {"type":"resolve","customerId":"o","runId":"r1","outcome":"resolved","ts":"2026-01-01T01:02:00Z"}
        {"type":"tool","customerId":"o","runId":"r2","externalCostCents":"7","ts":"2026-01-01T01:00:00Z"}
        {"type":"resolve","customerId":"o","runId":"r2","outcome":"resolved","revenueUnitCents":"250","ts":"2026-01-01T03:00:00Z"}
        {"type":"tool","customerId":"o","runId":"r3","externalCostCents":"4","ts":"2026-01-01T01:00:00Z"}
        {"type":"resolve","customerId":"o","runId":"r3","outcome":"escalated","ts":"2026-01-01T03:00:00Z"}
        {"type":"tool","customerId":"o","runId":"r4","externalCostCents":"3","ts":"2026-01-01T01:00:00Z"}
        {"type":"resolve","customerId":"o","runId":"r4","outcome":"failed","revenueUnitCents":"999","ts":"2026-01-01T03:00:00Z"}
        {"type":"tool","customerId":"o","runId":"r5","externalCostCents":"1","ts":"2026-01-01T01:00:00Z"}
        "#,
    );
    assert!(r.iter().all(accepted), "{r:?}");
    let IngestResult::Accepted(failed) = &r[9] else {
        unreachable!()
    };
    assert_eq!(failed.revenue_cents, Cents::ZERO);
    assert!(failed.warnings[0].contains("revenueUnitCents ignored"));
    let runs = l.report(None, None).unwrap().runs;
    let summary: Vec<(String, &str, String, String)> = runs
        .iter()
        .map(|r| {
            (
                r.run_id.to_string(),
                r.status.as_str(),
                r.margin.revenue_cents.to_string(),
                r.margin.cost_cents.to_string(),
            )
        })
        .collect();
    // r1: plan 100, cost 10 + 5; r2: named 250; r3/r4: no revenue; r5: open.
    let expect = [
        ("r1", "resolved", "100", "15"),
        ("r2", "resolved", "250", "7"),
        ("r3", "escalated", "0", "4"),
        ("r4", "failed", "0", "3"),
        ("r5", "open", "0", "1"),
    ];
    assert_eq!(summary.len(), expect.len());
    for (got, want) in summary.iter().zip(expect) {
        assert_eq!(
            (got.0.as_str(), got.1, got.2.as_str(), got.3.as_str()),
            want
        );
    }
    let m = l.customer_margin("o").unwrap().unwrap();
    assert_eq!(m.runs.resolved, 2);
    assert_eq!(m.runs.escalated, 1);
    assert_eq!(m.runs.failed, 1);
    assert_eq!(m.runs.open, 1);
    // 350 − 30 = 320.
    assert_eq!(m.margin_cents(), cents("320"));
}

#[test]
fn resolve_is_idempotent_and_the_first_stands() {
    let l = ledger();
    feed(
        &l,
        r#"
        {"type":"customer","customerId":"o","plan":{"pricingModel":"outcome_based","unitRevenueCents":100},"ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"o","runId":"r","externalCostCents":"10","ts":"2026-01-01T01:00:00Z"}
        {"type":"resolve","customerId":"o","runId":"r","outcome":"resolved","ts":"2026-01-01T02:00:00Z"}
        "#,
    );
    let before = l.state_bytes();
    // Same arguments (a retry, later timestamp): duplicate, nothing changes.
    let dup = apply(
        &l,
        r#"{"type":"resolve","customerId":"o","runId":"r","outcome":"resolved","ts":"2026-01-01T05:00:00Z"}"#,
    );
    assert_eq!(dup, IngestResult::Duplicate);
    // Different outcome or amount: conflict, the first stands.
    for line in [
        r#"{"type":"resolve","customerId":"o","runId":"r","outcome":"failed"}"#,
        r#"{"type":"resolve","customerId":"o","runId":"r","outcome":"resolved","revenueUnitCents":100}"#,
    ] {
        assert!(matches!(apply(&l, line), IngestResult::Conflict { .. }));
    }
    assert_eq!(l.state_bytes(), before);
    assert_eq!(l.run_status("o", "r"), Some(RunStatus::Resolved));
    // A late event still adds its cost to the resolved run: 10 + 4 = 14; revenue stays 100.
    assert!(accepted(&apply(
        &l,
        r#"{"type":"tool","customerId":"o","runId":"r","externalCostCents":"4","ts":"2026-01-01T06:00:00Z"}"#
    )));
    let run = &l.report(None, None).unwrap().runs[0];
    assert_eq!(run.margin.cost_cents, cents("14"));
    assert_eq!(run.margin.revenue_cents, cents("100"));
    assert_eq!(run.margin.events, 2);
}

#[test]
fn resolution_revenue_is_dated_at_the_resolve() {
    let l = ledger();
    feed(
        &l,
        r#"
        {"type":"customer","customerId":"o","plan":{"pricingModel":"outcome_based","unitRevenueCents":100},"ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"o","runId":"r","externalCostCents":"10","ts":"2026-01-01T23:00:00Z"}
        {"type":"resolve","customerId":"o","runId":"r","outcome":"resolved","ts":"2026-01-02T01:00:00Z"}
        "#,
    );
    let day = |s| Some(parse_day(s).unwrap());
    let jan1 = l.report(day("2026-01-01"), day("2026-01-01")).unwrap();
    let jan2 = l.report(day("2026-01-02"), day("2026-01-02")).unwrap();
    // Jan 1: cost 10, no revenue; Jan 2: revenue 100, no cost. The run shows in both.
    assert_eq!(
        (jan1.totals.revenue_cents, jan1.totals.cost_cents),
        (Cents::ZERO, cents("10"))
    );
    assert_eq!(
        (jan2.totals.revenue_cents, jan2.totals.cost_cents),
        (cents("100"), Cents::ZERO)
    );
    assert_eq!(jan1.runs.len(), 1);
    assert_eq!(jan2.runs.len(), 1);
    assert_eq!(jan1.totals.margin_pct(), None);
}

#[test]
fn single_call_outcome_resolves_the_run_at_once() {
    let l = ledger();
    let r = feed(
        &l,
        r#"
        {"type":"customer","customerId":"o","plan":{"pricingModel":"outcome_based","unitRevenueCents":40},"ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"o","runId":"one","outcome":"resolved","externalCostCents":"3","ts":"2026-01-01T01:00:00Z"}
        {"type":"tool","customerId":"o","idempotencyKey":"k-solo","outcome":"failed","externalCostCents":"2","ts":"2026-01-01T01:00:00Z"}
        {"type":"tool","customerId":"o","outcome":"resolved","externalCostCents":"2","ts":"2026-01-01T01:00:00Z"}
        {"type":"tool","customerId":"o","runId":"one","outcome":"failed","externalCostCents":"1","ts":"2026-01-01T02:00:00Z"}
        "#,
    );
    // The run earns the plan's 40 at once; the event's revenue is 40 (usage part 0).
    let IngestResult::Accepted(a) = &r[1] else {
        unreachable!()
    };
    assert_eq!(a.revenue_cents, cents("40"));
    // Without a runId the dedupe key names the run.
    assert_eq!(l.run_status("o", "k-solo"), Some(RunStatus::Failed));
    // Without runId or key there is nothing to name the run by.
    let IngestResult::Rejected(e) = &r[3] else {
        panic!("{:?}", r[3])
    };
    assert_eq!(e.field, "outcome");
    // A later event naming another outcome is accepted (its cost counts) with a warning.
    let IngestResult::Accepted(late) = &r[4] else {
        panic!("{:?}", r[4])
    };
    assert!(late.warnings[0].contains("already resolved"));
    assert_eq!(l.run_status("o", "one"), Some(RunStatus::Resolved));
    // Revenue 40; cost 3 + 2 + 1 = 6.
    let m = l.customer_margin("o").unwrap().unwrap();
    assert_eq!((m.revenue_cents, m.cost_cents), (cents("40"), cents("6")));
}

#[test]
fn per_seat_and_flat_accrue_daily() {
    let l = ledger();
    feed(
        &l,
        r#"
        {"type":"customer","customerId":"seat","seats":10,"plan":{"pricingModel":"per_seat","seatPriceCents":3100},"ts":"2026-01-11T09:00:00Z"}
        {"type":"customer","customerId":"flat","plan":{"pricingModel":"flat","monthlyFeeCents":2800},"ts":"2026-02-01T00:00:00Z"}
        {"type":"tool","customerId":"seat","externalCostCents":"1","ts":"2026-02-10T12:00:00Z"}
        "#,
    );
    // seat: 10 × 3100 = 31 000 a month. January has 31 days → 1000 a day; from Jan 11 to
    // Jan 31 is 21 days = 21 000. The ledger clock is Feb 10 (the latest event): February's
    // 31 000 / 28 days is not whole, so look at the exact raw split: 31000 × 10^24 = 28 × q + r
    // with q = 1107142857142857142857142857, r = 4; Feb 1..=10 are among the first 24 days,
    // so each accrues q: 10 q.
    let q: i128 = 1_107_142_857_142_857_142_857_142_857;
    assert_eq!(31_000 * 10i128.pow(24), 28 * q + 4);
    let seat = l.customer_margin("seat").unwrap().unwrap();
    assert_eq!(
        seat.subscription_revenue_cents.raw(),
        21_000 * 10i128.pow(24) + 10 * q
    );
    // flat: 2800 over February's 28 days = 100 a day; Feb 1..=10 = 1000.
    let flat = l.customer_margin("flat").unwrap().unwrap();
    assert_eq!(flat.subscription_revenue_cents, cents("1000"));
    // A window covering all of February includes all of its days: 2800, and 31 000 for seat.
    let feb = l
        .report(
            Some(parse_day("2026-02-01").unwrap()),
            Some(parse_day("2026-02-28").unwrap()),
        )
        .unwrap();
    let by: std::collections::HashMap<String, Cents> = feb
        .customers
        .iter()
        .map(|(c, m)| (c.to_string(), m.subscription_revenue_cents))
        .collect();
    assert_eq!(by["flat"], cents("2800"));
    assert_eq!(by["seat"], cents("31000"));
    // Grouped by day, Feb 28 (one of the last 4 days) gets q + 1 for seat.
    let rows = l
        .margin(
            &Filter {
                customer_id: Some("seat".into()),
                from_day: Some(parse_day("2026-02-28").unwrap()),
                to_day: Some(parse_day("2026-02-28").unwrap()),
                ..Filter::default()
            },
            &[Dimension::Day],
        )
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].margin.subscription_revenue_cents.raw(), q + 1);
}

#[test]
fn plan_changes_apply_from_the_upsert_on() {
    let l = ledger();
    let r = feed(
        &l,
        r#"
        {"type":"customer","customerId":"c","plan":{"pricingModel":"usage_based","unitRevenueCents":10,"monthlyFeeCents":3100},"ts":"2026-01-01T00:00:00Z"}
        {"type":"customer","customerId":"c","plan":{"pricingModel":"usage_based","unitRevenueCents":20},"ts":"2026-01-11T12:00:00Z"}
        {"type":"tool","customerId":"c","ts":"2026-01-11T11:59:59Z"}
        {"type":"tool","customerId":"c","ts":"2026-01-11T12:00:00Z"}
        {"type":"tool","customerId":"c","ts":"2026-01-20T00:00:00Z"}
        {"type":"customer","customerId":"c","plan":{"pricingModel":"usage_based","unitRevenueCents":20},"ts":"2026-01-15T00:00:00Z"}
        "#,
    );
    // The same terms again: duplicate.
    assert_eq!(r[5], IngestResult::Duplicate);
    // Usage: 10 before the change, 20 from it on: 10 + 20 + 20 = 50.
    let m = l.customer_margin("c").unwrap().unwrap();
    assert_eq!(m.usage_revenue_cents, cents("50"));
    // Fee 3100 over January's 31 days = 100 a day for Jan 1..=10 (the change's day, Jan 11,
    // belongs to the new plan, which has no fee): 1000.
    assert_eq!(m.subscription_revenue_cents, cents("1000"));
}

#[test]
fn dedupe_duplicates_conflicts_and_too_late() {
    let l = ledger();
    let ev = |key: &str, cost: &str, ts: &str| {
        format!(
            r#"{{"type":"tool","customerId":"c","idempotencyKey":"{key}","externalCostCents":"{cost}","ts":"{ts}"}}"#
        )
    };
    assert!(accepted(&apply(&l, &ev("a", "1", "2026-01-02T00:00:00Z"))));
    let before = l.state_bytes();
    // Same content, another timestamp: a duplicate (the timestamp is not money-relevant).
    assert_eq!(
        apply(&l, &ev("a", "1", "2026-01-02T00:30:00Z")),
        IngestResult::Duplicate
    );
    // Same key, another cost: conflict.
    assert!(matches!(
        apply(&l, &ev("a", "2", "2026-01-02T00:00:00Z")),
        IngestResult::Conflict { .. }
    ));
    assert_eq!(l.state_bytes(), before);
    // The responseId is the key when there is no idempotencyKey.
    let resp = r#"{"type":"tool","customerId":"c","responseId":"resp_1","externalCostCents":"1","ts":"2026-01-02T00:00:00Z"}"#;
    assert!(accepted(&apply(&l, resp)));
    assert_eq!(apply(&l, resp), IngestResult::Duplicate);
    // Unkeyed events are never deduplicated.
    let unkeyed =
        r#"{"type":"tool","customerId":"c","externalCostCents":"1","ts":"2026-01-02T00:00:00Z"}"#;
    assert!(accepted(&apply(&l, unkeyed)));
    assert!(accepted(&apply(&l, unkeyed)));
    // Clock moves to Jan 3 06:00; the window (24 h) now starts Jan 2 06:00.
    assert!(accepted(&apply(&l, &ev("b", "1", "2026-01-03T06:00:00Z"))));
    let IngestResult::Rejected(e) = apply(&l, &ev("a", "1", "2026-01-02T00:00:00Z")) else {
        panic!("expected too_late")
    };
    assert_eq!(e.kind, RejectKind::TooLate);
    // A key whose first event left the window is forgotten: the same key with a timestamp
    // inside the window counts as new.
    assert!(accepted(&apply(&l, &ev("a", "1", "2026-01-03T00:00:00Z"))));
    // Inside the window at the edge: Jan 2 06:00 is not older than the window.
    assert!(accepted(&apply(&l, &ev("c", "1", "2026-01-02T06:00:00Z"))));
}

#[test]
fn window_zero_keeps_keys_forever() {
    let l = ledger_with(0);
    let ev = |ts: &str| {
        format!(
            r#"{{"type":"tool","customerId":"c","idempotencyKey":"k","externalCostCents":"1","ts":"{ts}"}}"#
        )
    };
    assert!(accepted(&apply(&l, &ev("2026-01-01T00:00:00Z"))));
    assert!(accepted(&apply(
        &l,
        r#"{"type":"tool","customerId":"c","ts":"2026-06-01T00:00:00Z"}"#
    )));
    assert_eq!(
        apply(&l, &ev("2026-01-01T00:00:00Z")),
        IngestResult::Duplicate
    );
    assert_eq!(
        apply(&l, &ev("2026-07-01T00:00:00Z")),
        IngestResult::Duplicate
    );
}

#[test]
fn one_far_future_timestamp_does_not_evict_the_window() {
    // The wall clock is fixed at 2027-01-01; an event dated 9999 is accepted and counted but
    // is an outlier (past the wall clock + 5 minutes and past the ledger clock + 366 days):
    // the ledger clock stays at the last plausible event, 2026-12-31T23:00:00Z.
    let l = ledger();
    let ev = |key: &str, ts: &str| {
        format!(
            r#"{{"type":"tool","customerId":"c","idempotencyKey":"{key}","externalCostCents":"1","ts":"{ts}"}}"#
        )
    };
    assert!(accepted(&apply(&l, &ev("x", "2026-12-31T23:00:00Z"))));
    assert!(accepted(&apply(&l, &ev("far", "9999-01-01T00:00:00Z"))));
    assert_eq!(l.clock_ms(), Some(NOW - 3_600_000));
    assert_eq!(
        apply(&l, &ev("x", "2026-12-31T23:00:00Z")),
        IngestResult::Duplicate
    );
    assert!(accepted(&apply(&l, &ev("y", "2026-12-31T12:00:00Z"))));
    assert_eq!(
        apply(&l, &ev("far", "9999-01-01T00:00:00Z")),
        IngestResult::Duplicate
    );
}

#[test]
fn unpriced_events_are_listed_per_model() {
    let l = ledger();
    feed(
        &l,
        r#"
        {"customerId":"c","provider":"openai","model":"mystery-1","tokensIn":10,"ts":"2026-01-01T00:00:00Z"}
        {"customerId":"c","provider":"openai","model":"mystery-1","tokensIn":10,"ts":"2026-01-01T00:00:00Z"}
        {"customerId":"c","model":"mystery-2","tokensIn":10,"ts":"2026-01-01T00:00:00Z"}
        {"customerId":"c","provider":"openai","model":"known","providerCostCents":"1","ts":"2026-01-01T00:00:00Z"}
        "#,
    );
    let rep = l.report(None, None).unwrap();
    let list: Vec<(Option<&str>, Option<&str>, u64)> = rep
        .unpriced
        .iter()
        .map(|u| (u.provider.as_deref(), u.model.as_deref(), u.events))
        .collect();
    assert_eq!(
        list,
        vec![
            (None, Some("mystery-2"), 1),
            (Some("openai"), Some("mystery-1"), 2)
        ]
    );
    assert_eq!(rep.totals.unpriced_events, 3);
    assert_eq!(rep.totals.events, 4);
}

#[test]
fn filters_and_group_bys() {
    let l = ledger();
    feed(
        &l,
        r#"
        {"type":"customer","customerId":"a","plan":{"pricingModel":"usage_based","unitRevenueCents":10},"ts":"2026-01-01T00:00:00Z"}
        {"customerId":"a","agentId":"planner","provider":"openai","model":"m1","providerCostCents":"1","tokensIn":100,"tokensOut":7,"runId":"r1","ts":"2026-01-01T10:00:00Z"}
        {"customerId":"a","agentId":"planner","provider":"openai","model":"m2","providerCostCents":"2","tokensIn":50,"runId":"r1","ts":"2026-01-02T10:00:00Z"}
        {"customerId":"a","agentId":"coder","provider":"anthropic","model":"m3","providerCostCents":"4","cachedTokens":9,"runId":"r2","ts":"2026-01-02T11:00:00Z"}
        {"customerId":"b","agentId":"coder","provider":"anthropic","model":"m3","providerCostCents":"8","revenueUnitCents":"3","ts":"2026-01-02T12:00:00Z"}
        "#,
    );
    let rows = l.margin(&Filter::default(), &[Dimension::Agent]).unwrap();
    let got: Vec<(Option<&str>, String, String, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.key.agent_id.as_deref(),
                r.margin.revenue_cents.to_string(),
                r.margin.cost_cents.to_string(),
                r.margin.events,
            )
        })
        .collect();
    // coder: a's event earns 10 (plan) + b's 3 (explicit) = 13, cost 4 + 8 = 12;
    // planner: 10 + 10 = 20, cost 1 + 2 = 3.
    assert_eq!(
        got,
        vec![
            (Some("coder"), "13".to_string(), "12".to_string(), 2),
            (Some("planner"), "20".to_string(), "3".to_string(), 2)
        ]
    );
    let f = Filter {
        provider: Some("openai".into()),
        from_day: Some(parse_day("2026-01-02").unwrap()),
        ..Filter::default()
    };
    let t = l.totals(&f).unwrap();
    // Only the m2 event: revenue 10, cost 2, 50 tokens in, run r1 open.
    assert_eq!((t.revenue_cents, t.cost_cents), (cents("10"), cents("2")));
    assert_eq!(t.tokens.tokens_in, 50);
    assert_eq!(t.runs.open, 1);
    let by_day_model = l
        .margin(
            &Filter {
                customer_id: Some("a".into()),
                ..Filter::default()
            },
            &[Dimension::Day, Dimension::Model],
        )
        .unwrap();
    assert_eq!(by_day_model.len(), 3);
    assert_eq!(
        by_day_model[0].key.day_string().as_deref(),
        Some("2026-01-01")
    );
    assert_eq!(by_day_model[0].key.model.as_deref(), Some("m1"));
    // An unknown name matches nothing.
    let none = Filter {
        agent_id: Some("ghost".into()),
        ..Filter::default()
    };
    assert!(l.margin(&none, &[]).unwrap().is_empty());
    // Grouping by run also groups by customer; money outside any run has run_id None.
    let runs = l.margin(&Filter::default(), &[Dimension::Run]).unwrap();
    let keys: Vec<(Option<&str>, Option<&str>)> = runs
        .iter()
        .map(|r| (r.key.customer_id.as_deref(), r.key.run_id.as_deref()))
        .collect();
    assert_eq!(
        keys,
        vec![
            (Some("a"), Some("r1")),
            (Some("a"), Some("r2")),
            (Some("b"), None)
        ]
    );
}

#[test]
fn margin_pct_rounds_half_even_and_is_null_without_revenue() {
    let l = ledger();
    feed(
        &l,
        r#"
        {"type":"tool","customerId":"third","revenueUnitCents":"3","externalCostCents":"2","ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"half","revenueUnitCents":"8","externalCostCents":"7.9996","ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"loss","revenueUnitCents":"1","externalCostCents":"2.5","ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"free","externalCostCents":"2","ts":"2026-01-01T00:00:00Z"}
        "#,
    );
    let pct = |c: &str| {
        l.customer_margin(c)
            .unwrap()
            .unwrap()
            .margin_pct()
            .map(|p| p.to_string())
    };
    // 1/3 = 33.333… % → 33.33.
    assert_eq!(pct("third").as_deref(), Some("33.33"));
    // 0.0004 / 8 = 0.005 % exactly: a tie between 0.00 and 0.01 → even → 0.00.
    assert_eq!(pct("half").as_deref(), Some("0.00"));
    // (1 − 2.5) / 1 = −150 %.
    assert_eq!(pct("loss").as_deref(), Some("-150.00"));
    assert_eq!(pct("free"), None);
}

#[test]
fn customer_margin_matches_the_query() {
    let l = ledger();
    feed(
        &l,
        r#"
        {"type":"customer","customerId":"c","seats":3,"plan":{"pricingModel":"per_seat","seatPriceCents":"1000.5","monthlyFeeCents":"7.05"},"ts":"2026-01-03T00:00:00Z"}
        {"type":"tool","customerId":"c","runId":"r","revenueUnitCents":"2","externalCostCents":"1","ts":"2026-01-04T00:00:00Z"}
        {"type":"resolve","customerId":"c","runId":"r","outcome":"resolved","revenueUnitCents":"5","ts":"2026-01-09T00:00:00Z"}
        "#,
    );
    let fast = l.customer_margin("c").unwrap().unwrap();
    let slow = l
        .totals(&Filter {
            customer_id: Some("c".into()),
            ..Filter::default()
        })
        .unwrap();
    assert_eq!(fast, slow);
    // 3 × 1000.5 + 7.05 = 3008.55 a month = 97.05 a day in January; Jan 3..=9 = 7 days = 679.35.
    assert_eq!(fast.subscription_revenue_cents, cents("679.35"));
    assert!(l.customer_margin("nobody").is_none());
}

#[test]
fn track_prices_with_the_engine() {
    let engine = tollgate_engine::engine::Engine::embedded();
    let l = ledger();
    let e = tollgate_engine::event::Event::from_json(
        br#"{"customerId":"c","provider":"openai","model":"gpt-4o","tokensIn":1000,"tokensOut":100,"externalCostCents":"0.05","idempotencyKey":"x","ts":"2026-01-01T00:00:00Z"}"#,
    )
    .unwrap();
    let IngestResult::Accepted(a) = l.track(&engine, &e) else {
        panic!("not accepted")
    };
    // gpt-4o: 1000 × 0.00025 + 100 × 0.001 = 0.35 cents, plus 0.05 external.
    assert_eq!(a.cost_cents, cents("0.4"));
    assert!(a.priced);
    assert_eq!(a.snapshot, Some(engine.snapshot_at(e.timestamp_ms).id()));
    assert_eq!(l.track(&engine, &e), IngestResult::Duplicate);
    // An llm event with a count the engine refuses is rejected with the engine's field.
    let mut bad = e.clone();
    bad.idempotency_key = Some("y".into());
    bad.usage.tokens_out = u64::MAX;
    let IngestResult::Rejected(r) = l.track(&engine, &bad) else {
        panic!("not rejected")
    };
    assert_eq!(r.field, "tokensOut");
}

#[test]
fn results_and_margins_as_json() {
    let l = ledger();
    let r = feed(
        &l,
        r#"
        {"type":"tool","customerId":"c","runId":"r","revenueUnitCents":"3","externalCostCents":"1.25","idempotencyKey":"k","ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"c","runId":"r","revenueUnitCents":"3","externalCostCents":"1.25","idempotencyKey":"k","ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"c","revenueUnitCents":"3","externalCostCents":"9","idempotencyKey":"k","ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"c","units":-1}
        "#,
    );
    assert_eq!(
        r[0].to_json(),
        serde_json::json!({"status":"accepted","costCents":"1.25","revenueCents":"3","snapshot":"0000000000000007","priced":true,"reason":null,"warnings":[]})
    );
    assert_eq!(r[1].to_json(), serde_json::json!({"status":"duplicate"}));
    assert_eq!(r[2].to_json()["status"], "conflict");
    assert_eq!(
        r[3].to_json(),
        serde_json::json!({"status":"rejected","kind":"invalid","field":"units","error":"units: must not be negative (got -1)"})
    );
    let m = l.customer_margin("c").unwrap().unwrap().to_json();
    // 3 − 1.25 = 1.75; 1.75 / 3 = 58.333… % → 58.33.
    assert_eq!(m["marginCents"], "1.75");
    assert_eq!(m["marginPct"], "58.33");
    assert_eq!(m["runs"]["open"], 1);
}

#[test]
fn run_margin_is_the_run_row() {
    let l = ledger();
    feed(
        &l,
        r#"
        {"type":"customer","customerId":"o","plan":{"pricingModel":"outcome_based","unitRevenueCents":100,"monthlyFeeCents":3100},"ts":"2026-01-01T00:00:00Z"}
        {"type":"tool","customerId":"o","runId":"r","externalCostCents":"10","ts":"2026-01-01T01:00:00Z"}
        {"customerId":"o","runId":"r","model":"m","providerCostCents":"2.5","tokensIn":7,"ts":"2026-01-02T01:00:00Z"}
        {"type":"resolve","customerId":"o","runId":"r","outcome":"resolved","ts":"2026-01-03T00:00:00Z"}
        "#,
    );
    let m = l.run_margin("o", "r").unwrap();
    // Revenue 100 (resolution; the fee is the customer's, not the run's), cost 10 + 2.5.
    assert_eq!(
        (m.revenue_cents, m.cost_cents),
        (cents("100"), cents("12.5"))
    );
    assert_eq!((m.events, m.tokens.tokens_in, m.runs.resolved), (2, 7, 1));
    let row = &l
        .margin(
            &Filter {
                customer_id: Some("o".into()),
                run_id: Some("r".into()),
                ..Filter::default()
            },
            &[],
        )
        .unwrap()[0];
    assert_eq!(row.margin, m);
    assert!(l.run_margin("o", "nope").is_none());
}

#[test]
fn undated_customers_and_resolutions_follow_the_ledger_clock() {
    let l = ledger();
    let r = feed(
        &l,
        r#"
        {"type":"customer","customerId":"c","plan":{"pricingModel":"usage_based","unitRevenueCents":10,"monthlyFeeCents":3100}}
        {"type":"tool","customerId":"c","runId":"r","ts":"2026-01-05T10:00:00Z"}
        {"type":"tool","customerId":"c","runId":"r","ts":"2026-01-03T10:00:00Z"}
        {"type":"customer","customerId":"c","plan":{"pricingModel":"outcome_based","unitRevenueCents":70}}
        {"type":"tool","customerId":"c","runId":"r","ts":"2026-01-06T10:00:00Z"}
        {"type":"resolve","customerId":"c","runId":"r","outcome":"resolved"}
        "#,
    );
    assert!(r.iter().all(accepted), "{r:?}");
    // The first upsert came before any activity: in force from the start, so both early
    // events earn 10. The second came when the clock stood at Jan 5 10:00: the Jan 6 event is
    // under the outcome plan (no usage revenue), and the undated resolve is dated at the clock
    // (Jan 6 10:00) and earns the outcome plan's 70.
    let m = l.customer_margin("c").unwrap().unwrap();
    assert_eq!(m.usage_revenue_cents, cents("20"));
    assert_eq!(m.outcome_revenue_cents, cents("70"));
    // The fee (3100 over January's 31 days = 100 a day) accrues from the first day of
    // activity, Jan 3, to the day before the second version took over, Jan 4: 200.
    assert_eq!(m.subscription_revenue_cents, cents("200"));
    let jan6 = l
        .report(
            Some(tollgate_engine::ledger::days::parse_day("2026-01-06").unwrap()),
            Some(tollgate_engine::ledger::days::parse_day("2026-01-06").unwrap()),
        )
        .unwrap();
    assert_eq!(jan6.totals.outcome_revenue_cents, cents("70"));
}

#[test]
fn a_plausible_step_past_the_wall_clock_moves_the_clock_only_up_to_now() {
    // Clock::Fixed(NOW): an event 10 days past NOW is within 366 days of the ledger clock, so
    // it moves the raw clock, but a live ledger reads at most NOW + 5 minutes.
    let l = ledger();
    let ev = |key: &str, ts: i64| {
        format!(
            r#"{{"type":"tool","customerId":"c","idempotencyKey":"{key}","externalCostCents":"1","ts":{ts}}}"#
        )
    };
    assert!(accepted(&apply(&l, &ev("a", NOW - HOUR))));
    assert!(accepted(&apply(&l, &ev("b", NOW + 10 * DAY))));
    assert_eq!(l.clock_ms(), Some(NOW + 5 * 60_000));
}

#[test]
fn a_log_clock_follows_a_future_dated_log_and_ignores_outliers() {
    // Clock::Log replays on the log's own time. Epoch ms (UTC):
    // 2099-02-01T00:00:00Z = 4_073_587_200_000, 2099-02-07T23:00:00Z = 4_074_188_400_000.
    const FEB_1: i64 = 4_073_587_200_000;
    const FEB_7_23H: i64 = 4_074_188_400_000;
    let l = Ledger::new(LedgerConfig {
        dedupe_window_ms: 24 * HOUR as u64,
        clock: Clock::Log,
    });
    let ev = |key: &str, ts: &str| {
        format!(
            r#"{{"type":"tool","customerId":"c","idempotencyKey":"{key}","externalCostCents":"1"{ts}}}"#
        )
    };
    assert!(accepted(&apply(
        &l,
        &ev("a", ",\"ts\":\"2099-02-01T00:00:00Z\"")
    )));
    assert_eq!(l.clock_ms(), Some(FEB_1));
    // Six days later: past the wall clock, but within 366 days of the ledger clock.
    assert!(accepted(&apply(
        &l,
        &ev("b", ",\"ts\":\"2099-02-07T23:00:00Z\"")
    )));
    assert_eq!(l.clock_ms(), Some(FEB_7_23H));
    // 9999 is more than 366 days past both: counted, the clock stays.
    assert!(accepted(&apply(
        &l,
        &ev("far", ",\"ts\":\"9999-01-01T00:00:00Z\"")
    )));
    assert_eq!(l.clock_ms(), Some(FEB_7_23H));
    // "a" is 6 days 23 hours behind the clock, outside the 24 h window: too late.
    match apply(&l, &ev("a", ",\"ts\":\"2099-02-01T00:00:00Z\"")) {
        IngestResult::Rejected(r) => assert_eq!(r.kind, RejectKind::TooLate),
        other => panic!("{other:?}"),
    }
    // An undated event is dated at the ledger clock: its day is Feb 7 2099.
    assert!(accepted(&apply(&l, &ev("c", ""))));
    let feb_7 = parse_day("2099-02-07").unwrap();
    let day = l
        .totals(&Filter {
            from_day: Some(feb_7),
            to_day: Some(feb_7),
            ..Filter::default()
        })
        .unwrap();
    // b and c on Feb 7 (the outlier is in 9999, a on Feb 1).
    assert_eq!(day.events, 2);
    assert_eq!(day.cost_cents, cents("2"));
}
