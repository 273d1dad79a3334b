//! Recovery: the latest checkpoint, then every journal entry after it, applied exactly as the
//! first time (each record with the instant it was first applied at).

use super::files::{self, Manifest, io_err};
use super::journal::{self, Entry};
use super::{StoreError, TornTail};
use crate::engine::{Engine, EngineError, Snapshot, SnapshotId};
use crate::ledger::{Clock, IngestResult, Ledger, LedgerConfig};
use std::fs;
use std::path::Path;
use std::sync::Arc;

/// What one journal entry did.
#[derive(Debug)]
pub(crate) enum Applied {
    Ingest(IngestResult),
    Published(Result<SnapshotId, EngineError>),
    Override(Result<(), EngineError>),
    Unoverride(bool),
}

/// The live parts one entry changes.
pub(crate) struct Target<'a> {
    pub dir: &'a Path,
    pub engine: &'a Engine,
    pub ledger: &'a Ledger,
    pub manifest: &'a mut Manifest,
}

/// Applies one entry. `prepared` is the snapshot of a publish the caller already built (the
/// live path); replay reads the card file.
pub(crate) fn apply(
    t: &mut Target<'_>,
    entry: &Entry<'_>,
    prepared: Option<Arc<Snapshot>>,
) -> Result<Applied, StoreError> {
    Ok(match *entry {
        Entry::Record { now_ms, line } => {
            Applied::Ingest(t.ledger.ingest_json_at(t.engine, line, now_ms))
        }
        Entry::Publish {
            effective_from_ms,
            content,
        } => {
            let r = match prepared {
                Some(s) => t.engine.publish(s),
                None => {
                    let bytes = files::load_card(t.dir, &content)?;
                    t.engine
                        .publish_registry(&bytes, effective_from_ms)
                        .map(|p| p.snapshot)
                }
            };
            if r.is_ok() {
                t.manifest.cards.insert(effective_from_ms, content);
            }
            Applied::Published(r)
        }
        Entry::Override { model, entry } => {
            let r = t.engine.set_override(model, entry);
            if r.is_ok() {
                t.manifest.overrides.insert(
                    model.to_ascii_lowercase(),
                    (model.to_string(), entry.to_vec()),
                );
            }
            Applied::Override(r)
        }
        Entry::Unoverride { model } => {
            t.manifest.overrides.remove(&model.to_ascii_lowercase());
            Applied::Unoverride(t.engine.remove_override(model))
        }
        Entry::Event(e) => Applied::Ingest(t.ledger.apply_booked(&e)),
    })
}

/// The files of a data directory, sorted.
pub(crate) struct Listing {
    pub checkpoints: Vec<u64>,
    pub segments: Vec<u64>,
}

pub(crate) fn list(dir: &Path) -> Result<Listing, StoreError> {
    let mut l = Listing {
        checkpoints: vec![],
        segments: vec![],
    };
    for e in fs::read_dir(dir).map_err(|e| io_err("list directory", dir, e))? {
        let e = e.map_err(|e| io_err("list directory", dir, e))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(n) = journal::parse_segment_name(name) {
            l.segments.push(n);
        } else if let Some(n) = files::parse_checkpoint_name(name) {
            l.checkpoints.push(n);
        }
    }
    l.checkpoints.sort_unstable();
    l.segments.sort_unstable();
    Ok(l)
}

/// The state rebuilt from a directory.
pub(crate) struct Replayed {
    pub engine: Engine,
    pub ledger: Ledger,
    pub manifest: Manifest,
    pub checkpoint: Option<u64>,
    pub segments: Vec<u64>,
    pub entries: u64,
    pub records: u64,
    /// The last segment replayed and where its whole entries end.
    pub last: Option<(u64, u64)>,
    /// The format version of the last segment replayed.
    pub last_version: u32,
    pub torn: Option<TornTail>,
}

/// Builds the engine and ledger a checkpoint holds.
fn load_checkpoint(
    dir: &Path,
    n: u64,
    clock: Clock,
) -> Result<(Engine, Ledger, Manifest), StoreError> {
    let path = dir.join(files::checkpoint_name(n));
    let bytes = files::read_chunked(&path).map_err(|e| io_err("read checkpoint", &path, e))?;
    let bad = |reason: String| StoreError::Corrupt {
        path: path.clone(),
        offset: 0,
        reason,
    };
    let cp = files::decode_checkpoint(&bytes).map_err(bad)?;
    if cp.segment != n {
        return Err(bad(format!("names segment {}, file name {n}", cp.segment)));
    }
    let ledger =
        Ledger::restore(&cp.state, clock).map_err(|e| bad(format!("ledger state: {e}")))?;
    let engine = Engine::embedded();
    for (eff, sha) in &cp.manifest.cards {
        let card = files::load_card(dir, sha)?;
        engine
            .publish_registry(&card, *eff)
            .map_err(|e| bad(format!("rate card {}: {e}", files::hex(sha))))?;
    }
    for (model, entry) in cp.manifest.overrides.values() {
        engine
            .set_override(model, entry)
            .map_err(|e| bad(format!("override {model}: {e}")))?;
    }
    Ok((engine, ledger, cp.manifest))
}

