"""The product dialect's edges through the real tollgateai client: idempotency on
`idempotencyKey`, JSON floats booked as the exact decimals of their text, precise errors for
bad input with nothing booked.

All calls are made in `setUpClass` against one server, which is then stopped gracefully; its
workspace store is opened with our binding and the tests read what was booked. Expected
figures are hand calculations written next to each assertion.
"""

from __future__ import annotations

import unittest
from decimal import Decimal

from harness import Server, require_sdk, tollgateai

IDEM = {"customerId": "idem", "runId": "r1", "provider": "openai", "model": "gpt-4o-mini",
        "tokensIn": 1000, "tokensOut": 500, "cachedTokens": 0, "reasoningTokens": 0,
        "idempotencyKey": "chatcmpl-idem-1"}
CONFLICT = {"customerId": "idem2", "provider": "openai", "model": "gpt-4o-mini", "tokensIn": 10,
            "tokensOut": 0, "idempotencyKey": "k-conflict"}

BAD_EVENTS = [
    # (event, the field the error names)
    ({"customerId": "bad", "provider": "openai", "model": "gpt-4o", "tokensIn": -5, "tokensOut": 1,
      "idempotencyKey": "b1"}, "tokensIn"),
    ({"provider": "openai", "model": "gpt-4o", "tokensIn": 5, "idempotencyKey": "b2"}, "customerId"),
    ({"customerId": "bad", "provider": "openai", "model": "gpt-4o", "tokensIn": "many",
      "idempotencyKey": "b3"}, "tokensIn"),
    ({"customerId": "bad", "provider": "openai", "model": "gpt-4o", "tokensIn": 5.0,
      "idempotencyKey": "b4"}, "tokensIn"),
    ({"customerId": "bad", "provider": "openai", "model": "gpt-4o", "tokensIn": 5, "tokenOut": 3,
      "idempotencyKey": "b5"}, "tokenOut"),
    ({"customerId": "bad", "provider": "anthropic", "model": "resolution", "tokensIn": 0, "tokensOut": 0,
      "outcome": "won", "runId": "r", "idempotencyKey": "b6"}, "outcome"),
    ({"customerId": "bad", "provider": "anthropic", "model": "resolution", "tokensIn": 0, "tokensOut": 0,
      "outcome": "resolved", "idempotencyKey": "b7"}, "runId"),
]


