// Backends that ask the client (sampling, elicitation, roots) on a call's own stream, on the standalone GET stream,
// or later, outside any tool call; and an MCP SDK client that answers them and remembers what it was asked.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CreateMessageRequestSchema,
  CreateMessageResultSchema,
  ElicitRequestSchema,
  ElicitResultSchema,
  ListRootsRequestSchema,
  ListRootsResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export const ASK_KINDS = ['sampling', 'elicitation', 'roots'] as const;
export type AskKind = (typeof ASK_KINDS)[number];

/** What the client answers with, so a test can tell the answer reached the backend that asked. */
export const CLIENT_ROOTS = [{ uri: 'file:///work/project', name: 'project' }];

/** One request a backend sent outside any tool call (`ask_later`), and what came back. */
export interface LaterAsk {
  readonly replica: string;
  readonly kind: AskKind;
  readonly answer?: string;
  readonly error?: string;
}

/** The server side: register with `registerAskTools(journal)` as the stack's `extend`. */
export interface AskJournal {
  readonly later: LaterAsk[];
}

export function newAskJournal(): AskJournal {
  return { later: [] };
}

/** What the client said, reduced to one string per kind: the sampled text, the elicited `who`, or the root URIs. */
async function ask(server: McpServer, replica: string, kind: AskKind, related: { relatedRequestId?: string | number }): Promise<string> {
  const question = `asked by ${replica}`;
  if (kind === 'sampling') {
    const params = { messages: [{ role: 'user' as const, content: { type: 'text' as const, text: question } }], maxTokens: 16 };
    // Outside a tool (no related request) the SDK sends it on the standalone GET stream.
    const result = related.relatedRequestId === undefined
      ? await server.server.request({ method: 'sampling/createMessage', params }, CreateMessageResultSchema)
      : await server.server.createMessage(params, related);
    return !Array.isArray(result.content) && result.content.type === 'text' ? result.content.text : JSON.stringify(result.content);
  }
  if (kind === 'elicitation') {
    const params = { mode: 'form' as const, message: question, requestedSchema: { type: 'object' as const, properties: { who: { type: 'string' as const } }, required: ['who'] } };
    const result = related.relatedRequestId === undefined
      ? await server.server.request({ method: 'elicitation/create', params }, ElicitResultSchema)
      : await server.server.elicitInput(params, related);
    return `${result.action}:${String(result.content?.who)}`;
  }
  const result = related.relatedRequestId === undefined
    ? await server.server.request({ method: 'roots/list' }, ListRootsResultSchema)
    : await server.server.listRoots(undefined, related);
  return result.roots.map((r) => r.uri).join(',');
}

/**
 * `ask_client {kind, stream}`: asks the client inside the call, on the call's own SSE stream (`request`) or on
 * the session's standalone GET stream (`standalone`), and returns the answer with the replica that asked.
 * `push {text}`: a `notifications/message` on the standalone stream, naming the replica as its logger.
 * `ask_later {kind, delay_ms}`: returns at once; after the delay the server asks on the standalone stream with
 * `server.server.request`, outside any tool call, and notes the outcome in the journal.
 */
export function registerAskTools(journal: AskJournal): (server: McpServer, replica: string) => void {
  return (server, replica) => {
    server.registerTool('ask_client', {
      description: 'Asks the client (sampling, elicitation or roots) and returns its answer.',
      inputSchema: { kind: z.enum(ASK_KINDS), stream: z.enum(['request', 'standalone']).default('request') },
    }, async ({ kind, stream }, extra) => {
      const answer = await ask(server, replica, kind, stream === 'request' ? { relatedRequestId: extra.requestId } : {});
      return { content: [{ type: 'text' as const, text: answer }], structuredContent: { replica, kind, answer } };
    });
    server.registerTool('push', {
      description: 'Sends notifications/message with the text on the standalone GET stream.',
      inputSchema: { text: z.string() },
    }, async ({ text }) => {
      await server.server.notification({ method: 'notifications/message', params: { level: 'info', logger: replica, data: text } });
      return { content: [{ type: 'text' as const, text: 'pushed' }] };
    });
    server.registerTool('ask_later', {
      description: 'Asks the client after the call has returned, outside any tool call.',
      inputSchema: { kind: z.enum(ASK_KINDS), delay_ms: z.number().int().min(0).max(5000).default(50) },
    }, ({ kind, delay_ms }) => {
      setTimeout(() => {
        ask(server, replica, kind, {}).then(
          (answer) => journal.later.push({ replica, kind, answer }),
          (err: unknown) => journal.later.push({ replica, kind, error: String(err) }),
        );
      }, delay_ms);
      return { content: [{ type: 'text' as const, text: 'scheduled' }] };
    });
  };
}

/** A request the client was asked, with the JSON-RPC id it arrived under (the gateway's rewritten id). */
export interface Asked {
  readonly kind: AskKind;
  readonly id: string | number;
  readonly question: string | undefined;
}

export interface AnsweringClient {
  readonly client: Client;
  readonly transport: StreamableHTTPClientTransport;
  readonly asked: Asked[];
  close(): Promise<void>;
}

/** An MCP SDK client with sampling, elicitation and roots; it answers `answer to: <question>`, `who: <question>` and CLIENT_ROOTS. */
export async function connectAnswering(endpoint: string, token: string): Promise<AnsweringClient> {
  const asked: Asked[] = [];
  const client = new Client({ name: 'toolgate-e2e-answering', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: { form: {} }, roots: { listChanged: true } } });
  client.setRequestHandler(CreateMessageRequestSchema, (req, extra) => {
    const first = req.params.messages[0]?.content;
    const question = first && !Array.isArray(first) && first.type === 'text' ? first.text : undefined;
    asked.push({ kind: 'sampling', id: extra.requestId, question });
    return { role: 'assistant', content: { type: 'text', text: `answer to: ${question}` }, model: 'scripted', stopReason: 'endTurn' };
  });
  client.setRequestHandler(ElicitRequestSchema, (req, extra) => {
    asked.push({ kind: 'elicitation', id: extra.requestId, question: req.params.message });
    return { action: 'accept', content: { who: req.params.message } };
  });
  client.setRequestHandler(ListRootsRequestSchema, (_req, extra) => {
    asked.push({ kind: 'roots', id: extra.requestId, question: undefined });
    return { roots: CLIENT_ROOTS };
  });
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, transport, asked, close: () => client.close() };
}

/** What a backend should have said the client answered, given the replica that asked. */
export function expectedAnswer(kind: AskKind, replica: string): string {
  if (kind === 'sampling') return `answer to: asked by ${replica}`;
  if (kind === 'elicitation') return `accept:asked by ${replica}`;
  return CLIENT_ROOTS.map((r) => r.uri).join(',');
}
