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
const ABI_VERSION_MINOR = 1; // 1.1: tg_decimals_format, tg_state_save, tg_report_query
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
  ERR_IO: 15,
  ERR_LOCKED: 16,
});
const DURABILITY = { sync: 0, interval: 1, none: 2 };
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
const REASONS = [null, 'unknown_model', 'no_token_price', 'truncated'];
const ERROR_MESSAGE_CAP = 512;
const ERROR_SIZE = 8 + ERROR_MESSAGE_CAP;
const MAX_BATCH_ITEMS = 1 << 16;
const RECORD_OUT_MAX = 4096;
const DECISION_JSON_MAX = 8192;
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
const tg_store_options = koffi.struct('tg_store_options', {
  durability: 'int32_t', interval_ms: 'int64_t', dedupe_window_ms: 'int64_t', checkpoint_bytes: 'int64_t',
});
const tg_sync_options = koffi.struct('tg_sync_options', {
  timeout_ms: 'uint64_t', retries: 'uint32_t', reserved: 'uint32_t', backoff_ms: 'uint64_t', max_bytes: 'uint64_t',
});
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
koffi.opaque('tg_sync_report');
koffi.opaque('tg_refresher');

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
  tg_store_options_default: lib.func('tg_store_options tg_store_options_default(void)'),
  tg_engine_open: lib.func('int32_t tg_engine_open(const uint8_t *dir, size_t dir_len, const tg_store_options *options, _Out_ tg_engine **out, void *err)'),
  tg_engine_checkpoint: lib.func('int32_t tg_engine_checkpoint(const tg_engine *engine, void *err)'),
  tg_engine_flush: lib.func('int32_t tg_engine_flush(const tg_engine *engine, void *err)'),
  tg_engine_recovery_json: lib.func('int32_t tg_engine_recovery_json(const tg_engine *engine, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_engine_close: lib.func('int32_t tg_engine_close(tg_engine *engine, void *err)'),
  tg_price_json: lib.func('int32_t tg_price_json(const tg_engine *engine, const uint8_t *event, size_t event_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_price_batch: lib.func('int32_t tg_price_batch(const tg_engine *engine, const void *items, size_t item_count, const uint8_t *names, size_t names_len, void *results, void *err)'),
  tg_engine_publish_rate_card: lib.func('int32_t tg_engine_publish_rate_card(const tg_engine *engine, const uint8_t *rate_card, size_t rate_card_len, int64_t effective_from_ms, _Out_ uint64_t *out_snapshot_id, void *err)'),
  tg_engine_publish_rate_card_json: lib.func('int32_t tg_engine_publish_rate_card_json(const tg_engine *engine, const uint8_t *rate_card, size_t rate_card_len, int64_t effective_from_ms, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
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
  tg_state_save: lib.func('int32_t tg_state_save(const tg_engine *engine, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_state_restore: lib.func('int32_t tg_state_restore(const tg_engine *engine, const uint8_t *state, size_t state_len, void *err)'),
  tg_decimals_format: lib.func('int32_t tg_decimals_format(const void *base, size_t count, size_t stride, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_sync_options_default: lib.func('tg_sync_options tg_sync_options_default(void)'),
  tg_ratecard_pull: lib.func('int32_t tg_ratecard_pull(const tg_engine *engine, const uint8_t *source, size_t source_len, const tg_sync_options *options, _Out_ tg_sync_report **out, void *err)'),
  tg_sync_report_json: lib.func('int32_t tg_sync_report_json(const tg_sync_report *report, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_sync_report_free: lib.func('void tg_sync_report_free(tg_sync_report *report)'),
  tg_ratecard_history_json: lib.func('int32_t tg_ratecard_history_json(const tg_engine *engine, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_refresher_start: lib.func('int32_t tg_refresher_start(const tg_engine *engine, const uint8_t *source, size_t source_len, const tg_sync_options *options, uint64_t interval_ms, uint64_t jitter_ms, _Out_ tg_refresher **out, void *err)'),
  tg_refresher_status_json: lib.func('int32_t tg_refresher_status_json(const tg_refresher *refresher, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_refresher_stop: lib.func('void tg_refresher_stop(tg_refresher *refresher)'),
  tg_upsert_policy_json: lib.func('int32_t tg_upsert_policy_json(const tg_engine *engine, const uint8_t *record, size_t record_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_allow_json: lib.func('int32_t tg_allow_json(const tg_engine *engine, const uint8_t *request, size_t request_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_settle_json: lib.func('int32_t tg_settle_json(const tg_engine *engine, uint64_t reservation_id, const uint8_t *event, size_t event_len, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
  tg_release: lib.func('int32_t tg_release(const tg_engine *engine, uint64_t reservation_id, void *released, void *err)'),
  tg_policy_breaches_json: lib.func('int32_t tg_policy_breaches_json(const tg_engine *engine, uint8_t *out, size_t out_cap, _Out_ size_t *out_len, void *err)'),
};

// The hot paths again, with every pointer a plain `void *` that receives a caller Buffer: no
// out-parameter marshalling, so a call costs one crossing. Their buffers are reused scratch
// memory (synchronous calls never overlap in one JS thread).
const fast = {
  tg_price_json: lib.func('tg_price_json', 'int32_t', ['void *', 'void *', 'size_t', 'void *', 'size_t', 'void *', 'void *']),
  tg_snapshot_price_json: lib.func('tg_snapshot_price_json', 'int32_t', ['void *', 'void *', 'size_t', 'void *', 'size_t', 'void *', 'void *']),
  tg_price_batch: lib.func('tg_price_batch', 'int32_t', ['void *', 'void *', 'size_t', 'void *', 'size_t', 'void *', 'void *']),
  tg_snapshot_price_batch: lib.func('tg_snapshot_price_batch', 'int32_t', ['void *', 'void *', 'size_t', 'void *', 'size_t', 'void *', 'void *']),
  tg_decimals_format: lib.func('tg_decimals_format', 'int32_t', ['void *', 'size_t', 'size_t', 'void *', 'size_t', 'void *', 'void *']),
  // The SDK wrappers' paths (wrappers.js): a response body or a stream batch per call.
  tg_track_response: lib.func('tg_track_response', 'int32_t', ['void *', 'void *', 'size_t', 'void *', 'size_t', 'void *', 'size_t', 'void *', 'size_t', 'void *', 'size_t', 'void *', 'void *']),
  tg_stream_track: lib.func('tg_stream_track', 'int32_t', ['void *', 'void *', 'void *', 'size_t', 'void *', 'size_t', 'void *', 'void *']),
  tg_stream_feed: lib.func('tg_stream_feed', 'int32_t', ['void *', 'void *', 'size_t', 'void *']),
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

const COUNT_FIELDS = [
  ['tokensIn', 'tokens_in'], ['cachedTokens', 'cached_tokens'], ['cacheWrite5mTokens', 'cache_write_5m_tokens'],
  ['cacheWrite1hTokens', 'cache_write_1h_tokens'], ['audioTokensIn', 'audio_tokens_in'],
  ['imageTokensIn', 'image_tokens_in'], ['tokensOut', 'tokens_out'], ['reasoningTokens', 'reasoning_tokens'],
  ['audioTokensOut', 'audio_tokens_out'], ['imageTokensOut', 'image_tokens_out'],
  ['webSearchRequests', 'web_search_requests'], ['toolCalls', 'tool_calls'],
].map(([js, cName]) => [js, OFF[cName] >>> 2]);
const W = Object.fromEntries(Object.entries(OFF).map(([k, v]) => [k, v >>> 2])); // 32-bit word offsets
const ITEM_WORDS = ITEM_SIZE >>> 2;
const OUT_WORDS = OUT_SIZE >>> 2;
const TWO32 = 4294967296;

// Scratch memory of the synchronous paths, grown on demand and reused (one JS thread, and a
// synchronous call never overlaps another). The four buffers of every JSON call (input,
// output, output length, error) start as native memory (koffi.alloc, 8-byte aligned, kept for
// the life of the process) viewed by a Buffer: the hot calls pass the raw pointer (`*Arg`),
// which koffi converts for less than a Buffer. A buffer grown past its first size is an
// ordinary Buffer and is passed as itself.
function nativeScratch(bytes) {
  const ptr = koffi.alloc('uint8_t', bytes);
  return [ptr, Buffer.from(koffi.view(ptr, bytes))];
}
const [inPtr, inBuf] = nativeScratch(4096);
const [outPtr, outBuf] = nativeScratch(4096);
const [lenPtr, lenBuf] = nativeScratch(8);
const [errPtr, errBuf] = nativeScratch(ERROR_SIZE);
const scratch = {
  in: inBuf,
  inArg: inPtr,
  inBytes: new Uint8Array(inBuf.buffer, inBuf.byteOffset, inBuf.length), // plain element stores
  out: outBuf,
  outArg: outPtr,
  outBytes: new Uint8Array(outBuf.buffer, outBuf.byteOffset, outBuf.length),
  len: lenBuf,
  lenArg: lenPtr,
  err: errBuf,
  errArg: errPtr,
  items: new ArrayBuffer(0),
  results: new ArrayBuffer(0),
  text: Buffer.alloc(0),
};

// The 64-bit length the library writes into scratch.len, read through a typed-array view
// (cheaper than Buffer.readUInt32LE's checks on the priceJson path; little-endian target).
const scratchLen32 = new Uint32Array(scratch.len.buffer, scratch.len.byteOffset, 2);
function scratchLen() {
  return scratchLen32[0] + scratchLen32[1] * TWO32;
}

/** Writes a count (number or bigint) into the 64-bit word at `w`. */
function putCount(u32, w, v, name) {
  if (typeof v === 'number') {
    // Any integral double below 2^64 splits exactly into two 32-bit halves.
    if (!(v >= 0 && v < 18446744073709551616 && Math.floor(v) === v)) {
      throw new TollgateError(Status.ERR_INVALID_INPUT, `${name}: must be a non-negative integer`);
    }
    u32[w] = v % TWO32;
    u32[w + 1] = Math.floor(v / TWO32);
    return;
  }
  const b = BigInt(v);
  if (b < 0n || b > 0xffffffffffffffffn) throw new TollgateError(Status.ERR_INVALID_INPUT, `${name}: must be a non-negative integer`);
  u32[w] = Number(b & 0xffffffffn);
  u32[w + 1] = Number(b >> 32n);
}

function putCents(u32, w, text) {
  const d = centsToRaw(text);
  const hi = BigInt.asUintN(64, d.hi); // tg_decimal: { int64_t hi; uint64_t lo; }
  u32[w] = Number(hi & 0xffffffffn);
  u32[w + 1] = Number(hi >> 32n);
  u32[w + 2] = Number(d.lo & 0xffffffffn);
  u32[w + 3] = Number(d.lo >> 32n);
}

/** The names arena of one batch: each distinct name once. */
class Names {
  constructor() {
    this.text = '';
    this.length = 0;
    this.index = new Map(); // name -> slot in offsets/lengths
    this.offsets = [];
    this.lengths = [];
    // Per field (provider, model, inferenceGeo, speed): the last name and its slot, as
    // consecutive items usually repeat them.
    this.lastName = [null, null, null, null];
    this.lastSlot = [0, 0, 0, 0];
  }

  /** Writes the span of `name` at word `w` (empty: left zero). */
  put(u32, w, name, field) {
    if (name === undefined || name === null || name === '') return;
    let slot;
    if (name === this.lastName[field]) {
      slot = this.lastSlot[field];
    } else {
      slot = this.index.get(name);
      if (slot === undefined) {
        if (typeof name !== 'string') throw new TollgateError(Status.ERR_INVALID_INPUT, `names must be strings (got ${typeof name})`);
        slot = this.offsets.length;
        const n = Buffer.byteLength(name, 'utf8');
        this.offsets.push(this.length);
        this.lengths.push(n);
        this.index.set(name, slot);
        this.text += name;
        this.length += n;
      }
      this.lastName[field] = name;
      this.lastSlot[field] = slot;
    }
    u32[w] = this.offsets[slot];
    u32[w + 1] = this.lengths[slot];
  }

  bytes() {
    return this.length ? Buffer.from(this.text, 'utf8') : null;
  }
}

function putIf(u32, w, v, name) {
  if (v !== undefined && v !== null && v !== 0) putCount(u32, w, v, name);
}

const W_TOKENS_IN = W.tokens_in;
const W_CACHED = W.cached_tokens;
const W_CW5 = W.cache_write_5m_tokens;
const W_CW1 = W.cache_write_1h_tokens;
const W_AUDIO_IN = W.audio_tokens_in;
const W_IMAGE_IN = W.image_tokens_in;
const W_TOKENS_OUT = W.tokens_out;
const W_REASONING = W.reasoning_tokens;
const W_AUDIO_OUT = W.audio_tokens_out;
const W_IMAGE_OUT = W.image_tokens_out;
const W_WEB = W.web_search_requests;
const W_TOOLS = W.tool_calls;

// Field by field (not a loop over names): named property loads stay monomorphic and fast.
function writeItem(u32, base, item, names) {
  putIf(u32, base + W_TOKENS_IN, item.tokensIn, 'tokensIn');
  putIf(u32, base + W_CACHED, item.cachedTokens, 'cachedTokens');
  putIf(u32, base + W_CW5, item.cacheWrite5mTokens, 'cacheWrite5mTokens');
  putIf(u32, base + W_CW1, item.cacheWrite1hTokens, 'cacheWrite1hTokens');
  putIf(u32, base + W_AUDIO_IN, item.audioTokensIn, 'audioTokensIn');
  putIf(u32, base + W_IMAGE_IN, item.imageTokensIn, 'imageTokensIn');
  putIf(u32, base + W_TOKENS_OUT, item.tokensOut, 'tokensOut');
  putIf(u32, base + W_REASONING, item.reasoningTokens, 'reasoningTokens');
  putIf(u32, base + W_AUDIO_OUT, item.audioTokensOut, 'audioTokensOut');
  putIf(u32, base + W_IMAGE_OUT, item.imageTokensOut, 'imageTokensOut');
  putIf(u32, base + W_WEB, item.webSearchRequests, 'webSearchRequests');
  putIf(u32, base + W_TOOLS, item.toolCalls, 'toolCalls');
  const ts = item.timestamp;
  if (ts === undefined || ts === null) {
    u32[base + W.timestamp_ms] = 0xffffffff; // TG_TIMESTAMP_NONE (-1)
    u32[base + W.timestamp_ms + 1] = 0xffffffff;
  } else {
    putCount(u32, base + W.timestamp_ms, ts, 'timestamp');
  }
  let flags = 0;
  if (item.providerCostCents !== undefined && item.providerCostCents !== null) {
    putCents(u32, base + W.provider_cost_cents, item.providerCostCents);
    flags |= ITEM_HAS_PROVIDER_COST;
  }
  if (item.externalCostCents !== undefined && item.externalCostCents !== null) {
    putCents(u32, base + W.external_cost_cents, item.externalCostCents);
    flags |= ITEM_HAS_EXTERNAL_COST;
  }
  names.put(u32, base + W.provider, item.provider, 0);
  names.put(u32, base + W.model, item.model, 1);
  names.put(u32, base + W.inference_geo, item.inferenceGeo, 2);
  names.put(u32, base + W.speed, item.speed, 3);
  const type = item.type;
  const kind = type === undefined || type === 'llm' ? 0 : KINDS[type];
  const st = item.serviceTier;
  const tier = st === undefined || st === null ? 0 : (TIERS[st] ?? TIERS[String(st).toLowerCase()]);
  if (kind === undefined || tier === undefined) {
    throw new TollgateError(Status.ERR_INVALID_INPUT, `unknown type or serviceTier: ${item.type} ${item.serviceTier}`);
  }
  u32[base + W.kind] = kind;
  u32[base + W.service_tier] = tier;
  u32[base + W.flags] = flags;
}

function growBuffer(ab, bytes) {
  return ab.byteLength >= bytes ? ab : new ArrayBuffer(Math.max(bytes, ab.byteLength * 2));
}

// One chunk of at most MAX_BATCH_ITEMS: fill the structs, price, format the costs, read back.
function priceChunk(fn, h, items, from, to, results) {
  const n = to - from;
  scratch.items = growBuffer(scratch.items, n * ITEM_SIZE);
  scratch.results = growBuffer(scratch.results, n * OUT_SIZE);
  const itemBytes = new Uint8Array(scratch.items, 0, n * ITEM_SIZE);
  itemBytes.fill(0);
  const u32 = new Uint32Array(scratch.items, 0, n * ITEM_WORDS);
  const names = new Names();
  for (let i = 0; i < n; i++) writeItem(u32, i * ITEM_WORDS, items[from + i], names);
  const arena = names.bytes();
  const err = scratch.err;
  const s = fn(h, scratch.items, n, arena, arena ? arena.length : 0, scratch.results, err);
  if (s !== Status.OK) throw errorFrom(s, err);
  readResults(scratch.results, n, from, results);
}

// Formats the costs of `n` results (one crossing) and builds the result objects.
function readResults(resultsAb, n, from, results) {
  const err = scratch.err;
  const textCap = n * 49;
  if (scratch.text.length < textCap) scratch.text = Buffer.allocUnsafe(Math.max(textCap, scratch.text.length * 2));
  const s = fast.tg_decimals_format(resultsAb, n, OUT_SIZE, scratch.text, scratch.text.length, scratch.len, err);
  if (s !== Status.OK) throw errorFrom(s, err);
  const costs = scratch.text.latin1Slice(0, scratchLen()).split('\n');
  const out = new Uint32Array(resultsAb, 0, n * OUT_WORDS);
  let lastLo = -1;
  let lastHi = -1;
  let snapshot = null;
  for (let i = 0; i < n; i++) {
    const b = i * OUT_WORDS;
    const status = out[b + 6] | 0;
    const lo = out[b + 4];
    const hi = out[b + 5];
    if (lo !== lastLo || hi !== lastHi) {
      snapshot = hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
      lastLo = lo;
      lastHi = hi;
    }
    results[from + i] = {
      status,
      error: status === Status.OK ? null : new TollgateError(status),
      costCents: costs[i],
      snapshot,
      priced: out[b + 7] === 1,
      source: SOURCES[out[b + 8]] ?? null,
      match: MATCHES[out[b + 9]] ?? null,
      reason: REASONS[out[b + 10]] ?? null,
      warningCount: out[b + 11],
    };
  }
}

// The engine writes a price result with a fixed field order and no whitespace; reading that
// layout with one regular expression is ~4x faster than JSON.parse. Anything else (escapes,
// warnings, another layout) goes to JSON.parse, so the result is always JSON.parse's.
const PRICE_RESULT = /^\{"costCents":"([^"\\]*)","priced":(true|false),"model":(?:null|"([^"\\]*)"),"snapshot":"([0-9a-f]{16})","reason":(?:null|"([^"\\]*)"),"warnings":\[\],"match":(?:null|"([^"\\]*)"),"source":"([^"\\]*)","webSearchCents":"([^"\\]*)"\}$/;

function parsePriceResult(text) {
  const m = PRICE_RESULT.exec(text);
  if (m === null) return JSON.parse(text);
  return {
    costCents: m[1],
    priced: m[2] === 'true',
    model: m[3] ?? null,
    snapshot: m[4],
    reason: m[5] ?? null,
    warnings: [],
    match: m[6] ?? null,
    source: m[7],
    webSearchCents: m[8],
  };
}

// The same reading straight off the output bytes, for priceJson: no string of the whole
// output and no match array are made, only the strings the result holds (a caller keeping
// many results then triggers fewer young-generation collections, each of which copies every
// result still alive). The names a result repeats (model, snapshot, source, match, reason)
// are shared copies. Returns null for anything but the engine's fixed layout without escapes;
// the caller then decodes the text and uses parsePriceResult.
const lit = (text) => Uint8Array.from(Buffer.from(text, 'latin1'));
const L_COST = lit('{"costCents":"');
const L_PRICED_TRUE = lit('","priced":true,"model":');
const L_PRICED_FALSE = lit('","priced":false,"model":');
const L_SNAPSHOT = lit(',"snapshot":"');
const L_REASON = lit('","reason":');
const L_MATCH = lit(',"warnings":[],"match":');
const L_SOURCE = lit(',"source":"');
const L_WEB = lit('","webSearchCents":"');
const nameTable = (names) => names.filter((n) => n !== null).map((n) => [lit(n), n]);
const SOURCE_NAMES = nameTable(SOURCES);
const MATCH_NAMES = nameTable(MATCHES);
const REASON_NAMES = nameTable(REASONS);
const MODEL_CACHE_MAX = 256;
const modelCache = new Map(); // hash of the name bytes -> [bytes, name]
let lastSnapshotBytes = new Uint8Array(16);
let lastSnapshot = null;

// `ob[p…]` starts with `l`: the index after it, else -1.
function litAt(ob, p, l, end) {
  if (p < 0 || p + l.length > end) return -1;
  for (let i = 0; i < l.length; i++) if (ob[p + i] !== l[i]) return -1;
  return p + l.length;
}

// The index of the '"' closing a string that starts at p; -1 at a backslash or the end.
function quoteAt(ob, p, end) {
  for (; p < end; p++) {
    const ch = ob[p];
    if (ch === 34) return p;
    if (ch === 92) return -1;
  }
  return -1;
}

function sameBytes(ob, a, b, bytes) {
  if (bytes.length !== b - a) return false;
  for (let i = 0; i < bytes.length; i++) if (ob[a + i] !== bytes[i]) return false;
  return true;
}

// One of the fixed names in `table` (shared strings), else the decoded text.
function nameAt(buf, ob, a, b, table) {
  for (let i = 0; i < table.length; i++) if (sameBytes(ob, a, b, table[i][0])) return table[i][1];
  return buf.utf8Slice(a, b);
}

function modelAt(buf, ob, a, b) {
  let hash = b - a;
  for (let i = a; i < b; i++) hash = (Math.imul(hash, 31) + ob[i]) | 0;
  const hit = modelCache.get(hash);
  if (hit !== undefined && sameBytes(ob, a, b, hit[0])) return hit[1];
  const name = buf.utf8Slice(a, b);
  if (modelCache.size >= MODEL_CACHE_MAX) modelCache.clear();
  modelCache.set(hash, [ob.slice(a, b), name]);
  return name;
}

// The result in the first `end` bytes of `buf` (`ob` a Uint8Array over the same memory).
function readPriceBytes(buf, ob, end) {
  let p = litAt(ob, 0, L_COST, end);
  if (p < 0) return null;
  let q = quoteAt(ob, p, end);
  if (q < 0) return null;
  const costCents = buf.utf8Slice(p, q);
  let priced = true;
  p = litAt(ob, q, L_PRICED_TRUE, end);
  if (p < 0) {
    priced = false;
    p = litAt(ob, q, L_PRICED_FALSE, end);
    if (p < 0) return null;
  }
  let model = null;
  if (ob[p] === 34) {
    q = quoteAt(ob, p + 1, end);
    if (q < 0) return null;
    model = modelAt(buf, ob, p + 1, q);
    p = q + 1;
  } else if (ob[p] === 110 && ob[p + 1] === 117 && ob[p + 2] === 108 && ob[p + 3] === 108) {
    p += 4;
  } else {
    return null;
  }
  p = litAt(ob, p, L_SNAPSHOT, end);
  if (p < 0 || p + 16 > end) return null;
  let snapshot = lastSnapshot;
  if (snapshot === null || !sameBytes(ob, p, p + 16, lastSnapshotBytes)) {
    for (let i = p; i < p + 16; i++) {
      const ch = ob[i];
      if (!((ch >= 48 && ch <= 57) || (ch >= 97 && ch <= 102))) return null;
    }
    snapshot = buf.latin1Slice(p, p + 16);
    lastSnapshot = snapshot;
    lastSnapshotBytes = ob.slice(p, p + 16);
  }
  p = litAt(ob, p + 16, L_REASON, end);
  if (p < 0) return null;
  let reason = null;
  if (ob[p] === 34) {
    q = quoteAt(ob, p + 1, end);
    if (q < 0) return null;
    reason = nameAt(buf, ob, p + 1, q, REASON_NAMES);
    p = q + 1;
  } else if (ob[p] === 110 && ob[p + 1] === 117 && ob[p + 2] === 108 && ob[p + 3] === 108) {
    p += 4;
  } else {
    return null;
  }
  p = litAt(ob, p, L_MATCH, end);
  if (p < 0) return null;
  let match = null;
  if (ob[p] === 34) {
    q = quoteAt(ob, p + 1, end);
    if (q < 0) return null;
    match = nameAt(buf, ob, p + 1, q, MATCH_NAMES);
    p = q + 1;
  } else if (ob[p] === 110 && ob[p + 1] === 117 && ob[p + 2] === 108 && ob[p + 3] === 108) {
    p += 4;
  } else {
    return null;
  }
  p = litAt(ob, p, L_SOURCE, end);
  if (p < 0) return null;
  q = quoteAt(ob, p, end);
  if (q < 0) return null;
  const source = nameAt(buf, ob, p, q, SOURCE_NAMES);
  p = litAt(ob, q, L_WEB, end);
  if (p < 0) return null;
  q = quoteAt(ob, p, end);
  if (q < 0 || q + 2 !== end || ob[q + 1] !== 125) return null;
  const webSearchCents = q === p + 1 && ob[p] === 48 ? '0' : buf.utf8Slice(p, q);
  return { costCents, priced, model, snapshot, reason, warnings: [], match, source, webSearchCents };
}

// The JSON bytes of `{"key":` for each key an event object has used (at most KEY_CACHE_MAX
// distinct keys, all plain printable ASCII): written by copying, not re-encoded per call.
const KEY_CACHE_MAX = 64;
const keyBytes = new Map();
const PLAIN_KEY = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/; // printable ASCII without '"' and '\\'

// Writes JSON.stringify(event) into scratch.in as UTF-8 for the common event shape, without
// building the string: a plain object (prototype Object.prototype or null) whose own enumerable values are plain printable
// ASCII strings (no '"', '\\' or control characters), non-negative safe integers, booleans,
// null or undefined (left out, as JSON.stringify does), under plain keys. Returns the byte
// count, or -1 for anything else (toJSON, class instances, arrays, boxed primitives, nested
// objects, bigints, fractions, escapes,
// non-ASCII): the caller then uses JSON.stringify itself, so the bytes are always its bytes.
function writeEventJson(event) {
  const proto = Object.getPrototypeOf(event);
  if ((proto !== Object.prototype && proto !== null) || typeof event.toJSON === 'function') return -1;
  const keys = Object.keys(event);
  let out = scratch.inBytes;
  const cap = out.length - 32; // room for one number, true/false/null, ',' and '}'
  let p = 0;
  out[p++] = 123; // {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v = event[k];
    if (v === undefined) continue;
    let kb = keyBytes.get(k);
    if (kb === undefined) {
      if (keyBytes.size >= KEY_CACHE_MAX || !PLAIN_KEY.test(k)) return -1;
      kb = Buffer.from(`"${k}":`, 'latin1');
      keyBytes.set(k, kb);
    }
    if (p + kb.length + 1 > cap) return -1;
    if (p > 1) out[p++] = 44; // ,
    for (let j = 0; j < kb.length; j++) out[p++] = kb[j];
    if (typeof v === 'string') {
      if (p + v.length + 2 > cap) return -1;
      out[p++] = 34;
      for (let j = 0; j < v.length; j++) {
        const ch = v.charCodeAt(j);
        if (ch < 0x20 || ch > 0x7e || ch === 34 || ch === 92) return -1;
        out[p++] = ch;
      }
      out[p++] = 34;
    } else if (typeof v === 'number') {
      if (!(v >= 0 && v <= 9007199254740991 && Math.floor(v) === v)) return -1;
      if (v < 10) {
        out[p++] = 48 + v; // also -0, which JSON.stringify writes as 0
      } else {
        const start = p;
        let q = v;
        while (q > 0) {
          const d = q % 10;
          out[p++] = 48 + d;
          q = (q - d) / 10;
        }
        for (let a = start, b = p - 1; a < b; a++, b--) {
          const t = out[a];
          out[a] = out[b];
          out[b] = t;
        }
      }
    } else if (v === true) {
      out[p++] = 116; out[p++] = 114; out[p++] = 117; out[p++] = 101;
    } else if (v === false) {
      out[p++] = 102; out[p++] = 97; out[p++] = 108; out[p++] = 115; out[p++] = 101;
    } else if (v === null) {
      out[p++] = 110; out[p++] = 117; out[p++] = 108; out[p++] = 108;
    } else {
      return -1;
    }
  }
  out[p++] = 125; // }
  return p;
}

function writeTextInput(text) {
  if (text.length * 3 > scratch.in.length) {
    scratch.in = Buffer.from(new ArrayBuffer(text.length * 3));
    scratch.inArg = scratch.in;
    scratch.inBytes = new Uint8Array(scratch.in.buffer);
  }
  return scratch.in.utf8Write(text, 0);
}

// JSON in, JSON out on the scratch buffers: one crossing, no allocation but the result. An
// event object of the common shape is written straight into the input buffer (the bytes
// JSON.stringify would give), anything else goes through JSON.stringify.
function priceJsonFast(fn, h, event) {
  let n;
  let input;
  if (typeof event === 'string') {
    n = writeTextInput(event);
    input = scratch.inArg;
  } else if (typeof event === 'object' && event !== null && !(event instanceof Uint8Array)) {
    n = writeEventJson(event);
    if (n < 0) n = writeTextInput(JSON.stringify(event));
    input = scratch.inArg;
  } else {
    input = toBytes(event);
    n = len(input);
  }
  for (let i = 0; i < 8; i++) {
    const s = fn(h, n ? input : null, n, scratch.outArg, scratch.out.length, scratch.lenArg, scratch.errArg);
    if (s === Status.OK) {
      const n = scratchLen32[0] + scratchLen32[1] * TWO32;
      return readPriceBytes(scratch.out, scratch.outBytes, n) ?? parsePriceResult(scratch.out.utf8Slice(0, n));
    }
    if (s !== Status.ERR_BUFFER_TOO_SMALL) throw errorFrom(s, scratch.err);
    growOut();
  }
  throw new TollgateError(Status.ERR_BUFFER_TOO_SMALL, 'output kept growing');
}

// The output scratch after TG_ERR_BUFFER_TOO_SMALL: at least the length the library needs.
function growOut() {
  scratch.out = Buffer.from(new ArrayBuffer(Math.max(scratchLen(), scratch.out.length * 2)));
  scratch.outArg = scratch.out;
  scratch.outBytes = new Uint8Array(scratch.out.buffer);
}

// The results of tg_track_response / tg_stream_track as text, on the scratch buffers (`call`
// gets out, cap, outLen, err): one crossing, the output buffer reused and grown on demand.
function trackText(call) {
  for (let i = 0; i < 8; i++) {
    const s = call(scratch.outArg, scratch.out.length, scratch.lenArg, scratch.errArg);
    if (s === Status.OK) return scratch.out.utf8Slice(0, scratchLen32[0] + scratchLen32[1] * TWO32);
    if (s !== Status.ERR_BUFFER_TOO_SMALL) throw errorFrom(s, scratch.err);
    growOut();
  }
  throw new TollgateError(Status.ERR_BUFFER_TOO_SMALL, 'output kept growing');
}

/** A status-only call on one of koffi's worker threads (same queue as callBufferedAsync). */
async function callStatusAsync(fn, args) {
  await acquireAsyncSlot();
  try {
    return await new Promise((resolve, reject) => {
      const err = Buffer.alloc(ERROR_SIZE);
      fn.async(...args, err, (e, s) => {
        if (e) return reject(e);
        if (s !== Status.OK) return reject(errorFrom(s, err));
        return resolve();
      });
    });
  } finally {
    releaseAsyncSlot();
  }
}

// Handles a program forgets to close are freed when their object is collected; close() frees
// at once and unregisters. The held value never references the object itself.
const finalized = { count: 0 };
const forgotten = new FinalizationRegistry(({ free, handle }) => {
  finalized.count++;
  free(handle);
});
const DISPOSE = Symbol.dispose ?? Symbol.for('nodejs.dispose');
const ASYNC_DISPOSE = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose');

// ---- Rate-card sync on a durable engine (tg_ratecard_pull, tg_refresher).

function syncOptions(o) {
  const opts = c.tg_sync_options_default();
  const o2 = o || {};
  if (o2.timeoutMs != null) opts.timeout_ms = o2.timeoutMs;
  if (o2.retries != null) opts.retries = o2.retries;
  if (o2.backoffMs != null) opts.backoff_ms = o2.backoffMs;
  if (o2.maxBytes != null) opts.max_bytes = o2.maxBytes;
  return opts;
}

function readReport(report) {
  try {
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_sync_report_json(report, o, cap, n, e), 1 << 16));
  } finally {
    c.tg_sync_report_free(report);
  }
}

/**
 * A background refresher pulling a source into a durable engine's data directory (once at
 * start, then every interval plus jitter). stop() it; Engine.close() stops its refreshers.
 */
class Refresher {
  constructor(handle, engine) {
    this._handle = handle;
    this._engine = engine;
  }

  /** {pulls, last: null | {ok: true, report} | {ok: false, status, error}}. */
  status() {
    if (this._handle === null) throw new TollgateError(Status.ERR_INVALID_HANDLE, 'refresher is stopped');
    const h = this._handle;
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_refresher_status_json(h, o, cap, n, e), 1024));
  }

  /** Stops it (waits for a pull in progress); twice is a no-op. */
  stop() {
    if (this._handle !== null) {
      c.tg_refresher_stop(this._handle);
      this._handle = null;
      this._engine._refreshers.delete(this);
    }
  }
}

// ---- Guardrails: the pre-call decision (tg_allow_json), reservations, policy breaches.

/** Exact cents text of an estimate: a decimal string, a bigint, or a safe integer number. */
function amountText(value, what) {
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  // A fractional number is not exact (0.1 is not 0.1): amounts with a fraction are text.
  throw new TypeError(`${what}: expected a decimal string, a bigint or an integer number of cents, got ${typeof value === 'number' ? value : typeof value}`);
}

/**
 * The answer of Engine.allow(): the product SDK's shape (camelCase, amounts as exact decimal
 * strings of cents). `decision` is 'allow', 'downgrade' (call `suggestedModel`) or 'block'.
 */
class Decision {
  constructor(d) {
    this.decision = d.decision;
    this.reason = d.reason;
    this.flagged = d.flagged;
    this.policyId = d.policyId;
    this.period = d.period;
    this.suggestedModel = d.suggestedModel;
    this.costCents = d.costCents;
    this.revenueCents = d.revenueCents;
    this.marginPct = d.marginPct;
    this.remainingBudgetCents = d.remainingBudgetCents;
    this.estimateCents = d.estimateCents;
    this.reservationId = d.reservationId;
  }

  /** True unless the decision is 'block'. */
  get allowed() {
    return this.decision !== 'block';
  }

  /** A plain object of the product SDK's shape. */
  toJSON() {
    return { ...this };
  }
}

/** A call refused by a guardrail policy; `decision` says which rule and why. */
class GuardBlocked extends Error {
  constructor(decision) {
    super(`blocked by policy ${JSON.stringify(decision.policyId)}: ${decision.reason}${decision.period ? ` (${decision.period})` : ''}`);
    this.name = 'GuardBlocked';
    this.decision = decision;
  }
}

function allowRequest(customerId, opts) {
  if (typeof customerId !== 'string') throw new TypeError('customerId: expected a string');
  const o = opts || {};
  const req = { customerId };
  if (o.agentId != null) req.agentId = o.agentId;
  if (o.runId != null) req.runId = o.runId;
  if (o.model != null) req.model = o.model;
  if (o.estimatedCostCents != null) req.estimateCents = amountText(o.estimatedCostCents, 'estimatedCostCents');
  if (o.usage != null) {
    const estimate = { ...o.usage };
    if (estimate.model === undefined && o.model != null) estimate.model = o.model;
    if (estimate.provider === undefined && o.provider != null) estimate.provider = o.provider;
    req.estimate = estimate;
  }
  if (o.atMs != null) req.atMs = o.atMs;
  if (o.reserve) req.reserve = true;
  if (o.ttlMs != null) req.ttlMs = o.ttlMs;
  return Buffer.from(JSON.stringify(req), 'utf8');
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
    this._refreshers = new Set();
    forgotten.register(this, { free: c.tg_engine_free, handle: this._handle }, this);
  }

  /** Creates an engine on a worker thread (parsing a rate card takes tens of milliseconds). */
  static async create(options = {}) {
    const card = toBytes(options.rateCard);
    await acquireAsyncSlot();
    try {
      return await new Promise((resolve, reject) => {
        const opts = c.tg_engine_options_default();
        if (options.dedupeWindowMs !== undefined) opts.dedupe_window_ms = options.dedupeWindowMs;
        if (options.clockMs !== undefined) opts.clock_ms = options.clockMs;
        const out = [null];
        const err = Buffer.alloc(ERROR_SIZE);
        c.tg_engine_new.async(opts, card, len(card), out, err, (e, s) => {
          if (e) return reject(e);
          if (s !== Status.OK) return reject(errorFrom(s, err));
          const engine = Object.create(Engine.prototype);
          engine._handle = out[0];
          engine._busy = 0;
          engine._refreshers = new Set();
          forgotten.register(engine, { free: c.tg_engine_free, handle: engine._handle }, engine);
          return resolve(engine);
        });
      });
    } finally {
      releaseAsyncSlot();
    }
  }

  /** `using engine = new Engine()` closes it at the end of the block. */
  [DISPOSE]() {
    this.close();
  }

  async _asyncStatus(fn, args) {
    const h = this._h();
    this._busy++;
    try {
      return await callStatusAsync(fn, [h, ...args]);
    } finally {
      this._busy--;
    }
  }

  _h() {
    if (this._handle === null) throw new TollgateError(Status.ERR_INVALID_HANDLE, 'engine is closed');
    return this._handle;
  }

  /**
   * A durable engine on a data directory (created when missing): every ledger record,
   * rate-card publish and override is journaled before the call returns and recovered when
   * the directory is opened again. One process owns a directory (ERR_LOCKED otherwise).
   * @param {string} dir
   * @param {{durability?: 'sync'|'interval'|'none', intervalMs?: number, dedupeWindowMs?: number, checkpointBytes?: number}} [options]
   */
  static open(dir, options = {}) {
    const o = c.tg_store_options_default();
    if (options.durability !== undefined) {
      if (!(options.durability in DURABILITY)) {
        throw new TollgateError(Status.ERR_INVALID_INPUT, `durability: must be sync, interval or none, not ${options.durability}`);
      }
      o.durability = DURABILITY[options.durability];
    }
    if (options.intervalMs !== undefined) o.interval_ms = options.intervalMs;
    if (options.dedupeWindowMs !== undefined) o.dedupe_window_ms = options.dedupeWindowMs;
    if (options.checkpointBytes !== undefined) o.checkpoint_bytes = options.checkpointBytes;
    const d = toBytes(dir);
    const out = [null];
    const err = Buffer.alloc(ERROR_SIZE);
    const s = c.tg_engine_open(d, len(d), o, out, err);
    if (s !== Status.OK) throw errorFrom(s, err);
    const engine = Object.create(Engine.prototype);
    engine._handle = out[0];
    engine._busy = 0;
    engine._refreshers = new Set();
    forgotten.register(engine, { free: c.tg_engine_free, handle: engine._handle }, engine);
    return engine;
  }

  /** Writes a checkpoint of a durable engine and drops the journal before it. */
  checkpoint() {
    this._status(c.tg_engine_checkpoint);
  }

  /** Writes and fsyncs what a durable engine has buffered (interval / none modes). */
  flush() {
    this._status(c.tg_engine_flush);
  }

  /** What recovery did when the durable engine was opened (and its published rate cards). */
  recovery() {
    const h = this._h();
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_engine_recovery_json(h, o, cap, n, e), 512));
  }

  /** Frees the engine (a durable one flushes first and reports a failure). Closing twice is a no-op; pending async calls must finish first. */
  close() {
    if (this._busy > 0) throw new TollgateError(Status.ERR_MISUSE, 'engine has async calls in flight');
    for (const r of this._refreshers) r.stop();
    if (this._handle !== null) {
      forgotten.unregister(this);
      const err = Buffer.alloc(ERROR_SIZE);
      const s = c.tg_engine_close(this._handle, err);
      this._handle = null;
      if (s !== Status.OK) throw errorFrom(s, err);
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
    return priceJsonFast(fast.tg_price_json, this._h(), event);
  }

  /** priceJson on one of koffi's worker threads. */
  async priceJsonAsync(event) {
    const ev = toBytes(event);
    return parsePriceResult((await this._async(c.tg_price_json, [ev, len(ev)], 512)).toString('utf8'));
  }

  /** Prices many usages (camelCase event fields) in one call. */
  priceBatch(items) {
    return priceBatchWith(fast.tg_price_batch, this._h(), items);
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

  /**
   * publishRateCard() returning `{snapshot, warnings}`: one warning per field that looks like
   * a rate but matches no rate name the engine knows (accepted, unused for pricing).
   */
  publishRateCardReport(rateCard, effectiveFromMs) {
    const h = this._h();
    const card = toBytes(rateCard);
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_engine_publish_rate_card_json(h, card, len(card), effectiveFromMs, o, cap, n, e), 256));
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

  /**
   * trackResponse() for the SDK wrappers: `provider`, `model` and `context` are bytes
   * (Buffers, model may be null), `body` a Uint8Array; returns the `{"results":[…]}` text
   * unparsed. Not part of the public API.
   * @internal
   */
  _trackResponseText(provider, model, body, context) {
    const h = this._h();
    const bn = body.length;
    const mn = model === null ? 0 : model.length;
    const cn = context === null ? 0 : context.length;
    return trackText((o, cap, n, e) => fast.tg_track_response(h, provider, provider.length, mn ? model : null, mn, bn ? body : null, bn,
      cn ? context : null, cn, o, cap, n, e));
  }

  /** trackStream() returning the results text unparsed (see _trackResponseText). @internal */
  _trackStreamText(stream, context) {
    const h = this._h();
    const s = stream._h();
    const cn = context === null ? 0 : context.length;
    return trackText((o, cap, n, e) => fast.tg_stream_track(h, s, cn ? context : null, cn, o, cap, n, e));
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

  /**
   * Pulls a registry into a durable engine now: `source` is an http(s) URL (conditional
   * requests, retries with backoff, a size limit), a directory of dated registry files or a
   * file; null = LiteLLM's public registry. Validated whole before anything is published.
   * Returns {source, outcome: 'not_modified'|'unchanged'|'published', published: [{content,
   * effectiveFromMs, snapshot, from, added, removed, repriced}]}; a bad registry throws
   * (ERR_RATE_CARD; ERR_IO for HTTP and network failures; ERR_LIMIT when too large) with the
   * reason and publishes nothing. Blocks the calling thread: see pullRateCardAsync().
   */
  pullRateCard(source, options) {
    const src = source == null ? null : toBytes(source);
    const out = [null];
    this._status(c.tg_ratecard_pull, src, len(src), syncOptions(options), out);
    return readReport(out[0]);
  }

  /** pullRateCard() on one of koffi's worker threads (the fetch does not block the event loop). */
  async pullRateCardAsync(source, options) {
    const src = source == null ? null : toBytes(source);
    const out = [null];
    await this._asyncStatus(c.tg_ratecard_pull, [src, len(src), syncOptions(options), out]);
    return readReport(out[0]);
  }

  /** The cards published into the data directory, oldest first: [{effectiveFromMs, content, models}]. */
  rateCardHistory() {
    const h = this._h();
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_ratecard_history_json(h, o, cap, n, e), 1024)).cards;
  }

  /**
   * Starts pulling `source` (as pullRateCard) on a background thread: once now, then every
   * `intervalMs` plus a random part of `jitterMs` (default: 24 hours plus up to 15 minutes).
   */
  startRefresher(source, options = {}) {
    const src = source == null ? null : toBytes(source);
    const out = [null];
    this._status(c.tg_refresher_start, src, len(src), syncOptions(options), options.intervalMs || 0, options.jitterMs || 0, out);
    const r = new Refresher(out[0], this);
    this._refreshers.add(r);
    return r;
  }

  /**
   * Creates or changes a guardrail policy (a `policy` record: policyId, customerId or planName
   * or neither for the default, budget, minMargin, maxRunCostCents, maxAgentCost, action,
   * downgrade, downgradeRule, timestamp). Returns {status: 'accepted'} or {status:
   * 'duplicate'}; an invalid policy throws ERR_INVALID_INPUT naming the field and changes
   * nothing.
   */
  upsertPolicy(policy) {
    return this._record(c.tg_upsert_policy_json, policy);
  }

  /**
   * May this call be made now? `estimatedCostCents` (exact cents: text, bigint or an integer)
   * or `usage` (expected token counts with event field names, priced by the engine for
   * `model`/`provider`) is the estimate; neither means unknown. With `reserve: true` the
   * estimate is held until settle(), release() or `ttlMs` (default 10 minutes).
   */
  allow(customerId, options) {
    const h = this._h();
    const req = allowRequest(customerId, options);
    const out = callBuffered((o, cap, n, e) => c.tg_allow_json(h, req, req.length, o, cap, n, e), DECISION_JSON_MAX);
    return new Decision(JSON.parse(out));
  }

  /**
   * Tracks the real usage of a reserved call and releases the reservation: {result: <as
   * track()>, releasedCents: text or null (it had already expired or been released; the
   * event is tracked anyway)}. An event for another customer throws ERR_INVALID_INPUT.
   */
  settle(reservationId, event) {
    const h = this._h();
    const ev = toBytes(event);
    const id = BigInt(reservationId);
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_settle_json(h, id, ev, len(ev), o, cap, n, e), RECORD_OUT_MAX + 64));
  }

  /** Frees a reservation (the call failed): the cents it held, or null when not held. */
  release(reservationId) {
    const out = Buffer.alloc(16);
    const err = Buffer.alloc(ERROR_SIZE);
    const s = c.tg_release(this._h(), BigInt(reservationId), out, err);
    if (s === Status.ERR_NOT_FOUND) return null;
    if (s !== Status.OK) throw errorFrom(s, err);
    return centsFromRaw(out.readBigInt64LE(0), out.readBigUInt64LE(8));
  }

  /**
   * Rules broken by booked usage, per customer (as `tollgate report` lists them):
   * [{customerId, policyId, rule, period, subject, costCents, revenueCents, limit}].
   */
  policyBreaches() {
    const h = this._h();
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_policy_breaches_json(h, o, cap, n, e), 1024)).breaches;
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

  /** The whole ledger state as versioned, checksummed bytes (for stateRestore). */
  stateSave() {
    const h = this._h();
    return Buffer.from(callBuffered((o, cap, n, e) => c.tg_state_save(h, o, cap, n, e), 1 << 16));
  }

  /** @deprecated Renamed stateSave() ("snapshot" names rate-card snapshots only). */
  stateSnapshot() {
    return this.stateSave();
  }

  /** Replaces the ledger with restored state; bad bytes throw ERR_STATE and load nothing. */
  stateRestore(state) {
    const b = toBytes(state);
    this._status(c.tg_state_restore, len(b) ? b : null, len(b));
  }

  /** priceBatch() with the C call on one of koffi's worker threads. */
  async priceBatchAsync(items) {
    const h = this._h();
    this._busy++;
    try {
      return await priceBatchAsyncWith(fast.tg_price_batch, h, items);
    } finally {
      this._busy--;
    }
  }

  /** publishRateCard() on a worker thread (a full registry takes tens of milliseconds). */
  async publishRateCardAsync(rateCard, effectiveFromMs) {
    const card = toBytes(rateCard);
    const id = [0n];
    await this._asyncStatus(c.tg_engine_publish_rate_card, [card, len(card), effectiveFromMs, id]);
    return BigInt(id[0]).toString(16).padStart(16, '0');
  }

  /** trackResponse() on a worker thread. */
  async trackResponseAsync(provider, body, context, model) {
    const p = toBytes(provider);
    const m = model ? toBytes(model) : null;
    const b = toBytes(body);
    const ctx = context === undefined ? null : toBytes(context);
    const out = await this._async(c.tg_track_response, [p, len(p), m, len(m), len(b) ? b : null, len(b), ctx, len(ctx)], 16 + RECORD_OUT_MAX);
    return JSON.parse(out).results;
  }

  /** trackStream() on a worker thread (finishes the stream). */
  async trackStreamAsync(stream, context) {
    const ctx = context === undefined ? null : toBytes(context);
    const s = stream._h();
    stream._busy++;
    try {
      return JSON.parse(await this._async(c.tg_stream_track, [s, ctx, len(ctx)], 16 + RECORD_OUT_MAX)).results;
    } finally {
      stream._busy--;
    }
  }

  /** resolve() on a worker thread. */
  async resolveAsync(record) {
    const r = toBytes(record);
    return JSON.parse(await this._async(c.tg_resolve_json, [r, len(r)], RECORD_OUT_MAX));
  }

  /** upsertCustomer() on a worker thread. */
  async upsertCustomerAsync(record) {
    const r = toBytes(record);
    return JSON.parse(await this._async(c.tg_upsert_customer_json, [r, len(r)], RECORD_OUT_MAX));
  }

  /** margin() on a worker thread (a grouped query over a large ledger does real work). */
  async marginAsync(query) {
    const q = query === undefined ? null : toBytes(query);
    return JSON.parse(await this._async(c.tg_margin_query_json, [q, len(q)], 4096)).rows;
  }

  /** stateSave() on a worker thread. */
  async stateSaveAsync() {
    return Buffer.from(await this._async(c.tg_state_save, [], 1 << 16));
  }

  /** stateRestore() on a worker thread. */
  async stateRestoreAsync(state) {
    const b = toBytes(state);
    await this._asyncStatus(c.tg_state_restore, [len(b) ? b : null, len(b)]);
  }

  /** Pins a published snapshot (default: the one in force now) with the current overrides. */
  pin(snapshotId) {
    const out = [null];
    this._status(c.tg_snapshot_pin, snapshotId ? BigInt(`0x${snapshotId}`) : 0n, out);
    return new Snapshot(out[0]);
  }
}

