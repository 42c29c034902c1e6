// Gateway mode, the GET event stream: one client stream through Envoy carries every backend's standalone stream,
// Last-Event-ID resumes each backend where it stopped (and resumes a call's own stream), the backends' streams
// close with the client's, and only a GET that toolgate's ext_proc granted reaches the event-stream server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSseParser, type SseEvent } from '../../src/pipeline/fanout/sse.js';
import { decodeCursor } from '../../src/pipeline/fanout/event-cursor.js';
import { printLogsOnFailure } from '../harness/logs.js';
import type { RecordedRequest } from '../harness/mcp-server.js';
import { bearer, get, post, toolCall } from './helpers/client.js';
import { eventually } from '../harness/eventually.js';
import { OPERATOR_CLAIMS, startGatewayStack, type GatewayStack } from './helpers/gateway-stack.js';
import { newAskJournal, registerAskTools } from './helpers/server-requests.js';

printLogsOnFailure();

let stack: GatewayStack;
let jwt: string;
beforeAll(async () => {
  const askTools = registerAskTools(newAskJournal());
  stack = await startGatewayStack({ replicaOptions: (name) => ({ extend: (server) => askTools(server, name), eventStore: true }) });
  jwt = await stack.idp.mint(OPERATOR_CLAIMS);
});
afterAll(async () => {
  await stack?.stop();
});

const VERSION = '2025-11-25';

interface RawSession {
  readonly token: string;
  readonly headers: Record<string, string>;
}

/** initialize + notifications/initialized by hand; `capabilities` as the client declares them. */
async function rawSession(capabilities: Record<string, unknown> = {}): Promise<RawSession> {
  const init = await post(stack.endpoint, JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: VERSION, capabilities, clientInfo: { name: 'raw', version: '1' } } }), bearer(jwt));
  expect(init.status).toBe(200);
  const token = init.headers.get('mcp-session-id') ?? '';
  const headers = { ...bearer(jwt), 'mcp-session-id': token, 'mcp-protocol-version': VERSION };
  expect((await post(stack.endpoint, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers)).status).toBe(202);
  return { token, headers };
}

/** An open GET stream, parsed as it arrives. */
interface OpenStream {
  readonly status: number;
  readonly contentType: string | null;
  readonly events: SseEvent[];
  /** Waits until `probe` holds over the events received so far. */
  until(probe: (events: readonly SseEvent[]) => boolean, what: string): Promise<void>;
  close(): void;
}

async function openStream(url: string, headers: Record<string, string>): Promise<OpenStream> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events: SseEvent[] = [];
  if (res.body) {
    const parser = createSseParser();
    const reader = res.body.getReader();
    void (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          events.push(...parser.push(value));
        }
      } catch {
        // aborted by close()
      }
    })();
  }
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    until: (probe, what) => eventually(() => probe(events), what, 10_000, 20),
    close: () => controller.abort(),
  };
}

const pushed = (events: readonly SseEvent[]): string[] => events.flatMap((e) => {
  const message = JSON.parse(e.data || '{}') as { method?: string; params?: { data?: string } };
  return message.method === 'notifications/message' && typeof message.params?.data === 'string' ? [message.params.data] : [];
});

async function push(session: RawSession, backend: string, text: string): Promise<void> {
  const answer = await post(stack.endpoint, toolCall(`${backend}.push`, { text }, `push-${text}`), session.headers);
  expect(answer.status).toBe(200);
  expect(answer.text).toContain('pushed');
}

/** GET requests a replica received that are still open. */
const openGets = (): RecordedRequest[] => Object.values(stack.replicas).flatMap((r) => r.requests.filter((q) => q.httpMethod === 'GET' && q.status === undefined));

