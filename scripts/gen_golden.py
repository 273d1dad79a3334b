#!/usr/bin/env python3
"""Golden pricing vectors from the reference (LiteLLM 1.110.2), checked by an independent model.

Seeded and deterministic: the same seed, registry and oracle give byte-identical output.
Standard library only. Run it with the Python that has litellm==1.110.2 installed (the oracle
runs as a subprocess with the same interpreter):

    /tmp/oracle-venv/bin/python scripts/gen_golden.py            # writes data/golden/*.jsonl
    /tmp/oracle-venv/bin/python scripts/gen_golden.py --check    # regenerate, compare, write nothing
    /tmp/oracle-venv/bin/python scripts/gen_golden.py --websearch [--check]   # data/oracle/websearch.jsonl only

Options: --seed N (default 20261127), --registry FILE (default data/ratecard/litellm-1.110.2.json),
--oracle FILE (default ../shared/tools/litellm_oracle.py), --out DIR (default data/golden).

What it does
------------
1. Builds engine events (the JSON event format of ``src/event.rs``) in categories (below), all
   from the registry copy the engine embeds. Every event has an RFC 3339 ``timestamp``.
2. Converts each event to the oracle's input convention (``../shared/tools/README.md``)::

       prompt_tokens         = tokensIn + cachedTokens + cacheWrite5mTokens + cacheWrite1hTokens
       cached_tokens         = cachedTokens
       cache_creation_tokens = cacheWrite5mTokens + cacheWrite1hTokens
       cache_creation_5m_tokens / cache_creation_1h_tokens = cacheWrite5mTokens / cacheWrite1hTokens
       completion_tokens     = tokensOut
       reasoning_tokens      = reasoningTokens
       prompt_audio_tokens   = audioTokensIn      prompt_image_tokens     = imageTokensIn
       completion_audio_tokens = audioTokensOut   completion_image_tokens = imageTokensOut
       service_tier          = serviceTier        (batch → "call_type": "retrieve_batch" instead)
       inference_geo, speed, provider, model as given;  billing_time = timestamp

   (zero counts are omitted) and runs the oracle once over all of them.
3. Prices every event with ``scripts/spec_model.py`` twice: in reference mode (must equal the
   oracle within 1e-9 relative — this checks the model on every vector) and in SPEC mode.
4. Writes one vector per line::

       {"id", "category", "event", "oracle": {"total": "<repr of the float>" | null, "error"},
        "expected": {"priced", "costCents", "model"}, "deviation"?: "<id>[,<id>]"}

   ``expected.costCents`` is the oracle's ``total`` taken from its repr text as an exact decimal
   × 100 (``Decimal(repr(total)) * 100``), except on a deviation, where it is the SPEC model's
   exact answer (the oracle's answer stays in ``oracle`` for audit). ``expected.model`` is the
   registry row docs/reference/pricing.md (model lookup) resolves to (informational). A model the oracle cannot map is
   ``priced: false`` with cost 0. Deviation ids are explained in ``docs/pricing-deviations.md``.

   Any case where the reference-mode model and the oracle disagree without an explanation aborts
   the run (so a vector never carries an unexplained answer).

Web searches (``--websearch``)
------------------------------
Writes ``data/oracle/websearch.jsonl`` only (``--websearch-out``; ``data/golden/pricing.jsonl`` is
left as it is). Events with
``webSearchRequests`` > 0 on every registry row that states a per-search price
(``search_context_cost_per_query``, ``web_search_billing_unit``), on the Gemini / Vertex AI / xAI /
Perplexity rows without one (LiteLLM's defaults apply), on a seeded sample of rows without one
(the searches cost 0), and without a provider (the row's own provider rule). Each is priced by the
oracle's ``completion_cost`` twice, with its searches and with none, the count given where
LiteLLM's provider transformation puts it (``prompt_tokens_details.web_search_requests`` for
Gemini, Vertex AI Gemini and Perplexity; ``server_side_tool_usage_details.web_search_calls`` for
xAI; ``server_tool_use.web_search_requests`` otherwise)::

    {"id", "category": "websearch", "event", "oracle": {"withSearches": "<repr>", "withoutSearches": "<repr>"}}

A row whose search-free answer the reference model (``spec_model.py``) does not reproduce is left
out (its token price is a documented deviation, not a search question).

Categories (``category`` field)
-------------------------------
basic          every registry row once (provider = its litellm_provider, name as in the registry
               with or without the provider prefix), realistic consistent usage.
field-*        each usage field of docs/reference/events.md (usage) (cached, write5m, write1h, audio-in, image-in,
               reasoning, audio-out, image-out) on rows that state the field's own rate and rows
               that do not (fallback rates).
threshold      every long-context threshold N of a row (every `_above_N_tokens` key, tiered,
               batch and modality keys included): P = N−1, N, N+1, with P made of fresh input,
               cache reads and cache writes in varying shares, on each tier the row has keys for.
tiered         `tiered_pricing` rows: P at 0, 1, every range start/end and end+1, above the last.
tier-<name>    each service tier (flex, priority, fast, batch, balanced, ultrafast, default,
               auto, standard) on rows that have the tier's keys and on rows that lack them.
multiplier     `provider_specific_entry`: inferenceGeo us/US/eu/global, speed fast, both,
               with tiers; rows without multipliers; providers that ignore them.
dashscope      dashscope / qwencloud / qwen_ai_platform rule (tier by P, reasoning, cache).
xai            xAI rule (inclusive thresholds at N−1/N/N+1, reasoning billed as output, batch).
offpeak        DeepSeek / tencent off-peak windows: instants on both sides of every window edge,
               weekdays and weekends, the Asia/Shanghai weekday boundary.
name-*         docs/reference/pricing.md (model lookup) name variants: prefix present/absent, upper/mixed case, Bedrock
               cross-region prefixes, converse/ invoke/ routing, region paths, ARNs, :NNk
               suffixes, vertex/gemini -001, ft: fine-tunes, trailing -YYYY-MM-DD, alias_of rows,
               gateway (openrouter, openai_compatible, vllm) vendor/model.
unknown        names nothing resolves (and known names under a disagreeing provider).
no-token-price rows priced only per second / image / character / query (unpriced, docs/reference/pricing.md (unpriced)).
zero           zero usage on priced rows (a real $0, priced: true).
huge           counts up to 2^53 (costs kept inside the engine's exact range, < 10^14 cents).
inconsistent   reasoning (+ audio/image out) > tokensOut; audio + image in > tokensIn.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
from decimal import Decimal

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import spec_model as sm  # noqa: E402

DEFAULT_SEED = 20261127
MAX_COUNT = 1 << 53
COST_LIMIT_CENTS = Decimal(10) ** 14  # keep huge cases inside the engine's exact range
REL_TOL = Decimal("1e-9")
NO_BATCH_PROVIDERS = ("github_copilot", "chatgpt")
GATEWAYS = ("openrouter", "openai_compatible", "vllm")
TIERS = ("flex", "priority", "fast", "batch", "balanced", "ultrafast", "default", "auto", "standard")
TIER_KEY_SUFFIX = {
    "flex": "_flex",
    "priority": "_priority",
    "fast": "_priority",
    "balanced": "_balanced",
    "ultrafast": "_ultrafast",
    "batch": "_batches",
}
FIELDS = (
    "tokensIn", "cachedTokens", "cacheWrite5mTokens", "cacheWrite1hTokens", "audioTokensIn",
    "imageTokensIn", "tokensOut", "reasoningTokens", "audioTokensOut", "imageTokensOut",
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Random helpers (all randomness flows from one seeded Random)
# ---------------------------------------------------------------------------------------------
class Gen:
    def __init__(self, seed: int, reg: sm.Registry):
        self.rng = random.Random(seed)
        self.reg = reg
        self.cases: list[tuple[str, dict]] = []
        t0 = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
        self.t0 = t0

    # counts -----------------------------------------------------------------------------
    def count(self, hi=20000, zero=0.0):
        r = self.rng
        if r.random() < zero:
            return 0
        mag = r.choice((10, 100, 1000, 10000, 100000))
        return r.randint(1, min(hi, mag)) if hi > 0 else 0

    def timestamp(self):
        r = self.rng
        secs = r.randint(0, 2 * 365 * 86400 - 1)
        t = self.t0 + dt.timedelta(seconds=secs, milliseconds=r.choice((0, 0, r.randint(0, 999))))
        return iso(t)

    def usage(self, style="full", **force):
        """A consistent usage dict (engine field names)."""
        r = self.rng
        u = {}
        if style == "text":
            u["tokensIn"] = self.count(60000)
            u["tokensOut"] = self.count(8000, zero=0.05)
        else:
            u["tokensIn"] = self.count(60000, zero=0.05)
            u["cachedTokens"] = self.count(60000, zero=0.4)
            u["cacheWrite5mTokens"] = self.count(20000, zero=0.6)
            u["cacheWrite1hTokens"] = self.count(20000, zero=0.7)
            if r.random() < 0.25 and u["tokensIn"]:
                u["audioTokensIn"] = r.randint(0, u["tokensIn"])
            if r.random() < 0.25 and u["tokensIn"] - u.get("audioTokensIn", 0) > 0:
                u["imageTokensIn"] = r.randint(0, u["tokensIn"] - u.get("audioTokensIn", 0))
            out = self.count(8000, zero=0.05)
            u["tokensOut"] = out
            left = out
            if r.random() < 0.5 and left:
                u["reasoningTokens"] = r.randint(0, left)
                left -= u["reasoningTokens"]
            if r.random() < 0.2 and left:
                u["audioTokensOut"] = r.randint(0, left)
                left -= u["audioTokensOut"]
            if r.random() < 0.2 and left:
                u["imageTokensOut"] = r.randint(0, left)
        u.update(force)
        return {k: v for k, v in u.items() if v}

    def split_prompt(self, P: int, mode=None):
        """Make prompt total P from fresh input, cache reads and cache writes."""
        r = self.rng
        mode = mode or r.choice(("fresh", "cached", "mixed", "writes"))
        if mode == "fresh" or P < 4:
            return {"tokensIn": P}
        if mode == "cached":
            c = r.randint(1, P - 1)
            return {"tokensIn": P - c, "cachedTokens": c}
        if mode == "writes":
            w5 = r.randint(0, P // 2)
            w1 = r.randint(0, P // 4)
            return {"tokensIn": P - w5 - w1, "cacheWrite5mTokens": w5, "cacheWrite1hTokens": w1}
        c = r.randint(0, P // 2)
        w5 = r.randint(0, (P - c) // 3)
        w1 = r.randint(0, (P - c - w5) // 3)
        return {"tokensIn": P - c - w5 - w1, "cachedTokens": c, "cacheWrite5mTokens": w5, "cacheWrite1hTokens": w1}

    def out_part(self, reasoning=True):
        r = self.rng
        out = self.count(8000)
        u = {"tokensOut": out}
        if reasoning and r.random() < 0.6:
            u["reasoningTokens"] = r.randint(0, out)
        return u

    # events -----------------------------------------------------------------------------
    def add(self, category: str, provider, model: str, usage: dict, ts=None, **attrs):
        ev = {}
        if provider is not None:
            ev["provider"] = provider
        ev["model"] = model
        for k in FIELDS:
            if usage.get(k):
                ev[k] = usage[k]
        if attrs.get("serviceTier") == "batch" and provider in NO_BATCH_PROVIDERS:
            attrs["serviceTier"] = None  # the reference's batch path tries to log in there
        for k in ("serviceTier", "inferenceGeo", "speed", "webSearchRequests"):
            if attrs.get(k) is not None:
                ev[k] = attrs[k]
        ev["timestamp"] = ts or self.timestamp()
        self.cases.append((category, ev))


def iso(t: dt.datetime) -> str:
    t = t.astimezone(dt.timezone.utc)
    if t.microsecond:
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------
# Registry views used by the builders
# ---------------------------------------------------------------------------------------------
def event_provider(entry_provider):
    """The provider an event names for a row: bedrock_converse → bedrock, vertex_ai-* → vertex_ai."""
    return sm.canonical_provider(entry_provider)


def event_name(g: Gen, key: str, provider) -> str:
    """The row's name as a caller would pass it: with or without the provider prefix (without
    only when that still names the same row)."""
    if provider and key.startswith(provider + "/") and g.rng.random() < 0.5:
        bare = key[len(provider) + 1 :]
        r = sm.resolve(g.reg, provider, bare)
        if r is not None and r.key == key:
            return bare
    return key


def rows(reg):
    return [k for k in reg.entries if k not in reg.alias_owner and reg.entries[k].get("litellm_provider")]


def priced_rows(reg):
    return [k for k in rows(reg) if sm.has_token_price(reg.entries[k])]


def has_key(entry, pred):
    return any(v is not None and pred(k) for k, v in entry.items())


# ---------------------------------------------------------------------------------------------
# Category builders
# ---------------------------------------------------------------------------------------------
def build_basic(g: Gen):
    for key in rows(g.reg):
        e = g.reg.entries[key]
        if not sm.has_token_price(e):
            continue
        p = event_provider(e["litellm_provider"])
        g.add("basic", p, event_name(g, key, p), g.usage("text"))
        g.add("basic", p, event_name(g, key, p), g.usage("full"))


FIELD_RATES = {
    "cachedTokens": "cache_read_input_token_cost",
    "cacheWrite5mTokens": "cache_creation_input_token_cost",
    "cacheWrite1hTokens": "cache_creation_input_token_cost_above_1hr",
    "audioTokensIn": "input_cost_per_audio_token",
    "imageTokensIn": "input_cost_per_image_token",
    "reasoningTokens": "output_cost_per_reasoning_token",
    "audioTokensOut": "output_cost_per_audio_token",
    "imageTokensOut": "output_cost_per_image_token",
}


def build_fields(g: Gen, per_have=160, per_lack=60):
    pr = priced_rows(g.reg)
    r = g.rng
    for field, rate_key in FIELD_RATES.items():
        have = [k for k in pr if g.reg.entries[k].get(rate_key) is not None]
        lack = [k for k in pr if g.reg.entries[k].get(rate_key) is None]
        picks = r.sample(have, min(per_have, len(have))) + r.sample(lack, min(per_lack, len(lack)))
        for key in picks:
            e = g.reg.entries[key]
            p = event_provider(e["litellm_provider"])
            n = g.count(20000) or 1
            if field in ("audioTokensIn", "imageTokensIn"):
                u = {"tokensIn": n + g.count(5000, zero=0.3), field: n, **g.out_part()}
                if r.random() < 0.3:
                    u["cachedTokens"] = g.count(5000)
            elif field in ("reasoningTokens", "audioTokensOut", "imageTokensOut"):
                u = {"tokensIn": g.count(20000), "tokensOut": n + g.count(3000, zero=0.3), field: n}
            else:
                u = {"tokensIn": g.count(20000, zero=0.2), field: n, "tokensOut": g.count(3000)}
            g.add(f"field-{field}", p, event_name(g, key, p), u)


THRESH_RE = re.compile(r"_above_(\d+k?)_tokens(_[a-z]+)?$")


def model_thresholds(entry):
    """{N: set of tier suffixes (''=standard) seen with that threshold}."""
    out: dict[int, set] = {}
    for k, v in entry.items():
        if v is None:
            continue
        m = re.search(r"_above_(\d+k?)_tokens(.*)$", k)
        if not m:
            continue
        n = sm.parse_threshold(m.group(1))
        out.setdefault(n, set()).add(m.group(2))
    return out


def tier_for_suffix(sfx: str):
    return {"": None, "_flex": "flex", "_priority": "priority", "_balanced": "balanced",
            "_ultrafast": "ultrafast", "_batches": "batch"}.get(sfx, "__skip__")  # fmt: skip


def build_threshold(g: Gen):
    r = g.rng
    for key in priced_rows(g.reg):
        e = g.reg.entries[key]
        ths = model_thresholds(e)
        if not ths:
            continue
        p = event_provider(e["litellm_provider"])
        for n, sfxs in sorted(ths.items()):
            tiers = {tier_for_suffix(s) for s in sfxs} - {"__skip__"}
            tiers.add(None)
            for tier in sorted(tiers, key=lambda t: t or ""):
                for P in (n - 1, n, n + 1):
                    u = g.split_prompt(P, r.choice(("fresh", "cached", "mixed", "mixed", "writes")))
                    u.update(g.out_part())
                    if e.get("input_cost_per_audio_token") is not None and r.random() < 0.4 and u["tokensIn"] > 0:
                        u["audioTokensIn"] = r.randint(1, u["tokensIn"])
                    g.add("threshold", p, event_name(g, key, p), u, serviceTier=tier)


def build_ignored_key(g: Gen):
    """Rows stating a token rate LiteLLM's key whitelist hides: exercise exactly that rate."""
    r = g.rng
    for key in priced_rows(g.reg):
        e = g.reg.entries[key]
        view = sm.litellm_view(e)
        hidden = [k for k in e if sm.TOKEN_PRICE_RE.match(k) and k not in view]
        if not hidden:
            continue
        p = event_provider(e["litellm_provider"])
        for k in hidden:
            m = re.search(r"_above_(\d+k?)_tokens", k)
            n = sm.parse_threshold(m.group(1)) if m else 0
            tier = next((t for t, sfx in TIER_KEY_SUFFIX.items() if k.endswith(sfx)), None)
            for P in (n - 1, n, n + 1, n + 1000, 2 * n + 17):
                if P <= 0:
                    continue
                u = g.split_prompt(P, r.choice(("cached", "mixed")))
                u.update(g.out_part())
                g.add("ignored-key", p, event_name(g, key, p), u, serviceTier=tier)


