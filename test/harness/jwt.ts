// A test identity provider: RS256 keys, a JWKS endpoint on 127.0.0.1, valid tokens and every common kind of bad one.
import { randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT,
  type CryptoKey, type JSONWebKeySet, type JWK, type JWTPayload,
} from 'jose';

export interface TestIdpOptions {
  /** Default: the IdP's own URL when served, else https://idp.toolgate.test */
  issuer?: string;
  /** Default https://mcp.toolgate.test/mcp */
  audience?: string | string[];
  /** Default sub claim; default "user-1". */
  subject?: string;
  /** Serve the JWKS over HTTP; default true. */
  serve?: boolean;
}

export interface MintOptions {
  issuer?: string;
  audience?: string | string[];
  subject?: string;
  /** Lifetime from now, seconds; default 600. */
  expiresIn?: number;
  /** Absolute times, epoch seconds; override the defaults (iat = now). */
  issuedAt?: number;
  notBefore?: number;
  expiresAt?: number;
  /** Header kid; default the current key's. */
  kid?: string;
  /** Header typ; default "JWT" (RFC 9068 access tokens say "at+jwt"). */
  typ?: string;
  /** Leave the claim out of the token entirely (tokens a strict verifier must refuse). */
  omit?: ReadonlyArray<'exp' | 'iat'>;
}

/** Tokens that a correct verifier must reject, each for one reason. */
export interface BadTokens {
  expired(claims?: JWTPayload): Promise<string>;
  notYetValid(claims?: JWTPayload): Promise<string>;
  wrongIssuer(claims?: JWTPayload): Promise<string>;
  wrongAudience(claims?: JWTPayload): Promise<string>;
  /** Signed by another key that claims the trusted kid. */
  badSignature(claims?: JWTPayload): Promise<string>;
  /** `alg: none`, empty signature, trusted kid. */
  algNone(claims?: JWTPayload): Promise<string>;
  /** Signed by a key whose kid is not in the JWKS. */
  unknownKid(claims?: JWTPayload): Promise<string>;
  /** HS256 with the public key (PEM) as the HMAC secret, trusted kid. */
  algConfusion(claims?: JWTPayload): Promise<string>;
}

export interface TestIdp {
  readonly issuer: string;
  readonly audience: string | string[];
  /** http://127.0.0.1:PORT, or undefined when not served. */
  readonly url: string | undefined;
  /** …/.well-known/jwks.json, or undefined when not served. */
  readonly jwksUrl: string | undefined;
  /** kid of the current signing key. */
  kid(): string;
  /** Public keys of every key still trusted. */
  jwks(): JSONWebKeySet;
  /** How many times the JWKS was fetched over HTTP (to test caching). */
  jwksFetches(): number;
  /** When false, the JWKS endpoint answers 503 (to test fetch failures). */
  setAvailable(available: boolean): void;
  /**
   * From now on the JWKS endpoint answers nothing until the returned function is called, which answers every held
   * request with the key set of that moment: a verifier waiting for keys makes each Check slow on the test's terms.
   */
  holdJwks(): () => void;
  /** JWKS requests being held now. */
  heldJwksRequests(): number;
  mint(claims?: JWTPayload, opts?: MintOptions): Promise<string>;
  readonly bad: BadTokens;
  /** New current signing key; old keys stay in the JWKS unless `dropOld`. Returns the new kid. */
  rotate(opts?: { dropOld?: boolean }): Promise<string>;
  /** Writes the JWKS as JSON (default: a new temp file) and returns the path. */
  writeJwksFile(path?: string): Promise<string>;
  stop(): Promise<void>;
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
  spkiPem: string;
}

async function newKey(kid = `test-${randomUUID().slice(0, 8)}`): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, privateKey, publicJwk, spkiPem: await exportSPKI(publicKey) };
}

const now = () => Math.floor(Date.now() / 1000);

