"""Python binding of the Tollgate engine's C ABI (include/tollgate.h), over ctypes.

Every C function has its ``argtypes`` and ``restype`` declared, so a wrong argument is a
``TypeError`` in Python instead of memory corruption. Money is exact: amounts are
``decimal.Decimal`` values of cents built from exact decimal text, never floats.

The library is found through ``TOLLGATE_LIB`` (a path to ``libtollgate_ffi.so``), else in the
repository's ``target/release``. ``tg_abi_version()`` is checked at import.

Thread-safety: an :class:`Engine` may be used from many threads at once (ctypes releases the
GIL during each call). A :class:`Stream` is used by one thread at a time.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
from ctypes import (
    POINTER,
    Structure,
    byref,
    c_char,
    c_char_p,
    c_int32,
    c_int64,
    c_size_t,
    c_uint8,
    c_uint32,
    c_uint64,
    c_void_p,
)
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

__all__ = [
    "ABI_VERSION_MAJOR",
    "ABI_VERSION_MINOR",
    "CENTS_SCALE",
    "Engine",
    "Margin",
    "PriceItem",
    "Snapshot",
    "Stream",
    "extract_usage",
    "PriceOut",
    "TollgateError",
    "abi_version",
    "cents_from_raw",
    "cents_to_raw",
    "status_str",
]

# The ABI this module was written against (include/tollgate.h).
ABI_VERSION_MAJOR = 1
ABI_VERSION_MINOR = 0
CENTS_SCALE = 24

OK = 0
ERR_NULL = 1
ERR_INVALID_HANDLE = 2
ERR_INVALID_UTF8 = 3
ERR_INVALID_INPUT = 4
ERR_LIMIT = 5
ERR_BUFFER_TOO_SMALL = 6
ERR_RATE_CARD = 7
ERR_NOT_FOUND = 8
ERR_NO_USAGE = 9
ERR_STATE = 10
ERR_OVERFLOW = 11
ERR_TOO_LATE = 12
ERR_MISUSE = 13
ERR_PANIC = 14

STATUS_NAMES = {
    OK: "TG_OK",
    ERR_NULL: "TG_ERR_NULL",
    ERR_INVALID_HANDLE: "TG_ERR_INVALID_HANDLE",
    ERR_INVALID_UTF8: "TG_ERR_INVALID_UTF8",
    ERR_INVALID_INPUT: "TG_ERR_INVALID_INPUT",
    ERR_LIMIT: "TG_ERR_LIMIT",
    ERR_BUFFER_TOO_SMALL: "TG_ERR_BUFFER_TOO_SMALL",
    ERR_RATE_CARD: "TG_ERR_RATE_CARD",
    ERR_NOT_FOUND: "TG_ERR_NOT_FOUND",
    ERR_NO_USAGE: "TG_ERR_NO_USAGE",
    ERR_STATE: "TG_ERR_STATE",
    ERR_OVERFLOW: "TG_ERR_OVERFLOW",
    ERR_TOO_LATE: "TG_ERR_TOO_LATE",
    ERR_MISUSE: "TG_ERR_MISUSE",
    ERR_PANIC: "TG_ERR_PANIC",
}

TIMESTAMP_NONE = -1
KINDS = {"llm": 0, "tool": 1, "retrieval": 2}
TIERS = {
    "default": 0, "standard": 0, "auto": 0, "flex": 1, "priority": 2, "fast": 2,
    "batch": 3, "balanced": 4, "ultrafast": 5,
}
ITEM_HAS_PROVIDER_COST = 1
ITEM_HAS_EXTERNAL_COST = 2
SOURCES = ("ratecard", "provider", "external", "unpriced")
SNAPSHOT_CURRENT = 0
MATCHES = (None, "exact", "stripped", "alias", "inferred", "override")
REASONS = (None, "unknown_model", "no_token_price")
DEDUPE_WINDOW_DEFAULT = -1
DEDUPE_WINDOW_FOREVER = 0
ERROR_MESSAGE_CAP = 512
MAX_BATCH_ITEMS = 1 << 16
RECORD_OUT_MAX = 4096
MARGIN_PCT_NONE = -(2**63)


class tg_decimal(Structure):
    _fields_ = [("hi", c_int64), ("lo", c_uint64)]


class tg_error(Structure):
    _fields_ = [
        ("status", c_int32),
        ("message_len", c_uint32),
        ("message", c_char * ERROR_MESSAGE_CAP),
    ]


class tg_engine_options(Structure):
    _fields_ = [("dedupe_window_ms", c_int64), ("clock_ms", c_int64)]


class tg_span(Structure):
    _fields_ = [("offset", c_uint32), ("len", c_uint32)]


class tg_price_item(Structure):
    _fields_ = [
        ("tokens_in", c_uint64),
        ("cached_tokens", c_uint64),
        ("cache_write_5m_tokens", c_uint64),
        ("cache_write_1h_tokens", c_uint64),
        ("audio_tokens_in", c_uint64),
        ("image_tokens_in", c_uint64),
        ("tokens_out", c_uint64),
        ("reasoning_tokens", c_uint64),
        ("audio_tokens_out", c_uint64),
        ("image_tokens_out", c_uint64),
        ("web_search_requests", c_uint64),
        ("tool_calls", c_uint64),
        ("timestamp_ms", c_int64),
        ("provider_cost_cents", tg_decimal),
        ("external_cost_cents", tg_decimal),
        ("provider", tg_span),
        ("model", tg_span),
        ("inference_geo", tg_span),
        ("speed", tg_span),
        ("kind", c_uint32),
        ("service_tier", c_uint32),
        ("flags", c_uint32),
        ("reserved", c_uint32),
    ]


class tg_margin(Structure):
    _fields_ = [
        ("revenue_cents", tg_decimal),
        ("usage_revenue_cents", tg_decimal),
        ("outcome_revenue_cents", tg_decimal),
        ("subscription_revenue_cents", tg_decimal),
        ("cost_cents", tg_decimal),
        ("margin_cents", tg_decimal),
        ("margin_pct_hundredths", c_int64),
        ("events", c_uint64),
        ("unpriced_events", c_uint64),
        ("runs_open", c_uint64),
        ("runs_resolved", c_uint64),
        ("runs_escalated", c_uint64),
        ("runs_failed", c_uint64),
    ]


class tg_price_out(Structure):
    _fields_ = [
        ("cost_cents", tg_decimal),
        ("snapshot_id", c_uint64),
        ("status", c_int32),
        ("priced", c_uint32),
        ("source", c_uint32),
        ("match_kind", c_uint32),
        ("reason", c_uint32),
        ("warning_count", c_uint32),
    ]


assert ctypes.sizeof(tg_price_item) == 184 and ctypes.sizeof(tg_price_out) == 48


def _library_path() -> str:
    env = os.environ.get("TOLLGATE_LIB")
    if env:
        return env
    name = {"darwin": "libtollgate_ffi.dylib", "win32": "tollgate_ffi.dll"}.get(
        sys.platform, "libtollgate_ffi.so"
    )
    return str(Path(__file__).resolve().parents[3] / "target" / "release" / name)


_lib = ctypes.CDLL(_library_path())

_u8p = POINTER(c_uint8)
_errp = POINTER(tg_error)
_engine_p = c_void_p


def _declare(name: str, restype, *argtypes) -> None:
    fn = getattr(_lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)


_declare("tg_abi_version", c_uint32)
_declare("tg_status_str", c_char_p, c_int32)
_declare("tg_decimal_format", c_int32, tg_decimal, _u8p, c_size_t, POINTER(c_size_t))
_declare("tg_decimal_parse", c_int32, c_char_p, c_size_t, POINTER(tg_decimal), _errp)
_declare("tg_engine_options_default", tg_engine_options)
_declare(
    "tg_engine_new", c_int32,
    POINTER(tg_engine_options), c_char_p, c_size_t, POINTER(_engine_p), _errp,
)
_declare("tg_engine_free", None, _engine_p)
_declare(
    "tg_engine_publish_rate_card", c_int32,
    _engine_p, c_char_p, c_size_t, c_int64, POINTER(c_uint64), _errp,
)
_declare("tg_engine_snapshots_json", c_int32, _engine_p, _u8p, c_size_t, POINTER(c_size_t), _errp)
_declare("tg_engine_set_override", c_int32, _engine_p, c_char_p, c_size_t, c_char_p, c_size_t, _errp)
_declare(
    "tg_engine_remove_override", c_int32, _engine_p, c_char_p, c_size_t, POINTER(c_uint32), _errp
)
_declare("tg_snapshot_pin", c_int32, _engine_p, c_uint64, POINTER(c_void_p), _errp)
_declare("tg_snapshot_info", c_int32, c_void_p, POINTER(c_uint64), POINTER(c_int64), _errp)
_declare(
    "tg_snapshot_price_json", c_int32,
    c_void_p, c_char_p, c_size_t, _u8p, c_size_t, POINTER(c_size_t), _errp,
)
_declare(
    "tg_snapshot_price_batch", c_int32,
    c_void_p, POINTER(tg_price_item), c_size_t, c_char_p, c_size_t, POINTER(tg_price_out), _errp,
)
_declare("tg_snapshot_unpin", None, c_void_p)
_declare(
    "tg_usage_extract", c_int32,
    c_char_p, c_size_t, c_char_p, c_size_t, c_char_p, c_size_t, _u8p, c_size_t, POINTER(c_size_t), _errp,
)
_declare("tg_stream_new", c_int32, c_char_p, c_size_t, c_char_p, c_size_t, POINTER(c_void_p), _errp)
_declare("tg_stream_feed", c_int32, c_void_p, c_char_p, c_size_t, _errp)
_declare("tg_stream_finish", c_int32, c_void_p, _u8p, c_size_t, POINTER(c_size_t), _errp)
_declare("tg_stream_free", None, c_void_p)
for _name in ("tg_track_json", "tg_resolve_json", "tg_upsert_customer_json", "tg_margin_query_json"):
    _declare(_name, c_int32, _engine_p, c_char_p, c_size_t, _u8p, c_size_t, POINTER(c_size_t), _errp)
_declare(
    "tg_track_response", c_int32,
    _engine_p, c_char_p, c_size_t, c_char_p, c_size_t, c_char_p, c_size_t, c_char_p, c_size_t,
    _u8p, c_size_t, POINTER(c_size_t), _errp,
)
_declare(
    "tg_stream_track", c_int32,
    _engine_p, c_void_p, c_char_p, c_size_t, _u8p, c_size_t, POINTER(c_size_t), _errp,
)
_declare("tg_customer_margin", c_int32, _engine_p, c_char_p, c_size_t, POINTER(tg_margin), _errp)
_declare("tg_state_snapshot", c_int32, _engine_p, _u8p, c_size_t, POINTER(c_size_t), _errp)
_declare("tg_state_restore", c_int32, _engine_p, c_char_p, c_size_t, _errp)
_declare(
    "tg_price_json", c_int32,
    _engine_p, c_char_p, c_size_t, _u8p, c_size_t, POINTER(c_size_t), _errp,
)
_declare(
    "tg_price_batch", c_int32,
    _engine_p, POINTER(tg_price_item), c_size_t, c_char_p, c_size_t,
    POINTER(tg_price_out), _errp,
)


def abi_version() -> int:
    """The loaded library's ABI version, ``major << 16 | minor``."""
    return _lib.tg_abi_version()


