//! Rate-card snapshots: a validated [`RateCard`] compiled for pricing, with the instant it
//! starts to apply.

use crate::lookup::Index;
use crate::pricing::PriceTable;
use crate::ratecard::{RateCard, SnapshotId};
use std::fmt;
use std::sync::Arc;

/// An immutable, compiled rate card with its `effectiveFrom` instant: what one price call uses.
pub struct Snapshot {
    pub(super) card: Arc<RateCard>,
    pub(super) effective_from_ms: i64,
    pub(super) index: Index,
    /// Per row: the compiled prices it uses (an alias row shares its owner's table).
    pub(super) tables: Box<[Arc<PriceTable>]>,
    /// Per row: the key reported as `model` (an alias row reports its owner).
    pub(super) keys: Box<[Arc<str>]>,
}

impl fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Snapshot")
            .field("id", &self.id())
            .field("effective_from_ms", &self.effective_from_ms)
            .field("models", &self.card.entries().len())
            .finish()
    }
}

impl Snapshot {
    /// Compiles a validated card into a snapshot effective from `effective_from_ms` (epoch ms).
    pub fn build(card: Arc<RateCard>, effective_from_ms: i64) -> Snapshot {
        Snapshot::build_reusing(card, effective_from_ms, None)
    }

    /// Like [`Snapshot::build`], sharing compiled tables with `previous` for unchanged entries
    /// (a daily registry sync changes a few models; the rest costs nothing).
    pub(super) fn build_reusing(
        card: Arc<RateCard>,
        effective_from_ms: i64,
        previous: Option<&Snapshot>,
    ) -> Snapshot {
        let index = Index::build(&card);
        let entries = card.entries();
        let mut own: Vec<Option<Arc<PriceTable>>> = vec![None; entries.len()];
        for (i, e) in entries.iter().enumerate() {
            if e.alias_of().is_some() {
                continue;
            }
            let reused = previous.and_then(|p| {
                let j = p.card.index_of(e.key())?;
                (p.card.entries()[j as usize] == *e).then(|| p.tables[j as usize].clone())
            });
            own[i] = Some(reused.unwrap_or_else(|| Arc::new(PriceTable::compile(e))));
        }
        let tables = (0..entries.len())
            .map(|i| {
                let t = index.target(i as u32) as usize;
                own[t]
                    .clone()
                    .unwrap_or_else(|| Arc::new(PriceTable::compile(&entries[t])))
            })
            .collect();
        let keys = (0..entries.len())
            .map(|i| Arc::from(entries[index.target(i as u32) as usize].key()))
            .collect();
        Snapshot {
            card,
            effective_from_ms,
            index,
            tables,
            keys,
        }
    }

    /// The snapshot id: the content hash of the registry it was built from.
    pub fn id(&self) -> SnapshotId {
        self.card.id()
    }

    /// When this snapshot starts to apply (epoch milliseconds).
    pub fn effective_from_ms(&self) -> i64 {
        self.effective_from_ms
    }

    /// The rate card.
    pub fn card(&self) -> &RateCard {
        &self.card
    }
}

/// Information about one published snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// Content id.
    pub id: SnapshotId,
    /// When it starts to apply (epoch milliseconds).
    pub effective_from_ms: i64,
    /// Number of registry rows.
    pub models: usize,
}
