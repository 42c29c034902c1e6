// The embedded store: one process, zero set-up; same semantics as the Redis store, expired entries swept.
import { checkCounters, windowStart, type Consumed, type Counter, type PinSighting, type PinVerdict, type Receipt, type Store } from './port.js';

export interface MemoryStoreOptions {
  /** Clock in epoch milliseconds; tests pass a fake one. */
  readonly now?: () => number;
  /** How often expired counters and revocations are dropped. */
  readonly sweepEveryMs?: number;
}

interface Slot {
  windowStart: number;
  used: number;
  /** The end of the window; the slot is worthless afterwards. */
  expiresAtMs: number;
}

export interface MemoryStore extends Store {
  readonly kind: 'memory';
  /** Entries currently held (counters + revocations + receipts), for tests of the sweep. */
  size(): number;
  /** Drops what has expired now; also runs on a timer. */
  sweep(): void;
}

export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const now = options.now ?? Date.now;
  const counters = new Map<string, Slot>();
  const revoked = new Map<string, number>();
  /** Receipt key → what its consume charged: counter key → window start and amount. */
  const receipts = new Map<string, { expiresAtMs: number; charged: Map<string, { windowStart: number; amount: number }> }>();
  /** Pinned definitions, per scope: what was learned on first sight, and which items were seen changed. */
  const learned = new Map<string, Map<string, string>>();
  const marks = new Map<string, Map<string, string>>();
  const scoped = (maps: Map<string, Map<string, string>>, scope: string): Map<string, string> => {
    let map = maps.get(scope);
    if (map === undefined) maps.set(scope, (map = new Map()));
    return map;
  };
  const timer = setInterval(() => sweep(), options.sweepEveryMs ?? 60_000);
  // Never keeps a process alive just to sweep.
  timer.unref();

  function sweep(): void {
    const t = now();
    for (const [key, slot] of counters) if (slot.expiresAtMs <= t) counters.delete(key);
    for (const [id, untilMs] of revoked) if (untilMs <= t) revoked.delete(id);
    for (const [key, r] of receipts) if (r.expiresAtMs <= t) receipts.delete(key);
  }

  function used(slot: Slot | undefined, start: number): number {
    return slot !== undefined && slot.windowStart === start ? slot.used : 0;
  }

  return {
    kind: 'memory',
    // Synchronous inside: nothing else runs between the check and the charge, which is what makes it atomic.
    async consume(list: readonly Counter[], receipt?: Receipt): Promise<Consumed> {
      checkCounters(list);
      const t = now();
      const starts = list.map((c) => windowStart(t, c.windowMs));
      for (const [index, c] of list.entries()) {
        const start = starts[index] as number;
        const current = used(counters.get(c.key), start);
        if (current + c.amount > c.limit) return { ok: false, index, resetAtMs: start + c.windowMs, used: current };
      }
      for (const [index, c] of list.entries()) {
        const start = starts[index] as number;
        const slot = counters.get(c.key);
        counters.set(c.key, { windowStart: start, used: used(slot, start) + c.amount, expiresAtMs: start + c.windowMs });
      }
      if (receipt !== undefined && list.length > 0) {
        const charged = new Map(list.map((c, index) => [c.key, { windowStart: starts[index] as number, amount: c.amount }]));
        receipts.set(receipt.key, { expiresAtMs: t + receipt.ttlMs, charged });
      }
      return { ok: true };
    },
    async refund(receiptKey: string, keys: readonly string[]): Promise<number> {
      const receipt = receipts.get(receiptKey);
      receipts.delete(receiptKey);
      if (receipt === undefined || receipt.expiresAtMs <= now()) return 0;
      let refunded = 0;
      for (const key of new Set(keys)) {
        const charge = receipt.charged.get(key);
        const slot = counters.get(key);
        if (charge === undefined || slot === undefined || slot.windowStart !== charge.windowStart) continue;
        slot.used = Math.max(0, slot.used - charge.amount);
        refunded += 1;
      }
      return refunded;
    },
    async revoke(tokenId: string, untilEpochSeconds: number): Promise<void> {
      const untilMs = untilEpochSeconds * 1000;
      if (untilMs > now()) revoked.set(tokenId, Math.max(untilMs, revoked.get(tokenId) ?? 0));
    },
    async isRevoked(tokenId: string): Promise<boolean> {
      const untilMs = revoked.get(tokenId);
      return untilMs !== undefined && untilMs > now();
    },
    // Synchronous inside, like consume: no other sighting can interleave between the read and the write.
    async judgePins(scope: string, sightings: readonly PinSighting[], options: { learn: boolean; mark: boolean }): Promise<PinVerdict[]> {
      const known = scoped(learned, scope);
      const changed = scoped(marks, scope);
      return sightings.map((s) => {
        let approved = s.pinned ?? known.get(s.name);
        if (approved === undefined && s.pinned === undefined && options.learn) known.set(s.name, (approved = s.digest));
        if (approved === undefined) return { approved, changed: false };
        if (s.digest !== approved) {
          if (options.mark) changed.set(s.name, approved);
          return { approved, changed: true };
        }
        return { approved, changed: changed.get(s.name) === approved };
      });
    },
    async pinMarks(scope: string): Promise<ReadonlyMap<string, string>> {
      return new Map(marks.get(scope) ?? []);
    },
    async ping(): Promise<void> {},
    async close(): Promise<void> {
      clearInterval(timer);
    },
    size: () => counters.size + revoked.size + receipts.size,
    sweep,
  };
}