def _check_version() -> None:
    v = abi_version()
    if v >> 16 != ABI_VERSION_MAJOR or (v & 0xFFFF) < ABI_VERSION_MINOR:
        raise ImportError(
            f"tollgate: library ABI {v >> 16}.{v & 0xFFFF} is incompatible with this "
            f"binding (needs {ABI_VERSION_MAJOR}.{ABI_VERSION_MINOR}+)"
        )


_check_version()


def status_str(status: int) -> str:
    """The library's static description of a status code."""
    return _lib.tg_status_str(status).decode("utf-8")


class TollgateError(Exception):
    """A failed call: ``status`` is the C status code, ``name`` its ``TG_ERR_*`` name."""

    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        self.name = STATUS_NAMES.get(status, f"status {status}")
        self.detail = message or status_str(status)
        super().__init__(f"{self.name}: {self.detail}")


def _raise(status: int, err: Optional[tg_error] = None) -> None:
    message = ""
    if err is not None and err.status == status:
        message = err.message[: err.message_len].decode("utf-8", "replace")
    raise TollgateError(status, message)


def _bytes(value: Union[str, bytes, bytearray, memoryview, None]) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)


def cents_from_raw(d: tg_decimal) -> Decimal:
    """A ``tg_decimal`` (mantissa of 10^-24 cent) as an exact ``Decimal`` of cents."""
    mantissa = (d.hi << 64) | d.lo
    sign, digits = (1, -mantissa) if mantissa < 0 else (0, mantissa)
    text = str(digits).rjust(CENTS_SCALE + 1, "0")
    whole, frac = text[:-CENTS_SCALE], text[-CENTS_SCALE:].rstrip("0")
    return Decimal(("-" if sign else "") + whole + ("." + frac if frac else ""))


