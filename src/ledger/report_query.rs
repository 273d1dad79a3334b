//! Report queries: group-by, filters, sort and top-N over the ledger, with the derived figures
//! users ask for, as one value the command line, the C ABI and the bindings all share.
//!
//! A [`ReportQuery`] names a [`Filter`], the dimensions to group by, an optional [`Sort`] and
//! an optional top-N; [`Ledger::query`] answers it with a [`QueryReport`] taken under one read
//! lock. The report renders itself as JSON ([`QueryReport::to_json`]), JSON Lines
//! ([`QueryReport::write_jsonl`]) and CSV ([`QueryReport::write_csv`], RFC 4180): every amount
//! is an exact decimal string of cents, never a float.

use super::Ledger;
use super::book::RunStatus;
use super::days::{Day, format_day, parse_day};
use super::query::{Dimension, Filter, GroupKey, Margin, Percent, QueryError};
use super::report::ReportUnpriced;
use super::report_breaches::ReportBreach;
use crate::money::Cents;
use serde_json::{Map, Value, json};
use std::cmp::Ordering;
use std::fmt;
use std::io::{self, Write};

/// What rows are sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SortKey {
    /// Revenue.
    Revenue,
    /// Cost.
    Cost,
    /// Margin (revenue − cost).
    Margin,
    /// Margin as a percentage of revenue (rows without revenue come last either way).
    MarginPct,
    /// Accepted events.
    Events,
}

impl SortKey {
    /// The key's name: `revenue`, `cost`, `margin`, `margin%`, `events`.
    pub const fn as_str(self) -> &'static str {
        match self {
            SortKey::Revenue => "revenue",
            SortKey::Cost => "cost",
            SortKey::Margin => "margin",
            SortKey::MarginPct => "margin%",
            SortKey::Events => "events",
        }
    }

    /// Parses a key name ([`SortKey::as_str`]; `margin_pct` and `marginPct` are accepted for
    /// `margin%`).
    pub fn parse(name: &str) -> Option<SortKey> {
        Some(match name {
            "revenue" => SortKey::Revenue,
            "cost" => SortKey::Cost,
            "margin" => SortKey::Margin,
            "margin%" | "margin_pct" | "marginPct" => SortKey::MarginPct,
            "events" => SortKey::Events,
            _ => return None,
        })
    }
}

/// A sort order: a key and a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Sort {
    /// What to compare.
    pub key: SortKey,
    /// Largest first.
    pub descending: bool,
}

impl Sort {
    /// Parses `KEY`, `KEY:desc` or `KEY:asc` (without a direction: descending, largest first).
    ///
    /// ```
    /// use tollgate_engine::ledger::{Sort, SortKey};
    /// assert_eq!(Sort::parse("margin:asc"), Ok(Sort { key: SortKey::Margin, descending: false }));
    /// assert_eq!(Sort::parse("cost"), Ok(Sort { key: SortKey::Cost, descending: true }));
    /// assert!(Sort::parse("price").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Sort, String> {
        let (name, dir) = match text.rsplit_once(':') {
            Some((n, d)) => (n, Some(d)),
            None => (text, None),
        };
        let key = SortKey::parse(name).ok_or_else(|| {
            format!(
                "unknown sort key \"{}\" (expected revenue, cost, margin, margin% or events, optionally followed by :asc or :desc)",
                crate::event::clip(name)
            )
        })?;
        let descending = match dir {
            None | Some("desc") => true,
            Some("asc") => false,
            Some(d) => {
                return Err(format!(
                    "unknown sort direction \"{}\" (expected asc or desc)",
                    crate::event::clip(d)
                ));
            }
        };
        Ok(Sort { key, descending })
    }
}

impl fmt::Display for Sort {
    /// `margin:asc`, `cost:desc`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dir = if self.descending { "desc" } else { "asc" };
        write!(f, "{}:{dir}", self.key.as_str())
    }
}

