'use strict';
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');
const SHARED = process.env.TOLLGATE_SHARED_DIR || path.resolve(REPO, '..', 'shared');
const SHARED_FIXTURES = path.join(SHARED, 'fixtures', 'providers');
// The project's own provider responses (data/fixtures/providers), present in every clone.
const OWN_FIXTURES = path.join(REPO, 'data', 'fixtures', 'providers');

/**
 * Skips (t.skip, printing SKIPPED) a test whose ../shared input is absent, or fails it when
 * TOLLGATE_REQUIRE_SHARED is set (CI sets it: there the input must be present).
 */
function sharedOrSkip(t, file) {
  if (fs.existsSync(file)) return true;
  if (process.env.TOLLGATE_REQUIRE_SHARED) throw new Error(`${file} is absent and TOLLGATE_REQUIRE_SHARED is set`);
  console.log(`SKIPPED: ${file} is absent (it lives in ../shared beside the repository)`);
  t.skip(`${file} is absent`);
  return false;
}

/**
 * {id, vector, exact} for the ABI's hand-computed vectors (exact expectations) and the
 * pricing golden vectors when present (reference expectations), in this order.
 */
function pricingVectors() {
  const out = [];
  for (const [f, exact] of [[path.join(REPO, 'data', 'ffi', 'vectors.jsonl'), true], [path.join(REPO, 'data', 'golden', 'pricing.jsonl'), false]]) {
    if (!fs.existsSync(f)) continue;
    fs.readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      const v = JSON.parse(line);
      out.push({ id: v.id || `ffi-${i + 1}`, v, exact });
    });
  }
  return out;
}

/** Parses an exact decimal string into a BigInt scaled by 10^30. */
function scaled(text) {
  const [int, frac = ''] = text.split('.');
  return BigInt(int + frac.padEnd(30, '0').slice(0, 30));
}

/** |got - want| <= want * 1e-9, exactly (BigInt), as the core's golden test. */
function within1e9(got, want) {
  const g = scaled(got);
  const w = scaled(want);
  const d = g > w ? g - w : w - g;
  return d * 1000000000n <= w;
}

/** Writes id<TAB>costCents<TAB>priced lines to $TOLLGATE_CENTS_OUT/<lang>.<part>.tsv for CI's
 * cross-language comparison. */
function centsLog(lang, part) {
  const dir = process.env.TOLLGATE_CENTS_OUT;
  const lines = [];
  return {
    write(id, cents, priced) { lines.push(`${id}\t${cents}\t${priced}\n`); },
    close() { if (dir) fs.writeFileSync(path.join(dir, `${lang}.${part}.tsv`), lines.join('')); },
  };
}

module.exports = {
  OWN_FIXTURES, sharedOrSkip, REPO, SHARED_FIXTURES, pricingVectors, within1e9, centsLog,
};
