import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryStore, type MemoryStore } from '../../src/ports/store/memory.js';
import type { Consumed, Counter } from '../../src/ports/store/port.js';

const MINUTE = 60_000;
// An aligned start, so window arithmetic in the tables is easy to read.
const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);

let clock = T0;
let store: MemoryStore;
const open = () => {
  clock = T0;
  store = createMemoryStore({ now: () => clock });
  return store;
};
afterEach(() => store?.close());

const q = (key: string, amount = 1, limit = 3, windowMs = MINUTE): Counter => ({ key, amount, limit, windowMs });

type Step = [at: number, counters: Counter[], expected: Consumed];

describe('memory store: consume', () => {
  it.each<[string, Step[]]>([
    ['allows up to the limit, then refuses with what is used and when the window resets', [
      [0, [q('a')], { ok: true }],
      [1_000, [q('a')], { ok: true }],
      [2_000, [q('a')], { ok: true }],
      [3_000, [q('a')], { ok: false, index: 0, used: 3, resetAtMs: T0 + MINUTE }],
    ]],
    ['starts from zero in the next aligned window', [
      [0, [q('a', 3)], { ok: true }],
      [59_999, [q('a')], { ok: false, index: 0, used: 3, resetAtMs: T0 + MINUTE }],
      [MINUTE, [q('a')], { ok: true }],
    ]],
    ['charges all counters or none: a refused budget leaves the quota untouched', [
      [0, [q('quota', 1, 2), q('budget', 80, 100)], { ok: true }],
      [1, [q('quota', 1, 2), q('budget', 30, 100)], { ok: false, index: 1, used: 80, resetAtMs: T0 + MINUTE }],
      [2, [q('quota', 1, 2), q('budget', 20, 100)], { ok: true }],
      [3, [q('quota', 1, 2), q('budget', 0, 100)], { ok: false, index: 0, used: 2, resetAtMs: T0 + MINUTE }],
    ]],
    ['reports the first counter that would go over', [
      [0, [q('x', 1, 1), q('y', 1, 1)], { ok: true }],
      [1, [q('x', 1, 1), q('y', 1, 1)], { ok: false, index: 0, used: 1, resetAtMs: T0 + MINUTE }],
    ]],
    ['sums fractional amounts and allows landing exactly on the limit', [
      [0, [q('b', 30.25, 100.5)], { ok: true }],
      [1, [q('b', 70.25, 100.5)], { ok: true }],
      [2, [q('b', 0.01, 100.5)], { ok: false, index: 0, used: 100.5, resetAtMs: T0 + MINUTE }],
    ]],
    ['allows a zero amount even when the budget is spent', [
      [0, [q('b', 10, 10)], { ok: true }],
      [1, [q('b', 0, 10)], { ok: true }],
    ]],
    ['refuses an amount larger than the whole limit in an empty window', [
      [0, [q('b', 11, 10)], { ok: false, index: 0, used: 0, resetAtMs: T0 + MINUTE }],
    ]],
    ['keeps windows of different lengths apart', [
      [0, [q('m', 1, 1, MINUTE), q('h', 1, 2, 60 * MINUTE)], { ok: true }],
      [MINUTE, [q('m', 1, 1, MINUTE), q('h', 1, 2, 60 * MINUTE)], { ok: true }],
      [2 * MINUTE, [q('m', 1, 1, MINUTE), q('h', 1, 2, 60 * MINUTE)], { ok: false, index: 1, used: 2, resetAtMs: T0 + 60 * MINUTE }],
    ]],
  ])('%s', async (_name, steps) => {
    open();
    for (const [at, counters, expected] of steps) {
      clock = T0 + at;
      expect(await store.consume(counters)).toEqual(expected);
    }
  });

  it('is atomic under concurrent calls', async () => {
    open();
    const results = await Promise.all(Array.from({ length: 50 }, () => store.consume([q('c', 1, 10)])));
    expect(results.filter((r) => r.ok)).toHaveLength(10);
  });

  it.each<[string, Counter[]]>([
    ['a negative amount', [q('a', -1)]],
    ['a NaN amount', [q('a', Number.NaN)]],
    ['an infinite limit', [q('a', 1, Number.POSITIVE_INFINITY)]],
    ['a zero window', [q('a', 1, 1, 0)]],
    ['a fractional window', [q('a', 1, 1, 1.5)]],
    ['the same key twice', [q('a'), q('a')]],
  ])('throws for %s (a programmer error, not a refusal)', async (_name, counters) => {
    open();
    await expect(store.consume(counters)).rejects.toThrow(RangeError);
  });
});

