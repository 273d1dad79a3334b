"""Publishing rate cards, the snapshot history, overrides and pinned snapshots."""

import hashlib
import json
import unittest

import common  # noqa: F401
import tollgate_engine as tg

T = 1767225600000  # 2026-01-01T00:00:00Z
CARD = b'{"gpt-4o": {"input_cost_per_token": 5e-06, "output_cost_per_token": 2e-05, "litellm_provider": "openai"}}'


def event(ts):
    return {"provider": "openai", "model": "gpt-4o", "tokensIn": 1000, "timestamp": ts}


class RateCardTest(unittest.TestCase):
    def setUp(self):
        self.engine = tg.Engine()
        self.embedded = self.engine.snapshots()[0]["id"]
        self.card_id = self.engine.publish_rate_card(CARD, T)

    def tearDown(self):
        self.engine.close()

    def test_publish_prices_by_event_time(self):
        # The id is the content hash: the first 8 bytes of SHA-256 of the card bytes.
        self.assertEqual(self.card_id, hashlib.sha256(CARD).hexdigest()[:16])
        # 1000 * 2.5e-06 USD = 0.25 cents before T; 1000 * 5e-06 USD = 0.5 cents from T.
        self.assertEqual(self.engine.price_json(event(T - 1))["costCents"], "0.25")
        self.assertEqual(self.engine.price_json(event(T))["costCents"], "0.5")
        self.assertEqual(self.engine.price_json(event(T))["snapshot"], self.card_id)
        snaps = self.engine.snapshots()
        self.assertEqual([(s["id"], s["effectiveFromMs"]) for s in snaps], [(self.embedded, 0), (self.card_id, T)])
        self.assertEqual(snaps[1]["models"], 1)

    def test_publish_reports_unknown_rate_fields(self):
        # A mistyped tier field ("abck" for "200k") is accepted, prices nothing, and is reported.
        mistyped = (b'{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06, '
                    b'"input_cost_per_token_above_abck_tokens": 2e-06}}')
        want = "registry key `m`: `input_cost_per_token_above_abck_tokens` looks like a rate but matches no rate name the engine knows; it is not used for pricing"
        r = self.engine.publish_rate_card_report(mistyped, T + 10)
        self.assertEqual(r, {"snapshot": hashlib.sha256(mistyped).hexdigest()[:16], "warnings": [want]})
        with self.assertWarns(UserWarning) as cm:
            self.assertEqual(self.engine.publish_rate_card(mistyped, T + 20), r["snapshot"])
        self.assertEqual(str(cm.warning), want)
        # 300,000 x 1e-06 USD = 30 cents: the mistyped rate is unused.
        self.assertEqual(self.engine.price_json({"provider": "openai", "model": "m", "tokensIn": 300000,
                                                 "timestamp": T + 30})["costCents"], "30")
        self.assertEqual(self.engine.publish_rate_card_report(CARD, T + 40)["warnings"], [])

    def test_a_bad_card_changes_nothing(self):
        bad = b'{"x": {"input_cost_per_token": "abc", "litellm_provider": "openai"}}'
        with self.assertRaises(tg.TollgateError) as cm:
            self.engine.publish_rate_card(bad, T + 1)
        self.assertEqual(cm.exception.status, tg.ERR_RATE_CARD)
        self.assertIn("registry key `x`, field `input_cost_per_token`", cm.exception.detail)
        with self.assertRaises(tg.TollgateError) as cm:
            self.engine.publish_rate_card(b"{not json", T + 1)
        self.assertEqual(cm.exception.status, tg.ERR_RATE_CARD)
        with self.assertRaises(tg.TollgateError) as cm:
            self.engine.publish_rate_card(CARD, -1)
        self.assertEqual(cm.exception.status, tg.ERR_INVALID_INPUT)
        self.assertEqual(len(self.engine.snapshots()), 2)
        self.assertEqual(self.engine.price_json(event(T + 5))["costCents"], "0.5")

    def test_pinned_snapshots_ignore_event_time_and_later_changes(self):
        with self.engine.pin(self.embedded) as old, self.engine.pin(self.card_id) as new:
            self.assertEqual((old.id, old.effective_from_ms), (self.embedded, 0))
            self.assertEqual((new.id, new.effective_from_ms), (self.card_id, T))
            self.assertEqual(old.price_json(event(T + 1))["costCents"], "0.25")
            self.assertEqual(new.price_json(event(0))["costCents"], "0.5")
            out = new.price_batch([tg.PriceItem("openai", "gpt-4o", tokens_in=1000, timestamp_ms=0)])
            self.assertEqual(str(out[0].cost_cents), "0.5")
            self.assertEqual(out[0].snapshot, self.card_id)
            # An override set after pinning does not reach the pinned view.
            self.engine.set_override("gpt-4o", {"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06})
            self.assertEqual(new.price_json(event(T))["costCents"], "0.5")
        with self.assertRaises(tg.TollgateError) as cm:
            self.engine.pin("0000000000000001")
        self.assertEqual(cm.exception.status, tg.ERR_NOT_FOUND)
        with self.assertRaises(tg.TollgateError) as cm:
            old.price_json(event(0))  # unpinned
        self.assertEqual(cm.exception.status, tg.ERR_INVALID_HANDLE)

    def test_overrides(self):
        self.engine.set_override("gpt-4o", json.dumps({"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06}))
        r = self.engine.price_json(event(T))
        # 1000 * 2e-06 USD = 0.2 cents, whatever the snapshot
        self.assertEqual((r["costCents"], r["match"]), ("0.2", "override"))
        self.assertEqual(self.engine.price_json(event(0))["costCents"], "0.2")
        with self.engine.pin() as pinned:
            self.assertEqual(pinned.price_json(event(T))["costCents"], "0.2")
        with self.assertRaises(tg.TollgateError) as cm:
            self.engine.set_override("gpt-4o", {"input_cost_per_token": -1})
        self.assertEqual(cm.exception.status, tg.ERR_RATE_CARD)
        self.assertTrue(self.engine.remove_override("GPT-4O"))
        self.assertFalse(self.engine.remove_override("gpt-4o"))
        self.assertEqual(self.engine.price_json(event(T))["costCents"], "0.5")

    def test_a_pinned_snapshot_outlives_its_engine(self):
        pinned = self.engine.pin(self.card_id)
        self.engine.close()
        self.assertEqual(pinned.price_json(event(0))["costCents"], "0.5")
        pinned.unpin()
        pinned.unpin()  # twice is a no-op

    def test_custom_rate_card_replaces_the_embedded_one(self):
        with tg.Engine(rate_card=CARD) as e:
            self.assertEqual(e.price_json(event(0))["costCents"], "0.5")
            r = e.price_json({"provider": "anthropic", "model": "claude-sonnet-4-5", "tokensIn": 1})
            self.assertEqual((r["priced"], r["reason"]), (False, "unknown_model"))
        with self.assertRaises(tg.TollgateError) as cm:
            tg.Engine(rate_card=b"[]")
        self.assertEqual(cm.exception.status, tg.ERR_RATE_CARD)


if __name__ == "__main__":
    unittest.main()
