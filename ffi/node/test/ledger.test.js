'use strict';
// The ledger through the C ABI: exactly-once tracking, track-response, resolve, customers,
// margin, state snapshot/restore, concurrent async calls.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const tg = require('..');
const { sharedOrSkip, SHARED_FIXTURES } = require('./common');

const { _c: c, Status } = tg;
const CLOCK_MS = 1768435200000; // 2026-01-15T00:00:00Z
const ACME = { customerId: 'acme', name: 'Acme', plan: { name: 'pro', pricingModel: 'usage_based', unitRevenueCents: 5 }, timestamp: '2026-01-01T00:00:00Z' };
const EV_K1 = { customerId: 'acme', runId: 'r1', agentId: 'a1', provider: 'openai', model: 'gpt-4o', tokensIn: 1200, cachedTokens: 800, tokensOut: 350, idempotencyKey: 'k1', timestamp: '2026-01-10T00:00:00Z' };
const ANTHROPIC_BODY = '{"id":"msg_1","type":"message","model":"claude-sonnet-4-5-20250929","usage":{"input_tokens":3,"cache_read_input_tokens":1111,"cache_creation_input_tokens":418,"output_tokens":33}}';
const R1_CONTEXT = { customerId: 'acme', runId: 'r1', timestamp: '2026-01-10T01:00:00Z' };
const RESOLVE_R1 = { runId: 'r1', customerId: 'acme', outcome: 'resolved', timestamp: '2026-01-10T02:00:00Z' };

// acme on a usage_based plan (5 cents per event), a gpt-4o event (0.75 cents), an Anthropic
// response (0.24048 cents), run r1 resolved.
function acme(t) {
  const e = new tg.Engine({ clockMs: CLOCK_MS });
  t.after(() => e.close());
  assert.equal(e.upsertCustomer(ACME).status, 'accepted');
  assert.equal(e.track(EV_K1).costCents, '0.75');
  assert.equal(e.trackResponse('anthropic', ANTHROPIC_BODY, R1_CONTEXT)[0].status, 'accepted');
  assert.equal(e.resolve(RESOLVE_R1).status, 'accepted');
  return e;
}

// A rate card without claude-sonnet-5 and with claude-opus-4-8 priced per second only.
const UNPRICED_CARD = '{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 2.5e-06}, '
  + '"claude-opus-4-8": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_second": 0.0001}}';

test('an unpriced line item says why in its track result', (t) => {
  // A real recorded Anthropic stream (advisor call): executor claude-sonnet-5, advisor
  // claude-opus-4-8. UNPRICED_CARD lacks the first and prices the second per second only, so
  // both are booked at cost 0 with revenue 10 (10 cents x 1 unit) and say why.
  const file = path.join(SHARED_FIXTURES, 'anthropic_stream_5.sse');
  if (!sharedOrSkip(t, file)) return;
  const body = fs.readFileSync(file);
  const ctx = { customerId: 'acme', revenueUnitCents: '10', timestamp: '2026-01-10T00:00:00Z' };
  const want = (snapshot) => ['unknown_model', 'no_token_price'].map((reason) => ({
    status: 'accepted', costCents: '0', revenueCents: '10', priced: false, reason, snapshot, warnings: [],
  }));
  const e = new tg.Engine({ rateCard: UNPRICED_CARD, clockMs: CLOCK_MS });
  t.after(() => e.close());
  assert.deepEqual(e.trackResponse('anthropic', body, ctx), want(e.snapshots()[0].id));
  // The stream path, fed in 97-byte chunks, on a fresh engine.
  const f = new tg.Engine({ rateCard: UNPRICED_CARD, clockMs: CLOCK_MS });
  t.after(() => f.close());
  const s = new tg.Stream('anthropic');
  t.after(() => s.close());
  for (let i = 0; i < body.length; i += 97) s.feed(body.subarray(i, i + 97));
  assert.deepEqual(f.trackStream(s, ctx), want(f.snapshots()[0].id));
});

