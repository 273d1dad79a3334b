"""The :class:`Engine` handle: its life cycle (``close``, ``with``), the call plumbing, and
pricing. Its rate-card methods live in :mod:`.ratecard`, its ledger methods in
:mod:`.ledger`."""

from __future__ import annotations

import json
import threading
from ctypes import byref, c_void_p
from typing import Any, Mapping, Optional, Sequence, Union

from ._abi import ERR_INVALID_HANDLE, OK, lib, tg_error
from ._buffers import _bytes, _call_with_buffer, _json_bytes
from .errors import TollgateError, _raise
from .ledger import LedgerMethods
from .price import PriceItem, _price_batch
from .ratecard import RateCardMethods

_engine_p = c_void_p


class Engine(RateCardMethods, LedgerMethods):
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
            lib.tg_engine_free(handle)

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
        return json.loads(self._buffered(lib.tg_price_json, data, len(data), initial=512))

    def price_batch(self, items: Sequence[PriceItem]) -> list:
        """Prices many items in one call; returns one :class:`PriceOut` per item."""
        handle = self._enter()
        try:
            return _price_batch(lib.tg_price_batch, handle, items)
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

