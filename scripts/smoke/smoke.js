'use strict';
// Install smoke of the npm package (run by scripts/install_smoke.sh in an empty project that
// installed the packed tarball): price, extract, track, margin; writes the line described in
// docs/DECISIONS.md (Packaging) to $TOLLGATE_SMOKE_OUT/node.json.
const fs = require('node:fs');
const path = require('node:path');
const tollgate = require('tollgate-engine');

const body = fs.readFileSync(process.argv[2]);
const engine = new tollgate.Engine();
const price = engine.priceJson({ provider: 'openai', model: 'gpt-4o', tokensIn: 1200, cachedTokens: 800, tokensOut: 350 });
const [u] = tollgate.extractUsage('anthropic', body);
engine.upsertCustomer({ customerId: 'acme', timestamp: '2026-01-01T00:00:00Z', plan: { pricingModel: 'usage_based', unitRevenueCents: 5 } });
const [tracked] = engine.trackResponse('anthropic', body, { customerId: 'acme', runId: 'run-1', timestamp: '2026-01-10T00:00:00Z' });
const margin = engine.customerMargin('acme');
engine.close();
const line = JSON.stringify({
  price: price.costCents,
  extractTokens: [u.tokensIn, u.cachedTokens, u.cacheWrite5mTokens, u.tokensOut],
  trackCost: tracked.costCents,
  trackRevenue: tracked.revenueCents,
  margin: margin.marginCents,
});
fs.writeFileSync(path.join(process.env.TOLLGATE_SMOKE_OUT, 'node.json'), `${line}\n`);
console.log(`node: ${line}`);