describe('memory store: refund by receipt', () => {
  const RECEIPT = { key: 'rcpt', ttlMs: MINUTE };
  /** What a counter holds in the current window, read back through a consume that is always refused. */
  const used = async (key: string, windowMs = MINUTE): Promise<number> => {
    const probe = await store.consume([{ key, amount: Number.MAX_SAFE_INTEGER, limit: 0, windowMs }]);
    return probe.ok ? 0 : probe.used;
  };

  it.each<[string, (s: MemoryStore) => Promise<unknown>, number, Record<string, number>]>([
    ['gives back exactly what the receipt charged', (s) => s.refund('rcpt', ['a', 'b']), 2, { a: 0, b: 0, other: 1 }],
    ['only once: a second refund of the receipt gives nothing', async (s) => { await s.refund('rcpt', ['a', 'b']); return s.refund('rcpt', ['a', 'b']); }, 0, { a: 0, b: 0, other: 1 }],
    ['only counters the receipt names, whatever keys are asked for', (s) => s.refund('rcpt', ['a', 'other']), 1, { a: 0, b: 30, other: 1 }],
    ['nothing for an unknown receipt', (s) => s.refund('nope', ['a', 'b']), 0, { a: 1, b: 30, other: 1 }],
    ['nothing once the receipt expired', async (s) => { clock = T0 + MINUTE / 2 + MINUTE; return s.refund('rcpt', ['a', 'b']); }, 0, {}],
  ])('%s', async (_name, act, refunded, after) => {
    open();
    await store.consume([q('other', 1, 10)]);
    clock = T0 + MINUTE / 2;
    await store.consume([q('a', 1, 10, 60 * MINUTE), q('b', 30, 100, 60 * MINUTE)], RECEIPT);
    expect(await act(store)).toBe(refunded);
    for (const [key, value] of Object.entries(after)) expect(await used(key, key === 'other' ? MINUTE : 60 * MINUTE), key).toBe(value);
  });

  it('gives nothing back in a window that has moved on: the new window keeps its count', async () => {
    open();
    await store.consume([q('a', 1, 10)], RECEIPT);
    clock = T0 + MINUTE;
    await store.consume([q('a', 1, 10)]);
    expect(await store.refund('rcpt', ['a'])).toBe(0);
    expect(await used('a')).toBe(1);
  });

  it('writes no receipt for a refused consume', async () => {
    open();
    await store.consume([q('a', 1, 1)]);
    expect(await store.consume([q('a', 1, 1)], RECEIPT)).toMatchObject({ ok: false });
    expect(await store.refund('rcpt', ['a'])).toBe(0);
    expect(await used('a')).toBe(1);
  });

  it('sweeps expired receipts', async () => {
    open();
    await store.consume([q('a', 1, 10, 60 * MINUTE)], { key: 'rcpt', ttlMs: 1_000 });
    expect(store.size()).toBe(2);
    clock = T0 + 1_000;
    store.sweep();
    expect(store.size()).toBe(1);
  });
});

describe('memory store: revocation', () => {
  const NOW_S = T0 / 1000;
  it.each<[string, Array<[revokeUntil: number]>, number, boolean]>([
    ['a revoked token id is revoked', [[NOW_S + 60]], 0, true],
    ['an unknown token id is not', [], 0, false],
    ['a revocation ends when the token would have expired', [[NOW_S + 60]], 60_000, false],
    ['a revocation until the past is a no-op', [[NOW_S - 1]], 0, false],
    ['a later revocation extends an earlier one', [[NOW_S + 60], [NOW_S + 120]], 90_000, true],
    ['an earlier revocation never shortens a later one', [[NOW_S + 120], [NOW_S + 60]], 90_000, true],
  ])('%s', async (_name, revocations, after, expected) => {
    open();
    for (const [until] of revocations) await store.revoke('tok', until);
    clock = T0 + after;
    expect(await store.isRevoked('tok')).toBe(expected);
  });
});

describe('memory store: housekeeping', () => {
  it('sweeps counters whose window ended and revocations that expired', async () => {
    open();
    await store.consume([q('a'), q('h', 1, 1, 60 * MINUTE)]);
    await store.revoke('tok', T0 / 1000 + 30);
    expect(store.size()).toBe(3);
    clock = T0 + MINUTE;
    store.sweep();
    expect(store.size()).toBe(1);
    clock = T0 + 60 * MINUTE;
    store.sweep();
    expect(store.size()).toBe(0);
  });

  it('answers ping', async () => {
    await expect(open().ping()).resolves.toBeUndefined();
  });
});
