// Gateway mode (several backends) on a shared Redis: a DELETE fanned out by one replica revokes the session for all.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, checkedHeaders, type Msg } from '../contract/extproc-client.js';
import { startRedis, type TestRedis } from '../harness/redis.js';
import { createIdentity, immediateStatus, keyring, RESOURCE, SESSION_SECRET, startReplicas, stopReplicas, type Replica } from './redis-fixture.js';

let redis: TestRedis;
let egress: Server;
let replicas: Replica[] = [];
/** What the stand-in for Envoy's egress listener received: `<METHOD> <backend>`. */
const seen: string[] = [];

beforeAll(async () => {
  redis = await startRedis();
  egress = await fakeEgress();
  const identity = await createIdentity();
  const { port } = egress.address() as AddressInfo;
  const config = `resource: ${RESOURCE}
server: { adminTokenFile: admin-token }
identity: { jwt: { issuer: https://auth.test, jwksFile: jwks.json } }
session: { ttl: 1h, keys: [{ kid: k1, secret: ${SESSION_SECRET} }] }
store: { type: redis, url: "${redis.url}", keyPrefix: "gw-${randomUUID()}:" }
egress: { url: "http://127.0.0.1:${port}", timeout: 2s }
backends:
  billing: { cluster: billing }
  inventory: { cluster: inventory }
tasks:
  ops: { tools: [{ tool: "billing.*" }] }
`;
  replicas = await startReplicas(identity, config, 2);
});

afterAll(async () => {
  await stopReplicas(replicas);
  await new Promise<void>((resolve) => {
    egress?.closeAllConnections();
    egress ? egress.close(() => resolve()) : resolve();
  });
  await redis?.dispose();
});

const [a, b] = [() => replicas[0] as Replica, () => replicas[1] as Replica];

/** Answers initialize for any backend with a fresh session id, and DELETE with 200. */
async function fakeEgress(): Promise<Server> {
  const server = createServer(async (req, res) => {
    const backend = String(req.headers['x-toolgate-backend'] ?? '?');
    seen.push(`${req.method} ${backend}`);
    if (req.method === 'DELETE') return void res.writeHead(200).end();
    const message = JSON.parse(await readBody(req)) as { id?: unknown; method: string };
    if (message.method !== 'initialize') return void res.writeHead(202).end();
    res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': `${backend}-${randomUUID()}` });
    res.end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result: { protocolVersion: '2025-06-18', capabilities: { tools: {} }, serverInfo: { name: backend, version: '1' } } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function immediateHeader(msg: Msg, name: string): string | undefined {
  const set: any[] = msg.immediate_response?.headers?.set_headers ?? [];
  const hit = set.find((h) => h.header.key === name);
  return hit ? Buffer.from(hit.header.raw_value).toString('utf8') : undefined;
}

async function initialize(replica: Replica, subject: string): Promise<string> {
  const s = replica.extProc.open();
  const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } });
  await s.send(checkedHeaders(keyring, { ':method': 'POST', ':path': '/mcp', 'content-type': 'application/json' }, { subject, decision_id: 'd', method: 'initialize' }, init));
  const r = await s.send(body(init));
  s.end();
  const token = immediateHeader(r, 'mcp-session-id');
  if (!token) throw new Error(`initialize gave no session token: ${JSON.stringify(r.immediate_response?.status)}`);
  return token;
}

async function send(replica: Replica, subject: string, method: string, token: string): Promise<Msg> {
  const s = replica.extProc.open();
  const r = await s.send(checkedHeaders(keyring, { ':method': method, ':path': '/mcp', 'mcp-session-id': token }, { subject, decision_id: 'd', method: method === 'POST' ? 'tools/call' : undefined }));
  s.end();
  return r;
}

describe('gateway mode on a shared Redis', () => {
  it('DELETE on one replica ends the backend sessions and revokes the token for every replica', async () => {
    const sub = `agent-${randomUUID()}`;
    const token = await initialize(a(), sub);
    expect(immediateStatus(await send(b(), sub, 'POST', token))).toBeUndefined();

    seen.length = 0;
    const deleted = await send(b(), sub, 'DELETE', token);
    expect(immediateStatus(deleted)).toBe('OK');
    expect(seen.sort()).toEqual(['DELETE billing', 'DELETE inventory']);

    for (const r of [a(), b()]) {
      expect(immediateStatus(await send(r, sub, 'POST', token))).toBe('NotFound');
    }
    // A second DELETE of the same session is refused like any unknown session.
    expect(immediateStatus(await send(a(), sub, 'DELETE', token))).toBe('NotFound');
  });
});
