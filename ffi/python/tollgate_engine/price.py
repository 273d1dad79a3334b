"""Pricing without the ledger: :class:`PriceItem` in, :class:`PriceOut` out, many items per
library call (``tg_price_batch`` / ``tg_snapshot_price_batch``)."""

from __future__ import annotations

from ctypes import byref
from typing import Any, Mapping, Optional, Sequence

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
    tg_error,
    tg_price_item,
    tg_price_out,
    tg_span,
)
from .cents import cents_from_raw, cents_to_raw
from .errors import TollgateError, _raise


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