def cents_to_raw(value: Union[Decimal, int, str]) -> tg_decimal:
    """An exact amount of cents as a ``tg_decimal``; more than 24 fractional digits or a
    value out of range raises ``TollgateError`` (never rounds)."""
    text = _bytes(str(value))
    out = tg_decimal()
    err = tg_error()
    status = _lib.tg_decimal_parse(text, len(text), byref(out), byref(err))
    if status != OK:
        _raise(status, err)
    return out


def _call_with_buffer(call, initial: int = 1024) -> bytes:
    """Runs ``call(buf, cap, out_len, err)``, growing the buffer to the reported needed
    length on ``TG_ERR_BUFFER_TOO_SMALL``."""
    cap = initial
    for _ in range(8):
        buf = (c_uint8 * cap)()
        out_len = c_size_t(0)
        err = tg_error()
        status = call(buf, cap, byref(out_len), byref(err))
        if status == OK:
            return bytes(buf[: out_len.value])
        if status != ERR_BUFFER_TOO_SMALL:
            _raise(status, err)
        cap = max(out_len.value, cap * 2)
    raise TollgateError(ERR_BUFFER_TOO_SMALL, "output kept growing")


def _json_bytes(value: Union[Mapping[str, Any], str, bytes]) -> bytes:
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":")).encode("utf-8")
    return _bytes(value)


