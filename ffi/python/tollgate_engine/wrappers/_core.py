"""What every wrapper shares: the per-wrap options, booking line items, stream sessions.

Usage is read from the bytes the provider sent (the engine's own extractors), never from the
SDK's objects. Nothing here keeps prompt or completion content: a non-stream body lives only
until it is read, a stream is fed to the engine's bounded accumulator chunk by chunk.
"""

from __future__ import annotations

import json
import logging
import uuid
import zlib
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

from .. import Engine, Stream, TollgateError, extract_usage
from .._abi import lib as _lib
from ..types import LineItem

log = logging.getLogger("tollgate_engine.wrappers")

#: A wrapper option: a value, or a function of the tracked line item (the engine's
#: :class:`~tollgate_engine.types.LineItem`: counts, model, ``responseId``,
#: ``reportedCostCents``; never content) returning the value (``None``: not set).
Value = Union[None, str, int, Callable[[LineItem], Any]]

__all__ = ["TrackingError", "StreamTruncated", "Value"]


class TrackingError(Exception):
    """Tracking a call failed. The call itself was not affected: this only ever reaches
    ``on_error`` (default: a logged warning), never the caller of the SDK.

    ``kind`` is ``"no_usage"``, ``"truncated"``, ``"rejected"``, ``"engine"`` or ``"option"``;
    ``provider`` and ``model`` say which call; ``cause`` is the underlying exception."""

    def __init__(
        self,
        kind: str,
        message: str,
        provider: str,
        model: Optional[str] = None,
        cause: Optional[BaseException] = None,
        record: Optional[Dict[str, Any]] = None,
    ) -> None:
        super().__init__(f"tollgate: {kind}: {message}")
        self.kind = kind
        self.provider = provider
        self.model = model
        self.cause = cause
        self.record = record


class StreamTruncated(TrackingError):
    """A stream (or body) ended before the provider reported its usage: the caller stopped
    early, the connection broke, or the body was never read. The call is booked in the ledger
    as an explicit ``truncated`` event (``event``: ``{"type": "truncated", "customerId",
    "agentId", "runId", "revenueUnitCents", "provider", "model", "idempotencyKey"}``; an
    unpriced event whose cost is unknown, never a zero-token call) and this warning goes to
    ``on_error``. ``result`` is the ledger's answer (``None`` when booking failed: then
    ``cause`` says why). ``record`` describes the cut: ``{"type": "truncated", "provider",
    "model", "customerId", "runId", "agentId", "requestId", "bytesSeen", "reason"}``."""

    def __init__(
        self,
        message: str,
        provider: str,
        model: Optional[str],
        record: Dict[str, Any],
        event: Optional[Dict[str, Any]] = None,
        result: Optional[Mapping[str, Any]] = None,
        cause: Optional[BaseException] = None,
    ) -> None:
        super().__init__("truncated", message, provider, model, cause, record)
        self.event = event
        self.result = result


def _default_on_error(err: TrackingError) -> None:
    log.warning("%s", err)


