"""Pricing through the JSON path and the struct batch path: shared vectors, hostile input,
concurrency on one engine."""

import threading
import unittest
from ctypes import byref, c_size_t, c_uint8
from decimal import Decimal

from common import CentsLog, pricing_vectors, rfc3339_ms, within_1e9
import tollgate_engine as tg
from tollgate_engine import _lib

EVENT = {"provider": "openai", "model": "gpt-4o", "tokensIn": 1200, "cachedTokens": 800, "tokensOut": 350}


class PriceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.engine = tg.Engine()

    @classmethod
    def tearDownClass(cls):
        cls.engine.close()

    def test_vectors_json_and_batch_give_identical_cents(self):
        vectors = pricing_vectors()
        self.assertGreaterEqual(len(vectors), 11)
        log = CentsLog("python", "vectors")
        golden = within = 0
        items = []
        json_results = []
        for id_, v, exact in vectors:
            r = self.engine.price_json(v["event"])
            json_results.append(r)
            ev = dict(v["event"])
            if isinstance(ev.get("timestamp"), str):
                ev["timestamp"] = rfc3339_ms(ev["timestamp"])
            item = tg.PriceItem.from_event(ev)
            item.timestamp_ms = ev.get("timestamp")
            items.append(item)
        out = []
        for i in range(0, len(items), tg.MAX_BATCH_ITEMS):
            out.extend(self.engine.price_batch(items[i : i + tg.MAX_BATCH_ITEMS]))
        for (id_, v, exact), r, o in zip(vectors, json_results, out):
            self.assertIsNone(o.error, id_)
            # The struct path (Python-side marshalling, Decimal from the raw mantissa) agrees
            # with the JSON path (library-side formatting), digit for digit.
            self.assertEqual((str(o.cost_cents), o.priced), (r["costCents"], r["priced"]), id_)
            want = v["expected"]
            if exact:
                self.assertEqual((r["costCents"], r["priced"]), (want["costCents"], want["priced"]), id_)
            else:
                golden += 1
                within += r["priced"] == want["priced"] and within_1e9(r["costCents"], want["costCents"])
            log.write(id_, r["costCents"], r["priced"])
        log.close()
        print(f"\n    {len(vectors)} vectors; golden: {within} of {golden} within 1e-9 of the reference", end=" ")

    def test_bad_events_are_rejected_precisely(self):
        cases = [
            (b"", tg.ERR_INVALID_INPUT, "malformed JSON"),
            (b'{"model":"gpt-4o\xff"}', tg.ERR_INVALID_UTF8, "event: invalid UTF-8"),
            (b'{"model":"gpt-4o","tokenIn":5}', tg.ERR_INVALID_INPUT, "unknown field `tokenIn`"),
            (b'{"model":"gpt-4o","tokensIn":-1}', tg.ERR_INVALID_INPUT, "tokensIn: must not be negative"),
            (b'{"model":"gpt-4o","tokensIn":9007199254740993}', tg.ERR_INVALID_INPUT, "2^53"),
        ]
        for event, status, message in cases:
            with self.assertRaises(tg.TollgateError) as cm:
                self.engine.price_json(event)
            self.assertEqual(cm.exception.status, status, event)
            self.assertIn(message, cm.exception.detail)
        # use after errors
        self.assertEqual(self.engine.price_json(EVENT)["costCents"], "0.75")

    def test_null_event_and_small_buffers(self):
        h = self.engine._handle
        n = c_size_t(0)
        err = tg.tg_error()
        buf = (c_uint8 * 4)(1, 2, 3, 4)
        self.assertEqual(_lib.tg_price_json(h, None, 5, buf, 4, byref(n), byref(err)), tg.ERR_NULL)
        ev = b'{"provider":"openai","model":"gpt-4o","tokensIn":1000}'
        self.assertEqual(_lib.tg_price_json(h, ev, len(ev), buf, 4, byref(n), byref(err)), tg.ERR_BUFFER_TOO_SMALL)
        self.assertGreater(n.value, 4)
        self.assertEqual(list(buf), [1, 2, 3, 4])
        needed = n.value
        exact = (c_uint8 * needed)()
        self.assertEqual(_lib.tg_price_json(h, ev, len(ev), exact, needed, byref(n), byref(err)), tg.OK)
        # 1000 * 2.5e-6 USD = 0.25 cents
        self.assertTrue(bytes(exact).startswith(b'{"costCents":"0.25"'))

    def test_batch_items_fail_alone(self):
        good = tg.PriceItem("openai", "gpt-4o", tokens_in=1000)
        items = [
            good,
            tg.PriceItem("openai", "gpt-4o", tokens_in=2**53 + 1),
            tg.PriceItem("openai", None, tokens_in=1),
            tg.PriceItem("openai", "gpt-4o", provider_cost_cents="-1"),
            good,
        ]
        out = self.engine.price_batch(items)
        statuses = [r.error.status if r.error else tg.OK for r in out]
        self.assertEqual(statuses, [tg.OK, tg.ERR_INVALID_INPUT, tg.ERR_INVALID_INPUT, tg.ERR_INVALID_INPUT, tg.OK])
        # 1000 * 2.5e-6 USD = 0.25 cents, unaffected by its bad neighbours
        self.assertEqual(out[4].cost_cents, Decimal("0.25"))
        self.assertEqual(self.engine.price_batch([]), [])
        with self.assertRaises(tg.TollgateError) as cm:
            self.engine.price_batch([good] * (tg.MAX_BATCH_ITEMS + 1))
        self.assertEqual(cm.exception.status, tg.ERR_LIMIT)

    def test_invalid_utf8_name_in_the_arena(self):
        raw = (tg.tg_price_item * 1)()
        raw[0].timestamp_ms = -1
        raw[0].model = tg.tg_span(0, 4)
        out = (tg.tg_price_out * 1)()
        names = b"gpt\xff"
        self.assertEqual(_lib.tg_price_batch(self.engine._handle, raw, 1, names, 4, out, None), tg.OK)
        self.assertEqual(out[0].status, tg.ERR_INVALID_UTF8)

    def test_concurrent_threads_on_one_engine(self):
        failures = []

        def work():
            for _ in range(300):
                if self.engine.price_json(EVENT)["costCents"] != "0.75":
                    failures.append("json")
                r = self.engine.price_batch([tg.PriceItem.from_event(EVENT)])[0]
                if str(r.cost_cents) != "0.75":
                    failures.append("batch")
                try:
                    self.engine.price_json("{")
                    failures.append("no error")
                except tg.TollgateError as e:
                    if e.status != tg.ERR_INVALID_INPUT:
                        failures.append("wrong error")

        threads = [threading.Thread(target=work) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])

    def test_web_search_part(self):
        # gpt-4o-mini states $0.025 per search (search_context_size_medium): 2 searches are
        # 5 cents; its tokens 100 × 1.5e-07 + 10 × 6e-07 USD are 0.0021 cents.
        ev = {"provider": "openai", "model": "gpt-4o-mini", "tokensIn": 100, "tokensOut": 10, "webSearchRequests": 2}
        r = self.engine.price_json(ev)
        self.assertEqual((r["costCents"], r["webSearchCents"]), ("5.0021", "5"))
        self.assertEqual(self.engine.price_json(EVENT)["webSearchCents"], "0")
        out = self.engine.price("openai", "gpt-4o-mini", tokens_in=100, tokens_out=10, web_search_requests=2)
        self.assertEqual(out.cost_cents, Decimal("5.0021"))


