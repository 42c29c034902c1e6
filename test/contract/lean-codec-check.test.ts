// toolgate's lean Check codecs (src/envoy/codec/) against the full generated ones: for every CheckRequest the pinned
// Envoy sent, every edge the recordings do not show, and random messages, the lean decoder yields exactly the values
// the full one yields for the fields toolgate reads; the lean encoder writes the full encoder's very bytes.
import fc from 'fast-check';
import type protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { envoyServices, fullEnvoyServices } from '../../src/envoy/protos.js';
import { fromStruct, toStruct } from '../../src/envoy/struct.js';
import { loadScenario, scenarioNames, wireBytes, type FixtureMode } from '../harness/envoy-fixtures.js';
import { fullType } from '../harness/full-protos.js';
import { cat, checkRequestWith, headerEntry, len, unknownFields } from '../harness/wire.js';

type Method = { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): any; responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): any };
const full = fullEnvoyServices().authz.Check as unknown as Method;
const lean = envoyServices().authz.Check as unknown as Method;

const READ = ['method', 'path', 'headers', 'body', 'raw_body'] as const;

/** The full decoder's answer cut down to what toolgate reads: the fields src/envoy/check.ts uses, as present. */
function readFields(decoded: any): unknown {
  if (decoded.attributes === undefined) return {};
  if (decoded.attributes.request === undefined) return { attributes: {} };
  const http = decoded.attributes.request.http;
  if (http === undefined) return { attributes: { request: {} } };
  const picked: Record<string, unknown> = {};
  for (const k of READ) if (http[k] !== undefined) picked[k] = http[k];
  return { attributes: { request: { http: picked } } };
}

const decodeBoth = (bytes: Buffer) => ({ got: lean.requestDeserialize(bytes), want: readFields(full.requestDeserialize(bytes)) });
const outcome = (decode: (b: Buffer) => unknown, bytes: Buffer): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: decode(bytes) };
  } catch {
    return { ok: false };
  }
};

const recordedChecks = (['sidecar', 'gateway'] as FixtureMode[]).flatMap((mode) =>
  scenarioNames(mode).flatMap((name) => loadScenario(mode, name).exchanges.flatMap((e, i) => (e.check ? [[`${mode}.${name} #${i}`, wireBytes(e.check.request)] as const] : []))));

