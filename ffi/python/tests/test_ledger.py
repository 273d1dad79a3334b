"""The ledger through the C ABI: exactly-once tracking, track-response, resolve, customers,
margin, state snapshot/restore, concurrency."""

import csv
import io
import json
import threading
import unittest
from ctypes import byref, c_size_t, c_uint8
from decimal import Decimal

import common
import tollgate_engine as tg
from tollgate_engine import _lib

CLOCK_MS = 1768435200000  # 2026-01-15T00:00:00Z
ACME = {"customerId": "acme", "name": "Acme", "plan": {"name": "pro", "pricingModel": "usage_based", "unitRevenueCents": 5},
        "timestamp": "2026-01-01T00:00:00Z"}
EV_K1 = {"customerId": "acme", "runId": "r1", "agentId": "a1", "provider": "openai", "model": "gpt-4o",
         "tokensIn": 1200, "cachedTokens": 800, "tokensOut": 350, "idempotencyKey": "k1", "timestamp": "2026-01-10T00:00:00Z"}
ANTHROPIC_BODY = (b'{"id":"msg_1","type":"message","model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":3,'
                  b'"cache_read_input_tokens":1111,"cache_creation_input_tokens":418,"output_tokens":33}}')
# A rate card without claude-sonnet-5 and with claude-opus-4-8 priced per second only.
UNPRICED_CARD = (b'{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06}, '
                 b'"claude-opus-4-8": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_second": 0.0001}}')
R1_CONTEXT = {"customerId": "acme", "runId": "r1", "timestamp": "2026-01-10T01:00:00Z"}
RESOLVE_R1 = {"runId": "r1", "customerId": "acme", "outcome": "resolved", "timestamp": "2026-01-10T02:00:00Z"}


def acme():
    """acme on a usage_based plan (5 cents per event), a gpt-4o event (0.75 cents), an
    Anthropic response (0.24048 cents), run r1 resolved."""
    e = tg.Engine(clock_ms=CLOCK_MS)
    assert e.upsert_customer(ACME)["status"] == "accepted"
    assert e.track(EV_K1)["costCents"] == "0.75"
    assert e.track_response("anthropic", ANTHROPIC_BODY, R1_CONTEXT)[0]["status"] == "accepted"
    assert e.resolve(RESOLVE_R1)["status"] == "accepted"
    return e


