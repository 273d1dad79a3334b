//! Guardrails: one hand-computed scenario per rule. Rates quoted in comments are the LiteLLM
//! registry's (`data/ratecard/litellm-1.110.2.json`): gpt-4o $2.50 / $10 per million input /
//! output tokens (0.00025 / 0.001 cent per token), gpt-3.5-turbo $0.50 / $1.50
//! (0.00005 / 0.00015 cent), gpt-4o-mini $0.15 / $0.60 (0.000015 / 0.00006 cent).

use std::sync::Arc;
use tollgate_engine::engine::Engine;
use tollgate_engine::event::Event;
use tollgate_engine::ledger::guard::{AllowRequest, Decision, Estimate, Reason, Verdict};
use tollgate_engine::ledger::policy::{Period, Policy};
use tollgate_engine::ledger::record::Record;
use tollgate_engine::ledger::{Clock, IngestResult, Ledger, LedgerConfig};
use tollgate_engine::money::Cents;
use tollgate_engine::usage::Usage;

/// 2026-01-15T12:00:00Z (a Thursday).
const T: i64 = 1_768_478_400_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn engine() -> &'static Engine {
    static E: std::sync::OnceLock<Engine> = std::sync::OnceLock::new();
    E.get_or_init(Engine::embedded)
}

fn ledger() -> Ledger {
    Ledger::new(LedgerConfig {
        clock: Clock::Fixed(T),
        ..LedgerConfig::default()
    })
}

fn cents(s: &str) -> Cents {
    Cents::from_cents_literal(s, true).unwrap()
}

fn policy(l: &Ledger, json: &str) {
    let r = Record::from_json(json.as_bytes()).unwrap();
    assert!(matches!(r, Record::Policy(_)), "{json}");
    let res = l.ingest(engine(), &r);
    assert!(matches!(res, IngestResult::Accepted(_)), "{res:?}");
}

/// Tracks a tool event of exactly `cost` cents (and `revenue`) at `ts`.
fn spend(l: &Ledger, customer: &str, extra: &str, cost: &str, revenue: &str, ts: i64) {
    let json = format!(
        r#"{{"type":"tool","customerId":"{customer}","externalCostCents":"{cost}","revenueUnitCents":"{revenue}","ts":{ts}{extra}}}"#
    );
    let r = l.ingest_json(engine(), json.as_bytes());
    assert!(matches!(r, IngestResult::Accepted(_)), "{r:?}");
}

fn ask(l: &Ledger, customer: &str, estimate: Option<&str>, at: i64) -> Decision {
    let mut req = AllowRequest::new(customer);
    req.estimate = estimate.map(|e| Estimate::Cents(cents(e)));
    req.at_ms = Some(at);
    l.allow(engine(), &req).unwrap()
}

fn verdict(d: &Decision) -> (Verdict, Reason) {
    (d.verdict, d.reason)
}

const ALLOW: (Verdict, Reason) = (Verdict::Allow, Reason::Ok);

#[test]
fn budget_crossed_exactly_at_the_boundary() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"b100","customerId":"acme","budget":{"cents":"100","period":"month"},"ts":0}"#,
    );
    spend(&l, "acme", "", "60", "0", T);
    // 100 − 60 = 40 left: an estimate of exactly 40 fits, 40 + 10^-24 does not.
    let d = ask(&l, "acme", Some("40"), T);
    assert_eq!(verdict(&d), ALLOW);
    assert_eq!(d.remaining_budget_cents, Some(cents("40")));
    assert_eq!(d.cost_cents, cents("60"));
    assert_eq!(d.period.unwrap().label(), "2026-01");
    let d = ask(&l, "acme", Some("40.000000000000000000000001"), T);
    assert_eq!(verdict(&d), (Verdict::Block, Reason::Budget));
    assert_eq!(d.policy_id.as_deref(), Some("b100"));
    // Unknown cost: allowed while something is left.
    assert_eq!(verdict(&ask(&l, "acme", None, T)), ALLOW);
    spend(&l, "acme", "", "40", "0", T + 1);
    let d = ask(&l, "acme", None, T + 2);
    assert_eq!(verdict(&d), (Verdict::Block, Reason::Budget));
    assert_eq!(d.remaining_budget_cents, Some(Cents::ZERO));
    // A free call still fits an exhausted budget.
    assert_eq!(verdict(&ask(&l, "acme", Some("0"), T + 2)), ALLOW);
    // Another customer has no policy.
    assert_eq!(
        verdict(&ask(&l, "other", Some("1000"), T)),
        (Verdict::Allow, Reason::NoPolicy)
    );
}

