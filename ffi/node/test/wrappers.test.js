'use strict';
// The SDK wrappers with the real SDK packages (openai, @anthropic-ai/sdk, @google/genai,
// @aws-sdk/client-bedrock-runtime; pinned devDependencies) against the replay server
// (ffi/replay/server.py) serving the recordings under ../shared/fixtures/providers on
// 127.0.0.1. Expected line items: the recordings' own expectations (expected.jsonl).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');

const tg = require('../index.js');
const W = require('../wrappers.js');

const FIXTURES = path.resolve(__dirname, '../../../../shared/fixtures/providers');
const HAVE = fs.existsSync(path.join(FIXTURES, 'expected.jsonl'));
const EXPECTED = {};
if (HAVE) {
  for (const line of fs.readFileSync(path.join(FIXTURES, 'expected.jsonl'), 'utf8').split('\n')) {
    if (line.trim()) {
      const v = JSON.parse(line);
      EXPECTED[v.file] = v;
    }
  }
}

const OpenAI = require('openai').default;
const Anthropic = require('@anthropic-ai/sdk').default;
const { GoogleGenAI } = require('@google/genai');
const {
  BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, InvokeModelCommand, InvokeModelWithResponseStreamCommand,
} = require('@aws-sdk/client-bedrock-runtime');
const { NodeHttpHandler } = require('@smithy/node-http-handler');

const MARKER = 'PLANTED-MARKER-7f3a9c';
const MSG = [{ role: 'user', content: `hello ${MARKER}` }];
const CMSG = [{ role: 'user', content: [{ text: `hello ${MARKER}` }] }];

let server;
let BASE;
let PORT;

test.before(async () => {
  if (!HAVE) return;
  server = spawn('python3', [path.resolve(__dirname, '../../replay/server.py'), '--fixtures', FIXTURES], { stdio: ['pipe', 'pipe', 'inherit'] });
  PORT = await new Promise((resolve, reject) => {
    server.stdout.once('data', (d) => resolve(Number(String(d).split(/\s+/)[1])));
    server.once('error', reject);
  });
  BASE = `http://127.0.0.1:${PORT}/r`;
});

test.after(() => {
  if (server) server.stdin.end();
});

async function served(tag) {
  const r = await fetch(`http://127.0.0.1:${PORT}/_count/${tag}`);
  return r.json();
}

const oai = (spec, extra = {}) => new OpenAI({ apiKey: 'sk-test', baseURL: `${BASE}/${spec}/v1`, maxRetries: 0, ...extra });
const ant = (spec, extra = {}) => new Anthropic({ apiKey: 'sk-ant-test', baseURL: `${BASE}/${spec}`, maxRetries: 0, ...extra });
const gem = (spec, extra = {}) => new GoogleGenAI({ apiKey: 'test-key', httpOptions: { baseUrl: `${BASE}/${spec}/`, ...extra } });
const bed = (spec, maxAttempts = 1) => new BedrockRuntimeClient({
  region: 'us-east-1', endpoint: `${BASE}/${spec}`, maxAttempts,
  credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, requestHandler: new NodeHttpHandler(),
});

async function callOpenAIChat(spec, e, provider, errs, stream) {
  const c = W.wrapOpenAI(oai(spec), e, { customerId: 'cust', provider, onError: (x) => errs.push(x) });
  if (stream) {
    const s = await c.chat.completions.create({ model: 'gpt-4o-mini', messages: MSG, stream: true, stream_options: { include_usage: true } });
    for await (const _ of s) { /* read to the end */ }
    return s;
  }
  return c.chat.completions.create({ model: 'gpt-4o-mini', messages: MSG });
}

async function callOpenAIResponses(spec, e, provider, errs, stream) {
  const c = W.wrapOpenAI(oai(spec), e, { customerId: 'cust', provider, onError: (x) => errs.push(x) });
  if (stream) {
    const s = await c.responses.create({ model: 'gpt-5', input: `hi ${MARKER}`, stream: true });
    for await (const _ of s) { /* read to the end */ }
    return s;
  }
  return c.responses.create({ model: 'gpt-5', input: `hi ${MARKER}` });
}

async function callAnthropic(spec, e, provider, errs, stream) {
  const c = W.wrapAnthropic(ant(spec), e, { customerId: 'cust', onError: (x) => errs.push(x) });
  if (stream) {
    const s = c.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: MSG });
    return s.finalMessage();
  }
  return c.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: MSG });
}

