// Regression: thousands of ext_proc streams on Envoy's one HTTP/2 connection to toolgate must not fail any request.
// Envoy used to reset every finished ext_proc stream; Node treats a flood of resets as an attack and drops the
// connection (~1000 resets), so a few requests per thousand got 503. The rendered bootstrap now closes gracefully.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLogsOnFailure } from '../harness/logs.js';
import { connectAs, type Connected } from './helpers/client.js';
import { startStack, type Stack } from './helpers/toolgate.js';

printLogsOnFailure();

const SESSIONS = 16;
const CALLS_PER_SESSION = 250;

describe('sidecar under sustained load', () => {
  let stack: Stack;
  let clients: Connected[] = [];
  let token: string;
  beforeAll(async () => {
    stack = await startStack({ tasks: { t: { tools: [{ tool: 'echo' }] } }, backend: { enableJsonResponse: true } });
    token = await stack.idp.mint({ authorized_tasks: ['t'] });
    clients = await Promise.all(Array.from({ length: SESSIONS }, () => connectAs(stack.endpoint, token)));
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await stack?.stop();
  });

  it(`answers ${SESSIONS * CALLS_PER_SESSION} session-bound calls with no failure`, async () => {
    const statuses = new Map<number, number>();
    await Promise.all(clients.map(async (c, i) => {
      const headers = {
        authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
        'mcp-session-id': c.transport.sessionId as string, 'mcp-protocol-version': '2025-11-25',
      };
      for (let n = 0; n < CALLS_PER_SESSION; n++) {
        const body = JSON.stringify({ jsonrpc: '2.0', id: n, method: 'tools/call', params: { name: 'echo', arguments: { text: `${i}-${n}` } } });
        const res = await fetch(stack.endpoint, { method: 'POST', headers, body });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    }));
    expect(Object.fromEntries(statuses)).toEqual({ 200: SESSIONS * CALLS_PER_SESSION });
    const stats = await stack.envoy.stats();
    expect(stats['http.mcp.ext_proc.streams_failed'] ?? 0).toBe(0);
    expect(stats['http.mcp.ext_authz.error'] ?? 0).toBe(0);
  }, 120_000);
});
