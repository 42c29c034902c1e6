// The protobuf work of one Check and one ext_proc message, full generated codecs (proto-loader, every field, through
// toObject/fromObject) against toolgate's lean ones (src/envoy/codec/), on messages the pinned Envoy sent.
import { bench, describe } from 'vitest';
import { envoyServices, fullEnvoyServices } from '../../src/envoy/protos.js';
import { fromStruct, toStruct } from '../../src/envoy/struct.js';
import { toProcessingResponse } from '../../src/envoy/process/convert.js';
import { recorded } from './grpc-fixtures.js';

type Method = { requestDeserialize(b: Buffer): any; responseSerialize(v: unknown): Buffer };
const full = { check: fullEnvoyServices().authz.Check as unknown as Method, process: fullEnvoyServices().extProc.Process as unknown as Method };
const lean = { check: envoyServices().authz.Check as unknown as Method, process: envoyServices().extProc.Process as unknown as Method };

const allowed = recorded('sidecar', 'tools-call-allowed').exchanges[0];
const checkBytes = Buffer.from(allowed?.check?.request.wire ?? '', 'base64');
// A sidecar tools/call opens no ext_proc stream any more (ext_authz finishes it): a tools/list's request headers carry
// the same forwarded handoff.
const streamStart = recorded('sidecar', 'tools-list').exchanges[0]?.stream?.events.find((e) => e.from === 'envoy');
const processBytes = Buffer.from(streamStart?.wire ?? '', 'base64');
if (checkBytes.length === 0 || processBytes.length === 0) throw new Error('the recorded sidecar scenarios lost their Check or their stream');

// An allow as src/envoy/check.ts builds it: Content-Type overwritten, x-toolgate-* removed, the session token written
// back on the response, and the signed handoff as dynamic metadata (plain; the full encoder needs it as a Struct).
const handoff = {
  subject: 'bench-agent', task: 'support', decision_id: '63dda5bb-c858-40b5-a593-1533e572eb69', method: 'tools/call', target: 'echo', tasks: ['support'],
  request_id: 'a4769b87-b498-4543-ab8d-8787d8d161df', body_sha256: '4LIk78tSv66_DAfHO-2GJrh7gxCjzVGGhL2hDD0rZto', issued_at: 1796185908654,
  handoff_kid: 'bench', handoff_mac: 'FOw4_-NW7UqKVkygUylU1sqD-AnfNuCVN1llCBxty4Q',
};
const allow = {
  status: { code: 0 },
  ok_response: {
    headers: [{ header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
    headers_to_remove: ['x-toolgate-backend', 'x-toolgate-subject'],
    response_headers_to_add: [{ header: { key: 'mcp-session-id', value: 'x'.repeat(325) }, append_action: 'OVERWRITE_IF_EXISTS' }],
  },
};

// Long runs: this shared machine's means swing with its neighbours; the medians are what to read.
const RUN = { time: 2_000, warmupTime: 500 };

describe('CheckRequest decode (recorded 2025 tools/call, all of Envoy 1.40\'s attributes)', () => {
  bench('full: proto-loader decode + toObject', () => void full.check.requestDeserialize(checkBytes), RUN);
  bench('lean: method, path, headers, body, raw_body', () => void lean.check.requestDeserialize(checkBytes), RUN);
});

describe('CheckResponse encode (allow with the signed handoff as dynamic metadata)', () => {
  bench('full: toStruct + fromObject + encode', () => void full.check.responseSerialize({ ...allow, dynamic_metadata: toStruct(handoff) }), RUN);
  bench('lean: straight from the plain object', () => void lean.check.responseSerialize({ ...allow, dynamic_metadata: handoff }), RUN);
});

// The full path then read the forwarded handoff with fromStruct; the lean decoder hands it over as plain values.
const NS = 'envoy.filters.http.ext_authz';
describe('ProcessingRequest decode (recorded tools/list request_headers with the forwarded handoff)', () => {
  bench('full: proto-loader decode + toObject + fromStruct', () => void fromStruct(full.process.requestDeserialize(processBytes).metadata_context?.filter_metadata?.[NS]), RUN);
  bench('lean: phase, headers, body, handoff as plain values', () => void lean.process.requestDeserialize(processBytes), RUN);
});

// The sidecar's answer to a 2025 tools/call's request headers: the client's session token swapped for the backend's.
const swap = toProcessingResponse('request_headers', { kind: 'continue', set: { 'mcp-session-id': 'b'.repeat(36) }, remove: ['x-toolgate-backend'], mode: { requestBody: 'NONE', responseHeaders: 'SKIP', responseBody: 'NONE' } });
describe('ProcessingResponse encode (request_headers: swap the session id, mode override)', () => {
  bench('full: fromObject + encode', () => void full.process.responseSerialize(swap), RUN);
  bench('lean: straight from the plain object', () => void lean.process.responseSerialize(swap), RUN);
});