#[test]
fn utc_month_rollover() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"m","customerId":"c","budget":{"cents":"100","period":"month"},"ts":0}"#,
    );
    // 2026-01-31T23:59:59.999Z and 2026-02-01T00:00:00Z.
    let last_ms = 1_769_903_999_999;
    let first_ms = last_ms + 1;
    spend(&l, "c", "", "100", "0", last_ms);
    let d = ask(&l, "c", Some("1"), last_ms);
    assert_eq!(verdict(&d), (Verdict::Block, Reason::Budget));
    assert_eq!(d.period.unwrap().label(), "2026-01");
    let d = ask(&l, "c", Some("100"), first_ms);
    assert_eq!(verdict(&d), ALLOW);
    assert_eq!(d.period.unwrap().label(), "2026-02");
    assert_eq!(d.cost_cents, Cents::ZERO);
    // A late event of January still counts in January, not February.
    spend(&l, "c", "", "5", "0", last_ms - DAY);
    assert_eq!(ask(&l, "c", None, last_ms).cost_cents, cents("105"));
    assert_eq!(ask(&l, "c", None, first_ms).cost_cents, Cents::ZERO);
}

#[test]
fn utc_week_rollover_is_iso_monday() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"w","customerId":"c","budget":{"cents":"50","period":"week"},"ts":0}"#,
    );
    // Sunday 2026-01-11T23:00Z is in ISO week 2026-W02 (Mon 5 – Sun 11 January).
    let sunday = 1_768_172_400_000;
    let monday = sunday + HOUR; // 2026-01-12T00:00Z, week W03
    spend(&l, "c", "", "30", "0", sunday - 6 * DAY); // Monday 5 January, same week
    spend(&l, "c", "", "20", "0", sunday);
    let d = ask(&l, "c", None, sunday);
    assert_eq!(verdict(&d), (Verdict::Block, Reason::Budget));
    assert_eq!(d.period.unwrap().label(), "2026-W02");
    assert_eq!(d.cost_cents, cents("50"));
    let d = ask(&l, "c", Some("50"), monday);
    assert_eq!(verdict(&d), ALLOW);
    assert_eq!(d.period.unwrap().label(), "2026-W03");
    // A day budget on top rolls at midnight too.
    policy(
        &l,
        r#"{"type":"policy","policyId":"d","customerId":"c","budget":{"cents":"20","period":"day"},"ts":0}"#,
    );
    assert_eq!(
        verdict(&ask(&l, "c", Some("0.01"), sunday)),
        (Verdict::Block, Reason::Budget)
    );
    assert_eq!(verdict(&ask(&l, "c", Some("20"), monday)), ALLOW);
}

#[test]
fn margin_rule_below_and_above_its_minimum_activity() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"mm","customerId":"c","minMargin":{"pct":"20","period":"month","minRevenueCents":"1000"},"ts":0}"#,
    );
    // Revenue 500, cost 450: margin 10 % < 20 %, but revenue 500 < 1000 — not applied yet.
    spend(&l, "c", "", "450", "500", T);
    let d = ask(&l, "c", Some("100"), T);
    assert_eq!(verdict(&d), ALLOW);
    assert_eq!(d.margin_pct.unwrap().to_string(), "10.00");
    // Revenue 1000, cost 800: margin exactly 20 % — allowed with no further cost…
    spend(&l, "c", "", "350", "500", T);
    let d = ask(&l, "c", Some("0"), T);
    assert_eq!(verdict(&d), ALLOW);
    assert_eq!(d.margin_pct.unwrap().to_string(), "20.00");
    // …and a call of unknown cost is judged on the booked margin (20 %: ok),
    assert_eq!(verdict(&ask(&l, "c", None, T)), ALLOW);
    // but any positive estimate would take it below 20 %.
    let d = ask(&l, "c", Some("0.000000000000000000000001"), T);
    assert_eq!(verdict(&d), (Verdict::Block, Reason::MinMargin));
    assert_eq!(d.revenue_cents, cents("1000"));
    assert_eq!(d.cost_cents, cents("800"));

    // Minimum activity as an event count: 3 events.
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"mm","customerId":"c","minMargin":{"pct":"50","period":"day","minEvents":3},"action":"allow","ts":0}"#,
    );
    spend(&l, "c", "", "10", "0", T);
    spend(&l, "c", "", "10", "0", T);
    // 2 events, revenue 0, cost 20: below the minimum activity.
    assert_eq!(verdict(&ask(&l, "c", None, T)), ALLOW);
    spend(&l, "c", "", "10", "100", T);
    // 3 events: revenue 100, cost 30 → 70 % ≥ 50 %. An estimate of 20 → 50 % exactly: ok;
    // 20.01 → below: flagged (the action is allow).
    assert_eq!(verdict(&ask(&l, "c", Some("20"), T)), ALLOW);
    let d = ask(&l, "c", Some("20.01"), T);
    assert_eq!(verdict(&d), (Verdict::Allow, Reason::MinMargin));
    assert!(d.flagged);
}

