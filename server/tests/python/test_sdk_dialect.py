"""The product dialect's edges through the real tollgateai client: idempotency on
`idempotencyKey`, JSON floats booked as the exact decimals of their text, the guard decision
in the SDK's shape, and precise errors for bad input (nothing booked).

Expected figures are hand calculations written next to each assertion, or (for the guard)
the same decision asked of our binding in-process on the same ledger.
"""

from __future__ import annotations

import json
import unittest
from decimal import Decimal

from harness import Server, require_sdk, tg, tollgateai

POLICIES = [
    # 100 cents a month for "capped"; over it, block.
    {"type": "policy", "policyId": "capped-budget", "customerId": "capped",
     "budget": {"cents": "100", "period": "month"}, "action": "block"},
    # "shrink" is downgraded from gpt-4o to gpt-4o-mini once its 10 cents a month are used.
    {"type": "policy", "policyId": "shrink-downgrade", "customerId": "shrink",
     "budget": {"cents": "10", "period": "month"}, "action": "downgrade",
     "downgrade": {"gpt-4o": "gpt-4o-mini"}},
]


class DialectThroughSdk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_sdk()
        cls.server = Server()
        cls.server.create_key("ingest")
        cls.server.create_key("read")
        # Policies are records of the workspace's ledger; the product API has no call for
        # them (tollgateai sets them in its dashboard), so they are booked into the
        # workspace's store with our binding before the server opens it.
        seed = tg.Engine.open(cls.server.workspace_dir(), durability="sync")
        for p in POLICIES:
            seed.upsert_policy(p)
        seed.close()
        cls.server.start()
        cls.sdk = cls.server.sdk_client()
        cls.ours = tg.Engine()
        for p in POLICIES:
            cls.ours.upsert_policy(p)

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "server"):
            try:
                cls.server.stop()
            finally:
                cls.server.close()
        if hasattr(cls, "ours"):
            cls.ours.close()

    def booked(self, query):
        """The server's report for `query`, read through its read-scoped API when there is one,
        else after the class's run (see test_zz_store_agrees)."""
        return self.server.report(query)

    # ---- idempotency

    def test_same_idempotency_key_twice_is_one_record(self):
        ev = {"customerId": "idem", "runId": "r1", "provider": "openai", "model": "gpt-4o-mini",
              "tokensIn": 1000, "tokensOut": 500, "cachedTokens": 0, "reasoningTokens": 0,
              "idempotencyKey": "chatcmpl-idem-1"}
        first = self.sdk.track(ev)
        second = self.sdk.track(ev)
        self.assertEqual(first["status"], "accepted")
        self.assertEqual(second["status"], "duplicate")
        self.assertEqual(second["eventId"], first["eventId"])
        # gpt-4o-mini: 1000 × 0.000015 + 500 × 0.00006 cents = 0.015 + 0.03 = 0.045, once.
        self.assertEqual(Decimal(first["costCents"]), Decimal("0.045"))
        # The SDK's resolve keys on runId + "#resolve": resolving twice is one resolution.
        self.assertEqual(self.sdk.resolve("r1", "idem", "resolved", revenue_unit_cents=7)["status"], "accepted")
        self.assertEqual(self.sdk.resolve("r1", "idem", "resolved", revenue_unit_cents=7)["status"], "duplicate")

    def test_same_key_other_content_is_a_conflict_and_the_first_stands(self):
        ev = {"customerId": "idem2", "provider": "openai", "model": "gpt-4o-mini", "tokensIn": 10,
              "tokensOut": 0, "idempotencyKey": "k-conflict"}
        self.assertEqual(self.sdk.track(ev)["status"], "accepted")
        with self.assertRaises(tollgateai.TollgateError) as cm:
            self.sdk.track(dict(ev, tokensIn=11))
        self.assertEqual(cm.exception.status, 409)
        self.assertEqual(cm.exception.body["error"]["code"], "conflict")

    # ---- floats are exact decimals of their text

    def test_floats_are_read_as_their_decimal_text(self):
        # 0.1 + 0.2 is 0.30000000000000004 in binary floating point; booked exactly, the two
        # stated costs sum to 0.3.
        for key, cents in (("f1", 0.1), ("f2", 0.2)):
            r = self.sdk.track({"customerId": "floats", "provider": "openrouter", "model": "x/y",
                                "tokensIn": 0, "tokensOut": 0, "providerCostCents": cents, "idempotencyKey": key})
            self.assertEqual(r["costCents"], str(cents))
        # 1.005 has no exact binary form (1.00499999999999989...); its text is 1.005.
        r = self.sdk.track({"customerId": "floats", "provider": "openrouter", "model": "x/y", "tokensIn": 0,
                            "tokensOut": 0, "providerCostCents": 1.005, "idempotencyKey": "f3"})
        self.assertEqual(r["costCents"], "1.005")
        # json.dumps writes 1e-07 for 0.0000001: exponent notation is read exactly as well.
        r = self.sdk.track({"customerId": "floats", "provider": "openai", "model": "dall-e-3", "tokensIn": 0,
                            "tokensOut": 0, "externalCostCents": 1e-07, "idempotencyKey": "f4"})
        self.assertEqual(Decimal(r["costCents"]), Decimal("0.0000001"))
        # More digits than a double holds (it would be 123456789.12345679): kept, from the text.
        status, body = self.server.post("/api/track", b'{"customerId":"floats","provider":"openrouter","model":"x/y",'
                                        b'"providerCostCents":123456789.123456789123,"idempotencyKey":"f5"}')
        self.assertEqual(status, 200, body)
        self.assertEqual(body["costCents"], "123456789.123456789123")
        # revenue per call as a float: 33.3 three times is exactly 99.9.
        for i in range(3):
            self.sdk.track({"customerId": "floats-rev", "provider": "openai", "model": "gpt-4o-mini",
                            "tokensIn": 0, "tokensOut": 0, "revenueUnitCents": 33.3, "idempotencyKey": f"rev{i}"})
        # customer totals by hand: 0.1 + 0.2 + 1.005 + 0.0000001 + 123456789.123456789123
        self.__class__.expect_floats = (Decimal("123456790.428456889123"), Decimal("99.9"))

    def test_too_many_digits_is_refused_precisely(self):
        # 25 fractional digits of a cent: beyond the exact range, refused (never rounded).
        status, body = self.server.post("/api/track", b'{"customerId":"digits","provider":"openrouter","model":"x/y",'
                                        b'"providerCostCents":0.1234567890123456789012345,"idempotencyKey":"d1"}')
        self.assertEqual(status, 400, body)
        self.assertEqual(body["error"]["code"], "invalid_input")
        self.assertIn("providerCostCents", body["error"]["message"])

    # ---- the guard

    def allow_both(self, customer, **kw):
        got = self.sdk.allow(customer, **kw)
        cents = kw.pop("estimated_cost_cents", None)
        want = self.ours.allow(customer, estimated_cost_cents=None if cents is None else repr(cents), **kw).to_dict()
        return got, want

    def assert_same_decision(self, got, want):
        for k in ("decision", "reason", "policyId", "period", "suggestedModel", "costCents", "revenueCents",
                  "marginPct", "remainingBudgetCents"):
            self.assertEqual(got.get(k, "<absent>"), want[k], k)

    def test_guard_decisions_in_the_sdk_shape(self):
        spend = {"customerId": "capped", "provider": "openrouter", "model": "x/y", "tokensIn": 0,
                 "tokensOut": 0, "providerCostCents": 99.5, "idempotencyKey": "spend-1"}
        self.assertEqual(self.sdk.track(spend)["status"], "accepted")
        self.ours.track(dict(spend, providerCostCents="99.5"))
        # 100 − 99.5 = 0.5 cents left: an estimate of 0.5 fits exactly, 0.6 does not.
        got, want = self.allow_both("capped", estimated_cost_cents=0.5)
        self.assert_same_decision(got, want)
        self.assertEqual((got["decision"], got["reason"], got["remainingBudgetCents"]), ("allow", "ok", "0.5"))
        got, want = self.allow_both("capped", estimated_cost_cents=0.6)
        self.assert_same_decision(got, want)
        self.assertEqual((got["decision"], got["reason"], got["policyId"]), ("block", "budget_exceeded", "capped-budget"))
        # Downgrade: 10 cents spent of 10; gpt-4o does not fit, its replacement is suggested.
        spend = dict(spend, customerId="shrink", providerCostCents=10, idempotencyKey="spend-2")
        self.sdk.track(spend)
        self.ours.track(dict(spend, providerCostCents="10"))
        got, want = self.allow_both("shrink", model="gpt-4o", estimated_cost_cents=1)
        self.assert_same_decision(got, want)
        self.assertIn(got["decision"], ("downgrade", "block"))
        # No policy for this customer.
        got, want = self.allow_both("nobody", agent_id="a")
        self.assert_same_decision(got, want)
        self.assertEqual((got["decision"], got["reason"]), ("allow", "no_policy"))

    def test_guard_with_a_wrong_key_falls_back_in_the_sdk(self):
        bad = tollgateai.TollgateClient(api_key="tg_wrong", base_url=self.server.url)
        g = bad.allow("capped", estimated_cost_cents=0.6)
        self.assertEqual((g["decision"], g["reason"]), ("allow", "guard_unavailable"))  # its fail-open default
        g = bad.allow("capped", estimated_cost_cents=0.6, fail_closed=True)
        self.assertEqual(g["decision"], "block")

    # ---- bad input: a precise error, nothing booked

    def test_bad_events_are_refused_with_the_field_named(self):
        cases = [
            ({"customerId": "bad", "provider": "openai", "model": "gpt-4o", "tokensIn": -5, "tokensOut": 1,
              "idempotencyKey": "b1"}, "tokensIn"),
            ({"provider": "openai", "model": "gpt-4o", "tokensIn": 5, "idempotencyKey": "b2"}, "customerId"),
            ({"customerId": "bad", "provider": "openai", "model": "gpt-4o", "tokensIn": "many",
              "idempotencyKey": "b3"}, "tokensIn"),
            ({"customerId": "bad", "provider": "anthropic", "model": "resolution", "tokensIn": 0, "tokensOut": 0,
              "outcome": "won", "runId": "r", "idempotencyKey": "b4"}, "outcome"),
            ({"customerId": "bad", "provider": "anthropic", "model": "resolution", "tokensIn": 0, "tokensOut": 0,
              "outcome": "resolved", "idempotencyKey": "b5"}, "runId"),
        ]
        for ev, field in cases:
            with self.subTest(field=field, event=ev):
                with self.assertRaises(tollgateai.TollgateError) as cm:
                    self.sdk.track(ev)
                self.assertEqual(cm.exception.status, 400)
                err = cm.exception.body["error"]
                self.assertEqual(err["code"], "invalid_input")
                self.assertIn(field, err["message"])

    def test_upsert_customer_bad_plan_raises(self):
        with self.assertRaises(tollgateai.TollgateError) as cm:
            self.sdk.upsert_customer("bad-plan", plan={"name": "X", "pricingModel": "per_galaxy", "unitRevenueCents": 1})
        self.assertEqual(cm.exception.status, 400)
        self.assertIn("pricingModel", cm.exception.body["error"]["message"])


if __name__ == "__main__":
    unittest.main()
