"""Exact money: ``tg_decimal`` (a signed mantissa of 10^-24 cent) to and from ``Decimal``."""

from __future__ import annotations

from ctypes import byref
from decimal import Decimal
from typing import Union

from ._abi import CENTS_SCALE, ERR_INVALID_INPUT, OK, lib, tg_decimal, tg_error
from ._buffers import _bytes
from .errors import TollgateError, _raise


def cents_from_mantissa(mantissa: int) -> Decimal:
    """An integer count of 10^-24 cent (any size) as an exact ``Decimal`` of cents, written
    as the library writes amounts (no exponent, no trailing fractional zeros)."""
    sign, digits = (1, -mantissa) if mantissa < 0 else (0, mantissa)
    text = str(digits).rjust(CENTS_SCALE + 1, "0")
    whole, frac = text[:-CENTS_SCALE], text[-CENTS_SCALE:].rstrip("0")
    return Decimal(("-" if sign else "") + whole + ("." + frac if frac else ""))


def cents_mantissa(value: Decimal) -> int:
    """The exact count of 10^-24 cent in ``value``; more than 24 fractional digits raise
    ``InvalidInputError`` (never rounds)."""
    sign, digits, exp = value.as_tuple()
    if not isinstance(exp, int):
        raise TollgateError(ERR_INVALID_INPUT, f"not a finite amount: {value}")
    m = int("".join(map(str, digits)) or "0")
    shift = exp + CENTS_SCALE
    if shift < 0:
        if m % 10 ** (-shift):
            raise TollgateError(ERR_INVALID_INPUT, f"{value}: more than {CENTS_SCALE} fractional digits")
        m //= 10 ** (-shift)
    else:
        m *= 10**shift
    return -m if sign else int(m)


def cents_from_raw(d: tg_decimal) -> Decimal:
    """A ``tg_decimal`` (mantissa of 10^-24 cent) as an exact ``Decimal`` of cents."""
    return cents_from_mantissa((d.hi << 64) | d.lo)


def cents_to_raw(value: Union[Decimal, int, str]) -> tg_decimal:
    """An exact amount of cents as a ``tg_decimal``; more than 24 fractional digits or a
    value out of range raises ``TollgateError`` (never rounds), and so does a ``float`` (not
    an exact amount)."""
    if isinstance(value, float):
        raise TollgateError(ERR_INVALID_INPUT, "a float is not an exact amount; pass a str, int or Decimal")
    text = _bytes(str(value))
    out = tg_decimal()
    err = tg_error()
    status = lib.tg_decimal_parse(text, len(text), byref(out), byref(err))
    if status != OK:
        _raise(status, err)
    return out