/// A report query: which money ([`Filter`]), grouped how, sorted how, how many rows.
///
/// ```
/// use tollgate_engine::ledger::{Dimension, ReportQuery, Sort, SortKey};
/// let q = ReportQuery::from_json(br#"{"groupBy":["agent"],"outcome":"resolved","sort":"cost","top":5}"#).unwrap();
/// assert_eq!(q.group_by, vec![Dimension::Agent]);
/// assert_eq!(q.sort, Some(Sort { key: SortKey::Cost, descending: true }));
/// assert_eq!(q.top, Some(5));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReportQuery {
    /// Which money the report covers.
    pub filter: Filter,
    /// Dimensions to group by, in the order rows are ordered by when no sort is given (empty:
    /// no rows, the totals only).
    pub group_by: Vec<Dimension>,
    /// Row order; `None`: by the group's ids in natural order (`cust-2` before `cust-10`).
    pub sort: Option<Sort>,
    /// Keep the first `top` rows (after sorting); totals still cover every group.
    pub top: Option<usize>,
}

/// Largest query text [`ReportQuery::from_json`] accepts.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;

fn outcome_of(name: &str) -> Option<RunStatus> {
    Some(match name {
        "open" => RunStatus::Open,
        "resolved" => RunStatus::Resolved,
        "escalated" => RunStatus::Escalated,
        "failed" => RunStatus::Failed,
        _ => return None,
    })
}

/// Parses a run outcome for [`Filter::outcome`]: `open`, `resolved`, `escalated`, `failed`.
pub fn parse_outcome(name: &str) -> Result<RunStatus, String> {
    outcome_of(name).ok_or_else(|| {
        format!(
            "unknown outcome \"{}\" (expected open, resolved, escalated or failed)",
            crate::event::clip(name)
        )
    })
}

impl ReportQuery {
    /// Parses a query object: filters `customerId`, `runId`, `agentId`, `model`, `provider`
    /// (strings), `outcome` (`open`, `resolved`, `escalated`, `failed`), `from` / `to` (UTC days
    /// `YYYY-MM-DD`, inclusive), `groupBy` (a list of `customer`, `run`, `agent`, `model`,
    /// `provider`, `day`, `week`, `month`), `sort` (`revenue`, `cost`, `margin`, `margin%`,
    /// `events`, optionally `:asc` / `:desc`) and `top` (a positive integer). Every field is
    /// optional; an unknown field, a wrong type or a bad value is an error naming the field.
    /// Empty input is the empty query.
    pub fn from_json(bytes: &[u8]) -> Result<ReportQuery, String> {
        if bytes.len() > MAX_QUERY_BYTES {
            return Err(format!("the query is longer than {MAX_QUERY_BYTES} bytes"));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(ReportQuery::default());
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| format!("query: {e}"))?;
        let Value::Object(fields) = v else {
            return Err("query: expected a JSON object".to_string());
        };
        let mut q = ReportQuery::default();
        for (name, value) in fields {
            let text = |v: &Value| -> Result<String, String> {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("{name}: expected a string"))
            };
            match name.as_str() {
                "customerId" => q.filter.customer_id = Some(text(&value)?),
                "runId" => q.filter.run_id = Some(text(&value)?),
                "agentId" => q.filter.agent_id = Some(text(&value)?),
                "model" => q.filter.model = Some(text(&value)?),
                "provider" => q.filter.provider = Some(text(&value)?),
                "outcome" => {
                    q.filter.outcome =
                        Some(parse_outcome(&text(&value)?).map_err(|e| format!("outcome: {e}"))?)
                }
                "from" => {
                    q.filter.from_day =
                        Some(parse_day(&text(&value)?).map_err(|e| format!("from: {e}"))?)
                }
                "to" => {
                    q.filter.to_day =
                        Some(parse_day(&text(&value)?).map_err(|e| format!("to: {e}"))?)
                }
                "groupBy" => {
                    let Value::Array(list) = &value else {
                        return Err("groupBy: expected a list of dimension names".to_string());
                    };
                    let mut dims = Vec::with_capacity(list.len());
                    for d in list {
                        dims.push(parse_dimension(&text(d)?).map_err(|e| format!("groupBy: {e}"))?);
                    }
                    q.group_by = dedup_dims(dims);
                }
                "sort" => {
                    q.sort = Some(Sort::parse(&text(&value)?).map_err(|e| format!("sort: {e}"))?)
                }
                "top" => {
                    let n = value
                        .as_u64()
                        .filter(|n| *n > 0)
                        .ok_or("top: expected a positive integer")?;
                    q.top = Some(usize::try_from(n).unwrap_or(usize::MAX));
                }
                other => {
                    return Err(format!(
                        "unknown field \"{}\" (expected customerId, runId, agentId, model, provider, outcome, from, to, groupBy, sort or top)",
                        crate::event::clip(other)
                    ));
                }
            }
        }
        Ok(q)
    }

    /// The query as JSON, in the shape [`ReportQuery::from_json`] reads (unset fields left
    /// out).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let f = &self.filter;
        for (name, v) in [
            ("customerId", &f.customer_id),
            ("runId", &f.run_id),
            ("agentId", &f.agent_id),
            ("model", &f.model),
            ("provider", &f.provider),
        ] {
            if let Some(v) = v {
                m.insert(name.into(), Value::String(v.clone()));
            }
        }
        if let Some(o) = f.outcome {
            m.insert("outcome".into(), o.as_str().into());
        }
        if let Some(d) = f.from_day {
            m.insert("from".into(), format_day(d).into());
        }
        if let Some(d) = f.to_day {
            m.insert("to".into(), format_day(d).into());
        }
        m.insert(
            "groupBy".into(),
            self.group_by.iter().map(|d| d.as_str()).collect(),
        );
        if let Some(s) = self.sort {
            m.insert("sort".into(), s.to_string().into());
        }
        if let Some(t) = self.top {
            m.insert("top".into(), t.into());
        }
        Value::Object(m)
    }
}