class LedgerTest(unittest.TestCase):
    def test_track_results(self):
        with tg.Engine(clock_ms=CLOCK_MS) as e:
            e.upsert_customer(ACME)
            r = e.track(EV_K1)
            # 0.75 cents (data/ffi/vectors.jsonl line 1); usage_based: 5 cents x 1 unit
            self.assertEqual((r["status"], r["costCents"], r["revenueCents"], r["priced"]), ("accepted", "0.75", "5", True))
            self.assertEqual(e.track(EV_K1), {"status": "duplicate"})
            c = e.track({**EV_K1, "tokensIn": 1300})
            self.assertEqual(c["status"], "conflict")
            [r] = e.track_response("anthropic", ANTHROPIC_BODY, R1_CONTEXT)
            # 3*3e-6 + 1111*3e-7 + 418*3.75e-6 + 33*1.5e-5 USD = 0.0024048 USD
            self.assertEqual((r["status"], r["costCents"]), ("accepted", "0.24048"))
            self.assertEqual(e.track_response("anthropic", ANTHROPIC_BODY, R1_CONTEXT), [{"status": "duplicate"}])
            self.assertEqual(e.resolve(RESOLVE_R1)["status"], "accepted")
            self.assertEqual(e.resolve({**RESOLVE_R1, "type": "resolve"}), {"status": "duplicate"})
            self.assertEqual(e.resolve({**RESOLVE_R1, "outcome": "failed"})["status"], "conflict")

    def test_unpriced_line_items_say_why(self):
        # A real recorded Anthropic stream (advisor call): executor claude-sonnet-5, advisor
        # claude-opus-4-8. UNPRICED_CARD lacks the first and prices the second per second
        # only, so both are booked at cost 0 with revenue 10 (10 cents x 1 unit) and say why.
        path = common.SHARED_FIXTURES / "anthropic_stream_5.sse"
        common.shared_or_skip(self, path)
        body = path.read_bytes()
        want = ["unknown_model", "no_token_price"]
        with tg.Engine(rate_card=UNPRICED_CARD, clock_ms=CLOCK_MS) as e:
            snap = e.snapshots()[0]["id"]
            ctx = {"customerId": "acme", "revenueUnitCents": "10", "timestamp": "2026-01-10T00:00:00Z"}
            results = e.track_response("anthropic", body, ctx)
            self.assertEqual(results, [
                {"status": "accepted", "costCents": "0", "revenueCents": "10", "priced": False,
                 "reason": reason, "snapshot": snap, "warnings": []}
                for reason in want
            ])
            # The stream path gives the same results (and books nothing twice).
            with tg.Stream("anthropic") as s:
                for i in range(0, len(body), 97):
                    s.feed(body[i:i + 97])
                self.assertEqual(e.track_stream(s, ctx), [{"status": "duplicate"}] * 2)
        with tg.Engine(rate_card=UNPRICED_CARD, clock_ms=CLOCK_MS) as e, tg.Stream("anthropic") as s:
            for i in range(0, len(body), 97):
                s.feed(body[i:i + 97])
            self.assertEqual([(r["priced"], r["reason"]) for r in e.track_stream(s, ctx)],
                             [(False, reason) for reason in want])

    def test_rejections_raise_and_change_nothing(self):
        with acme() as e:
            before = e.state_save()
            cases = [
                (e.track, {"customerId": "acme", "model": "gpt-4o", "tokenIn": 5}, tg.ERR_INVALID_INPUT, "unknown field `tokenIn`"),
                (e.track, {"customerId": "acme", "model": "gpt-4o", "idempotencyKey": "old", "timestamp": "2026-01-08T00:00:00Z"}, tg.ERR_TOO_LATE, ""),
                (e.track, b'{"customerId":"a\xff","model":"m"}', tg.ERR_INVALID_UTF8, ""),
                (e.resolve, {"runId": "r2", "customerId": "acme", "outcome": "won"}, tg.ERR_INVALID_INPUT, "outcome"),
                (e.resolve, {"type": "customer", "customerId": "acme"}, tg.ERR_INVALID_INPUT, "type"),
                (e.upsert_customer, {"customerId": "acme", "plan": {"pricingModel": "free"}}, tg.ERR_INVALID_INPUT, "plan.pricingModel"),
            ]
            for fn, record, status, detail in cases:
                with self.assertRaises(tg.TollgateError) as cm:
                    fn(record)
                self.assertEqual(cm.exception.status, status, record)
                self.assertIn(detail, cm.exception.detail)
            with self.assertRaises(tg.TollgateError) as cm:
                e.track_response("anthropic", ANTHROPIC_BODY, {"customerId": "acme", "tokensIn": 5})
            self.assertIn("field `tokensIn` is not allowed", cm.exception.detail)
            self.assertEqual(e.state_save(), before)

    def test_track_body_books_in_one_call_and_reads_the_answer_only_on_failure(self):
        # The SDK wrappers' per-call path (native extension when built, else ctypes with a
        # reused buffer). A Messages body with an executor iteration and three advisor
        # iterations is four line items: more than the path's first output buffer holds
        # (two), so the library asks for more before it tracks anything and the call is made
        # again. Rates (LiteLLM registry, claude-sonnet-4-5): 3e-6 / 1.5e-5 USD per token in /
        # out; executor 3*3e-6 + 33*1.5e-5 = 0.000504 USD = 0.0504 cents, each advisor
        # 1000*3e-6 + 10*1.5e-5 = 0.00315 USD = 0.315 cents.
        def it(kind, tokens_in, tokens_out, model=None):
            d = {"type": kind, "input_tokens": tokens_in, "output_tokens": tokens_out}
            return dict(d, model=model) if model else d

        sonnet = "claude-sonnet-4-5-20250929"
        body = json.dumps({"id": "msg_adv", "type": "message", "model": sonnet, "usage": {
            "input_tokens": 3003, "output_tokens": 63,
            "iterations": [it("message", 3, 33)] + [it("advisor_message", 1000, 10, sonnet)] * 3,
        }}).encode()
        ctx = b'{"customerId":"acme","timestamp":"2026-01-10T00:00:00Z"}'
        with tg.Engine(clock_ms=CLOCK_MS) as e:
            self.assertIsNone(e._track_body(b"anthropic", None, body, ctx))  # all four accepted
            self.assertIsNone(e._track_body(b"anthropic", None, body, ctx))  # all four duplicates
            m = e.customer_margin("acme")
            self.assertEqual((m.events, m.cost_cents), (4, Decimal("0.0504") + 3 * Decimal("0.315")))
            # Another customer under the same response id: conflicts, answered as the
            # library wrote them; nothing changed.
            out = e._track_body(b"anthropic", None, body, ctx.replace(b"acme", b"other"))
            self.assertEqual([r["status"] for r in json.loads(out)["results"]], ["conflict"] * 4)
            self.assertEqual(e.track_response("anthropic", body, json.loads(ctx)), [{"status": "duplicate"}] * 4)
            # A body without usage, and a bad context, raise and book nothing.
            with self.assertRaises(tg.NoUsageError):
                e._track_body(b"anthropic", None, b'{"id":"msg_x","type":"message","model":"m"}', ctx)
            with self.assertRaises(tg.InvalidInputError):
                e._track_body(b"anthropic", None, ANTHROPIC_BODY, b'{"customerId":')
            self.assertEqual(e.customer_margin("acme").events, 4)
        with self.assertRaises(tg.InvalidHandleError):
            e._track_body(b"anthropic", None, ANTHROPIC_BODY, ctx)

    def test_customer_margin_and_queries(self):
        with acme() as e:
            m = e.customer_margin("acme")
            # revenue 5 + 5 = 10; cost 0.75 + 0.24048 = 0.99048; margin 9.00952 = 90.0952 % -> 90.10
            self.assertEqual((m.revenue_cents, m.cost_cents, m.margin_cents), (Decimal("10"), Decimal("0.99048"), Decimal("9.00952")))
            self.assertEqual(m.margin_pct, Decimal("90.10"))
            self.assertEqual((m.events, m.unpriced_events, m.runs["resolved"]), (2, 0, 1))
            with self.assertRaises(tg.TollgateError) as cm:
                e.customer_margin("nobody")
            self.assertEqual(cm.exception.status, tg.ERR_NOT_FOUND)
            rows = e.margin({"groupBy": ["model"]})
            self.assertEqual([(r["model"], r["costCents"]) for r in rows],
                             [(None, "0"), ("claude-sonnet-4-5-20250929", "0.24048"), ("gpt-4o", "0.75")])
            [total] = e.margin()
            self.assertEqual((total["marginCents"], total["marginPct"]), ("9.00952", "90.10"))
            self.assertEqual(e.margin({"customerId": "acme", "from": "2026-01-11"}), [])
            for bad in ({"groupBy": ["planet"]}, {"from": "2026-01-12", "to": "2026-01-11"}, {"costumerId": "acme"}):
                with self.assertRaises(tg.TollgateError) as cm:
                    e.margin(bad)
                self.assertEqual(cm.exception.status, tg.ERR_INVALID_INPUT)

    def test_report_queries(self):
        """The engine's report query: the same hand-computed figures as the C suite."""
        with acme() as e:
            r = e.report({"groupBy": ["model"], "sort": "cost"})
            self.assertEqual([row["model"] for row in r["rows"]], ["gpt-4o", "claude-sonnet-4-5-20250929", None])
            gpt, claude, _ = r["rows"]
            # 800 cached gpt-4o tokens at 2.5e-6 instead of 1.25e-6 USD: 0.1 cents saved;
            # 0.75 / 0.99048 = 75.7209… % -> 75.72.
            self.assertEqual((gpt["cacheSavingsCents"], gpt["costSharePct"]), ("0.1", "75.72"))
            # 1111 claude cache reads at 3e-6 instead of 3e-7 USD: 0.29997 cents; 24.2791… % -> 24.28.
            self.assertEqual((claude["cacheSavingsCents"], claude["costSharePct"]), ("0.29997", "24.28"))
            t = r["totals"]
            # One resolved run (r1) for 0.99048; revenue 10 over 2 events.
            self.assertEqual((t["costPerResolvedRunCents"], t["revenuePerEventCents"]), ("0.99048", "5"))
            self.assertEqual((r["groups"], r["breaches"]), (3, []))
            top = e.report({"groupBy": ["model"], "sort": "cost:asc", "top": 1})
            self.assertEqual(([row["model"] for row in top["rows"]], top["groups"]), ([None], 3))
            csv_text = e.report_csv({"groupBy": ["agent"], "outcome": "resolved"})
            rows = list(csv.DictReader(io.StringIO(csv_text, newline="")))
            self.assertEqual([(x["agentId"], x["costCents"], x["marginPct"]) for x in rows],
                             [("a1", "0.75", "85.00"), ("", "0.24048", "95.19")])
            self.assertEqual(e.report_jsonl({"groupBy": ["customer"]})[0]["customerId"], "acme")
            for bad in ({"groupBy": ["planet"]}, {"sort": "price"}, {"top": 0}, {"costumerId": "acme"}):
                with self.assertRaises(tg.TollgateError) as cm:
                    e.report(bad)
                self.assertEqual(cm.exception.status, tg.ERR_INVALID_INPUT)

    def test_state_round_trip_and_corruption(self):
        with acme() as e, tg.Engine(clock_ms=CLOCK_MS) as r:
            state = e.state_save()
            for bad in (state[: len(state) // 2], state[:10] + bytes([state[10] ^ 1]) + state[11:], b""):
                with self.assertRaises(tg.TollgateError) as cm:
                    r.state_restore(bad)
                self.assertEqual(cm.exception.status, tg.ERR_STATE)
            with self.assertRaises(tg.TollgateError):
                r.customer_margin("acme")  # nothing was loaded
            r.state_restore(state)
            self.assertEqual(r.customer_margin("acme").margin_cents, Decimal("9.00952"))
            self.assertEqual(r.track(EV_K1), {"status": "duplicate"})  # exactly-once survives
            self.assertEqual(r.state_save(), state)

    def test_small_buffers_never_lose_a_tracked_event(self):
        with tg.Engine(clock_ms=CLOCK_MS) as e:
            import json
            ev = json.dumps(EV_K1).encode()
            buf = (c_uint8 * 64)()
            n = c_size_t(0)
            self.assertEqual(_lib.tg_track_json(e._handle, ev, len(ev), buf, 64, byref(n), None), tg.ERR_BUFFER_TOO_SMALL)
            self.assertEqual(n.value, tg.RECORD_OUT_MAX)
            self.assertEqual(e.track(EV_K1)["status"], "accepted")  # nothing was tracked before

    def test_stream_track(self):
        with tg.Engine(clock_ms=CLOCK_MS) as e, tg.Stream("anthropic") as s:
            for off in range(0, len(ANTHROPIC_BODY), 5):
                s.feed(ANTHROPIC_BODY[off : off + 5])
            ctx = {"customerId": "acme", "idempotencyKey": "call-7"}
            self.assertEqual(e.track_stream(s, ctx)[0]["costCents"], "0.24048")
            self.assertEqual(e.track_stream(s, ctx), [{"status": "duplicate"}])

    def test_concurrent_tracks_are_exactly_once(self):
        with tg.Engine(clock_ms=CLOCK_MS) as e:
            counts = {"accepted": 0, "duplicate": 0}
            lock = threading.Lock()

            def work(thread):
                for i in range(200):
                    key = (thread // 2) * 1000 + i  # every key is tracked by two threads
                    r = e.track({"customerId": "acme", "provider": "openai", "model": "gpt-4o", "tokensIn": 1000,
                                 "idempotencyKey": f"k{key}", "timestamp": "2026-01-10T00:00:00Z"})
                    with lock:
                        counts[r["status"]] += 1

            threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertEqual(counts, {"accepted": 400, "duplicate": 400})
            m = e.customer_margin("acme")
            # 400 events x 1000 x 2.5e-6 USD = 400 x 0.25 cents = 100 cents
            self.assertEqual((m.events, m.cost_cents), (400, Decimal("100")))


if __name__ == "__main__":
    unittest.main()
