"""Internal helpers: bytes from the arguments users pass, and calls that write into a
caller-owned buffer."""

from __future__ import annotations

import json
from ctypes import byref, c_size_t, c_uint8, string_at
from typing import Any, Callable, Mapping, Union

from ._abi import ERR_BUFFER_TOO_SMALL, OK, tg_error
from .errors import TollgateError, _raise


def _bytes(value: Union[str, bytes, bytearray, memoryview, None]) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    return bytes(value)



def _call_with_buffer(call: Callable[[Any, int, Any, Any], int], initial: int = 1024) -> bytes:
    """Runs ``call(buf, cap, out_len, err)``, growing the buffer to the reported needed
    length on ``TG_ERR_BUFFER_TOO_SMALL``."""
    cap = initial
    for _ in range(8):
        buf = (c_uint8 * cap)()
        out_len = c_size_t(0)
        err = tg_error()
        status = call(buf, cap, byref(out_len), byref(err))
        if status == OK:
            # string_at copies the bytes in one go (slicing a ctypes array builds a list of ints).
            return string_at(buf, out_len.value)
        if status != ERR_BUFFER_TOO_SMALL:
            _raise(status, err)
        cap = max(out_len.value, cap * 2)
    raise TollgateError(ERR_BUFFER_TOO_SMALL, "output kept growing")


def _json_bytes(value: Union[Mapping[str, Any], str, bytes]) -> bytes:
    if isinstance(value, Mapping):
        return json.dumps(value, separators=(",", ":")).encode("utf-8")
    return _bytes(value)

