// A 2026-07-28 stand-in backend. The MCP SDK (1.32) speaks 2025 only and answers a 2026 request with 400, so this
// server maps every 2026 request onto one session it opened on itself at start-up: the SDK then does the same
// per-request work as for a 2025 tools/call (the harness server's path), and the client keeps no session — as in
// 2026. Like a 2026 server must, it refuses a body that disagrees with Mcp-Method / Mcp-Name (-32020).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export const PROTOCOL_2026 = '2026-07-28';

export interface Backend2026 {
  readonly port: number;
  stop(): Promise<void>;
}

export async function startBackend2026(): Promise<Backend2026> {
  const server = new McpServer({ name: 'toolgate-bench-2026', version: '1.0.0' });
  // The same tool as the harness server's, so both backends do the same work per call.
  server.registerTool('echo', {
    description: 'Returns its text unchanged.',
    inputSchema: { text: z.string() },
  }, ({ text }) => ({ content: [{ type: 'text' as const, text }] }));
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), enableJsonResponse: true });
  await server.connect(transport);
  let internalSession: string | undefined;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      return sendError(res, 400, -32700, 'Parse error');
    }
    if (internalSession !== undefined && req.headers['mcp-protocol-version'] === PROTOCOL_2026) {
      const mismatch = headerMismatch(req, body);
      if (mismatch) return sendError(res, 400, -32020, mismatch);
      mapOntoSession(req, internalSession);
    }
    await transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, -32603, String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  internalSession = await openOwnSession(`http://127.0.0.1:${port}/mcp`);

  return {
    port,
    async stop() {
      await transport.close().catch(() => undefined);
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** initialize + notifications/initialized against itself; returns the session every 2026 request then uses. */
async function openOwnSession(url: string): Promise<string> {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0', id: 0, method: 'initialize',
      params: { protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'bench-2026-adapter', version: '1.0.0' } },
    }),
  });
  await init.text();
  const session = init.headers.get('mcp-session-id');
  if (!init.ok || !session) throw new Error(`2026 stand-in: initialize on itself failed (HTTP ${init.status})`);
  const done = await fetch(url, {
    method: 'POST',
    headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': LATEST_PROTOCOL_VERSION },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await done.text();
  return session;
}

/** The SDK reads headers from rawHeaders: rewrite the protocol version there and add the internal session. */
function mapOntoSession(req: IncomingMessage, session: string): void {
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === 'mcp-protocol-version') raw[i + 1] = LATEST_PROTOCOL_VERSION;
  }
  raw.push('mcp-session-id', session);
}

function headerMismatch(req: IncomingMessage, body: unknown): string | undefined {
  const msg = (typeof body === 'object' && body !== null ? body : {}) as { method?: unknown; params?: { name?: unknown } };
  if (req.headers['mcp-method'] !== msg.method) return 'Mcp-Method does not match the body';
  if (msg.method === 'tools/call' && req.headers['mcp-name'] !== msg.params?.name) return 'Mcp-Name does not match the body';
  return undefined;
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function sendError(res: ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));
}
