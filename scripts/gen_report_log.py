#!/usr/bin/env python3
"""Writes a `tollgate report` benchmark log to stdout, built like the `report/` criterion bench's
log (benches/ledger.rs): 100 customers on the four plans, then N events over 4 models with 10 %
retries (exact duplicates) and a resolution every 50 events.

    python3 scripts/gen_report_log.py 892000 > /tmp/r.jsonl   # 999,140 records, 210 MB
"""
import sys

T0 = 1_793_577_600_000  # 2026-11-02T00:00:00Z
MODELS = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "claude-haiku-4-5"]
PROVIDERS = ["openai", "openai", "anthropic", "anthropic"]
PLANS = [
    '{"pricingModel":"usage_based","unitRevenueCents":2}',
    '{"pricingModel":"outcome_based","unitRevenueCents":150}',
    '{"pricingModel":"per_seat","seatPriceCents":2500}',
    '{"pricingModel":"flat","monthlyFeeCents":9900}',
]


def event(i):
    m = i % 4
    return (
        '{"customerId":"cust-%d","runId":"run-%d","agentId":"agent-%d","provider":"%s",'
        '"model":"%s","tokensIn":%d,"cachedTokens":%d,"tokensOut":%d,'
        '"idempotencyKey":"req-%010d","ts":%d}'
        % (i % 100, i % 5000, i % 5, PROVIDERS[m], MODELS[m], 1000 + i % 3000, i % 700,
           100 + i % 900, i, T0 + i * 10)
    )


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 892_000
    out = sys.stdout
    for c in range(100):
        out.write('{"type":"customer","customerId":"cust-%d","seats":5,"plan":%s,'
                  '"ts":"2026-11-01T00:00:00Z"}\n' % (c, PLANS[c % 4]))
    for i in range(n):
        out.write(event(i) + "\n")
        if i % 10 == 3:
            out.write(event(i - 3) + "\n")
        if i % 50 == 7:
            out.write('{"type":"resolve","customerId":"cust-%d","runId":"run-%d",'
                      '"outcome":"resolved","ts":%d}\n' % (i % 100, i % 5000, T0 + i * 10))


if __name__ == "__main__":
    main()
