"""tollgateai's own event builders on recorded provider responses, through `tollgate serve`,
give the same cents as our own extraction of the same raw bytes (tollgate_engine).

For every recorded response (the project's `data/fixtures/providers` and the real recordings
in `../shared/fixtures/providers`, read in place): the SDK builds its track payload (its
public `*_event_from` builders for whole bodies, its wrappers' stream accumulators for
streams: `sdk_events.py`), the real `TollgateClient.track` posts it to the server, and each
fixture gets its own customer. Independently, our extraction reads the raw bytes and an
in-process engine tracks its line items for the same customer. After a graceful stop the
server's workspace store is opened with our binding and each customer's cost, token buckets
and unpriced count are compared with the in-process engine's.

The expected side is our extraction of the raw response, whose line items are themselves
checked against the recordings' hand-verified `expected.jsonl` in the extraction tests; here
the test additionally checks every line item it uses against `expected.jsonl`.

Responses the SDK cannot read completely are listed in `SDK_LOSSES` with the reason; for
each, the test asserts the loss is exactly the stated one (so the list cannot hide a mapping
bug of ours).
"""

from __future__ import annotations

import json
import unittest
from decimal import Decimal
from pathlib import Path

from harness import OWN_FIXTURES, SHARED_FIXTURES, Server, require_sdk, require_shared, tg, tollgateai
from sdk_events import our_events, sdk_event

# file -> (what the SDK loses, a check of the SDK payload that shows that loss[, the relation of
# the server's cents to ours; default: the server's are lower])
SDK_LOSSES = {
    # wrap_openai wraps chat.completions only and openai_event_from reads prompt_tokens /
    # completion_tokens: a Responses API body (input_tokens / output_tokens) becomes an event
    # with zero tokens, silently.
    "openai_responses.json": ("Responses API read as zero tokens", lambda ev: ev["tokensIn"] == 0 and ev["tokensOut"] == 0),
    "openai_responses_1.json": ("Responses API read as zero tokens", lambda ev: ev["tokensIn"] == 0 and ev["tokensOut"] == 0),
    "openai_responses_3.json": ("Responses API read as zero tokens", lambda ev: ev["tokensIn"] == 0 and ev["tokensOut"] == 0),
    # OpenRouter's Responses body: zero tokens, but usage.cost is found; the SDK sends
    # cost * 100 computed in binary floating point: 0.002196 * 100 = 0.21960000000000002.
    "openrouter_responses_1.json": (
        "Responses API: zero tokens; usage.cost × 100 in floating point",
        lambda ev: ev["tokensIn"] == 0 and ev["tokensOut"] == 0 and repr(ev["providerCostCents"]) == "0.21960000000000002",
        # the server books the float's text exactly; the gateway's exact cost is 0.2196
        lambda server, ours: server == Decimal("0.21960000000000002") and ours == Decimal("0.2196"),
    ),
    # Anthropic stream: only message_start's usage plus message_delta's output_tokens are read;
    # usage.iterations[] (compaction, advisor sub-calls) and a later input count are lost.
    "anthropic_stream_3.sse": ("usage.iterations[] (compaction) not read", lambda ev: ev["tokensIn"] == 100),
    "anthropic_stream_5.sse": ("usage.iterations[] (advisor call on another model) not read", lambda ev: ev["tokensIn"] == 1128),
    "anthropic_compat_stream_1.jsonl": ("message_delta input_tokens ignored", lambda ev: ev["tokensIn"] == 43),
    # Gemini: toolUsePromptTokenCount (billed input) is not read.
    "gemini_stream_1.sse": ("toolUsePromptTokenCount (360) not read", lambda ev: ev["tokensIn"] == 147),
}

# The SDK never reads these recordings' usage at all (no event is built).
SDK_NOTHING = {
    "openai_responses_stream_1.sse": "Responses API stream: usage only in response.completed, which the SDK does not read",
}

# Handled, same cents, but different buckets: the stated cost decides the cents.
TOKENS_DIFFER = {
    # OpenRouter reports cache writes in prompt_tokens_details.cache_write_tokens; the SDK
    # leaves them in tokensIn (118 = 3 fresh + 115 written). Its stated cost is used verbatim.
    "openrouter_chat_1.json": ("tokensIn", "cacheWrite5mTokens"),
}

