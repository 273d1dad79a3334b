//! Guardrail policies of a workspace: `GET /v1/policies`, `PUT /v1/policies/{policyId}`,
//! `DELETE /v1/policies/{policyId}` — the ledger's own `policy` records
//! (README "Guardrails"), journaled like every other record.

use crate::error::ApiError;
use axum::http::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tollgate_engine::ledger::policy::{Policy, Scope};
use tollgate_engine::ledger::record::Record;
use tollgate_engine::ledger::{IngestResult, Ledger};

fn now_ms(ledger: &Ledger) -> i64 {
    ledger.clock().now_ms()
}

fn same_scope(a: &Scope, b: &Scope) -> bool {
    a == b
}

/// A policy version as JSON: its canonical record (amounts as exact decimal strings, the
/// timestamp as epoch ms) plus `effectiveFrom` (RFC 3339) and `inForce`.
fn version_json(p: &Policy, in_force: bool) -> Value {
    let mut v: Value = serde_json::from_str(&p.to_json()).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("type");
        let ts = p.timestamp_ms.unwrap_or(0);
        o.insert("effectiveFrom".into(), json!(super::ratecard::rfc3339(ts)));
        o.insert("inForce".into(), json!(in_force));
    }
    v
}

/// The version of each scope in force at `now` (the last one effective at or before it).
fn in_force_flags(versions: &[Arc<Policy>], now: i64) -> Vec<bool> {
    let mut flags = vec![false; versions.len()];
    let mut i = 0;
    while i < versions.len() {
        let mut j = i;
        while j < versions.len() && same_scope(&versions[j].scope, &versions[i].scope) {
            j += 1;
        }
        // Versions of one scope are consecutive and in time order.
        if let Some(k) = (i..j)
            .rev()
            .find(|k| versions[*k].timestamp_ms.unwrap_or(0) <= now)
        {
            flags[k] = !versions[k].retired;
        }
        i = j;
    }
    flags
}

/// `GET /v1/policies`: every version the ledger holds, in canonical order (default, plans by
/// name, customers by id; each scope's versions oldest first), retirements included.
pub fn list(ledger: &Ledger) -> Value {
    let versions = ledger.policies();
    let flags = in_force_flags(&versions, now_ms(ledger));
    json!({
        "policies": versions.iter().zip(flags).map(|(p, f)| version_json(p, f)).collect::<Vec<_>>(),
    })
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_policy", message)
}

/// The `policy` record for `PUT /v1/policies/{policy_id}`: the body's fields (those of a
/// policy record, without `type`; `policyId` may be left out and must otherwise equal the
/// path's) with `type` and `policyId` set. Field texts are kept byte for byte, so amounts are
/// read from their decimal text, never through a float.
///
/// Without `ts` / `timestamp` the policy takes effect now (the wall clock `now_ms`), not at the
/// ledger clock: a request means "from now on", also when no event was booked lately.
pub fn put_record(policy_id: &str, body: &[u8], now_ms: i64) -> Result<Vec<u8>, ApiError> {
    let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("expected a JSON object of policy fields: {e}")))?;
    let mut out: BTreeMap<String, Box<RawValue>> = BTreeMap::new();
    let id = serde_json::value::to_raw_value(policy_id).map_err(|e| invalid(e.to_string()))?;
    for (k, v) in fields {
        match k.as_str() {
            "type" => {
                return Err(invalid(
                    "type: leave it out (this endpoint writes policies)",
                ));
            }
            "policyId" => {
                if serde_json::from_str::<String>(v.get()).ok().as_deref() != Some(policy_id) {
                    return Err(invalid("policyId: differs from the policy id in the path"));
                }
            }
            "retired" => {
                return Err(invalid(
                    "retired: use DELETE /v1/policies/{policyId} to retire a policy",
                ));
            }
            _ => {
                out.insert(k, v);
            }
        }
    }
    if !out.contains_key("ts") && !out.contains_key("timestamp") {
        out.insert(
            "timestamp".into(),
            serde_json::value::to_raw_value(&now_ms).map_err(|e| invalid(e.to_string()))?,
        );
    }
    out.insert("policyId".into(), id);
    out.insert(
        "type".into(),
        serde_json::value::to_raw_value("policy").map_err(|e| invalid(e.to_string()))?,
    );
    serde_json::to_vec(&out).map_err(|e| invalid(e.to_string()))
}

/// The response of a policy write: `{"status": "accepted"|"duplicate", "policy": {...}}`, or
/// the rejection as a 400 naming the field.
pub fn write_response(
    ledger: &Ledger,
    record: &[u8],
    result: IngestResult,
) -> Result<Value, ApiError> {
    let status = match &result {
        IngestResult::Accepted(_) => "accepted",
        IngestResult::Duplicate => "duplicate",
        IngestResult::Conflict { reason } => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                reason.clone(),
            ));
        }
        IngestResult::Rejected(r) => return Err(invalid(r.to_string())),
    };
    let Ok(Record::Policy(p)) = Record::from_json(record) else {
        return Err(invalid("not a policy record"));
    };
    // The version now in force for the scope (the ledger set its timestamp).
    let versions = ledger.policies();
    let flags = in_force_flags(&versions, now_ms(ledger));
    let current = versions
        .iter()
        .zip(&flags)
        .rev()
        .find(|(v, _)| v.scope == p.scope && v.policy_id == p.policy_id)
        .map(|(v, f)| version_json(v, *f))
        .unwrap_or(Value::Null);
    Ok(json!({"status": status, "policy": current}))
}

/// The `policy` record that retires `policy_id` (`DELETE /v1/policies/{policy_id}`): a
/// retirement of the scope whose policy in force is that id, effective now. 404
/// when no policy in force has that id.
pub fn delete_record(ledger: &Ledger, policy_id: &str) -> Result<Vec<u8>, ApiError> {
    let versions = ledger.policies();
    let flags = in_force_flags(&versions, now_ms(ledger));
    let Some(p) = versions
        .iter()
        .zip(flags)
        .find(|(v, f)| *f && &*v.policy_id == policy_id)
        .map(|(v, _)| v)
    else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "no policy \"{}\" is in force in this workspace",
                super::params::clip(policy_id)
            ),
        ));
    };
    // Effective now (the wall clock), not at the ledger clock: a DELETE means "from now on",
    // also when no event was booked lately.
    let mut rec = json!({"type": "policy", "policyId": policy_id, "retired": true, "timestamp": now_ms(ledger)});
    match &p.scope {
        Scope::Customer(c) => rec["customerId"] = json!(&**c),
        Scope::Plan(n) => rec["planName"] = json!(&**n),
        Scope::Default => {}
    }
    Ok(rec.to_string().into_bytes())
}
