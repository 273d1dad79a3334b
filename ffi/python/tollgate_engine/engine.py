"""The :class:`Engine` handle: its life cycle (``close``, ``with``), the call plumbing, and
pricing. Its rate-card methods live in :mod:`.ratecard`, its ledger methods in
:mod:`.ledger`."""

from __future__ import annotations

import json
import os
import threading
from ctypes import byref, c_void_p
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from ._abi import DURABILITY, ERR_INVALID_HANDLE, MAX_BATCH_ITEMS, OK, lib, tg_error
from ._native import native as _fast
from ._buffers import _bytes, _call_with_buffer, _json_bytes
from .errors import TollgateError, _raise
from .guard import GuardMethods
from .ledger import LedgerMethods
from .sync import SyncMethods
from .price import (
    Column,
    PriceColumns,
    PriceItem,
    PriceOut,
    _price_batch,
    _price_columns_slow,
    _price_one_slow,
)
from .ratecard import RateCardMethods
from .types import Amount, Event, PriceResult

_engine_p = c_void_p


class Engine(RateCardMethods, LedgerMethods, GuardMethods, SyncMethods):
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
        # close() calls waiting for the calls in progress: a call that ends wakes them only
        # when there is one (no Condition.notify_all per call).
        self._closers = 0
        self._idle = threading.Condition(self._lock)
        opts = lib.tg_engine_options_default()
        if dedupe_window_ms is not None:
            opts.dedupe_window_ms = dedupe_window_ms
        if clock_ms is not None:
            opts.clock_ms = clock_ms
        card = _bytes(rate_card)
        handle = _engine_p()
        err = tg_error()
        status = lib.tg_engine_new(byref(opts), card or None, len(card), byref(handle), byref(err))
        if status != OK:
            _raise(status, err)
        # Close must not free the engine while another thread is inside a call.
        self._handle = handle
        # The native extension reads the handle from this cell while holding the GIL;
        # close() empties it before freeing.
        self._cell = c_void_p(handle.value)

    @classmethod
    def open(
        cls,
        directory: Union[str, "os.PathLike[str]"],
        durability: str = "sync",
        interval_ms: int = 100,
        dedupe_window_ms: Optional[int] = None,
        checkpoint_bytes: Optional[int] = None,
    ) -> "Engine":
        """A durable engine on a data directory (created when missing): every ledger record,
        rate-card publish and override is journaled before the call returns, and recovered
        when the directory is opened again. ``durability``: ``"sync"`` (fsync before each
        call returns; concurrent callers share fsyncs), ``"interval"`` (fsync every
        ``interval_ms``) or ``"none"``. Raises :class:`LockedError` when another process owns
        the directory, :class:`StateError` when it is damaged (nothing is changed)."""
        if durability not in DURABILITY:
            raise ValueError(f"durability must be one of {sorted(DURABILITY)}, not {durability!r}")
        opts = lib.tg_store_options_default()
        opts.durability = DURABILITY[durability]
        opts.interval_ms = interval_ms
        if dedupe_window_ms is not None:
            opts.dedupe_window_ms = dedupe_window_ms
        if checkpoint_bytes is not None:
            opts.checkpoint_bytes = checkpoint_bytes
        path = os.fsencode(directory)
        handle = _engine_p()
        err = tg_error()
        status = lib.tg_engine_open(path, len(path), byref(opts), byref(handle), byref(err))
        if status != OK:
            _raise(status, err)
        self = cls.__new__(cls)
        self._lock = threading.Lock()
        self._users = 0
        # close() calls waiting for the calls in progress: a call that ends wakes them only
        # when there is one (no Condition.notify_all per call).
        self._closers = 0
        self._idle = threading.Condition(self._lock)
        self._handle = handle
        self._cell = c_void_p(handle.value)
        return self

    def checkpoint(self) -> None:
        """Writes a checkpoint of a durable engine and drops the journal before it (writers
        wait only for a file switch)."""
        self._status_call(lib.tg_engine_checkpoint)

    def flush(self) -> None:
        """Writes and fsyncs what a durable engine has buffered (``interval`` / ``none``)."""
        self._status_call(lib.tg_engine_flush)

    def recovery(self) -> Dict[str, Any]:
        """What recovery did when the durable engine was opened: ``checkpoint``,
        ``segments``, ``entries``, ``records``, ``tornTail`` and the published ``rateCards``."""
        return dict(json.loads(self._buffered(lib.tg_engine_recovery_json, initial=512)))

    def _enter(self) -> c_void_p:
        with self._lock:
            if self._handle is None:
                raise TollgateError(ERR_INVALID_HANDLE, "engine is closed")
            self._users += 1
            return self._handle

    def _leave(self) -> None:
        with self._lock:
            self._users -= 1
            if self._users == 0 and self._closers:
                self._idle.notify_all()

    def close(self) -> None:
        """Frees the engine (waits for calls in progress; stops its refreshers first).
        Closing twice is a no-op."""
        for r in list(getattr(self, "_refreshers", ())):
            r.stop()
        with self._lock:
            self._closers += 1
            try:
                while self._users:
                    self._idle.wait()
            finally:
                self._closers -= 1
            handle, self._handle = self._handle, None
            if handle is not None:
                self._cell.value = None
        if handle is not None:
            err = tg_error()
            status = lib.tg_engine_close(handle, byref(err))
            if status != OK:
                _raise(status, err)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def _buffered(self, fn: Callable[..., int], *args: Any, initial: int = 1024) -> bytes:
        handle = self._enter()
        try:
            return _call_with_buffer(lambda b, c, n, e: fn(handle, *args, b, c, n, e), initial)
        finally:
            self._leave()

    def price_json(self, event: Union[Event, Mapping[str, Any], str, bytes]) -> PriceResult:
        """Prices one event (a dict, or JSON text) and returns the result object
        (``costCents`` is a decimal string)."""
        data = _json_bytes(event)
        return json.loads(self._buffered(lib.tg_price_json, data, len(data), initial=512))

    def price_batch(self, items: Sequence[PriceItem]) -> List[PriceOut]:
        """Prices many items in one call; returns one :class:`PriceOut` per item."""
        handle = self._enter()
        try:
            if _fast is not None and len(items) <= MAX_BATCH_ITEMS:
                return _fast.price_items(0, self._cell, items)
            return _price_batch(lib.tg_price_batch, handle, items)
        finally:
            self._leave()

    if TYPE_CHECKING:

        def price(
            self, provider: Optional[str], model: str, *, tokens_in: int = 0, cached_tokens: int = 0,
            cache_write_5m_tokens: int = 0, cache_write_1h_tokens: int = 0, audio_tokens_in: int = 0,
            image_tokens_in: int = 0, tokens_out: int = 0, reasoning_tokens: int = 0,
            audio_tokens_out: int = 0, image_tokens_out: int = 0, web_search_requests: int = 0,
            tool_calls: int = 0, service_tier: Optional[str] = None, inference_geo: Optional[str] = None,
            speed: Optional[str] = None, kind: Optional[str] = None, timestamp_ms: Optional[int] = None,
            provider_cost_cents: Optional[Amount] = None, external_cost_cents: Optional[Amount] = None,
        ) -> PriceOut: ...

    else:

        def price(self, provider, model, **fields):
            """Prices one usage: ``price("openai", "gpt-4o", tokens_in=1200, cached_tokens=800,
            tokens_out=350)``. Keyword fields are those of :class:`PriceItem`. Returns a
            :class:`PriceOut` with the exact ``cost_cents``; an item that cannot be priced
            (e.g. an unknown service tier) raises. The fast path of the package (about a
            microsecond with the native extension)."""
            handle = self._enter()
            try:
                return _price_one_slow(lib.tg_price_batch, handle, provider, model, **fields)
            finally:
                self._leave()

    def price_columns(
        self,
        model: Sequence[Optional[str]],
        *,
        provider: Union[str, Sequence[Optional[str]], None] = None,
        tokens_in: Optional[Column] = None,
        cached_tokens: Optional[Column] = None,
        cache_write_5m_tokens: Optional[Column] = None,
        cache_write_1h_tokens: Optional[Column] = None,
        audio_tokens_in: Optional[Column] = None,
        image_tokens_in: Optional[Column] = None,
        tokens_out: Optional[Column] = None,
        reasoning_tokens: Optional[Column] = None,
        audio_tokens_out: Optional[Column] = None,
        image_tokens_out: Optional[Column] = None,
        web_search_requests: Optional[Column] = None,
        tool_calls: Optional[Column] = None,
        service_tier: Optional[str] = None,
        timestamp_ms: Union[int, Column, None] = None,
    ) -> PriceColumns:
        """Prices whole columns, row for row: ``model`` is a sequence of names (one per row);
        every other column is a sequence of ints, an ``array.array``, a NumPy integer array
        (anything with the buffer protocol), a single int for every row, or None (absent).
        ``provider`` is one name for every row or a column of names. Rows are priced
        independently; a row that cannot be priced gets its status in
        :attr:`PriceColumns.statuses` and does not fail the call. Millions of rows per second
        with the native extension; the GIL is released while the library prices."""
        columns: Dict[str, Any] = dict(
            provider=provider, tokens_in=tokens_in, cached_tokens=cached_tokens,
            cache_write_5m_tokens=cache_write_5m_tokens, cache_write_1h_tokens=cache_write_1h_tokens,
            audio_tokens_in=audio_tokens_in, image_tokens_in=image_tokens_in, tokens_out=tokens_out,
            reasoning_tokens=reasoning_tokens, audio_tokens_out=audio_tokens_out,
            image_tokens_out=image_tokens_out, web_search_requests=web_search_requests,
            tool_calls=tool_calls, service_tier=service_tier, timestamp_ms=timestamp_ms,
        )
        handle = self._enter()
        try:
            if _fast is not None:
                return PriceColumns(_fast.price_columns(0, self._cell, model, **columns))
            return _price_columns_slow(lib.tg_price_batch, handle, model, **columns)
        finally:
            self._leave()

    def _status_call(self, fn: Callable[..., int], *args: Any) -> None:
        err = tg_error()
        handle = self._enter()
        try:
            status = fn(handle, *args, byref(err))
        finally:
            self._leave()
        if status != OK:
            _raise(status, err)


if _fast is not None:
    # Engine.price in C: bound like a method, called with no Python frame in between (the
    # Python method above stays its documentation and the ctypes fallback).
    Engine.price = _fast.PriceMethod(0, Engine.price)  # type: ignore[method-assign]
