// Redis stops mid-run, hangs, and comes back on the same port: each feature follows policy.onStoreError, and
// toolgate recovers without a restart.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolCall } from '../harness/check-client.js';
import { eventually } from '../harness/eventually.js';
import { startRedis, type TestRedis } from '../harness/redis.js';
import {
  configText, createIdentity, immediateBody, immediateStatus, openSession, presentSession, readyz, startReplicas, stopReplicas,
  type Identity, type Replica,
} from './redis-fixture.js';

let redis: TestRedis;
let identity: Identity;
/** Default config: every feature fails closed. */
let strict: Replica[] = [];
/** The same policy, except that quotas and the session check let calls through when the store is down. */
let lenient: Replica[] = [];
const prefix = `it-${randomUUID()}:`;

beforeAll(async () => {
  redis = await startRedis();
  identity = await createIdentity();
  strict = await startReplicas(identity, configText(redis.url, prefix), 2);
  lenient = await startReplicas(identity, configText(redis.url, prefix, '  onStoreError: { quota: allow, revocation: allow }'), 1);
});

afterAll(async () => {
  await stopReplicas([...strict, ...lenient]);
  await redis?.dispose();
});

const all = (): Replica[] => [...strict, ...lenient];
const [a, b] = [() => strict[0] as Replica, () => strict[1] as Replica];
const loose = () => lenient[0] as Replica;

async function storeDown(): Promise<void> {
  await redis.stop();
  for (const r of all()) await eventually(async () => (await readyz(r)).status === 503, 'readyz 503 while Redis is down');
}

async function storeBack(): Promise<void> {
  if (!redis.isRunning()) await redis.restart();
  for (const r of all()) await eventually(async () => (await readyz(r)).status === 200, 'readyz 200 once Redis is back');
}

describe('Redis outage', () => {
  it('denies with store-unavailable and a clear message, /readyz 503, then recovers when Redis returns', async () => {
    const token = await identity.sign(`agent-${randomUUID()}`);
    expect((await a().checks.check({ token, body: toolCall('lookup') })).allowed).toBe(true);

    await storeDown();
    expect(await readyz(a())).toMatchObject({ status: 503, body: { status: 'not ready', store: 'unreachable' } });

    for (const r of strict) {
      const denied = await r.checks.check({ token, body: toolCall('lookup', {}, 7) });
      expect(denied).toMatchObject({ allowed: false, status: 200, code: 'store-unavailable' });
      expect(denied.body.id).toBe(7);
      expect(denied.text).toBe(
        'The call to "lookup" was not made: the gateway could not reach its shared store to check this call\'s quota, and it refuses calls it cannot check. ' +
          'This is a temporary problem on the gateway side, not with your call: retry in a minute, and if it keeps failing, tell the user.',
      );
    }
    // The loop breaker fails closed too (search has no quota, only the loop counter).
    expect((await b().checks.check({ token, body: toolCall('search', { q: 'x' }) })).code).toBe('store-unavailable');
    const metrics = await (await fetch(`${a().adminUrl}/metrics`)).text();
    const quotaErrors = /^toolgate_store_errors_total\{feature="quota"\} (\d+)/m.exec(metrics);
    expect(Number(quotaErrors?.[1])).toBeGreaterThan(0);
    // A call with no counters never needs the store.
    expect((await a().checks.check({ token, body: { jsonrpc: '2.0', id: 1, method: 'tools/list' } })).allowed).toBe(true);

    await storeBack();
    await eventually(async () => (await b().checks.check({ token, body: toolCall('lookup') })).allowed, 'quota decisions work again');
    expect(await readyz(b())).toMatchObject({ status: 200, body: { store: 'ok' } });
  });

  it('a feature configured to allow lets its calls through; the others still deny', async () => {
    const token = await identity.sign(`agent-${randomUUID()}`);
    await storeDown();
    try {
      expect((await loose().checks.check({ token, body: toolCall('lookup') })).allowed).toBe(true);
      // The budget keeps its default (deny), and a call counted by both is refused for the budget's sake.
      const spend = await loose().checks.check({ token, body: toolCall('spend', { amount: 1 }) });
      expect(spend.code).toBe('store-unavailable');
      expect(spend.text).toContain('check this call\'s budget');
      expect((await loose().checks.check({ token, body: toolCall('refund', { amount: 1 }) })).code).toBe('store-unavailable');
    } finally {
      await storeBack();
    }
  });

  it('a session cannot be opened while its revocation cannot be checked (503), unless revocation is set to allow', async () => {
    const sub = `agent-${randomUUID()}`;
    const token = await openSession(a(), sub);
    const lenientToken = await openSession(loose(), sub);
    await storeDown();
    try {
      const refused = await presentSession(b(), sub, token);
      expect(immediateStatus(refused)).toBe('ServiceUnavailable');
      expect(immediateBody(refused).error).toMatchObject({ code: -32603, message: expect.stringContaining('session store is unreachable') });
      expect(immediateStatus(await presentSession(loose(), sub, lenientToken))).toBeUndefined();
    } finally {
      await storeBack();
    }
    expect(immediateStatus(await presentSession(b(), sub, token))).toBeUndefined();
  });

  it('a Redis that hangs gives a quick denial, not a hang, and recovers when it answers again', async () => {
    const token = await identity.sign(`agent-${randomUUID()}`);
    redis.pause();
    try {
      const denied = await a().checks.check({ token, body: toolCall('lookup') });
      expect(denied.code).toBe('store-unavailable');
    } finally {
      redis.resume();
    }
    await storeBack();
    await eventually(async () => (await a().checks.check({ token, body: toolCall('lookup') })).allowed, 'quota decisions work after the hang');
  });

  it('a replica started later on the same Redis sees the counts the others made', async () => {
    const token = await identity.sign(`agent-${randomUUID()}`);
    for (let i = 0; i < 10; i++) expect((await (i % 2 ? b() : a()).checks.check({ token, body: toolCall('lookup', { i }) })).allowed).toBe(true);
    const [late] = await startReplicas(identity, configText(redis.url, prefix), 1);
    try {
      expect((await late!.checks.check({ token, body: toolCall('lookup') })).code).toBe('quota-exceeded');
    } finally {
      await stopReplicas(late ? [late] : []);
    }
  });
});