test('track results: accepted, duplicate, conflict', (t) => {
  const e = new tg.Engine({ clockMs: CLOCK_MS });
  t.after(() => e.close());
  e.upsertCustomer(ACME);
  const r = e.track(EV_K1);
  // 0.75 cents (data/ffi/vectors.jsonl line 1); usage_based: 5 cents x 1 unit
  assert.deepEqual([r.status, r.costCents, r.revenueCents, r.priced], ['accepted', '0.75', '5', true]);
  assert.deepEqual(e.track(EV_K1), { status: 'duplicate' });
  assert.equal(e.track({ ...EV_K1, tokensIn: 1300 }).status, 'conflict');
  const [a] = e.trackResponse('anthropic', ANTHROPIC_BODY, R1_CONTEXT);
  // 3*3e-6 + 1111*3e-7 + 418*3.75e-6 + 33*1.5e-5 USD = 0.0024048 USD
  assert.deepEqual([a.status, a.costCents], ['accepted', '0.24048']);
  assert.deepEqual(e.trackResponse('anthropic', ANTHROPIC_BODY, R1_CONTEXT), [{ status: 'duplicate' }]);
  assert.equal(e.resolve(RESOLVE_R1).status, 'accepted');
  assert.deepEqual(e.resolve({ ...RESOLVE_R1, type: 'resolve' }), { status: 'duplicate' });
  assert.equal(e.resolve({ ...RESOLVE_R1, outcome: 'failed' }).status, 'conflict');
});

test('rejections throw and change nothing', (t) => {
  const e = acme(t);
  const before = e.stateSave();
  const cases = [
    [() => e.track({ customerId: 'acme', model: 'gpt-4o', tokenIn: 5 }), Status.ERR_INVALID_INPUT, 'unknown field `tokenIn`'],
    [() => e.track({ customerId: 'acme', model: 'gpt-4o', idempotencyKey: 'old', timestamp: '2026-01-08T00:00:00Z' }), Status.ERR_TOO_LATE, ''],
    [() => e.track(Buffer.from('{"customerId":"a\xff","model":"m"}', 'latin1')), Status.ERR_INVALID_UTF8, ''],
    [() => e.resolve({ runId: 'r2', customerId: 'acme', outcome: 'won' }), Status.ERR_INVALID_INPUT, 'outcome'],
    [() => e.upsertCustomer({ customerId: 'acme', plan: { pricingModel: 'free' } }), Status.ERR_INVALID_INPUT, 'plan.pricingModel'],
    [() => e.trackResponse('anthropic', ANTHROPIC_BODY, { customerId: 'acme', tokensIn: 5 }), Status.ERR_INVALID_INPUT, 'field `tokensIn` is not allowed'],
  ];
  for (const [fn, status, detail] of cases) assert.throws(fn, (err) => err.status === status && err.detail.includes(detail));
  assert.deepEqual(e.stateSave(), before);
});

test('customer margin and queries', (t) => {
  const e = acme(t);
  const m = e.customerMargin('acme');
  // revenue 5 + 5 = 10; cost 0.75 + 0.24048 = 0.99048; margin 9.00952 = 90.0952 % -> 90.10
  assert.deepEqual([m.revenueCents, m.costCents, m.marginCents, m.marginPct], ['10', '0.99048', '9.00952', '90.10']);
  assert.deepEqual([m.events, m.unpricedEvents, m.runs.resolved], [2, 0, 1]);
  assert.throws(() => e.customerMargin('nobody'), (err) => err.status === Status.ERR_NOT_FOUND);
  assert.deepEqual(e.margin({ groupBy: ['model'] }).map((r) => [r.model, r.costCents]),
    [[null, '0'], ['claude-sonnet-4-5-20250929', '0.24048'], ['gpt-4o', '0.75']]);
  const [total] = e.margin();
  assert.deepEqual([total.marginCents, total.marginPct], ['9.00952', '90.10']);
  assert.deepEqual(e.margin({ customerId: 'acme', from: '2026-01-11' }), []);
  for (const bad of [{ groupBy: ['planet'] }, { from: '2026-01-12', to: '2026-01-11' }, { costumerId: 'acme' }]) {
    assert.throws(() => e.margin(bad), (err) => err.status === Status.ERR_INVALID_INPUT);
  }
});

