"""The ledger: exactly-once tracking of events and raw responses, runs, customers, margins,
and the ledger's state bytes.

:class:`LedgerMethods` holds the :class:`~tollgate_engine.Engine` methods of this concern;
:class:`Margin` is a customer's margin."""

from __future__ import annotations

import ctypes
import json
import threading
import warnings
from ctypes import byref, c_size_t, c_uint8, c_void_p, string_at
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, List, Mapping, Optional, Union

from ._abi import (
    ERR_BUFFER_TOO_SMALL, ERR_INVALID_HANDLE, MARGIN_PCT_NONE, OK, RECORD_OUT_MAX, REPORT_CSV, REPORT_JSON,
    REPORT_JSONL, lib, tg_error, tg_margin,
)
from ._buffers import _bytes, _json_bytes
from ._native import native as _fast
from .errors import TollgateError, _raise
from .cents import cents_from_raw
from .types import (
    Customer, Event, MarginQuery, MarginRow, Report, ReportQuery, ReportRow, ResolveRecord, RunCounts, TrackContext,
    TrackResult,
)
from .usage import Stream


@dataclass(frozen=True)
class Margin:
    """A customer's margin (:meth:`Engine.customer_margin`): exact ``Decimal`` cents;
    ``margin_pct`` a ``Decimal`` percent rounded half-even to 0.01, None when revenue is 0."""

    revenue_cents: Decimal
    usage_revenue_cents: Decimal
    outcome_revenue_cents: Decimal
    subscription_revenue_cents: Decimal
    cost_cents: Decimal
    margin_cents: Decimal
    margin_pct: Optional[Decimal]
    events: int
    unpriced_events: int
    runs: RunCounts

    @classmethod
    def _from_raw(cls, m: tg_margin) -> "Margin":
        pct = m.margin_pct_hundredths
        return cls(
            revenue_cents=cents_from_raw(m.revenue_cents),
            usage_revenue_cents=cents_from_raw(m.usage_revenue_cents),
            outcome_revenue_cents=cents_from_raw(m.outcome_revenue_cents),
            subscription_revenue_cents=cents_from_raw(m.subscription_revenue_cents),
            cost_cents=cents_from_raw(m.cost_cents),
            margin_cents=cents_from_raw(m.margin_cents),
            margin_pct=None if pct == MARGIN_PCT_NONE else Decimal(pct).scaleb(-2),
            events=m.events,
            unpriced_events=m.unpriced_events,
            runs={"open": m.runs_open, "resolved": m.runs_resolved, "escalated": m.runs_escalated,
                  "failed": m.runs_failed},
        )


#: Output room for a response of up to two line items, the common case (more: the library
#: says how much it needs before it tracks anything, and the call is made again).
_TRACK_OUT = 2 * RECORD_OUT_MAX + 64
#: Every result object the library writes opens with ``{"status":"…"`` (no string in it holds
#: an unescaped quote), so these count the results and the booked ones.
_RESULT = b'{"status":"'
_BOOKED = (b'{"status":"accepted"', b'{"status":"duplicate"')
_tls = threading.local()


def _all_booked(out: bytes) -> bool:
    n = out.count(_RESULT)
    return n > 0 and n == out.count(_BOOKED[0]) + out.count(_BOOKED[1])


def _track_response_ctypes(
    handle: c_void_p, provider: bytes, model: Optional[bytes], body: bytes, context: bytes
) -> bytes:
    """``tg_track_response`` through ctypes with this thread's reused output buffer."""
    try:
        buf, out_len, err = _tls.track
    except AttributeError:
        buf, out_len, err = _tls.track = ((c_uint8 * _TRACK_OUT)(), c_size_t(0), tg_error())
    cap = _TRACK_OUT
    for _ in range(2):
        status = lib.tg_track_response(
            handle, provider, len(provider), model, len(model) if model else 0, body or None, len(body),
            context or None, len(context), buf, cap, byref(out_len), byref(err),
        )
        if status == OK:
            return string_at(buf, out_len.value)
        if status != ERR_BUFFER_TOO_SMALL or out_len.value <= cap:
            _raise(status, err)
        # Checked after extraction, before anything is tracked: the call is made again.
        cap = out_len.value
        buf = (c_uint8 * cap)()
    _raise(status, err)


