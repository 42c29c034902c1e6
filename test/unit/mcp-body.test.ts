import { describe, expect, it } from 'vitest';
import { admitHeaders, decodeBody, readRequest } from '../../src/core/mcp/body.js';
import { JsonRpcCode } from '../../src/core/mcp/message.js';
import { REASONS } from '../../src/core/mcp/reply-table.js';

const CALL = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"héllo"}}}';
const bytes = (...parts: Array<string | number[]>) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

describe('admitHeaders', () => {
  it.each([
    ['application/json'],
    ['application/json; charset=utf-8'],
    ['application/json;charset=UTF-8'],
    ['Application/JSON; Charset="utf-8"'],
    ['application/json; charset=utf8'],
    ['application/json ; charset = utf-8'.replace(' = ', '=')],
    ['application/json; profile="a;b"; charset=utf-8'],
    ['application/json;'],
    ['application/json; charset="utf\\-8"'],
  ])('admits %j', (type) => {
    expect(admitHeaders({ 'content-type': type })).toBeUndefined();
  });

  it.each([
    ['no Content-Type', {}, 'unsupported-media-type', /no Content-Type/],
    ['text/plain', { 'content-type': 'text/plain' }, 'unsupported-media-type', /"text\/plain"/],
    ['text/plain naming JSON in a parameter', { 'content-type': 'text/plain; x=application/json' }, 'unsupported-media-type', /must be sent as Content-Type: application\/json/],
    ['a +json suffix', { 'content-type': 'application/vnd.api+json' }, 'unsupported-media-type', /application\/json/],
    ['application/jsonx', { 'content-type': 'application/jsonx' }, 'unsupported-media-type', /application\/json/],
    ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 'unsupported-media-type', /application\/json/],
    ['multipart', { 'content-type': 'multipart/form-data; boundary=x' }, 'unsupported-media-type', /application\/json/],
    ['two values joined by Envoy', { 'content-type': 'application/json, text/plain' }, 'unsupported-media-type', /application\/json/],
    ['an empty value', { 'content-type': '' }, 'unsupported-media-type', /""/],
    ['no subtype', { 'content-type': 'application' }, 'unsupported-media-type', /application/],
    ['an unclosed quoted parameter', { 'content-type': 'application/json; charset="utf-8' }, 'unsupported-media-type', /application\/json/],
    ['an empty charset', { 'content-type': 'application/json; charset=' }, 'unsupported-media-type', /application\/json/],
    ['utf-7', { 'content-type': 'application/json; charset=utf-7' }, 'unsupported-charset', /charset "utf-7"/],
    ['UTF-7, quoted', { 'content-type': 'application/json; charset="UTF-7"' }, 'unsupported-charset', /charset "utf-7"/],
    ['utf-16le', { 'content-type': 'application/json; charset=utf-16le' }, 'unsupported-charset', /charset "utf-16le"/],
    ['utf-16', { 'content-type': 'application/json; charset=UTF-16' }, 'unsupported-charset', /charset "utf-16"/],
    ['utf-32', { 'content-type': 'application/json; charset=utf-32' }, 'unsupported-charset', /charset "utf-32"/],
    ['latin1', { 'content-type': 'application/json; charset=latin1' }, 'unsupported-charset', /charset "latin1"/],
    ['iso-8859-1', { 'content-type': 'application/json; charset=ISO-8859-1' }, 'unsupported-charset', /charset "iso-8859-1"/],
    ['an empty quoted charset', { 'content-type': 'application/json; charset=""' }, 'unsupported-charset', /charset ""/],
    ['utf-8 then utf-7', { 'content-type': 'application/json; charset=utf-8; charset=utf-7' }, 'unsupported-charset', /charset "utf-8, utf-7"/],
    ['gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, 'content-encoding', /Content-Encoding "gzip"/],
    ['br', { 'content-type': 'application/json', 'content-encoding': 'br' }, 'content-encoding', /Content-Encoding "br"/],
    ['identity', { 'content-type': 'application/json', 'content-encoding': 'identity' }, 'content-encoding', /Content-Encoding "identity"/],
    ['an empty Content-Encoding', { 'content-type': 'application/json', 'content-encoding': '' }, 'content-encoding', /Content-Encoding ""/],
    ['a long header value, cut short', { 'content-type': `text/${'x'.repeat(500)}` }, 'unsupported-media-type', /x{70}…"/],
  ])('refuses %s', (_name, headers, reason, says) => {
    const refused = admitHeaders(headers);
    expect(refused).toMatchObject({ type: 'invalid', reason, id: null, code: JsonRpcCode.invalidRequest });
    expect(refused?.message).toMatch(says);
    expect(REASONS[refused?.reason ?? 'internal-error'].http).toBe(415);
  });
});

describe('decodeBody', () => {
  it.each([
    ['ASCII', bytes(CALL)],
    ['two-, three- and four-byte sequences', bytes('"é € 😀"')],
    ['a BOM-like sequence later in the text', bytes('"a', [0xef, 0xbb, 0xbf], '"')],
  ])('decodes %s exactly', (_name, body) => {
    expect(decodeBody(body)).toBe(body.toString('utf8'));
  });

  it('reads a view into a larger buffer without copying past its end', () => {
    const whole = Buffer.from(`xx${CALL}yy`);
    expect(decodeBody(whole.subarray(2, 2 + Buffer.byteLength(CALL)))).toBe(CALL);
  });

  it.each([
    ['a BOM', bytes([0xef, 0xbb, 0xbf], CALL), 'body-bom', /byte order mark/],
    ['a stray 0xff', bytes('{"a":"', [0xff], '"}'), 'invalid-utf8', /not valid UTF-8/],
    ['a lone continuation byte', bytes('"', [0x80], '"'), 'invalid-utf8', /not valid UTF-8/],
    ['an overlong quote', bytes('"', [0xc0, 0xa2], '"'), 'invalid-utf8', /not valid UTF-8/],
    ['an overlong NUL', bytes('"', [0xe0, 0x80, 0x80], '"'), 'invalid-utf8', /not valid UTF-8/],
    ['an encoded surrogate (CESU-8)', bytes('"', [0xed, 0xa0, 0x80], '"'), 'invalid-utf8', /not valid UTF-8/],
    ['a code point above U+10FFFF', bytes('"', [0xf4, 0x90, 0x80, 0x80], '"'), 'invalid-utf8', /not valid UTF-8/],
    ['a truncated sequence at the end', bytes('"ok', [0xe2, 0x82]), 'invalid-utf8', /not valid UTF-8/],
    ['UTF-16LE of non-ASCII text', Buffer.from(CALL, 'utf16le'), 'invalid-utf8', /not valid UTF-8/],
    ['UTF-16LE of ASCII text', Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}', 'utf16le'), 'malformed-json', /not valid JSON/],
  ])('refuses %s', (_name, body, reason, says) => {
    const out = decodeBody(body);
    if (reason === 'malformed-json') {
      // UTF-16LE of ASCII is valid UTF-8 (with NULs): the JSON reader refuses it next.
      expect(readRequest({ method: 'POST', headers: { 'content-type': 'application/json' }, body })).toMatchObject({ type: 'invalid', reason, message: expect.stringMatching(says) });
      return;
    }
    expect(out).toMatchObject({ type: 'invalid', reason, code: JsonRpcCode.parseError, id: null });
    if (typeof out !== 'string') expect(out.message).toMatch(says);
  });
});

describe('readRequest', () => {
  const json = { 'content-type': 'application/json' };

  it('reads an admitted call once and keeps that reading for rewrites', () => {
    const m = readRequest({ method: 'POST', headers: json, body: bytes(CALL) });
    expect(m).toMatchObject({ type: 'call', method: 'tools/call', target: 'echo', arguments: { text: 'héllo' }, fromHeadersOnly: false });
    if (m.type === 'call') expect(m.json).toEqual(JSON.parse(CALL));
  });

  it.each([
    ['the headers before the body', { 'content-type': 'text/plain' }, bytes([0xef, 0xbb, 0xbf], CALL), 'unsupported-media-type'],
    ['the bytes before the JSON', json, bytes([0xff], CALL), 'invalid-utf8'],
    ['the JSON reader last', json, bytes('{"jsonrpc":"2.0","jsonrpc":"2.0","id":1,"method":"ping"}'), 'duplicate-key'],
  ])('checks %s', (_name, headers, body, reason) => {
    expect(readRequest({ method: 'POST', headers, body })).toMatchObject({ type: 'invalid', reason });
  });

  it('checks the headers of a 2026 headers-only POST, whose body toolgate never sees', () => {
    const headers = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' };
    expect(readRequest({ method: 'POST', headers: { ...headers, 'content-type': 'application/json; charset=utf-7' }, body: undefined })).toMatchObject({ type: 'invalid', reason: 'unsupported-charset' });
    expect(readRequest({ method: 'POST', headers: { ...headers, ...json, 'content-encoding': 'gzip' }, body: undefined })).toMatchObject({ type: 'invalid', reason: 'content-encoding' });
    expect(readRequest({ method: 'POST', headers: { ...headers, ...json }, body: undefined })).toMatchObject({ type: 'call', target: 'echo', fromHeadersOnly: true });
  });

  it('says an empty POST has no message once its headers are admitted', () => {
    expect(readRequest({ method: 'POST', headers: json, body: new Uint8Array(0) })).toMatchObject({ type: 'invalid', reason: 'missing-body' });
  });

  it.each(['GET', 'DELETE'])('leaves a bodyless %s alone, whatever its headers', (method) => {
    expect(readRequest({ method, headers: { 'content-encoding': 'gzip' }, body: undefined })).toEqual({ type: 'bodyless', httpMethod: method });
  });

  it.each(['GET', 'DELETE', 'PUT'])('admits the body of a %s like a POST body', (method) => {
    expect(readRequest({ method, headers: { 'content-encoding': 'gzip' }, body: bytes(CALL) })).toMatchObject({ type: 'invalid', reason: 'content-encoding' });
  });
});