describe('CheckRequest: the lean decoder reads what the full one reads', () => {
  it('there are recorded Checks to compare (both modes)', () => {
    expect(recordedChecks.length).toBeGreaterThanOrEqual(10);
  });

  it.each(recordedChecks)('recorded %s', (_name, bytes) => {
    const { got, want } = decodeBoth(bytes);
    expect(got).toStrictEqual(want);
    expect((got as any).attributes.request.http.headers['x-request-id']).toBeTypeOf('string');
  });

  const json = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}';
  const base = { method: 'POST', path: '/mcp', headers: { authorization: 'Bearer t', 'content-type': 'application/json', 'x-request-id': 'r-1' } };
  const encoded = (http: Record<string, unknown>, more: Record<string, unknown> = {}) => full.requestSerialize({ attributes: { request: { http }, ...more } });
  const EDGES: ReadonlyArray<readonly [string, Buffer]> = [
    ['body as text (pack_as_bytes off)', encoded({ ...base, body: json })],
    ['body as text with bytes that are not UTF-8 (replaced alike)', checkRequestWith(cat(len(2, 'POST'), len(11, Buffer.from([0x7b, 0xff, 0xfe, 0xc3, 0x7d]))))],
    ['raw_body that is not UTF-8', encoded({ ...base, raw_body: Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0xed, 0xa0, 0x80]) })],
    ['raw_body sent empty', encoded({ ...base, raw_body: Buffer.alloc(0) })],
    ['no body at all', encoded(base)],
    ['both body fields', encoded({ ...base, body: json, raw_body: Buffer.from(json) })],
    ['header values with Latin-1, control and broken UTF-8 bytes', checkRequestWith(cat(
      headerEntry('x-latin', Buffer.from([0x63, 0x61, 0x66, 0xe9])), headerEntry('x-ctl', Buffer.from([0x00, 0x09, 0x7f, 0x1b])),
      headerEntry('x-cut', Buffer.from([0xe2, 0x82])), headerEntry('authorization', Buffer.from('Bearer \u00ff', 'latin1')),
    ))],
    ['header names __proto__ and constructor', checkRequestWith(cat(headerEntry('__proto__', 'p'), headerEntry('constructor', 'c'), headerEntry('x', 'y')))],
    ['the same header key twice in the map (the last entry wins)', checkRequestWith(cat(headerEntry('authorization', 'Bearer first'), headerEntry('authorization', 'Bearer second')))],
    ['a header entry without key or value', checkRequestWith(cat(len(3, Buffer.alloc(0)), len(3, len(1, 'only-key'))))],
    ['method and path only as pseudo-headers', encoded({ headers: { ':method': 'post', ':path': '/mcp?x=1' } })],
    ['path with a query string', encoded({ ...base, path: '/mcp?session=1&x=%00' })],
    ['no http in the request', encoded({}, {})],
    ['no request in the attributes', full.requestSerialize({ attributes: { source: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } } })],
    ['no attributes', full.requestSerialize({})],
    ['zero bytes', Buffer.alloc(0)],
    ['fields of unknown numbers at every level', checkRequestWith(cat(len(2, 'POST'), unknownFields(), headerEntry('a', 'b')), { check: unknownFields(), attributes: unknownFields(), request: unknownFields() })],
    ['header_map as well (encode_raw_headers)', encoded({ ...base, header_map: { headers: [{ key: 'authorization', raw_value: Buffer.from('Bearer other') }] } })],
    ['every attribute Envoy fills, with the read ones', encoded({ ...base, id: '123', host: 'h', scheme: 'https', query: 'q', fragment: 'f', size: '42', protocol: 'HTTP/2', raw_body: Buffer.from(json) }, {
      source: { address: { socket_address: { address: '10.0.0.1', port_value: 5 } }, principal: 'spiffe://x' }, context_extensions: { a: 'b' },
      metadata_context: { filter_metadata: { ns: { fields: { k: { stringValue: 'v' } } } } },
    })],
    ['the http message twice (the second replaces the first, as in the full decoder)', checkRequestWith(len(2, 'GET'), { request: len(2, cat(len(4, '/second'))) })],
    ['method twice (the last wins)', checkRequestWith(cat(len(2, 'GET'), len(2, 'POST')))],
    ['a huge varint in size', checkRequestWith(cat(len(2, 'POST'), Buffer.from([0x48, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])))],
  ];
  it.each(EDGES)('%s', (_name, bytes) => {
    const { got, want } = decodeBoth(bytes);
    expect(got).toStrictEqual(want);
  });

  it('a header map entry named __proto__ stays an own header, and the map keeps the plain-object prototype', () => {
    const { got } = decodeBoth(checkRequestWith(headerEntry('__proto__', 'p')));
    const headers = (got as any).attributes.request.http.headers as Record<string, string>;
    expect(Object.keys(headers)).toEqual(['__proto__']);
    expect(Object.getPrototypeOf(headers)).toBe(Object.prototype);
  });

  const text = fc.string({ maxLength: 40 });
  const httpArb = fc.record({
    id: text, method: text, path: text, host: text, scheme: text, query: text, fragment: text, protocol: text, body: fc.string({ maxLength: 200 }),
    size: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map(String),
    headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 20 }).filter((k) => k !== '__proto__'), text, { maxKeys: 12 }),
    raw_body: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
    header_map: fc.record({ headers: fc.array(fc.record({ key: text, raw_value: fc.uint8Array({ maxLength: 20 }).map((a) => Buffer.from(a)) }), { maxLength: 4 }) }),
  }, { requiredKeys: [] });
  const attributesArb = fc.record({
    source: fc.record({ address: fc.record({ socket_address: fc.record({ address: text, port_value: fc.nat(65535) }) }), principal: text }, { requiredKeys: [] }),
    request: fc.record({ time: fc.record({ seconds: fc.nat().map(String), nanos: fc.nat(999_999_999) }), http: httpArb }, { requiredKeys: [] }),
    context_extensions: fc.dictionary(fc.string({ minLength: 1 }).filter((k) => k !== '__proto__'), text, { maxKeys: 3 }),
  }, { requiredKeys: [] });

  it('random CheckRequests (every field, read or not): the same values', () => {
    fc.assert(fc.property(fc.record({ attributes: attributesArb }, { requiredKeys: [] }), (message) => {
      const { got, want } = decodeBoth(full.requestSerialize(message));
      expect(got).toStrictEqual(want);
    }), { numRuns: 400 });
  });
});

