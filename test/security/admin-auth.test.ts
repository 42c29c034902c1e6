// Issue 9.3, admin port: every state-changing endpoint (session revoke) needs `Authorization: Bearer <secret>`
// from `server.adminTokenFile`; without that field toolgate does not start. Read-only endpoints stay open.
// Through the real Envoy, both modes: a revoke that is refused leaves the session working; the accepted one ends it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLogsOnFailure } from '../harness/logs.js';
import { TOOLGATE_BIN } from '../harness/toolgate.js';
import { MODES, rpc, startSecurityStack, type SecurityStack } from './harness.js';

printLogsOnFailure();

describe.each(MODES)('the admin port in %s mode', (mode) => {
  let s: SecurityStack;
  beforeAll(async () => {
    s = await startSecurityStack({ mode, backend: 'express' });
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
  });

  /** A tools/call with the session token, through Envoy: 200 while the session lives, 404 once revoked. */
  async function callStatus(session: string): Promise<number> {
    return (await s.post(rpc('tools/call', { name: s.tool('echo'), arguments: { text: 'hi' } }), { session })).status;
  }

  function revoke(token: string, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${s.toolgate.adminUrl}/admin/sessions/revoke`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token }) });
  }

  it.each([
    ['no Authorization header', {}],
    ['a wrong bearer secret', { authorization: 'Bearer not-the-admin-secret-0123456789abcdefghijklmnop' }],
    ['the right secret under another scheme', { authorization: 'Basic <admin>' }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ])('POST /admin/sessions/revoke with %s → 401, and the session keeps working', async (_name, headers) => {
    const session = await s.initialize();
    const filled = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('<admin>', s.toolgate.adminToken)]));
    const res = await revoke(session, filled);
    expect(await callStatus(session)).toBe(200);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    const body = (await res.json()) as { error: string };
    expect(body.error).toMatch(/server\.adminTokenFile/);
    expect(JSON.stringify(body)).not.toContain(s.toolgate.adminToken);
  });

  it('POST /admin/sessions/revoke with the right bearer secret revokes: the session is gone through Envoy', async () => {
    const session = await s.initialize();
    expect(await callStatus(session)).toBe(200);
    const res = await revoke(session, { authorization: `Bearer ${s.toolgate.adminToken}` });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ revoked: expect.any(String) });
    expect(await callStatus(session)).toBe(404);
  });

  it('accepts the scheme in any case', async () => {
    const session = await s.initialize();
    const res = await revoke(session, { authorization: `bearer ${s.toolgate.adminToken}` });
    expect(res.status).toBe(200);
    expect(await callStatus(session)).toBe(404);
  });

  it.each(['/healthz', '/readyz', '/metrics'])('GET %s needs no secret', async (path) => {
    const res = await fetch(`${s.toolgate.adminUrl}${path}`);
    expect(res.status).toBe(200);
  });

  it('logs each refused admin request', () => {
    const refused = s.toolgate.records().filter((r) => r.event === 'admin.unauthorized');
    expect(new Set(refused.map((r) => r.reason))).toEqual(new Set(['missing', 'wrong-secret', 'malformed']));
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
