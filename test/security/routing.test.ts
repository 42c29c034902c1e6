// Security, routing (issue 9 points 4, 5 and the config parts of 8), through the real Envoy in sidecar and gateway
// mode against both instrumented backends. Each case asserts what the client saw and what the backends received:
//   - clients cannot steer routing: forged x-toolgate-* headers select nothing, and a request toolgate cannot route
//     gets a 4xx that says why (never the gateway's 502, never a backend);
//   - a 2026 header-only ("fast path") route only forwards a body that agrees with its headers: an initialize under
//     tools/call headers opens no backend session, and no raw backend session id reaches the client;
//   - MCP-Protocol-Version is one of the known versions, and a 2026-07-28 request carries no session;
//   - oversized request headers get 431.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLogsOnFailure } from '../harness/logs.js';
import type { Execution, ReceivedRequest } from './backend.js';
import { FAST_TOOL, startFastPathGateway } from './fastpath-stack.js';
import { BACKENDS, MATRIX, rpc, startSecurityStack, type PostOptions, type RawReply, type SecurityStack, useSecurityStack } from './harness.js';

printLogsOnFailure();

const KNOWN_VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'];
const STATELESS = '2026-07-28';
/** What a 2026-07-28 request carries in `_meta` (there is no initialize to say it once). */
const META_2026 = { 'io.modelcontextprotocol/protocolVersion': STATELESS, 'io.modelcontextprotocol/clientCapabilities': {} };
const FORGED = { 'x-toolgate-backend': 'inventory', 'x-toolgate-affinity': 'attacker', 'x-toolgate-decision-id': 'forged' };

const headerOf = (r: ReceivedRequest, name: string): string | undefined => {
  const v = r.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};
/** The forged affinity and decision id are values toolgate never sends (a backend name it does, legitimately). */
const carriesForgery = (r: ReceivedRequest) => headerOf(r, 'x-toolgate-affinity') === 'attacker' || headerOf(r, 'x-toolgate-decision-id') === 'forged';
const errorOf = (reply: RawReply) => (reply.messages[0] as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;

/** A refusal an agent can act on: a 4xx with a JSON-RPC error that says something. */
function expectSentence(reply: RawReply, status: number | 'any-4xx'): void {
  if (status === 'any-4xx') {
    expect(reply.status, reply.text).toBeGreaterThanOrEqual(400);
    expect(reply.status, reply.text).toBeLessThan(500);
  } else {
    expect(reply.status, reply.text).toBe(status);
  }
  const error = errorOf(reply);
  expect(error, reply.text).toBeDefined();
  expect(typeof error?.code, reply.text).toBe('number');
  expect(String(error?.message ?? '').length, reply.text).toBeGreaterThan(20);
}

/** Status and headers only (a GET may open an SSE stream that never ends). */
async function statusOf(s: SecurityStack, method: string, opts: PostOptions): Promise<{ status: number; type: string | null }> {
  const token = await s.token();
  const abort = new AbortController();
  const res = await fetch(s.endpoint, {
    method,
    signal: abort.signal,
    headers: { accept: 'text/event-stream', authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-06-18', ...(opts.session ? { 'mcp-session-id': opts.session } : {}), ...opts.headers },
  });
  abort.abort();
  return { status: res.status, type: res.headers.get('content-type') };
}

interface OddRequest {
  readonly name: string;
  readonly method: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
  readonly withSession: boolean;
}

/** Requests with no JSON-RPC call toolgate could route to one backend. */
const ODD: readonly OddRequest[] = [
  { name: 'PUT without a body', method: 'PUT', withSession: true },
  { name: 'OPTIONS', method: 'OPTIONS', withSession: true },
  { name: 'PATCH with a tools/call body', method: 'PATCH', body: rpc('tools/call', { name: 'billing.lookup_charge', arguments: {} }), withSession: true },
  { name: 'a 2026 POST of tools/list with no body', method: 'POST', headers: { 'mcp-protocol-version': STATELESS, 'mcp-method': 'tools/list' }, withSession: false },
  { name: 'a 2026 POST of ping with no body', method: 'POST', headers: { 'mcp-protocol-version': STATELESS, 'mcp-method': 'ping' }, withSession: false },
  { name: 'a POST with an empty body', method: 'POST', body: '', withSession: true },
  { name: 'a JSON-RPC response nobody asked for', method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 99, result: {} }), withSession: true },
];

