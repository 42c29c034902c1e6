// Gateway mode, MCP tasks (2025-11-25): a task-augmented tools/call through the real gateway Envoy, then tasks/get,
// tasks/result, tasks/list with the MCP SDK client's tasks API, against SDK servers with a task store on both backends;
// a forged or foreign task id is refused and reaches no backend. tasks/get|result|cancel are routed through Envoy to the
// task's backend like a tools/call, so a tasks/result blocks as long as the task runs (longer than egress.timeout, 1 s
// here) and a task that asks the client for input gets its request relayed on the tasks/result stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTaskMessageQueue, InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolResultSchema, CreateTaskResultSchema, ElicitRequestSchema, ElicitResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { printLogsOnFailure } from '../harness/logs.js';
import type { McpTestServer } from '../harness/mcp-server.js';
import { bearer, post } from './helpers/client.js';
import { GATEWAY_TASKS, OPERATOR_CLAIMS, SUPPORT_CLAIMS, startGatewayStack, type GatewayStack, type ReplicaName } from './helpers/gateway-stack.js';
import { connectAnswering, type AnsweringClient } from './helpers/server-requests.js';

printLogsOnFailure();

/** One store per replica: its sessions' tasks live there, as a real server's would. */
const stores = new Map<ReplicaName, InMemoryTaskStore>();
const timers = new Set<NodeJS.Timeout>();

/** `crunch` runs as a task: it answers at once with the task, and completes it a moment later. */
function registerCrunch(server: McpServer, replica: ReplicaName): void {
  server.experimental.tasks.registerToolTask(
    'crunch',
    { description: 'Crunches a word, slowly, as a task.', inputSchema: { word: z.string() }, execution: { taskSupport: 'required' } },
    {
      createTask: async ({ word }, extra) => {
        const task = await extra.taskStore.createTask({ ttl: 60_000, pollInterval: 50 });
        // The last test's task completes after the stores are gone; its timer is stopped with them.
        timers.add(setTimeout(() => {
          void extra.taskStore.storeTaskResult(task.taskId, 'completed', { content: [{ type: 'text', text: `crunched ${word} at ${replica}` }] });
        }, 150));
        return { task };
      },
      getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args, extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as never,
    },
  );
}

/**
 * `slow_crunch {word, ms}` runs as a task for `ms` milliseconds. `ask_crunch {word}` runs as a task that asks the client
 * (elicitation, tied to the task: the SDK server queues it until the client's tasks/result delivers it on its stream,
 * and sets the task input_required), then completes with the answer.
 */
function registerLongTasks(server: McpServer, replica: ReplicaName): void {
  server.experimental.tasks.registerToolTask(
    'slow_crunch',
    { description: 'Crunches a word for ms milliseconds, as a task.', inputSchema: { word: z.string(), ms: z.number().int().min(0).max(10_000) }, execution: { taskSupport: 'required' } },
    {
      createTask: async ({ word, ms }, extra) => {
        const task = await extra.taskStore.createTask({ ttl: 60_000, pollInterval: 50 });
        // A task cancelled meanwhile keeps its terminal status: the store refuses the late result.
        timers.add(setTimeout(() => {
          extra.taskStore.storeTaskResult(task.taskId, 'completed', { content: [{ type: 'text', text: `slowly crunched ${word} at ${replica}` }] }).catch(() => undefined);
        }, ms));
        return { task };
      },
      getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args, extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as never,
    },
  );
  server.experimental.tasks.registerToolTask(
    'ask_crunch',
    { description: 'Asks the client who wants the word crunched, as a task.', inputSchema: { word: z.string() }, execution: { taskSupport: 'required' } },
    {
      createTask: async ({ word }, extra) => {
        const task = await extra.taskStore.createTask({ ttl: 60_000, pollInterval: 50 });
        const params = { mode: 'form' as const, message: `who wants ${word} at ${replica}?`, requestedSchema: { type: 'object' as const, properties: { who: { type: 'string' as const } }, required: ['who'] } };
        // As the SDK's own in-task requests do: the task waits for input, and the request names it (relatedTask).
        const work = async () => {
          await extra.taskStore.updateTaskStatus(task.taskId, 'input_required');
          try {
            const answer = await server.server.request({ method: 'elicitation/create', params }, ElicitResultSchema, { relatedTask: { taskId: task.taskId }, timeout: 10_000 });
            await extra.taskStore.storeTaskResult(task.taskId, 'completed', { content: [{ type: 'text', text: `${answer.action}:${String(answer.content?.who)}` }] });
          } catch (err) {
            await extra.taskStore.storeTaskResult(task.taskId, 'failed', { content: [{ type: 'text', text: `no answer: ${String(err)}` }], isError: true });
          }
        };
        work().catch(() => undefined);
        return { task };
      },
      getTask: async (_args, extra) => extra.taskStore.getTask(extra.taskId),
      getTaskResult: async (_args, extra) => (await extra.taskStore.getTaskResult(extra.taskId)) as never,
    },
  );
}

