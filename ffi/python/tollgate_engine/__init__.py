"""Python binding of the Tollgate engine's C ABI (include/tollgate.h), over ctypes.

Every C function has its ``argtypes`` and ``restype`` declared, so a wrong argument is a
``TypeError`` in Python instead of memory corruption. Money is exact: amounts are
``decimal.Decimal`` values of cents built from exact decimal text, never floats.

The library is the ``libtollgate_ffi`` inside this package (the wheel carries it), else
``$TOLLGATE_LIB``'s path when set, else the repository's ``target/release``;
``tg_abi_version()`` is checked at import. The hot paths (:meth:`Engine.price`,
:meth:`Engine.price_columns`, :meth:`Engine.price_batch`) run in the native extension ``_fast`` over the same library
when the package was built with it, and through ctypes otherwise (same results, slower).

Thread-safety: an :class:`Engine` may be used from many threads at once (ctypes and
``price_columns`` release the GIL during each call). A :class:`Stream` is used by one thread
at a time.

Where things live (the package is split by concern; this module only re-exports):

- ``_abi``: ABI constants and struct layouts, loading the library, function signatures,
  the version check.
- ``errors``: :class:`TollgateError` and one subclass per kind of failure, :func:`status_str`.
- ``types``: enums (:class:`Source`, :class:`Match`, :class:`Reason`) and the ``TypedDict``
  shapes of the JSON records (:class:`Event`, :class:`PriceResult`, :class:`TrackResult`, …).
- ``cents``: exact ``Decimal`` cents to and from the ABI's ``tg_decimal``.
- ``engine``: :class:`Engine` (life cycle, call plumbing, pricing calls).
- ``price``: :class:`PriceItem`, :class:`PriceOut`, :class:`PriceColumns`, batch marshalling.
- ``_fast.c``: the native extension (``price``, ``price_columns``, ``price_batch``) over the C ABI.
- ``ratecard``: the engine's rate-card methods (publish, overrides, pin) and :class:`Snapshot`.
- ``ledger``: the engine's ledger methods (track, resolve, customers, margins, state) and
  :class:`Margin`.
- ``usage``: :func:`extract_usage` and :class:`Stream`.
- ``guard``: the engine's guardrail methods (policies, ``allow``, reservations, breaches),
  :class:`Decision` and :class:`GuardBlocked`.
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
    ERR_IO,
    ERR_LIMIT,
    ERR_LOCKED,
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
    REPORT_CSV,
    REPORT_JSON,
    REPORT_JSONL,
    SNAPSHOT_CURRENT,
    SOURCES,
    STATUS_NAMES,
    TIERS,
    TIMESTAMP_NONE,
    LIBRARY_PATH,
    abi_version,
    tg_decimal,
    tg_engine_options,
    tg_error,
    tg_margin,
    tg_price_item,
    tg_price_out,
    tg_span,
)
from ._native import native as _fast
from ._abi import lib as _lib
from .cents import cents_from_raw, cents_to_raw
from .engine import Engine
from .errors import (
    AmountOverflowError,
    BufferTooSmallError,
    InvalidHandleError,
    InvalidInputError,
    InvalidUtf8Error,
    LimitError,
    LockedError,
    MisuseError,
    NoUsageError,
    NotFoundError,
    NullPointerError,
    PanicError,
    RateCardError,
    StateError,
    StorageError,
    TollgateError,
    TooLateError,
    status_str,
)
from .guard import Decision, GuardBlocked
from .sync import Refresher
from .ledger import Margin
from .price import Column, PriceColumns, PriceItem, PriceOut
from .ratecard import Snapshot
from .types import (
    Amount,
    Customer,
    Event,
    LineItem,
    MarginQuery,
    MarginRow,
    Match,
    Report,
    ReportQuery,
    ReportRow,
    PriceResult,
    Reason,
    ResolveRecord,
    RunCounts,
    PublishResult,
    SnapshotInfo,
    Source,
    TokenCounts,
    TrackContext,
    TrackResult,
)
from .usage import PROVIDERS, Stream, extract_usage

#: True when the native extension is loaded (the fast ``price`` / ``price_columns``).
NATIVE = _fast is not None

__version__ = "0.1.0"

__all__ = [
    "abi_version",
    "ABI_VERSION_MAJOR",
    "ABI_VERSION_MINOR",
    "Amount",
    "AmountOverflowError",
    "BufferTooSmallError",
    "Decision",
    "GuardBlocked",
    "Refresher",
    "cents_from_raw",
    "CENTS_SCALE",
    "cents_to_raw",
    "Column",
    "Customer",
    "DEDUPE_WINDOW_DEFAULT",
    "DEDUPE_WINDOW_FOREVER",
    "Engine",
    "ERR_BUFFER_TOO_SMALL",
    "ERR_INVALID_HANDLE",
    "ERR_INVALID_INPUT",
    "ERR_INVALID_UTF8",
    "ERR_LIMIT",
    "ERR_MISUSE",
    "ERR_NO_USAGE",
    "ERR_NOT_FOUND",
    "ERR_NULL",
    "ERR_OVERFLOW",
    "ERR_PANIC",
    "ERR_IO",
    "ERR_LOCKED",
    "ERR_RATE_CARD",
    "ERR_STATE",
    "ERR_TOO_LATE",
    "ERROR_MESSAGE_CAP",
    "Event",
    "extract_usage",
    "InvalidHandleError",
    "InvalidInputError",
    "InvalidUtf8Error",
    "ITEM_HAS_EXTERNAL_COST",
    "ITEM_HAS_PROVIDER_COST",
    "KINDS",
    "lib as _lib",
    "LIBRARY_PATH",
    "LimitError",
    "LockedError",
    "LineItem",
    "Margin",
    "MARGIN_PCT_NONE",
    "MarginQuery",
    "MarginRow",
    "Report",
    "ReportQuery",
    "ReportRow",
    "Match",
    "MATCHES",
    "MAX_BATCH_ITEMS",
    "MisuseError",
    "NATIVE",
    "NotFoundError",
    "NoUsageError",
    "NullPointerError",
    "OK",
    "PanicError",
    "PriceColumns",
    "PriceItem",
    "PriceOut",
    "PriceResult",
    "PROVIDERS",
    "RateCardError",
    "Reason",
    "REASONS",
    "RECORD_OUT_MAX",
    "REPORT_CSV",
    "REPORT_JSON",
    "REPORT_JSONL",
    "ResolveRecord",
    "RunCounts",
    "Snapshot",
    "SNAPSHOT_CURRENT",
    "PublishResult",
    "SnapshotInfo",
    "Source",
    "SOURCES",
    "StateError",
    "StorageError",
    "STATUS_NAMES",
    "status_str",
    "Stream",
    "tg_decimal",
    "tg_engine_options",
    "tg_error",
    "tg_margin",
    "tg_price_item",
    "tg_price_out",
    "tg_span",
    "TIERS",
    "TIMESTAMP_NONE",
    "TokenCounts",
    "TollgateError",
    "TooLateError",
    "TrackContext",
    "TrackResult",
    "__version__",
]
