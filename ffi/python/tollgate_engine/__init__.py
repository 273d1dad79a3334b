"""Python binding of the Tollgate engine's C ABI (include/tollgate.h), over ctypes.

Every C function has its ``argtypes`` and ``restype`` declared, so a wrong argument is a
``TypeError`` in Python instead of memory corruption. Money is exact: amounts are
``decimal.Decimal`` values of cents built from exact decimal text, never floats.

The library is found through ``TOLLGATE_LIB`` (a path to ``libtollgate_ffi.so``), else in the
repository's ``target/release``. ``tg_abi_version()`` is checked at import.

Thread-safety: an :class:`Engine` may be used from many threads at once (ctypes releases the
GIL during each call). A :class:`Stream` is used by one thread at a time.

Where things live (the package is split by concern; this module only re-exports):

- ``_abi``: ABI constants and struct layouts, loading the library, function signatures,
  the version check.
- ``errors``: :class:`TollgateError`, :func:`status_str`.
- ``cents``: exact ``Decimal`` cents to and from the ABI's ``tg_decimal``.
- ``engine``: :class:`Engine` (life cycle, call plumbing, pricing calls).
- ``price``: :class:`PriceItem`, :class:`PriceOut` and batch marshalling.
- ``ratecard``: the engine's rate-card methods (publish, overrides, pin) and :class:`Snapshot`.
- ``ledger``: the engine's ledger methods (track, resolve, customers, margins, state) and
  :class:`Margin`.
- ``usage``: :func:`extract_usage` and :class:`Stream`.
"""

from __future__ import annotations

from ._abi import (
    ABI_VERSION_MAJOR,
    ABI_VERSION_MINOR,
    CENTS_SCALE,
    DEDUPE_WINDOW_DEFAULT,
    DEDUPE_WINDOW_FOREVER,
    ERR_BUFFER_TOO_SMALL,
    ERR_INVALID_HANDLE,
    ERR_INVALID_INPUT,
    ERR_INVALID_UTF8,
    ERR_LIMIT,
    ERR_MISUSE,
    ERR_NO_USAGE,
    ERR_NOT_FOUND,
    ERR_NULL,
    ERR_OVERFLOW,
    ERR_PANIC,
    ERR_RATE_CARD,
    ERR_STATE,
    ERR_TOO_LATE,
    ERROR_MESSAGE_CAP,
    ITEM_HAS_EXTERNAL_COST,
    ITEM_HAS_PROVIDER_COST,
    KINDS,
    MARGIN_PCT_NONE,
    MATCHES,
    MAX_BATCH_ITEMS,
    OK,
    REASONS,
    RECORD_OUT_MAX,
    SNAPSHOT_CURRENT,
    SOURCES,
    STATUS_NAMES,
    TIERS,
    TIMESTAMP_NONE,
    abi_version,
    tg_decimal,
    tg_engine_options,
    tg_error,
    tg_margin,
    tg_price_item,
    tg_price_out,
    tg_span,
)
from ._abi import lib as _lib
from .cents import cents_from_raw, cents_to_raw
from .engine import Engine
from .errors import TollgateError, status_str
from .ledger import Margin
from .price import PriceItem, PriceOut
from .ratecard import Snapshot
from .usage import PROVIDERS, Stream, extract_usage

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