describe('one client GET stream over both backends', () => {
  it('carries both backends\' messages, with ids that resume every backend where it stopped', async () => {
    const session = await rawSession();
    const before = openGets().length;
    const first = await openStream(stack.endpoint, session.headers);
    expect(first.status).toBe(200);
    expect(first.contentType).toMatch(/^text\/event-stream/);
    // toolgate opened one GET per backend, through the egress listener, with each backend's own session.
    await eventually(() => openGets().length === before + 2, 'a GET stream open at each backend');

    await push(session, 'billing', 'b-1');
    await push(session, 'inventory', 'i-1');
    await first.until((e) => pushed(e).length === 2, 'both pushes on the one stream');
    expect(pushed(first.events).sort()).toEqual(['b-1', 'i-1']);
    const last = first.events.at(-1)?.id;
    const cursor = decodeCursor(last);
    expect(cursor?.kind).toBe('merged');
    expect([...(cursor?.ids.keys() ?? [])].sort()).toEqual(['billing', 'inventory']);

    // The client goes away: toolgate closes both backend streams.
    first.close();
    await eventually(() => openGets().length === before, 'the backend streams closed with the client\'s');

    // Sent while no stream is open: each backend stores them; a resumed stream gets exactly those.
    await push(session, 'billing', 'b-2');
    await push(session, 'inventory', 'i-2');
    const resumed = await openStream(stack.endpoint, { ...session.headers, 'last-event-id': last ?? '' });
    expect(resumed.status).toBe(200);
    await resumed.until((e) => pushed(e).length === 2, 'the two missed pushes');
    await push(session, 'billing', 'b-3');
    await resumed.until((e) => pushed(e).length === 3, 'a live push after the replay');
    expect(pushed(resumed.events).slice(0, 2).sort()).toEqual(['b-2', 'i-2']);
    expect(pushed(resumed.events)[2]).toBe('b-3');
    resumed.close();
  });

  it('resumes a call\'s own stream with a GET and the Last-Event-ID seen on it', async () => {
    // A client that takes server requests: toolgate reads its calls' streams, and their event ids name the backend.
    const session = await rawSession({ sampling: {} });
    const controller = new AbortController();
    const res = await fetch(stack.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...session.headers },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'slow-1', method: 'tools/call', params: { name: 'billing.slow', arguments: { steps: 2, delay_ms: 10, gate: true }, _meta: { progressToken: 'p' } } }),
      signal: controller.signal,
    });
    const parser = createSseParser();
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const seen: SseEvent[] = [];
    while (!seen.some((e) => e.data.includes('notifications/progress'))) {
      const { value, done } = await reader.read();
      if (done) break;
      seen.push(...parser.push(value));
    }
    const last = seen.at(-1)?.id;
    expect(decodeCursor(last)).toMatchObject({ kind: 'request' });
    expect([...(decodeCursor(last)?.ids.keys() ?? [])]).toEqual(['billing']);
    controller.abort();

    for (const r of [stack.replicas.b1, stack.replicas.b2]) r.releaseSlow();
    const resumed = await openStream(stack.endpoint, { ...session.headers, 'last-event-id': last ?? '' });
    expect(resumed.status).toBe(200);
    await resumed.until((e) => e.some((x) => x.data.includes('"result"')), 'the call\'s result on the resumed stream');
    const messages = resumed.events.filter((e) => e.data).map((e) => JSON.parse(e.data) as { id?: unknown; method?: string; params?: { progress?: number } });
    expect(messages.map((m) => m.method ?? `result ${String(m.id)}`)).toEqual(['notifications/progress', 'result slow-1']);
    expect(messages[0]?.params?.progress).toBe(2);
    resumed.close();
  });
});

describe('who may open the stream', () => {
  it('answers a GET without a session with 400, and reaches no backend', async () => {
    const before = Object.values(stack.replicas).map((r) => r.requests.length);
    const answer = await get(stack.endpoint, { ...bearer(jwt), accept: 'text/event-stream' });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ error: { code: -32600 } });
    expect(Object.values(stack.replicas).map((r) => r.requests.length)).toEqual(before);
  });

  it('ignores a grant header the client sends (ext_proc strips it and mints its own)', async () => {
    const answer = await get(stack.endpoint, { ...bearer(jwt), accept: 'text/event-stream', 'x-toolgate-events-grant': '9999999999.dXNlci0x.AAAAAAAAAAAAAAAAAAAAAA' });
    expect(answer.status).toBe(400);
  });

  it('refuses (403) a GET straight to the event-stream server without a grant ext_proc minted, and opens no backend stream', async () => {
    const session = await rawSession();
    const before = openGets().length;
    for (const grant of [undefined, '9999999999.dXNlci0x.AAAAAAAAAAAAAAAAAAAAAA', '1.dXNlci0x.AAAAAAAAAAAAAAAAAAAAAA']) {
      const answer = await get(stack.eventsUrl, { 'mcp-session-id': session.token, accept: 'text/event-stream', ...(grant ? { 'x-toolgate-events-grant': grant } : {}) });
      expect(answer.status).toBe(403);
      expect((answer.json as { error: { message: string } }).error.message).toMatch(/only through the gateway/);
    }
    expect(openGets().length).toBe(before);
  });

  it('answers 404 to a GET whose session token another subject presents', async () => {
    const session = await rawSession();
    const other = await stack.idp.mint(OPERATOR_CLAIMS, { subject: 'someone-else' });
    const answer = await get(stack.endpoint, { ...session.headers, ...bearer(other), accept: 'text/event-stream' });
    expect(answer.status).toBe(404);
  });
});
