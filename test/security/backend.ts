// An instrumented MCP SDK server for the security suite: records every tool execution, resource read, prompt get
// and completion it performs, served either the way the SDK recommends (createMcpExpressApp) or on plain node:http.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** `express`: createMcpExpressApp() + express.json(), as the SDK recommends; `http`: the transport reads the body itself. */
export type BackendKind = 'express' | 'http';

/** Something the server actually did on a client's behalf. */
export interface Execution {
  readonly replica: string;
  readonly kind: 'tool' | 'resource' | 'prompt' | 'completion';
  /** Tool or prompt name, or the resource URI as the server resolved it. */
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
}

/** An HTTP request as it reached the backend. */
export interface ReceivedRequest {
  readonly replica: string;
  readonly httpMethod: string;
  readonly headers: IncomingHttpHeaders;
  /** The body as the backend's reader parsed it (express), when there is one. */
  readonly parsed?: unknown;
}

export interface InstrumentedBackendOptions {
  readonly kind: BackendKind;
  readonly replica: string;
  /** Shared journal: several replicas may write into one. */
  readonly journal: Journal;
  /** Serve the resources and prompts (only one gateway backend should, so their owners are unique). Default true. */
  readonly resources?: boolean;
  /** Tool descriptions a test can change (a "rug pull"); shared by the replicas that are given the same one. */
  readonly definitions?: ToolDefinitions;
}

/** A live tool of one session, as far as a definition change needs it (the SDK's RegisteredTool). */
interface Updatable {
  update(changes: { description?: string }): void;
}

/**
 * The switch a rug-pull case flips: `change` gives a tool a new description for every session opened afterwards
 * and updates it in every open session, whose server then sends `notifications/tools/list_changed`.
 */
export class ToolDefinitions {
  private readonly descriptions = new Map<string, string>();
  private readonly live = new Map<string, Set<Updatable>>();

  description(tool: string, fallback: string): string {
    return this.descriptions.get(tool) ?? fallback;
  }

  track(tool: string, registered: Updatable): void {
    const set = this.live.get(tool) ?? new Set<Updatable>();
    set.add(registered);
    this.live.set(tool, set);
  }

  change(tool: string, description: string): void {
    this.descriptions.set(tool, description);
    for (const registered of this.live.get(tool) ?? []) registered.update({ description });
  }
}

export interface InstrumentedBackend {
  readonly port: number;
  readonly url: string;
  readonly replica: string;
  stop(): Promise<void>;
}

/** Everything the backends of one stack executed and received, oldest first. */
export class Journal {
  readonly executions: Execution[] = [];
  readonly requests: ReceivedRequest[] = [];
  /** Backend session ids the servers issued (the client must never see one). */
  readonly sessionIds: string[] = [];

  clear(): void {
    this.executions.length = 0;
    this.requests.length = 0;
  }

  tools(name?: string): Execution[] {
    return this.executions.filter((e) => e.kind === 'tool' && (name === undefined || e.name === name));
  }

  reads(): Execution[] {
    return this.executions.filter((e) => e.kind === 'resource');
  }
}

/** Texts of the resources; a test that sees SECRET_TEXT anywhere has read what it must not. */
export const PUBLIC_TEXT = 'public: the refund policy is 30 days';
export const SECRET_TEXT = 'SECRET: the signing keys';

export const PUBLIC_URI = 'file:///public/readme';
export const SECRET_URI = 'file:///secret/keys';

