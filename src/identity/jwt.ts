// Verifies bearer JWTs with jose: issuer, audience bound to the resource, algorithm allow-list, JWKS by URL or file.
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { JwtConfig } from '../config/schema.js';
import { durationMs } from '../config/duration.js';
import { VerifiedTokenCache } from './verified-cache.js';

export type Claims = Readonly<Record<string, unknown>> & { readonly sub?: string };

export type VerifyResult =
  | { readonly ok: true; readonly claims: Claims; readonly subject: string }
  | { readonly ok: false; readonly reason: 'token-missing' | 'token-invalid'; readonly detail: string };

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
}

/** How long a verified token is trusted without checking its signature again (see verified-cache.ts). */
export const VERIFIED_MAX_AGE_MS = 60_000;

export function createJwtVerifier(settings: VerifierSettings): JwtVerifier {
  const { jwt } = settings;
  const keys = keySource(settings);
  const options = {
    issuer: jwt.issuer,
    audience: [...settings.audience],
    algorithms: [...jwt.algorithms],
    clockTolerance: Math.round(durationMs(jwt.clockTolerance) / 1000),
  };
  const cache = new VerifiedTokenCache<VerifyResult & { ok: true }>(settings.cacheEntries ?? 10_000, VERIFIED_MAX_AGE_MS);
  return {
    async verify(authorization) {
      const token = bearerToken(authorization);
      if (token === undefined) return { ok: false, reason: 'token-missing', detail: 'no bearer token' };
      const now = Date.now();
      const cached = cache.get(token, now);
      if (cached) return cached;
      try {
        const { payload } = await jwtVerify(token, keys, options);
        if (typeof payload.sub !== 'string' || payload.sub === '') {
          return { ok: false, reason: 'token-invalid', detail: 'token has no subject (sub)' };
        }
        const verified = { ok: true as const, claims: Object.freeze(payload) as JWTPayload as Claims, subject: payload.sub };
        cache.set(token, verified, payload.exp, now);
        return verified;
      } catch (err) {
        return { ok: false, reason: 'token-invalid', detail: describe(err) };
      }
    },
  };
}

function keySource(settings: VerifierSettings): JWTVerifyGetKey {
  const { jwt } = settings;
  if (jwt.jwksUri) {
    return createRemoteJWKSet(new URL(jwt.jwksUri), {
      cacheMaxAge: durationMs(jwt.jwksCacheMaxAge),
      cooldownDuration: durationMs(jwt.jwksCooldown),
      timeoutDuration: 5000,
    });
  }
  const file = settings.resolvePath(jwt.jwksFile as string);
  return createLocalJWKSet(JSON.parse(readFileSync(file, 'utf8')));
}

function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
  return match?.[1];
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
  if (err instanceof errors.JWKSTimeout) return 'key set fetch timed out';
  if (err instanceof errors.JOSEError) return err.code;
  return 'token could not be verified';
}
