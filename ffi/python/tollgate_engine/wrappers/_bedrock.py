"""boto3 ``bedrock-runtime``: ``converse``, ``converse_stream``, ``invoke_model`` and
``invoke_model_with_response_stream``.

Two botocore event handlers are registered once on the client's own event system:
``before-call`` notes the model id of a call made through a wrapper, ``after-call`` (sent once
per API call, after botocore's retries) taps the raw bytes: the Converse body as read, the
``InvokeModel`` body as the caller reads it, the AWS event stream as the caller iterates it.
The wrapper object sets which tracker a call belongs to (a context variable), so one boto3
client can serve many wrappers (one per customer) at once."""

from __future__ import annotations

import contextvars
from typing import Any, Callable, Dict, Iterator, Optional
from urllib.parse import unquote

from .. import Engine
from ._core import Session, Tracker, TrackingError, Value
from ._guard import check_mode, decide

_CALL: contextvars.ContextVar[Optional[Tracker]] = contextvars.ContextVar("tollgate_bedrock_call", default=None)
_OPS = {"Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream"}
_KEY = "tollgate_call"


def _model_id(url_path: str) -> Optional[str]:
    # /model/{modelId}/converse — the id is percent-encoded (ARNs contain ':' and '/').
    parts = url_path.split("?", 1)[0].split("/")
    if len(parts) >= 3 and parts[1] == "model":
        return unquote(parts[2])
    return None


def _before_call(model: Any = None, params: Any = None, context: Any = None, **_: Any) -> None:
    tracker = _CALL.get()
    if tracker is None or model is None or model.name not in _OPS or context is None:
        return
    context[_KEY] = (tracker, _model_id(params.get("url_path", "")))


class _ReadTap:
    """The raw body under an ``InvokeModel`` ``StreamingBody``: read() feeds the session."""

    def __init__(self, raw: Any, session: Session) -> None:
        self._raw = raw
        self._session = session

    def read(self, amt: Optional[int] = None, *a: Any, **kw: Any) -> bytes:
        try:
            data = self._raw.read(amt, *a, **kw)
        except BaseException as e:
            self._session.finish(False, f"the connection broke: {type(e).__name__}")
            raise
        if data:
            self._session.feed(data)
        if amt is None or not data:
            self._session.finish(True)
        return data

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            self._session.finish(False, "the caller closed the body before reading it")

    def __del__(self) -> None:
        self._session.finish(False, "the body was dropped unread")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)


class _StreamTap(_ReadTap):
    """The raw body under an ``EventStream``: stream() feeds the session chunk by chunk."""

    def stream(self, *a: Any, **kw: Any) -> Iterator[bytes]:
        s = self._session
        complete = False
        reason = "the caller stopped reading"
        try:
            for chunk in self._raw.stream(*a, **kw):
                s.feed(chunk)
                yield chunk
            complete = True
        except GeneratorExit:
            raise
        except BaseException as e:
            reason = f"the connection broke: {type(e).__name__}"
            raise
        finally:
            s.finish(complete, reason)


def _after_call(http_response: Any = None, parsed: Any = None, model: Any = None, context: Any = None, **_: Any) -> None:
    call = context.pop(_KEY, None) if context is not None else None
    if call is None or http_response is None or not (200 <= http_response.status_code < 300):
        return
    tracker, model_id = call
    try:
        rid = http_response.headers.get("x-amzn-RequestId")
        op = model.name
        invoke = op.startswith("InvokeModel")
        # InvokeModel bodies are the model vendor's own format: Anthropic Messages for
        # Claude, else Bedrock's (Nova etc. report usage as Converse does).
        provider = "anthropic" if invoke and model_id and "anthropic." in model_id else "bedrock"
        if op == "Converse":
            tracker.book_body(http_response.content, model_id, rid, "bedrock")
        elif op == "InvokeModel":
            body = parsed.get("body")
            body._raw_stream = _ReadTap(body._raw_stream, Session(tracker, False, model_id, rid, provider))
        else:
            events = parsed.get("stream") if op == "ConverseStream" else parsed.get("body")
            events._raw_stream = _StreamTap(events._raw_stream, Session(tracker, True, model_id, rid, provider))
    except Exception as e:
        tracker.fail(TrackingError("engine", f"bedrock tap: {e!r}", "bedrock", model_id, e))


class BedrockClient:
    """A boto3 ``bedrock-runtime`` client whose four model calls are tracked; every other
    attribute is the client's own. Returned by :func:`wrap_bedrock`."""

    __slots__ = ("_client", "_tracker")

    def __init__(self, client: Any, tracker: Tracker) -> None:
        self._client = client
        self._tracker = tracker

    def _call(self, name: str, kwargs: Dict[str, Any]) -> Any:
        if self._tracker.guard:
            swap = decide(self._tracker, kwargs.get("modelId"))
            if swap is not None:
                kwargs = dict(kwargs, modelId=swap)
        token = _CALL.set(self._tracker)
        try:
            return getattr(self._client, name)(**kwargs)
        finally:
            _CALL.reset(token)

    def converse(self, **kwargs: Any) -> Any:
        return self._call("converse", kwargs)

    def converse_stream(self, **kwargs: Any) -> Any:
        return self._call("converse_stream", kwargs)

    def invoke_model(self, **kwargs: Any) -> Any:
        return self._call("invoke_model", kwargs)

    def invoke_model_with_response_stream(self, **kwargs: Any) -> Any:
        return self._call("invoke_model_with_response_stream", kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def wrap_bedrock(
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
) -> BedrockClient:
    """A tracked view of a boto3 ``bedrock-runtime`` client (``converse``,
    ``converse_stream``, ``invoke_model``, ``invoke_model_with_response_stream``); the
    options as ``wrap_openai``. The client itself keeps working untracked."""
    if (provider or "bedrock") != "bedrock":
        raise ValueError("tollgate: wrap_bedrock reads Bedrock responses (provider 'bedrock')")
    events = getattr(getattr(client, "meta", None), "events", None)
    if events is None or getattr(getattr(client, "meta", None), "service_model", None) is None:
        raise TypeError("tollgate: wrap_bedrock needs a boto3 client('bedrock-runtime')")
    if client.meta.service_model.service_name != "bedrock-runtime":
        raise TypeError(f"tollgate: wrap_bedrock needs bedrock-runtime, not {client.meta.service_model.service_name}")
    tracker = Tracker(
        engine, "bedrock", customer_id=customer_id, agent_id=agent_id, run_id=run_id,
        revenue_unit_cents=revenue_unit_cents, provider_cost_cents=provider_cost_cents,
        guard=guard, on_error=on_error,
    )
    check_mode(guard, tracker)
    # unique_id makes registering idempotent: wrapping one client many times adds one pair.
    events.register("before-call.bedrock-runtime", _before_call, unique_id="tollgate-before-call")
    events.register("after-call.bedrock-runtime", _after_call, unique_id="tollgate-after-call")
    return BedrockClient(client, tracker)
