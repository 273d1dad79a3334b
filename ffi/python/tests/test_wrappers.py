"""The SDK wrappers with the real SDK packages (openai, anthropic, boto3, google-genai) against
the replay server (ffi/replay/server.py) serving recorded provider responses on 127.0.0.1.

Expected line items come from the recordings' own expectations
(../shared/fixtures/providers/expected.jsonl), never from the code under test.

Needs the pinned SDKs (ffi/python/requirements-wrappers.txt). Without them the suite is
skipped, unless TOLLGATE_REQUIRE_SDKS=1 (CI sets it for the source-tree run): then it fails.
"""

import asyncio
import gc
import json
import logging
import os
import sys
import threading
import tracemalloc
import unittest
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from common import HERE, SHARED_FIXTURES, shared_missing

import tollgate_engine as tg

sys.path.insert(0, str(HERE.parents[1] / "replay"))
import server as replay  # noqa: E402

try:
    if os.environ.get("TOLLGATE_SKIP_SDK_TESTS") == "1":
        raise ImportError("TOLLGATE_SKIP_SDK_TESTS=1")
    import anthropic
    import boto3
    import botocore.exceptions
    import openai
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types as genai_types

    from tollgate_engine.wrappers import (
        StreamTruncated,
        TrackingError,
        resolve,
        wrap_anthropic,
        wrap_bedrock,
        wrap_gemini,
        wrap_openai,
    )

    MISSING = None
except ImportError as e:  # pragma: no cover - depends on the environment
    MISSING = e
    if os.environ.get("TOLLGATE_REQUIRE_SDKS") == "1":
        raise

EXPECTED = {}
if SHARED_FIXTURES.exists():
    with (SHARED_FIXTURES / "expected.jsonl").open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                v = json.loads(line)
                EXPECTED[v["file"]] = v

SERVER = None
BASE = None
MARKER = "PLANTED-MARKER-7f3a9c"


def setUpModule():
    global SERVER, BASE
    if os.environ.get("TOLLGATE_SKIP_SDK_TESTS") == "1":
        # CI's sanitizer run of the native extension: the wrappers do not touch it.
        raise unittest.SkipTest("TOLLGATE_SKIP_SDK_TESTS=1")
    if MISSING is not None:
        raise unittest.SkipTest(f"provider SDKs not installed: {MISSING}")
    reason = shared_missing(SHARED_FIXTURES)
    if reason:
        raise unittest.SkipTest(reason)
    SERVER = replay.serve(0, SHARED_FIXTURES)
    BASE = f"http://127.0.0.1:{SERVER.server_port}/r"


def tearDownModule():
    if SERVER is not None:
        SERVER.shutdown()
        SERVER.server_close()


def count(tag):
    return served(tag)["count"]


def served(tag):
    """How many requests the replay server got under tag, and the model the last one asked for."""
    with urllib.request.urlopen(f"http://127.0.0.1:{SERVER.server_port}/_count/{tag}") as r:
        return json.loads(r.read())


# ---- clients pointed at the replay server (made once per recording: SDK clients are slow to
# create, and a wrapper never changes the client it wraps)

_CLIENTS = {}


def cached(make):
    def get(*args, **kw):
        key = (make.__name__, args, tuple(sorted((k, repr(v)) for k, v in kw.items())))
        c = _CLIENTS.get(key)
        if c is None:
            c = _CLIENTS[key] = make(*args, **kw)
        return c

    return get


@cached
def oai(spec, cls=None, **kw):
    cls = cls or openai.OpenAI
    kw.setdefault("max_retries", 0)
    return cls(api_key="sk-test", base_url=f"{BASE}/{spec}/v1", **kw)


@cached
def ant(spec, cls=None, **kw):
    cls = cls or anthropic.Anthropic
    kw.setdefault("max_retries", 0)
    return cls(api_key="sk-ant-test", base_url=f"{BASE}/{spec}", **kw)


@cached
def bedrock(spec, retries=0):
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=f"{BASE}/{spec}",
        aws_access_key_id="AKIDTEST", aws_secret_access_key="secret",
        config=Config(retries={"total_max_attempts": retries + 1, "mode": "standard"}),
    )


@cached
def gem(spec, attempts=1):
    opts = genai_types.HttpOptions(
        base_url=f"{BASE}/{spec}/",
        retry_options=genai_types.HttpRetryOptions(attempts=attempts, initial_delay=0.01, max_delay=0.05),
    )
    return genai.Client(api_key="test-key", http_options=opts)


MSG = [{"role": "user", "content": f"hello {MARKER}"}]
CONVERSE_MSG = [{"role": "user", "content": [{"text": f"hello {MARKER}"}]}]


# ---- one call per recording: (recording, kind of call) -> how to make it with the real SDK


def call_openai_chat(spec, eng, prov, errs, stream=False):
    c = wrap_openai(oai(spec), eng, customer_id="cust", provider=prov, on_error=errs.append)
    if stream:
        s = c.chat.completions.create(model="gpt-4o-mini", messages=MSG, stream=True, stream_options={"include_usage": True})
        assert isinstance(s, openai.Stream), type(s)
        for _ in s:
            pass
        return s
    r = c.chat.completions.create(model="gpt-4o-mini", messages=MSG)
    assert type(r).__name__ == "ChatCompletion", type(r)
    return r