class PriceItem:
    """One usage for :meth:`Engine.price_batch` (the fields of SPEC §2, snake_case)."""

    __slots__ = (
        "provider", "model", "tokens_in", "cached_tokens", "cache_write_5m_tokens",
        "cache_write_1h_tokens", "audio_tokens_in", "image_tokens_in", "tokens_out",
        "reasoning_tokens", "audio_tokens_out", "image_tokens_out", "web_search_requests",
        "tool_calls", "service_tier", "inference_geo", "speed", "kind", "timestamp_ms",
        "provider_cost_cents", "external_cost_cents",
    )

    def __init__(self, provider: Optional[str] = None, model: Optional[str] = None, **fields: Any):
        self.provider = provider
        self.model = model
        for name in self.__slots__[2:]:
            setattr(self, name, None)
        for name, value in fields.items():
            if name not in self.__slots__:
                raise TypeError(f"PriceItem: unknown field {name!r}")
            setattr(self, name, value)

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> "PriceItem":
        """From an event record in wire (camelCase) form."""
        names = {
            "tokensIn": "tokens_in", "cachedTokens": "cached_tokens",
            "cacheWrite5mTokens": "cache_write_5m_tokens",
            "cacheWrite1hTokens": "cache_write_1h_tokens", "audioTokensIn": "audio_tokens_in",
            "imageTokensIn": "image_tokens_in", "tokensOut": "tokens_out",
            "reasoningTokens": "reasoning_tokens", "audioTokensOut": "audio_tokens_out",
            "imageTokensOut": "image_tokens_out", "webSearchRequests": "web_search_requests",
            "toolCalls": "tool_calls", "serviceTier": "service_tier",
            "inferenceGeo": "inference_geo", "speed": "speed", "type": "kind",
            "providerCostCents": "provider_cost_cents",
            "externalCostCents": "external_cost_cents",
        }
        fields = {names[k]: v for k, v in event.items() if k in names}
        return cls(event.get("provider"), event.get("model"), **fields)


