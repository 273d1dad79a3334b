'use strict';
// The README's Node snippet comes from examples/quickstart.js: run it, check its output.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

test('examples/quickstart.js prints what examples/quickstart.expected says', () => {
  const dir = path.join(__dirname, '..', 'examples');
  // Resolve `require('tollgate-engine')` to this package, as an installed dependency would.
  const modules = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'tollgate-example-'));
  fs.symlinkSync(path.join(__dirname, '..'), path.join(modules, 'tollgate-engine'), 'dir');
  const out = execFileSync(process.execPath, [path.join(dir, 'quickstart.js')], {
    env: { ...process.env, NODE_PATH: modules },
  }).toString();
  fs.rmSync(modules, { recursive: true });
  assert.equal(out, fs.readFileSync(path.join(dir, 'quickstart.expected'), 'utf8'));
});