describe('CheckRequest: bytes that are not a well-formed CheckRequest', () => {
  const intact = recordedChecks.map(([, bytes]) => bytes);

  /** Whenever the full decoder reads a message, the lean one reads it too, with the same values (so what it refuses, the full one refused). */
  const agreesWhereFullReads = (bytes: Buffer) => {
    const f = outcome(full.requestDeserialize, bytes);
    const l = outcome(lean.requestDeserialize, bytes);
    if (!f.ok) return;
    expect(l.ok).toBe(true);
    if (l.ok) expect(l.value).toStrictEqual(readFields(f.value));
  };

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (a) => agreesWhereFullReads(Buffer.from(a))), { numRuns: 3000 });
  });

  it('a recorded Check with one byte changed', () => {
    fc.assert(fc.property(fc.nat(intact.length - 1), fc.nat(), fc.nat(255), (which, at, value) => {
      const bytes = Buffer.from(intact[which] as Buffer);
      bytes[at % bytes.length] = value;
      agreesWhereFullReads(bytes);
    }), { numRuns: 5000 });
  });

  it('a recorded Check cut short: refused by both, at every length', () => {
    const bytes = intact[0] as Buffer;
    for (let n = 1; n < bytes.length; n++) {
      expect(outcome(full.requestDeserialize, bytes.subarray(0, n)).ok, `full, ${n} bytes`).toBe(false);
      expect(outcome(lean.requestDeserialize, bytes.subarray(0, n)).ok, `lean, ${n} bytes`).toBe(false);
    }
  });

  it.each([
    ['text, not protobuf', Buffer.from('POST /mcp HTTP/1.1\r\nhost: x\r\n\r\n')],
    // protobufjs reads a declared field by its declared type whatever the wire type says; an undeclared number with
    // wire type 7 (there is none) is what fails: field 15 at the top, field 14 inside http.
    ['a wire type that does not exist, at the top', Buffer.from([0x7f, 0x00])],
    ['a wire type that does not exist, inside http', checkRequestWith(cat(len(2, 'POST'), Buffer.from([0x77, 0x01])))],
    ['a length past the end inside http', checkRequestWith(cat(len(2, 'POST'), Buffer.from([0x62, 0x7f, 0x00])))],
  ])('%s: refused by both', (_name, bytes) => {
    expect(outcome(full.requestDeserialize, bytes).ok).toBe(false);
    expect(outcome(lean.requestDeserialize, bytes).ok).toBe(false);
  });

  it('where the two differ: a broken part toolgate does not read (the source address) failed the full decoder; the lean one reads the rest as sent', () => {
    // Known and deliberate: the lean decoder never looks inside what it does not read, so only the full one notices.
    // Envoy never sends this; toolgate then judges the method, path, headers and body Envoy did send.
    const http = cat(len(2, 'POST'), len(4, '/mcp'), headerEntry('authorization', 'Bearer t'));
    const brokenSource = len(1, Buffer.from([0x7f, 0x00]));
    const bytes = len(1, cat(brokenSource, len(4, len(2, http))));
    expect(outcome(full.requestDeserialize, bytes).ok).toBe(false);
    expect(lean.requestDeserialize(bytes)).toStrictEqual(lean.requestDeserialize(checkRequestWith(http)));
  });
});

const recordedAnswers = (['sidecar', 'gateway'] as FixtureMode[]).flatMap((mode) =>
  scenarioNames(mode).flatMap((name) => loadScenario(mode, name).exchanges.flatMap((e, i) => (e.check ? [[`${mode}.${name} #${i}`, wireBytes(e.check.response)] as const] : []))));