def build_tiered(g: Gen):
    r = g.rng
    for key in priced_rows(g.reg):
        e = g.reg.entries[key]
        tiers = e.get("tiered_pricing")
        if not isinstance(tiers, list) or not any("input_cost_per_token" in t for t in tiers if isinstance(t, dict)):
            continue
        p = event_provider(e["litellm_provider"])
        points = {0, 1}
        for t in tiers:
            rg = t.get("range") if isinstance(t, dict) else None
            if isinstance(rg, list) and len(rg) == 2:
                s, en = int(rg[0]), int(rg[1])
                points |= {s, s + 1, en, en + 1}
                last = en
        points.add(last * 2 + 7)
        for P in sorted(points):
            for mode in ("fresh", r.choice(("cached", "mixed", "writes"))):
                u = g.split_prompt(P, mode) if P else {}
                u.update(g.out_part())
                g.add("tiered", p, event_name(g, key, p), u)
        g.add("tiered", p, event_name(g, key, p), {**g.split_prompt(1000), **g.out_part()}, serviceTier=r.choice(("flex", "priority", "batch")))


def build_service_tiers(g: Gen, per_have=220, per_lack=80):
    r = g.rng
    pr = priced_rows(g.reg)
    for tier in TIERS:
        sfx = TIER_KEY_SUFFIX.get(tier)
        if sfx:
            have = [k for k in pr if has_key(g.reg.entries[k], lambda k, s=sfx: k.endswith(s))]
        else:
            have = []
        lack = [k for k in pr if k not in set(have)]
        picks = r.sample(have, min(per_have, len(have))) + r.sample(lack, min(per_lack if sfx else 150, len(lack)))
        for key in picks:
            e = g.reg.entries[key]
            p = event_provider(e["litellm_provider"])
            g.add(f"tier-{tier}", p, event_name(g, key, p), g.usage("full"), serviceTier=tier)


