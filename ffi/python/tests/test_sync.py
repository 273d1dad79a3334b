"""Rate-card sync through the Python binding against a registry served from 127.0.0.1:
200 (published, with its diff and history), 304 on the conditional request, an invalid
registry and a 500 (nothing published, the error says why), the history after a reopen, and
the background refresher.

Hand calculation: CARD_A prices gpt-4o input at 1e-06 USD = 0.0001 cent per token (the
embedded card: 2.5e-06), so 1000 input tokens cost 0.1 cent after the pull (0.25 before)."""

import hashlib
import http.server
import tempfile
import threading
import time
import unittest
from decimal import Decimal

import common  # noqa: F401
import tollgate_engine as tg

CARD_A = (b'{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, '
          b'"output_cost_per_token": 4e-06},\n "acme-llm": {"litellm_provider": "openai", "mode": "chat", '
          b'"input_cost_per_token": 5e-06, "output_cost_per_token": 5e-06}}')
INVALID = b'{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "cheap"}}'
EVENT = {"customerId": "acme", "provider": "openai", "model": "gpt-4o", "tokensIn": 1000}


class Registry(http.server.BaseHTTPRequestHandler):
    """Serves `reply` (status, body); answers 304 to If-None-Match: "a" while `etag_a` is set."""

    reply = (200, CARD_A)
    etag_a = True
    seen = []

    def do_GET(self):
        inm = self.headers.get("If-None-Match")
        Registry.seen.append(inm)
        status, body = Registry.reply
        if Registry.etag_a and inm == '"a"':
            self.send_response(304)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        if status == 200 and Registry.etag_a:
            self.send_header("ETag", '"a"')
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Sync(unittest.TestCase):
    def setUp(self):
        Registry.reply, Registry.etag_a, Registry.seen = (200, CARD_A), True, []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Registry)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/model_prices.json"
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.server.shutdown()
        self.server.server_close()
        self.dir.cleanup()

    def test_200_304_invalid_500_and_history_after_a_reopen(self):
        with tg.Engine.open(self.dir.name) as e:
            self.assertEqual(e.price_json(EVENT)["costCents"], "0.25")
            r = e.pull_rate_card(self.url, retries=0)
            self.assertEqual((r["source"], r["outcome"]), (self.url, "published"))
            (card,) = r["published"]
            self.assertEqual(card["content"], hashlib.sha256(CARD_A).hexdigest())
            self.assertEqual(card["added"], ["acme-llm"])
            self.assertIn("gpt-4o", card["repriced"])
            self.assertEqual(e.price_json(EVENT)["costCents"], "0.1")
            # The conditional request: the server says 304, nothing is published.
            r = e.pull_rate_card(self.url, retries=0)
            self.assertEqual((r["outcome"], r["published"]), ("not_modified", []))
            self.assertEqual(Registry.seen[-1], '"a"')
            # An invalid registry: nothing published, the error says why.
            Registry.reply, Registry.etag_a = (200, INVALID), False
            with self.assertRaises(tg.RateCardError) as cm:
                e.pull_rate_card(self.url, retries=0)
            self.assertIn("nothing published", cm.exception.detail)
            self.assertIn("gpt-4o", cm.exception.detail)
            Registry.reply = (500, b"down")
            with self.assertRaises(tg.StorageError) as cm:
                e.pull_rate_card(self.url, retries=0)
            self.assertIn("HTTP status 500", cm.exception.detail)
            history = e.rate_card_history()
            self.assertEqual([c["content"] for c in history], [card["content"]])
            self.assertEqual(history[0]["effectiveFromMs"], card["effectiveFromMs"])
            self.assertEqual(history[0]["models"], 2)
        with tg.Engine.open(self.dir.name) as e:
            self.assertEqual([c["content"] for c in e.rate_card_history()], [card["content"]])
            self.assertEqual(e.price_json(EVENT)["costCents"], "0.1")
            m = e.track(dict(EVENT, idempotencyKey="k1"))
            self.assertEqual(Decimal(m["costCents"]), Decimal("0.1"))

    def test_an_in_memory_engine_cannot_pull(self):
        with tg.Engine() as e:
            with self.assertRaises(tg.MisuseError):
                e.pull_rate_card(self.url)
            with self.assertRaises(tg.MisuseError):
                e.rate_card_history()

    def test_refresher_pulls_in_the_background(self):
        with tg.Engine.open(self.dir.name) as e:
            with e.start_refresher(self.url, interval_ms=60000, jitter_ms=0, retries=0) as r:
                deadline = time.monotonic() + 10
                while r.pulls < 1 and time.monotonic() < deadline:
                    time.sleep(0.01)
                s = r.status()
                self.assertEqual(s["pulls"], 1)
                self.assertTrue(s["last"]["ok"])
                self.assertEqual(s["last"]["report"]["outcome"], "published")
            self.assertEqual(e.price_json(EVENT)["costCents"], "0.1")
            # A refresher whose registry is invalid reports why and publishes nothing.
            Registry.reply, Registry.etag_a = (200, INVALID), False
            r = e.start_refresher(self.url, interval_ms=60000, retries=0)
            deadline = time.monotonic() + 10
            while r.pulls < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            s = r.status()
            self.assertFalse(s["last"]["ok"])
            self.assertEqual(s["last"]["status"], tg.ERR_RATE_CARD)
            self.assertIn("nothing published", s["last"]["error"])
            self.assertEqual(len(e.rate_card_history()), 1)
            # close() stops a running refresher first.
        with tg.Engine.open(self.dir.name) as e:
            self.assertEqual(len(e.rate_card_history()), 1)

    def test_bad_options(self):
        with tg.Engine.open(self.dir.name) as e:
            with self.assertRaises(tg.InvalidInputError):
                e.pull_rate_card(self.url, timeout_ms=0)
            with self.assertRaises(tg.InvalidInputError):
                e.start_refresher(self.url, interval_ms=10)


if __name__ == "__main__":
    unittest.main()
