//! State that survives (docs/reference/ledger.md (state)): state bytes, restore, atomic save, merge.
//!
//! File layout (little-endian):
//! ```text
//! magic     8 bytes  "TGLEDGER"
//! version   u32      STATE_VERSION
//! body_len  u64
//! body      body_len bytes (below)
//! checksum  32 bytes SHA-256 of everything before it
//! ```
//! The body is canonical — names sorted, then customers, resolutions, cells and retained keys in
//! sorted order — so two ledgers holding the same facts write the same bytes. Derived numbers
//! (per-customer and per-run sums, run counts, totals) are not stored: restore recomputes them
//! from the cells, which also re-checks their range. Restore validates everything and builds a
//! new ledger; a truncated, corrupted or inconsistent file is rejected whole.
//!
//! Version 2 adds each cell's cache and batch savings after its cost. Version 1 files are still
//! read: their cells carry no savings (0), which is what a report of them shows.
//! Version 3 is version 2 plus one trailing section, the guardrail policies (each version as
//! its canonical `policy` record, in canonical order). A ledger without policies is written
//! as version 2, byte for byte what builds without guardrails write; all three are read.

use super::book::plus;
use super::book::{Book, CellKey, RunResolution, RunStatus, Sums, TokenTotals, Version};
use super::days::MAX_DAY;
use super::dedupe::{DedupeTable, Entry, Fingerprint};
use super::guard::{Flow, book_flow};
use super::policy::Scope;
use super::record::Record;
use super::record::{Plan, PricingModel, check_plan_amount};
use super::{Clock, Ledger};
use crate::event::{MAX_ID_BYTES, MAX_NAME_BYTES, MAX_TIMESTAMP_MS, Outcome};
use crate::money::Cents;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Newest version of the state format: written when the ledger holds policies (version 2
/// otherwise), read along with every version from [`OLDEST_STATE_VERSION`].
pub const STATE_VERSION: u32 = 3;
/// The oldest state format version this build reads.
pub const OLDEST_STATE_VERSION: u32 = 1;
/// Largest state file accepted by [`Ledger::load`] (4 GiB).
pub const MAX_STATE_BYTES: u64 = 4 << 30;
const MAGIC: &[u8; 8] = b"TGLEDGER";
const HEADER_BYTES: usize = 8 + 4 + 8;
const CHECKSUM_BYTES: usize = 32;

/// Why state could not be restored or saved. Nothing is loaded on error.
#[derive(Debug)]
pub enum StateError {
    /// Reading or writing the file failed.
    Io(std::io::Error),
    /// The bytes do not start with the ledger state magic.
    NotAState,
    /// Written by a format version this build does not read.
    UnsupportedVersion(u32),
    /// Shorter or longer than its header says.
    Truncated {
        /// Bytes the header announces (header + body + checksum).
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The checksum does not match: the file was corrupted.
    ChecksumMismatch,
    /// The checksum matches but the content is inconsistent.
    Invalid(String),
    /// Larger than [`MAX_STATE_BYTES`].
    TooLarge(u64),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Io(e) => write!(f, "state file I/O error: {e}"),
            StateError::NotAState => f.write_str("not a tollgate ledger state (bad magic)"),
            StateError::UnsupportedVersion(v) => write!(
                f,
                "ledger state format version {v} is not supported (this build reads versions {OLDEST_STATE_VERSION} to {STATE_VERSION})"
            ),
            StateError::Truncated { expected, actual } => write!(
                f,
                "ledger state is truncated or has trailing bytes: expected {expected} bytes, found {actual}"
            ),
            StateError::ChecksumMismatch => {
                f.write_str("ledger state is corrupted: checksum mismatch")
            }
            StateError::Invalid(r) => write!(f, "ledger state is invalid: {r}"),
            StateError::TooLarge(n) => write!(
                f,
                "ledger state is {n} bytes; the limit is {MAX_STATE_BYTES}"
            ),
        }
    }
}

impl std::error::Error for StateError {}

impl From<std::io::Error> for StateError {
    fn from(e: std::io::Error) -> StateError {
        StateError::Io(e)
    }
}

/// Why two ledgers could not be merged. Nothing is merged on error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MergeError {
    /// Both ledgers hold this customer: they did not see disjoint partitions.
    SharedCustomer(String),
    /// Both ledgers retain the same idempotency key.
    SharedKey,
    /// Their dedupe windows differ (ms).
    WindowMismatch(u64, u64),
    /// A combined total leaves the exact range of [`Cents`].
    Overflow,
    /// Both ledgers hold a default or plan policy, with different histories.
    PolicyMismatch(String),
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MergeError::SharedCustomer(c) => write!(
                f,
                "both ledgers hold customer \"{}\"; merge needs disjoint customers",
                crate::event::clip(c)
            ),
            MergeError::SharedKey => f.write_str(
                "both ledgers retain the same idempotency key; merge needs disjoint partitions",
            ),
            MergeError::WindowMismatch(a, b) => {
                write!(f, "dedupe windows differ ({a} ms vs {b} ms)")
            }
            MergeError::Overflow => {
                f.write_str("the merged totals exceed the exact range of the engine (1.7e14 cents)")
            }
            MergeError::PolicyMismatch(which) => {
                write!(f, "both ledgers hold {which}, with different versions")
            }
        }
    }
}

