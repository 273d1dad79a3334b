//! Generated ledger logs: customers first, then events (with retries, conflicting retries,
//! late events, single-call outcomes) and resolutions, as JSON Lines.

use super::{DAY, HOUR, T0};
use serde_json::{Value, json};

/// splitmix64: a tiny deterministic generator, so a failing seed reproduces.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// What a generated log may contain.
#[derive(Clone, Copy, Debug)]
pub struct GenOpts {
    /// Number of events (before retries).
    pub events: usize,
    /// Conflicting retries and conflicting resolutions (order-dependent by design).
    pub conflicts: bool,
    /// Timestamps that jump back by up to 30 h (too_late under a 24 h window).
    pub late: bool,
    /// Percentage of events retried (an exact copy, possibly with another timestamp).
    pub retry_pct: u64,
    /// Customer ids to draw from.
    pub customers: usize,
    /// Only order-independent content: retries are exact copies (same timestamp) and each run
    /// gets at most one resolution (by `resolve` or by an event's `outcome`).
    pub order_free: bool,
    /// Some resolutions without a timestamp (dated at the ledger clock, which depends on
    /// everything the ledger saw before).
    pub undated: bool,
}

impl Default for GenOpts {
    fn default() -> Self {
        GenOpts {
            events: 150,
            conflicts: true,
            late: true,
            retry_pct: 30,
            customers: 4,
            order_free: false,
            undated: true,
        }
    }
}

const AMOUNTS: [&str; 8] = [
    "0", "1", "2.5", "12.345", "0.0001", "100", "7.125", "0.333333",
];

fn amount(r: &mut Rng) -> String {
    r.pick(&AMOUNTS).to_string()
}

