import { describe, expect, it } from 'vitest';
import { classify, JsonRpcCode, type HttpFacts } from '../../src/core/mcp/message.js';

const post = (body: string | undefined, headers: Record<string, string> = {}): HttpFacts => ({ method: 'POST', headers, body });
const v2026 = { 'mcp-protocol-version': '2026-07-28' };
const call = (method: string, params: unknown, id: unknown = 1) => JSON.stringify({ jsonrpc: '2.0', id, method, params });

describe('classify', () => {
  it.each([
    ['malformed JSON', post('{"jsonrpc":'), 'malformed-json', JsonRpcCode.parseError],
    ['a batch array', post('[{"jsonrpc":"2.0","id":1,"method":"ping"}]'), 'batch-not-supported', JsonRpcCode.invalidRequest],
    ['a JSON scalar', post('42'), 'not-jsonrpc', JsonRpcCode.invalidRequest],
    ['a wrong jsonrpc version', post('{"jsonrpc":"1.0","id":1,"method":"ping"}'), 'not-jsonrpc', JsonRpcCode.invalidRequest],
    ['no method and no result', post('{"jsonrpc":"2.0","id":1}'), 'not-jsonrpc', JsonRpcCode.invalidRequest],
    ['an empty POST', post(''), 'missing-body', JsonRpcCode.invalidRequest],
  ])('rejects %s', (_name, facts, reason, code) => {
    const m = classify(facts);
    expect(m.type).toBe('invalid');
    if (m.type === 'invalid') {
      expect(m.reason).toBe(reason);
      expect(m.code).toBe(code);
      expect(m.message.length).toBeGreaterThan(10);
    }
  });

  it('reads a tools/call: name, arguments, id, traceparent', () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const m = classify(post(call('tools/call', { name: 'refund', arguments: { amount: 5 }, _meta: { traceparent: tp } }, 'a1')));
    expect(m).toMatchObject({ type: 'call', kind: 'request', method: 'tools/call', id: 'a1', target: 'refund', arguments: { amount: 5 }, traceparent: tp });
  });

  it.each([
    ['prompts/get', { name: 'p1' }, 'p1'],
    ['resources/read', { uri: 'file:///a' }, 'file:///a'],
    ['tools/list', {}, undefined],
  ])('takes the target of %s', (method, params, target) => {
    expect(classify(post(call(method, params)))).toMatchObject({ type: 'call', method, target });
  });

  it('tells notifications from requests', () => {
    expect(classify(post('{"jsonrpc":"2.0","method":"notifications/initialized"}'))).toMatchObject({ kind: 'notification', id: undefined });
  });

  it('treats a client reply to a server request as a reply', () => {
    expect(classify(post('{"jsonrpc":"2.0","id":7,"result":{}}'))).toEqual({ type: 'reply', id: 7, json: { jsonrpc: '2.0', id: 7, result: {} } });
  });

  it.each(['GET', 'DELETE'])('treats a bodyless %s as bodyless', (method) => {
    expect(classify({ method, headers: {}, body: undefined })).toEqual({ type: 'bodyless', httpMethod: method });
  });

  describe('2026-07-28 headers', () => {
    it('decides from headers alone when no body is sent', () => {
      const m = classify(post(undefined, { ...v2026, 'mcp-method': 'tools/call', 'mcp-name': 'echo' }));
      expect(m).toMatchObject({ type: 'call', method: 'tools/call', target: 'echo', fromHeadersOnly: true });
    });
    it('accepts a body that agrees with the headers', () => {
      const m = classify(post(call('tools/call', { name: 'echo', arguments: {} }), { ...v2026, 'mcp-method': 'tools/call', 'mcp-name': 'echo' }));
      expect(m).toMatchObject({ type: 'call', target: 'echo', fromHeadersOnly: false });
    });
    it.each([
      ['method differs', { 'mcp-method': 'tools/list', 'mcp-name': 'echo' }],
      ['name differs', { 'mcp-method': 'tools/call', 'mcp-name': 'refund' }],
      ['method header missing', { 'mcp-name': 'echo' }],
    ])('rejects a body when the %s', (_n, headers) => {
      const m = classify(post(call('tools/call', { name: 'echo', arguments: {} }, 3), { ...v2026, ...headers }));
      expect(m).toMatchObject({ type: 'invalid', reason: 'header-mismatch', code: JsonRpcCode.headerMismatch, id: 3 });
    });
    it('ignores mirrored headers on an older protocol version', () => {
      const m = classify(post(call('tools/call', { name: 'echo' }), { 'mcp-protocol-version': '2025-11-25', 'mcp-method': 'tools/list', 'mcp-name': 'x' }));
      expect(m).toMatchObject({ type: 'call', method: 'tools/call', target: 'echo' });
    });
  });
});
