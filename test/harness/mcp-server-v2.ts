// A real 2.x MCP SDK server (`@modelcontextprotocol/server`, createMcpHandler: 2026-07-28 stateless, 2025 served
// statelessly too) on node:http, with a journal of what it executed and of every request as it arrived.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

/** One tool execution: the handler ran, on this replica, with these arguments. */
export interface V2Execution {
  readonly replica: string;
  readonly tool: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/** One HTTP request as it reached the server, and what it answered. */
export interface V2Exchange {
  readonly replica: string;
  readonly httpMethod: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  status?: number;
  responseHeaders?: Record<string, string>;
  /** The answer's text; an SSE answer is recorded whole once it ended. */
  response?: string;
}

/** Shared by the replicas of one stack. */
export class V2Journal {
  readonly executions: V2Execution[] = [];
  readonly exchanges: V2Exchange[] = [];

  clear(): void {
    this.executions.length = 0;
    this.exchanges.length = 0;
  }

  tools(name?: string): V2Execution[] {
    return this.executions.filter((e) => name === undefined || e.tool === name);
  }

  /** Requests whose body contains `marker` (a test's unique argument value). */
  carrying(marker: string): V2Exchange[] {
    return this.exchanges.filter((x) => x.body.includes(marker));
  }
}

export interface V2ServerOptions {
  readonly replica: string;
  readonly journal: V2Journal;
  /** Default "/mcp". */
  readonly path?: string;
}

export interface V2Server {
  readonly port: number;
  readonly url: string;
  readonly replica: string;
  stop(): Promise<void>;
}

export const ACCENTED_TOOL = 'résumé';

/** The tools every replica serves; each one journals its execution before it answers. */
function factory(replica: string, journal: V2Journal) {
  return () => {
    const server = new McpServer({ name: `v2-${replica}`, version: '2.4.0' });
    const did = (tool: string, args: Record<string, unknown>) => journal.executions.push({ replica, tool, args });
    server.registerTool('lookup_charge', { description: 'Look a charge up', inputSchema: { charge_id: z.string() } }, async (args) => {
      did('lookup_charge', args);
      return { content: [{ type: 'text', text: `charge ${args.charge_id} on ${replica}: 40 EUR` }] };
    });
    server.registerTool('refund', { description: 'Refund a charge', inputSchema: { charge_id: z.string(), amount: z.number() } }, async (args) => {
      did('refund', args);
      return { content: [{ type: 'text', text: `refunded ${args.amount} of ${args.charge_id} on ${replica}` }] };
    });
    server.registerTool('delete_account', { description: 'Delete an account', inputSchema: { account: z.string() } }, async (args) => {
      did('delete_account', args);
      return { content: [{ type: 'text', text: `deleted ${args.account}` }] };
    });
    // Not plain ASCII: a 2026 client sends its Mcp-Name as `=?base64?…?=`.
    server.registerTool(ACCENTED_TOOL, { description: 'Summarise', inputSchema: { text: z.string() } }, async (args) => {
      did(ACCENTED_TOOL, args);
      return { content: [{ type: 'text', text: `summary of ${args.text} on ${replica}` }] };
    });
    server.registerTool('echo', { description: 'Echo', inputSchema: { text: z.string() } }, async (args) => {
      did('echo', args);
      return { content: [{ type: 'text', text: args.text }] };
    });
    return server;
  };
}

export async function startV2Server(opts: V2ServerOptions): Promise<V2Server> {
  const path = opts.path ?? '/mcp';
  const handler = createMcpHandler(factory(opts.replica, opts.journal));
  const http: Server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      const exchange: V2Exchange = { replica: opts.replica, httpMethod: req.method ?? '', headers: req.headers, body: body.toString('utf8') };
      opts.journal.exchanges.push(exchange);
      if ((req.url ?? '').split('?')[0] !== path) {
        res.writeHead(404).end();
        return;
      }
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === 'string') headers.set(name, value);
        else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      }
      const hasBody = req.method !== 'GET' && req.method !== 'HEAD' && req.method !== 'DELETE';
      const request = new Request(`http://${req.headers.host ?? '127.0.0.1'}${req.url ?? path}`, { method: req.method, headers, body: hasBody ? body : undefined });
      const answer = await handler.fetch(request);
      exchange.status = answer.status;
      exchange.responseHeaders = Object.fromEntries(answer.headers);
      res.writeHead(answer.status, Object.fromEntries(answer.headers));
      if (!answer.body) {
        exchange.response = '';
        res.end();
        return;
      }
      // Streamed through as it comes (an SSE answer may carry progress first), and recorded whole.
      let text = '';
      const stream = Readable.fromWeb(answer.body as import('node:stream/web').ReadableStream<Uint8Array>);
      stream.on('data', (chunk: Buffer) => { text += chunk.toString('utf8'); });
      stream.on('end', () => { exchange.response = text; });
      res.on('close', () => stream.destroy());
      stream.pipe(res);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}${path}`,
    replica: opts.replica,
    async stop() {
      await handler.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