async function callConverse(spec, e, provider, errs, stream, model) {
  const c = W.wrapBedrock(bed(spec), e, { customerId: 'cust', onError: (x) => errs.push(x) });
  if (stream) {
    const r = await c.send(new ConverseStreamCommand({ modelId: model, messages: CMSG }));
    for await (const _ of r.stream) { /* read to the end */ }
    return r;
  }
  return c.send(new ConverseCommand({ modelId: model, messages: CMSG }));
}

async function callInvoke(spec, e, provider, errs, stream, model) {
  const c = W.wrapBedrock(bed(spec), e, { customerId: 'cust', onError: (x) => errs.push(x) });
  const body = JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 64, messages: MSG });
  if (stream) {
    const r = await c.send(new InvokeModelWithResponseStreamCommand({ modelId: model, body }));
    for await (const _ of r.body) { /* read to the end */ }
    return r;
  }
  const r = await c.send(new InvokeModelCommand({ modelId: model, body }));
  JSON.parse(Buffer.from(r.body).toString());
  return r;
}

async function callGemini(spec, e, provider, errs, stream) {
  const c = W.wrapGemini(gem(spec), e, { customerId: 'cust', onError: (x) => errs.push(x) });
  if (stream) {
    for await (const _ of await c.models.generateContentStream({ model: 'gemini-2.5-flash', contents: `hi ${MARKER}` })) { /* read */ }
    return null;
  }
  return c.models.generateContent({ model: 'gemini-2.5-flash', contents: `hi ${MARKER}` });
}

const CASES = [
  ['openai_chat_1.json', null, callOpenAIChat, false],
  ['openai_chat_3.json', null, callOpenAIChat, false],
  ['openai_chat_4.json', null, callOpenAIChat, false],
  ['openai_chat_stream_1.sse', null, callOpenAIChat, true],
  ['azure_chat_stream_1.jsonl', null, callOpenAIChat, true],
  ['openai_responses_1.json', null, callOpenAIResponses, false],
  ['openai_responses_3.json', null, callOpenAIResponses, false],
  ['openai_responses_stream_1.sse', null, callOpenAIResponses, true],
  ['openrouter_chat_1.json', null, callOpenAIChat, false],
  ['openrouter_chat_2.json', null, callOpenAIChat, false],
  ['openrouter_chat_stream_2.sse', null, callOpenAIChat, true],
  ['openrouter_responses_1.json', null, callOpenAIResponses, false],
  ['groq_chat_1.json', null, callOpenAIChat, false],
  ['vllm_chat_stream_1.sse', null, callOpenAIChat, true],
  ['cerebras_chat_1.json', null, callOpenAIChat, false],
  ['deepseek_chat_1.json', null, callOpenAIChat, false],
  ['anthropic_messages_1.json', null, callAnthropic, false],
  ['anthropic_messages_2.json', null, callAnthropic, false],
  ['anthropic_messages_3.json', null, callAnthropic, false],
  ['anthropic_messages_5.json', null, callAnthropic, false],
  ['anthropic_stream_1.sse', null, callAnthropic, true],
  ['anthropic_stream_3.sse', null, callAnthropic, true],
  ['anthropic_stream_5.sse', null, callAnthropic, true],
  ['anthropic_compat_stream_1.jsonl', null, callAnthropic, true],
  ['bedrock_converse_1.json', null, callConverse, false],
  ['bedrock_converse_2.json', null, callConverse, false],
  ['bedrock_converse_4.json', null, callConverse, false],
  ['bedrock_converse_6.json', null, callConverse, false],
  ['bedrock_conversestream_1.eventstream', null, callConverse, true],
  ['bedrock_conversestream_2.jsonl', null, callConverse, true],
  ['anthropic_bedrock_invoke_1.json', null, callInvoke, false],
  ['anthropic_stream_1.sse', 'invoke_stream=anthropic_stream_1.sse', callInvoke, true],
  ['gemini_generate_1.json', null, callGemini, false],
  ['gemini_generate_3.json', null, callGemini, false],
  ['gemini_stream_1.sse', null, callGemini, true],
];

function tokensByModel(e) {
  const out = {};
  for (const r of e.margin({ groupBy: ['model'] })) {
    const t = r.tokens;
    out[r.model] = [r.events, t.tokensIn, t.cachedTokens, t.cacheWrite5mTokens, t.cacheWrite1hTokens, t.tokensOut, t.reasoningTokens];
  }
  return out;
}

