"""Example: embed the Tollgate engine from Python (run by tests/test_examples.py, output checked)."""

import os
import sys
from pathlib import Path

if os.environ.get("TOLLGATE_TEST_INSTALLED") != "1":  # a source checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# readme:start
import tollgate_engine  # checks the library's ABI version at import

with tollgate_engine.Engine() as engine:  # embedded rate card
    # JSON in, JSON out: amounts are exact decimal strings of cents, never floats.
    r = engine.price_json({"provider": "openai", "model": "gpt-4o", "tokensIn": 1200, "cachedTokens": 800, "tokensOut": 350})
    print(r["costCents"], r["model"], r["source"])

    # The fast paths: one usage (a typed PriceOut, about 1 µs), or whole columns (lists,
    # array.array or NumPy arrays; millions of rows per second). Costs are exact Decimals.
    a = engine.price("openai", "gpt-4o", tokens_in=1000)
    b = engine.price("openai", "gpt-4o", tokens_in=1000, service_tier="batch")
    print(a.cost_cents, b.cost_cents, a.source)
    cols = engine.price_columns(["gpt-4o", "gpt-4o-mini"], provider="openai", tokens_in=[1000, 1000], tokens_out=[0, 500])
    print(cols.total_cents, cols.cost_cents)

    # Usage read off a raw provider response: no SDK counts tokens.
    body = b'{"id":"msg_1","type":"message","model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":3,"cache_read_input_tokens":1111,"cache_creation_input_tokens":418,"output_tokens":33}}'
    u = tollgate_engine.extract_usage("anthropic", body)[0]
    print(u["model"], u["tokensIn"], u["cachedTokens"], u["cacheWrite5mTokens"], u["tokensOut"])

    # The ledger: a customer on a usage-based plan; one call from the raw response to the
    # ledger (extract, price, ingest exactly once); the customer's live margin in O(1).
    engine.upsert_customer({"customerId": "acme", "timestamp": "2026-01-01T00:00:00Z",
                            "plan": {"pricingModel": "usage_based", "unitRevenueCents": 5}})
    [tracked] = engine.track_response("anthropic", body, {"customerId": "acme", "runId": "run-1", "timestamp": "2026-01-10T00:00:00Z"})
    print(tracked["status"], tracked["costCents"], tracked["revenueCents"])
    print("acme margin", engine.customer_margin("acme").margin_cents, "cents")
# readme:end
