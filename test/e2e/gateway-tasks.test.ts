// Gateway mode, MCP tasks (2025-11-25): a task-augmented tools/call through the real gateway Envoy, then tasks/get,
// tasks/result, tasks/list with the MCP SDK client's tasks API, against SDK servers with a task store on both backends;
// a forged or foreign task id is refused and reaches no backend.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolResultSchema, CreateTaskResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { printLogsOnFailure } from '../harness/logs.js';
import type { McpTestServer } from '../harness/mcp-server.js';
import { bearer, post } from './helpers/client.js';
import { GATEWAY_TASKS, OPERATOR_CLAIMS, SUPPORT_CLAIMS, startGatewayStack, type GatewayStack, type ReplicaName } from './helpers/gateway-stack.js';

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

let stack: GatewayStack;
let jwt: string;
beforeAll(async () => {
  stack = await startGatewayStack({
    // tasks/* are judged like any other method: a task must list them (the default denies them).
    tasks: { ...GATEWAY_TASKS, operator: { ...GATEWAY_TASKS.operator, methods: ['tasks/*'] } },
    replicaOptions: (name) => {
      const taskStore = new InMemoryTaskStore();
      stores.set(name, taskStore);
      return { taskStore, extend: (server) => registerCrunch(server, name) };
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
      const forged = [own.replace(/^billing:[^:]+:/, 'billing:AAAAAAAAAAAAAAAA:'), JSON.parse(backendId) as string, `inventory${own.slice('billing'.length)}`];
      for (const id of forged) {
        await expect(agent.client.experimental.tasks.getTask(id, WITHIN)).rejects.toThrow(/not issued to this session/);
      }
      // A real id of the first session, presented on the second.
      await expect(other.client.experimental.tasks.getTaskResult(own, CallToolResultSchema, WITHIN)).rejects.toThrow(/not issued to this session/);
      await expect(other.client.experimental.tasks.cancelTask(own, WITHIN)).rejects.toThrow(/not issued to this session/);
      // Raw, so the exact answer is seen: a JSON-RPC error, HTTP 200, the request's id.
      const sessionId = other.transport.sessionId as string;
      const raw = await post(stack.endpoint, JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tasks/get', params: { taskId: own } }), { ...bearer(jwt), 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' });
      expect(raw.status).toBe(200);
      expect(raw.json).toMatchObject({ id: 7, error: { code: -32602 } });
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
