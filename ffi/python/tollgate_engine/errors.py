"""Errors: every failed call raises a subclass of :class:`TollgateError`, one per kind of
failure (one per ``TG_ERR_*`` status of the C ABI), carrying the status code, its name and
the library's message.

Catch :class:`TollgateError` for any failure of the engine, or one kind::

    try:
        engine.customer_margin("nobody")
    except tollgate_engine.NotFoundError:
        ...

``TollgateError(status, message)`` builds the subclass of that status, so
``TollgateError(ERR_NOT_FOUND)`` is a :class:`NotFoundError`. Some kinds also derive from
the built-in exception a Python user would catch: invalid input is a ``ValueError``, an
unknown name a ``LookupError``, an amount out of range an ``ArithmeticError``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Dict, NoReturn, Optional, Tuple, Type, Union

from ._abi import (
    ERR_BUFFER_TOO_SMALL,
    ERR_INVALID_HANDLE,
    ERR_IO,
    ERR_LOCKED,
    ERR_INVALID_INPUT,
    ERR_INVALID_UTF8,
    ERR_LIMIT,
    ERR_MISUSE,
    ERR_NO_USAGE,
    ERR_NOT_FOUND,
    ERR_NULL,
    ERR_OVERFLOW,
    ERR_PANIC,
    ERR_RATE_CARD,
    ERR_STATE,
    ERR_TOO_LATE,
    STATUS_NAMES,
    lib,
    tg_error,
)


def status_str(status: int) -> str:
    """The library's static description of a status code (``"unknown status"`` for a
    code it does not define)."""
    return str(lib.tg_status_str(status).decode("utf-8"))


_CLASSES: Dict[int, Type["TollgateError"]] = {}


class TollgateError(Exception):
    """A failed call. ``status`` is the C status code, ``name`` its ``TG_ERR_*`` name,
    ``detail`` the library's message (the status description when it gave none).

    Each subclass is one kind (``STATUS``); it can be raised with a message alone:
    ``NotFoundError("no customer 'x'")``."""

    STATUS: ClassVar[int] = -1
    status: int
    name: str
    detail: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.STATUS >= 0 and cls.STATUS not in _CLASSES:
            _CLASSES[cls.STATUS] = cls

    def __new__(cls, *args: Any, **kwargs: Any) -> "TollgateError":
        if cls is TollgateError and args and isinstance(args[0], int):
            cls = _CLASSES.get(args[0], TollgateError)
        return super().__new__(cls)

    def __init__(self, status: Union[int, str, None] = None, message: str = "") -> None:
        if status is None or isinstance(status, str):
            message = status or message
            status = type(self).STATUS
        self.status = status
        self.name = STATUS_NAMES.get(status, f"status {status}")
        self.detail = message or status_str(status)
        super().__init__(f"{self.name}: {self.detail}")

    def __reduce__(self) -> Tuple[Any, ...]:
        return (TollgateError, (self.status, self.detail))


class NullPointerError(TollgateError):
    """``TG_ERR_NULL``: a required pointer was NULL (a binding bug, not a user error)."""

    STATUS = ERR_NULL


class InvalidHandleError(TollgateError):
    """``TG_ERR_INVALID_HANDLE``: the engine, snapshot or stream is closed or not one."""

    STATUS = ERR_INVALID_HANDLE


class InvalidUtf8Error(TollgateError, ValueError):
    """``TG_ERR_INVALID_UTF8``: text that is not UTF-8."""

    STATUS = ERR_INVALID_UTF8


class InvalidInputError(TollgateError, ValueError):
    """``TG_ERR_INVALID_INPUT``: a malformed or contradictory record; the message names the
    field."""

    STATUS = ERR_INVALID_INPUT


class LimitError(TollgateError, ValueError):
    """``TG_ERR_LIMIT``: an input above a documented size limit."""

    STATUS = ERR_LIMIT


class BufferTooSmallError(TollgateError):
    """``TG_ERR_BUFFER_TOO_SMALL``: an output kept outgrowing its buffer."""

    STATUS = ERR_BUFFER_TOO_SMALL


class RateCardError(TollgateError, ValueError):
    """``TG_ERR_RATE_CARD``: a rate card (or override) that does not parse or validate."""

    STATUS = ERR_RATE_CARD


class NotFoundError(TollgateError, LookupError):
    """``TG_ERR_NOT_FOUND``: an unknown customer, snapshot or model."""

    STATUS = ERR_NOT_FOUND


class NoUsageError(TollgateError, ValueError):
    """``TG_ERR_NO_USAGE``: a provider response that carries no usage (never zero tokens)."""

    STATUS = ERR_NO_USAGE


class StateError(TollgateError, ValueError):
    """``TG_ERR_STATE``: ledger state bytes that are corrupt, truncated or of another
    version."""

    STATUS = ERR_STATE


class AmountOverflowError(TollgateError, ArithmeticError):
    """``TG_ERR_OVERFLOW``: an amount or a sum outside the exact range."""

    STATUS = ERR_OVERFLOW


class TooLateError(TollgateError):
    """``TG_ERR_TOO_LATE``: an event older than the dedupe window allows."""

    STATUS = ERR_TOO_LATE


class MisuseError(TollgateError):
    """``TG_ERR_MISUSE``: a call out of order (e.g. feeding a finished stream)."""

    STATUS = ERR_MISUSE


class PanicError(TollgateError):
    """``TG_ERR_PANIC``: the library caught an internal error (please report it)."""

    STATUS = ERR_PANIC


class StorageError(TollgateError, OSError):
    """``TG_ERR_IO``: reading or writing the data directory failed (a full disk, an I/O
    error); for a write nothing was applied."""

    STATUS = ERR_IO


class LockedError(TollgateError):
    """``TG_ERR_LOCKED``: another process (or another open engine) owns the data directory."""

    STATUS = ERR_LOCKED


def _raise(status: int, err: Optional[tg_error] = None) -> NoReturn:
    message = ""
    if err is not None and err.status == status:
        message = err.message[: err.message_len].decode("utf-8", "replace")
    raise TollgateError(status, message)


def _from_native(status: int, message: str = "", do_raise: bool = True) -> TollgateError:
    """The native extension's way to raise (or build) the error of a status."""
    error = TollgateError(status, message)
    if do_raise:
        raise error
    return error
