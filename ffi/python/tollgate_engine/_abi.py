"""The C ABI as ctypes sees it: the constants and struct layouts of ``include/tollgate.h``,
loading ``libtollgate_ffi``, the ``argtypes``/``restype`` of every function, and the ABI
version check at import. Everything else in the package calls the library through ``lib``."""

from __future__ import annotations

import ctypes
import os
import sys
from ctypes import (
    POINTER,
    Structure,
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
from pathlib import Path
from typing import Any, List, Tuple

# The ABI this module was written against (include/tollgate.h).
ABI_VERSION_MAJOR = 1
ABI_VERSION_MINOR = 1
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
ERR_IO = 15
ERR_LOCKED = 16

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
    ERR_IO: "TG_ERR_IO",
    ERR_LOCKED: "TG_ERR_LOCKED",
}

DURABILITY = {"sync": 0, "interval": 1, "none": 2}

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
REASONS = (None, "unknown_model", "no_token_price", "truncated")
DEDUPE_WINDOW_DEFAULT = -1
DEDUPE_WINDOW_FOREVER = 0
ERROR_MESSAGE_CAP = 512
MAX_BATCH_ITEMS = 1 << 16
RECORD_OUT_MAX = 4096
DECISION_JSON_MAX = 8192
MARGIN_PCT_NONE = -(2**63)
#: ``tg_report_query`` output formats.
REPORT_JSON = 0
REPORT_CSV = 1
REPORT_JSONL = 2


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


class tg_store_options(Structure):
    _fields_ = [
        ("durability", c_int32),
        ("interval_ms", c_int64),
        ("dedupe_window_ms", c_int64),
        ("checkpoint_bytes", c_int64),
    ]


class tg_sync_options(Structure):
    _fields_ = [
        ("timeout_ms", c_uint64),
        ("retries", c_uint32),
        ("reserved", c_uint32),
        ("backoff_ms", c_uint64),
        ("max_bytes", c_uint64),
    ]


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


LIBRARY_NAME = {"darwin": "libtollgate_ffi.dylib", "win32": "tollgate_ffi.dll"}.get(
    sys.platform, "libtollgate_ffi.so"
)


def _library_candidates() -> List[Path]:
    """Where the library is looked for, in order: ``$TOLLGATE_LIB`` (a path to the file), the
    copy inside this package (an installed wheel), the repository's ``target/release`` (a
    source checkout after ``cargo build --release -p tollgate-ffi``)."""
    env = os.environ.get("TOLLGATE_LIB")
    if env:
        return [Path(env)]
    here = Path(__file__).resolve().parent
    stem, dot, suffix = LIBRARY_NAME.partition(".")
    # The wheel's build names the file like an extension module (libtollgate_ffi.<tag>.so).
    bundled = sorted(here.glob(f"{stem}*{dot}{suffix}"))
    return bundled + [here.parents[2] / "target" / "release" / LIBRARY_NAME]


def _load() -> Tuple[ctypes.CDLL, Path]:
    tried = _library_candidates()
    if os.environ.get("TOLLGATE_LIB"):
        return ctypes.CDLL(str(tried[0])), tried[0]  # an explicit path: its own error
    for path in tried:
        if path.exists():
            return ctypes.CDLL(str(path)), path
    raise ImportError(
        "tollgate_engine: the engine library was not found; looked for "
        + ", ".join(str(p) for p in tried)
        + ". Install the wheel (pip install tollgate-engine), or build it with "
        "`cargo build --release -p tollgate-ffi`, or set TOLLGATE_LIB to its path."
    )


lib, LIBRARY_PATH = _load()

_u8p = POINTER(c_uint8)
_errp = POINTER(tg_error)
_engine_p = c_void_p


def _declare(name: str, restype: Any, *argtypes: Any) -> None:
    fn = getattr(lib, name)
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
_declare("tg_store_options_default", tg_store_options)
_declare(
    "tg_engine_open", c_int32,
    c_char_p, c_size_t, POINTER(tg_store_options), POINTER(_engine_p), _errp,
)
_declare("tg_engine_checkpoint", c_int32, _engine_p, _errp)
_declare("tg_engine_flush", c_int32, _engine_p, _errp)
_declare("tg_engine_recovery_json", c_int32, _engine_p, _u8p, c_size_t, POINTER(c_size_t), _errp)
_declare("tg_engine_close", c_int32, _engine_p, _errp)
_declare(
    "tg_engine_publish_rate_card", c_int32,
    _engine_p, c_char_p, c_size_t, c_int64, POINTER(c_uint64), _errp,
)
_declare(
    "tg_engine_publish_rate_card_json", c_int32,
    _engine_p, c_char_p, c_size_t, c_int64, _u8p, c_size_t, POINTER(c_size_t), _errp,
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
for _name in ("tg_upsert_policy_json", "tg_allow_json"):
    _declare(_name, c_int32, _engine_p, c_char_p, c_size_t, _u8p, c_size_t, POINTER(c_size_t), _errp)
# The fixed-layout allow: called by the native extension only (its structs are not declared
# here), so its pointers stay opaque.
_declare("tg_allow", c_int32, _engine_p, c_void_p, c_void_p, _errp)
_declare(
    "tg_settle_json", c_int32,
    _engine_p, c_uint64, c_char_p, c_size_t, _u8p, c_size_t, POINTER(c_size_t), _errp,
)
_declare("tg_release", c_int32, _engine_p, c_uint64, POINTER(tg_decimal), _errp)
_declare("tg_policy_breaches_json", c_int32, _engine_p, _u8p, c_size_t, POINTER(c_size_t), _errp)
_declare("tg_sync_options_default", tg_sync_options)
_declare(
    "tg_ratecard_pull", c_int32,
    _engine_p, c_char_p, c_size_t, POINTER(tg_sync_options), POINTER(c_void_p), _errp,
)
_declare("tg_sync_report_json", c_int32, c_void_p, _u8p, c_size_t, POINTER(c_size_t), _errp)
_declare("tg_sync_report_free", None, c_void_p)
_declare("tg_ratecard_history_json", c_int32, _engine_p, _u8p, c_size_t, POINTER(c_size_t), _errp)
_declare(
    "tg_refresher_start", c_int32,
    _engine_p, c_char_p, c_size_t, POINTER(tg_sync_options), c_uint64, c_uint64, POINTER(c_void_p), _errp,
)
_declare("tg_refresher_status_json", c_int32, c_void_p, _u8p, c_size_t, POINTER(c_size_t), _errp)
_declare("tg_refresher_stop", None, c_void_p)
_declare("tg_customer_margin", c_int32, _engine_p, c_char_p, c_size_t, POINTER(tg_margin), _errp)
_declare(
    "tg_report_query", c_int32,
    _engine_p, c_char_p, c_size_t, c_uint32, _u8p, c_size_t, POINTER(c_size_t), _errp,
)
_declare("tg_state_save", c_int32, _engine_p, _u8p, c_size_t, POINTER(c_size_t), _errp)
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
    return int(lib.tg_abi_version())


def _check_version() -> None:
    v = abi_version()
    if v >> 16 != ABI_VERSION_MAJOR or (v & 0xFFFF) < ABI_VERSION_MINOR:
        raise ImportError(
            f"tollgate_engine: library ABI {v >> 16}.{v & 0xFFFF} is incompatible with this "
            f"binding (needs {ABI_VERSION_MAJOR}.{ABI_VERSION_MINOR}+)"
        )


_check_version()

