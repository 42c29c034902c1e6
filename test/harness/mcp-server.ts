// A real MCP SDK server (Streamable HTTP on node:http) with demo tools; records every request it receives.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { TaskMessageQueue, TaskStore } from '@modelcontextprotocol/sdk/experimental/tasks';
import { z } from 'zod';
import { OrderedEventStore } from './event-store.js';

export interface McpTestServerOptions {
  /** Returned by `whoami` and the `info` resource, to tell replicas apart. Default "replica-1". */
  replicaId?: string;
  /** POST answers are application/json instead of text/event-stream (no progress then). */
  enableJsonResponse?: boolean;
  /** No sessions: a fresh server and transport per request, no Mcp-Session-Id. */
  stateless?: boolean;
  /** Default "/mcp". */
  path?: string;
  /** Registers more tools, prompts or resources on every server instance (e.g. sampling or elicitation tools). */
  extend?: (server: McpServer) => void;
  /**
   * The replica's MCP task store (one per replica, shared by its sessions): the servers announce `tasks` (list, cancel,
   * task-augmented tools/call) and keep tasks in it.
   */
  taskStore?: TaskStore;
  /**
   * With `taskStore`: where requests a task sends the client wait until the client's `tasks/result` delivers them on its
   * stream (a task asking for input); without one the SDK server sends them outside any task.
   */
  taskMessageQueue?: TaskMessageQueue;
  /** Each session keeps its events, so a stream can be resumed with Last-Event-ID (and POST streams get priming events). */
  eventStore?: boolean;
}

export interface RecordedRequest {
  httpMethod: string;
  path: string;
  headers: IncomingHttpHeaders;
  sessionId?: string;
  /** The parsed body of a POST (invalid JSON is recorded as the raw text). */
  body?: unknown;
  /** JSON-RPC method, or undefined for responses, GET and DELETE. */
  rpcMethod?: string;
  rpcId?: string | number;
  /** For tools/call. */
  toolName?: string;
  arguments?: Record<string, unknown>;
  /** Set when the response has been sent (SSE: when the stream ended). */
  status?: number;
}

export interface McpTestServer {
  /** Full endpoint URL, e.g. http://127.0.0.1:41234/mcp */
  readonly url: string;
  readonly port: number;
  readonly path: string;
  readonly replicaId: string;
  /** Every HTTP request received, oldest first. */
  readonly requests: readonly RecordedRequest[];
  /** tools/call requests received, optionally for one tool. */
  calls(toolName?: string): RecordedRequest[];
  /** JSON-RPC methods received, in order. */
  rpcMethods(): string[];
  /** Sessions currently open. */
  sessionIds(): string[];
  clearRequests(): void;
  /** Lets every `slow` call that was started with `gate: true` go on past its first step. */
  releaseSlow(): void;
  stop(): Promise<void>;
}

export async function startMcpServer(opts: McpTestServerOptions = {}): Promise<McpTestServer> {
  const replicaId = opts.replicaId ?? 'replica-1';
  const path = opts.path ?? '/mcp';
  const requests: RecordedRequest[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const gate = new Gate();
  const demo = { replicaId, gate, extend: opts.extend, taskStore: opts.taskStore, taskMessageQueue: opts.taskMessageQueue };

  const newTransport = (): StreamableHTTPServerTransport => {
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: opts.stateless ? undefined : () => randomUUID(),
      enableJsonResponse: opts.enableJsonResponse ?? false,
      ...(opts.eventStore ? { eventStore: new OrderedEventStore() } : {}),
      onsessioninitialized: (id) => { sessions.set(id, transport); },
    });
    transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
    return transport;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const record: RecordedRequest = { httpMethod: req.method ?? '', path: url.pathname, headers: req.headers };
    const sessionId = header(req.headers, 'mcp-session-id');
    if (sessionId) record.sessionId = sessionId;
    requests.push(record);
    res.once('finish', () => { record.status = res.statusCode; });
    // A stream the client aborted never finishes; its status was still sent.
    res.once('close', () => { if (record.status === undefined && res.headersSent) record.status = res.statusCode; });

    if (url.pathname !== path) return sendJson(res, 404, { error: 'not found' });
    let body: unknown;
    if (req.method === 'POST') {
      const text = await readBody(req);
      try {
        body = JSON.parse(text);
      } catch {
        record.body = text;
        return sendJson(res, 400, rpcError(-32700, 'Parse error: Invalid JSON'));
      }
      Object.assign(record, describeMessage(body));
    }

    if (opts.stateless) {
      const server = buildServer(demo);
      const perRequest = newTransport();
      res.once('close', () => { void perRequest.close(); void server.close(); });
      await server.connect(perRequest);
      return perRequest.handleRequest(req, res, body);
    }
    if (sessionId) {
      const existing = sessions.get(sessionId);
      if (!existing) return sendJson(res, 404, rpcError(-32001, 'Session not found'));
      return existing.handleRequest(req, res, body);
    }
    if (req.method === 'POST' && isInitializeRequest(body)) {
      const transport = newTransport();
      await buildServer(demo).connect(transport);
      return transport.handleRequest(req, res, body);
    }
    return sendJson(res, 400, rpcError(-32000, 'Bad Request: No valid session ID provided'));
  }

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, rpcError(-32603, `Internal error: ${String(err)}`));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;

  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    port,
    path,
    replicaId,
    requests,
    calls: (toolName) => requests.filter((r) => r.rpcMethod === 'tools/call' && (!toolName || r.toolName === toolName)),
    rpcMethods: () => requests.flatMap((r) => (r.rpcMethod ? [r.rpcMethod] : [])),
    sessionIds: () => [...sessions.keys()],
    clearRequests: () => { requests.length = 0; },
    releaseSlow: () => gate.release(),
    stop: () => (stopping ??= (async () => {
      gate.release();
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    })()),
  };
}

