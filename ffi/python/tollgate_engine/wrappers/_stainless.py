"""openai and anthropic: both SDKs keep their HTTP client (httpx or httpx2) in ``_client``
(openai 1.x–3.x, anthropic 0.x–2.x). The wrapped client is ``client.with_options()`` (the
SDK's own copy) whose HTTP client is a tapped twin of the original's: the original client is
left as it was."""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import inspect

from ._core import Tracker
from ._guard import decide
from ._http import tapped_client

OPENAI_PATHS = ("/chat/completions", "/responses", "/completions")
ANTHROPIC_PATHS = ("/messages",)


def _matcher(provider: str, suffixes: Tuple[str, ...]) -> Callable[[Any], Optional[Tuple[str, Optional[str]]]]:
    spec: Tuple[str, Optional[str]] = (provider, None)  # one tuple for every call

    def match(request: Any) -> Optional[Tuple[str, Optional[str]]]:
        if request.method == "POST" and request.url.path.rstrip("/").endswith(suffixes):
            return spec
        return None

    return match


def wrap_stainless(client: Any, tracker: Tracker, suffixes: Tuple[str, ...]) -> Any:
    http = getattr(client, "_client", None)
    if http is None or not hasattr(http, "send"):
        raise TypeError(f"tollgate: {type(client).__name__} is not a supported SDK client")
    wrapped = client.with_options()
    wrapped._client = tapped_client(http, tracker, _matcher(tracker.provider, suffixes))
    if tracker.guard:
        _install_guard(wrapped, tracker, suffixes)
    return wrapped


def _guarded(options: Any, tracker: Tracker, suffixes: Tuple[str, ...]) -> Any:
    """Runs before each attempt is built, outside the SDK's retry handling: a block raises
    straight to the caller; a downgrade rewrites the request's model."""
    body = getattr(options, "json_data", None)
    if not isinstance(body, dict) or not str(getattr(options, "url", "")).rstrip("/").endswith(suffixes):
        return options
    swap = decide(tracker, body.get("model"))
    if swap is not None:
        options.json_data = dict(body, model=swap)
    return options


def _install_guard(wrapped: Any, tracker: Tracker, suffixes: Tuple[str, ...]) -> None:
    prepare = wrapped._prepare_options  # the SDK's own hook, bound to the copy
    if inspect.iscoroutinefunction(prepare):

        async def aprepare(options: Any) -> Any:
            return _guarded(await prepare(options), tracker, suffixes)

        wrapped._prepare_options = aprepare
    else:
        wrapped._prepare_options = lambda options: _guarded(prepare(options), tracker, suffixes)