class Tracker:
    """One wrap's options; books responses into the engine. Thread-safe (holds no state
    per call)."""

    __slots__ = (
        "engine", "provider", "customer_id", "agent_id", "run_id", "revenue_unit_cents",
        "provider_cost_cents", "on_error", "guard", "fixed", "simple", "fixed_json", "provider_b",
    )

    def __init__(
        self,
        engine: Engine,
        provider: str,
        *,
        customer_id: Value,
        agent_id: Value = None,
        run_id: Value = None,
        revenue_unit_cents: Value = None,
        provider_cost_cents: Value = None,
        guard: Any = None,
        on_error: Optional[Callable[[TrackingError], None]] = None,
    ) -> None:
        if not isinstance(engine, Engine):
            raise TypeError("tollgate: engine must be a tollgate_engine.Engine")
        if customer_id is None:
            raise TypeError("tollgate: customer_id is required")
        self.engine = engine
        self.provider = provider
        self.provider_b = provider.encode()
        self.customer_id = customer_id
        self.agent_id = agent_id
        self.run_id = run_id
        self.revenue_unit_cents = revenue_unit_cents
        self.provider_cost_cents = provider_cost_cents
        self.guard = guard
        self.on_error = on_error or _default_on_error
        # The context fields that are plain values, computed once.
        fixed: Dict[str, Any] = {}
        for key, value in (
            ("customerId", customer_id), ("agentId", agent_id), ("runId", run_id),
            ("revenueUnitCents", revenue_unit_cents),
        ):
            if value is not None and not callable(value):
                fixed[key] = _money(value) if key == "revenueUnitCents" else str(value)
        self.fixed = fixed
        # No functions and no stated cost: one engine call per response, the context JSON
        # made once (the fast path; the engine keys the event by the response id).
        self.simple = len(fixed) == sum(
            v is not None for v in (customer_id, agent_id, run_id, revenue_unit_cents)
        ) and provider_cost_cents is None
        self.fixed_json = json.dumps(fixed, separators=(",", ":")).encode()

    def wants_request_id(self, provider: str) -> bool:
        """Whether booking a complete body reads the provider's request id (a Bedrock key, or
        the fallback key of the per-item path); else the tap does not look it up."""
        return provider == "bedrock" or not self.simple

    def context(self, provider: str, request_id: Optional[str]) -> bytes:
        """The fast path's context: Bedrock Converse responses carry no id, so the provider's
        request id keys them."""
        if provider == "bedrock" and request_id:
            return json.dumps(dict(self.fixed, idempotencyKey=_request_key(request_id)), separators=(",", ":")).encode()
        return self.fixed_json

    def check(self, results: Sequence[Mapping[str, Any]], provider: str, model: Optional[str]) -> None:
        for res in results:
            if res.get("status") not in ("accepted", "duplicate"):
                self.fail(TrackingError("rejected", str(res), provider, model))

    # ---- reporting failures (never raises)
    def fail(self, err: TrackingError) -> None:
        try:
            self.on_error(err)
        except Exception:  # the user's handler failing must not reach the call either
            log.exception("tollgate: on_error raised")

    # ---- booking
    def book_simple(self, body: bytes, provider: str, model: Optional[str]) -> None:
        """:meth:`book_body` of a simple tracker for a response that needs no request id (any
        provider but Bedrock): the context is the fixed one, so the tapped ``send`` books a
        body read whole with this one call and one crossing into the engine. Never raises."""
        try:
            out = self.engine._track_body(
                self.provider_b if provider == self.provider else provider.encode(),
                model.encode() if model else None, body, self.fixed_json,
            )
            if out is not None:
                self.check(json.loads(out)["results"], provider, model)
        except TollgateError as e:
            self.fail(_extract_error(e, provider, model))
        except Exception as e:
            self.fail(TrackingError("engine", str(e), provider, model, e))

    def book_body(self, body: bytes, model: Optional[str], request_id: Optional[str], provider: Optional[str] = None) -> None:
        """Books a complete non-stream body. Never raises."""
        provider = provider or self.provider
        if self.simple:
            # One crossing into the engine (extract, price, book); the answer is read only
            # when a line item was not booked.
            try:
                out = self.engine._track_body(
                    provider.encode(), model.encode() if model else None, body,
                    self.fixed_json if request_id is None else self.context(provider, request_id),
                )
                if out is not None:
                    self.check(json.loads(out)["results"], provider, model)
            except TollgateError as e:
                self.fail(_extract_error(e, provider, model))
            except Exception as e:
                self.fail(TrackingError("engine", str(e), provider, model, e))
            return
        try:
            items = extract_usage(provider, body, model)
        except TollgateError as e:
            self.fail(_extract_error(e, provider, model))
            return
        except Exception as e:  # engine closed, …
            self.fail(TrackingError("engine", str(e), provider, model, e))
            return
        self.book(items, provider, model, request_id)

    def book(self, items: Sequence[LineItem], provider: str, model: Optional[str], request_id: Optional[str]) -> None:
        """Tracks one event per line item, keyed by the response id (else the request id the
        provider sent, else a fresh one): a response booked twice is a duplicate. Never raises."""
        try:
            base_key = None
            events = []
            for i, item in enumerate(items):
                ev: Dict[str, Any] = dict(item)
                ev.update(self.fixed)
                for key, opt in (
                    ("customerId", self.customer_id), ("agentId", self.agent_id), ("runId", self.run_id),
                ):
                    if callable(opt):
                        v = opt(item)
                        if v is not None:
                            ev[key] = str(v)
                if callable(self.revenue_unit_cents):
                    v = self.revenue_unit_cents(item)
                    if v is not None:
                        ev["revenueUnitCents"] = _money(v)
                pc = self.provider_cost_cents
                if pc is not None:
                    if pc == "reported":
                        v = item.get("reportedCostCents")
                    elif callable(pc):
                        v = pc(item)
                    else:
                        v = pc
                    if v is not None:
                        ev["providerCostCents"] = _money(v)
                if base_key is None:
                    base_key = item.get("responseId") or (request_id and _request_key(request_id)) or f"tg:{uuid.uuid4().hex}"
                ev["idempotencyKey"] = base_key if i == 0 else f"{base_key}#{i + 1}"
                events.append(ev)
        except Exception as e:
            self.fail(TrackingError("option", f"a wrapper option raised: {e!r}", provider, model, e))
            return
        for ev in events:
            try:
                res = self.engine.track(ev)
            except Exception as e:
                self.fail(TrackingError("engine", str(e), provider, ev.get("model"), e))
                continue
            if res.get("status") not in ("accepted", "duplicate"):
                self.fail(TrackingError("rejected", str(res), provider, ev.get("model")))

    def truncated(self, provider: str, model: Optional[str], request_id: Optional[str], seen: int, reason: str) -> None:
        """Books the explicit ``truncated`` event of a response cut before its usage and
        reports it (a :class:`StreamTruncated` to ``on_error``). Never raises."""
        rec: Dict[str, Any] = {
            "type": "truncated", "provider": provider, "model": model, "requestId": request_id,
            "bytesSeen": seen, "reason": reason,
        }
        ev: Dict[str, Any] = {"type": "truncated"}
        result: Optional[Mapping[str, Any]] = None
        cause: Optional[BaseException] = None
        try:
            ev.update(self.fixed)
            # Functions of the line item get what is known of the call: no counts exist.
            item: Any = {"provider": provider, "model": model, "responseId": None, "truncated": True}
            for key, opt in (
                ("customerId", self.customer_id), ("agentId", self.agent_id), ("runId", self.run_id),
                ("revenueUnitCents", self.revenue_unit_cents),
            ):
                if callable(opt):
                    v = opt(item)
                    if v is not None:
                        ev[key] = _money(v) if key == "revenueUnitCents" else str(v)
            ev["provider"] = provider
            if model:
                ev["model"] = model
            ev["idempotencyKey"] = _request_key(request_id) if request_id else f"tg:{uuid.uuid4().hex}"
            result = self.engine.track(ev)
        except Exception as e:
            cause = e
        for key in ("customerId", "runId", "agentId"):
            if key in ev:
                rec[key] = ev[key]
        booked = "booked as a truncated event" if cause is None else f"booking the truncated event failed: {cause}"
        self.fail(StreamTruncated(
            f"the response ended before its usage ({reason}); {booked}: {json.dumps(rec)}",
            provider, model, rec, ev, result, cause,
        ))