impl std::error::Error for MergeError {}

/// The facts of a ledger with names in sorted order (ids are 1-based indexes into `names`).
struct Plain {
    window_ms: u64,
    clock_ms: Option<i64>,
    first_ms: Option<i64>,
    names: Vec<Arc<str>>,
    customers: Vec<(u32, Vec<Version>)>,
    resolutions: Vec<(u32, u32, RunResolution)>,
    cells: Vec<(CellKey, Sums)>,
    keys: Vec<Entry>,
    /// Policy versions: (scope key, canonical record), in canonical order.
    policies: Vec<(String, String)>,
}

/// A sortable key of a policy's scope: `0` default, `1<plan>`, `2<customer>`.
fn scope_key(scope: &Scope) -> String {
    match scope {
        Scope::Default => "0".to_string(),
        Scope::Plan(p) => format!("1{p}"),
        Scope::Customer(c) => format!("2{c}"),
    }
}

impl Plain {
    fn of(book: &Book, cap_ms: i64) -> Plain {
        let mut order: Vec<u32> = (1..book.names.list.len() as u32).collect();
        order.sort_by(|a, b| book.names.name(*a).cmp(book.names.name(*b)));
        let mut remap = vec![0u32; book.names.list.len()];
        for (new, old) in order.iter().enumerate() {
            remap[*old as usize] = new as u32 + 1;
        }
        let m = |id: u32| remap[id as usize];
        let names = order.iter().map(|o| book.names.name(*o).clone()).collect();
        let mut customers: Vec<(u32, Vec<Version>)> = book
            .customers
            .iter()
            .filter(|(_, c)| !c.versions.is_empty())
            .map(|(id, c)| (m(*id), c.versions.clone()))
            .collect();
        customers.sort_by_key(|(id, _)| *id);
        let mut resolutions: Vec<(u32, u32, RunResolution)> = book
            .runs
            .iter()
            .filter_map(|((c, r), run)| run.resolution.map(|res| (m(*c), m(*r), res)))
            .collect();
        resolutions.sort_by_key(|(c, r, _)| (*c, *r));
        let mut cells: Vec<(CellKey, Sums)> = book
            .cells
            .iter()
            .map(|(k, s)| {
                (
                    CellKey {
                        day: k.day,
                        customer: m(k.customer),
                        run: m(k.run),
                        agent: m(k.agent),
                        model: m(k.model),
                        provider: m(k.provider),
                    },
                    *s,
                )
            })
            .collect();
        cells.sort_by_key(|(k, _)| *k);
        let cutoff = book.cutoff(cap_ms);
        let mut keys: Vec<Entry> = book.dedupe.live_entries(cutoff).collect();
        keys.sort_by_key(|e| (e.fingerprint(), e.digest(), e.minute()));
        let policies = book
            .policies
            .versions(&book.names)
            .into_iter()
            .map(|v| (scope_key(&v.policy.scope), v.policy.to_json()))
            .collect();
        Plain {
            window_ms: book.window_ms,
            clock_ms: book.clock_ms,
            first_ms: book.first_ms,
            names,
            customers,
            resolutions,
            cells,
            keys,
            policies,
        }
    }

    /// The format version this state is written in: 3 (with the policies section) when it
    /// holds policies, else 2.
    fn version(&self) -> u32 {
        if self.policies.is_empty() { 2 } else { 3 }
    }

    fn encode(&self) -> Vec<u8> {
        self.encode_version(self.version())
    }

