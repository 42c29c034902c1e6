// Acceptance: MCP SDK client → real Envoy (envoy/sidecar.yaml) → toolgate ext_authz (built CLI) → MCP SDK server.
// Identity, task/tool/transaction decisions, request shape, 2026 headers and the audit log, as a client sees them.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { BadTokens } from '../harness/jwt.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { bearer, connectAs, get, post, toolCall, type Connected } from './helpers/client.js';
import { startStack, type Stack, type TasksConfig } from './helpers/toolgate.js';

printLogsOnFailure();

const TASKS: TasksConfig = {
  'refund-support': {
    description: 'Answer a customer refund request',
    tools: [
      { tool: 'lookup_charge' },
      { tool: 'echo' },
      {
        tool: 'refund',
        when: 'mcp.arguments.amount <= jwt.refund_limit',
        message: 'Refunds above {{jwt.refund_limit}} need a human approver. Do not retry; hand the case over.',
      },
    ],
  },
};
const CLAIMS = { authorized_tasks: ['refund-support'], refund_limit: 100 };

let stack: Stack;
let token: string;
beforeAll(async () => {
  stack = await startStack({ tasks: TASKS });
  token = await stack.idp.mint(CLAIMS);
});
afterAll(async () => {
  await stack?.stop();
});

/** The denial text and code an agent reads from a refused tools/call. */
function denial(result: CallToolResult): { text: string; code: unknown; decisionId: unknown } {
  expect(result.isError).toBe(true);
  const [first] = result.content;
  expect(first?.type).toBe('text');
  const structured = result.structuredContent ?? {};
  return { text: first?.type === 'text' ? first.text : '', code: structured.code, decisionId: structured.decisionId };
}

describe('tools/call through Envoy + toolgate (MCP SDK client)', () => {
  let agent: Connected;
  beforeAll(async () => {
    agent = await connectAs(stack.endpoint, token);
  });
  afterAll(async () => {
    await agent?.close();
  });

  it('passes an allowed call to the backend and returns its result', async () => {
    const result = (await agent.client.callTool({ name: 'lookup_charge', arguments: { charge_id: 'ch_1' } })) as CallToolResult;
    expect(result.isError).toBeFalsy();
    expect(result.content).toEqual([{ type: 'text', text: 'Charge ch_1: 4200 usd, succeeded.' }]);
    expect(stack.backend.calls('lookup_charge').map((c) => c.arguments)).toEqual([{ charge_id: 'ch_1' }]);
  });

  it('passes a transaction within its limit', async () => {
    const result = (await agent.client.callTool({ name: 'refund', arguments: { amount: 40, charge_id: 'ch_1' } })) as CallToolResult;
    expect(result.content).toEqual([{ type: 'text', text: 'Refunded 40 on ch_1.' }]);
    expect(stack.backend.calls('refund').map((c) => c.arguments?.amount)).toEqual([40]);
  });

  it('never forwards the client token to the backend (no token passthrough)', () => {
    const [call] = stack.backend.calls('lookup_charge');
    expect(call?.headers.authorization).toBeUndefined();
    expect(call?.headers['x-request-id']).toEqual(expect.any(String));
  });

  it('answers a tool outside the task with the agent-facing denial; the backend never sees it', async () => {
    // ext_proc filters tools/list by task, so the agent does not see it; an agent may still try a name it guessed.
    const { tools } = await agent.client.listTools();
    expect(tools.map((t) => t.name)).not.toContain('whoami');

    const result = (await agent.client.callTool({ name: 'whoami', arguments: {} })) as CallToolResult;
    const { text, code, decisionId } = denial(result);
    expect(code).toBe('tool-not-in-task');
    expect(decisionId).toEqual(expect.any(String));
    expect(text).toContain('"whoami" is not part of task "refund-support"');
    expect(text).toContain('lookup_charge, echo, refund');
    expect(text).toMatch(/do not retry/i);
    expect(stack.backend.calls('whoami')).toEqual([]);
  });

  it('answers a transaction over its limit with the configured sentence; the backend never sees it', async () => {
    const result = (await agent.client.callTool({ name: 'refund', arguments: { amount: 500, charge_id: 'ch_1' } })) as CallToolResult;
    const { text, code } = denial(result);
    expect(code).toBe('condition-failed');
    expect(text).toBe('Refunds above 100 need a human approver. Do not retry; hand the case over.');
    expect(result.structuredContent?.policy).toBe('tasks.refund-support.tools[2].when');
    expect(stack.backend.calls('refund').map((c) => c.arguments?.amount)).not.toContain(500);
  });

  it('denies a transaction when the argument the condition needs is missing (an expression error never allows)', async () => {
    const result = (await agent.client.callTool({ name: 'refund', arguments: { charge_id: 'ch_1' } })) as CallToolResult;
    const { text, code } = denial(result);
    expect(code).toBe('expression-error');
    expect(text).toContain('no argument `amount`');
    expect(stack.backend.calls('refund').filter((c) => c.arguments?.amount === undefined)).toEqual([]);
  });
});

