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
  // priceJson's own reader of the output bytes: the same objects, or null (then the reader
  // above) for anything but the fixed layout without escapes.
  texts.push(
    '{"costCents":"3","priced":true,"model":"mod\u00e8le","snapshot":"0123456789abcdef","reason":null,"warnings":[],"match":"inferred","source":"provider","webSearchCents":"1.25"}',
    '{"costCents":"3","priced":true,"model":"modèle-ü","snapshot":"0123456789abcdef","reason":null,"warnings":[],"match":"stripped","source":"external","webSearchCents":"0"}',
    '{"costCents":"0","priced":false,"model":"x","snapshot":"0123456789abcdeg","reason":"no_token_price","warnings":[],"match":"override","source":"unpriced","webSearchCents":"0"}',
    '{"costCents":"0","priced":false,"model":"x","snapshot":"0123456789abcdef","reason":"truncated","warnings":[],"match":"alias","source":"unpriced","webSearchCents":"0"} ',
    '{"costCents":"0","priced":false,"model":"x","snapshot":"0123456789abcdef","reason":"new_reason","warnings":[],"match":"new_match","source":"new_source","webSearchCents":"0"}',
  );
  let direct = 0;
  for (const t of texts) {
    const r = tg._readPriceBytes(t);
    if (r === null) {
      assert.ok(/\\|"warnings":\[.|"extra"|"source":"ratecard"}|abcdeg|} $/.test(t), `read by JSON.parse only: ${t}`);
    } else {
      direct++;
      assert.deepEqual(r, JSON.parse(t), t);
      assert.deepEqual(tg._readPriceBytes(t), r, t); // again, from the caches
    }
  }
  assert.ok(direct > 100, `${direct} read from the bytes`);
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

test('priceJson writes the request bytes of JSON.stringify for plain events, and leaves the rest to it', () => {
  // Written by priceJson itself: the text JSON.stringify gives, spelled out here.
  const direct = [
    [{ provider: 'openai', model: 'gpt-4o', tokensIn: 1200, tokensOut: 350 }, '{"provider":"openai","model":"gpt-4o","tokensIn":1200,"tokensOut":350}'],
    [{ model: 'm', tokensIn: 0, tokensOut: -0, cachedTokens: 9 }, '{"model":"m","tokensIn":0,"tokensOut":0,"cachedTokens":9}'],
    [{ model: 'm', tokensIn: 9007199254740991 }, '{"model":"m","tokensIn":9007199254740991}'],
    [{ model: 'm', speed: undefined, inferenceGeo: null, x: true, y: false }, '{"model":"m","inferenceGeo":null,"x":true,"y":false}'],
    [{}, '{}'],
    [Object.assign(Object.create(null), { model: 'gpt-4o', tokensIn: 10 }), '{"model":"gpt-4o","tokensIn":10}'],
    [{ customerId: 'c-1 ~!#$%&()*+/:;<=>?@[]^_`{|}', units: 100 }, '{"customerId":"c-1 ~!#$%&()*+/:;<=>?@[]^_`{|}","units":100}'],
  ];
  for (const [event, text] of direct) {
    assert.equal(tg._eventJson(event), text);
    assert.equal(JSON.stringify(event), text);
  }
  // Everything else goes through JSON.stringify: escapes, non-ASCII, fractions, negatives,
  // out-of-range integers, bigints, nested values, arrays, boxed primitives, toJSON, classes.
  class Ev { constructor() { this.model = 'gpt-4o'; } }
  const fallback = [
    { model: 'a"b' }, { model: 'a\\b' }, { model: 'a\nb' }, { model: 'gpt-4o\u00e9' }, { model: '\ud83d' },
    { tokensIn: 1.5 }, { tokensIn: -1 }, { tokensIn: 9007199254740992 }, { tokensIn: NaN }, { tokensIn: Infinity },
    { tokensIn: 1n }, { metadata: {} }, { tags: ['a'] }, { 'a"b': 1 }, { f() {} }, [1, 2], new String('ab'), new Number(5),
    { toJSON: () => ({ model: 'gpt-4o' }) }, new Ev(), { model: 'x'.repeat(5000) },
  ];
  for (const event of fallback) assert.equal(tg._eventJson(event), null, String(JSON.stringify(event, (k, v) => (typeof v === 'bigint' ? `${v}n` : v))));
  // And priceJson's answers are the ones for JSON.stringify's text.
  const engine = new tg.Engine();
  assert.equal(engine.priceJson({ toJSON: () => ({ provider: 'openai', model: 'gpt-4o', tokensIn: 1000 }) }).costCents, '0.25'); // 1000 * $2.50/M
  assert.equal(engine.priceJson(Object.assign(Object.create(null), { provider: 'openai', model: 'gpt-4o', tokensIn: 1000 })).costCents, '0.25');
  assert.throws(() => engine.priceJson({ model: 'gpt-4o', tokensIn: 1n }), TypeError);
  assert.throws(() => engine.priceJson({ model: 'gpt-4o', tokensIn: -1 }), (e) => e.status === tg.Status.ERR_INVALID_INPUT && /must not be negative/.test(e.message));
  let hits = 0;
  for (const { v } of pricingVectors().slice(0, 3000)) {
    const text = tg._eventJson(v.event);
    if (text !== null) {
      hits++;
      assert.equal(text, JSON.stringify(v.event));
    }
  }
  assert.ok(hits > 100, `${hits} vectors written directly`);
  engine.close();
});
