"""The SDK's `allow()` against `tollgate serve`: the guard decision in the SDK's shape, equal to
the same question asked of our binding in-process on an identical ledger, with hand-computed
budget figures; and the SDK's own fail-open / fail-closed answer when the server refuses it.

Policies are records of the workspace's ledger. The product API has no call for them
(tollgateai's users set them in its dashboard), so they are booked into the workspace's store
with our binding before the server opens it.
"""

from __future__ import annotations

import unittest

from harness import Server, require_sdk, tg, tollgateai

POLICIES = [
    # 100 cents a month for "capped"; over it, block.
    {"type": "policy", "policyId": "capped-budget", "customerId": "capped",
     "budget": {"cents": "100", "period": "month"}, "action": "block"},
    # "shrink": 10 cents a month, then gpt-4o is downgraded to gpt-4o-mini.
    {"type": "policy", "policyId": "shrink-downgrade", "customerId": "shrink",
     "budget": {"cents": "10", "period": "month"}, "action": "downgrade",
     "downgrade": {"gpt-4o": "gpt-4o-mini"}},
]
SPEND = [
    # (SDK payload, the same event for our binding)
    ({"customerId": "capped", "provider": "openrouter", "model": "x/y", "tokensIn": 0, "tokensOut": 0,
      "providerCostCents": 99.5, "idempotencyKey": "spend-1"},
     {"customerId": "capped", "provider": "openrouter", "model": "x/y", "providerCostCents": "99.5",
      "idempotencyKey": "spend-1"}),
    ({"customerId": "shrink", "provider": "openrouter", "model": "x/y", "tokensIn": 0, "tokensOut": 0,
      "providerCostCents": 9.75, "idempotencyKey": "spend-2"},
     {"customerId": "shrink", "provider": "openrouter", "model": "x/y", "providerCostCents": "9.75",
      "idempotencyKey": "spend-2"}),
]
# allow() gives up after 0.3 s by default and answers "guard_unavailable" itself; a loaded CI
# machine running a debug build can be slower than that, so the tests pass its timeout.
GUARD_TIMEOUT_S = 10.0
SHAPE = ("decision", "reason", "policyId", "period", "suggestedModel", "costCents", "revenueCents",
         "marginPct", "remainingBudgetCents")


class GuardThroughSdk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_sdk()
        cls.server = Server()
        cls.addClassCleanup(cls.server.close)  # also when setUpClass fails (tearDownClass is skipped then)
        cls.server.create_key("ingest")
        seed = tg.Engine.open(cls.server.workspace_dir(), durability="sync")
        cls.ours = tg.Engine()
        for p in POLICIES:
            seed.upsert_policy(p)
            cls.ours.upsert_policy(p)
        seed.close()
        cls.server.start()
        cls.sdk = cls.server.sdk_client()
        for sdk_ev, our_ev in SPEND:
            assert cls.sdk.track(sdk_ev)["status"] == "accepted"
            assert cls.ours.track(our_ev)["status"] == "accepted"

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "server"):
            try:
                cls.server.stop()
            finally:
                cls.server.close()
        if hasattr(cls, "ours"):
            cls.ours.close()

    def both(self, customer, estimate=None, **kw):
        """The SDK's answer from the server, and ours in-process (the estimate's text, exact)."""
        got = self.sdk.allow(customer, estimated_cost_cents=estimate, timeout=GUARD_TIMEOUT_S, **kw)
        want = self.ours.allow(customer, estimated_cost_cents=None if estimate is None else repr(estimate), **kw).to_dict()
        for k in SHAPE:
            self.assertEqual(got.get(k, "<absent>"), want[k], k)
        return got

    def test_budget_allows_up_to_the_last_cent_and_blocks_beyond(self):
        # 100 − 99.5 = 0.5 cents left: an estimate of 0.5 fits exactly, 0.6 does not.
        g = self.both("capped", 0.5)
        self.assertEqual((g["decision"], g["reason"], g["policyId"]), ("allow", "ok", "capped-budget"))
        self.assertEqual((g["costCents"], g["remainingBudgetCents"]), ("99.5", "0.5"))
        g = self.both("capped", 0.6)
        self.assertEqual((g["decision"], g["reason"], g["policyId"]), ("block", "budget_exceeded", "capped-budget"))

    def test_downgrade_suggests_the_cheaper_model(self):
        # 10 − 9.75 = 0.25 left: gpt-4o at an estimate of 1 cent does not fit; the map's
        # replacement is judged as a call of unknown cost (something is left), so it is
        # suggested (README: Guardrails, downgrade with an estimate in cents).
        g = self.both("shrink", 1, model="gpt-4o")
        self.assertEqual((g["decision"], g["suggestedModel"], g["remainingBudgetCents"]), ("downgrade", "gpt-4o-mini", "0.25"))
        # The SDK's documented use: g["suggestedModel"] when the decision is "downgrade".
        model = g["suggestedModel"] if g["decision"] == "downgrade" else "gpt-4o"
        self.assertEqual(model, "gpt-4o-mini")

    def test_no_policy(self):
        g = self.both("nobody", agent_id="a", model="gpt-4o")
        self.assertEqual((g["decision"], g["reason"], g["policyId"]), ("allow", "no_policy", None))

    def test_refused_guard_falls_back_in_the_sdk(self):
        # A wrong key: the server answers 401, the SDK answers itself (it never raises).
        bad = tollgateai.TollgateClient(api_key="tg_wrong", base_url=self.server.url)
        g = bad.allow("capped", estimated_cost_cents=0.6, timeout=GUARD_TIMEOUT_S)
        self.assertEqual((g["decision"], g["reason"]), ("allow", "guard_unavailable"))
        self.assertEqual(bad.allow("capped", estimated_cost_cents=0.6, fail_closed=True, timeout=GUARD_TIMEOUT_S)["decision"], "block")
        # The real key works on the same server (the fallback above was the server's refusal).
        self.assertEqual(self.sdk.allow("capped", estimated_cost_cents=0.6, timeout=GUARD_TIMEOUT_S)["reason"], "budget_exceeded")

    def test_bad_estimate_is_refused_precisely(self):
        status, body = self.server.post("/api/guard", {"customerId": "capped", "estimatedCostCents": "lots"})
        self.assertEqual(status, 400, body)
        self.assertIn("estimatedCostCents", body["error"]["message"])


if __name__ == "__main__":
    unittest.main()
