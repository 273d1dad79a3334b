"""Guardrails through the Python binding: the hand-computed scenarios of tests/guardrails.rs
(same numbers), reservations, bad policies, and 8 threads reserving and settling.

Rates (LiteLLM registry): gpt-4o 0.00025 / 0.001 cent per input / output token,
gpt-3.5-turbo 0.00005 / 0.00015, gpt-4o-mini 0.000015 / 0.00006."""

import threading
import unittest
from decimal import Decimal

import common  # noqa: F401
import tollgate_engine as tg

T = 1768478400000  # 2026-01-15T12:00:00Z
DAY = 86400000
CHAIN = {"gpt-4o": "gpt-3.5-turbo", "gpt-3.5-turbo": "gpt-4o-mini"}


def engine(*policies):
    e = tg.Engine(clock_ms=T)
    for p in policies:
        assert e.upsert_policy(p)["status"] == "accepted"
    return e


def spend(e, customer, cost, ts=T, **extra):
    ev = {"type": "tool", "customerId": customer, "externalCostCents": cost, "ts": ts, **extra}
    assert e.track(ev)["status"] == "accepted"


class GuardTest(unittest.TestCase):
    def test_budget_boundary_and_month_rollover(self):
        with engine({"policyId": "b100", "customerId": "acme", "budget": {"cents": "100", "period": "month"}, "ts": 0}) as e:
            spend(e, "acme", "60")
            d = e.allow("acme", estimated_cost_cents="40", at_ms=T)
            self.assertEqual((d.decision, d.reason, d.period), ("allow", "ok", "2026-01"))
            self.assertEqual(d.remaining_budget_cents, Decimal("40"))
            self.assertEqual(d.cost_cents, Decimal("60"))
            d = e.allow("acme", estimated_cost_cents=Decimal("40.000000000000000000000001"), at_ms=T)
            self.assertEqual((d.decision, d.reason, d.policy_id), ("block", "budget_exceeded", "b100"))
            self.assertFalse(d.allowed)
            # 2026-02-01T00:00:00Z: a new month, nothing spent.
            d = e.allow("acme", estimated_cost_cents=100, at_ms=1769904000000)
            self.assertEqual((d.decision, d.period, d.cost_cents), ("allow", "2026-02", Decimal(0)))
            d = e.allow("other", estimated_cost_cents=10**6, at_ms=T)
            self.assertEqual((d.decision, d.reason, d.policy_id, d.period), ("allow", "no_policy", None, None))

    def test_margin_rule_and_minimum_activity(self):
        with engine({"policyId": "mm", "customerId": "c", "minMargin": {"pct": "20", "period": "month", "minRevenueCents": "1000"}, "ts": 0}) as e:
            spend(e, "c", "450", revenueUnitCents="500")  # 10 % margin, revenue below 1000
            self.assertEqual(e.allow("c", estimated_cost_cents=100, at_ms=T).decision, "allow")
            spend(e, "c", "350", revenueUnitCents="500")  # revenue 1000, cost 800: exactly 20 %
            d = e.allow("c", estimated_cost_cents=0, at_ms=T)
            self.assertEqual((d.decision, d.margin_pct), ("allow", Decimal("20.00")))
            d = e.allow("c", estimated_cost_cents="0.000000000000000000000001", at_ms=T)
            self.assertEqual((d.decision, d.reason), ("block", "min_margin"))

    def test_downgrade_chain_and_target_over_budget(self):
        p = {"policyId": "dg", "customerId": "c", "budget": {"cents": "100", "period": "day"},
             "action": "downgrade", "downgrade": CHAIN, "ts": 0}
        with engine(p) as e:
            usage = {"tokensIn": 100000, "tokensOut": 100000}  # 125 / 20 / 7.5 cents
            spend(e, "c", "50")
            d = e.allow("c", model="gpt-4o", usage=usage, provider="openai", at_ms=T)
            self.assertEqual((d.decision, d.suggested_model, d.estimate_cents), ("downgrade", "gpt-3.5-turbo", Decimal(20)))
            spend(e, "c", "40")  # 10 left: gpt-3.5-turbo (20) is over too
            d = e.allow("c", model="gpt-4o", usage=usage, provider="openai", at_ms=T)
            self.assertEqual((d.decision, d.suggested_model, d.estimate_cents), ("downgrade", "gpt-4o-mini", Decimal("7.5")))
            spend(e, "c", "5")  # 5 left: nothing fits
            d = e.allow("c", model="gpt-4o", usage=usage, provider="openai", at_ms=T)
            self.assertEqual((d.decision, d.reason, d.suggested_model), ("block", "budget_exceeded", None))

    def test_run_and_agent_caps(self):
        p = {"policyId": "p", "customerId": "c", "maxRunCostCents": "30", "maxAgentCost": {"cents": "50", "period": "day"}, "ts": 0}
        with engine(p) as e:
            spend(e, "c", "20", runId="r1", agentId="a1")
            self.assertEqual(e.allow("c", run_id="r1", estimated_cost_cents=10, at_ms=T).decision, "allow")
            d = e.allow("c", run_id="r1", estimated_cost_cents="10.5", at_ms=T)
            self.assertEqual((d.decision, d.reason, d.period, d.cost_cents), ("block", "max_run_cost", "run", Decimal(20)))
            self.assertEqual(e.allow("c", agent_id="a1", estimated_cost_cents=30, at_ms=T).decision, "allow")
            d = e.allow("c", agent_id="a1", estimated_cost_cents="30.01", at_ms=T)
            self.assertEqual((d.decision, d.reason, d.period), ("block", "max_agent_cost", "2026-01-15"))
            self.assertEqual(e.allow("c", agent_id="a1", estimated_cost_cents=50, at_ms=T + DAY).decision, "allow")

    def test_reservations_settle_higher_lower_release_expire(self):
        with engine({"policyId": "b", "customerId": "c", "budget": {"cents": "100", "period": "month"}, "ts": 0}) as e:
            d = e.allow("c", estimated_cost_cents=60, at_ms=T, reserve=True)
            r1 = d.reservation_id
            self.assertIsNotNone(r1)
            self.assertEqual(e.allow("c", estimated_cost_cents=41, at_ms=T).decision, "block")
            s = e.settle(r1, {"type": "tool", "customerId": "c", "externalCostCents": "70", "ts": T})
            self.assertEqual((s["result"]["status"], s["releasedCents"]), ("accepted", Decimal(60)))
            self.assertEqual(e.allow("c", at_ms=T).remaining_budget_cents, Decimal(30))
            r2 = e.allow("c", estimated_cost_cents=20, at_ms=T, reserve=True).reservation_id
            s = e.settle(r2, {"type": "tool", "customerId": "c", "externalCostCents": "5", "ts": T})
            self.assertEqual(s["releasedCents"], Decimal(20))
            self.assertEqual(e.allow("c", at_ms=T).remaining_budget_cents, Decimal(25))
            r3 = e.allow("c", estimated_cost_cents=25, at_ms=T, reserve=True).reservation_id
            self.assertEqual(e.release(r3), Decimal(25))
            self.assertIsNone(e.release(r3))
            e.allow("c", estimated_cost_cents=25, at_ms=T, reserve=True, ttl_ms=1000)
            self.assertEqual(e.allow("c", estimated_cost_cents="0.01", at_ms=T + 999).decision, "block")
            self.assertEqual(e.allow("c", estimated_cost_cents=25, at_ms=T + 1000).decision, "allow")

    def test_bad_policies_and_requests(self):
        with tg.Engine(clock_ms=T) as e:
            for policy, field in [
                ({"policyId": "p", "budget": {"cents": "-1", "period": "day"}}, "budget.cents"),
                ({"policyId": "p", "budget": {"cents": "1", "period": "year"}}, "budget.period"),
                ({"policyId": "p", "action": "downgrade"}, "downgrade"),
                ({"policyId": "p", "downgrade": {"a": "b", "b": "a"}}, "downgrade"),
                ({"policyId": "p", "minMargin": {"pct": "12.345", "period": "day"}}, "minMargin.pct"),
                ({"customerId": "c"}, "policyId"),
            ]:
                with self.assertRaises(tg.TollgateError) as cm:
                    e.upsert_policy(policy)
                self.assertEqual(cm.exception.status, tg.ERR_INVALID_INPUT)
                self.assertTrue(cm.exception.detail.startswith(field + ":"), cm.exception.detail)
            with self.assertRaises(TypeError):
                e.allow("c", estimated_cost_cents=0.1)
            with self.assertRaises(tg.TollgateError) as cm:
                e.allow("", estimated_cost_cents=1)
            self.assertTrue(cm.exception.detail.startswith("customerId:"))
            with self.assertRaises(tg.TollgateError) as cm:
                e.allow("c", reserve=True)
            self.assertTrue(cm.exception.detail.startswith("estimate:"))

    def test_guard_blocked_error_and_product_shape(self):
        with engine({"policyId": "b", "customerId": "c", "budget": {"cents": "1", "period": "day"}, "ts": 0}) as e:
            d = e.allow("c", estimated_cost_cents=2, at_ms=T)
            err = tg.GuardBlocked(d)
            self.assertIs(err.decision, d)
            self.assertIn("budget_exceeded", str(err))
            self.assertEqual(set(d.to_dict()), {
                "decision", "reason", "flagged", "policyId", "period", "suggestedModel", "costCents",
                "revenueCents", "marginPct", "remainingBudgetCents", "estimateCents", "reservationId",
            })
            spend(e, "c", "3")
            b = e.policy_breaches()
            self.assertEqual([(x["rule"], x["period"], x["costCents"]) for x in b], [("budget_exceeded", "2026-01-15", "3")])

    def test_eight_threads_reserve_and_settle_within_budget(self):
        with engine({"policyId": "b", "customerId": "c", "budget": {"cents": "1000", "period": "all"}, "ts": 0}) as e:
            counts = [0] * 8

            def worker(i):
                for n in range(2000):
                    d = e.allow("c", estimated_cost_cents=7, at_ms=T, reserve=True)
                    if d.decision == "block":
                        return
                    ev = {"type": "tool", "customerId": "c", "externalCostCents": "6.5", "idempotencyKey": f"w{i}-{n}", "ts": T}
                    e.settle(d.reservation_id, ev)
                    counts[i] += 1

            threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            # Reserve 7, cost 6.5: allowed while 7 fits → 153 calls, 994.5 cents, never > 1000.
            m = e.customer_margin("c")
            self.assertEqual((sum(counts), m.events, m.cost_cents), (153, 153, Decimal("994.5")))


