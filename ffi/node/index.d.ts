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
}>;

/** A decimal string of cents, exact (e.g. "0.4245"). */
export type Cents = string;

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

/** Usage fields of SPEC §2 plus the event fields pricing reads (camelCase, as on the wire). */
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
  reason: 'unknown_model' | 'no_token_price' | null;
  source: 'ratecard' | 'provider' | 'external' | 'unpriced';
  match: 'exact' | 'stripped' | 'alias' | 'inferred' | 'override' | null;
  warnings: string[];
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
  reason: 'unknown_model' | 'no_token_price' | null;
  warningCount: number;
}

export interface EngineOptions {
  /** A LiteLLM-format registry replacing the embedded one. */
  rateCard?: Buffer | string;
  /** -1 default (24 h), 0 forever, else milliseconds. */
  dedupeWindowMs?: number;
}

/** The engine. Safe to use concurrently (including the *Async methods). */
export class Engine {
  constructor(options?: EngineOptions);
  /** Frees the engine; closing twice is a no-op. */
  close(): void;
  priceJson(event: object | string | Buffer): PriceResult;
  priceJsonAsync(event: object | string | Buffer): Promise<PriceResult>;
  priceBatch(items: PriceItem[]): PriceOut[];
}