fn rfc3339(ms: i64) -> String {
    // Rendered through `time` so the ledger parses a real RFC 3339 string.
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Customer upserts (1–3 versions each), in log order. Customer `cN` for N < customers; the
/// last id never gets an upsert.
pub fn customers(r: &mut Rng, n: usize) -> Vec<Value> {
    let mut out = Vec::new();
    for c in 0..n.saturating_sub(1) {
        let versions = 1 + r.below(3);
        let mut ts = T0 - 2 * DAY + r.below(2 * DAY as u64) as i64;
        for _ in 0..versions {
            let model = *r.pick(&["usage_based", "outcome_based", "per_seat", "flat"]);
            let mut plan = json!({"pricingModel": model});
            if r.chance(80) {
                plan["unitRevenueCents"] = json!(amount(r));
            }
            if model == "per_seat" || r.chance(20) {
                plan["seatPriceCents"] = json!(amount(r));
            }
            if model == "flat" || r.chance(40) {
                plan["monthlyFeeCents"] =
                    json!(r.pick(&["3100", "2800", "1000.5", "0.07"]).to_string());
            }
            if r.chance(50) {
                plan["name"] = json!(format!("plan-{}", r.below(5)));
            }
            let mut rec = json!({"type": "customer", "customerId": format!("c{c}"), "plan": plan,
                "seats": r.below(20)});
            // Some upserts carry no timestamp: in force from the start of the ledger.
            if r.chance(70) {
                rec["ts"] = json!(rfc3339(ts));
            }
            if r.chance(50) {
                rec["name"] = json!(format!("Customer {c}"));
            }
            out.push(rec);
            ts += r.below(3 * DAY as u64) as i64;
        }
    }
    out
}

/// Events and resolutions after the customers.
pub fn activity(r: &mut Rng, o: &GenOpts) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let mut sent: Vec<Value> = Vec::new();
    let mut closed: std::collections::HashSet<String> = std::collections::HashSet::new();
    let span = 5 * DAY;
    for i in 0..o.events {
        let mut ts = T0 + span * i as i64 / o.events.max(1) as i64;
        if o.late && r.chance(10) {
            ts -= r.below(30 * HOUR as u64) as i64;
        } else {
            ts += r.below(HOUR as u64) as i64;
        }
        let ts = ts.max(0);
        let customer = format!("c{}", r.below(o.customers as u64));
        let kind = *r.pick(&["llm", "llm", "tool", "retrieval", "track"]);
        let mut e = json!({"type": kind, "customerId": customer});
        if kind == "llm" || kind == "track" {
            e["model"] = json!(r.pick(&["m-small", "m-large", "m-unknown"]).to_string());
            if r.chance(80) {
                e["provider"] = json!(r.pick(&["openai", "anthropic"]).to_string());
            }
            if e["model"] != json!("m-unknown") {
                e["providerCostCents"] = json!(amount(r));
            }
            e["tokensIn"] = json!(r.below(5000));
            e["tokensOut"] = json!(r.below(900));
            if r.chance(30) {
                e["cachedTokens"] = json!(r.below(3000));
            }
            if r.chance(20) {
                e["reasoningTokens"] = json!(r.below(200));
            }
        }
        if kind != "llm" || r.chance(20) {
            e["externalCostCents"] = json!(amount(r));
        }
        if r.chance(70) {
            e["runId"] = json!(format!("r{}", r.below(6)));
        }
        if r.chance(60) {
            e["agentId"] = json!(r.pick(&["planner", "coder", "critic"]).to_string());
        }
        if r.chance(20) {
            e["revenueUnitCents"] = json!(amount(r));
        }
        if r.chance(30) {
            e["units"] = json!(1 + r.below(4));
        }
        match r.below(10) {
            0..=5 => e["idempotencyKey"] = json!(format!("k{i}")),
            6 => e["responseId"] = json!(format!("resp_{i}")),
            _ => {}
        }
        if r.chance(4) && (e.get("runId").is_some() || e.get("idempotencyKey").is_some()) {
            let run = e
                .get("runId")
                .or(e.get("idempotencyKey"))
                .map(|v| format!("{customer}/{v}"))
                .unwrap_or_default();
            if !o.order_free || closed.insert(run) {
                let outcomes = ["resolved", "escalated", "failed"];
                e["outcome"] = json!(r.pick(&outcomes).to_string());
            }
        }
        e["ts"] = if r.chance(50) {
            json!(rfc3339(ts))
        } else {
            json!(ts)
        };
        out.push(e.clone());
        sent.push(e);

        if r.chance(o.retry_pct) {
            let mut again = r.pick(&sent).clone();
            if !o.order_free && r.chance(50) {
                // Same content, delivered later: the timestamp is not money-relevant.
                let t = ts + r.below(HOUR as u64) as i64;
                again["ts"] = json!(t);
            }
            if o.conflicts && r.chance(25) && again.get("model").is_some() {
                again["tokensOut"] = json!(r.below(900) + 1000);
            }
            out.push(again);
        }
        let run = format!("r{}", r.below(6));
        if r.chance(8) && (!o.order_free || closed.insert(format!("{customer}/\"{run}\""))) {
            let mut res = json!({"type": "resolve", "customerId": customer,
                "runId": run,
                "outcome": r.pick(&["resolved", "resolved", "escalated", "failed"]).to_string(),
                "ts": rfc3339(ts + r.below(HOUR as u64) as i64)});
            if r.chance(30) {
                res["revenueUnitCents"] = json!(amount(r));
            }
            if o.undated && !o.order_free && r.chance(20) {
                // Dated at the ledger clock (the latest event so far).
                if let serde_json::Value::Object(m) = &mut res {
                    m.remove("ts");
                }
            }
            out.push(res.clone());
            if r.chance(30) {
                let mut again = res.clone();
                if o.conflicts && r.chance(50) {
                    again["outcome"] = json!("failed");
                    again["revenueUnitCents"] = json!("1");
                }
                out.push(again);
            }
        }
    }
    out
}

/// A full log: customers first, then activity.
pub fn log(seed: u64, o: &GenOpts) -> (Vec<String>, Vec<String>) {
    let mut r = Rng(seed);
    let c = customers(&mut r, o.customers);
    let a = activity(&mut r, o);
    (
        c.iter().map(Value::to_string).collect(),
        a.iter().map(Value::to_string).collect(),
    )
}
