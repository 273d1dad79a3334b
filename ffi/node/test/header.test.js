'use strict';
// One source for ABI constants: every TG_* value and struct layout the binding hard-codes is
// read from include/tollgate.h here (macros evaluated, struct layouts computed with the C
// rules for these member types) and compared.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const tg = require('..');

const HEADER = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'include', 'tollgate.h'), 'utf8');

/** The header's `#define TG_*` values, as BigInt (macros may refer to earlier ones). */
function defines() {
  const out = {};
  for (const m of HEADER.matchAll(/^#define (TG_[A-Z0-9_]+) (.+)$/gm)) {
    let expr = m[2].trim();
    expr = expr.replace(/INT64_MIN/g, '(-(2n ** 63n))').replace(/\b(\d+)\b/g, '$1n')
      .replace(/\b(TG_[A-Z0-9_]+)\b/g, (_, name) => `(${out[name]}n)`.replace(/nn\)$/, 'n)'));
    // Only integer arithmetic on literals and earlier macros remains.
    assert.match(expr, /^[\d\sn()<|\-*+]+$/, `${m[1]} = ${m[2]}`);
    out[m[1]] = Function(`return (${expr});`)();
  }
  return out;
}

const C_TYPES = { int32_t: [4, 4], uint32_t: [4, 4], int64_t: [8, 8], uint64_t: [8, 8], size_t: [8, 8], char: [1, 1], uint8_t: [1, 1] };

/** Size and field offsets of every `typedef struct tg_x { … } tg_x;` in the header. */
function structs() {
  const out = {};
  for (const m of HEADER.matchAll(/typedef struct (tg_[a-z_]+) \{([\s\S]*?)\} \1;/g)) {
    let off = 0;
    let align = 1;
    const fields = {};
    const body = m[2].replace(/\/\*[\s\S]*?\*\//g, '');
    for (const f of body.matchAll(/^\s*(?:struct )?([a-z0-9_]+) ([a-z0-9_]+)(?:\[([A-Z0-9_]+)\])?;/gm)) {
      const [, type, name, count] = f;
      const t = C_TYPES[type] ?? (out[type] && [out[type].size, out[type].align]);
      assert.ok(t, `unknown member type ${type}`);
      const n = count ? Number(defines()[count] ?? count) : 1;
      off = Math.ceil(off / t[1]) * t[1];
      fields[name] = off;
      off += t[0] * n;
      align = Math.max(align, t[1]);
    }
    out[m[1]] = { size: Math.ceil(off / align) * align, align, fields };
  }
  return out;
}

test('every TG_* constant the binding hard-codes equals the header', () => {
  const h = defines();
  const mine = tg._abi.constants;
  assert.ok(Object.keys(mine).length >= 40);
  for (const [name, value] of Object.entries(mine)) {
    assert.ok(name in h, `${name} is not in tollgate.h`);
    assert.equal(BigInt(value), h[name], name);
  }
  // Every status code of the header is known to the binding.
  for (const name of Object.keys(h).filter((n) => n === 'TG_OK' || n.startsWith('TG_ERR_'))) {
    assert.ok(name in mine, `${name} is missing from the binding`);
  }
});

test('every struct the binding declares has the header layout', () => {
  const h = structs();
  for (const [name, layout] of Object.entries(tg._abi.structs)) {
    assert.ok(name in h, `${name} is not in tollgate.h`);
    assert.equal(layout.size, h[name].size, `sizeof(${name})`);
    assert.deepEqual(layout.fields, h[name].fields, `fields of ${name}`);
  }
});

test('the TypeScript declarations state the header\'s status codes', () => {
  const h = defines();
  const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');
  const block = dts.slice(dts.indexOf('export const Status'), dts.indexOf('}>;', dts.indexOf('export const Status')));
  const declared = Object.fromEntries([...block.matchAll(/^\s*([A-Z_0-9]+): (\d+);/gm)].map((m) => [`TG_${m[1]}`, BigInt(m[2])]));
  const codes = Object.keys(h).filter((n) => n === 'TG_OK' || n.startsWith('TG_ERR_'));
  assert.deepEqual(Object.keys(declared).sort(), codes.sort());
  for (const name of codes) assert.equal(declared[name], h[name], name);
  assert.match(dts, new RegExp(`CENTS_SCALE: ${h.TG_CENTS_SCALE}`));
});