describe('identity: 401 with a resource_metadata challenge (plain HTTP through Envoy)', () => {
  const body = toolCall('echo', { text: 'hi' });

  it('answers a request without a token with 401 and WWW-Authenticate pointing at the metadata URL', async () => {
    const before = stack.backend.requests.length;
    const res = await post(stack.endpoint, body);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${stack.metadataUrl}"`);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', error: { message: expect.stringMatching(/bearer token/) } });
    expect(stack.backend.requests.length).toBe(before);
  });

  it.each<[string, keyof BadTokens]>([
    ['expired', 'expired'],
    ['not yet valid', 'notYetValid'],
    ['from the wrong issuer', 'wrongIssuer'],
    ['for another audience', 'wrongAudience'],
    ['with a bad signature', 'badSignature'],
    ['with alg: none', 'algNone'],
    ['signed by an unknown kid', 'unknownKid'],
    ['HS256 keyed with the public key', 'algConfusion'],
  ])('answers 401 invalid_token to a token %s; the backend sees nothing', async (_label, kind) => {
    const bad = await stack.idp.bad[kind](CLAIMS);
    const before = stack.backend.requests.length;
    const res = await post(stack.endpoint, body, bearer(bad));
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(new RegExp(`^Bearer resource_metadata="${escape(stack.metadataUrl)}", error="invalid_token", error_description="[^"]+"$`));
    expect(stack.backend.requests.length).toBe(before);
  });

  it('serves the protected-resource metadata through Envoy without a token', async () => {
    const before = stack.backend.requests.length;
    const res = await get(stack.metadataUrl);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.json).toMatchObject({
      resource: stack.endpoint,
      authorization_servers: [stack.idp.issuer],
      bearer_methods_supported: ['header'],
    });
    expect(stack.backend.requests.length).toBe(before);
  });
});

describe('request shape (plain HTTP with a valid token)', () => {
  it.each([
    ['malformed JSON', '{"jsonrpc": "2.0", "id": 1, "method": ', -32700],
    ['a JSON-RPC batch', `[${toolCall('echo', { text: 'a' }, 1)}, ${toolCall('echo', { text: 'b' }, 2)}]`, -32600],
  ])('answers %s with HTTP 400 and JSON-RPC %i; the backend never sees it', async (_label, badBody, code) => {
    const before = stack.backend.requests.length;
    const res = await post(stack.endpoint, badBody, bearer(token));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code, message: expect.any(String) } });
    expect(stack.backend.requests.length).toBe(before);
  });
});