export async function startTestIdp(opts: TestIdpOptions = {}): Promise<TestIdp> {
  let keys: SigningKey[] = [await newKey()];
  const current = () => keys[keys.length - 1] as SigningKey;
  const jwks = (): JSONWebKeySet => ({ keys: keys.map((k) => k.publicJwk) });
  let fetches = 0;
  let available = true;
  let held: Array<() => void> | undefined;

  let server: Server | undefined;
  let url: string | undefined;
  if (opts.serve ?? true) {
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const json = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
      if (path === '/.well-known/jwks.json') {
        fetches++;
        const answer = () => (available ? json(200, jwks()) : json(503, { error: 'unavailable' }));
        if (held) return void held.push(answer);
        return answer();
      }
      if (path === '/.well-known/openid-configuration' || path === '/.well-known/oauth-authorization-server') {
        return json(200, { issuer, jwks_uri: `${url}/.well-known/jwks.json`, id_token_signing_alg_values_supported: ['RS256'] });
      }
      json(404, { error: 'not found' });
    });
    const listening = server;
    await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;
  }
  const issuer = opts.issuer ?? url ?? 'https://idp.toolgate.test';
  const audience = opts.audience ?? 'https://mcp.toolgate.test/mcp';
  const subject = opts.subject ?? 'user-1';

  const sign = (claims: JWTPayload, o: MintOptions, key: CryptoKey | Uint8Array, alg: string, kid: string) => {
    const iat = o.issuedAt ?? now();
    const jwt = new SignJWT({ ...claims })
      .setProtectedHeader({ alg, typ: o.typ ?? 'JWT', kid: o.kid ?? kid })
      .setIssuer(o.issuer ?? issuer)
      .setAudience(o.audience ?? audience)
      .setSubject(o.subject ?? subject)
      .setJti(randomUUID());
    if (!o.omit?.includes('iat')) jwt.setIssuedAt(iat);
    if (!o.omit?.includes('exp')) jwt.setExpirationTime(o.expiresAt ?? iat + (o.expiresIn ?? 600));
    if (o.notBefore !== undefined) jwt.setNotBefore(o.notBefore);
    return jwt.sign(key);
  };
  const mint = (claims: JWTPayload = {}, o: MintOptions = {}) => sign(claims, o, current().privateKey, 'RS256', current().kid);

  const bad: BadTokens = {
    expired: (c) => mint(c, { issuedAt: now() - 3600, expiresAt: now() - 600 }),
    notYetValid: (c) => mint(c, { notBefore: now() + 600, expiresIn: 1200 }),
    wrongIssuer: (c) => mint(c, { issuer: 'https://evil.example' }),
    wrongAudience: (c) => mint(c, { audience: 'https://some-other-resource.example/mcp' }),
    badSignature: async (c) => sign(c ?? {}, {}, (await newKey()).privateKey, 'RS256', current().kid),
    unknownKid: async (c) => {
      const stranger = await newKey(`unknown-${randomUUID().slice(0, 8)}`);
      return sign(c ?? {}, {}, stranger.privateKey, 'RS256', stranger.kid);
    },
    algConfusion: (c) => sign(c ?? {}, {}, new TextEncoder().encode(current().spkiPem), 'HS256', current().kid),
    algNone: async (c) => {
      // Built by hand: signing libraries refuse to produce it on purpose.
      const signed = await mint(c);
      const payload = signed.split('.')[1] as string;
      const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid: current().kid }));
      return `${header}.${payload}.`;
    },
  };

  return {
    issuer,
    audience,
    url,
    jwksUrl: url && `${url}/.well-known/jwks.json`,
    kid: () => current().kid,
    jwks,
    jwksFetches: () => fetches,
    setAvailable: (value) => { available = value; },
    holdJwks() {
      const waiting: Array<() => void> = [];
      held = waiting;
      return () => {
        if (held === waiting) held = undefined;
        for (const answer of waiting.splice(0)) answer();
      };
    },
    heldJwksRequests: () => held?.length ?? 0,
    mint,
    bad,
    async rotate(o = {}) {
      const key = await newKey();
      keys = o.dropOld ? [key] : [...keys, key];
      return key.kid;
    },
    async writeJwksFile(path) {
      const target = path ?? join(await mkdtemp(join(tmpdir(), 'toolgate-jwks-')), 'jwks.json');
      await writeFile(target, JSON.stringify(jwks(), null, 2));
      return target;
    },
    async stop() {
      if (!server?.listening) return;
      server.closeAllConnections();
      await new Promise<void>((resolve) => server?.close(() => resolve()));
    },
  };
}
