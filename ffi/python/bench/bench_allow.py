"""``Engine.allow`` through the native extension (``tg_allow``: a fixed-layout request and
decision, no JSON) against the JSON path (``tg_allow_json`` through ctypes, what ``allow``
does without the extension), on the ledger of the Rust benches (``benches/guard.rs``): a
customer with a policy of every rule and a month of events; each decision passes every rule.

Two requests: an estimate in cents, and an expected usage of gpt-4o priced by the engine.
Figures are the CPU time of the calling thread per call (median of 7 rounds), so a loaded
machine inflates them less than wall time would.

Run (after ``python3 -m build --wheel`` or with the package importable with ``_fast``):
``python3 ffi/python/bench/bench_allow.py`` (prints one line per figure).
"""

import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.append(str(HERE.parent))  # an installed package (with _fast) comes first

import tollgate_engine as tg  # noqa: E402
from tollgate_engine._native import native  # noqa: E402

T = 1768478400000  # 2026-01-15T12:00:00Z
DAY = 86400000


def per_call(fn, n, rounds=7):
    """Median over rounds of the mean CPU time of the calling thread per call, in µs."""
    out = []
    for _ in range(rounds):
        t = time.thread_time()
        for _ in range(n):
            fn()
        out.append((time.thread_time() - t) / n * 1e6)
    return statistics.median(out)


def main():
    if native is None:
        sys.exit("the native extension _fast is not built: build the wheel (README) first")
    with tg.Engine(clock_ms=T) as e:
        e.upsert_policy({"policyId": "p", "customerId": "acme", "budget": {"cents": "1000000", "period": "month"},
                         "minMargin": {"pct": "10", "period": "week", "minEvents": 5}, "maxRunCostCents": "100000",
                         "maxAgentCost": {"cents": "100000", "period": "day"}, "ts": 0})
        for i in range(300):
            e.track({"type": "tool", "customerId": "acme", "agentId": f"agent-{i % 3}", "runId": f"run-{i % 10}",
                     "externalCostCents": "1.5", "revenueUnitCents": "10", "ts": T - (i % 30) * DAY})
        usage = {"tokensIn": 1200, "cachedTokens": 800, "tokensOut": 350}
        cases = [
            ("estimate in cents", dict(agent_id="agent-1", run_id="run-7", estimated_cost_cents=3, at_ms=T)),
            ("expected usage", dict(agent_id="agent-1", run_id="run-7", model="gpt-4o", usage=usage,
                                    provider="openai", at_ms=T)),
        ]
        for name, kwargs in cases:
            fast, slow = e.allow("acme", **kwargs), e._allow_json("acme", **kwargs)
            assert fast.decision == "allow" and fast.to_dict() == slow.to_dict(), (fast, slow)
            n = 20000
            f = per_call(lambda: e.allow("acme", **kwargs), n)
            j = per_call(lambda: e._allow_json("acme", **kwargs), n)
            print(f"allow ({name}): native {f:.2f} µs, JSON path {j:.2f} µs per call ({j / f:.1f}x)")


if __name__ == "__main__":
    main()