let stack: GatewayStack;
let jwt: string;
beforeAll(async () => {
  stack = await startGatewayStack({
    // Shorter than slow_crunch's task: a tasks/result must not be bounded by it.
    egressTimeout: '1s',
    // tasks/* are judged like any other method: a task must list them (the default denies them).
    tasks: { ...GATEWAY_TASKS, operator: { ...GATEWAY_TASKS.operator, methods: ['tasks/*'] } },
    replicaOptions: (name) => {
      const taskStore = new InMemoryTaskStore();
      stores.set(name, taskStore);
      return {
        taskStore,
        taskMessageQueue: new InMemoryTaskMessageQueue(),
        // Billing answers POSTs with application/json, inventory with an event stream: the gateway rewrites both.
        enableJsonResponse: name.startsWith('b'),
        extend: (server) => {
          registerCrunch(server, name);
          registerLongTasks(server, name);
        },
      };
    },
  });
  jwt = await stack.idp.mint(OPERATOR_CLAIMS);
});
afterAll(async () => {
  for (const timer of timers) clearTimeout(timer);
  for (const store of stores.values()) store.cleanup();
  await stack?.stop();
});

const WITHIN = { timeout: 10_000 };

async function connect(token = jwt): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'toolgate-e2e-tasks', version: '1.0.0' }, { capabilities: {} });
  const transport = new StreamableHTTPClientTransport(new URL(stack.endpoint), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  return { client, transport };
}

const allReplicas = (): Array<[ReplicaName, McpTestServer]> => Object.entries(stack.replicas) as Array<[ReplicaName, McpTestServer]>;

/** Every tasks/* request a replica received since it was last cleared, with the task id it named. */
function taskRequests(): Array<{ replica: ReplicaName; method: string; taskId: unknown }> {
  return allReplicas().flatMap(([replica, r]) =>
    r.requests
      .filter((q) => q.rpcMethod?.startsWith('tasks/'))
      .map((q) => ({ replica, method: q.rpcMethod as string, taskId: (q.body as { params?: { taskId?: unknown } } | undefined)?.params?.taskId })),
  );
}