class Margin:
    """A customer's margin: exact ``Decimal`` cents; ``margin_pct`` a ``Decimal`` percent
    rounded half-even to 0.01, ``None`` when revenue is 0."""

    __slots__ = (
        "revenue_cents", "usage_revenue_cents", "outcome_revenue_cents", "subscription_revenue_cents",
        "cost_cents", "margin_cents", "margin_pct", "events", "unpriced_events", "runs",
    )

    def __init__(self, m: tg_margin) -> None:
        self.revenue_cents = cents_from_raw(m.revenue_cents)
        self.usage_revenue_cents = cents_from_raw(m.usage_revenue_cents)
        self.outcome_revenue_cents = cents_from_raw(m.outcome_revenue_cents)
        self.subscription_revenue_cents = cents_from_raw(m.subscription_revenue_cents)
        self.cost_cents = cents_from_raw(m.cost_cents)
        self.margin_cents = cents_from_raw(m.margin_cents)
        pct = m.margin_pct_hundredths
        self.margin_pct = None if pct == MARGIN_PCT_NONE else Decimal(pct).scaleb(-2)
        self.events = m.events
        self.unpriced_events = m.unpriced_events
        self.runs = {"open": m.runs_open, "resolved": m.runs_resolved, "escalated": m.runs_escalated, "failed": m.runs_failed}


class PriceOut:
    """The result for one :class:`PriceItem`; ``error`` is set instead when the item could
    not be priced at all."""

    __slots__ = (
        "cost_cents", "priced", "source", "match", "reason", "snapshot", "warning_count",
        "error",
    )

    def __init__(self, raw: tg_price_out) -> None:
        self.error = None if raw.status == OK else TollgateError(raw.status)
        self.cost_cents = cents_from_raw(raw.cost_cents)
        self.priced = bool(raw.priced)
        self.source = SOURCES[raw.source] if raw.source < len(SOURCES) else None
        self.match = MATCHES[raw.match_kind] if raw.match_kind < len(MATCHES) else None
        self.reason = REASONS[raw.reason] if raw.reason < len(REASONS) else None
        self.snapshot = f"{raw.snapshot_id:016x}"
        self.warning_count = raw.warning_count


