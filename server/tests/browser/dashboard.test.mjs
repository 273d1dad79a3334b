// The dashboard in a real browser: Debian's headless chromium driven by playwright-core.
//
// Starts the built `tollgate serve` on 127.0.0.1 (port 0) with a temporary data directory,
// creates keys with `tollgate keys create`, sends customers and events through the product API
// (`/api/sdk/customer`, `/api/track`) with an ingest key, logs in through the form with a read
// key and checks the figures the browser renders against the hand calculation below.
// Screenshots go to target/screenshots/.
//
// Environment: TOLLGATE_BIN (default target/debug/tollgate), CHROMIUM (default
// /usr/bin/chromium), SCREENSHOT_DIR (default target/screenshots).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = process.env.TOLLGATE_BIN || join(ROOT, 'target/debug/tollgate');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.SCREENSHOT_DIR || join(ROOT, 'target/screenshots');
const STEP_MS = 30_000; // every wait below is bounded

// gpt-4o: $2.50 / M input = 0.00025 cents a token, $10 / M output = 0.001 cents a token.
// gpt-4o-mini: $0.15 / M input = 0.000015 cents, $0.60 / M output = 0.00006 cents.
// claude-sonnet-4-5: $3 / M input = 0.0003 cents, $15 / M output = 0.0015 cents.
const PLANTED = '<script>alert(1)</script>';
const EVENTS = [
  // 1,000,000 × 0.00025 + 100,000 × 0.001 = 250 + 100 = 350 cents; revenue 500.
  { customerId: 'acme', runId: 'r1', agentId: 'support', provider: 'openai', model: 'gpt-4o',
    tokensIn: 1000000, tokensOut: 100000, revenueUnitCents: 500, ts: '2026-11-02T10:00:00Z' },
  // 2,000,000 × 0.000015 + 500,000 × 0.00006 = 30 + 30 = 60 cents; revenue 100.
  { customerId: 'acme', runId: 'r2', agentId: 'triage', provider: 'openai', model: 'gpt-4o-mini',
    tokensIn: 2000000, tokensOut: 500000, revenueUnitCents: 100, ts: '2026-11-03T09:00:00Z' },
  // Unknown to every rate card: unpriced, not $0.
  { customerId: 'acme', runId: 'r2', agentId: 'triage', provider: 'acme-llm', model: 'mystery-model-x',
    tokensIn: 1000, ts: '2026-11-03T12:00:00Z' },
  // 100,000 × 0.0003 + 10,000 × 0.0015 = 30 + 15 = 45 cents; revenue 200.
  { customerId: PLANTED, provider: 'anthropic', model: 'claude-sonnet-4-5',
    tokensIn: 100000, tokensOut: 10000, revenueUnitCents: 200, ts: '2026-11-04T08:00:00Z' },
];
// Totals: revenue 800 cents = $8.00, cost 350 + 60 + 45 = 455 cents = $4.55, margin $3.45,
// 345 / 800 = 43.125 % → 43.12 % (half-even). acme: $6.00, $4.10, $1.90, 31.67 %.

let dataDir, server, base, keys, browser;
const serverLog = [];
const dialogs = [];

