// MCP features beyond the harness tools (sampling, elicitation, roots, logging, completions, templates, subscriptions),
// and a scripted MCP SDK client that exercises every one of them and returns a normalized transcript: the one
// session both transparency suites (sidecar and gateway) replay directly and through Envoy + toolgate.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { completable } from '@modelcontextprotocol/sdk/server/completable.js';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  SubscribeRequestSchema,
  ToolListChangedNotificationSchema,
  UnsubscribeRequestSchema,
  type CreateMessageResult,
  type ElicitResult,
  type ListRootsResult,
  type LoggingLevel,
  type Progress,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { eventually } from '../../harness/eventually.js';

/** Every tool the scenario's server offers: the harness's and these. */
export const HARNESS_TOOLS = ['echo', 'add', 'refund', 'lookup_charge', 'slow', 'whoami'] as const;
export const FEATURE_TOOLS = ['sample', 'ask', 'roots', 'chatty', 'notify', 'touch'] as const;
export const FEATURE_PROMPTS = ['greeting', 'plan_trip'] as const;
/** URI patterns of every resource: the harness's `demo://info`, the readme and the city template. */
export const FEATURE_RESOURCES = ['demo://*', 'docs://*', 'cities://*'] as const;
/** Methods the scenario calls that are neither housekeeping nor tools, prompts or resources. */
export const FEATURE_METHODS = ['completion/complete', 'logging/setLevel'] as const;

export const CITY_TEMPLATE = 'cities://{country}/{city}';
const CITIES: Readonly<Record<string, readonly string[]>> = { fr: ['lyon', 'lille', 'paris'], it: ['lucca', 'roma'] };
const DESTINATIONS = ['Paris', 'Patagonia', 'Porto', 'Lisbon'];
const LOG_LEVELS: readonly LoggingLevel[] = ['debug', 'info', 'notice', 'warning', 'error'];

/** What the scripted client's "model" and "user" answer, so both runs see the same replies. */
export const SAMPLED: CreateMessageResult = {
  role: 'assistant',
  content: { type: 'text', text: 'The model says: forty-two.' },
  model: 'scripted-model-1',
  stopReason: 'endTurn',
};
export const ELICITED: ElicitResult = { action: 'accept', content: { colour: 'teal', confirmed: true } };
export const ROOTS: ListRootsResult = { roots: [{ uri: 'file:///work/transparency', name: 'transparency' }] };

