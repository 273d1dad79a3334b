//! Install smoke of the `tollgate-engine` crate (run by scripts/install_smoke.sh in a new
//! Cargo project depending on the packaged crate): price, extract, track, margin; writes the
//! line described in docs/DECISIONS.md (Packaging) to $TOLLGATE_SMOKE_OUT/rust.json.
use tollgate_engine::engine::{Engine, PriceInput};
use tollgate_engine::event::Event;
use tollgate_engine::extract::{self, Provider};
use tollgate_engine::ledger::record::Record;
use tollgate_engine::ledger::{IngestResult, Ledger, LedgerConfig};

fn main() {
    let body = std::fs::read(std::env::args().nth(1).expect("response file")).unwrap();
    let engine = Engine::embedded();
    let priced = Event::from_json(
        br#"{"provider":"openai","model":"gpt-4o","tokensIn":1200,"cachedTokens":800,"tokensOut":350}"#,
    )
    .unwrap();
    let price = engine.price(&PriceInput::from_event(&priced)).unwrap();

    let items = extract::extract(Provider::parse("anthropic").unwrap(), None, &body).unwrap();
    let u = &items[0];

    let ledger = Ledger::new(LedgerConfig::default());
    let Record::Customer(c) = Record::from_json(
        br#"{"type":"customer","customerId":"acme","timestamp":"2026-01-01T00:00:00Z","plan":{"pricingModel":"usage_based","unitRevenueCents":5}}"#,
    )
    .unwrap() else {
        panic!("not a customer record")
    };
    assert!(matches!(ledger.upsert_customer(&c), IngestResult::Accepted(_)));
    // The line item is an event record; the caller's context is merged in, as the C ABI's
    // tg_track_response does.
    let mut event: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&u.to_json()).unwrap();
    for (k, v) in [("customerId", "acme"), ("runId", "run-1"), ("timestamp", "2026-01-10T00:00:00Z")] {
        event.insert(k.into(), v.into());
    }
    let event = Event::from_json(&serde_json::to_vec(&event).unwrap()).unwrap();
    let IngestResult::Accepted(tracked) = ledger.track(&engine, &event) else {
        panic!("event not accepted")
    };
    let margin = ledger.customer_margin("acme").unwrap().unwrap();

    let line = format!(
        "{{\"price\":\"{}\",\"extractTokens\":[{},{},{},{}],\"trackCost\":\"{}\",\"trackRevenue\":\"{}\",\"margin\":\"{}\"}}\n",
        price.cost_cents,
        u.usage.tokens_in,
        u.usage.cached_tokens,
        u.usage.cache_write_5m_tokens,
        u.usage.tokens_out,
        tracked.cost_cents,
        tracked.revenue_cents,
        margin.margin_cents()
    );
    let out = std::path::Path::new(&std::env::var("TOLLGATE_SMOKE_OUT").unwrap()).join("rust.json");
    std::fs::write(out, &line).unwrap();
    print!("rust: {line}");
}
