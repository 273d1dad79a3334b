// TypeScript declarations of the Node binding of the Tollgate engine C ABI.
// Amounts are exact decimal strings of cents ("0.4245"), never numbers.

/** ABI version this binding was written against (checked against the library at load). */
export const ABI_VERSION_MAJOR: number;
export const ABI_VERSION_MINOR: number;
/** Fractional digits of a cent in a raw decimal mantissa. */
export const CENTS_SCALE: 24;

/** C status codes (`TG_OK`, `TG_ERR_*`). */
export const Status: Readonly<{
  OK: 0;
  ERR_NULL: 1;
  ERR_INVALID_HANDLE: 2;
  ERR_INVALID_UTF8: 3;
  ERR_INVALID_INPUT: 4;
  ERR_LIMIT: 5;
  ERR_BUFFER_TOO_SMALL: 6;
  ERR_RATE_CARD: 7;
  ERR_NOT_FOUND: 8;
  ERR_NO_USAGE: 9;
  ERR_STATE: 10;
  ERR_OVERFLOW: 11;
  ERR_TOO_LATE: 12;
  ERR_MISUSE: 13;
  ERR_PANIC: 14;
  ERR_IO: 15;
  ERR_LOCKED: 16;
}>;

/** A decimal string of cents, exact (e.g. "0.4245"). */
export type Cents = string;
/**
 * An amount of cents as callers pass it: exact decimal text, or a JS number that the engine
 * reads from its JSON text (so `5` and `"5"` are the same; pass text for amounts a double
 * cannot hold exactly, such as "0.1234567890123456789").
 */
export type CentsInput = Cents | number;
/** RFC 3339 text ("2026-01-10T00:00:00Z") or epoch milliseconds. */
export type Timestamp = string | number;

/** A failed call. */
export class TollgateError extends Error {
  /** The C status code. */
  readonly status: number;
  /** Its `TG_ERR_*` name. */
  readonly code: string;
  /** The library's detail message (never prompt or completion text). */
  readonly detail: string;
}

/** The loaded library's ABI version, `major << 16 | minor`. */
export function abiVersion(): number;
/** The library's static description of a status code. */
export function statusString(status: number): string;
/** Exact decimal text of a raw `tg_decimal` (mantissa of 10^-24 cent). */
export function centsFromRaw(hi: bigint, lo: bigint): Cents;
/** Raw `tg_decimal` of exact decimal text of cents; throws rather than rounds. */
export function centsToRaw(text: string): { hi: bigint; lo: bigint };

/** Usage counts of an event (docs/reference/events.md), camelCase as on the wire. */
export interface UsageCounts {
  tokensIn?: number | bigint;
  cachedTokens?: number | bigint;
  cacheWrite5mTokens?: number | bigint;
  cacheWrite1hTokens?: number | bigint;
  audioTokensIn?: number | bigint;
  imageTokensIn?: number | bigint;
  tokensOut?: number | bigint;
  reasoningTokens?: number | bigint;
  audioTokensOut?: number | bigint;
  imageTokensOut?: number | bigint;
  webSearchRequests?: number | bigint;
  toolCalls?: number | bigint;
}

/** How a run ended. */
export type Outcome = 'resolved' | 'escalated' | 'failed';

/** One event record (docs/reference/events.md): what priceJson and track take. */
export interface Event extends UsageCounts {
  type?: 'llm' | 'tool' | 'retrieval' | 'track' | 'truncated';
  customerId?: string;
  runId?: string;
  agentId?: string;
  provider?: string;
  model?: string;
  serviceTier?: string;
  inferenceGeo?: string;
  speed?: string;
  timestamp?: Timestamp;
  ts?: Timestamp;
  idempotencyKey?: string;
  responseId?: string;
  providerCostCents?: CentsInput;
  externalCostCents?: CentsInput;
  revenueUnitCents?: CentsInput;
  reportedCostCents?: CentsInput;
  units?: number;
  outcome?: Outcome;
}

/** A run's resolution (resolve). */
export interface Resolution {
  type?: 'resolve';
  runId: string;
  customerId: string;
  outcome: Outcome;
  revenueUnitCents?: CentsInput;
  timestamp?: Timestamp;
}

/** A customer's plan. */
export interface Plan {
  name?: string;
  pricingModel: 'usage_based' | 'outcome_based' | 'per_seat' | 'flat';
  unitRevenueCents?: CentsInput;
  seatPriceCents?: CentsInput;
  monthlyFeeCents?: CentsInput;
}

