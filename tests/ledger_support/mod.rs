//! Helpers shared by the ledger tests.
#![allow(dead_code)]

pub mod logs;

use tollgate_engine::engine::{CostSource, PriceResult, SnapshotId, UnpricedReason};
use tollgate_engine::event::{Event, EventKind};
use tollgate_engine::ledger::record::Record;
use tollgate_engine::ledger::{Clock, IngestResult, Ledger, LedgerConfig};
use tollgate_engine::money::Cents;

/// 2026-01-01T00:00:00Z: 20454 days × 86 400 000 ms.
pub const T0: i64 = 20_454 * 86_400_000;
pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 86_400_000;
/// The fixed "now" of test ledgers: 2027-01-01, after every generated timestamp.
pub const NOW: i64 = T0 + 365 * DAY;

/// A stand-in for `Engine::price` that needs no rate card: the cost of an event is its
/// `providerCostCents` plus `externalCostCents`; an `llm` event without `providerCostCents`
/// is unpriced (cost = external only). The ledger books whatever the price result says, so
/// this is enough to test every ledger rule.
pub fn price_of(e: &Event) -> PriceResult {
    let provider = e.provider_cost_cents;
    let external = e.external_cost_cents.unwrap_or(Cents::ZERO);
    let unpriced = e.kind == EventKind::Llm && provider.is_none();
    PriceResult {
        cost_cents: provider
            .unwrap_or(Cents::ZERO)
            .checked_add(external)
            .unwrap(),
        priced: !unpriced,
        source: if unpriced {
            CostSource::Unpriced
        } else if provider.is_some() {
            CostSource::Provider
        } else {
            CostSource::External
        },
        model: None,
        web_search_cents: Cents::ZERO,
        match_kind: None,
        snapshot: SnapshotId(7),
        reason: unpriced.then_some(UnpricedReason::UnknownModel),
        warnings: vec![],
    }
}

pub fn ledger_with(window_ms: u64) -> Ledger {
    Ledger::new(LedgerConfig {
        dedupe_window_ms: window_ms,
        clock: Clock::Fixed(NOW),
    })
}

pub fn ledger() -> Ledger {
    ledger_with(24 * HOUR as u64)
}

/// Parses and applies one JSON Lines record with the stand-in pricer.
pub fn apply(l: &Ledger, line: &str) -> IngestResult {
    match Record::from_json(line.as_bytes()) {
        Ok(Record::Event(e)) => l.track_priced(&e, &price_of(&e)),
        Ok(Record::Resolve(r)) => l.resolve(&r),
        Ok(Record::Customer(c)) => l.upsert_customer(&c),
        Ok(Record::Policy(p)) => l.upsert_policy(&p),
        Err(e) => IngestResult::Rejected(e.into()),
    }
}

/// Applies every non-empty line.
pub fn feed(l: &Ledger, lines: &str) -> Vec<IngestResult> {
    lines
        .lines()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| apply(l, s))
        .collect()
}

pub fn cents(s: &str) -> Cents {
    s.parse().unwrap()
}

pub fn accepted(r: &IngestResult) -> bool {
    matches!(r, IngestResult::Accepted(_))
}
