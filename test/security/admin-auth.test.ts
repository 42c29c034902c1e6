// Issue 9.3, admin port: every state-changing endpoint (session revoke) needs `Authorization: Bearer <secret>`
// from `server.adminTokenFile`; without that field toolgate does not start. Read-only endpoints stay open.
// Through the real Envoy (sidecar): a revoke that is refused leaves the session working; the accepted one ends it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLogsOnFailure } from '../harness/logs.js';
import { bearer, connectAs, post } from '../e2e/helpers/client.js';
import { startStack, TOOLGATE_BIN, type Stack } from '../e2e/helpers/toolgate.js';

printLogsOnFailure();

const TASKS = { support: { tools: [{ tool: 'echo' }] } };
let stack: Stack;
let jwt: string;

beforeAll(async () => {
  stack = await startStack({ tasks: TASKS });
  jwt = await stack.idp.mint({ authorized_tasks: ['support'] });
});
afterAll(async () => {
  await stack?.stop();
});

/** A fresh session through Envoy: its client token. */
async function newSession(): Promise<string> {
  const agent = await connectAs(stack.endpoint, jwt);
  const token = agent.transport.sessionId as string;
  await agent.close();
  return token;
}

/** A tools/call with the session token, through Envoy: 200 while the session lives, 404 once revoked. */
async function callStatus(token: string): Promise<number> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'hi' } } });
  return (await post(stack.endpoint, body, { ...bearer(jwt), 'mcp-session-id': token, 'mcp-protocol-version': '2025-11-25' })).status;
}

function revoke(token: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${stack.toolgate.adminUrl}/admin/sessions/revoke`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token }) });
}

describe('POST /admin/sessions/revoke', () => {
  it.each([
    ['no Authorization header', {}],
    ['a wrong bearer secret', { authorization: 'Bearer not-the-admin-secret-0123456789abcdefghijklmnop' }],
    ['the right secret under another scheme', { authorization: 'Basic <admin>' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ])('refuses %s with 401, and the session keeps working', async (_name, headers) => {
    const token = await newSession();
    const filled = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('<admin>', stack.toolgate.adminToken)]));
    const res = await revoke(token, filled);
    expect(await callStatus(token)).toBe(200);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const body = (await res.json()) as { error: string };
    expect(body.error).toMatch(/server\.adminTokenFile/);
    expect(JSON.stringify(body)).not.toContain(stack.toolgate.adminToken);
  });

  it('revokes with the right bearer secret: the session is gone through Envoy', async () => {
    const token = await newSession();
    expect(await callStatus(token)).toBe(200);
    const res = await revoke(token, { authorization: `Bearer ${stack.toolgate.adminToken}` });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ revoked: expect.any(String) });
    expect(await callStatus(token)).toBe(404);
  });

  it('accepts the scheme in any case', async () => {
    const token = await newSession();
    const res = await revoke(token, { authorization: `bearer ${stack.toolgate.adminToken}` });
    expect(res.status).toBe(200);
  });
});

describe('read-only admin endpoints stay open', () => {
  it.each(['/healthz', '/readyz', '/metrics'])('GET %s needs no secret', async (path) => {
    const res = await fetch(`${stack.toolgate.adminUrl}${path}`);
    expect(res.status).toBe(200);
  });
});

describe('start-up without server.adminTokenFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'toolgate-admin-auth-'));
  const config = (server: string) => `resource: https://mcp.test/mcp
server: { host: 127.0.0.1, grpcPort: 0, adminPort: 0${server} }
identity: { jwt: { issuer: https://auth.test, jwksUri: https://auth.test/jwks.json } }
`;
  const serve = (file: string) => spawnSync(process.execPath, [TOOLGATE_BIN, 'serve', '--config', file], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, TOOLGATE_LOG_LEVEL: 'info' } });

  it.each([
    ['the field absent', ''],
    ['a file that does not exist', ', adminTokenFile: no-such-file'],
    ['a file too short to be a secret', ', adminTokenFile: short.txt'],
  ])('is an error naming the field: %s', (_name, server) => {
    writeFileSync(join(dir, 'short.txt'), 'hunter2\n');
    const file = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, config(server));
    const run = serve(file);
    expect(run.status, run.stdout + run.stderr).not.toBe(0);
    expect(run.stdout + run.stderr).toContain('server.adminTokenFile');
    expect(run.stdout + run.stderr).not.toContain('toolgate ready');
  });
});