/// Parses one dimension name (see [`Dimension::as_str`]).
pub fn parse_dimension(name: &str) -> Result<Dimension, String> {
    Dimension::parse(name).ok_or_else(|| {
        format!(
            "unknown dimension \"{}\" (expected customer, run, agent, model, provider, day, week or month)",
            crate::event::clip(name)
        )
    })
}

/// Drops repeated dimensions, keeping the first occurrence of each.
pub fn dedup_dims(dims: Vec<Dimension>) -> Vec<Dimension> {
    let mut out: Vec<Dimension> = Vec::with_capacity(dims.len());
    for d in dims {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

/// One group of a [`QueryReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportRow {
    /// The group's ids (dimensions not grouped by are `None`).
    pub key: GroupKey,
    /// Its money and counts.
    pub margin: Margin,
    /// Its share of the report's total cost, 0.01 % half-even (`None` when that is 0).
    pub cost_share: Option<Percent>,
}

/// The answer to a [`ReportQuery`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryReport {
    /// The query answered.
    pub query: ReportQuery,
    /// Subscription revenue accrues through this day (the window's last day, else the ledger
    /// clock's day); `None` before any activity.
    pub subscription_through_day: Option<Day>,
    /// Everything the filter covers, every group included (not only the top N).
    pub totals: Margin,
    /// The groups, sorted, at most `top`.
    pub rows: Vec<ReportRow>,
    /// Number of groups before `top` cut them.
    pub groups: usize,
    /// Models with unpriced events under the filter, sorted by (provider, model), natural
    /// order.
    pub unpriced: Vec<ReportUnpriced>,
    /// Policy breaches under the filter's customer and window.
    pub breaches: Vec<ReportBreach>,
}

/// Compares ids the way people read them: runs of digits by their value (`cust-2` before
/// `cust-10`, `a9` before `a10`), everything else byte by byte; ids equal that way (`x01`,
/// `x1`) fall back to byte order, so the order is total.
///
/// ```
/// use std::cmp::Ordering;
/// use tollgate_engine::ledger::natural_cmp;
/// let mut ids = vec!["cust-10", "cust-2", "cust-1", "b", "a10", "a9"];
/// ids.sort_by(|a, b| natural_cmp(a, b));
/// assert_eq!(ids, ["a9", "a10", "b", "cust-1", "cust-2", "cust-10"]);
/// assert_eq!(natural_cmp("x01", "x1"), Ordering::Less);
/// ```
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        if x[i].is_ascii_digit() && y[j].is_ascii_digit() {
            let si = i;
            while i < x.len() && x[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < y.len() && y[j].is_ascii_digit() {
                j += 1;
            }
            let strip = |s: &[u8]| -> usize { s.iter().take_while(|c| **c == b'0').count() };
            let (dx, dy) = (&x[si..i], &y[sj..j]);
            let (dx, dy) = (&dx[strip(dx)..], &dy[strip(dy)..]);
            match dx.len().cmp(&dy.len()).then_with(|| dx.cmp(dy)) {
                Ordering::Equal => {}
                o => return o,
            }
        } else {
            match x[i].cmp(&y[j]) {
                Ordering::Equal => {
                    i += 1;
                    j += 1;
                }
                o => return o,
            }
        }
    }
    (x.len() - i).cmp(&(y.len() - j)).then_with(|| a.cmp(b))
}

