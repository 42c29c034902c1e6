// toolgate's lean ext_proc codecs (src/envoy/codec/) against the full generated ones: every ProcessingRequest the pinned
// Envoy sent, the edges the recordings do not show, random and malformed messages decode to the values the full
// decoder gives for what the stream reads; every answer toolgate can build encodes to the full encoder's very bytes.
import fc from 'fast-check';
import type protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { toProcessingResponse } from '../../src/envoy/process/convert.js';
import { envoyServices, fullEnvoyServices } from '../../src/envoy/protos.js';
import { fromStruct, toStruct } from '../../src/envoy/struct.js';
import type { Step } from '../../src/pipeline/extproc/exchange.js';
import { loadScenario, scenarioNames, wireBytes, type FixtureMode } from '../harness/envoy-fixtures.js';
import { fullType } from '../harness/full-protos.js';
import { cat, len, unknownFields, varint } from '../harness/wire.js';

type Method = { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): any; responseSerialize(v: unknown): Buffer; responseDeserialize(b: Buffer): any };
const full = fullEnvoyServices().extProc.Process as unknown as Method;
const lean = envoyServices().extProc.Process as unknown as Method;

const PHASES = ['request_headers', 'response_headers', 'request_body', 'response_body', 'request_trailers', 'response_trailers'] as const;

/** The full decoder's answer cut down to what src/envoy/process/ reads, the handoff metadata read by fromStruct. */
function readFields(decoded: any): unknown {
  const out: Record<string, unknown> = {};
  for (const phase of PHASES) {
    const part = decoded[phase];
    if (part === undefined) continue;
    const picked: Record<string, unknown> = {};
    if (phase.endsWith('_trailers')) {
      out[phase] = picked;
      continue;
    }
    for (const k of ['headers', 'body', 'end_of_stream']) if (part[k] !== undefined) picked[k] = part[k];
    out[phase] = picked;
  }
  if (decoded.request !== undefined) out.request = decoded.request;
  const meta = decoded.metadata_context;
  if (meta !== undefined) {
    const namespaces = meta.filter_metadata as Record<string, unknown> | undefined;
    if (namespaces === undefined) out.metadata_context = {};
    else {
      const plain: Record<string, unknown> = {};
      for (const ns of Object.keys(namespaces)) {
        if (ns === '__proto__') Object.defineProperty(plain, ns, { enumerable: true, configurable: true, writable: true });
        plain[ns] = fromStruct(namespaces[ns] as never);
      }
      out.metadata_context = { filter_metadata: plain };
    }
  }
  return out;
}

const decodeBoth = (bytes: Buffer) => ({ got: lean.requestDeserialize(bytes), want: readFields(full.requestDeserialize(bytes)) });
const outcome = (decode: (b: Buffer) => unknown, bytes: Buffer): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: decode(bytes) };
  } catch {
    return { ok: false };
  }
};

const recorded = (['sidecar', 'gateway'] as FixtureMode[]).flatMap((mode) => scenarioNames(mode).flatMap((name) =>
  loadScenario(mode, name).exchanges.flatMap((e, i) => (e.stream?.events ?? []).map((m, j) => ({ title: `${mode}.${name} #${i}.${j} from ${m.from}`, from: m.from, bytes: wireBytes(m) })))));
const fromEnvoy = recorded.filter((m) => m.from === 'envoy').map((m) => [m.title, m.bytes] as const);
const fromToolgate = recorded.filter((m) => m.from === 'toolgate').map((m) => [m.title, m.bytes] as const);

const headerValue = (key: Buffer | string | undefined, value?: string, raw?: Buffer) => len(1, cat(...(key !== undefined ? [len(1, key)] : []), ...(value !== undefined ? [len(2, value)] : []), ...(raw ? [len(3, raw)] : [])));
const structBytes = (fields: Buffer) => fields;
/** One entry of a map field: key = 1, value = 2. `entry` is one of Struct.fields (field 1). */
const mapEntry = (field: number, key: string, value: Buffer) => len(field, cat(len(1, key), len(2, value)));
const entry = (key: string, value: Buffer) => mapEntry(1, key, value);

