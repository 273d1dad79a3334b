#!/usr/bin/env python3
"""Writes a large JSON Lines file of events for measuring `tollgate price` throughput.

    python3 scripts/gen_price_lines.py 2000000 > /tmp/price-2m.jsonl
    time target/release/tollgate price < /tmp/price-2m.jsonl > /dev/null

Seeded (the same N gives the same file). Events mix providers, models (exact names, provider
prefixes, Bedrock cross-region ids, dated names, a gateway name), every usage field, service
tiers, multipliers, timestamps and a few unknown models — shaped like a real usage log, about
200 bytes a line. The file is scratch data: do not commit it.
"""

import json
import random
import sys

MODELS = [
    ("openai", "gpt-4o"),
    ("openai", "gpt-4o-mini-2024-07-18"),
    ("openai", "o3-mini"),
    ("openai", "gpt-4.1"),
    ("anthropic", "claude-sonnet-4-5-20250929"),
    ("anthropic", "claude-opus-4-8"),
    ("anthropic", "claude-haiku-4-5"),
    ("bedrock", "us.anthropic.claude-sonnet-4-6"),
    ("bedrock", "anthropic.claude-3-5-sonnet-20241022-v2:0"),
    ("gemini", "gemini-2.5-flash"),
    ("gemini", "gemini-2.5-pro"),
    ("vertex_ai", "gemini-2.0-flash-001"),
    ("deepseek", "deepseek-chat"),
    ("xai", "grok-3"),
    ("dashscope", "qwen-flash"),
    ("azure", "azure/gpt-4o"),
    ("openrouter", "anthropic/claude-sonnet-4.5"),
    ("openai", "my-internal-model"),
]
TIERS = [None, None, None, "default", "flex", "priority", "batch"]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rng = random.Random(20261127)
    out = sys.stdout
    base_ms = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    for i in range(n):
        provider, model = MODELS[rng.randrange(len(MODELS))]
        tokens_out = rng.randrange(0, 4000)
        ev = {
            "customerId": f"c{rng.randrange(1000)}",
            "provider": provider,
            "model": model,
            "tokensIn": rng.randrange(0, 20000),
            "cachedTokens": rng.choice([0, 0, rng.randrange(0, 50000)]),
            "tokensOut": tokens_out,
            "timestamp": base_ms + i * 1000,
        }
        if rng.random() < 0.3:
            ev["reasoningTokens"] = rng.randrange(0, tokens_out + 1)
        if rng.random() < 0.2:
            ev["cacheWrite5mTokens"] = rng.randrange(0, 5000)
            ev["cacheWrite1hTokens"] = rng.randrange(0, 2000)
        tier = rng.choice(TIERS)
        if tier:
            ev["serviceTier"] = tier
        if provider == "anthropic" and rng.random() < 0.2:
            ev["inferenceGeo"] = "us"
        out.write(json.dumps(ev, separators=(",", ":")))
        out.write("\n")


if __name__ == "__main__":
    main()
