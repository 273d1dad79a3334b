'use strict';
// Usage extraction (one-shot and streaming) over the recorded provider fixtures, and bad input.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const tg = require('..');
const { SHARED_FIXTURES, OWN_FIXTURES, sharedOrSkip, centsLog } = require('./common');

const { Status } = tg;
const KEYS = ['tokensIn', 'cachedTokens', 'cacheWrite5mTokens', 'cacheWrite1hTokens', 'tokensOut', 'reasoningTokens', 'model'];
const BODY = '{"id":"chatcmpl-1","model":"gpt-4o","usage":{"prompt_tokens":10,"completion_tokens":2}}';
const pick = (o) => Object.fromEntries(KEYS.map((k) => [k, o[k]]));

test('every fixture: one-shot, streamed in 7-byte chunks, priced', (t) => {
  const expected = path.join(SHARED_FIXTURES, 'expected.jsonl');
  if (!sharedOrSkip(t, expected)) return;
  const engine = new tg.Engine();
  const log = centsLog('node', 'fixtures');
  let files = 0;
  let items = 0;
  for (const line of fs.readFileSync(expected, 'utf8').split('\n').filter((l) => l.trim())) {
    const want = JSON.parse(line);
    const body = fs.readFileSync(path.join(SHARED_FIXTURES, want.file));
    const got = tg.extractUsage(want.provider, body, want.requestModel);
    assert.deepEqual(got.map(pick), want.lineItems.map(pick), want.file);
    const s = new tg.Stream(want.provider, want.requestModel);
    for (let off = 0; off < body.length; off += 7) s.feed(body.subarray(off, off + 7));
    assert.deepEqual(s.finish(), got, want.file);
    s.close();
    got.forEach((item, i) => {
      const r = engine.priceJson(item); // a line item is a valid event
      log.write(`fixture:${want.file}#${i}`, r.costCents, r.priced);
      items++;
    });
    files++;
  }
  log.close();
  engine.close();
  assert.deepEqual([files, items], [34, 35]);
});

test('bad input gets a precise error', () => {
  assert.equal(tg.extractUsage('openai', BODY)[0].tokensIn, 10);
  const cases = [
    ['gemini-ish', BODY, Status.ERR_INVALID_INPUT, 'provider: unknown provider'],
    ['openai', Buffer.from('{"id":"x\xff","model":"m","usage":{"prompt_tokens":1,"completion_tokens":1}}', 'latin1'), Status.ERR_INVALID_UTF8, ''],
    ['openai', 'data: {"id":"c1","model":"gpt-4o","choices":[]}\n\ndata: [DONE]\n\n', Status.ERR_NO_USAGE, 'no_usage:'],
    ['openai', 'data: {"id":"c1","model":"gpt-4o","usage":{"prompt_tokens":1', Status.ERR_INVALID_INPUT, 'truncated:'],
    ['bedrock', '{"usage":{"inputTokens":1,"outputTokens":1,"totalTokens":2}}', Status.ERR_INVALID_INPUT, 'missing_model:'],
  ];
  for (const [provider, body, status, prefix] of cases) {
    assert.throws(() => tg.extractUsage(provider, body), (e) => e.status === status && e.detail.startsWith(prefix), String(body));
  }
  assert.throws(() => tg.extractUsage('openai', ''), tg.TollgateError); // nothing is never zero tokens
});

test('stream misuse and sticky errors', () => {
  const s = new tg.Stream('openai');
  s.feed('');
  s.feed(BODY);
  const first = s.finish();
  assert.deepEqual(s.finish(), first); // computed once
  assert.throws(() => s.feed('x'), (e) => e.status === Status.ERR_MISUSE);
  s.close();
  s.close();
  assert.throws(() => s.feed('x'), (e) => e.status === Status.ERR_INVALID_HANDLE);
  const bad = new tg.Stream('openai');
  assert.throws(() => bad.feed(Buffer.from('{"id":"x\xff', 'latin1')), (e) => e.status === Status.ERR_INVALID_UTF8);
  assert.throws(() => bad.feed('}'), (e) => e.status === Status.ERR_INVALID_UTF8); // sticks
  bad.close();
  assert.throws(() => new tg.Stream('nope'), (e) => e.status === Status.ERR_INVALID_INPUT);
});

test("the project's own provider responses: one-shot and streamed in 3-byte chunks", () => {
  const lines = fs.readFileSync(path.join(OWN_FIXTURES, 'expected.jsonl'), 'utf8').split('\n').filter((l) => l.trim());
  assert.equal(lines.length, 7);
  for (const line of lines) {
    const want = JSON.parse(line);
    const body = fs.readFileSync(path.join(OWN_FIXTURES, want.file));
    const got = tg.extractUsage(want.provider, body, want.requestModel);
    assert.deepEqual(got.map(pick), want.lineItems.map(pick), want.file);
    const s = new tg.Stream(want.provider, want.requestModel);
    for (let off = 0; off < body.length; off += 3) s.feed(body.subarray(off, off + 3));
    assert.deepEqual(s.finish(), got, want.file);
    s.close();
  }
});
