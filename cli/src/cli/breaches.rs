//! The policy-breach section of `tollgate report` (guardrail policies in the log).

use serde_json::{Value, json};
use tollgate_engine::ledger::guard::Breach;

/// `"policyBreaches"` rows for `--json`.
pub fn to_json(breaches: &[Breach]) -> Value {
    Value::Array(
        breaches
            .iter()
            .map(|b| {
                json!({
                    "customerId": &*b.customer_id,
                    "policyId": &*b.policy_id,
                    "rule": b.rule.as_str(),
                    "period": b.period.map(|p| p.label()),
                    "subject": b.subject.as_deref(),
                    "costCents": b.cost_cents.to_string(),
                    "revenueCents": b.revenue_cents.to_string(),
                    "limit": b.limit,
                })
            })
            .collect(),
    )
}

/// The text section, one line per breach, grouped by customer (empty without breaches).
pub fn to_text(breaches: &[Breach]) -> String {
    if breaches.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\nPolicy breaches (judged by the policy in force at the ledger clock; exact cents):\n",
    );
    for b in breaches {
        out.push_str("  ");
        out.push_str(&b.to_string());
        out.push('\n');
    }
    out
}
