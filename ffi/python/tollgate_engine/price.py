"""Pricing without the ledger: :class:`PriceItem` in, :class:`PriceOut` out, many items per
library call (``tg_price_batch`` / ``tg_snapshot_price_batch``); whole columns in,
:class:`PriceColumns` out."""

from __future__ import annotations

import ctypes
from array import array
from ctypes import byref
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from ._native import native as _fast
from ._abi import (
    ERR_INVALID_INPUT,
    ERR_LIMIT,
    ITEM_HAS_EXTERNAL_COST,
    ITEM_HAS_PROVIDER_COST,
    KINDS,
    MATCHES,
    MAX_BATCH_ITEMS,
    OK,
    REASONS,
    SOURCES,
    TIERS,
    TIMESTAMP_NONE,
    lib,
    tg_decimal,
    tg_error,
    tg_price_item,
    tg_price_out,
    tg_span,
)
from .cents import cents_from_mantissa, cents_from_raw, cents_mantissa, cents_to_raw
from .errors import TollgateError, _from_native, _raise
from .types import Amount, Match, Reason, Source


#: A column of non-negative integers: a sequence of ints, an ``array.array``, a NumPy
#: integer array (anything with the buffer protocol), or one int for every row.
Column = Union[Sequence[int], "array[int]", memoryview, Any]

_SOURCES = tuple(Source(s) for s in SOURCES)
_MATCHES = tuple(None if m is None else Match(m) for m in MATCHES)
_REASONS = tuple(None if r is None else Reason(r) for r in REASONS)


@dataclass
class PriceItem:
    """One usage for :meth:`Engine.price_batch`: the fields of an event, snake_case. Token
    counts are non-negative ints (None means absent); ``kind`` is ``llm`` (default),
    ``tool`` or ``retrieval``; ``timestamp_ms`` picks the snapshot in force then (None: now);
    costs are exact amounts of cents."""

    provider: Optional[str] = None
    model: Optional[str] = None
    tokens_in: Optional[int] = None
    cached_tokens: Optional[int] = None
    cache_write_5m_tokens: Optional[int] = None
    cache_write_1h_tokens: Optional[int] = None
    audio_tokens_in: Optional[int] = None
    image_tokens_in: Optional[int] = None
    tokens_out: Optional[int] = None
    reasoning_tokens: Optional[int] = None
    audio_tokens_out: Optional[int] = None
    image_tokens_out: Optional[int] = None
    web_search_requests: Optional[int] = None
    tool_calls: Optional[int] = None
    service_tier: Optional[str] = None
    inference_geo: Optional[str] = None
    speed: Optional[str] = None
    kind: Optional[str] = None
    timestamp_ms: Optional[int] = None
    provider_cost_cents: Optional[Amount] = None
    external_cost_cents: Optional[Amount] = None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> "PriceItem":
        """From an event record in wire (camelCase) form."""
        fields = {_WIRE_NAMES[k]: v for k, v in event.items() if k in _WIRE_NAMES}
        return cls(event.get("provider"), event.get("model"), **fields)


