// The demo's MCP server: a small billing API (lookup_charge, refund, close_account) over Streamable HTTP.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export const MCP_PATH = '/mcp';

export interface BillingServer {
  readonly port: number;
  /** Every tool call the server actually ran, oldest first: the demo shows that denied calls never arrive. */
  readonly executed: readonly string[];
  stop(): Promise<void>;
}

interface Charge {
  readonly amount: number;
  readonly currency: string;
  refunded: number;
}

export async function startBillingServer(): Promise<BillingServer> {
  const charges = new Map<string, Charge>([
    ['ch_123', { amount: 420, currency: 'usd', refunded: 0 }],
    ['ch_456', { amount: 1250, currency: 'usd', refunded: 0 }],
  ]);
  const executed: string[] = [];
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (new URL(req.url ?? '/', 'http://billing').pathname !== MCP_PATH) return sendError(res, 404, 'not found');
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
    await billingTools(charges, executed).connect(transport);
    return transport.handleRequest(req, res, body);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });

  return {
    port: (http.address() as AddressInfo).port,
    executed,
    async stop() {
      await Promise.allSettled([...sessions.values()].map((t) => t.close()));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function billingTools(charges: Map<string, Charge>, executed: string[]): McpServer {
  const server = new McpServer({ name: 'demo-billing', version: '1.0.0' });
  const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
  const unknown = (id: string) => ({ ...text(`No charge ${id}.`), isError: true });

  server.registerTool('lookup_charge', {
    description: 'Looks up a charge by id.',
    inputSchema: { charge_id: z.string() },
  }, ({ charge_id }) => {
    executed.push('lookup_charge');
    const charge = charges.get(charge_id);
    if (!charge) return unknown(charge_id);
    return text(`Charge ${charge_id}: ${charge.amount} ${charge.currency}, ${charge.refunded} refunded so far.`);
  });

  server.registerTool('refund', {
    description: 'Refunds part or all of a charge.',
    inputSchema: { charge_id: z.string(), amount: z.number().positive() },
  }, ({ charge_id, amount }) => {
    executed.push('refund');
    const charge = charges.get(charge_id);
    if (!charge) return unknown(charge_id);
    if (charge.refunded + amount > charge.amount) return { ...text(`Cannot refund ${amount}: only ${charge.amount - charge.refunded} is left on ${charge_id}.`), isError: true };
    charge.refunded += amount;
    return text(`Refunded ${amount} ${charge.currency} on ${charge_id}.`);
  });

  server.registerTool('close_account', {
    description: 'Closes the customer account a charge belongs to.',
    inputSchema: { charge_id: z.string() },
  }, ({ charge_id }) => {
    executed.push('close_account');
    return text(`Closed the account behind ${charge_id}.`);
  });

  return server;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function sendError(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message } }));
}