describe.each(MATRIX)('clients cannot steer routing: $mode mode, $backend backend', ({ mode, backend }) => {
  let s: SecurityStack;
  let session: string;
  useSecurityStack({ mode, backend }, (stack, id) => {
    s = stack;
    session = id;
  });

  const noForgeryReachedABackend = () => expect(s.journal.requests.filter(carriesForgery)).toEqual([]);
  const inventoryRequests = () => s.journal.requests.filter((r) => r.replica.startsWith('i'));

  it('forged headers on an allowed tools/call: the named tool runs once, on its own backend', async () => {
    s.journal.clear();
    const r = await s.post(rpc('tools/call', { name: s.tool('lookup_charge'), arguments: { id: 'forged-1' } }), { session, headers: FORGED });
    expect(r.status).toBe(200);
    expect(JSON.stringify(r.messages)).toContain('charge forged-1');
    expect(s.journal.tools().map((e: Execution) => [e.name, e.args])).toEqual([['lookup_charge', { id: 'forged-1' }]]);
    if (mode === 'gateway') {
      expect(s.journal.tools()[0]?.replica).toMatch(/^b[12]$/);
      expect(inventoryRequests()).toEqual([]);
    }
    noForgeryReachedABackend();
  });

  it('forged headers on a denied tools/call: denied, nothing runs anywhere', async () => {
    s.journal.clear();
    const r = await s.post(rpc('tools/call', { name: s.tool('delete_everything'), arguments: {} }), { session, headers: FORGED });
    expect(r.status).toBe(200);
    expect(r.messages).toMatchObject([{ result: { isError: true } }]);
    expect(s.journal.executions).toEqual([]);
    expect(s.journal.requests).toEqual([]);
  });

  it('forged headers on initialize: a session like any other, its backend ids stay hidden', async () => {
    s.journal.clear();
    const init = rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'forger', version: '1' } }, 0);
    const r = await s.post(init, { headers: FORGED });
    expect(r.status).toBe(200);
    const sid = r.headers.get('mcp-session-id');
    expect(sid).toBeTruthy();
    expect(s.journal.sessionIds).not.toContain(sid);
    noForgeryReachedABackend();
  });

  it('forged headers on tools/list: the caller\'s own list', async () => {
    s.journal.clear();
    const r = await s.post(rpc('tools/list', {}), { session, headers: FORGED });
    expect(r.status).toBe(200);
    const names = JSON.stringify(r.messages);
    expect(names).toContain(s.tool('lookup_charge'));
    expect(names).not.toContain('delete_everything');
    noForgeryReachedABackend();
  });

  it('forged headers on GET and DELETE: answered as without them', async () => {
    s.journal.clear();
    const get = await statusOf(s, 'GET', { session, headers: FORGED });
    // Sidecar: the backend's own event stream; gateway: toolgate's 405 (it offers no GET stream).
    expect(get.status).toBe(mode === 'gateway' ? 405 : 200);
    const doomed = await s.initialize();
    s.journal.clear();
    const del = await s.send('DELETE', undefined, { session: doomed, headers: FORGED });
    expect(del.status).toBeLessThan(300);
    noForgeryReachedABackend();
    if (mode === 'gateway') expect(s.journal.requests.every((r) => r.httpMethod === 'DELETE')).toBe(true);
  });

  it.each(ODD)('$name, with forged headers: a 4xx that says why, and (gateway) no backend sees it', async (odd) => {
    s.journal.clear();
    const r = await s.send(odd.method, odd.body, { ...(odd.withSession ? { session } : {}), headers: { ...FORGED, ...odd.headers } });
    expect(r.status, r.text).not.toBe(502);
    noForgeryReachedABackend();
    if (mode === 'gateway') {
      // toolgate routes only JSON-RPC calls; everything else is its own refusal, never a backend's answer.
      expectSentence(r, 'any-4xx');
      expect(s.journal.requests).toEqual([]);
    } else {
      // One backend: the sidecar forwards what it does not judge, and the server answers for itself.
      expect(r.status, r.text).toBeGreaterThanOrEqual(200);
      expect(r.status, r.text).toBeLessThan(500);
    }
    expect(s.journal.executions).toEqual([]);
  });

  it.each(ODD.filter((o) => o.method !== 'OPTIONS'))('$name, no forgery: never the catch-all\'s 502', async (odd) => {
    s.journal.clear();
    const r = await s.send(odd.method, odd.body, { ...(odd.withSession ? { session } : {}), headers: { ...odd.headers } });
    expect(r.status, r.text).not.toBe(502);
    expect(r.status, r.text).toBeLessThan(500);
    if (mode === 'gateway') {
      expectSentence(r, 'any-4xx');
      expect(s.journal.requests).toEqual([]);
    }
    expect(s.journal.executions).toEqual([]);
  });
});

