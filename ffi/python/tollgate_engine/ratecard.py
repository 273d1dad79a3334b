"""Rate cards: publishing LiteLLM-format registries as snapshots, per-model overrides, and
pinned :class:`Snapshot` handles that price with one rate card whatever is published later.

:class:`RateCardMethods` holds the :class:`~tollgate_engine.Engine` methods of this concern."""

from __future__ import annotations

import json
import warnings
from ctypes import byref, c_int64, c_uint32, c_uint64, c_void_p
from typing import TYPE_CHECKING, Any, Callable, List, Mapping, Optional, Sequence, Union

from ._abi import ERR_INVALID_HANDLE, MAX_BATCH_ITEMS, OK, lib
from ._native import native as _fast
from ._buffers import _bytes, _call_with_buffer, _json_bytes
from .errors import TollgateError, _raise
from .price import PriceColumns, PriceItem, PriceOut, _price_batch, _price_columns_slow, _price_one_slow
from .types import Event, PriceResult, PublishResult, SnapshotInfo


class RateCardMethods:
    """Engine methods for rate cards (mixed into :class:`~tollgate_engine.Engine`)."""

    _buffered: Callable[..., bytes]
    _status_call: Callable[..., None]

    def publish_rate_card(self, rate_card: bytes, effective_from_ms: int) -> str:
        """Publishes a LiteLLM-format registry effective from ``effective_from_ms``; returns
        the new snapshot id (16 hex digits). A bad card raises (``ERR_RATE_CARD``) and
        changes nothing. The registry's warnings (see :meth:`publish_rate_card_report`) are
        issued with :func:`warnings.warn` (``UserWarning``)."""
        r = self.publish_rate_card_report(rate_card, effective_from_ms)
        for w in r["warnings"]:
            warnings.warn(w, stacklevel=2)
        return r["snapshot"]

    def publish_rate_card_report(self, rate_card: bytes, effective_from_ms: int) -> PublishResult:
        """:meth:`publish_rate_card` returning ``{"snapshot": id, "warnings": [...]}``: one
        warning per field that looks like a rate but matches no rate name the engine knows
        (accepted, so one new LiteLLM field does not block an update, but unused for
        pricing)."""
        card = _bytes(rate_card)
        out = self._buffered(lib.tg_engine_publish_rate_card_json, card, len(card), effective_from_ms, initial=256)
        result: PublishResult = json.loads(out)
        return result

    def snapshots(self) -> List[SnapshotInfo]:
        """The published snapshots, oldest first: ``[{"id", "effectiveFromMs", "models"}]``."""
        return json.loads(self._buffered(lib.tg_engine_snapshots_json))["snapshots"]

    def set_override(self, model: str, entry: Union[Mapping[str, Any], str, bytes]) -> None:
        """Custom prices for ``model`` (one registry entry object), over every snapshot."""
        m, e = _bytes(model), _json_bytes(entry)
        self._status_call(lib.tg_engine_set_override, m, len(m), e, len(e))

    def remove_override(self, model: str) -> bool:
        """Removes the override of ``model``; True if there was one."""
        m = _bytes(model)
        out = c_uint32(0)
        self._status_call(lib.tg_engine_remove_override, m, len(m), byref(out))
        return bool(out.value)

    def pin(self, snapshot_id: Optional[str] = None) -> "Snapshot":
        """Pins a published snapshot (default: the one in force now) with the current
        overrides, for consistent pricing whatever is published later."""
        handle = c_void_p()
        self._status_call(lib.tg_snapshot_pin, int(snapshot_id, 16) if snapshot_id else 0, byref(handle))
        return Snapshot(handle)


class Snapshot:
    """A pinned snapshot: prices with exactly one rate card (and the overrides at pin time),
    whatever the event timestamps. Thread-safe; ``unpin()`` (or ``with``) releases it."""

    def __init__(self, handle: c_void_p) -> None:
        self._handle: Optional[c_void_p] = handle
        self._cell = c_void_p(handle.value)
        sid, frm = c_uint64(0), c_int64(0)
        status = lib.tg_snapshot_info(handle, byref(sid), byref(frm), None)
        if status != OK:
            _raise(status)
        self.id = f"{sid.value:016x}"
        self.effective_from_ms = frm.value

    def _h(self) -> c_void_p:
        if self._handle is None:
            raise TollgateError(ERR_INVALID_HANDLE, "snapshot is unpinned")
        return self._handle

    def price_json(self, event: Union[Event, Mapping[str, Any], str, bytes]) -> PriceResult:
        """:meth:`Engine.price_json` with this snapshot's rate card."""
        data = _json_bytes(event)
        h = self._h()
        return json.loads(_call_with_buffer(lambda b, c, n, e: lib.tg_snapshot_price_json(h, data, len(data), b, c, n, e), 512))

    def price_batch(self, items: Sequence[PriceItem]) -> List[PriceOut]:
        """:meth:`Engine.price_batch` with this snapshot's rate card."""
        if _fast is not None and len(items) <= MAX_BATCH_ITEMS:
            return _fast.price_items(1, self._cell, items)
        return _price_batch(lib.tg_snapshot_price_batch, self._h(), items)

    if TYPE_CHECKING:

        def price(self, provider: Optional[str], model: str, **fields: Any) -> PriceOut: ...

        def price_columns(self, model: Sequence[Optional[str]], **columns: Any) -> PriceColumns: ...

    else:

        def price(self, provider, model, **fields):
            """:meth:`Engine.price` with this snapshot's rate card."""
            return _price_one_slow(lib.tg_snapshot_price_batch, self._h(), provider, model, **fields)

        def price_columns(self, model, **columns):
            """:meth:`Engine.price_columns` with this snapshot's rate card (do not unpin it
            from another thread during the call)."""
            if _fast is not None:
                return PriceColumns(_fast.price_columns(1, self._cell, model, **columns))
            return _price_columns_slow(lib.tg_snapshot_price_batch, self._h(), model, **columns)

    def unpin(self) -> None:
        """Releases the snapshot. Unpinning twice is a no-op."""
        handle, self._handle = self._handle, None
        self._cell.value = None
        if handle is not None:
            lib.tg_snapshot_unpin(handle)

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.unpin()

    def __del__(self) -> None:
        self.unpin()


if _fast is not None:
    # Snapshot.price in C: bound like a method, called with no Python frame in between (the
    # Python method above stays its documentation and the ctypes fallback).
    Snapshot.price = _fast.PriceMethod(1, Snapshot.price)  # type: ignore[method-assign]
