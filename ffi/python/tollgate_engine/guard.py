"""Guardrails: policies, the pre-call ``allow`` decision, reservations, policy breaches.

:class:`GuardMethods` holds the :class:`~tollgate_engine.Engine` methods of this concern;
:class:`Decision` is what ``allow`` returns; :class:`GuardBlocked` is the typed error a
caller (such as a provider wrapper's ``guard=`` option) raises on ``block``."""

from __future__ import annotations

import json
from ctypes import byref, c_void_p, cast
from decimal import Decimal
from typing import Any, Callable, Dict, Mapping, Optional, Union

from ._abi import DECISION_JSON_MAX, RECORD_OUT_MAX, lib, tg_decimal
from ._buffers import _json_bytes
from ._native import native as _fast
from .cents import cents_from_raw, cents_mantissa

Amount = Union[Decimal, int, str]


def _amount_text(value: Amount, what: str) -> str:
    # Floats never enter the money path: 0.1 is not 0.1.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int, str)):
        raise TypeError(f"{what}: expected Decimal, int or str cents, got {type(value).__name__}")
    return str(value)


def _opt_decimal(text: Optional[str]) -> Optional[Decimal]:
    return None if text is None else Decimal(text)


class Decision:
    """The answer of :meth:`GuardMethods.allow`. Amounts are exact ``Decimal`` cents.

    - ``decision``: ``"allow"``, ``"downgrade"`` (use ``suggested_model``) or ``"block"``;
    - ``reason``: ``"ok"``, ``"no_policy"``, ``"max_run_cost"``, ``"max_agent_cost"``,
      ``"budget_exceeded"`` or ``"min_margin"``; ``flagged``: allowed despite a breach;
    - ``policy_id``, ``period`` (``"2026-01"``, ``"2026-W02"``, ``"2026-01-05"``, ``"all"``,
      ``"run"``, or ``None``), ``cost_cents``, ``revenue_cents``, ``margin_pct`` (``Decimal``
      percent or ``None``), ``remaining_budget_cents`` (``None`` without a budget rule),
      ``estimate_cents`` (``None`` when unknown), ``reservation_id`` (``None`` unless
      reserved).
    """

    __slots__ = (
        "decision", "reason", "flagged", "policy_id", "period", "suggested_model", "cost_cents",
        "revenue_cents", "margin_pct", "remaining_budget_cents", "estimate_cents", "reservation_id",
        "_json",
    )

    def __init__(self, d: Mapping[str, Any]) -> None:
        self._json: Optional[Dict[str, Any]] = dict(d)
        self.decision: str = d["decision"]
        self.reason: str = d["reason"]
        self.flagged: bool = d["flagged"]
        self.policy_id: Optional[str] = d["policyId"]
        self.period: Optional[str] = d["period"]
        self.suggested_model: Optional[str] = d["suggestedModel"]
        self.cost_cents = Decimal(d["costCents"])
        self.revenue_cents = Decimal(d["revenueCents"])
        self.margin_pct = _opt_decimal(d["marginPct"])
        self.remaining_budget_cents = _opt_decimal(d["remainingBudgetCents"])
        self.estimate_cents = _opt_decimal(d["estimateCents"])
        self.reservation_id: Optional[int] = d["reservationId"]

    @property
    def allowed(self) -> bool:
        """True unless the decision is ``block``."""
        return self.decision != "block"

    def to_dict(self) -> dict[str, Any]:
        """The product SDK's shape: camelCase keys, amounts as exact decimal strings."""
        if self._json is None:  # built by the native fast path from the typed fields
            self._json = {
                "decision": self.decision, "reason": self.reason, "flagged": self.flagged,
                "policyId": self.policy_id, "period": self.period, "suggestedModel": self.suggested_model,
                "costCents": _text(self.cost_cents), "revenueCents": _text(self.revenue_cents),
                "marginPct": _opt_text(self.margin_pct),
                "remainingBudgetCents": _opt_text(self.remaining_budget_cents),
                "estimateCents": _opt_text(self.estimate_cents), "reservationId": self.reservation_id,
            }
        return dict(self._json)

    def __repr__(self) -> str:
        return f"Decision({self.to_dict()!r})"


