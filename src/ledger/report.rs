//! The margin report of `tollgate report` (docs/reference/cli.md): totals, customers, runs, unpriced models.

use super::book::RunStatus;
use super::days::{Day, format_day};
use super::query::{Dimension, Filter, Margin, QueryError};
use super::report_query::natural_cmp;
use super::{IngestResult, Ledger};
use serde_json::{Value, json};
use std::sync::Arc;

/// Tally of ingest results, kept by whoever feeds the ledger (the ledger itself keeps only
/// state: a duplicate or a rejection changes nothing in it, not even a counter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IngestCounts {
    /// Records accepted (events, resolutions and customer upserts).
    pub accepted: u64,
    /// Duplicates.
    pub duplicates: u64,
    /// Conflicts.
    pub conflicts: u64,
    /// Rejections (invalid, `too_late`, overflow, malformed lines).
    pub rejected: u64,
    /// The `too_late` part of `rejected`.
    pub too_late: u64,
}

impl IngestCounts {
    /// Counts one result.
    pub fn record(&mut self, r: &IngestResult) {
        let n = match r {
            IngestResult::Accepted(_) => &mut self.accepted,
            IngestResult::Duplicate => &mut self.duplicates,
            IngestResult::Conflict { .. } => &mut self.conflicts,
            IngestResult::Rejected(_) => &mut self.rejected,
        };
        *n += 1;
        if let IngestResult::Rejected(e) = r
            && e.kind == super::RejectKind::TooLate
        {
            self.too_late += 1;
        }
    }
}

/// One run of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRun {
    /// Customer.
    pub customer_id: Arc<str>,
    /// Run.
    pub run_id: Arc<str>,
    /// Current status.
    pub status: RunStatus,
    /// Revenue (its events' + its resolution's) and cost within the window.
    pub margin: Margin,
}

/// One unpriced model of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportUnpriced {
    /// Provider as the events named it.
    pub provider: Option<Arc<str>>,
    /// Model as the events named it.
    pub model: Option<Arc<str>>,
    /// Unpriced events.
    pub events: u64,
}

/// The margin report over a window of UTC days.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// First day of the window, if bounded.
    pub from_day: Option<Day>,
    /// Last day of the window, if bounded.
    pub to_day: Option<Day>,
    /// Subscription revenue accrues through this day (the window's last day, else the ledger
    /// clock's day).
    pub subscription_through_day: Option<Day>,
    /// Everything.
    pub totals: Margin,
    /// Every customer the ledger knows, sorted by id in natural order (`cust-2` before
    /// `cust-10`; zero rows included).
    pub customers: Vec<(Arc<str>, Margin)>,
    /// Every run with events or a resolution in the window, open ones included, sorted by
    /// (customer, run) in natural order.
    pub runs: Vec<ReportRun>,
    /// Models with unpriced events, sorted by (provider, model) in natural order.
    pub unpriced: Vec<ReportUnpriced>,
}

