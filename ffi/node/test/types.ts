// Type-checks index.d.ts against real use (npm run typecheck); not executed.
import * as tg from '..';

const engine: tg.Engine = new tg.Engine({ dedupeWindowMs: 0, clockMs: 1767225600000 });
const r: tg.PriceResult = engine.priceJson({ provider: 'openai', model: 'gpt-4o', tokensIn: 1000 });
const cents: tg.Cents = r.costCents;
const batch: tg.PriceOut[] = engine.priceBatch([{ provider: 'openai', model: 'gpt-4o', tokensIn: 1000n, serviceTier: 'batch' }]);
const asyncResult: Promise<tg.PriceResult> = engine.priceJsonAsync('{"model":"gpt-4o"}');
const id: string = engine.publishRateCard('{}', 0);
const snaps: tg.SnapshotInfo[] = engine.snapshots();
engine.setOverride('gpt-4o', { input_cost_per_token: 2e-6 });
const removed: boolean = engine.removeOverride('gpt-4o');
const pinned: tg.Snapshot = engine.pin(id);
const pinnedResult: tg.PriceResult = pinned.priceJson('{}');
pinned.unpin();
const items: tg.LineItem[] = tg.extractUsage('anthropic', Buffer.from('{}'));
const reasoning: number | null = items[0].reasoningTokens;
const stream = new tg.Stream('openai', 'gpt-4o');
stream.feed('data: {}\n\n');
const streamed: tg.LineItem[] = stream.finish();
stream.close();
const tracked: tg.IngestResult = engine.track({ customerId: 'acme', model: 'gpt-4o' });
if (tracked.status === 'accepted') console.log(tracked.costCents, tracked.revenueCents);
const results: tg.IngestResult[] = engine.trackResponse('anthropic', '{}', { customerId: 'acme', runId: 'r1' });
const rows: tg.MarginRow[] = engine.margin({ groupBy: ['customer', 'day'], from: '2026-01-01' });
const report: tg.Report = engine.report({ groupBy: ['agent', 'week'], outcome: 'resolved', sort: 'margin%:asc', top: 5 });
const perRun: string | null = report.rows[0].costPerResolvedRunCents;
const csvText: string = engine.reportCsv({ groupBy: ['month'] });
const margin: tg.MarginNumbers = engine.customerMargin('acme');
const pct: string | null = margin.marginPct;
engine.stateRestore(engine.stateSave());
void [results, rows, pct, perRun, csvText, engine.resolve({ runId: 'r1', customerId: 'acme', outcome: 'resolved' }), engine.trackAsync('{}')];
try {
  engine.close();
} catch (e) {
  if (e instanceof tg.TollgateError && e.status === tg.Status.ERR_MISUSE) console.log(e.code, e.detail);
}
void [cents, batch, asyncResult, snaps, removed, pinnedResult, reasoning, streamed, tg.abiVersion(), tg.statusString(0)];
// Typed records: amounts as text or numbers, typos caught at compile time.
const typedEngine = new tg.Engine();
const customer: tg.Customer = { customerId: 'acme', plan: { pricingModel: 'usage_based', unitRevenueCents: 5 } };
const ev: tg.Event = { customerId: 'acme', model: 'gpt-4o', tokensIn: 10, revenueUnitCents: '0.5', timestamp: '2026-01-10T00:00:00Z' };
const res: tg.Resolution = { runId: 'r1', customerId: 'acme', outcome: 'resolved', revenueUnitCents: 40 };
void [typedEngine.upsertCustomer(customer), typedEngine.track(ev), typedEngine.resolve(res)];
// @ts-expect-error: not a field of an event
const typo: tg.Event = { customerID: 'acme' };
// @ts-expect-error: not a pricing model
const badPlan: tg.Plan = { pricingModel: 'freemium' };
const asyncs: Array<Promise<unknown>> = [tg.Engine.create(), typedEngine.priceBatchAsync([]), typedEngine.trackResponseAsync('anthropic', '{}', { customerId: 'a', revenueUnitCents: 5 }),
  typedEngine.marginAsync(), typedEngine.stateSaveAsync(), tg.extractUsageAsync('openai', '{}'), new tg.Stream('openai').finishAsync()];
typedEngine[Symbol.dispose]();
void [typo, badPlan, asyncs];
// Guardrails: typed policies, requests and decisions.
const guardEngine = new tg.Engine();
const policy: tg.Policy = { policyId: 'p', customerId: 'acme', budget: { cents: '100', period: 'month' }, action: 'downgrade', downgrade: { 'gpt-4o': 'gpt-4o-mini' } };
guardEngine.upsertPolicy(policy);
const decision: tg.Decision = guardEngine.allow('acme', { model: 'gpt-4o', usage: { tokensIn: 10 }, reserve: true });
const verdict: 'allow' | 'downgrade' | 'block' = decision.decision;
const remaining: string | null = decision.remainingBudgetCents;
const settled: tg.Settlement = guardEngine.settle(decision.reservationId ?? 0, ev);
const released: string | null = guardEngine.release(1);
const breaches: tg.PolicyBreach[] = guardEngine.policyBreaches();
const blocked: Error = new tg.GuardBlocked(decision);
// @ts-expect-error: not a period
const badPolicy: tg.Policy = { policyId: 'p', budget: { cents: '1', period: 'year' } };
guardEngine.close();
void [verdict, remaining, settled, released, breaches, blocked, badPolicy];
// Rate-card sync.
const syncEngine = tg.Engine.open('/tmp/never-opened-by-the-typecheck');
const syncReport: tg.SyncReport = syncEngine.pullRateCard('https://example.invalid/card.json', { retries: 0 });
const outcome: 'not_modified' | 'unchanged' | 'published' = syncReport.outcome;
const refresher: tg.Refresher = syncEngine.startRefresher(null, { intervalMs: 3600000 });
const rs: tg.RefresherStatus = refresher.status();
const hist: tg.RateCardHistoryEntry[] = syncEngine.rateCardHistory();
void [outcome, rs, hist, syncEngine.pullRateCardAsync()];
