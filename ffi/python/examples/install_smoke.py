"""Install smoke test: run with the installed wheel, outside the repository.

    python install_smoke.py BODY OUT_DIR

Prices an event, extracts the usage of the recorded Anthropic response BODY, tracks it for
customer acme and reads acme's margin; writes OUT_DIR/python.json, one compact line in the
format every language's smoke program writes (docs/DECISIONS.md, "Install smoke output").
"""

import json
import sys
from pathlib import Path

import tollgate_engine

body_path, out_dir = Path(sys.argv[1]), Path(sys.argv[2])
here = Path(tollgate_engine.__file__).resolve()
print(f"tollgate_engine from {here.parent} (library {tollgate_engine.LIBRARY_PATH}, native {tollgate_engine.NATIVE})")
body = body_path.read_bytes()

with tollgate_engine.Engine() as engine:
    price = engine.price_json({"provider": "openai", "model": "gpt-4o", "tokensIn": 1200, "cachedTokens": 800, "tokensOut": 350})
    fast = engine.price("openai", "gpt-4o", tokens_in=1200, cached_tokens=800, tokens_out=350)
    assert str(fast.cost_cents) == price["costCents"], (fast, price)
    item = tollgate_engine.extract_usage("anthropic", body)[0]
    engine.upsert_customer({"customerId": "acme", "timestamp": "2026-01-01T00:00:00Z",
                            "plan": {"pricingModel": "usage_based", "unitRevenueCents": 5}})
    [tracked] = engine.track_response("anthropic", body, {"customerId": "acme", "runId": "run-1", "timestamp": "2026-01-10T00:00:00Z"})
    assert tracked["status"] == "accepted", tracked
    margin = engine.customer_margin("acme")

record = {
    "price": price["costCents"],
    "extractTokens": [item["tokensIn"], item["cachedTokens"], item["cacheWrite5mTokens"], item["tokensOut"]],
    "trackCost": tracked["costCents"],
    "trackRevenue": tracked["revenueCents"],
    "margin": str(margin.margin_cents),
}
line = json.dumps(record, separators=(",", ":")) + "\n"
out_dir.mkdir(parents=True, exist_ok=True)
(out_dir / "python.json").write_text(line, encoding="utf-8")
print(line, end="")