class LifecycleTest(unittest.TestCase):
    def test_close_twice_and_use_after_close(self):
        e = tg.Engine()
        e.close()
        e.close()
        with self.assertRaises(tg.TollgateError) as cm:
            e.price_json(EVENT)
        self.assertEqual(cm.exception.status, tg.ERR_INVALID_HANDLE)

    def test_close_waits_for_a_call_in_progress(self):
        # A call in progress holds the engine's use count (as every method does while it is in
        # the library); close() must wait for it, and be woken when it ends.
        e = tg.Engine()
        e._enter()
        closed = threading.Event()
        t = threading.Thread(target=lambda: (e.close(), closed.set()))
        t.start()
        for _ in range(3000):  # until close() is waiting (bounded: 30 s)
            if e._closers:
                break
            closed.wait(0.01)
        self.assertEqual(e._closers, 1)
        self.assertFalse(closed.is_set())
        e._leave()
        self.assertTrue(closed.wait(30))
        t.join(30)
        self.assertEqual(e._closers, 0)
        # The wrappers' per-call booking refuses a closed engine like every other call.
        with self.assertRaises(tg.TollgateError) as cm:
            e._track_body(b"openai", None, b"{}", b"{}")
        self.assertEqual(cm.exception.status, tg.ERR_INVALID_HANDLE)


if __name__ == "__main__":
    unittest.main()
