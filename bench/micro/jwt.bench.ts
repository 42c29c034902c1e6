// JWT verification with cached keys (local JWKS): toolgate's verifier (jose), against node:crypto on the same token.
import { createPublicKey, verify as rsaVerify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { bench, describe } from 'vitest';
import { fixture } from './fixtures.js';

const { runtime, token, jwksFile } = await fixture();
const verifier = runtime.verifier;
const header = `Bearer ${token}`;

// The same check done synchronously on node:crypto, to show what the WebCrypto path costs (signature only).
const jwk = (JSON.parse(readFileSync(jwksFile, 'utf8')) as { keys: Array<Record<string, unknown>> }).keys[0] as Record<string, unknown>;
const key: KeyObject = createPublicKey({ key: jwk as never, format: 'jwk' });
const [h, p, s] = token.split('.') as [string, string, string];
const signed = Buffer.from(`${h}.${p}`);
const signature = Buffer.from(s, 'base64url');

describe('JWT verification (RS256, 2048-bit key, local JWKS)', () => {
  bench('toolgate verifier.verify (jose jwtVerify: header, signature, claims)', async () => {
    const result = await verifier.verify(header);
    if (!result.ok) throw new Error(result.detail);
  });
  bench('node:crypto verify, signature only (sync, KeyObject cached)', () => {
    if (!rsaVerify('RSA-SHA256', signed, key, signature)) throw new Error('bad signature');
  });
  bench('node:crypto verify + JSON.parse of the payload', () => {
    if (!rsaVerify('RSA-SHA256', signed, key, signature)) throw new Error('bad signature');
    JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  });
});
