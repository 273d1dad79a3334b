//! Differences between two rate cards: models added, removed and repriced (docs/reference/pricing.md (snapshots)).

use super::{RateCard, usd_string};
use crate::money::Cents;
use std::fmt;

/// One price that changed, appeared or disappeared within a model (amounts in cents).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldChange {
    /// The price path (`input_cost_per_token`, `tiered_pricing[0].output_cost_per_token`, …).
    pub field: String,
    /// The old price, `None` when the field is new.
    pub old: Option<Cents>,
    /// The new price, `None` when the field was removed.
    pub new: Option<Cents>,
}

/// A model present in both cards whose prices differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Repriced {
    /// Registry key.
    pub key: String,
    /// Every price that differs, sorted by field.
    pub changes: Vec<FieldChange>,
}

/// The difference between an old and a new rate card.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotDiff {
    /// Keys only in the new card, sorted.
    pub added: Vec<String>,
    /// Keys only in the old card, sorted.
    pub removed: Vec<String>,
    /// Keys in both with different prices, sorted by key.
    pub repriced: Vec<Repriced>,
}

impl SnapshotDiff {
    /// True when nothing was added, removed or repriced.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.repriced.is_empty()
    }
}

pub(super) fn diff(old: &RateCard, new: &RateCard) -> SnapshotDiff {
    let mut out = SnapshotDiff::default();
    for e in new.entries() {
        match old.entry(e.key()) {
            None => out.added.push(e.key().to_string()),
            Some(o) => {
                let changes = field_changes(o.prices(), e.prices());
                if !changes.is_empty() {
                    out.repriced.push(Repriced {
                        key: e.key().to_string(),
                        changes,
                    });
                }
            }
        }
    }
    for e in old.entries() {
        if new.entry(e.key()).is_none() {
            out.removed.push(e.key().to_string());
        }
    }
    out.added.sort();
    out.removed.sort();
    out.repriced.sort_by(|a, b| a.key.cmp(&b.key));
    out
}

/// Merge of two path-sorted price lists.
fn field_changes(old: &[(Box<str>, Cents)], new: &[(Box<str>, Cents)]) -> Vec<FieldChange> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < old.len() || j < new.len() {
        let ord = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => a.0.cmp(&b.0),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        match ord {
            std::cmp::Ordering::Equal => {
                if old[i].1 != new[j].1 {
                    out.push(FieldChange {
                        field: old[i].0.to_string(),
                        old: Some(old[i].1),
                        new: Some(new[j].1),
                    });
                }
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => {
                out.push(FieldChange {
                    field: old[i].0.to_string(),
                    old: Some(old[i].1),
                    new: None,
                });
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(FieldChange {
                    field: new[j].0.to_string(),
                    old: None,
                    new: Some(new[j].1),
                });
                j += 1;
            }
        }
    }
    out
}

impl fmt::Display for SnapshotDiff {
    /// Human-readable listing; prices are printed in US dollars as the registry states them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let usd = |c: Option<Cents>| c.map_or_else(|| "-".to_string(), usd_string);
        writeln!(
            f,
            "{} added, {} removed, {} repriced",
            self.added.len(),
            self.removed.len(),
            self.repriced.len()
        )?;
        for k in &self.added {
            writeln!(f, "+ {k}")?;
        }
        for k in &self.removed {
            writeln!(f, "- {k}")?;
        }
        for r in &self.repriced {
            writeln!(f, "~ {}", r.key)?;
            for c in &r.changes {
                writeln!(f, "    {}: {} -> {}", c.field, usd(c.old), usd(c.new))?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_added_removed_repriced() {
        let old = RateCard::parse(
            br#"{"a": {"input_cost_per_token": 1e-06}, "b": {"input_cost_per_token": 2e-06, "output_cost_per_token": 4e-06}}"#,
        )
        .unwrap();
        let new = RateCard::parse(
            br#"{"b": {"input_cost_per_token": 2.5e-06, "cache_read_input_token_cost": 1e-07, "output_cost_per_token": 4e-06}, "c": {}}"#,
        )
        .unwrap();
        let d = new.diff_from(&old);
        assert_eq!(d.added, vec!["c"]);
        assert_eq!(d.removed, vec!["a"]);
        assert_eq!(d.repriced.len(), 1);
        assert_eq!(
            d.to_string(),
            "1 added, 1 removed, 1 repriced\n+ c\n- a\n~ b\n    cache_read_input_token_cost: - -> 0.0000001\n    input_cost_per_token: 0.000002 -> 0.0000025\n"
        );
    }
}
