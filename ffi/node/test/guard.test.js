'use strict';
// Guardrails through the Node binding: the hand-computed scenarios of tests/guardrails.rs (the
// same numbers as the Python suite), reservations, bad policies and requests, a durable engine.
//
// Rates (LiteLLM registry): gpt-4o 0.00025 / 0.001 cent per input / output token,
// gpt-3.5-turbo 0.00005 / 0.00015, gpt-4o-mini 0.000015 / 0.00006.
const test = require('node:test');
const assert = require('node:assert/strict');
const tg = require('..');

const T = 1768478400000; // 2026-01-15T12:00:00Z
const DAY = 86400000;
const CHAIN = { 'gpt-4o': 'gpt-3.5-turbo', 'gpt-3.5-turbo': 'gpt-4o-mini' };

function engine(t, ...policies) {
  const e = new tg.Engine({ clockMs: T });
  t.after(() => e.close());
  for (const p of policies) assert.equal(e.upsertPolicy(p).status, 'accepted');
  return e;
}

function spend(e, customerId, cost, extra = {}) {
  const r = e.track({ type: 'tool', customerId, externalCostCents: cost, ts: T, ...extra });
  assert.equal(r.status, 'accepted');
}

test('budget: crossed exactly at the boundary, month rollover, no policy', (t) => {
  const e = engine(t, { policyId: 'b100', customerId: 'acme', budget: { cents: '100', period: 'month' }, ts: 0 });
  spend(e, 'acme', '60');
  // 100 - 60 = 40 left: an estimate of exactly 40 fits.
  let d = e.allow('acme', { estimatedCostCents: '40', atMs: T });
  assert.ok(d instanceof tg.Decision);
  assert.deepEqual([d.decision, d.reason, d.period, d.remainingBudgetCents, d.costCents], ['allow', 'ok', '2026-01', '40', '60']);
  assert.equal(d.allowed, true);
  // 10^-24 cent more does not.
  d = e.allow('acme', { estimatedCostCents: '40.000000000000000000000001', atMs: T });
  assert.deepEqual([d.decision, d.reason, d.policyId, d.allowed], ['block', 'budget_exceeded', 'b100', false]);
  // 2026-02-01T00:00:00Z: a new month, nothing spent.
  d = e.allow('acme', { estimatedCostCents: 100, atMs: 1769904000000 });
  assert.deepEqual([d.decision, d.period, d.costCents, d.remainingBudgetCents], ['allow', '2026-02', '0', '100']); // 100 - 0 spent
  d = e.allow('other', { estimatedCostCents: 10n ** 6n, atMs: T });
  assert.deepEqual([d.decision, d.reason, d.policyId, d.period], ['allow', 'no_policy', null, null]);
});

test('minimum margin below and above its minimum activity', (t) => {
  const e = engine(t, { policyId: 'mm', customerId: 'c', minMargin: { pct: '20', period: 'month', minRevenueCents: '1000' }, ts: 0 });
  spend(e, 'c', '450', { revenueUnitCents: '500' }); // (500 - 450) / 500 = 10 %, revenue 500 < 1000
  assert.equal(e.allow('c', { estimatedCostCents: 100, atMs: T }).decision, 'allow');
  spend(e, 'c', '350', { revenueUnitCents: '500' }); // revenue 1000, cost 800: (1000 - 800) / 1000 = 20 %
  let d = e.allow('c', { estimatedCostCents: 0, atMs: T });
  assert.deepEqual([d.decision, d.marginPct, d.revenueCents], ['allow', '20.00', '1000']);
  d = e.allow('c', { estimatedCostCents: '0.000000000000000000000001', atMs: T });
  assert.deepEqual([d.decision, d.reason], ['block', 'min_margin']);
});

