// Serves one demo MCP server (a set of tools) over Streamable HTTP with sessions, and records the tool calls it ran.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ErrorCode, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

export const MCP_PATH = '/mcp';

export interface McpHostOptions {
  /** Replica name, e.g. `billing-1`: shown in the demo's summary. */
  readonly replica: string;
  /** A fresh server with the tools, per session; `executed` receives each tool name the server ran. */
  readonly tools: (executed: string[]) => McpServer;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
}

export interface McpHost {
  readonly replica: string;
  readonly port: number;
  readonly url: string;
  /** Every tool call the server actually ran, oldest first: denied calls never arrive. */
  readonly executed: readonly string[];
  stop(): Promise<void>;
}

export async function startMcpHost(opts: McpHostOptions): Promise<McpHost> {
  const executed: string[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (new URL(req.url ?? '/', 'http://mcp').pathname !== MCP_PATH) return sendError(res, 404, 'not found');
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const transport = sessions.get(sessionId);
      if (!transport) return sendError(res, 404, 'Session not found');
      return transport.handleRequest(req, res, body);
    }
    if (req.method !== 'POST' || !isInitializeRequest(body)) return sendError(res, 400, 'Bad Request: no valid session id');
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => void sessions.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await opts.tools(executed).connect(transport);
    return transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
      else res.destroy();
    });
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;

  return {
    replica: opts.replica,
    port,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}${MCP_PATH}`,
    executed,
    async stop() {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** A demo MCP server's own error, not toolgate's: the SDK's generic server code, as the SDK's own transport sends. */
function sendError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: ErrorCode.ConnectionClosed, message } }));
}