function tollgate(...args) {
  return execFileSync(BIN, args, { encoding: 'utf8', timeout: STEP_MS, stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function startServer() {
  return new Promise((resolveStart, reject) => {
    const child = spawn(BIN, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${serverLog.join('')}`)), STEP_MS);
    const onData = (chunk) => {
      serverLog.push(chunk.toString());
      // `tollgate server listening on http://127.0.0.1:PORT` (the scheme is optional).
      const m = serverLog.join('').match(/listening on (?:http:\/\/)?(127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolveStart({ child, base: `http://${m[1]}` });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited ${code}:\n${serverLog.join('')}`)));
  });
}

async function api(path, body) {
  const r = await fetch(base + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.ingest}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(STEP_MS),
  });
  assert.equal(r.status, 200, `${path}: ${await r.text()}`);
}

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_MS);
  // A script that ran (an escaping failure) would open a dialog: recorded, checked at the end.
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  return page;
}

async function logIn(page, key) {
  await page.goto(base + '/');
  assert.match(page.url(), /\/login$/, 'an anonymous visit lands on the login form');
  await page.fill('#key', key);
  await Promise.all([page.waitForLoadState('load'), page.click('form#login button[type=submit]')]);
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'tollgate-browser-'));
  mkdirSync(SHOTS, { recursive: true });
  keys = {
    ingest: tollgate('keys', 'create', '--data', dataDir, '--workspace', 'demo', '--scope', 'ingest'),
    read: tollgate('keys', 'create', '--data', dataDir, '--workspace', 'demo', '--scope', 'read'),
    otherRead: tollgate('keys', 'create', '--data', dataDir, '--workspace', 'other', '--scope', 'read'),
  };
  ({ child: server, base } = await startServer());
  await api('/api/sdk/customer', { customerId: 'acme', name: 'Acme Corp' });
  await api('/api/sdk/customer', { customerId: PLANTED, name: '<img src=x onerror=alert(2)>' });
  for (const e of EVENTS) await api('/api/track', e);
  await api('/api/track', { customerId: 'acme', runId: 'r1', model: 'resolution', outcome: 'resolved',
    ts: '2026-11-03T13:00:00Z' });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // CI runs as root, where chromium's sandbox cannot start.
    args: ['--no-sandbox'],
    timeout: STEP_MS,
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  assert.deepEqual(dialogs, [], 'no script of a page ran');
  for (const k of Object.values(keys ?? {})) {
    assert.ok(!serverLog.join('').includes(k), 'a key appeared in the server log');
  }
});

test('overview shows the hand-calculated figures and a three-day chart', async () => {
  const page = await newPage();
  await logIn(page, keys.read);
  assert.equal(new URL(page.url()).pathname, '/');
  assert.equal(await page.textContent('#workspace'), 'demo');
  assert.equal(await page.textContent('#total-revenue'), '$8.00');
  assert.equal(await page.textContent('#total-cost'), '$4.55');
  assert.equal(await page.textContent('#total-margin'), '$3.45');
  assert.equal(await page.textContent('#total-pct'), '43.12 %');
  assert.equal(await page.textContent('#total-unpriced'), '1');

  const acme = page.locator('tr[data-customer="acme"]');
  assert.equal(await acme.locator('td.name').textContent(), 'Acme Corp');
  assert.equal(await acme.locator('td.revenue').textContent(), '$6.00');
  assert.equal(await acme.locator('td.cost .money').textContent(), '$4.10');
  assert.equal(await acme.locator('td.cost .unpriced-flag').textContent(), '+1 unpriced');
  assert.equal(await acme.locator('td.margin').textContent(), '$1.90');
  assert.equal(await acme.locator('td.pct').textContent(), '31.67 %');

  // The planted customer renders as text, and no script ran (no dialog, see newPage).
  const planted = page.locator('tr.customer-row', { has: page.locator('td.id', { hasText: PLANTED }) });
  assert.equal(await planted.count(), 1);
  assert.equal(await planted.locator('td.name').textContent(), '<img src=x onerror=alert(2)>');
  assert.equal(await page.locator('main script, main img').count(), 0);

  // The chart: an inline SVG, one revenue and one cost point per day (3 days).
  const svg = page.locator('svg.day-chart');
  assert.equal(await svg.count(), 1);
  assert.equal(await svg.getAttribute('data-days'), '3');
  assert.equal(await svg.locator('circle.point-revenue').count(), 3);
  assert.equal(await svg.locator('circle.point-cost').count(), 3);
  const days = await svg.locator('circle.point-cost').evaluateAll((cs) =>
    cs.map((c) => `${c.getAttribute('data-day')}=${c.getAttribute('data-cents')}`));
  assert.deepEqual(days, ['2026-11-02=350', '2026-11-03=60', '2026-11-04=45']);
  const box = await svg.boundingBox();
  assert.ok(box && box.width > 300 && box.height > 100, 'the chart is laid out visibly');

  assert.match(await page.textContent('#unpriced'), /mystery-model-x/);
  assert.match(await page.textContent('#card-id'), /embedded LiteLLM 1\.110\.2/);
  await page.screenshot({ path: join(SHOTS, 'dashboard-overview.png'), fullPage: true });

  // Other workspaces' customers are not there.
  assert.equal(await page.locator('text=globex').count(), 0);

  // The Margin header orders the customers: acme's 190 cents before the planted 155 cents,
  // then (clicked again) the other way round.
  const firstRow = () => page.locator('tr.customer-row').first().getAttribute('data-customer');
  await Promise.all([page.waitForURL(/sort=margin$/), page.click('a.sort[href="/?sort=margin"]')]);
  assert.equal(await firstRow(), 'acme');
  await Promise.all([page.waitForURL(/sort=margin:asc$/), page.click('a.sort[href="/?sort=margin:asc"]')]);
  assert.equal(await firstRow(), PLANTED);
  await page.context().close();
});

test('customer page: runs with outcomes, agents, models, unpriced models', async () => {
  const page = await newPage();
  await logIn(page, keys.read);
  await Promise.all([page.waitForLoadState('load'), page.click('tr[data-customer="acme"] td.id a')]);
  assert.equal(new URL(page.url()).pathname, '/customers/acme');
  assert.equal(await page.textContent('#customer-id'), 'acme');
  assert.equal(await page.textContent('#customer-name'), 'Acme Corp');
  assert.equal(await page.textContent('#total-revenue'), '$6.00');
  assert.equal(await page.textContent('#total-cost'), '$4.10');
  const r1 = page.locator('tr[data-run="r1"]');
  assert.equal(await r1.locator('td.outcome').textContent(), 'resolved');
  assert.equal(await r1.locator('td.cost').textContent(), '$3.50', 'r1 has no unpriced event');
  const r2 = page.locator('tr[data-run="r2"]');
  assert.equal(await r2.locator('td.outcome').textContent(), 'open');
  assert.equal(await r2.locator('td.cost .money').textContent(), '$0.60');
  assert.equal(await r2.locator('td.cost .unpriced-flag').textContent(), '+1 unpriced');
  // The resolution names no agent: its row (a run, no cost) is listed as such.
  assert.deepEqual(await page.locator('#agents-table td.name').allTextContents(),
    ['support', 'triage', '(no agent)']);
  assert.match(await page.textContent('#models-table'), /gpt-4o-mini/);
  assert.match(await page.textContent('#unpriced'), /mystery-model-x/);
  assert.equal(await page.locator('svg.day-chart circle.point-cost').count(), 2);
  await page.screenshot({ path: join(SHOTS, 'dashboard-customer.png'), fullPage: true });
  await page.context().close();
});

test('an ingest key cannot log in; logout ends the session', async () => {
  const page = await newPage();
  await logIn(page, keys.ingest);
  assert.match(page.url(), /\/login$/);
  assert.match(await page.textContent('#login-error'), /read or admin scope/);
  assert.equal(await page.inputValue('#key'), '', 'the key is not put back in the form');

  await page.fill('#key', keys.read);
  await Promise.all([page.waitForLoadState('load'), page.click('form#login button[type=submit]')]);
  assert.equal(new URL(page.url()).pathname, '/');
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === 'tollgate_session');
  assert.ok(session, 'a session cookie');
  assert.equal(session.httpOnly, true);
  assert.equal(session.sameSite, 'Strict');
  assert.equal(session.path, '/');
  // HttpOnly: scripts in the page cannot read it.
  assert.equal(await page.evaluate(() => document.cookie.includes('tollgate_session')), false);

  await Promise.all([page.waitForLoadState('load'), page.click('form.logout button')]);
  assert.match(page.url(), /\/login$/);
  await page.goto(base + '/');
  assert.match(page.url(), /\/login$/, 'logged out');
  await page.context().close();
});

test('another workspace\'s read key sees only its own (empty) workspace', async () => {
  const page = await newPage();
  await logIn(page, keys.otherRead);
  assert.equal(await page.textContent('#workspace'), 'other');
  assert.equal(await page.textContent('#total-revenue'), '$0.00');
  assert.equal(await page.locator('tr.customer-row').count(), 0);
  const r = await page.goto(base + '/customers/acme');
  assert.equal(r.status(), 404);
  await page.context().close();
});