describe('tasks through the gateway', () => {
  let agent: { client: Client; transport: StreamableHTTPClientTransport };
  beforeAll(async () => {
    agent = await connect();
  });
  afterAll(async () => {
    await agent?.client.close();
  });

  it('announces tasks in the merged initialize (both backends have it)', () => {
    const caps = agent.client.getServerCapabilities();
    expect(caps?.tasks).toEqual({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
  });

  it('a task-augmented tools/call, tasks/get and tasks/result reach the backend that made the task, under its own id', async () => {
    for (const [, r] of allReplicas()) r.clearRequests();
    const created = await agent.client.request({ method: 'tools/call', params: { name: 'billing.crunch', arguments: { word: 'ledger' }, task: { ttl: 60_000 } } }, CreateTaskResultSchema, WITHIN);
    const taskId = created.task.taskId;
    // The gateway's id names its backend; the backend's own id (32 hex characters) is in it, under a tag.
    expect(taskId).toMatch(/^billing:[A-Za-z0-9_-]+:/);
    const replica = [...stores].find(([name]) => name.startsWith('b') && stack.replicas[name].requests.some((q) => q.rpcMethod === 'tools/call'))?.[0];
    expect(replica).toBeDefined();
    const backendTasks = await stores.get(replica as ReplicaName)?.listTasks(undefined);
    const ownId = backendTasks?.tasks[0]?.taskId as string;
    expect(taskId).toContain(ownId);
    expect(taskId).not.toBe(ownId);

    const status = await agent.client.experimental.tasks.getTask(taskId, WITHIN);
    expect(status.taskId).toBe(taskId);
    const result = await agent.client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, WITHIN);
    expect(result.content).toEqual([{ type: 'text', text: `crunched ledger at ${replica}` }]);
    const related = (result._meta as Record<string, { taskId?: string }> | undefined)?.['io.modelcontextprotocol/related-task'];
    // The SDK server names the task in the result's _meta; the client sees the gateway's id there too.
    expect(related?.taskId).toBe(taskId);

    // Only the replica that made the task heard of it, and always under its own id.
    const asked = taskRequests();
    expect(asked.map((a) => a.method).sort()).toEqual(['tasks/get', 'tasks/result']);
    for (const a of asked) expect(a).toMatchObject({ replica, taskId: ownId });
  });

  it('callToolStream runs a task to its result', async () => {
    // The SDK client asks for a task on its own only for a tool it listed with `execution.taskSupport`.
    const listed = await agent.client.listTools(undefined, WITHIN);
    expect(listed.tools.find((t) => t.name === 'inventory.crunch')?.execution).toEqual({ taskSupport: 'required' });
    const seen: string[] = [];
    let text: unknown;
    for await (const message of agent.client.experimental.tasks.callToolStream({ name: 'inventory.crunch', arguments: { word: 'shelf' } }, CallToolResultSchema, WITHIN)) {
      seen.push(message.type);
      if (message.type === 'taskCreated') expect(message.task.taskId).toMatch(/^inventory:/);
      if (message.type === 'result') text = message.result.content;
      if (message.type === 'error') throw message.error;
    }
    expect(seen[0]).toBe('taskCreated');
    expect(seen.at(-1)).toBe('result');
    expect(text).toEqual([{ type: 'text', text: expect.stringMatching(/^crunched shelf at i[12]$/) }]);
  });

  it('tasks/list merges both backends, every id in the gateway form', async () => {
    const listed = await agent.client.experimental.tasks.listTasks(undefined, WITHIN);
    const ids = listed.tasks.map((t) => t.taskId);
    expect(ids.some((id) => id.startsWith('billing:'))).toBe(true);
    expect(ids.some((id) => id.startsWith('inventory:'))).toBe(true);
    for (const id of ids) await expect(agent.client.experimental.tasks.getTask(id, WITHIN)).resolves.toMatchObject({ taskId: id });
  });

  it('a forged task id, and one issued to another session, are refused; no backend hears of either', async () => {
    const created = await agent.client.request({ method: 'tools/call', params: { name: 'billing.crunch', arguments: { word: 'x' }, task: {} } }, CreateTaskResultSchema, WITHIN);
    const own = created.task.taskId;
    const other = await connect();
    try {
      for (const [, r] of allReplicas()) r.clearRequests();
      const backendId = own.slice(own.lastIndexOf(':') + 1);
      const forged = [
        // A made-up tag; the backend's bare id; the id relabelled for the other backend (its tag binds billing);
        // the backend's task id inside changed under the real tag.
        own.replace(/^billing:[^:]+:/, 'billing:AAAAAAAAAAAAAAAA:'),
        JSON.parse(backendId) as string,
        `inventory${own.slice('billing'.length)}`,
        `${own.slice(0, own.lastIndexOf(':') + 1)}${JSON.stringify(`${JSON.parse(backendId) as string}0`)}`,
      ];
      for (const id of forged) {
        await expect(agent.client.experimental.tasks.getTask(id, WITHIN)).rejects.toThrow(/not issued to this session/);
        await expect(agent.client.experimental.tasks.getTaskResult(id, CallToolResultSchema, WITHIN)).rejects.toThrow(/not issued to this session/);
      }
      // A real id of the first session, presented on the second.
      await expect(other.client.experimental.tasks.getTaskResult(own, CallToolResultSchema, WITHIN)).rejects.toThrow(/not issued to this session/);
      await expect(other.client.experimental.tasks.cancelTask(own, WITHIN)).rejects.toThrow(/not issued to this session/);
      // Raw, so the exact answer is seen: a JSON-RPC error, HTTP 200, the request's id.
      const sessionId = other.transport.sessionId as string;
      const raw = await post(stack.endpoint, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tasks/get', params: { taskId: own } }), { ...bearer(jwt), 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' });
      expect(raw.status).toBe(200);
      expect(raw.json).toMatchObject({
        id: 7,
        error: { code: -32602, message: expect.stringMatching(/^This taskId was not issued to this session by the gateway, .*no backend was asked\. Use the taskId exactly as the gateway returned it/) },
      });
      expect(taskRequests()).toEqual([]);
    } finally {
      await other.client.close();
    }
  });

  it('a task whose policy does not list tasks/* gets them refused by ext_authz, as in sidecar mode; no backend hears of it', async () => {
    const created = await agent.client.request({ method: 'tools/call', params: { name: 'billing.crunch', arguments: { word: 'y' }, task: {} } }, CreateTaskResultSchema, WITHIN);
    // Task `support` lists tools only; tasks/* are methods, and a task must list them (default deny).
    const support = await connect(await stack.idp.mint(SUPPORT_CLAIMS));
    try {
      for (const [, r] of allReplicas()) r.clearRequests();
      await expect(support.client.experimental.tasks.getTask(created.task.taskId, WITHIN)).rejects.toThrow(/tasks\/get/);
      await expect(support.client.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema, WITHIN)).rejects.toThrow(/tasks\/result/);
      await expect(support.client.experimental.tasks.listTasks(undefined, WITHIN)).rejects.toThrow(/tasks\/list/);
      expect(taskRequests()).toEqual([]);
    } finally {
      await support.client.close();
    }
  });
});