/** The same fast-path cases on the sidecar (envoy/sidecar.yaml) and on a gateway rendered with one. */
const FAST_MATRIX = (['sidecar', 'gateway'] as const).flatMap((mode) => BACKENDS.map((backend) => ({ mode, backend })));

interface FastStack {
  journal: SecurityStack['journal'];
  send: SecurityStack['send'];
  token(): Promise<string>;
  stop(): Promise<void>;
}

const fastHeaders = (name: string, method = 'tools/call'): Record<string, string> => ({
  'mcp-protocol-version': STATELESS, 'mcp-method': method, 'mcp-name': name,
});
const call2026 = (name: string, id: number | string = 1) => rpc('tools/call', { name, arguments: { id: 'fast' }, _meta: META_2026 }, id);

interface Mismatch {
  readonly name: string;
  readonly body: string | undefined;
  readonly headers?: Record<string, string>;
  /** -32020 when the body is a message that disagrees with the headers. */
  readonly code?: number;
}

const MISMATCHES: readonly Mismatch[] = [
  { name: 'a body naming another tool', body: call2026('delete_everything', 2), code: -32020 },
  {
    name: 'an initialize body (it would open a backend session)',
    body: rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'smuggler', version: '1' }, _meta: META_2026 }, 3),
    code: -32020,
  },
  { name: 'a body of another method', body: rpc('tools/list', { _meta: META_2026 }, 4), code: -32020 },
  {
    name: 'a body naming the tool twice (the last one wins for most readers)',
    body: `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"${FAST_TOOL}","arguments":{},"_meta":${JSON.stringify(META_2026)},"name":"delete_everything"}}`,
  },
  { name: 'a batch', body: `[${call2026(FAST_TOOL, 6)}]` },
  { name: 'two messages back to back', body: `${call2026(FAST_TOOL, 7)}${call2026('delete_everything', 8)}` },
  { name: 'an initialize body sent as text/plain', body: rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } }, 9), headers: { 'content-type': 'text/plain' } },
  { name: 'no body at all', body: undefined },
];

