// The demo's identity provider: one RS256 key, its JWKS, and demo agent tokens — in-process for `npm run demo`, or as
// its own process (`node dist/cli/demo/idp.js --port 8090 --issuer … --audience …`, the compose mesh's IdP) that also
// mints a token on `GET /token`.
import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { DEMO_AGENT } from './config.js';

export interface MintOptions {
  readonly subject: string;
  readonly audience: string;
  readonly expiresInSeconds: number;
}

export interface DemoIdp {
  readonly port: number;
  /** The `iss` of every token: http://127.0.0.1:PORT unless given. */
  readonly issuer: string;
  readonly jwksUri: string;
  mint(claims: JWTPayload, opts: MintOptions): Promise<string>;
  stop(): Promise<void>;
}

export interface DemoIdpOptions {
  readonly host?: string;
  readonly port?: number;
  /** The issuer as the verifier knows it (e.g. http://idp:8090 inside compose). */
  readonly issuer?: string;
  /** Serve `GET /token`: a fresh demo agent token for this audience, as text/plain. */
  readonly tokenAudience?: string;
}

export const JWKS_PATH = '/.well-known/jwks.json';
export const TOKEN_PATH = '/token';

export async function startDemoIdp(opts: DemoIdpOptions = {}): Promise<DemoIdp> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const kid = `demo-${randomUUID().slice(0, 8)}`;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] });
  let issuer = opts.issuer ?? '';
  const mint = (claims: JWTPayload, m: MintOptions) =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
      .setIssuer(issuer)
      .setAudience(m.audience)
      .setSubject(m.subject)
      .setIssuedAt()
      .setJti(randomUUID())
      .setExpirationTime(`${m.expiresInSeconds}s`)
      .sign(privateKey);

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://idp').pathname;
    if (req.method === 'GET' && path === JWKS_PATH) {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(jwks);
      return;
    }
    if (req.method === 'GET' && path === TOKEN_PATH && opts.tokenAudience !== undefined) {
      mint(DEMO_AGENT.claims, { subject: DEMO_AGENT.subject, audience: opts.tokenAudience, expiresInSeconds: 3600 }).then(
        (token) => res.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(`${token}\n`),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const local = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  issuer ||= local;

  return {
    port,
    issuer,
    jwksUri: `${opts.issuer ?? local}${JWKS_PATH}`,
    mint,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const USAGE = 'usage: node dist/cli/demo/idp.js --issuer URL --audience URL [--port 8090] [--host 0.0.0.0]';

async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { issuer: { type: 'string' }, audience: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } },
    strict: true,
  });
  if (!values.issuer || !values.audience) {
    console.error(USAGE);
    return 2;
  }
  const idp = await startDemoIdp({ host: values.host ?? '0.0.0.0', port: Number(values.port ?? '8090'), issuer: values.issuer, tokenAudience: values.audience });
  console.log(JSON.stringify({ event: 'listening', port: idp.port, issuer: idp.issuer, jwks: JWKS_PATH, token: TOKEN_PATH, audience: values.audience }));
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  await idp.stop();
  return 0;
}

// Run as a program only when started directly, not when the demo imports it.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err: unknown) => {
      console.error(`demo idp: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    },
  );
}