/// Values first (natural order), "no value" last.
fn cmp_opt_text(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => natural_cmp(a, b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn cmp_opt_day(a: Option<Day>, b: Option<Day>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The dimensions rows are ordered by: the query's, a run preceded by its customer.
fn order_dims(group_by: &[Dimension]) -> Vec<Dimension> {
    let mut out = Vec::with_capacity(group_by.len() + 1);
    for d in group_by {
        if *d == Dimension::Run && !out.contains(&Dimension::Customer) {
            out.push(Dimension::Customer);
        }
        if !out.contains(d) {
            out.push(*d);
        }
    }
    out
}

/// Compares two group keys on `dims` in natural order.
pub(crate) fn cmp_keys(a: &GroupKey, b: &GroupKey, dims: &[Dimension]) -> Ordering {
    for d in dims {
        let o = match d {
            Dimension::Customer => cmp_opt_text(a.customer_id.as_deref(), b.customer_id.as_deref()),
            Dimension::Run => cmp_opt_text(a.run_id.as_deref(), b.run_id.as_deref()),
            Dimension::Agent => cmp_opt_text(a.agent_id.as_deref(), b.agent_id.as_deref()),
            Dimension::Model => cmp_opt_text(a.model.as_deref(), b.model.as_deref()),
            Dimension::Provider => cmp_opt_text(a.provider.as_deref(), b.provider.as_deref()),
            Dimension::Day => cmp_opt_day(a.day, b.day),
            Dimension::Week => cmp_opt_day(a.week, b.week),
            Dimension::Month => cmp_opt_day(a.month, b.month),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

fn cmp_by(a: &Margin, b: &Margin, key: SortKey) -> Ordering {
    match key {
        SortKey::Revenue => a.revenue_cents.cmp(&b.revenue_cents),
        SortKey::Cost => a.cost_cents.cmp(&b.cost_cents),
        SortKey::Margin => a.margin_cents().cmp(&b.margin_cents()),
        SortKey::Events => a.events.cmp(&b.events),
        SortKey::MarginPct => a.margin_pct().cmp(&b.margin_pct()),
    }
}

/// Sorts rows: by `sort` when given (rows without a margin % last in either direction for
/// `margin%`; ties by id), else by id in natural order.
pub(crate) fn sort_rows(rows: &mut [ReportRow], group_by: &[Dimension], sort: Option<Sort>) {
    let dims = order_dims(group_by);
    rows.sort_by(|a, b| {
        let by_value = match sort {
            None => Ordering::Equal,
            Some(s) => {
                let pct_missing = s.key == SortKey::MarginPct
                    && (a.margin.margin_pct().is_none() || b.margin.margin_pct().is_none());
                if pct_missing {
                    a.margin
                        .margin_pct()
                        .is_none()
                        .cmp(&b.margin.margin_pct().is_none())
                } else {
                    let o = cmp_by(&a.margin, &b.margin, s.key);
                    if s.descending { o.reverse() } else { o }
                }
            }
        };
        by_value.then_with(|| cmp_keys(&a.key, &b.key, &dims))
    });
}

impl Ledger {
    /// Answers a report query under one read lock, so the totals, rows and unpriced list agree
    /// with each other.
    ///
    /// ```
    /// use tollgate_engine::engine::Engine;
    /// use tollgate_engine::ledger::{Dimension, Ledger, ReportQuery};
    /// let engine = Engine::embedded();
    /// let ledger = Ledger::default();
    /// for line in [
    ///     r#"{"customerId":"cust-10","provider":"openai","model":"gpt-4o","tokensIn":1000,"revenueUnitCents":1,"ts":"2026-11-02T10:00:00Z"}"#,
    ///     r#"{"customerId":"cust-2","provider":"openai","model":"gpt-4o","tokensIn":2000,"revenueUnitCents":1,"ts":"2026-11-02T11:00:00Z"}"#,
    /// ] {
    ///     ledger.ingest_json(&engine, line.as_bytes());
    /// }
    /// let q = ReportQuery { group_by: vec![Dimension::Customer], ..ReportQuery::default() };
    /// let r = ledger.query(&q).unwrap();
    /// // Natural order; gpt-4o input is 2.5e-6 USD = 0.00025 cents a token.
    /// assert_eq!(r.rows[0].key.customer_id.as_deref(), Some("cust-2"));
    /// assert_eq!(r.rows[0].margin.cost_cents.to_string(), "0.5");
    /// assert_eq!(r.rows[1].margin.cost_cents.to_string(), "0.25");
    /// assert_eq!(r.totals.cost_cents.to_string(), "0.75");
    /// ```
    pub fn query(&self, q: &ReportQuery) -> Result<QueryReport, QueryError> {
        let now = self.clock_cap_ms();
        let b = self.read();
        let totals = b
            .margin(&q.filter, &[], now)?
            .pop()
            .map(|r| r.margin)
            .unwrap_or_default();
        let mut rows: Vec<ReportRow> = if q.group_by.is_empty() {
            Vec::new()
        } else {
            b.margin(&q.filter, &q.group_by, now)?
                .into_iter()
                .map(|r| ReportRow {
                    cost_share: r.margin.cost_share_of(totals.cost_cents),
                    key: r.key,
                    margin: r.margin,
                })
                .collect()
        };
        sort_rows(&mut rows, &q.group_by, q.sort);
        let groups = rows.len();
        if let Some(t) = q.top {
            rows.truncate(t);
        }
        let mut unpriced: Vec<ReportUnpriced> = b
            .margin(&q.filter, &[Dimension::Provider, Dimension::Model], now)?
            .into_iter()
            .filter(|r| r.margin.unpriced_events > 0)
            .map(|r| ReportUnpriced {
                provider: r.key.provider,
                model: r.key.model,
                events: r.margin.unpriced_events,
            })
            .collect();
        unpriced.sort_by(|x, y| {
            cmp_opt_text(x.provider.as_deref(), y.provider.as_deref())
                .then_with(|| cmp_opt_text(x.model.as_deref(), y.model.as_deref()))
        });
        let breaches = b.report_breaches(&q.filter, now);
        Ok(QueryReport {
            query: q.clone(),
            subscription_through_day: q.filter.to_day.or_else(|| b.clock_day(now)),
            totals,
            rows,
            groups,
            unpriced,
            breaches,
        })
    }
}

/// The name of a dimension's column in rows (JSON keys, CSV header).
pub fn column_of(d: Dimension) -> &'static str {
    match d {
        Dimension::Customer => "customerId",
        Dimension::Run => "runId",
        Dimension::Agent => "agentId",
        Dimension::Model => "model",
        Dimension::Provider => "provider",
        Dimension::Day => "day",
        Dimension::Week => "week",
        Dimension::Month => "month",
    }
}

/// The figure columns of every row, in order (after the group's id columns).
pub const FIGURE_COLUMNS: [&str; 23] = [
    "revenueCents",
    "costCents",
    "marginCents",
    "marginPct",
    "events",
    "unpricedEvents",
    "usageRevenueCents",
    "outcomeRevenueCents",
    "subscriptionRevenueCents",
    "costPerResolvedRunCents",
    "revenuePerEventCents",
    "costSharePct",
    "cacheSavingsCents",
    "runsOpen",
    "runsResolved",
    "runsEscalated",
    "runsFailed",
    "tokensIn",
    "cachedTokens",
    "cacheWrite5mTokens",
    "cacheWrite1hTokens",
    "tokensOut",
    "reasoningTokens",
];

/// One cell of a flat row: text (amounts, ids, percentages), a count, or nothing.
enum Cell {
    Text(String),
    Count(u64),
    Null,
}

fn amount(c: Cents) -> Cell {
    Cell::Text(c.to_string())
}

fn opt_amount(c: Option<Cents>) -> Cell {
    c.map_or(Cell::Null, amount)
}

fn opt_pct(p: Option<Percent>) -> Cell {
    p.map_or(Cell::Null, |p| Cell::Text(p.to_string()))
}

/// The figure cells of a margin, in [`FIGURE_COLUMNS`] order.
fn figures(m: &Margin, share: Option<Percent>) -> [Cell; 23] {
    let t = &m.tokens;
    [
        amount(m.revenue_cents),
        amount(m.cost_cents),
        amount(m.margin_cents()),
        opt_pct(m.margin_pct()),
        Cell::Count(m.events),
        Cell::Count(m.unpriced_events),
        amount(m.usage_revenue_cents),
        amount(m.outcome_revenue_cents),
        amount(m.subscription_revenue_cents),
        opt_amount(m.cost_per_resolved_run()),
        opt_amount(m.revenue_per_event()),
        opt_pct(share),
        amount(m.cache_savings_cents),
        Cell::Count(m.runs.open),
        Cell::Count(m.runs.resolved),
        Cell::Count(m.runs.escalated),
        Cell::Count(m.runs.failed),
        Cell::Count(t.tokens_in),
        Cell::Count(t.cached_tokens),
        Cell::Count(t.cache_write_5m_tokens),
        Cell::Count(t.cache_write_1h_tokens),
        Cell::Count(t.tokens_out),
        Cell::Count(t.reasoning_tokens),
    ]
}

fn to_value(c: Cell) -> Value {
    match c {
        Cell::Text(s) => Value::String(s),
        Cell::Count(n) => Value::from(n),
        Cell::Null => Value::Null,
    }
}

/// Writes one CSV field per RFC 4180: quoted (quotes doubled) when it holds a comma, a quote,
/// CR or LF.
fn csv_field(out: &mut Vec<u8>, s: &str) {
    if s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

impl QueryReport {
    /// The id columns of the rows: the grouped dimensions' columns (a run brings its
    /// customer), in the query's order.
    pub fn key_columns(&self) -> Vec<Dimension> {
        order_dims(&self.query.group_by)
    }

    fn row_cells(&self, row: &ReportRow) -> Vec<(&'static str, Cell)> {
        let mut cells: Vec<(&'static str, Cell)> = self
            .key_columns()
            .into_iter()
            .map(|d| (column_of(d), row.key.text(d).map_or(Cell::Null, Cell::Text)))
            .collect();
        cells.extend(
            FIGURE_COLUMNS
                .into_iter()
                .zip(figures(&row.margin, row.cost_share)),
        );
        cells
    }

    /// One row as a flat JSON object (keys in alphabetical order): id columns and
    /// [`FIGURE_COLUMNS`]; amounts as exact
    /// decimal strings of cents, percentages as decimal strings, counts as numbers, `null`
    /// where there is no value.
    pub fn row_json(&self, row: &ReportRow) -> Value {
        let mut m = Map::new();
        for (k, c) in self.row_cells(row) {
            m.insert(k.into(), to_value(c));
        }
        Value::Object(m)
    }

    /// The totals as a flat JSON object ([`FIGURE_COLUMNS`]; the cost share is 100 % of a
    /// non-zero cost).
    pub fn totals_json(&self) -> Value {
        let share = self.totals.cost_share_of(self.totals.cost_cents);
        let mut m = Map::new();
        for (k, c) in FIGURE_COLUMNS.into_iter().zip(figures(&self.totals, share)) {
            m.insert(k.into(), to_value(c));
        }
        Value::Object(m)
    }

    /// The whole report as JSON: `{"query", "totals", "rows", "groups", "unpriced",
    /// "breaches", "window"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "query": self.query.to_json(),
            "totals": self.totals_json(),
            "rows": self.rows.iter().map(|r| self.row_json(r)).collect::<Vec<_>>(),
            "groups": self.groups,
            "unpriced": self.unpriced.iter().map(|u| json!({
                "provider": u.provider.as_deref(),
                "model": u.model.as_deref(),
                "events": u.events,
            })).collect::<Vec<_>>(),
            "breaches": self.breaches.iter().map(ReportBreach::to_json).collect::<Vec<_>>(),
            "window": {
                "from": self.query.filter.from_day.map(format_day),
                "to": self.query.filter.to_day.map(format_day),
                "subscriptionThrough": self.subscription_through_day.map(format_day),
            },
        })
    }

    /// The rows as JSON Lines: one object a line, the [`QueryReport::row_json`] fields in the
    /// CSV's column order.
    pub fn write_jsonl(&self, out: &mut impl Write) -> io::Result<()> {
        let mut buf = Vec::with_capacity(1024);
        for r in &self.rows {
            buf.clear();
            buf.push(b'{');
            for (i, (k, c)) in self.row_cells(r).into_iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                serde_json::to_writer(&mut buf, k)?;
                buf.push(b':');
                serde_json::to_writer(&mut buf, &to_value(c))?;
            }
            buf.extend_from_slice(b"}\n");
            out.write_all(&buf)?;
        }
        Ok(())
    }

    /// The rows as CSV (RFC 4180: a header row, CRLF line ends, fields quoted when they hold
    /// a comma, quote, CR or LF): id columns then [`FIGURE_COLUMNS`]. Amounts are exact
    /// decimal strings of cents; a missing value is an empty field.
    pub fn write_csv(&self, out: &mut impl Write) -> io::Result<()> {
        let mut buf = Vec::with_capacity(256 * (self.rows.len() + 1));
        let keys = self.key_columns();
        let header = keys.iter().map(|d| column_of(*d)).chain(FIGURE_COLUMNS);
        for (i, h) in header.enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            csv_field(&mut buf, h);
        }
        buf.extend_from_slice(b"\r\n");
        for r in &self.rows {
            for (i, (_, c)) in self.row_cells(r).into_iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                match c {
                    Cell::Text(s) => csv_field(&mut buf, &s),
                    Cell::Count(n) => buf.extend_from_slice(n.to_string().as_bytes()),
                    Cell::Null => {}
                }
            }
            buf.extend_from_slice(b"\r\n");
            if buf.len() >= 1 << 16 {
                out.write_all(&buf)?;
                buf.clear();
            }
        }
        out.write_all(&buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_is_total_and_numeric() {
        let mut v = vec![
            "cust-10",
            "cust-2",
            "cust-02",
            "cust-1",
            "cust-",
            "cust",
            "a",
            "cust-1a",
            "cust-1b",
            "cust-9999999999999999999999999",
            "cust-10000000000000000000000000",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "a",
                "cust",
                "cust-",
                "cust-1",
                "cust-1a",
                "cust-1b",
                "cust-02",
                "cust-2",
                "cust-10",
                "cust-9999999999999999999999999",
                "cust-10000000000000000000000000",
            ]
        );
        for a in &v {
            for b in &v {
                assert_eq!(natural_cmp(a, b), natural_cmp(b, a).reverse(), "{a} {b}");
                assert_eq!(natural_cmp(a, b) == Ordering::Equal, a == b);
            }
        }
    }

    #[test]
    fn weeks_and_months() {
        let d = |s: &str| parse_day(s).unwrap();
        // 2026-11-05 is a Thursday; its week starts Monday 2026-11-02 (ISO week 45).
        let w = super::super::query::week_of(d("2026-11-05"));
        assert_eq!(format_day(w), "2026-11-02");
        let key = GroupKey {
            week: Some(w),
            ..GroupKey::default()
        };
        assert_eq!(key.week_string().as_deref(), Some("2026-W45"));
        // 2027-01-01 (a Friday) belongs to ISO week 2026-W53, which starts 2026-12-28.
        let w = super::super::query::week_of(d("2027-01-01"));
        assert_eq!(format_day(w), "2026-12-28");
        let key = GroupKey {
            week: Some(w),
            ..GroupKey::default()
        };
        assert_eq!(key.week_string().as_deref(), Some("2026-W53"));
        let m = super::super::query::month_of(d("2024-02-29"));
        assert_eq!(format_day(m), "2024-02-01");
        let key = GroupKey {
            month: Some(m),
            ..GroupKey::default()
        };
        assert_eq!(key.month_string().as_deref(), Some("2024-02"));
    }

    #[test]
    fn csv_quoting() {
        let mut out = Vec::new();
        for s in ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", ""] {
            csv_field(&mut out, s);
            out.push(b'|');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"two\nlines\"|\"cr\r\"||"
        );
    }
}
