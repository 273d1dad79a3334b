'use strict';
// Prices the same events with this package and with @pydantic/genai-prices (JS) in one
// process and prints events per second, the time per call and the ratios.
//
//   node bench/compare.js [events=20000] [rounds=5]
//
// Each figure is the best of `rounds` timed passes after a warm-up pass, as wall-clock time
// and as this process's CPU time (process.cpuUsage), which a loaded machine distorts less.
// The events use only uncached input and output tokens, where both libraries mean the same
// thing, and the totals of both are printed (the rate cards differ: LiteLLM's registry here,
// genai-prices' own data there; genai-prices computes in floating-point dollars).
const tollgate = require('..');
const { calcPrice } = require('@pydantic/genai-prices');

const N = Number(process.argv[2] || 20000);
const ROUNDS = Number(process.argv[3] || 5);
const MODELS = [
  ['openai', 'gpt-4o'], ['openai', 'gpt-4o-mini'], ['openai', 'gpt-4.1'], ['openai', 'o3-mini'],
  ['anthropic', 'claude-sonnet-4-5'], ['anthropic', 'claude-haiku-4-5'],
  ['google', 'gemini-2.5-pro'], ['google', 'gemini-2.5-flash'],
];
// A fixed pseudo-random sequence (xorshift32), so every run prices the same events.
let seed = 2463534242;
function rand(n) {
  seed ^= seed << 13; seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5; seed >>>= 0;
  return seed % n;
}
const events = [];
for (let i = 0; i < N; i++) {
  const [provider, model] = MODELS[rand(MODELS.length)];
  events.push({ provider: provider === 'google' ? 'gemini' : provider, model, tokensIn: 1 + rand(20000), tokensOut: rand(4000) });
}
const gpProvider = { openai: 'openai', anthropic: 'anthropic', gemini: 'google' };

function time(fn) {
  fn(); // warm-up
  let bestWall = Infinity;
  let bestCpu = Infinity;
  let result;
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    result = fn();
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c = process.cpuUsage(c0);
    bestWall = Math.min(bestWall, wall);
    bestCpu = Math.min(bestCpu, (c.user + c.system) / 1e6);
  }
  return { wall: bestWall, cpu: bestCpu, result };
}

const engine = new tollgate.Engine();
const runs = {
  'tollgate priceBatch': time(() => engine.priceBatch(events)),
  'tollgate priceJson': time(() => events.map((e) => engine.priceJson(e))),
  'genai-prices calcPrice': time(() => events.map((e) => calcPrice({ input_tokens: e.tokensIn, output_tokens: e.tokensOut }, e.model, { providerId: gpProvider[e.provider] }))),
};
engine.close();

const base = runs['genai-prices calcPrice'];
console.log(`${N} events, best of ${ROUNDS}; load average ${require('node:os').loadavg().map((x) => x.toFixed(2)).join(' ')}`);
for (const [name, r] of Object.entries(runs)) {
  console.log(`${name.padEnd(24)} wall ${(N / r.wall / 1e6).toFixed(3)} M events/s (${(r.wall / N * 1e6).toFixed(2)} µs each, ${(base.wall / r.wall).toFixed(1)}x genai-prices)`
    + `  cpu ${(N / r.cpu / 1e6).toFixed(3)} M events/s (${(r.cpu / N * 1e6).toFixed(2)} µs each, ${(base.cpu / r.cpu).toFixed(1)}x)`);
}
// Totals, for the record: exact cents from the engine, float dollars from genai-prices.
const priced = runs['tollgate priceBatch'].result;
let cents = 0n;
for (const r of priced) {
  const [w, f = ''] = r.costCents.split('.');
  cents += BigInt(w + f.padEnd(24, '0'));
}
const whole = cents / 10n ** 24n;
const gp = runs['genai-prices calcPrice'].result.reduce((s, r) => s + (r ? r.total_price : 0), 0);
const missing = runs['genai-prices calcPrice'].result.filter((r) => !r).length;
console.log(`totals: tollgate ${whole}.${String(cents % 10n ** 24n).padStart(24, '0').slice(0, 6)} cents (${priced.filter((r) => !r.priced).length} unpriced); genai-prices ${(gp * 100).toFixed(6)} cents (${missing} unknown)`);
