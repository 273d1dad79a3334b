'use strict';
// Publishing rate cards, the snapshot history, overrides and pinned snapshots.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const tg = require('..');

const { Status } = tg;
const T = 1767225600000; // 2026-01-01T00:00:00Z
const CARD = '{"gpt-4o": {"input_cost_per_token": 5e-06, "output_cost_per_token": 2e-05, "litellm_provider": "openai"}}';
const event = (timestamp) => ({ provider: 'openai', model: 'gpt-4o', tokensIn: 1000, timestamp });

function setup(t) {
  const engine = new tg.Engine();
  t.after(() => engine.close());
  const embedded = engine.snapshots()[0].id;
  const cardId = engine.publishRateCard(CARD, T);
  return { engine, embedded, cardId };
}

test('publishing prices by event time', (t) => {
  const { engine, embedded, cardId } = setup(t);
  // The id is the content hash: the first 8 bytes of SHA-256 of the card bytes.
  assert.equal(cardId, crypto.createHash('sha256').update(CARD).digest('hex').slice(0, 16));
  // 1000 * 2.5e-06 USD = 0.25 cents before T; 1000 * 5e-06 USD = 0.5 cents from T.
  assert.equal(engine.priceJson(event(T - 1)).costCents, '0.25');
  assert.equal(engine.priceJson(event(T)).costCents, '0.5');
  assert.deepEqual(engine.snapshots().map((s) => [s.id, s.effectiveFromMs]), [[embedded, 0], [cardId, T]]);
});

test('a publish reports fields that look like rates but match none', (t) => {
  const { engine } = setup(t);
  // A mistyped tier field ("abck" for "200k") is accepted, prices nothing, and is reported.
  const mistyped = '{"m": {"litellm_provider": "openai", "input_cost_per_token": 1e-06, "input_cost_per_token_above_abck_tokens": 2e-06}}';
  assert.deepEqual(engine.publishRateCardReport(mistyped, T + 10), {
    snapshot: crypto.createHash('sha256').update(mistyped).digest('hex').slice(0, 16),
    warnings: ['registry key `m`: `input_cost_per_token_above_abck_tokens` looks like a rate but matches no rate name the engine knows; it is not used for pricing'],
  });
  // 300,000 x 1e-06 USD = 30 cents: the mistyped rate is unused.
  assert.equal(engine.priceJson({ provider: 'openai', model: 'm', tokensIn: 300000, timestamp: T + 20 }).costCents, '30');
  assert.deepEqual(engine.publishRateCardReport(CARD, T + 30).warnings, []);
});

test('a bad card changes nothing', (t) => {
  const { engine } = setup(t);
  assert.throws(() => engine.publishRateCard('{"x": {"input_cost_per_token": "abc", "litellm_provider": "openai"}}', T + 1),
    (e) => e.status === Status.ERR_RATE_CARD && e.detail.includes('registry key `x`, field `input_cost_per_token`'));
  assert.throws(() => engine.publishRateCard('{not json', T + 1), (e) => e.status === Status.ERR_RATE_CARD);
  assert.throws(() => engine.publishRateCard(CARD, -1), (e) => e.status === Status.ERR_INVALID_INPUT);
  assert.equal(engine.snapshots().length, 2);
  assert.equal(engine.priceJson(event(T + 5)).costCents, '0.5');
});

test('pinned snapshots ignore event time and later changes, and outlive the engine', (t) => {
  const { engine, embedded, cardId } = setup(t);
  const old = engine.pin(embedded);
  const cur = engine.pin(cardId);
  assert.deepEqual([old.id, old.effectiveFromMs, cur.id, cur.effectiveFromMs], [embedded, 0, cardId, T]);
  assert.equal(old.priceJson(event(T + 1)).costCents, '0.25');
  assert.equal(cur.priceJson(event(0)).costCents, '0.5');
  const [r] = cur.priceBatch([{ provider: 'openai', model: 'gpt-4o', tokensIn: 1000, timestamp: 0 }]);
  assert.deepEqual([r.costCents, r.snapshot], ['0.5', cardId]);
  engine.setOverride('gpt-4o', { input_cost_per_token: 2e-6, output_cost_per_token: 8e-6 });
  assert.equal(cur.priceJson(event(T)).costCents, '0.5'); // pinned before the override
  assert.throws(() => engine.pin('0000000000000001'), (e) => e.status === Status.ERR_NOT_FOUND);
  engine.close();
  assert.equal(cur.priceJson(event(0)).costCents, '0.5'); // outlives its engine
  old.unpin();
  cur.unpin();
  cur.unpin(); // twice is a no-op
  assert.throws(() => cur.priceJson(event(0)), (e) => e.status === Status.ERR_INVALID_HANDLE);
});

test('overrides', (t) => {
  const { engine } = setup(t);
  engine.setOverride('gpt-4o', '{"input_cost_per_token": 2e-06, "output_cost_per_token": 8e-06}');
  const r = engine.priceJson(event(T));
  assert.deepEqual([r.costCents, r.match], ['0.2', 'override']); // 1000 * 2e-06 USD
  const pinned = engine.pin();
  assert.equal(pinned.priceJson(event(T)).costCents, '0.2');
  pinned.unpin();
  assert.throws(() => engine.setOverride('gpt-4o', '{"input_cost_per_token": -1}'), (e) => e.status === Status.ERR_RATE_CARD);
  assert.equal(engine.removeOverride('GPT-4O'), true);
  assert.equal(engine.removeOverride('gpt-4o'), false);
  assert.equal(engine.priceJson(event(T)).costCents, '0.5');
});

test('a custom rate card replaces the embedded one', () => {
  const e = new tg.Engine({ rateCard: CARD });
  assert.equal(e.priceJson(event(0)).costCents, '0.5');
  const r = e.priceJson({ provider: 'anthropic', model: 'claude-sonnet-4-5', tokensIn: 1 });
  assert.deepEqual([r.priced, r.reason], [false, 'unknown_model']);
  e.close();
  assert.throws(() => new tg.Engine({ rateCard: '[]' }), (err) => err.status === Status.ERR_RATE_CARD);
});
