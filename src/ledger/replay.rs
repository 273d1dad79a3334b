//! Replay of priced events: what a journal needs to apply an accepted event again without
//! parsing or pricing it, and the bulk entry that applies many under one write lock.
//!
//! A [`PricedEvent`] holds exactly the inputs [`Book::apply_event`] reads: the identities, the
//! date, the dedupe fingerprint and digest, the revenue inputs, the token counts and the price
//! the first application booked. Applying it to the same book state decides exactly as the
//! first application did (the same call, the same arguments); nothing is re-priced, so a rate
//! card published later cannot change a replayed cost either.

use super::book::{Book, EventPrep, Priced};
use super::dedupe::Fingerprint;
use super::{IngestResult, Ledger, TokenTotals};
use crate::engine::{SnapshotId, UnpricedReason};
use crate::event::{EventKind, EventView, Outcome};
use crate::money::Cents;
use crate::usage::Usage;

/// An accepted event as the ledger booked it (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PricedEvent<'a> {
    /// The wall-clock instant it was applied at (epoch ms).
    pub now_ms: i64,
    /// The instant it is dated at: its own timestamp or the default.
    pub ts: i64,
    /// True when the event carried its own timestamp.
    pub ts_given: bool,
    pub customer: &'a str,
    /// The run it books to (its `runId`, or its dedupe key for a single-call run).
    pub run: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub model: Option<&'a str>,
    pub provider: Option<&'a str>,
    /// Dedupe fingerprint and money digest, when the event has a key.
    pub key: Option<(Fingerprint, u32)>,
    pub revenue_unit_cents: Option<Cents>,
    pub units: u64,
    pub outcome: Option<Outcome>,
    pub tokens: TokenTotals,
    pub cost_cents: Cents,
    pub savings_cents: Cents,
    pub priced: bool,
    pub reason: Option<UnpricedReason>,
    pub snapshot: SnapshotId,
}

impl PricedEvent<'_> {
    /// The usage of the event view [`Book::apply_event`] reads (only the token counts).
    fn usage(&self) -> Usage {
        Usage {
            tokens_in: self.tokens.tokens_in,
            cached_tokens: self.tokens.cached_tokens,
            cache_write_5m_tokens: self.tokens.cache_write_5m_tokens,
            cache_write_1h_tokens: self.tokens.cache_write_1h_tokens,
            tokens_out: self.tokens.tokens_out,
            reasoning_tokens: self.tokens.reasoning_tokens,
            ..Usage::default()
        }
    }
}

impl<'a> PricedEvent<'a> {
    /// The event `p` priced at `price`, as the book is about to apply it.
    pub(crate) fn booked(p: &EventPrep<'a>, price: &Priced) -> PricedEvent<'a> {
        let e = p.event;
        PricedEvent {
            now_ms: p.now_ms,
            ts: p.ts,
            ts_given: e.timestamp_ms.is_some(),
            customer: p.customer,
            run: p.run,
            agent: e.agent_id,
            model: e.model,
            provider: e.provider,
            key: p.key,
            revenue_unit_cents: e.revenue_unit_cents,
            units: e.units,
            outcome: e.outcome,
            tokens: TokenTotals::of_event(e),
            cost_cents: price.cost_cents,
            savings_cents: price.savings_cents,
            priced: price.priced,
            reason: price.reason,
            snapshot: price.snapshot,
        }
    }
}

impl Ledger {
    /// Applies one priced event as [`Ledger::ingest_json_at`] applied it the first time.
    pub(crate) fn apply_booked(&self, pe: &PricedEvent<'_>) -> IngestResult {
        match self.write() {
            Ok(mut b) => pe.apply(&mut b, self.clock_cap_at(pe.now_ms)),
            Err(r) => IngestResult::Rejected(r),
        }
    }

    /// Applies priced events in order under one write lock, as [`Ledger::ingest_json_at`]
    /// applied them the first time; returns how many were accepted. Only what changes the
    /// book is computed: no warnings are built.
    pub(crate) fn apply_priced<'a>(
        &self,
        events: impl IntoIterator<Item = PricedEvent<'a>>,
    ) -> u64 {
        let Ok(mut b) = self.write() else { return 0 };
        let mut accepted = 0;
        for pe in events {
            if let IngestResult::Accepted(_) = pe.apply(&mut b, self.clock_cap_at(pe.now_ms)) {
                accepted += 1;
            }
        }
        accepted
    }
}

impl PricedEvent<'_> {
    fn apply(&self, b: &mut Book, cap_ms: i64) -> IngestResult {
        let pe = self;
        let usage = pe.usage();
        let view = EventView {
            kind: EventKind::Llm,
            customer_id: Some(pe.customer),
            run_id: pe.run,
            agent_id: pe.agent,
            provider: pe.provider,
            model: pe.model,
            usage: &usage,
            provider_cost_cents: None,
            external_cost_cents: None,
            revenue_unit_cents: pe.revenue_unit_cents,
            units: pe.units,
            outcome: pe.outcome,
            idempotency_key: None,
            timestamp_ms: pe.ts_given.then_some(pe.ts),
            response_id: None,
        };
        let prep = EventPrep {
            event: &view,
            customer: pe.customer,
            run: pe.run,
            ts: pe.ts,
            key: pe.key,
            now_ms: pe.now_ms,
        };
        let price = Priced {
            cost_cents: pe.cost_cents,
            savings_cents: pe.savings_cents,
            priced: pe.priced,
            reason: pe.reason,
            snapshot: pe.snapshot,
            warnings: Vec::new(),
        };
        b.apply_event(&prep, price, cap_ms)
    }
}
