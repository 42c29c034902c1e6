// The JWT verifier end to end on plain values: token rules from config, malformed headers, an unreachable key set.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { jwtSchemaForTests } from './identity-jwt-config.js';
import { createJwtVerifier, type JwtVerifier } from '../../src/core/identity/jwt.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';

const AUDIENCE = 'https://mcp.test/mcp';
let idp: TestIdp;
beforeAll(async () => {
  idp = await startTestIdp({ audience: AUDIENCE });
});
afterAll(async () => {
  await idp.stop();
});
afterEach(() => {
  vi.useRealTimers();
});

function verifierFor(jwt: Record<string, unknown>): JwtVerifier {
  return createJwtVerifier({ jwt: jwtSchemaForTests({ issuer: idp.issuer, algorithms: ['RS256'], ...jwt }), audience: [AUDIENCE], resolvePath: (p) => p });
}
const now = () => Math.floor(Date.now() / 1000);

describe('JWT verifier: token rules', () => {
  it.each<[string, Record<string, unknown>, () => Promise<string>, string | undefined]>([
    ['a plain token (control)', {}, () => idp.mint(), undefined],
    ['no exp', {}, () => idp.mint({}, { omit: ['exp'] }), 'token has no expiry (exp); tokens that never expire are not accepted'],
    ['iat 10 minutes ahead', {}, () => idp.mint({}, { issuedAt: now() + 600, expiresAt: now() + 1200 }), 'token was issued in the future (iat), 600 s ahead of this server\'s clock'],
    ['iat 10 seconds ahead (inside the 30s leeway)', {}, () => idp.mint({}, { issuedAt: now() + 10 }), undefined],
    ['typ JWT with requireType at+jwt', { requireType: 'at+jwt' }, () => idp.mint(), 'token type "JWT" is not the required "at+jwt"'],
    ['typ at+jwt with requireType at+jwt', { requireType: 'at+jwt' }, () => idp.mint({}, { typ: 'at+jwt' }), undefined],
    ['a 2h token with maxLifetime 1h', { maxLifetime: '1h' }, () => idp.mint({}, { expiresIn: 7200 }), 'token lifetime (exp - iat) of 2h exceeds the maximum of 1h'],
    ['a 1h token with maxLifetime 1h', { maxLifetime: '1h' }, () => idp.mint({}, { expiresIn: 3600 }), undefined],
  ])('%s', async (_name, settings, mint, refused) => {
    const result = await verifierFor({ jwksFile: await idp.writeJwksFile(), ...settings }).verify(`Bearer ${await mint()}`);
    if (refused === undefined) expect(result).toMatchObject({ ok: true, subject: 'user-1' });
    else expect(result).toEqual({ ok: false, reason: 'token-invalid', detail: refused });
  });

  it('refuses a malformed Authorization header before looking at any token', async () => {
    const verifier = verifierFor({ jwksFile: await idp.writeJwksFile() });
    const token = await idp.mint();
    expect(await verifier.verify(`Bearer ${token},Bearer ${token}`)).toMatchObject({ ok: false, reason: 'authorization-malformed', detail: 'more than one credential' });
    expect(await verifier.verify('Basic dXNlcjpwYXNz')).toMatchObject({ ok: false, reason: 'authorization-malformed', detail: 'not a Bearer credential' });
    expect(await verifier.verify(undefined)).toEqual({ ok: false, reason: 'token-missing', detail: 'no bearer token' });
  });

  it('a cached token stops being accepted when it expires (the cache holds nothing past exp)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const verifier = verifierFor({ jwksFile: await idp.writeJwksFile(), clockTolerance: '0s' });
    const token = await idp.mint({}, { expiresIn: 5 });
    expect(await verifier.verify(`Bearer ${token}`)).toMatchObject({ ok: true });
    expect(await verifier.verify(`Bearer ${token}`)).toMatchObject({ ok: true });
    vi.setSystemTime(Date.now() + 6_000);
    expect(await verifier.verify(`Bearer ${token}`)).toEqual({ ok: false, reason: 'token-invalid', detail: 'token expired' });
  });
});

describe('JWT verifier: the key set cannot be fetched → identity-unavailable, never token-invalid', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((resolve) => s.close(resolve));
    }
  });
  /** A key set URL that answers the way `respond` says. */
  async function keySetUrl(respond: Parameters<typeof createServer>[1]): Promise<string> {
    const server = createServer(respond);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
  }

  it.each<[string, () => Promise<string>, RegExp]>([
    ['it answers 503', async () => keySetUrl((_q, s) => void s.writeHead(503).end()), /^key set URL answered HTTP 503$/],
    ['it redirects', async () => keySetUrl((_q, s) => void s.writeHead(302, { location: 'http://127.0.0.1:1/' }).end()), /^key set URL answered HTTP 302$/],
    ['it answers something other than JSON', async () => keySetUrl((_q, s) => void s.writeHead(200).end('<html>')), /^key set URL answered with something other than JSON$/],
    ['it answers JSON that is not a key set', async () => keySetUrl((_q, s) => void s.writeHead(200).end('{"keys":"no"}')), /^key set is not a valid JWKS$/],
    ['it never answers', async () => keySetUrl(() => undefined), /^key set fetch timed out$/],
    ['nothing listens', async () => {
      const url = await keySetUrl(() => undefined);
      const server = servers.pop() as Server;
      await new Promise((resolve) => server.close(resolve));
      return url;
    }, /^key set fetch failed \(connection\)$/],
  ])('%s', async (_name, url, detail) => {
    const verifier = verifierFor({ jwksUri: await url(), jwksTimeout: '300ms' });
    const result = await verifier.verify(`Bearer ${await idp.mint()}`);
    expect(result).toMatchObject({ ok: false, reason: 'identity-unavailable' });
    if (!result.ok) expect(result.detail).toMatch(detail);
  });

  it('with the key set reachable, a bad token is token-invalid; once fetched, keys stay usable while the IdP is down', async () => {
    const verifier = verifierFor({ jwksUri: idp.jwksUrl, jwksCooldown: '0s' });
    expect(await verifier.verify(`Bearer ${await idp.bad.badSignature()}`)).toEqual({ ok: false, reason: 'token-invalid', detail: 'signature verification failed' });
    idp.setAvailable(false);
    try {
      expect(await verifier.verify(`Bearer ${await idp.mint()}`)).toMatchObject({ ok: true });
      // A kid the cached set lacks (past the cooldown) needs the IdP: while it is down, nobody can say the token is bad.
      expect(await verifier.verify(`Bearer ${await idp.bad.unknownKid()}`)).toEqual({ ok: false, reason: 'identity-unavailable', detail: 'key set URL answered HTTP 503' });
    } finally {
      idp.setAvailable(true);
    }
  });
});