describe('ProcessingRequest: the lean decoder reads what the full one reads', () => {
  it('there are recorded messages from Envoy and answers from toolgate (both modes)', () => {
    expect(fromEnvoy.length).toBeGreaterThanOrEqual(20);
    expect(fromToolgate.length).toBeGreaterThanOrEqual(20);
  });

  it.each(fromEnvoy)('recorded %s', (_title, bytes) => {
    const { got, want } = decodeBoth(bytes);
    expect(got).toStrictEqual(want);
  });

  const authz = { subject: 'u', tasks: ['a', 'b'], n: 3, ok: true, none: null, nested: { charged: { receipt: 'r', keys: ['k'] } } };
  const encoded = (msg: Record<string, unknown>) => full.requestSerialize(msg);
  const EDGES: ReadonlyArray<readonly [string, Buffer]> = [
    ['request headers with the handoff metadata', encoded({ request_headers: { headers: { headers: [{ key: ':path', raw_value: Buffer.from('/mcp') }] } }, metadata_context: { filter_metadata: { 'envoy.filters.http.ext_authz': toStruct(authz) } } })],
    ['header values that are not UTF-8, in raw_value and in value', len(2, len(1, cat(headerValue('x-raw', undefined, Buffer.from([0xff, 0x00, 0xe9])), headerValue('x-value', undefined, undefined), len(1, cat(len(1, 'x-bad'), len(2, Buffer.from([0xc3])))))))],
    ['a header with both value and raw_value', encoded({ request_headers: { headers: { headers: [{ key: 'a', value: 'v', raw_value: Buffer.from('r') }] } } })],
    ['a header without a name', len(3, len(1, headerValue(undefined, undefined, Buffer.from('v'))))],
    ['an empty header map, and no header map', cat(len(2, len(1, Buffer.alloc(0))), len(3, Buffer.alloc(0)))],
    ['end_of_stream sent false, and true', encoded({ response_headers: { end_of_stream: true }, request_body: { body: Buffer.alloc(0), end_of_stream: false } })],
    ['a body that is not UTF-8', encoded({ response_body: { body: Buffer.from([0x1f, 0x8b, 0xff, 0x00]), end_of_stream: true } })],
    ['an empty body, sent', len(4, len(1, Buffer.alloc(0)))],
    ['two members of the oneof (the last in field order names it)', cat(len(4, len(1, 'b')), len(2, Buffer.alloc(0)))],
    ['trailers with contents', encoded({ request_trailers: { trailers: { headers: [{ key: 'grpc-status', raw_value: Buffer.from('0') }] } } })],
    ['response trailers', encoded({ response_trailers: {} })],
    ['several metadata namespaces', encoded({ request_headers: {}, metadata_context: { filter_metadata: { a: toStruct({ x: 1 }), 'envoy.filters.http.ext_authz': toStruct(authz) } } })],
    ['a metadata namespace named __proto__', len(8, entry('__proto__', structBytes(entry('k', len(3, 'v')))))],
    ['a Struct key __proto__ and an empty Struct', len(8, cat(entry('ns', cat(entry('__proto__', len(3, 'v')), entry('k', len(5, Buffer.alloc(0)))))))],
    ['a Value with nothing in it, and one with two kinds', len(8, entry('ns', cat(entry('empty', Buffer.alloc(0)), entry('two', cat(varint(4, 1), len(3, 's'))))))],
    ['numbers Envoy can forward', encoded({ request_headers: {}, metadata_context: { filter_metadata: { ns: toStruct({ big: 1e308, tiny: 5e-324, neg: -0, int: 1796185908654 }) } } })],
    ['metadata_context without filter_metadata', encoded({ request_headers: {}, metadata_context: { typed_filter_metadata: { t: { type_url: 'x', value: Buffer.from('y') } } } })],
    ['fields of unknown numbers at every level, and ones toolgate skips', cat(len(2, cat(len(1, cat(headerValue('a', 'b'), unknownFields())), mapEntry(2, 'attr', Buffer.alloc(0)), unknownFields())), unknownFields(), varint(10, 1), mapEntry(9, 'x', Buffer.alloc(0)), len(11, varint(1, 1)))],
    ['zero bytes', Buffer.alloc(0)],
  ];
  it.each(EDGES)('%s', (_name, bytes) => {
    const { got, want } = decodeBoth(bytes);
    expect(got).toStrictEqual(want);
  });

  it('the forwarded handoff reads as the plain values ext_authz signed', () => {
    const got = lean.requestDeserialize(EDGES[0]?.[1] as Buffer);
    expect(got.metadata_context.filter_metadata['envoy.filters.http.ext_authz']).toStrictEqual(authz);
  });

  const text = fc.string({ maxLength: 30 });
  const bytes = fc.uint8Array({ maxLength: 60 }).map((a) => Buffer.from(a));
  const headerMap = fc.record({ headers: fc.array(fc.record({ key: text, value: text, raw_value: bytes }, { requiredKeys: [] }), { maxLength: 6 }) }, { requiredKeys: [] });
  const json = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.double(), text, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(text.filter((k) => k !== '__proto__'), tie('v'), { maxKeys: 3 })),
  })).v;
  const phase = fc.oneof(
    fc.record({ request_headers: fc.record({ headers: headerMap, end_of_stream: fc.boolean() }, { requiredKeys: [] }) }),
    fc.record({ response_headers: fc.record({ headers: headerMap, end_of_stream: fc.boolean() }, { requiredKeys: [] }) }),
    fc.record({ request_body: fc.record({ body: bytes, end_of_stream: fc.boolean() }, { requiredKeys: [] }) }),
    fc.record({ response_body: fc.record({ body: bytes, end_of_stream: fc.boolean() }, { requiredKeys: [] }) }),
    fc.record({ request_trailers: fc.record({ trailers: headerMap }, { requiredKeys: [] }) }),
  );
  const metadata = fc.record({ filter_metadata: fc.dictionary(text.filter((k) => k !== '__proto__'), fc.dictionary(text.filter((k) => k !== '__proto__'), json, { maxKeys: 5 }).map((o) => toStruct(o)), { maxKeys: 2 }) }, { requiredKeys: [] });

  it('random ProcessingRequests: the same values', () => {
    fc.assert(fc.property(phase, fc.option(metadata, { nil: undefined }), fc.boolean(), (p, meta, observability) => {
      const msg = { ...p, ...(meta ? { metadata_context: meta } : {}), ...(observability ? { observability_mode: true } : {}) };
      const { got, want } = decodeBoth(full.requestSerialize(msg));
      expect(got).toStrictEqual(want);
    }), { numRuns: 400 });
  });
});

