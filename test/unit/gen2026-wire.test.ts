// The 2026-07-28 wire as the real 2.x SDK speaks it (docs/protocol-2026.md): sentinel-encoded Mcp-Name values, the
// `_meta` envelope and Mcp-Method on toolgate's own backend requests, resultType and cache hints on its own results.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { denyReply } from '../../src/pipeline/authz/http-reply.js';
import { createEgressClient } from '../../src/pipeline/fanout/egress.js';
import { mergeDiscover } from '../../src/pipeline/fanout/merge.js';
import { classify } from '../../src/core/mcp/message.js';
import { decodeHeaderValue, requestEnvelope } from '../../src/core/mcp/protocol.js';
import { withCacheHints, withResultType } from '../../src/core/mcp/replies.js';
import { compilePolicy } from '../../src/core/policy/compile.js';
import { configSchema } from '../../src/core/config/schema.js';
import { filterListBody } from '../../src/pipeline/extproc/lists.js';
import { createToolCatalog } from '../../src/core/mcp/catalog.js';

const b64 = (text: string) => `=?base64?${Buffer.from(text, 'utf8').toString('base64')}?=`;
const STATELESS = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' };
const callBody = (name: string) => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } });

describe('decodeHeaderValue: the spec\'s =?base64?…?= form of a 2026 header value', () => {
  it.each([
    ['lookup_charge', 'lookup_charge'],
    [b64('résumé'), 'résumé'],
    [b64(' padded '), ' padded '],
    [b64('=?base64?looks-like-it?='), '=?base64?looks-like-it?='],
    ['=?base64?', '=?base64?'],
  ])('%j → %j', (header, value) => {
    expect(decodeHeaderValue(header)).toBe(value);
  });

  it.each([
    ['not Base64', '=?base64?!!!?='],
    ['URL-safe alphabet', '=?base64?-_-_?='],
    ['missing padding', '=?base64?cg?='],
    ['stray bits in the padding', '=?base64?cx==?='],
    ['not UTF-8', `=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`],
  ])('%s names nothing', (_why, header) => {
    expect(decodeHeaderValue(header)).toBeUndefined();
  });
});

describe('classify compares Mcp-Name decoded', () => {
  it('a sentinel name equal to the body\'s is a call', () => {
    const m = classify({ method: 'POST', headers: { ...STATELESS, 'mcp-name': b64('résumé') }, body: callBody('résumé') });
    expect(m).toMatchObject({ type: 'call', target: 'résumé' });
  });

  it.each([
    ['another name', b64('resume')],
    ['the raw form of another name', 'resume'],
    ['an undecodable sentinel', '=?base64?!!?='],
  ])('%s is a header mismatch (-32020)', (_why, header) => {
    const m = classify({ method: 'POST', headers: { ...STATELESS, 'mcp-name': header }, body: callBody('résumé') });
    expect(m).toMatchObject({ type: 'invalid', reason: 'header-mismatch', code: -32020, id: 1 });
  });

  it('a headers-only call (fast path) takes the decoded name as its target; an undecodable one is refused', () => {
    expect(classify({ method: 'POST', headers: { ...STATELESS, 'mcp-name': b64('résumé') }, body: undefined })).toMatchObject({ type: 'call', target: 'résumé', fromHeadersOnly: true });
    expect(classify({ method: 'POST', headers: { ...STATELESS, 'mcp-name': '=?base64?@@?=' }, body: undefined })).toMatchObject({ type: 'invalid', reason: 'header-mismatch' });
  });
});

describe('requestEnvelope', () => {
  it('carries the client\'s capabilities and info, and always the revision asked', () => {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { sampling: {} },
      'io.modelcontextprotocol/clientInfo': { name: 'c', version: '1' },
      traceparent: '00-abc',
    };
    expect(requestEnvelope('2026-07-28', meta)).toEqual({
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': { sampling: {} },
      'io.modelcontextprotocol/clientInfo': { name: 'c', version: '1' },
    });
  });

  it.each([undefined, null, [], 'x'])('without a client envelope (%j): the revision and no capabilities', (meta) => {
    expect(requestEnvelope('2026-07-28', meta)).toEqual({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} });
  });
});

