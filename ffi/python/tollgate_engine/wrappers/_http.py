"""The tap for SDKs built on httpx / httpx2 (openai, anthropic, google-genai).

A wrapped SDK client gets its own HTTP client object: an instance of a subclass of the SDK's
own HTTP client class that shares the original's transport, pool and settings and overrides
only ``send``. A call the SDK reads whole (``send(stream=False)``, a non-stream body) is read
by ``send`` itself, as the HTTP client would, and the body is booked in one engine call. Any
other response gets its byte stream swapped for a tap that feeds a :class:`Session` as the SDK
reads it. Either way the SDK gets the same response object and the same bytes. Retries are
separate ``send`` calls: a failed attempt (non-2xx) is not booked.
"""

from __future__ import annotations

import sys
from typing import Any, AsyncIterator, Callable, Dict, Iterator, Optional, Tuple

from ._core import FEED_BATCH, Session, Tracker, TrackingError, _Decoder, _request_model

STREAM_TYPES = ("text/event-stream", "application/vnd.amazon.eventstream", "application/x-ndjson")

# (request) -> (provider, model) to tap, or None to pass through untouched.
Matcher = Callable[[Any], Optional[Tuple[str, Optional[str]]]]


def _lib_of(obj: Any) -> Any:
    """The HTTP library (``httpx`` or ``httpx2``) an object's class comes from."""
    for k in type(obj).__mro__:
        top = k.__module__.split(".")[0]
        if top in ("httpx", "httpx2"):
            return sys.modules[top]
    raise TypeError(f"tollgate: {type(obj).__name__} is not an httpx/httpx2 object")


def _request_id(headers: Any) -> Optional[str]:
    rid: Optional[str] = headers.get("x-request-id") or headers.get("request-id") or headers.get("x-amzn-requestid")
    return rid


_STREAM_TYPES_RAW = tuple(t.encode() for t in STREAM_TYPES)


def _streamed(headers: Any) -> bool:
    """Whether the response's ``content-type`` is a stream type: the same answer as
    ``headers.get("content-type", "").startswith(STREAM_TYPES)``, read off the raw header
    list both httpx and httpx2 keep (``(raw key, lowercased key, value)`` byte triples)
    without building the joined, decoded value: the first ``content-type`` decides, as it
    starts the joined value, and the stream types are ASCII, which every header encoding
    decodes as itself. Any other headers object takes ``get``."""
    raw = getattr(headers, "_list", None)
    if type(raw) is list:
        try:
            for _, key, value in raw:
                if key == b"content-type":
                    return bool(value.startswith(_STREAM_TYPES_RAW))
            return False
        except (TypeError, ValueError):  # not byte triples: the public way
            pass
    return bool(headers.get("content-type", "").startswith(STREAM_TYPES))


def _book_whole(tracker: Tracker, response: Any, spec: Tuple[str, Optional[str]], body: bytes) -> None:
    """Books a body read to its end (decoded by the HTTP client). Never raises."""
    try:
        provider, model = spec
        # The provider's request id only where booking reads it (Tracker.wants_request_id).
        rid = _request_id(response.headers) if provider == "bedrock" or not tracker.simple else None
        tracker.book_body(body, model, rid, provider)
    except Exception as e:
        tracker.fail(TrackingError("engine", f"tap: {e!r}", spec[0], spec[1], e))


def _cut_whole(tracker: Tracker, response: Any, spec: Tuple[str, Optional[str]], exc: BaseException) -> None:
    """Books the ``truncated`` event of a body whose read failed. Never raises."""
    try:
        provider, model = spec
        if not model:
            model = _request_model(getattr(response, "_request", None))
        seen = getattr(response, "num_bytes_downloaded", 0)
        reason = f"the connection broke: {type(exc).__name__}"
        tracker.truncated(provider, model, _request_id(response.headers), seen, reason)
    except Exception as e:
        tracker.fail(TrackingError("engine", f"tap: {e!r}", spec[0], spec[1], e))


def _session(tracker: Tracker, response: Any, provider: str, model: Optional[str]) -> Optional[Session]:
    headers = response.headers
    ctype = headers.get("content-type", "")
    streamed = ctype.startswith(STREAM_TYPES)
    rid = _request_id(headers)
    enc = headers.get("content-encoding")
    decoder = None
    if enc and enc.lower() != "identity":
        try:
            decoder = _Decoder(enc, _lib_of(response))
        except Exception as e:
            tracker.fail(TrackingError("engine", str(e), provider, model, e))
            return None
    return Session(tracker, streamed, model, rid, provider, decoder)


def _install(tracker: Tracker, response: Any, spec: Tuple[str, Optional[str]], tap: type) -> None:
    try:
        session = _session(tracker, response, *spec)
        if session is None:
            return
        session.request = getattr(response, "_request", None)
        content = getattr(response, "_content", None)
        if content is not None:
            # Already read (a transport that returns a finished response, e.g. a test
            # double or a cassette): book it as it is.
            session.decoder = None
            session.feed(content)
            session.finish(True)
            return
        response.stream = tap(response.stream, session)
    except Exception as e:
        tracker.fail(TrackingError("engine", f"tap: {e!r}", spec[0], spec[1], e))


_SYNC_TAPS: Dict[Any, type] = {}
_ASYNC_TAPS: Dict[Any, type] = {}