function expectedByModel(recording) {
  const out = {};
  for (const it of EXPECTED[recording].lineItems) {
    const row = [1, it.tokensIn, it.cachedTokens, it.cacheWrite5mTokens, it.cacheWrite1hTokens, it.tokensOut, it.reasoningTokens ?? 0];
    out[it.model] = (out[it.model] || [0, 0, 0, 0, 0, 0, 0]).map((a, i) => a + row[i]);
  }
  return out;
}

function makeCall([recording, servedAs, call, stream], e, errs) {
  const exp = EXPECTED[recording];
  let model;
  if (call === callConverse) model = exp.requestModel;
  if (call === callInvoke) model = stream ? 'anthropic.claude-sonnet-4-20250514-v1:0' : 'eu.anthropic.claude-haiku-4-5-20251001-v1:0';
  return call(servedAs || recording, e, exp.provider, errs, stream, model);
}

test('every recording each SDK can request is tracked with its expected line items, once', { skip: !HAVE }, async (t) => {
  assert.deepEqual(new Set(CASES.map((c) => c[0])), new Set(Object.keys(EXPECTED)));
  for (const c of CASES) {
    await t.test(c[1] || c[0], async () => {
      const e = new tg.Engine();
      const errs = [];
      await makeCall(c, e, errs);
      assert.deepEqual(errs, []);
      assert.deepEqual(tokensByModel(e), expectedByModel(c[0]));
      if (!c[0].startsWith('bedrock_converse')) {
        await makeCall(c, e, errs); // the same response again: a duplicate, never a second record
        assert.deepEqual(errs, []);
        assert.deepEqual(tokensByModel(e), expectedByModel(c[0]));
      }
      e.close();
    });
  }
});

/** An exact decimal string of cents as a BigInt of 10^-24 cent. */
function scaled(text) {
  const [whole, frac = ''] = String(text).split('.');
  return BigInt(whole + frac.padEnd(24, '0'));
}

/** One explicit truncated event booked (unpriced, no tokens, no cost: never a fake zero-token
 * call priced at 0) and one warning carrying it. */
function truncatedOnly(e, errs) {
  assert.equal(errs.length, 1, String(errs.map((x) => x.message)));
  const err = errs[0];
  assert.ok(err instanceof W.StreamTruncated);
  assert.equal(err.record.type, 'truncated');
  assert.equal(err.record.customerId, 'cust');
  assert.ok(err.record.bytesSeen > 0);
  assert.equal(err.cause, undefined);
  assert.equal(err.event.type, 'truncated');
  assert.ok(err.event.model, 'the model the request named');
  assert.equal(err.result.status, 'accepted');
  assert.equal(err.result.priced, false);
  assert.ok(err.result.warnings.some((w) => w.startsWith('truncated: ')), JSON.stringify(err.result));
  const rows = e.margin({ groupBy: ['customer', 'model'] });
  assert.equal(rows.length, 1, JSON.stringify(rows));
  assert.deepEqual([rows[0].customerId, rows[0].model, rows[0].events, rows[0].unpricedEvents, String(rows[0].costCents)], ['cust', err.event.model, 1, 1, '0']);
  assert.deepEqual(new Set(Object.values(rows[0].tokens)), new Set([0]));
}

/** An onError that records every report and resolves `first` on the first truncated one
 * (bounded: a test that never gets one fails after 10 s instead of hanging). */
function reports() {
  const errs = [];
  let done;
  const first = new Promise((resolve, reject) => {
    done = resolve;
    setTimeout(() => reject(new Error(`no truncated report in 10 s: ${errs.map((x) => x.message)}`)), 10_000).unref();
  });
  const onError = (x) => {
    errs.push(x);
    if (x instanceof W.StreamTruncated) done();
  };
  return { errs, first, onError };
}