class _Names:
    """The names arena of one batch: each distinct name stored once."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.seen: dict = {}

    def span(self, name: Optional[str]) -> tg_span:
        if not name:
            return tg_span(0, 0)
        hit = self.seen.get(name)
        if hit is None:
            data = name.encode("utf-8") if isinstance(name, str) else bytes(name)
            hit = (len(self.buf), len(data))
            self.buf += data
            self.seen[name] = hit
        return tg_span(*hit)


class Engine:
    """The engine: rate-card snapshots, pricing and the ledger. Thread-safe; close it (or
    use ``with``) to free it."""

    def __init__(
        self,
        rate_card: Optional[bytes] = None,
        dedupe_window_ms: Optional[int] = None,
        clock_ms: Optional[int] = None,
    ) -> None:
        self._handle = None
        self._lock = threading.Lock()
        self._users = 0
        self._idle = threading.Condition(self._lock)
        opts = _lib.tg_engine_options_default()
        if dedupe_window_ms is not None:
            opts.dedupe_window_ms = dedupe_window_ms
        if clock_ms is not None:
            opts.clock_ms = clock_ms
        card = _bytes(rate_card)
        handle = _engine_p()
        err = tg_error()
        status = _lib.tg_engine_new(byref(opts), card or None, len(card), byref(handle), byref(err))
        if status != OK:
            _raise(status, err)
        # Close must not free the engine while another thread is inside a call.
        self._handle = handle

    def _enter(self) -> c_void_p:
        with self._lock:
            if self._handle is None:
                raise TollgateError(ERR_INVALID_HANDLE, "engine is closed")
            self._users += 1
            return self._handle

    def _leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0:
                self._idle.notify_all()

    def close(self) -> None:
        """Frees the engine (waits for calls in progress). Closing twice is a no-op."""
        with self._lock:
            while self._users:
                self._idle.wait()
            handle, self._handle = self._handle, None
        if handle is not None:
            _lib.tg_engine_free(handle)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _buffered(self, fn, *args: Any, initial: int = 1024) -> bytes:
        handle = self._enter()
        try:
            return _call_with_buffer(lambda b, c, n, e: fn(handle, *args, b, c, n, e), initial)
        finally:
            self._leave()

    def price_json(self, event: Union[Mapping[str, Any], str, bytes]) -> dict:
        """Prices one event (a dict, or JSON text) and returns the result object
        (``costCents`` is a decimal string)."""
        data = _json_bytes(event)
        return json.loads(self._buffered(_lib.tg_price_json, data, len(data), initial=512))

    def price_batch(self, items: Sequence[PriceItem]) -> list:
        """Prices many items in one call; returns one :class:`PriceOut` per item."""
        handle = self._enter()
        try:
            return _price_batch(_lib.tg_price_batch, handle, items)
        finally:
            self._leave()

    def _status_call(self, fn, *args: Any) -> None:
        err = tg_error()
        handle = self._enter()
        try:
            status = fn(handle, *args, byref(err))
        finally:
            self._leave()
        if status != OK:
            _raise(status, err)

    def publish_rate_card(self, rate_card: bytes, effective_from_ms: int) -> str:
        """Publishes a LiteLLM-format registry effective from ``effective_from_ms``; returns
        the new snapshot id (16 hex digits). A bad card raises (``ERR_RATE_CARD``) and
        changes nothing."""
        card = _bytes(rate_card)
        out = c_uint64(0)
        self._status_call(_lib.tg_engine_publish_rate_card, card, len(card), effective_from_ms, byref(out))
        return f"{out.value:016x}"

    def snapshots(self) -> list:
        """The published snapshots, oldest first: ``[{"id", "effectiveFromMs", "models"}]``."""
        return json.loads(self._buffered(_lib.tg_engine_snapshots_json))["snapshots"]

    def set_override(self, model: str, entry: Union[Mapping[str, Any], str, bytes]) -> None:
        """Custom prices for ``model`` (one registry entry object), over every snapshot."""
        m, e = _bytes(model), _json_bytes(entry)
        self._status_call(_lib.tg_engine_set_override, m, len(m), e, len(e))

    def remove_override(self, model: str) -> bool:
        """Removes the override of ``model``; True if there was one."""
        m = _bytes(model)
        out = c_uint32(0)
        self._status_call(_lib.tg_engine_remove_override, m, len(m), byref(out))
        return bool(out.value)

    def _record(self, fn, record: Union[Mapping[str, Any], str, bytes]) -> dict:
        data = _json_bytes(record)
        return json.loads(self._buffered(fn, data, len(data), initial=RECORD_OUT_MAX))

    def track(self, event: Union[Mapping[str, Any], str, bytes]) -> dict:
        """Prices and applies one event exactly once. Returns ``{"status": "accepted", "costCents",
        "revenueCents", "priced", "snapshot", "warnings"}``, ``{"status": "duplicate"}`` or
        ``{"status": "conflict", "reason"}``; a rejected event raises ``TollgateError``
        (``ERR_INVALID_INPUT``, ``ERR_TOO_LATE``, ``ERR_OVERFLOW``) and changes nothing."""
        return self._record(_lib.tg_track_json, event)

    def track_response(
        self,
        provider: str,
        body: Union[bytes, str],
        context: Optional[Mapping[str, Any]] = None,
        model: Optional[str] = None,
    ) -> list:
        """Reads the usage off a raw provider response and tracks one event per line item with
        ``context`` (``customerId``, ``runId``, ``agentId``, ``idempotencyKey``, ``timestamp``,
        ``revenueUnitCents``, ``units``, ``outcome``, ``externalCostCents``). Returns one
        result per line item (a rejected item is ``{"status": "rejected", …}``)."""
        p, m, b = _bytes(provider), _bytes(model), _bytes(body)
        c = _json_bytes(context) if context is not None else b""
        out = self._buffered(
            _lib.tg_track_response, p, len(p), m or None, len(m), b or None, len(b), c or None, len(c),
            initial=16 + RECORD_OUT_MAX,
        )
        return json.loads(out)["results"]

    def track_stream(self, stream: "Stream", context: Optional[Mapping[str, Any]] = None) -> list:
        """``track_response`` for a response read through a :class:`Stream` (finishes it)."""
        c = _json_bytes(context) if context is not None else b""
        out = self._buffered(_lib.tg_stream_track, stream._h(), c or None, len(c), initial=16 + RECORD_OUT_MAX)
        return json.loads(out)["results"]

    def resolve(self, record: Union[Mapping[str, Any], str, bytes]) -> dict:
        """Resolves a run: ``{"runId", "customerId", "outcome", "revenueUnitCents"?, "timestamp"?}``."""
        return self._record(_lib.tg_resolve_json, record)

    def upsert_customer(self, record: Union[Mapping[str, Any], str, bytes]) -> dict:
        """Creates or changes a customer: ``{"customerId", "name"?, "seats"?, "plan"?, "timestamp"?}``."""
        return self._record(_lib.tg_upsert_customer_json, record)

    def margin(self, query: Optional[Mapping[str, Any]] = None) -> list:
        """Margin rows for a query (filters ``customerId``, ``runId``, ``agentId``, ``model``,
        ``provider``, ``from``/``to`` days; ``groupBy`` dimensions)."""
        q = _json_bytes(query) if query is not None else b""
        return json.loads(self._buffered(_lib.tg_margin_query_json, q or None, len(q), initial=4096))["rows"]

    def customer_margin(self, customer_id: str) -> "Margin":
        """A customer's current margin in O(1); ``ERR_NOT_FOUND`` for an unknown customer."""
        cid = _bytes(customer_id)
        out = tg_margin()
        self._status_call(_lib.tg_customer_margin, cid, len(cid), byref(out))
        return Margin(out)

    def state_snapshot(self) -> bytes:
        """The whole ledger state as versioned, checksummed bytes."""
        return self._buffered(_lib.tg_state_snapshot, initial=1 << 16)

    def state_restore(self, state: bytes) -> None:
        """Replaces the ledger with restored state; bad bytes raise ``ERR_STATE`` and load nothing."""
        data = _bytes(state)
        self._status_call(_lib.tg_state_restore, data or None, len(data))

    def pin(self, snapshot_id: Optional[str] = None) -> "Snapshot":
        """Pins a published snapshot (default: the one in force now) with the current
        overrides, for consistent pricing whatever is published later."""
        handle = c_void_p()
        self._status_call(_lib.tg_snapshot_pin, int(snapshot_id, 16) if snapshot_id else 0, byref(handle))
        return Snapshot(handle)