test('report queries: the same hand-computed figures as the C suite', (t) => {
  const e = acme(t);
  const r = e.report({ groupBy: ['model'], sort: 'cost' });
  assert.deepEqual(r.rows.map((x) => x.model), ['gpt-4o', 'claude-sonnet-4-5-20250929', null]);
  const [gpt, claude] = r.rows;
  // 800 cached gpt-4o tokens at 2.5e-6 instead of 1.25e-6 USD: 0.1 cents; 0.75 / 0.99048 = 75.7209… %.
  assert.deepEqual([gpt.cacheSavingsCents, gpt.costSharePct], ['0.1', '75.72']);
  // 1111 claude cache reads at 3e-6 instead of 3e-7 USD: 0.29997 cents; 24.2791… %.
  assert.deepEqual([claude.cacheSavingsCents, claude.costSharePct], ['0.29997', '24.28']);
  // One resolved run (r1) for 0.99048; revenue 10 over 2 events.
  assert.deepEqual([r.totals.costPerResolvedRunCents, r.totals.revenuePerEventCents], ['0.99048', '5']);
  assert.deepEqual([r.groups, r.breaches], [3, []]);
  const top = e.report({ groupBy: ['model'], sort: 'cost:asc', top: 1 });
  assert.deepEqual([top.rows.map((x) => x.model), top.groups], [[null], 3]);
  const csv = e.reportCsv({ groupBy: ['agent'], outcome: 'resolved' }).split('\r\n');
  assert.ok(csv[0].startsWith('agentId,revenueCents,costCents,marginCents,marginPct,events,'));
  assert.ok(csv[1].startsWith('a1,5,0.75,4.25,85.00,1,'));
  assert.ok(csv[2].startsWith(',5,0.24048,4.75952,95.19,1,'));
  assert.equal(e.reportJsonl({ groupBy: ['customer'] })[0].customerId, 'acme');
  for (const bad of [{ groupBy: ['planet'] }, { sort: 'price' }, { top: 0 }, { costumerId: 'acme' }]) {
    assert.throws(() => e.report(bad), (err) => err.status === Status.ERR_INVALID_INPUT);
  }
});

test('state round trip; corrupt state loads nothing', (t) => {
  const e = acme(t);
  const r = new tg.Engine({ clockMs: CLOCK_MS });
  t.after(() => r.close());
  const state = e.stateSave();
  const flipped = Buffer.from(state);
  flipped[10] ^= 1;
  for (const bad of [state.subarray(0, state.length >> 1), flipped, Buffer.alloc(0)]) {
    assert.throws(() => r.stateRestore(bad), (err) => err.status === Status.ERR_STATE);
  }
  assert.throws(() => r.customerMargin('acme'), (err) => err.status === Status.ERR_NOT_FOUND);
  r.stateRestore(state);
  assert.equal(r.customerMargin('acme').marginCents, '9.00952');
  assert.deepEqual(r.track(EV_K1), { status: 'duplicate' }); // exactly-once survives
  assert.deepEqual(r.stateSave(), state);
});

test('a too-small buffer never loses a tracked event', (t) => {
  const e = new tg.Engine({ clockMs: CLOCK_MS });
  t.after(() => e.close());
  const ev = Buffer.from(JSON.stringify(EV_K1));
  const n = [0];
  assert.equal(c.tg_track_json(e._handle, ev, ev.length, Buffer.alloc(64), 64, n, null), Status.ERR_BUFFER_TOO_SMALL);
  assert.equal(Number(n[0]), 4096);
  assert.equal(e.track(EV_K1).status, 'accepted'); // nothing was tracked before
});

test('stream track', (t) => {
  const e = new tg.Engine({ clockMs: CLOCK_MS });
  t.after(() => e.close());
  const s = new tg.Stream('anthropic');
  for (let off = 0; off < ANTHROPIC_BODY.length; off += 5) s.feed(ANTHROPIC_BODY.slice(off, off + 5));
  const ctx = { customerId: 'acme', idempotencyKey: 'call-7' };
  assert.equal(e.trackStream(s, ctx)[0].costCents, '0.24048');
  assert.deepEqual(e.trackStream(s, ctx), [{ status: 'duplicate' }]);
  s.close();
});

test('concurrent async tracks on one engine are exactly once', async (t) => {
  const e = new tg.Engine({ clockMs: CLOCK_MS });
  t.after(() => e.close());
  const calls = [];
  for (let worker = 0; worker < 4; worker++) {
    for (let i = 0; i < 200; i++) {
      const key = (worker >> 1) * 1000 + i; // every key is tracked by two workers
      calls.push(e.trackAsync({ customerId: 'acme', provider: 'openai', model: 'gpt-4o', tokensIn: 1000, idempotencyKey: `k${key}`, timestamp: '2026-01-10T00:00:00Z' }));
    }
  }
  const statuses = (await Promise.all(calls)).map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 'accepted').length, 400);
  assert.equal(statuses.filter((s) => s === 'duplicate').length, 400);
  const m = e.customerMargin('acme');
  // 400 events x 1000 x 2.5e-6 USD = 400 x 0.25 cents = 100 cents
  assert.deepEqual([m.events, m.costCents], [400, '100']);
});
