"""The fast paths (Engine.price, Engine.price_columns), the error classes, the typed results,
and the ctypes declarations checked against include/tollgate.h.

With the native extension (an installed wheel) these run the extension; in a source checkout
without it, the ctypes fallback. Where both are present, they are compared."""

import dataclasses
import os
import pickle
import re
import threading
import unittest
from array import array
from decimal import Decimal, localcontext

from pathlib import Path

from common import INSTALLED, REPO, CentsLog, pricing_vectors, rfc3339_ms
import tollgate_engine as tg
from tollgate_engine import _abi, price as price_mod

EVENT = {"provider": "openai", "model": "gpt-4o", "tokensIn": 1200, "cachedTokens": 800, "tokensOut": 350}
CORE_FIELDS = {"provider", "model", "tokensIn", "cachedTokens", "cacheWrite5mTokens", "cacheWrite1hTokens",
               "audioTokensIn", "imageTokensIn", "tokensOut", "reasoningTokens", "audioTokensOut",
               "imageTokensOut", "webSearchRequests", "toolCalls", "timestamp"}
COLUMN_NAMES = {"tokensIn": "tokens_in", "cachedTokens": "cached_tokens", "cacheWrite5mTokens": "cache_write_5m_tokens",
                "cacheWrite1hTokens": "cache_write_1h_tokens", "audioTokensIn": "audio_tokens_in",
                "imageTokensIn": "image_tokens_in", "tokensOut": "tokens_out", "reasoningTokens": "reasoning_tokens",
                "audioTokensOut": "audio_tokens_out", "imageTokensOut": "image_tokens_out",
                "webSearchRequests": "web_search_requests", "toolCalls": "tool_calls"}


def fields_of(event):
    """PriceItem fields (snake_case) of a wire event, timestamp in epoch ms."""
    ev = dict(event)
    if isinstance(ev.get("timestamp"), str):
        ev["timestamp"] = rfc3339_ms(ev["timestamp"])
    item = tg.PriceItem.from_event(ev)
    item.timestamp_ms = ev.get("timestamp")
    d = dataclasses.asdict(item)
    return d.pop("provider"), d.pop("model"), {k: v for k, v in d.items() if v is not None}


class PriceOneTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.engine = tg.Engine()

    @classmethod
    def tearDownClass(cls):
        cls.engine.close()

    def test_hand_computed(self):
        # USD 1200*2.5e-6 + 800*1.25e-6 + 350*1e-5 = 0.0075 (data/ffi/vectors.jsonl line 1)
        r = self.engine.price("openai", "gpt-4o", tokens_in=1200, cached_tokens=800, tokens_out=350)
        self.assertIsInstance(r, tg.PriceOut)
        self.assertEqual(r.cost_cents, Decimal("0.75"))
        self.assertEqual((r.priced, r.source, r.match, r.reason, r.error), (True, tg.Source.RATE_CARD, tg.Match.EXACT, None, None))
        self.assertEqual(r.source, "ratecard")
        self.assertRegex(r.snapshot, r"^[0-9a-f]{16}$")
        # a tool call costs what the provider charged: exactly the amount passed
        r = self.engine.price(None, None, kind="tool", provider_cost_cents=Decimal("0.000000000000000000000001"))
        self.assertEqual((r.cost_cents, r.source), (Decimal("1E-24"), tg.Source.PROVIDER))
        # unknown model: unpriced, says why, costs nothing
        r = self.engine.price("openai", "no-such-model", tokens_in=5)
        self.assertEqual((r.priced, r.reason, r.cost_cents), (False, tg.Reason.UNKNOWN_MODEL, Decimal(0)))

    def test_every_vector_agrees_with_the_json_path(self):
        log = CentsLog("python-fast", "vectors")
        n = 0
        for id_, v, exact in pricing_vectors():
            provider, model, fields = fields_of(v["event"])
            want = self.engine.price_json(v["event"])
            got = self.engine.price(provider, model, **fields)
            self.assertEqual((str(got.cost_cents), got.priced), (want["costCents"], want["priced"]), id_)
            if exact:
                self.assertEqual(str(got.cost_cents), v["expected"]["costCents"], id_)
            log.write(id_, str(got.cost_cents), got.priced)
            n += 1
        log.close()
        self.assertGreaterEqual(n, 11)

    def test_bad_arguments_raise_precise_errors(self):
        p = self.engine.price
        with self.assertRaises(tg.InvalidInputError) as cm:
            p("openai", "gpt-4o", tokens_in=-1)
        self.assertIn("tokens_in", str(cm.exception))
        with self.assertRaises(tg.InvalidInputError):
            p("openai", "gpt-4o", tokens_in=1.5)
        with self.assertRaises(tg.InvalidInputError) as cm:
            p("openai", "gpt-4o", service_tier="gold")
        self.assertIn("gold", str(cm.exception))
        with self.assertRaises(tg.InvalidInputError):
            p("openai", "gpt-4o", provider_cost_cents="0.0000000000000000000000001")  # 25 digits
        with self.assertRaises(tg.InvalidInputError):
            p("openai", "gpt-4o", tokens_in=2**53 + 1)  # the ABI's exact-integer bound
        with self.assertRaises(tg.InvalidInputError) as cm:
            p(None, None, kind="tool", provider_cost_cents=0.1)  # a float is not an exact amount
        self.assertIn("float", str(cm.exception))
        with self.assertRaises(TypeError):
            p("openai", "gpt-4o", token_in=1)
        # Still usable afterwards
        self.assertEqual(p("openai", "gpt-4o", tokens_in=1000).cost_cents, Decimal("0.25"))

    def test_bound_price_keeps_its_engine_like_a_method(self):
        import gc
        import weakref

        price = tg.Engine().price  # the engine lives as long as the bound method
        self.assertEqual(price("openai", "gpt-4o", tokens_in=1000).cost_cents, Decimal("0.25"))
        e = tg.Engine()
        ref = weakref.ref(e)
        price = e.price
        del e
        self.assertIsNotNone(ref())
        del price
        gc.collect()
        self.assertIsNone(ref())  # and no cycle keeps it afterwards

    def test_closed_engine_and_unpinned_snapshot(self):
        e = tg.Engine()
        snap = e.pin()
        self.assertEqual(snap.price("openai", "gpt-4o", tokens_in=1000).cost_cents, Decimal("0.25"))
        self.assertEqual(snap.price_columns(["gpt-4o"], provider="openai", tokens_in=[1000]).total_cents, Decimal("0.25"))
        snap.unpin()
        e.close()
        with self.assertRaises(tg.InvalidHandleError):
            e.price("openai", "gpt-4o", tokens_in=1)
        with self.assertRaises(tg.InvalidHandleError):
            e.price_columns(["gpt-4o"], tokens_in=[1])
        with self.assertRaises(tg.InvalidHandleError):
            snap.price("openai", "gpt-4o", tokens_in=1)


class PriceColumnsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.engine = tg.Engine()

    @classmethod
    def tearDownClass(cls):
        cls.engine.close()

    def test_vectors_as_columns_match_the_json_path(self):
        # Every vector whose fields are columns (token counts, provider, model, timestamp).
        rows = [v["event"] for _, v, _ in pricing_vectors() if set(v["event"]) <= CORE_FIELDS]
        self.assertGreater(len(rows), 1000)
        cols = {snake: [ev.get(wire, 0) for ev in rows] for wire, snake in COLUMN_NAMES.items()}
        stamps = [rfc3339_ms(ev["timestamp"]) if isinstance(ev.get("timestamp"), str) else ev.get("timestamp") for ev in rows]
        r = self.engine.price_columns([ev.get("model") for ev in rows], provider=[ev.get("provider") for ev in rows],
                                      timestamp_ms=stamps, **cols)
        want = [self.engine.price_json(ev) for ev in rows]
        self.assertEqual(len(r), len(rows))
        self.assertEqual(r.failed_count, 0)
        self.assertEqual([str(c) for c in r.cost_cents], [w["costCents"] for w in want])
        self.assertEqual(r.priced, [w["priced"] for w in want])
        self.assertEqual([s.value for s in r.sources], [w["source"] for w in want])
        self.assertEqual(r.priced_count, sum(w["priced"] for w in want))
        # the exact total is the sum of the rows (summed with enough digits to be exact)
        with localcontext() as ctx:
            ctx.prec = 80
            self.assertEqual(r.total_cents, sum((Decimal(w["costCents"]) for w in want), Decimal(0)))

    def test_column_kinds(self):
        # 1000 * 2.5e-6 USD = 0.25 cents; 1000 output * 1e-5 USD = 1 cent (gpt-4o)
        models = ["gpt-4o", "gpt-4o"]
        for tokens in ([1000, 1000], array("Q", [1000, 1000]), array("i", [1000, 1000]), array("l", [1000, 1000]),
                       memoryview(array("H", [1000, 1000])), (1000, 1000), 1000):
            r = self.engine.price_columns(models, provider="openai", tokens_in=tokens, tokens_out=[0, 1000])
            self.assertEqual(r.cost_cents, [Decimal("0.25"), Decimal("1.25")], type(tokens))
            self.assertEqual(r.total_cents, Decimal("1.5"))
        empty = self.engine.price_columns([], tokens_in=[])
        self.assertEqual((len(empty), empty.total_cents, empty.cost_cents), (0, Decimal(0), []))

    def test_numpy_columns(self):
        try:
            import numpy as np
        except ImportError:
            self.skipTest("numpy not installed")
        models = np.array(["gpt-4o", "gpt-4o-mini"])  # a NumPy str array is a sequence of str
        for dtype in ("int64", "uint64", "int32", "uint16", ">i8"):
            tin = np.array([1000, 1000], dtype=dtype)
            tout = np.array([0, 500], dtype=dtype)
            if dtype == ">i8":  # big-endian: not the machine's integers, refused rather than misread
                with self.assertRaises(tg.InvalidInputError):
                    self.engine.price_columns(list(models), provider="openai", tokens_in=tin, tokens_out=tout)
                continue
            r = self.engine.price_columns(list(models), provider="openai", tokens_in=tin, tokens_out=tout)
            # gpt-4o 1000 in = 0.25 cents; gpt-4o-mini 1000 * 1.5e-7 + 500 * 6e-7 USD = 0.045 cents
            self.assertEqual((r.cost_cents, r.total_cents), ([Decimal("0.25"), Decimal("0.045")], Decimal("0.295")), dtype)
        with self.assertRaises(tg.InvalidInputError):
            self.engine.price_columns(["gpt-4o"], tokens_in=np.array([-1]))
        with self.assertRaises(tg.InvalidInputError):
            self.engine.price_columns(["gpt-4o"], tokens_in=np.array([1.0]))

    def test_bad_columns(self):
        e = self.engine
        with self.assertRaises(tg.InvalidInputError) as cm:
            e.price_columns(["gpt-4o", "gpt-4o"], tokens_in=[1])
        self.assertIn("1 values for 2 rows", str(cm.exception))
        with self.assertRaises(tg.InvalidInputError) as cm:
            e.price_columns(["gpt-4o"], tokens_in=array("i", [-5]))
        self.assertIn("tokens_in[0]", str(cm.exception))
        with self.assertRaises(tg.InvalidInputError) as cm:
            e.price_columns(["gpt-4o", "gpt-4o"], tokens_in=[1, "2"])
        self.assertIn("tokens_in[1]", str(cm.exception))
        with self.assertRaises(tg.InvalidInputError):
            e.price_columns("gpt-4o", tokens_in=[1])  # a str is not a column
        with self.assertRaises(tg.InvalidInputError):
            e.price_columns(["gpt-4o"], tokens_in=array("d", [1.0]))
        with self.assertRaises(tg.InvalidInputError):
            e.price_columns(["gpt-4o"], service_tier="gold")

    def test_a_bad_row_fails_alone(self):
        # row 1 exceeds 2^53 tokens; rows 0 and 2 are 0.25 cents each
        r = self.engine.price_columns(["gpt-4o"] * 3, provider="openai", tokens_in=[1000, 2**53 + 1, 1000])
        self.assertEqual(r.statuses, [tg.OK, tg.ERR_INVALID_INPUT, tg.OK])
        self.assertEqual((r.failed_count, r.priced_count, r.total_cents), (1, 2, Decimal("0.5")))
        [(row, err)] = r.errors()
        self.assertEqual(row, 1)
        self.assertIsInstance(err, tg.InvalidInputError)

    def test_threads_get_identical_totals(self):
        models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-pro"] * 5000
        tin = list(range(len(models)))
        want = self.engine.price_columns(models, tokens_in=tin, tokens_out=7).total_cents
        got = []

        def work():
            for _ in range(5):
                got.append(self.engine.price_columns(models, tokens_in=tin, tokens_out=7).total_cents)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(got, [want] * 20)

    @unittest.skipUnless(tg.NATIVE, "native extension not built")
    def test_native_and_ctypes_paths_agree(self):
        rows = [v["event"] for _, v, _ in pricing_vectors()[:3000] if set(v["event"]) <= CORE_FIELDS]
        cols = {snake: [ev.get(wire) for ev in rows] for wire, snake in COLUMN_NAMES.items()}
        cols = {k: [x or 0 for x in v] for k, v in cols.items()}
        models = [ev.get("model") for ev in rows]
        fast = self.engine.price_columns(models, provider="openai", **cols)
        slow = price_mod._price_columns_slow(tg._lib.tg_price_batch, self.engine._handle, models, provider="openai", **cols)
        self.assertEqual((fast.cost_cents, fast.priced, fast.sources, fast.matches, fast.statuses, fast.total_cents),
                         (slow.cost_cents, slow.priced, slow.sources, slow.matches, slow.statuses, slow.total_cents))
        one = price_mod._price_one_slow(tg._lib.tg_price_batch, self.engine._handle, "openai", "gpt-4o", tokens_in=7)
        self.assertEqual(one, self.engine.price("openai", "gpt-4o", tokens_in=7))