describe('egress requests in each generation', () => {
  const seen: Array<{ headers: IncomingHttpHeaders; body: unknown }> = [];
  const server = createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => { text += c.toString('utf8'); });
    req.on('end', () => {
      const body = JSON.parse(text) as { id?: unknown };
      seen.push({ headers: req.headers, body });
      if (body.id === undefined) return void res.writeHead(202).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jsonrpc: '2.0', id: body.id, result: { tools: [] } }));
    });
  });
  let base = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('2026-07-28: Mcp-Method, and the envelope merged into the request\'s own _meta', async () => {
    seen.length = 0;
    const client = createEgressClient({ baseUrl: base, timeoutMs: 2000 });
    const envelope = requestEnvelope('2026-07-28', { 'io.modelcontextprotocol/clientCapabilities': { roots: {} } });
    const res = await client.request('inventory', { method: 'tools/list', id: 'l1', params: { cursor: 'c2', _meta: { progressToken: 3 } } }, {
      protocolVersion: '2026-07-28', envelope, headers: { 'mcp-method': 'forged', 'Mcp-Name': 'forged' },
    });
    expect(res.ok).toBe(true);
    const [got] = seen;
    expect(got?.headers['mcp-method']).toBe('tools/list');
    expect(got?.headers['mcp-name']).toBeUndefined();
    expect(got?.headers['mcp-protocol-version']).toBe('2026-07-28');
    expect(got?.body).toEqual({
      jsonrpc: '2.0', method: 'tools/list', id: 'l1',
      params: { cursor: 'c2', _meta: { progressToken: 3, 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': { roots: {} } } },
    });
    await client.notify('inventory', { method: 'notifications/cancelled', params: { requestId: 1 } }, { protocolVersion: '2026-07-28' });
    expect(seen[1]?.headers['mcp-method']).toBe('notifications/cancelled');
    expect(seen[1]?.body).toMatchObject({ params: { requestId: 1, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } });
  });

  it.each([['2025-11-25'], [undefined]])('%s: the message as given, no Mcp-Method', async (version) => {
    seen.length = 0;
    const client = createEgressClient({ baseUrl: base, timeoutMs: 2000 });
    await client.request('billing', { method: 'tools/list', id: 'l2' }, version === undefined ? {} : { protocolVersion: version });
    expect(seen[0]?.headers['mcp-method']).toBeUndefined();
    expect(seen[0]?.body).toEqual({ jsonrpc: '2.0', method: 'tools/list', id: 'l2' });
  });
});

describe('results toolgate composes itself', () => {
  it('carry resultType (and, for lists and discovery, private uncached hints) on 2026 only', () => {
    expect(withResultType({ a: 1 }, true)).toEqual({ a: 1, resultType: 'complete' });
    expect(withResultType({ a: 1 }, false)).toEqual({ a: 1 });
    expect(withCacheHints({ tools: [] }, true)).toEqual({ tools: [], ttlMs: 0, cacheScope: 'private', resultType: 'complete' });
    expect(withCacheHints({ tools: [] }, false)).toEqual({ tools: [] });
  });

  it('a tool-call denial on 2026 is a complete result; on 2025 it is unchanged', () => {
    const call = classify({ method: 'POST', headers: {}, body: callBody('refund') });
    const deny = { allow: false as const, reason: 'condition-failed' as const, message: 'No.', task: 't', policy: 'p' };
    const modern = JSON.parse(denyReply(call, deny, 'result', 'd1', createToolCatalog(), true).body) as { result: Record<string, unknown> };
    const legacy = JSON.parse(denyReply(call, deny, 'result', 'd1', createToolCatalog()).body) as { result: Record<string, unknown> };
    expect(modern.result).toMatchObject({ isError: true, resultType: 'complete' });
    expect(legacy.result.resultType).toBeUndefined();
    expect({ ...modern.result, resultType: undefined }).toEqual({ ...legacy.result, resultType: undefined });
  });

  it('a backend\'s public list, once filtered by the caller\'s task, is private', () => {
    const config = configSchema.parse({
      resource: 'https://mcp.example.com/mcp',
      identity: { jwt: { issuer: 'https://idp.example', jwksUri: 'https://idp.example/jwks' }, task: { claim: 'tasks' } },
      tasks: { t: { tools: [{ tool: 'a' }] } },
    });
    const policy = compilePolicy(config, 'test.yaml');
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'a' }, { name: 'b' }], ttlMs: 60000, cacheScope: 'public', resultType: 'complete' } });
    expect(JSON.parse(filterListBody(policy, createToolCatalog(), ['t'], 'tools/list', 'application/json', body) ?? '')).toEqual({
      jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'a' }], ttlMs: 60000, cacheScope: 'private', resultType: 'complete' },
    });
  });
});

describe('mergeDiscover', () => {
  const gateway = { name: 'toolgate', version: '0' };
  it('offers the revisions every backend offers, and no change-notification flags', () => {
    const merged = mergeDiscover(new Map([
      ['billing', { supportedVersions: ['2026-07-28'], capabilities: { tools: { listChanged: true }, logging: {} } }],
      ['inventory', { supportedVersions: ['2026-07-28', '2027-01-01'], capabilities: { resources: { subscribe: true, listChanged: true } }, instructions: 'Stock.' }],
    ]), gateway, ['2026-07-28']);
    expect(merged).toEqual({ supportedVersions: ['2026-07-28'], capabilities: { logging: {}, tools: {}, resources: {} }, instructions: '[inventory]\nStock.' });
  });

  it('a backend without a common revision leaves none', () => {
    const merged = mergeDiscover(new Map([['a', { supportedVersions: ['2026-07-28'], capabilities: {} }], ['b', { capabilities: {} }]]), gateway, ['2026-07-28']);
    expect(merged.supportedVersions).toEqual([]);
  });
});
