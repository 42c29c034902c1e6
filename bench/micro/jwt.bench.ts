// JWT verification with cached keys (local JWKS): toolgate's verifier with its verified-token cache (what every
// repeated call of a session pays), without it (a new token: jose through WebCrypto), and node:crypto on the same
// signature for reference.
import { createPublicKey, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bench, describe } from 'vitest';
import { createJwtVerifier } from '../../src/core/identity/jwt.js';
import { fixture, RESOURCE } from './fixtures.js';

const { runtime, token, jwksFile } = await fixture();
const cached = runtime.verifier;
const uncached = createJwtVerifier({ jwt: runtime.config.identity.jwt, audience: [RESOURCE], resolvePath: (p) => p, cacheEntries: 0 });
const header = `Bearer ${token}`;

// The same signature checked synchronously on node:crypto (signature only).
const jwk = (JSON.parse(readFileSync(jwksFile, 'utf8')) as { keys: Array<Record<string, unknown>> }).keys[0] as Record<string, unknown>;
const key: KeyObject = createPublicKey({ key: jwk as never, format: 'jwk' });
const [h, p, s] = token.split('.') as [string, string, string];
const signed = Buffer.from(`${h}.${p}`);
const signature = Buffer.from(s, 'base64url');

const ok = async (verify: typeof cached.verify) => {
  const result = await verify(header);
  if (!result.ok) throw new Error(result.detail);
};

describe('JWT verification (RS256, 2048-bit key, local JWKS)', () => {
  bench('toolgate verifier, token seen before (verified-token cache hit)', () => ok(cached.verify));
  bench('toolgate verifier, cache off (jose jwtVerify: header, signature, claims)', () => ok(uncached.verify));
  bench('node:crypto verify, signature only (sync, KeyObject cached)', () => {
    if (!rsaVerify('RSA-SHA256', signed, key, signature)) throw new Error('bad signature');
  });
});