/** For startMcpServer's `extend`: registers the extra features on each server instance. */
export function registerFeatures(server: McpServer): void {
  const subscribed = new Set<string>();
  const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });

  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, (req) => {
    subscribed.add(req.params.uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, (req) => {
    subscribed.delete(req.params.uri);
    return {};
  });

  server.registerTool('sample', {
    description: 'Asks the client\'s model (sampling) and returns what it said.',
    inputSchema: { prompt: z.string(), stream: z.enum(['request', 'standalone']).default('request') },
  }, async ({ prompt, stream }, extra) => {
    // On the tool call's own SSE stream, or (no related request) on the session's standalone GET stream.
    const options = stream === 'request' ? { relatedRequestId: extra.requestId } : {};
    const result = await server.server.createMessage({
      messages: [{ role: 'user', content: { type: 'text', text: prompt } }],
      systemPrompt: 'Answer in one sentence.',
      maxTokens: 64,
    }, options);
    const said = !Array.isArray(result.content) && result.content.type === 'text' ? result.content.text : JSON.stringify(result.content);
    return { ...text(said), structuredContent: { model: result.model, stopReason: result.stopReason ?? null, role: result.role } };
  });

  server.registerTool('ask', {
    description: 'Asks the user (elicitation) and returns the answer.',
    inputSchema: { question: z.string() },
  }, async ({ question }, extra) => {
    const answer = await server.server.elicitInput({
      message: question,
      requestedSchema: {
        type: 'object',
        properties: { colour: { type: 'string', description: 'A colour' }, confirmed: { type: 'boolean' } },
        required: ['colour'],
      },
    }, { relatedRequestId: extra.requestId });
    return { ...text(`user ${answer.action}ed`), structuredContent: { action: answer.action, content: answer.content ?? null } };
  });

  server.registerTool('roots', {
    description: 'Asks the client for its roots (roots/list) and returns them.',
  }, async (extra) => {
    const { roots } = await server.server.listRoots(undefined, { relatedRequestId: extra.requestId });
    return { ...text(roots.map((r) => r.uri).join(',')), structuredContent: { roots } };
  });

  server.registerTool('chatty', {
    description: 'Logs one message at each level (debug … error); the client\'s logging/setLevel decides which it gets.',
  }, async (extra) => {
    for (const [n, level] of LOG_LEVELS.entries()) {
      await server.sendLoggingMessage({ level, logger: 'chatty', data: { n, level } }, extra.sessionId);
    }
    return text(`logged ${LOG_LEVELS.length} messages`);
  });

  server.registerTool('notify', {
    description: 'Sends notifications/tools/list_changed on the standalone stream.',
  }, () => {
    server.sendToolListChanged();
    return text('sent');
  });

  server.registerTool('touch', {
    description: 'Sends notifications/resources/updated for a subscribed resource.',
    inputSchema: { uri: z.string() },
  }, async ({ uri }) => {
    if (!subscribed.has(uri)) return text(`not subscribed: ${uri}`);
    await server.server.sendResourceUpdated({ uri });
    return text(`updated ${uri}`);
  });

  server.registerPrompt('plan_trip', {
    description: 'Plans a trip.',
    argsSchema: {
      destination: completable(z.string(), (value) => DESTINATIONS.filter((d) => d.toLowerCase().startsWith(value.toLowerCase()))),
      days: z.string(),
    },
  }, ({ destination, days }) => ({
    description: `A ${days}-day trip`,
    messages: [{ role: 'user', content: { type: 'text', text: `Plan ${days} days in ${destination}.` } }],
  }));

  server.registerResource('readme', 'docs://readme', { description: 'The readme.', mimeType: 'text/markdown' }, (uri) => ({
    contents: [{ uri: uri.href, mimeType: 'text/markdown', text: '# Readme\nHello.' }],
  }));

  server.registerResource('city', new ResourceTemplate(CITY_TEMPLATE, {
    list: () => ({ resources: [{ uri: 'cities://fr/lyon', name: 'Lyon' }, { uri: 'cities://it/roma', name: 'Roma' }] }),
    complete: {
      country: (value) => Object.keys(CITIES).filter((c) => c.startsWith(value)),
      city: (value, context) => (CITIES[context?.arguments?.country ?? ''] ?? []).filter((c) => c.startsWith(value)),
    },
  }), { description: 'A city page.', mimeType: 'application/json' }, (uri, vars) => ({
    contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ country: vars.country, city: vars.city }) }],
  }));
}

export interface ScenarioOptions {
  /** Sent on every request (e.g. the bearer token when going through Envoy). */
  readonly headers?: Record<string, string>;
  /** Called once the session is up, before anything else (tests use it to look at the session id). */
  readonly onConnected?: (transport: StreamableHTTPClientTransport, client: Client) => Promise<void> | void;
  /**
   * The `slow` call of the long-call step: long enough, through Envoy, to outlive Envoy's cached gRPC client for
   * toolgate when the bootstrap shortens `max_cached_entry_idle_duration`. Default: 2 steps of 10 ms.
   */
  readonly longCall?: { readonly steps: number; readonly delayMs: number };
}

export interface TranscriptEntry {
  readonly step: string;
  readonly outcome: unknown;
}

/** What the server asked the client and what it pushed outside any answer, as the client saw them. */
interface Observed {
  sampling: unknown[];
  elicitation: unknown[];
  roots: number;
  /** The JSON-RPC id of every request the server sent the client, in arrival order. */
  requestIds: Array<string | number>;
  logs: unknown[];
  toolListChanged: number;
  resourceUpdated: unknown[];
}

