'use strict';
// Node binding of the Tollgate engine's C ABI (include/tollgate.h), over koffi.
//
// Money is exact: amounts are decimal strings of cents (and BigInt mantissas inside the
// fixed-layout structs), never JavaScript numbers. The compiled engine ships inside the
// package (lib/<platform>-<arch>/); TOLLGATE_LIB overrides it (see loadLibrary). tg_abi_version()
// is checked at load.
//
// Thread-safety: an Engine may be used concurrently, including from koffi's async worker
// threads (the *Async methods). A Stream is used by one caller at a time.

const koffi = require('koffi');
const fs = require('node:fs');
const path = require('node:path');

const ABI_VERSION_MAJOR = 1;
const ABI_VERSION_MINOR = 1;
const ABI_VERSION = (ABI_VERSION_MAJOR << 16) | ABI_VERSION_MINOR;
const CENTS_SCALE = 24;

const Status = Object.freeze({
  OK: 0,
  ERR_NULL: 1,
  ERR_INVALID_HANDLE: 2,
  ERR_INVALID_UTF8: 3,
  ERR_INVALID_INPUT: 4,
  ERR_LIMIT: 5,
  ERR_BUFFER_TOO_SMALL: 6,
  ERR_RATE_CARD: 7,
  ERR_NOT_FOUND: 8,
  ERR_NO_USAGE: 9,
  ERR_STATE: 10,
  ERR_OVERFLOW: 11,
  ERR_TOO_LATE: 12,
  ERR_MISUSE: 13,
  ERR_PANIC: 14,
});
const STATUS_NAMES = Object.fromEntries(Object.entries(Status).map(([k, v]) => [v, `TG_${k}`]));

const TIMESTAMP_NONE = -1n;
const KINDS = { llm: 0, tool: 1, retrieval: 2 };
const TIERS = {
  default: 0, standard: 0, auto: 0, flex: 1, priority: 2, fast: 2, batch: 3, balanced: 4, ultrafast: 5,
};
const ITEM_HAS_PROVIDER_COST = 1;
const ITEM_HAS_EXTERNAL_COST = 2;
const SOURCES = ['ratecard', 'provider', 'external', 'unpriced'];
const MATCHES = [null, 'exact', 'stripped', 'alias', 'inferred', 'override'];
const REASONS = [null, 'unknown_model', 'no_token_price'];
const ERROR_MESSAGE_CAP = 512;
const ERROR_SIZE = 8 + ERROR_MESSAGE_CAP;
const MAX_BATCH_ITEMS = 1 << 16;
const RECORD_OUT_MAX = 4096;
const MARGIN_PCT_NONE = -(2n ** 63n);
// tg_report_query output formats.
const REPORT_JSON = 0;
const REPORT_CSV = 1;
const REPORT_JSONL = 2;

const LIB_NAME = { darwin: 'libtollgate_ffi.dylib', win32: 'tollgate_ffi.dll' }[process.platform] || 'libtollgate_ffi.so';

// Where the compiled engine is looked for, in order: TOLLGATE_LIB (a path to the library),
// the copy shipped in this package (lib/<platform>-<arch>/, put there by
// scripts/stage_bindings.sh before `npm pack`), then a repository checkout's target/release.
function libraryCandidates() {
  if (process.env.TOLLGATE_LIB) return [process.env.TOLLGATE_LIB];
  return [
    path.join(__dirname, 'lib', `${process.platform}-${process.arch}`, LIB_NAME),
    path.resolve(__dirname, '..', '..', 'target', 'release', LIB_NAME),
  ];
}

function loadLibrary() {
  const tried = [];
  for (const candidate of libraryCandidates()) {
    if (!process.env.TOLLGATE_LIB && !fs.existsSync(candidate)) {
      tried.push(`${candidate} (not found)`);
      continue;
    }
    try {
      return koffi.load(candidate);
    } catch (e) {
      tried.push(`${candidate} (${e.message})`);
    }
  }
  throw new Error(`tollgate-engine: cannot load the compiled engine for ${process.platform}-${process.arch}; tried:\n  ${tried.join('\n  ')}\n`
    + 'Set TOLLGATE_LIB to the path of libtollgate_ffi (cargo build --release -p tollgate-ffi), or install a package built for this platform.');
}

const lib = loadLibrary();