def _price_batch(fn, handle, items: Sequence[PriceItem]) -> list:
    n = len(items)
    if n > MAX_BATCH_ITEMS:
        raise TollgateError(ERR_LIMIT, f"{n} items exceeds {MAX_BATCH_ITEMS}")
    names = _Names()
    raw = (tg_price_item * n)()
    for i, it in enumerate(items):
        _fill_item(raw[i], it, names)
    out = (tg_price_out * n)()
    err = tg_error()
    status = fn(handle, raw, n, bytes(names.buf), len(names.buf), out, byref(err))
    if status != OK:
        _raise(status, err)
    return [PriceOut(o) for o in out]


class Snapshot:
    """A pinned snapshot: prices with exactly one rate card (and the overrides at pin time),
    whatever the event timestamps. Thread-safe; ``unpin()`` (or ``with``) releases it."""

    def __init__(self, handle: c_void_p) -> None:
        self._handle = handle
        sid, frm = c_uint64(0), c_int64(0)
        status = _lib.tg_snapshot_info(handle, byref(sid), byref(frm), None)
        if status != OK:
            _raise(status)
        self.id = f"{sid.value:016x}"
        self.effective_from_ms = frm.value

    def _h(self) -> c_void_p:
        if self._handle is None:
            raise TollgateError(ERR_INVALID_HANDLE, "snapshot is unpinned")
        return self._handle

    def price_json(self, event: Union[Mapping[str, Any], str, bytes]) -> dict:
        data = _json_bytes(event)
        h = self._h()
        return json.loads(_call_with_buffer(lambda b, c, n, e: _lib.tg_snapshot_price_json(h, data, len(data), b, c, n, e), 512))

    def price_batch(self, items: Sequence[PriceItem]) -> list:
        return _price_batch(_lib.tg_snapshot_price_batch, self._h(), items)

    def unpin(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            _lib.tg_snapshot_unpin(handle)

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.unpin()

    def __del__(self) -> None:
        self.unpin()


PROVIDERS = ("openai", "anthropic", "bedrock", "gemini", "openai_compatible")


def extract_usage(provider: str, body: Union[bytes, str], model: Optional[str] = None) -> list:
    """Reads the usage off one raw provider response (JSON body, SSE text, JSON Lines or AWS
    event-stream bytes) and returns its line items (dicts in the `tollgate usage` shape).
    ``model`` is the requested model (required for Bedrock Converse). A response without
    usage raises ``TollgateError`` with ``ERR_NO_USAGE``: never zero tokens."""
    p, m, b = _bytes(provider), _bytes(model), _bytes(body)
    out = _call_with_buffer(
        lambda buf, cap, n, e: _lib.tg_usage_extract(p, len(p), m or None, len(m), b or None, len(b), buf, cap, n, e),
        1024,
    )
    return json.loads(out)["lineItems"]


class Stream:
    """A streaming usage reader: ``feed()`` chunks as they arrive (split anywhere), then
    ``finish()``. Bounded memory; keeps no content. One thread at a time."""

    def __init__(self, provider: str, model: Optional[str] = None) -> None:
        self._handle = None
        p, m = _bytes(provider), _bytes(model)
        handle = c_void_p()
        err = tg_error()
        status = _lib.tg_stream_new(p, len(p), m or None, len(m), byref(handle), byref(err))
        if status != OK:
            _raise(status, err)
        self._handle = handle

    def _h(self) -> c_void_p:
        if self._handle is None:
            raise TollgateError(ERR_INVALID_HANDLE, "stream is closed")
        return self._handle

    def feed(self, chunk: Union[bytes, str]) -> None:
        c = _bytes(chunk)
        err = tg_error()
        status = _lib.tg_stream_feed(self._h(), c or None, len(c), byref(err))
        if status != OK:
            _raise(status, err)

    def finish(self) -> list:
        """The line items (the result is computed once; calling again returns it again)."""
        h = self._h()
        return json.loads(_call_with_buffer(lambda b, c, n, e: _lib.tg_stream_finish(h, b, c, n, e), 1024))["lineItems"]

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            _lib.tg_stream_free(handle)

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def _fill_item(raw: tg_price_item, it: PriceItem, names: _Names) -> None:
    for field in (
        "tokens_in", "cached_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
        "audio_tokens_in", "image_tokens_in", "tokens_out", "reasoning_tokens",
        "audio_tokens_out", "image_tokens_out", "web_search_requests", "tool_calls",
    ):
        value = getattr(it, field)
        if value is not None:
            if not isinstance(value, int) or value < 0:
                raise TollgateError(ERR_INVALID_INPUT, f"{field}: must be a non-negative int")
            setattr(raw, field, value)
    raw.timestamp_ms = TIMESTAMP_NONE if it.timestamp_ms is None else it.timestamp_ms
    raw.provider = names.span(it.provider)
    raw.model = names.span(it.model)
    raw.inference_geo = names.span(it.inference_geo)
    raw.speed = names.span(it.speed)
    kind = KINDS.get(it.kind or "llm")
    tier = TIERS.get((it.service_tier or "default").lower())
    if kind is None or tier is None:
        raise TollgateError(ERR_INVALID_INPUT, f"unknown kind or service tier: {it.kind!r} {it.service_tier!r}")
    raw.kind, raw.service_tier = kind, tier
    if it.provider_cost_cents is not None:
        raw.provider_cost_cents = cents_to_raw(it.provider_cost_cents)
        raw.flags |= ITEM_HAS_PROVIDER_COST
    if it.external_cost_cents is not None:
        raw.external_cost_cents = cents_to_raw(it.external_cost_cents)
        raw.flags |= ITEM_HAS_EXTERNAL_COST