function register(server: McpServer, replica: string, journal: Journal, withResources: boolean, definitions: ToolDefinitions): void {
  const did = (kind: Execution['kind'], name: string, args: Record<string, unknown>) => {
    journal.executions.push({ replica, kind, name, args });
  };
  const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

  const lookup = server.registerTool('lookup_charge', { description: definitions.description('lookup_charge', 'Look up a charge'), inputSchema: { id: z.string().optional() } }, (args) => {
    did('tool', 'lookup_charge', args);
    return text(`charge ${args.id ?? '?'}: 42.00`);
  });
  definitions.track('lookup_charge', lookup);
  server.registerTool('refund', { description: 'Refund an amount', inputSchema: { amount: z.number() } }, (args) => {
    did('tool', 'refund', args);
    return text(`refunded ${args.amount}`);
  });
  server.registerTool('delete_everything', { description: 'Never allowed', inputSchema: {} }, () => {
    did('tool', 'delete_everything', {});
    return text('deleted everything');
  });
  const echo = server.registerTool('echo', { description: definitions.description('echo', 'Echo'), inputSchema: { text: z.string().optional() } }, (args) => {
    did('tool', 'echo', args);
    return text(args.text ?? '');
  });
  definitions.track('echo', echo);
  if (!withResources) return;

  server.registerResource('readme', PUBLIC_URI, { mimeType: 'text/plain' }, (uri) => {
    did('resource', uri.href, {});
    return { contents: [{ uri: uri.href, text: PUBLIC_TEXT }] };
  });
  server.registerResource('keys', SECRET_URI, { mimeType: 'text/plain' }, (uri) => {
    did('resource', uri.href, {});
    return { contents: [{ uri: uri.href, text: SECRET_TEXT }] };
  });
  server.registerResource(
    'doc',
    new ResourceTemplate('file:///public/docs/{name}', {
      list: undefined,
      complete: { name: (value) => ['faq', 'terms'].filter((n) => n.startsWith(value)) },
    }),
    { mimeType: 'text/plain' },
    (uri, vars) => {
      did('resource', uri.href, vars);
      return { contents: [{ uri: uri.href, text: `${PUBLIC_TEXT} (${String(vars.name)})` }] };
    },
  );
  server.registerPrompt(
    'refund_policy',
    { description: 'How refunds work', argsSchema: { topic: completable(z.string(), (v) => { did('completion', 'refund_policy', { v }); return ['fees', 'limits'].filter((t) => t.startsWith(v)); }) } },
    (args) => {
      did('prompt', 'refund_policy', args);
      return { messages: [{ role: 'user', content: { type: 'text', text: `Explain refunds: ${args.topic}` } }] };
    },
  );
  server.registerPrompt('admin_prompt', { description: 'Never allowed', argsSchema: { topic: z.string() } }, (args) => {
    did('prompt', 'admin_prompt', args);
    return { messages: [{ role: 'user', content: { type: 'text', text: `${SECRET_TEXT} ${args.topic}` } }] };
  });
}

export async function startInstrumentedBackend(opts: InstrumentedBackendOptions): Promise<InstrumentedBackend> {
  const { journal, replica } = opts;
  const sessions = new Map<string, StreamableHTTPServerTransport>();

  const transportFor = (sessionId: string | undefined, body: unknown): StreamableHTTPServerTransport | undefined => {
    if (sessionId !== undefined) return sessions.get(sessionId);
    if (body !== undefined && !isInitializeRequest(body)) return undefined;
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, transport);
        journal.sessionIds.push(id);
      },
    });
    transport.onclose = () => { if (transport.sessionId) sessions.delete(transport.sessionId); };
    const server = new McpServer({ name: `security-${replica}`, version: '1.0.0' }, { capabilities: { logging: {} } });
    register(server, replica, journal, opts.resources ?? true, opts.definitions ?? new ToolDefinitions());
    void server.connect(transport);
    return transport;
  };
  const sessionOf = (headers: IncomingHttpHeaders) => {
    const sid = headers['mcp-session-id'];
    return Array.isArray(sid) ? sid[0] : sid;
  };
  const notFound = (res: ServerResponse) => {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
  };

  let server: Server;
  if (opts.kind === 'express') {
    const app = createMcpExpressApp({ host: '127.0.0.1' });
    app.all('/mcp', async (req: IncomingMessage & { body?: unknown }, res: ServerResponse) => {
      journal.requests.push({ replica, httpMethod: req.method ?? '', headers: req.headers, parsed: req.body });
      const transport = transportFor(sessionOf(req.headers), req.method === 'POST' ? req.body : undefined);
      if (!transport) return notFound(res);
      await transport.handleRequest(req, res, req.body);
    });
    server = createServer(app);
  } else {
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      journal.requests.push({ replica, httpMethod: req.method ?? '', headers: req.headers });
      // The transport reads and parses the body itself; initialize is recognised by having no session header.
      const sid = sessionOf(req.headers);
      const transport = sid !== undefined ? sessions.get(sid) : req.method === 'POST' ? transportFor(undefined, undefined) : undefined;
      if (!transport) return notFound(res);
      void transport.handleRequest(req, res);
    });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    replica,
    async stop() {
      for (const t of sessions.values()) await t.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