/** A decoded CheckResponse as toolgate builds it: the metadata as plain values, the HTTP status as its number. */
function asToolgateBuildsIt(decoded: any): any {
  if (decoded.dynamic_metadata) decoded.dynamic_metadata = fromStruct(decoded.dynamic_metadata);
  const status = decoded.denied_response?.status;
  if (status && typeof status.code === 'string') {
    const value = (fullType('envoy.type.v3.HttpStatus').fields.code?.resolvedType as protobuf.Enum).values[status.code];
    if (value === undefined) throw new Error(`no HTTP status named ${status.code}`);
    status.code = value;
  }
  return decoded;
}

describe('CheckResponse: the lean encoder writes the full encoder\'s bytes', () => {
  it.each(recordedAnswers)('recorded %s: re-encoded from its decoded form, the very bytes toolgate sent then', (_name, bytes) => {
    expect(lean.responseSerialize(asToolgateBuildsIt(full.responseDeserialize(bytes))).toString('hex')).toBe(bytes.toString('hex'));
  });

  const handoff = {
    subject: 'agent-7', task: 'support', decision_id: 'd-1', method: 'tools/call', target: 'echo', tasks: ['support', 'billing'],
    traceparent: undefined, charged: { receipt: 'r-1', keys: ['q:1', 'b:2'] }, charged_dry_run: undefined,
    request_id: 'req-1', body_sha256: 'abc', issued_at: 1796185908654, handoff_kid: 'k1', handoff_mac: 'mac',
  };
  const allow = (dynamic_metadata?: Record<string, unknown>) => ({
    status: { code: 0 },
    ok_response: {
      headers: [{ header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
      headers_to_remove: ['x-toolgate-backend', 'x-toolgate-subject'],
      response_headers_to_add: [{ header: { key: 'mcp-session-id', value: 'tok' }, append_action: 'OVERWRITE_IF_EXISTS' }],
    },
    ...(dynamic_metadata ? { dynamic_metadata } : {}),
  });
  const RESPONSES: ReadonlyArray<readonly [string, Record<string, any>]> = [
    ['an allow with the signed handoff', allow(handoff)],
    ['an allow without metadata', allow()],
    ['an allow with nothing to change', { status: { code: 0 }, ok_response: { headers: [], headers_to_remove: [], response_headers_to_add: [] } }],
    ['a 401 with WWW-Authenticate', { status: { code: 16 }, denied_response: { status: { code: 401 }, headers: [{ header: { key: 'www-authenticate', value: 'Bearer resource_metadata="https://x/.well-known/oauth-protected-resource"' } }, { header: { key: 'content-type', value: 'application/json' } }], body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32001,"message":"Sign in."}}' } }],
    ['an internal error (status with a message)', { status: { code: 7, message: 'internal error' }, denied_response: { status: { code: 500 }, headers: [], body: '' } }],
    ['metadata with null, nested lists and objects, unusual numbers and text', allow({ n: null, list: [1, 'a', [true, null], { x: -0 }], big: 1e300, neg: -12.5, zero: 0, text: 'é ✓ 🚀 \u0000', empty: {}, none: [] })],
  ];
  it.each(RESPONSES)('%s', (_name, response) => {
    const leanBytes = lean.responseSerialize(response);
    const fullBytes = full.responseSerialize(response.dynamic_metadata ? { ...response, dynamic_metadata: toStruct(response.dynamic_metadata) } : response);
    expect(leanBytes.toString('hex')).toBe(fullBytes.toString('hex'));
    expect(full.responseDeserialize(leanBytes)).toStrictEqual(full.responseDeserialize(fullBytes));
  });

  it('random metadata: the same bytes', () => {
    const key = fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__');
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.double(), fc.string(), fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(key, tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(fc.property(fc.dictionary(key, value, { maxKeys: 8 }), (meta) => {
      const leanBytes = lean.responseSerialize(allow(meta));
      const fullBytes = full.responseSerialize({ ...allow(), dynamic_metadata: toStruct(meta) });
      expect(leanBytes.equals(fullBytes)).toBe(true);
    }), { numRuns: 400 });
  });
});
