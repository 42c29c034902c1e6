// Envoy-shaped messages for the gRPC micro-benchmarks: a recorded Envoy 1.40 CheckRequest with the bench's token and body.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fullEnvoyServices } from '../../src/envoy/protos.js';
import { fixtureDir, type Scenario } from '../../test/harness/envoy-fixtures.js';

const check = fullEnvoyServices().authz.Check as unknown as {
  path: string;
  requestSerialize(v: unknown): Buffer;
  requestDeserialize(b: Buffer): any;
  responseDeserialize(b: Buffer): any;
};
export const CHECK_PATH = check.path;

/** A recorded scenario of the pinned Envoy. */
export function recorded(mode: 'sidecar' | 'gateway', name: string): Scenario {
  return JSON.parse(readFileSync(join(fixtureDir(), `${mode}.${name}.json`), 'utf8')) as Scenario;
}

/**
 * Envoy's CheckRequest for a 2025 tools/call (every attribute Envoy 1.40 fills in, as recorded), with the bench's
 * bearer token, client session token and body: same size and shape as on the wire, accepted by the bench runtime.
 */
export function checkRequestBytes(token: string, session: string, body: string): Buffer {
  const wire = recorded('sidecar', 'tools-call-allowed').exchanges[0]?.check?.request.wire;
  if (!wire) throw new Error('the recorded sidecar tools-call-allowed scenario has no Check');
  const req = check.requestDeserialize(Buffer.from(wire, 'base64'));
  const http = req.attributes.request.http;
  http.headers = { ...http.headers, authorization: `Bearer ${token}`, 'mcp-session-id': session, 'content-length': String(Buffer.byteLength(body)) };
  http.raw_body = Buffer.from(body);
  http.size = String(Buffer.byteLength(body));
  return check.requestSerialize(req);
}

/** True when the CheckResponse bytes allow the request (checked once per set-up, so a bench never times a denial). */
export const allows = (reply: Buffer): boolean => check.responseDeserialize(reply).ok_response !== undefined;
