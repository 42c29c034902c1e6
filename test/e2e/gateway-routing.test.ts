// Acceptance, gateway mode: MCP SDK client → Envoy (checked-in envoy/gateway.yaml) → toolgate → billing and
// inventory MCP servers, two replicas each. One session token over four backend sessions, prefixed and
// task-filtered lists, sticky routing with the prefix stripped, progress over SSE, and bad input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult, Progress } from '@modelcontextprotocol/sdk/types.js';
import { printLogsOnFailure } from '../harness/logs.js';
import type { McpTestServer } from '../harness/mcp-server.js';
import { bearer, connectAs, post, toolCall, type Connected } from './helpers/client.js';
import {
  BILLING, INVENTORY, OPERATOR_CLAIMS, startGatewayStack, SUPPORT_CLAIMS, tokenHeader, whoami, type GatewayStack, type ReplicaName,
} from './helpers/gateway-stack.js';

printLogsOnFailure();

let stack: GatewayStack;
let jwt: string;
beforeAll(async () => {
  stack = await startGatewayStack();
  jwt = await stack.idp.mint(SUPPORT_CLAIMS);
});
afterAll(async () => {
  await stack?.stop();
});

const replicasOf = (names: readonly ReplicaName[]): McpTestServer[] => names.map((n) => stack.replicas[n]);
/** The replica of a backend that holds a backend session. */
const holder = (names: readonly ReplicaName[], sessionId: string) => replicasOf(names).find((r) => r.sessionIds().includes(sessionId));

