// Shared set-up for the Redis suites: an IdP key, config files, several in-process toolgate replicas on one Redis.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import { serve, type Served } from '../../src/app/server/serve.js';
import { createKeyring } from '../../src/core/session/keys.js';
import { checkedHeaders, extProcClient, headers, setHeaders, type Msg } from '../contract/extproc-client.js';
import { checkClient } from '../harness/check-client.js';

export const RESOURCE = 'https://mcp.test/mcp';
const ISSUER = 'https://auth.test';

export interface Identity {
  readonly dir: string;
  /** A token for `sub` authorized for the `ops` task. */
  sign(sub: string): Promise<string>;
}

export async function createIdentity(): Promise<Identity> {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-redis-it-'));
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] }));
  writeFileSync(path.join(dir, 'admin-token'), `${ADMIN_TOKEN}\n`);
  return {
    dir,
    sign: (sub) =>
      new SignJWT({ authorized_tasks: ['ops'] }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(RESOURCE)
        .setSubject(sub).setIssuedAt().setExpirationTime('10m').sign(privateKey),
  };
}

/** The bearer secret every replica's admin port requires for revoke (`server.adminTokenFile: admin-token`). */
export const ADMIN_TOKEN = randomUUID() + randomUUID();
export const SESSION_SECRET = 'redis-integration-test-secret-0123456789abcdef';
/** Every replica's keyring (one config): what their Checks sign the ext_authz → ext_proc handoff with. */
export const keyring = createKeyring({ current: { kid: 'k1', secret: SESSION_SECRET } });

/**
 * Windows are a day long and every test uses its own subject, so no test shares a counter with another and
 * a window boundary during a run is as unlikely as it can be made.
 */
export function configText(redisUrl: string, keyPrefix: string, policy = ''): string {
  return `resource: ${RESOURCE}
server: { adminTokenFile: admin-token }
identity: { jwt: { issuer: ${ISSUER}, jwksFile: jwks.json } }
session: { ttl: 1h, keys: [{ kid: k1, secret: ${SESSION_SECRET} }] }
store: { type: redis, url: "${redisUrl}", keyPrefix: "${keyPrefix}", connectTimeout: 1s, commandTimeout: 300ms }
policy:
  loopBreaker: { maxRepeats: 3, window: 1h, tools: [search] }
${policy}
tasks:
  ops:
    tools:
      - tool: lookup
        quota: { calls: 10, per: 1d, key: jwt.sub }
      - tool: spend
        budget: { sum: mcp.arguments.amount, max: 100, per: 1d, key: jwt.sub }
      - tool: refund
        quota: { calls: 5, per: 1d, key: jwt.sub }
        budget: { sum: mcp.arguments.amount, max: 100, per: 1d, key: jwt.sub }
      - tool: search
`;
}

export interface Replica {
  readonly served: Served;
  readonly checks: ReturnType<typeof checkClient>;
  readonly extProc: ReturnType<typeof extProcClient>;
  readonly adminUrl: string;
}

/** `count` serve() instances from one config file: what two pods of one Deployment are. */
export async function startReplicas(identity: Identity, config: string, count: number): Promise<Replica[]> {
  const file = path.join(identity.dir, `config-${randomUUID()}.yaml`);
  writeFileSync(file, config);
  const replicas: Replica[] = [];
  for (let i = 0; i < count; i++) {
    const served = await serve({ configFile: file, host: '127.0.0.1', grpcPort: 0, adminPort: 0, watch: false }, pino({ level: 'silent' }));
    replicas.push({ served, checks: checkClient(served.grpcPort), extProc: extProcClient(served.grpcPort), adminUrl: `http://127.0.0.1:${served.adminPort}` });
  }
  return replicas;
}

export async function stopReplicas(replicas: readonly Replica[]): Promise<void> {
  for (const r of replicas) {
    r.checks.close();
    r.extProc.close();
  }
  await Promise.all(replicas.map((r) => r.served.stop()));
}

export async function readyz(replica: Replica): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${replica.adminUrl}/readyz`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Opens a sidecar session through ext_proc, as Envoy would for an initialize: returns the client token. */
export async function openSession(replica: Replica, subject: string, backendSid = `backend-${randomUUID()}`): Promise<string> {
  const s = replica.extProc.open();
  await s.send(checkedHeaders(keyring, { ':method': 'POST', ':path': '/mcp' }, { subject, decision_id: 'd', method: 'initialize' }));
  const r = await s.send(headers({ ':status': '200', 'mcp-session-id': backendSid }, undefined, 'response_headers'));
  s.end();
  const token = setHeaders(r, 'response_headers')['mcp-session-id'];
  if (!token) throw new Error('initialize did not produce a session token');
  return token;
}

/** Presents a session token on a tools/call request headers phase; the ext_proc answer. */
export async function presentSession(replica: Replica, subject: string, token: string): Promise<Msg> {
  const s = replica.extProc.open();
  const r = await s.send(checkedHeaders(keyring, { ':method': 'POST', ':path': '/mcp', 'mcp-session-id': token }, { subject, decision_id: 'd', method: 'tools/call', target: 'lookup' }));
  s.end();
  return r;
}

/** Ends a session through ext_proc as Envoy would for DELETE: request headers, then the backend's 2xx. */
export async function deleteSession(replica: Replica, subject: string, token: string): Promise<void> {
  const s = replica.extProc.open();
  const h = await s.send(checkedHeaders(keyring, { ':method': 'DELETE', ':path': '/mcp', 'mcp-session-id': token }, { subject, decision_id: 'd' }));
  if (h.immediate_response) throw new Error(`DELETE refused: ${JSON.stringify(h.immediate_response.status)}`);
  await s.send(headers({ ':status': '200' }, undefined, 'response_headers'));
  s.end();
}

export function immediateStatus(msg: Msg): string | undefined {
  return msg.immediate_response?.status?.code;
}

export function immediateBody(msg: Msg): any {
  const raw = msg.immediate_response?.body;
  return raw ? JSON.parse(Buffer.from(raw).toString('utf8')) : undefined;
}