describe.each(FAST_MATRIX)('2026 fast path: $mode mode, $backend backend', ({ mode, backend }) => {
  let s: FastStack;
  beforeAll(async () => {
    if (mode === 'sidecar') {
      const stack = await startSecurityStack({ mode, backend });
      s = { journal: stack.journal, send: stack.send, token: () => stack.token(), stop: () => stack.stop() };
    } else {
      const stack = await startFastPathGateway(backend);
      await stack.warmUp();
      s = { journal: stack.journal, send: stack.send, token: () => stack.idp.mint({ authorized_tasks: ['limited'], refund_limit: 100 }), stop: () => stack.stop() };
    }
  }, 60_000);
  afterAll(async () => { await s?.stop(); });

  const backendIds = () => [...s.journal.sessionIds];

  it('a body that agrees with the headers reaches the backend without any session id', async () => {
    s.journal.clear();
    const before = backendIds();
    const r = await s.send('POST', call2026(FAST_TOOL), { headers: { ...fastHeaders(FAST_TOOL), ...FORGED } });
    expect(r.headers.get('mcp-session-id')).toBeNull();
    expect(s.journal.requests).toHaveLength(1);
    const [seen] = s.journal.requests as [ReceivedRequest];
    expect(headerOf(seen, 'mcp-name')).toBe(FAST_TOOL);
    expect(headerOf(seen, 'mcp-session-id')).toBeUndefined();
    expect(carriesForgery(seen)).toBe(false);
    if (mode === 'gateway') expect(seen.replica).toMatch(/^i[12]$/);
    expect(backendIds()).toEqual(before);
  });

  it.each(MISMATCHES)('$name under tools/call headers: 400, and no backend sees it', async (m) => {
    s.journal.clear();
    const before = backendIds();
    const r = await s.send('POST', m.body, { headers: { ...fastHeaders(FAST_TOOL), ...m.headers } });
    expectSentence(r, 400);
    if (m.code !== undefined) expect(errorOf(r)?.code).toBe(m.code);
    expect(r.headers.get('mcp-session-id')).toBeNull();
    expect(s.journal.requests).toEqual([]);
    expect(s.journal.executions).toEqual([]);
    expect(backendIds()).toEqual(before);
  });

  it.each([
    ['a made-up session id', () => Promise.resolve('0f1e2d3c-made-up')],
    ['the raw id of a backend session', async () => backendIds()[0] ?? 'no-backend-session-yet'],
  ])('%s presented on the fast path: refused before any backend', async (_, sessionOf) => {
    s.journal.clear();
    const r = await s.send('POST', call2026(FAST_TOOL), { session: await sessionOf(), headers: fastHeaders(FAST_TOOL) });
    expectSentence(r, 400);
    expect(String(errorOf(r)?.message)).toMatch(/Mcp-Session-Id/);
    expect(s.journal.requests).toEqual([]);
  });
});

