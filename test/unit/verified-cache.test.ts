import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { createJwtVerifier, VERIFIED_MAX_AGE_MS } from '../../src/core/identity/jwt.js';
import { VerifiedTokenCache } from '../../src/core/identity/verified-cache.js';

describe('VerifiedTokenCache', () => {
  it.each([
    ['before exp', 1_000, 10, 5_000, true],
    ['at exp', 1_000, 10, 10_000, false],
    ['past maxAge though exp is later', 1_000, 10_000, 1_000 + 60_001, false],
    ['without exp, within maxAge', 1_000, undefined, 30_000, true],
  ] as const)('%s', (_n, setAt, exp, getAt, hit) => {
    const cache = new VerifiedTokenCache<string>(10, 60_000);
    cache.set('t', 'claims', exp, setAt);
    expect(cache.get('t', getAt)).toBe(hit ? 'claims' : undefined);
  });

  it('is bounded: the oldest entry goes first', () => {
    const cache = new VerifiedTokenCache<number>(2, 60_000);
    cache.set('a', 1, undefined, 0);
    cache.set('b', 2, undefined, 0);
    cache.set('c', 3, undefined, 0);
    expect([cache.get('a', 1), cache.get('b', 1), cache.get('c', 1), cache.size]).toEqual([undefined, 2, 3, 2]);
  });

  it('never stores an already expired token', () => {
    const cache = new VerifiedTokenCache<number>(2, 60_000);
    cache.set('old', 1, 5, 10_000);
    expect(cache.size).toBe(0);
  });
});

describe('JWT verifier with the cache', () => {
  it('answers a repeated token from the cache and still rejects a changed one', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-jwt-cache-'));
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
    const verifier = createJwtVerifier({
      jwt: { issuer: 'https://i', algorithms: ['RS256'], jwksFile: 'jwks.json', clockTolerance: '0s', jwksCacheMaxAge: '10m', jwksCooldown: '30s', jwksTimeout: '1s' },
      audience: ['https://r'],
      resolvePath: (p) => path.join(dir, p),
    });
    const token = await new SignJWT({ authorized_tasks: ['t'] }).setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer('https://i').setAudience('https://r').setSubject('a').setExpirationTime('5m').sign(privateKey);
    const first = await verifier.verify(`Bearer ${token}`);
    const second = await verifier.verify(`Bearer ${token}`);
    expect(first.ok && second.ok).toBe(true);
    if (first.ok && second.ok) expect(second.claims).toBe(first.claims); // the same object: served from the cache
    const [h, p, sig] = token.split('.') as [string, string, string];
    const flipped = `${h}.${p}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(await verifier.verify(`Bearer ${flipped}`)).toMatchObject({ ok: false, reason: 'token-invalid' });
    expect(VERIFIED_MAX_AGE_MS).toBeLessThanOrEqual(60_000);
  });
});