describe('ProcessingRequest: bytes that are not a well-formed ProcessingRequest', () => {
  const intact = fromEnvoy.map(([, b]) => b);
  const agreesWhereFullReads = (b: Buffer) => {
    const f = outcome(full.requestDeserialize, b);
    if (!f.ok) return;
    const l = outcome(lean.requestDeserialize, b);
    expect(l.ok).toBe(true);
    if (l.ok) expect(l.value).toStrictEqual(readFields(f.value));
  };

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (a) => agreesWhereFullReads(Buffer.from(a))), { numRuns: 3000 });
  });

  it('a recorded message with one byte changed', () => {
    fc.assert(fc.property(fc.nat(intact.length - 1), fc.nat(), fc.nat(255), (which, at, value) => {
      const b = Buffer.from(intact[which] as Buffer);
      b[at % b.length] = value;
      agreesWhereFullReads(b);
    }), { numRuns: 5000 });
  });

  it('a recorded message cut short, at every length (a cut between two fields leaves a shorter message both read)', () => {
    for (const b of intact) for (let n = 0; n < b.length; n++) agreesWhereFullReads(b.subarray(0, n));
  });

  it('a metadata namespace without its Struct: refused by both', () => {
    const b = cat(len(2, Buffer.alloc(0)), len(8, len(1, len(1, 'envoy.filters.http.ext_authz'))));
    expect(outcome(full.requestDeserialize, b).ok).toBe(false);
    expect(outcome(lean.requestDeserialize, b).ok).toBe(false);
  });
});

/** A decoded answer as toolgate builds it: the HTTP status as its number (the decoder names it, `Forbidden`). */
function asToolgateBuildsIt(decoded: any): any {
  const status = decoded.immediate_response?.status;
  if (status && typeof status.code === 'string') status.code = httpStatusCode(status.code);
  return decoded;
}
const httpStatusCode = (name: string): number => {
  const value = (fullType('envoy.type.v3.HttpStatus').fields.code?.resolvedType as protobuf.Enum).values[name];
  if (value === undefined) throw new Error(`no HTTP status named ${name}`);
  return value;
};

describe('ProcessingResponse: the lean encoder writes the full encoder\'s bytes', () => {
  it.each(fromToolgate)('recorded %s: re-encoded from its decoded form, the very bytes toolgate sent then', (_title, bytes) => {
    expect(lean.responseSerialize(asToolgateBuildsIt(full.responseDeserialize(bytes))).toString('hex')).toBe(bytes.toString('hex'));
  });

  const latin1 = fc.string({ maxLength: 20 }).map((s) => Buffer.from(s, 'utf8').toString('latin1'));
  const headers = fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }).filter((k) => k !== '__proto__'), latin1, { maxKeys: 4 });
  const bodyMode = fc.constantFrom('NONE', 'STREAMED', 'BUFFERED', 'BUFFERED_PARTIAL');
  const headerMode = fc.constantFrom('SEND', 'SKIP');
  const continueStep = fc.record({
    kind: fc.constant('continue' as const),
    set: headers,
    remove: fc.array(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 3 }),
    body: fc.oneof(fc.string({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a))),
    chunk: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
    clearRouteCache: fc.boolean(),
    mode: fc.record({ requestBody: bodyMode, responseHeaders: headerMode, responseBody: bodyMode }),
  }, { requiredKeys: ['kind'] });
  const immediateStep = fc.record({ kind: fc.constant('immediate' as const), status: fc.integer({ min: 100, max: 599 }), headers, body: fc.string({ maxLength: 80 }) });
  const phaseName = fc.constantFrom('request_headers', 'request_body', 'response_headers', 'response_body') as fc.Arbitrary<'request_headers' | 'request_body' | 'response_headers' | 'response_body'>;

  it('random steps, as src/envoy/process/convert.ts turns them into answers: the same bytes', () => {
    fc.assert(fc.property(phaseName, fc.oneof(continueStep, immediateStep), (p, step) => {
      const response = toProcessingResponse(p, step as Step);
      expect(lean.responseSerialize(response).equals(full.responseSerialize(response))).toBe(true);
    }), { numRuns: 1000 });
  });

  it.each([
    ['the stand-ins\' empty answer to each phase', PHASES.map((p) => ({ [p]: {} }))],
    ['an empty answer', [{}]],
  ])('%s', (_name, responses) => {
    for (const r of responses) expect(lean.responseSerialize(r).equals(full.responseSerialize(r))).toBe(true);
  });
});