def numeric_pse(e):
    pse = e.get("provider_specific_entry")
    return isinstance(pse, dict) and any(isinstance(v, Decimal) for v in pse.values())


def build_multiplier(g: Gen):
    r = g.rng
    pr = priced_rows(g.reg)
    with_pse = [k for k in pr if numeric_pse(g.reg.entries[k])]
    combos = (
        {"inferenceGeo": "us"}, {"inferenceGeo": "US"}, {"inferenceGeo": "eu"}, {"inferenceGeo": "global"},
        {"speed": "fast"}, {"inferenceGeo": "us", "speed": "fast"}, {},
        {"inferenceGeo": "us", "serviceTier": "priority"}, {"inferenceGeo": "us", "serviceTier": "batch"},
        {"speed": "fast", "serviceTier": "batch"},
    )  # fmt: skip
    for key in with_pse:
        e = g.reg.entries[key]
        p = event_provider(e["litellm_provider"])
        for c in combos:
            g.add("multiplier", p, event_name(g, key, p), g.usage("full"), **c)
    lack = [k for k in pr if not numeric_pse(g.reg.entries[k])]
    ab = [k for k in lack if event_provider(g.reg.entries[k]["litellm_provider"]) in ("anthropic", "bedrock")]
    other = [k for k in lack if k not in set(ab)]
    for key in r.sample(ab, min(60, len(ab))) + r.sample(other, min(60, len(other))):
        e = g.reg.entries[key]
        p = event_provider(e["litellm_provider"])
        g.add("multiplier", p, event_name(g, key, p), g.usage("full"), **r.choice(combos[:6]))