#[test]
fn margin_includes_subscription_revenue_of_the_period() {
    let l = ledger();
    // Flat 3100 a month: 100 a day in January (31 days). From 2026-01-01.
    let r = l.ingest_json(
        engine(),
        br#"{"type":"customer","customerId":"c","plan":{"name":"Pro","pricingModel":"flat","monthlyFeeCents":3100},"ts":"2026-01-01T00:00:00Z"}"#,
    );
    assert!(matches!(r, IngestResult::Accepted(_)));
    policy(
        &l,
        r#"{"type":"policy","policyId":"pro","planName":"Pro","minMargin":{"pct":"50","period":"week"},"ts":0}"#,
    );
    // Thursday 15 January: week W03 runs Mon 12 – so far Thu 15: 4 days × 100 = 400 revenue.
    spend(&l, "c", "", "200", "0", T);
    let d = ask(&l, "c", None, T);
    assert_eq!(verdict(&d), ALLOW);
    assert_eq!(d.revenue_cents, cents("400"));
    assert_eq!(d.policy_id.as_deref(), Some("pro"));
    assert_eq!(
        verdict(&ask(&l, "c", Some("0.01"), T)),
        (Verdict::Block, Reason::MinMargin)
    );
}

fn usage(tokens_in: u64, tokens_out: u64) -> Usage {
    Usage {
        tokens_in,
        tokens_out,
        ..Usage::default()
    }
}

fn ask_usage(l: &Ledger, customer: &str, model: &str, u: &Usage, at: i64) -> Decision {
    let mut req = AllowRequest::new(customer);
    req.estimate = Some(Estimate::Usage {
        provider: Some("openai"),
        model,
        usage: u,
    });
    req.at_ms = Some(at);
    l.allow(engine(), &req).unwrap()
}

const CHAIN: &str = r#""downgrade":{"gpt-4o":"gpt-3.5-turbo","gpt-3.5-turbo":"gpt-4o-mini"}"#;

#[test]
fn downgrade_chain_and_a_target_over_budget() {
    let l = ledger();
    policy(
        &l,
        &format!(
            r#"{{"type":"policy","policyId":"dg","customerId":"c","budget":{{"cents":"100","period":"day"}},"action":"downgrade",{CHAIN},"ts":0}}"#
        ),
    );
    // 100k in + 100k out: gpt-4o 25 + 100 = 125; gpt-3.5-turbo 5 + 15 = 20;
    // gpt-4o-mini 1.5 + 6 = 7.5 cents.
    let u = usage(100_000, 100_000);
    spend(&l, "c", "", "50", "0", T);
    let d = ask_usage(&l, "c", "gpt-4o", &u, T);
    assert_eq!(verdict(&d), (Verdict::Downgrade, Reason::Budget));
    assert_eq!(d.suggested_model.as_deref(), Some("gpt-3.5-turbo"));
    assert_eq!(d.estimate_cents, Some(cents("20")));
    // 10 left: gpt-3.5-turbo (20) is itself over budget; gpt-4o-mini (7.5) fits.
    spend(&l, "c", "", "40", "0", T);
    let d = ask_usage(&l, "c", "gpt-4o", &u, T);
    assert_eq!(verdict(&d), (Verdict::Downgrade, Reason::Budget));
    assert_eq!(d.suggested_model.as_deref(), Some("gpt-4o-mini"));
    assert_eq!(d.estimate_cents, Some(cents("7.5")));
    // A model the call already uses at the end of the chain fits as is.
    assert_eq!(verdict(&ask_usage(&l, "c", "gpt-4o-mini", &u, T)), ALLOW);
    // 5 left: nothing in the chain fits → block.
    spend(&l, "c", "", "5", "0", T);
    let d = ask_usage(&l, "c", "gpt-4o", &u, T);
    assert_eq!(verdict(&d), (Verdict::Block, Reason::Budget));
    assert_eq!(d.suggested_model, None);
    // A model outside the map cannot be downgraded → block.
    let mut req = AllowRequest::new("c");
    req.model = Some("o1");
    req.estimate = Some(Estimate::Cents(cents("6")));
    req.at_ms = Some(T);
    assert_eq!(
        verdict(&l.allow(engine(), &req).unwrap()),
        (Verdict::Block, Reason::Budget)
    );
    // A usage estimate the rate card cannot price is a call of unknown cost: allowed while
    // something (5) is left.
    let d = ask_usage(&l, "c", "no-such-model-xyz", &u, T);
    assert_eq!((verdict(&d), d.estimate_cents), (ALLOW, None));

    // Rule `next`: only the direct replacement; with 10 left it is over budget → block.
    let l = ledger();
    policy(
        &l,
        &format!(
            r#"{{"type":"policy","policyId":"dg","customerId":"c","budget":{{"cents":"100","period":"day"}},"action":"downgrade","downgradeRule":"next",{CHAIN},"ts":0}}"#
        ),
    );
    spend(&l, "c", "", "90", "0", T);
    assert_eq!(
        verdict(&ask_usage(&l, "c", "gpt-4o", &u, T)),
        (Verdict::Block, Reason::Budget)
    );
    // An estimate in cents cannot be re-priced: the direct replacement is offered while
    // something is left.
    let mut req = AllowRequest::new("c");
    req.model = Some("gpt-4o");
    req.estimate = Some(Estimate::Cents(cents("125")));
    req.at_ms = Some(T);
    let d = l.allow(engine(), &req).unwrap();
    assert_eq!(verdict(&d), (Verdict::Downgrade, Reason::Budget));
    assert_eq!(d.suggested_model.as_deref(), Some("gpt-3.5-turbo"));
    assert_eq!(d.estimate_cents, None);
}

