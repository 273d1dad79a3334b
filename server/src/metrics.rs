//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format.
//!
//! Built on `prometheus-client` (the Prometheus project's own Rust client): the exposition
//! format (escaping, `# EOF`, histogram buckets and sums) is its job, not ours. What is
//! measured:
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `tollgate_records_total` | counter | `outcome`: `accepted`, `duplicate`, `conflict`, `rejected` |
//! | `tollgate_unpriced_events_total` | counter | — (accepted events the rate card could not price) |
//! | `tollgate_http_request_duration_seconds` | histogram | `method`, `route` (the route template, e.g. `/v1/policies/{policyId}`, or `unmatched`), `status` |
//! | `tollgate_journal_fsync_duration_seconds` | histogram | — (every journal fsync of every workspace) |
//! | `tollgate_ratecard_age_seconds` | gauge | — (the oldest card in force over the workspaces, seconds since its `effectiveFrom`) |
//! | `tollgate_workspaces` | gauge | — |
//!
//! Nothing in it names a key, a workspace, a customer or an amount: it is safe to serve without
//! authentication on the listener the API uses (see docs/reference/server-api.md).

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate_engine::ledger::IngestResult;
use tollgate_engine::store::Store;

/// The content type of `GET /metrics`.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn request_histogram() -> Histogram {
    // 100 µs to ~6.5 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 17))
}

/// The server's metrics. Cheap to update from any thread; shared through an `Arc`.
pub struct Metrics {
    registry: Registry,
    records: Family<OutcomeLabels, Counter>,
    unpriced: Counter,
    requests: HistogramFamily<RequestLabels>,
    fsync: Histogram,
    ratecard_age: Gauge,
    workspaces: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A fresh set of metrics (every counter at zero).
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let records = Family::<OutcomeLabels, Counter>::default();
        // Every outcome is present from the start (at 0), so rates work from the first scrape.
        for outcome in ["accepted", "duplicate", "conflict", "rejected"] {
            let _ = records.get_or_create(&OutcomeLabels { outcome });
        }
        registry.register(
            "tollgate_records",
            "Ledger records by outcome (every ingest path: /v1/events and the product API)",
            records.clone(),
        );
        let unpriced = Counter::default();
        registry.register(
            "tollgate_unpriced_events",
            "Accepted events whose model the rate card could not price (booked at cost 0)",
            unpriced.clone(),
        );
        let requests: HistogramFamily<RequestLabels> =
            Family::new_with_constructor(request_histogram);
        registry.register(
            "tollgate_http_request_duration_seconds",
            "HTTP request latency, from the request's arrival to its response head, by route template and status",
            requests.clone(),
        );
        // 50 µs to ~1.6 s.
        let fsync = Histogram::new(exponential_buckets(0.00005, 2.0, 16));
        registry.register(
            "tollgate_journal_fsync_duration_seconds",
            "Duration of journal fsyncs, all workspaces",
            fsync.clone(),
        );
        let ratecard_age = Gauge::default();
        registry.register(
            "tollgate_ratecard_age_seconds",
            "Seconds since the oldest rate card in force (over all workspaces) took effect",
            ratecard_age.clone(),
        );
        let workspaces = Gauge::default();
        registry.register("tollgate_workspaces", "Workspaces open", workspaces.clone());
        Metrics {
            registry,
            records,
            unpriced,
            requests,
            fsync,
            ratecard_age,
            workspaces,
        }
    }

    /// Counts the results of records applied (by outcome, and unpriced accepted events).
    pub fn count_results(&self, results: &[IngestResult]) {
        let mut n = [0u64; 5];
        for r in results {
            match r {
                IngestResult::Accepted(a) => {
                    n[0] += 1;
                    if !a.priced {
                        n[4] += 1;
                    }
                }
                IngestResult::Duplicate => n[1] += 1,
                IngestResult::Conflict { .. } => n[2] += 1,
                IngestResult::Rejected(_) => n[3] += 1,
            }
        }
        for (i, outcome) in ["accepted", "duplicate", "conflict", "rejected"]
            .into_iter()
            .enumerate()
        {
            if n[i] > 0 {
                self.records
                    .get_or_create(&OutcomeLabels { outcome })
                    .inc_by(n[i]);
            }
        }
        if n[4] > 0 {
            self.unpriced.inc_by(n[4]);
        }
    }

    /// Records one journal fsync.
    pub fn observe_fsync(&self, took: Duration) {
        self.fsync.observe(took.as_secs_f64());
    }

    /// Wires a workspace's store to the fsync histogram (once per store).
    pub fn watch_store(self: &Arc<Self>, store: &Store) {
        let m = Arc::clone(self);
        store.set_fsync_observer(Arc::new(move |took| m.observe_fsync(took)));
    }

    /// Records one HTTP request.
    pub fn observe_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .observe(took.as_secs_f64());
    }

    /// The exposition text, after setting the gauges read at scrape time from `stores`.
    pub fn render<'a>(&self, stores: impl IntoIterator<Item = &'a Store>) -> String {
        let mut count = 0i64;
        let mut age = 0i64;
        for s in stores {
            count += 1;
            age = age.max(crate::v1::ratecard::age_seconds(s));
        }
        self.workspaces.set(count);
        self.ratecard_age.set(age);
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Middleware timing every request (layered over the whole router): the route label is the
/// matched route template, never the raw path, so ids in paths neither leak nor multiply the
/// label sets.
pub async fn track(State(st): State<crate::state::AppState>, req: Request, next: Next) -> Response {
    let metrics = st.metrics();
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let res = next.run(req).await;
    metrics.observe_request(&method, &route, res.status().as_u16(), started.elapsed());
    res
}