describe('2026-07-28 requests (Mcp-Method / Mcp-Name headers)', () => {
  const headers2026 = (method: string, name: string) => ({
    ...bearer(token),
    'mcp-protocol-version': '2026-07-28',
    'mcp-method': method,
    'mcp-name': name,
  });

  it('passes a tools/call whose headers match its body to the backend', async () => {
    const marker = randomUUID();
    const res = await post(stack.endpoint, toolCall('echo', { text: marker }, 'r-2026'), headers2026('tools/call', 'echo'));
    // The harness server speaks 2025 only, so its own answer is not the point: toolgate did not answer.
    expect(res.headers.get('x-toolgate-decision-id')).toBeNull();
    const seen = stack.backend.calls('echo').find((c) => c.arguments?.text === marker);
    expect(seen?.headers['mcp-method']).toBe('tools/call');
    expect(seen?.headers['mcp-name']).toBe('echo');
    expect(seen?.headers.authorization).toBeUndefined();
  });

  it('answers a header/body mismatch with HTTP 400 and JSON-RPC -32020; the backend never sees it', async () => {
    const marker = randomUUID();
    // refund's policy reads arguments, so its 2026 route keeps the body buffered and toolgate compares the two.
    const res = await post(stack.endpoint, toolCall('echo', { text: marker }, 'r-mismatch'), headers2026('tools/call', 'refund'));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', id: 'r-mismatch', error: { code: -32020, message: expect.stringContaining('Mcp-Name') } });
    expect(stack.backend.calls('echo').find((c) => c.arguments?.text === marker)).toBeUndefined();
  });

  it('denies a tool outside the task with the agent-facing result; the backend never sees it', async () => {
    const before = stack.backend.requests.length;
    const res = await post(stack.endpoint, toolCall('whoami', {}, 'r-denied'), headers2026('tools/call', 'whoami'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-toolgate-decision-id')).toEqual(expect.any(String));
    expect(res.json).toMatchObject({
      jsonrpc: '2.0',
      id: 'r-denied',
      result: { isError: true, content: [{ type: 'text', text: expect.stringMatching(/not part of task.*do not retry/is) }], structuredContent: { code: 'tool-not-in-task' } },
    });
    expect(stack.backend.requests.length).toBe(before);
  });
});

describe('audit log', () => {
  it('writes one record per decision and never the token', async () => {
    const subject = `audit-${randomUUID()}`;
    const auditToken = await stack.idp.mint(CLAIMS, { subject });
    const badToken = await stack.idp.bad.badSignature({ ...CLAIMS, sub: subject });
    const agent = await connectAs(stack.endpoint, auditToken);
    let denied: CallToolResult;
    try {
      await agent.client.callTool({ name: 'echo', arguments: { text: 'audited' } });
      await agent.client.callTool({ name: 'echo', arguments: { text: 'audited again' } });
      denied = (await agent.client.callTool({ name: 'refund', arguments: { amount: 5000, charge_id: 'ch_9' } })) as CallToolResult;
    } finally {
      await agent.close();
    }
    expect((await post(stack.endpoint, toolCall('echo', { text: 'x' }), bearer(badToken))).status).toBe(401);

    const mine = stack.toolgate.decisions().filter((r) => r.subject === subject);
    const calls = mine.filter((r) => r.method === 'tools/call');
    expect(calls.map((r) => [r.tool, r.decision, r.reason])).toEqual([
      ['echo', 'allow', 'allowed'],
      ['echo', 'allow', 'allowed'],
      ['refund', 'deny', 'condition-failed'],
    ]);
    for (const record of mine) {
      expect(record).toMatchObject({ level: 'info', decisionId: expect.any(String), decision: expect.stringMatching(/^(allow|deny)$/), reason: expect.any(String) });
    }
    expect(calls[0]).toMatchObject({ task: 'refund-support', method: 'tools/call', tool: 'echo' });
    // Each decision id appears once: one record per decision, and the denial the agent saw is the one logged.
    const ids = stack.toolgate.decisions().map((r) => r.decisionId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(calls[2]?.decisionId).toBe(denied.structuredContent?.decisionId);
    // The 401 is a decision too, logged without a subject (the token proved nothing).
    expect(stack.toolgate.decisions().some((r) => r.reason === 'token-invalid' && r.detail === 'signature verification failed')).toBe(true);

    const logs = stack.toolgate.logs();
    for (const secret of [auditToken, `Bearer ${auditToken}`, badToken, token, auditToken.split('.')[2] as string]) {
      expect(logs.includes(secret)).toBe(false);
    }
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