#[test]
fn usage_estimate_pushes_over_the_budget() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"b","customerId":"c","budget":{"cents":"100","period":"all"},"ts":0}"#,
    );
    // gpt-4o, 80k in + 80k out: 20 + 80 = 100 cents = the whole budget: fits.
    let d = ask_usage(&l, "c", "gpt-4o", &usage(80_000, 80_000), T);
    assert_eq!(verdict(&d), ALLOW);
    assert_eq!(d.estimate_cents, Some(cents("100")));
    // One more output token: 100.001 > 100.
    let d = ask_usage(&l, "c", "gpt-4o", &usage(80_000, 80_001), T);
    assert_eq!(verdict(&d), (Verdict::Block, Reason::Budget));
    assert_eq!(d.estimate_cents, Some(cents("100.001")));
    assert_eq!(d.period.unwrap().label(), "all");
}

#[test]
fn per_run_cap() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"r","customerId":"c","maxRunCostCents":"30","ts":0}"#,
    );
    spend(&l, "c", r#","runId":"r1""#, "20", "5", T);
    let mut req = AllowRequest::new("c");
    req.run_id = Some("r1");
    req.at_ms = Some(T);
    req.estimate = Some(Estimate::Cents(cents("10")));
    assert_eq!(verdict(&l.allow(engine(), &req).unwrap()), ALLOW);
    req.estimate = Some(Estimate::Cents(cents("10.5")));
    let d = l.allow(engine(), &req).unwrap();
    assert_eq!(verdict(&d), (Verdict::Block, Reason::MaxRunCost));
    assert_eq!((d.cost_cents, d.revenue_cents), (cents("20"), cents("5")));
    assert_eq!(d.period, None);
    assert!(d.to_json().contains(r#""period":"run""#), "{}", d.to_json());
    // Another run has its own cap; a call without a run is not capped.
    req.run_id = Some("r2");
    req.estimate = Some(Estimate::Cents(cents("30")));
    assert_eq!(verdict(&l.allow(engine(), &req).unwrap()), ALLOW);
    req.run_id = None;
    req.estimate = Some(Estimate::Cents(cents("1000")));
    assert_eq!(verdict(&l.allow(engine(), &req).unwrap()), ALLOW);
}

#[test]
fn per_agent_cap_per_period() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"a","customerId":"c","maxAgentCost":{"cents":"50","period":"day"},"ts":0}"#,
    );
    spend(&l, "c", r#","agentId":"a1""#, "45", "0", T);
    spend(&l, "c", r#","agentId":"a2""#, "45", "0", T - DAY);
    let mut req = AllowRequest::new("c");
    req.agent_id = Some("a1");
    req.at_ms = Some(T);
    req.estimate = Some(Estimate::Cents(cents("5")));
    assert_eq!(verdict(&l.allow(engine(), &req).unwrap()), ALLOW);
    req.estimate = Some(Estimate::Cents(cents("6")));
    let d = l.allow(engine(), &req).unwrap();
    assert_eq!(verdict(&d), (Verdict::Block, Reason::MaxAgentCost));
    assert_eq!(d.cost_cents, cents("45"));
    assert_eq!(d.period.unwrap().label(), "2026-01-15");
    // a2 spent its 45 yesterday: today it has 50.
    req.agent_id = Some("a2");
    req.estimate = Some(Estimate::Cents(cents("50")));
    assert_eq!(verdict(&l.allow(engine(), &req).unwrap()), ALLOW);
    // Tomorrow a1 has 50 again.
    req.agent_id = Some("a1");
    req.at_ms = Some(T + DAY);
    assert_eq!(verdict(&l.allow(engine(), &req).unwrap()), ALLOW);
}

fn reserve(l: &Ledger, customer: &str, est: &str, at: i64, ttl: Option<u64>) -> Decision {
    let mut req = AllowRequest::new(customer);
    req.estimate = Some(Estimate::Cents(cents(est)));
    req.at_ms = Some(at);
    l.allow_and_reserve(engine(), &req, ttl).unwrap()
}

fn tool_event(customer: &str, cost: &str, ts: i64) -> Event {
    Event::from_json(
        format!(
            r#"{{"type":"tool","customerId":"{customer}","externalCostCents":"{cost}","ts":{ts}}}"#
        )
        .as_bytes(),
    )
    .unwrap()
}

#[test]
fn reservations_settled_higher_lower_and_expired() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"b","customerId":"c","budget":{"cents":"100","period":"month"},"ts":0}"#,
    );
    let d = reserve(&l, "c", "60", T, None);
    assert_eq!(verdict(&d), ALLOW);
    let r1 = d.reservation.unwrap();
    assert_eq!(l.reserved_cents("c"), cents("60"));
    // 100 − 0 − 60 = 40 left.
    let d = ask(&l, "c", Some("41"), T);
    assert_eq!(verdict(&d), (Verdict::Block, Reason::Budget));
    assert_eq!(d.remaining_budget_cents, Some(cents("40")));
    // Settled higher than reserved: cost 70, reservation gone → 30 left.
    let s = l.settle(engine(), r1, &tool_event("c", "70", T));
    assert!(matches!(s.result, IngestResult::Accepted(_)));
    assert_eq!(s.released_cents, Some(cents("60")));
    assert_eq!(l.reserved_cents("c"), Cents::ZERO);
    assert_eq!(
        ask(&l, "c", None, T).remaining_budget_cents,
        Some(cents("30"))
    );
    // Settled lower: reserve 20 (10 left), settle at 5 → 25 left.
    let r2 = reserve(&l, "c", "20", T, None).reservation.unwrap();
    assert_eq!(
        ask(&l, "c", None, T).remaining_budget_cents,
        Some(cents("10"))
    );
    let s = l.settle(engine(), r2, &tool_event("c", "5", T));
    assert_eq!(s.released_cents, Some(cents("20")));
    assert_eq!(
        ask(&l, "c", None, T).remaining_budget_cents,
        Some(cents("25"))
    );
    // A reservation that does not fit is not made.
    let d = reserve(&l, "c", "26", T, None);
    assert_eq!(verdict(&d), (Verdict::Block, Reason::Budget));
    assert_eq!(d.reservation, None);
    assert_eq!(l.reserved_cents("c"), Cents::ZERO);
    // Expired: reserve 25 for 1 s. At +999 ms it holds; at +1000 ms it is gone.
    let r3 = reserve(&l, "c", "25", T, Some(1000)).reservation.unwrap();
    assert_eq!(
        verdict(&ask(&l, "c", Some("0.01"), T + 999)),
        (Verdict::Block, Reason::Budget)
    );
    let d = ask(&l, "c", Some("25"), T + 1000);
    assert_eq!(verdict(&d), ALLOW);
    assert_eq!(l.reserved_cents("c"), Cents::ZERO);
    assert_eq!(l.release(r3), None);
    // Settling an expired reservation still tracks the usage.
    let s = l.settle(engine(), r3, &tool_event("c", "25", T + 2000));
    assert!(matches!(s.result, IngestResult::Accepted(_)));
    assert_eq!(s.released_cents, None);
    assert_eq!(
        ask(&l, "c", None, T + 2000).remaining_budget_cents,
        Some(Cents::ZERO)
    );
    // Released (the call failed): the amount comes back.
    let l2 = ledger();
    policy(
        &l2,
        r#"{"type":"policy","policyId":"b","customerId":"c","budget":{"cents":"10","period":"day"},"ts":0}"#,
    );
    let r = reserve(&l2, "c", "10", T, None).reservation.unwrap();
    assert_eq!(
        verdict(&ask(&l2, "c", None, T)),
        (Verdict::Block, Reason::Budget)
    );
    assert_eq!(l2.release(r), Some(cents("10")));
    assert_eq!(verdict(&ask(&l2, "c", Some("10"), T)), ALLOW);
    // A settle for another customer is rejected and keeps the reservation.
    let r = reserve(&l2, "c", "4", T, None).reservation.unwrap();
    let s = l2.settle(engine(), r, &tool_event("d", "4", T));
    assert!(matches!(s.result, IngestResult::Rejected(ref e) if e.field == "customerId"));
    assert_eq!(l2.reserved_cents("c"), cents("4"));
}

