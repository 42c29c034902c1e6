// Issue 9, point 8: a hung toolgate (process alive, connections open, never answering) must cost the client no
// more than ext_authz's deadline: 503, soon after the 2-s ext_authz timeout, and the backend never called. Through
// the real Envoy with the checked-in bootstraps, sidecar and gateway mode.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLogsOnFailure } from '../harness/logs.js';
import type { McpTestServer } from '../harness/mcp-server.js';
import { bearer, connectAs, POST_HEADERS, toolCall, type Connected } from '../e2e/helpers/client.js';
import { startGatewayStack, SUPPORT_CLAIMS, type GatewayStack } from '../e2e/helpers/gateway-stack.js';
import { startStack, type Stack } from '../e2e/helpers/toolgate.js';

printLogsOnFailure();

/** Well above ext_authz's 2-s timeout and well below ext_proc's 10-s message timeout: the functional deadline. */
const DEADLINE_MS = 6_000;

interface Outcome {
  readonly status: number;
  readonly body: string;
}

/**
 * Freezes toolgate (SIGSTOP: its sockets stay open, nothing is answered), sends one tool call, and thaws it
 * again whatever happened. The fetch is aborted at the deadline, so a late answer fails the test.
 */
async function callWhileHung(pid: number, endpoint: string, headers: Record<string, string>, body: string): Promise<Outcome> {
  process.kill(pid, 'SIGSTOP');
  try {
    const res = await fetch(endpoint, { method: 'POST', headers: { ...POST_HEADERS, ...headers }, body, signal: AbortSignal.timeout(DEADLINE_MS) });
    return { status: res.status, body: await res.text() };
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

function executed(replicas: readonly McpTestServer[], tool: string, text: string): number {
  return replicas.flatMap((r) => r.calls(tool)).filter((c) => c.arguments?.text === text).length;
}

describe('sidecar mode: toolgate hung', () => {
  let stack: Stack;
  let agent: Connected;
  beforeAll(async () => {
    stack = await startStack({ tasks: { t: { tools: [{ tool: 'echo' }] } } });
    agent = await connectAs(stack.endpoint, await stack.idp.mint({ authorized_tasks: ['t'] }));
  });
  afterAll(async () => {
    await agent?.close();
    await stack?.stop();
  });

  it('answers 503 within the ext_authz deadline, and the backend executes nothing', async () => {
    // The session works before toolgate hangs.
    expect((await agent.client.callTool({ name: 'echo', arguments: { text: 'before' } })).content).toEqual([{ type: 'text', text: 'before' }]);
    const pid = stack.toolgate.process()?.pid;
    if (pid === undefined) throw new Error('toolgate is not running');
    const token = await stack.idp.mint({ authorized_tasks: ['t'] });
    const headers = { ...bearer(token), 'mcp-session-id': agent.transport.sessionId ?? '' };

    const outcome = await callWhileHung(pid, stack.endpoint, headers, toolCall('echo', { text: 'while hung' }));

    expect(outcome.status).toBe(503);
    expect(executed([stack.backend], 'echo', 'while hung')).toBe(0);
    expect(await stack.envoy.stat('http.mcp.ext_authz.error')).toBeGreaterThanOrEqual(1);
    // ext_proc was not consulted about ext_authz's own 503 (it would wait 10 s on the hung toolgate, then say 504).
    expect(await stack.envoy.stat('http.mcp.ext_proc.message_timeouts')).toBe(0);
    // Thawed, toolgate serves the same session again.
    expect((await agent.client.callTool({ name: 'echo', arguments: { text: 'after' } })).content).toEqual([{ type: 'text', text: 'after' }]);
  });
});

describe('gateway mode: toolgate hung', () => {
  let stack: GatewayStack;
  let agent: Connected;
  beforeAll(async () => {
    stack = await startGatewayStack();
    agent = await connectAs(stack.endpoint, await stack.idp.mint(SUPPORT_CLAIMS));
  });
  afterAll(async () => {
    await agent?.close();
    await stack?.stop();
  });

  it('answers 503 within the ext_authz deadline, and no backend executes anything', async () => {
    expect((await agent.client.callTool({ name: 'billing.echo', arguments: { text: 'before' } })).content).toEqual([{ type: 'text', text: 'before' }]);
    const token = await stack.idp.mint(SUPPORT_CLAIMS);
    const headers = { ...bearer(token), 'mcp-session-id': agent.transport.sessionId ?? '' };

    const outcome = await callWhileHung(stack.toolgate.process.pid, stack.endpoint, headers, toolCall('billing.echo', { text: 'while hung' }));

    expect(outcome.status).toBe(503);
    expect(executed(Object.values(stack.replicas), 'echo', 'while hung')).toBe(0);
    expect(await stack.envoy.stat('http.mcp.ext_authz.error')).toBeGreaterThanOrEqual(1);
    expect(await stack.envoy.stat('http.mcp.ext_proc.message_timeouts')).toBe(0);
    expect((await agent.client.callTool({ name: 'billing.echo', arguments: { text: 'after' } })).content).toEqual([{ type: 'text', text: 'after' }]);
  });
});