/**
 * One MCP session through every feature, step by step. A failing step is recorded as its error, not thrown,
 * so two transcripts compare in full. Values that legitimately differ between runs are normalized.
 */
export async function runScenario(endpoint: string, opts: ScenarioOptions = {}): Promise<TranscriptEntry[]> {
  const headers = opts.headers ?? {};
  const seen: Observed = { sampling: [], elicitation: [], roots: 0, requestIds: [], logs: [], toolListChanged: 0, resourceUpdated: [] };
  const client = new Client({ name: 'transparency-scenario', version: '1.0.0' }, { capabilities: { sampling: {}, elicitation: {}, roots: {} } });
  client.setRequestHandler(CreateMessageRequestSchema, (req, extra) => {
    seen.requestIds.push(extra.requestId);
    seen.sampling.push(req.params);
    return SAMPLED;
  });
  client.setRequestHandler(ElicitRequestSchema, (req, extra) => {
    seen.requestIds.push(extra.requestId);
    seen.elicitation.push(req.params);
    return ELICITED;
  });
  client.setRequestHandler(ListRootsRequestSchema, (_req, extra) => {
    seen.requestIds.push(extra.requestId);
    seen.roots++;
    return ROOTS;
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => { seen.logs.push(n.params); });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => { seen.toolListChanged++; });
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => { seen.resourceUpdated.push(n.params); });
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), { requestInit: { headers } });

  const transcript: TranscriptEntry[] = [];
  const step = async (name: string, run: () => Promise<unknown>) => {
    let outcome: unknown;
    try {
      outcome = await run();
    } catch (err) {
      outcome = { error: err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err) };
    }
    transcript.push({ step: name, outcome: normalize(outcome) });
  };

  try {
    await step('initialize', async () => {
      await client.connect(transport);
      await opts.onConnected?.(transport, client);
      return {
        server: client.getServerVersion(),
        capabilities: client.getServerCapabilities(),
        instructions: client.getInstructions() ?? null,
        protocolVersion: transport.protocolVersion ?? null,
        hasSession: typeof transport.sessionId === 'string' && transport.sessionId.length > 0,
      };
    });
    await step('standalone GET stream: notifications/tools/list_changed', async () => {
      // A message for the standalone stream is dropped while the client has not opened it yet: retry until one lands.
      await eventually(async () => {
        await client.callTool({ name: 'notify', arguments: {} });
        return waitFor(() => seen.toolListChanged > 0, 300);
      }, 'a list_changed notification on the GET stream', 10_000, 0);
      return { delivered: seen.toolListChanged > 0 };
    });
    await step('tools/list', () => client.listTools());
    await step('tools/call echo', () => client.callTool({ name: 'echo', arguments: { text: 'héllo, wörld' } }));
    await step('tools/call add (structured output)', () => client.callTool({ name: 'add', arguments: { a: 2, b: 40 } }));
    await step('tools/call slow (progress)', async () => {
      const progress: Progress[] = [];
      const result = await client.callTool({ name: 'slow', arguments: { steps: 3, delay_ms: 10 } }, undefined, { onprogress: (p) => progress.push(p) });
      return { result, progress };
    });
    await step('logging/setLevel info', () => client.setLoggingLevel('info'));
    await step('tools/call chatty (notifications/message)', async () => {
      const result = await client.callTool({ name: 'chatty', arguments: {} });
      // The messages travel on the standalone stream, apart from the result; the last level ends the wait.
      await waitFor(() => seen.logs.some((l) => isRecord(l) && l.level === 'error'), 10_000);
      return { result, logs: seen.logs.splice(0) };
    });
    await step('prompts/list', () => client.listPrompts());
    await step('prompts/get plan_trip', () => client.getPrompt({ name: 'plan_trip', arguments: { destination: 'Porto', days: '3' } }));
    await step('completion/complete prompt argument', () => client.complete({
      ref: { type: 'ref/prompt', name: 'plan_trip' },
      argument: { name: 'destination', value: 'pa' },
    }));
    await step('resources/list', () => client.listResources());
    await step('resources/read docs://readme', () => client.readResource({ uri: 'docs://readme' }));
    await step('resources/read cities://fr/lyon (template)', () => client.readResource({ uri: 'cities://fr/lyon' }));
    await step('resources/templates/list', () => client.listResourceTemplates());
    await step('completion/complete template argument', () => client.complete({
      ref: { type: 'ref/resource', uri: CITY_TEMPLATE },
      argument: { name: 'city', value: 'l' },
      context: { arguments: { country: 'fr' } },
    }));
    await step('resources/subscribe + notifications/resources/updated', async () => {
      await client.subscribeResource({ uri: 'cities://fr/lyon' });
      const result = await client.callTool({ name: 'touch', arguments: { uri: 'cities://fr/lyon' } });
      await waitFor(() => seen.resourceUpdated.length > 0, 10_000);
      await client.unsubscribeResource({ uri: 'cities://fr/lyon' });
      return { result, updated: seen.resourceUpdated.splice(0) };
    });
    await step('tools/call sample → sampling/createMessage (request stream)', async () => {
      const result = await client.callTool({ name: 'sample', arguments: { prompt: 'What is six times seven?' } });
      return { result, asked: seen.sampling.splice(0) };
    });
    await step('tools/call sample → sampling/createMessage (standalone stream)', async () => {
      const result = await client.callTool({ name: 'sample', arguments: { prompt: 'And seven times six?', stream: 'standalone' } });
      return { result, asked: seen.sampling.splice(0) };
    });
    await step('tools/call ask → elicitation/create', async () => {
      const result = await client.callTool({ name: 'ask', arguments: { question: 'Which colour?' } });
      return { result, asked: seen.elicitation.splice(0) };
    });
    await step('tools/call roots → roots/list', async () => {
      const result = await client.callTool({ name: 'roots', arguments: {} });
      const asked = seen.roots;
      seen.roots = 0;
      return { result, asked };
    });
    await step('tools/call slow (long call)', async () => {
      const { steps, delayMs } = opts.longCall ?? { steps: 2, delayMs: 10 };
      const progress: Progress[] = [];
      const result = await client.callTool(
        { name: 'slow', arguments: { steps, delay_ms: delayMs } },
        undefined,
        { onprogress: (p) => progress.push(p), timeout: 60_000 },
      );
      return { result, progress: progress.map((p) => p.progress) };
    });
    await step('ping', () => client.ping());
    await step('DELETE (terminateSession)', async () => {
      const ended = transport.sessionId;
      await transport.terminateSession();
      // The ended session is gone for good: a request that still presents it gets 404.
      const res = await fetch(endpoint, {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-session-id': ended ?? '',
          'mcp-protocol-version': transport.protocolVersion ?? '',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' }),
      });
      await res.body?.cancel();
      return { sessionCleared: transport.sessionId === undefined, statusAfterDelete: res.status };
    });
    // A client sees the id of each request a server sends it (and answers with it).
    await step('ids of the server\'s requests', async () => seen.requestIds);
    await step('server pushes nobody asked for', async () => ({
      sampling: seen.sampling, elicitation: seen.elicitation, roots: seen.roots, logs: seen.logs, resourceUpdated: seen.resourceUpdated,
    }));
  } finally {
    await client.close().catch(() => undefined);
  }
  return transcript;
}

/** True once `probe` holds, false after `timeoutMs`. */
function waitFor(probe: () => boolean, timeoutMs: number): Promise<boolean> {
  return eventually(probe, 'waitFor', timeoutMs, 10).then(() => true, () => false);
}

const VARIES = new Set(['sessionId']);

/** A JSON copy where values that differ by nature between runs (session ids) are replaced by a marker. */
export function normalize(value: unknown): unknown {
  if (value === undefined) return null;
  return JSON.parse(JSON.stringify(value, (key, v: unknown) => (VARIES.has(key) && v !== null && v !== undefined ? '<varies>' : v)));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
