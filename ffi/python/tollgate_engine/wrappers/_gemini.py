"""google-genai (``google.genai.Client``, Gemini API and Vertex AI; sync and ``aio``).

The SDK sends through httpx/httpx2 clients held by its API client (``_api_client``:
``_httpx_client``, ``_async_httpx_client``; google-genai 1.x–3.x). The wrapped client is a
copy whose API client uses tapped twins of those, passed as ``http_options.httpx_client`` /
``httpx_async_client`` so every request of the copy goes through them (never aiohttp or the
mTLS ``requests`` session). Usage is read from the raw body, so ``usageMetadata`` is seen
whatever the SDK object's serialisation does with it."""

from __future__ import annotations

import copy
from typing import Any, Callable, Optional, Tuple
from urllib.parse import unquote

from .. import Engine
from ._core import Tracker, TrackingError, Value
from ._guard import check_mode, decide
from ._http import tapped_client


def _match(request: Any) -> Optional[Tuple[str, Optional[str]]]:
    path = request.url.path
    if request.method != "POST" or not (":generateContent" in path or ":streamGenerateContent" in path):
        return None
    name = path.rsplit("/models/", 1)[-1].split(":", 1)[0]
    return ("gemini", unquote(name) or None)


def wrap_gemini(
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
    """A copy of a ``google.genai.Client`` whose ``models.generate_content`` and
    ``generate_content_stream`` calls (also through ``client.aio`` and chats) are tracked;
    the options as ``wrap_openai``. The original client is not changed."""
    if (provider or "gemini") != "gemini":
        raise ValueError("tollgate: wrap_gemini reads Gemini responses (provider 'gemini')")
    api = getattr(client, "_api_client", None)
    if api is None or not hasattr(api, "_httpx_client"):
        raise TypeError(f"tollgate: {type(client).__name__} is not a google.genai.Client")
    tracker = Tracker(
        engine, "gemini", customer_id=customer_id, agent_id=agent_id, run_id=run_id,
        revenue_unit_cents=revenue_unit_cents, provider_cost_cents=provider_cost_cents,
        guard=guard, on_error=on_error,
    )
    check_mode(guard, tracker)
    new_api = copy.copy(api)
    update = {}
    if api._httpx_client is not None:
        new_api._httpx_client = tapped_client(api._httpx_client, tracker, _match)
        update["httpx_client"] = new_api._httpx_client
    if getattr(api, "_async_httpx_client", None) is not None:
        new_api._async_httpx_client = tapped_client(api._async_httpx_client, tracker, _match)
        update["httpx_async_client"] = new_api._async_httpx_client
    new_api._http_options = api._http_options.model_copy(update=update)
    wrapped = copy.copy(client)
    wrapped._api_client = new_api
    wrapped._models = type(client._models)(new_api)
    wrapped._aio = type(client._aio)(new_api)
    if guard:
        for models in (wrapped._models, wrapped._aio._models):
            for name in ("generate_content", "generate_content_stream"):
                _guard_method(models, name, tracker)
    return wrapped


def _guard_method(models: Any, name: str, tracker: Tracker) -> None:
    """The guard before ``models.<name>(model=…)``: a block raises before any request; a
    downgrade (``guard="downgrade"``) calls with the suggested model."""
    original = getattr(models, name)

    def guarded(*args: Any, **kwargs: Any) -> Any:
        swap = decide(tracker, kwargs.get("model"))
        if swap is not None:
            kwargs["model"] = swap
        return original(*args, **kwargs)

    setattr(models, name, guarded)
