"""Version, status codes, exact decimals and hostile arguments at the raw C level."""

import ctypes
import unittest
from ctypes import byref, c_size_t, c_uint8, c_void_p
from decimal import Decimal

import common  # noqa: F401  (puts the binding on sys.path)
import tollgate_engine as tg
from tollgate_engine import _lib


class AbiTest(unittest.TestCase):
    def test_version_matches_the_binding(self):
        self.assertEqual(tg.abi_version(), 65537)  # 1 << 16 | 1: ABI 1.1

    def test_every_function_has_argtypes_and_restype(self):
        names = [n for n in dir(_lib) if n.startswith("tg_")]
        self.assertGreaterEqual(len(names), 8)
        for name in names:
            fn = getattr(_lib, name)
            self.assertIsNotNone(fn.argtypes, name)

    def test_status_strings(self):
        self.assertEqual(tg.status_str(tg.OK), "ok")
        self.assertEqual(tg.status_str(tg.ERR_BUFFER_TOO_SMALL), "output buffer too small")
        self.assertEqual(tg.status_str(-7), "unknown status")
        self.assertEqual(tg.status_str(2**31 - 1), "unknown status")


class DecimalTest(unittest.TestCase):
    def test_round_trip_is_exact(self):
        for text in ["0", "0.4245", "330", "-12.5", "0.000000000000000000000001", "123456789.123456789"]:
            raw = tg.cents_to_raw(text)
            self.assertEqual(tg.cents_from_raw(raw), Decimal(text))

    def test_layout(self):
        # 1 cent = 10^24 = 54210 * 2^64 + 0x1BCECCEDA1000000.
        raw = tg.cents_to_raw("1")
        self.assertEqual((raw.hi, raw.lo), (54210, 0x1BCECCEDA1000000))
        # -1e-24 cent: mantissa -1, all bits set.
        raw = tg.cents_to_raw("-0.000000000000000000000001")
        self.assertEqual((raw.hi, raw.lo), (-1, 2**64 - 1))

    def test_library_formatting_matches_python(self):
        raw = tg.tg_decimal(23012, 0x30ECA69BA8500000)  # 4245 * 10^20 = 0.4245 cents
        buf = (c_uint8 * 48)()
        n = c_size_t(0)
        self.assertEqual(_lib.tg_decimal_format(raw, buf, 48, byref(n)), tg.OK)
        self.assertEqual(bytes(buf[: n.value]), b"0.4245")
        self.assertEqual(tg.cents_from_raw(raw), Decimal("0.4245"))

    def test_too_precise_is_rejected_not_rounded(self):
        with self.assertRaises(tg.TollgateError) as cm:
            tg.cents_to_raw("0.0000000000000000000000001")
        self.assertEqual(cm.exception.status, tg.ERR_INVALID_INPUT)
        self.assertIn("fractional digits", str(cm.exception))
        with self.assertRaises(tg.TollgateError) as cm:
            tg.cents_to_raw("1e20")
        self.assertEqual(cm.exception.status, tg.ERR_OVERFLOW)

    def test_small_buffer_reports_needed_length_and_writes_nothing(self):
        raw = tg.cents_to_raw("0.4245")
        buf = (c_uint8 * 3)(9, 9, 9)
        n = c_size_t(0)
        self.assertEqual(_lib.tg_decimal_format(raw, buf, 3, byref(n)), tg.ERR_BUFFER_TOO_SMALL)
        self.assertEqual(n.value, 6)
        self.assertEqual(list(buf), [9, 9, 9])
        # (NULL, 0) is a size query.
        self.assertEqual(_lib.tg_decimal_format(raw, None, 0, byref(n)), tg.ERR_BUFFER_TOO_SMALL)
        self.assertEqual(n.value, 6)

    def test_null_and_invalid_utf8(self):
        out = tg.tg_decimal(7, 7)
        err = tg.tg_error()
        self.assertEqual(_lib.tg_decimal_parse(None, 3, byref(out), byref(err)), tg.ERR_NULL)
        self.assertEqual(err.message[: err.message_len], b"text: pointer is NULL but length is 3")
        self.assertEqual((out.hi, out.lo), (7, 7))
        self.assertEqual(_lib.tg_decimal_parse(b"\xff1", 2, byref(out), None), tg.ERR_INVALID_UTF8)
        self.assertEqual(_lib.tg_decimal_parse(b"1", 1, None, None), tg.ERR_NULL)
        # (NULL, 0) is the empty text: not a number.
        self.assertEqual(_lib.tg_decimal_parse(None, 0, byref(out), byref(err)), tg.ERR_INVALID_INPUT)
        self.assertEqual(_lib.tg_decimal_format(out, None, 4, byref(n := c_size_t())), tg.ERR_NULL)


class EngineArgumentsTest(unittest.TestCase):
    def test_bad_options_are_rejected_precisely(self):
        with self.assertRaises(tg.TollgateError) as cm:
            tg.Engine(dedupe_window_ms=-5)
        self.assertEqual(cm.exception.status, tg.ERR_INVALID_INPUT)
        self.assertIn("dedupe_window_ms: -5", cm.exception.detail)

    def test_null_out_and_null_engine(self):
        err = tg.tg_error()
        self.assertEqual(_lib.tg_engine_new(None, None, 0, None, byref(err)), tg.ERR_NULL)
        n = c_size_t(0)
        buf = (c_uint8 * 16)()
        status = _lib.tg_price_json(None, b"{}", 2, buf, 16, byref(n), byref(err))
        self.assertEqual(status, tg.ERR_NULL)
        self.assertEqual(err.message[: err.message_len], b"tg_engine: pointer is NULL")
        _lib.tg_engine_free(None)  # a no-op

    def test_foreign_pointer_is_not_an_engine(self):
        junk = (ctypes.c_uint64 * 8)()
        err = tg.tg_error()
        n = c_size_t(0)
        buf = (c_uint8 * 16)()
        status = _lib.tg_price_json(ctypes.cast(junk, c_void_p), b"{}", 2, buf, 16, byref(n), byref(err))
        self.assertEqual(status, tg.ERR_INVALID_HANDLE)


if __name__ == "__main__":
    unittest.main()
