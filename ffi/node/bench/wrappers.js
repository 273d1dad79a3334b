'use strict';
// Tracking overhead of the Node wrappers: the wrapped call against the unwrapped call, real
// openai SDK, the recorded bytes served by an in-memory fetch (the network taken out). CPU
// time of the process (process.cpuUsage); unwrapped and wrapped rounds alternate (15 rounds of
// 1,000 calls, 9 streams each) and the overhead is the median of the per-round differences.
// Then where a call's overhead goes: the wrapper's own JavaScript (the wrapped call with its
// engine call answered from a constant, against the unwrapped call) and the engine call
// `tg_track_response` timed alone (wall clock, median) once right after an unwrapped SDK call
// (its caches cold: the HTTP stack and the SDK ran in between) and back to back (hot).
// Run: node bench/wrappers.js
const fs = require('node:fs');
const path = require('node:path');
const tg = require('../index.js');
const W = require('../wrappers.js');
const OpenAI = require('openai').default;

const FIX = path.resolve(__dirname, '../../../../shared/fixtures/providers');
const body = fs.readFileSync(path.join(FIX, 'openai_chat_1.json'));
const sse = fs.readFileSync(path.join(FIX, 'openai_chat_stream_1.sse'), 'utf8').split('\n\n').filter((p) => p.trim()).map((p) => Buffer.from(`${p}\n\n`));
const pieces = [sse[0], ...Array.from({ length: 2000 }, () => sse.slice(1, -1)).flat(), sse[sse.length - 1]];

function memoryFetch(streamed) {
  return async () => {
    if (!streamed) return new Response(body, { status: 200, headers: { 'content-type': 'application/json', 'x-request-id': 'req_1' } });
    let i = 0;
    const rs = new ReadableStream({ pull(c) { if (i < pieces.length) c.enqueue(pieces[i++]); else c.close(); } });
    return new Response(rs, { status: 200, headers: { 'content-type': 'text/event-stream', 'x-request-id': 'req_1' } });
  };
}

/** Process CPU time per call of `fn`, in µs, over `n` calls. */
async function cpuPerCall(fn, n) {
  const t = process.cpuUsage();
  for (let i = 0; i < n; i++) await fn();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / n;
}

/**
 * The unwrapped and the wrapped call measured in alternating rounds (so a change in the
 * machine's load hits both alike); the medians of each and of the per-round differences.
 */
async function paired(raw, wrapped, n, rounds) {
  const u = [];
  const w = [];
  const d = [];
  for (let r = 0; r < rounds; r++) {
    const a = await cpuPerCall(raw, n);
    const b = await cpuPerCall(wrapped, n);
    u.push(a);
    w.push(b);
    d.push(b - a);
  }
  const median = (xs) => xs.slice().sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  return { u: median(u), w: median(w), d: median(d) };
}

(async () => {
  const engine = new tg.Engine();
  const raw = new OpenAI({ apiKey: 'sk', baseURL: 'http://memory/v1', maxRetries: 0, fetch: memoryFetch(false) });
  const wrapped = W.wrapOpenAI(raw, engine, { customerId: 'bench' });
  const call = (c) => c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  for (const c of [raw, wrapped]) for (let i = 0; i < 300; i++) await call(c);
  const nc = await paired(() => call(raw), () => call(wrapped), 1000, 15);
  console.log(`load average ${require('node:os').loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`non-stream call: unwrapped ${nc.u.toFixed(1)} µs  wrapped ${nc.w.toFixed(1)} µs  overhead ${nc.d.toFixed(1)} µs/call`);
  // The wrapper's JavaScript alone: the same wrapper over an engine whose call returns the
  // results text the real call gave (so the same checks run on it).
  const provider = Buffer.from('openai');
  const model = Buffer.from('m');
  const context = Buffer.from(JSON.stringify({ customerId: 'bench' }));
  const answer = engine._trackResponseText(provider, model, body, context);
  const noop = new tg.Engine();
  noop._trackResponseText = () => answer;
  const jsOnly = W.wrapOpenAI(raw, noop, { customerId: 'bench' });
  for (let i = 0; i < 300; i++) await call(jsOnly);
  const js = await paired(() => call(raw), () => call(jsOnly), 1000, 9);
  const cold = [];
  const hot = [];
  for (let i = 0; i < 2000; i++) {
    await call(raw);
    let t = process.hrtime.bigint();
    engine._trackResponseText(provider, model, body, context);
    cold.push(Number(process.hrtime.bigint() - t));
    t = process.hrtime.bigint();
    engine._trackResponseText(provider, model, body, context);
    hot.push(Number(process.hrtime.bigint() - t));
  }
  const median = (xs) => xs.slice().sort((x, y) => x - y)[Math.floor(xs.length / 2)] / 1000;
  console.log(`  of which: wrapper JavaScript ${js.d.toFixed(1)} µs/call; tg_track_response ${median(cold).toFixed(1)} µs right after an SDK call, ${median(hot).toFixed(1)} µs back to back`);
  const rawS = new OpenAI({ apiKey: 'sk', baseURL: 'http://memory/v1', maxRetries: 0, fetch: memoryFetch(true) });
  const wrappedS = W.wrapOpenAI(rawS, engine, { customerId: 'bench' });
  const stream = async (c) => {
    const r = await c.chat.completions.create({ model: 'm', messages: [], stream: true }).asResponse();
    for await (const _ of r.body) { /* raw chunks: the SDK's event parsing is the same either way */ }
  };
  for (const c of [rawS, wrappedS]) await stream(c);
  const st = await paired(() => stream(rawS), () => stream(wrappedS), 1, 9);
  console.log(`stream of ${pieces.length} chunks: unwrapped ${(st.u / 1000).toFixed(2)} ms  wrapped ${(st.w / 1000).toFixed(2)} ms  overhead ${(st.d / pieces.length).toFixed(3)} µs/chunk`);
})();
