//! Retiring a policy (`"retired": true`): the scope's policy stops deciding from the
//! retirement's timestamp on and the next scope's decides (customer → plan → default). Amounts
//! are whole cents chosen by hand; the decisions follow from the README's rules
//! (`estimate ≤ budget − cost` fits).

use tollgate_engine::engine::Engine;
use tollgate_engine::ledger::guard::{AllowRequest, Estimate, Reason, Verdict};
use tollgate_engine::ledger::record::Record;
use tollgate_engine::ledger::{Clock, IngestResult, Ledger, LedgerConfig};
use tollgate_engine::money::Cents;

/// 2026-01-15T12:00:00Z.
const T: i64 = 1_768_478_400_000;
const HOUR: i64 = 3_600_000;

fn ledger() -> Ledger {
    Ledger::new(LedgerConfig {
        clock: Clock::Fixed(T),
        ..LedgerConfig::default()
    })
}

fn ingest(l: &Ledger, json: &str) -> IngestResult {
    l.ingest_json(&Engine::embedded(), json.as_bytes())
}

fn ask(l: &Ledger, customer: &str, estimate: i64, at: i64) -> (Verdict, Reason, Option<String>) {
    let mut req = AllowRequest::new(customer);
    req.estimate = Some(Estimate::Cents(Cents::from_whole_cents(estimate)));
    req.at_ms = Some(at);
    let d = l.allow(&Engine::embedded(), &req).unwrap();
    (d.verdict, d.reason, d.policy_id.map(|p| p.to_string()))
}

fn accepted(r: IngestResult) {
    assert!(matches!(r, IngestResult::Accepted(_)), "{r:?}");
}

#[test]
fn a_retired_customer_policy_falls_back_to_the_plan_then_the_default() {
    let l = ledger();
    accepted(ingest(
        &l,
        &format!(
            r#"{{"type":"customer","customerId":"acme","plan":{{"name":"pro","pricingModel":"flat","monthlyFeeCents":"0"}},"ts":{}}}"#,
            T - 10 * HOUR
        ),
    ));
    accepted(ingest(
        &l,
        &format!(
            r#"{{"type":"policy","policyId":"dflt","budget":{{"cents":"50","period":"month"}},"ts":{}}}"#,
            T - 9 * HOUR
        ),
    ));
    accepted(ingest(
        &l,
        &format!(
            r#"{{"type":"policy","policyId":"pro-cap","planName":"pro","budget":{{"cents":"500","period":"month"}},"ts":{}}}"#,
            T - 9 * HOUR
        ),
    ));
    accepted(ingest(
        &l,
        &format!(
            r#"{{"type":"policy","policyId":"acme-cap","customerId":"acme","budget":{{"cents":"100","period":"month"}},"ts":{}}}"#,
            T - 8 * HOUR
        ),
    ));
    // Customer policy: 101 > 100 blocks.
    assert_eq!(
        ask(&l, "acme", 101, T - 7 * HOUR),
        (Verdict::Block, Reason::Budget, Some("acme-cap".into()))
    );
    // Retire it: the plan's 500 decides from then on.
    accepted(ingest(
        &l,
        &format!(
            r#"{{"type":"policy","policyId":"acme-cap","customerId":"acme","retired":true,"ts":{}}}"#,
            T - 6 * HOUR
        ),
    ));
    assert_eq!(
        ask(&l, "acme", 101, T - 5 * HOUR),
        (Verdict::Allow, Reason::Ok, Some("pro-cap".into()))
    );
    assert_eq!(
        ask(&l, "acme", 501, T - 5 * HOUR),
        (Verdict::Block, Reason::Budget, Some("pro-cap".into()))
    );
    // Before the retirement the customer policy still decided.
    assert_eq!(
        ask(&l, "acme", 101, T - 7 * HOUR).2.as_deref(),
        Some("acme-cap")
    );
    // Retiring again, or retiring a scope without a policy: nothing changes.
    assert_eq!(
        ingest(
            &l,
            &format!(
                r#"{{"type":"policy","policyId":"acme-cap","customerId":"acme","retired":true,"ts":{}}}"#,
                T - 4 * HOUR
            )
        ),
        IngestResult::Duplicate
    );
    assert_eq!(
        ingest(
            &l,
            r#"{"type":"policy","policyId":"x","customerId":"nobody","retired":true}"#
        ),
        IngestResult::Duplicate
    );
    // Retire the plan policy too: the default's 50 decides.
    accepted(ingest(
        &l,
        &format!(
            r#"{{"type":"policy","policyId":"pro-cap","planName":"pro","retired":true,"ts":{}}}"#,
            T - 3 * HOUR
        ),
    ));
    assert_eq!(
        ask(&l, "acme", 51, T - 2 * HOUR),
        (Verdict::Block, Reason::Budget, Some("dflt".into()))
    );
    // The default retired: no policy at all.
    accepted(ingest(
        &l,
        &format!(
            r#"{{"type":"policy","policyId":"dflt","retired":true,"ts":{}}}"#,
            T - HOUR
        ),
    ));
    let (v, r, p) = ask(&l, "acme", 1_000_000, T);
    assert_eq!((v, p), (Verdict::Allow, None));
    assert_eq!(r, Reason::NoPolicy);
    // A new policy after a retirement decides again.
    accepted(ingest(
        &l,
        &format!(
            r#"{{"type":"policy","policyId":"acme-2","customerId":"acme","budget":{{"cents":"10","period":"day"}},"ts":{}}}"#,
            T
        ),
    ));
    assert_eq!(ask(&l, "acme", 11, T).0, Verdict::Block);
    // The state keeps every version, retirements included, and restores to the same decisions.
    let restored = Ledger::restore(&l.state_bytes(), Clock::Fixed(T)).unwrap();
    assert_eq!(restored.state_bytes(), l.state_bytes());
    assert_eq!(
        ask(&restored, "acme", 101, T - 5 * HOUR).2.as_deref(),
        Some("pro-cap")
    );
    let retired: Vec<String> = restored
        .policies()
        .iter()
        .filter(|p| p.retired)
        .map(|p| p.policy_id.to_string())
        .collect();
    assert_eq!(retired, ["dflt", "pro-cap", "acme-cap"]);
}

#[test]
fn a_retirement_carries_no_rules() {
    for (json, field) in [
        (
            r#"{"type":"policy","policyId":"p","retired":true,"budget":{"cents":"1","period":"day"}}"#,
            "budget",
        ),
        (
            r#"{"type":"policy","policyId":"p","retired":true,"action":"allow"}"#,
            "action",
        ),
        (
            r#"{"type":"policy","policyId":"p","retired":"yes"}"#,
            "retired",
        ),
    ] {
        let e = Record::from_json(json.as_bytes()).unwrap_err();
        assert_eq!(e.field, field, "{json}: {e:?}");
    }
    // `false` is an ordinary policy; the canonical record of a retirement parses back to it.
    let Record::Policy(p) = Record::from_json(
        br#"{"type":"policy","policyId":"p","customerId":"c","retired":true,"ts":5}"#,
    )
    .unwrap() else {
        unreachable!()
    };
    assert!(p.retired);
    assert_eq!(
        p.to_json(),
        r#"{"type":"policy","policyId":"p","customerId":"c","retired":true,"timestamp":5}"#
    );
    assert_eq!(
        Record::from_json(p.to_json().as_bytes()).unwrap(),
        Record::Policy(p)
    );
    let Record::Policy(q) =
        Record::from_json(br#"{"type":"policy","policyId":"p","retired":false}"#).unwrap()
    else {
        unreachable!()
    };
    assert!(!q.retired);
}
