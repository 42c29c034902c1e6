// The rules a signed, unexpired JWT must still meet: an expiry, no issue time in the future, the required type,
// and a bounded lifetime. Pure: checked once after the signature, on values that never change for one token.
import type { JWTHeaderParameters, JWTPayload } from 'jose';

export interface TokenRules {
  /** Seconds a clock may be off (the same leeway jose gets for exp and nbf). */
  readonly clockToleranceSeconds: number;
  /** Required `typ` header, compared as RFC 8725 §3.11 says (case-insensitive, `application/` optional). */
  readonly requireType?: string | undefined;
  /** Longest lifetime accepted: `exp − iat`, or `exp − now` for a token without `iat` (it cannot prove its age). */
  readonly maxLifetimeSeconds?: number | undefined;
}

/** Undefined when the token meets every rule; else a short, token-free reason (logged, and shown to the client). */
export function breaksTokenRules(header: Pick<JWTHeaderParameters, 'typ'>, claims: JWTPayload, nowSeconds: number, rules: TokenRules): string | undefined {
  if (rules.requireType !== undefined && normalType(header.typ) !== normalType(rules.requireType)) {
    return typeof header.typ === 'string'
      ? `token type "${printable(header.typ)}" is not the required "${rules.requireType}"`
      : `token has no type (typ); "${rules.requireType}" is required`;
  }
  // jose has already refused an exp or iat that is present but not a number.
  if (typeof claims.exp !== 'number') return 'token has no expiry (exp); tokens that never expire are not accepted';
  const iat = typeof claims.iat === 'number' ? claims.iat : undefined;
  if (iat !== undefined && iat > nowSeconds + rules.clockToleranceSeconds) {
    return `token was issued in the future (iat), ${Math.round(iat - nowSeconds)} s ahead of this server's clock`;
  }
  if (rules.maxLifetimeSeconds !== undefined) {
    // Without iat the time left is all that can be measured; the clock leeway applies to that reading only.
    const lifetime = iat !== undefined ? claims.exp - iat : claims.exp - nowSeconds;
    const allowed = rules.maxLifetimeSeconds + (iat !== undefined ? 0 : rules.clockToleranceSeconds);
    if (lifetime > allowed) {
      const measured = iat !== undefined ? 'token lifetime (exp - iat)' : 'token lifetime (no iat: exp - now)';
      return `${measured} of ${seconds(lifetime)} exceeds the maximum of ${seconds(rules.maxLifetimeSeconds)}`;
    }
  }
  return undefined;
}

function normalType(typ: unknown): string | undefined {
  if (typeof typ !== 'string') return undefined;
  const lower = typ.toLowerCase();
  return lower.startsWith('application/') ? lower.slice('application/'.length) : lower;
}

/** A header value repeated back: short, and only characters that are safe in a sentence and a challenge. */
function printable(value: string): string {
  const clean = value.replace(/[^A-Za-z0-9+./_-]/g, '?');
  return clean.length <= 32 ? clean : `${clean.slice(0, 32)}...`;
}

function seconds(s: number): string {
  const whole = Math.round(s);
  if (whole % 3600 === 0) return `${whole / 3600}h`;
  if (whole % 60 === 0) return `${whole / 60}m`;
  return `${whole}s`;
}
