"""Typed records: the enums of pricing results, and the shapes of the JSON records the engine
takes and returns (``TypedDict``: plain dicts at run time, checked by type checkers).

Keys are the wire names (camelCase), exactly as the JSON the C ABI reads and writes. Amounts
of cents are exact decimal strings on the wire; inputs also accept ``int`` and
``decimal.Decimal`` (never ``float``).
"""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Dict, List, Optional, Union

from typing import TypedDict

__all__ = [
    "Amount",
    "Customer",
    "Event",
    "LineItem",
    "MarginQuery",
    "MarginRow",
    "Report",
    "ReportQuery",
    "ReportRow",
    "Match",
    "PriceResult",
    "Reason",
    "ResolveRecord",
    "SnapshotInfo",
    "Source",
    "TrackContext",
    "TrackResult",
    "RunCounts",
    "TokenCounts",
]

#: An exact amount of cents as users pass it: a decimal string, an int or a Decimal.
Amount = Union[str, int, Decimal]


class Source(str, Enum):
    """Where an event's cost came from (``TG_SOURCE_*``). Compares equal to its wire string."""

    RATE_CARD = "ratecard"
    PROVIDER = "provider"
    EXTERNAL = "external"
    UNPRICED = "unpriced"

    def __str__(self) -> str:
        return str(self.value)


class Match(str, Enum):
    """How a model name matched the rate card (``TG_MATCH_*``)."""

    EXACT = "exact"
    STRIPPED = "stripped"
    ALIAS = "alias"
    INFERRED = "inferred"
    OVERRIDE = "override"

    def __str__(self) -> str:
        return str(self.value)


class Reason(str, Enum):
    """Why an event is unpriced (``TG_REASON_*``)."""

    UNKNOWN_MODEL = "unknown_model"
    NO_TOKEN_PRICE = "no_token_price"
    #: A ``truncated`` event: the response ended before the provider reported its usage.
    TRUNCATED = "truncated"

    def __str__(self) -> str:
        return str(self.value)


class Event(TypedDict, total=False):
    """A usage event (the event record of the docs): what :meth:`Engine.price_json` prices and
    :meth:`Engine.track` records. ``timestamp`` is RFC 3339 text or epoch milliseconds."""

    eventId: str
    idempotencyKey: str
    customerId: str
    runId: str
    agentId: str
    timestamp: Union[str, int]
    type: str
    provider: str
    model: str
    tokensIn: int
    cachedTokens: int
    cacheWrite5mTokens: int
    cacheWrite1hTokens: int
    audioTokensIn: int
    imageTokensIn: int
    tokensOut: int
    reasoningTokens: int
    audioTokensOut: int
    imageTokensOut: int
    webSearchRequests: int
    toolCalls: int
    serviceTier: str
    inferenceGeo: str
    speed: str
    providerCostCents: Amount
    externalCostCents: Amount
    revenueUnitCents: Amount
    units: int
    outcome: str
    metadata: Dict[str, object]


class PriceResult(TypedDict):
    """The result of :meth:`Engine.price_json`: ``model`` is the rate-card row that priced
    it (None when unpriced), ``warnings`` human-readable texts, ``webSearchCents`` the part of
    ``costCents`` that is web searches (``webSearchRequests`` × the model's per-search price,
    ``"0"`` without)."""

    costCents: str
    priced: bool
    model: Optional[str]
    snapshot: str
    reason: Optional[str]
    warnings: List[str]
    match: Optional[str]
    source: str
    webSearchCents: str


class LineItem(TypedDict, total=False):
    """One line item of a provider response (:func:`extract_usage`, :meth:`Stream.finish`):
    the usage fields of :class:`Event` as the response stated them."""

    provider: str
    model: str
    tokensIn: int
    cachedTokens: int
    cacheWrite5mTokens: int
    cacheWrite1hTokens: int
    audioTokensIn: int
    imageTokensIn: int
    tokensOut: int
    reasoningTokens: Optional[int]
    audioTokensOut: int
    imageTokensOut: int
    webSearchRequests: int
    toolCalls: int
    serviceTier: Optional[str]
    responseId: str


class TrackContext(TypedDict, total=False):
    """What :meth:`Engine.track_response` adds to each line item of a response."""

    customerId: str
    runId: str
    agentId: str
    idempotencyKey: str
    timestamp: Union[str, int]
    revenueUnitCents: Amount
    units: int
    outcome: str
    externalCostCents: Amount


class TrackResult(TypedDict, total=False):
    """The result of :meth:`Engine.track` (and of each line item of
    :meth:`Engine.track_response`). ``status`` is ``accepted`` (with ``costCents``,
    ``revenueCents``, ``priced``, ``reason``, ``snapshot``, ``warnings``,
    ``warningsOmitted`` when clipped), ``duplicate``, ``conflict`` (with ``reason``) or, for
    a line item of ``track_response`` only, ``rejected`` (with ``kind``, ``field``,
    ``error``). For ``accepted``, ``reason`` says why the LLM part is unpriced
    (``"unknown_model"``, ``"no_token_price"``; ``None`` when priced), as :meth:`Engine.price`
    does; for ``conflict`` it is the conflict's text."""

    status: str
    costCents: str
    revenueCents: str
    priced: bool
    snapshot: Optional[str]
    warnings: List[str]
    warningsOmitted: int
    reason: Optional[str]
    kind: str
    field: str
    error: str