/** A customer change (upsertCustomer). */
export interface Customer {
  type?: 'customer';
  customerId: string;
  name?: string;
  seats?: number;
  plan?: Plan;
  timestamp?: Timestamp;
}

/** JSON text or bytes of a record, for callers that already hold it serialized. */
export type RecordText = string | Buffer | Uint8Array;

/** Usage fields plus the event fields pricing reads (camelCase, as on the wire). */
export interface PriceItem {
  provider?: string;
  model?: string;
  type?: 'llm' | 'tool' | 'retrieval';
  tokensIn?: number | bigint;
  cachedTokens?: number | bigint;
  cacheWrite5mTokens?: number | bigint;
  cacheWrite1hTokens?: number | bigint;
  audioTokensIn?: number | bigint;
  imageTokensIn?: number | bigint;
  tokensOut?: number | bigint;
  reasoningTokens?: number | bigint;
  audioTokensOut?: number | bigint;
  imageTokensOut?: number | bigint;
  webSearchRequests?: number | bigint;
  toolCalls?: number | bigint;
  serviceTier?: string;
  inferenceGeo?: string;
  speed?: string;
  /** Epoch milliseconds; selects the rate-card snapshot in force. */
  timestamp?: number | bigint;
  providerCostCents?: Cents;
  externalCostCents?: Cents;
}

/** The JSON price result (same shape as `tollgate price`). */
export interface PriceResult {
  costCents: Cents;
  priced: boolean;
  model: string | null;
  snapshot: string;
  reason: 'unknown_model' | 'no_token_price' | 'truncated' | null;
  source: 'ratecard' | 'provider' | 'external' | 'unpriced';
  match: 'exact' | 'stripped' | 'alias' | 'inferred' | 'override' | null;
  warnings: string[];
  /** The part of `costCents` that is web searches (`webSearchRequests` × the model's per-search price); "0" without. */
  webSearchCents: Cents;
}

/** One result of the struct batch path. */
export interface PriceOut {
  /** Status.OK, or why the item could not be priced (then `error` is set). */
  status: number;
  error: TollgateError | null;
  costCents: Cents;
  snapshot: string;
  priced: boolean;
  source: 'ratecard' | 'provider' | 'external' | 'unpriced' | null;
  match: 'exact' | 'stripped' | 'alias' | 'inferred' | 'override' | null;
  reason: 'unknown_model' | 'no_token_price' | 'truncated' | null;
  warningCount: number;
}

export interface EngineOptions {
  /** A LiteLLM-format registry replacing the embedded one. */
  rateCard?: Buffer | string;
  /** -1 default (24 h), 0 forever, else milliseconds. */
  dedupeWindowMs?: number;
  /** -1 the system clock, else a fixed "now" in epoch ms (tests, replays). */
  clockMs?: number;
}

/** What publishRateCardReport() published. */
export interface PublishResult {
  /** The new snapshot's id (16 hex digits). */
  snapshot: string;
  /** Fields that look like a rate but match no rate name the engine knows (unused). */
  warnings: string[];
}

/** One published rate-card snapshot. */
export interface SnapshotInfo {
  /** Content id: 16 hex digits of the SHA-256 of the registry bytes. */
  id: string;
  effectiveFromMs: number;
  models: number;
}

/** A usage line item read off a provider response (the `tollgate usage` shape). */
export interface LineItem {
  provider: 'openai' | 'anthropic' | 'bedrock' | 'gemini' | 'openai_compatible';
  model: string;
  tokensIn: number;
  cachedTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  tokensOut: number;
  /** null when the provider gave no reasoning breakdown. */
  reasoningTokens: number | null;
  audioTokensIn: number;
  audioTokensOut: number;
  imageTokensIn: number;
  imageTokensOut: number;
  webSearchRequests: number;
  toolCalls: number;
  serviceTier: string | null;
  responseId: string | null;
  reportedCostCents?: Cents;
  inferenceGeo?: string;
  speed?: string;
}

/** Provider response shapes extraction reads. */
export type Provider = 'openai' | 'anthropic' | 'bedrock' | 'gemini' | 'openai_compatible';

/**
 * Reads the usage off one raw provider response (JSON, SSE, JSON Lines or AWS event-stream
 * bytes). `model` is the requested model (required for Bedrock Converse). Throws
 * (ERR_NO_USAGE) rather than return zero tokens.
 */
