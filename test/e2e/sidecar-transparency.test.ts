// Acceptance: sidecar mode is transparent. One scripted MCP SDK client session through every MCP feature gives
// the same transcript directly against the server and through Envoy (ext_authz + ext_proc) + toolgate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { bearer, connectAs, post, type Connected } from './helpers/client.js';
import { eventually } from '../harness/eventually.js';
import {
  ELICITED, FEATURE_METHODS, FEATURE_PROMPTS, FEATURE_RESOURCES, FEATURE_TOOLS, HARNESS_TOOLS, ROOTS, SAMPLED,
  registerFeatures, runScenario, type TranscriptEntry,
} from './helpers/features.js';
import { startStack, type Stack, type TasksConfig } from './helpers/toolgate.js';

printLogsOnFailure();

const TASKS: TasksConfig = {
  // Everything the scenario uses, so that any difference between the transcripts is toolgate's fault.
  everything: {
    tools: [...HARNESS_TOOLS, ...FEATURE_TOOLS].map((tool) => ({ tool })),
    prompts: [...FEATURE_PROMPTS],
    resources: [...FEATURE_RESOURCES],
    methods: [...FEATURE_METHODS],
  },
  narrow: {
    tools: [{ tool: 'echo' }, { tool: 'add' }],
    prompts: ['greeting'],
    resources: ['docs://*'],
  },
};

let stack: Stack;
let everything: string;
let narrow: string;
beforeAll(async () => {
  stack = await startStack({ tasks: TASKS, backend: { extend: registerFeatures } });
  everything = await stack.idp.mint({ authorized_tasks: ['everything'] });
  narrow = await stack.idp.mint({ authorized_tasks: ['narrow'] });
});
afterAll(async () => {
  await stack?.stop();
});

const outcome = (transcript: readonly TranscriptEntry[], step: string): unknown => transcript.find((e) => e.step.startsWith(step))?.outcome;

describe('one MCP session through every feature', () => {
  let direct: TranscriptEntry[];
  let proxied: TranscriptEntry[];
  let clientSessionId: string | undefined;
  beforeAll(async () => {
    direct = await runScenario(stack.backend.url);
    stack.backend.clearRequests();
    proxied = await runScenario(stack.endpoint, {
      headers: bearer(everything),
      onConnected: (transport) => { clientSessionId = transport.sessionId; },
    });
  });

  it('works directly against the MCP server (the reference transcript is a real one)', () => {
    expect(direct.filter((e) => typeof e.outcome === 'object' && e.outcome !== null && 'error' in e.outcome)).toEqual([]);
    expect(outcome(direct, 'standalone GET stream')).toEqual({ delivered: true });
    expect(outcome(direct, 'tools/call slow')).toMatchObject({ progress: [{ progress: 1 }, { progress: 2 }, { progress: 3 }] });
    expect(outcome(direct, 'tools/call chatty')).toMatchObject({
      logs: ['info', 'notice', 'warning', 'error'].map((level) => ({ level, logger: 'chatty' })),
    });
    expect(outcome(direct, 'completion/complete prompt')).toMatchObject({ completion: { values: ['Paris', 'Patagonia'] } });
    expect(outcome(direct, 'completion/complete template')).toMatchObject({ completion: { values: ['lyon', 'lille'] } });
    expect(outcome(direct, 'resources/subscribe')).toMatchObject({ updated: [{ uri: 'cities://fr/lyon' }] });
    const said = (SAMPLED.content as { text: string }).text;
    expect(outcome(direct, 'tools/call sample → sampling/createMessage (request')).toMatchObject({ result: { content: [{ text: said }] } });
    expect(outcome(direct, 'tools/call sample → sampling/createMessage (standalone')).toMatchObject({ result: { content: [{ text: said }] } });
    expect(outcome(direct, 'tools/call ask')).toMatchObject({ result: { structuredContent: { action: 'accept', content: ELICITED.content } } });
    expect(outcome(direct, 'tools/call roots')).toMatchObject({ result: { structuredContent: ROOTS }, asked: 1 });
    expect(outcome(direct, 'ids of the server')).toEqual([expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number)]);
    expect(outcome(direct, 'DELETE')).toEqual({ sessionCleared: true, statusAfterDelete: 404 });
  });

  it('gives the identical transcript through Envoy + toolgate', () => {
    expect(proxied).toEqual(direct);
  });

  it('shows the client toolgate\'s sealed token while the backend gets its own session id', () => {
    const backendIds = new Set(stack.backend.requests.flatMap((r) => (r.sessionId ? [r.sessionId] : [])));
    expect(backendIds.size).toBe(1);
    expect(clientSessionId).toEqual(expect.any(String));
    expect(backendIds.has(clientSessionId as string)).toBe(false);
    const [backendId] = backendIds;
    expect(clientSessionId).not.toContain(backendId);
    // Every request after initialize (POSTs, replies to sampling/elicitation, the GET stream, DELETE) carried it.
    const afterInit = stack.backend.requests.filter((r) => r.rpcMethod !== 'initialize');
    expect(afterInit.length).toBeGreaterThan(20);
    expect(afterInit.filter((r) => r.sessionId !== backendId).map((r) => `${r.httpMethod} ${r.rpcMethod ?? ''}`)).toEqual([]);
    expect(new Set(afterInit.map((r) => r.httpMethod))).toEqual(new Set(['POST', 'GET', 'DELETE']));
  });

  it('lets the client\'s JSON-RPC replies (sampling, elicitation, roots) through as replies, not as calls', () => {
    const replies = stack.backend.requests.filter((r) => r.httpMethod === 'POST' && r.rpcMethod === undefined);
    expect(replies.map((r) => r.body)).toEqual([
      expect.objectContaining({ result: expect.objectContaining({ model: SAMPLED.model }) }),
      expect.objectContaining({ result: expect.objectContaining({ model: SAMPLED.model }) }),
      expect.objectContaining({ result: ELICITED }),
      expect.objectContaining({ result: ROOTS }),
    ]);
    expect(replies.every((r) => r.status === 202)).toBe(true);
    const housekept = stack.toolgate.decisions().filter((d) => d.method === undefined && d.decision === 'allow' && d.reason === 'housekeeping');
    // Four replies, the GET stream and the DELETE carry no JSON-RPC method.
    expect(housekept.length).toBeGreaterThanOrEqual(5);
  });
});

