'use strict';
// Provider SDK wrappers: wrap a client once; every call it makes reports its real usage.
//
// openai, @anthropic-ai/sdk and @google/genai take a `fetch`: the wrapped client's fetch calls
// the original and hands the SDK a Response over a tapped body, so the SDK parses the same
// bytes and returns its own objects and async iterables. @aws-sdk/client-bedrock-runtime: a
// deserialize-step middleware on each command sent through the wrapper sees the raw
// HttpResponse before the SDK's deserializer and taps its body stream. The engine's own
// extractors read the bytes (trackResponse / Stream + trackStream); nothing keeps content.

const { Engine, Stream, TollgateError, GuardBlocked } = require('./index.js');

class TrackingError extends Error {
  /** Tracking a call failed; the call itself was not affected (this only reaches onError). */
  constructor(kind, message, provider, model, cause, record) {
    super(`tollgate: ${kind}: ${message}`);
    this.name = 'TrackingError';
    this.kind = kind;
    this.provider = provider;
    this.model = model ?? null;
    this.cause = cause;
    this.record = record ?? null;
  }
}

/**
 * A response that ended before the provider reported its usage. The call is booked as an
 * explicit `truncated` event (`event`; unpriced, cost unknown, never a zero-token call) and
 * this warning goes to onError; `result` is the ledger's answer (null when booking failed:
 * `cause` says why); `record` describes the cut (requestId, bytesSeen, reason).
 */
class StreamTruncated extends TrackingError {
  constructor(message, provider, model, record, event, result, cause) {
    super('truncated', message, provider, model, cause, record);
    this.name = 'StreamTruncated';
    this.event = event ?? null;
    this.result = result ?? null;
  }
}

const STATUS_MARK = '{"status":"';

function defaultOnError(err) {
  process.emitWarning(err.message, { type: 'TollgateWarning', code: err.kind });
}

function money(v, what) {
  if (typeof v === 'number' && !Number.isInteger(v)) {
    throw new TypeError(`${what}: money must be exact: pass a string, integer or bigint of cents, not a fractional number`);
  }
  return String(v);
}

const CONTEXT_KEYS = [
  ['customerId', 'customerId'], ['agentId', 'agentId'], ['runId', 'runId'], ['revenueUnitCents', 'revenueUnitCents'],
];

class Tracker {
  constructor(engine, provider, opts) {
    if (!(engine instanceof Engine)) throw new TypeError('tollgate: engine must be a tollgate-engine Engine');
    if (!opts || opts.customerId === undefined || opts.customerId === null) throw new TypeError('tollgate: customerId is required');
    this.engine = engine;
    this.provider = provider;
    this.opts = opts;
    this.onError = opts.onError ?? defaultOnError;
    const fixed = {};
    for (const [key] of CONTEXT_KEYS) {
      const v = opts[key];
      if (v !== undefined && v !== null && typeof v !== 'function') {
        fixed[key] = key === 'revenueUnitCents' ? money(v, key) : String(v);
      }
    }
    this.fixed = fixed;
    this.simple = CONTEXT_KEYS.every(([k]) => typeof opts[k] !== 'function') && opts.providerCostCents === undefined;
    this.fixedJson = Buffer.from(JSON.stringify(fixed));
    this.names = new Map(); // provider or model name -> its UTF-8 bytes, encoded once
  }

  /** The UTF-8 bytes of a provider or model name (null for none), cached per tracker. */
  bytes(name) {
    if (name === null || name === undefined) return null;
    let b = this.names.get(name);
    if (b === undefined) {
      b = Buffer.from(name, 'utf8');
      if (this.names.size < 64) this.names.set(name, b);
    }
    return b;
  }

  fail(err) {
    try {
      this.onError(err);
    } catch (e) {
      process.emitWarning(`tollgate: onError threw: ${e && e.message}`, { type: 'TollgateWarning' });
    }
  }

  context(provider, requestId) {
    if (provider === 'bedrock' && requestId) return Buffer.from(JSON.stringify({ ...this.fixed, idempotencyKey: `req:${requestId}` }));
    return this.fixedJson;
  }

  check(results, provider, model) {
    for (const r of results) {
      if (r.status !== 'accepted' && r.status !== 'duplicate') this.fail(new TrackingError('rejected', JSON.stringify(r), provider, model));
    }
  }

