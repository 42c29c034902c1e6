// Test-only backends for the fan-out suites: real MCP SDK servers, plus a header router standing in for Envoy's egress listener.
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Server as LowLevelServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export interface Running {
  readonly port: number;
  close(): Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export async function listen(handler: Handler): Promise<Running & { server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections(); // hanging test requests must not keep the suite alive
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on: bound, read, released. */
export async function deadPort(): Promise<number> {
  const probe = await listen(() => undefined);
  await probe.close();
  return probe.port;
}

/** A stateful MCP server (one McpServer + transport per session), JSON or SSE responses. */
export async function startMcpBackend(name: string, json: boolean, tools: readonly string[]): Promise<Running> {
  const sessions = new Map<string, StreamableHTTPServerTransport>();
  const running = await listen((req, res) => {
    const sid = req.headers['mcp-session-id'];
    if (typeof sid === 'string') {
      const transport = sessions.get(sid);
      if (transport) return void transport.handleRequest(req, res);
      res.writeHead(404, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      enableJsonResponse: json,
      onsessioninitialized: (id) => void sessions.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    const server = new McpServer({ name, version: '1.0.0' }, { capabilities: { logging: {} }, instructions: `Use ${name} tools.` });
    for (const tool of tools) {
      server.registerTool(tool, { title: `${tool} title`, description: `${name} ${tool}`, inputSchema: { text: z.string() } }, async ({ text }, extra) => {
        // Two notifications on the request's own stream before the answer: the client must skip them.
        for (const n of [1, 2]) await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: `${tool} step ${n}` } });
        return { content: [{ type: 'text', text: `${name}:${tool}:${text}` }] };
      });
    }
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  return {
    port: running.port,
    close: async () => {
      await Promise.all([...sessions.values()].map((t) => t.close()));
      await running.close();
    },
  };
}

/**
 * A stateless low-level SDK server whose `tools/list` is paged: `pages` pages of two tools each.
 * `cursorMode` `repeat` hands out the same cursor forever, `endless` a new one forever.
 */
export async function startPagedBackend(pages: number, cursorMode: 'normal' | 'repeat' | 'endless' = 'normal'): Promise<Running> {
  return listen((req, res) => {
    const server = new LowLevelServer({ name: 'paged', version: '1.0.0' }, { capabilities: { tools: {} } });
    server.setRequestHandler(ListToolsRequestSchema, (request) => {
      const page = Number(request.params?.cursor ?? '0');
      const tools = [0, 1].map((i) => ({ name: `t${page}_${i}`, inputSchema: { type: 'object' as const } }));
      const next = cursorMode === 'repeat' ? '1' : String(page + 1);
      return cursorMode !== 'normal' || page + 1 < pages ? { tools, nextCursor: next } : { tools };
    });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => void transport.close());
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
}

export interface RouterLog {
  readonly backend: string;
  readonly method: string;
  readonly status: number;
  readonly contentType: string;
  /** The request headers as the router received them. */
  readonly headers: IncomingMessage['headers'];
}

/**
 * Routes on `x-toolgate-backend` like the egress listener: unknown name → 404 (Envoy's "no
 * route"). When the upstream cannot be reached it resets the client connection, so the client
 * sees a network failure (real Envoy would answer 503; that case has its own backend in the suite).
 */
export async function startRouter(routes: ReadonlyMap<string, number>): Promise<Running & { log: RouterLog[] }> {
  const log: RouterLog[] = [];
  const running = await listen((req, res) => {
    const backend = String(req.headers['x-toolgate-backend'] ?? '');
    const port = routes.get(backend);
    if (port === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return void res.end('no route');
    }
    const upstream = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      log.push({ backend, method: req.method ?? '', status: up.statusCode ?? 0, contentType: String(up.headers['content-type'] ?? ''), headers: req.headers });
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  return { ...running, log };
}
