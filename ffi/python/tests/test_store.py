"""The durable engine (``Engine.open``): records survive a close and reopen, the directory
is owned by one engine at a time, checkpoints, a journal torn at its tail."""

import os
import tempfile
import unittest
from decimal import Decimal

import common  # noqa: F401
import tollgate_engine as tg

ACME = {"customerId": "acme", "plan": {"pricingModel": "usage_based", "unitRevenueCents": 5},
        "timestamp": "2026-01-01T00:00:00Z"}


def event(key):
    return {"customerId": "acme", "provider": "openai", "model": "gpt-4o", "tokensIn": 1000,
            "idempotencyKey": key, "timestamp": "2026-01-02T00:00:00Z"}


class DurableEngine(unittest.TestCase):
    def test_records_survive_a_reopen(self):
        with tempfile.TemporaryDirectory() as d:
            with tg.Engine.open(d) as e:
                self.assertEqual(e.upsert_customer(ACME)["status"], "accepted")
                for i in range(3):
                    self.assertEqual(e.track(event(f"k{i}"))["status"], "accepted")
                # One owner at a time.
                with self.assertRaises(tg.LockedError):
                    tg.Engine.open(d)
                e.checkpoint()
                self.assertEqual(e.track(event("k3"))["status"], "accepted")
            with tg.Engine.open(d, durability="interval", interval_ms=5) as e:
                r = e.recovery()
                self.assertEqual((r["checkpoint"], r["records"], r["tornTail"]), (2, 1, None))
                m = e.customer_margin("acme")
                # 4 events x 1000 tokens x 2.5e-6 USD = 1 cent; revenue 4 x 5 cents.
                self.assertEqual((m.events, m.cost_cents, m.revenue_cents), (4, Decimal("1"), Decimal("20")))
                self.assertEqual(e.track(event("k0"))["status"], "duplicate")

    def test_a_torn_tail_is_cut_and_reported(self):
        with tempfile.TemporaryDirectory() as d:
            with tg.Engine.open(d) as e:
                e.track(event("a"))
                e.track(event("b"))
            seg = os.path.join(d, "wal-00000000000000000001.tgj")
            size = os.path.getsize(seg)
            os.truncate(seg, size - 4)
            with tg.Engine.open(d) as e:
                r = e.recovery()
                self.assertEqual(r["records"], 1)
                self.assertEqual(r["tornTail"]["reason"], "the entry is cut short")
                self.assertEqual(e.customer_margin("acme").events, 1)

    def test_bad_options(self):
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(ValueError):
                tg.Engine.open(d, durability="sometimes")
            with self.assertRaises(tg.InvalidInputError):
                tg.Engine.open(d, durability="interval", interval_ms=0)
            with self.assertRaises(tg.MisuseError):
                tg.Engine().checkpoint()


if __name__ == "__main__":
    unittest.main()