// `hold=N`: the replay server sends the stream's first N bytes (no usage in them) and then
// nothing until the client goes away, so "stopped early" cannot race the rest of the body.
test('a stream stopped early is reported truncated, nothing booked', { skip: !HAVE }, async (t) => {
  await t.test('openai: break out of the async iterable', async () => {
    const e = new tg.Engine();
    const r = reports();
    const c = W.wrapOpenAI(oai('openai_chat_stream_1.sse,hold=600'), e, { customerId: 'cust', onError: r.onError });
    const s = await c.chat.completions.create({ model: 'm', messages: MSG, stream: true });
    for await (const _ of s) break; // eslint-disable-line no-unreachable-loop
    await r.first;
    truncatedOnly(e, r.errs);
  });
  await t.test('anthropic: break out of create({ stream: true })', async () => {
    const e = new tg.Engine();
    const r = reports();
    const c = W.wrapAnthropic(ant('anthropic_stream_1.sse,hold=1200'), e, { customerId: 'cust', onError: r.onError });
    const s = await c.messages.create({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: MSG, stream: true });
    for await (const _ of s) break; // eslint-disable-line no-unreachable-loop
    await r.first;
    truncatedOnly(e, r.errs);
  });
  await t.test('anthropic: messages.stream() aborted after the first event', async () => {
    const e = new tg.Engine();
    const r = reports();
    const c = W.wrapAnthropic(ant('anthropic_stream_1.sse,hold=1200'), e, { customerId: 'cust', onError: r.onError });
    const s = c.messages.stream({ model: 'claude-sonnet-4-6', max_tokens: 64, messages: MSG });
    await new Promise((resolve) => s.once('streamEvent', resolve));
    s.abort();
    await assert.rejects(s.finalMessage(), (err) => err instanceof Anthropic.APIUserAbortError);
    await r.first;
    truncatedOnly(e, r.errs);
  });
});

test('a stream cut by the server: the SDK error reaches the caller, truncated reported', { skip: !HAVE }, async (t) => {
  const cases = {
    openai: (e, errs) => callOpenAIChat('openai_chat_stream_1.sse,cut=900', e, 'openai', errs, true),
    anthropic: (e, errs) => callAnthropic('anthropic_stream_1.sse,cut=2000', e, 'anthropic', errs, true),
    bedrock: (e, errs) => callConverse('bedrock_conversestream_1.eventstream,cut=1500', e, 'bedrock', errs, true, 'us.amazon.nova-micro-v1:0'),
    gemini: (e, errs) => callGemini('gemini_stream_1.sse,cut=1200', e, 'gemini', errs, true),
  };
  for (const [name, call] of Object.entries(cases)) {
    await t.test(name, async () => {
      const e = new tg.Engine();
      const errs = [];
      await assert.rejects(call(e, errs), (err) => !(err instanceof W.TrackingError));
      await new Promise((r) => setTimeout(r, 50));
      truncatedOnly(e, errs);
    });
  }
});

test('a JSON body cut by the server: the SDK error reaches the caller, truncated reported', { skip: !HAVE }, async () => {
  const e = new tg.Engine();
  const errs = [];
  await assert.rejects(callOpenAIChat('openai_chat_1.json,cut=900', e, 'openai', errs, false), (err) => !(err instanceof W.TrackingError));
  assert.equal(errs[0].record.bytesSeen, 900);
  truncatedOnly(e, errs);
});

test('the Response a wrapped client hands over reads like the unwrapped one, once', { skip: !HAVE }, async (t) => {
  const body = fs.readFileSync(path.join(FIXTURES, 'openai_chat_1.json'));
  const create = (c) => c.chat.completions.create({ model: 'gpt-4o-mini', messages: MSG }).asResponse();
  const pair = async () => {
    const e = new tg.Engine();
    const errs = [];
    const r = await create(W.wrapOpenAI(oai('openai_chat_1.json'), e, { customerId: 'cust', onError: (x) => errs.push(x) }));
    // Tracked before the body is read (the tap read it), whatever the caller does next.
    assert.deepEqual(errs, []);
    assert.deepEqual(tokensByModel(e), expectedByModel('openai_chat_1.json'));
    return [await create(oai('openai_chat_1.json')), r];
  };
  const reads = {
    text: (r) => r.text(),
    json: (r) => r.json(),
    arrayBuffer: async (r) => Buffer.from(await r.arrayBuffer()),
    blob: async (r) => Buffer.from(await (await r.blob()).arrayBuffer()),
    body: async (r) => {
      const parts = [];
      for await (const p of r.body) parts.push(p);
      return Buffer.concat(parts);
    },
    clone: async (r) => [await r.clone().text(), await r.text()],
  };
  for (const [name, read] of Object.entries(reads)) {
    await t.test(name, async () => {
      const [plain, wrapped] = await pair();
      assert.ok(wrapped instanceof Response);
      assert.deepEqual([wrapped.status, wrapped.ok, wrapped.url, wrapped.headers.get('content-type'), wrapped.bodyUsed],
        [plain.status, plain.ok, plain.url, plain.headers.get('content-type'), false]);
      const got = await read(wrapped);
      assert.deepEqual(got, await read(plain));
      if (name === 'text') assert.equal(got, body.toString('utf8'));
      assert.equal(wrapped.bodyUsed, plain.bodyUsed);
      // A second read fails as undici's does.
      await assert.rejects(wrapped.text(), TypeError);
      await assert.rejects(plain.text(), TypeError);
    });
  }
});