def call_openai_responses(spec, eng, prov, errs, stream=False):
    c = wrap_openai(oai(spec), eng, customer_id="cust", provider=prov, on_error=errs.append)
    if stream:
        s = c.responses.create(model="gpt-5", input=f"hi {MARKER}", stream=True)
        for _ in s:
            pass
        return s
    r = c.responses.create(model="gpt-5", input=f"hi {MARKER}")
    assert type(r).__name__ == "Response", type(r)
    return r


def call_anthropic(spec, eng, prov, errs, stream=False):
    c = wrap_anthropic(ant(spec), eng, customer_id="cust", on_error=errs.append)
    if stream:
        with c.messages.stream(model="claude-sonnet-4-6", max_tokens=64, messages=MSG) as s:
            for _ in s:
                pass
        return s
    r = c.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=MSG)
    assert type(r).__name__ == "Message", type(r)
    return r


def call_converse(spec, eng, prov, errs, stream=False, model=None):
    c = wrap_bedrock(bedrock(spec), eng, customer_id="cust", on_error=errs.append)
    if stream:
        r = c.converse_stream(modelId=model, messages=CONVERSE_MSG)
        for _ in r["stream"]:
            pass
        return r
    r = c.converse(modelId=model, messages=CONVERSE_MSG)
    assert "usage" in r
    return r


def call_invoke(spec, eng, prov, errs, stream=False, model=None):
    c = wrap_bedrock(bedrock(spec), eng, customer_id="cust", on_error=errs.append)
    body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64, "messages": MSG})
    if stream:
        r = c.invoke_model_with_response_stream(modelId=model, body=body)
        for _ in r["body"]:
            pass
        return r
    r = c.invoke_model(modelId=model, body=body)
    json.loads(r["body"].read())
    return r


def call_gemini(spec, eng, prov, errs, stream=False):
    c = wrap_gemini(gem(spec), eng, customer_id="cust", on_error=errs.append)
    if stream:
        return list(c.models.generate_content_stream(model="gemini-2.5-flash", contents=f"hi {MARKER}"))
    r = c.models.generate_content(model="gemini-2.5-flash", contents=f"hi {MARKER}")
    assert type(r).__name__ == "GenerateContentResponse", type(r)
    return r


CASES = [
    # (recording, served as, call, stream, expectation of)
    ("openai_chat_1.json", None, call_openai_chat, False, None),
    ("openai_chat_3.json", None, call_openai_chat, False, None),
    ("openai_chat_4.json", None, call_openai_chat, False, None),
    ("openai_chat_stream_1.sse", None, call_openai_chat, True, None),
    ("azure_chat_stream_1.jsonl", None, call_openai_chat, True, None),
    ("openai_responses_1.json", None, call_openai_responses, False, None),
    ("openai_responses_3.json", None, call_openai_responses, False, None),
    ("openai_responses_stream_1.sse", None, call_openai_responses, True, None),
    ("openrouter_chat_1.json", None, call_openai_chat, False, None),
    ("openrouter_chat_2.json", None, call_openai_chat, False, None),
    ("openrouter_chat_stream_2.sse", None, call_openai_chat, True, None),
    ("openrouter_responses_1.json", None, call_openai_responses, False, None),
    ("groq_chat_1.json", None, call_openai_chat, False, None),
    ("vllm_chat_stream_1.sse", None, call_openai_chat, True, None),
    ("cerebras_chat_1.json", None, call_openai_chat, False, None),
    ("deepseek_chat_1.json", None, call_openai_chat, False, None),
    ("anthropic_messages_1.json", None, call_anthropic, False, None),
    ("anthropic_messages_2.json", None, call_anthropic, False, None),
    ("anthropic_messages_3.json", None, call_anthropic, False, None),
    ("anthropic_messages_5.json", None, call_anthropic, False, None),
    ("anthropic_stream_1.sse", None, call_anthropic, True, None),
    ("anthropic_stream_3.sse", None, call_anthropic, True, None),
    ("anthropic_stream_5.sse", None, call_anthropic, True, None),
    ("anthropic_compat_stream_1.jsonl", None, call_anthropic, True, None),
    ("bedrock_converse_1.json", None, call_converse, False, None),
    ("bedrock_converse_2.json", None, call_converse, False, None),
    ("bedrock_converse_4.json", None, call_converse, False, None),
    ("bedrock_converse_6.json", None, call_converse, False, None),
    ("bedrock_conversestream_1.eventstream", None, call_converse, True, None),
    ("bedrock_conversestream_2.jsonl", None, call_converse, True, None),
    ("anthropic_bedrock_invoke_1.json", None, call_invoke, False, None),
    # Bedrock InvokeModelWithResponseStream: the Anthropic stream in AWS event-stream chunks.
    ("anthropic_stream_1.sse", "invoke_stream=anthropic_stream_1.sse", call_invoke, True, None),
    ("gemini_generate_1.json", None, call_gemini, False, None),
    ("gemini_generate_3.json", None, call_gemini, False, None),
    ("gemini_stream_1.sse", None, call_gemini, True, None),
]