    /// The body in format `version` (1 only for tests: it has no savings).
    fn encode_version(&self, version: u32) -> Vec<u8> {
        let mut w = Vec::with_capacity(
            64 + self.cells.len() * 152 + self.keys.len() * 24 + self.names.len() * 24,
        );
        w.extend_from_slice(&self.window_ms.to_le_bytes());
        opt_i64(&mut w, self.clock_ms);
        opt_i64(&mut w, self.first_ms);
        w.extend_from_slice(&(self.names.len() as u32).to_le_bytes());
        for n in &self.names {
            string(&mut w, n);
        }
        w.extend_from_slice(&(self.customers.len() as u32).to_le_bytes());
        for (id, versions) in &self.customers {
            w.extend_from_slice(&id.to_le_bytes());
            w.extend_from_slice(&(versions.len() as u32).to_le_bytes());
            for v in versions {
                w.extend_from_slice(&v.effective_ms.to_le_bytes());
                w.push(u8::from(v.from_start));
                opt_string(&mut w, v.name.as_deref());
                w.extend_from_slice(&v.seats.to_le_bytes());
                match &v.plan {
                    None => w.push(0),
                    Some(p) => {
                        w.push(1);
                        opt_string(&mut w, p.name.as_deref());
                        w.push(match p.pricing_model {
                            PricingModel::UsageBased => 0,
                            PricingModel::OutcomeBased => 1,
                            PricingModel::PerSeat => 2,
                            PricingModel::Flat => 3,
                        });
                        cents(&mut w, p.unit_revenue_cents);
                        cents(&mut w, p.seat_price_cents);
                        cents(&mut w, p.monthly_fee_cents);
                    }
                }
            }
        }
        w.extend_from_slice(&(self.resolutions.len() as u64).to_le_bytes());
        for (c, r, res) in &self.resolutions {
            w.extend_from_slice(&c.to_le_bytes());
            w.extend_from_slice(&r.to_le_bytes());
            w.push(match res.outcome {
                Outcome::Resolved => 0,
                Outcome::Escalated => 1,
                Outcome::Failed => 2,
            });
            match res.explicit {
                None => w.push(0),
                Some(a) => {
                    w.push(1);
                    cents(&mut w, a);
                }
            }
            cents(&mut w, res.revenue);
            w.extend_from_slice(&res.at_ms.to_le_bytes());
        }
        w.extend_from_slice(&(self.cells.len() as u64).to_le_bytes());
        for (k, s) in &self.cells {
            w.extend_from_slice(&k.day.to_le_bytes());
            for id in [k.customer, k.run, k.agent, k.model, k.provider] {
                w.extend_from_slice(&id.to_le_bytes());
            }
            cents(&mut w, s.usage_revenue);
            cents(&mut w, s.outcome_revenue);
            cents(&mut w, s.cost);
            if version >= 2 {
                cents(&mut w, s.savings);
            }
            w.extend_from_slice(&s.events.to_le_bytes());
            w.extend_from_slice(&s.unpriced.to_le_bytes());
            s.tokens.encode_le(&mut w);
        }
        w.extend_from_slice(&(self.keys.len() as u64).to_le_bytes());
        for e in &self.keys {
            w.extend_from_slice(&e.fingerprint().0[0].to_le_bytes());
            w.extend_from_slice(&e.fingerprint().0[1].to_le_bytes());
            w.extend_from_slice(&e.digest().to_le_bytes());
            w.extend_from_slice(&e.minute().to_le_bytes());
        }
        if version >= 3 {
            w.extend_from_slice(&(self.policies.len() as u32).to_le_bytes());
            for (_, json) in &self.policies {
                string(&mut w, json);
            }
        }
        w
    }