class TrackDialectThroughSdk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_sdk()
        cls.server = Server()
        cls.addClassCleanup(cls.server.close)  # also when setUpClass fails (tearDownClass is skipped then)
        cls.server.create_key("ingest")
        cls.server.start()
        sdk = cls.server.sdk_client()
        a = cls.answers = {}
        try:
            # idempotency: the same event twice; the SDK's resolve twice (key runId#resolve)
            a["first"] = sdk.track(IDEM)
            a["second"] = sdk.track(IDEM)
            a["resolve1"] = sdk.resolve("r1", "idem", "resolved", revenue_unit_cents=7)
            a["resolve2"] = sdk.resolve("r1", "idem", "resolved", revenue_unit_cents=7)
            # same key, other content
            a["conflict_first"] = sdk.track(CONFLICT)
            try:
                sdk.track(dict(CONFLICT, tokensIn=11))
                a["conflict_second"] = None
            except tollgateai.TollgateError as e:
                a["conflict_second"] = e
            # floats: stated costs and a revenue, as json.dumps writes them
            for key, cents in (("f1", 0.1), ("f2", 0.2), ("f3", 1.005)):
                a[key] = sdk.track({"customerId": "floats", "provider": "openrouter", "model": "x/y", "tokensIn": 0,
                                    "tokensOut": 0, "providerCostCents": cents, "idempotencyKey": key})
            a["f4"] = sdk.track({"customerId": "floats", "provider": "openai", "model": "dall-e-3", "tokensIn": 0,
                                 "tokensOut": 0, "externalCostCents": 1e-07, "idempotencyKey": "f4"})
            a["f5"] = cls.server.post("/api/track", b'{"customerId":"floats","provider":"openrouter","model":"x/y",'
                                      b'"providerCostCents":123456789.123456789123,"idempotencyKey":"f5"}')
            for i in range(3):
                a[f"rev{i}"] = sdk.track({"customerId": "floats-rev", "provider": "openai", "model": "gpt-4o-mini",
                                          "tokensIn": 0, "tokensOut": 0, "revenueUnitCents": 33.3,
                                          "idempotencyKey": f"rev{i}"})
            # refused input
            a["digits"] = cls.server.post("/api/track", b'{"customerId":"digits","provider":"openrouter","model":"x/y",'
                                          b'"providerCostCents":0.1234567890123456789012345,"idempotencyKey":"d1"}')
            a["bad"] = []
            for ev, field in BAD_EVENTS:
                try:
                    sdk.track(ev)
                    a["bad"].append((ev, field, None))
                except tollgateai.TollgateError as e:
                    a["bad"].append((ev, field, e))
        finally:
            cls.server.stop()
        cls.store = cls.server.open_store()
        cls.rows = {r["customerId"]: r for r in cls.store.report({"groupBy": ["customer"]})["rows"]}

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "store", None) is not None:
            cls.store.close()
        if hasattr(cls, "server"):
            cls.server.close()

    # ---- idempotency

    def test_same_idempotency_key_twice_is_one_record(self):
        a = self.answers
        self.assertEqual(a["first"]["status"], "accepted")
        self.assertEqual(a["second"]["status"], "duplicate")
        # gpt-4o-mini (1.5e-7 / 6e-7 USD): 1000 × 0.000015 + 500 × 0.00006 cents = 0.045, once.
        self.assertEqual(Decimal(a["first"]["costCents"]), Decimal("0.045"))
        row = self.rows["idem"]
        self.assertEqual(row["events"], 1)
        self.assertEqual(Decimal(row["costCents"]), Decimal("0.045"))

    def test_resolving_twice_is_one_resolution(self):
        self.assertEqual(self.answers["resolve1"]["status"], "accepted")
        self.assertEqual(self.answers["resolve2"]["status"], "duplicate")
        row = self.rows["idem"]
        self.assertEqual((row["runsResolved"], Decimal(row["outcomeRevenueCents"])), (1, Decimal(7)))

    def test_same_key_other_content_is_a_conflict_and_the_first_stands(self):
        e = self.answers["conflict_second"]
        self.assertIsInstance(e, tollgateai.TollgateError)
        self.assertEqual(e.status, 409)
        self.assertEqual(e.body["error"]["code"], "conflict")
        row = self.rows["idem2"]
        self.assertEqual((row["events"], row["tokensIn"]), (1, 10))

    # ---- floats are exact decimals of their text

    def test_floats_are_read_as_their_decimal_text(self):
        a = self.answers
        # 0.1 and 0.2 as written; 1.005 has no exact binary form (1.00499999999999989...).
        self.assertEqual([a[k]["costCents"] for k in ("f1", "f2", "f3")], ["0.1", "0.2", "1.005"])
        # json.dumps writes 1e-07: exponent notation is read exactly as well.
        self.assertEqual(Decimal(a["f4"]["costCents"]), Decimal("0.0000001"))
        # More digits than a double holds (as a double: 123456789.12345679): kept from the text.
        status, body = a["f5"]
        self.assertEqual(status, 200, body)
        self.assertEqual(body["costCents"], "123456789.123456789123")

    def test_float_sums_are_exact(self):
        # 0.1 + 0.2 is 0.30000000000000004 in binary floating point. By hand:
        # 0.1 + 0.2 + 1.005 + 0.0000001 + 123456789.123456789123 = 123456790.428456889123.
        self.assertEqual(Decimal(self.rows["floats"]["costCents"]), Decimal("123456790.428456889123"))
        self.assertEqual(self.rows["floats"]["events"], 5)
        # 33.3 three times (a float revenue per call): exactly 99.9.
        self.assertEqual(Decimal(self.rows["floats-rev"]["revenueCents"]), Decimal("99.9"))

    # ---- refused input: a precise error, nothing booked

    def test_too_many_digits_is_refused_not_rounded(self):
        status, body = self.answers["digits"]
        self.assertEqual(status, 400, body)
        self.assertIn("providerCostCents", body["error"]["message"])
        self.assertNotIn("digits", self.rows)

    def test_bad_events_are_refused_with_the_field_named(self):
        for ev, field, e in self.answers["bad"]:
            with self.subTest(field=field, event=ev):
                self.assertIsInstance(e, tollgateai.TollgateError)
                self.assertEqual(e.status, 400)
                err = e.body["error"]
                self.assertEqual(err["code"], "invalid_field")
                self.assertIn(field, err["message"])
        self.assertNotIn("bad", self.rows)


if __name__ == "__main__":
    unittest.main()
