"""Rate-card sync on a durable engine: one pull of a registry (a URL, a directory of dated
registry files, or a file), the history of published cards, and the background refresher.

:class:`SyncMethods` holds the :class:`~tollgate_engine.Engine` methods of this concern;
:class:`Refresher` is the handle of a running background refresher."""

from __future__ import annotations

import json
import threading
from ctypes import byref, c_void_p
from typing import Any, Callable, Dict, List, Optional

from ._abi import OK, lib, tg_error, tg_sync_options
from ._buffers import _bytes, _call_with_buffer
from .errors import TollgateError, _raise


def _options(
    timeout_ms: Optional[int], retries: Optional[int], backoff_ms: Optional[int], max_bytes: Optional[int]
) -> tg_sync_options:
    o: tg_sync_options = lib.tg_sync_options_default()
    if timeout_ms is not None:
        o.timeout_ms = timeout_ms
    if retries is not None:
        o.retries = retries
    if backoff_ms is not None:
        o.backoff_ms = backoff_ms
    if max_bytes is not None:
        o.max_bytes = max_bytes
    return o


class Refresher:
    """A background refresher pulling a source into a durable engine's data directory (once
    at start, then every interval plus jitter). Stop it with :meth:`stop` (or ``with``);
    :meth:`Engine.close` stops the engine's refreshers first."""

    def __init__(self, handle: c_void_p, on_stop: Callable[["Refresher"], None]) -> None:
        self._handle: Optional[c_void_p] = handle
        self._lock = threading.Lock()
        self._on_stop = on_stop

    def status(self) -> Dict[str, Any]:
        """``{"pulls": n, "last": None | {"ok": True, "report": {…as pull_rate_card…}} |
        {"ok": False, "status": code, "error": "why nothing was published"}}``."""
        with self._lock:
            if self._handle is None:
                raise TollgateError(2, "refresher is stopped")
            h = self._handle
            return dict(json.loads(_call_with_buffer(lambda b, c, n, e: lib.tg_refresher_status_json(h, b, c, n, e), 1024)))

    @property
    def pulls(self) -> int:
        """Pulls finished so far."""
        return int(self.status()["pulls"])

    def stop(self) -> None:
        """Stops the refresher (waits for a pull in progress). Stopping twice is a no-op."""
        with self._lock:
            h, self._handle = self._handle, None
        if h is not None:
            lib.tg_refresher_stop(h)
            self._on_stop(self)

    def __enter__(self) -> "Refresher":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __del__(self) -> None:
        try:
            self.stop()
        except Exception:
            pass


class SyncMethods:
    """Engine methods for rate-card sync (mixed into :class:`~tollgate_engine.Engine`)."""

    _buffered: Callable[..., bytes]
    _status_call: Callable[..., None]
    _enter: Callable[[], c_void_p]
    _leave: Callable[[], None]
    _refreshers: List[Refresher]

    def pull_rate_card(
        self,
        source: Optional[str] = None,
        *,
        timeout_ms: Optional[int] = None,
        retries: Optional[int] = None,
        backoff_ms: Optional[int] = None,
        max_bytes: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Pulls a registry into a durable engine now: ``source`` is an ``http(s)://`` URL
        (conditional requests, retries with backoff, a size limit), a directory of dated
        registry files or a file; ``None`` is LiteLLM's public registry. The whole file is
        validated before anything is published. Returns ``{"source", "outcome":
        "not_modified" | "unchanged" | "published", "published": [{"content",
        "effectiveFromMs", "snapshot", "from", "added", "removed", "repriced"}]}``. A bad
        registry publishes nothing and raises (``RateCardError``; ``ERR_IO`` for HTTP and
        network failures, ``ERR_LIMIT`` when too large) with the reason."""
        src = _bytes(source)
        opts = _options(timeout_ms, retries, backoff_ms, max_bytes)
        report = c_void_p()
        self._status_call(lib.tg_ratecard_pull, src, len(src), byref(opts), byref(report))
        try:
            text = _call_with_buffer(lambda b, c, n, e: lib.tg_sync_report_json(report, b, c, n, e), 1 << 16)
        finally:
            lib.tg_sync_report_free(report)
        return dict(json.loads(text))

    def rate_card_history(self) -> List[Dict[str, Any]]:
        """The cards published into the data directory, oldest first:
        ``[{"effectiveFromMs", "content" (SHA-256 of the file), "models"}]``."""
        return list(json.loads(self._buffered(lib.tg_ratecard_history_json))["cards"])

    def start_refresher(
        self,
        source: Optional[str] = None,
        *,
        interval_ms: int = 0,
        jitter_ms: int = 0,
        timeout_ms: Optional[int] = None,
        retries: Optional[int] = None,
        backoff_ms: Optional[int] = None,
        max_bytes: Optional[int] = None,
    ) -> Refresher:
        """Starts pulling ``source`` (as :meth:`pull_rate_card`) in the background: once now,
        then every ``interval_ms`` plus a random part of ``jitter_ms`` (0, 0: every 24 hours
        plus up to 15 minutes)."""
        src = _bytes(source)
        opts = _options(timeout_ms, retries, backoff_ms, max_bytes)
        out = c_void_p()
        err = tg_error()
        handle = self._enter()
        try:
            status = lib.tg_refresher_start(handle, src, len(src), byref(opts), interval_ms, jitter_ms, byref(out), byref(err))
        finally:
            self._leave()
        if status != OK:
            _raise(status, err)
        if not hasattr(self, "_refreshers"):
            self._refreshers = []
        r = Refresher(out, self._refreshers.remove)
        self._refreshers.append(r)
        return r
