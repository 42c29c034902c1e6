// Gateway mode, server-to-client requests: sampling, elicitation and roots sent by a backend — on a tool call's own
// SSE stream, on the standalone GET stream, or outside any call — reach the MCP SDK client through Envoy and
// toolgate, and the client's answer reaches the backend (and replica) that asked, and no other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { printLogsOnFailure } from '../harness/logs.js';
import type { McpTestServer, RecordedRequest } from '../harness/mcp-server.js';
import { bearer, post } from './helpers/client.js';
import { eventually } from '../harness/eventually.js';
import { OPERATOR_CLAIMS, startGatewayStack, type GatewayStack, type ReplicaName } from './helpers/gateway-stack.js';
import {
  ASK_KINDS, connectAnswering, expectedAnswer, newAskJournal, registerAskTools, type AnsweringClient, type AskKind,
} from './helpers/server-requests.js';

printLogsOnFailure();

const journal = newAskJournal();
let stack: GatewayStack;
let jwt: string;
beforeAll(async () => {
  const askTools = registerAskTools(journal);
  stack = await startGatewayStack({ replicaOptions: (name) => ({ extend: (server) => askTools(server, name) }) });
  jwt = await stack.idp.mint(OPERATOR_CLAIMS);
});
afterAll(async () => {
  await stack?.stop();
});

/** The calls fail fast when an answer is lost, instead of waiting for the SDK's 60 s default. */
const WITHIN = { timeout: 10_000 };

/** Replies (JSON-RPC responses the client POSTed) a replica received. */
const repliesAt = (replica: McpTestServer): RecordedRequest[] =>
  replica.requests.filter((r) => r.httpMethod === 'POST' && r.rpcMethod === undefined && r.rpcId !== undefined);

const allReplicas = (): Array<[ReplicaName, McpTestServer]> => Object.entries(stack.replicas) as Array<[ReplicaName, McpTestServer]>;


/**
 * A client whose GET stream is open at both backends: a message for the standalone stream is dropped by the SDK
 * server while no stream is open, so a test that sends one right after connecting would race the GET.
 */
async function connectWithStream(): Promise<AnsweringClient> {
  const seen = new Map(allReplicas().map(([name, r]) => [name, r.requests.length]));
  const newGets = () => allReplicas().flatMap(([name, r]) => r.requests.slice(seen.get(name) ?? 0).filter((q) => q.httpMethod === 'GET' && q.status === undefined));
  const agent = await connectAnswering(stack.endpoint, jwt);
  await eventually(() => newGets().length >= 2, 'the client\'s GET stream open at both backends', 10_000, 20);
  return agent;
}

function clearAll(): void {
  for (const [, r] of allReplicas()) r.clearRequests();
}

async function askClient(agent: AnsweringClient, tool: string, kind: AskKind, stream: 'request' | 'standalone'): Promise<{ replica: string; answer: string }> {
  const result = (await agent.client.callTool({ name: tool, arguments: { kind, stream } }, undefined, WITHIN)) as CallToolResult;
  expect(result.isError ?? false).toBe(false);
  return result.structuredContent as { replica: string; answer: string };
}

/** The asking replica got exactly the replies it asked for, under its own numeric ids; no other replica got one. */
function expectRepliesOnlyAt(replica: string, count: number): void {
  for (const [name, server] of allReplicas()) {
    const replies = repliesAt(server);
    if (name === replica) {
      expect(replies).toHaveLength(count);
      for (const r of replies) expect(typeof r.rpcId).toBe('number');
    } else {
      expect(replies).toEqual([]);
    }
  }
}

describe.each(['request', 'standalone'] as const)('a request from inside a tool, on the %s stream', (stream) => {
  let agent: AnsweringClient;
  beforeAll(async () => {
    agent = await connectWithStream();
  });
  afterAll(async () => {
    await agent?.close();
  });

  it.each(ASK_KINDS.flatMap((kind) => (['billing', 'inventory'] as const).map((backend) => [kind, backend] as const)))(
    '%s from %s reaches the client, and its answer the replica that asked',
    async (kind, backend) => {
      clearAll();
      agent.asked.length = 0;
      const got = await askClient(agent, `${backend}.ask_client`, kind, stream);
      expect(got.replica.startsWith(backend[0] as string)).toBe(true);
      expect(got.answer).toBe(expectedAnswer(kind, got.replica));
      expect(agent.asked.map((a) => a.kind)).toEqual([kind]);
      // The client saw the gateway's id for it, not the backend's bare number.
      expect(typeof agent.asked[0]?.id).toBe('string');
      expectRepliesOnlyAt(got.replica, 1);
    },
  );
});

describe('two backends asking at once', () => {
  it('routes each answer to its own backend although both backends number their requests alike', async () => {
    const agent = await connectWithStream();
    try {
      clearAll();
      const calls = (['billing', 'inventory'] as const).flatMap((backend) =>
        (['request', 'standalone'] as const).map((stream) => askClient(agent, `${backend}.ask_client`, 'sampling', stream)));
      const answers = await Promise.all(calls);
      for (const got of answers) expect(got.answer).toBe(expectedAnswer('sampling', got.replica));
      expect(new Set(answers.map((a) => a.replica[0]))).toEqual(new Set(['b', 'i']));
      // Four requests, four distinct ids at the client, each answered once at the replica that asked.
      expect(new Set(agent.asked.map((a) => a.id)).size).toBe(4);
      const repliesPerBackend = allReplicas().map(([name, r]) => [name[0], repliesAt(r).length] as const).filter(([, n]) => n > 0);
      expect(repliesPerBackend.reduce((sum, [, n]) => sum + n, 0)).toBe(4);
    } finally {
      await agent.close();
    }
  });
});

