// Two toolgate replicas sharing one real Redis: quotas, budgets, the loop breaker and revocation hold across both.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toolCall } from '../harness/check-client.js';
import { startRedis, type TestRedis } from '../harness/redis.js';
import {
  ADMIN_TOKEN, configText, createIdentity, deleteSession, immediateBody, immediateStatus, openSession, presentSession, readyz, startReplicas, stopReplicas,
  type Identity, type Replica,
} from './redis-fixture.js';

let redis: TestRedis;
let identity: Identity;
let replicas: Replica[] = [];

beforeAll(async () => {
  redis = await startRedis();
  identity = await createIdentity();
  replicas = await startReplicas(identity, configText(redis.url, `it-${randomUUID()}:`), 2);
});

afterAll(async () => {
  await stopReplicas(replicas);
  await redis?.dispose();
});

const subject = () => `agent-${randomUUID()}`;
/** The revoke endpoint changes state: it takes the admin bearer secret (`server.adminTokenFile`). */
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
/** Replica 0, 1, 0, 1, …: what a load balancer in front of two pods does. */
const replica = (i: number): Replica => replicas[i % replicas.length] as Replica;

describe('two replicas on one Redis', () => {
  it('both report ready with the store reachable', async () => {
    for (const r of replicas) expect(await readyz(r)).toMatchObject({ status: 200, body: { status: 'ready', store: 'ok' } });
  });

  it('50 concurrent calls against a quota of 10: exactly 10 allowed', async () => {
    const token = await identity.sign(subject());
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => replica(i).checks.check({ token, body: toolCall('lookup', { i }, i) })));
    expect(results.filter((r) => r.allowed)).toHaveLength(10);
    const denied = results.filter((r) => !r.allowed);
    expect(new Set(denied.map((r) => r.code))).toEqual(new Set(['quota-exceeded']));
    const text = denied[0]?.text ?? '';
    expect(text).toContain('quota of 10 calls per 1d is used up (10 of 10 used in the current window)');
    expect(text).toMatch(/resets at \d{4}-\d\d-\d\dT00:00:00\.000Z \(in \d+ (hours?|minutes?|seconds?)/);
    expect(text).toContain('do not retry before then');
  });

  it('a budget of 100 with amounts of 30: exactly 3 allowed', async () => {
    const token = await identity.sign(subject());
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => replica(i).checks.check({ token, body: toolCall('spend', { amount: 30 }, i) })));
    expect(results.filter((r) => r.allowed)).toHaveLength(3);
    const denied = results.find((r) => !r.allowed);
    expect(denied?.code).toBe('budget-exceeded');
    expect(denied?.text).toContain('would spend 30 of a budget of 100 per 1d, and 90 is already spent in the current window (10 left)');
  });

  it('a call with quota and budget counts in both or neither, across replicas', async () => {
    const token = await identity.sign(subject());
    // 5 refunds of 30 concurrently: the budget stops the 4th, so the quota (5) counts only 3.
    const first = await Promise.all(Array.from({ length: 5 }, (_, i) => replica(i).checks.check({ token, body: toolCall('refund', { amount: 30 }, i) })));
    expect(first.filter((r) => r.allowed)).toHaveLength(3);
    // Two more calls fit the quota (3 + 2 = 5) because refused calls were not counted in it.
    expect((await replica(0).checks.check({ token, body: toolCall('refund', { amount: 5 }) })).allowed).toBe(true);
    expect((await replica(1).checks.check({ token, body: toolCall('refund', { amount: 5 }) })).allowed).toBe(true);
    const sixth = await replica(0).checks.check({ token, body: toolCall('refund', { amount: 0 }) });
    expect(sixth.code).toBe('quota-exceeded');
  });

  it('a negative amount is an expression error and refills nothing', async () => {
    const token = await identity.sign(subject());
    const negative = await replica(0).checks.check({ token, body: toolCall('spend', { amount: -100 }) });
    expect(negative.code).toBe('expression-error');
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => replica(i).checks.check({ token, body: toolCall('spend', { amount: 30 }, i) })));
    expect(results.filter((r) => r.allowed)).toHaveLength(3);
  });

  it('the loop breaker counts identical calls on both replicas', async () => {
    const token = await identity.sign(subject());
    for (let i = 0; i < 3; i++) expect((await replica(i).checks.check({ token, body: toolCall('search', { q: 'same', page: 1 }) })).allowed).toBe(true);
    const fourth = await replica(3).checks.check({ token, body: toolCall('search', { page: 1, q: 'same' }) });
    expect(fourth.code).toBe('loop-detected');
    expect(fourth.text).toMatch(/^You called "search" with the same arguments 3 times in the last 1h.*Change the arguments or stop/);
    // Different arguments are a different call; another subject has its own count.
    expect((await replica(0).checks.check({ token, body: toolCall('search', { q: 'other', page: 1 }) })).allowed).toBe(true);
    expect((await replica(1).checks.check({ token: await identity.sign(subject()), body: toolCall('search', { q: 'same', page: 1 }) })).allowed).toBe(true);
  });

  it('a session revoked by the admin endpoint on one replica is refused by the other', async () => {
    const sub = subject();
    const token = await openSession(replica(0), sub);
    expect(immediateStatus(await presentSession(replica(1), sub, token))).toBeUndefined();

    const res = await fetch(`${replica(0).adminUrl}/admin/sessions/revoke`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ token }) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { revoked: string; until: string };
    expect(body.revoked).toMatch(/^[A-Za-z0-9_-]{16}$/);
    expect(Date.parse(body.until)).toBeGreaterThan(Date.now());

    const refused = await presentSession(replica(1), sub, token);
    expect(immediateStatus(refused)).toBe('NotFound');
    expect(immediateBody(refused).error.message).toMatch(/initialize/);
  });

  it('a session ended with DELETE on one replica is refused by the other', async () => {
    const sub = subject();
    const token = await openSession(replica(1), sub);
    await deleteSession(replica(1), sub, token);
    expect(immediateStatus(await presentSession(replica(0), sub, token))).toBe('NotFound');
  });

  it.each([
    ['not JSON', 'token='],
    ['no token field', JSON.stringify({ session: 'x' })],
    ['a token this gateway cannot open', JSON.stringify({ token: 'not-a-session-token' })],
  ])('the admin revoke endpoint answers 400 for %s', async (_n, body) => {
    const res = await fetch(`${replica(1).adminUrl}/admin/sessions/revoke`, { method: 'POST', headers: ADMIN, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBeTruthy();
  });
});
