// Acceptance, 2026-07-28 fast path, on the checked-in envoy/sidecar.yaml (rendered from examples/sidecar.yaml, which
// declares its server 2026-capable): a tools/call whose policy reads no arguments is routed on its Mcp-* headers
// alone — neither ext_authz nor ext_proc receives its body, Envoy's MCP filter checks it against the headers — while
// a call whose policy reads arguments has its body buffered and judged.
// (The checked-in gateway.yaml has no fast-path route: its backends are all `prefixMode: always`, so every name is
// rewritten in the body.) Evidence: Envoy's own per-stream debug log and ext_proc message counters, and toolgate's
// decisions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EnvoyInstance } from '../harness/envoy.js';
import { startEnvoy } from '../harness/envoy.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { startMcpServer, type McpTestServer } from '../harness/mcp-server.js';
import { freePort } from '../harness/ports.js';
import { bearer, post, toolCall, type RawAnswer } from './helpers/client.js';
import { eventually } from '../harness/eventually.js';
import { toolgateConfigText, type TasksConfig } from './helpers/toolgate.js';
import { startToolgate, type Toolgate } from '../harness/toolgate.js';

printLogsOnFailure();

// The same split as examples/sidecar.yaml, which the rendered routes were generated from: lookup_charge is judged
// without arguments (it has a fast-path route), refund by its amount (it has none).
const TASKS: TasksConfig = {
  'refund-support': {
    tools: [
      { tool: 'lookup_charge' },
      { tool: 'refund', when: 'mcp.arguments.amount <= jwt.refund_limit', message: 'Refunds above {{jwt.refund_limit}} need a human approver. Do not retry.' },
    ],
  },
};
const BUFFERING = 'ext_authz filter is buffering the request';
/** A 2026-07-28 request states the client's capabilities in `_meta` (there is no initialize); Envoy's MCP filter requires it. */
const META_2026 = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const call2026Body = (name: string, args: Record<string, unknown>, id: string) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, _meta: META_2026 } });

let backend: McpTestServer;
let envoy: EnvoyInstance;
let idp: TestIdp;
let toolgate: Toolgate;
let jwt: string;
beforeAll(async () => {
  backend = await startMcpServer({ replicaId: 'backend' });
  const grpcPort = await freePort();
  envoy = await startEnvoy({
    name: 'envoy (sidecar.yaml)',
    vars: { TOOLGATE_GRPC_PORT: grpcPort, BACKEND_PORT: backend.port },
    // Envoy's per-stream trace of what each filter did with the body.
    extraArgs: ['--component-log-level', 'ext_authz:debug,ext_proc:debug'],
  });
  idp = await startTestIdp({ audience: `${envoy.url}/mcp` });
  toolgate = await startToolgate({ config: (ports) => toolgateConfigText({ envoyUrl: envoy.url, idp, tasks: TASKS }, ports), grpcPort });
  jwt = await idp.mint({ authorized_tasks: ['refund-support'], refund_limit: 100 });
});
afterAll(async () => {
  await toolgate?.dispose();
  await idp?.stop();
  await envoy?.stop();
  await backend?.stop();
});

interface Traced {
  readonly res: RawAnswer;
  /** Envoy's ext_authz/ext_proc debug lines for this one request. */
  readonly trace: string[];
  /** ext_proc messages Envoy sent toolgate for it (headers, body, response headers: one each). */
  readonly extProcMessages: number;
}

/** One 2026 tools/call, with what Envoy's filters did for it. Requests run one at a time, so deltas belong to it. */
async function call2026(name: string, body: string): Promise<Traced> {
  const logFrom = envoy.logs().length;
  const sentBefore = await envoy.stat('http.mcp.ext_proc.stream_msgs_sent');
  const doneBefore = await envoy.stat('http.mcp.downstream_rq_completed');
  const res = await post(`${envoy.url}/mcp`, body, {
    ...bearer(jwt), 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': name,
  });
  // ext_proc is switched off on sidecar fast-path routes, and not called at all for ext_authz's own refusals (it asks
  // for no response headers by default): the request itself is what to wait for.
  await envoy.waitForStat('http.mcp.downstream_rq_completed', (v) => v > doneBefore);
  // Envoy logs the ext_proc filter's teardown last (it is torn down even where the route turned it off); the log
  // reaches the harness through a pipe, a little later.
  await eventually(() => /onDestroy/.test(envoy.logs().slice(logFrom)), 'ext_proc filter teardown logged', 5_000, 25);
  const trace = envoy.logs().slice(logFrom).split('\n').filter((l) => /ext_authz|ext_proc/.test(l));
  return { res, trace, extProcMessages: (await envoy.stat('http.mcp.ext_proc.stream_msgs_sent')) - sentBefore };
}