BEDROCK_INVOKE_MODEL = "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
BEDROCK_INVOKE_STREAM_MODEL = "anthropic.claude-sonnet-4-20250514-v1:0"


def tokens_by_model(eng):
    """{model: (events, tokensIn, cached, write5m, write1h, out, reasoning)} from the ledger."""
    out = {}
    for row in eng.margin({"groupBy": ["model"]}):
        t = row["tokens"]
        out[row["model"]] = (
            row["events"], t["tokensIn"], t["cachedTokens"], t["cacheWrite5mTokens"],
            t["cacheWrite1hTokens"], t["tokensOut"], t["reasoningTokens"],
        )
    return out


def expected_by_model(recording):
    out = {}
    for it in EXPECTED[recording]["lineItems"]:
        prev = out.get(it["model"], (0,) * 7)
        row = (
            1, it["tokensIn"], it["cachedTokens"], it["cacheWrite5mTokens"], it["cacheWrite1hTokens"],
            it["tokensOut"], it["reasoningTokens"] or 0,
        )
        out[it["model"]] = tuple(a + b for a, b in zip(prev, row))
    return out


def make_call(recording, served, call, stream, eng, errs):
    spec = served or recording
    exp = EXPECTED[recording]
    prov = exp["provider"]
    kw = {}
    if call is call_converse:
        kw["model"] = exp["requestModel"]
    elif call is call_invoke:
        kw["model"] = BEDROCK_INVOKE_STREAM_MODEL if stream else BEDROCK_INVOKE_MODEL
    return call(spec, eng, prov, errs, stream=stream, **kw)


class EveryRecording(unittest.TestCase):
    """Each recorded response each SDK can request: the ledger holds the recording's expected
    line items, exactly once, and the wrapper reported no error."""

    def test_every_recording_tracked_as_expected(self):
        for recording, served, call, stream, _ in CASES:
            with self.subTest(recording=recording, served=served):
                eng = tg.Engine()
                errs = []
                make_call(recording, served, call, stream, eng, errs)
                self.assertEqual(errs, [])
                self.assertEqual(tokens_by_model(eng), expected_by_model(recording))
                eng.close()

    def test_every_recording_once_even_when_served_twice(self):
        # The same response (same provider response id) booked twice is one record.
        for recording, served, call, stream, _ in CASES:
            if recording.startswith(("bedrock_converse", "bedrock_conversestream")):
                continue  # Converse responses carry no id: each HTTP response is its own call
            with self.subTest(recording=recording):
                eng = tg.Engine()
                errs = []
                make_call(recording, served, call, stream, eng, errs)
                make_call(recording, served, call, stream, eng, errs)
                self.assertEqual(errs, [])
                self.assertEqual(tokens_by_model(eng), expected_by_model(recording))
                eng.close()

    def test_recordings_cover_every_expectation(self):
        self.assertEqual({c[0] for c in CASES}, set(EXPECTED))


class AsyncClients(unittest.TestCase):
    def test_async_openai_anthropic_gemini(self):
        eng = tg.Engine()
        errs = []

        async def main():
            o = wrap_openai(oai("openai_chat_stream_1.sse", openai.AsyncOpenAI), eng, customer_id="c", on_error=errs.append)
            s = await o.chat.completions.create(model="m", messages=MSG, stream=True)
            self.assertIsInstance(s, openai.AsyncStream)
            async for _ in s:
                pass
            o2 = wrap_openai(oai("openai_responses_1.json", openai.AsyncOpenAI), eng, customer_id="c", on_error=errs.append)
            await o2.responses.create(model="m", input="hi")
            a = wrap_anthropic(ant("anthropic_messages_2.json", anthropic.AsyncAnthropic), eng, customer_id="c", on_error=errs.append)
            await a.messages.create(model="m", max_tokens=8, messages=MSG)
            a2 = wrap_anthropic(ant("anthropic_stream_3.sse", anthropic.AsyncAnthropic), eng, customer_id="c", on_error=errs.append)
            async with a2.messages.stream(model="m", max_tokens=8, messages=MSG) as st:
                async for _ in st:
                    pass
            g = wrap_gemini(gem("gemini_stream_1.sse"), eng, customer_id="c", on_error=errs.append)
            async for _ in await g.aio.models.generate_content_stream(model="gemini-3-flash-preview", contents="hi"):
                pass
            g2 = wrap_gemini(gem("gemini_generate_1.json"), eng, customer_id="c", on_error=errs.append)
            await g2.aio.models.generate_content(model="gemini-2.5-flash", contents="hi")

        asyncio.run(main())
        self.assertEqual(errs, [])
        want = {}
        for rec in ("openai_chat_stream_1.sse", "openai_responses_1.json", "anthropic_messages_2.json",
                    "anthropic_stream_3.sse", "gemini_stream_1.sse", "gemini_generate_1.json"):
            for m, row in expected_by_model(rec).items():
                want[m] = tuple(a + b for a, b in zip(want.get(m, (0,) * 7), row))
        self.assertEqual(tokens_by_model(eng), want)