const tg_decimal = koffi.struct('tg_decimal', { hi: 'int64_t', lo: 'uint64_t' });
const tg_span = koffi.struct('tg_span', { offset: 'uint32_t', len: 'uint32_t' });
const tg_engine_options = koffi.struct('tg_engine_options', { dedupe_window_ms: 'int64_t', clock_ms: 'int64_t' });
const tg_price_item = koffi.struct('tg_price_item', {
  tokens_in: 'uint64_t',
  cached_tokens: 'uint64_t',
  cache_write_5m_tokens: 'uint64_t',
  cache_write_1h_tokens: 'uint64_t',
  audio_tokens_in: 'uint64_t',
  image_tokens_in: 'uint64_t',
  tokens_out: 'uint64_t',
  reasoning_tokens: 'uint64_t',
  audio_tokens_out: 'uint64_t',
  image_tokens_out: 'uint64_t',
  web_search_requests: 'uint64_t',
  tool_calls: 'uint64_t',
  timestamp_ms: 'int64_t',
  provider_cost_cents: tg_decimal,
  external_cost_cents: tg_decimal,
  provider: tg_span,
  model: tg_span,
  inference_geo: tg_span,
  speed: tg_span,
  kind: 'uint32_t',
  service_tier: 'uint32_t',
  flags: 'uint32_t',
  reserved: 'uint32_t',
});
const tg_margin = koffi.struct('tg_margin', {
  revenue_cents: tg_decimal,
  usage_revenue_cents: tg_decimal,
  outcome_revenue_cents: tg_decimal,
  subscription_revenue_cents: tg_decimal,
  cost_cents: tg_decimal,
  margin_cents: tg_decimal,
  margin_pct_hundredths: 'int64_t',
  events: 'uint64_t',
  unpriced_events: 'uint64_t',
  runs_open: 'uint64_t',
  runs_resolved: 'uint64_t',
  runs_escalated: 'uint64_t',
  runs_failed: 'uint64_t',
});
const tg_price_out = koffi.struct('tg_price_out', {
  cost_cents: tg_decimal,
  snapshot_id: 'uint64_t',
  status: 'int32_t',
  priced: 'uint32_t',
  source: 'uint32_t',
  match_kind: 'uint32_t',
  reason: 'uint32_t',
  warning_count: 'uint32_t',
});
const MARGIN_SIZE = koffi.sizeof(tg_margin);
const MARGIN_OFF = Object.fromEntries(['revenue_cents', 'usage_revenue_cents', 'outcome_revenue_cents', 'subscription_revenue_cents',
  'cost_cents', 'margin_cents', 'margin_pct_hundredths', 'events', 'unpriced_events', 'runs_open', 'runs_resolved',
  'runs_escalated', 'runs_failed'].map((k) => [k, koffi.offsetof(tg_margin, k)]));
const ITEM_SIZE = koffi.sizeof(tg_price_item);
const OUT_SIZE = koffi.sizeof(tg_price_out);
if (ITEM_SIZE !== 184 || OUT_SIZE !== 48) throw new Error('tollgate: struct layout mismatch');
const OFF = Object.fromEntries(Object.keys({
  tokens_in: 0, cached_tokens: 0, cache_write_5m_tokens: 0, cache_write_1h_tokens: 0, audio_tokens_in: 0,
  image_tokens_in: 0, tokens_out: 0, reasoning_tokens: 0, audio_tokens_out: 0, image_tokens_out: 0,
  web_search_requests: 0, tool_calls: 0, timestamp_ms: 0, provider_cost_cents: 0, external_cost_cents: 0,
  provider: 0, model: 0, inference_geo: 0, speed: 0, kind: 0, service_tier: 0, flags: 0, reserved: 0,
}).map((k) => [k, koffi.offsetof(tg_price_item, k)]));

koffi.opaque('tg_engine');
koffi.opaque('tg_snapshot');
koffi.opaque('tg_stream');

