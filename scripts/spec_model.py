#!/usr/bin/env python3
"""Independent model of the Tollgate pricing contract (docs/reference/pricing.md), in exact decimal arithmetic.

This is the second opinion the golden vectors are built with (see ``scripts/gen_golden.py``).
It is standard library only and never uses a float for money: every registry rate is parsed from
its JSON literal text into ``decimal.Decimal`` and every product is exact (an ``Inexact`` trap
turns any rounding into an error).

The model has two modes, selected per call with ``deviations``:

* ``deviations=frozenset()`` – the **reference mode**: what LiteLLM 1.110.2 computes (the rate
  chains written down in ``docs/pricing-reference-notes.md``), including its blind spots. The
  generator checks this mode against the real oracle on every vector, so the model is itself
  tested on tens of thousands of cases.
* ``deviations=ALL_DEVIATIONS`` – the **SPEC mode**: the reference, except for the deliberate
  differences listed in ``docs/pricing-deviations.md`` (one id per difference). Golden vectors
  whose SPEC answer differs from the reference carry the ids of the differences that change it.

Usage as a library::

    reg = Registry.load("data/ratecard/litellm-1.110.2.json")
    res = price(reg, event_dict)                  # SPEC answer
    ref = price(reg, event_dict, deviations=frozenset())  # reference answer
    res.priced, res.cost_cents, res.key, res.reason

Usage from the command line (one JSON event per line on stdin, one result per line out)::

    python3 scripts/spec_model.py [REGISTRY] < events.jsonl
"""

from __future__ import annotations

import datetime as _dt
import decimal
import json
import re
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Exact arithmetic only: a huge precision, and any rounding is an error.
CTX = decimal.Context(prec=400, traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow])
decimal.setcontext(CTX)

D0 = Decimal(0)
HUNDRED = Decimal(100)
TWO = Decimal(2)

# ---------------------------------------------------------------------------------------------
# Deviation ids (see docs/pricing-deviations.md). Each one is a place where SPEC deliberately
# differs from the reference; the SPEC mode switches all of them on.
# ---------------------------------------------------------------------------------------------
DEV_IGNORED_KEY = "ignored-key"  # LiteLLM's key whitelist hides a stated rate
DEV_BATCH_MULTIPLIER = "batch-multiplier"  # batch path drops provider_specific_entry multipliers
DEV_INPUT_CLAMP = "inconsistent-input-clamp"  # reference clamps audio/image in when cache present
DEV_PERPLEXITY = "perplexity-stated-rates"  # perplexity path ignores thresholds/cache writes/audio
DEV_BATCH_TIERED = "batch-tiered-pricing"  # batch path ignores tiered_pricing
DEV_FIREWORKS_TIER = "fireworks-tier"  # fireworks_ai path drops the service tier
# Classes decided outside the formula (resolution / unpriced), named here for one list:
DEV_NAME = "name-unresolved-by-reference"  # docs/reference/pricing.md (model lookup) resolves, LiteLLM raises
DEV_NAME_OTHER_KEY = "name-other-key"  # both resolve, to differently priced rows
DEV_GATEWAY = "gateway-inferred"  # gateway vendor/model split (docs/reference/pricing.md (model lookup)), LiteLLM raises
DEV_UNPRICED = "unpriced-reference-zero"  # SPEC: unpriced (priced=false); reference: a $0 price
DEV_UNKNOWN_PRICED = "unknown-priced-by-reference"  # LiteLLM prices a name SPEC does not resolve

FORMULA_DEVIATIONS = frozenset(
    {
        DEV_IGNORED_KEY,
        DEV_BATCH_MULTIPLIER,
        DEV_INPUT_CLAMP,
        DEV_PERPLEXITY,
        DEV_BATCH_TIERED,
        DEV_FIREWORKS_TIER,
    }
)
ALL_DEVIATIONS = FORMULA_DEVIATIONS

