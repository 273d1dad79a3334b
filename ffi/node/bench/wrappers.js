'use strict';
// Tracking overhead of the Node wrappers: the wrapped call against the unwrapped call, real
// openai SDK, the recorded bytes served by an in-memory fetch (the network taken out). CPU
// time of the process (process.cpuUsage), median of 7 rounds.
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

async function perCall(fn, n, rounds = 7) {
  const out = [];
  for (let r = 0; r < rounds; r++) {
    const t = process.cpuUsage();
    for (let i = 0; i < n; i++) await fn();
    const d = process.cpuUsage(t);
    out.push(((d.user + d.system) / n));
  }
  out.sort((a, b) => a - b);
  return out[Math.floor(out.length / 2)];
}

(async () => {
  const engine = new tg.Engine();
  const raw = new OpenAI({ apiKey: 'sk', baseURL: 'http://memory/v1', maxRetries: 0, fetch: memoryFetch(false) });
  const wrapped = W.wrapOpenAI(raw, engine, { customerId: 'bench' });
  const call = (c) => c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  for (const c of [raw, wrapped]) for (let i = 0; i < 300; i++) await call(c);
  const u = await perCall(() => call(raw), 1000);
  const w = await perCall(() => call(wrapped), 1000);
  console.log(`non-stream call: unwrapped ${u.toFixed(1)} µs  wrapped ${w.toFixed(1)} µs  overhead ${(w - u).toFixed(1)} µs/call`);
  const rawS = new OpenAI({ apiKey: 'sk', baseURL: 'http://memory/v1', maxRetries: 0, fetch: memoryFetch(true) });
  const wrappedS = W.wrapOpenAI(rawS, engine, { customerId: 'bench' });
  const stream = async (c) => {
    const r = await c.chat.completions.create({ model: 'm', messages: [], stream: true }).asResponse();
    for await (const _ of r.body) { /* raw chunks: the SDK's event parsing is the same either way */ }
  };
  for (const c of [rawS, wrappedS]) await stream(c);
  const us = await perCall(() => stream(rawS), 3);
  const ws = await perCall(() => stream(wrappedS), 3);
  console.log(`stream of ${pieces.length} chunks: unwrapped ${(us / 1000).toFixed(2)} ms  wrapped ${(ws / 1000).toFixed(2)} ms  overhead ${((ws - us) / pieces.length).toFixed(3)} µs/chunk`);
})();