impl Ledger {
    /// The margin report over `from_day..=to_day` (either may be open), taken under one read
    /// lock so its parts agree with each other.
    pub fn report(&self, from_day: Option<Day>, to_day: Option<Day>) -> Result<Report, QueryError> {
        let now = self.clock_cap_ms();
        let b = self.read();
        let filter = Filter {
            from_day,
            to_day,
            ..Filter::default()
        };
        let totals = b
            .margin(&filter, &[], now)?
            .pop()
            .map(|r| r.margin)
            .unwrap_or_default();
        let by_customer = b.margin(&filter, &[Dimension::Customer], now)?;
        let mut customers: Vec<(Arc<str>, Margin)> = b
            .customers
            .keys()
            .map(|id| (b.names.name(*id).clone(), Margin::default()))
            .collect();
        customers.sort_by(|a, b| natural_cmp(&a.0, &b.0));
        for row in by_customer {
            if let Some(c) = row.key.customer_id
                && let Ok(i) = customers.binary_search_by(|(id, _)| natural_cmp(id, &c))
            {
                customers[i].1 = row.margin;
            }
        }
        let mut runs = Vec::new();
        for row in b.margin(&filter, &[Dimension::Run], now)? {
            if let (Some(c), Some(r)) = (row.key.customer_id, row.key.run_id) {
                let status = match (b.names.get(&c), b.names.get(&r)) {
                    (Some(ci), Some(ri)) => b.status_of(ci, ri),
                    _ => RunStatus::Open,
                };
                runs.push(ReportRun {
                    customer_id: c,
                    run_id: r,
                    status,
                    margin: row.margin,
                });
            }
        }
        runs.sort_by(|x, y| {
            natural_cmp(&x.customer_id, &y.customer_id)
                .then_with(|| natural_cmp(&x.run_id, &y.run_id))
        });
        let mut unpriced: Vec<ReportUnpriced> = b
            .margin(&filter, &[Dimension::Provider, Dimension::Model], now)?
            .into_iter()
            .filter(|r| r.margin.unpriced_events > 0)
            .map(|r| ReportUnpriced {
                provider: r.key.provider,
                model: r.key.model,
                events: r.margin.unpriced_events,
            })
            .collect();
        unpriced.sort_by(|a, b| {
            let text = |x: &Option<Arc<str>>| x.as_deref().unwrap_or("").to_string();
            natural_cmp(&text(&a.provider), &text(&b.provider))
                .then_with(|| natural_cmp(&text(&a.model), &text(&b.model)))
                .then_with(|| (&a.provider, &a.model).cmp(&(&b.provider, &b.model)))
        });
        Ok(Report {
            from_day,
            to_day,
            subscription_through_day: to_day.or_else(|| b.clock_day(now)),
            totals,
            customers,
            runs,
            unpriced,
        })
    }
}

fn pct(m: &Margin) -> Value {
    m.margin_pct()
        .map_or(Value::Null, |p| Value::String(p.to_string()))
}

fn opt(s: &Option<Arc<str>>) -> Value {
    s.as_deref()
        .map_or(Value::Null, |s| Value::String(s.to_string()))
}

impl IngestResult {
    /// The result as JSON (for JSON surfaces such as the C ABI):
    /// `{"status":"accepted","costCents":"…","revenueCents":"…","snapshot":"…"|null,
    /// "priced":…,"reason":"unknown_model"|"no_token_price"|null,"warnings":[…]}`, `{"status":"duplicate"}`,
    /// `{"status":"conflict","reason":"…"}` or
    /// `{"status":"rejected","kind":"invalid"|"too_late"|"overflow","field":"…","error":"…"}`.
    ///
    /// ```
    /// use tollgate_engine::ledger::IngestResult;
    /// assert_eq!(IngestResult::Duplicate.to_json().to_string(), r#"{"status":"duplicate"}"#);
    /// ```
    pub fn to_json(&self) -> Value {
        match self {
            IngestResult::Accepted(a) => json!({
                "status": "accepted",
                "costCents": a.cost_cents.to_string(),
                "revenueCents": a.revenue_cents.to_string(),
                "snapshot": a.snapshot.map(|s| s.to_string()),
                "priced": a.priced,
                "reason": a.reason.map(|r| r.as_str()),
                "warnings": a.warnings,
            }),
            IngestResult::Duplicate => json!({"status": "duplicate"}),
            IngestResult::Conflict { reason } => json!({"status": "conflict", "reason": reason}),
            IngestResult::Rejected(r) => json!({
                "status": "rejected",
                "kind": r.kind.as_str(),
                "field": r.field,
                "error": r.to_string(),
            }),
        }
    }
}