def _sync_tap_class(lib: Any) -> type:
    cls = _SYNC_TAPS.get(lib)
    if cls is None:

        class SyncTap(lib.SyncByteStream):  # type: ignore[misc]
            __slots__ = ("_inner", "_session")

            def __init__(self, inner: Any, session: Session) -> None:
                self._inner = inner
                self._session = session

            def __iter__(self) -> Iterator[bytes]:
                s = self._session
                complete = False
                reason = "the caller stopped reading"
                try:
                    if s.handle is not None and s.decoder is None:
                        # The hot path: a stream needing no decoding is batched (bounded) and
                        # crosses into the engine's accumulator once per FEED_BATCH bytes;
                        # Session.finish feeds the rest.
                        batch = s.batch
                        for chunk in self._inner:
                            batch += chunk
                            if len(batch) >= FEED_BATCH:
                                s.flush()
                            yield chunk
                    else:
                        for chunk in self._inner:
                            s.feed(chunk)
                            yield chunk
                    complete = True
                except GeneratorExit:
                    raise
                except BaseException as e:
                    reason = f"the connection broke: {type(e).__name__}"
                    raise
                finally:
                    s.finish(complete, reason)

            def close(self) -> None:
                try:
                    self._inner.close()
                finally:
                    self._session.finish(False, "the caller closed the response early")

            def __del__(self) -> None:
                self._session.finish(False, "the response was dropped unread")

        cls = _SYNC_TAPS[lib] = SyncTap
    return cls


def _async_tap_class(lib: Any) -> type:
    cls = _ASYNC_TAPS.get(lib)
    if cls is None:

        class AsyncTap(lib.AsyncByteStream):  # type: ignore[misc]
            __slots__ = ("_inner", "_session")

            def __init__(self, inner: Any, session: Session) -> None:
                self._inner = inner
                self._session = session

            async def __aiter__(self) -> AsyncIterator[bytes]:
                s = self._session
                complete = False
                reason = "the caller stopped reading"
                try:
                    if s.handle is not None and s.decoder is None:
                        batch = s.batch
                        async for chunk in self._inner:
                            batch += chunk
                            if len(batch) >= FEED_BATCH:
                                s.flush()
                            yield chunk
                    else:
                        async for chunk in self._inner:
                            s.feed(chunk)
                            yield chunk
                    complete = True
                except GeneratorExit:
                    raise
                except BaseException as e:
                    reason = f"the connection broke: {type(e).__name__}"
                    raise
                finally:
                    s.finish(complete, reason)

            async def aclose(self) -> None:
                try:
                    await self._inner.aclose()
                finally:
                    self._session.finish(False, "the caller closed the response early")

            def __del__(self) -> None:
                self._session.finish(False, "the response was dropped unread")

        cls = _ASYNC_TAPS[lib] = AsyncTap
    return cls


_CLIENTS: Dict[type, type] = {}


def tapped_client(inner: Any, tracker: Tracker, match: Matcher) -> Any:
    """A client object of ``inner``'s own class (so SDK type checks pass) sharing its
    transport and settings, whose ``send`` taps tracked responses."""
    base = type(inner)
    sub = _CLIENTS.get(base)
    if sub is None:
        lib = _lib_of(inner)

        async def asend(self: Any, request: Any, *, stream: bool = False, **kw: Any) -> Any:
            spec = self._tg_match(request)
            if spec is None:
                return await base.send(self, request, stream=stream, **kw)
            response = await base.send(self, request, stream=True, **kw)
            if 200 <= response.status_code < 300:
                tracker = self._tg_tracker
                if not stream and not _streamed(response.headers):
                    try:
                        body = await response.aread()
                    except BaseException as e:
                        await response.aclose()
                        _cut_whole(tracker, response, spec, e)
                        raise
                    if tracker.simple and spec[0] != "bedrock":
                        tracker.book_simple(body, spec[0], spec[1])
                    else:
                        _book_whole(tracker, response, spec, body)
                    return response
                _install(tracker, response, spec, _async_tap_class(lib))
            if not stream:
                try:
                    await response.aread()
                except BaseException:
                    await response.aclose()
                    raise
            return response

        def ssend(self: Any, request: Any, *, stream: bool = False, **kw: Any) -> Any:
            spec = self._tg_match(request)
            if spec is None:
                return base.send(self, request, stream=stream, **kw)
            response = base.send(self, request, stream=True, **kw)
            if 200 <= response.status_code < 300:
                tracker = self._tg_tracker
                if not stream and not _streamed(response.headers):
                    try:
                        body = response.read()
                    except BaseException as e:
                        response.close()
                        _cut_whole(tracker, response, spec, e)
                        raise
                    if tracker.simple and spec[0] != "bedrock":
                        tracker.book_simple(body, spec[0], spec[1])
                    else:
                        _book_whole(tracker, response, spec, body)
                    return response
                _install(tracker, response, spec, _sync_tap_class(lib))
            if not stream:
                try:
                    response.read()
                except BaseException:
                    response.close()
                    raise
            return response

        send: Any = asend if hasattr(inner, "aclose") else ssend

        def __del__(self: Any) -> None:  # the shared transport belongs to the original client
            pass

        sub = type("Tollgate" + base.__name__, (base,), {"send": send, "__del__": __del__})
        _CLIENTS[base] = sub
    obj: Any = object.__new__(sub)
    obj.__dict__.update(inner.__dict__)
    obj._tg_tracker = tracker
    obj._tg_match = match
    return obj