class ErrorsTest(unittest.TestCase):
    def test_one_class_per_kind_under_one_base(self):
        kinds = {tg.ERR_NULL: tg.NullPointerError, tg.ERR_INVALID_HANDLE: tg.InvalidHandleError,
                 tg.ERR_INVALID_UTF8: tg.InvalidUtf8Error, tg.ERR_INVALID_INPUT: tg.InvalidInputError,
                 tg.ERR_LIMIT: tg.LimitError, tg.ERR_BUFFER_TOO_SMALL: tg.BufferTooSmallError,
                 tg.ERR_RATE_CARD: tg.RateCardError, tg.ERR_NOT_FOUND: tg.NotFoundError,
                 tg.ERR_NO_USAGE: tg.NoUsageError, tg.ERR_STATE: tg.StateError,
                 tg.ERR_OVERFLOW: tg.AmountOverflowError, tg.ERR_TOO_LATE: tg.TooLateError,
                 tg.ERR_MISUSE: tg.MisuseError, tg.ERR_PANIC: tg.PanicError,
                 tg.ERR_IO: tg.StorageError, tg.ERR_LOCKED: tg.LockedError}
        self.assertEqual(set(kinds), set(tg.STATUS_NAMES) - {tg.OK})
        for status, cls in kinds.items():
            e = tg.TollgateError(status, "why")
            self.assertIs(type(e), cls)
            self.assertIsInstance(e, tg.TollgateError)
            self.assertEqual((e.status, e.detail, e.name), (status, "why", tg.STATUS_NAMES[status]))
            self.assertEqual(cls("why").status, status)
            again = pickle.loads(pickle.dumps(e))
            self.assertEqual((type(again), again.status, again.detail), (cls, status, "why"))
        self.assertTrue(issubclass(tg.NotFoundError, LookupError))
        self.assertTrue(issubclass(tg.InvalidInputError, ValueError))
        self.assertTrue(issubclass(tg.AmountOverflowError, ArithmeticError))
        self.assertTrue(issubclass(tg.StorageError, OSError))
        self.assertIs(type(tg.TollgateError(999)), tg.TollgateError)

    def test_library_failures_raise_their_kind(self):
        with tg.Engine() as e:
            with self.assertRaises(tg.NotFoundError):
                e.customer_margin("nobody")
            with self.assertRaises(tg.RateCardError):
                e.publish_rate_card(b"{", 0)
            with self.assertRaises(tg.StateError):
                e.state_restore(b"not state")
        with self.assertRaises(tg.NoUsageError):
            tg.extract_usage("openai", b'{"id":"x","object":"chat.completion"}')


class TypedResultsTest(unittest.TestCase):
    def test_margin_is_a_frozen_dataclass(self):
        with tg.Engine(clock_ms=1768435200000) as e:
            e.upsert_customer({"customerId": "acme", "timestamp": "2026-01-01T00:00:00Z",
                               "plan": {"pricingModel": "usage_based", "unitRevenueCents": 5}})
            e.track(dict(EVENT, customerId="acme", idempotencyKey="k", timestamp="2026-01-10T00:00:00Z"))
            m = e.customer_margin("acme")
        self.assertTrue(dataclasses.is_dataclass(m))
        # revenue 5 cents (usage_based, 1 unit) - cost 0.75 cents = 4.25 cents, 85.00 %
        self.assertEqual((m.revenue_cents, m.cost_cents, m.margin_cents, m.margin_pct), (5, Decimal("0.75"), Decimal("4.25"), Decimal("85.00")))
        with self.assertRaises(dataclasses.FrozenInstanceError):
            m.events = 3  # type: ignore[misc]

    def test_package_is_typed(self):
        import importlib.resources

        self.assertTrue((importlib.resources.files("tollgate_engine") / "py.typed").is_file())


