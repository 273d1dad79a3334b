//! The policy-breach section of a [`QueryReport`](super::QueryReport).
//!
//! This is the hook where the guardrails plug into reports: [`Book::report_breaches`] lists the
//! breaches of the policies in force over a report's filter and window. Until the ledger holds
//! policies there is nothing to breach, and the list is empty.

use super::book::Book;
use super::query::Filter;
use serde_json::{Value, json};
use std::sync::Arc;

/// One policy breach of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportBreach {
    /// The customer that breached the policy.
    pub customer_id: Arc<str>,
    /// The policy's id.
    pub policy_id: Arc<str>,
    /// The policy period that was breached, as text (`2026-11-02`, `2026-W45`, `2026-11`,
    /// `all`).
    pub period: String,
    /// Which rule was breached (e.g. `budget`, `min_margin`).
    pub rule: String,
    /// A human-readable account of the breach.
    pub detail: String,
}

impl ReportBreach {
    /// `{"customerId", "policyId", "period", "rule", "detail"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "customerId": self.customer_id.as_ref(),
            "policyId": self.policy_id.as_ref(),
            "period": self.period,
            "rule": self.rule,
            "detail": self.detail,
        })
    }
}

impl Book {
    /// Breaches of the policies in force for the money `filter` covers (its customer and its
    /// window), sorted by customer (natural order), then period and policy.
    pub(crate) fn report_breaches(&self, filter: &Filter, cap_ms: i64) -> Vec<ReportBreach> {
        self.breaches(cap_ms)
            .into_iter()
            .filter(|b| {
                filter
                    .customer_id
                    .as_deref()
                    .is_none_or(|c| c == &*b.customer_id)
            })
            .filter(|b| match b.period {
                // A period breach is listed when the period overlaps the window.
                Some(p) if p.period != super::policy::Period::All => {
                    let (first, last) = (p.period.first_day(p.index), p.period.last_day(p.index));
                    filter.from_day.is_none_or(|f| last.is_none_or(|l| l >= f))
                        && filter.to_day.is_none_or(|t| first.is_none_or(|d| d <= t))
                }
                _ => true,
            })
            .map(|b| ReportBreach {
                period: b.period.map_or_else(|| "run".to_string(), |p| p.label()),
                rule: b.rule.as_str().to_string(),
                detail: b.to_string(),
                customer_id: b.customer_id,
                policy_id: b.policy_id,
            })
            .collect()
    }
}