def build_dashscope(g: Gen):
    r = g.rng
    for key in priced_rows(g.reg):
        e = g.reg.entries[key]
        p = event_provider(e["litellm_provider"])
        if p not in sm.DASHSCOPE:
            continue
        for _ in range(4):
            u = g.usage("full")
            g.add("dashscope", p, event_name(g, key, p), u)
        g.add("dashscope", p, event_name(g, key, p), g.usage("full"), serviceTier=r.choice(("flex", "priority", "fast")))
        g.add("dashscope", p, event_name(g, key, p), {**g.split_prompt(300000), **g.out_part()})


def build_xai(g: Gen):
    r = g.rng
    for key in priced_rows(g.reg):
        e = g.reg.entries[key]
        p = event_provider(e["litellm_provider"])
        if p != "xai":
            continue
        for _ in range(2):
            g.add("xai", p, event_name(g, key, p), g.usage("full"))
        for n in sorted(model_thresholds(e)):
            for P in (n - 1, n, n + 1):
                g.add("xai", p, event_name(g, key, p), {**g.split_prompt(P), **g.out_part()})
                if r.random() < 0.5:
                    g.add("xai", p, event_name(g, key, p), {**g.split_prompt(P), **g.out_part()}, serviceTier="batch")


def build_offpeak(g: Gen):
    r = g.rng
    days = [dt.date(2026, 3, 2) + dt.timedelta(days=i) for i in range(7)]  # Mon 2026-03-02 … Sun
    edges = [
        (0, 0, 0, 0), (0, 59, 59, 999), (1, 0, 0, 0), (3, 59, 59, 999), (4, 0, 0, 0),
        (5, 59, 59, 999), (6, 0, 0, 0), (9, 59, 59, 999), (10, 0, 0, 0), (15, 59, 59, 999),
        (16, 0, 0, 0), (23, 59, 59, 999), (12, 30, 0, 0),
    ]  # fmt: skip
    for key in priced_rows(g.reg):
        e = g.reg.entries[key]
        if not isinstance(e.get("off_peak_pricing"), dict):
            continue
        p = event_provider(e["litellm_provider"])
        for day in days:
            for h, m, s, ms in edges:
                if r.random() < 0.55:
                    continue
                t = dt.datetime(day.year, day.month, day.day, h, m, s, ms * 1000, tzinfo=dt.timezone.utc)
                g.add("offpeak", p, event_name(g, key, p), g.usage("full"), ts=iso(t))


BEDROCK_XREGION = ("us.", "eu.", "apac.", "global.", "jp.", "au.", "us-gov.")