test('downgrade chain, a target itself over budget, nothing fits', (t) => {
  const e = engine(t, { policyId: 'dg', customerId: 'c', budget: { cents: '100', period: 'day' }, action: 'downgrade', downgrade: CHAIN, ts: 0 });
  // 100,000 in + 100,000 out: gpt-4o 25 + 100 = 125, gpt-3.5-turbo 5 + 15 = 20,
  // gpt-4o-mini 1.5 + 6 = 7.5 cents.
  const usage = { tokensIn: 100000, tokensOut: 100000 };
  const ask = () => e.allow('c', { model: 'gpt-4o', usage, provider: 'openai', atMs: T });
  spend(e, 'c', '50'); // 50 left
  let d = ask();
  assert.deepEqual([d.decision, d.suggestedModel, d.estimateCents], ['downgrade', 'gpt-3.5-turbo', '20']);
  spend(e, 'c', '40'); // 10 left: gpt-3.5-turbo (20) is over too
  d = ask();
  assert.deepEqual([d.decision, d.suggestedModel, d.estimateCents], ['downgrade', 'gpt-4o-mini', '7.5']);
  spend(e, 'c', '5'); // 5 left: nothing fits
  d = ask();
  assert.deepEqual([d.decision, d.reason, d.suggestedModel], ['block', 'budget_exceeded', null]);
});

test('per-run and per-agent caps', (t) => {
  const e = engine(t, { policyId: 'p', customerId: 'c', maxRunCostCents: '30', maxAgentCost: { cents: '50', period: 'day' }, ts: 0 });
  spend(e, 'c', '20', { runId: 'r1', agentId: 'a1' });
  assert.equal(e.allow('c', { runId: 'r1', estimatedCostCents: 10, atMs: T }).decision, 'allow'); // 20 + 10 = 30
  let d = e.allow('c', { runId: 'r1', estimatedCostCents: '10.5', atMs: T }); // 30.5 > 30
  assert.deepEqual([d.decision, d.reason, d.period, d.costCents], ['block', 'max_run_cost', 'run', '20']);
  assert.equal(e.allow('c', { agentId: 'a1', estimatedCostCents: 30, atMs: T }).decision, 'allow'); // 20 + 30 = 50
  d = e.allow('c', { agentId: 'a1', estimatedCostCents: '30.01', atMs: T });
  assert.deepEqual([d.decision, d.reason, d.period], ['block', 'max_agent_cost', '2026-01-15']);
  assert.equal(e.allow('c', { agentId: 'a1', estimatedCostCents: 50, atMs: T + DAY }).decision, 'allow'); // a new day
});

test('reservations: settled higher and lower, released, expired', (t) => {
  const e = engine(t, { policyId: 'b', customerId: 'c', budget: { cents: '100', period: 'month' }, ts: 0 });
  const r1 = e.allow('c', { estimatedCostCents: 60, atMs: T, reserve: true }).reservationId;
  assert.equal(typeof r1, 'number');
  assert.equal(e.allow('c', { estimatedCostCents: 41, atMs: T }).decision, 'block'); // 60 held: 41 > 40
  let s = e.settle(r1, { type: 'tool', customerId: 'c', externalCostCents: '70', ts: T });
  assert.deepEqual([s.result.status, s.releasedCents], ['accepted', '60']);
  assert.equal(e.allow('c', { atMs: T }).remainingBudgetCents, '30'); // 100 - 70
  const r2 = e.allow('c', { estimatedCostCents: 20, atMs: T, reserve: true }).reservationId;
  s = e.settle(r2, { type: 'tool', customerId: 'c', externalCostCents: '5', ts: T });
  assert.equal(s.releasedCents, '20');
  assert.equal(e.allow('c', { atMs: T }).remainingBudgetCents, '25'); // 100 - 75
  const r3 = e.allow('c', { estimatedCostCents: 25, atMs: T, reserve: true }).reservationId;
  assert.equal(e.release(r3), '25');
  assert.equal(e.release(r3), null);
  e.allow('c', { estimatedCostCents: 25, atMs: T, reserve: true, ttlMs: 1000 });
  assert.equal(e.allow('c', { estimatedCostCents: '0.01', atMs: T + 999 }).decision, 'block'); // still held
  assert.equal(e.allow('c', { estimatedCostCents: 25, atMs: T + 1000 }).decision, 'allow'); // expired
  // Settling for another customer is refused and keeps the reservation.
  const r4 = e.allow('c', { estimatedCostCents: 1, atMs: T, reserve: true }).reservationId;
  assert.throws(() => e.settle(r4, { type: 'tool', customerId: 'other', externalCostCents: '1', ts: T }),
    (err) => err.status === tg.Status.ERR_INVALID_INPUT && err.detail.startsWith('customerId:'));
  assert.equal(e.release(r4), '1');
});

