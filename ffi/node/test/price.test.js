'use strict';
// Pricing through the JSON path and the struct batch path: shared vectors, hostile input,
// concurrent calls on one engine from koffi's worker threads.
const test = require('node:test');
const assert = require('node:assert/strict');
const tg = require('..');
const { pricingVectors, within1e9, centsLog } = require('./common');

const { _c: c, Status } = tg;
const EVENT = { provider: 'openai', model: 'gpt-4o', tokensIn: 1200, cachedTokens: 800, tokensOut: 350 };

test('pricing', async (t) => {
  const engine = new tg.Engine();
  t.after(() => engine.close());

  await t.test('vectors give identical cents through JSON and batch', () => {
    const vectors = pricingVectors();
    assert.ok(vectors.length >= 11);
    const log = centsLog('node', 'vectors');
    const json = vectors.map(({ v }) => engine.priceJson(v.event));
    const items = vectors.map(({ v }) => {
      const ev = { ...v.event };
      if (typeof ev.timestamp === 'string') ev.timestamp = Date.parse(ev.timestamp);
      return ev;
    });
    const out = [];
    for (let i = 0; i < items.length; i += 1 << 16) out.push(...engine.priceBatch(items.slice(i, i + (1 << 16))));
    let golden = 0;
    let within = 0;
    vectors.forEach(({ id, v, exact }, i) => {
      const r = json[i];
      assert.equal(out[i].error, null, id);
      // The struct path (JS-side marshalling, BigInt formatting) agrees with the JSON path.
      assert.deepEqual([out[i].costCents, out[i].priced], [r.costCents, r.priced], id);
      if (exact) {
        assert.deepEqual([r.costCents, r.priced], [v.expected.costCents, v.expected.priced], id);
      } else {
        golden++;
        if (r.priced === v.expected.priced && within1e9(r.costCents, v.expected.costCents)) within++;
      }
      log.write(id, r.costCents, r.priced);
    });
    log.close();
    t.diagnostic(`${vectors.length} vectors; golden: ${within} of ${golden} within 1e-9 of the reference`);
  });

  await t.test('bad events are rejected precisely', () => {
    const cases = [
      [Buffer.alloc(0), Status.ERR_INVALID_INPUT, 'malformed JSON'],
      [Buffer.from('{"model":"gpt-4o\xff"}', 'latin1'), Status.ERR_INVALID_UTF8, 'event: invalid UTF-8'],
      ['{"model":"gpt-4o","tokenIn":5}', Status.ERR_INVALID_INPUT, 'unknown field `tokenIn`'],
      ['{"model":"gpt-4o","tokensIn":-1}', Status.ERR_INVALID_INPUT, 'tokensIn: must not be negative'],
      ['{"model":"gpt-4o","tokensIn":9007199254740993}', Status.ERR_INVALID_INPUT, '2^53'],
    ];
    for (const [ev, status, msg] of cases) {
      assert.throws(() => engine.priceJson(ev), (e) => e.status === status && e.detail.includes(msg), String(ev));
    }
    assert.equal(engine.priceJson(EVENT).costCents, '0.75'); // use after errors
  });

  await t.test('NULL event and too-small buffers report the needed length', () => {
    const err = Buffer.alloc(tg._ERROR_SIZE);
    const n = [0];
    const small = Buffer.from([1, 2, 3, 4]);
    assert.equal(c.tg_price_json(engine._handle, null, 5, small, 4, n, err), Status.ERR_NULL);
    const ev = Buffer.from('{"provider":"openai","model":"gpt-4o","tokensIn":1000}');
    assert.equal(c.tg_price_json(engine._handle, ev, ev.length, small, 4, n, err), Status.ERR_BUFFER_TOO_SMALL);
    const needed = Number(n[0]);
    assert.ok(needed > 4);
    assert.deepEqual([...small], [1, 2, 3, 4]);
    const exact = Buffer.alloc(needed);
    assert.equal(c.tg_price_json(engine._handle, ev, ev.length, exact, needed, n, err), Status.OK);
    // 1000 * 2.5e-6 USD = 0.25 cents
    assert.ok(exact.toString().startsWith('{"costCents":"0.25"'));
  });

  await t.test('a bad batch item fails alone', () => {
    const good = { provider: 'openai', model: 'gpt-4o', tokensIn: 1000 };
    const out = engine.priceBatch([
      good,
      { ...good, tokensIn: 2n ** 53n + 1n },
      { provider: 'openai', tokensIn: 1 },
      { ...good, providerCostCents: '-1' },
      good,
    ]);
    assert.deepEqual(out.map((r) => r.status), [0, 4, 4, 4, 0]);
    assert.equal(out[4].costCents, '0.25'); // 1000 * 2.5e-6 USD
    assert.deepEqual(engine.priceBatch([]), []);
    // More items than one C call takes (TG_MAX_BATCH_ITEMS = 65536) are priced in chunks.
    const many = engine.priceBatch(new Array((1 << 16) + 1).fill(good));
    assert.equal(many.length, 65537);
    assert.ok(many.every((r) => r.status === 0 && r.costCents === '0.25'));
  });

  await t.test('concurrent async calls on one engine', async () => {
    const calls = [];
    for (let i = 0; i < 400; i++) {
      calls.push(engine.priceJsonAsync(EVENT).then((r) => r.costCents));
      calls.push(engine.priceJsonAsync('{').then(() => 'no error', (e) => e.code));
    }
    const got = await Promise.all(calls);
    for (let i = 0; i < got.length; i += 2) {
      assert.equal(got[i], '0.75');
      assert.equal(got[i + 1], 'TG_ERR_INVALID_INPUT');
    }
  });
});

test('close twice, use after close', () => {
  const e = new tg.Engine();
  e.close();
  e.close();
  assert.throws(() => e.priceJson(EVENT), (err) => err.status === Status.ERR_INVALID_HANDLE);
});

// Web searches are priced and reported apart: gpt-4o-mini states $0.025 per search
// (search_context_size_medium), so 2 searches are 5 cents; its tokens 100 × 1.5e-07 +
// 10 × 6e-07 USD are 0.0021 cents. The batch path gives the same total.
test('the web-search part of a price', () => {
  const engine = new tg.Engine();
  try {
    const ev = { provider: 'openai', model: 'gpt-4o-mini', tokensIn: 100, tokensOut: 10, webSearchRequests: 2 };
    const r = engine.priceJson(ev);
    assert.equal(r.costCents, '5.0021');
    assert.equal(r.webSearchCents, '5');
    assert.equal(engine.priceBatch([ev])[0].costCents, '5.0021');
    assert.equal(engine.priceJson(EVENT).webSearchCents, '0');
  } finally {
    engine.close();
  }
});
