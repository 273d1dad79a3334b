//! The rate card of a workspace: `/v1/ratecard` (status), `/v1/ratecard/history`,
//! `/v1/ratecard/diff`, `/v1/ratecard/overrides`.

use super::params::{self, bad_request};
use crate::error::ApiError;
use axum::http::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use tollgate_engine::engine::SnapshotId;
use tollgate_engine::ratecard::usd_string;
use tollgate_engine::store::{Store, StoreError};

/// What the rate-card sync reports, for the status (filled by the server's refresher wiring).
#[derive(Clone, Debug, Default)]
pub struct SyncView {
    /// The source pulled (URL, file or directory), `None` when no sync is configured.
    pub source: Option<String>,
    /// The last pull: `Ok(report text)` or `Err(error text)`.
    pub last: Option<Result<String, String>>,
}

/// An instant (epoch ms) as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    tollgate_sync::format_ms(ms)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The content hash of the published card effective from `eff`, `None` for the embedded card.
fn content_at(store: &Store, eff: i64) -> Option<String> {
    store
        .history()
        .into_iter()
        .find(|c| c.effective_from_ms == eff)
        .map(|c| c.content)
}

/// Seconds since the card in force took effect (the embedded card is effective from
/// 1970-01-01, so a store that never synced reports its age from then: an alert on age fires).
pub fn age_seconds(store: &Store) -> i64 {
    let s = store.engine().snapshot_at(None);
    (now_ms() - s.effective_from_ms()).max(0) / 1000
}

/// `GET /v1/ratecard`.
pub fn status(store: &Store, sync: &SyncView) -> Value {
    let now = now_ms();
    let engine = store.engine();
    let current = engine.snapshot_at(None);
    let eff = current.effective_from_ms();
    let content = content_at(store, eff);
    let last = match &sync.last {
        None => Value::Null,
        Some(Ok(report)) => json!({"ok": true, "report": report}),
        Some(Err(e)) => json!({"ok": false, "error": e}),
    };
    json!({
        "snapshot": current.id().to_string(),
        "effectiveFrom": rfc3339(eff),
        "effectiveFromMs": eff,
        "ageSeconds": (now - eff).max(0) / 1000,
        "source": if content.is_some() { "published" } else { "embedded" },
        "content": content,
        "models": current.card().entries().len(),
        "snapshots": engine.snapshots().len(),
        "overrides": store.overrides().len(),
        "sync": {
            "source": sync.source,
            "last": last,
        },
    })
}

/// `GET /v1/ratecard/history`: every snapshot, oldest `effectiveFrom` first.
pub fn history(store: &Store) -> Value {
    let now = now_ms();
    let in_force = store.engine().snapshot_at(None).effective_from_ms();
    let published = store.history();
    let snaps: Vec<Value> = store
        .engine()
        .snapshots()
        .into_iter()
        .map(|s| {
            let content = published
                .iter()
                .find(|c| c.effective_from_ms == s.effective_from_ms)
                .map(|c| c.content.clone());
            json!({
                "snapshot": s.id.to_string(),
                "effectiveFrom": rfc3339(s.effective_from_ms),
                "effectiveFromMs": s.effective_from_ms,
                "models": s.models,
                "source": if content.is_some() { "published" } else { "embedded" },
                "content": content,
                "inForce": s.effective_from_ms == in_force,
                "future": s.effective_from_ms > now,
            })
        })
        .collect();
    json!({ "snapshots": snaps })
}

fn parse_id(name: &str, text: &str) -> Result<SnapshotId, ApiError> {
    if text.len() == 16
        && let Ok(v) = u64::from_str_radix(text, 16)
    {
        return Ok(SnapshotId(v));
    }
    Err(bad_request(format!(
        "{name}: expected a snapshot id (16 hex digits, as /v1/ratecard/history lists them)"
    )))
}

