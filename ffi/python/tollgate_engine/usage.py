"""Usage extraction: the line items of a raw provider response, one-shot
(:func:`extract_usage`) or fed chunk by chunk (:class:`Stream`)."""

from __future__ import annotations

import json
from ctypes import byref, c_void_p
from typing import Any, List, Optional, Union

from ._abi import ERR_INVALID_HANDLE, OK, lib, tg_error
from ._buffers import _bytes, _call_with_buffer
from .errors import TollgateError, _raise
from .types import LineItem


PROVIDERS = ("openai", "anthropic", "bedrock", "gemini", "openai_compatible")


def extract_usage(provider: str, body: Union[bytes, bytearray, memoryview, str], model: Optional[str] = None) -> List[LineItem]:
    """Reads the usage off one raw provider response (JSON body, SSE text, JSON Lines or AWS
    event-stream bytes) and returns its line items (dicts in the `tollgate usage` shape).
    ``model`` is the requested model (required for Bedrock Converse). A response without
    usage raises ``TollgateError`` with ``ERR_NO_USAGE``: never zero tokens."""
    p, m, b = _bytes(provider), _bytes(model), _bytes(body)
    out = _call_with_buffer(
        lambda buf, cap, n, e: lib.tg_usage_extract(p, len(p), m or None, len(m), b or None, len(b), buf, cap, n, e),
        1024,
    )
    return json.loads(out)["lineItems"]


class Stream:
    """A streaming usage reader: ``feed()`` chunks as they arrive (split anywhere), then
    ``finish()``. Bounded memory; keeps no content. One thread at a time."""

    def __init__(self, provider: str, model: Optional[str] = None) -> None:
        self._handle = None
        p, m = _bytes(provider), _bytes(model)
        handle = c_void_p()
        err = tg_error()
        status = lib.tg_stream_new(p, len(p), m or None, len(m), byref(handle), byref(err))
        if status != OK:
            _raise(status, err)
        self._handle = handle

    def _h(self) -> c_void_p:
        if self._handle is None:
            raise TollgateError(ERR_INVALID_HANDLE, "stream is closed")
        return self._handle

    def feed(self, chunk: Union[bytes, bytearray, memoryview, str]) -> None:
        """Feeds the next chunk of the response (split anywhere)."""
        c = _bytes(chunk)
        err = tg_error()
        status = lib.tg_stream_feed(self._h(), c or None, len(c), byref(err))
        if status != OK:
            _raise(status, err)

    def finish(self) -> List[LineItem]:
        """The line items (the result is computed once; calling again returns it again)."""
        h = self._h()
        return json.loads(_call_with_buffer(lambda b, c, n, e: lib.tg_stream_finish(h, b, c, n, e), 1024))["lineItems"]

    def close(self) -> None:
        """Frees the stream. Closing twice is a no-op."""
        handle, self._handle = self._handle, None
        if handle is not None:
            lib.tg_stream_free(handle)

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