class InstalledTest(unittest.TestCase):
    @unittest.skipUnless(INSTALLED, "runs against the installed package (TOLLGATE_TEST_INSTALLED=1)")
    def test_the_installed_wheel_is_what_runs(self):
        # The package, its library and the native extension all come from the install.
        here = Path(tg.__file__).resolve()
        self.assertNotIn(REPO, here.parents)
        if not os.environ.get("TOLLGATE_LIB"):  # (the sanitizer run points at a library)
            self.assertEqual(Path(tg.LIBRARY_PATH).resolve().parent, here.parent)
        self.assertTrue(tg.NATIVE)


class HeaderTest(unittest.TestCase):
    """Every TG_* constant the ctypes layer declares equals the header's, and (with the
    native extension, compiled against the header) every struct size and field offset."""

    def test_constants_match_include_tollgate_h(self):
        header = REPO / "include" / "tollgate.h"
        if not header.exists():
            self.skipTest("include/tollgate.h not beside the tests")
        text = header.read_text(encoding="utf-8")
        defines = {}
        for name, value in re.findall(r"^#define (TG_\w+) (.+)$", text, re.M):
            value = value.replace("<<", " << ")
            try:
                defines[name] = eval(value, {}, dict(defines))  # "(1 << 16)", "-1", INT64_MIN forms
            except Exception:
                pass
        checked = 0
        for name, value in vars(_abi).items():
            if isinstance(value, int) and not isinstance(value, bool) and ("TG_" + name) in defines:
                self.assertEqual(value, defines["TG_" + name], name)
                checked += 1
        status_defines = {v: k for k, v in defines.items() if k == "TG_OK" or k.startswith("TG_ERR_")}
        self.assertEqual(tg.STATUS_NAMES, status_defines)
        self.assertEqual(tg.SOURCES, tuple(n.lower().replace("tg_source_", "").replace("rate_card", "ratecard")
                                           for n, _ in sorted(((k, v) for k, v in defines.items() if k.startswith("TG_SOURCE_")), key=lambda kv: kv[1])))
        self.assertGreaterEqual(checked, 25)

    @unittest.skipUnless(tg.NATIVE, "native extension not built")
    def test_layouts_match_the_compiled_header(self):
        from tollgate_engine import _fast

        h = _fast.HEADER
        self.assertEqual(h["TG_ABI_VERSION"], tg.abi_version())
        for name, value in vars(_abi).items():
            if isinstance(value, int) and not isinstance(value, bool) and ("TG_" + name) in h:
                self.assertEqual(value, h["TG_" + name], name)
        import ctypes

        for struct in (_abi.tg_price_item, _abi.tg_price_out, _abi.tg_margin, _abi.tg_error, _abi.tg_engine_options, _abi.tg_decimal):
            key = f"sizeof(struct {struct.__name__})" if struct is not _abi.tg_decimal else "sizeof(tg_decimal)"
            self.assertEqual(ctypes.sizeof(struct), h[key], key)
        for key, (offset, size) in _fast.LAYOUT.items():
            sname, field = key.split(".")
            desc = getattr(getattr(_abi, sname), field)
            self.assertEqual((desc.offset, desc.size), (offset, size), key)

    @unittest.skipUnless(tg.NATIVE, "native extension not built")
    def test_native_decimal_text_matches_the_library(self):
        import random

        from tollgate_engine import _fast

        rng = random.Random(7)
        values = [0, 1, -1, 10**24, -(10**24), 2**127 - 1, -(2**127), 4245 * 10**20]
        values += [rng.randrange(-(2**127), 2**127) for _ in range(2000)]
        values += [rng.randrange(0, 10**rng.randrange(1, 38)) for _ in range(2000)]
        from ctypes import byref, c_size_t, c_uint8

        buf, n = (c_uint8 * 64)(), c_size_t(0)
        for m in values:
            hi, lo = m >> 64, m & (2**64 - 1)
            self.assertEqual(tg._lib.tg_decimal_format(tg.tg_decimal(hi, lo), buf, 64, byref(n)), tg.OK)
            self.assertEqual(_fast.format_cents(hi, lo), bytes(buf[: n.value]).decode(), m)


if __name__ == "__main__":
    unittest.main()