test('bad policies are rejected whole with the field; bad requests throw', (t) => {
  const e = engine(t);
  for (const [policy, field] of [
    [{ policyId: 'p', budget: { cents: '-1', period: 'day' } }, 'budget.cents'],
    [{ policyId: 'p', budget: { cents: '1', period: 'year' } }, 'budget.period'],
    [{ policyId: 'p', action: 'downgrade' }, 'downgrade'],
    [{ policyId: 'p', downgrade: { a: 'b', b: 'a' } }, 'downgrade'],
    [{ policyId: 'p', minMargin: { pct: '12.345', period: 'day' } }, 'minMargin.pct'],
    [{ customerId: 'c' }, 'policyId'],
  ]) {
    assert.throws(() => e.upsertPolicy(policy), (err) => err instanceof tg.TollgateError
      && err.status === tg.Status.ERR_INVALID_INPUT && err.detail.startsWith(`${field}:`), field);
  }
  assert.deepEqual(e.policyBreaches(), []); // nothing was stored
  assert.throws(() => e.allow('c', { estimatedCostCents: 0.1 }), TypeError); // floats never enter the money path
  assert.throws(() => e.allow('', { estimatedCostCents: 1 }), (err) => err.detail.startsWith('customerId:'));
  assert.throws(() => e.allow('c', { reserve: true }), (err) => err.detail.startsWith('estimate:'));
});

test('GuardBlocked, the product shape, policy breaches', (t) => {
  const e = engine(t, { policyId: 'b', customerId: 'c', budget: { cents: '1', period: 'day' }, ts: 0 });
  const d = e.allow('c', { estimatedCostCents: 2, atMs: T });
  const err = new tg.GuardBlocked(d);
  assert.equal(err.decision, d);
  assert.match(err.message, /budget_exceeded/);
  assert.deepEqual(Object.keys(JSON.parse(JSON.stringify(d))).sort(), [
    'costCents', 'decision', 'estimateCents', 'flagged', 'marginPct', 'period', 'policyId', 'reason',
    'remainingBudgetCents', 'reservationId', 'revenueCents', 'suggestedModel']);
  spend(e, 'c', '3'); // 3 > 1 on 2026-01-15
  assert.deepEqual(e.policyBreaches().map((b) => [b.rule, b.period, b.costCents]), [['budget_exceeded', '2026-01-15', '3']]);
});

test('a durable engine journals policies and settled events', (t) => {
  const fs = require('node:fs');
  const os = require('node:os');
  const path = require('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-guard-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let e = tg.Engine.open(dir, { durability: 'sync' });
  assert.equal(e.upsertPolicy({ policyId: 'b', customerId: 'c', budget: { cents: '100', period: 'all' }, ts: 0 }).status, 'accepted');
  const r = e.allow('c', { estimatedCostCents: 60, reserve: true }).reservationId;
  assert.equal(e.settle(r, { type: 'tool', customerId: 'c', externalCostCents: '70', idempotencyKey: 's1' }).releasedCents, '60');
  e.close();
  e = tg.Engine.open(dir, { durability: 'sync' });
  t.after(() => e.close());
  // After a restart: the policy (100) and the settled event (70) are both there: 30 left.
  const d = e.allow('c', { estimatedCostCents: '30' });
  assert.deepEqual([d.decision, d.policyId, d.costCents, d.remainingBudgetCents], ['allow', 'b', '70', '30']);
  assert.equal(e.allow('c', { estimatedCostCents: '30.5' }).decision, 'block');
});
