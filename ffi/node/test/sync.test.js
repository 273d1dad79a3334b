'use strict';
// Rate-card sync through the Node binding against a registry served from 127.0.0.1: 200
// (published, with its diff and history), 304 on the conditional request, an invalid registry
// and a 500 (nothing published, the error says why), the history after a reopen, and the
// background refresher.
//
// Hand calculation: CARD_A prices gpt-4o input at 1e-06 USD = 0.0001 cent per token (the
// embedded card: 2.5e-06), so 1000 input tokens cost 0.1 cent after the pull (0.25 before).
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const tg = require('..');

const CARD_A = '{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 4e-06},\n'
  + ' "acme-llm": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": 5e-06, "output_cost_per_token": 5e-06}}';
const INVALID = '{"gpt-4o": {"litellm_provider": "openai", "mode": "chat", "input_cost_per_token": "cheap"}}';
const EVENT = { customerId: 'acme', provider: 'openai', model: 'gpt-4o', tokensIn: 1000 };

// Serves state.reply ([status, body]); answers 304 to If-None-Match: "a" while state.etag is set.
async function registry(t) {
  const state = { reply: [200, CARD_A], etag: true, seen: [] };
  const server = http.createServer((req, res) => {
    const inm = req.headers['if-none-match'];
    state.seen.push(inm);
    if (state.etag && inm === '"a"') {
      res.writeHead(304);
      return res.end();
    }
    const [status, body] = state.reply;
    const headers = { 'Content-Length': Buffer.byteLength(body) };
    if (status === 200 && state.etag) headers.ETag = '"a"';
    res.writeHead(status, headers);
    return res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  state.url = `http://127.0.0.1:${server.address().port}/model_prices.json`;
  return state;
}

function tempDir(t) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tg-sync-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('pull: 200, 304, invalid, 500, history after a reopen', async (t) => {
  const reg = await registry(t);
  const dir = tempDir(t);
  let e = tg.Engine.open(dir);
  assert.equal(e.priceJson(EVENT).costCents, '0.25');
  let r = await e.pullRateCardAsync(reg.url, { retries: 0 });
  assert.deepEqual([r.source, r.outcome], [reg.url, 'published']);
  const [card] = r.published;
  assert.equal(card.content, crypto.createHash('sha256').update(CARD_A).digest('hex'));
  assert.deepEqual(card.added, ['acme-llm']);
  assert.ok(card.repriced.includes('gpt-4o'));
  assert.equal(e.priceJson(EVENT).costCents, '0.1');
  r = await e.pullRateCardAsync(reg.url, { retries: 0 });
  assert.deepEqual([r.outcome, r.published], ['not_modified', []]);
  assert.equal(reg.seen.at(-1), '"a"');
  reg.reply = [200, INVALID];
  reg.etag = false;
  await assert.rejects(e.pullRateCardAsync(reg.url, { retries: 0 }),
    (err) => err.status === tg.Status.ERR_RATE_CARD && err.detail.includes('nothing published') && err.detail.includes('gpt-4o'));
  reg.reply = [500, 'down'];
  await assert.rejects(e.pullRateCardAsync(reg.url, { retries: 0 }),
    (err) => err.status === tg.Status.ERR_IO && err.detail.includes('HTTP status 500'));
  const history = e.rateCardHistory();
  assert.deepEqual(history, [{ effectiveFromMs: card.effectiveFromMs, content: card.content, models: 2 }]);
  e.close();
  e = tg.Engine.open(dir);
  t.after(() => e.close());
  assert.deepEqual(e.rateCardHistory().map((c) => c.content), [card.content]);
  assert.equal(e.priceJson(EVENT).costCents, '0.1');
});

test('pull from a file (synchronous); an in-memory engine cannot pull', (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'card.json');
  fs.writeFileSync(file, CARD_A);
  const e = tg.Engine.open(path.join(dir, 'data'));
  t.after(() => e.close());
  assert.equal(e.pullRateCard(file).outcome, 'published');
  // The same prices again: nothing new to publish.
  assert.equal(e.pullRateCard(file).outcome, 'unchanged');
  const m = new tg.Engine();
  t.after(() => m.close());
  assert.throws(() => m.pullRateCard(file), (err) => err.status === tg.Status.ERR_MISUSE);
  assert.throws(() => m.rateCardHistory(), (err) => err.status === tg.Status.ERR_MISUSE);
  assert.throws(() => e.pullRateCard(file, { timeoutMs: 0 }), (err) => err.status === tg.Status.ERR_INVALID_INPUT);
});

async function firstPull(r) {
  const deadline = Date.now() + 10000;
  while (r.status().pulls < 1 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  return r.status();
}

test('the background refresher publishes, and reports why it did not', async (t) => {
  const reg = await registry(t);
  const e = tg.Engine.open(tempDir(t));
  let r = e.startRefresher(reg.url, { intervalMs: 60000, retries: 0 });
  let s = await firstPull(r);
  assert.equal(s.pulls, 1);
  assert.deepEqual([s.last.ok, s.last.report.outcome], [true, 'published']);
  r.stop();
  r.stop();
  assert.equal(e.priceJson(EVENT).costCents, '0.1');
  reg.reply = [200, INVALID];
  reg.etag = false;
  r = e.startRefresher(reg.url, { intervalMs: 60000, retries: 0 });
  s = await firstPull(r);
  assert.deepEqual([s.last.ok, s.last.status], [false, tg.Status.ERR_RATE_CARD]);
  assert.match(s.last.error, /nothing published/);
  assert.equal(e.rateCardHistory().length, 1);
  assert.throws(() => e.startRefresher(reg.url, { intervalMs: 10 }), (err) => err.status === tg.Status.ERR_INVALID_INPUT);
  e.close(); // stops the running refresher first
  assert.throws(() => r.status(), (err) => err.status === tg.Status.ERR_INVALID_HANDLE);
});