def build_names(g: Gen):
    r = g.rng
    reg = g.reg
    pr = priced_rows(reg)

    def add(kind, p, name, key_hint=None):
        g.add(f"name-{kind}", p, name, g.usage(r.choice(("text", "full"))))

    # provider prefix present / absent
    prefixed = [k for k in pr if k.startswith(event_provider(reg.entries[k]["litellm_provider"]) + "/")]
    bare = [k for k in pr if k not in set(prefixed)]
    for key in r.sample(prefixed, 250):
        p = event_provider(reg.entries[key]["litellm_provider"])
        add("prefix", p, key[len(p) + 1 :])
        add("prefix", p, key)
    for key in r.sample(bare, min(150, len(bare))):
        p = event_provider(reg.entries[key]["litellm_provider"])
        add("prefix", p, f"{p}/{key}")
    # case
    for key in r.sample(pr, 300):
        p = event_provider(reg.entries[key]["litellm_provider"])
        name = event_name(g, key, p)
        if r.random() < 0.5:
            name = name.upper()
        else:
            name = "".join(c.upper() if r.random() < 0.5 else c.lower() for c in name)
        add("case", p, name)
    # Bedrock
    bed = [k for k in pr if event_provider(reg.entries[k]["litellm_provider"]) == "bedrock"]
    base = [k for k in bed if "/" not in k and not k.startswith(tuple(BEDROCK_XREGION))]
    for key in r.sample(base, min(120, len(base))):
        add("bedrock-xregion", "bedrock", r.choice(BEDROCK_XREGION) + key)
        add("bedrock-xregion", "bedrock", "bedrock/" + r.choice(BEDROCK_XREGION) + key)
    plain = [k for k in bed if not k.startswith("bedrock/")]
    for key in r.sample(plain, min(120, len(plain))):
        add("bedrock-route", "bedrock", r.choice(("converse/", "invoke/")) + key)
        add("bedrock-route", "bedrock", "bedrock/converse/" + key)
        add("bedrock-region", "bedrock", r.choice(("us-east-1/", "us-west-2/", "eu-central-1/", "ap-northeast-1/")) + key)
        add("bedrock-arn", "bedrock", "arn:aws:bedrock:us-east-1:123456789012:foundation-model/" + key)
    colon = [k for k in plain if re.search(r":\d+$", k)]
    for key in r.sample(colon, min(100, len(colon))):
        add("bedrock-throughput", "bedrock", key + r.choice((":18k", ":51k", ":200k")))
    # vertex / gemini -001
    vg = [k for k in pr if event_provider(reg.entries[k]["litellm_provider"]) in ("vertex_ai", "gemini")]
    for key in r.sample(vg, min(150, len(vg))):
        p = event_provider(reg.entries[key]["litellm_provider"])
        add("vertex-001", p, event_name(g, key, p) + "-001")
    # ft: fine-tunes
    for key in [k for k in pr if k.startswith("ft:")]:
        for _ in range(3):
            org = r.choice(("acme", "my-org", "personal"))
            sfx = r.choice(("", "support-bot", "v2"))
            add("ft", "openai", f"{key}:{org}:{sfx}:{r.randrange(16**8):08x}")
    # trailing date
    undated = [k for k in pr if not sm.DATE_RE.search(k)]
    for key in r.sample(undated, 250):
        p = event_provider(reg.entries[key]["litellm_provider"])
        add("date", p, event_name(g, key, p) + r.choice(("-2024-05-13", "-2025-08-07", "-2026-01-15")))
    # alias_of rows
    for alias, owner in sorted(reg.alias_owner.items()):
        p = event_provider(reg.entries[owner]["litellm_provider"])
        for _ in range(2):
            add("alias", p, event_name(g, alias, p))
    # gateways: vendor/model
    vendors = [k for k in pr if event_provider(reg.entries[k]["litellm_provider"]) in
               ("openai", "anthropic", "gemini", "deepseek", "xai", "mistral", "groq", "cohere")]  # fmt: skip
    for key in r.sample(vendors, min(200, len(vendors))):
        p = event_provider(reg.entries[key]["litellm_provider"])
        name = key if key.startswith(p + "/") else f"{p}/{key}"
        add("gateway", r.choice(GATEWAYS), name)


def build_unknown(g: Gen):
    r = g.rng
    words = ("acme", "zephyr", "nimbus", "orca", "quill", "helix", "sable", "tundra")
    provs = ("openai", "anthropic", "bedrock", "gemini", "vertex_ai", "azure", "deepseek", "mistral",
             "openrouter", "openai_compatible", "dashscope", "xai", "groq", "together_ai")  # fmt: skip
    for i in range(250):
        name = f"{r.choice(words)}-{r.choice(words)}-{r.randint(1, 99)}b-v{r.randint(1, 9)}"
        if r.random() < 0.2:
            name = f"{r.choice(words)}/{name}"
        g.add("unknown", r.choice(provs), name, g.usage("text"))
    # names LiteLLM's capability rules recognise (priced at $0 there, unknown here)
    for name, p in (("claude-newfamily-9", "anthropic"), ("claude-zeta-7-1", "anthropic"), ("gpt-9", "openai"),
                    ("o9-mini", "openai"), ("gemini-9.5-pro", "gemini"), ("gemini-7-flash", "vertex_ai")):  # fmt: skip
        for _ in range(5):
            g.add("unknown", p, name, g.usage("text"))
    # known rows under a provider that disagrees
    pr = priced_rows(g.reg)
    for key in r.sample(pr, 120):
        e = g.reg.entries[key]
        p = event_provider(e["litellm_provider"])
        other = r.choice([x for x in ("openai", "anthropic", "mistral", "cohere", "groq") if x != p])
        name = key[len(p) + 1 :] if key.startswith(p + "/") else key
        g.add("unknown", other, name, g.usage("text"))


def build_no_token_price(g: Gen):
    for key in rows(g.reg):
        e = g.reg.entries[key]
        if sm.has_token_price(e):
            continue
        p = event_provider(e["litellm_provider"])
        g.add("no-token-price", p, event_name(g, key, p), g.usage("full"))


