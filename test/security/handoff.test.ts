// Issue 9.3, through the real pinned Envoy in both modes: ext_proc acts only on a handoff toolgate's own Check
// signed for this very request. An attacker who reaches toolgate's gRPC port and opens a Process stream with
// forged, mis-signed or replayed ext_authz metadata gets an immediate 403: no backend session id, no sealed
// token, no backend request (no initialize, no call). The normal flows through Envoy keep working.
import { randomBytes } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extProcClient, type Msg } from '../contract/extproc-client.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { connectAs, eventually, post, bearer } from '../e2e/helpers/client.js';
import { startGatewayStack, SUPPORT_CLAIMS, type GatewayStack } from '../e2e/helpers/gateway-stack.js';
import { startStack, type Stack, type TasksConfig } from '../e2e/helpers/toolgate.js';
import { captureHandoff, headersToolgateSent, immediate, newRequestId, requestBody, requestHeaders } from './handoff-clients.js';

printLogsOnFailure();

const VICTIM = 'victim-7';
const ATTACKER_BACKEND_SID = 'attacker-chosen-backend-session';

/** Attack metadata for one request id (and, for captured handoffs, the body they were captured with). */
interface Forgery {
  readonly name: string;
  /** The metadata to present on a stream whose request id is `requestId`. */
  make(requestId: string, method: string, target: string | undefined): Promise<Record<string, unknown>>;
}

/** What a refusal must look like: 403, a JSON-RPC error with a sentence, and nothing else toolgate sets. */
function expectRefused(answer: Msg): void {
  const refused = immediate(answer);
  expect(refused, `expected an immediate refusal, got ${JSON.stringify(answer).slice(0, 400)}`).toBeDefined();
  expect(refused?.status).toBe(403);
  expect(refused?.body?.jsonrpc).toBe('2.0');
  expect(refused?.body?.error?.message).toMatch(/authorization check.*not forwarded/i);
}

/** No header toolgate asked for carries a session id of any kind (raw backend id or sealed token). */
function expectNoSessionHeader(answers: readonly Msg[], rawIds: readonly string[]): void {
  const sent = headersToolgateSent(answers);
  expect(sent['mcp-session-id'], 'toolgate handed out a session id').toBeUndefined();
  const everything = JSON.stringify(answers.map((a) => ({ ...a, immediate_response: a.immediate_response ? { ...a.immediate_response, body: Buffer.from(a.immediate_response.body ?? '').toString() } : undefined })));
  for (const raw of rawIds) expect(everything).not.toContain(raw);
}

function forgeries(grpcPort: () => number, kid: () => string, victimJwt: () => string, capturedBody: (method: string, target: string | undefined) => string): Forgery[] {
  return [
    {
      name: 'no signature',
      make: async (_rid, method, target) => ({ subject: VICTIM, task: 'support', decision_id: 'forged', method, ...(target ? { target } : {}), tasks: ['support'] }),
    },
    {
      name: 'a wrong signature',
      make: async (rid, method, target) => ({
        subject: VICTIM, task: 'support', decision_id: 'forged', method, ...(target ? { target } : {}), tasks: ['support'],
        request_id: rid, issued_at: Date.now(), handoff_kid: kid(), handoff_mac: randomBytes(32).toString('base64url'),
      }),
    },
    {
      name: 'a valid one replayed for another request id',
      make: async (_rid, method, target) => captureHandoff(grpcPort(), { jwt: victimJwt(), requestId: newRequestId(), body: capturedBody(method, target) }),
    },
  ];
}

// ── sidecar ──────────────────────────────────────────────────────────────────

const SIDECAR_TASKS: TasksConfig = {
  support: { tools: [{ tool: 'lookup_charge' }, { tool: 'echo' }, { tool: 'whoami' }] },
};