# ---------------------------------------------------------------------------------------------
# LiteLLM's key whitelist (utils.py get_model_info_helper): the keys it copies into the model
# info it prices from. Any other key is invisible to it, except keys matching ABOVE_RE.
# ---------------------------------------------------------------------------------------------
LITELLM_VISIBLE_KEYS = frozenset(
    """
annotation_cost_per_page annotation_cost_per_page_batches cache_creation_input_token_cost
cache_creation_input_token_cost_above_12hr cache_creation_input_token_cost_above_12hr_above_272k_tokens
cache_creation_input_token_cost_above_12hr_above_272k_tokens_batches
cache_creation_input_token_cost_above_12hr_above_272k_tokens_flex
cache_creation_input_token_cost_above_12hr_above_272k_tokens_priority
cache_creation_input_token_cost_above_12hr_above_272k_tokens_ultrafast
cache_creation_input_token_cost_above_12hr_batches cache_creation_input_token_cost_above_12hr_flex
cache_creation_input_token_cost_above_12hr_priority cache_creation_input_token_cost_above_12hr_ultrafast
cache_creation_input_token_cost_above_1hr cache_creation_input_token_cost_above_200k_tokens
cache_creation_input_token_cost_above_200k_tokens_batches cache_creation_input_token_cost_above_272k_tokens
cache_creation_input_token_cost_above_272k_tokens_batches cache_creation_input_token_cost_above_272k_tokens_flex
cache_creation_input_token_cost_above_272k_tokens_priority
cache_creation_input_token_cost_above_272k_tokens_ultrafast cache_creation_input_token_cost_batches
cache_creation_input_token_cost_flex cache_creation_input_token_cost_priority
cache_creation_input_token_cost_ultrafast cache_read_input_audio_token_cost
cache_read_input_audio_token_cost_batches cache_read_input_audio_token_cost_flex
cache_read_input_audio_token_cost_priority cache_read_input_image_token_cost cache_read_input_token_cost
cache_read_input_token_cost_above_200k_tokens cache_read_input_token_cost_above_200k_tokens_batches
cache_read_input_token_cost_above_200k_tokens_priority cache_read_input_token_cost_above_272k_tokens
cache_read_input_token_cost_above_272k_tokens_batches cache_read_input_token_cost_above_272k_tokens_flex
cache_read_input_token_cost_above_272k_tokens_priority cache_read_input_token_cost_above_272k_tokens_ultrafast
cache_read_input_token_cost_above_512k_tokens cache_read_input_token_cost_balanced
cache_read_input_token_cost_batches cache_read_input_token_cost_flex cache_read_input_token_cost_priority
cache_read_input_token_cost_ultrafast citation_cost_per_token cost_per_second
explicit_cache_read_input_token_cost fedramp_uplift_multiplier google_maps_grounding_cost_per_query
input_cost_per_audio_per_second input_cost_per_audio_token input_cost_per_audio_token_above_200k_tokens
input_cost_per_audio_token_above_200k_tokens_batches input_cost_per_audio_token_above_200k_tokens_flex
input_cost_per_audio_token_above_200k_tokens_priority input_cost_per_audio_token_batches
input_cost_per_audio_token_flex input_cost_per_audio_token_priority input_cost_per_character
input_cost_per_image input_cost_per_image_token input_cost_per_image_token_batches input_cost_per_query
input_cost_per_second input_cost_per_text_message input_cost_per_token input_cost_per_token_above_128k_tokens
input_cost_per_token_above_200k_tokens input_cost_per_token_above_200k_tokens_batches
input_cost_per_token_above_200k_tokens_flex input_cost_per_token_above_200k_tokens_priority
input_cost_per_token_above_272k_tokens input_cost_per_token_above_272k_tokens_batches
input_cost_per_token_above_272k_tokens_flex input_cost_per_token_above_272k_tokens_priority
input_cost_per_token_above_272k_tokens_ultrafast input_cost_per_token_above_512k_tokens
input_cost_per_token_balanced input_cost_per_token_batches input_cost_per_token_flex
input_cost_per_token_priority input_cost_per_token_ultrafast input_cost_per_video_per_second
input_cost_per_video_token input_cost_per_video_token_batches litellm_provider mode ocr_cost_per_credit
ocr_cost_per_page ocr_cost_per_page_batches off_peak_pricing output_cost_per_audio_token
output_cost_per_character output_cost_per_character_above_128k_tokens output_cost_per_image
output_cost_per_image_1K output_cost_per_image_2K output_cost_per_image_token
output_cost_per_image_token_batches output_cost_per_image_token_priority output_cost_per_pixel
output_cost_per_reasoning_token output_cost_per_reasoning_token_flex output_cost_per_reasoning_token_priority
output_cost_per_second output_cost_per_second_1080p output_cost_per_second_2k output_cost_per_second_480p
output_cost_per_second_4k output_cost_per_second_720p output_cost_per_second_768p output_cost_per_token
output_cost_per_token_above_128k_tokens output_cost_per_token_above_200k_tokens
output_cost_per_token_above_200k_tokens_batches output_cost_per_token_above_200k_tokens_flex
output_cost_per_token_above_200k_tokens_priority output_cost_per_token_above_272k_tokens
output_cost_per_token_above_272k_tokens_batches output_cost_per_token_above_272k_tokens_flex
output_cost_per_token_above_272k_tokens_priority output_cost_per_token_above_272k_tokens_ultrafast
output_cost_per_token_above_512k_tokens output_cost_per_token_balanced output_cost_per_token_batches
output_cost_per_token_flex output_cost_per_token_priority output_cost_per_token_ultrafast
output_cost_per_video_per_second output_cost_per_video_token provider_specific_entry
regional_endpoint_uplift_multiplier regional_processing_uplift_multiplier_eu
regional_processing_uplift_multiplier_us search_context_cost_per_query search_queries_cost_per_query
tiered_pricing
""".split()
)
ABOVE_RE = re.compile(r"_above_\d+k?_tokens(?:_batches)?$")

# Keys that are "token prices" in the sense of docs/reference/pricing.md (rate card) / docs/reference/pricing.md (unpriced).
TOKEN_PRICE_RE = re.compile(
    r"^(input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost(?:_above_1hr)?|output_cost_per_reasoning_token"
    r"|input_cost_per_audio_token|output_cost_per_audio_token|input_cost_per_image_token"
    r"|output_cost_per_image_token)(?:_above_\d+k?_tokens)?(?:_(?:flex|priority|balanced|ultrafast|batches))?$"
)

# Suffixes LiteLLM strips when a tier-suffixed key is missing (longest first, as it does).
TIER_FALLBACK_SUFFIXES = ("_ultrafast", "_balanced", "_priority", "_flex", "_auto", "_fast")
NON_STANDARD_THRESHOLD_SUFFIXES = TIER_FALLBACK_SUFFIXES + ("_batches",)
THRESHOLD_PREFIXES = tuple(
    f"{p}_above_"
    for p in (
        "input_cost_per_token",
        "output_cost_per_token",
        "cache_read_input_token_cost",
        "cache_creation_input_token_cost",
    )
)
WALL_CLOCK_MODES = {"audio_transcription", "chat", "completion", "embedding", "responses"}

# docs/reference/events.md (usage) service tiers → key suffix ("" = standard, "batch" handled separately).
TIER_NAMES = {
    "": "",
    "default": "",
    "auto": "",
    "standard": "",
    "flex": "flex",
    "priority": "priority",
    "fast": "priority",
    "balanced": "balanced",
    "ultrafast": "ultrafast",
    "batch": "batch",
}

BEDROCK_CROSS_REGION = ("us-gov.", "global.", "apac.", "us.", "eu.", "jp.", "au.")
BEDROCK_ROUTING_PREFIXES = ("converse/", "invoke/")
AWS_REGION_RE = re.compile(r"^(?:us|eu|ap|ca|sa|me|af|il|mx|us-gov)-[a-z]+-\d$")
THROUGHPUT_RE = re.compile(r":\d+k$")
DATE_RE = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def parse_threshold(text: str) -> int:
    """`200k` → 200000, `128` → 128 (the text after the last `_above_`, before `_tokens`)."""
    return int(text[:-1]) * 1000 if text.endswith("k") else int(text)


