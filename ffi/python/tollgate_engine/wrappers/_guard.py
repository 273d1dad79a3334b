"""``guard=``: the engine's ``allow`` decision before a call is sent.

``guard=True`` (or ``"block"``): a ``block`` decision raises
:class:`tollgate_engine.GuardBlocked` and the provider is not called; ``downgrade`` lets the
call through as asked. ``guard="downgrade"``: as ``True``, and a ``downgrade`` decision sends
the call with the policy's suggested model instead. A dict adds the estimate ``allow``
judges the call by: ``{"mode": "downgrade", "usage": {"tokensIn": 2000, "tokensOut": 800}}``
(priced per candidate model by the engine) or ``"estimated_cost_cents"``; without one the call
fits while the budget has something left, so a downgrade needs an estimate. If ``allow`` itself fails (an engine
error), the call goes ahead and the failure goes to ``on_error``: tracking never breaks a call.
"""

from __future__ import annotations

from typing import Any, Optional

from ._core import Tracker, TrackingError

MODES = (None, False, True, "block", "downgrade")
KEYS = {"mode", "usage", "estimated_cost_cents"}


def check_mode(guard: Any, tracker: Tracker) -> None:
    mode = guard.get("mode", True) if isinstance(guard, dict) else guard
    if mode not in MODES or (isinstance(guard, dict) and not set(guard) <= KEYS):
        raise ValueError(
            "tollgate: guard must be True, 'block', 'downgrade' or a dict with 'mode', 'usage' "
            f"(expected token counts) and/or 'estimated_cost_cents', not {guard!r}"
        )
    if guard and any(callable(v) for v in (tracker.customer_id, tracker.agent_id, tracker.run_id)):
        raise TypeError("tollgate: guard needs customer_id, agent_id and run_id as values (a function "
                        "of the response cannot be known before the call)")


def decide(tracker: Tracker, model: Optional[str]) -> Optional[str]:
    """Asks ``allow``; raises ``GuardBlocked`` on block. Returns the model to use instead
    (``guard="downgrade"`` and a downgrade decision), else ``None``."""
    if not tracker.guard:
        return None
    opts = tracker.guard if isinstance(tracker.guard, dict) else {"mode": tracker.guard}
    try:
        allow = getattr(tracker.engine, "allow")
        decision = allow(
            str(tracker.customer_id),
            None if tracker.agent_id is None else str(tracker.agent_id),
            model,
            opts.get("estimated_cost_cents"),
            run_id=None if tracker.run_id is None else str(tracker.run_id),
            usage=opts.get("usage"),
            provider=tracker.provider,
        )
    except Exception as e:
        tracker.fail(TrackingError("engine", f"guard: allow failed, the call goes ahead: {e}", tracker.provider, model, e))
        return None
    if decision.decision == "block":
        import tollgate_engine

        raise getattr(tollgate_engine, "GuardBlocked")(decision)
    if decision.decision == "downgrade" and opts.get("mode") == "downgrade" and decision.suggested_model:
        return str(decision.suggested_model)
    return None
