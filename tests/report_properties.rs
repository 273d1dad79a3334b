//! Properties of report queries over generated logs: the rows of any group-by sum to the
//! ungrouped totals exactly, and the values of a filter partition the events (and their
//! money) with the money that has no value in that dimension.

use proptest::prelude::*;
use tollgate_engine::engine::Engine;
use tollgate_engine::ledger::{
    Dimension, Filter, GroupKey, Ledger, LedgerConfig, Margin, ReportQuery, RunStatus,
};
use tollgate_engine::money::Cents;

fn engine() -> Engine {
    let card = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/cli/tests/data/report_card.json"
    ))
    .unwrap();
    Engine::from_registry(&card).unwrap()
}

/// One generated record, as a JSON line.
#[derive(Clone, Debug)]
enum Rec {
    Event {
        customer: u8,
        run: Option<u8>,
        agent: Option<u8>,
        model: u8,
        tokens_in: u32,
        cached: u32,
        tokens_out: u32,
        batch: bool,
        revenue: Option<u8>,
        day: u8,
    },
    Resolve {
        customer: u8,
        run: u8,
        outcome: u8,
        day: u8,
    },
    Customer {
        customer: u8,
        plan: u8,
        day: u8,
    },
}

const MODELS: [(&str, &str); 3] = [
    ("prov-a", "m-big"),
    ("prov-b", "m-small"),
    ("prov-a", "m-x"),
];

fn ts(day: u8, seq: usize) -> i64 {
    // 2026-11-02T00:00:00Z plus whole days and a few seconds of sequence.
    1_793_577_600_000 + i64::from(day) * 86_400_000 + seq as i64 * 1000
}