const reachedBackend = (marker: string) => backend.calls().filter((c) => JSON.stringify(c.body).includes(marker));

describe('a 2026 tools/call whose policy reads no arguments (lookup_charge: a fast-path route)', () => {
  it('is routed on its headers: ext_authz does not buffer the body, ext_proc is not called at all', async () => {
    const { res, trace, extProcMessages } = await call2026('lookup_charge', call2026Body('lookup_charge', { charge_id: 'ch_fast' }, 'fast-1'));
    expect(trace.some((l) => l.includes(BUFFERING))).toBe(false);
    expect(trace.some((l) => l.includes('Sending headers message'))).toBe(false);
    expect(trace.some((l) => l.includes('Sending a body chunk'))).toBe(false);
    expect(extProcMessages).toBe(0);
    // Allowed and routed: the backend got the request, body intact. (The harness server speaks 2025 only and answers
    // the 2026 request with its own 400; toolgate did not answer.)
    const [seen] = reachedBackend('ch_fast');
    expect(seen?.headers['mcp-name']).toBe('lookup_charge');
    expect(seen?.arguments).toEqual({ charge_id: 'ch_fast' });
    expect(res.headers.get('x-toolgate-decision-id')).toBeNull();
  });

  it('a body that disagrees with Mcp-Name is refused by Envoy (HTTP 400, JSON-RPC -32020) and never reaches the backend', async () => {
    // Envoy's MCP filter reads the body on this route instead of toolgate, before ext_authz: nothing is judged or charged.
    const { res, trace } = await call2026('lookup_charge', call2026Body('echo', { text: 'mismatch-fast' }, 'fast-2'));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ id: 'fast-2', error: { code: -32020 } });
    expect(trace.some((l) => l.includes(BUFFERING))).toBe(false);
    expect(reachedBackend('mismatch-fast')).toEqual([]);
  });
});

describe('a 2026 tools/call whose policy reads arguments (refund: no fast-path route)', () => {
  it('has its body buffered for ext_authz, which judges the amount', async () => {
    const denied = await call2026('refund', toolCall('refund', { amount: 500, charge_id: 'ch_slow' }, 'slow-1'));
    expect(denied.trace.some((l) => l.includes(BUFFERING))).toBe(true);
    expect(denied.res.status).toBe(200);
    expect(denied.res.json).toMatchObject({
      id: 'slow-1',
      result: { isError: true, content: [{ type: 'text', text: 'Refunds above 100 need a human approver. Do not retry.' }], structuredContent: { code: 'condition-failed' } },
    });
    expect(reachedBackend('ch_slow')).toEqual([]);
    // ext_authz answered the denial itself: no ext_proc message for it.
    expect(denied.extProcMessages).toBe(0);

    const allowed = await call2026('refund', toolCall('refund', { amount: 40, charge_id: 'ch_ok' }, 'slow-2'));
    expect(allowed.trace.some((l) => l.includes(BUFFERING))).toBe(true);
    expect(reachedBackend('ch_ok').map((c) => c.arguments)).toEqual([{ amount: 40, charge_id: 'ch_ok' }]);
    // ext_authz finishes a sidecar tools/call itself (it has no session to swap on 2026): Envoy skips ext_proc, so
    // not even a headers message is sent (docs/envoy.md, fact 27). Before issue 10 this was 1: the request headers.
    expect(allowed.extProcMessages).toBe(0);
  });

  it('checks the body against the headers: a mismatch is HTTP 400, JSON-RPC -32020', async () => {
    const { res, trace } = await call2026('refund', toolCall('echo', { text: 'mismatch-slow' }, 'slow-3'));
    expect(trace.some((l) => l.includes(BUFFERING))).toBe(true);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ id: 'slow-3', error: { code: -32020, message: expect.stringContaining('Mcp-Name') } });
    expect(reachedBackend('mismatch-slow')).toEqual([]);
  });
});