    fn decode(body: &[u8], version: u32) -> Result<Plain, StateError> {
        let mut r = Reader { b: body, pos: 0 };
        let window_ms = r.u64()?;
        let clock_ms = match r.u8()? {
            0 => None,
            1 => Some(r.timestamp("ledger clock")?),
            _ => return Err(invalid("bad flag for the ledger clock")),
        };
        let first_ms = match r.u8()? {
            0 => None,
            1 => Some(r.timestamp("first activity")?),
            _ => return Err(invalid("bad flag for the first activity")),
        };
        if clock_ms.is_some() != first_ms.is_some()
            || clock_ms.zip(first_ms).is_some_and(|(c, f)| f > c)
        {
            return Err(invalid("first activity and ledger clock disagree"));
        }
        let n_names = r.count(5)?;
        let mut names: Vec<Arc<str>> = Vec::with_capacity(n_names);
        for _ in 0..n_names {
            let s = r.string(MAX_NAME_BYTES)?;
            if names.last().is_some_and(|p| p.as_ref() >= s.as_str()) {
                return Err(invalid("names are not sorted and unique"));
            }
            names.push(Arc::from(s));
        }
        let n = names.len() as u32;
        let id = |v: u32, what: &str, required: bool| -> Result<u32, StateError> {
            if v > n || (required && v == 0) {
                Err(invalid(&format!("{what} refers to a missing name ({v})")))
            } else {
                Ok(v)
            }
        };
        let n_customers = r.count(8)?;
        let mut customers = Vec::with_capacity(n_customers);
        let mut prev = 0;
        for _ in 0..n_customers {
            let cid = id(r.u32()?, "customer", true)?;
            if cid <= prev {
                return Err(invalid("customers are not sorted and unique"));
            }
            prev = cid;
            if names[cid as usize - 1].len() > MAX_ID_BYTES {
                return Err(invalid("a customer id is too long"));
            }
            let n_versions = r.count(19)?;
            let mut versions: Vec<Version> = Vec::with_capacity(n_versions);
            for _ in 0..n_versions {
                let effective_ms = r.timestamp("plan version")?;
                let from_start = match r.u8()? {
                    0 => false,
                    1 if effective_ms == 0 => true,
                    _ => return Err(invalid("bad from-start flag of a plan version")),
                };
                if versions
                    .last()
                    .is_some_and(|v| v.effective_ms > effective_ms)
                {
                    return Err(invalid("plan versions are not in time order"));
                }
                let name = r.opt_string(MAX_NAME_BYTES)?.map(Arc::from);
                let seats = r.u64()?;
                if seats > super::record::MAX_SEATS {
                    return Err(invalid("seats out of range"));
                }
                let plan = match r.u8()? {
                    0 => None,
                    1 => {
                        let name = r.opt_string(MAX_NAME_BYTES)?;
                        let pricing_model = match r.u8()? {
                            0 => PricingModel::UsageBased,
                            1 => PricingModel::OutcomeBased,
                            2 => PricingModel::PerSeat,
                            3 => PricingModel::Flat,
                            _ => return Err(invalid("unknown pricing model")),
                        };
                        let mut amount = |field| -> Result<Cents, StateError> {
                            let c = r.cents()?;
                            check_plan_amount(field, c).map_err(|e| invalid(&e.to_string()))?;
                            Ok(c)
                        };
                        Some(Plan {
                            name,
                            pricing_model,
                            unit_revenue_cents: amount("plan.unitRevenueCents")?,
                            seat_price_cents: amount("plan.seatPriceCents")?,
                            monthly_fee_cents: amount("plan.monthlyFeeCents")?,
                        })
                    }
                    _ => return Err(invalid("bad flag for a plan")),
                };
                let monthly = match &plan {
                    None => Cents::ZERO,
                    Some(p) => p
                        .monthly_cents(seats)
                        .ok_or_else(|| invalid("a monthly amount is out of range"))?,
                };
                versions.push(Version {
                    effective_ms,
                    from_start,
                    name,
                    seats,
                    plan,
                    monthly,
                });
            }
            if versions.is_empty() {
                return Err(invalid("a customer without versions"));
            }
            customers.push((cid, versions));
        }
        let n_res = r.count(34)?;
        let mut resolutions = Vec::with_capacity(n_res);
        let mut prev = (0, 0);
        for _ in 0..n_res {
            let c = id(r.u32()?, "resolution customer", true)?;
            let run = id(r.u32()?, "resolution run", true)?;
            if (c, run) <= prev {
                return Err(invalid("resolutions are not sorted and unique"));
            }
            prev = (c, run);
            let outcome = match r.u8()? {
                0 => Outcome::Resolved,
                1 => Outcome::Escalated,
                2 => Outcome::Failed,
                _ => return Err(invalid("unknown outcome")),
            };
            let explicit = match r.u8()? {
                0 => None,
                1 => Some(r.amount()?),
                _ => return Err(invalid("bad flag for a resolution amount")),
            };
            let revenue = r.amount()?;
            let at_ms = r.timestamp("resolution")?;
            resolutions.push((
                c,
                run,
                RunResolution {
                    outcome,
                    explicit,
                    revenue,
                    at_ms,
                },
            ));
        }
        let n_cells = r.count(if version >= 2 { 152 } else { 136 })?;
        let mut cells: Vec<(CellKey, Sums)> = Vec::with_capacity(n_cells);
        for _ in 0..n_cells {
            let day = r.i32()?;
            if !(0..=MAX_DAY).contains(&i64::from(day)) {
                return Err(invalid("a cell's day is out of range"));
            }
            let key = CellKey {
                day,
                customer: id(r.u32()?, "cell customer", true)?,
                run: id(r.u32()?, "cell run", false)?,
                agent: id(r.u32()?, "cell agent", false)?,
                model: id(r.u32()?, "cell model", false)?,
                provider: id(r.u32()?, "cell provider", false)?,
            };
            if cells.last().is_some_and(|(k, _)| *k >= key) {
                return Err(invalid("cells are not sorted and unique"));
            }
            let sums = Sums {
                usage_revenue: r.amount()?,
                outcome_revenue: r.amount()?,
                cost: r.amount()?,
                savings: if version >= 2 {
                    r.amount()?
                } else {
                    Cents::ZERO
                },
                events: r.u64()?,
                unpriced: r.u64()?,
                tokens: TokenTotals {
                    tokens_in: r.u64()?,
                    cached_tokens: r.u64()?,
                    cache_write_5m_tokens: r.u64()?,
                    cache_write_1h_tokens: r.u64()?,
                    tokens_out: r.u64()?,
                    reasoning_tokens: r.u64()?,
                },
            };
            if sums.unpriced > sums.events {
                return Err(invalid("a cell has more unpriced events than events"));
            }
            cells.push((key, sums));
        }
        let n_keys = r.count(24)?;
        let mut keys: Vec<Entry> = Vec::with_capacity(n_keys);
        for _ in 0..n_keys {
            let fp = [r.u64()?, r.u64()?];
            let digest = r.u32()?;
            let minute = r.u32()?;
            let fp = Fingerprint(fp);
            if !fp.is_normalized() {
                return Err(invalid("a key fingerprint is not in canonical form"));
            }
            if keys.last().is_some_and(|p| p.fingerprint() >= fp) {
                return Err(invalid("keys are not sorted and unique"));
            }
            keys.push(Entry::new(fp, digest, minute));
        }
        let mut policies = Vec::new();
        if version >= 3 {
            let n = r.count(8)?;
            if n == 0 {
                return Err(invalid("a version 3 state without policies"));
            }
            for _ in 0..n {
                let json = r.string(super::record::MAX_RECORD_BYTES)?;
                let Ok(Record::Policy(p)) = Record::from_json(json.as_bytes()) else {
                    return Err(invalid("a policy record does not parse"));
                };
                if p.timestamp_ms.is_none() || p.to_json() != json {
                    return Err(invalid("a policy record is not in canonical form"));
                }
                let key = scope_key(&p.scope);
                if policies
                    .last()
                    .is_some_and(|(k, _): &(String, String)| *k > key)
                {
                    return Err(invalid("policies are not in canonical order"));
                }
                policies.push((key, json));
            }
        }
        if r.pos != body.len() {
            return Err(invalid("trailing bytes after the last section"));
        }
        Ok(Plain {
            window_ms,
            clock_ms,
            first_ms,
            names,
            customers,
            resolutions,
            cells,
            keys,
            policies,
        })
    }

