"""Exact money: ``tg_decimal`` (a signed mantissa of 10^-24 cent) to and from ``Decimal``."""

from __future__ import annotations

from ctypes import byref
from decimal import Decimal
from typing import Union

from ._abi import CENTS_SCALE, OK, lib, tg_decimal, tg_error
from ._buffers import _bytes
from .errors import _raise


def cents_from_raw(d: tg_decimal) -> Decimal:
    """A ``tg_decimal`` (mantissa of 10^-24 cent) as an exact ``Decimal`` of cents."""
    mantissa = (d.hi << 64) | d.lo
    sign, digits = (1, -mantissa) if mantissa < 0 else (0, mantissa)
    text = str(digits).rjust(CENTS_SCALE + 1, "0")
    whole, frac = text[:-CENTS_SCALE], text[-CENTS_SCALE:].rstrip("0")
    return Decimal(("-" if sign else "") + whole + ("." + frac if frac else ""))


def cents_to_raw(value: Union[Decimal, int, str]) -> tg_decimal:
    """An exact amount of cents as a ``tg_decimal``; more than 24 fractional digits or a
    value out of range raises ``TollgateError`` (never rounds)."""
    text = _bytes(str(value))
    out = tg_decimal()
    err = tg_error()
    status = lib.tg_decimal_parse(text, len(text), byref(out), byref(err))
    if status != OK:
        _raise(status, err)
    return out