describe('a request outside any tool call, on the standalone GET stream', () => {
  it.each(ASK_KINDS)('%s sent with server.request after the call returned reaches the client and comes back', async (kind) => {
    const agent = await connectWithStream();
    try {
      journal.later.length = 0;
      for (const backend of ['billing', 'inventory']) {
        const result = (await agent.client.callTool({ name: `${backend}.ask_later`, arguments: { kind, delay_ms: 300 } }, undefined, WITHIN)) as CallToolResult;
        expect(result.content).toEqual([{ type: 'text', text: 'scheduled' }]);
      }
      await eventually(() => journal.later.length === 2, 'both backends heard the answer to their request', 10_000);
      for (const later of journal.later) expect(later).toEqual({ replica: later.replica, kind, answer: expectedAnswer(kind, later.replica) });
      expect(new Set(journal.later.map((l) => l.replica[0]))).toEqual(new Set(['b', 'i']));
    } finally {
      await agent.close();
    }
  });
});

describe('a reply whose id the gateway did not issue to this session', () => {
  let victim: AnsweringClient;
  let attacker: AnsweringClient;
  let issued: string;
  beforeAll(async () => {
    victim = await connectAnswering(stack.endpoint, jwt);
    attacker = await connectAnswering(stack.endpoint, jwt);
    await askClient(victim, 'billing.ask_client', 'roots', 'request');
    issued = String(victim.asked.at(-1)?.id);
  });
  afterAll(async () => {
    await victim?.close();
    await attacker?.close();
  });

  const reply = (id: unknown, session: string, token = jwt) => post(stack.endpoint, JSON.stringify({ jsonrpc: '2.0', id, result: { roots: [] } }), {
    ...bearer(token),
    'mcp-session-id': session,
    'mcp-protocol-version': '2025-11-25',
  });

  const forged = (): Array<[string, () => unknown]> => [
    ['a bare backend id (0)', () => 0],
    ['a backend outside the configuration', () => issued.replace(/^billing:/, 'payments:')],
    ['another backend of the session with the tag of the first', () => issued.replace(/^billing:/, 'inventory:')],
    ['a changed tag', () => issued.replace(/:([A-Za-z0-9_-])/, (_m, c: string) => `:${c === 'A' ? 'B' : 'A'}`)],
    ['a changed original id', () => issued.replace(/:(\d+)$/, (_m, n: string) => `:${Number(n) + 1}`)],
    ['a string where the original was a number', () => issued.replace(/:(\d+)$/, (_m, n: string) => `:"${n}"`)],
  ];

  it.each(forged().map(([name, make]) => [name, make] as const))('is refused with 400 and reaches no backend: %s', async (_name, make) => {
    clearAll();
    const answer = await reply(make(), attacker.transport.sessionId ?? '');
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
    expect((answer.json as { error: { message: string } }).error.message).toMatch(/not issued to this session/);
    for (const [, r] of allReplicas()) expect(repliesAt(r)).toEqual([]);
  });

  it('is refused when a real id of one session is replayed in another session of the same subject', async () => {
    clearAll();
    const answer = await reply(issued, attacker.transport.sessionId ?? '');
    expect(answer.status).toBe(400);
    for (const [, r] of allReplicas()) expect(repliesAt(r)).toEqual([]);
  });

  it('is refused (404) when another subject presents the session', async () => {
    clearAll();
    const other = await stack.idp.mint(OPERATOR_CLAIMS, { subject: 'someone-else' });
    const answer = await reply(issued, victim.transport.sessionId ?? '', other);
    expect(answer.status).toBe(404);
    for (const [, r] of allReplicas()) expect(repliesAt(r)).toEqual([]);
  });

  it('is refused without a session', async () => {
    clearAll();
    const answer = await post(stack.endpoint, JSON.stringify({ jsonrpc: '2.0', id: issued, result: {} }), { ...bearer(jwt), 'mcp-protocol-version': '2025-11-25' });
    expect(answer.status).toBe(400);
    for (const [, r] of allReplicas()) expect(repliesAt(r)).toEqual([]);
  });
});

describe('a routed call\'s event stream while toolgate reads it', () => {
  it('still delivers progress one notification at a time, before the result', async () => {
    const agent = await connectAnswering(stack.endpoint, jwt);
    const sent = () => stack.envoy.stat('http.mcp.ext_proc.stream_msgs_sent');
    try {
      const before = await sent();
      const progress: number[] = [];
      let done = false;
      const call = agent.client.callTool({ name: 'billing.slow', arguments: { steps: 3, delay_ms: 10, gate: true } }, undefined, {
        ...WITHIN,
        onprogress: (p) => progress.push(p.progress),
      }).then((r) => { done = true; return r; });
      // The tool holds after step 1 until released: a proxy that buffered the stream would deliver nothing yet.
      await eventually(() => progress.length > 0, 'the first progress notification', 10_000, 20);
      expect(progress).toEqual([1]);
      expect(done).toBe(false);
      for (const r of [stack.replicas.b1, stack.replicas.b2]) r.releaseSlow();
      const result = (await call) as CallToolResult;
      expect(result.content).toEqual([{ type: 'text', text: 'done after 3 steps' }]);
      expect(progress).toEqual([1, 2, 3]);
      // Request headers and body, response headers, then the stream's chunks: the events passed through toolgate.
      await stack.envoy.waitForStat('http.mcp.ext_proc.stream_msgs_sent', (v) => v - before >= 3 + 4);
    } finally {
      await agent.close();
    }
  });
});