def _text(d: Decimal) -> str:
    # Fixed-point, never an exponent: Decimal("0.000000000000000000000001") prints as 1E-24.
    return format(d, "f")


def _opt_text(d: Optional[Decimal]) -> Optional[str]:
    return None if d is None else _text(d)


def _margin_exact(cost: Decimal, revenue: Decimal) -> Decimal:
    """(revenue - cost) / revenue in percent, rounded half-even to 0.01 % exactly as the
    library does: for the margins beyond what the fixed-layout decision carries (±9.2e16 %)."""
    den = cents_mantissa(revenue)
    num = den - cents_mantissa(cost)
    q, r = divmod(abs(num) * 10000, den)
    if 2 * r > den or (2 * r == den and q % 2 == 1):
        q += 1
    q = min(q, 2**127 - 1)  # the library saturates there
    h = -q if num < 0 else q
    return Decimal(f"{'-' if h < 0 else ''}{abs(h) // 100}.{abs(h) % 100:02d}")


class GuardBlocked(Exception):
    """A call refused by a guardrail policy; ``decision`` says which rule and why."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision
        super().__init__(
            f"blocked by policy {decision.policy_id!r}: {decision.reason}"
            + (f" ({decision.period})" if decision.period else "")
        )


class GuardMethods:
    """Engine methods for guardrails (mixed into :class:`~tollgate_engine.Engine`)."""

    _buffered: Callable[..., bytes]
    _status_call: Callable[..., None]
    _cell: c_void_p

    def upsert_policy(self, policy: Union[Mapping[str, Any], str, bytes]) -> dict[str, Any]:
        """Creates or changes a guardrail policy (a ``policy`` record: ``policyId``,
        ``customerId`` or ``planName`` or neither for the default, ``budget``, ``minMargin``,
        ``maxRunCostCents``, ``maxAgentCost``, ``action``, ``downgrade``, ``downgradeRule``,
        ``timestamp``). Returns ``{"status": "accepted"}`` or ``{"status": "duplicate"}``; an
        invalid policy raises ``TollgateError`` (``ERR_INVALID_INPUT``, naming the field) and
        changes nothing."""
        data = _json_bytes(policy)
        return json.loads(self._buffered(lib.tg_upsert_policy_json, data, len(data), initial=RECORD_OUT_MAX))

    def allow(
        self,
        customer_id: str,
        agent_id: Optional[str] = None,
        model: Optional[str] = None,
        estimated_cost_cents: Optional[Amount] = None,
        *,
        run_id: Optional[str] = None,
        usage: Optional[Mapping[str, Any]] = None,
        provider: Optional[str] = None,
        at_ms: Optional[int] = None,
        reserve: bool = False,
        ttl_ms: Optional[int] = None,
    ) -> Decision:
        """May this call be made now? ``estimated_cost_cents`` (exact cents) or ``usage`` (the
        expected token counts with event field names, e.g. ``{"tokensIn": 2000,
        "tokensOut": 800}``, priced by the engine for ``model``/``provider``) is the estimate;
        neither means unknown. With ``reserve=True`` the estimate is held until
        :meth:`settle`, :meth:`release` or ``ttl_ms`` (default 10 minutes). Bad arguments
        raise ``TollgateError`` (``ERR_INVALID_INPUT``, naming the field).

        With the native extension the question goes to the library in a fixed-layout struct
        and the decision comes back the same way (no JSON either way; see the README for
        the figures); arguments it does not carry (a ``usage`` with fields other than
        ``tokensIn``, ``cachedTokens``, ``cacheWrite5mTokens``, ``cacheWrite1hTokens``,
        ``tokensOut``, ``reasoningTokens``) and every error take the JSON path, which gives
        the same decision."""
        if _fast is not None:
            d: Optional[Decision] = _fast.allow(
                self._cell, customer_id, agent_id, model, estimated_cost_cents, run_id, usage, provider, at_ms,
                reserve, ttl_ms,
            )
            if d is not None:
                return d
        return self._allow_json(
            customer_id, agent_id, model, estimated_cost_cents, run_id=run_id, usage=usage, provider=provider,
            at_ms=at_ms, reserve=reserve, ttl_ms=ttl_ms,
        )

    def _allow_json(
        self,
        customer_id: str,
        agent_id: Optional[str] = None,
        model: Optional[str] = None,
        estimated_cost_cents: Optional[Amount] = None,
        *,
        run_id: Optional[str] = None,
        usage: Optional[Mapping[str, Any]] = None,
        provider: Optional[str] = None,
        at_ms: Optional[int] = None,
        reserve: bool = False,
        ttl_ms: Optional[int] = None,
    ) -> Decision:
        """:meth:`allow` through ``tg_allow_json`` (the path without the native extension)."""
        request: dict[str, Any] = {"customerId": customer_id}
        if agent_id is not None:
            request["agentId"] = agent_id
        if run_id is not None:
            request["runId"] = run_id
        if model is not None:
            request["model"] = model
        if estimated_cost_cents is not None:
            request["estimateCents"] = _amount_text(estimated_cost_cents, "estimated_cost_cents")
        if usage is not None:
            estimate = dict(usage)
            estimate.setdefault("model", model)
            if provider is not None:
                estimate.setdefault("provider", provider)
            request["estimate"] = estimate
        if at_ms is not None:
            request["atMs"] = at_ms
        if reserve:
            request["reserve"] = True
        if ttl_ms is not None:
            request["ttlMs"] = ttl_ms
        data = _json_bytes(request)
        out = self._buffered(lib.tg_allow_json, data, len(data), initial=DECISION_JSON_MAX)
        return Decision(json.loads(out))

    def settle(self, reservation_id: int, event: Union[Mapping[str, Any], str, bytes]) -> dict[str, Any]:
        """Tracks the real usage of a reserved call and releases the reservation. Returns
        ``{"result": <as track()>, "releasedCents": Decimal or None}`` (``None``: it had
        already expired or been released; the event is tracked anyway)."""
        data = _json_bytes(event)
        out = json.loads(
            self._buffered(lib.tg_settle_json, reservation_id, data, len(data), initial=RECORD_OUT_MAX + 64)
        )
        out["releasedCents"] = _opt_decimal(out["releasedCents"])
        return out

    def release(self, reservation_id: int) -> Optional[Decimal]:
        """Frees a reservation (the call failed); returns the amount it held, or ``None`` when
        it was not held (unknown, settled, released or expired)."""
        from ._abi import ERR_NOT_FOUND
        from .errors import TollgateError

        released = tg_decimal()
        try:
            self._status_call(lib.tg_release, reservation_id, byref(released))
        except TollgateError as e:
            if e.status == ERR_NOT_FOUND:
                return None
            raise
        return cents_from_raw(released)

    def policy_breaches(self) -> list[dict[str, Any]]:
        """Rules broken by booked usage, per customer (as ``tollgate report`` lists them):
        ``[{"customerId", "policyId", "rule", "period", "subject", "costCents",
        "revenueCents", "limit"}]``."""
        return json.loads(self._buffered(lib.tg_policy_breaches_json))["breaches"]


if _fast is not None:
    _fast.setup_guard(
        Decision, ("allow", "downgrade", "block"),
        ("ok", "no_policy", "max_run_cost", "max_agent_cost", "budget_exceeded", "min_margin"),
        _margin_exact, cast(lib.tg_allow, c_void_p).value,
    )
