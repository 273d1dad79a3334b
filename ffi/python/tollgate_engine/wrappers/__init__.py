"""Wrap a provider SDK client once; every call it makes is tracked in the engine.

>>> client = wrap_openai(OpenAI(), engine, customer_id="cust_A")      # doctest: +SKIP
>>> client.chat.completions.create(model="gpt-4o", messages=[...])     # doctest: +SKIP

Usage is read from the bytes the provider sent (the engine's own extractors), so SDK object
quirks do not matter. The SDK's own response and stream objects are returned unchanged;
tracking never raises into the call (failures go to ``on_error``, default a logged warning);
no prompt or completion content is kept. See README.md ("SDK wrappers") for the semantics.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from .. import Engine
from ..types import TrackResult
from ._core import StreamTruncated, Tracker, TrackingError, Value
from ._guard import check_mode
from ._stainless import ANTHROPIC_PATHS, OPENAI_PATHS, wrap_stainless

__all__ = [
    "Value",
    "StreamTruncated",
    "TrackingError",
    "resolve",
    "wrap_anthropic",
    "wrap_bedrock",
    "wrap_gemini",
    "wrap_openai",
]

OPENAI_PROVIDERS = ("openai", "openai_compatible")


def wrap_openai(
    client: Any,
    engine: Engine,
    *,
    customer_id: Value,
    agent_id: Value = None,
    run_id: Value = None,
    revenue_unit_cents: Value = None,
    provider_cost_cents: Value = None,
    provider: Optional[str] = None,
    guard: Any = None,
    on_error: Optional[Callable[[TrackingError], None]] = None,
) -> Any:
    """A copy of an ``openai.OpenAI`` / ``openai.AsyncOpenAI`` client whose Chat Completions,
    Responses and Completions calls (plain and streamed) are tracked for ``customer_id``.

    ``provider="openai_compatible"`` for OpenAI-compatible gateways and servers (OpenRouter,
    Groq, Together, DeepSeek, vLLM…); ``provider_cost_cents="reported"`` books the cost the
    gateway states (OpenRouter ``usage.cost``) instead of the rate card. ``customer_id``,
    ``agent_id``, ``run_id``, ``revenue_unit_cents`` and ``provider_cost_cents`` take a value
    or a function of the tracked line item (``tollgate_engine.types.LineItem``). The original client is not changed.

    ``guard=True`` asks the engine's ``allow`` before each call: a ``block`` decision raises
    ``tollgate_engine.GuardBlocked`` and the provider is not called; ``guard="downgrade"``
    also sends a ``downgrade`` decision's suggested model instead of the requested one."""
    prov = provider or "openai"
    if prov not in OPENAI_PROVIDERS:
        raise ValueError(f"tollgate: provider must be one of {OPENAI_PROVIDERS}, not {prov!r}")
    tracker = Tracker(
        engine, prov, customer_id=customer_id, agent_id=agent_id, run_id=run_id,
        revenue_unit_cents=revenue_unit_cents, provider_cost_cents=provider_cost_cents,
        guard=guard, on_error=on_error,
    )
    check_mode(guard, tracker)
    return wrap_stainless(client, tracker, OPENAI_PATHS)


def wrap_anthropic(
    client: Any,
    engine: Engine,
    *,
    customer_id: Value,
    agent_id: Value = None,
    run_id: Value = None,
    revenue_unit_cents: Value = None,
    provider_cost_cents: Value = None,
    provider: Optional[str] = None,
    guard: Any = None,
    on_error: Optional[Callable[[TrackingError], None]] = None,
) -> Any:
    """A copy of an ``anthropic.Anthropic`` / ``anthropic.AsyncAnthropic`` client whose
    Messages calls (``create``, ``stream``, ``stream=True``) are tracked; the options as
    :func:`wrap_openai`. The original client is not changed."""
    prov = provider or "anthropic"
    if prov != "anthropic":
        raise ValueError("tollgate: wrap_anthropic reads Anthropic Messages responses (provider 'anthropic')")
    tracker = Tracker(
        engine, prov, customer_id=customer_id, agent_id=agent_id, run_id=run_id,
        revenue_unit_cents=revenue_unit_cents, provider_cost_cents=provider_cost_cents,
        guard=guard, on_error=on_error,
    )
    check_mode(guard, tracker)
    return wrap_stainless(client, tracker, ANTHROPIC_PATHS)


def resolve(
    engine: Engine,
    run_id: str,
    customer_id: str,
    outcome: str = "resolved",
    *,
    revenue_unit_cents: Any = None,
    timestamp: Any = None,
) -> TrackResult:
    """Books a run's outcome (``"resolved"``, ``"escalated"`` or ``"failed"``): only a
    resolved run earns outcome revenue (``revenue_unit_cents`` overrides the plan's price).
    Returns the ledger's result; raises ``TollgateError`` on a rejected record."""
    rec: Dict[str, Any] = {"runId": run_id, "customerId": customer_id, "outcome": outcome}
    if revenue_unit_cents is not None:
        if isinstance(revenue_unit_cents, float):
            raise TypeError("money must be exact: pass a str, int or Decimal of cents, not a float")
        rec["revenueUnitCents"] = str(revenue_unit_cents)
    if timestamp is not None:
        rec["timestamp"] = timestamp
    return engine.resolve(rec)


from ._bedrock import wrap_bedrock  # noqa: E402
from ._gemini import wrap_gemini  # noqa: E402