class Streams(unittest.TestCase):
    def truncated_only(self, eng, errs):
        """One explicit truncated event booked (unpriced, no tokens, no cost: never a fake
        zero-token call priced at 0) and one warning carrying it."""
        self.assertEqual(len(errs), 1, errs)
        err = errs[0]
        self.assertIsInstance(err, StreamTruncated)
        self.assertEqual(err.record["type"], "truncated")
        self.assertEqual(err.record["customerId"], "cust")
        self.assertGreater(err.record["bytesSeen"], 0)
        self.assertIsNone(err.cause)
        self.assertEqual(err.event["type"], "truncated")
        self.assertTrue(err.event.get("model"), "the model the request named")
        self.assertEqual(err.result["status"], "accepted")
        self.assertFalse(err.result["priced"])
        self.assertTrue(any(w.startswith("truncated: ") for w in err.result["warnings"]), err.result)
        rows = eng.margin({"groupBy": ["customer", "model"]})
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual((rows[0]["customerId"], rows[0]["model"]), ("cust", err.event["model"]))
        self.assertEqual((rows[0]["events"], rows[0]["unpricedEvents"], rows[0]["costCents"]), (1, 1, "0"))
        self.assertEqual(set(rows[0]["tokens"].values()), {0})

    def test_openai_stream_abandoned_early_and_closed(self):
        eng, errs = tg.Engine(), []
        c = wrap_openai(oai("openai_chat_stream_1.sse,chunk=200"), eng, customer_id="cust", on_error=errs.append)
        s = c.chat.completions.create(model="m", messages=MSG, stream=True)
        next(iter(s))
        s.close()
        self.truncated_only(eng, errs)

    def test_anthropic_stream_abandoned_and_dropped(self):
        eng, errs = tg.Engine(), []
        c = wrap_anthropic(ant("anthropic_stream_1.sse,chunk=300"), eng, customer_id="cust", on_error=errs.append)
        s = c.messages.create(model="m", max_tokens=8, messages=MSG, stream=True)
        it = iter(s)
        next(it)
        del s, it
        gc.collect()
        self.truncated_only(eng, errs)

    def test_bedrock_stream_abandoned_early(self):
        eng, errs = tg.Engine(), []
        c = wrap_bedrock(bedrock("bedrock_conversestream_2.jsonl"), eng, customer_id="cust", on_error=errs.append)
        r = c.converse_stream(modelId="anthropic.claude-3-7-sonnet-20250219-v1:0", messages=CONVERSE_MSG)
        next(iter(r["stream"]))
        r["stream"].close()
        self.truncated_only(eng, errs)

    def test_stream_cut_by_the_server(self):
        for name, spec, call in (
            ("openai", "openai_chat_stream_1.sse,cut=900", lambda e, errs: call_openai_chat("openai_chat_stream_1.sse,cut=900", e, "openai", errs, stream=True)),
            ("anthropic", "anthropic_stream_1.sse,cut=2000", lambda e, errs: call_anthropic("anthropic_stream_1.sse,cut=2000", e, "anthropic", errs, stream=True)),
            ("bedrock", "", lambda e, errs: call_converse("bedrock_conversestream_1.eventstream,cut=1500", e, "bedrock", errs, stream=True, model="us.amazon.nova-micro-v1:0")),
            ("gemini", "", lambda e, errs: call_gemini("gemini_stream_1.sse,cut=1200", e, "gemini", errs, stream=True)),
        ):
            with self.subTest(name):
                eng, errs = tg.Engine(), []
                with self.assertRaises(Exception) as cm:
                    call(eng, errs)
                self.assertNotIsInstance(cm.exception, TrackingError)
                self.truncated_only(eng, errs)

    def test_non_stream_body_cut_by_the_server(self):
        eng, errs = tg.Engine(), []
        with self.assertRaises(openai.APIConnectionError):
            call_openai_chat("openai_chat_1.json,cut=100", eng, "openai", errs)
        self.truncated_only(eng, errs)

    def test_stream_without_usage_reports_no_usage(self):
        # A complete stream that carries no usage (here: an Anthropic stream stopped by the
        # server right after its last complete event before message_delta) is never a zero.
        eng, errs = tg.Engine(), []
        c = wrap_openai(oai("vllm_chat_stream_1.sse"), eng, customer_id="cust", on_error=errs.append)
        for _ in c.chat.completions.create(model="m", messages=MSG, stream=True):
            pass
        self.assertEqual(errs, [])
        self.assertEqual(tokens_by_model(eng), expected_by_model("vllm_chat_stream_1.sse"))

    def test_stream_memory_is_constant(self):
        """The tap's allocations do not grow with the stream's length (O(1))."""
        peaks = []
        for repeat in (20, 2000):
            eng, errs = tg.Engine(), []
            c = wrap_openai(oai(f"openai_chat_stream_1.sse,repeat={repeat}"), eng, customer_id="cust", on_error=errs.append)
            filt = [tracemalloc.Filter(True, "*tollgate_engine*")]
            n = 0
            with c.chat.completions.with_streaming_response.create(model="m", messages=MSG, stream=True) as r:
                tracemalloc.start()
                for _ in r.iter_bytes():
                    n += 1
                gc.collect()
                snap = tracemalloc.take_snapshot().filter_traces(filt)
                tracemalloc.stop()
            self.assertEqual(errs, [])
            self.assertEqual(tokens_by_model(eng), expected_by_model("openai_chat_stream_1.sse"))
            peaks.append(sum(st.size for st in snap.statistics("filename")))
            self.assertGreater(n, repeat // 2)
        # Held by the tap after 100x more chunks: no more than after the short stream + 4 KiB.
        self.assertLessEqual(peaks[1], peaks[0] + 4096, peaks)


class Errors(unittest.TestCase):
    def test_http_errors_reach_the_caller_unchanged_and_nothing_is_tracked(self):
        for status in (400, 429, 500):
            with self.subTest(status=status):
                eng, errs = tg.Engine(), []
                with self.assertRaises(openai.APIStatusError) as cm:
                    call_openai_chat(f"openai_chat_1.json,status={status}", eng, "openai", errs)
                self.assertEqual(cm.exception.status_code, status)
                with self.assertRaises(anthropic.APIStatusError) as cm:
                    call_anthropic(f"anthropic_messages_1.json,status={status}", eng, "anthropic", errs)
                self.assertEqual(cm.exception.status_code, status)
                with self.assertRaises(botocore.exceptions.ClientError) as cm:
                    call_converse(f"bedrock_converse_1.json,status={status}", eng, "bedrock", errs, model="m")
                self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
                with self.assertRaises(genai_errors.APIError) as cm:
                    call_gemini(f"gemini_generate_1.json,status={status}", eng, "gemini", errs)
                self.assertEqual(cm.exception.code, status)
                self.assertEqual(errs, [])
                self.assertEqual(eng.margin({}), [])

    def test_sdk_retry_after_500_is_one_record(self):
        eng, errs = tg.Engine(), []
        c = wrap_openai(oai("openai_chat_1.json,failonce=r-oai,tag=r-oai", max_retries=2), eng, customer_id="c", on_error=errs.append)
        c.chat.completions.create(model="m", messages=MSG)
        a = wrap_anthropic(ant("anthropic_messages_5.json,failonce=r-ant,tag=r-ant", max_retries=2), eng, customer_id="c", on_error=errs.append)
        a.messages.create(model="m", max_tokens=8, messages=MSG)
        b = wrap_bedrock(bedrock("bedrock_converse_6.json,failonce=r-br,tag=r-br", retries=2), eng, customer_id="c", on_error=errs.append)
        b.converse(modelId="anthropic.claude-3-7-sonnet-20250219-v1:0", messages=CONVERSE_MSG)
        g = wrap_gemini(gem("gemini_generate_3.json,failonce=r-gem,tag=r-gem", attempts=3), eng, customer_id="c", on_error=errs.append)
        g.models.generate_content(model="gemini-3-pro-preview", contents="hi")
        for tag in ("r-oai", "r-ant", "r-br", "r-gem"):
            self.assertEqual(count(tag), 2, f"{tag}: the SDK retried once")
        self.assertEqual(errs, [])
        want = {}
        for rec in ("openai_chat_1.json", "anthropic_messages_5.json", "bedrock_converse_6.json", "gemini_generate_3.json"):
            want.update(expected_by_model(rec))
        self.assertEqual(tokens_by_model(eng), want)

    def test_engine_error_during_tracking_leaves_the_call_alone(self):
        eng = tg.Engine()
        errs = []
        c = wrap_openai(oai("openai_chat_1.json"), eng, customer_id="c", on_error=errs.append)
        eng.close()  # every engine call now fails
        r = c.chat.completions.create(model="m", messages=MSG)
        self.assertEqual(r.usage.completion_tokens, 363)
        self.assertEqual(len(errs), 1)
        self.assertIsInstance(errs[0], TrackingError)
        self.assertEqual(errs[0].kind, "engine")
        # streams too
        errs.clear()
        s = wrap_anthropic(ant("anthropic_stream_1.sse"), eng, customer_id="c", on_error=errs.append)
        with s.messages.stream(model="m", max_tokens=8, messages=MSG) as st:
            text = st.get_final_text()
        self.assertTrue(text)
        self.assertEqual(len(errs), 1)
        self.assertEqual(errs[0].kind, "engine")

    def test_failing_option_and_failing_on_error_never_reach_the_caller(self):
        eng = tg.Engine()

        def boom(_item):
            raise RuntimeError("user function failed")

        def bad_handler(_err):
            raise RuntimeError("handler failed too")

        c = wrap_openai(oai("openai_chat_1.json"), eng, customer_id="c", revenue_unit_cents=boom, on_error=bad_handler)
        with self.assertLogs("tollgate_engine.wrappers", "ERROR"):
            r = c.chat.completions.create(model="m", messages=MSG)
        self.assertEqual(r.id, json.loads((SHARED_FIXTURES / "openai_chat_1.json").read_text())["id"])
        self.assertEqual(eng.margin({}), [])

    def test_default_on_error_is_a_logged_warning(self):
        eng = tg.Engine()
        c = wrap_openai(oai("openai_chat_stream_1.sse,chunk=200"), eng, customer_id="c")
        with self.assertLogs("tollgate_engine.wrappers", "WARNING") as logs:
            s = c.chat.completions.create(model="m", messages=MSG, stream=True)
            next(iter(s))
            s.close()
        self.assertIn("truncated", logs.output[0])


class Options(unittest.TestCase):
    def test_values_and_functions(self):
        eng = tg.Engine()
        errs = []
        seen = []

        def revenue(item):
            seen.append(dict(item))
            return "0.5"

        c = wrap_openai(
            oai("openai_chat_1.json"), eng, customer_id="cust_F", agent_id="support",
            run_id=lambda item: "run-" + item["responseId"], revenue_unit_cents=revenue, on_error=errs.append,
        )
        r = c.chat.completions.create(model="m", messages=MSG)
        self.assertEqual(errs, [])
        self.assertEqual(seen[0]["tokensOut"], 363)
        self.assertEqual(seen[0]["responseId"], r.id)
        rows = eng.margin({"groupBy": ["run", "agent"]})
        self.assertEqual([(x["runId"], x["agentId"]) for x in rows], [("run-" + r.id, "support")])
        self.assertEqual(eng.customer_margin("cust_F").usage_revenue_cents, Decimal("0.5"))

    def test_provider_stated_cost(self):
        # OpenRouter states its cost in USD (usage.cost); booked as provider cost in cents.
        body = json.loads((SHARED_FIXTURES / "openrouter_chat_2.json").read_text())
        want = Decimal(str(body["usage"]["cost"])) * 100
        eng, errs = tg.Engine(), []
        c = wrap_openai(oai("openrouter_chat_2.json"), eng, customer_id="c", provider="openai_compatible",
                        provider_cost_cents="reported", on_error=errs.append)
        c.chat.completions.create(model="openai/gpt-5-mini", messages=MSG)
        self.assertEqual(errs, [])
        self.assertEqual(eng.customer_margin("c").cost_cents, want)
        # A fixed stated cost per line item, too.
        eng2 = tg.Engine()
        c2 = wrap_openai(oai("openai_chat_1.json"), eng2, customer_id="c", provider_cost_cents="1.25")
        c2.chat.completions.create(model="m", messages=MSG)
        self.assertEqual(eng2.customer_margin("c").cost_cents, Decimal("1.25"))

    def test_float_money_is_refused(self):
        with self.assertRaises(TypeError):
            wrap_openai(oai("openai_chat_1.json"), tg.Engine(), customer_id="c", revenue_unit_cents=0.5)

    def test_original_client_untouched(self):
        eng = tg.Engine()
        raw = oai("openai_chat_1.json")
        wrapped = wrap_openai(raw, eng, customer_id="c")
        raw.chat.completions.create(model="m", messages=MSG)
        self.assertEqual(eng.margin({}), [])
        wrapped.chat.completions.create(model="m", messages=MSG)
        self.assertEqual(len(eng.margin({})), 1)
        rawb = bedrock("bedrock_converse_1.json")
        wb = wrap_bedrock(rawb, eng, customer_id="b")
        rawb.converse(modelId="us.anthropic.claude-sonnet-4-5-20250929-v1:0", messages=CONVERSE_MSG)
        self.assertEqual(len(eng.margin({"customerId": "b"})), 0)
        wb.converse(modelId="us.anthropic.claude-sonnet-4-5-20250929-v1:0", messages=CONVERSE_MSG)
        self.assertEqual(len(eng.margin({"customerId": "b"})), 1)

    def test_resolve_books_the_run_outcome(self):
        eng = tg.Engine()
        eng.upsert_customer({"customerId": "c", "plan": {"pricingModel": "outcome_based", "unitRevenueCents": "40"}})
        c = wrap_anthropic(ant("anthropic_messages_5.json"), eng, customer_id="c", run_id="ticket-9")
        c.messages.create(model="m", max_tokens=8, messages=MSG)
        res = resolve(eng, "ticket-9", "c", "resolved")
        self.assertEqual(res["status"], "accepted", res)
        m = eng.customer_margin("c")
        self.assertEqual(m.outcome_revenue_cents, Decimal("40"))
        self.assertEqual(m.runs, {"open": 0, "resolved": 1, "escalated": 0, "failed": 0})


class Concurrency(unittest.TestCase):
    N = 32

    def test_32_threads_exact_totals(self):
        for name, rec, fn in (
            ("openai", "openai_chat_4.json", lambda e, i: wrap_openai(oai("openai_chat_4.json"), e, customer_id="c").chat.completions.create(model="m", messages=MSG)),
            ("bedrock", "bedrock_converse_6.json", lambda e, i: wrap_bedrock(CLIENT_B, e, customer_id="c").converse(modelId="anthropic.claude-3-7-sonnet-20250219-v1:0", messages=CONVERSE_MSG)),
            ("gemini", "gemini_stream_1.sse", lambda e, i: list(wrap_gemini(gem("gemini_stream_1.sse"), e, customer_id="c").models.generate_content_stream(model="m", contents="x"))),
        ):
            with self.subTest(name):
                if name == "bedrock":
                    global CLIENT_B
                    CLIENT_B = bedrock("bedrock_converse_6.json")
                single = tg.Engine()
                fn(single, 0)
                one = single.customer_margin("c").cost_cents
                eng = tg.Engine()
                with ThreadPoolExecutor(self.N) as pool:
                    list(pool.map(lambda i: fn(eng, i), range(self.N)))
                m = eng.customer_margin("c")
                # Converse has no response id: each call is its own; the others repeat one
                # response id, so 32 identical responses are one record.
                n = self.N if name == "bedrock" else 1
                self.assertEqual(m.events, n)
                self.assertEqual(m.cost_cents, one * n)

    def test_32_async_calls_exact_totals(self):
        eng = tg.Engine()
        c = wrap_anthropic(ant("anthropic_stream_5.sse", anthropic.AsyncAnthropic), eng,
                           customer_id="c", run_id=lambda item: None)
        k = iter(range(10**6))
        lock = threading.Lock()

        def key():
            with lock:
                return next(k)

        async def one():
            s = await c.messages.create(model="m", max_tokens=8, messages=MSG, stream=True)
            async for _ in s:
                pass

        async def main():
            await asyncio.gather(*(one() for _ in range(self.N)))

        asyncio.run(main())
        # One response id: 32 replays are booked once (2 line items: executor + advisor).
        self.assertEqual(tokens_by_model(eng), expected_by_model("anthropic_stream_5.sse"))

    def test_32_threads_one_response_many_customers(self):
        # 32 distinct responses (distinct ids from distinct customers' runs): exact sum.
        eng = tg.Engine()
        raw = oai("openai_chat_3.json")
        errs = []

        def call(i):
            c = wrap_openai(raw, eng, customer_id=f"c{i % 4}", on_error=errs.append)
            c.chat.completions.create(model="m", messages=MSG)

        with ThreadPoolExecutor(self.N) as pool:
            list(pool.map(call, range(self.N)))
        # The same response id under 4 customers: the idempotency key is the response's, so
        # it is booked once in total; the 8 replays under the same customer are duplicates,
        # the 24 under another customer are conflicts, each reported to on_error.
        self.assertEqual(sum(r["events"] for r in eng.margin({"groupBy": ["customer"]})), 1)
        self.assertEqual(len(errs), 24)
        self.assertTrue(all(e.kind == "rejected" and "conflict" in str(e) for e in errs))


@unittest.skipUnless(hasattr(tg.Engine, "allow"), "the engine has no guardrails (allow) yet")
class Guard(unittest.TestCase):
    """guard= with the engine's own policies. Rates (LiteLLM registry): gpt-4o 0.00025 /
    0.001 cent per input / output token, gpt-4o-mini 0.000015 / 0.00006: 100,000 in + 100,000
    out = 125 cents on gpt-4o, 7.5 cents on gpt-4o-mini."""

    USAGE = {"tokensIn": 100000, "tokensOut": 100000}

    def engine(self, customer, spent, policy):
        eng = tg.Engine()
        self.assertEqual(eng.upsert_policy(dict(policy, policyId="p", customerId=customer))["status"], "accepted")
        ev = {"type": "tool", "customerId": customer, "externalCostCents": spent, "idempotencyKey": f"spend-{customer}"}
        self.assertEqual(eng.track(ev)["status"], "accepted")
        return eng

    def test_block_raises_typed_error_and_the_provider_is_not_called(self):
        budget = {"budget": {"cents": "100", "period": "day"}}
        calls = {
            "openai": lambda e, tag: wrap_openai(oai(f"openai_chat_1.json,tag={tag}"), e, customer_id="g", guard=True)
            .chat.completions.create(model="gpt-4o", messages=MSG),
            "anthropic": lambda e, tag: wrap_anthropic(ant(f"anthropic_messages_5.json,tag={tag}"), e, customer_id="g", guard=True)
            .messages.create(model="claude-sonnet-4-6", max_tokens=8, messages=MSG),
            "bedrock": lambda e, tag: wrap_bedrock(bedrock(f"bedrock_converse_6.json,tag={tag}"), e, customer_id="g", guard=True)
            .converse(modelId="anthropic.claude-3-7-sonnet-20250219-v1:0", messages=CONVERSE_MSG),
            "gemini": lambda e, tag: wrap_gemini(gem(f"gemini_generate_1.json,tag={tag}"), e, customer_id="g", guard=True)
            .models.generate_content(model="gemini-2.5-flash", contents="hi"),
        }
        for name, call in calls.items():
            with self.subTest(name):
                eng = self.engine("g", "100", budget)  # the budget is spent
                with self.assertRaises(tg.GuardBlocked) as cm:
                    call(eng, f"gb-{name}")
                self.assertEqual(cm.exception.decision.reason, "budget_exceeded")
                self.assertEqual(count(f"gb-{name}"), 0)
                self.assertEqual(eng.customer_margin("g").events, 1)  # only the spend
                ok = self.engine("g", "99", budget)  # something left: the call goes through
                call(ok, f"ok-{name}")
                self.assertEqual(count(f"ok-{name}"), 1)
                self.assertEqual(ok.customer_margin("g").events, 2)

    def test_async_block(self):
        eng = self.engine("g", "100", {"budget": {"cents": "100", "period": "day"}})
        c = wrap_openai(oai("openai_chat_1.json,tag=gb-async", openai.AsyncOpenAI), eng, customer_id="g", guard=True)
        with self.assertRaises(tg.GuardBlocked):
            asyncio.run(c.chat.completions.create(model="gpt-4o", messages=MSG))
        self.assertEqual(count("gb-async"), 0)

    def test_downgrade_sends_the_suggested_model(self):
        policy = {"budget": {"cents": "100", "period": "day"}, "action": "downgrade", "downgrade": {"gpt-4o": "gpt-4o-mini"}}
        # 10 cents left: gpt-4o (125) does not fit, gpt-4o-mini (7.5) does.
        eng = self.engine("d", "90", policy)
        c = wrap_openai(oai("openai_chat_1.json,tag=dg-1"), eng, customer_id="d",
                        guard={"mode": "downgrade", "usage": self.USAGE})
        c.chat.completions.create(model="gpt-4o", messages=MSG)
        self.assertEqual(served("dg-1"), {"count": 1, "model": "gpt-4o-mini"})
        # guard=True only checks: the call goes out as asked.
        c2 = wrap_openai(oai("openai_chat_1.json,tag=dg-2"), eng, customer_id="d", guard={"mode": True, "usage": self.USAGE})
        c2.chat.completions.create(model="gpt-4o", messages=MSG)
        self.assertEqual(served("dg-2"), {"count": 1, "model": "gpt-4o"})
        # 5 cents left: nothing fits, block.
        eng2 = self.engine("d", "95", policy)
        c3 = wrap_openai(oai("openai_chat_1.json,tag=dg-3"), eng2, customer_id="d",
                         guard={"mode": "downgrade", "usage": self.USAGE})
        with self.assertRaises(tg.GuardBlocked):
            c3.chat.completions.create(model="gpt-4o", messages=MSG)
        self.assertEqual(count("dg-3"), 0)

    def test_bad_guard_options_are_refused(self):
        with self.assertRaises(ValueError):
            wrap_openai(oai("openai_chat_1.json"), tg.Engine(), customer_id="c", guard="maybe")
        with self.assertRaises(TypeError):
            wrap_openai(oai("openai_chat_1.json"), tg.Engine(), customer_id=lambda item: "c", guard=True)


CLIENT_B = None


class NoContentRetained(unittest.TestCase):
    """The marker in every prompt and the completion text of the recording appear nowhere the
    engine or the wrapper keeps: not in the ledger state, not in what on_error or the log got."""

    CONTENT = {
        "openai_chat_1.json": lambda b: b["choices"][0]["message"]["content"][:40],
        "anthropic_messages_5.json": lambda b: b["content"][0]["text"][:20],
        "bedrock_converse_6.json": lambda b: b["output"]["message"]["content"][0]["reasoningContent"]["reasoningText"]["text"][:30],
        "gemini_generate_3.json": lambda b: [p for p in b["candidates"][0]["content"]["parts"] if p.get("text")][-1]["text"][:30],
    }

    def test_no_content_retained_by_any_wrapper(self):
        calls = {
            "openai_chat_1.json": lambda e, errs: call_openai_chat("openai_chat_1.json", e, "openai", errs),
            "anthropic_messages_5.json": lambda e, errs: call_anthropic("anthropic_messages_5.json", e, "anthropic", errs),
            "bedrock_converse_6.json": lambda e, errs: call_converse("bedrock_converse_6.json", e, "bedrock", errs, model="anthropic.claude-3-7-sonnet-20250219-v1:0"),
            "gemini_generate_3.json": lambda e, errs: call_gemini("gemini_generate_3.json", e, "gemini", errs),
        }
        streams = {
            "openai": lambda e, errs: call_openai_chat("openai_chat_stream_1.sse,cut=2500", e, "openai", errs, stream=True),
            "anthropic": lambda e, errs: call_anthropic("anthropic_stream_1.sse,cut=3000", e, "anthropic", errs, stream=True),
            "bedrock": lambda e, errs: call_converse("bedrock_conversestream_1.eventstream,cut=3000", e, "bedrock", errs, stream=True, model="us.amazon.nova-micro-v1:0"),
            "gemini": lambda e, errs: call_gemini("gemini_stream_1.sse,cut=2000", e, "gemini", errs, stream=True),
        }
        for rec, call in calls.items():
            with self.subTest(rec):
                completion = self.CONTENT[rec](json.loads((SHARED_FIXTURES / rec).read_text()))
                self.assertGreater(len(completion), 10)
                eng, errs = tg.Engine(), []
                with self.assertLogs("tollgate_engine", "DEBUG") as logs:
                    logging.getLogger("tollgate_engine.wrappers").debug("start")
                    call(eng, errs)
                    for name, s in streams.items():
                        try:
                            s(eng, errs)
                        except Exception:
                            pass
                self.assertEqual(len(errs), 4, errs)  # the four cut streams, reported
                kept = eng.state_save() if hasattr(eng, "state_save") else eng.state_snapshot()
                kept += json.dumps(eng.margin({"groupBy": ["model", "customer"]})).encode()
                kept += repr([(e.args, e.record) for e in errs]).encode() + repr(logs.output).encode()
                for secret in (MARKER, completion):
                    self.assertNotIn(secret.encode(), kept, secret)
                gc.collect()
                from tollgate_engine.wrappers._core import Session

                self.assertEqual([o for o in gc.get_objects() if isinstance(o, Session)], [])


if __name__ == "__main__":
    unittest.main()