    /// Builds the live state, recomputing every derived sum with checked arithmetic.
    fn build(self) -> Result<Book, &'static str> {
        let mut book = Book {
            window_ms: self.window_ms,
            clock_ms: self.clock_ms,
            first_ms: self.first_ms,
            ..Book::default()
        };
        for n in &self.names {
            book.names.intern(n);
        }
        if book.names.list.len() != self.names.len() + 1 {
            return Err("duplicate names");
        }
        for (id, versions) in self.customers {
            let c = book.customers.entry(id).or_default();
            c.versions = versions;
        }
        for (k, s) in &self.cells {
            book.totals = book.totals.checked_sum(s).ok_or("totals out of range")?;
            book.cells.insert(*k, *s);
            book.customers.entry(k.customer).or_default().sums.add(s);
            if k.run != 0 {
                book.runs
                    .entry((k.customer, k.run))
                    .or_default()
                    .sums
                    .add(s);
            }
        }
        for (c, r, res) in self.resolutions {
            if !book.runs.contains_key(&(c, r)) {
                return Err("a resolution without any cell");
            }
            book.runs.entry((c, r)).or_default().resolution = Some(res);
        }
        for ((c, _), run) in &book.runs {
            book.customers
                .entry(*c)
                .or_default()
                .runs
                .count(RunStatus::of(run.resolution.as_ref()));
        }
        for c in book.customers.values_mut() {
            c.recompute_closed();
        }
        // Running sums per period, from the cells (sorted by day: mostly the O(1) path).
        for (k, s) in &self.cells {
            let f = Flow {
                cost: s.cost,
                revenue: plus(s.usage_revenue, s.outcome_revenue),
                events: s.events,
            };
            if let Some(c) = book.customers.get_mut(&k.customer) {
                book_flow(c, k.agent, i64::from(k.day), &f);
            }
        }
        for (_, json) in &self.policies {
            let Ok(Record::Policy(p)) = Record::from_json(json.as_bytes()) else {
                return Err("a policy record does not parse");
            };
            book.restore_policy(*p)?;
        }
        let mut table = DedupeTable::new();
        for e in self.keys {
            table.insert(e, None);
        }
        book.dedupe = table;
        Ok(book)
    }
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

fn invalid(r: &str) -> StateError {
    StateError::Invalid(r.to_string())
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], StateError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| invalid("a section ends early"))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N], StateError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, StateError> {
        Ok(self.arr::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, StateError> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn i32(&mut self) -> Result<i32, StateError> {
        Ok(i32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64, StateError> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn i64(&mut self) -> Result<i64, StateError> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    fn cents(&mut self) -> Result<Cents, StateError> {
        Ok(Cents::from_raw(i128::from_le_bytes(self.arr()?)))
    }
    fn amount(&mut self) -> Result<Cents, StateError> {
        let c = self.cents()?;
        if c.is_negative() {
            return Err(invalid("a negative amount"));
        }
        Ok(c)
    }
    fn timestamp(&mut self, what: &str) -> Result<i64, StateError> {
        let t = self.i64()?;
        if !(0..=MAX_TIMESTAMP_MS).contains(&t) {
            return Err(invalid(&format!("{what} timestamp out of range")));
        }
        Ok(t)
    }
    /// A count of items each at least `min_bytes` long, checked against the bytes left so a
    /// corrupt count cannot make us allocate.
    fn count(&mut self, min_bytes: usize) -> Result<usize, StateError> {
        let n = if min_bytes >= 24 {
            self.u64()?
        } else {
            u64::from(self.u32()?)
        };
        let left = (self.b.len() - self.pos) as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return Err(invalid("a count exceeds the bytes that follow"));
        }
        Ok(n as usize)
    }
    fn string(&mut self, max: usize) -> Result<String, StateError> {
        let len = self.u32()? as usize;
        if len == 0 || len > max {
            return Err(invalid("a name has a bad length"));
        }
        let s = std::str::from_utf8(self.take(len)?).map_err(|_| invalid("a name is not UTF-8"))?;
        if s.chars().any(char::is_control) {
            return Err(invalid("a name holds control characters"));
        }
        Ok(s.to_string())
    }
    fn opt_string(&mut self, max: usize) -> Result<Option<String>, StateError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string(max).map(Some),
            _ => Err(invalid("bad flag for an optional name")),
        }
    }
}

fn string(w: &mut Vec<u8>, s: &str) {
    w.extend_from_slice(&(s.len() as u32).to_le_bytes());
    w.extend_from_slice(s.as_bytes());
}

fn opt_string(w: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => w.push(0),
        Some(s) => {
            w.push(1);
            string(w, s);
        }
    }
}

