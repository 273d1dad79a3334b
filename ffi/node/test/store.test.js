'use strict';
// The durable engine (Engine.open): records survive a close and reopen, one owner per
// directory, checkpoints, a torn tail cut and reported.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const tg = require('..');

const ACME = { customerId: 'acme', plan: { pricingModel: 'usage_based', unitRevenueCents: 5 }, timestamp: '2026-01-01T00:00:00Z' };
const event = (key) => ({
  customerId: 'acme', provider: 'openai', model: 'gpt-4o', tokensIn: 1000, idempotencyKey: key, timestamp: '2026-01-02T00:00:00Z',
});

test('a durable engine survives a reopen', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-node-'));
  try {
    let e = tg.Engine.open(dir);
    assert.equal(e.upsertCustomer(ACME).status, 'accepted');
    assert.equal(e.track(event('k1')).status, 'accepted');
    assert.equal(e.track(event('k2')).status, 'accepted');
    assert.throws(() => tg.Engine.open(dir), (err) => err.status === tg.Status.ERR_LOCKED);
    e.checkpoint();
    assert.equal(e.track(event('k3')).status, 'accepted');
    e.close();
    e = tg.Engine.open(dir, { durability: 'interval', intervalMs: 5 });
    const r = e.recovery();
    assert.deepEqual([r.checkpoint, r.records, r.tornTail], [2, 1, null]);
    const m = e.customerMargin('acme');
    // 3 events x 1000 tokens x 2.5e-6 USD = 0.75 cents; revenue 3 x 5 cents.
    assert.deepEqual([m.events, m.costCents, m.revenueCents], [3, '0.75', '15']);
    assert.equal(e.track(event('k1')).status, 'duplicate');
    e.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a torn tail is cut and reported; bad options are refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tollgate-node-'));
  try {
    let e = tg.Engine.open(dir);
    e.track(event('a'));
    e.track(event('b'));
    e.close();
    const seg = path.join(dir, 'wal-00000000000000000001.tgj');
    fs.truncateSync(seg, fs.statSync(seg).size - 4);
    e = tg.Engine.open(dir);
    const r = e.recovery();
    assert.equal(r.records, 1);
    assert.equal(r.tornTail.reason, 'the entry is cut short');
    e.close();
    assert.throws(() => tg.Engine.open(dir, { durability: 'sometimes' }), (err) => err.status === tg.Status.ERR_INVALID_INPUT);
    const mem = new tg.Engine();
    assert.throws(() => mem.checkpoint(), (err) => err.status === tg.Status.ERR_MISUSE);
    mem.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
