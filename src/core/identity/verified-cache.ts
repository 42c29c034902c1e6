// Remembers tokens that verified, so an agent's many calls with one token pay for the signature check once.
//
// The key is the whole token string: any change to it (a tampered byte, another signature) misses. An entry
// lives until the token's own `exp` or `maxAgeMs`, whichever comes first, so a key removed from the JWKS
// stops being honoured within `maxAgeMs`. The map is bounded; the oldest entry goes first.

export interface CachedIdentity<T> {
  readonly value: T;
  readonly expiresAtMs: number;
}

export class VerifiedTokenCache<T> {
  readonly #entries = new Map<string, CachedIdentity<T>>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
  ) {}

  get(token: string, nowMs: number): T | undefined {
    const hit = this.#entries.get(token);
    if (!hit) return undefined;
    if (nowMs >= hit.expiresAtMs) {
      this.#entries.delete(token);
      return undefined;
    }
    return hit.value;
  }

  /** `expSeconds` is the token's `exp` claim; a token without one is cached for `maxAgeMs` only. */
  set(token: string, value: T, expSeconds: number | undefined, nowMs: number): void {
    if (this.maxEntries <= 0) return;
    const byClaim = typeof expSeconds === 'number' ? expSeconds * 1000 : Number.POSITIVE_INFINITY;
    const expiresAtMs = Math.min(byClaim, nowMs + this.maxAgeMs);
    if (expiresAtMs <= nowMs) return;
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(token, { value, expiresAtMs });
  }

  get size(): number {
    return this.#entries.size;
  }
}