/// `GET /v1/ratecard/diff?from=&to=`: models added, removed and repriced from snapshot `from`
/// to snapshot `to` (default `to`: the card in force; default `from`: the snapshot before
/// `to`). Prices in US dollars as the registry states them, like `tollgate ratecard diff
/// --json`.
pub fn diff(store: &Store, raw: Option<&str>) -> Result<Value, ApiError> {
    let pairs = params::pairs(raw)?;
    if let Some((k, _)) = pairs.iter().find(|(k, _)| k != "from" && k != "to") {
        return Err(bad_request(format!(
            "unknown parameter \"{}\" (expected from, to)",
            params::clip(k)
        )));
    }
    let engine = store.engine();
    let snaps = engine.snapshots();
    let to = match params::get(&pairs, "to") {
        Some(t) => parse_id("to", t)?,
        None => engine.snapshot_at(None).id(),
    };
    let from = match params::get(&pairs, "from") {
        Some(t) => parse_id("from", t)?,
        None => {
            let i = snaps
                .iter()
                .position(|s| s.id == to)
                .ok_or_else(|| unknown(to))?;
            match i.checked_sub(1) {
                Some(p) => snaps[p].id,
                None => {
                    return Err(bad_request(format!(
                        "from: snapshot {to} is the first one; there is nothing before it to compare with"
                    )));
                }
            }
        }
    };
    let d = engine.diff(from, to).ok_or_else(|| {
        unknown(if snaps.iter().any(|s| s.id == from) {
            to
        } else {
            from
        })
    })?;
    let usd = |c: Option<tollgate_engine::money::Cents>| c.map(usd_string);
    Ok(json!({
        "from": from.to_string(),
        "to": to.to_string(),
        "added": d.added,
        "removed": d.removed,
        "repriced": d.repriced.iter().map(|r| json!({
            "key": r.key,
            "changes": r.changes.iter().map(|c| json!({
                "field": c.field,
                "oldUsd": usd(c.old),
                "newUsd": usd(c.new),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "counts": {"added": d.added.len(), "removed": d.removed.len(), "repriced": d.repriced.len()},
    }))
}

fn unknown(id: SnapshotId) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no snapshot {id} in this workspace's history"),
    )
}

/// `GET /v1/ratecard/overrides`.
pub fn overrides(store: &Store) -> Value {
    let mut list: Vec<(String, Vec<u8>)> = store.overrides();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    json!({
        "overrides": list.into_iter().map(|(model, entry)| {
            let entry: Value = RawValue::from_string(String::from_utf8_lossy(&entry).into_owned())
                .ok()
                .and_then(|r| serde_json::from_str(r.get()).ok())
                .unwrap_or(Value::Null);
            json!({"model": model, "entry": entry})
        }).collect::<Vec<_>>(),
    })
}

/// The body of `POST /v1/ratecard/overrides`: `{"model": "...", "entry": {registry entry}}`;
/// the entry's text is kept byte for byte (prices are read from their decimal text).
pub struct OverrideBody {
    /// The model the prices apply to.
    pub model: String,
    /// The registry entry, as sent.
    pub entry: String,
}

/// Parses an override body, every problem named.
pub fn parse_override(body: &[u8]) -> Result<OverrideBody, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw<'a> {
        model: String,
        #[serde(borrow)]
        entry: &'a RawValue,
    }
    let raw: Raw<'_> = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("expected {{\"model\": \"...\", \"entry\": {{...}}}}: {e}"),
        )
    })?;
    if raw.model.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "model: must not be empty",
        ));
    }
    Ok(OverrideBody {
        model: raw.model,
        entry: raw.entry.get().to_string(),
    })
}

/// Maps a store error of a write to the API's error.
pub fn store_error(e: StoreError) -> ApiError {
    match e {
        StoreError::RateCard(e) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_entry", e.to_string())
        }
        StoreError::Config(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_entry", m),
        StoreError::Engine(e) => ApiError::new(StatusCode::CONFLICT, "limit", e.to_string()),
        e => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the workspace's journal cannot be written: {e}"),
        ),
    }
}