class FastPathTest(unittest.TestCase):
    """allow() through the native extension (tg_allow, no JSON) against the JSON path
    (tg_allow_json), decision for decision, on the scenarios above."""

    def both(self, e, *args, **kwargs):
        fast = e.allow(*args, **kwargs)
        slow = e._allow_json(*args, **kwargs)
        for name in tg.Decision.__slots__[:-1]:
            self.assertEqual(getattr(fast, name), getattr(slow, name), (name, args, kwargs))
        self.assertEqual(fast.to_dict(), slow.to_dict(), (args, kwargs))
        self.assertEqual(repr(fast), repr(slow))
        return fast

    def test_fast_and_json_paths_agree(self):
        p = {"policyId": "dg", "customerId": "c", "budget": {"cents": "100", "period": "day"},
             "minMargin": {"pct": "-50", "period": "week", "minEvents": 1}, "maxRunCostCents": "60",
             "maxAgentCost": {"cents": "70", "period": "month"}, "action": "downgrade", "downgrade": CHAIN, "ts": 0}
        with engine(p, {"policyId": "flag", "customerId": "f", "budget": {"cents": "1", "period": "all"},
                        "action": "allow", "ts": 0}) as e:
            usage = {"tokensIn": 100000, "tokensOut": 100000}  # 125 / 20 / 7.5 cents
            spend(e, "c", "0.000000000000000000000001", runId="r1", agentId="a1", revenueUnitCents="0.3")
            spend(e, "f", "2")
            for args, kwargs in [
                (("c",), dict(estimated_cost_cents="0.000000000000000000000001", at_ms=T)),
                (("c",), dict(model="gpt-4o", usage=usage, provider="openai", at_ms=T)),
                (("c", "a1", "gpt-4o"), dict(usage={"tokensIn": 10, "cachedTokens": 5, "reasoningTokens": 3,
                                                    "tokensOut": 4}, run_id="r1", at_ms=T)),
                (("c", "a1"), dict(estimated_cost_cents=Decimal("65"), run_id="r1", at_ms=T)),
                (("c", "a1"), dict(estimated_cost_cents=61, run_id="r2", at_ms=T + 40 * DAY)),
                (("c",), dict(estimated_cost_cents=101, model="gpt-4o", at_ms=T)),
                (("f",), dict(estimated_cost_cents=0, at_ms=T)),
                (("nobody",), dict(estimated_cost_cents="1e3", at_ms=T)),
                (("c",), dict(at_ms=T)),
                (("c",), dict()),
            ]:
                self.both(e, *args, **kwargs)
            # A margin beyond int64 hundredths of a percent: revenue 10^-24 cent, cost 1 cent:
            # (10^-24 - 1) / 10^-24 = -(10^24 - 1) × 100 %.
            e.upsert_policy({"policyId": "mm", "customerId": "m", "minMargin": {"pct": "0", "period": "all"}, "ts": 0})
            spend(e, "m", "1", revenueUnitCents="0.000000000000000000000001")
            d = self.both(e, "m", estimated_cost_cents=1, at_ms=T)
            self.assertEqual(d.margin_pct, Decimal("-99999999999999999999999900.00"))
            # Reservations: the fast path reserves exactly as the JSON path does.
            e.upsert_policy({"policyId": "r", "customerId": "r", "budget": {"cents": "100", "period": "month"}, "ts": 0})
            d = self.both(e, "r", estimated_cost_cents=10, at_ms=T)
            d = e.allow("r", estimated_cost_cents=10, at_ms=T, reserve=True, ttl_ms=5000)
            self.assertEqual((d.decision, d.remaining_budget_cents), ("allow", Decimal("100")))
            self.assertEqual(self.both(e, "r", at_ms=T).remaining_budget_cents, Decimal("90"))
            self.assertEqual(e.allow("r", at_ms=T + 5000).remaining_budget_cents, Decimal("100"))  # expired

    def test_arguments_the_fast_path_does_not_carry_give_the_json_answer(self):
        with engine({"policyId": "b", "customerId": "c", "budget": {"cents": "100", "period": "month"}, "ts": 0}) as e:
            # Usage fields beyond the fixed layout (priced by the JSON path).
            d = e.allow("c", model="gpt-4o", usage={"tokensIn": 1000, "toolCalls": 1}, provider="openai", at_ms=T)
            self.assertEqual((d.decision, d.estimate_cents), ("allow", Decimal("0.25")))
            for kwargs, field in [
                (dict(agent_id=""), "agentId:"),
                (dict(estimated_cost_cents="1.0000000000000000000000001"), "estimateCents:"),
                (dict(estimated_cost_cents=1, usage={"tokensIn": 1}, model="gpt-4o"), "estimate:"),
                (dict(usage={"tokensIn": 1}), "estimate.model:"),
                (dict(usage={"tokensIn": -1}, model="gpt-4o"), "estimate.tokensIn:"),
                (dict(estimated_cost_cents=1, ttl_ms=5), "ttlMs:"),
                (dict(estimated_cost_cents=1, reserve=True, ttl_ms=0), "ttlMs:"),
                (dict(estimated_cost_cents=1, at_ms=-1), "atMs:"),
                (dict(agent_id="a" * 257), "agentId:"),
            ]:
                with self.assertRaises(tg.TollgateError, msg=kwargs) as cm:
                    e.allow("c", **kwargs)
                self.assertEqual(cm.exception.status, tg.ERR_INVALID_INPUT, kwargs)
                self.assertTrue(cm.exception.detail.startswith(field), (kwargs, cm.exception.detail))
            with self.assertRaises(TypeError):
                e.allow("c", estimated_cost_cents=True)
            e.close()
            with self.assertRaises(tg.TollgateError) as cm:
                e.allow("c", estimated_cost_cents=1)
            self.assertEqual(cm.exception.status, tg.ERR_INVALID_HANDLE)

    def test_the_native_path_is_taken_when_built(self):
        from tollgate_engine._native import native

        if native is None:
            self.skipTest("the native extension is not built (source tree)")
        with engine({"policyId": "b", "customerId": "c", "budget": {"cents": "100", "period": "month"}, "ts": 0}) as e:
            d = e.allow("c", estimated_cost_cents=1, at_ms=T)
            self.assertIsNone(d._json)  # typed: no JSON was parsed
            self.assertIsNone(native.allow(e._cell, "c", "", None, 1, None, None, None, T, False, None))


if __name__ == "__main__":
    unittest.main()