describe('tasks/result like a direct connection: routed to the task\'s backend', () => {
  it('blocks until a task that outlasts egress.timeout (3 s task, 1 s timeout) completes, and returns its result (a JSON answer)', async () => {
    const agent = await connect();
    try {
      for (const [, r] of allReplicas()) r.clearRequests();
      const created = await agent.client.request({ method: 'tools/call', params: { name: 'billing.slow_crunch', arguments: { word: 'ledger', ms: 3000 }, task: { ttl: 60_000 } } }, CreateTaskResultSchema, WITHIN);
      const taskId = created.task.taskId;
      const status = await agent.client.experimental.tasks.getTask(taskId, WITHIN);
      expect(status).toMatchObject({ taskId, status: 'working' });
      const asked = Date.now();
      const result = await agent.client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, WITHIN);
      const waited = Date.now() - asked;
      expect(result.content).toEqual([{ type: 'text', text: expect.stringMatching(/^slowly crunched ledger at b[12]$/) }]);
      expect((result._meta as Record<string, { taskId?: string }> | undefined)?.['io.modelcontextprotocol/related-task']?.taskId).toBe(taskId);
      // It was answered when the task ended, not when toolgate gave up on a backend.
      expect(waited).toBeGreaterThan(1_500);
      // One tasks/get and one tasks/result, each at the replica that made the task, under its own id.
      const asks = taskRequests();
      expect(asks.map((a) => a.method)).toEqual(['tasks/get', 'tasks/result']);
      const replica = asks[0]?.replica as ReplicaName;
      expect(replica).toMatch(/^b[12]$/);
      for (const a of asks) {
        expect(a.replica).toBe(replica);
        expect(typeof a.taskId).toBe('string');
        expect(taskId.endsWith(`:${JSON.stringify(a.taskId)}`)).toBe(true);
      }
    } finally {
      await agent.client.close();
    }
  });

  it('relays a task\'s elicitation on the tasks/result stream and returns the result made with the client\'s answer', async () => {
    const agent: AnsweringClient = await connectAnswering(stack.endpoint, jwt);
    // The task the request names, as the client saw it (the answering client's own handler, recording it too).
    const relatedSeen: unknown[] = [];
    agent.client.setRequestHandler(ElicitRequestSchema, (req, extra) => {
      relatedSeen.push((req.params._meta as Record<string, unknown> | undefined)?.['io.modelcontextprotocol/related-task']);
      agent.asked.push({ kind: 'elicitation', id: extra.requestId, question: req.params.message });
      return { action: 'accept', content: { who: req.params.message } };
    });
    try {
      for (const [, r] of allReplicas()) r.clearRequests();
      const created = await agent.client.request({ method: 'tools/call', params: { name: 'inventory.ask_crunch', arguments: { word: 'shelf' }, task: {} } }, CreateTaskResultSchema, WITHIN);
      const result = await agent.client.experimental.tasks.getTaskResult(created.task.taskId, CallToolResultSchema, WITHIN);
      expect(result.isError ?? false).toBe(false);
      const text = (result.content[0] as { text?: string } | undefined)?.text ?? '';
      expect(text).toMatch(/^accept:who wants shelf at i[12]\?$/);
      const replica = text.slice(-3, -1) as ReplicaName;
      // The client was asked once, under an id that names the backend (the gateway's reply id).
      expect(agent.asked).toEqual([{ kind: 'elicitation', id: expect.stringMatching(/^inventory:[A-Za-z0-9_-]+:\d+$/), question: `who wants shelf at ${replica}?` }]);
      // ...for the task under the id the client knows it by.
      expect(relatedSeen).toEqual([{ taskId: created.task.taskId }]);
      // Its reply reached the replica that asked, under that replica's own numeric id; no other replica got a reply.
      for (const [name, r] of allReplicas()) {
        const replies = r.requests.filter((q) => q.httpMethod === 'POST' && q.rpcMethod === undefined && q.rpcId !== undefined);
        if (name === replica) expect(replies.map((q) => typeof q.rpcId)).toEqual(['number']);
        else expect(replies).toEqual([]);
      }
      expect(taskRequests().filter((a) => a.method === 'tasks/result').map((a) => a.replica)).toEqual([replica]);
    } finally {
      await agent.close();
    }
  });

  it('tasks/cancel reaches the task\'s backend and answers with the task under the gateway\'s id', async () => {
    const agent = await connect();
    try {
      const created = await agent.client.request({ method: 'tools/call', params: { name: 'inventory.slow_crunch', arguments: { word: 'bin', ms: 5000 }, task: {} } }, CreateTaskResultSchema, WITHIN);
      for (const [, r] of allReplicas()) r.clearRequests();
      const cancelled = await agent.client.experimental.tasks.cancelTask(created.task.taskId, WITHIN);
      expect(cancelled).toMatchObject({ taskId: created.task.taskId, status: 'cancelled' });
      const asks = taskRequests();
      expect(asks.map((a) => [a.method, a.replica.charAt(0)])).toEqual([['tasks/cancel', 'i']]);
      expect(created.task.taskId.endsWith(`:${JSON.stringify(asks[0]?.taskId)}`)).toBe(true);
      await expect(agent.client.experimental.tasks.getTask(created.task.taskId, WITHIN)).resolves.toMatchObject({ status: 'cancelled' });
    } finally {
      await agent.client.close();
    }
  });
});
