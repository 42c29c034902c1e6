// The shared-state port: counters (quotas, budgets, loop detection) and session revocation, memory or Redis.

/**
 * One counter to charge. Windows are fixed and aligned to the epoch: the window holding `now` starts at
 * `now - now % windowMs` and the counter starts again from zero when the next one begins. Aligned windows
 * make the reset time a plain fact every replica computes the same way (Redis uses its own clock for it).
 */
export interface Counter {
  /** Store-agnostic name; the Redis store adds its key prefix. Counters in one call must have distinct keys. */
  readonly key: string;
  /** What this call adds: 1 for a call count, the spent amount for a budget. Finite and >= 0. */
  readonly amount: number;
  /** The most the window may hold; a charge that would go above it is refused. */
  readonly limit: number;
  /** Window length in milliseconds; a positive integer. */
  readonly windowMs: number;
}

export type Consumed =
  | { readonly ok: true }
  /**
   * Nothing was charged. `index` is the first counter that would have gone over its limit, `used` what that
   * counter already holds in the current window, `resetAtMs` when that window ends (epoch milliseconds).
   */
  | { readonly ok: false; readonly index: number; readonly resetAtMs: number; readonly used: number };

/**
 * Where one consume writes down what it charged (each counter's window and amount), so that exactly that can be
 * given back, once, if the call is refused after all. The key must share the counters' hash tag (Redis Cluster).
 */
export interface Receipt {
  readonly key: string;
  /** How long the receipt can be redeemed; a refusal comes within the same request, seconds later. */
  readonly ttlMs: number;
}

/** What one allowed call was charged, handed from ext_authz to ext_proc so a call refused there is given back. */
export interface Charged {
  readonly receipt: string;
  readonly keys: readonly string[];
}

/** One list item as seen now, for pinned definitions (src/core/pins). */
export interface PinSighting {
  /** The item's name (its uriTemplate for a resource template), as the backend names it. */
  readonly name: string;
  /** The digest of the definition just seen. */
  readonly digest: string;
  /** The digest the config approves for it, when the config pins it; learned digests are not consulted then. */
  readonly pinned?: string | undefined;
}

export interface PinVerdict {
  /** The approved digest: the config's pin, else the learned one; undefined when neither exists (nothing learned). */
  readonly approved: string | undefined;
  /** The definition differs from the approved one now, or did earlier against the same approval (marks are sticky). */
  readonly changed: boolean;
}

/**
 * Every operation is atomic on its own. A returned promise rejects with `StoreUnavailableError` when the
 * store cannot answer (Redis down, timed out); callers turn that into the configured per-feature behaviour.
 */
export interface Store {
  readonly kind: 'memory' | 'redis';
  /** All-or-nothing: either every counter is charged, or none is. With a receipt, the charge is written down too. */
  consume(counters: readonly Counter[], receipt?: Receipt): Promise<Consumed>;
  /**
   * Gives back what the consume that wrote `receipt` charged to those of `keys` it names, and only in the window it
   * charged (a counter whose window has moved on keeps its count); never below zero. The receipt is used up, so a
   * second refund of it gives nothing back. Resolves with the number of counters given back.
   */
  refund(receipt: string, keys: readonly string[]): Promise<number>;
  /** Marks a session token id as revoked until `untilEpochSeconds` (its expiry); past times are a no-op. */
  revoke(tokenId: string, untilEpochSeconds: number): Promise<void>;
  isRevoked(tokenId: string): Promise<boolean>;
  /**
   * Judges one list's items of one scope (`<backend>/<kind>`) in one atomic step, so replicas agree on first sight:
   * with `learn`, an item without a learned digest gets the one just seen (put-if-absent); with `mark`, an item that
   * differs from its approval is marked changed, with the approved digest it departed from. A marked item stays
   * changed while that approval stands, even if a later list shows the approved definition again.
   */
  judgePins(scope: string, sightings: readonly PinSighting[], options: { readonly learn: boolean; readonly mark: boolean }): Promise<PinVerdict[]>;
  /** The changed marks of one scope: item name → the approved digest its definition departed from. */
  pinMarks(scope: string): Promise<ReadonlyMap<string, string>>;
  /** Resolves when the store answers; rejects with StoreUnavailableError when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The store could not answer: an expected operational failure, mapped to `store-unavailable` by callers. */
export class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
  constructor(readonly detail: string, options?: { cause?: unknown }) {
    super(`shared store unavailable: ${detail}`, options);
  }
}

/** Programmer errors in a counter list (NaN amounts, zero windows) throw; they never reach the store. */
export function checkCounters(counters: readonly Counter[]): void {
  const seen = new Set<string>();
  for (const c of counters) {
    if (!Number.isFinite(c.amount) || c.amount < 0) throw new RangeError(`counter ${c.key}: amount must be finite and >= 0, got ${c.amount}`);
    if (!Number.isFinite(c.limit) || c.limit < 0) throw new RangeError(`counter ${c.key}: limit must be finite and >= 0, got ${c.limit}`);
    if (!Number.isSafeInteger(c.windowMs) || c.windowMs <= 0) throw new RangeError(`counter ${c.key}: windowMs must be a positive integer, got ${c.windowMs}`);
    if (seen.has(c.key)) throw new RangeError(`counter ${c.key} appears twice in one consume`);
    seen.add(c.key);
  }
}

export function windowStart(nowMs: number, windowMs: number): number {
  return nowMs - (nowMs % windowMs);
}

/** Settles a store promise into a value, so policy code branches instead of catching. */
export async function attempt<T>(op: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; detail: string }> {
  try {
    return { ok: true, value: await op };
  } catch (err) {
    if (err instanceof StoreUnavailableError) return { ok: false, detail: err.detail };
    // Anything else is unexpected; it still must not turn into an allow.
    return { ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}