export function extractUsage(provider: Provider, body: Buffer | string, model?: string): LineItem[];
/** extractUsage() on a worker thread. */
export function extractUsageAsync(provider: Provider, body: Buffer | string, model?: string): Promise<LineItem[]>;

/** A streaming usage reader; one caller at a time. */
export class Stream {
  constructor(provider: Provider, model?: string);
  /** Feeds the next chunk (split anywhere). An error sticks: later calls throw it again. */
  feed(chunk: Buffer | string): void;
  /** The line items; computed once, may be called again. */
  finish(): LineItem[];
  /** feed() on a worker thread; await it before the next feed. */
  feedAsync(chunk: Buffer | string): Promise<void>;
  /** finish() on a worker thread. */
  finishAsync(): Promise<LineItem[]>;
  /** Frees the stream; twice is a no-op. A forgotten stream is freed when collected. */
  close(): void;
  [Symbol.dispose](): void;
}

/** A pinned snapshot: one rate card plus the overrides at pin time; outlives its engine. */
export class Snapshot {
  readonly id: string;
  readonly effectiveFromMs: number;
  priceJson(event: Event | RecordText): PriceResult;
  priceJsonAsync(event: Event | RecordText): Promise<PriceResult>;
  priceBatch(items: PriceItem[]): PriceOut[];
  priceBatchAsync(items: PriceItem[]): Promise<PriceOut[]>;
  /** Releases it; twice is a no-op. A forgotten snapshot is released when collected. */
  unpin(): void;
  /** Same as unpin(). */
  close(): void;
  [Symbol.dispose](): void;
}

/** The outcome of tracking one event, resolution or customer change. */
export type IngestResult =
  | {
      status: 'accepted'; costCents: Cents; revenueCents: Cents;
      /** False when the LLM part could not be priced (`reason` says why). */
      priced: boolean;
      /** Why the LLM part is unpriced, as `price()` reports it; null when priced. */
      reason: 'unknown_model' | 'no_token_price' | null;
      snapshot: string | null; warnings: string[]; warningsOmitted?: number
    }
  | { status: 'duplicate' }
  | { status: 'conflict'; reason: string }
  /** Only inside trackResponse() results: a line item the ledger refused (the others apply). */
  | { status: 'rejected'; kind: 'invalid' | 'too_late' | 'overflow'; field: string; error: string };

/** Revenue, cost and margin (amounts are exact decimal strings of cents). */
export interface MarginNumbers {
  revenueCents: Cents;
  usageRevenueCents: Cents;
  outcomeRevenueCents: Cents;
  subscriptionRevenueCents: Cents;
  costCents: Cents;
  marginCents: Cents;
  /** Percent of revenue, rounded half-even to 0.01; null when revenue is 0. */
  marginPct: string | null;
  events: number;
  unpricedEvents: number;
  runs: { open: number; resolved: number; escalated: number; failed: number };
}

/** One row of a margin query: the numbers plus the row's group keys. */
export interface MarginRow extends MarginNumbers {
  customerId?: string | null;
  runId?: string | null;
  agentId?: string | null;
  model?: string | null;
  provider?: string | null;
  day?: string | null;
  tokens: { tokensIn: number; cachedTokens: number; cacheWrite5mTokens: number; cacheWrite1hTokens: number; tokensOut: number; reasoningTokens: number };
}

/** A margin query: every field optional. */
export interface MarginQuery {
  customerId?: string;
  runId?: string;
  agentId?: string;
  model?: string;
  provider?: string;
  /** First UTC day, YYYY-MM-DD (inclusive). */
  from?: string;
  /** Last UTC day, YYYY-MM-DD (inclusive). */
  to?: string;
  groupBy?: Array<'customer' | 'run' | 'agent' | 'model' | 'provider' | 'day'>;
}

/** A report query (Engine.report): every field optional. */
export interface ReportQuery {
  customerId?: string;
  runId?: string;
  agentId?: string;
  model?: string;
  provider?: string;
  /** Runs whose current outcome is this. */
  outcome?: 'open' | 'resolved' | 'escalated' | 'failed';
  /** First UTC day, YYYY-MM-DD (inclusive). */
  from?: string;
  /** Last UTC day, YYYY-MM-DD (inclusive). */
  to?: string;
  groupBy?: Array<'customer' | 'run' | 'agent' | 'model' | 'provider' | 'day' | 'week' | 'month'>;
  /** `revenue`, `cost`, `margin`, `margin%` or `events`, optionally `:asc` / `:desc` (default descending). */
  sort?: string;
  /** Keep the first N rows after sorting (totals cover all of them). */
  top?: number;
}

