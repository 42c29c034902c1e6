// The benchmark's native floor (g) — the pinned Envoy with its own MCP filter and RBAC allow-listing `echo`, no
// toolgate — really filters: an unlisted tool is refused by Envoy and never reaches the backend, echo is answered;
// and the benchmark's own check of that (bench/load/native-check.ts) fails on an Envoy that does not filter.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeFloorOf, variantOf } from '../../bench/load/bootstrap.js';
import { checkNativeFloor, UNLISTED_TOOL } from '../../bench/load/native-check.js';
import { SIDECAR_TEMPLATE, startEnvoy, type EnvoyInstance } from '../harness/envoy.js';
import { startMcpServer, type McpTestServer } from '../harness/mcp-server.js';
import { freePort } from '../harness/ports.js';

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function envoyFor(bootstrap: string, dir: string, name: string, backend: McpTestServer): Promise<EnvoyInstance> {
  const template = join(dir, `${name}.yaml`);
  await writeFile(template, bootstrap);
  // The stripped bootstrap keeps the toolgate cluster (no filter uses it): a port nobody listens on.
  return startEnvoy({ template, name, vars: { BACKEND_PORT: backend.port, TOOLGATE_GRPC_PORT: await freePort() } });
}

async function session(url: string): Promise<Record<string, string>> {
  const init = await fetch(url, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } } }),
  });
  await init.text();
  expect(init.status).toBe(200);
  const headers = { ...HEADERS, 'mcp-session-id': init.headers.get('mcp-session-id') ?? '', 'mcp-protocol-version': '2025-11-25' };
  const done = await fetch(url, { method: 'POST', headers, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' });
  await done.text();
  expect(done.status).toBe(202);
  return headers;
}

const call = (url: string, headers: Record<string, string>, name: string, id: number) =>
  fetch(url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: { text: 'hi' } } }) });

describe('bench (g): Envoy MCP filter + RBAC allow-list, no toolgate', () => {
  let dir: string;
  let backend: McpTestServer;
  let native: EnvoyInstance;
  let router: EnvoyInstance;
  const rendered = readFileSync(SIDECAR_TEMPLATE, 'utf8');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'toolgate-native-'));
    backend = await startMcpServer({ enableJsonResponse: true });
    native = await envoyFor(nativeFloorOf(rendered), dir, 'native-floor', backend);
    router = await envoyFor(variantOf(rendered, 'router'), dir, 'router-only', backend);
  });
  afterAll(async () => {
    await native?.stop();
    await router?.stop();
    await backend?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers the allow-listed echo and refuses unlisted tools with 403 before the backend', async () => {
    const url = `${native.url}/mcp`;
    const headers = await session(url);
    const echo = await call(url, headers, 'echo', 2);
    expect(echo.status).toBe(200);
    expect(await echo.text()).toContain('"text":"hi"');
    for (const [i, name] of [UNLISTED_TOOL, 'lookup_charge', 'Echo', 'echo '].entries()) {
      const refused = await call(url, headers, name, 10 + i);
      expect(refused.status, name).toBe(403);
      expect(await refused.text()).toBe('RBAC: access denied');
    }
    expect(backend.calls().map((c) => c.toolName)).toEqual(['echo']);
  });

  it('refuses a body that is not MCP (Envoy MCP filter, REJECT_NO_MCP) without reaching the backend', async () => {
    const before = backend.requests.length;
    const res = await fetch(`${native.url}/mcp`, { method: 'POST', headers: HEADERS, body: '{"not":"json-rpc"}' });
    await res.text();
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(backend.requests.length).toBe(before);
  });

  it("the benchmark's check passes on (g) and fails on a router-only Envoy, which lets the unlisted tool through", async () => {
    const target = (e: EnvoyInstance) => ({ origin: e.url, adminUrl: e.adminUrl, statPrefix: 'mcp', cluster: 'backend', path: '/mcp' });
    const good = await checkNativeFloor(target(native));
    expect(good).toMatchObject({ ok: true });
    const bad = await checkNativeFloor(target(router));
    expect(bad.ok).toBe(false);
    expect(bad.ok ? '' : bad.problem).toContain(`tools/call ${UNLISTED_TOOL} (not on the allow-list): HTTP 200, expected 403`);
  });
});