class ResolveRecord(TypedDict, total=False):
    """A run's outcome, for :meth:`Engine.resolve`."""

    runId: str
    customerId: str
    outcome: str
    revenueUnitCents: Amount
    timestamp: Union[str, int]


class Customer(TypedDict, total=False):
    """A customer record, for :meth:`Engine.upsert_customer`."""

    customerId: str
    name: str
    seats: int
    plan: Dict[str, object]
    timestamp: Union[str, int]


class MarginQuery(TypedDict, total=False):
    """Filters and grouping of :meth:`Engine.margin`."""

    customerId: str
    runId: str
    agentId: str
    model: str
    provider: str
    groupBy: List[str]


MarginQuery.__annotations__["from"] = str  # ``from``/``to``: days (YYYY-MM-DD)
MarginQuery.__annotations__["to"] = str


class RunCounts(TypedDict):
    """Runs by outcome."""

    open: int
    resolved: int
    escalated: int
    failed: int


class TokenCounts(TypedDict):
    """Token sums of a margin row."""

    tokensIn: int
    cachedTokens: int
    cacheWrite5mTokens: int
    cacheWrite1hTokens: int
    reasoningTokens: int
    tokensOut: int


class MarginRow(TypedDict, total=False):
    """One row of :meth:`Engine.margin`: the group's keys (those of ``groupBy``), then exact
    decimal strings of cents; ``marginPct`` is None when revenue is 0."""

    customerId: Optional[str]
    runId: Optional[str]
    agentId: Optional[str]
    model: Optional[str]
    provider: Optional[str]
    day: Optional[str]
    revenueCents: str
    usageRevenueCents: str
    outcomeRevenueCents: str
    subscriptionRevenueCents: str
    costCents: str
    marginCents: str
    marginPct: Optional[str]
    events: int
    unpricedEvents: int
    runs: RunCounts
    tokens: TokenCounts


class ReportQuery(TypedDict, total=False):
    """A report query (:meth:`Engine.report`): filters, ``groupBy`` (``customer``, ``run``,
    ``agent``, ``model``, ``provider``, ``day``, ``week``, ``month``), ``sort`` (``revenue``,
    ``cost``, ``margin``, ``margin%``, ``events``, optionally ``:asc`` / ``:desc``) and
    ``top``."""

    customerId: str
    runId: str
    agentId: str
    model: str
    provider: str
    outcome: str
    groupBy: List[str]
    sort: str
    top: int


ReportQuery.__annotations__["from"] = str  # ``from``/``to``: days (YYYY-MM-DD)
ReportQuery.__annotations__["to"] = str


class ReportRow(TypedDict, total=False):
    """One group of :meth:`Engine.report` (also the report's ``totals``): the id columns
    grouped by (None where the money has no value), exact decimal strings of cents, decimal
    string percentages (None when undefined) and counts."""

    customerId: Optional[str]
    runId: Optional[str]
    agentId: Optional[str]
    model: Optional[str]
    provider: Optional[str]
    day: Optional[str]
    week: Optional[str]
    month: Optional[str]
    revenueCents: str
    costCents: str
    marginCents: str
    marginPct: Optional[str]
    events: int
    unpricedEvents: int
    usageRevenueCents: str
    outcomeRevenueCents: str
    subscriptionRevenueCents: str
    costPerResolvedRunCents: Optional[str]
    revenuePerEventCents: Optional[str]
    costSharePct: Optional[str]
    cacheSavingsCents: str
    runsOpen: int
    runsResolved: int
    runsEscalated: int
    runsFailed: int
    tokensIn: int
    cachedTokens: int
    cacheWrite5mTokens: int
    cacheWrite1hTokens: int
    tokensOut: int
    reasoningTokens: int


class Report(TypedDict):
    """The answer of :meth:`Engine.report`."""

    query: ReportQuery
    totals: ReportRow
    rows: List[ReportRow]
    groups: int
    unpriced: List[Dict[str, object]]
    breaches: List[Dict[str, object]]
    window: Dict[str, Optional[str]]


class PublishResult(TypedDict):
    """What :meth:`Engine.publish_rate_card_report` published: the snapshot id (16 hex
    digits) and the registry's warnings (one per field that looks like a rate but matches no
    rate name the engine knows: accepted, unused for pricing)."""

    snapshot: str
    warnings: List[str]


class SnapshotInfo(TypedDict):
    """A published rate-card snapshot (:meth:`Engine.snapshots`)."""

    id: str
    effectiveFromMs: int
    models: int