impl Margin {
    /// The margin as JSON: amounts as exact decimal strings of cents, `marginPct` a decimal
    /// string (null when revenue is 0), counts as numbers.
    pub fn to_json(&self) -> Value {
        json!({
            "revenueCents": self.revenue_cents.to_string(),
            "usageRevenueCents": self.usage_revenue_cents.to_string(),
            "outcomeRevenueCents": self.outcome_revenue_cents.to_string(),
            "subscriptionRevenueCents": self.subscription_revenue_cents.to_string(),
            "costCents": self.cost_cents.to_string(),
            "marginCents": self.margin_cents().to_string(),
            "marginPct": pct(self),
            "events": self.events,
            "unpricedEvents": self.unpriced_events,
            "runs": {
                "open": self.runs.open,
                "resolved": self.runs.resolved,
                "escalated": self.runs.escalated,
                "failed": self.runs.failed,
            },
            "tokens": {
                "tokensIn": self.tokens.tokens_in,
                "cachedTokens": self.tokens.cached_tokens,
                "cacheWrite5mTokens": self.tokens.cache_write_5m_tokens,
                "cacheWrite1hTokens": self.tokens.cache_write_1h_tokens,
                "tokensOut": self.tokens.tokens_out,
                "reasoningTokens": self.tokens.reasoning_tokens,
            },
        })
    }
}

impl Report {
    /// The `--json` shape of `tollgate report`: amounts as exact decimal strings of cents,
    /// `marginPct` as a decimal string rounded half-even to 0.01 % (null when revenue is 0).
    pub fn to_json(&self, counts: &IngestCounts) -> Value {
        let t = &self.totals;
        json!({
            "totals": {
                "revenueCents": t.revenue_cents.to_string(),
                "costCents": t.cost_cents.to_string(),
                "marginCents": t.margin_cents().to_string(),
                "marginPct": pct(t),
                "events": t.events,
                "duplicates": counts.duplicates,
                "conflicts": counts.conflicts,
                "rejected": counts.rejected,
                "unpricedEvents": t.unpriced_events,
                "tooLate": counts.too_late,
                "usageRevenueCents": t.usage_revenue_cents.to_string(),
                "outcomeRevenueCents": t.outcome_revenue_cents.to_string(),
                "subscriptionRevenueCents": t.subscription_revenue_cents.to_string(),
                "runs": {
                    "open": t.runs.open,
                    "resolved": t.runs.resolved,
                    "escalated": t.runs.escalated,
                    "failed": t.runs.failed,
                },
                "tokens": {
                    "tokensIn": t.tokens.tokens_in,
                    "cachedTokens": t.tokens.cached_tokens,
                    "cacheWrite5mTokens": t.tokens.cache_write_5m_tokens,
                    "cacheWrite1hTokens": t.tokens.cache_write_1h_tokens,
                    "tokensOut": t.tokens.tokens_out,
                    "reasoningTokens": t.tokens.reasoning_tokens,
                },
            },
            "customers": self.customers.iter().map(|(id, m)| json!({
                "customerId": id.as_ref(),
                "revenueCents": m.revenue_cents.to_string(),
                "costCents": m.cost_cents.to_string(),
                "marginCents": m.margin_cents().to_string(),
                "marginPct": pct(m),
                "events": m.events,
                "unpricedEvents": m.unpriced_events,
                "usageRevenueCents": m.usage_revenue_cents.to_string(),
                "outcomeRevenueCents": m.outcome_revenue_cents.to_string(),
                "subscriptionRevenueCents": m.subscription_revenue_cents.to_string(),
            })).collect::<Vec<_>>(),
            "runs": self.runs.iter().map(|r| json!({
                "customerId": r.customer_id.as_ref(),
                "runId": r.run_id.as_ref(),
                "outcome": r.status.as_str(),
                "revenueCents": r.margin.revenue_cents.to_string(),
                "costCents": r.margin.cost_cents.to_string(),
                "marginCents": r.margin.margin_cents().to_string(),
                "marginPct": pct(&r.margin),
                "events": r.margin.events,
            })).collect::<Vec<_>>(),
            "unpriced": self.unpriced.iter().map(|u| json!({
                "provider": opt(&u.provider),
                "model": opt(&u.model),
                "events": u.events,
            })).collect::<Vec<_>>(),
            "window": {
                "from": self.from_day.map(format_day),
                "to": self.to_day.map(format_day),
                "subscriptionThrough": self.subscription_through_day.map(format_day),
            },
        })
    }
}
