//! What the pages show, read from one workspace's store: report queries over its ledger and
//! the status of its rate card. Nothing here formats; `pages` does.

use super::chart::DayPoint;
use std::sync::{Arc, Mutex};
use tollgate_engine::engine::SnapshotInfo;
use tollgate_engine::ledger::{
    Dimension, Filter, Margin, QueryError, QueryReport, ReportBreach, ReportQuery, ReportUnpriced,
    RunStatus, Sort,
};
use tollgate_engine::ratecard::RateCard;
use tollgate_engine::store::Store;

/// Most rows a table shows (customers, runs, agents, models); the page says how many more
/// there are.
pub const MAX_ROWS: usize = 500;
/// Most model names a rate-card diff lists per kind (added, removed, repriced).
pub const MAX_DIFF_NAMES: usize = 25;

/// One customer row of the overview.
#[derive(Clone, Debug)]
pub struct CustomerRow {
    /// Customer id.
    pub id: Arc<str>,
    /// Display name from the latest customer upsert.
    pub name: Option<Arc<str>>,
    /// Its money.
    pub margin: Margin,
}

/// The overview page.
#[derive(Clone, Debug)]
pub struct Overview {
    /// Everything in the workspace.
    pub totals: Margin,
    /// The customers' order (`None`: their ids in natural order).
    pub sort: Option<Sort>,
    /// Customers with activity in that order, at most [`MAX_ROWS`].
    pub customers: Vec<CustomerRow>,
    /// Customers with activity in all.
    pub customer_count: usize,
    /// Revenue and cost per UTC day with activity, oldest first.
    pub days: Vec<DayPoint>,
    /// Unpriced models.
    pub unpriced: Vec<ReportUnpriced>,
    /// Policy breaches.
    pub breaches: Vec<ReportBreach>,
    /// The rate card.
    pub card: CardStatus,
}

/// One run of a customer.
#[derive(Clone, Debug)]
pub struct RunRow {
    /// Run id.
    pub run_id: Arc<str>,
    /// Its outcome so far.
    pub status: RunStatus,
    /// Its money.
    pub margin: Margin,
}

/// A row keyed by a name that may be missing (agent, model).
#[derive(Clone, Debug)]
pub struct NamedRow {
    /// Provider (models only).
    pub provider: Option<Arc<str>>,
    /// The agent or model, `None` for events that named none.
    pub name: Option<Arc<str>>,
    /// Its money.
    pub margin: Margin,
}

/// A customer's page.
#[derive(Clone, Debug)]
pub struct CustomerPage {
    /// Customer id.
    pub id: String,
    /// Display name.
    pub name: Option<Arc<str>>,
    /// All of the customer's money.
    pub totals: Margin,
    /// Per UTC day.
    pub days: Vec<DayPoint>,
    /// Runs (natural order), at most [`MAX_ROWS`].
    pub runs: Vec<RunRow>,
    /// Runs in all.
    pub run_count: usize,
    /// Agents.
    pub agents: Vec<NamedRow>,
    /// Agents in all.
    pub agent_count: usize,
    /// Models (by provider and model).
    pub models: Vec<NamedRow>,
    /// Models in all.
    pub model_count: usize,
    /// Unpriced models of this customer.
    pub unpriced: Vec<ReportUnpriced>,
    /// Policy breaches of this customer.
    pub breaches: Vec<ReportBreach>,
}

/// The rate card in force and what changed with it.
#[derive(Clone, Debug)]
pub struct CardStatus {
    /// The card in force now.
    pub current: SnapshotInfo,
    /// It is the embedded card the binary ships (nothing published yet, or in force).
    pub embedded: bool,
    /// Cards the workspace knows (the embedded one included).
    pub cards: usize,
    /// The difference from the card before it, when there is one.
    pub last_diff: Option<Arc<DiffSummary>>,
    /// The rate-card sync's last pull (its report, or its error), when a sync runs.
    pub last_pull: Option<Result<String, String>>,
}

/// A rate-card diff, cut to what a page lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffSummary {
    /// The card before.
    pub from: SnapshotInfo,
    /// Models added: total and the first [`MAX_DIFF_NAMES`].
    pub added: (usize, Vec<String>),
    /// Models removed.
    pub removed: (usize, Vec<String>),
    /// Models repriced.
    pub repriced: (usize, Vec<String>),
}

/// A diff by the ids of its (old, new) cards.
type CachedDiff = ((u64, u64), Arc<DiffSummary>);

/// Remembers the last diff computed (a diff walks both cards; the page asks for the same one
/// on every load).
#[derive(Default)]
pub struct DiffCache {
    last: Mutex<Option<CachedDiff>>,
}

/// The name the customer's latest upsert gave it.
fn customer_name(store: &Store, id: &str) -> Option<Arc<str>> {
    store
        .ledger()
        .customer_terms(id)
        .and_then(|t| t.name)
        .map(Arc::from)
}