// Every C function, with its exact prototype. Pointers to caller memory are `void *` or
// `uint8_t *` and receive Buffers, so no copy is made.
const c = {
  tg_abi_version: lib.func('uint32_t tg_abi_version(void)'),
  tg_status_str: lib.func('const char *tg_status_str(int32_t status)'),
  tg_decimal_format: lib.func('int32_t tg_decimal_format(tg_decimal value, uint8_t *out, size_t out_cap, _Out_ size_t *out_len)'),
  tg_decimal_parse: lib.func('int32_t tg_decimal_parse(const uint8_t *text, size_t text_len, void *out, void *err)'),
  tg_engine_options_default: lib.func('tg_engine_options tg_engine_options_default(void)'),
  tg_engine_new: lib.func('int32_t tg_engine_new(const tg_engine_options *options, const uint8_t *rate_card, size_t rate_card_len, _Out_ tg_engine **out, void *err)'),
  tg_engine_free: lib.func('void tg_engine_free(tg_engine *engine)'),
  tg_price_json: lib.func('int32_t tg_price_json(const tg_engine *engine, const uint8_t *event, size_t event_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_price_batch: lib.func('int32_t tg_price_batch(const tg_engine *engine, const void *items, size_t item_count, const uint8_t *names, size_t names_len, void *results, void *err)'),
  tg_engine_publish_rate_card: lib.func('int32_t tg_engine_publish_rate_card(const tg_engine *engine, const uint8_t *rate_card, size_t rate_card_len, int64_t effective_from_ms, _Out_ uint64_t *out_snapshot_id, void *err)'),
  tg_engine_snapshots_json: lib.func('int32_t tg_engine_snapshots_json(const tg_engine *engine, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_engine_set_override: lib.func('int32_t tg_engine_set_override(const tg_engine *engine, const uint8_t *model, size_t model_len, const uint8_t *entry, size_t entry_len, void *err)'),
  tg_engine_remove_override: lib.func('int32_t tg_engine_remove_override(const tg_engine *engine, const uint8_t *model, size_t model_len, _Out_ uint32_t *out_removed, void *err)'),
  tg_snapshot_pin: lib.func('int32_t tg_snapshot_pin(const tg_engine *engine, uint64_t snapshot_id, _Out_ const tg_snapshot **out, void *err)'),
  tg_snapshot_info: lib.func('int32_t tg_snapshot_info(const tg_snapshot *snapshot, _Out_ uint64_t *out_id, _Out_ int64_t *out_effective_from_ms, void *err)'),
  tg_snapshot_price_json: lib.func('int32_t tg_snapshot_price_json(const tg_snapshot *snapshot, const uint8_t *event, size_t event_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_snapshot_price_batch: lib.func('int32_t tg_snapshot_price_batch(const tg_snapshot *snapshot, const void *items, size_t item_count, const uint8_t *names, size_t names_len, void *results, void *err)'),
  tg_snapshot_unpin: lib.func('void tg_snapshot_unpin(const tg_snapshot *snapshot)'),
  tg_usage_extract: lib.func('int32_t tg_usage_extract(const uint8_t *provider, size_t provider_len, const uint8_t *model, size_t model_len, const uint8_t *body, size_t body_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_stream_new: lib.func('int32_t tg_stream_new(const uint8_t *provider, size_t provider_len, const uint8_t *model, size_t model_len, _Out_ tg_stream **out, void *err)'),
  tg_stream_feed: lib.func('int32_t tg_stream_feed(tg_stream *stream, const uint8_t *chunk, size_t chunk_len, void *err)'),
  tg_stream_finish: lib.func('int32_t tg_stream_finish(tg_stream *stream, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_stream_free: lib.func('void tg_stream_free(tg_stream *stream)'),
  tg_track_json: lib.func('int32_t tg_track_json(const tg_engine *engine, const uint8_t *event, size_t event_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_track_response: lib.func('int32_t tg_track_response(const tg_engine *engine, const uint8_t *provider, size_t provider_len, const uint8_t *model, size_t model_len, const uint8_t *body, size_t body_len, const uint8_t *context, size_t context_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_stream_track: lib.func('int32_t tg_stream_track(const tg_engine *engine, tg_stream *stream, const uint8_t *context, size_t context_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_resolve_json: lib.func('int32_t tg_resolve_json(const tg_engine *engine, const uint8_t *record, size_t record_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_upsert_customer_json: lib.func('int32_t tg_upsert_customer_json(const tg_engine *engine, const uint8_t *record, size_t record_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_margin_query_json: lib.func('int32_t tg_margin_query_json(const tg_engine *engine, const uint8_t *query, size_t query_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_report_query: lib.func('int32_t tg_report_query(const tg_engine *engine, const uint8_t *query, size_t query_len, uint32_t format, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_customer_margin: lib.func('int32_t tg_customer_margin(const tg_engine *engine, const uint8_t *customer_id, size_t customer_id_len, void *out, void *err)'),
  tg_state_snapshot: lib.func('int32_t tg_state_snapshot(const tg_engine *engine, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_state_restore: lib.func('int32_t tg_state_restore(const tg_engine *engine, const uint8_t *state, size_t state_len, void *err)'),
};

function abiVersion() {
  return c.tg_abi_version();
}

{
  const v = abiVersion();
  if (v >>> 16 !== ABI_VERSION_MAJOR || v < ABI_VERSION) {
    throw new Error(`tollgate: library ABI ${v >>> 16}.${v & 0xffff} is incompatible with this binding (needs ${ABI_VERSION_MAJOR}.${ABI_VERSION_MINOR}+)`);
  }
}

function statusString(status) {
  return c.tg_status_str(status);
}

/** A failed call: `status` is the C status code, `code` its TG_ERR_* name. */
class TollgateError extends Error {
  constructor(status, detail) {
    const code = STATUS_NAMES[status] || `status ${status}`;
    super(`${code}: ${detail || statusString(status)}`);
    this.name = 'TollgateError';
    this.status = status;
    this.code = code;
    this.detail = detail || statusString(status);
  }
}

function errorFrom(status, errBuf) {
  let detail = '';
  if (errBuf && errBuf.readInt32LE(0) === status) {
    detail = errBuf.toString('utf8', 8, 8 + errBuf.readUInt32LE(4));
  }
  return new TollgateError(status, detail);
}

function toBytes(value) {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function len(buf) {
  return buf ? buf.length : 0;
}

/** Exact decimal text of a (hi, lo) mantissa of 10^-24 cent. */
function centsFromRaw(hi, lo) {
  let m = (BigInt(hi) << 64n) | BigInt(lo);
  const neg = m < 0n;
  if (neg) m = -m;
  const digits = m.toString().padStart(CENTS_SCALE + 1, '0');
  const whole = digits.slice(0, -CENTS_SCALE);
  const frac = digits.slice(-CENTS_SCALE).replace(/0+$/, '');
  return (neg ? '-' : '') + whole + (frac ? `.${frac}` : '');
}

/** Parses exact decimal text of cents into { hi, lo } (BigInt); never rounds. */
function centsToRaw(text) {
  const t = Buffer.from(String(text), 'utf8');
  const out = Buffer.alloc(16);
  const err = Buffer.alloc(ERROR_SIZE);
  const s = c.tg_decimal_parse(t, t.length, out, err);
  if (s !== Status.OK) throw errorFrom(s, err);
  return { hi: out.readBigInt64LE(0), lo: out.readBigUInt64LE(8) };
}

// Runs call(out, cap, outLen, err), growing the buffer to the needed length reported by
// TG_ERR_BUFFER_TOO_SMALL.
function callBuffered(call, initial) {
  let cap = initial;
  for (let i = 0; i < 8; i++) {
    const out = Buffer.allocUnsafe(cap);
    const n = [0];
    const err = Buffer.alloc(ERROR_SIZE);
    const s = call(out, cap, n, err);
    if (s === Status.OK) return out.subarray(0, Number(n[0]));
    if (s !== Status.ERR_BUFFER_TOO_SMALL) throw errorFrom(s, err);
    cap = Math.max(Number(n[0]), cap * 2);
  }
  throw new TollgateError(Status.ERR_BUFFER_TOO_SMALL, 'output kept growing');
}

// koffi runs async calls on a bounded pool and refuses calls beyond it; queue them here
// instead, so callers may start any number at once.
const MAX_ASYNC_IN_FLIGHT = 16;
let asyncInFlight = 0;
const asyncWaiting = [];

function acquireAsyncSlot() {
  if (asyncInFlight < MAX_ASYNC_IN_FLIGHT) {
    asyncInFlight++;
    return Promise.resolve();
  }
  return new Promise((resolve) => asyncWaiting.push(resolve));
}

function releaseAsyncSlot() {
  const next = asyncWaiting.shift();
  if (next) next();
  else asyncInFlight--;
}

async function callBufferedAsync(fn, args, initial) {
  await acquireAsyncSlot();
  try {
    return await new Promise((resolve, reject) => {
      const attempt = (cap, tries) => {
        const out = Buffer.allocUnsafe(cap);
        const n = [0];
        const err = Buffer.alloc(ERROR_SIZE);
        fn.async(...args, out, cap, n, err, (e, s) => {
          if (e) return reject(e);
          if (s === Status.OK) return resolve(out.subarray(0, Number(n[0])));
          if (s !== Status.ERR_BUFFER_TOO_SMALL || tries > 8) return reject(errorFrom(s, err));
          return attempt(Math.max(Number(n[0]), cap * 2), tries + 1);
        });
      };
      attempt(initial, 0);
    });
  } finally {
    releaseAsyncSlot();
  }
}

class Names {
  constructor() {
    this.parts = [];
    this.length = 0;
    this.seen = new Map();
  }

  span(name) {
    if (name === null || name === undefined || name === '') return [0, 0];
    let hit = this.seen.get(name);
    if (!hit) {
      const b = Buffer.from(name, 'utf8');
      hit = [this.length, b.length];
      this.parts.push(b);
      this.length += b.length;
      this.seen.set(name, hit);
    }
    return hit;
  }

  bytes() {
    return Buffer.concat(this.parts, this.length);
  }
}

const COUNT_FIELDS = [
  ['tokensIn', 'tokens_in'], ['cachedTokens', 'cached_tokens'], ['cacheWrite5mTokens', 'cache_write_5m_tokens'],
  ['cacheWrite1hTokens', 'cache_write_1h_tokens'], ['audioTokensIn', 'audio_tokens_in'],
  ['imageTokensIn', 'image_tokens_in'], ['tokensOut', 'tokens_out'], ['reasoningTokens', 'reasoning_tokens'],
  ['audioTokensOut', 'audio_tokens_out'], ['imageTokensOut', 'image_tokens_out'],
  ['webSearchRequests', 'web_search_requests'], ['toolCalls', 'tool_calls'],
];

function writeItem(buf, base, item, names) {
  for (const [js, cName] of COUNT_FIELDS) {
    const v = item[js];
    if (v === undefined || v === null) continue;
    const b = BigInt(v);
    if (b < 0n || b > 0xffffffffffffffffn) throw new TollgateError(Status.ERR_INVALID_INPUT, `${js}: must be a non-negative integer`);
    buf.writeBigUInt64LE(b, base + OFF[cName]);
  }
  const ts = item.timestamp === undefined || item.timestamp === null ? TIMESTAMP_NONE : BigInt(item.timestamp);
  buf.writeBigInt64LE(ts, base + OFF.timestamp_ms);
  let flags = 0;
  if (item.providerCostCents !== undefined && item.providerCostCents !== null) {
    const d = centsToRaw(item.providerCostCents);
    buf.writeBigInt64LE(d.hi, base + OFF.provider_cost_cents);
    buf.writeBigUInt64LE(d.lo, base + OFF.provider_cost_cents + 8);
    flags |= ITEM_HAS_PROVIDER_COST;
  }
  if (item.externalCostCents !== undefined && item.externalCostCents !== null) {
    const d = centsToRaw(item.externalCostCents);
    buf.writeBigInt64LE(d.hi, base + OFF.external_cost_cents);
    buf.writeBigUInt64LE(d.lo, base + OFF.external_cost_cents + 8);
    flags |= ITEM_HAS_EXTERNAL_COST;
  }
  for (const [js, cName] of [['provider', 'provider'], ['model', 'model'], ['inferenceGeo', 'inference_geo'], ['speed', 'speed']]) {
    const [off, n] = names.span(item[js]);
    buf.writeUInt32LE(off, base + OFF[cName]);
    buf.writeUInt32LE(n, base + OFF[cName] + 4);
  }
  const kind = KINDS[item.type || 'llm'];
  const tier = TIERS[String(item.serviceTier || 'default').toLowerCase()];
  if (kind === undefined || tier === undefined) {
    throw new TollgateError(Status.ERR_INVALID_INPUT, `unknown type or serviceTier: ${item.type} ${item.serviceTier}`);
  }
  buf.writeUInt32LE(kind, base + OFF.kind);
  buf.writeUInt32LE(tier, base + OFF.service_tier);
  buf.writeUInt32LE(flags, base + OFF.flags);
}

function readOut(buf, base) {
  const status = buf.readInt32LE(base + 24);
  const source = buf.readUInt32LE(base + 32);
  const match = buf.readUInt32LE(base + 36);
  const reason = buf.readUInt32LE(base + 40);
  return {
    status,
    error: status === Status.OK ? null : new TollgateError(status),
    costCents: centsFromRaw(buf.readBigInt64LE(base), buf.readBigUInt64LE(base + 8)),
    snapshot: buf.readBigUInt64LE(base + 16).toString(16).padStart(16, '0'),
    priced: buf.readUInt32LE(base + 28) === 1,
    source: SOURCES[source] ?? null,
    match: MATCHES[match] ?? null,
    reason: REASONS[reason] ?? null,
    warningCount: buf.readUInt32LE(base + 44),
  };
}

class Engine {
  /**
   * @param {{rateCard?: Buffer|string, dedupeWindowMs?: number}} [options]
   */
  constructor(options = {}) {
    const opts = c.tg_engine_options_default();
    if (options.dedupeWindowMs !== undefined) opts.dedupe_window_ms = options.dedupeWindowMs;
    if (options.clockMs !== undefined) opts.clock_ms = options.clockMs;
    const card = toBytes(options.rateCard);
    const out = [null];
    const err = Buffer.alloc(ERROR_SIZE);
    const s = c.tg_engine_new(opts, card, len(card), out, err);
    if (s !== Status.OK) throw errorFrom(s, err);
    this._handle = out[0];
    this._busy = 0;
  }

  _h() {
    if (this._handle === null) throw new TollgateError(Status.ERR_INVALID_HANDLE, 'engine is closed');
    return this._handle;
  }

  /** Frees the engine. Closing twice is a no-op; pending async calls must finish first. */
  close() {
    if (this._busy > 0) throw new TollgateError(Status.ERR_MISUSE, 'engine has async calls in flight');
    if (this._handle !== null) {
      c.tg_engine_free(this._handle);
      this._handle = null;
    }
  }

  async _async(fn, args, initial) {
    const h = this._h();
    this._busy++;
    try {
      return await callBufferedAsync(fn, [h, ...args], initial);
    } finally {
      this._busy--;
    }
  }

  /** Prices one event (object or JSON text); returns the result object (costCents a string). */
  priceJson(event) {
    const h = this._h();
    const ev = toBytes(event);
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_price_json(h, ev, len(ev), o, cap, n, e), 512));
  }

  /** priceJson on one of koffi's worker threads. */
  async priceJsonAsync(event) {
    const ev = toBytes(event);
    return JSON.parse(await this._async(c.tg_price_json, [ev, len(ev)], 512));
  }

  /** Prices many usages (camelCase event fields) in one call. */
  priceBatch(items) {
    return priceBatchWith(c.tg_price_batch, this._h(), items);
  }

  _status(fn, ...args) {
    const err = Buffer.alloc(ERROR_SIZE);
    const s = fn(this._h(), ...args, err);
    if (s !== Status.OK) throw errorFrom(s, err);
  }

  /**
   * Publishes a LiteLLM-format registry effective from `effectiveFromMs`; returns the new
   * snapshot id (16 hex digits). A bad card throws (ERR_RATE_CARD) and changes nothing.
   */
  publishRateCard(rateCard, effectiveFromMs) {
    const card = toBytes(rateCard);
    const id = [0n];
    this._status(c.tg_engine_publish_rate_card, card, len(card), effectiveFromMs, id);
    return BigInt(id[0]).toString(16).padStart(16, '0');
  }

  /** The published snapshots, oldest first. */
  snapshots() {
    const h = this._h();
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_engine_snapshots_json(h, o, cap, n, e), 256)).snapshots;
  }

  /** Custom prices for `model` (one registry entry object), over every snapshot. */
  setOverride(model, entry) {
    const m = toBytes(model);
    const e = toBytes(entry);
    this._status(c.tg_engine_set_override, m, len(m), e, len(e));
  }

  /** Removes the override of `model`; true if there was one. */
  removeOverride(model) {
    const m = toBytes(model);
    const removed = [0];
    this._status(c.tg_engine_remove_override, m, len(m), removed);
    return removed[0] === 1;
  }

  _record(fn, record) {
    const h = this._h();
    const r = toBytes(record);
    return JSON.parse(callBuffered((o, cap, n, e) => fn(h, r, len(r), o, cap, n, e), RECORD_OUT_MAX));
  }

  /**
   * Prices and applies one event exactly once: {status: 'accepted', costCents, revenueCents,
   * priced, snapshot, warnings} | {status: 'duplicate'} | {status: 'conflict', reason}. A
   * rejected event throws (ERR_INVALID_INPUT, ERR_TOO_LATE, ERR_OVERFLOW) and changes nothing.
   */
  track(event) {
    return this._record(c.tg_track_json, event);
  }

  /** track() on one of koffi's worker threads. */
  async trackAsync(event) {
    const ev = toBytes(event);
    return JSON.parse(await this._async(c.tg_track_json, [ev, len(ev)], RECORD_OUT_MAX));
  }

  /**
   * Reads the usage off a raw provider response and tracks one event per line item with
   * `context` (customerId, runId, agentId, idempotencyKey, timestamp, revenueUnitCents, units,
   * outcome, externalCostCents). Returns one result per line item.
   */
  trackResponse(provider, body, context, model) {
    const h = this._h();
    const p = toBytes(provider);
    const m = model ? toBytes(model) : null;
    const b = toBytes(body);
    const ctx = context === undefined ? null : toBytes(context);
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_track_response(h, p, len(p), m, len(m), len(b) ? b : null, len(b), ctx, len(ctx), o, cap, n, e), 16 + RECORD_OUT_MAX)).results;
  }

  /** trackResponse() for a response read through a Stream (finishes it). */
  trackStream(stream, context) {
    const h = this._h();
    const s = stream._h();
    const ctx = context === undefined ? null : toBytes(context);
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_stream_track(h, s, ctx, len(ctx), o, cap, n, e), 16 + RECORD_OUT_MAX)).results;
  }

  /** Resolves a run: {runId, customerId, outcome, revenueUnitCents?, timestamp?}. */
  resolve(record) {
    return this._record(c.tg_resolve_json, record);
  }

  /** Creates or changes a customer: {customerId, name?, seats?, plan?, timestamp?}. */
  upsertCustomer(record) {
    return this._record(c.tg_upsert_customer_json, record);
  }

  /** Margin rows for a query (filters and groupBy). */
  margin(query) {
    const h = this._h();
    const q = query === undefined ? null : toBytes(query);
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_margin_query_json(h, q, len(q), o, cap, n, e), 4096)).rows;
  }

  _report(query, format) {
    const h = this._h();
    const q = query === undefined || query === null ? null : toBytes(query);
    return callBuffered((o, cap, n, e) => c.tg_report_query(h, q, len(q), format, o, cap, n, e), 16384);
  }

  /**
   * A report query computed by the engine, like `tollgate report`: filters (customerId, runId,
   * agentId, model, provider, outcome, from, to), groupBy, sort ('margin:asc'…) and top.
   * Returns {query, totals, rows, groups, unpriced, breaches, window}; amounts are exact
   * decimal strings of cents.
   */
  report(query) {
    return JSON.parse(this._report(query, REPORT_JSON));
  }

  /** The rows of report() as CSV (RFC 4180: header row, quoting, CRLF line ends). */
  reportCsv(query) {
    return this._report(query, REPORT_CSV).toString('utf8');
  }

  /** The rows of report(), read from the engine's JSON Lines output. */
  reportJsonl(query) {
    return this._report(query, REPORT_JSONL).toString('utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  }

  /** A customer's current margin in O(1); throws ERR_NOT_FOUND for an unknown customer. */
  customerMargin(customerId) {
    const id = toBytes(customerId);
    // Read from raw bytes with BigInt: 64-bit fields must not pass through JS numbers.
    const b = Buffer.alloc(MARGIN_SIZE);
    this._status(c.tg_customer_margin, id, len(id), b);
    const dec = (field) => centsFromRaw(b.readBigInt64LE(MARGIN_OFF[field]), b.readBigUInt64LE(MARGIN_OFF[field] + 8));
    const u64 = (field) => Number(b.readBigUInt64LE(MARGIN_OFF[field]));
    const pct = b.readBigInt64LE(MARGIN_OFF.margin_pct_hundredths);
    let marginPct = null;
    if (pct !== MARGIN_PCT_NONE) {
      const a = pct < 0n ? -pct : pct;
      marginPct = `${pct < 0n ? '-' : ''}${a / 100n}.${String(a % 100n).padStart(2, '0')}`;
    }
    return {
      revenueCents: dec('revenue_cents'),
      usageRevenueCents: dec('usage_revenue_cents'),
      outcomeRevenueCents: dec('outcome_revenue_cents'),
      subscriptionRevenueCents: dec('subscription_revenue_cents'),
      costCents: dec('cost_cents'),
      marginCents: dec('margin_cents'),
      marginPct,
      events: u64('events'),
      unpricedEvents: u64('unpriced_events'),
      runs: { open: u64('runs_open'), resolved: u64('runs_resolved'), escalated: u64('runs_escalated'), failed: u64('runs_failed') },
    };
  }

  /** The whole ledger state as versioned, checksummed bytes. */
  stateSnapshot() {
    const h = this._h();
    return Buffer.from(callBuffered((o, cap, n, e) => c.tg_state_snapshot(h, o, cap, n, e), 1 << 16));
  }

  /** Replaces the ledger with restored state; bad bytes throw ERR_STATE and load nothing. */
  stateRestore(state) {
    const b = toBytes(state);
    this._status(c.tg_state_restore, len(b) ? b : null, len(b));
  }

  /** Pins a published snapshot (default: the one in force now) with the current overrides. */
  pin(snapshotId) {
    const out = [null];
    this._status(c.tg_snapshot_pin, snapshotId ? BigInt(`0x${snapshotId}`) : 0n, out);
    return new Snapshot(out[0]);
  }
}

function priceBatchWith(fn, h, items) {
  if (items.length > MAX_BATCH_ITEMS) throw new TollgateError(Status.ERR_LIMIT, `${items.length} items exceeds ${MAX_BATCH_ITEMS}`);
  const names = new Names();
  const buf = Buffer.alloc(items.length * ITEM_SIZE);
  items.forEach((it, i) => writeItem(buf, i * ITEM_SIZE, it, names));
  const arena = names.bytes();
  const out = Buffer.alloc(items.length * OUT_SIZE);
  const err = Buffer.alloc(ERROR_SIZE);
  const s = fn(h, items.length ? buf : null, items.length, arena.length ? arena : null, arena.length, items.length ? out : null, err);
  if (s !== Status.OK) throw errorFrom(s, err);
  const results = new Array(items.length);
  for (let i = 0; i < items.length; i++) results[i] = readOut(out, i * OUT_SIZE);
  return results;
}

/**
 * A pinned snapshot: prices with exactly one rate card (and the overrides at pin time),
 * whatever the event timestamps. Safe to use concurrently; unpin() releases it.
 */
class Snapshot {
  constructor(handle) {
    this._handle = handle;
    const id = [0n];
    const from = [0n];
    const s = c.tg_snapshot_info(handle, id, from, null);
    if (s !== Status.OK) throw new TollgateError(s);
    this.id = BigInt(id[0]).toString(16).padStart(16, '0');
    this.effectiveFromMs = Number(from[0]);
  }

  _h() {
    if (this._handle === null) throw new TollgateError(Status.ERR_INVALID_HANDLE, 'snapshot is unpinned');
    return this._handle;
  }

  priceJson(event) {
    const h = this._h();
    const ev = toBytes(event);
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_snapshot_price_json(h, ev, len(ev), o, cap, n, e), 512));
  }

  priceBatch(items) {
    return priceBatchWith(c.tg_snapshot_price_batch, this._h(), items);
  }

  /** Releases the snapshot; twice is a no-op. */
  unpin() {
    if (this._handle !== null) {
      c.tg_snapshot_unpin(this._handle);
      this._handle = null;
    }
  }
}

/**
 * Reads the usage off one raw provider response (JSON, SSE, JSON Lines or AWS event-stream
 * bytes); returns its line items (the `tollgate usage` shape). A response without usage
 * throws ERR_NO_USAGE: never zero tokens.
 */
function extractUsage(provider, body, model) {
  const p = toBytes(provider);
  const m = model ? toBytes(model) : null;
  const b = toBytes(body);
  return JSON.parse(callBuffered((o, cap, n, e) => c.tg_usage_extract(p, len(p), m, len(m), len(b) ? b : null, len(b), o, cap, n, e), 1024)).lineItems;
}

/** A streaming usage reader: feed() chunks split anywhere, then finish(). One caller at a time. */
class Stream {
  constructor(provider, model) {
    const p = toBytes(provider);
    const m = model ? toBytes(model) : null;
    const out = [null];
    const err = Buffer.alloc(ERROR_SIZE);
    const s = c.tg_stream_new(p, len(p), m, len(m), out, err);
    if (s !== Status.OK) throw errorFrom(s, err);
    this._handle = out[0];
  }

  _h() {
    if (this._handle === null) throw new TollgateError(Status.ERR_INVALID_HANDLE, 'stream is closed');
    return this._handle;
  }

  feed(chunk) {
    const b = toBytes(chunk);
    const err = Buffer.alloc(ERROR_SIZE);
    const s = c.tg_stream_feed(this._h(), len(b) ? b : null, len(b), err);
    if (s !== Status.OK) throw errorFrom(s, err);
  }

  /** The line items (computed once; calling again returns them again). */
  finish() {
    const h = this._h();
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_stream_finish(h, o, cap, n, e), 1024)).lineItems;
  }

  /** Frees the stream; twice is a no-op. */
  close() {
    if (this._handle !== null) {
      c.tg_stream_free(this._handle);
      this._handle = null;
    }
  }
}

module.exports = {
  ABI_VERSION_MAJOR,
  ABI_VERSION_MINOR,
  CENTS_SCALE,
  Status,
  Engine,
  Snapshot,
  Stream,
  TollgateError,
  extractUsage,
  abiVersion,
  statusString,
  centsFromRaw,
  centsToRaw,
  // The raw C functions, for tests that exercise the ABI directly.
  _c: c,
  _ERROR_SIZE: ERROR_SIZE,
};