  /**
   * check() on the engine's `{"results":[…]}` text: parsed only when some result is neither
   * accepted nor duplicate. Each result object starts `{"status":"`, a sequence no JSON
   * string value can hold unescaped, so scanning for it finds exactly the statuses.
   */
  checkText(text, provider, model) {
    let i = text.indexOf(STATUS_MARK);
    while (i !== -1) {
      const at = i + STATUS_MARK.length;
      if (!text.startsWith('accepted"', at) && !text.startsWith('duplicate"', at)) {
        this.check(JSON.parse(text).results, provider, model);
        return;
      }
      i = text.indexOf(STATUS_MARK, at);
    }
  }

  extractError(e, provider, model) {
    const kind = e instanceof TollgateError && e.name === 'TG_ERR_NO_USAGE' ? 'no_usage' : 'engine';
    return new TrackingError(kind, e && e.message, provider, model, e);
  }

  bookBody(body, model, requestId, provider) {
    try {
      if (this.simple) {
        this.checkText(this.engine._trackResponseText(this.bytes(provider), this.bytes(model), body, this.context(provider, requestId)), provider, model);
        return;
      }
      const { extractUsage } = require('./index.js');
      this.book(extractUsage(provider, body, model ?? undefined), provider, model, requestId);
    } catch (e) {
      this.fail(this.extractError(e, provider, model));
    }
  }

  book(items, provider, model, requestId) {
    const events = [];
    try {
      let key = null;
      items.forEach((item, i) => {
        const ev = { ...item, ...this.fixed };
        for (const k of ['customerId', 'agentId', 'runId']) {
          if (typeof this.opts[k] === 'function') {
            const v = this.opts[k](item);
            if (v !== undefined && v !== null) ev[k] = String(v);
          }
        }
        if (typeof this.opts.revenueUnitCents === 'function') {
          const v = this.opts.revenueUnitCents(item);
          if (v !== undefined && v !== null) ev.revenueUnitCents = money(v, 'revenueUnitCents');
        }
        const pc = this.opts.providerCostCents;
        if (pc !== undefined && pc !== null) {
          const v = pc === 'reported' ? item.reportedCostCents : typeof pc === 'function' ? pc(item) : pc;
          if (v !== undefined && v !== null) ev.providerCostCents = money(v, 'providerCostCents');
        }
        if (key === null) key = item.responseId || (requestId ? `req:${requestId}` : `tg:${require('node:crypto').randomUUID()}`);
        ev.idempotencyKey = i === 0 ? key : `${key}#${i + 1}`;
        events.push(ev);
      });
    } catch (e) {
      this.fail(new TrackingError('option', `a wrapper option threw: ${e && e.message}`, provider, model, e));
      return;
    }
    for (const ev of events) {
      try {
        const r = this.engine.track(ev);
        if (r.status !== 'accepted' && r.status !== 'duplicate') this.fail(new TrackingError('rejected', JSON.stringify(r), provider, ev.model));
      } catch (e) {
        this.fail(new TrackingError('engine', e && e.message, provider, ev.model, e));
      }
    }
  }

  /** Books the explicit `truncated` event of a response cut before its usage and reports it. */
  truncated(provider, model, requestId, seen, reason) {
    const record = { type: 'truncated', provider, model: model ?? null, requestId: requestId ?? null, bytesSeen: seen, reason };
    const event = { type: 'truncated', ...this.fixed };
    let result = null;
    let cause;
    try {
      // Functions of the line item get what is known of the call: no counts exist.
      const item = { provider, model: model ?? null, responseId: null, truncated: true };
      for (const [k] of CONTEXT_KEYS) {
        if (typeof this.opts[k] === 'function') {
          const v = this.opts[k](item);
          if (v !== undefined && v !== null) event[k] = k === 'revenueUnitCents' ? money(v, k) : String(v);
        }
      }
      event.provider = provider;
      if (model) event.model = model;
      event.idempotencyKey = requestId ? `req:${requestId}` : `tg:${require('node:crypto').randomUUID()}`;
      result = this.engine.track(event);
    } catch (e) {
      cause = e;
    }
    for (const k of ['customerId', 'runId', 'agentId']) if (k in event) record[k] = event[k];
    const booked = cause === undefined ? 'booked as a truncated event' : `booking the truncated event failed: ${cause && cause.message}`;
    this.fail(new StreamTruncated(`the response ended before its usage (${reason}); ${booked}: ${JSON.stringify(record)}`, provider, model, record, event, result, cause));
  }
}

// Stream chunks are copied into a per-stream batch of this size and cross into the engine's
// accumulator once per batch (and at the end), not once per chunk: the accumulator reads a
// byte stream, so where the batches split it does not matter. Memory stays bounded: one
// batch per open stream, whatever the stream's length.
const FEED_BATCH = 16 * 1024;

