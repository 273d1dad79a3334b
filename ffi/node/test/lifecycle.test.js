'use strict';
// Handles: Symbol.dispose closes, forgotten handles are freed by the FinalizationRegistry, and
// every *Async variant gives what its synchronous call gives.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const tg = require('..');

const BODY = JSON.stringify({
  id: 'msg_1', type: 'message', model: 'claude-sonnet-4-5-20250929',
  usage: { input_tokens: 3, cache_read_input_tokens: 1111, cache_creation_input_tokens: 418, output_tokens: 33 },
});
const CUSTOMER = { customerId: 'acme', timestamp: '2026-01-01T00:00:00Z', plan: { pricingModel: 'usage_based', unitRevenueCents: '5' } };

test('Symbol.dispose closes engines, snapshots and streams', () => {
  const engine = new tg.Engine();
  const snap = engine.pin();
  const stream = new tg.Stream('anthropic');
  for (const h of [stream, snap, engine]) h[Symbol.dispose]();
  assert.throws(() => engine.priceJson('{}'), (e) => e.status === tg.Status.ERR_INVALID_HANDLE);
  assert.throws(() => snap.priceJson('{}'), (e) => e.status === tg.Status.ERR_INVALID_HANDLE);
  assert.throws(() => stream.feed('x'), (e) => e.status === tg.Status.ERR_INVALID_HANDLE);
  engine.close(); // still a no-op after dispose
});

test('engines a program forgets to close are freed when collected', () => {
  // A child with --expose-gc drops 40 engines (about 6 MB each) and collects.
  const script = `
    const tg = require(${JSON.stringify(path.join(__dirname, '..'))});
    (async () => {
      for (let i = 0; i < 40; i++) { new tg.Engine().priceJson('{"model":"gpt-4o"}'); }
      for (let i = 0; i < 20 && tg._finalized.count < 40; i++) { global.gc(); await new Promise((r) => setTimeout(r, 10)); }
      const closed = new tg.Engine(); closed.close(); global.gc(); await new Promise((r) => setTimeout(r, 10));
      console.log(tg._finalized.count);
    })();`;
  const freed = Number(execFileSync(process.execPath, ['--expose-gc', '-e', script]).toString().trim());
  // Collected engines were freed; the one closed explicitly was unregistered, not freed twice.
  assert.ok(freed >= 30 && freed <= 40, `freed ${freed}`);
});

test('every async variant equals its synchronous call', async () => {
  const clock = { clockMs: Date.parse('2026-01-15T00:00:00Z') };
  const a = new tg.Engine(clock);
  const b = await tg.Engine.create(clock);
  const items = [{ provider: 'openai', model: 'gpt-4o', tokensIn: 1000 }, { provider: 'openai', model: 'nope', tokensIn: 1 }];
  assert.deepEqual(await b.priceBatchAsync(items), a.priceBatch(items));
  assert.deepEqual(await b.priceJsonAsync(items[0]), a.priceJson(items[0]));
  assert.deepEqual(await b.upsertCustomerAsync(CUSTOMER), a.upsertCustomer(CUSTOMER));
  const ctx = { customerId: 'acme', runId: 'r1', timestamp: '2026-01-10T00:00:00Z' };
  const tracked = await b.trackResponseAsync('anthropic', BODY, ctx);
  assert.deepEqual(tracked, a.trackResponse('anthropic', BODY, ctx));
  // claude-sonnet-4-5: 3 * $3/M + 1111 * $0.30/M + 418 * $3.75/M + 33 * $15/M = $0.0024048.
  assert.equal(tracked[0].costCents, '0.24048');
  const res = { runId: 'r1', customerId: 'acme', outcome: 'resolved', timestamp: '2026-01-10T01:00:00Z' };
  assert.deepEqual(await b.resolveAsync(res), a.resolve(res));
  assert.deepEqual(await b.marginAsync({ groupBy: ['customer'] }), a.margin({ groupBy: ['customer'] }));
  assert.deepEqual(await b.stateSaveAsync(), a.stateSave());
  const fresh = new tg.Engine(clock);
  await fresh.stateRestoreAsync(await b.stateSaveAsync());
  assert.deepEqual(fresh.customerMargin('acme'), a.customerMargin('acme'));
  assert.deepEqual(await tg.extractUsageAsync('anthropic', BODY), tg.extractUsage('anthropic', BODY));
  const s = new tg.Stream('anthropic');
  await s.feedAsync(BODY.slice(0, 40));
  await s.feedAsync(BODY.slice(40));
  assert.deepEqual(await s.finishAsync(), tg.extractUsage('anthropic', BODY));
  s.close();
  const s2 = new tg.Stream('anthropic');
  s2.feed(BODY);
  const viaStream = await b.trackStreamAsync(s2, { ...ctx, idempotencyKey: 'stream-1' });
  assert.equal(viaStream[0].costCents, '0.24048');
  s2.close();
  const card = JSON.stringify({ 'gpt-4o': { input_cost_per_token: 5e-6, output_cost_per_token: 1e-5, litellm_provider: 'openai', mode: 'chat' } });
  const id = await b.publishRateCardAsync(card, Date.parse('2026-02-01T00:00:00Z'));
  assert.equal(id, a.publishRateCard(card, Date.parse('2026-02-01T00:00:00Z')));
  const pin = b.pin(id);
  assert.equal((await pin.priceJsonAsync(items[0])).costCents, '0.5'); // 1000 * $5/M
  assert.deepEqual(await pin.priceBatchAsync(items), pin.priceBatch(items));
  pin.close();
  for (const e of [a, b, fresh]) e.close();
});