test('a streamed Response read any way is tracked once and reads as the unwrapped one', { skip: !HAVE }, async (t) => {
  const rec = 'openai_chat_stream_1.sse';
  const create = (c) => c.chat.completions.create({ model: 'gpt-4o-mini', messages: MSG, stream: true }).asResponse();
  const all = async (reader) => {
    const parts = [];
    for (;;) {
      const r = await reader.read();
      if (r.done) return Buffer.concat(parts).toString();
      parts.push(r.value);
    }
  };
  const reads = {
    'for await': async (r) => {
      const parts = [];
      for await (const p of r.body) parts.push(p);
      return Buffer.concat(parts).toString();
    },
    values: async (r) => {
      const parts = [];
      for await (const p of r.body.values()) parts.push(p);
      return Buffer.concat(parts).toString();
    },
    getReader: (r) => all(r.body.getReader()),
    // The first chunk through values({ preventCancel: true }), left early (the stream stays
    // open), then the rest through a reader: one whole response, booked once.
    'values, preventCancel, then getReader': async (r) => {
      const parts = [];
      for await (const p of r.body.values({ preventCancel: true })) {
        parts.push(p);
        break;
      }
      return Buffer.concat([...parts, Buffer.from(await all(r.body.getReader()))]).toString();
    },
    text: (r) => r.text(),
    arrayBuffer: async (r) => Buffer.from(await r.arrayBuffer()).toString(),
    pipeTo: async (r) => {
      const parts = [];
      await r.body.pipeTo(new WritableStream({ write(p) { parts.push(p); } }));
      return Buffer.concat(parts).toString();
    },
    pipeThrough: (r) => all(r.body.pipeThrough(new TransformStream()).getReader()),
    tee: async (r) => {
      const [a, b] = r.body.tee();
      return Promise.all([all(a.getReader()), all(b.getReader())]);
    },
    clone: async (r) => Promise.all([r.clone().text(), r.text()]),
  };
  for (const [name, read] of Object.entries(reads)) {
    await t.test(name, async () => {
      const e = new tg.Engine();
      const errs = [];
      const wrapped = await create(W.wrapOpenAI(oai(rec), e, { customerId: 'cust', onError: (x) => errs.push(x) }));
      assert.deepEqual(e.margin({}), []); // nothing before the body is read
      const got = await read(wrapped);
      assert.deepEqual(got, await read(await create(oai(rec))));
      assert.deepEqual(errs, []);
      assert.deepEqual(tokensByModel(e), expectedByModel(rec));
    });
  }
});

test('HTTP 4xx/5xx reach the caller as the SDK raises them; nothing tracked', { skip: !HAVE }, async () => {
  for (const status of [400, 429, 500]) {
    const e = new tg.Engine();
    const errs = [];
    await assert.rejects(callOpenAIChat(`openai_chat_1.json,status=${status}`, e, 'openai', errs, false), (err) => err instanceof OpenAI.APIError && err.status === status);
    await assert.rejects(callAnthropic(`anthropic_messages_1.json,status=${status}`, e, 'anthropic', errs, false), (err) => err instanceof Anthropic.APIError && err.status === status);
    await assert.rejects(callConverse(`bedrock_converse_1.json,status=${status}`, e, 'bedrock', errs, false, 'm'), (err) => err.$metadata.httpStatusCode === status);
    await assert.rejects(callGemini(`gemini_generate_1.json,status=${status}`, e, 'gemini', errs, false), (err) => err.status === status);
    assert.deepEqual(errs, []);
    assert.deepEqual(e.margin({}), []);
  }
});

