// Types of tollgate-engine/wrappers: wrap a provider SDK client once; every call is tracked.
import type { Engine, IngestResult } from './index';
import { GuardBlocked } from './index';
export { GuardBlocked };

/** A line item as the engine read it off the response: counts and names, never content. */
export interface TrackedLineItem {
  provider: string;
  model: string;
  tokensIn: number;
  cachedTokens: number;
  cacheWrite5mTokens: number;
  cacheWrite1hTokens: number;
  tokensOut: number;
  reasoningTokens: number | null;
  responseId: string | null;
  reportedCostCents?: string;
  [field: string]: unknown;
}

/** A value, or a function of the tracked line item (undefined/null: not set). */
export type Option<T> = T | ((item: TrackedLineItem) => T | null | undefined);
/** Exact cents: a decimal string, an integer or a bigint (fractional numbers are refused). */
export type Cents = string | number | bigint;

export interface WrapOptions {
  customerId: Option<string>;
  agentId?: Option<string>;
  runId?: Option<string>;
  revenueUnitCents?: Option<Cents>;
  /** A stated cost instead of the rate card; 'reported' takes the gateway's (OpenRouter usage.cost). */
  providerCostCents?: Option<Cents> | 'reported';
  /** 'openai_compatible' for OpenAI-compatible gateways and servers (wrapOpenAI only). */
  provider?: 'openai' | 'openai_compatible' | 'anthropic' | 'bedrock' | 'gemini';
  /** Receives every tracking failure; default: process.emitWarning. Never the caller. */
  onError?: (err: TrackingError) => void;
  /**
   * Ask the engine's allow() before each call (customerId, agentId and runId must then be
   * values). true / 'block': a 'block' decision rejects with GuardBlocked and the provider is
   * not called; 'downgrade': a 'downgrade' decision also sends the suggested model. The object
   * form adds the estimate allow() judges the call by (without one the call fits while the
   * budget has something left). If allow() fails, the call goes ahead and onError is told.
   */
  guard?: GuardOption;
}

export type GuardOption =
  | boolean
  | 'block'
  | 'downgrade'
  | {
      mode?: boolean | 'block' | 'downgrade';
      /** Expected usage (tokensIn, tokensOut, …), priced by the engine per candidate model. */
      usage?: Record<string, unknown>;
      /** The estimate in exact cents (text, bigint or an integer). */
      estimatedCostCents?: string | bigint | number;
    };

export class TrackingError extends Error {
  readonly kind: 'no_usage' | 'truncated' | 'rejected' | 'engine' | 'option';
  readonly provider: string;
  readonly model: string | null;
  readonly cause: unknown;
  readonly record: TruncatedRecord | null;
}

export interface TruncatedRecord {
  type: 'truncated';
  provider: string;
  model: string | null;
  requestId: string | null;
  bytesSeen: number;
  reason: string;
  customerId?: string;
  runId?: string;
  agentId?: string;
}

/** The ledger event booked for a truncated call: unpriced, its usage and cost unknown. */
export interface TruncatedEvent {
  type: 'truncated';
  customerId: string;
  agentId?: string;
  runId?: string;
  revenueUnitCents?: string;
  provider: string;
  model?: string;
  idempotencyKey: string;
}

/**
 * A response that ended before the provider reported its usage (stopped, broken, dropped):
 * booked as an explicit `truncated` event (`event`, `result`: the ledger's answer, null when
 * booking failed and `cause` says why), reported as this warning.
 */
export class StreamTruncated extends TrackingError {
  readonly record: TruncatedRecord;
  readonly event: TruncatedEvent | null;
  readonly result: IngestResult | null;
}

/** A fetch-compatible function, as the SDKs take it. */
type FetchLike = (input: any, init?: any) => Promise<any>;

interface FetchClient {
  withOptions(options: { fetch?: FetchLike }): unknown;
}

/** A copy of an `openai` client whose Chat Completions / Responses / Completions calls are tracked. */
export function wrapOpenAI<C extends FetchClient>(client: C, engine: Engine, options: WrapOptions): C;
/** A copy of an `@anthropic-ai/sdk` client whose Messages calls are tracked. */
export function wrapAnthropic<C extends FetchClient>(client: C, engine: Engine, options: WrapOptions): C;
/** A new `GoogleGenAI` with the client's settings whose generateContent(Stream) calls are tracked. */
export function wrapGemini<C extends object>(client: C, engine: Engine, options: WrapOptions): C;
/** A view of a `BedrockRuntimeClient` whose `send` tracks Converse(Stream) and InvokeModel(WithResponseStream). */
export function wrapBedrock<C extends { send(...args: any[]): Promise<any> }>(client: C, engine: Engine, options: WrapOptions): C;
/** Books a run's outcome. */
export function resolve(
  engine: Engine,
  runId: string,
  customerId: string,
  outcome?: 'resolved' | 'escalated' | 'failed',
  options?: { revenueUnitCents?: Cents; timestamp?: string | number },
): IngestResult;
