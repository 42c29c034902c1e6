// ext_proc gives back what ext_authz charged whenever it refuses the call in a request phase, once.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { refundingExchange } from '../../src/pipeline/extproc/refund.js';
import { CONTINUE, type AuthzContext, type ExchangeProcessor, type Step } from '../../src/pipeline/extproc/exchange.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';

const REFUSED: Step = { kind: 'immediate', status: 404, headers: {}, body: '{}' };
const AUTHZ: AuthzContext = { subject: 'a', task: 't', decisionId: 'd', method: 'tools/call', target: 'x', tasks: [] };
const log = pino({ level: 'silent' });
type Phase = 'requestHeaders' | 'requestBody' | 'responseHeaders' | 'responseBody';

/** An exchange whose phases answer from `answers` (a phase not listed continues); 'throw' makes the phase fail. */
function exchange(answers: Partial<Record<Phase, Step | 'throw'>>): ExchangeProcessor {
  const run = (phase: Phase) => async (): Promise<Step> => {
    const answer = answers[phase] ?? CONTINUE;
    if (answer === 'throw') throw new Error(`${phase} failed`);
    return answer;
  };
  return { requestHeaders: run('requestHeaders'), requestBody: run('requestBody'), responseHeaders: run('responseHeaders'), responseBody: run('responseBody') };
}

async function charged() {
  const store = createMemoryStore();
  const counter = { key: 'ctr:{t/x}:quota:a', amount: 1, limit: 1, windowMs: 60_000 };
  await store.consume([counter], { key: 'ctr:{t/x}:receipt:d', ttlMs: 60_000 });
  const stillFree = async () => (await store.consume([counter])).ok;
  return { store, authz: { ...AUTHZ, charged: { receipt: 'ctr:{t/x}:receipt:d', keys: [counter.key] } }, stillFree };
}

/** Runs the phases in order, as Envoy would, until one answers immediately or fails. */
async function drive(p: ExchangeProcessor, phases: Phase[]): Promise<void> {
  for (const phase of phases) {
    let step: Step;
    try {
      step = phase === 'requestHeaders' || phase === 'responseHeaders'
        ? await p[phase]({ headers: {}, endOfStream: false })
        : await p[phase](Buffer.alloc(0), true);
    } catch {
      return;
    }
    if (step.kind === 'immediate') return;
  }
}

describe('refundingExchange', () => {
  it.each<[string, Partial<Record<Phase, Step | 'throw'>>, Phase[], boolean]>([
    ['refused in the headers phase (a foreign session token)', { requestHeaders: REFUSED }, ['requestHeaders'], true],
    ['refused in the body phase (a gateway tool no backend serves)', { requestBody: REFUSED }, ['requestHeaders', 'requestBody'], true],
    ['a phase that throws (the stream answers 500)', { requestBody: 'throw' }, ['requestHeaders', 'requestBody'], true],
    ['forwarded: every request phase continued', {}, ['requestHeaders', 'requestBody', 'responseHeaders', 'responseBody'], false],
    ['an immediate answer in a response phase (the backend already has the call)', { responseHeaders: REFUSED }, ['requestHeaders', 'requestBody', 'responseHeaders'], false],
  ])('%s → given back: %s', async (_name, answers, phases, givenBack) => {
    const { store, authz, stillFree } = await charged();
    await drive(refundingExchange(exchange(answers), authz, store, log), phases);
    expect(await stillFree()).toBe(givenBack);
    await store.close();
  });

  it('gives back once even when two phases refuse', async () => {
    const { store, authz } = await charged();
    let refunds = 0;
    const counting = { ...store, refund: async (r: string, k: readonly string[]) => { refunds += 1; return store.refund(r, k); } };
    const p = refundingExchange(exchange({ requestHeaders: REFUSED, requestBody: REFUSED }), authz, counting, log);
    await p.requestHeaders({ headers: {}, endOfStream: false });
    await p.requestBody(Buffer.alloc(0), true);
    expect(refunds).toBe(1);
    await store.close();
  });

  it('gives a dry-run charge back by its own receipt, to its own keys only', async () => {
    const store = createMemoryStore();
    const enforced = { key: 'ctr:{t/x}:budget:a', amount: 5, limit: 5, windowMs: 60_000 };
    const dry = { key: 'ctr:{t/x}:dry:quota:a', amount: 1, limit: 1, windowMs: 60_000 };
    await store.consume([enforced], { key: 'ctr:{t/x}:receipt:d', ttlMs: 60_000 });
    await store.consume([dry], { key: 'ctr:{t/x}:dry:receipt:d', ttlMs: 60_000 });
    // Each receipt names only its own key, even when the handoff lists both: a refund never crosses over.
    const authz: AuthzContext = {
      ...AUTHZ,
      charged: { receipt: 'ctr:{t/x}:receipt:d', keys: [enforced.key, dry.key] },
      chargedDryRun: { receipt: 'ctr:{t/x}:dry:receipt:d', keys: [dry.key, enforced.key] },
    };
    await drive(refundingExchange(exchange({ requestHeaders: REFUSED }), authz, store, log), ['requestHeaders']);
    expect((await store.consume([enforced])).ok).toBe(true);
    expect((await store.consume([dry])).ok).toBe(true);
    // Given back once each: both are full again, not emptier than zero.
    expect((await store.consume([enforced])).ok).toBe(false);
    expect((await store.consume([dry])).ok).toBe(false);
    await store.close();
  });

  it('rethrows what a failing phase threw', async () => {
    const { store, authz } = await charged();
    await expect(refundingExchange(exchange({ requestHeaders: 'throw' }), authz, store, log).requestHeaders({ headers: {}, endOfStream: false })).rejects.toThrow('requestHeaders failed');
    await store.close();
  });

  it('is the exchange itself when nothing was charged', async () => {
    const inner = exchange({});
    const store = createMemoryStore();
    expect(refundingExchange(inner, AUTHZ, store, log)).toBe(inner);
    await store.close();
  });
});
