'use strict';
// Example: embed the Tollgate engine from Node (run by test/examples.test.js, output checked).
// readme:start
const tollgate = require('tollgate-engine'); // checks the library's ABI version at load

const engine = new tollgate.Engine(); // embedded rate card

// JSON in, JSON out: amounts are exact decimal strings of cents, never JS numbers.
const r = engine.priceJson({ provider: 'openai', model: 'gpt-4o', tokensIn: 1200, cachedTokens: 800, tokensOut: 350 });
console.log(r.costCents, r.model, r.source);

// The fast path: one FFI crossing for many items.
const [a, b] = engine.priceBatch([
  { provider: 'openai', model: 'gpt-4o', tokensIn: 1000 },
  { provider: 'openai', model: 'gpt-4o', tokensIn: 1000, serviceTier: 'batch' },
]);
console.log(a.costCents, b.costCents);

// Usage read off a raw provider response: no SDK counts tokens.
const response = JSON.stringify({
  id: 'msg_1', type: 'message', model: 'claude-sonnet-4-5-20250929',
  usage: { input_tokens: 3, cache_read_input_tokens: 1111, cache_creation_input_tokens: 418, output_tokens: 33 },
});
const [usage] = tollgate.extractUsage('anthropic', response);
console.log(usage.model, usage.tokensIn, usage.cachedTokens, usage.cacheWrite5mTokens, usage.tokensOut);

// The ledger: a customer on a usage-based plan; one call from the raw response to the ledger
// (extract, price, ingest exactly once); the customer's live margin in O(1).
engine.upsertCustomer({ customerId: 'acme', timestamp: '2026-01-01T00:00:00Z', plan: { pricingModel: 'usage_based', unitRevenueCents: 5 } });
const [tracked] = engine.trackResponse('anthropic', response, { customerId: 'acme', runId: 'run-1', timestamp: '2026-01-10T00:00:00Z' });
console.log(tracked.status, tracked.costCents, tracked.revenueCents);
console.log('acme margin', engine.customerMargin('acme').marginCents, 'cents');
engine.close();
// readme:end
