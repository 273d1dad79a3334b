'use strict';
const fs = require('node:fs');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');
const SHARED_FIXTURES = path.resolve(REPO, '..', 'shared', 'fixtures', 'providers');

/** The ABI's hand-computed vectors plus the pricing golden vectors when present. */
function pricingVectors() {
  const out = [];
  for (const f of [path.join(REPO, 'data', 'ffi', 'vectors.jsonl'), path.join(REPO, 'data', 'golden', 'pricing.jsonl')]) {
    if (!fs.existsSync(f)) continue;
    for (const line of fs.readFileSync(f, 'utf8').split('\n')) if (line.trim()) out.push(JSON.parse(line));
  }
  return out;
}

module.exports = { REPO, SHARED_FIXTURES, pricingVectors };