describe('sidecar mode: forged ext_proc streams straight to toolgate\'s gRPC port', () => {
  let stack: Stack;
  let victimJwt: string;
  let victimToken: string;
  let victimBackendSid: string;
  let proc: ReturnType<typeof extProcClient>;
  let seen: number;

  beforeAll(async () => {
    stack = await startStack({ tasks: SIDECAR_TASKS });
    victimJwt = await stack.idp.mint({ authorized_tasks: ['support'] }, { subject: VICTIM });
    // The victim's real session, opened through Envoy.
    const victim = await connectAs(stack.endpoint, victimJwt);
    victimToken = victim.transport.sessionId as string;
    const who = (await victim.client.callTool({ name: 'whoami', arguments: {} })) as CallToolResult;
    victimBackendSid = (who.structuredContent as { sessionId: string }).sessionId;
    expect(victimToken).not.toBe(victimBackendSid);
    proc = extProcClient(stack.toolgate.grpcPort);
    seen = stack.backend.requests.length;
  });
  afterAll(async () => {
    proc?.close();
    await stack?.stop();
  });

  const cases = forgeries(
    () => stack.toolgate.grpcPort,
    () => 'ephemeral',
    () => victimJwt,
    (method, target) => JSON.stringify(method === 'initialize'
      ? { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } }
      : { jsonrpc: '2.0', id: 1, method, params: { name: target, arguments: {} } }),
  );

  it.each(cases)('$name: presenting the victim\'s session token yields no backend session id', async (forgery) => {
    const rid = newRequestId();
    const s = proc.open();
    const answer = await s.send(requestHeaders(
      { ':method': 'POST', ':path': '/mcp', 'x-request-id': rid, 'mcp-session-id': victimToken, 'mcp-protocol-version': '2025-11-25' },
      await forgery.make(rid, 'tools/call', 'whoami'),
    ));
    s.end();
    expect(stack.backend.requests.length).toBe(seen);
    expectNoSessionHeader([answer], [victimBackendSid]);
    expectRefused(answer);
  });

  it.each(cases)('$name: an initialize answered by a made-up backend session yields no sealed token', async (forgery) => {
    const rid = newRequestId();
    const s = proc.open();
    const first = await s.send(requestHeaders({ ':method': 'POST', ':path': '/mcp', 'x-request-id': rid }, await forgery.make(rid, 'initialize', undefined)));
    const second = await s.send(requestHeaders({ ':status': '200', 'content-type': 'text/event-stream', 'mcp-session-id': ATTACKER_BACKEND_SID }, undefined, 'response_headers'));
    s.end();
    expect(stack.backend.requests.length).toBe(seen);
    expectNoSessionHeader([first, second], [ATTACKER_BACKEND_SID]);
    expectRefused(first);
  });

  it('a stream that starts with response headers (as for a reply Envoy made itself) seals nothing, whatever its metadata says', async () => {
    const s = proc.open();
    const answer = await s.send(requestHeaders(
      { ':status': '200', 'content-type': 'text/event-stream', 'mcp-session-id': ATTACKER_BACKEND_SID },
      { subject: VICTIM, method: 'initialize', decision_id: 'forged' },
      'response_headers',
    ));
    s.end();
    expectNoSessionHeader([answer], [ATTACKER_BACKEND_SID]);
    expect(immediate(answer)).toBeUndefined();
  });

  it('logs each refusal with its reason', async () => {
    await eventually(() => {
      const reasons = new Set(stack.toolgate.records().filter((r) => r.event === 'ext_proc.handoff-refused').map((r) => r.reason));
      return ['missing', 'bad-mac', 'request-id-mismatch'].every((r) => reasons.has(r));
    }, 'handoff refusals logged with reasons missing, bad-mac, request-id-mismatch', 5_000, 50);
  });

  it('still serves the normal flow through Envoy: initialize, list, call, with and without a client-chosen x-request-id', async () => {
    const agent = await connectAs(stack.endpoint, victimJwt);
    try {
      const tools = await agent.client.listTools();
      expect(tools.tools.map((t) => t.name).sort()).toEqual(['echo', 'lookup_charge', 'whoami']);
      const result = (await agent.client.callTool({ name: 'echo', arguments: { text: 'still here' } })) as CallToolResult;
      expect(result.content).toEqual([{ type: 'text', text: 'still here' }]);
      const token = agent.transport.sessionId as string;
      const body = JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'echo', arguments: { text: 'own id' } } });
      const raw = await post(stack.endpoint, body, { ...bearer(victimJwt), 'mcp-session-id': token, 'mcp-protocol-version': '2025-11-25', 'x-request-id': 'client-chosen-request-id' });
      expect(raw.status).toBe(200);
      expect(raw.text).toContain('own id');
    } finally {
      await agent.close();
    }
  });
});