def key_threshold(key: str) -> int:
    return parse_threshold(key.rsplit("_above_", 1)[1].split("_tokens")[0])


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------
class Registry:
    """The registry file parsed with every number as an exact Decimal from its literal text."""

    def __init__(self, raw: dict):
        self.raw = raw
        self.entries: dict[str, dict] = {}
        for key, entry in raw.items():
            if not isinstance(entry, dict) or key in ("sample_spec", "fallback_generalizations"):
                continue
            self.entries[key] = entry
        # alias_of rows are served as their owner's entry (owner must be a real row).
        self.alias_owner: dict[str, str] = {}
        for key, entry in self.entries.items():
            owner = entry.get("alias_of")
            if isinstance(owner, str):
                if owner in self.entries and "alias_of" not in self.entries[owner]:
                    self.alias_owner[key] = owner
        self.lower = {}
        for key in self.entries:
            self.lower.setdefault(key.lower(), key)
        self.providers_with_rows = {
            e.get("litellm_provider") for e in self.entries.values() if e.get("litellm_provider")
        }

    @classmethod
    def load(cls, path: str) -> "Registry":
        with open(path, "rb") as f:
            raw = json.loads(f.read(), parse_float=Decimal, parse_int=Decimal)
        return cls(raw)

    def entry(self, key: str) -> dict:
        return self.entries[self.alias_owner.get(key, key)]

    def provider_of(self, key: str):
        return self.entry(key).get("litellm_provider")


# Prices of docs/reference/pricing.md (rate card)'s "other" kinds (per second, image, pixel, character, query, request, page,
# text message). Add-on prices of token-priced models (web search, grounding, tools) are not here.
OTHER_PRICE_RE = re.compile(
    r"(_per_second|_per_image|_per_pixel|_per_character|^input_cost_per_query$|_per_request"
    r"|_per_page|_per_text_message)"
)


def has_token_price(entry: dict) -> bool:
    """docs/reference/pricing.md (rate card)/docs/reference/pricing.md (unpriced): whether the entry is priced per token.

    An entry states token rates (any docs/reference/pricing.md (rate card) token key, or a `tiered_pricing` tier with an input
    or output rate). Stated zeros are a real $0 price (a free model) — unless every stated token
    rate is 0 and the entry is priced another way (per second, image, character, query, …): then
    the zeros are placeholders and the model is priced *only* that way, i.e. unpriced for tokens.
    """
    token_values = []
    for k, v in entry.items():
        if v is None:
            continue
        if TOKEN_PRICE_RE.match(k):
            token_values.append(_num(v))
        elif k == "tiered_pricing" and isinstance(v, list):
            for t in v:
                if isinstance(t, dict):
                    for tk in ("input_cost_per_token", "output_cost_per_token"):
                        if t.get(tk) is not None:
                            token_values.append(_num(t[tk]))
    if not token_values:
        return False
    if any(x is not None and x != 0 for x in token_values):
        return True
    priced_otherwise = any(
        OTHER_PRICE_RE.search(k) and isinstance(v, Decimal) and v != 0 for k, v in entry.items()
    )
    return not priced_otherwise


def litellm_view(entry: dict) -> dict:
    """What LiteLLM's get_model_info exposes of an entry (missing input/output → 0)."""
    view = {k: v for k, v in entry.items() if k in LITELLM_VISIBLE_KEYS or ABOVE_RE.search(k)}
    view.setdefault("input_cost_per_token", D0)
    view.setdefault("output_cost_per_token", D0)
    if view.get("input_cost_per_token") is None:
        view["input_cost_per_token"] = D0
    if view.get("output_cost_per_token") is None:
        view["output_cost_per_token"] = D0
    return view


def full_view(entry: dict) -> dict:
    """Every stated key; missing input/output rates are 0 (docs/reference/pricing.md (formula))."""
    view = dict(entry)
    if view.get("input_cost_per_token") is None:
        view["input_cost_per_token"] = D0
    if view.get("output_cost_per_token") is None:
        view["output_cost_per_token"] = D0
    return view


# ---------------------------------------------------------------------------------------------
# Model resolution (docs/reference/pricing.md (model lookup))
# ---------------------------------------------------------------------------------------------
def provider_agrees(entry_provider, provider) -> bool:
    if provider is None or entry_provider is None:
        return True
    if entry_provider == provider:
        return True
    fam = {"bedrock", "bedrock_converse"}
    if provider in fam and entry_provider in fam:
        return True
    if provider == "vertex_ai" and entry_provider.startswith("vertex_ai"):
        return True
    if provider == "azure_ai" and entry_provider in ("azure", "openai"):
        return True
    return False


def is_bedrock(provider) -> bool:
    return provider in ("bedrock", "bedrock_converse")