fn opt_i64(w: &mut Vec<u8>, v: Option<i64>) {
    match v {
        None => w.push(0),
        Some(v) => {
            w.push(1);
            w.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn cents(w: &mut Vec<u8>, c: Cents) {
    w.extend_from_slice(&c.raw().to_le_bytes());
}

fn frame_version(body: &[u8], version: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + body.len() + CHECKSUM_BYTES);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(body);
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

fn unframe(bytes: &[u8]) -> Result<(&[u8], u32), StateError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(StateError::NotAState);
    }
    if bytes.len() < HEADER_BYTES {
        return Err(StateError::Truncated {
            expected: HEADER_BYTES as u64 + CHECKSUM_BYTES as u64,
            actual: bytes.len() as u64,
        });
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&bytes[8..12]);
    let version = u32::from_le_bytes(v);
    let mut l = [0u8; 8];
    l.copy_from_slice(&bytes[12..20]);
    let body_len = u64::from_le_bytes(l);
    let expected = (HEADER_BYTES as u64 + CHECKSUM_BYTES as u64).saturating_add(body_len);
    if expected != bytes.len() as u64 {
        return Err(StateError::Truncated {
            expected,
            actual: bytes.len() as u64,
        });
    }
    let split = bytes.len() - CHECKSUM_BYTES;
    if Sha256::digest(&bytes[..split]).as_slice() != &bytes[split..] {
        return Err(StateError::ChecksumMismatch);
    }
    // Only a file whose checksum matches can tell us its version reliably.
    if !(OLDEST_STATE_VERSION..=STATE_VERSION).contains(&version) {
        return Err(StateError::UnsupportedVersion(version));
    }
    Ok((&bytes[HEADER_BYTES..split], version))
}

/// The lock file [`Ledger::save`] holds in the state file's directory while it writes.
pub const SAVE_LOCK_FILE: &str = ".tollgate-state.lock";

/// Name prefix of [`Ledger::save`]'s temporary files.
const TEMP_PREFIX: &str = ".tollgate-state-";

/// Most orphaned temporary files removed per save or load (the rest go on the next one).
const MAX_ORPHANS_REMOVED: usize = 1000;

fn save_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Removes `.tollgate-state-*` temporary files (ours: the prefix plus tempfile's 6 random
/// alphanumeric characters, a regular file) from `dir`. The caller holds the save lock, so
/// none belongs to a save in progress. Best effort: a file that cannot be removed stays.
fn remove_orphans(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let ours = rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric());
        if ours && e.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(e.path());
            removed += 1;
            if removed == MAX_ORPHANS_REMOVED {
                return;
            }
        }
    }
}

/// Debug check of [`Ledger::state_bytes_checked`]: decode(encode(state)) == state, compared
/// on the canonical bytes.
fn debug_check_round_trip(bytes: &[u8], cap_ms: i64) {
    let (body, version) = unframe(bytes).expect("ledger state this process framed unframes");
    let plain = Plain::decode(body, version).expect("ledger state this process encoded decodes");
    let book = plain.build().expect("decoded ledger state builds");
    let again = Plain::of(&book, cap_ms);
    assert!(
        frame_version(&again.encode(), again.version()) == bytes,
        "ledger state: decode(encode(state)) differs from state"
    );
}

impl Ledger {
    /// The whole state as bytes (versioned, checksummed, canonical). Keys that left the dedupe
    /// window are not written.
    pub fn state_bytes(&self) -> Vec<u8> {
        let plain = Plain::of(&self.read(), self.clock_cap_ms());
        frame_version(&plain.encode(), plain.version())
    }

    /// [`Ledger::state_bytes`] for a save or a checkpoint, where state commits to disk: in
    /// debug builds it also checks encode/decode symmetry (the bytes decode to a state that
    /// encodes to the same bytes at the same clock), so a format asymmetry fails the tests
    /// that save rather than a restore in production.
    pub(crate) fn state_bytes_checked(&self) -> Vec<u8> {
        let cap = self.clock_cap_ms();
        let plain = Plain::of(&self.read(), cap);
        let bytes = frame_version(&plain.encode(), plain.version());
        if cfg!(debug_assertions) {
            debug_check_round_trip(&bytes, cap);
        }
        bytes
    }

    /// The former name of [`Ledger::state_bytes`] ("snapshot" now only names a rate-card
    /// snapshot).
    #[deprecated(note = "renamed to `Ledger::state_bytes`")]
    pub fn snapshot(&self) -> Vec<u8> {
        self.state_bytes()
    }

    /// A ledger holding the state `bytes` was taken from; it then behaves exactly like the
    /// original, future duplicates included. Anything wrong rejects the whole input.
    ///
    /// ```
    /// use tollgate_engine::ledger::{Clock, Ledger, StateError};
    /// let a = Ledger::default();
    /// let b = Ledger::restore(&a.state_bytes(), Clock::System).unwrap();
    /// assert_eq!(a.state_bytes(), b.state_bytes());
    /// let mut bytes = a.state_bytes();
    /// bytes.pop();
    /// assert!(matches!(Ledger::restore(&bytes, Clock::System), Err(StateError::Truncated { .. })));
    /// ```
    pub fn restore(bytes: &[u8], clock: Clock) -> Result<Ledger, StateError> {
        let (body, version) = unframe(bytes)?;
        let plain = Plain::decode(body, version)?;
        let book = plain.build().map_err(invalid)?;
        Ok(Ledger::from_book(book, clock))
    }