#[test]
fn reservations_count_against_agent_and_run_caps() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"p","customerId":"c","maxRunCostCents":"10","maxAgentCost":{"cents":"15","period":"day"},"ts":0}"#,
    );
    let mut req = AllowRequest::new("c");
    req.run_id = Some("r");
    req.agent_id = Some("a");
    req.at_ms = Some(T);
    req.estimate = Some(Estimate::Cents(cents("8")));
    assert!(
        l.allow_and_reserve(engine(), &req, None)
            .unwrap()
            .reservation
            .is_some()
    );
    // Run r has 10 − 8 = 2 left.
    req.estimate = Some(Estimate::Cents(cents("3")));
    assert_eq!(
        verdict(&l.allow(engine(), &req).unwrap()),
        (Verdict::Block, Reason::MaxRunCost)
    );
    // In another run, agent a has 15 − 8 = 7 left.
    req.run_id = Some("r2");
    req.estimate = Some(Estimate::Cents(cents("7")));
    assert_eq!(verdict(&l.allow(engine(), &req).unwrap()), ALLOW);
    req.estimate = Some(Estimate::Cents(cents("7.01")));
    assert_eq!(
        verdict(&l.allow(engine(), &req).unwrap()),
        (Verdict::Block, Reason::MaxAgentCost)
    );
}