def _request_key(request_id: str) -> str:
    return f"req:{request_id}"


def _request_model(request: Any) -> Optional[str]:
    """The ``model`` an HTTP request's JSON body named (for the record of a cut response)."""
    if request is None:
        return None
    try:
        body = json.loads(request.content)
        model = body.get("model") if isinstance(body, dict) else None
        return model if isinstance(model, str) and model else None
    except Exception:  # a streamed request body, not JSON: the record goes without one
        return None


def _money(v: Any) -> str:
    """An exact decimal string of cents; floats are refused (money is exact)."""
    if isinstance(v, float):
        raise TypeError("money must be exact: pass a str, int or Decimal of cents, not a float")
    return str(v)


def _extract_error(e: TollgateError, provider: str, model: Optional[str]) -> TrackingError:
    kind = "no_usage" if e.name == "TG_ERR_NO_USAGE" else "engine"
    return TrackingError(kind, e.detail, provider, model, e)


class _Decoder:
    """Content-encoding decoding for the tap (gzip/deflate with zlib; others through the
    HTTP library's own decoders)."""

    __slots__ = ("d",)
    d: Any

    def __init__(self, encoding: str, lib: Any) -> None:
        enc = encoding.strip().lower()
        if enc in ("gzip", "x-gzip"):
            self.d = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif enc == "deflate":
            self.d = zlib.decompressobj()
        else:
            decoders = getattr(getattr(lib, "_decoders", None), "SUPPORTED_DECODERS", {})
            if enc not in decoders:
                raise ValueError(f"content-encoding {encoding!r} not supported by the tap")
            self.d = decoders[enc]()

    def decode(self, data: bytes) -> bytes:
        return self.d.decompress(data) if hasattr(self.d, "decompress") else self.d.decode(data)


