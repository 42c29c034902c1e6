// Verifies bearer JWTs with jose: issuer, audience bound to the resource, algorithm allow-list, JWKS by URL or file,
// then toolgate's own token rules (expiry required, no future iat, typ, maximum lifetime).
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, jwtVerify, type FetchImplementation, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { JwtConfig } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { parseAuthorization } from './authorization.js';
import { breaksTokenRules, type TokenRules } from './token-rules.js';
import { VerifiedTokenCache } from './verified-cache.js';

export type Claims = Readonly<Record<string, unknown>> & { readonly sub?: string };

export type VerifyFailure =
  /** No Authorization header: the client has not authenticated yet (401 with the challenge that says how). */
  | { readonly ok: false; readonly reason: 'token-missing'; readonly detail: string }
  /** A bearer token that is not good: bad signature, expired, wrong audience, breaks a token rule (401). */
  | { readonly ok: false; readonly reason: 'token-invalid'; readonly detail: string }
  /** An Authorization header that is not exactly one `Bearer <token>` (400); `message` is the client's sentence. */
  | { readonly ok: false; readonly reason: 'authorization-malformed'; readonly detail: string; readonly message: string }
  /** The key set could not be fetched and none is cached: nothing is known about the token (503). */
  | { readonly ok: false; readonly reason: 'identity-unavailable'; readonly detail: string };

export type VerifyResult = { readonly ok: true; readonly claims: Claims; readonly subject: string } | VerifyFailure;

export interface JwtVerifier {
  verify(authorization: string | undefined): Promise<VerifyResult>;
}

export interface VerifierSettings {
  readonly jwt: JwtConfig;
  readonly audience: readonly string[];
  /** Resolves a relative jwksFile against the config file's folder. */
  readonly resolvePath: (p: string) => string;
  /** Verified tokens remembered (0 turns the cache off). */
  readonly cacheEntries?: number;
  /** Keys to verify with instead of jwksUri/jwksFile: `toolgate test` mints its tokens with a key of its own. */
  readonly keys?: JWTVerifyGetKey;
}

/** How long a verified token is trusted without checking its signature again (see verified-cache.ts). */
export const VERIFIED_MAX_AGE_MS = 60_000;

export function createJwtVerifier(settings: VerifierSettings): JwtVerifier {
  const { jwt } = settings;
  const keys = keySource(settings);
  const clockTolerance = Math.round(durationMs(jwt.clockTolerance) / 1000);
  const options = {
    issuer: jwt.issuer,
    audience: [...settings.audience],
    algorithms: [...jwt.algorithms],
    clockTolerance,
  };
  const rules: TokenRules = {
    clockToleranceSeconds: clockTolerance,
    requireType: jwt.requireType,
    maxLifetimeSeconds: jwt.maxLifetime === undefined ? undefined : Math.round(durationMs(jwt.maxLifetime) / 1000),
  };
  // Only tokens that met every rule are cached, and none of the rules can turn false later for the same token
  // (type, iat and exp − iat are fixed; exp − now only shrinks). What can — expiry — ends the cache entry at exp.
  const cache = new VerifiedTokenCache<VerifyResult & { ok: true }>(settings.cacheEntries ?? 10_000, VERIFIED_MAX_AGE_MS);
  return {
    async verify(authorization) {
      const parsed = parseAuthorization(authorization);
      if (parsed.kind === 'none') return { ok: false, reason: 'token-missing', detail: 'no bearer token' };
      if (parsed.kind === 'malformed') return { ok: false, reason: 'authorization-malformed', detail: parsed.detail, message: parsed.message };
      const token = parsed.token;
      const now = Date.now();
      const cached = cache.get(token, now);
      if (cached) return cached;
      try {
        const { payload, protectedHeader } = await jwtVerify(token, keys, options);
        const broken = breaksTokenRules(protectedHeader, payload, Math.floor(now / 1000), rules);
        if (broken !== undefined) return { ok: false, reason: 'token-invalid', detail: broken };
        if (typeof payload.sub !== 'string' || payload.sub === '') {
          return { ok: false, reason: 'token-invalid', detail: 'token has no subject (sub)' };
        }
        const verified = { ok: true as const, claims: Object.freeze(payload) as JWTPayload as Claims, subject: payload.sub };
        cache.set(token, verified, payload.exp, now);
        return verified;
      } catch (err) {
        if (err instanceof KeySetUnreachable || err instanceof errors.JWKSInvalid) {
          return { ok: false, reason: 'identity-unavailable', detail: err instanceof KeySetUnreachable ? err.detail : 'key set is not a valid JWKS' };
        }
        return { ok: false, reason: 'token-invalid', detail: describe(err) };
      }
    },
  };
}

/** The key set URL did not answer with a key set: a fault of the identity provider, not of the token. */
export class KeySetUnreachable extends Error {
  override readonly name = 'KeySetUnreachable';
  constructor(readonly detail: string, options?: { cause?: unknown }) {
    super(`identity provider key set unreachable: ${detail}`, options);
  }
}

function keySource(settings: VerifierSettings): JWTVerifyGetKey {
  const { jwt } = settings;
  if (settings.keys) return settings.keys;
  if (jwt.jwksUri) {
    return createRemoteJWKSet(new URL(jwt.jwksUri), {
      cacheMaxAge: durationMs(jwt.jwksCacheMaxAge),
      cooldownDuration: durationMs(jwt.jwksCooldown),
      // Below Envoy's ext_authz deadline, so a hung IdP is answered by toolgate's 503 with a sentence.
      timeoutDuration: durationMs(jwt.jwksTimeout),
      [customFetch]: fetchKeySet,
    });
  }
  const file = settings.resolvePath(jwt.jwksFile as string);
  return createLocalJWKSet(JSON.parse(readFileSync(file, 'utf8')));
}

/**
 * jose's fetch, with every way the key set URL can fail turned into KeySetUnreachable (a refused connection, a
 * timeout, a status other than 200, a body that is not JSON), so none of them is mistaken for a bad token.
 */
const fetchKeySet: FetchImplementation = async (url, options) => {
  let response: Response;
  try {
    response = await fetch(url, options);
  } catch (err) {
    throw unreachable(err, 'key set fetch failed (connection)');
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new KeySetUnreachable(`key set URL answered HTTP ${response.status}`);
  }
  let text: string;
  try {
    text = await response.text();
    JSON.parse(text);
  } catch (err) {
    throw unreachable(err, 'key set URL answered with something other than JSON');
  }
  return new Response(text, { status: 200, headers: { 'content-type': 'application/json' } });
};

function unreachable(err: unknown, otherwise: string): KeySetUnreachable {
  // The fetch's AbortSignal.timeout can fire while the headers or the body are still on their way.
  const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
  return new KeySetUnreachable(timedOut ? 'key set fetch timed out' : otherwise, { cause: err });
}

/** A short, token-free description of why verification failed (logged and shown as error_description). */
function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'token not yet valid';
    return `claim "${err.claim}" check failed`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key matches the token (unknown kid)';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return 'malformed token';
  if (err instanceof errors.JOSEError) return err.code;
  return 'token could not be verified';
}