class LedgerMethods:
    """Engine methods for the ledger (mixed into :class:`~tollgate_engine.Engine`)."""

    _buffered: Callable[..., bytes]
    _status_call: Callable[..., None]
    _enter: Callable[[], c_void_p]
    _leave: Callable[[], None]
    _cell: c_void_p
    _lock: threading.Lock
    _handle: Optional[c_void_p]
    _users: int
    _closers: int
    _idle: threading.Condition

    def _track_body(self, provider: bytes, model: Optional[bytes], body: bytes, context: bytes) -> Optional[bytes]:
        """The SDK wrappers' per-call booking: ``tg_track_response`` in one crossing (the
        native extension when built, else ctypes with a reused buffer). Returns ``None`` when
        every line item was accepted or a duplicate, else the library's ``{"results":[…]}``
        bytes; a failed call raises ``TollgateError``. (Engine._enter / _leave written out:
        this runs once per wrapped SDK call.)"""
        lock = self._lock
        with lock:
            handle = self._handle
            if handle is None:
                raise TollgateError(ERR_INVALID_HANDLE, "engine is closed")
            self._users += 1
        try:
            if _fast is not None:
                out: Optional[bytes] = _fast.track_response(self._cell, provider, model, body, context, False)
                return out
            out = _track_response_ctypes(handle, provider, model, body, context)
        finally:
            with lock:
                self._users -= 1
                if self._users == 0 and self._closers:
                    self._idle.notify_all()
        return None if _all_booked(out) else out

    def _record(self, fn: Callable[..., int], record: Union[Mapping[str, Any], str, bytes]) -> Any:
        data = _json_bytes(record)
        return json.loads(self._buffered(fn, data, len(data), initial=RECORD_OUT_MAX))

    def track(self, event: Union[Event, Mapping[str, Any], str, bytes]) -> TrackResult:
        """Prices and applies one event exactly once. Returns ``{"status": "accepted", "costCents",
        "revenueCents", "priced", "reason", "snapshot", "warnings"}`` (``reason``:
        ``"unknown_model"`` / ``"no_token_price"`` when ``priced`` is false, else ``None``), ``{"status": "duplicate"}`` or
        ``{"status": "conflict", "reason"}``; a rejected event raises ``TollgateError``
        (``ERR_INVALID_INPUT``, ``ERR_TOO_LATE``, ``ERR_OVERFLOW``) and changes nothing."""
        return self._record(lib.tg_track_json, event)

    def track_response(
        self,
        provider: str,
        body: Union[bytes, str],
        context: Union[TrackContext, Mapping[str, Any], None] = None,
        model: Optional[str] = None,
    ) -> List[TrackResult]:
        """Reads the usage off a raw provider response and tracks one event per line item with
        ``context`` (``customerId``, ``runId``, ``agentId``, ``idempotencyKey``, ``timestamp``,
        ``revenueUnitCents``, ``units``, ``outcome``, ``externalCostCents``). Returns one
        result per line item (a rejected item is ``{"status": "rejected", …}``)."""
        p, m, b = _bytes(provider), _bytes(model), _bytes(body)
        c = _json_bytes(context) if context is not None else b""
        handle = self._enter()
        try:
            if _fast is not None:
                out = _fast.track_response(self._cell, p, m or None, b, c, True)
            else:
                out = _track_response_ctypes(handle, p, m or None, b, c)
        finally:
            self._leave()
        return json.loads(out)["results"]

    def track_stream(
        self, stream: Stream, context: Union[TrackContext, Mapping[str, Any], None] = None
    ) -> List[TrackResult]:
        """``track_response`` for a response read through a :class:`Stream` (finishes it)."""
        c = _json_bytes(context) if context is not None else b""
        out = self._buffered(lib.tg_stream_track, stream._h(), c or None, len(c), initial=16 + RECORD_OUT_MAX)
        return json.loads(out)["results"]

    def resolve(self, record: Union[ResolveRecord, Mapping[str, Any], str, bytes]) -> TrackResult:
        """Resolves a run: ``{"runId", "customerId", "outcome", "revenueUnitCents"?, "timestamp"?}``."""
        return self._record(lib.tg_resolve_json, record)

    def upsert_customer(self, record: Union[Customer, Mapping[str, Any], str, bytes]) -> TrackResult:
        """Creates or changes a customer: ``{"customerId", "name"?, "seats"?, "plan"?, "timestamp"?}``."""
        return self._record(lib.tg_upsert_customer_json, record)

    def margin(self, query: Union[MarginQuery, Mapping[str, Any], None] = None) -> List[MarginRow]:
        """Margin rows for a query (filters ``customerId``, ``runId``, ``agentId``, ``model``,
        ``provider``, ``from``/``to`` days; ``groupBy`` dimensions)."""
        q = _json_bytes(query) if query is not None else b""
        return json.loads(self._buffered(lib.tg_margin_query_json, q or None, len(q), initial=4096))["rows"]

    def _report(self, query: Union[ReportQuery, Mapping[str, Any], str, bytes, None], fmt: int) -> bytes:
        q = _json_bytes(query) if query is not None else b""
        return self._buffered(lib.tg_report_query, q or None, len(q), fmt, initial=1 << 14)

    def report(self, query: Union[ReportQuery, Mapping[str, Any], str, bytes, None] = None) -> Report:
        """Answers a report query, computed by the engine like ``tollgate report``: filters
        ``customerId``, ``runId``, ``agentId``, ``model``, ``provider``, ``outcome``,
        ``from``/``to``; ``groupBy``; ``sort`` (e.g. ``"margin:asc"``); ``top``. Returns
        ``{"query", "totals", "rows", "groups", "unpriced", "breaches", "window"}``; rows carry
        the derived figures (``costPerResolvedRunCents``, ``revenuePerEventCents``,
        ``costSharePct``, ``cacheSavingsCents``). Amounts are exact decimal strings of cents."""
        return json.loads(self._report(query, REPORT_JSON))

    def report_csv(self, query: Union[ReportQuery, Mapping[str, Any], str, bytes, None] = None) -> str:
        """The rows of :meth:`report` as CSV (RFC 4180: header row, quoting, CRLF line ends)."""
        return self._report(query, REPORT_CSV).decode("utf-8")

    def report_jsonl(self, query: Union[ReportQuery, Mapping[str, Any], str, bytes, None] = None) -> List[ReportRow]:
        """The rows of :meth:`report`, read from the engine's JSON Lines output."""
        return [json.loads(line) for line in self._report(query, REPORT_JSONL).splitlines() if line]

    def customer_margin(self, customer_id: str) -> Margin:
        """A customer's current margin in O(1); ``ERR_NOT_FOUND`` for an unknown customer."""
        cid = _bytes(customer_id)
        out = tg_margin()
        self._status_call(lib.tg_customer_margin, cid, len(cid), byref(out))
        return Margin._from_raw(out)

    def state_save(self) -> bytes:
        """The whole ledger state as versioned, checksummed bytes (for ``state_restore``)."""
        return self._buffered(lib.tg_state_save, initial=1 << 16)

    def state_snapshot(self) -> bytes:
        """Deprecated name of :meth:`state_save` ("snapshot" names rate-card snapshots only)."""
        warnings.warn("state_snapshot() is renamed state_save()", DeprecationWarning, stacklevel=2)
        return self.state_save()

    def state_restore(self, state: Union[bytes, bytearray, memoryview]) -> None:
        """Replaces the ledger with restored state; bad bytes raise ``ERR_STATE`` and load nothing."""
        data = _bytes(state)
        self._status_call(lib.tg_state_restore, data or None, len(data))


if _fast is not None:
    _fast.setup_track(ctypes.cast(lib.tg_track_response, c_void_p).value)