#[test]
fn policy_precedence_and_effective_time() {
    let l = ledger();
    let r = l.ingest_json(
        engine(),
        br#"{"type":"customer","customerId":"c","plan":{"name":"Team","pricingModel":"usage_based","unitRevenueCents":1},"ts":0}"#,
    );
    assert!(matches!(r, IngestResult::Accepted(_)));
    policy(
        &l,
        r#"{"type":"policy","policyId":"default","budget":{"cents":"10","period":"all"},"ts":0}"#,
    );
    let id = |d: Decision| d.policy_id.map(|p| p.to_string());
    assert_eq!(id(ask(&l, "c", None, T)).as_deref(), Some("default"));
    assert_eq!(id(ask(&l, "x", None, T)).as_deref(), Some("default"));
    policy(
        &l,
        r#"{"type":"policy","policyId":"team","planName":"Team","budget":{"cents":"20","period":"all"},"ts":0}"#,
    );
    assert_eq!(id(ask(&l, "c", None, T)).as_deref(), Some("team"));
    assert_eq!(id(ask(&l, "x", None, T)).as_deref(), Some("default"));
    // A customer policy effective tomorrow.
    policy(
        &l,
        &format!(
            r#"{{"type":"policy","policyId":"own","customerId":"c","budget":{{"cents":"30","period":"all"}},"ts":{}}}"#,
            T + DAY
        ),
    );
    assert_eq!(id(ask(&l, "c", None, T)).as_deref(), Some("team"));
    assert_eq!(id(ask(&l, "c", None, T + DAY)).as_deref(), Some("own"));
    // The same terms again are a duplicate; new terms are a new version.
    let same = Record::from_json(
        format!(
            r#"{{"type":"policy","policyId":"own","customerId":"c","budget":{{"cents":"30","period":"all"}},"ts":{}}}"#,
            T + 2 * DAY
        )
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(l.ingest(engine(), &same), IngestResult::Duplicate);
    assert_eq!(l.policies().len(), 3);
    assert_eq!(
        l.policy_for("c", T + DAY).unwrap().policy_id.as_ref(),
        "own"
    );
}

#[test]
fn action_allow_flags_and_block_blocks() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"soft","customerId":"c","budget":{"cents":"1","period":"day"},"action":"allow","ts":0}"#,
    );
    let d = ask(&l, "c", Some("2"), T);
    assert_eq!(verdict(&d), (Verdict::Allow, Reason::Budget));
    assert!(d.flagged);
    let json = d.to_json();
    assert!(json.starts_with(r#"{"decision":"allow","reason":"budget_exceeded","flagged":true,"policyId":"soft","period":"2026-01-15","suggestedModel":null,"costCents":"0","revenueCents":"0","marginPct":null,"remainingBudgetCents":"1","estimateCents":"2""#), "{json}");
}

#[test]
fn bad_policies_are_rejected_with_field_and_reason() {
    let cases: &[(&str, &str, &str)] = &[
        (r#"{"type":"policy"}"#, "policyId", "is required"),
        (
            r#"{"type":"policy","policyId":""}"#,
            "policyId",
            "must not be empty",
        ),
        (
            r#"{"type":"policy","policyId":"p","customerId":"c","planName":"T"}"#,
            "planName",
            "not both",
        ),
        (
            r#"{"type":"policy","policyId":"p","budget":{"cents":"-1","period":"day"}}"#,
            "budget.cents",
            "must not be negative",
        ),
        (
            r#"{"type":"policy","policyId":"p","budget":{"cents":"1","period":"year"}}"#,
            "budget.period",
            "unknown period \"year\"",
        ),
        (
            r#"{"type":"policy","policyId":"p","budget":{"period":"day"}}"#,
            "budget.cents",
            "is required",
        ),
        (
            r#"{"type":"policy","policyId":"p","budget":{"cents":"1","period":"day","x":1}}"#,
            "budget",
            "unknown field `x`",
        ),
        (
            r#"{"type":"policy","policyId":"p","budget":{"cents":"10000000000000","period":"day"}}"#,
            "budget.cents",
            "exceeds the limit",
        ),
        (
            r#"{"type":"policy","policyId":"p","minMargin":{"pct":"12.345","period":"day"}}"#,
            "minMargin.pct",
            "more than two decimals",
        ),
        (
            r#"{"type":"policy","policyId":"p","minMargin":{"pct":"101","period":"day"}}"#,
            "minMargin.pct",
            "above 100 %",
        ),
        (
            r#"{"type":"policy","policyId":"p","minMargin":{"period":"day"}}"#,
            "minMargin.pct",
            "is required",
        ),
        (
            r#"{"type":"policy","policyId":"p","minMargin":{"pct":20,"period":"day","minEvents":-1}}"#,
            "minMargin.minEvents",
            "",
        ),
        (
            r#"{"type":"policy","policyId":"p","maxRunCostCents":"abc"}"#,
            "maxRunCostCents",
            "",
        ),
        (
            r#"{"type":"policy","policyId":"p","maxAgentCost":{"cents":"1"}}"#,
            "maxAgentCost.period",
            "is required",
        ),
        (
            r#"{"type":"policy","policyId":"p","action":"throttle"}"#,
            "action",
            "unknown action \"throttle\"",
        ),
        (
            r#"{"type":"policy","policyId":"p","action":"downgrade"}"#,
            "downgrade",
            "is required (non-empty) when the action is downgrade",
        ),
        (
            r#"{"type":"policy","policyId":"p","downgrade":{"a":"b","b":"a"}}"#,
            "downgrade",
            "cycle",
        ),
        (
            r#"{"type":"policy","policyId":"p","downgrade":{"a":"a"}}"#,
            "downgrade",
            "mapped to itself",
        ),
        (
            r#"{"type":"policy","policyId":"p","downgrade":{"a":3}}"#,
            "downgrade",
            "must be a string",
        ),
        (
            r#"{"type":"policy","policyId":"p","downgradeRule":"cheapest"}"#,
            "downgradeRule",
            "unknown rule",
        ),
        (
            r#"{"type":"policy","policyId":"p","ts":"yesterday"}"#,
            "ts",
            "",
        ),
        (
            r#"{"type":"policy","policyId":"p","budgets":{}}"#,
            "",
            "unknown field `budgets`",
        ),
    ];
    let l = ledger();
    for (json, field, reason) in cases {
        let e = Record::from_json(json.as_bytes()).unwrap_err();
        assert_eq!(e.field, *field, "{json}: {e}");
        assert!(e.reason.contains(reason), "{json}: {e}");
        // Through the ledger: rejected, nothing changes.
        let r = l.ingest_json(engine(), json.as_bytes());
        assert!(
            matches!(r, IngestResult::Rejected(ref x) if x.field == *field),
            "{r:?}"
        );
    }
    assert!(l.policies().is_empty());
    assert_eq!(l.state_bytes(), ledger().state_bytes());
}

#[test]
fn bad_requests_are_rejected() {
    let l = ledger();
    let mut req = AllowRequest::new("");
    assert_eq!(l.allow(engine(), &req).unwrap_err().field, "customerId");
    req.customer_id = "c";
    req.estimate = Some(Estimate::Cents(cents("-1")));
    assert_eq!(l.allow(engine(), &req).unwrap_err().field, "estimateCents");
    req.estimate = None;
    assert_eq!(
        l.allow_and_reserve(engine(), &req, None).unwrap_err().field,
        "estimate"
    );
    req.estimate = Some(Estimate::Cents(cents("1")));
    assert_eq!(
        l.allow_and_reserve(engine(), &req, Some(0))
            .unwrap_err()
            .field,
        "ttlMs"
    );
    let u = usage(1, 1);
    req.estimate = Some(Estimate::Usage {
        provider: None,
        model: "",
        usage: &u,
    });
    assert_eq!(l.allow(engine(), &req).unwrap_err().field, "estimate.model");
    let huge = Usage {
        tokens_in: u64::MAX,
        ..Usage::default()
    };
    req.estimate = Some(Estimate::Usage {
        provider: None,
        model: "gpt-4o",
        usage: &huge,
    });
    assert_eq!(l.allow(engine(), &req).unwrap_err().field, "tokensIn");
}

#[test]
fn policies_survive_state_and_round_trip_as_records() {
    let l = ledger();
    // Without policies the state is format version 2.
    assert_eq!(l.state_bytes()[8], 2);
    let json = format!(
        r#"{{"type":"policy","policyId":"p","customerId":"c","budget":{{"cents":"100","period":"week"}},"minMargin":{{"pct":"-12.5","period":"month","minRevenueCents":"1000","minEvents":3}},"maxRunCostCents":"7.25","maxAgentCost":{{"cents":"3","period":"day"}},"action":"downgrade",{CHAIN},"downgradeRule":"next","ts":{T}}}"#
    );
    policy(&l, &json);
    policy(
        &l,
        r#"{"type":"policy","policyId":"d","budget":{"cents":"5","period":"all"},"ts":0}"#,
    );
    spend(&l, "c", r#","agentId":"a","runId":"r""#, "2", "3", T);
    let ps = l.policies();
    assert_eq!(ps.len(), 2);
    // Canonical JSON parses back to the same policy.
    for p in &ps {
        let Record::Policy(back) = Record::from_json(p.to_json().as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(*back, **p);
    }
    let state = l.state_bytes();
    assert_eq!(state[8], 3);
    let back = Ledger::restore(&state, Clock::Fixed(T)).unwrap();
    assert_eq!(back.state_bytes(), state);
    assert_eq!(back.policies(), ps);
    // Decisions after restore are the same (period sums rebuilt from the cells).
    let mut req = AllowRequest::new("c");
    req.agent_id = Some("a");
    req.run_id = Some("r");
    req.at_ms = Some(T);
    req.estimate = Some(Estimate::Cents(cents("1")));
    assert_eq!(
        back.allow(engine(), &req).unwrap(),
        l.allow(engine(), &req).unwrap()
    );
    req.estimate = Some(Estimate::Cents(cents("1.01")));
    let d = back.allow(engine(), &req).unwrap();
    assert_eq!(verdict(&d), (Verdict::Block, Reason::MaxAgentCost));
    // Merge: disjoint customers, the same default policy on both sides.
    let other = ledger();
    policy(
        &other,
        r#"{"type":"policy","policyId":"d","budget":{"cents":"5","period":"all"},"ts":0}"#,
    );
    spend(&other, "e", "", "1", "0", T);
    let m = l.merge(&other).unwrap();
    assert_eq!(m.policies().len(), 2);
    policy(
        &other,
        r#"{"type":"policy","policyId":"d2","budget":{"cents":"6","period":"all"},"ts":1}"#,
    );
    assert!(
        l.merge(&other)
            .unwrap_err()
            .to_string()
            .contains("default policy")
    );
}

#[test]
fn running_sums_match_a_scan_of_days() {
    // 400 events over 120 days in random order; every period's sums equal a direct scan.
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"p","customerId":"c","budget":{"cents":"1000000","period":"week"},"ts":0}"#,
    );
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut events = Vec::new();
    for i in 0..400 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let ts = T + (x % 120) as i64 * DAY + (i % 24) * HOUR;
        let cost = (x >> 20) % 1000;
        spend(&l, "c", "", &cost.to_string(), "0", ts);
        events.push((ts, cost as i64));
    }
    for d in 0..120 {
        let at = T + d * DAY;
        let day = at.div_euclid(DAY);
        let week = (day + 3).div_euclid(7);
        let expected: i64 = events
            .iter()
            .filter(|(ts, _)| (ts.div_euclid(DAY) + 3).div_euclid(7) == week)
            .map(|(_, c)| c)
            .sum();
        let dec = ask(&l, "c", None, at);
        assert_eq!(dec.cost_cents, Cents::from_whole_cents(expected), "day {d}");
        assert_eq!(dec.period.unwrap().period, Period::Week);
    }
}

#[test]
fn report_lists_breaches() {
    let l = ledger();
    policy(
        &l,
        r#"{"type":"policy","policyId":"p","customerId":"c","budget":{"cents":"100","period":"month"},"maxRunCostCents":"50","ts":0}"#,
    );
    spend(&l, "c", r#","runId":"r1""#, "60", "0", T);
    spend(&l, "c", r#","runId":"r2""#, "50", "0", T);
    spend(&l, "c", "", "10", "0", T + 40 * DAY);
    let b = l.policy_breaches();
    // January: 110 > 100; r1: 60 > 50 (r2 at 50 is not over). February: 10, fine.
    assert_eq!(b.len(), 2, "{b:?}");
    assert_eq!(b[0].rule, Reason::MaxRunCost);
    assert_eq!(b[0].subject.as_deref(), Some("r1"));
    assert_eq!(b[1].rule, Reason::Budget);
    assert_eq!(b[1].period.unwrap().label(), "2026-01");
    assert_eq!(b[1].cost_cents, cents("110"));
    assert_eq!(
        b[1].to_string(),
        "c budget_exceeded 2026-01: cost 110 > 100 (policy p)"
    );
    let _: Vec<Arc<Policy>> = l.policies();
}

#[test]
fn policies_are_journaled_and_survive_a_reopen_and_a_checkpoint() {
    use tollgate_engine::store::{Store, StoreOptions};
    let dir = tempfile::tempdir().unwrap();
    let options = || StoreOptions {
        clock: Some(Clock::Fixed(T)),
        ..StoreOptions::default()
    };
    let ask_store = |s: &Store, est: &str| {
        let mut req = AllowRequest::new("c");
        req.estimate = Some(Estimate::Cents(cents(est)));
        req.at_ms = Some(T);
        verdict(&s.ledger().allow(s.engine(), &req).unwrap())
    };
    {
        let s = Store::open(dir.path(), options()).unwrap();
        let p = br#"{"type":"policy","policyId":"b","customerId":"c","budget":{"cents":"10","period":"day"}}"#;
        assert!(matches!(
            s.ingest_json(p).unwrap(),
            IngestResult::Accepted(_)
        ));
        let e = format!(r#"{{"type":"tool","customerId":"c","externalCostCents":"6","ts":{T}}}"#);
        assert!(matches!(
            s.ingest_json(e.as_bytes()).unwrap(),
            IngestResult::Accepted(_)
        ));
        assert_eq!(ask_store(&s, "4"), ALLOW);
    }
    // Replayed from the journal: the policy (dated at its first instant) and the spend.
    let s = Store::open(dir.path(), options()).unwrap();
    assert_eq!(s.ledger().policies().len(), 1);
    assert_eq!(ask_store(&s, "4"), ALLOW);
    assert_eq!(ask_store(&s, "4.01"), (Verdict::Block, Reason::Budget));
    s.checkpoint().unwrap();
    drop(s);
    let s = Store::open(dir.path(), options()).unwrap();
    assert_eq!(ask_store(&s, "4.01"), (Verdict::Block, Reason::Budget));
}