/** One group of a report (also its totals): id columns, exact decimal strings of cents, counts. */
export interface ReportRow {
  customerId?: string | null;
  runId?: string | null;
  agentId?: string | null;
  model?: string | null;
  provider?: string | null;
  day?: string | null;
  week?: string | null;
  month?: string | null;
  revenueCents: Cents;
  costCents: Cents;
  marginCents: Cents;
  marginPct: string | null;
  events: number;
  unpricedEvents: number;
  usageRevenueCents: Cents;
  outcomeRevenueCents: Cents;
  subscriptionRevenueCents: Cents;
  costPerResolvedRunCents: Cents | null;
  revenuePerEventCents: Cents | null;
  costSharePct: string | null;
  cacheSavingsCents: Cents;
  runsOpen: number;
  runsResolved: number;
  runsEscalated: number;
  runsFailed: number;
  tokensIn: number;
  cachedTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  tokensOut: number;
  reasoningTokens: number;
}

/** The answer to a report query. */
export interface Report {
  query: ReportQuery;
  totals: ReportRow;
  rows: ReportRow[];
  /** Groups before `top`. */
  groups: number;
  unpriced: Array<{ provider: string | null; model: string | null; events: number }>;
  breaches: Array<{ customerId: string; policyId: string; period: string; rule: string; detail: string }>;
  window: { from: string | null; to: string | null; subscriptionThrough: string | null };
}

/** Event fields a trackResponse() context may carry (usage comes from the response). */
export interface TrackContext {
  customerId?: string;
  runId?: string;
  agentId?: string;
  idempotencyKey?: string;
  timestamp?: string | number;
  revenueUnitCents?: CentsInput;
  units?: number;
  outcome?: Outcome;
  externalCostCents?: CentsInput;
}

/** The engine. Safe to use concurrently (including the *Async methods). */
export interface StoreOptions {
  /** When the journal is fsync'ed (default 'sync'). */
  durability?: 'sync' | 'interval' | 'none';
  /** Milliseconds between fsyncs in 'interval' mode (1..=60000; default 100). */
  intervalMs?: number;
  /** Dedupe window of a new directory's ledger (-1 default 24 h, 0 forever). */
  dedupeWindowMs?: number;
  /** Journal bytes that start a background checkpoint (-1 default 256 MiB, 0 never). */
  checkpointBytes?: number;
}

export interface Recovery {
  checkpoint: number | null;
  segments: number[];
  entries: number;
  records: number;
  tornTail: { path: string; offset: number; bytesCut: number; reason: string } | null;
  rateCards: { effectiveFromMs: number; content: string }[];
}

/** A guardrail period: 'day' (UTC), 'week' (ISO, Monday), 'month' or 'all'. */
export type GuardPeriod = 'day' | 'week' | 'month' | 'all';

/** A guardrail policy (upsertPolicy): per customer, per plan (planName), or the default. */
export interface Policy {
  type?: 'policy';
  policyId: string;
  customerId?: string;
  planName?: string;
  budget?: { cents: CentsInput; period: GuardPeriod };
  minMargin?: { pct: string | number; period: GuardPeriod; minRevenueCents?: CentsInput; minEvents?: number };
  maxRunCostCents?: CentsInput;
  maxAgentCost?: { cents: CentsInput; period: GuardPeriod };
  action?: 'block' | 'downgrade' | 'allow';
  /** model → cheaper model */
  downgrade?: Record<string, string>;
  downgradeRule?: 'first_fit' | 'next';
  timestamp?: Timestamp;
  ts?: Timestamp;
}

/** The options of allow(). */
export interface AllowOptions {
  agentId?: string;
  runId?: string;
  /** The model the call would use (for a downgrade, and the model of `usage`). */
  model?: string;
  /** The estimate in exact cents (text, bigint or an integer; never a fractional number). */
  estimatedCostCents?: string | bigint | number;
  /** The estimate as expected usage (event field names: tokensIn, tokensOut, …), priced by the engine. */
  usage?: Record<string, unknown>;
  /** The provider of `model` (helps the lookup of `usage`). */
  provider?: string;
  /** Decision time in epoch ms (default: the engine's clock now). */
  atMs?: number;
  /** Reserve the estimate when the call may go ahead (needs a known estimate). */
  reserve?: boolean;
  /** Lifetime of the reservation in ms (default 10 minutes, at most 24 hours). */
  ttlMs?: number;
}