// priceBatch with the pricing call on a worker thread: its own buffers (not the scratch
// ones, which synchronous calls may use meanwhile), chunk by chunk.
async function priceBatchAsyncWith(fn, h, items) {
  const results = new Array(items.length);
  for (let from = 0; from < items.length; from += MAX_BATCH_ITEMS) {
    const to = Math.min(items.length, from + MAX_BATCH_ITEMS);
    const n = to - from;
    const itemsAb = new ArrayBuffer(n * ITEM_SIZE);
    const u32 = new Uint32Array(itemsAb);
    const names = new Names();
    for (let i = 0; i < n; i++) writeItem(u32, i * ITEM_WORDS, items[from + i], names);
    const arena = names.bytes();
    const resultsAb = new ArrayBuffer(n * OUT_SIZE);
    const err = Buffer.alloc(ERROR_SIZE);
    await acquireAsyncSlot();
    try {
      await new Promise((resolve, reject) => {
        fn.async(h, itemsAb, n, arena, arena ? arena.length : 0, resultsAb, err, (e, s) => {
          if (e) return reject(e);
          if (s !== Status.OK) return reject(errorFrom(s, err));
          return resolve();
        });
      });
    } finally {
      releaseAsyncSlot();
    }
    readResults(resultsAb, n, from, results);
  }
  return results;
}