impl Rec {
    fn line(&self, seq: usize) -> String {
        match self {
            Rec::Event {
                customer,
                run,
                agent,
                model,
                tokens_in,
                cached,
                tokens_out,
                batch,
                revenue,
                day,
            } => {
                let (provider, model) = MODELS[*model as usize];
                let mut s = format!(
                    r#"{{"customerId":"c-{customer}","provider":"{provider}","model":"{model}","tokensIn":{tokens_in},"cachedTokens":{cached},"tokensOut":{tokens_out},"idempotencyKey":"k{seq}","ts":{}"#,
                    ts(*day, seq)
                );
                if let Some(r) = run {
                    s.push_str(&format!(r#","runId":"r-{r}""#));
                }
                if let Some(a) = agent {
                    s.push_str(&format!(r#","agentId":"a-{a}""#));
                }
                if *batch {
                    s.push_str(r#","serviceTier":"batch""#);
                }
                if let Some(v) = revenue {
                    s.push_str(&format!(r#","revenueUnitCents":"{v}.25""#));
                }
                s.push('}');
                s
            }
            Rec::Resolve {
                customer,
                run,
                outcome,
                day,
            } => format!(
                r#"{{"type":"resolve","customerId":"c-{customer}","runId":"r-{run}","outcome":"{}","ts":{}}}"#,
                ["resolved", "escalated", "failed"][*outcome as usize],
                ts(*day, seq)
            ),
            Rec::Customer {
                customer,
                plan,
                day,
            } => format!(
                r#"{{"type":"customer","customerId":"c-{customer}","seats":3,"plan":{},"ts":{}}}"#,
                [
                    r#"{"pricingModel":"usage_based","unitRevenueCents":2,"monthlyFeeCents":3100}"#,
                    r#"{"pricingModel":"outcome_based","unitRevenueCents":7}"#,
                    r#"{"pricingModel":"per_seat","seatPriceCents":1000}"#,
                    r#"{"pricingModel":"flat","monthlyFeeCents":777}"#,
                ][*plan as usize],
                ts(*day, seq)
            ),
        }
    }
}

fn rec() -> impl Strategy<Value = Rec> {
    prop_oneof![
        6 => (
            0u8..4,
            proptest::option::of(0u8..4),
            proptest::option::of(0u8..3),
            0u8..3,
            0u32..5000,
            0u32..3000,
            0u32..2000,
            any::<bool>(),
            proptest::option::of(0u8..9),
            0u8..40,
        )
            .prop_map(
                |(customer, run, agent, model, tokens_in, cached, tokens_out, batch, revenue, day)| {
                    Rec::Event {
                        customer,
                        run,
                        agent,
                        model,
                        tokens_in,
                        cached,
                        tokens_out,
                        batch,
                        revenue,
                        day,
                    }
                }
            ),
        2 => (0u8..4, 0u8..4, 0u8..3, 0u8..40)
            .prop_map(|(customer, run, outcome, day)| Rec::Resolve { customer, run, outcome, day }),
        1 => (0u8..4, 0u8..4, 0u8..40).prop_map(|(customer, plan, day)| Rec::Customer { customer, plan, day }),
    ]
}

fn ledger_of(recs: &[Rec]) -> Ledger {
    let engine = engine();
    let ledger = Ledger::new(LedgerConfig {
        dedupe_window_ms: 0,
        clock: tollgate_engine::ledger::Clock::Log,
    });
    for (i, r) in recs.iter().enumerate() {
        ledger.ingest_json(&engine, r.line(i).as_bytes());
    }
    ledger
}

/// The additive figures of a margin (run counts are distinct runs, not additive).
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Additive {
    revenue: Cents,
    usage: Cents,
    outcome: Cents,
    subscription: Cents,
    cost: Cents,
    savings: Cents,
    events: u64,
    unpriced: u64,
    tokens_in: u64,
    cached: u64,
    tokens_out: u64,
}

impl Additive {
    fn of(m: &Margin) -> Additive {
        Additive {
            revenue: m.revenue_cents,
            usage: m.usage_revenue_cents,
            outcome: m.outcome_revenue_cents,
            subscription: m.subscription_revenue_cents,
            cost: m.cost_cents,
            savings: m.cache_savings_cents,
            events: m.events,
            unpriced: m.unpriced_events,
            tokens_in: m.tokens.tokens_in,
            cached: m.tokens.cached_tokens,
            tokens_out: m.tokens.tokens_out,
        }
    }

    fn add(&mut self, o: &Additive) {
        let c = |a: Cents, b: Cents| a.checked_add(b).unwrap();
        self.revenue = c(self.revenue, o.revenue);
        self.usage = c(self.usage, o.usage);
        self.outcome = c(self.outcome, o.outcome);
        self.subscription = c(self.subscription, o.subscription);
        self.cost = c(self.cost, o.cost);
        self.savings = c(self.savings, o.savings);
        self.events += o.events;
        self.unpriced += o.unpriced;
        self.tokens_in += o.tokens_in;
        self.cached += o.cached;
        self.tokens_out += o.tokens_out;
    }
}

fn query(l: &Ledger, filter: Filter, dims: Vec<Dimension>) -> tollgate_engine::ledger::QueryReport {
    l.query(&ReportQuery {
        filter,
        group_by: dims,
        ..ReportQuery::default()
    })
    .unwrap()
}

fn sum_rows(r: &tollgate_engine::ledger::QueryReport) -> Additive {
    let mut s = Additive::default();
    for row in &r.rows {
        s.add(&Additive::of(&row.margin));
    }
    s
}

/// The value of a filterable dimension in a group key.
fn value_of(k: &GroupKey, d: Dimension) -> Option<String> {
    k.text(d)
}

fn with(d: Dimension, v: &str, base: &Filter) -> Filter {
    let mut f = base.clone();
    let v = Some(v.to_string());
    match d {
        Dimension::Customer => f.customer_id = v,
        Dimension::Run => f.run_id = v,
        Dimension::Agent => f.agent_id = v,
        Dimension::Model => f.model = v,
        Dimension::Provider => f.provider = v,
        _ => unreachable!(),
    }
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any one or two dimensions, with or without a window: the rows sum to the totals.
    #[test]
    fn grouped_rows_sum_to_the_totals(
        recs in proptest::collection::vec(rec(), 1..60),
        window in proptest::option::of((0i64..40, 0i64..40)),
    ) {
        let l = ledger_of(&recs);
        let mut filter = Filter::default();
        if let Some((a, b)) = window {
            // 2026-11-02 + a, + b.
            let base = tollgate_engine::ledger::days::day_of_ms(ts(0, 0));
            filter.from_day = Some(base + a.min(b));
            filter.to_day = Some(base + a.max(b));
        }
        let totals = Additive::of(&query(&l, filter.clone(), vec![]).totals);
        for (i, a) in Dimension::ALL.iter().enumerate() {
            let r = query(&l, filter.clone(), vec![*a]);
            prop_assert_eq!(sum_rows(&r), totals, "{:?}", a);
            prop_assert_eq!(Additive::of(&r.totals), totals);
            for b in &Dimension::ALL[i + 1..] {
                let r = query(&l, filter.clone(), vec![*a, *b]);
                prop_assert_eq!(sum_rows(&r), totals, "{:?} {:?}", a, b);
            }
        }
    }

    /// Filtering on each value of a dimension gives that value's group, and the values
    /// together with the money that has no value there add up to everything.
    #[test]
    fn filters_partition_the_events(recs in proptest::collection::vec(rec(), 1..60)) {
        let l = ledger_of(&recs);
        let all = Additive::of(&query(&l, Filter::default(), vec![]).totals);
        for d in [Dimension::Customer, Dimension::Agent, Dimension::Model, Dimension::Provider] {
            let groups = query(&l, Filter::default(), vec![d]);
            let mut sum = Additive::default();
            for row in &groups.rows {
                let part = match value_of(&row.key, d) {
                    Some(v) => {
                        let f = query(&l, with(d, &v, &Filter::default()), vec![]);
                        let part = Additive::of(&f.totals);
                        // Equal to the group itself.
                        prop_assert_eq!(part, Additive::of(&row.margin), "{:?} {}", d, v);
                        part
                    }
                    None => Additive::of(&row.margin),
                };
                sum.add(&part);
            }
            prop_assert_eq!(sum, all, "{:?}", d);
        }
        // Run ids repeat across customers: filter by run id, and add what has no run.
        let by_run = query(&l, Filter::default(), vec![Dimension::Run]);
        let mut ids: Vec<String> = by_run.rows.iter().filter_map(|r| r.key.run_id.as_deref().map(str::to_string)).collect();
        ids.sort();
        ids.dedup();
        let mut no_run = Additive::default();
        for r in by_run.rows.iter().filter(|r| r.key.run_id.is_none()) {
            no_run.add(&Additive::of(&r.margin));
        }
        let mut sum = no_run;
        for id in &ids {
            sum.add(&Additive::of(&query(&l, with(Dimension::Run, id, &Filter::default()), vec![]).totals));
        }
        prop_assert_eq!(sum, all);
        // Outcomes: every run has exactly one current status.
        let mut sum = no_run;
        for o in [RunStatus::Open, RunStatus::Resolved, RunStatus::Escalated, RunStatus::Failed] {
            let f = Filter { outcome: Some(o), ..Filter::default() };
            let r = query(&l, f, vec![]);
            // Only runs of that status are counted.
            let of_status = match o {
                RunStatus::Open => r.totals.runs.open,
                RunStatus::Resolved => r.totals.runs.resolved,
                RunStatus::Escalated => r.totals.runs.escalated,
                RunStatus::Failed => r.totals.runs.failed,
            };
            prop_assert_eq!(r.totals.runs.total(), of_status);
            sum.add(&Additive::of(&r.totals));
        }
        prop_assert_eq!(sum, all);
        // Days: each day's window is that day's group.
        let by_day = query(&l, Filter::default(), vec![Dimension::Day]);
        let mut sum = Additive::default();
        for row in &by_day.rows {
            let d = row.key.day.unwrap();
            let f = Filter { from_day: Some(d), to_day: Some(d), ..Filter::default() };
            let part = Additive::of(&query(&l, f, vec![]).totals);
            prop_assert_eq!(part, Additive::of(&row.margin));
            sum.add(&part);
        }
        prop_assert_eq!(sum, all);
    }
}