export type GuardReason = 'ok' | 'no_policy' | 'max_run_cost' | 'max_agent_cost' | 'budget_exceeded' | 'min_margin';

/** The answer of allow(), in the product SDK's shape; amounts are exact decimal strings of cents. */
export class Decision {
  readonly decision: 'allow' | 'downgrade' | 'block';
  readonly reason: GuardReason;
  /** Allowed despite a breach (the policy's action is 'allow'). */
  readonly flagged: boolean;
  readonly policyId: string | null;
  /** '2026-01', '2026-W02', '2026-01-05', 'all', 'run', or null. */
  readonly period: string | null;
  readonly suggestedModel: string | null;
  readonly costCents: Cents;
  readonly revenueCents: Cents;
  /** Percent with two decimals ("20.00"), or null without revenue. */
  readonly marginPct: string | null;
  /** null without a budget rule. */
  readonly remainingBudgetCents: Cents | null;
  /** null when the estimate is unknown. */
  readonly estimateCents: Cents | null;
  readonly reservationId: number | null;
  /** True unless the decision is 'block'. */
  readonly allowed: boolean;
  toJSON(): Record<string, unknown>;
}

/** A call refused by a guardrail policy. */
export class GuardBlocked extends Error {
  constructor(decision: Decision);
  readonly decision: Decision;
}

/** What settle() did: the tracked event's result and the cents the reservation held. */
export interface Settlement {
  result: IngestResult;
  /** null: the reservation had already expired or been released (the event is tracked anyway). */
  releasedCents: Cents | null;
}

/** A rule broken by booked usage (policyBreaches()). */
export interface PolicyBreach {
  customerId: string;
  policyId: string;
  rule: 'budget_exceeded' | 'min_margin' | 'max_run_cost' | 'max_agent_cost';
  period: string | null;
  subject: string | null;
  costCents: Cents;
  revenueCents: Cents;
  limit: string;
}

/** How a rate-card pull fetches (defaults: 30 s timeout, 3 retries from 500 ms, 64 MiB). */
export interface SyncOptions {
  timeoutMs?: number;
  retries?: number;
  backoffMs?: number;
  maxBytes?: number;
}

/** One card a pull published, with its diff against the card in force before it. */
export interface PublishedCard {
  /** SHA-256 of the registry file (hex). */
  content: string;
  effectiveFromMs: number;
  snapshot: string;
  from: string;
  added: string[];
  removed: string[];
  repriced: string[];
}

/** What a pull did. */
export interface SyncReport {
  source: string;
  outcome: 'not_modified' | 'unchanged' | 'published';
  published: PublishedCard[];
}

/** A card in the data directory's history. */
export interface RateCardHistoryEntry {
  effectiveFromMs: number;
  content: string;
  models: number;
}

/** What a refresher has done. */
export interface RefresherStatus {
  pulls: number;
  last: null | { ok: true; report: SyncReport } | { ok: false; status: number; error: string };
}

/** A background refresher (Engine.startRefresher). */
export class Refresher {
  status(): RefresherStatus;
  /** Stops it (waits for a pull in progress); twice is a no-op. */
  stop(): void;
}

