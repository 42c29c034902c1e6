// docs/envoy.md fact 27, on the pinned Envoy with the rendered envoy/sidecar.yaml and a stand-in for toolgate: the
// sidecar ext_proc filter, wrapped in ExtensionWithMatcher, is skipped exactly when ext_authz's dynamic metadata says
// `exchange: done`, and a fast-path route's ExtProcPerRoute still reaches the wrapped filter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOW, startAuthzStub, type AuthzStub, type CheckResponse } from '../harness/authz-stub.js';
import { startEnvoy, type EnvoyInstance } from '../harness/envoy.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { startMcpServer, type McpTestServer } from '../harness/mcp-server.js';

printLogsOnFailure();

/** Which mark the stub's Check leaves in ext_authz's namespace: the test says so in a header only the stub reads. */
const MARK_HEADER = 'x-test-exchange';

let backend: McpTestServer;
let authz: AuthzStub;
let envoy: EnvoyInstance;

beforeAll(async () => {
  backend = await startMcpServer({ stateless: true, enableJsonResponse: true });
  authz = await startAuthzStub({
    decide: (request): CheckResponse => {
      const mark = request.attributes.request?.http?.headers[MARK_HEADER];
      return mark === undefined ? ALLOW : { ...ALLOW, dynamic_metadata: { fields: { exchange: { stringValue: mark } } } };
    },
  });
  envoy = await startEnvoy({ vars: { TOOLGATE_GRPC_PORT: authz.port, BACKEND_PORT: backend.port } });
}, 60_000);

afterAll(async () => {
  await envoy?.stop();
  await authz?.stop();
  await backend?.stop();
});

const CAPABILITIES = { 'io.modelcontextprotocol/clientCapabilities': {} };
const call = (name: string, meta?: Record<string, unknown>) =>
  JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {}, ...(meta ? { _meta: meta } : {}) } });
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-11-25' };
const FAST_PATH = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'lookup_charge' };

/** Sends one POST and says how many ext_proc streams it opened (the stub's count) and whether the backend saw it. */
async function streamsFor(headers: Record<string, string>, body: string): Promise<{ status: number; streams: number; reachedBackend: boolean }> {
  const streams = authz.processed.length;
  const requests = backend.requests.length;
  const res = await fetch(`${envoy.url}/mcp`, { method: 'POST', headers: { ...HEADERS, ...headers }, body });
  await res.text();
  return { status: res.status, streams: authz.processed.length - streams, reachedBackend: backend.requests.length > requests };
}

describe('ext_proc inside ExtensionWithMatcher (SkipFilter on ext_authz metadata)', () => {
  it.each<[string, Record<string, string>, string, number]>([
    ['no mark: ext_proc runs', {}, call('echo'), 1],
    ['exchange: done: ext_proc is skipped', { [MARK_HEADER]: 'done' }, call('echo'), 0],
    ['another value (exact match only): ext_proc runs', { [MARK_HEADER]: 'Done' }, call('echo'), 1],
    ['a 2026 fast-path call without the mark: its route\'s ExtProcPerRoute {disabled} reaches the wrapped filter', FAST_PATH, call('lookup_charge', CAPABILITIES), 0],
  ])('%s', async (_name, headers, body, streams) => {
    const got = await streamsFor(headers, body);
    expect(got.streams).toBe(streams);
    // Allowed by the stub either way: skipped or not, the request goes on to the backend.
    expect(got.reachedBackend).toBe(true);
  });

  it('a client header named like the mark sets no metadata: only ext_authz writes its namespace', async () => {
    // The stub reads only MARK_HEADER; nothing in the rendered chain may turn a request header into metadata.
    const got = await streamsFor({ exchange: 'done', 'x-envoy-exchange': 'done' }, call('echo'));
    expect(got.streams).toBe(1);
  });
});