    /// Replaces this ledger's state with `restored`'s, in place (typically a ledger from
    /// [`Ledger::restore`]): calls in progress finish first (each holds the ledger's lock for
    /// what it reads or changes), every call after sees the new state, and a reference to this
    /// ledger stays valid throughout, so readers need no lock of their own around it. This
    /// ledger keeps its clock; reservations in flight are dropped (they are not part of the
    /// state); a ledger poisoned by a panic is whole again.
    ///
    /// The ledger of a [`Store`](crate::store::Store) is not replaced (the change would not
    /// be journaled): `restored` comes back, boxed, as the error.
    ///
    /// ```
    /// use tollgate_engine::engine::Engine;
    /// use tollgate_engine::ledger::{Clock, Ledger};
    /// let engine = Engine::embedded();
    /// let saved = Ledger::default();
    /// saved.ingest_json(&engine, br#"{"type":"tool","customerId":"acme","externalCostCents":"2"}"#);
    /// let live = Ledger::default();
    /// live.replace_state(Ledger::restore(&saved.state_bytes(), Clock::System).unwrap()).unwrap();
    /// assert_eq!(live.state_bytes(), saved.state_bytes());
    /// ```
    pub fn replace_state(&self, restored: Ledger) -> Result<(), Box<Ledger>> {
        if self.is_journaled() {
            return Err(Box::new(restored));
        }
        let book = restored
            .book
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *self
            .book
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = book;
        self.book.clear_poison();
        Ok(())
    }

