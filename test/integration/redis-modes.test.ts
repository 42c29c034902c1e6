// The Redis store in each of its three modes (standalone, Cluster, Sentinel) against real servers, from config.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { storeSchema } from '../../src/core/config/schema-store.js';
import { openStore } from '../../src/ports/store/index.js';
import type { Counter, Store } from '../../src/ports/store/port.js';
import { startRedis } from '../harness/redis.js';
import { startRedisCluster, startRedisSentinel } from '../harness/redis-topologies.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

type Topology = () => Promise<Record<string, unknown>>;

const topologies: Array<[string, Topology]> = [
  ['standalone (url)', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.dispose());
    return { url: redis.url };
  }],
  ['cluster (nodes)', async () => {
    const cluster = await startRedisCluster(3);
    cleanups.push(() => cluster.dispose());
    return { nodes: cluster.addresses };
  }],
  ['sentinel (sentinels + name)', async () => {
    const sentinel = await startRedisSentinel('toolgate-test');
    cleanups.push(() => sentinel.dispose());
    return { sentinels: sentinel.addresses, name: 'toolgate-test' };
  }],
];

const DAY = 86_400_000;

describe.each(topologies)('Redis store, %s', (_name, start) => {
  let store: Store;

  it('connects from its config section', async () => {
    const config = storeSchema.parse({ type: 'redis', keyPrefix: `modes-${randomUUID()}:`, ...(await start()) });
    const opened = await openStore(config, pino({ level: 'silent' }), (p) => p);
    store = opened.store;
    cleanups.push(() => store.close());
    expect(opened.ready).toBe(true);
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('charges quota and budget together, atomically: 20 concurrent calls of 30 against 100 → 3', async () => {
    // Several rules (hash tags), so a cluster spreads them over its shards.
    const allowed = await Promise.all(
      ['a', 'b', 'c', 'd'].map(async (rule) => {
        const counters: Counter[] = [
          { key: `ctr:{ops/${rule}}:quota:agent`, amount: 1, limit: 10, windowMs: DAY },
          { key: `ctr:{ops/${rule}}:budget:agent`, amount: 30, limit: 100, windowMs: DAY },
        ];
        const results = await Promise.all(Array.from({ length: 20 }, () => store.consume(counters)));
        return results.filter((r) => r.ok).length;
      }),
    );
    expect(allowed).toEqual([3, 3, 3, 3]);
    const refused = await store.consume([{ key: 'ctr:{ops/a}:quota:agent', amount: 1, limit: 10, windowMs: DAY }, { key: 'ctr:{ops/a}:budget:agent', amount: 30, limit: 100, windowMs: DAY }]);
    expect(refused).toMatchObject({ ok: false, index: 1, used: 90 });
    if (!refused.ok) expect(refused.resetAtMs % DAY).toBe(0);
  });

  it('gives a charge back once, by its receipt, and only to the counters it charged', async () => {
    const tag = `{refund/${randomUUID()}}`;
    const quota: Counter = { key: `ctr:${tag}:quota:agent`, amount: 1, limit: 1, windowMs: DAY };
    const budget: Counter = { key: `ctr:${tag}:budget:agent`, amount: 12.5, limit: 20, windowMs: DAY };
    const receipt = { key: `ctr:${tag}:receipt:d1`, ttlMs: 60_000 };
    expect(await store.consume([quota, budget], receipt)).toEqual({ ok: true });
    expect(await store.consume([quota])).toMatchObject({ ok: false, used: 1 });
    expect(await store.refund(receipt.key, [quota.key, budget.key, `ctr:${tag}:other`])).toBe(2);
    expect(await store.refund(receipt.key, [quota.key, budget.key])).toBe(0);
    // Both are whole again: the full quota and the full budget fit, and nothing more.
    expect(await store.consume([quota, { ...budget, amount: 20 }])).toEqual({ ok: true });
    expect(await store.consume([quota])).toMatchObject({ ok: false, used: 1 });
    expect(await store.refund(`ctr:${tag}:receipt:unknown`, [quota.key])).toBe(0);
  });

  it('revokes a token id until a time and answers isRevoked', async () => {
    const id = randomUUID();
    await store.revoke(id, Math.floor(Date.now() / 1000) + 60);
    await store.revoke(`${id}-past`, Math.floor(Date.now() / 1000) - 60);
    expect([await store.isRevoked(id), await store.isRevoked(`${id}-past`), await store.isRevoked(`${id}-other`)]).toEqual([true, false, false]);
  });
});