def _bedrock_step3(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in BEDROCK_ROUTING_PREFIXES:
            if name.startswith(p):
                name = name[len(p) :]
                changed = True
    if name.lower().startswith("arn:"):
        name = name.split("/")[-1]
    head, sep, rest = name.partition("/")
    if sep and AWS_REGION_RE.match(head):
        name = rest
    return name


def _stripped_names(name: str, provider) -> list[str]:
    out = []
    if is_bedrock(provider):
        stripped = THROUGHPUT_RE.sub("", name)
        for pre in BEDROCK_CROSS_REGION:
            if stripped.startswith(pre):
                stripped = stripped[len(pre) :]
                break
        if stripped != name:
            out.append(stripped)
    if provider in ("vertex_ai", "gemini") and name.endswith("-001"):
        out.append(name[: -len("-001")])
    if name.startswith("ft:"):
        parts = name.split(":")
        if len(parts) >= 3:
            out.append("ft:" + parts[1])
    dated = DATE_RE.sub("", name)
    if dated != name:
        out.append(dated)
    return out


@dataclass
class Resolution:
    key: str  # the registry row that prices (the owner for an alias row)
    match: str  # exact | stripped | alias | inferred


def resolve(reg: Registry, provider, model: str, _gateway: bool = True):
    def hit(name):
        key = reg.lower.get(name.lower())
        if key is None:
            return None
        if not provider_agrees(reg.provider_of(key), provider):
            return None
        return key

    def done(key, kind):
        if key in reg.alias_owner:
            return Resolution(reg.alias_owner[key], "alias")
        return Resolution(key, kind)

    p = provider
    pref = f"{p}/" if p else None
    has_prefix = bool(pref) and model.lower().startswith(pref.lower())
    # 1. provider/model (or the model when it already carries the prefix), 2. model
    first = model if (has_prefix or not p) else f"{p}/{model}"
    for cand in (first, model):
        k = hit(cand)
        if k:
            return done(k, "exact")
    # 3. without the provider/ prefix (Bedrock: routing prefixes, region path, ARN)
    bare = model[len(pref) :] if has_prefix else model
    step3 = []
    if bare != model:
        step3.append(bare)
    if is_bedrock(p):
        b = _bedrock_step3(bare)
        if b != bare:
            step3.append(b)
            bare = b
    for cand in step3:
        k = hit(cand)
        if k:
            return done(k, "stripped")
    # 4. stripped names, each as provider/stripped then stripped
    for s in _stripped_names(bare, p):
        for cand in ((f"{p}/{s}", s) if p else (s,)):
            k = hit(cand)
            if k:
                return done(k, "stripped")
    # (reference step, compatible with SPEC) provider/model even when the model already starts
    # with "provider/": rows such as perplexity/perplexity/glm-5.2 exist for providers whose own
    # model ids repeat the provider name.
    if has_prefix:
        k = hit(f"{p}/{model}")
        if k:
            return done(k, "exact")
    # gateways with no rows of their own: vendor/model
    if _gateway and p and p not in reg.providers_with_rows and "/" in bare:
        vendor, rest = bare.split("/", 1)
        r = resolve(reg, vendor, rest, _gateway=False)
        if r is not None:
            return Resolution(r.key, "inferred")
    return None


# ---------------------------------------------------------------------------------------------
# Off-peak windows
# ---------------------------------------------------------------------------------------------
_WEEKDAYS = {
    "mon": 1, "monday": 1, "tue": 2, "tues": 2, "tuesday": 2, "wed": 3, "wednesday": 3,
    "thu": 4, "thur": 4, "thurs": 4, "thursday": 4, "fri": 5, "friday": 5,
    "sat": 6, "saturday": 6, "sun": 7, "sunday": 7,
}  # fmt: skip


def _windows(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _in_windows(windows: list[str], t: _dt.datetime) -> bool:
    now = t.time()
    for w in windows:
        try:
            a, b = w.split("-")
            start = _dt.datetime.strptime(a.strip(), "%H:%M").time()
            end = _dt.datetime.strptime(b.strip(), "%H:%M").time()
        except ValueError:
            continue
        if start < end:
            if start <= now < end:
                return True
        elif now >= start or now < end:
            return True
    return False


def _weekday_ok(t: _dt.datetime, weekdays, tzname) -> bool:
    if weekdays is None:
        return True
    if not isinstance(weekdays, list):
        return False
    allowed = set()
    for d in weekdays:
        if isinstance(d, bool):
            continue
        if isinstance(d, (int, Decimal)) and 1 <= int(d) <= 7 and int(d) == d:
            allowed.add(int(d))
        elif isinstance(d, str) and d.strip().lower() in _WEEKDAYS:
            allowed.add(_WEEKDAYS[d.strip().lower()])
    tz = _dt.timezone.utc
    if isinstance(tzname, str) and tzname.strip():
        try:
            tz = ZoneInfo(tzname.strip())
        except (ValueError, ZoneInfoNotFoundError):
            tz = _dt.timezone.utc
    return t.astimezone(tz).isoweekday() in allowed


def off_peak_block(view: dict, t: _dt.datetime | None):
    block = view.get("off_peak_pricing")
    if not isinstance(block, dict) or t is None:
        return None
    flat = _windows(block.get("hours_utc"))
    if flat and _in_windows(flat, t):
        return block
    rules = block.get("windows")
    if not isinstance(rules, list):
        return None
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        rw = _windows(rule.get("hours_utc"))
        if not rw or not _weekday_ok(t, rule.get("weekdays"), block.get("weekday_timezone")):
            continue
        if _in_windows(rw, t):
            return block
    return None


def _num(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, Decimal):
        return v
    if isinstance(v, str):
        try:
            return Decimal(v)
        except decimal.InvalidOperation:
            return None
    return None


# ---------------------------------------------------------------------------------------------
# Usage
# ---------------------------------------------------------------------------------------------
@dataclass
class Usage:
    tokens_in: int = 0
    cached: int = 0
    w5m: int = 0
    w1h: int = 0
    audio_in: int = 0
    image_in: int = 0
    out: int = 0
    reasoning: int = 0
    audio_out: int = 0
    image_out: int = 0
    tier: str = ""  # key suffix: "", flex, priority, balanced, ultrafast, batch
    geo: str | None = None
    speed: str | None = None
    when: _dt.datetime | None = None

    @property
    def prompt(self) -> int:
        return self.tokens_in + self.cached + self.w5m + self.w1h

    @property
    def writes(self) -> int:
        return self.w5m + self.w1h

    @classmethod
    def from_event(cls, ev: dict) -> "Usage":
        g = lambda k: int(ev.get(k) or 0)  # noqa: E731
        tier = TIER_NAMES[str(ev.get("serviceTier") or "").lower()]
        ts = ev.get("timestamp")
        when = None
        if isinstance(ts, str):
            when = _dt.datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(_dt.timezone.utc)
        elif isinstance(ts, int):
            when = _dt.datetime.fromtimestamp(ts / 1000, _dt.timezone.utc)
        return cls(
            g("tokensIn"), g("cachedTokens"), g("cacheWrite5mTokens"), g("cacheWrite1hTokens"),
            g("audioTokensIn"), g("imageTokensIn"), g("tokensOut"), g("reasoningTokens"),
            g("audioTokensOut"), g("imageTokensOut"), tier, ev.get("inferenceGeo"), ev.get("speed"), when,
        )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# Rate helpers (LiteLLM's get_cost_per_unit semantics)
# ---------------------------------------------------------------------------------------------
def rate(view: dict, key: str):
    return _num(view.get(key)) if view.get(key) is not None else None


def rate_t(view: dict, key: str):
    """The key's rate; if absent and it carries a tier suffix, the rate without that suffix."""
    v = rate(view, key)
    if v is not None:
        return v
    for sfx in TIER_FALLBACK_SUFFIXES:
        if sfx in key:
            return rate(view, key.replace(sfx, ""))
    return None


def sfx_of(tier: str) -> str:
    return f"_{tier}" if tier and tier != "batch" else ""


def select_tier(tiers, prompt: int):
    if not isinstance(tiers, list) or not tiers or prompt <= 0:
        return None
    ranged = []
    for t in tiers:
        if not isinstance(t, dict):
            continue
        r = t.get("range")
        if isinstance(r, list) and len(r) == 2 and all(isinstance(x, Decimal) for x in r):
            ranged.append((r[0], r[1], t))
    if not ranged:
        return None
    ranged.sort(key=lambda x: x[0])
    for start, end, t in ranged:
        if start < prompt <= end:
            return t
    return ranged[-1][2]


def tier_rate(tier: dict, key: str, fallback: str | None = None) -> Decimal:
    v = tier.get(key)
    if v is not None:
        return _num(v) or D0
    if fallback is None:
        return D0
    return _num(tier.get(fallback, D0)) or D0


def priced_tier(view: dict, prompt: int):
    t = select_tier(view.get("tiered_pricing"), prompt)
    if t is None or "input_cost_per_token" not in t:
        return None
    return t


@dataclass
class Rates:
    inp: Decimal
    out: Decimal
    cr: Decimal
    cw: Decimal
    w1h: Decimal
    reasoning: Decimal | None = None  # off-peak reasoning override


def _apply_off_peak(o, inp, out, cr, cw):
    if o is None:
        return inp, out, cr, cw, None
    g = lambda k, d: _num(o.get(k)) if _num(o.get(k)) is not None else d  # noqa: E731
    return (
        g("input_cost_per_token", inp),
        g("output_cost_per_token", out),
        g("cache_read_input_token_cost", cr),
        g("cache_creation_input_token_cost", cw),
        _num(o.get("output_cost_per_reasoning_token")),
    )


def base_rates(view: dict, u: Usage, inclusive: bool, devs: frozenset) -> Rates:
    P = u.prompt
    sfx = sfx_of(u.tier)
    o = off_peak_block(view, u.when)
    t = priced_tier(view, P)
    if t is not None:
        out = tier_rate(t, "output_cost_per_token") if "output_cost_per_token" in t else (rate(view, "output_cost_per_token") or D0)
        inp, out, cr, cw, r_op = _apply_off_peak(
            o,
            tier_rate(t, "input_cost_per_token"),
            out,
            tier_rate(t, "cache_read_input_token_cost", "input_cost_per_token"),
            tier_rate(t, "cache_creation_input_token_cost", "input_cost_per_token"),
        )
        w1h = cw if t.get("cache_creation_input_token_cost_above_1hr") is None else tier_rate(t, "cache_creation_input_token_cost_above_1hr")
        return Rates(inp, out, cr, cw, w1h, r_op)

    inp = rate_t(view, "input_cost_per_token" + sfx) or D0
    out = rate_t(view, "output_cost_per_token" + sfx) or D0
    if out == 0 and rate(view, "output_cost_per_image_token") is not None:
        out = rate(view, "output_cost_per_image_token")
    cw = rate_t(view, "cache_creation_input_token_cost" + sfx)
    cr = rate_t(view, "cache_read_input_token_cost" + sfx)
    k1h = "cache_creation_input_token_cost_above_1hr" + sfx
    thresholds = set()
    for k, v in view.items():
        if v is None or not k.startswith(THRESHOLD_PREFIXES) or "_tokens" not in k:
            continue
        if k.endswith(NON_STANDARD_THRESHOLD_SUFFIXES) and not (sfx and k.endswith(sfx)):
            continue
        try:
            ts = k.rsplit("_above_", 1)[1].split("_tokens")[0]
            thresholds.add((parse_threshold(ts), ts))
        except ValueError:
            continue
    for n, ts in sorted(thresholds):
        if not (P > n or (inclusive and P == n)):
            continue
        v = rate_t(view, f"input_cost_per_token_above_{ts}_tokens{sfx}")
        inp = v if v is not None else inp
        v = rate_t(view, f"output_cost_per_token_above_{ts}_tokens{sfx}")
        out = v if v is not None else out
        v = rate_t(view, f"cache_creation_input_token_cost_above_{ts}_tokens{sfx}")
        cw = v if v is not None else cw
        v = rate_t(view, f"cache_read_input_token_cost_above_{ts}_tokens{sfx}")
        cr = v if v is not None else cr
        k1h_thr = f"cache_creation_input_token_cost_above_1hr_above_{ts}_tokens{sfx}"
        if view.get(k1h_thr) is not None:
            k1h = k1h_thr
    inp_for_missing = inp
    if o is not None and _num(o.get("input_cost_per_token")) is not None:
        inp_for_missing = _num(o.get("input_cost_per_token"))
    cr = inp_for_missing if cr is None else cr
    cw = inp_for_missing if cw is None else cw
    inp, out, cr, cw, r_op = _apply_off_peak(o, inp, out, cr, cw)
    w1h = rate_t(view, k1h)
    if w1h is None:
        w1h = cw
    return Rates(inp, out, cr, cw, w1h, r_op)


def modality_key(view: dict, cost_key: str, prompt: int, inclusive: bool = False) -> str:
    suffix = next((s for s in NON_STANDARD_THRESHOLD_SUFFIXES if cost_key.endswith(s)), "")
    base = cost_key[: -len(suffix)] if suffix else cost_key
    best = None
    for k, v in view.items():
        if v is None or not k.startswith(f"{base}_above_"):
            continue
        if not (k.endswith("_tokens") or k.endswith(f"_tokens{suffix}")):
            continue
        try:
            n = key_threshold(k)
        except ValueError:
            continue
        if prompt > n or (inclusive and prompt == n):
            if best is None or n > best[0]:
                best = (n, k)
    if best is None:
        return cost_key
    k = best[1]
    if suffix and k.endswith(suffix):
        k = k[: -len(suffix)]
    return k + suffix


def modality_cost(view, base_key, tokens, inp, sfx, prompt=0, inclusive=False) -> Decimal:
    ck = modality_key(view, base_key + sfx, prompt, inclusive)
    std = ck[: -len(sfx)] if sfx and ck.endswith(sfx) else ck
    if view.get(ck) is None and view.get(std) is None:
        return tokens * inp
    r = rate_t(view, ck)
    return tokens * (r if r is not None else D0)


def reasoning_rate(view: dict, u: Usage, rates: Rates) -> Decimal:
    if rates.reasoning is not None:
        return rates.reasoning
    t = priced_tier(view, u.prompt)
    if t is not None and ("output_cost_per_reasoning_token" in t or "output_cost_per_token" in t):
        return tier_rate(t, "output_cost_per_reasoning_token", "output_cost_per_token")
    sfx = sfx_of(u.tier)
    k = "output_cost_per_reasoning_token" + sfx
    if view.get(k) is not None:
        r = rate_t(view, k)
        if r is not None:
            return r
    if sfx and view.get("output_cost_per_token" + sfx) is not None:
        return rates.out
    r = rate(view, "output_cost_per_reasoning_token")
    return r if r is not None else rates.out


def generic(view: dict, u: Usage, devs: frozenset, inclusive: bool = False, fireworks: bool = False) -> Decimal:
    if fireworks and view.get("cache_read_input_token_cost") is None and _num(view.get("input_cost_per_token")) is not None:
        view = dict(view)
        half = _num(view["input_cost_per_token"]) * Decimal("0.5")
        view["cache_read_input_token_cost"] = half
        o = view.get("off_peak_pricing")
        if isinstance(o, dict) and "cache_read_input_token_cost" not in o:
            oi = _num(o.get("input_cost_per_token"))
            view["off_peak_pricing"] = {**o, "cache_read_input_token_cost": oi * Decimal("0.5") if oi is not None else half}
    P = u.prompt
    sfx = sfx_of(u.tier)
    rates = base_rates(view, u, inclusive, devs)
    hit, creation, audio, image = u.cached, u.writes, u.audio_in, u.image_in
    if (hit > 0 or creation > 0) and (hit + creation + audio + image) > P and DEV_INPUT_CLAMP not in devs:
        budget = max(P - hit - creation, 0)
        audio = min(audio, budget)
        image = min(image, budget - audio)
        text = budget - audio - image
    else:
        text = max(P - hit - audio - creation - image, 0)
    cost = text * rates.inp + hit * rates.cr
    if audio:
        cost += modality_cost(view, "input_cost_per_audio_token", audio, rates.inp, sfx, P, inclusive)
    if image:
        cost += modality_cost(view, "input_cost_per_image_token", image, rates.inp, sfx)
    cost += u.w5m * rates.cw + u.w1h * rates.w1h
    C, R, AO, IO = u.out, u.reasoning, u.audio_out, u.image_out
    if R == 0 and AO == 0 and IO == 0:
        cost += C * rates.out
    else:
        cost += max(0, C - R - AO - IO) * rates.out
        if AO:
            ra = rate(view, "output_cost_per_audio_token")
            cost += AO * (ra if ra is not None else rates.out)
        if R:
            cost += R * reasoning_rate(view, u, rates)
        if IO:
            ri = rate_t(view, "output_cost_per_image_token" + sfx)
            cost += IO * (ri if ri is not None else rates.out)
    return cost


# ---------------------------------------------------------------------------------------------
# Batch (LiteLLM batch_cost_calculator)
# ---------------------------------------------------------------------------------------------
_BATCH_TIER_PREFIXES = (
    "input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost",
    "cache_creation_input_token_cost", "cache_creation_input_token_cost_above_1hr",
    "cache_creation_input_token_cost_above_12hr",
)  # fmt: skip
_BATCH_TIER_RE = re.compile(rf"^({'|'.join(_BATCH_TIER_PREFIXES)})_above_(\d+k?)_tokens_batches$")


def batch_rate_for(view: dict, prefix: str, P: int, inclusive: bool):
    ths = set()
    for k, v in view.items():
        m = _BATCH_TIER_RE.match(k)
        if v is not None and m and m.group(1) == prefix:
            ths.add(m.group(2))
    for t in sorted(ths, key=parse_threshold, reverse=True):
        n = parse_threshold(t)
        if P > n or (inclusive and P == n):
            v = rate(view, f"{prefix}_above_{t}_tokens_batches")
            return v if v is not None else rate(view, f"{prefix}_batches")
    return rate(view, f"{prefix}_batches")


def _batch_mod_rate(view, key, fallback, prompt=0):
    ck = modality_key(view, key, prompt)
    r = rate(view, ck)
    if r is None:
        r = rate(view, key)
    return fallback if r is None else r


def batch(view: dict, u: Usage, inclusive: bool, devs: frozenset) -> Decimal:
    P = u.prompt
    if (
        DEV_BATCH_TIERED in devs
        and priced_tier(view, P) is not None
        and rate(view, "input_cost_per_token_batches") is None
    ):
        # SPEC: a model without batch rates pays half its standard rates, and for a model with
        # tiered_pricing the standard rates are the tier's (the reference reads the flat keys).
        return generic(view, Usage(**{**u.__dict__, "tier": ""}), devs) / TWO
    return _batch_core(view, u, inclusive)


def _batch_core(view: dict, u: Usage, inclusive: bool) -> Decimal:
    P = u.prompt
    b_in = batch_rate_for(view, "input_cost_per_token", P, inclusive)
    b_out = batch_rate_for(view, "output_cost_per_token", P, inclusive)
    b_cr = batch_rate_for(view, "cache_read_input_token_cost", P, inclusive)
    b_cw = batch_rate_for(view, "cache_creation_input_token_cost", P, inclusive)
    b_1h = batch_rate_for(view, "cache_creation_input_token_cost_above_1hr", P, inclusive)
    std_in = rate(view, "input_cost_per_token")
    std_out = rate(view, "output_cost_per_token")
    cost = D0
    if b_in is not None:
        cr = b_cr
        if cr is None:
            cr = rate(view, modality_key(view, "cache_read_input_token_cost", P))
        cached = u.cached if cr is not None else 0
        bills_writes = b_cw is not None or b_1h is not None
        written = u.writes if bills_writes else 0
        text = max(P - u.audio_in - u.image_in - cached - written, 0)
        cost += text * b_in
        cost += u.audio_in * _batch_mod_rate(view, "input_cost_per_audio_token_batches", b_in, P)
        cost += u.image_in * _batch_mod_rate(view, "input_cost_per_image_token_batches", b_in)
        cost += cached * (cr or D0)
        if bills_writes:
            cw = b_in if b_cw is None else b_cw
            cost += u.w5m * cw + u.w1h * (b_1h if b_1h is not None else cw)
    elif std_in is not None:
        base = P - u.cached - u.writes
        cost += base * std_in / TWO
        crr = rate(view, "cache_read_input_token_cost")
        if u.cached > 0 and crr is not None:
            cost += u.cached * crr / TWO
        cwr = rate(view, "cache_creation_input_token_cost")
        cost += u.writes * (std_in if cwr is None else cwr) / TWO
    text_rate = b_out if b_out is not None else (std_out / TWO if std_out is not None else D0)
    bi = rate(view, "output_cost_per_image_token_batches")
    si = rate(view, "output_cost_per_image_token")
    image_rate = bi if bi is not None else (si / TWO if si is not None else text_rate)
    img = min(u.image_out, u.out)
    cost += (u.out - img) * text_rate + img * image_rate
    return cost


# ---------------------------------------------------------------------------------------------
# Provider paths
# ---------------------------------------------------------------------------------------------
def multiplier(view: dict, u: Usage, speed: bool) -> Decimal:
    pse = view.get("provider_specific_entry")
    if not isinstance(pse, dict) or not pse:
        return Decimal(1)
    m = Decimal(1)
    if speed and u.speed == "fast":
        v = _num(pse.get("fast"))
        m *= v if v is not None else Decimal(1)
    if isinstance(u.geo, str) and u.geo.lower() not in ("global", "not_available"):
        v = _num(pse.get(u.geo.lower()))
        m *= v if v is not None else Decimal(1)
    return m


def dashscope(view: dict, u: Usage) -> Decimal:
    P = u.prompt
    text = max(P - u.cached - u.writes, 0)
    out_tokens = max(u.out - u.reasoning, 0)
    flat_in = rate(view, "input_cost_per_token") or D0
    flat_out = rate(view, "output_cost_per_token") or D0
    flat_reason = rate(view, "output_cost_per_reasoning_token")
    t = select_tier(view.get("tiered_pricing"), P)
    if t is None:
        inp, out = flat_in, flat_out
        cr = rate(view, "cache_read_input_token_cost")
        cr = flat_in if cr is None else cr
        cw = rate(view, "cache_creation_input_token_cost")
        cw = flat_in if cw is None else cw
        reason = flat_reason
    else:
        inp = tier_rate(t, "input_cost_per_token")
        cr = tier_rate(t, "cache_read_input_token_cost", "input_cost_per_token")
        cw = tier_rate(t, "cache_creation_input_token_cost", "input_cost_per_token")
        out = tier_rate(t, "output_cost_per_token") if "output_cost_per_token" in t else flat_out
        if "output_cost_per_reasoning_token" in t:
            reason = tier_rate(t, "output_cost_per_reasoning_token")
        elif "output_cost_per_token" in t:
            reason = None
        else:
            reason = flat_reason
    o = off_peak_block(view, u.when)
    inp, out, cr, cw, r_op = _apply_off_peak(o, inp, out, cr, cw)
    if r_op is not None:
        reason = r_op
    reason = out if reason is None else reason
    return text * inp + u.cached * cr + u.writes * cw + out_tokens * out + u.reasoning * reason


def xai(view: dict, u: Usage, devs: frozenset) -> Decimal:
    # completion details are dropped and the service tier is not passed
    u2 = Usage(**{**u.__dict__, "reasoning": 0, "audio_out": 0, "image_out": 0, "tier": ""})
    return generic(view, u2, devs, inclusive=True)


def perplexity(view: dict, u: Usage, devs: frozenset) -> Decimal:
    if DEV_PERPLEXITY in devs:
        return generic(view, u, devs)
    P = u.prompt
    o = off_peak_block(view, u.when)
    inp = rate(view, "input_cost_per_token") or D0
    out = rate(view, "output_cost_per_token") or D0
    cr = rate(view, "cache_read_input_token_cost")
    inp, out, cr, _, _ = _apply_off_peak(o, inp, out, cr, D0)
    cached = min(P, u.cached)
    cost = (P - cached) * inp + cached * (inp if cr is None else cr)
    rr = rate(view, "output_cost_per_reasoning_token")
    if u.reasoning > 0 and rr is not None:
        cost += max(0, u.out - u.reasoning) * out + u.reasoning * rr
    else:
        cost += u.out * out
    return cost


def vertex_128k(view: dict, u: Usage):
    i128 = rate(view, "input_cost_per_token_above_128k_tokens")
    o128 = rate(view, "output_cost_per_token_above_128k_tokens")
    if i128 is None and o128 is None:
        return None
    P, C = u.prompt, u.out
    inp = i128 if (P > 128000 and i128 is not None) else (rate(view, "input_cost_per_token") or D0)
    out = o128 if (C > 128000 and o128 is not None) else (rate(view, "output_cost_per_token") or D0)
    return P * inp + C * out


def _positive_token_rate(view: dict) -> bool:
    return (_num(view.get("input_cost_per_token")) or D0) > 0 or (_num(view.get("output_cost_per_token")) or D0) > 0 or view.get("tiered_pricing") is not None


def _per_second_shortcut(view: dict) -> bool:
    if _positive_token_rate(view):
        return False
    mode = view.get("mode")
    if not (mode is None or mode in WALL_CLOCK_MODES):
        return False
    return any(view.get(k) is not None for k in ("cost_per_second", "input_cost_per_second", "output_cost_per_second"))


GENERIC_PROVIDERS = {"openai", "azure", "gemini", "deepseek", "tencent", "databricks", "azure_ai"}
DASHSCOPE = {"dashscope", "qwencloud", "qwen_ai_platform"}


def cost_usd(entry: dict, provider, u: Usage, devs: frozenset) -> Decimal:
    """Cost in USD of usage `u` on registry entry `entry` via provider path `provider`."""
    view = full_view(entry) if DEV_IGNORED_KEY in devs else litellm_view(entry)
    if u.tier == "batch":
        c = batch(view, u, provider == "xai", devs)
        if DEV_BATCH_MULTIPLIER in devs and provider in ("anthropic", "bedrock"):
            c *= multiplier(view, u, speed=provider == "anthropic")
        return c
    if _per_second_shortcut(view):
        return D0
    if provider == "vertex_ai":
        c = vertex_128k(view, u)
        return c if c is not None else generic(view, u, devs)
    if provider == "anthropic":
        return generic(view, u, devs) * multiplier(view, u, speed=True)
    if provider == "bedrock":
        return generic(view, u, devs) * multiplier(view, u, speed=False)
    if provider == "fireworks_ai":
        if DEV_FIREWORKS_TIER not in devs:
            u = Usage(**{**u.__dict__, "tier": ""})
        return generic(view, u, devs, fireworks=entry.get("litellm_provider") == "fireworks_ai")
    if provider == "perplexity":
        return perplexity(view, u, devs)
    if provider == "xai":
        return xai(view, u, devs)
    if provider == "lemonade":
        return D0
    if provider in DASHSCOPE:
        return dashscope(view, u)
    if provider in GENERIC_PROVIDERS:
        return generic(view, u, devs)
    if not _positive_token_rate(view):
        return D0
    return generic(view, u, devs)


# ---------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------
@dataclass
class Result:
    priced: bool
    cost_cents: Decimal
    key: str | None = None
    match: str | None = None
    reason: str | None = None
    # formula deviations that change this result (SPEC vs reference), when requested
    deviations: list = field(default_factory=list)


def price(reg: Registry, ev: dict, deviations: frozenset = ALL_DEVIATIONS) -> Result:
    """Prices one engine event (docs/reference/pricing.md, docs/reference/pricing.md (unpriced), docs/reference/events.md (event record) `providerCostCents`/`externalCostCents`)."""
    external = Decimal(str(ev.get("externalCostCents") or 0))
    if ev.get("type") in ("tool", "retrieval"):
        return Result(True, external)
    if ev.get("providerCostCents") is not None:
        return Result(True, Decimal(str(ev["providerCostCents"])) + external)
    res = _price_llm(reg, ev, deviations)
    res.cost_cents += external
    return res


def _price_llm(reg: Registry, ev: dict, deviations: frozenset) -> Result:
    provider = ev.get("provider")
    model = ev["model"]
    r = resolve(reg, provider, model)
    if r is None:
        return Result(False, D0, None, None, "unknown_model")
    entry = reg.entry(r.key)
    if not has_token_price(entry):
        return Result(False, D0, r.key, r.match, "no_token_price")
    u = Usage.from_event(ev)
    path = provider
    if r.match == "inferred":
        path = entry.get("litellm_provider")
    path = canonical_provider(path)
    usd = cost_usd(entry, path, u, deviations)
    return Result(True, usd * HUNDRED, r.key, r.match)


def canonical_provider(p):
    if p is None:
        return None
    if p == "bedrock_converse":
        return "bedrock"
    if p.startswith("vertex_ai"):
        return "vertex_ai"
    return p


def formula_deviations(reg: Registry, ev: dict) -> tuple[Result, Result, list[str]]:
    """(SPEC result, reference-mode result, ids of the formula deviations that change it)."""
    spec = price(reg, ev, ALL_DEVIATIONS)
    ref = price(reg, ev, frozenset())
    ids = []
    if spec.priced and ref.priced and spec.cost_cents != ref.cost_cents:
        # a deviation counts when switching it on alone changes the reference answer, or
        # switching it off alone changes the SPEC answer (two may only matter together)
        for d in sorted(FORMULA_DEVIATIONS):
            if (
                price(reg, ev, frozenset({d})).cost_cents != ref.cost_cents
                or price(reg, ev, FORMULA_DEVIATIONS - {d}).cost_cents != spec.cost_cents
            ):
                ids.append(d)
    return spec, ref, ids


def main(argv):
    path = argv[1] if len(argv) > 1 else "data/ratecard/litellm-1.110.2.json"
    reg = Registry.load(path)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        ev = json.loads(line)
        res = price(reg, ev)
        print(
            json.dumps(
                {
                    "priced": res.priced,
                    "costCents": format_decimal(res.cost_cents),
                    "model": res.key,
                    "match": res.match,
                    "reason": res.reason,
                }
            )
        )


def format_decimal(d: Decimal) -> str:
    """Plain (no exponent) shortest decimal text."""
    if d == 0:
        return "0"
    s = format(d.normalize(), "f")
    return s


if __name__ == "__main__":
    main(sys.argv)
