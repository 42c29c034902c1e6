// The compose mesh's demo processes, run from dist/ as the image runs them: `dist/cli/demo/server.js` serves an MCP
// server's tools, and `dist/cli/demo/idp.js` serves a JWKS and mints a demo token on GET /token that verifies against it.
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { DEMO_AGENT } from '../../src/cli/demo/config.js';
import { REPO_ROOT } from '../harness/repo.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { freePort } from '../harness/ports.js';
import { startProcess, type ManagedProcess } from '../harness/process.js';
import { requireBuiltDist } from '../harness/toolgate.js';

printLogsOnFailure();

const started: ManagedProcess[] = [];
afterAll(async () => {
  for (const p of started.splice(0)) await p.stop();
});

async function run(script: string, args: string[], readyUrl: string, readyStatus: (s: number) => boolean): Promise<ManagedProcess> {
  requireBuiltDist();
  const proc = await startProcess({
    name: `${script} ${args.join(' ')}`,
    command: process.execPath,
    args: [join(REPO_ROOT, 'dist', 'cli', 'demo', script), ...args],
    readyUrl,
    readyStatus,
    readyTimeoutMs: 15_000,
    stopTimeoutMs: 5_000,
  });
  started.push(proc);
  return proc;
}

describe('node dist/cli/demo/server.js', () => {
  it.each([
    ['billing', ['lookup_charge', 'refund', 'close_account']],
    ['inventory', ['check_stock', 'set_stock']],
  ])('--name %s serves its tools over Streamable HTTP', async (name, tools) => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/mcp`;
    // A GET without a session is a 400 from a live server: good enough for readiness.
    await run('server.js', ['--name', name, '--port', String(port), '--host', '127.0.0.1', '--replica', `${name}-1`], url, (s) => s === 400);
    const client = new Client({ name: 'demo-services-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url)));
    try {
      expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual([...tools].sort());
    } finally {
      await client.close();
    }
  });
});

describe('node dist/cli/demo/idp.js', () => {
  it('mints a demo agent token on GET /token that verifies against its JWKS, with the given issuer and audience', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const issuer = 'http://idp:8090';
    const audience = 'http://localhost:10000/mcp';
    await run('idp.js', ['--port', String(port), '--host', '127.0.0.1', '--issuer', issuer, '--audience', audience], `${base}/.well-known/jwks.json`, (s) => s === 200);
    const res = await fetch(`${base}/token`);
    expect(res.status).toBe(200);
    const token = (await res.text()).trim();
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${base}/.well-known/jwks.json`)), { issuer, audience, algorithms: ['RS256'] });
    expect(payload).toMatchObject({ sub: DEMO_AGENT.subject, ...DEMO_AGENT.claims });
    expect((payload.exp ?? 0) - (payload.iat ?? 0)).toBe(3600);
  });
});