/** One response being read; booked once when it ends (complete, stopped, broken, dropped). */
class Session {
  constructor(tracker, streamed, model, requestId, provider) {
    this.tracker = tracker;
    this.provider = provider;
    this.model = model ?? null;
    this.requestId = requestId ?? null;
    this.seen = 0;
    this.done = false;
    this.parts = null;
    this.acc = null;
    this.requestBody = null; // read only if the response is cut (for the model it named)
    this.batch = null;
    this.fill = 0;
    if (streamed) {
      try {
        this.acc = new Stream(provider, model ?? undefined);
      } catch (e) {
        this.done = true;
        tracker.fail(new TrackingError('engine', e && e.message, provider, model, e));
      }
    } else {
      this.parts = [];
    }
  }

  feed(chunk) {
    if (this.done) return;
    const n = chunk.length;
    this.seen += n;
    try {
      if (this.acc) {
        if (this.fill + n > FEED_BATCH) this.flush();
        if (n >= FEED_BATCH) {
          this.acc.feed(chunk);
        } else {
          if (this.batch === null) this.batch = Buffer.allocUnsafe(FEED_BATCH);
          this.batch.set(chunk, this.fill);
          this.fill += n;
        }
      } else this.parts.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (e) {
      this.close();
      this.tracker.fail(new TrackingError('engine', e && e.message, this.provider, this.model, e));
    }
  }

  /** Hands the batched chunks to the engine's accumulator. */
  flush() {
    if (this.fill > 0) {
      const n = this.fill;
      this.fill = 0;
      this.acc.feed(this.batch.subarray(0, n));
    }
  }

  finish(complete, reason) {
    if (this.done) return;
    const t = this.tracker;
    try {
      if (this.acc) {
        try {
          this.flush();
          if (t.simple) {
            t.checkText(t.engine._trackStreamText(this.acc, t.context(this.provider, this.requestId)), this.provider, this.model);
          } else {
            t.book(this.acc.finish(), this.provider, this.model, this.requestId);
          }
        } catch (e) {
          const noUsage = e instanceof TollgateError && e.name === 'TG_ERR_NO_USAGE';
          const truncatedErr = e instanceof TollgateError && /truncated/.test(e.message);
          if (complete && (noUsage || !truncatedErr)) t.fail(t.extractError(e, this.provider, this.model));
          else t.truncated(this.provider, this.callModel(), this.requestId, this.seen, reason || (e && e.message));
        }
      } else if (complete) {
        const body = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
        this.parts = null;
        t.bookBody(body, this.model, this.requestId, this.provider);
      } else {
        t.truncated(this.provider, this.callModel(), this.requestId, this.seen, reason || 'body not read to its end');
      }
    } catch (e) {
      t.fail(new TrackingError('engine', e && e.message, this.provider, this.model, e));
    } finally {
      this.close();
    }
  }

  /** The model of the call: the one the tap knew, else the request body's `model`. */
  callModel() {
    if (this.model || typeof this.requestBody !== 'string') return this.model;
    try {
      const m = JSON.parse(this.requestBody).model;
      return typeof m === 'string' && m ? m : null;
    } catch {
      return null;
    }
  }

  close() {
    this.done = true;
    this.parts = null;
    this.requestBody = null;
    this.batch = null;
    const acc = this.acc;
    this.acc = null;
    if (acc) {
      try {
        acc.close();
      } catch {
        // already closed
      }
    }
  }
}

const STREAM_TYPES = ['text/event-stream', 'application/vnd.amazon.eventstream', 'application/x-ndjson'];
const dropped = new FinalizationRegistry((session) => session.finish(false, 'the response was dropped unread'));

/**
 * The request's path (its URL's pathname, without trailing slashes) and method. An absolute
 * http(s) URL string (what the SDKs pass) with nothing the URL parser would normalize in it
 * (whitespace, backslashes, percent-escapes, dot segments) is cut with string operations;
 * anything else is parsed with URL.
 */
function requestOf(input, init) {
  let path = null;
  if (typeof input === 'string' && (input.startsWith('https://') || input.startsWith('http://')) && !NEEDS_URL_PARSE.test(input)) {
    const start = input.indexOf('/', input.indexOf('//') + 2);
    let end = input.length;
    for (const c of ['?', '#']) {
      const at = input.indexOf(c);
      if (at !== -1 && at < end) end = at;
    }
    if (start === -1 || start > end) path = '/'; // no path: the host ends at the query
    else path = input.slice(start, end);
  } else {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    path = new URL(url).pathname;
  }
  let n = path.length;
  while (n > 0 && path.charCodeAt(n - 1) === 0x2f) n--;
  const method = (init && init.method) || (typeof input === 'object' && input.method) || 'GET';
  return { path: n === path.length ? path : path.slice(0, n), method: method.toUpperCase() };
}

const NEEDS_URL_PARSE = /[\s\\%]|\/\./;

/** A fetch that taps the responses `match` selects: (path, method) => [provider, model] | null. */
function tappedFetch(baseFetch, tracker, match) {
  return async function tollgateFetch(input, init) {
    let spec = null;
    try {
      const r = requestOf(input, init);
      spec = match(r.path, r.method);
    } catch {
      spec = null;
    }
    const res = await baseFetch(input, init);
    if (!spec || !res.ok || !res.body) return res;
    let session;
    try {
      const ctype = res.headers.get('content-type') || '';
      const rid = res.headers.get('x-request-id') || res.headers.get('request-id') || res.headers.get('x-amzn-requestid');
      session = new Session(tracker, STREAM_TYPES.some((t) => ctype.startsWith(t)), spec[1], rid, spec[0]);
      if (init && typeof init.body === 'string') session.requestBody = init.body;
    } catch (e) {
      tracker.fail(new TrackingError('engine', `tap: ${e && e.message}`, spec[0], spec[1], e));
      return res;
    }
    if (!session.acc) {
      const reader = res.body.getReader();
      // A JSON body: read it here and book it; the SDK then reads the same bytes from this
      // same Response (see served). A body that breaks is booked as truncated and the SDK's
      // read fails with the same error.
      let failure = null;
      const chunks = [];
      try {
        for (;;) {
          const r = await reader.read();
          if (r.done) break;
          chunks.push(r.value);
          session.feed(r.value);
        }
      } catch (e) {
        failure = e;
      }
      let bytes = null;
      if (failure === null) {
        const one = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        bytes = Buffer.from(one.buffer, one.byteOffset, one.byteLength);
      }
      session.finish(failure === null, failure === null ? undefined : `the connection broke: ${failure && failure.name}`);
      return served(res, bytes, failure);
    }
    const signal = init && init.signal;
    if (signal) signal.addEventListener('abort', () => session.finish(false, 'the call was aborted'), { once: true });
    const stream = res.body;
    if (Object.getPrototypeOf(stream) === ReadableStream.prototype && Object.isExtensible(stream)
      && Object.getPrototypeOf(res) === Response.prototype) {
      tapStream(stream, session);
      dropped.register(stream, session);
      return res;
    }
    // Not the runtime's own stream (a custom fetch's): a tapped stream in a new Response.
    const body = tappedCopy(stream.getReader(), session);
    dropped.register(body, session);
    const out = new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
    Object.defineProperty(out, 'url', { value: res.url });
    return out;
  };
}

/** A new ReadableStream that reads `reader` and feeds every chunk to the session. */
function tappedCopy(reader, session) {
  return new ReadableStream({
    async pull(ctrl) {
      let r;
      try {
        r = await reader.read();
      } catch (e) {
        session.finish(false, `the connection broke: ${e && e.name}`);
        ctrl.error(e);
        return;
      }
      if (r.done) {
        session.finish(true);
        ctrl.close();
        return;
      }
      session.feed(r.value);
      ctrl.enqueue(r.value);
    },
    cancel(reason) {
      session.finish(false, 'the caller stopped reading');
      return reader.cancel(reason);
    },
  });
}

// ---- A streamed response is tapped in place: its body stays the fetch's own ReadableStream
// (no second stream layer per chunk), and the ways to read it are taught to feed the session.
// getReader() gives the stream's own reader whose read() also feeds each chunk (and finishes
// the session at the end or on an error) and whose cancel() reports the stop; async iteration
// (`for await`, values()) runs on such a reader with the standard iterator semantics. What
// reads a stream through its internals instead (pipeTo, pipeThrough, tee) gets a tapped copy
// over such a reader. The Response's text()/json()/arrayBuffer()/blob() read through
// getReader() (as undici does), and a test holds them to it.

function tapReader(reader, session) {
  const read = reader.read;
  const cancel = reader.cancel;
  const onChunk = (r) => {
    if (r.done) session.finish(true);
    else session.feed(r.value);
    return r;
  };
  const onError = (e) => {
    session.finish(false, `the connection broke: ${e && e.name}`);
    throw e;
  };
  Object.defineProperties(reader, {
    read: { value: function tappedRead() { return read.call(this).then(onChunk, onError); }, configurable: true, writable: true },
    cancel: {
      value: function tappedCancel(reason) {
        session.finish(false, 'the caller stopped reading');
        return cancel.call(this, reason);
      },
      configurable: true,
      writable: true,
    },
  });
  return reader;
}

/**
 * The async iterator of a tapped stream (ReadableStream.prototype.values' semantics). It reads
 * through the stream's own reader and feeds each chunk itself, as tapReader's read() would
 * (one promise per chunk instead of two: `for await` is how the SDKs read a stream).
 */
function tappedIterator(stream, getReader, session, options) {
  const reader = getReader.call(stream);
  const preventCancel = !!(options && options.preventCancel);
  let finished = false;
  const iterator = {
    async next() {
      if (finished) return { done: true, value: undefined };
      let r;
      try {
        r = await reader.read();
      } catch (e) {
        finished = true;
        session.finish(false, `the connection broke: ${e && e.name}`);
        reader.releaseLock();
        throw e;
      }
      if (r.done) {
        finished = true;
        session.finish(true);
        reader.releaseLock();
      } else {
        session.feed(r.value);
      }
      return r;
    },
    async return(value) {
      if (!finished) {
        finished = true;
        if (!preventCancel) {
          session.finish(false, 'the caller stopped reading');
          const cancelled = reader.cancel(value);
          reader.releaseLock();
          await cancelled;
        } else {
          reader.releaseLock();
        }
      }
      return { done: true, value };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  Object.setPrototypeOf(iterator, ASYNC_ITERATOR_PROTO);
  return iterator;
}

const ASYNC_ITERATOR_PROTO = Object.getPrototypeOf(Object.getPrototypeOf(async function* g() {}).prototype);

function tapStream(stream, session) {
  const getReader = stream.getReader;
  let copy = null; // the tapped copy, for pipeTo / pipeThrough / tee
  const copyOf = (s) => {
    if (copy === null) copy = tappedCopy(getReader.call(s), session);
    return copy;
  };
  const method = (fn) => ({ value: fn, configurable: true, writable: true });
  Object.defineProperties(stream, {
    getReader: method(function tappedGetReader(options) {
      if (copy !== null) return copy.getReader(options);
      if (options && options.mode === 'byob') return copyOf(this).getReader(); // no BYOB on a tapped body
      return tapReader(getReader.call(this, options), session);
    }),
    values: method(function values(options) {
      return copy !== null ? copy.values(options) : tappedIterator(this, getReader, session, options);
    }),
    [Symbol.asyncIterator]: method(function asyncIterator(options) {
      return copy !== null ? copy.values(options) : tappedIterator(this, getReader, session, options);
    }),
    pipeTo: method(function pipeTo(dest, options) {
      return copyOf(this).pipeTo(dest, options);
    }),
    pipeThrough: method(function pipeThrough(pair, options) {
      return copyOf(this).pipeThrough(pair, options);
    }),
    tee: method(function tee() {
      return copyOf(this).tee();
    }),
  });
}

// ---- A JSON response the tap read before the SDK: the SDK reads the same bytes from the same
// Response object. Building a second undici Response over them and reading it through its
// stream cost more than the rest of the tracking together; instead the fetch's own Response
// gets a prototype whose body methods serve the bytes already read (text() and json() decode
// them as undici does: UTF-8, a leading BOM dropped). Everything else about the Response
// (status, headers, url, instanceof Response) is the original's. The rarely used body APIs
// (`body`, `bodyUsed` after them, `blob`, `formData`, `clone`, `bytes`) go to a real Response
// over the same bytes, made on first use, so they behave exactly as undici's.

const SERVED = Symbol('tollgate.servedBody');

/** The state of a served body: the bytes (or the read's failure), consumed yet, a real twin. */
class ServedBody {
  constructor(bytes, failure) {
    this.bytes = bytes;
    this.failure = failure;
    this.used = false;
    this.twin = null;
  }
}

function unusable() {
  return new TypeError('Body is unusable: Body has already been read');
}

/** The real Response over the served bytes, made once; consumed if the body already was. */
function twinOf(res) {
  const b = res[SERVED];
  if (b.twin === null) {
    const init = { status: res.status, statusText: res.statusText, headers: res.headers };
    const failure = b.failure;
    let body = b.bytes;
    if (b.used) body = new ReadableStream({ start(c) { c.close(); } });
    else if (failure !== null) body = new ReadableStream({ start(c) { c.error(failure); } });
    b.twin = new Response(body, init);
    Object.defineProperty(b.twin, 'url', { value: res.url });
    if (b.used) b.twin.arrayBuffer().catch(() => {}); // disturbed, as the original is
  }
  return b.twin;
}

/** The served bytes for one read; null when the body was read already or broke (see refusal). */
function take(b) {
  if (b.used || b.failure !== null) return null;
  b.used = true;
  return b.bytes;
}

/** Why a read got no bytes: the read's own error the first time, then "unusable" as undici. */
function refusal(b) {
  if (b.failure !== null && !b.used) {
    b.used = true;
    return Promise.reject(b.failure);
  }
  return Promise.reject(unusable());
}

function utf8Text(bytes) {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bytes.toString('utf8', bom ? 3 : 0);
}

const servedProto = Object.create(Response.prototype, {
  text: {
    value: function text() {
      const b = this[SERVED];
      if (b.twin !== null) return b.twin.text();
      const bytes = take(b);
      if (bytes === null) return refusal(b);
      return Promise.resolve(utf8Text(bytes));
    },
  },
  json: {
    value: function json() {
      const b = this[SERVED];
      if (b.twin !== null) return b.twin.json();
      const bytes = take(b);
      if (bytes === null) return refusal(b);
      try {
        return Promise.resolve(JSON.parse(utf8Text(bytes)));
      } catch (e) {
        return Promise.reject(e);
      }
    },
  },
  arrayBuffer: {
    value: function arrayBuffer() {
      const b = this[SERVED];
      if (b.twin !== null) return b.twin.arrayBuffer();
      const bytes = take(b);
      if (bytes === null) return refusal(b);
      const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
      return Promise.resolve(whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    },
  },
  body: { get() { return twinOf(this).body; } },
  bodyUsed: {
    get() {
      const b = this[SERVED];
      return b.twin !== null ? b.twin.bodyUsed : b.used;
    },
  },
  blob: { value: function blob() { return twinOf(this).blob(); } },
  formData: { value: function formData() { return twinOf(this).formData(); } },
  clone: { value: function clone() { return twinOf(this).clone(); } },
});
if (typeof Response.prototype.bytes === 'function') {
  Object.defineProperty(servedProto, 'bytes', { value: function bytes() { return twinOf(this).bytes(); } });
}

/**
 * Makes `res` (its body read by the tap) serve `bytes`, or fail with `failure`. A response
 * that is not the runtime's own Response (a custom fetch's) gets a new Response over the
 * bytes instead, as its getters may not work under another prototype.
 */
function served(res, bytes, failure) {
  if (Object.getPrototypeOf(res) === Response.prototype && Object.isExtensible(res)) {
    Object.defineProperty(res, SERVED, { value: new ServedBody(bytes, failure) });
    Object.setPrototypeOf(res, servedProto);
    return res;
  }
  const init = { status: res.status, statusText: res.statusText, headers: res.headers };
  const out = new Response(failure === null ? bytes : new ReadableStream({ start(c) { c.error(failure); } }), init);
  Object.defineProperty(out, 'url', { value: res.url });
  return out;
}

// ---- guard: the engine's allow() before a call is sent (same semantics as the Python wrappers)

const GUARD_MODES = [undefined, null, false, true, 'block', 'downgrade'];
const GUARD_KEYS = new Set(['mode', 'usage', 'estimatedCostCents']);

/** The guard options, checked once per wrap: null when there is no guard. */
function guardOptions(guard, opts) {
  if (guard === undefined || guard === null || guard === false) return null;
  const obj = typeof guard === 'object' && !Array.isArray(guard) ? guard : null;
  const mode = obj ? (obj.mode === undefined ? true : obj.mode) : guard;
  if (!GUARD_MODES.includes(mode) || (obj && !Object.keys(obj).every((k) => GUARD_KEYS.has(k)))) {
    throw new RangeError(`tollgate: guard must be true, 'block', 'downgrade' or an object with mode, usage (expected token counts) and/or estimatedCostCents, not ${JSON.stringify(guard)}`);
  }
  if (!mode) return null;
  if (['customerId', 'agentId', 'runId'].some((k) => typeof opts[k] === 'function')) {
    throw new TypeError('tollgate: guard needs customerId, agentId and runId as values (a function of the response cannot be known before the call)');
  }
  return { mode, usage: obj ? obj.usage : undefined, estimatedCostCents: obj ? obj.estimatedCostCents : undefined };
}

/**
 * Asks allow() for a call to `model`; throws GuardBlocked on 'block'. Returns the model to send
 * instead ('downgrade' mode and a downgrade decision), else null. If allow() itself fails the
 * call goes ahead and the failure goes to onError: tracking never breaks a call.
 */
function decide(tracker, guard, model) {
  let d;
  try {
    const o = tracker.opts;
    d = tracker.engine.allow(String(o.customerId), {
      agentId: o.agentId == null ? undefined : String(o.agentId),
      runId: o.runId == null ? undefined : String(o.runId),
      model: model == null ? undefined : String(model),
      estimatedCostCents: guard.estimatedCostCents,
      usage: guard.usage,
      provider: tracker.provider,
    });
  } catch (e) {
    tracker.fail(new TrackingError('engine', `guard: allow failed, the call goes ahead: ${e && e.message}`, tracker.provider, model, e));
    return null;
  }
  if (d.decision === 'block') throw new GuardBlocked(d);
  if (d.decision === 'downgrade' && guard.mode === 'downgrade' && d.suggestedModel) return d.suggestedModel;
  return null;
}

/**
 * openai / @anthropic-ai/sdk: the SDK's own prepareOptions hook of the wrapped copy runs before
 * each attempt is built, outside its retry handling, so a GuardBlocked reaches the caller as
 * is and a downgrade rewrites the request body's model.
 */
function guardStainless(wrapped, tracker, guard, suffixes) {
  const prepare = wrapped.prepareOptions;
  wrapped.prepareOptions = async function prepareOptions(options) {
    await prepare.call(this, options);
    const body = options && options.body;
    const path = String((options && options.path) || '').replace(/\/+$/, '');
    if (body && typeof body === 'object' && !ArrayBuffer.isView(body) && suffixes.some((x) => path.endsWith(x))) {
      const swap = decide(tracker, guard, body.model);
      if (swap !== null) options.body = { ...body, model: swap };
    }
  };
}

function pathMatch(provider, suffixes) {
  return (path, method) => (method === 'POST' && suffixes.some((s) => path.endsWith(s)) ? [provider, null] : null);
}

function options(opts) {
  return opts || {};
}

/**
 * A copy of an `openai` client (`client.withOptions`) whose Chat Completions, Responses and
 * Completions calls, streamed or not, are tracked. `provider: 'openai_compatible'` for
 * gateways; `providerCostCents: 'reported'` books a gateway's stated cost.
 */
function wrapOpenAI(client, engine, opts) {
  const o = options(opts);
  const provider = o.provider || 'openai';
  if (provider !== 'openai' && provider !== 'openai_compatible') throw new RangeError(`tollgate: provider must be openai or openai_compatible, not ${provider}`);
  const tracker = new Tracker(engine, provider, o);
  const guard = guardOptions(o.guard, o);
  const base = client.fetch || globalThis.fetch;
  const suffixes = ['/chat/completions', '/responses', '/completions'];
  const wrapped = client.withOptions({ fetch: tappedFetch(base, tracker, pathMatch(provider, suffixes)) });
  if (guard) guardStainless(wrapped, tracker, guard, suffixes);
  return wrapped;
}

/** A copy of an `@anthropic-ai/sdk` client whose Messages calls (create, stream) are tracked. */
function wrapAnthropic(client, engine, opts) {
  const o = options(opts);
  if ((o.provider || 'anthropic') !== 'anthropic') throw new RangeError('tollgate: wrapAnthropic reads Anthropic Messages responses');
  const tracker = new Tracker(engine, 'anthropic', o);
  const guard = guardOptions(o.guard, o);
  const base = client.fetch || globalThis.fetch;
  const wrapped = client.withOptions({ fetch: tappedFetch(base, tracker, pathMatch('anthropic', ['/messages'])) });
  if (guard) guardStainless(wrapped, tracker, guard, ['/messages']);
  return wrapped;
}

/** A new `GoogleGenAI` with the client's settings whose generateContent(Stream) calls are tracked. */
function wrapGemini(client, engine, opts) {
  const o = options(opts);
  if ((o.provider || 'gemini') !== 'gemini') throw new RangeError('tollgate: wrapGemini reads Gemini responses');
  const tracker = new Tracker(engine, 'gemini', o);
  const guard = guardOptions(o.guard, o);
  const http = client.httpOptions || {};
  const base = http.fetch || globalThis.fetch;
  const match = (p, method) => {
    if (method !== 'POST' || !(p.includes(':generateContent') || p.includes(':streamGenerateContent'))) return null;
    return ['gemini', decodeURIComponent(p.split('/models/').pop().split(':')[0]) || null];
  };
  const Ctor = client.constructor;
  const wrapped = new Ctor({
    apiKey: client.apiKey,
    vertexai: client.vertexai,
    googleAuthOptions: client.googleAuthOptions,
    project: client.project,
    location: client.location,
    apiVersion: client.apiVersion,
    httpOptions: { ...http, fetch: tappedFetch(base, tracker, match) },
  });
  if (guard) {
    // Before models.generateContent(Stream)({ model, … }): a block rejects before any request.
    const models = wrapped.models;
    for (const name of ['generateContent', 'generateContentStream']) {
      const orig = models[name].bind(models);
      models[name] = async (params, ...rest) => {
        const swap = decide(tracker, guard, params && params.model);
        return orig(swap === null ? params : { ...params, model: swap }, ...rest);
      };
    }
  }
  return wrapped;
}

const BEDROCK_OPS = {
  ConverseCommand: ['bedrock', false],
  ConverseStreamCommand: ['bedrock', true],
  InvokeModelCommand: [null, false],
  InvokeModelWithResponseStreamCommand: [null, true],
};

/** Taps a Node Readable (the raw AWS response body) as the deserializer reads it. */
function tapReadable(stream, session) {
  const { Transform } = require('node:stream');
  const tap = new Transform({
    transform(chunk, _enc, cb) {
      session.feed(chunk);
      cb(null, chunk);
    },
    flush(cb) {
      session.finish(true);
      cb();
    },
  });
  stream.on('error', (e) => {
    session.finish(false, `the connection broke: ${e && e.name}`);
    tap.destroy(e);
  });
  tap.on('close', () => session.finish(false, 'the caller stopped reading'));
  dropped.register(tap, session);
  return stream.pipe(tap);
}

/**
 * A view of a `BedrockRuntimeClient` whose `send` tracks Converse, ConverseStream,
 * InvokeModel and InvokeModelWithResponseStream; everything else is the client's own.
 */
function wrapBedrock(client, engine, opts) {
  const o = options(opts);
  if ((o.provider || 'bedrock') !== 'bedrock') throw new RangeError('tollgate: wrapBedrock reads Bedrock responses');
  const tracker = new Tracker(engine, 'bedrock', o);
  const guard = guardOptions(o.guard, o);
  const send = (command, ...rest) => {
    const op = BEDROCK_OPS[command && command.constructor && command.constructor.name];
    if (op && guard) {
      // Before the command is sent: a block rejects the send, a downgrade swaps the modelId.
      let swap;
      try {
        swap = decide(tracker, guard, command.input && command.input.modelId);
      } catch (e) {
        return Promise.reject(e);
      }
      if (swap !== null) command.input.modelId = swap;
    }
    if (op) {
      const modelId = command.input && command.input.modelId;
      const provider = op[0] || (modelId && modelId.includes('anthropic.') ? 'anthropic' : 'bedrock');
      command.middlewareStack.add(
        (next) => async (args) => {
          const result = await next(args);
          const res = result.response;
          try {
            if (res && res.statusCode >= 200 && res.statusCode < 300 && res.body) {
              const h = res.headers || {};
              const rid = h['x-amzn-requestid'] || h['x-amzn-RequestId'];
              const session = new Session(tracker, op[1], modelId, rid, provider);
              res.body = tapReadable(res.body, session);
            }
          } catch (e) {
            tracker.fail(new TrackingError('engine', `bedrock tap: ${e && e.message}`, provider, modelId, e));
          }
          return result;
        },
        { step: 'deserialize', name: 'tollgateTap', priority: 'low', override: true },
      );
    }
    return client.send(command, ...rest);
  };
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'send') return send;
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Books a run's outcome ('resolved' | 'escalated' | 'failed'). */
function resolve(engine, runId, customerId, outcome = 'resolved', opts = {}) {
  const rec = { runId, customerId, outcome };
  if (opts.revenueUnitCents !== undefined) rec.revenueUnitCents = money(opts.revenueUnitCents, 'revenueUnitCents');
  if (opts.timestamp !== undefined) rec.timestamp = opts.timestamp;
  return engine.resolve(rec);
}

module.exports = { wrapOpenAI, wrapAnthropic, wrapBedrock, wrapGemini, resolve, TrackingError, StreamTruncated, GuardBlocked };
