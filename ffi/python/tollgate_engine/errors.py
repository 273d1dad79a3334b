"""Errors: every failed call raises :class:`TollgateError` carrying the C status code, its
``TG_ERR_*`` name and the library's message."""

from __future__ import annotations

from typing import Optional

from ._abi import STATUS_NAMES, lib, tg_error


def status_str(status: int) -> str:
    """The library's static description of a status code."""
    return lib.tg_status_str(status).decode("utf-8")


class TollgateError(Exception):
    """A failed call: ``status`` is the C status code, ``name`` its ``TG_ERR_*`` name."""

    def __init__(self, status: int, message: str = "") -> None:
        self.status = status
        self.name = STATUS_NAMES.get(status, f"status {status}")
        self.detail = message or status_str(status)
        super().__init__(f"{self.name}: {self.detail}")


def _raise(status: int, err: Optional[tg_error] = None) -> None:
    message = ""
    if err is not None and err.status == status:
        message = err.message[: err.message_len].decode("utf-8", "replace")
    raise TollgateError(status, message)

