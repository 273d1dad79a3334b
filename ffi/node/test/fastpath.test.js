'use strict';
// The fast paths give what the plain paths give: the price-result reader against JSON.parse,
// and the batch (typed-array marshalling, costs formatted by tg_decimals_format) against the
// JSON path on every vector.
const test = require('node:test');
const assert = require('node:assert/strict');
const tg = require('..');
const { pricingVectors } = require('./common');

test('the price-result reader equals JSON.parse on every shape the engine writes', () => {
  const engine = new tg.Engine();
  const texts = [];
  for (const { v } of pricingVectors().slice(0, 3000)) {
    try {
      texts.push(JSON.stringify(engine.priceJson(v.event)));
    } catch (e) {
      assert.ok(e instanceof tg.TollgateError);
    }
  }
  engine.close();
  texts.push(
    '{"costCents":"0","priced":false,"model":null,"snapshot":"0123456789abcdef","reason":"unknown_model","warnings":[],"match":null,"source":"unpriced","webSearchCents":"0"}',
    '{"costCents":"1.5","priced":true,"model":"a\\"b","snapshot":"0123456789abcdef","reason":null,"warnings":[],"match":"exact","source":"ratecard","webSearchCents":"2.5"}',
    '{"costCents":"1.5","priced":true,"model":"m","snapshot":"0123456789abcdef","reason":null,"warnings":["w1","w\\u00e9"],"match":"alias","source":"ratecard","webSearchCents":"0"}',
    '{"costCents":"-2","priced":true,"model":"m","snapshot":"0123456789abcdef","reason":null,"warnings":[],"match":"override","source":"external","extra":1}',
    '{"costCents":"1.5","priced":true,"model":"m","snapshot":"0123456789abcdef","reason":null,"warnings":[],"match":"exact","source":"ratecard"}',
  );
  assert.ok(texts.length > 100);
  for (const t of texts) assert.deepEqual(tg._parsePriceResult(t), JSON.parse(t), t);
});

test('one call after a result larger than the scratch buffer still works', () => {
  const engine = new tg.Engine();
  const long = 'x'.repeat(200);
  // 200-character model names, many distinct ones, through both paths.
  const items = [];
  for (let i = 0; i < 5000; i++) items.push({ provider: 'openai', model: `${long}${i}`, tokensIn: i });
  const batch = engine.priceBatch(items);
  assert.equal(batch.length, 5000);
  assert.ok(batch.every((r) => r.status === 0 && r.priced === false && r.reason === 'unknown_model' && r.costCents === '0'));
  // An event larger than the 4 KiB input scratch grows it; its 4,000-byte model is refused
  // precisely (names are at most 512 bytes).
  assert.throws(() => engine.priceJson({ provider: 'openai', model: long.repeat(20), tokensIn: 1 }),
    (e) => e.status === tg.Status.ERR_INVALID_INPUT && /model: is 4000 bytes long; the limit is 512/.test(e.message));
  const r = engine.priceJson({ provider: 'openai', model: long.repeat(2), tokensIn: 1 });
  assert.deepEqual([r.priced, r.reason], [false, 'unknown_model']);
  assert.equal(engine.priceJson({ provider: 'openai', model: 'gpt-4o', tokensIn: 1000 }).costCents, '0.25'); // 1000 * $2.50/M
  engine.close();
});