# Models of the recordings the embedded rate card has no row for. Both sides get the same
# override (invented round prices, USD per token) so their cents are a real comparison rather
# than unpriced on both sides: the server's through its workspace store (journaled, recovered
# when the server opens it), ours in-process.
OVERRIDES = {  # model -> registry entry, as JSON text (the registry reads its number literals exactly)
    "claude-sonnet-4-20250514": '{"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05, '
                                '"cache_read_input_token_cost": 3e-07, "cache_creation_input_token_cost": 3.75e-06}',
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/mi1dadi0g15f":
        '{"input_cost_per_token": 8e-07, "output_cost_per_token": 4e-06}',
    "openai/gpt-oss-120b": '{"input_cost_per_token": 1.5e-07, "output_cost_per_token": 7.5e-07, '
                           '"cache_read_input_token_cost": 7.5e-08}',
    "meta-llama/Llama-3.3-70B-Instruct": '{"input_cost_per_token": 5.9e-07, "output_cost_per_token": 7.9e-07}',
    "llama-3.3-70b": '{"input_cost_per_token": 8.5e-07, "output_cost_per_token": 1.2e-06}',
    "deepseek-reasoner": '{"input_cost_per_token": 5.5e-07, "output_cost_per_token": 2.19e-06, '
                         '"cache_read_input_token_cost": 1.4e-07}',
    "gemini-3-pro-preview": '{"input_cost_per_token": 2e-06, "output_cost_per_token": 1.2e-05, '
                            '"output_cost_per_reasoning_token": 1.2e-05}',
}

BUCKETS = ("tokensIn", "cachedTokens", "cacheWrite5mTokens", "cacheWrite1hTokens", "tokensOut", "reasoningTokens")


def cases():
    out = []
    for d in (OWN_FIXTURES, SHARED_FIXTURES):
        if not (d / "expected.jsonl").exists():
            continue
        with (d / "expected.jsonl").open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    out.append((d, json.loads(line)))
    return out


class SdkBuildersThroughServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_sdk()
        require_shared()
        cls.server = Server()
        cls.addClassCleanup(cls.server.close)  # also when setUpClass fails (tearDownClass is skipped then)
        cls.server.create_key("ingest")
        seed = tg.Engine.open(cls.server.workspace_dir(), durability="sync")
        cls.ours = tg.Engine()
        for model, entry in OVERRIDES.items():
            seed.set_override(model, entry)
            cls.ours.set_override(model, entry)
        seed.close()
        cls.server.start()
        cls.sdk = cls.server.sdk_client()
        cls.cases = {}  # customer -> (file, sdk payload, server answer, our line items)
        cls.nothing = []
        try:
            for n, (d, exp) in enumerate(cases()):
                path = Path(d) / exp["file"]
                cust = f"fx-{n:02d}-{exp['file'].split('.')[0]}"
                if exp["file"] in SDK_NOTHING:
                    try:
                        sdk_event(path, exp["provider"], exp.get("requestModel"), cust)
                    except AssertionError as e:
                        cls.nothing.append((exp["file"], str(e)))
                        continue
                    raise AssertionError(f"{exp['file']}: the SDK now builds an event")
                payload = sdk_event(path, exp["provider"], exp.get("requestModel"), cust)
                try:
                    answer = cls.sdk.track(payload)
                except tollgateai.TollgateError as e:  # reported per file by the tests below
                    answer = {"refused": e.status, "body": e.body}
                mine = our_events(path, exp["provider"], exp.get("requestModel"), cust,
                                  "providerCostCents" in payload, tg)
                for ev in mine:
                    r = cls.ours.track(ev)
                    assert r["status"] == "accepted", r
                cls.cases[cust] = (exp, payload, answer, mine)
        finally:
            cls.server.stop()
        store = cls.server.open_store()
        cls.server_rows = {r["customerId"]: r for r in store.report({"groupBy": ["customer"]})["rows"]}
        store.close()
        cls.our_rows = {r["customerId"]: r for r in cls.ours.report({"groupBy": ["customer"]})["rows"]}

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "server"):
            cls.server.close()
        if hasattr(cls, "ours"):
            cls.ours.close()

    def test_our_side_matches_the_recordings(self):
        # The reference itself is checked against the recordings' hand-verified expectations.
        for cust, (exp, _, _, mine) in self.cases.items():
            with self.subTest(file=exp["file"]):
                self.assertEqual(len(mine), len(exp["lineItems"]))
                for got, want in zip(mine, exp["lineItems"]):
                    for k in BUCKETS:
                        self.assertEqual(got.get(k) or 0, want[k] or 0, k)

    def test_server_answered_every_track(self):
        for cust, (exp, payload, answer, _) in self.cases.items():
            with self.subTest(file=exp["file"]):
                self.assertEqual(answer.get("status"), "accepted", answer)

    def test_same_cents_as_our_extraction(self):
        proven = []
        for cust, (exp, payload, _, _) in self.cases.items():
            if exp["file"] in SDK_LOSSES:
                continue
            with self.subTest(file=exp["file"]):
                s, o = self.server_rows[cust], self.our_rows[cust]
                self.assertEqual(Decimal(s["costCents"]), Decimal(o["costCents"]), (payload, s, o))
                self.assertEqual(s["unpricedEvents"], o["unpricedEvents"])
                self.assertEqual(s["events"], 1)
                for k in BUCKETS:
                    if k in TOKENS_DIFFER.get(exp["file"], ()):
                        continue
                    self.assertEqual(s[k], o[k], k)
                self.assertGreater(Decimal(s["costCents"]), 0)  # priced: a real comparison
                proven.append(exp["file"])
        print(f"\n  same cents through the server as our extraction: {len(proven)} recorded responses "
              f"({sum(1 for f in proven if not self._shared(f))} own, {sum(1 for f in proven if self._shared(f))} shared)")
        # Every recording except those the SDK cannot read completely (listed above).
        expected = [e["file"] for _, e in cases() if e["file"] not in SDK_LOSSES and e["file"] not in SDK_NOTHING]
        self.assertEqual(sorted(proven), sorted(expected))

    def test_reasoning_added_back_by_hand(self):
        # openai_chat_4.json: o3-mini, prompt 11, completion 809 of which 768 reasoning. The SDK
        # sends tokensOut 41 (809 − 768) and reasoningTokens 768; booked as 809 output tokens.
        # o3-mini: 1.1e-6 USD in, 4.4e-6 USD out: 11 × 0.00011 + 809 × 0.00044 cents
        # = 0.00121 + 0.35596 = 0.35717 cents.
        [(cust, payload)] = [(c, p) for c, (e, p, _, _) in self.cases.items() if e["file"] == "openai_chat_4.json"]
        self.assertEqual((payload["tokensOut"], payload["reasoningTokens"]), (41, 768))
        row = self.server_rows[cust]
        self.assertEqual((row["tokensOut"], row["reasoningTokens"]), (809, 768))
        self.assertEqual(Decimal(row["costCents"]), Decimal("0.35717"))

    def _shared(self, name):
        return (SHARED_FIXTURES / name).exists() and not (OWN_FIXTURES / name).exists()

    def test_sdk_losses_are_exactly_the_stated_ones(self):
        seen = set()
        for cust, (exp, payload, _, _) in self.cases.items():
            if exp["file"] not in SDK_LOSSES:
                continue
            seen.add(exp["file"])
            why, shows, *relation = SDK_LOSSES[exp["file"]]
            with self.subTest(file=exp["file"], loss=why):
                self.assertTrue(shows(payload), payload)
                s, o = self.server_rows[cust], self.our_rows[cust]
                server, ours = Decimal(s["costCents"]), Decimal(o["costCents"])
                if relation:
                    self.assertTrue(relation[0](server, ours), (server, ours))
                else:
                    # The server booked what the SDK sent: less than the response's real cost.
                    self.assertLess(server, ours)
        self.assertEqual(seen, {f for f in SDK_LOSSES if any(e["file"] == f for _, e in cases())})
        self.assertEqual({f for f, _ in self.nothing}, {f for f in SDK_NOTHING if any(e["file"] == f for _, e in cases())})

    def test_stated_cost_read_exactly_from_the_json_text(self):
        # The SDK's providerCostCents (a JSON float) is booked as the exact decimal of its text.
        n = 0
        for cust, (exp, payload, _, _) in self.cases.items():
            if "providerCostCents" in payload:
                n += 1
                with self.subTest(file=exp["file"]):
                    text = json.dumps(payload["providerCostCents"])
                    self.assertEqual(Decimal(self.server_rows[cust]["costCents"]), Decimal(text))
        self.assertGreaterEqual(n, 4)


if __name__ == "__main__":
    unittest.main()