// ── gateway ──────────────────────────────────────────────────────────────────

describe('gateway mode: forged ext_proc streams straight to toolgate\'s gRPC port', () => {
  let stack: GatewayStack;
  let grpcPort: number;
  let victimJwt: string;
  let victimToken: string;
  let victimBackendSid: string;
  let proc: ReturnType<typeof extProcClient>;
  let seen: Record<string, number>;
  const counts = (): Record<string, number> => Object.fromEntries(Object.entries(stack.replicas).map(([n, r]) => [n, r.requests.length]));

  beforeAll(async () => {
    stack = await startGatewayStack();
    grpcPort = Number(stack.envoy.vars.TOOLGATE_GRPC_PORT);
    victimJwt = await stack.idp.mint(SUPPORT_CLAIMS, { subject: VICTIM });
    const victim = await connectAs(stack.endpoint, victimJwt);
    victimToken = victim.transport.sessionId as string;
    const who = (await victim.client.callTool({ name: 'billing.whoami', arguments: {} })) as CallToolResult;
    victimBackendSid = (who.structuredContent as { sessionId: string }).sessionId;
    proc = extProcClient(grpcPort);
    seen = counts();
  });
  afterAll(async () => {
    proc?.close();
    await stack?.stop();
  });

  const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
  const WHOAMI = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'billing.whoami', arguments: {} } });
  const ECHO = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'billing.echo', arguments: { text: 'harmless' } } });

  const cases = forgeries(
    () => grpcPort,
    () => 'k1',
    () => victimJwt,
    (method) => (method === 'initialize' ? INITIALIZE : WHOAMI),
  );

  it.each(cases)('$name: a tools/call with the victim\'s token is not routed with the backend session id', async (forgery) => {
    const rid = newRequestId();
    const s = proc.open();
    const first = await s.send(requestHeaders(
      { ':method': 'POST', ':path': '/mcp', 'x-request-id': rid, 'mcp-session-id': victimToken, 'mcp-protocol-version': '2025-11-25', 'content-type': 'application/json' },
      await forgery.make(rid, 'tools/call', 'billing.whoami'),
    ));
    const answers = [first];
    // On today's code the headers pass and the body is what routes the call: send it as Envoy would.
    if (!immediate(first)) answers.push(await s.send(requestBody(WHOAMI)));
    s.end();
    expect(counts()).toEqual(seen);
    expectNoSessionHeader(answers, [victimBackendSid]);
    expectRefused(first);
  });

  it.each(cases)('$name: an initialize is not fanned out and seals no token', async (forgery) => {
    const rid = newRequestId();
    const s = proc.open();
    const first = await s.send(requestHeaders(
      { ':method': 'POST', ':path': '/mcp', 'x-request-id': rid, 'mcp-protocol-version': '2025-11-25', 'content-type': 'application/json' },
      await forgery.make(rid, 'initialize', undefined),
    ));
    const answers = [first];
    if (!immediate(first)) answers.push(await s.send(requestBody(INITIALIZE)));
    s.end();
    expect(counts()).toEqual(seen);
    expectNoSessionHeader(answers, []);
    expectRefused(first);
  });

  it('a valid handoff replayed with another body (same request id): the body it was not signed for is refused', async () => {
    const rid = newRequestId();
    const captured = await captureHandoff(grpcPort, { jwt: victimJwt, requestId: rid, body: ECHO });
    const s = proc.open();
    const first = await s.send(requestHeaders(
      { ':method': 'POST', ':path': '/mcp', 'x-request-id': rid, 'mcp-session-id': victimToken, 'mcp-protocol-version': '2025-11-25', 'content-type': 'application/json' },
      captured,
    ));
    // The headers are the ones the handoff was signed for: toolgate asks for the body, and sets nothing yet.
    expect(immediate(first)).toBeUndefined();
    const second = await s.send(requestBody(WHOAMI));
    s.end();
    expect(counts()).toEqual(seen);
    expectNoSessionHeader([first, second], [victimBackendSid]);
    expectRefused(second);
  });

  it('a valid handoff replayed with another body that is an initialize: no fan-out, no token', async () => {
    const rid = newRequestId();
    const captured = await captureHandoff(grpcPort, { jwt: victimJwt, requestId: rid, body: ECHO });
    const s = proc.open();
    const first = await s.send(requestHeaders({ ':method': 'POST', ':path': '/mcp', 'x-request-id': rid, 'mcp-protocol-version': '2025-11-25', 'content-type': 'application/json' }, captured));
    const second = immediate(first) ? first : await s.send(requestBody(INITIALIZE));
    s.end();
    expect(counts()).toEqual(seen);
    expectNoSessionHeader([first, second], []);
    expectRefused(second);
  });

  it('control: the same captured handoff with its own request id and body is accepted (what the binding is to)', async () => {
    const rid = newRequestId();
    const captured = await captureHandoff(grpcPort, { jwt: victimJwt, requestId: rid, body: ECHO });
    const s = proc.open();
    const first = await s.send(requestHeaders({ ':method': 'POST', ':path': '/mcp', 'x-request-id': rid, 'mcp-session-id': victimToken, 'mcp-protocol-version': '2025-11-25', 'content-type': 'application/json' }, captured));
    const second = await s.send(requestBody(ECHO));
    s.end();
    expect(immediate(first)).toBeUndefined();
    expect(immediate(second)).toBeUndefined();
    // Accepted means routed: the answer names the backend (Envoy would now send it there).
    expect(headersToolgateSent([second])['x-toolgate-backend']).toBe('billing');
  });

  it('logs each refusal with its reason', async () => {
    await eventually(() => {
      const reasons = new Set(stack.toolgate.records().filter((r) => r.event === 'ext_proc.handoff-refused').map((r) => r.reason));
      return ['missing', 'bad-mac', 'request-id-mismatch', 'body-mismatch'].every((r) => reasons.has(r));
    }, 'handoff refusals logged with reasons missing, bad-mac, request-id-mismatch, body-mismatch', 5_000, 50);
  });

  it('still serves the normal flow through Envoy: initialize fan-out, list, routed call, with a client-chosen x-request-id too', async () => {
    const agent = await connectAs(stack.endpoint, victimJwt);
    try {
      const tools = await agent.client.listTools();
      expect(tools.tools.map((t) => t.name)).toContain('billing.echo');
      const result = (await agent.client.callTool({ name: 'inventory.echo', arguments: { text: 'routed' } })) as CallToolResult;
      expect(result.content).toEqual([{ type: 'text', text: 'routed' }]);
      const token = agent.transport.sessionId as string;
      const raw = await post(stack.endpoint, ECHO, { ...bearer(victimJwt), 'mcp-session-id': token, 'mcp-protocol-version': '2025-11-25', 'x-request-id': 'client-chosen-request-id' });
      expect(raw.status).toBe(200);
      expect(raw.text).toContain('harmless');
    } finally {
      await agent.close();
    }
  });
});