#: Stream bytes are gathered into a per-stream batch of this size and cross into the engine's
#: accumulator once per batch (and at the end), not once per chunk: the accumulator reads a
#: byte stream, so where batches split it does not matter. Memory: one batch per open stream.
FEED_BATCH = 16 * 1024


class Session:
    """One response being read: fed as the SDK reads it, booked once when it ends (complete,
    stopped early, broken or dropped). Memory: a stream keeps only the engine's bounded
    accumulator; a non-stream body is held until it is read, then dropped."""

    __slots__ = (
        "tracker", "provider", "model", "request_id", "acc", "handle", "parts", "seen", "done", "decoder", "request",
        "batch",
    )

    def __init__(
        self,
        tracker: Tracker,
        streamed: bool,
        model: Optional[str],
        request_id: Optional[str],
        provider: Optional[str] = None,
        decoder: Optional[_Decoder] = None,
    ) -> None:
        self.tracker = tracker
        self.provider = provider or tracker.provider
        self.model = model
        self.request_id = request_id
        self.seen = 0
        self.done = False
        self.decoder = decoder
        # Stream bytes not yet handed to the accumulator (at most FEED_BATCH + one chunk).
        self.batch = bytearray()
        # The HTTP request, read only if the response is cut (for the model it named).
        self.request: Any = None
        self.parts: Optional[List[bytes]] = None
        self.acc: Optional[Stream] = None
        self.handle = None
        if streamed:
            try:
                self.acc = Stream(self.provider, model)
                self.handle = self.acc._handle
            except Exception as e:
                self.done = True
                tracker.fail(TrackingError("engine", str(e), self.provider, model, e))
        else:
            self.parts = []

    def flush(self) -> None:
        """Hands the batched bytes to the accumulator: one C call, no error struct (a failed
        feed makes finish fail with the same error, reported there)."""
        batch = self.batch
        if batch:
            data = bytes(batch)
            self.seen += len(data)
            batch.clear()  # also after the session ended: the batch stays bounded
            if self.handle is not None:
                _lib.tg_stream_feed(self.handle, data, len(data), None)

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        try:
            if self.decoder is not None:
                chunk = self.decoder.decode(chunk)
            if self.handle is not None:
                self.batch += chunk
                if len(self.batch) >= FEED_BATCH:
                    self.flush()
            elif self.parts is not None:
                self.seen += len(chunk)
                self.parts.append(chunk)
        except Exception as e:
            self._close()
            self.tracker.fail(TrackingError("engine", str(e), self.provider, self.model, e))

    def finish(self, complete: bool, reason: str = "") -> None:
        """Books what the response reported. Idempotent; never raises."""
        if self.done:
            return
        t = self.tracker
        try:
            if self.acc is not None:
                try:
                    self.flush()
                    if t.simple:
                        ctx: Any = t.context(self.provider, self.request_id)
                        results = t.engine.track_stream(self.acc, ctx)
                        t.check(results, self.provider, self.model)
                        return
                    items = self.acc.finish()
                except TollgateError as e:
                    if complete and e.name == "TG_ERR_NO_USAGE":
                        t.fail(_extract_error(e, self.provider, self.model))
                    elif complete and "truncated" not in e.detail:
                        t.fail(_extract_error(e, self.provider, self.model))
                    else:
                        t.truncated(self.provider, self._model(), self.request_id, self.seen, reason or e.detail)
                    return
                t.book(items, self.provider, self.model, self.request_id)
            else:
                body = b"".join(self.parts or ())
                self.parts = None
                if complete:
                    t.book_body(body, self.model, self.request_id, self.provider)
                else:
                    t.truncated(self.provider, self._model(), self.request_id, self.seen, reason or "body not read to its end")
        except Exception as e:
            t.fail(TrackingError("engine", str(e), self.provider, self.model, e))
        finally:
            self._close()

    def _model(self) -> Optional[str]:
        """The model of the call: the one the tap knew, else the request body's ``model``."""
        return self.model or _request_model(self.request)

    def _close(self) -> None:
        self.done = True
        self.request = None
        self.parts = None
        acc, self.acc = self.acc, None
        self.handle = None
        if acc is not None:
            try:
                acc.close()
            except Exception:
                pass