_WIRE_NAMES = {
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


class PriceOut(NamedTuple):
    """The price of one item: ``cost_cents`` exact, ``priced`` False when the rate card has
    no price (``reason`` says why), ``source``/``match`` how it was priced, ``snapshot`` the
    rate-card snapshot id; ``error`` is set instead when the item could not be priced at all
    (e.g. a negative count)."""

    cost_cents: Decimal
    priced: bool
    source: Optional[Source]
    match: Optional[Match]
    reason: Optional[Reason]
    snapshot: str
    warning_count: int
    error: Optional[TollgateError]

    @classmethod
    def _from_raw(cls, raw: tg_price_out) -> "PriceOut":
        return cls(
            cents_from_raw(raw.cost_cents),
            bool(raw.priced),
            _SOURCES[raw.source] if raw.source < len(_SOURCES) else None,
            _MATCHES[raw.match_kind] if raw.match_kind < len(_MATCHES) else None,
            _REASONS[raw.reason] if raw.reason < len(_REASONS) else None,
            f"{raw.snapshot_id:016x}",
            raw.warning_count,
            None if raw.status == OK else TollgateError(raw.status),
        )


class PriceColumns:
    """The prices of whole columns (:meth:`Engine.price_columns`), row for row.

    ``total_cents`` is the exact sum of the rows that were priced without error (exact
    whatever its size); ``cost_cents`` builds one exact ``Decimal`` per row on first
    use. ``statuses[i]`` is 0 (``OK``) or the ``TG_ERR_*`` status of a row that could not be
    priced (``errors()`` lists those rows)."""

    __slots__ = ("_n", "_costs", "_status", "_priced", "_source", "_match", "total_cents",
                 "priced_count", "failed_count", "_decimals")

    def __init__(self, parts: Tuple[Any, ...]) -> None:
        (self._n, self._costs, self._status, self._priced, self._source, self._match,
         total, self.priced_count, self.failed_count) = parts
        if isinstance(total, tuple):  # the native sums of the mantissas' 64-bit halves
            hh, hl, lh, ll = total
            total = cents_from_mantissa((((hh << 64) | hl) << 64) + ((lh << 64) | ll))
        self.total_cents = total
        self._decimals: Optional[List[Decimal]] = None

    total_cents: Decimal
    priced_count: int
    failed_count: int

    def __len__(self) -> int:
        return int(self._n)

    @property
    def cost_cents(self) -> List[Decimal]:
        """Each row's exact cost in cents (0 for a failed row)."""
        if self._decimals is None:
            if _fast is not None:
                self._decimals = _fast.decimals(self._costs)
            else:
                raw = (tg_decimal * self._n).from_buffer_copy(self._costs)
                self._decimals = [cents_from_raw(d) for d in raw]
        return self._decimals

    @property
    def priced(self) -> List[bool]:
        """Whether each row had a price."""
        return [b != 0 for b in self._priced]

    @property
    def sources(self) -> List[Optional[Source]]:
        """Where each row's cost came from."""
        return [_SOURCES[b] if b < len(_SOURCES) else None for b in self._source]

    @property
    def matches(self) -> List[Optional[Match]]:
        """How each row's model matched the rate card."""
        return [_MATCHES[b] if b < len(_MATCHES) else None for b in self._match]

    @property
    def statuses(self) -> List[int]:
        """Each row's status: 0 or a ``TG_ERR_*`` code."""
        return list(memoryview(self._status).cast("i"))

    def errors(self) -> List[Tuple[int, TollgateError]]:
        """``(row, error)`` for each row that could not be priced."""
        return [(i, TollgateError(s)) for i, s in enumerate(self.statuses) if s != 0]

    def __repr__(self) -> str:
        return (f"PriceColumns(rows={self._n}, total_cents={self.total_cents}, "
                f"priced={self.priced_count}, failed={self.failed_count})")


class _Names:
    """The names arena of one batch: each distinct name stored once."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.seen: Dict[Any, Tuple[int, int]] = {}

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


def _price_batch(fn: Callable[..., int], handle: Any, items: Sequence[PriceItem]) -> List[PriceOut]:
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
    return [PriceOut._from_raw(o) for o in out]




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


_U64_FIELDS = (
    "tokens_in", "cached_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "audio_tokens_in", "image_tokens_in", "tokens_out", "reasoning_tokens",
    "audio_tokens_out", "image_tokens_out", "web_search_requests", "tool_calls",
)


def _price_one_slow(fn: Callable[..., int], handle: Any, provider: Optional[str], model: Optional[str],
                    **fields: Any) -> PriceOut:
    """``price`` over ctypes (when the native extension is not built)."""
    [out] = _price_batch(fn, handle, [PriceItem(provider, model, **fields)])
    if out.error is not None:
        raise out.error
    return out


def _price_columns_slow(fn: Callable[..., int], handle: Any, model: Sequence[Optional[str]],
                        provider: Union[str, Sequence[Optional[str]], None] = None,
                        service_tier: Optional[str] = None,
                        timestamp_ms: Union[int, Sequence[Optional[int]], None] = None,
                        **columns: Any) -> PriceColumns:
    """``price_columns`` over ctypes (when the native extension is not built): the same
    result, built from per-row :class:`PriceItem`."""
    if isinstance(model, str) or model is None:
        raise TollgateError(ERR_INVALID_INPUT, "model: must be a column (a sequence of str)")
    n = len(model)

    def column(name: str, value: Any, names: bool = False) -> Sequence[Any]:
        if value is None or isinstance(value, (int, str)):
            return [value] * n
        fmt = getattr(value, "typecode", None) or getattr(value, "format", None)
        if fmt is None and hasattr(value, "dtype"):  # NumPy
            fmt = value.dtype.char if value.dtype.byteorder != ">" else ">" + value.dtype.char
        if fmt is not None and fmt.lstrip("<=@") not in tuple("bBhHiIlLqQ"):
            raise TollgateError(ERR_INVALID_INPUT, f"{name}: buffer of format {fmt} is not a column of integers")
        values = list(value)
        if len(values) != n:
            raise TollgateError(ERR_INVALID_INPUT, f"{name}: {len(values)} values for {n} rows")
        if not names:
            for i, v in enumerate(values):
                if v is None and name == "timestamp_ms":
                    continue
                if not isinstance(v, int) and hasattr(v, "__index__"):
                    v = values[i] = v.__index__()  # NumPy integers
                if not isinstance(v, int) or (v < 0 and name != "timestamp_ms"):
                    raise TollgateError(ERR_INVALID_INPUT, f"{name}[{i}]: must be a non-negative int, got {v!r}")
        return values

    cols = {name: column(name, columns.get(name)) for name in _U64_FIELDS}
    providers = column("provider", provider, names=True)
    stamps = column("timestamp_ms", timestamp_ms)
    items = [
        PriceItem(providers[i], model[i], service_tier=service_tier, timestamp_ms=stamps[i],
                  **{name: cols[name][i] for name in _U64_FIELDS})
        for i in range(n)
    ]
    outs: List[PriceOut] = []
    for start in range(0, n, MAX_BATCH_ITEMS):
        outs.extend(_price_batch(fn, handle, items[start:start + MAX_BATCH_ITEMS]))
    costs = b"".join(bytes(cents_to_raw(o.cost_cents)) for o in outs)
    statuses = array("i", [0 if o.error is None else o.error.status for o in outs]).tobytes()
    ok = [o for o in outs if o.error is None]
    total = cents_from_mantissa(sum(cents_mantissa(o.cost_cents) for o in ok))
    return PriceColumns((
        n, costs, statuses, bytes(o.priced for o in outs),
        bytes(_SOURCES.index(o.source) if o.source is not None else 255 for o in outs),
        bytes(_MATCHES.index(o.match) for o in outs),
        total, sum(o.priced for o in ok), n - len(ok),
    ))


if _fast is not None:
    _fast.setup(
        PriceOut, Decimal, _from_native, _SOURCES, _MATCHES, _REASONS, dict(KINDS), dict(TIERS),
        tuple(ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
              for name in ("tg_price_batch", "tg_snapshot_price_batch", "tg_decimal_parse")),
    )
