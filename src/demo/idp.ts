// The demo's identity provider: one RS256 key, its JWKS served on 127.0.0.1, and a way to mint agent tokens.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';

export interface DemoIdp {
  /** http://127.0.0.1:PORT, also the `iss` of every token. */
  readonly issuer: string;
  readonly jwksUri: string;
  mint(claims: JWTPayload, opts: { subject: string; audience: string; expiresInSeconds: number }): Promise<string>;
  stop(): Promise<void>;
}

const JWKS_PATH = '/.well-known/jwks.json';

export async function startDemoIdp(): Promise<DemoIdp> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = `demo-${randomUUID().slice(0, 8)}`;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://idp').pathname;
    if (req.method === 'GET' && path === JWKS_PATH) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(jwks);
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    issuer,
    jwksUri: `${issuer}${JWKS_PATH}`,
    mint: (claims, opts) =>
      new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
        .setIssuer(issuer)
        .setAudience(opts.audience)
        .setSubject(opts.subject)
        .setIssuedAt()
        .setJti(randomUUID())
        .setExpirationTime(`${opts.expiresInSeconds}s`)
        .sign(privateKey),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
