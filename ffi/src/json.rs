//! Rendering of results as JSON text (camelCase, amounts as decimal strings of cents).

use tollgate::engine::{MatchKind, PriceResult, UnpricedReason};

/// Appends `s` as a JSON string literal.
pub(crate) fn push_str(out: &mut String, s: &str) {
    // serde_json escapes exactly what JSON requires; writing a &str cannot fail.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string()));
}

/// Appends `,"key":` (or `"key":` when `first`).
pub(crate) fn push_key(out: &mut String, key: &str, first: bool) {
    if !first {
        out.push(',');
    }
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

pub(crate) fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

/// The fields of one price result, without braces, in the order and wire names of
/// `tollgate price` (so the JSON path prints exactly what the command line prints).
pub(crate) fn push_price_fields(out: &mut String, r: &PriceResult) {
    push_key(out, "costCents", true);
    push_str(out, &r.cost_cents.to_string());
    push_key(out, "priced", false);
    out.push_str(if r.priced { "true" } else { "false" });
    push_key(out, "model", false);
    push_opt_str(out, r.model.as_deref());
    push_key(out, "snapshot", false);
    push_str(out, &r.snapshot.to_string());
    push_key(out, "reason", false);
    push_opt_str(out, r.reason.map(UnpricedReason::as_str));
    push_key(out, "warnings", false);
    out.push('[');
    for (i, w) in r.warnings.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, w);
    }
    out.push(']');
    push_key(out, "match", false);
    push_opt_str(out, r.match_kind.map(MatchKind::as_str));
    push_key(out, "source", false);
    push_str(out, r.source.as_str());
}

/// One price result as a JSON object.
pub(crate) fn price_result(r: &PriceResult) -> String {
    let mut out = String::with_capacity(160);
    out.push('{');
    push_price_fields(&mut out, r);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tollgate::engine::{CostSource, SnapshotId};
    use tollgate::money::Cents;

    #[test]
    fn price_result_shape() {
        let r = PriceResult {
            cost_cents: "0.4245".parse::<Cents>().unwrap(),
            priced: true,
            source: CostSource::RateCard,
            model: Some(Arc::from("gpt-4o\"x")),
            match_kind: Some(MatchKind::Exact),
            snapshot: SnapshotId(0xab),
            reason: None,
            warnings: vec!["w1".to_string()],
        };
        assert_eq!(
            price_result(&r),
            r#"{"costCents":"0.4245","priced":true,"model":"gpt-4o\"x","snapshot":"00000000000000ab","reason":null,"warnings":["w1"],"match":"exact","source":"ratecard"}"#
        );
    }
}