export class Engine {
  constructor(options?: EngineOptions);
  /** A durable engine on a data directory: every change journaled, recovered on reopen. */
  static open(dir: string, options?: StoreOptions): Engine;
  /** Writes a checkpoint of a durable engine (ERR_MISUSE on an in-memory one). */
  checkpoint(): void;
  /** Writes and fsyncs what a durable engine has buffered. */
  flush(): void;
  /** What recovery did when the durable engine was opened. */
  recovery(): Recovery;
  /** Creates an engine on a worker thread (parsing the rate card takes tens of ms). */
  static create(options?: EngineOptions): Promise<Engine>;
  /** Frees the engine; closing twice is a no-op. A forgotten engine is freed when collected. */
  close(): void;
  [Symbol.dispose](): void;
  priceJson(event: Event | RecordText): PriceResult;
  priceJsonAsync(event: Event | RecordText): Promise<PriceResult>;
  priceBatch(items: PriceItem[]): PriceOut[];
  priceBatchAsync(items: PriceItem[]): Promise<PriceOut[]>;
  /** Publishes a registry effective from `effectiveFromMs`; returns the snapshot id. */
  publishRateCard(rateCard: Buffer | string, effectiveFromMs: number): string;
  /**
   * publishRateCard() that also returns the registry's warnings: one per field that looks like
   * a rate but matches no rate name the engine knows (accepted, unused for pricing).
   */
  publishRateCardReport(rateCard: Buffer | string, effectiveFromMs: number): PublishResult;
  publishRateCardAsync(rateCard: Buffer | string, effectiveFromMs: number): Promise<string>;
  snapshots(): SnapshotInfo[];
  /** Custom prices for `model`: one registry entry object (or its JSON text). */
  setOverride(model: string, entry: Record<string, unknown> | string): void;
  removeOverride(model: string): boolean;
  /** Pins a snapshot (default: the one in force now). */
  pin(snapshotId?: string): Snapshot;
  /** Prices and applies one event exactly once; a rejected event throws and changes nothing. */
  track(event: Event | RecordText): IngestResult;
  trackAsync(event: Event | RecordText): Promise<IngestResult>;
  /** Extracts the usage of a raw provider response and tracks one event per line item. */
  trackResponse(provider: Provider, body: Buffer | string, context?: TrackContext, model?: string): IngestResult[];
  trackResponseAsync(provider: Provider, body: Buffer | string, context?: TrackContext, model?: string): Promise<IngestResult[]>;
  trackStream(stream: Stream, context?: TrackContext): IngestResult[];
  trackStreamAsync(stream: Stream, context?: TrackContext): Promise<IngestResult[]>;
  resolve(record: Resolution | RecordText): IngestResult;
  resolveAsync(record: Resolution | RecordText): Promise<IngestResult>;
  upsertCustomer(record: Customer | RecordText): IngestResult;
  upsertCustomerAsync(record: Customer | RecordText): Promise<IngestResult>;
  /** Pulls a registry (URL, directory of dated files, or file; null = LiteLLM's) into a durable engine. */
  pullRateCard(source?: string | null, options?: SyncOptions): SyncReport;
  pullRateCardAsync(source?: string | null, options?: SyncOptions): Promise<SyncReport>;
  /** The cards published into the data directory, oldest first. */
  rateCardHistory(): RateCardHistoryEntry[];
  /** Pulls in the background: now, then every intervalMs plus up to jitterMs (default 24 h + 15 min). */
  startRefresher(source?: string | null, options?: SyncOptions & { intervalMs?: number; jitterMs?: number }): Refresher;
  /** Creates or changes a guardrail policy; an invalid one throws ERR_INVALID_INPUT naming the field. */
  upsertPolicy(policy: Policy | RecordText): IngestResult;
  /** May this call be made now? Decided in-process from running sums. */
  allow(customerId: string, options?: AllowOptions): Decision;
  /** Tracks the real usage of a reserved call and releases the reservation. */
  settle(reservationId: number | bigint, event: Event | RecordText): Settlement;
  /** Frees a reservation; the cents it held, or null when it was not held. */
  release(reservationId: number | bigint): Cents | null;
  /** Rules broken by booked usage, per customer. */
  policyBreaches(): PolicyBreach[];
  margin(query?: MarginQuery): MarginRow[];
  marginAsync(query?: MarginQuery): Promise<MarginRow[]>;
  /** A report query computed by the engine (group-by, filters, sort, top, derived figures). */
  report(query?: ReportQuery): Report;
  /** The rows of report() as CSV (RFC 4180). */
  reportCsv(query?: ReportQuery): string;
  /** The rows of report() from the engine's JSON Lines. */
  reportJsonl(query?: ReportQuery): ReportRow[];
  /** O(1); throws ERR_NOT_FOUND for an unknown customer. */
  customerMargin(customerId: string): MarginNumbers;
  /** The whole ledger state as versioned, checksummed bytes (for stateRestore). */
  stateSave(): Buffer;
  stateSaveAsync(): Promise<Buffer>;
  /** @deprecated Renamed stateSave(). */
  stateSnapshot(): Buffer;
  /** Bad bytes throw ERR_STATE and load nothing. */
  stateRestore(state: Buffer): void;
  stateRestoreAsync(state: Buffer): Promise<void>;
}