    /// Writes the state to `path` atomically: a temporary file in the same directory, fsync,
    /// rename over `path`, fsync of the directory. A crash leaves the old file or the new one.
    ///
    /// Permissions: an existing file keeps its mode (the new bytes get the old file's
    /// permissions); a new file is created readable and writable by its owner only (0600 on
    /// Unix: the state names customers and their revenue).
    ///
    /// Temporary files: saves into one directory hold an exclusive lock on
    /// [`SAVE_LOCK_FILE`] there while their temporary file (`.tollgate-state-*`) exists, so a
    /// temporary file seen while holding that lock belongs to no save in progress: it was
    /// left by a save that crashed, and is removed (here and by [`Ledger::load`]). The lock file
    /// itself stays in the directory.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        if self.is_poisoned() {
            return Err(StateError::Invalid(super::POISONED.to_string()));
        }
        let bytes = self.state_bytes_checked();
        let dir = save_dir(path);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(SAVE_LOCK_FILE))?;
        lock.lock()?;
        remove_orphans(dir);
        let keep_mode = std::fs::metadata(path).ok().map(|m| m.permissions());
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)?;
        if let Some(mode) = keep_mode {
            tmp.as_file().set_permissions(mode)?;
        }
        tmp.write_all(&bytes)?;
        tmp.as_file().sync_all()?;
        tmp.persist(path).map_err(|e| StateError::Io(e.error))?;
        // Make the rename itself durable.
        std::fs::File::open(dir)?.sync_all()?;
        drop(lock);
        Ok(())
    }

    /// Reads a state file written by [`Ledger::save`].
    ///
    /// Also removes temporary files of crashed saves beside it, when no save into that
    /// directory is in progress (see [`Ledger::save`]).
    pub fn load(path: &Path, clock: Clock) -> Result<Ledger, StateError> {
        let dir = save_dir(path);
        if let Ok(lock) = std::fs::File::open(dir.join(SAVE_LOCK_FILE))
            && lock.try_lock().is_ok()
        {
            remove_orphans(dir);
        }
        let len = std::fs::metadata(path)?.len();
        if len > MAX_STATE_BYTES {
            return Err(StateError::TooLarge(len));
        }
        let bytes = std::fs::read(path)?;
        Ledger::restore(&bytes, clock)
    }

    /// The ledger that would have seen what `self` and `other` saw, for ledgers over disjoint
    /// customers (e.g. sharded by customer). Uses `self`'s clock.
    pub fn merge(&self, other: &Ledger) -> Result<Ledger, MergeError> {
        let a = Plain::of(&self.read(), self.clock_cap_ms());
        let b = Plain::of(&other.read(), other.clock_cap_ms());
        if a.window_ms != b.window_ms {
            return Err(MergeError::WindowMismatch(a.window_ms, b.window_ms));
        }
        let customers_of = |p: &Plain| -> std::collections::BTreeSet<Arc<str>> {
            let mut s = std::collections::BTreeSet::new();
            for (c, _) in &p.customers {
                s.insert(p.names[*c as usize - 1].clone());
            }
            for (k, _) in &p.cells {
                s.insert(p.names[k.customer as usize - 1].clone());
            }
            for (k, _) in &p.policies {
                if let Some(c) = k.strip_prefix('2') {
                    s.insert(Arc::from(c));
                }
            }
            s
        };
        let (ca, cb) = (customers_of(&a), customers_of(&b));
        if let Some(shared) = ca.intersection(&cb).next() {
            return Err(MergeError::SharedCustomer(shared.to_string()));
        }
        // Names: the sorted union; ids re-mapped for both sides.
        let mut all: BTreeMap<Arc<str>, u32> = BTreeMap::new();
        for n in a.names.iter().chain(b.names.iter()) {
            all.insert(n.clone(), 0);
        }
        for (i, v) in all.values_mut().enumerate() {
            *v = i as u32 + 1;
        }
        let remap = |p: &Plain| -> Vec<u32> {
            std::iter::once(0)
                .chain(p.names.iter().map(|n| all[n]))
                .collect()
        };
        let (ma, mb) = (remap(&a), remap(&b));
        let mut customers = Vec::new();
        let mut resolutions = Vec::new();
        let mut cells = Vec::new();
        for (p, m) in [(&a, &ma), (&b, &mb)] {
            let id = |v: u32| m[v as usize];
            customers.extend(p.customers.iter().map(|(c, v)| (id(*c), v.clone())));
            resolutions.extend(
                p.resolutions
                    .iter()
                    .map(|(c, r, res)| (id(*c), id(*r), *res)),
            );
            cells.extend(p.cells.iter().map(|(k, s)| {
                (
                    CellKey {
                        day: k.day,
                        customer: id(k.customer),
                        run: id(k.run),
                        agent: id(k.agent),
                        model: id(k.model),
                        provider: id(k.provider),
                    },
                    *s,
                )
            }));
        }
        customers.sort_by_key(|(c, _)| *c);
        resolutions.sort_by_key(|(c, r, _)| (*c, *r));
        cells.sort_by_key(|(k, _)| *k);
        let mut keys: Vec<Entry> = a.keys.iter().chain(b.keys.iter()).copied().collect();
        keys.sort_by_key(|e| e.fingerprint());
        if keys
            .windows(2)
            .any(|w| w[0].fingerprint() == w[1].fingerprint())
        {
            return Err(MergeError::SharedKey);
        }
        // Policies: customer ones are disjoint (checked above); a default or plan policy held
        // by both sides must be the same history on both.
        let mut policies: Vec<(String, String)> = a.policies.clone();
        for key in b
            .policies
            .iter()
            .map(|(k, _)| k)
            .collect::<std::collections::BTreeSet<_>>()
        {
            let ours: Vec<&(String, String)> =
                a.policies.iter().filter(|(k, _)| k == key).collect();
            let theirs: Vec<&(String, String)> =
                b.policies.iter().filter(|(k, _)| k == key).collect();
            if ours.is_empty() {
                policies.extend(theirs.into_iter().cloned());
            } else if ours != theirs {
                return Err(MergeError::PolicyMismatch(match key.split_at(1) {
                    ("0", _) => "the default policy".to_string(),
                    (_, name) => format!("the policy of plan \"{}\"", crate::event::clip(name)),
                }));
            }
        }
        policies.sort_by(|x, y| x.0.cmp(&y.0));
        let merged = Plain {
            policies,
            window_ms: a.window_ms,
            clock_ms: match (a.clock_ms, b.clock_ms) {
                (Some(x), Some(y)) => Some(x.max(y)),
                (x, y) => x.or(y),
            },
            first_ms: match (a.first_ms, b.first_ms) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            },
            names: all.into_keys().collect(),
            customers,
            resolutions,
            cells,
            keys,
        };
        let book = merged.build().map_err(|_| MergeError::Overflow)?;
        Ok(Ledger::from_book(book, self.clock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Engine;

    /// A version 1 file (no savings per cell) still loads: the same ledger, with no savings.
    #[test]
    fn version_1_loads_without_savings() {
        let engine = Engine::embedded();
        let l = Ledger::new(super::super::LedgerConfig::default());
        for line in [
            r#"{"type":"customer","customerId":"acme","plan":{"pricingModel":"flat","monthlyFeeCents":3000},"ts":"2026-11-01T00:00:00Z"}"#,
            // 800 cached tokens of gpt-4o: 800 × (2.5e-6 − 1.25e-6) USD = 0.1 cents saved.
            r#"{"customerId":"acme","runId":"r1","provider":"openai","model":"gpt-4o","tokensIn":1200,"cachedTokens":800,"tokensOut":350,"idempotencyKey":"k1","ts":"2026-11-02T00:00:00Z"}"#,
            r#"{"type":"resolve","customerId":"acme","runId":"r1","outcome":"resolved","ts":"2026-11-02T01:00:00Z"}"#,
        ] {
            assert!(matches!(
                l.ingest_json(&engine, line.as_bytes()),
                super::super::IngestResult::Accepted(_)
            ));
        }
        let t = l.totals(&super::super::Filter::default()).unwrap();
        assert_eq!(t.cache_savings_cents.to_string(), "0.1");
        let plain = Plain::of(&l.read(), l.clock_cap_ms());
        let v1 = frame_version(&plain.encode_version(1), 1);
        assert!(v1.len() < l.state_bytes().len());
        let old = Ledger::restore(&v1, Clock::Log).unwrap();
        let t1 = old.totals(&super::super::Filter::default()).unwrap();
        assert!(t1.cache_savings_cents.is_zero());
        assert_eq!(
            super::super::Margin {
                cache_savings_cents: t.cache_savings_cents,
                ..t1
            },
            t
        );
        // Saved again, it is a version 2 file (3 only with policies).
        let again = old.state_bytes();
        assert_eq!(u32::from_le_bytes(again[8..12].try_into().unwrap()), 2);
    }
}
