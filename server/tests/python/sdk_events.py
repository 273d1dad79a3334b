"""The tollgateai SDK's own code turning a recorded provider response into a track payload.

Whole bodies go through its public event builders (`openai_event_from`,
`anthropic_event_from`, `bedrock_event_from`, `gemini_event_from`); streams go through its
wrappers (`wrap_openai`, `wrap_anthropic`, `wrap_gemini`, `wrap_bedrock`), whose stream
accumulators are closures inside them. The wrappers are structurally typed ("they work with any
compatible object"), so the provider client is replaced by the smallest object with the
method the wrapper calls, returning the recording's decoded chunks exactly as parsed JSON
(dicts, which the SDK reads through the same `_attr` helper as SDK objects). The payload the
SDK hands to `TollgateClient.track` is captured and returned; the tests then post it with the
real client.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, List, Optional

from harness import bedrock_stream_events, jsonl_payloads, sse_payloads, tollgateai_instrument


class Capture:
    """Stands in for the TollgateClient the wrappers fire at (on their daemon thread): keeps the
    payload. `TollgateClient.track` posts a payload unchanged (None values dropped), so the
    tests post the captured payload with the real client afterwards."""

    def __init__(self) -> None:
        self.events: List[Dict[str, Any]] = []
        self._got = threading.Event()

    def track(self, event: Dict[str, Any]) -> Dict[str, Any]:
        self.events.append(json.loads(json.dumps(event)))  # what json.dumps would send
        self._got.set()
        return {}

    def wait(self, timeout: float = 10.0) -> Dict[str, Any]:
        if not self._got.wait(timeout):
            raise AssertionError("the SDK wrapper fired no track event")
        assert len(self.events) == 1, self.events
        return self.events[0]


def _drain(it) -> None:
    for _ in it:
        pass


def _fail(err: Exception) -> None:
    raise AssertionError(f"the SDK reported a tracking error: {err!r}")


def openai_stream(chunks: List[dict], customer_id: str, provider: str) -> Dict[str, Any]:
    cap = Capture()
    fake = SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=lambda **kw: iter(chunks))))
    client = tollgateai_instrument.wrap_openai(fake, cap, customer_id, provider=provider, on_error=_fail)
    _drain(client.chat.completions.create(model="m", stream=True, stream_options={"include_usage": True}))
    return cap.wait()


def anthropic_stream(events: List[dict], customer_id: str, provider: str) -> Dict[str, Any]:
    cap = Capture()
    fake = SimpleNamespace(messages=SimpleNamespace(create=lambda **kw: iter(events)))
    client = tollgateai_instrument.wrap_anthropic(fake, cap, customer_id, provider=provider, on_error=_fail)
    _drain(client.messages.create(model="m", max_tokens=1, messages=[], stream=True))
    return cap.wait()


def gemini_stream(chunks: List[dict], customer_id: str, model: str) -> Dict[str, Any]:
    cap = Capture()
    fake = SimpleNamespace(model_name=model, generate_content=lambda *a, **kw: iter(chunks))
    wrapped = tollgateai_instrument.wrap_gemini(fake, cap, customer_id, on_error=_fail)
    _drain(wrapped.generate_content("hi", stream=True))
    return cap.wait()


def bedrock_stream(events: List[dict], customer_id: str, model: str) -> Dict[str, Any]:
    cap = Capture()
    fake = SimpleNamespace(converse_stream=lambda **kw: {"stream": iter(events)})
    client = tollgateai_instrument.wrap_bedrock(fake, cap, customer_id, on_error=_fail)
    _drain(client.converse_stream(modelId=model, messages=[])["stream"])
    return cap.wait()


def _sdk_provider(our_provider: str) -> Optional[str]:
    """The `provider=` a user of tollgateai passes: its README tells gateway users to pass
    "openai_compatible"; otherwise the builder's own default (openai, anthropic, bedrock,
    google)."""
    return "openai_compatible" if our_provider == "openai_compatible" else None


def sdk_event(path: Path, our_provider: str, request_model: Optional[str], customer_id: str) -> Dict[str, Any]:
    """The track payload tollgateai builds for the recorded response at `path`."""
    raw = path.read_bytes()
    name = path.name
    prov = _sdk_provider(our_provider)
    kw = {"provider": prov} if prov else {}
    if name.endswith(".json"):
        body = json.loads(raw)
        if our_provider == "bedrock":
            ev = tollgateai_instrument.bedrock_event_from(body["usage"], request_model, customer_id, response=body)
        elif "usageMetadata" in body or "usage_metadata" in body:
            # The wrapper takes the model from the model object the user made; the REST body's
            # modelVersion is that name as the provider states it.
            ev = tollgateai_instrument.gemini_event_from(body, customer_id, model=body["modelVersion"])
        elif our_provider == "anthropic":
            ev = tollgateai_instrument.anthropic_event_from(body, customer_id, **kw)
        else:
            ev = tollgateai_instrument.openai_event_from(body, customer_id, **kw)
        assert ev is not None, f"{name}: the SDK built no event"
        return json.loads(json.dumps(ev))
    if our_provider == "bedrock":
        return bedrock_stream(bedrock_stream_events(path), customer_id, request_model)
    chunks = sse_payloads(raw) if name.endswith(".sse") else jsonl_payloads(raw)
    if our_provider == "anthropic":
        return anthropic_stream(chunks, customer_id, prov or "anthropic")
    if our_provider == "gemini":
        model = next(c["modelVersion"] for c in reversed(chunks) if "modelVersion" in c)
        return gemini_stream(chunks, customer_id, model)
    return openai_stream(chunks, customer_id, prov or "openai")


def our_events(path: Path, our_provider: str, request_model: Optional[str], customer_id: str,
               use_reported_cost: bool, tg) -> List[Dict[str, Any]]:
    """Our own reading of the same raw bytes: the engine's extraction (tollgate_engine), one
    event per line item, with the same customer. `use_reported_cost` mirrors what the SDK
    does with a gateway's stated cost (sends it as providerCostCents)."""
    items = tg.extract_usage(our_provider, path.read_bytes(), model=request_model)
    out = []
    for it in items:
        ev = {k: v for k, v in it.items() if v is not None and k not in ("reportedCostCents",)}
        ev["customerId"] = customer_id
        if use_reported_cost and it.get("reportedCostCents") is not None:
            ev["providerCostCents"] = it["reportedCostCents"]
        out.append(ev)
    return out


Builder = Callable[..., Dict[str, Any]]