test('an SDK retry after a 500 is one record', { skip: !HAVE }, async () => {
  const e = new tg.Engine();
  const errs = [];
  const onError = (x) => errs.push(x);
  await W.wrapOpenAI(oai('openai_chat_1.json,failonce=n-oai,tag=n-oai', { maxRetries: 2 }), e, { customerId: 'c', onError })
    .chat.completions.create({ model: 'm', messages: MSG });
  await W.wrapAnthropic(ant('anthropic_messages_5.json,failonce=n-ant,tag=n-ant', { maxRetries: 2 }), e, { customerId: 'c', onError })
    .messages.create({ model: 'm', max_tokens: 8, messages: MSG });
  await W.wrapBedrock(bed('bedrock_converse_6.json,failonce=n-br,tag=n-br', 3), e, { customerId: 'c', onError })
    .send(new ConverseCommand({ modelId: 'anthropic.claude-3-7-sonnet-20250219-v1:0', messages: CMSG }));
  for (const tag of ['n-oai', 'n-ant', 'n-br']) assert.equal((await served(tag)).count, 2, tag);
  assert.deepEqual(errs, []);
  const want = { ...expectedByModel('openai_chat_1.json'), ...expectedByModel('anthropic_messages_5.json'), ...expectedByModel('bedrock_converse_6.json') };
  assert.deepEqual(tokensByModel(e), want);
});

test('32 concurrent calls: exact totals', { skip: !HAVE }, async () => {
  // Converse responses carry no id: 32 calls are 32 records, exactly 32 times one.
  const one = new tg.Engine();
  await callConverse('bedrock_converse_6.json', one, 'bedrock', [], false, 'anthropic.claude-3-7-sonnet-20250219-v1:0');
  const single = one.customerMargin('cust').costCents;
  const e = new tg.Engine();
  const errs = [];
  const client = W.wrapBedrock(bed('bedrock_converse_6.json'), e, { customerId: 'cust', onError: (x) => errs.push(x) });
  await Promise.all(Array.from({ length: 32 }, () => client.send(new ConverseCommand({ modelId: 'anthropic.claude-3-7-sonnet-20250219-v1:0', messages: CMSG }))));
  const m = e.customerMargin('cust');
  assert.deepEqual(errs, []);
  assert.equal(m.events, 32);
  assert.equal(scaled(m.costCents), scaled(single) * 32n);
  // 32 concurrent streams of one response (one id): one record.
  const e2 = new tg.Engine();
  const c2 = W.wrapOpenAI(oai('openai_chat_stream_1.sse'), e2, { customerId: 'cust', onError: (x) => errs.push(x) });
  await Promise.all(Array.from({ length: 32 }, async () => {
    for await (const _ of await c2.chat.completions.create({ model: 'm', messages: MSG, stream: true })) { /* read */ }
  }));
  assert.deepEqual(errs, []);
  assert.deepEqual(tokensByModel(e2), expectedByModel('openai_chat_stream_1.sse'));
});

test('an engine error during tracking leaves the call alone; onError gets it', { skip: !HAVE }, async () => {
  const e = new tg.Engine();
  const errs = [];
  const c = W.wrapOpenAI(oai('openai_chat_1.json'), e, { customerId: 'c', onError: (x) => errs.push(x) });
  e.close();
  const r = await c.chat.completions.create({ model: 'm', messages: MSG });
  assert.equal(r.usage.completion_tokens, 363);
  assert.equal(errs.length, 1);
  assert.ok(errs[0] instanceof W.TrackingError);
  assert.equal(errs[0].kind, 'engine');
  // A failing option function and a failing onError never reach the caller either.
  const e2 = new tg.Engine();
  const c2 = W.wrapOpenAI(oai('openai_chat_1.json'), e2, {
    customerId: 'c', revenueUnitCents: () => { throw new Error('user function failed'); }, onError: () => { throw new Error('handler too'); },
  });
  const r2 = await c2.chat.completions.create({ model: 'm', messages: MSG });
  assert.equal(r2.usage.completion_tokens, 363);
  assert.deepEqual(e2.margin({}), []);
});