/// Replays `dir`: the newest checkpoint, then the segments after it, stopping before segment
/// `upto` when given (a checkpoint in the making replays only closed segments, where any bad
/// entry is corruption). A bad entry at the end of the last segment, with no whole entry after
/// it, is a torn tail: reported in `torn`, not replayed. Anything else bad is an error naming
/// the file and offset.
pub(crate) fn replay(
    dir: &Path,
    clock: Clock,
    window_ms: u64,
    upto: Option<u64>,
) -> Result<Replayed, StoreError> {
    let listing = list(dir)?;
    let checkpoint = listing
        .checkpoints
        .iter()
        .copied()
        .filter(|n| upto.is_none_or(|u| *n <= u))
        .max();
    let (engine, ledger, mut manifest) = match checkpoint {
        Some(n) => load_checkpoint(dir, n, clock)?,
        None => (
            Engine::embedded(),
            Ledger::new(LedgerConfig {
                dedupe_window_ms: window_ms,
                clock,
            }),
            Manifest::default(),
        ),
    };
    let first = checkpoint.unwrap_or(1);
    let segments: Vec<u64> = listing
        .segments
        .iter()
        .copied()
        .filter(|n| *n >= first && upto.is_none_or(|u| *n < u))
        .collect();
    for (i, n) in segments.iter().enumerate() {
        if *n != first + i as u64 {
            return Err(StoreError::Corrupt {
                path: dir.join(journal::segment_name(first + i as u64)),
                offset: 0,
                reason: "journal segment missing".into(),
            });
        }
    }
    let mut r = Replayed {
        engine,
        ledger,
        manifest: Manifest::default(),
        checkpoint,
        segments: segments.clone(),
        entries: 0,
        records: 0,
        last: None,
        last_version: journal::JOURNAL_VERSION,
        torn: None,
    };
    for (i, n) in segments.iter().enumerate() {
        let is_last = upto.is_none() && i + 1 == segments.len();
        let path = dir.join(journal::segment_name(*n));
        let bytes = files::read_chunked(&path).map_err(|e| io_err("read journal", &path, e))?;
        replay_segment(&mut r, &mut manifest, dir, &path, *n, &bytes, is_last)?;
    }
    r.manifest = manifest;
    Ok(r)
}

fn replay_segment(
    r: &mut Replayed,
    manifest: &mut Manifest,
    dir: &Path,
    path: &Path,
    n: u64,
    bytes: &[u8],
    is_last: bool,
) -> Result<(), StoreError> {
    let version = journal::check_header(bytes, n).map_err(|reason| StoreError::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        reason,
    })?;
    let mut t = Target {
        dir,
        engine: &r.engine,
        ledger: &r.ledger,
        manifest,
    };
    let bad_version = |offset| StoreError::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason: format!("an event entry (kind 5) in a version {version} segment"),
    };
    // Entries are applied as they are read; an error found further on discards the whole
    // replay, so nothing of a refused directory is ever served.
    let mut c = journal::Cursor::new(bytes);
    let mut entries = 0u64;
    let mut records = 0u64;
    while let Some((offset, e)) = c.next_entry() {
        entries += 1;
        let Entry::Event(first) = e else {
            if matches!(e, Entry::Record { .. }) {
                records += 1;
            }
            apply(&mut t, &e, None)?;
            continue;
        };
        // A run of event entries: applied in bulk, under one ledger lock.
        if version < 2 {
            return Err(bad_version(offset));
        }
        let mut more = 0u64;
        t.ledger
            .apply_priced(std::iter::once(first).chain(std::iter::from_fn(|| {
                if !c.next_is_event() {
                    return None;
                }
                match c.next_entry() {
                    Some((_, Entry::Event(e))) => {
                        more += 1;
                        Some(e)
                    }
                    _ => None,
                }
            })));
        entries += more;
        records += 1 + more;
    }
    let scan = c.finish();
    if let Some((offset, bad)) = &scan.bad {
        if !is_last || scan.good_after_bad {
            let reason = if scan.good_after_bad {
                format!("{bad}, and whole entries follow: the journal is damaged in the middle")
            } else {
                format!("{bad} in a closed segment")
            };
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                offset: *offset,
                reason,
            });
        }
        r.torn = Some(TornTail {
            path: path.to_path_buf(),
            offset: *offset,
            bytes_cut: bytes.len() as u64 - offset,
            reason: bad.to_string(),
        });
    }
    r.records += records;
    r.entries += entries;
    r.last = Some((n, scan.end));
    r.last_version = version;
    Ok(())
}