describe('one client session over two backends × two replicas', () => {
  let agent: Connected;
  beforeAll(async () => {
    agent = await connectAs(stack.endpoint, jwt);
  });
  afterAll(async () => {
    await agent?.close();
  });

  it('initialize returns ONE Mcp-Session-Id: the toolgate token, not a backend session id', () => {
    const token = agent.transport.sessionId ?? '';
    expect(tokenHeader(token)).toMatchObject({ alg: 'dir', enc: 'A256GCM', kid: 'k1' });
    const backendIds = Object.values(stack.replicas).flatMap((r) => r.sessionIds());
    // One backend session per backend (billing and inventory), created by the initialize fan-out.
    expect(backendIds.length).toBeGreaterThanOrEqual(2);
    expect(backendIds).not.toContain(token);
    expect(agent.client.getServerVersion()).toMatchObject({ name: 'toolgate' });
  });

  it('lists both backends\' tools under their prefixes, only those the caller\'s task allows', async () => {
    const { tools } = await agent.client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([
      'billing.echo', 'billing.lookup_charge', 'billing.refund', 'billing.slow', 'billing.whoami',
      'inventory.echo', 'inventory.whoami',
    ]);
  });

  it('routes billing.whoami to billing, always to the same replica, with the prefix stripped', async () => {
    const first = await whoami(agent, 'billing.whoami');
    expect(BILLING).toContain(first.replica);
    const seen = [first];
    for (let i = 0; i < 11; i++) seen.push(await whoami(agent, 'billing.whoami'));
    expect(new Set(seen.map((s) => s.replica))).toEqual(new Set([first.replica]));
    expect(new Set(seen.map((s) => s.sessionId))).toEqual(new Set([first.sessionId]));

    // The replica that answered is the one whose session the initialize fan-out created.
    const pinned = stack.replicas[first.replica];
    expect(holder(BILLING, first.sessionId)).toBe(pinned);
    const calls = pinned.calls().filter((c) => c.sessionId === first.sessionId);
    expect(calls.map((c) => c.toolName)).toEqual(Array(12).fill('whoami'));
    for (const call of calls) {
      expect((call.body as { params: { name: string } }).params.name).toBe('whoami');
      expect(call.headers.authorization).toBeUndefined();
      expect(call.headers['mcp-session-id']).toBe(first.sessionId);
    }
    const other = replicasOf(BILLING).find((r) => r !== pinned);
    expect(other?.calls().filter((c) => c.sessionId === first.sessionId)).toEqual([]);
    for (const replica of replicasOf(INVENTORY)) expect(replica.calls('whoami').filter((c) => c.sessionId === first.sessionId)).toEqual([]);
  });

  it('routes inventory.whoami to inventory, and sent notifications/initialized to every backend session', async () => {
    const billing = await whoami(agent, 'billing.whoami');
    const inventory = await whoami(agent, 'inventory.whoami');
    expect(INVENTORY).toContain(inventory.replica);
    for (const { names, id } of [{ names: BILLING, id: billing.sessionId }, { names: INVENTORY, id: inventory.sessionId }]) {
      const replica = holder(names, id);
      expect(replica).toBeDefined();
      const methods = replica?.requests.filter((r) => r.sessionId === id).map((r) => r.rpcMethod);
      expect(methods?.[0]).toBe('notifications/initialized');
      // initialize itself carries no session id; it is the request just before, on the same replica.
      const initialized = replica?.requests.findIndex((r) => r.sessionId === id) ?? -1;
      expect(replica?.requests[initialized - 1]?.rpcMethod).toBe('initialize');
    }
  });

  it('sends a routed call\'s body to ext_proc (it names the backend): headers and body, not the response headers', async () => {
    // The contrast to the 2026 fast path (gateway-fastpath.test.ts): gateway.yaml buffers every request body for
    // ext_proc, which reads the prefixed name, rewrites it and sets x-toolgate-backend. The backend's own session id
    // on the response is overwritten by ext_authz (response_headers_to_add), so ext_proc skips the response.
    const sent = () => stack.envoy.stat('http.mcp.ext_proc.stream_msgs_sent');
    const closed = await stack.envoy.stat('http.mcp.ext_proc.streams_closed');
    const before = await sent();
    const sessionToken = agent.transport.sessionId;
    await whoami(agent, 'inventory.whoami');
    await stack.envoy.waitForStat('http.mcp.ext_proc.streams_closed', (v) => v > closed);
    expect((await sent()) - before).toBe(2);
    // And the client still holds toolgate's token, not the replica's own session id.
    expect(agent.transport.sessionId).toBe(sessionToken);
  });

  it('passes a denied tool by the task policy neither to billing nor to inventory', async () => {
    const before = Object.values(stack.replicas).map((r) => r.calls().length);
    const result = (await agent.client.callTool({ name: 'billing.add', arguments: { a: 1, b: 2 } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ code: 'tool-not-in-task' });
    expect(Object.values(stack.replicas).map((r) => r.calls().length)).toEqual(before);
  });
});

describe('a second session', () => {
  it('gets its own token and backend sessions (it may land on either replica)', async () => {
    const one = await connectAs(stack.endpoint, jwt);
    const two = await connectAs(stack.endpoint, jwt);
    try {
      expect(one.transport.sessionId).not.toBe(two.transport.sessionId);
      const [a, b] = [await whoami(one, 'billing.whoami'), await whoami(two, 'billing.whoami')];
      expect(a.sessionId).not.toBe(b.sessionId);
      expect(BILLING).toContain(b.replica);
    } finally {
      await Promise.all([one.close(), two.close()]);
    }
  });
});

describe('DELETE', () => {
  it('ends every backend session; the token is no longer usable', async () => {
    const agent = await connectAs(stack.endpoint, jwt);
    try {
      const billing = await whoami(agent, 'billing.whoami');
      const inventory = await whoami(agent, 'inventory.whoami');
      const token = agent.transport.sessionId as string;
      await agent.transport.terminateSession();

      for (const { names, id } of [{ names: BILLING, id: billing.sessionId }, { names: INVENTORY, id: inventory.sessionId }]) {
        const deletes = replicasOf(names).flatMap((r) => r.requests.filter((q) => q.httpMethod === 'DELETE' && q.sessionId === id));
        expect(deletes).toHaveLength(1);
        expect(deletes[0]?.status).toBe(200);
        expect(holder(names, id)).toBeUndefined();
      }
      const after = await post(stack.endpoint, toolCall('billing.whoami', {}), {
        ...bearer(jwt), 'mcp-session-id': token, 'mcp-protocol-version': '2025-11-25',
      });
      expect(after.status).toBe(404);
    } finally {
      await agent.close();
    }
  });
});

describe('a long tool call streams its progress over SSE', () => {
  it('delivers the first progress notification before the call completes', async () => {
    const agent = await connectAs(stack.endpoint, jwt);
    try {
      const progress: Progress[] = [];
      let firstProgress!: () => void;
      const first = new Promise<void>((resolve) => { firstProgress = resolve; });
      let done = false;
      const call = agent.client.callTool(
        { name: 'billing.slow', arguments: { steps: 3, delay_ms: 10, gate: true } },
        undefined,
        { onprogress: (p) => { progress.push(p); firstProgress(); }, timeout: 30_000 },
      ).finally(() => { done = true; });

      // The backend holds the call after step 1 until released: a proxy that buffered the response would hang here.
      await first;
      expect(done).toBe(false);
      expect(progress).toHaveLength(1);
      for (const replica of replicasOf(BILLING)) replica.releaseSlow();

      const result = (await call) as CallToolResult;
      expect(result.content).toEqual([{ type: 'text', text: 'done after 3 steps' }]);
      expect(progress.map((p) => [p.progress, p.total])).toEqual([[1, 3], [2, 3], [3, 3]]);
      expect(replicasOf(BILLING).flatMap((r) => r.calls('slow'))).toHaveLength(1);
    } finally {
      await agent.close();
    }
  });
});

describe('bad input through Envoy (a valid bearer token and session)', () => {
  let agent: Connected;
  let headers: Record<string, string>;
  beforeAll(async () => {
    agent = await connectAs(stack.endpoint, jwt);
    headers = { ...bearer(jwt), 'mcp-session-id': agent.transport.sessionId as string, 'mcp-protocol-version': '2025-11-25' };
  });
  afterAll(async () => {
    await agent?.close();
  });

  // The client's GET stream opens backend streams of its own, at its own pace: only JSON-RPC traffic counts here.
  const backendRequests = () => Object.values(stack.replicas).reduce((n, r) => n + r.requests.filter((q) => q.httpMethod !== 'GET').length, 0);

  it.each([
    ['malformed JSON', '{"jsonrpc": "2.0", "id": 1, "method": ', -32700, /not valid JSON/],
    ['a JSON-RPC batch', `[${toolCall('billing.echo', { text: 'a' }, 1)}, ${toolCall('billing.echo', { text: 'b' }, 2)}]`, -32600, /batches are not supported.*one message per request/],
  ])('answers %s with HTTP 400 and JSON-RPC %i; no backend sees it', async (_label, body, code, message) => {
    const before = backendRequests();
    const res = await post(stack.endpoint, body, headers);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code, message: expect.stringMatching(message) } });
    expect(backendRequests()).toBe(before);
  });

  it('answers a body over policy.maxBodyBytes (1 MiB in the rendered file) with 413 from Envoy', async () => {
    const before = backendRequests();
    const big = toolCall('billing.echo', { text: 'x'.repeat(1.5 * 1024 * 1024) });
    const res = await post(stack.endpoint, big, headers);
    expect(res.status).toBe(413);
    expect(res.text).toBe('Payload Too Large');
    expect(backendRequests()).toBe(before);
    await stack.envoy.waitForStat('http.mcp.downstream_rq_too_large', (v) => v >= 1);
  });

  it('names the known backends when a tool\'s prefix is no backend (for a task that allows any name)', async () => {
    const operator = await connectAs(stack.endpoint, await stack.idp.mint(OPERATOR_CLAIMS, { subject: 'operator-1' }));
    try {
      const before = backendRequests();
      const failure = await operator.client.callTool({ name: 'nope.echo', arguments: { text: 'hi' } }).then(() => undefined, (err: unknown) => err);
      expect(failure).toMatchObject({
        code: -32602,
        message: expect.stringMatching(/Unknown tool "nope\.echo"\. This gateway serves the backends billing, inventory; names start with one of "billing\.", "inventory\."/),
      });
      // Before answering, toolgate refreshed its name index (a tools/list fan-out); no call went anywhere.
      expect(backendRequests() - before).toBeLessThanOrEqual(2);
      expect(Object.values(stack.replicas).flatMap((r) => r.calls())).not.toContainEqual(expect.objectContaining({ toolName: 'echo', arguments: { text: 'hi' } }));
    } finally {
      await operator.close();
    }
  });

  it('answers the same unknown name with the task denial for a caller whose task does not allow it', async () => {
    const result = (await agent.client.callTool({ name: 'nope.echo', arguments: { text: 'hi' } })) as CallToolResult;
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ code: 'tool-not-in-task' });
  });

  it('still serves calls afterwards (nothing crashed)', async () => {
    expect(stack.toolgate.process()?.isRunning()).toBe(true);
    const result = (await agent.client.callTool({ name: 'billing.echo', arguments: { text: 'still here' } })) as CallToolResult;
    expect(result.content).toEqual([{ type: 'text', text: 'still here' }]);
    expect(stack.toolgate.records().filter((r) => r.level === 'error' || r.level === 'fatal')).toEqual([]);
  });
});