test('options: values, functions of the line item, stated cost', { skip: !HAVE }, async () => {
  const e = new tg.Engine();
  const errs = [];
  const c = W.wrapOpenAI(oai('openai_chat_1.json'), e, {
    customerId: 'cust_F', agentId: 'support', runId: (item) => `run-${item.responseId}`, revenueUnitCents: () => '0.5', onError: (x) => errs.push(x),
  });
  const r = await c.chat.completions.create({ model: 'm', messages: MSG });
  assert.deepEqual(errs, []);
  assert.deepEqual(e.margin({ groupBy: ['run', 'agent'] }).map((x) => [x.runId, x.agentId]), [[`run-${r.id}`, 'support']]);
  const body = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'openrouter_chat_2.json'), 'utf8'));
  const e2 = new tg.Engine();
  await W.wrapOpenAI(oai('openrouter_chat_2.json'), e2, { customerId: 'c', provider: 'openai_compatible', providerCostCents: 'reported' })
    .chat.completions.create({ model: 'openai/gpt-5-mini', messages: MSG });
  // usage.cost is USD; cents = cost x 100 (decimal shift, done on the text).
  const usd = String(body.usage.cost);
  const [whole, frac = ''] = usd.split('.');
  const cents = (BigInt(whole + frac.padEnd(2, '0').slice(0, 2)) + '') + (frac.length > 2 ? `.${frac.slice(2)}` : '');
  assert.equal(String(e2.customerMargin('c').costCents), cents.replace(/^0+(?=\d)/, ''));
  assert.throws(() => W.wrapOpenAI(oai('openai_chat_1.json'), e, { customerId: 'c', revenueUnitCents: 0.5 }), TypeError);
});

test('no prompt or completion content is kept by any wrapper', { skip: !HAVE }, async () => {
  const e = new tg.Engine();
  const errs = [];
  const texts = [
    JSON.parse(fs.readFileSync(path.join(FIXTURES, 'openai_chat_1.json'), 'utf8')).choices[0].message.content.slice(0, 40),
    JSON.parse(fs.readFileSync(path.join(FIXTURES, 'anthropic_messages_5.json'), 'utf8')).content[0].text.slice(0, 20),
  ];
  await callOpenAIChat('openai_chat_1.json', e, 'openai', errs, false);
  await callAnthropic('anthropic_messages_5.json', e, 'anthropic', errs, false);
  await callConverse('bedrock_converse_6.json', e, 'bedrock', errs, false, 'anthropic.claude-3-7-sonnet-20250219-v1:0');
  await callGemini('gemini_generate_3.json', e, 'gemini', errs, false);
  for (const [spec, call] of [['openai_chat_stream_1.sse,cut=2500', callOpenAIChat], ['anthropic_stream_1.sse,cut=3000', callAnthropic]]) {
    await call(spec, e, null, errs, true).catch(() => {});
  }
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(errs.length, 2);
  const kept = Buffer.concat([
    e.stateSave(), Buffer.from(JSON.stringify(e.margin({ groupBy: ['model', 'customer'] }))),
    Buffer.from(JSON.stringify(errs.map((x) => [x.message, x.record]))),
  ]);
  for (const secret of [MARKER, ...texts]) assert.ok(!kept.includes(secret), secret);
});

// guard: the engine's allow() before the call. Rates (LiteLLM registry): gpt-4o 0.00025 /
// 0.001 cent per input / output token, gpt-4o-mini 0.000015 / 0.00006: 100,000 in + 100,000
// out = 125 cents on gpt-4o, 7.5 cents on gpt-4o-mini.
const USAGE = { tokensIn: 100000, tokensOut: 100000 };

function guardEngine(customer, spent, policy) {
  const e = new tg.Engine();
  assert.equal(e.upsertPolicy({ ...policy, policyId: 'p', customerId: customer }).status, 'accepted');
  assert.equal(e.track({ type: 'tool', customerId: customer, externalCostCents: spent, idempotencyKey: `spend-${customer}` }).status, 'accepted');
  return e;
}

test('guard: a block throws GuardBlocked and the provider is not called', { skip: !HAVE }, async (t) => {
  const budget = { budget: { cents: '100', period: 'day' } };
  const calls = {
    openai: (e, tag) => W.wrapOpenAI(oai(`openai_chat_1.json,tag=${tag}`, { maxRetries: 2 }), e, { customerId: 'g', guard: true })
      .chat.completions.create({ model: 'gpt-4o', messages: MSG }),
    anthropic: (e, tag) => W.wrapAnthropic(ant(`anthropic_messages_5.json,tag=${tag}`, { maxRetries: 2 }), e, { customerId: 'g', guard: 'block' })
      .messages.create({ model: 'claude-sonnet-4-6', max_tokens: 8, messages: MSG }),
    bedrock: (e, tag) => W.wrapBedrock(bed(`bedrock_converse_6.json,tag=${tag}`), e, { customerId: 'g', guard: true })
      .send(new ConverseCommand({ modelId: 'anthropic.claude-3-7-sonnet-20250219-v1:0', messages: CMSG })),
    gemini: (e, tag) => W.wrapGemini(gem(`gemini_generate_1.json,tag=${tag}`), e, { customerId: 'g', guard: true })
      .models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' }),
  };
  for (const [name, call] of Object.entries(calls)) {
    await t.test(name, async () => {
      const e = guardEngine('g', '100', budget); // the budget is spent
      await assert.rejects(call(e, `ngb-${name}`), (err) => err instanceof tg.GuardBlocked && err instanceof W.GuardBlocked && err.decision.reason === 'budget_exceeded');
      assert.equal((await served(`ngb-${name}`)).count, 0);
      assert.equal(e.customerMargin('g').events, 1); // only the spend
      const ok = guardEngine('g', '99', budget); // something left: the call goes through
      await call(ok, `nok-${name}`);
      assert.equal((await served(`nok-${name}`)).count, 1);
      assert.equal(ok.customerMargin('g').events, 2);
    });
  }
});

