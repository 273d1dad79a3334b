//! Nothing panics on any input: random bytes and random field soups as records, random state
//! bodies behind a valid frame and checksum. A record that is not accepted changes nothing.

mod ledger_support;

use ledger_support::*;
use proptest::prelude::*;
use sha2::{Digest, Sha256};
use tollgate_engine::ledger::record::Record;
use tollgate_engine::ledger::{Clock, IngestResult, Ledger};

const FIELDS: &[&str] = &[
    "type",
    "customerId",
    "runId",
    "agentId",
    "provider",
    "model",
    "tokensIn",
    "cachedTokens",
    "tokensOut",
    "reasoningTokens",
    "externalCostCents",
    "providerCostCents",
    "revenueUnitCents",
    "units",
    "outcome",
    "idempotencyKey",
    "responseId",
    "ts",
    "timestamp",
    "name",
    "seats",
    "plan",
    "pricingModel",
    "monthlyFeeCents",
    "seatPriceCents",
    "unitRevenueCents",
    "bogus",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("\"resolve\"".to_string()),
        Just("\"customer\"".to_string()),
        Just("\"tool\"".to_string()),
        Just("\"resolved\"".to_string()),
        Just("\"usage_based\"".to_string()),
        Just("\"2026-01-01T00:00:00Z\"".to_string()),
        Just("{\"pricingModel\":\"flat\",\"monthlyFeeCents\":\"31\"}".to_string()),
        Just("[]".to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[a-z0-9.\\-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        "-?[0-9]{1,30}(\\.[0-9]{1,30})?(e-?[0-9]{1,3})?".prop_map(|s| s),
    ]
}

fn record() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(FIELDS), value()), 0..10).prop_map(|kv| {
        let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{{}}}", body.join(","))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Record::from_json(&bytes);
    }

    #[test]
    fn random_records_never_panic_and_rejections_change_nothing(lines in prop::collection::vec(record(), 1..12)) {
        let l = ledger();
        for line in &lines {
            let before = l.state_bytes();
            let r = apply(&l, line);
            if !matches!(r, IngestResult::Accepted(_)) {
                prop_assert_eq!(l.state_bytes(), before, "{} → {:?}", line, r);
            }
        }
        let _ = l.report(None, None);
    }

    #[test]
    fn random_state_bodies_never_panic(body in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = b"TGLEDGER".to_vec();
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&body);
        let sum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&sum);
        if let Ok(l) = Ledger::restore(&bytes, Clock::Fixed(NOW)) {
            // Whatever was accepted round-trips.
            let again = Ledger::restore(&l.state_bytes(), Clock::Fixed(NOW)).unwrap();
            prop_assert_eq!(again.state_bytes(), l.state_bytes());
        }
    }
}

fn real_state() -> &'static [u8] {
    static STATE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    STATE.get_or_init(build_state)
}

fn build_state() -> Vec<u8> {
    let (customers, activity) =
        ledger_support::logs::log(5, &ledger_support::logs::GenOpts::default());
    let l = ledger();
    for line in customers.iter().chain(activity.iter()) {
        apply(&l, line);
    }
    l.state_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A real state with a few bytes changed behind a recomputed checksum: the structural
    /// checks must catch it or load something self-consistent, never panic.
    #[test]
    fn mutated_state_bodies_never_panic(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let state = real_state();
        let mut body = state[20..state.len() - 32].to_vec();
        for (i, v) in edits {
            let at = i.index(body.len());
            body[at] = v;
        }
        let mut bytes = state[..20].to_vec();
        bytes.extend_from_slice(&body);
        let sum = Sha256::digest(&bytes);
        bytes.extend_from_slice(&sum);
        if let Ok(l) = Ledger::restore(&bytes, Clock::Fixed(NOW)) {
            let again = Ledger::restore(&l.state_bytes(), Clock::Fixed(NOW)).unwrap();
            prop_assert_eq!(again.state_bytes(), l.state_bytes());
            let _ = l.report(None, None);
        }
    }
}