describe('the standalone GET stream through Envoy', () => {
  let agent: Connected;
  beforeAll(async () => {
    agent = await connectAs(stack.endpoint, everything);
  });
  afterAll(async () => {
    await agent?.close();
  });

  it('delivers a server-initiated notification sent outside any request', async () => {
    let changed = 0;
    agent.client.setNotificationHandler(ToolListChangedNotificationSchema, () => { changed++; });
    const backendId = await eventually(() => openStreams().length > 0, 'the backend to see the GET stream').then(() => openStreams()[0]?.sessionId);
    expect(backendId).toBeDefined();
    expect(backendId).not.toBe(agent.transport.sessionId);
    await agent.client.callTool({ name: 'notify', arguments: {} });
    await eventually(() => changed > 0, 'notifications/tools/list_changed through Envoy');
  });

  it('opens as an event stream whose headers carry toolgate\'s token, never the backend\'s id', async () => {
    const init = await post(stack.endpoint, JSON.stringify({
      jsonrpc: '2.0', id: 1, method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }), bearer(everything));
    const token = init.headers.get('mcp-session-id');
    expect(token).toEqual(expect.any(String));
    const controller = new AbortController();
    const res = await fetch(stack.endpoint, {
      headers: { ...bearer(everything), accept: 'text/event-stream', 'mcp-session-id': token as string, 'mcp-protocol-version': '2025-06-18' },
      signal: controller.signal,
    });
    try {
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/event-stream');
      // The SDK server names its session on the GET response; toolgate answers with the client's token instead.
      expect(res.headers.get('mcp-session-id')).toBe(token);
      const backendGet = stack.backend.requests.findLast((r) => r.httpMethod === 'GET');
      expect(stack.backend.sessionIds()).toContain(backendGet?.sessionId);
      expect(backendGet?.sessionId).not.toBe(token);
    } finally {
      controller.abort();
    }
  });

  /** Standalone streams the backend holds open for sessions that are still alive. */
  function openStreams() {
    const live = new Set(stack.backend.sessionIds());
    return stack.backend.requests.filter((r) => r.httpMethod === 'GET' && r.sessionId !== undefined && live.has(r.sessionId) && r.status === undefined);
  }
});

describe('the session id the client holds', () => {
  it('stays toolgate\'s token across responses that echo the backend\'s session id', async () => {
    const agent = await connectAs(stack.endpoint, everything);
    try {
      const token = agent.transport.sessionId;
      expect(token).toEqual(expect.any(String));
      await agent.client.listTools();
      await agent.client.callTool({ name: 'echo', arguments: { text: 'a' } });
      await agent.client.callTool({ name: 'slow', arguments: { steps: 1, delay_ms: 0 } });
      expect(agent.transport.sessionId).toBe(token);
      expect(stack.backend.sessionIds()).not.toContain(token);
    } finally {
      await agent.close();
    }
  });

  it('never reaches the client as the backend\'s id, on any response', async () => {
    const agent = await connectAs(stack.endpoint, everything);
    try {
      const token = agent.transport.sessionId as string;
      const headers = { ...bearer(everything), 'mcp-session-id': token, 'mcp-protocol-version': agent.transport.protocolVersion ?? '' };
      const bodies = [
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
        { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'b' } } },
        { jsonrpc: '2.0', id: 3, method: 'ping' },
      ];
      for (const body of bodies) {
        const res = await post(stack.endpoint, JSON.stringify(body), headers);
        expect(res.status).toBe(200);
        // The SDK server names its session on every SSE response; the client must get its own token back.
        expect(res.headers.get('mcp-session-id')).toBe(token);
      }
    } finally {
      await agent.close();
    }
  });
});

describe('list filtering is the one difference, and it is the policy', () => {
  it('hides what the task may not use through Envoy; the server itself lists it', async () => {
    const direct = await connectAs(stack.backend.url, 'unused');
    const proxied = await connectAs(stack.endpoint, narrow);
    try {
      const names = async (c: Connected) => ({
        tools: (await c.client.listTools()).tools.map((t) => t.name),
        prompts: (await c.client.listPrompts()).prompts.map((p) => p.name),
        resources: (await c.client.listResources()).resources.map((r) => r.uri),
      });
      const all = await names(direct);
      expect(all.tools).toEqual(expect.arrayContaining(['echo', 'add', 'refund', 'sample']));
      expect(all.prompts).toEqual(expect.arrayContaining(['greeting', 'plan_trip']));
      expect(all.resources).toEqual(expect.arrayContaining(['docs://readme', 'demo://info', 'cities://fr/lyon']));

      const seen = await names(proxied);
      expect(seen).toEqual({
        tools: all.tools.filter((t) => t === 'echo' || t === 'add'),
        prompts: ['greeting'],
        resources: ['docs://readme'],
      });
    } finally {
      await direct.close();
      await proxied.close();
    }
  });
});