def build_zero(g: Gen):
    r = g.rng
    for key in r.sample(priced_rows(g.reg), 300):
        e = g.reg.entries[key]
        p = event_provider(e["litellm_provider"])
        g.add("zero", p, event_name(g, key, p), {}, serviceTier=r.choice((None, None, "priority", "batch", "flex")))


def build_huge(g: Gen):
    r = g.rng
    for key in r.sample(priced_rows(g.reg), 320):
        e = g.reg.entries[key]
        p = event_provider(e["litellm_provider"])
        field = r.choice(("tokensIn", "cachedTokens", "cacheWrite5mTokens", "cacheWrite1hTokens", "tokensOut", "reasoningTokens", "mixed"))
        big = r.choice((MAX_COUNT, MAX_COUNT - 1, r.randint(1 << 40, MAX_COUNT)))
        if field == "mixed":
            u = {f: r.randint(1 << 30, MAX_COUNT) for f in ("tokensIn", "cachedTokens", "cacheWrite5mTokens", "tokensOut")}
        elif field == "reasoningTokens":
            u = {"tokensIn": 10, "tokensOut": big, "reasoningTokens": big // 2}
        else:
            u = {"tokensIn": 100, field: big}
        g.add("huge", p, event_name(g, key, p), u)


def build_inconsistent(g: Gen):
    r = g.rng
    pr = priced_rows(g.reg)
    for key in r.sample(pr, 450):
        e = g.reg.entries[key]
        p = event_provider(e["litellm_provider"])
        kind = r.randrange(4)
        if kind == 0:  # reasoning > tokensOut
            out = g.count(3000)
            u = {"tokensIn": g.count(10000), "tokensOut": out, "reasoningTokens": out + g.count(3000)}
        elif kind == 1:  # output parts exceed tokensOut
            out = g.count(3000)
            u = {"tokensIn": g.count(10000), "tokensOut": out, "reasoningTokens": r.randint(0, out),
                 "audioTokensOut": r.randint(0, out), "imageTokensOut": r.randint(1, out + 5)}  # fmt: skip
        elif kind == 2:  # input parts exceed tokensIn, no cache
            n = g.count(5000)
            u = {"tokensIn": n, "audioTokensIn": r.randint(0, n + 500), "imageTokensIn": r.randint(1, n + 500), "tokensOut": g.count(2000)}
        else:  # input parts exceed tokensIn, with cache reads / writes
            n = g.count(5000)
            u = {"tokensIn": n, "cachedTokens": g.count(5000), "cacheWrite5mTokens": g.count(2000, zero=0.5),
                 "audioTokensIn": r.randint(0, n + 500), "imageTokensIn": r.randint(1, n + 500), "tokensOut": g.count(2000)}  # fmt: skip
        g.add("inconsistent", p, event_name(g, key, p), u, serviceTier=r.choice((None, None, None, "priority", "batch")))


BUILDERS = (
    build_basic, build_fields, build_threshold, build_ignored_key, build_tiered, build_service_tiers, build_multiplier,
    build_dashscope, build_xai, build_offpeak, build_names, build_unknown, build_no_token_price,
    build_zero, build_huge, build_inconsistent,
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Oracle
# ---------------------------------------------------------------------------------------------
def oracle_input(ev: dict) -> dict:
    g = lambda k: int(ev.get(k) or 0)  # noqa: E731
    writes = g("cacheWrite5mTokens") + g("cacheWrite1hTokens")
    rec = {
        "model": ev["model"],
        "provider": ev.get("provider"),
        "prompt_tokens": g("tokensIn") + g("cachedTokens") + writes,
        "completion_tokens": g("tokensOut"),
        "billing_time": ev["timestamp"],
    }
    if g("cachedTokens"):
        rec["cached_tokens"] = g("cachedTokens")
    if writes:
        rec["cache_creation_tokens"] = writes
        rec["cache_creation_5m_tokens"] = g("cacheWrite5mTokens")
        rec["cache_creation_1h_tokens"] = g("cacheWrite1hTokens")
    for src, dst in (
        ("reasoningTokens", "reasoning_tokens"),
        ("audioTokensIn", "prompt_audio_tokens"),
        ("imageTokensIn", "prompt_image_tokens"),
        ("audioTokensOut", "completion_audio_tokens"),
        ("imageTokensOut", "completion_image_tokens"),
    ):
        if g(src):
            rec[dst] = g(src)
    tier = ev.get("serviceTier")
    if tier == "batch":
        rec["call_type"] = "retrieve_batch"
    elif tier is not None:
        rec["service_tier"] = tier
    for src, dst in (("inferenceGeo", "inference_geo"), ("speed", "speed")):
        if ev.get(src) is not None:
            rec[dst] = ev[src]
    return rec


def run_oracle(oracle: str, events: list[dict]) -> list[dict]:
    payload = "".join(json.dumps(oracle_input(ev)) + "\n" for ev in events)
    proc = subprocess.run(
        [sys.executable, oracle], input=payload, capture_output=True, text=True, check=True,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"},
    )  # fmt: skip
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if len(out) != len(events):
        raise SystemExit(f"oracle returned {len(out)} results for {len(events)} cases:\n{proc.stderr[-2000:]}")
    return out


def oracle_cents(res: dict):
    """(repr text of the float total, exact cents) or (None, None) on error."""
    if res.get("error") is not None or "total" not in res:
        return None, None
    text = repr(float(res["total"]))  # json gives the same float; repr is its shortest text
    return text, Decimal(text) * 100


def close(a: Decimal, b: Decimal) -> bool:
    if b == 0 or a == 0:
        return a == b
    return abs(a - b) <= REL_TOL * abs(b)


def short_error(err):
    """The oracle's error, clipped to its first sentence (keeps the vectors compact)."""
    if err is None:
        return None
    return err.split(". ")[0][:120]


def is_unmapped(err: str | None) -> bool:
    return err is not None and ("ModelNotMappedError" in err or "isn't mapped" in err or "not mapped" in err)


# ---------------------------------------------------------------------------------------------
# Web searches (--websearch): completion_cost with and without the searches
# ---------------------------------------------------------------------------------------------
SEARCH_DEFAULT_PROVIDERS = ("gemini", "vertex_ai-language-models", "xai", "perplexity")


def states_search_price(e: dict) -> bool:
    return any(e.get(k) is not None for k in ("search_context_cost_per_query", "search_queries_cost_per_query",
                                                "web_search_billing_unit"))  # fmt: skip


def build_websearch(g: Gen):
    r = g.rng
    keys = [k for k in priced_rows(g.reg) if k != "sample_spec"]
    with_price = [k for k in keys if states_search_price(g.reg.entries[k])]
    defaults = [k for k in keys if not states_search_price(g.reg.entries[k])
                and g.reg.entries[k].get("litellm_provider") in SEARCH_DEFAULT_PROVIDERS]  # fmt: skip
    others = [k for k in keys if not states_search_price(g.reg.entries[k]) and k not in defaults]
    picked = with_price + defaults + r.sample(others, min(60, len(others)))
    for key in picked:
        e = g.reg.entries[key]
        p = event_provider(e["litellm_provider"])
        n = r.choice((1, 1, 2, 3, 5, 8))
        g.add("websearch", p, event_name(g, key, p), g.usage("text"), webSearchRequests=n)
    # no provider: the row's own provider rule
    for key in r.sample(with_price, min(40, len(with_price))) + r.sample(defaults, min(20, len(defaults))):
        g.add("websearch", None, key, g.usage("text"), webSearchRequests=r.choice((1, 2, 4)))


def search_count_field(ev: dict, reg) -> str:
    p = ev.get("provider")
    if p is None:
        key = sm.resolve(reg, None, ev["model"])
        p = sm.canonical_provider(reg.provider_of(key.key)) if key is not None else None
    if p in ("gemini", "perplexity") or (p == "vertex_ai" and "claude" not in ev["model"].lower()):
        return "prompt_tokens_details"
    if p == "xai":
        return "server_side_tool_usage_details"
    return "server_tool_use"


def websearch_oracle_input(ev: dict, reg, searches: bool) -> dict:
    prompt = int(ev.get("tokensIn") or 0) + int(ev.get("cachedTokens") or 0)
    completion = int(ev.get("tokensOut") or 0)
    usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    n = int(ev.get("webSearchRequests") or 0)
    if searches and n:
        field = search_count_field(ev, reg)
        usage[field] = {
            "prompt_tokens_details": {"web_search_requests": n},
            "server_side_tool_usage_details": {"web_search_calls": n},
            "server_tool_use": {"web_search_requests": n},
        }[field]
    return {"model": ev["model"], "provider": ev.get("provider"), "usage": usage, "api": "completion_cost",
            "billing_time": ev["timestamp"]}  # fmt: skip


def run_oracle_raw(oracle: str, recs: list[dict]) -> list[dict]:
    payload = "".join(json.dumps(rec) + "\n" for rec in recs)
    proc = subprocess.run(
        [sys.executable, oracle], input=payload, capture_output=True, text=True, check=True,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"},
    )  # fmt: skip
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if len(out) != len(recs):
        raise SystemExit(f"oracle returned {len(out)} results for {len(recs)} cases:\n{proc.stderr[-2000:]}")
    return out


def websearch_main(args, reg) -> int:
    g = Gen(args.seed, reg)
    build_websearch(g)
    events = [ev for _, ev in g.cases]
    print(f"{len(events)} web-search cases; running the oracle…", file=sys.stderr)
    recs = [websearch_oracle_input(ev, reg, s) for ev in events for s in (True, False)]
    res = run_oracle_raw(args.oracle, recs)
    vectors, skipped = [], []
    for i, ev in enumerate(events):
        with_s, without = res[2 * i], res[2 * i + 1]
        a, b = with_s.get("completion_cost_api"), without.get("completion_cost_api")
        if a is None or b is None:
            skipped.append((ev, with_s.get("completion_cost_api_error") or without.get("completion_cost_api_error")))
            continue
        plain = {k: v for k, v in ev.items() if k != "webSearchRequests"}
        ref = sm.price(reg, plain, frozenset())
        if not ref.priced or not close(ref.cost_cents, Decimal(repr(float(b))) * 100):
            skipped.append((ev, f"token price {ref.cost_cents if ref.priced else 'unpriced'} != oracle {b}"))
            continue
        vectors.append({
            "id": f"websearch-{len(vectors) + 1:05d}",
            "category": "websearch",
            "event": ev,
            "oracle": {"withSearches": repr(float(a)), "withoutSearches": repr(float(b))},
        })  # fmt: skip
    lines = [json.dumps(v, separators=(",", ":")) + "\n" for v in vectors]
    path = args.websearch_out
    if args.check:
        with open(path) as f:
            same = f.read() == "".join(lines)
        print("up to date" if same else "DIFFERS from the committed vectors", file=sys.stderr)
        return 0 if same else 1
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.writelines(lines)
    print(f"wrote {len(vectors)} web-search vectors to {path}", file=sys.stderr)
    for ev, why in skipped:
        print(f"  skipped {ev.get('provider')}/{ev['model']}: {str(why)[:100]}", file=sys.stderr)
    return 0


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--registry", default=os.path.join(ROOT, "data/ratecard/litellm-1.110.2.json"))
    ap.add_argument("--oracle", default=os.path.join(ROOT, "../shared/tools/litellm_oracle.py"))
    ap.add_argument("--out", default=os.path.join(ROOT, "data/golden"))
    ap.add_argument("--check", action="store_true", help="regenerate and compare with the committed files")
    ap.add_argument("--websearch", action="store_true", help="write the web-search vectors only")
    ap.add_argument("--websearch-out", default=os.path.join(ROOT, "data/oracle/websearch.jsonl"))
    args = ap.parse_args(argv)

    reg = sm.Registry.load(args.registry)
    if args.websearch:
        return websearch_main(args, reg)
    g = Gen(args.seed, reg)
    for b in BUILDERS:
        b(g)
    events = [ev for _, ev in g.cases]
    print(f"{len(events)} cases; running the oracle…", file=sys.stderr)
    results = run_oracle(args.oracle, events)

    vectors = []
    unexplained = []
    dropped = []  # the oracle failed for a reason other than an unknown model: no vector
    second_look = []  # (index, spec key) where LiteLLM may have priced another row
    per_case = []
    for i, ((cat, ev), res) in enumerate(zip(g.cases, results)):
        spec, ref, formula_ids = sm.formula_deviations(reg, ev)
        text, ocents = oracle_cents(res)
        per_case.append((cat, ev, res, text, ocents, spec, ref, formula_ids))
        if spec.priced and ocents is not None and not close(ref.cost_cents, ocents):
            second_look.append(i)

    # For cases where the oracle and the reference-mode model disagree, price the SPEC-resolved
    # row under its own registry name: if the oracle agrees there, LiteLLM read the event's name
    # as a different row (a resolution difference), else the model is wrong (abort).
    other_key = set()
    if second_look:
        probes = []
        for i in second_look:
            ev = dict(per_case[i][1])
            ev["model"] = per_case[i][5].key
            ev["provider"] = sm.canonical_provider(reg.provider_of(per_case[i][5].key)) if per_case[i][5].match == "inferred" else ev.get("provider")
            probes.append(ev)
        presults = run_oracle(args.oracle, probes)
        for i, ev2, res2 in zip(second_look, probes, presults):
            _, c2 = oracle_cents(res2)
            ref2 = sm.price(reg, ev2, frozenset())
            if c2 is not None and close(ref2.cost_cents, c2):
                other_key.add(i)
            # LiteLLM collapses a repeated "provider/provider/" before looking the name up, so
            # the row literally named perplexity/perplexity/x is priced as perplexity/x
            p = ev2.get("provider")
            if p and ev2["model"].lower().startswith(f"{p}/{p}/".lower()) and f"{p}/{ev2['model'][2 * len(p) + 2:]}" in reg.entries:
                other_key.add(i)

    counts: dict[str, int] = {}
    dev_counts: dict[str, int] = {}
    models = set()
    for i, (cat, ev, res, text, ocents, spec, ref, formula_ids) in enumerate(per_case):
        err = res.get("error")
        deviation = []
        if not spec.priced:
            expected = (False, Decimal(0))
            if ocents is None:
                if not is_unmapped(err):
                    dropped.append((cat, ev, err))
                    continue
            elif ocents == 0:
                deviation.append(sm.DEV_UNPRICED)
            else:
                deviation.append(sm.DEV_UNKNOWN_PRICED)
        else:
            models.add(spec.key)
            if ocents is None:
                if not is_unmapped(err):
                    dropped.append((cat, ev, err))
                    continue
                deviation.append(sm.DEV_GATEWAY if spec.match == "inferred" else sm.DEV_NAME)
                expected = (True, spec.cost_cents)
            elif close(ref.cost_cents, ocents):
                if formula_ids:
                    deviation.extend(formula_ids)
                    expected = (True, spec.cost_cents)
                else:
                    expected = (True, ocents)
            elif i in other_key:
                # LiteLLM read the name as another row; a $0 answer means it fell back to one of
                # its unpriced capability rules, i.e. it did not find the row at all
                deviation.append(sm.DEV_NAME if ocents == 0 else sm.DEV_NAME_OTHER_KEY)
                expected = (True, spec.cost_cents)
            else:
                unexplained.append((i, cat, ev, res, f"reference model {ref.cost_cents} != oracle {ocents}"))
                continue
        if expected[1] >= COST_LIMIT_CENTS:
            continue  # outside the engine's exact range by design; huge cases are chosen below it
        counts[cat] = counts.get(cat, 0) + 1
        for d in deviation:
            dev_counts[d] = dev_counts.get(d, 0) + 1
        vec = {
            "id": f"{cat}-{counts[cat]:05d}",
            "category": cat,
            "event": ev,
            "oracle": {"total": text, "error": short_error(err)},
            "expected": {"priced": expected[0], "costCents": sm.format_decimal(expected[1]), "model": spec.key},
        }
        if deviation:
            vec["deviation"] = ",".join(deviation)
        vectors.append(vec)

    if unexplained and os.environ.get("GOLDEN_DUMP"):
        with open(os.environ["GOLDEN_DUMP"], "w") as f:
            for i, cat, ev, res, why in unexplained:
                f.write(json.dumps({"cat": cat, "ev": ev, "res": res, "why": why}) + "\n")
    if unexplained:
        print(f"\n{len(unexplained)} UNEXPLAINED differences between the model and the oracle:", file=sys.stderr)
        for i, cat, ev, res, why in unexplained[:60]:
            print(f"  [{cat}] {json.dumps(ev)}\n      oracle={res.get('total')} err={res.get('error')} :: {why}", file=sys.stderr)
        return 2

    lines = [json.dumps(v, separators=(",", ":")) + "\n" for v in vectors]
    path = os.path.join(args.out, "pricing.jsonl")
    if args.check:
        with open(path) as f:
            same = f.read() == "".join(lines)
        print("up to date" if same else "DIFFERS from the committed vectors", file=sys.stderr)
        return 0 if same else 1
    os.makedirs(args.out, exist_ok=True)
    with open(path, "w") as f:
        f.writelines(lines)
    print(f"wrote {len(vectors)} vectors over {len(models)} registry rows to {path}", file=sys.stderr)
    for cat in sorted(counts):
        print(f"  {cat:28s} {counts[cat]:6d}", file=sys.stderr)
    for cat, ev, err in dropped:
        print(f"  dropped [{cat}] {ev['provider']}/{ev['model']}: {err[:100]}", file=sys.stderr)
    print("deviations:", file=sys.stderr)
    for d in sorted(dev_counts):
        print(f"  {d:34s} {dev_counts[d]:6d}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
