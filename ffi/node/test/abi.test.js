'use strict';
// Version, status codes, exact decimals and hostile arguments at the raw C level.
const test = require('node:test');
const assert = require('node:assert/strict');
const tg = require('..');

const { _c: c, Status } = tg;

test('library ABI version matches the binding', () => {
  assert.equal(tg.abiVersion(), 65537); // 1 << 16 | 1: ABI 1.1
});

test('status strings are static and total', () => {
  assert.equal(tg.statusString(Status.OK), 'ok');
  assert.equal(tg.statusString(Status.ERR_BUFFER_TOO_SMALL), 'output buffer too small');
  assert.equal(tg.statusString(-1), 'unknown status');
  for (let s = 0; s <= Status.ERR_PANIC; s++) assert.notEqual(tg.statusString(s), 'unknown status');
});

test('decimals round-trip exactly and have the documented layout', () => {
  for (const t of ['0', '0.4245', '330', '-12.5', '0.000000000000000000000001', '123456789.123456789']) {
    const d = tg.centsToRaw(t);
    assert.equal(tg.centsFromRaw(d.hi, d.lo), t);
  }
  // 1 cent = 10^24 = 54210 * 2^64 + 0x1BCECCEDA1000000.
  assert.deepEqual(tg.centsToRaw('1'), { hi: 54210n, lo: 0x1bcecceda1000000n });
  // The library's own formatting agrees with the binding's BigInt formatting.
  const buf = Buffer.alloc(48);
  const n = [0];
  assert.equal(c.tg_decimal_format({ hi: 23012n, lo: 0x30eca69ba8500000n }, buf, 48, n), Status.OK);
  assert.equal(buf.toString('utf8', 0, Number(n[0])), '0.4245');
  assert.equal(tg.centsFromRaw(23012n, 0x30eca69ba8500000n), '0.4245');
});

test('too precise or out of range amounts are rejected, never rounded', () => {
  assert.throws(() => tg.centsToRaw('0.0000000000000000000000001'), (e) => e.status === Status.ERR_INVALID_INPUT && /fractional digits/.test(e.detail));
  assert.throws(() => tg.centsToRaw('1e20'), (e) => e.status === Status.ERR_OVERFLOW);
  assert.throws(() => tg.centsToRaw(''), (e) => e.status === Status.ERR_INVALID_INPUT);
});

test('NULL pointers, zero lengths, invalid UTF-8 and small buffers', () => {
  const out = Buffer.alloc(16, 7);
  const err = Buffer.alloc(tg._ERROR_SIZE);
  assert.equal(c.tg_decimal_parse(null, 3, out, err), Status.ERR_NULL);
  assert.equal(err.toString('utf8', 8, 8 + err.readUInt32LE(4)), 'text: pointer is NULL but length is 3');
  assert.deepEqual([...out], new Array(16).fill(7)); // nothing written on failure
  assert.equal(c.tg_decimal_parse(null, 0, out, err), Status.ERR_INVALID_INPUT); // empty text
  assert.equal(c.tg_decimal_parse(Buffer.from([0xff]), 1, out, err), Status.ERR_INVALID_UTF8);
  assert.equal(c.tg_decimal_parse(Buffer.from('1'), 1, null, err), Status.ERR_NULL);
  const small = Buffer.alloc(3, 9);
  const n = [0];
  assert.equal(c.tg_decimal_format({ hi: 23012n, lo: 0x30eca69ba8500000n }, small, 3, n), Status.ERR_BUFFER_TOO_SMALL);
  assert.equal(Number(n[0]), 6);
  assert.deepEqual([...small], [9, 9, 9]);
  assert.equal(c.tg_decimal_format({ hi: 0n, lo: 0n }, null, 0, n), Status.ERR_BUFFER_TOO_SMALL);
  assert.equal(Number(n[0]), 1);
  // use after an error
  const d = tg.centsToRaw('2.5'); // mantissa 2.5 * 10^24
  assert.equal((d.hi << 64n) | d.lo, 25n * 10n ** 23n);
});

test('engine arguments', () => {
  assert.throws(() => new tg.Engine({ dedupeWindowMs: -5 }), (e) => e.status === Status.ERR_INVALID_INPUT && e.detail.startsWith('dedupe_window_ms: -5'));
  const err = Buffer.alloc(tg._ERROR_SIZE);
  const n = [0];
  const out = Buffer.alloc(16);
  assert.equal(c.tg_price_json(null, Buffer.from('{}'), 2, out, 16, n, err), Status.ERR_NULL);
  assert.equal(err.toString('utf8', 8, 8 + err.readUInt32LE(4)), 'tg_engine: pointer is NULL');
  c.tg_engine_free(null); // a no-op
});