test('guard: downgrade sends the suggested model; guard true only checks', { skip: !HAVE }, async () => {
  const policy = { budget: { cents: '100', period: 'day' }, action: 'downgrade', downgrade: { 'gpt-4o': 'gpt-4o-mini' } };
  // 10 cents left: gpt-4o (125) does not fit, gpt-4o-mini (7.5) does.
  const e = guardEngine('d', '90', policy);
  await W.wrapOpenAI(oai('openai_chat_1.json,tag=ndg-1'), e, { customerId: 'd', guard: { mode: 'downgrade', usage: USAGE } })
    .chat.completions.create({ model: 'gpt-4o', messages: MSG });
  assert.deepEqual(await served('ndg-1'), { count: 1, model: 'gpt-4o-mini' });
  await W.wrapOpenAI(oai('openai_chat_1.json,tag=ndg-2'), e, { customerId: 'd', guard: { mode: true, usage: USAGE } })
    .chat.completions.create({ model: 'gpt-4o', messages: MSG });
  assert.deepEqual(await served('ndg-2'), { count: 1, model: 'gpt-4o' });
  // Gemini downgrades the same way (its model is in the path): gemini-2.5-pro 112.5 cents,
  // gemini-2.5-flash-lite 5 cents (0.00001 / 0.00004 cent per token).
  const pb = { budget: { cents: '100', period: 'day' }, action: 'downgrade', downgrade: { 'gemini-2.5-pro': 'gemini-2.5-flash-lite' } };
  const eg = guardEngine('d', '90', pb);
  await W.wrapGemini(gem('gemini_generate_1.json,tag=ndg-g'), eg, { customerId: 'd', guard: { mode: 'downgrade', usage: USAGE } })
    .models.generateContent({ model: 'gemini-2.5-pro', contents: 'hi' });
  assert.deepEqual(await served('ndg-g'), { count: 1, model: 'gemini-2.5-flash-lite' });
  // 5 cents left: nothing fits, block.
  const e2 = guardEngine('d', '95', policy);
  await assert.rejects(
    W.wrapOpenAI(oai('openai_chat_1.json,tag=ndg-3'), e2, { customerId: 'd', guard: { mode: 'downgrade', usage: USAGE } })
      .chat.completions.create({ model: 'gpt-4o', messages: MSG }),
    tg.GuardBlocked,
  );
  assert.equal((await served('ndg-3')).count, 0);
});

test('guard: an allow() failure lets the call through and goes to onError; bad options are refused', { skip: !HAVE }, async () => {
  const e = new tg.Engine();
  const errs = [];
  const c = W.wrapOpenAI(oai('openai_chat_1.json,tag=nge-1'), e, { customerId: 'c', guard: { mode: true, estimatedCostCents: 'not cents' }, onError: (x) => errs.push(x) });
  const r = await c.chat.completions.create({ model: 'gpt-4o', messages: MSG });
  assert.equal(r.usage.completion_tokens, 363);
  assert.equal((await served('nge-1')).count, 1);
  assert.equal(errs.length, 1);
  assert.equal(errs[0].kind, 'engine');
  assert.throws(() => W.wrapOpenAI(oai('openai_chat_1.json'), e, { customerId: 'c', guard: 'maybe' }), RangeError);
  assert.throws(() => W.wrapOpenAI(oai('openai_chat_1.json'), e, { customerId: 'c', guard: { mode: true, budget: 1 } }), RangeError);
  assert.throws(() => W.wrapAnthropic(ant('anthropic_messages_1.json'), e, { customerId: () => 'c', guard: true }), TypeError);
});
