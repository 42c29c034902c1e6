import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEgressClient, fanOut, type EgressClient, type RequestSuccess } from '../../src/pipeline/fanout/egress.js';
import { compileNaming } from '../../src/core/mcp/names.js';
import { mergeToolsList, type ListItem } from '../../src/pipeline/fanout/merge.js';
import { listAllPages, listIdSequence } from '../../src/pipeline/fanout/pages.js';
import { deadPort, listen, startMcpBackend, startRouter, type Running, type RouterLog } from './fanout-servers.js';

const VERSION = '2025-11-25';
const initialize = (id: number) => ({
  method: 'initialize',
  id,
  params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: 'toolgate-test', version: '0' } },
});

const running: Running[] = [];
let router: Running & { log: RouterLog[] };
let client: EgressClient;
let quick: EgressClient; // short deadline for the failure cases
let listenerDown: EgressClient;

beforeAll(async () => {
  const alpha = await startMcpBackend('alpha', true, ['echo', 'shared']);
  const beta = await startMcpBackend('beta', false, ['shared', 'stream']);
  // Accepts and never answers.
  const slow = await listen(() => undefined);
  // Starts an event stream, sends one notification, then stalls before the response.
  const stall = await listen((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('event: message\ndata: {"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}\n\n');
  });
  const unavailable = await listen((_req, res) => void res.writeHead(503, { 'content-type': 'text/plain' }).end('upstream connect error'));
  // Priming event, a notification, the response — then the stream stays open: the client must stop reading.
  const open = await listen((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'mcp-session-id': 'open-1' });
    res.write(': keep-alive\r\nid: e1\r\ndata:\r\n\r\n');
    res.write('data: {"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}}\n\n');
    res.write('data: {"jsonrpc":"2.0","id":7,"result":{"protocolVersion":"2025-06-18","capabilities":{}}}\n\n');
    req.on('close', () => res.destroy());
  });
  const wrongId = await listen((_req, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('{"jsonrpc":"2.0","id":99,"result":{}}'));
  const html = await listen((_req, res) => void res.writeHead(200, { 'content-type': 'text/html' }).end('<p>hi</p>'));
  running.push(alpha, beta, slow, stall, open, wrongId, unavailable, html);
  const routes = new Map([
    ['alpha', alpha.port],
    ['beta', beta.port],
    ['slow', slow.port],
    ['stall', stall.port],
    ['unavailable', unavailable.port],
    ['html', html.port],
    ['open', open.port],
    ['wrong-id', wrongId.port],
    ['dead', await deadPort()],
  ]);
  router = await startRouter(routes);
  running.push(router);
  const baseUrl = `http://127.0.0.1:${router.port}`;
  client = createEgressClient({ baseUrl, timeoutMs: 10_000 });
  quick = createEgressClient({ baseUrl, timeoutMs: 400 });
  listenerDown = createEgressClient({ baseUrl: `http://127.0.0.1:${await deadPort()}`, timeoutMs: 10_000 });
});

afterAll(async () => {
  await Promise.all(running.map((r) => r.close()));
});