/** Waiters parked by `slow {gate: true}` until the test releases them. */
class Gate {
  private waiters: Array<() => void> = [];
  wait(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push(resolve);
      signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true });
    });
  }
  release(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const resolve of waiting) resolve();
  }
}

interface DemoOptions {
  replicaId: string;
  gate: Gate;
  extend?: ((server: McpServer) => void) | undefined;
  taskStore?: TaskStore | undefined;
  taskMessageQueue?: TaskMessageQueue | undefined;
}

function buildServer(demo: DemoOptions): McpServer {
  const tasks = demo.taskStore ? { tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } } } : {};
  const server = new McpServer(
    { name: 'toolgate-demo', version: '1.0.0' },
    {
      capabilities: { logging: {}, ...tasks },
      ...(demo.taskStore ? { taskStore: demo.taskStore } : {}),
      ...(demo.taskStore && demo.taskMessageQueue ? { taskMessageQueue: demo.taskMessageQueue } : {}),
    },
  );
  demo.extend?.(server);
  const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

  server.registerTool('echo', {
    description: 'Returns its text unchanged.',
    inputSchema: { text: z.string() },
  }, ({ text: value }) => text(value));

  server.registerTool('add', {
    description: 'Adds two numbers.',
    inputSchema: { a: z.number(), b: z.number() },
    outputSchema: { sum: z.number() },
  }, ({ a, b }) => ({ ...text(String(a + b)), structuredContent: { sum: a + b } }));

  server.registerTool('refund', {
    description: 'Refunds an amount on a charge.',
    inputSchema: { amount: z.number(), charge_id: z.string() },
  }, ({ amount, charge_id }) => ({
    ...text(`Refunded ${amount} on ${charge_id}.`),
    structuredContent: { refunded: amount, charge_id, replica: demo.replicaId },
  }));

  server.registerTool('lookup_charge', {
    description: 'Looks up a charge.',
    inputSchema: { charge_id: z.string() },
  }, ({ charge_id }) => ({
    ...text(`Charge ${charge_id}: 4200 usd, succeeded.`),
    structuredContent: { charge_id, amount: 4200, currency: 'usd', status: 'succeeded' },
  }));

  server.registerTool('slow', {
    description: 'Reports progress `steps` times, `delay_ms` apart, then returns. With `gate`, waits after the first step until the test releases it.',
    inputSchema: {
      steps: z.number().int().min(1).max(100).default(3),
      delay_ms: z.number().int().min(0).max(10_000).default(20),
      gate: z.boolean().default(false),
    },
  }, async ({ steps, delay_ms, gate }, extra) => {
    const token = extra._meta?.progressToken;
    for (let step = 1; step <= steps; step++) {
      await sleep(delay_ms, extra.signal);
      const released = gate && step === 1 ? demo.gate.wait(extra.signal) : undefined;
      if (token !== undefined) {
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress: step, total: steps, message: `step ${step} of ${steps}` },
        });
      }
      await released;
    }
    return text(`done after ${steps} steps`);
  });

  server.registerTool('whoami', {
    description: 'Names the replica and session that served the call.',
  }, (extra) => ({
    ...text(demo.replicaId),
    structuredContent: { replica: demo.replicaId, sessionId: extra.sessionId ?? null },
  }));

  server.registerPrompt('greeting', {
    description: 'Greets someone.',
    argsSchema: { name: z.string() },
  }, ({ name }) => ({
    messages: [{ role: 'user', content: { type: 'text', text: `Say hello to ${name}.` } }],
  }));

  server.registerResource('info', 'demo://info', {
    description: 'Which replica this is.',
    mimeType: 'application/json',
  }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ replica: demo.replicaId }) }],
  }));

  return server;
}

function describeMessage(body: unknown): Partial<RecordedRequest> {
  const msg = (Array.isArray(body) ? body[0] : body) as Record<string, unknown> | undefined;
  if (!msg || typeof msg !== 'object') return { body };
  const out: Partial<RecordedRequest> = { body };
  if (typeof msg.method === 'string') out.rpcMethod = msg.method;
  if (typeof msg.id === 'string' || typeof msg.id === 'number') out.rpcId = msg.id;
  const params = msg.params as { name?: unknown; arguments?: unknown } | undefined;
  if (msg.method === 'tools/call' && params) {
    if (typeof params.name === 'string') out.toolName = params.name;
    if (params.arguments && typeof params.arguments === 'object') out.arguments = params.arguments as Record<string, unknown>;
  }
  return out;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function rpcError(code: number, message: string) {
  return { jsonrpc: '2.0', error: { code, message }, id: null };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Error('cancelled'));
    const onAbort = () => { clearTimeout(timer); reject(new Error('cancelled')); };
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(); }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
