"""Usage extraction (one-shot and streaming) over the recorded provider fixtures, and bad
input."""

import json
import unittest

from common import OWN_FIXTURES, SHARED_FIXTURES, CentsLog, shared_or_skip
import tollgate_engine as tg

KEYS = ("tokensIn", "cachedTokens", "cacheWrite5mTokens", "cacheWrite1hTokens", "tokensOut", "reasoningTokens", "model")
BODY = b'{"id":"chatcmpl-1","model":"gpt-4o","usage":{"prompt_tokens":10,"completion_tokens":2}}'


class FixtureTest(unittest.TestCase):
    def test_every_fixture_one_shot_streamed_and_priced(self):
        expected = SHARED_FIXTURES / "expected.jsonl"
        shared_or_skip(self, expected)
        log = CentsLog("python", "fixtures")
        files = items = 0
        with tg.Engine() as engine:
            for line in expected.read_text(encoding="utf-8").splitlines():
                want = json.loads(line)
                body = (SHARED_FIXTURES / want["file"]).read_bytes()
                got = tg.extract_usage(want["provider"], body, want.get("requestModel"))
                self.assertEqual(len(got), len(want["lineItems"]), want["file"])
                for g, w in zip(got, want["lineItems"]):
                    self.assertEqual({k: g[k] for k in KEYS}, {k: w[k] for k in KEYS}, want["file"])
                with tg.Stream(want["provider"], want.get("requestModel")) as s:
                    for off in range(0, len(body), 7):
                        s.feed(body[off : off + 7])
                    self.assertEqual(s.finish(), got, want["file"])
                for i, g in enumerate(got):
                    r = engine.price_json(g)  # a line item is a valid event
                    log.write(f"fixture:{want['file']}#{i}", r["costCents"], r["priced"])
                    items += 1
                files += 1
        log.close()
        self.assertEqual(files, 34)
        self.assertEqual(items, 35)

    def test_own_provider_responses_one_shot_and_streamed(self):
        # The project's own responses (data/fixtures/providers/INDEX.md has the hand-worked line
        # items), present in every clone.
        lines = (OWN_FIXTURES / "expected.jsonl").read_text(encoding="utf-8").splitlines()
        self.assertEqual(len(lines), 7)
        for line in lines:
            want = json.loads(line)
            body = (OWN_FIXTURES / want["file"]).read_bytes()
            got = tg.extract_usage(want["provider"], body, want.get("requestModel"))
            self.assertEqual(len(got), len(want["lineItems"]), want["file"])
            for g, w in zip(got, want["lineItems"]):
                self.assertEqual({k: g[k] for k in KEYS}, {k: w[k] for k in KEYS}, want["file"])
            with tg.Stream(want["provider"], want.get("requestModel")) as s:
                for off in range(0, len(body), 3):
                    s.feed(body[off : off + 3])
                self.assertEqual(s.finish(), got, want["file"])


class HostileExtractionTest(unittest.TestCase):
    def test_bad_input(self):
        self.assertEqual(tg.extract_usage("openai", BODY)[0]["tokensIn"], 10)
        cases = [
            ("gemini-ish", BODY, tg.ERR_INVALID_INPUT, "provider: unknown provider"),
            ("openai", b'{"id":"x\xff","model":"m","usage":{"prompt_tokens":1,"completion_tokens":1}}', tg.ERR_INVALID_UTF8, ""),
            ("openai", b'data: {"id":"c1","model":"gpt-4o","choices":[]}\n\ndata: [DONE]\n\n', tg.ERR_NO_USAGE, "no_usage:"),
            ("openai", b'data: {"id":"c1","model":"gpt-4o","usage":{"prompt_tokens":1', tg.ERR_INVALID_INPUT, "truncated:"),
            ("bedrock", b'{"usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}', tg.ERR_INVALID_INPUT, "missing_model:"),
        ]
        for provider, body, status, prefix in cases:
            with self.assertRaises(tg.TollgateError) as cm:
                tg.extract_usage(provider, body)
            self.assertEqual(cm.exception.status, status, body)
            self.assertTrue(cm.exception.detail.startswith(prefix), cm.exception.detail)
        with self.assertRaises(tg.TollgateError):
            tg.extract_usage("openai", b"")  # nothing is never zero tokens

    def test_stream_misuse_and_sticky_errors(self):
        with tg.Stream("openai") as s:
            s.feed(b"")
            s.feed(BODY)
            first = s.finish()
            self.assertEqual(s.finish(), first)  # computed once
            with self.assertRaises(tg.TollgateError) as cm:
                s.feed(b"x")
            self.assertEqual(cm.exception.status, tg.ERR_MISUSE)
        with tg.Stream("openai") as s:
            with self.assertRaises(tg.TollgateError) as cm:
                s.feed(b'{"id":"x\xff')
            self.assertEqual(cm.exception.status, tg.ERR_INVALID_UTF8)
            with self.assertRaises(tg.TollgateError) as cm:
                s.feed(b"}")  # the error sticks
            self.assertEqual(cm.exception.status, tg.ERR_INVALID_UTF8)
        s.close()  # closing twice is a no-op
        with self.assertRaises(tg.TollgateError) as cm:
            s.feed(b"x")
        self.assertEqual(cm.exception.status, tg.ERR_INVALID_HANDLE)
        with self.assertRaises(tg.TollgateError) as cm:
            tg.Stream("nope")
        self.assertEqual(cm.exception.status, tg.ERR_INVALID_INPUT)


if __name__ == "__main__":
    unittest.main()