describe.each(MATRIX)('MCP-Protocol-Version: $mode mode, $backend backend', ({ mode, backend }) => {
  let s: SecurityStack;
  let session: string;
  useSecurityStack({ mode, backend }, (stack, id) => {
    s = stack;
    session = id;
  });

  const BAD = ['9999', '2026-99', '2026-07-29', '2025-06-18x', '2025-06-18, 2026-07-28', 'latest'];

  it.each(BAD)('"%s" on an allowed tools/call: 400 naming the supported versions, nothing runs', async (version) => {
    s.journal.clear();
    const r = await s.post(rpc('tools/call', { name: s.tool('lookup_charge'), arguments: {} }), { session, headers: { 'mcp-protocol-version': version } });
    expectSentence(r, 400);
    for (const known of KNOWN_VERSIONS) expect(String(errorOf(r)?.message)).toContain(known);
    expect(s.journal.requests).toEqual([]);
    expect(s.journal.executions).toEqual([]);
  });

  it.each(BAD.slice(0, 3))('"%s" on initialize: 400, no backend session opened', async (version) => {
    s.journal.clear();
    const before = [...s.journal.sessionIds];
    const init = rpc('initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } }, 0);
    const r = await s.post(init, { headers: { 'mcp-protocol-version': version } });
    expectSentence(r, 400);
    expect(r.headers.get('mcp-session-id')).toBeNull();
    expect(s.journal.requests).toEqual([]);
    expect(s.journal.sessionIds).toEqual(before);
  });

  it.each(['2025-06-18', '2025-11-25'])('"%s" (known) still works', async (version) => {
    s.journal.clear();
    const r = await s.post(rpc('tools/call', { name: s.tool('lookup_charge'), arguments: { id: version } }), { session, headers: { 'mcp-protocol-version': version } });
    expect(r.status, r.text).toBe(200);
    expect(s.journal.tools().map((e) => e.args)).toEqual([{ id: version }]);
  });

  it.each([
    ['an argument-free tool', 'lookup_charge'],
    ['a tool judged by its arguments', 'refund'],
  ])('a 2026-07-28 request presenting a session (%s): 400, not forwarded', async (_, tool) => {
    s.journal.clear();
    const name = s.tool(tool);
    const body = rpc('tools/call', { name, arguments: { amount: 1 }, _meta: META_2026 });
    const r = await s.post(body, { session, headers: fastHeaders(name) });
    expectSentence(r, 400);
    expect(String(errorOf(r)?.message)).toMatch(/Mcp-Session-Id/);
    expect(s.journal.requests).toEqual([]);
  });
});

/**
 * One HTTP/1.1 request on a raw socket. Envoy answers 431 as soon as the headers pass its limit and then closes; a
 * client still writing gets a reset that can discard the answer (fetch reports only "other side closed"). So the
 * request goes out in two parts, the second only if no answer came to the first (as with a larger limit).
 */
async function rawPost(endpoint: string, headers: Record<string, string>, body: string): Promise<RawReply> {
  const url = new URL(endpoint);
  const lines = [`POST ${url.pathname} HTTP/1.1`, `host: ${url.host}`, 'connection: close', `content-length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const request = Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
  const FIRST = 34 * 1024;
  const received = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let rest: ReturnType<typeof setTimeout> | undefined;
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(request.subarray(0, FIRST));
      if (request.length > FIRST) rest = setTimeout(() => socket.write(request.subarray(FIRST)), 1_000);
    });
    socket.on('data', (c: Buffer) => { clearTimeout(rest); chunks.push(c); });
    socket.on('error', (err) => { if (chunks.length === 0) reject(err); });
    socket.on('close', () => { clearTimeout(rest); resolve(Buffer.concat(chunks).toString('utf8')); });
  });
  const [head = '', text = ''] = received.split('\r\n\r\n', 2);
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
  const responseHeaders = new Headers(head.split('\r\n').slice(1).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()] as [string, string]));
  let messages: unknown[] = [];
  try {
    messages = [JSON.parse(text) as unknown];
  } catch {
    messages = [];
  }
  return { status, headers: responseHeaders, text, messages };
}

describe.each(MATRIX)('oversized request headers: $mode mode, $backend backend', ({ mode, backend }) => {
  let s: SecurityStack;
  let session: string;
  useSecurityStack({ mode, backend }, (stack, id) => {
    s = stack;
    session = id;
  });

  const baseHeaders = async () => ({
    'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', authorization: `Bearer ${await s.token()}`, 'mcp-session-id': session,
  });

  it('the same call with ordinary headers (and 8 KiB of padding) goes through', async () => {
    s.journal.clear();
    const r = await rawPost(s.endpoint, { ...(await baseHeaders()), 'x-padding': 'a'.repeat(8 * 1024) }, rpc('tools/call', { name: s.tool('lookup_charge'), arguments: { id: 'small' } }));
    expect(r.status, r.text.slice(0, 300)).toBe(200);
    expect(s.journal.tools().map((e) => e.args)).toEqual([{ id: 'small' }]);
  });

  it.each([
    ['one 40 KiB header', { 'x-padding': 'a'.repeat(40 * 1024) }],
    ['a 36 KiB cookie', { cookie: `c=${'b'.repeat(36 * 1024)}` }],
    ['60 headers of 700 bytes', Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`x-pad-${i}`, 'c'.repeat(700)]))],
  ])('%s: 431, the backend sees nothing', async (_, headers) => {
    s.journal.clear();
    const r = await rawPost(s.endpoint, { ...(await baseHeaders()), ...headers }, rpc('tools/call', { name: s.tool('lookup_charge'), arguments: {} }));
    expect(r.status, r.text.slice(0, 300)).toBe(431);
    expectSentence(r, 431);
    expect(s.journal.requests).toEqual([]);
    expect(s.journal.executions).toEqual([]);
  });
});