function priceBatchWith(fn, h, items) {
  const results = new Array(items.length);
  for (let from = 0; from < items.length; from += MAX_BATCH_ITEMS) {
    priceChunk(fn, h, items, from, Math.min(items.length, from + MAX_BATCH_ITEMS), results);
  }
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
    forgotten.register(this, { free: c.tg_snapshot_unpin, handle }, this);
  }

  /** priceJson() on a worker thread. */
  async priceJsonAsync(event) {
    const h = this._h();
    const ev = toBytes(event);
    return parsePriceResult((await callBufferedAsync(c.tg_snapshot_price_json, [h, ev, len(ev)], 512)).toString('utf8'));
  }

  /** priceBatch() with the C call on a worker thread. */
  priceBatchAsync(items) {
    return priceBatchAsyncWith(fast.tg_snapshot_price_batch, this._h(), items);
  }

  /** Same as unpin(). */
  close() {
    this.unpin();
  }

  [DISPOSE]() {
    this.unpin();
  }

  _h() {
    if (this._handle === null) throw new TollgateError(Status.ERR_INVALID_HANDLE, 'snapshot is unpinned');
    return this._handle;
  }

  priceJson(event) {
    return priceJsonFast(fast.tg_snapshot_price_json, this._h(), event);
  }

  priceBatch(items) {
    return priceBatchWith(fast.tg_snapshot_price_batch, this._h(), items);
  }

  /** Releases the snapshot; twice is a no-op. */
  unpin() {
    if (this._handle !== null) {
      forgotten.unregister(this);
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

/** extractUsage() on one of koffi's worker threads (large bodies and streams). */
async function extractUsageAsync(provider, body, model) {
  const p = toBytes(provider);
  const m = model ? toBytes(model) : null;
  const b = toBytes(body);
  return JSON.parse(await callBufferedAsync(c.tg_usage_extract, [p, len(p), m, len(m), len(b) ? b : null, len(b)], 1024)).lineItems;
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
    this._busy = 0;
    forgotten.register(this, { free: c.tg_stream_free, handle: this._handle }, this);
  }

  _h() {
    if (this._handle === null) throw new TollgateError(Status.ERR_INVALID_HANDLE, 'stream is closed');
    return this._handle;
  }

  /** feed() on a worker thread; await it before the next feed. */
  async feedAsync(chunk) {
    const b = toBytes(chunk);
    const h = this._h();
    this._busy++;
    try {
      await callStatusAsync(c.tg_stream_feed, [h, len(b) ? b : null, len(b)]);
    } finally {
      this._busy--;
    }
  }

  /** finish() on a worker thread. */
  async finishAsync() {
    const h = this._h();
    this._busy++;
    try {
      return JSON.parse(await callBufferedAsync(c.tg_stream_finish, [h], 1024)).lineItems;
    } finally {
      this._busy--;
    }
  }

  [DISPOSE]() {
    this.close();
  }

  feed(chunk) {
    const b = chunk instanceof Uint8Array ? chunk : toBytes(chunk);
    const n = len(b);
    const s = fast.tg_stream_feed(this._h(), n ? b : null, n, scratch.err);
    if (s !== Status.OK) throw errorFrom(s, scratch.err);
  }

  /** The line items (computed once; calling again returns them again). */
  finish() {
    const h = this._h();
    return JSON.parse(callBuffered((o, cap, n, e) => c.tg_stream_finish(h, o, cap, n, e), 1024)).lineItems;
  }

  /** Frees the stream; twice is a no-op; not while an async call on it is in flight. */
  close() {
    if (this._busy > 0) throw new TollgateError(Status.ERR_MISUSE, 'stream has async calls in flight');
    if (this._handle !== null) {
      forgotten.unregister(this);
      c.tg_stream_free(this._handle);
      this._handle = null;
    }
  }
}

// Every TG_* value and struct layout this file hard-codes, named as in include/tollgate.h;
// test/header.test.js checks each against the header.
const ABI = {
  constants: {
    TG_ABI_VERSION_MAJOR: ABI_VERSION_MAJOR,
    TG_ABI_VERSION_MINOR: ABI_VERSION_MINOR,
    TG_CENTS_SCALE: CENTS_SCALE,
    TG_ERROR_MESSAGE_CAP: ERROR_MESSAGE_CAP,
    TG_MAX_BATCH_ITEMS: MAX_BATCH_ITEMS,
    TG_RECORD_OUT_MAX: RECORD_OUT_MAX,
    TG_DECISION_JSON_MAX: DECISION_JSON_MAX,
    TG_MARGIN_PCT_NONE: MARGIN_PCT_NONE,
    TG_TIMESTAMP_NONE: TIMESTAMP_NONE,
    TG_ITEM_HAS_PROVIDER_COST: ITEM_HAS_PROVIDER_COST,
    TG_ITEM_HAS_EXTERNAL_COST: ITEM_HAS_EXTERNAL_COST,
    TG_KIND_LLM: KINDS.llm,
    TG_KIND_TOOL: KINDS.tool,
    TG_KIND_RETRIEVAL: KINDS.retrieval,
    TG_TIER_STANDARD: TIERS.standard,
    TG_TIER_FLEX: TIERS.flex,
    TG_TIER_PRIORITY: TIERS.priority,
    TG_TIER_BATCH: TIERS.batch,
    TG_TIER_BALANCED: TIERS.balanced,
    TG_TIER_ULTRAFAST: TIERS.ultrafast,
    TG_SOURCE_RATE_CARD: SOURCES.indexOf('ratecard'),
    TG_SOURCE_PROVIDER: SOURCES.indexOf('provider'),
    TG_SOURCE_EXTERNAL: SOURCES.indexOf('external'),
    TG_SOURCE_UNPRICED: SOURCES.indexOf('unpriced'),
    TG_MATCH_NONE: MATCHES.indexOf(null),
    TG_MATCH_EXACT: MATCHES.indexOf('exact'),
    TG_MATCH_STRIPPED: MATCHES.indexOf('stripped'),
    TG_MATCH_ALIAS: MATCHES.indexOf('alias'),
    TG_MATCH_INFERRED: MATCHES.indexOf('inferred'),
    TG_MATCH_OVERRIDE: MATCHES.indexOf('override'),
    TG_REASON_NONE: REASONS.indexOf(null),
    TG_REASON_UNKNOWN_MODEL: REASONS.indexOf('unknown_model'),
    TG_REASON_NO_TOKEN_PRICE: REASONS.indexOf('no_token_price'),
    TG_REASON_TRUNCATED: REASONS.indexOf('truncated'),
    ...Object.fromEntries(Object.entries(Status).map(([k, v]) => [`TG_${k}`, v])),
  },
  // Sizes and field offsets as koffi lays the declared structs out (the offsets the fast
  // paths use are derived from these).
  structs: Object.fromEntries([tg_decimal, tg_span, tg_engine_options, tg_price_item, tg_price_out, tg_margin, tg_sync_options].map((t) => {
    const { name, members } = koffi.type(t);
    return [name, { size: koffi.sizeof(t), fields: Object.fromEntries(Object.keys(members).map((f) => [f, koffi.offsetof(t, f)])) }];
  })),
};
ABI.structs.tg_error = { size: ERROR_SIZE, fields: { status: 0, message_len: 4, message: 8 } };

module.exports = {
  ABI_VERSION_MAJOR,
  ABI_VERSION_MINOR,
  CENTS_SCALE,
  Status,
  Engine,
  Decision,
  GuardBlocked,
  Refresher,
  Snapshot,
  Stream,
  TollgateError,
  extractUsage,
  extractUsageAsync,
  abiVersion,
  statusString,
  centsFromRaw,
  centsToRaw,
  // The raw C functions, for tests that exercise the ABI directly.
  _c: c,
  _parsePriceResult: parsePriceResult,
  // priceJson's reading of the output bytes (null: not the fixed layout, parsePriceResult's).
  _readPriceBytes: (text) => {
    const b = Buffer.from(text, 'utf8');
    return readPriceBytes(b, new Uint8Array(b.buffer, b.byteOffset, b.length), b.length);
  },
  // The request bytes priceJson writes for an event object itself (null: JSON.stringify's).
  _eventJson: (event) => {
    const n = writeEventJson(event);
    return n < 0 ? null : scratch.in.toString('utf8', 0, n);
  },
  _finalized: finalized,
  _abi: ABI,
  _ERROR_SIZE: ERROR_SIZE,
};
