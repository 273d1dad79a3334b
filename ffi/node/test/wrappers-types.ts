// Compile-time checks of the wrapper declarations against the real SDK types (tsc only).
import OpenAI = require('openai');
import Anthropic = require('@anthropic-ai/sdk');
import { GoogleGenAI } from '@google/genai';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { Engine } from '../index';
import { wrapOpenAI, wrapAnthropic, wrapGemini, wrapBedrock, resolve, TrackingError, StreamTruncated, GuardBlocked } from '../wrappers';

declare const engine: Engine;
const onError = (e: TrackingError): void => {
  if (e instanceof StreamTruncated) console.log(e.record.bytesSeen, e.event?.idempotencyKey, e.result?.status);
};
const guarded: OpenAI.OpenAI = wrapOpenAI(new OpenAI.OpenAI(), engine, { customerId: 'c', guard: { mode: 'downgrade', usage: { tokensIn: 10 } } });
wrapBedrock(new BedrockRuntimeClient({}), engine, { customerId: 'c', guard: true });
const blocked = (err: unknown): string | null => (err instanceof GuardBlocked ? err.decision.reason : null);
void guarded; void blocked;
const o: OpenAI.OpenAI = wrapOpenAI(new OpenAI.OpenAI(), engine, { customerId: 'c', runId: (item) => item.responseId, onError });
const a: Anthropic.Anthropic = wrapAnthropic(new Anthropic.Anthropic(), engine, { customerId: 'c', revenueUnitCents: '0.5' });
const g: GoogleGenAI = wrapGemini(new GoogleGenAI({ apiKey: 'k' }), engine, { customerId: 'c', providerCostCents: 'reported' });
const b: BedrockRuntimeClient = wrapBedrock(new BedrockRuntimeClient({}), engine, { customerId: 'c' });
resolve(engine, 'run-1', 'c', 'resolved', { revenueUnitCents: 40 });
void o; void a; void g; void b;