describe('egress client against real MCP SDK servers', () => {
  const sessions = new Map<string, RequestSuccess>();
  const opts = (backend: string) => ({ sessionId: sessions.get(backend)?.sessionId, protocolVersion: VERSION });

  it('initializes both backends concurrently and gets their session ids', async () => {
    const out = await fanOut(['alpha', 'beta'], (b) => client.request(b, initialize(1)));
    expect([...out.failed.keys()]).toEqual([]);
    for (const [backend, res] of out.ok) {
      expect(res.sessionId).toMatch(/^[\x21-\x7e]+$/);
      expect(res.protocolVersion).toBe(VERSION);
      expect(res.message).toMatchObject({ id: 1, result: { serverInfo: { name: backend } } });
      sessions.set(backend, res);
    }
    expect(sessions.get('alpha')?.sessionId).not.toBe(sessions.get('beta')?.sessionId);
  });

  it.each(['alpha', 'beta'])('sends notifications/initialized to %s (202)', async (backend) => {
    expect(await client.notify(backend, { method: 'notifications/initialized' }, opts(backend))).toEqual({ ok: true, status: 202 });
  });

  it.each([
    ['alpha', 'application/json', ['echo', 'shared']],
    ['beta', 'text/event-stream', ['shared', 'stream']],
  ])('lists the tools of %s (answered as %s)', async (backend, contentType, names) => {
    const res = await client.request(backend, { method: 'tools/list', id: 'list-1' }, opts(backend));
    expect(res.ok && 'result' in res.message && (res.message.result.tools as ListItem[]).map((t) => t.name)).toEqual(names);
    expect(router.log.filter((l) => l.backend === backend && l.method === 'POST').at(-1)?.contentType).toContain(contentType);
  });

  it('skips notifications on an SSE stream and returns the response with the same id', async () => {
    const res = await client.request('beta', { method: 'tools/call', id: 42, params: { name: 'stream', arguments: { text: 'x' } } }, opts('beta'));
    expect(res).toMatchObject({ ok: true, message: { id: 42, result: { content: [{ type: 'text', text: 'beta:stream:x' }] } } });
  });

  it('merges both lists with collision prefixes', async () => {
    const lists = await fanOut(['alpha', 'beta'], (b) => listAllPages(client, b, 'tools/list', opts(b), listIdSequence()));
    const naming = compileNaming({ alpha: { prefixMode: 'collision' }, beta: { prefixMode: 'collision' } });
    const merged = mergeToolsList(new Map([...lists.ok].map(([b, l]) => [b, l.items])), naming, () => true);
    expect(merged.tools.map((t) => t.name)).toEqual(['echo', 'alpha.shared', 'beta.shared', 'stream']);
  });

  it('passes extra headers but never lets them override routing or protocol headers', async () => {
    const headers = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'X-Toolgate-Backend': 'beta', Accept: 'text/html', 'x-toolgate-affinity': 'tok-1' };
    const res = await client.request('alpha', initialize(5), { headers });
    expect(res).toMatchObject({ ok: true, message: { result: { serverInfo: { name: 'alpha' } } } });
    expect(router.log.at(-1)?.headers).toMatchObject({
      traceparent: headers.traceparent,
      'x-toolgate-backend': 'alpha',
      // Envoy ring-hashes on it: the initialize fan-out must reach the replica later calls of the session hash to.
      'x-toolgate-affinity': 'tok-1',
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
    });
  });

  it('reports an unknown session as session-expired', async () => {
    const res = await client.request('alpha', { method: 'tools/list', id: 2 }, { sessionId: 'no-such-session', protocolVersion: VERSION });
    expect(res).toMatchObject({ ok: false, backend: 'alpha', error: 'session-expired', status: 404 });
  });

  it.each(['alpha', 'beta'])('deletes the %s session, after which it is expired', async (backend) => {
    expect(await client.deleteSession(backend, sessions.get(backend)?.sessionId ?? '', { protocolVersion: VERSION })).toMatchObject({ ok: true, status: 200 });
    const after = await client.request(backend, { method: 'tools/list', id: 3 }, opts(backend));
    expect(after).toMatchObject({ ok: false, error: 'session-expired' });
  });
});

describe('egress failures are values, and fan-out leaves the failed backend out', () => {
  it.each([
    ['a backend whose connection is reset', 'dead', 'network', undefined],
    ['a backend that never answers', 'slow', 'timeout', undefined],
    ['an SSE stream that stalls before the response', 'stall', 'timeout', undefined],
    ['an upstream 503 (Envoy: backend down)', 'unavailable', 'http-status', 503],
    ['an unknown backend name (no route, no session)', 'nobody', 'http-status', 404],
    ['a non-MCP content type', 'html', 'bad-response', 200],
    ['a JSON response to another id', 'wrong-id', 'bad-response', 200],
  ])('%s → %s', async (_name, backend, error, status) => {
    // The healthy backend keeps the long deadline, so only the case under test depends on the short one.
    const out = await fanOut(['alpha', backend], (b) => (b === 'alpha' ? client : quick).request(b, initialize(7)));
    expect([...out.ok.keys()]).toEqual(['alpha']);
    const failure = out.failed.get(backend);
    expect(failure).toMatchObject({ ok: false, backend, error });
    expect(failure?.status).toBe(status);
    expect(failure?.detail.length).toBeGreaterThan(0);
  });

  it('returns as soon as the response event arrives although the stream stays open', async () => {
    const res = await client.request('open', initialize(7));
    expect(res).toMatchObject({ ok: true, sessionId: 'open-1', protocolVersion: '2025-06-18', message: { id: 7 } });
  });

  it('reports an egress listener that is down as network', async () => {
    expect(await listenerDown.request('alpha', initialize(1))).toMatchObject({ ok: false, error: 'network' });
  });

  it('turns a call that throws into a failure instead of rejecting', async () => {
    const out = await fanOut(['x'], () => Promise.reject(new Error('boom')));
    expect(out.failed.get('x')).toMatchObject({ error: 'network', detail: 'call threw: boom' });
  });
});