fn query(
    store: &Store,
    filter: &Filter,
    group_by: &[Dimension],
    sort: Option<Sort>,
) -> Result<QueryReport, QueryError> {
    store.ledger().query(&ReportQuery {
        filter: filter.clone(),
        group_by: group_by.to_vec(),
        sort,
        top: Some(MAX_ROWS),
    })
}

fn days(store: &Store, filter: &Filter) -> Result<Vec<DayPoint>, QueryError> {
    let r = store.ledger().query(&ReportQuery {
        filter: filter.clone(),
        group_by: vec![Dimension::Day],
        sort: None,
        top: None,
    })?;
    Ok(r.rows
        .into_iter()
        .map(|row| DayPoint {
            day: row.key.day_string().unwrap_or_default(),
            revenue: row.margin.revenue_cents,
            cost: row.margin.cost_cents,
        })
        .collect())
}

/// The overview of a workspace.
pub fn overview(
    store: &Store,
    diffs: &DiffCache,
    last_pull: Option<Result<String, String>>,
    sort: Option<Sort>,
    now_ms: i64,
) -> Result<Overview, QueryError> {
    let all = Filter::default();
    let r = query(store, &all, &[Dimension::Customer], sort)?;
    let customers = r
        .rows
        .into_iter()
        .filter_map(|row| {
            let id = row.key.customer_id?;
            Some(CustomerRow {
                name: customer_name(store, &id),
                id,
                margin: row.margin,
            })
        })
        .collect();
    Ok(Overview {
        sort,
        totals: r.totals,
        customers,
        customer_count: r.groups,
        days: days(store, &all)?,
        unpriced: r.unpriced,
        breaches: r.breaches,
        card: CardStatus {
            last_pull,
            ..card_status(store, diffs, now_ms)
        },
    })
}

/// A customer's page, `None` when the workspace has never seen the customer.
pub fn customer(store: &Store, id: &str) -> Result<Option<CustomerPage>, QueryError> {
    let ledger = store.ledger();
    if ledger.customer_margin(id).is_none() {
        return Ok(None);
    }
    let filter = Filter {
        customer_id: Some(id.to_string()),
        ..Filter::default()
    };
    let runs = query(store, &filter, &[Dimension::Run], None)?;
    let agents = query(store, &filter, &[Dimension::Agent], None)?;
    let models = query(
        store,
        &filter,
        &[Dimension::Provider, Dimension::Model],
        None,
    )?;
    Ok(Some(CustomerPage {
        id: id.to_string(),
        name: customer_name(store, id),
        totals: runs.totals,
        days: days(store, &filter)?,
        run_count: runs.groups,
        runs: runs
            .rows
            .into_iter()
            .filter_map(|row| {
                let run_id = row.key.run_id?;
                Some(RunRow {
                    status: ledger.run_status(id, &run_id).unwrap_or(RunStatus::Open),
                    run_id,
                    margin: row.margin,
                })
            })
            .collect(),
        agent_count: agents.groups,
        agents: agents
            .rows
            .into_iter()
            .map(|row| NamedRow {
                provider: None,
                name: row.key.agent_id,
                margin: row.margin,
            })
            .collect(),
        model_count: models.groups,
        models: models
            .rows
            .into_iter()
            .map(|row| NamedRow {
                provider: row.key.provider,
                name: row.key.model,
                margin: row.margin,
            })
            .collect(),
        unpriced: runs.unpriced,
        breaches: runs.breaches,
    }))
}

fn cut(names: &[String]) -> (usize, Vec<String>) {
    (
        names.len(),
        names.iter().take(MAX_DIFF_NAMES).cloned().collect(),
    )
}

/// The card in force at `now_ms`, and its diff from the card before it.
pub fn card_status(store: &Store, diffs: &DiffCache, now_ms: i64) -> CardStatus {
    let engine = store.engine();
    let snaps = engine.snapshots();
    // Sorted by effectiveFrom, never empty: the last one already in force (the first one when
    // every card starts in the future).
    let i = snaps
        .iter()
        .rposition(|s| s.effective_from_ms <= now_ms)
        .unwrap_or(0);
    let current = snaps[i];
    let last_diff = i.checked_sub(1).and_then(|p| {
        let from = snaps[p];
        let ids = (from.id.0, current.id.0);
        let mut cache = diffs.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, d)) = cache.as_ref()
            && *k == ids
        {
            return Some(d.clone());
        }
        let d = engine.diff(from.id, current.id)?;
        let summary = Arc::new(DiffSummary {
            from,
            added: cut(&d.added),
            removed: cut(&d.removed),
            repriced: cut(&d.repriced.iter().map(|r| r.key.clone()).collect::<Vec<_>>()),
        });
        *cache = Some((ids, summary.clone()));
        Some(summary)
    });
    CardStatus {
        embedded: current.id == RateCard::embedded().id(),
        current,
        cards: snaps.len(),
        last_diff,
        last_pull: None,
    }
}
