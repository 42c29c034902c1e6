// Envoy's ProcessingRequest, decoded into what the ext_proc stream reads: the phase, its headers or body, the handoff.
import { LEAN_PROCESSING_REQUEST } from './lean-types.js';
import { present } from './present.js';

/** envoy.config.core.v3.HeaderValue as decoded: each part only when Envoy sent it. */
export interface HeaderValueProto { key?: string; value?: string; raw_value?: Buffer }
export interface HeaderMapProto { headers?: HeaderValueProto[] }

const PHASES = ['request_headers', 'response_headers', 'request_body', 'response_body', 'request_trailers', 'response_trailers'] as const;
type Phase = (typeof PHASES)[number];

/**
 * What the stream adapter reads (src/envoy/process/): the one phase Envoy sent (named in `request`, as the oneof's
 * name reads), its headers or body and end-of-stream flag, and the forwarded filter metadata as plain values (a
 * google.protobuf.Struct read as src/envoy/struct.ts's fromStruct reads one). Trailers come without their contents:
 * toolgate asks for none.
 */
export interface ProcessingRequest {
  request?: Phase;
  request_headers?: { headers?: HeaderMapProto; end_of_stream?: boolean };
  response_headers?: { headers?: HeaderMapProto; end_of_stream?: boolean };
  request_body?: { body?: Buffer; end_of_stream?: boolean };
  response_body?: { body?: Buffer; end_of_stream?: boolean };
  request_trailers?: Record<string, never>;
  response_trailers?: Record<string, never>;
  metadata_context?: { filter_metadata?: Record<string, Record<string, unknown>> };
}

// protobufjs's decoded messages are untyped: their fields are read only after `present` says they are there.
type Decoded = Record<string, any>;

/**
 * grpc-js's `requestDeserialize` for ExternalProcessor/Process. Throws on bytes that are not a ProcessingRequest
 * (grpc-js then fails the stream with INTERNAL, and Envoy answers with status_on_error). Values as the full decoder
 * gave them (proto-loader, `defaults: false`): a field Envoy did not send stays undefined.
 */
export function decodeProcessingRequest(bytes: Buffer): ProcessingRequest {
  const m = LEAN_PROCESSING_REQUEST.decode(bytes) as Decoded;
  const msg: ProcessingRequest = {};
  if (present(m, 'request_headers')) msg.request_headers = readHeaders(m.request_headers);
  if (present(m, 'response_headers')) msg.response_headers = readHeaders(m.response_headers);
  if (present(m, 'request_body')) msg.request_body = readBody(m.request_body);
  if (present(m, 'response_body')) msg.response_body = readBody(m.response_body);
  if (present(m, 'request_trailers')) msg.request_trailers = {};
  if (present(m, 'response_trailers')) msg.response_trailers = {};
  // The oneof's name as toObject writes it: the last member present in field order (Envoy sends one).
  for (const phase of PHASES) if (present(m, phase)) msg.request = phase;
  if (present(m, 'metadata_context')) msg.metadata_context = readMetadata(m.metadata_context);
  return msg;
}

function readHeaders(h: Decoded): { headers?: HeaderMapProto; end_of_stream?: boolean } {
  const out: { headers?: HeaderMapProto; end_of_stream?: boolean } = {};
  if (present(h, 'headers')) {
    const map: HeaderMapProto = {};
    const list = h.headers.headers as Decoded[];
    if (list.length > 0) map.headers = list.map(readHeaderValue);
    out.headers = map;
  }
  if (present(h, 'end_of_stream')) out.end_of_stream = h.end_of_stream;
  return out;
}

function readHeaderValue(v: Decoded): HeaderValueProto {
  const out: HeaderValueProto = {};
  if (present(v, 'key')) out.key = v.key;
  if (present(v, 'value')) out.value = v.value;
  if (present(v, 'raw_value')) out.raw_value = v.raw_value;
  return out;
}

function readBody(b: Decoded): { body?: Buffer; end_of_stream?: boolean } {
  const out: { body?: Buffer; end_of_stream?: boolean } = {};
  if (present(b, 'body')) out.body = b.body;
  if (present(b, 'end_of_stream')) out.end_of_stream = b.end_of_stream;
  return out;
}

function readMetadata(meta: Decoded): { filter_metadata?: Record<string, Record<string, unknown>> } {
  const namespaces = meta.filter_metadata as Record<string, Decoded>;
  const keys = Object.keys(namespaces);
  if (keys.length === 0) return {};
  const out: Record<string, Record<string, unknown>> = {};
  for (const ns of keys) {
    // A namespace named __proto__ stays an own key, as protobufjs's decoder and toObject keep it.
    if (ns === '__proto__') Object.defineProperty(out, ns, { enumerable: true, configurable: true, writable: true });
    out[ns] = plainStruct(namespaces[ns] as Decoded);
  }
  return { filter_metadata: out };
}

/**
 * A decoded google.protobuf.Struct as plain values, exactly as fromStruct(Struct.toObject(message)) reads it: a
 * Value is the first of string, number, bool, struct, list it carries, else null (src/envoy/struct.ts's order).
 */
function plainStruct(s: Decoded): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = s.fields as Record<string, Decoded>;
  for (const key of Object.keys(fields)) out[key] = plainValue(fields[key] as Decoded);
  return out;
}

function plainValue(v: Decoded): unknown {
  if (present(v, 'stringValue')) return v.stringValue;
  if (present(v, 'numberValue')) return v.numberValue;
  if (present(v, 'boolValue')) return v.boolValue;
  if (present(v, 'structValue')) return plainStruct(v.structValue);
  if (present(v, 'listValue')) return (v.listValue.values as Decoded[]).map(plainValue);
  return null;
}
