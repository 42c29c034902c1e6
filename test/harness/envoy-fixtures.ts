// Recorded Envoy ⇄ toolgate messages (test/fixtures/envoy-<version>/): their file format, their full decoding for
// reading, and the very codecs toolgate's gRPC server uses (src/envoy/protos.ts), so a replayed message is what toolgate received.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { envoyServices, fullEnvoyServices } from '../../src/envoy/protos.js';
import { ENVOY_VERSION } from './repo.js';
import { REPO_ROOT } from './repo.js';

/** Where the fixtures recorded from the pinned Envoy live; the folder is named after the version that wrote them. */
export const FIXTURES_ROOT = join(REPO_ROOT, 'test', 'fixtures');
export const fixtureDir = (version: string = ENVOY_VERSION): string => join(FIXTURES_ROOT, `envoy-${version}`);
export const RECORD_COMMAND = 'node scripts/record-envoy-fixtures.mjs';

export type FixtureMode = 'sidecar' | 'gateway';

/** One gRPC message as it crossed the wire: its binary protobuf (base64), when, and a decoded view for readers. */
export interface WireMessage {
  /** Milliseconds since the epoch when the recorder saw it. */
  readonly at: number;
  /** The exact protobuf bytes, base64. The tests decode these; `view` is only for people reading the file. */
  readonly wire: string;
  readonly view: unknown;
}

/** One `Authorization/Check`: Envoy's CheckRequest and toolgate's CheckResponse. */
export interface RecordedCheck {
  readonly request: WireMessage;
  readonly response: WireMessage;
}

/** One `ExternalProcessor/Process` stream: every message in order, each marked with who sent it. */
export interface RecordedStream {
  readonly events: ReadonlyArray<WireMessage & { readonly from: 'envoy' | 'toolgate' }>;
  /** Who ended the stream first: toolgate (it was done) or Envoy (half-close). */
  readonly endedBy: 'envoy' | 'toolgate' | 'open';
}

/** One call toolgate made through Envoy's egress listener (gateway fan-out), as the recorder between them saw it. */
export interface RecordedEgress {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  readonly status: number;
  readonly responseHeaders: Readonly<Record<string, string>>;
  readonly responseBody: string;
}

/** One client HTTP request through Envoy: its Check (if Envoy asked) and its ext_proc stream (if Envoy opened one). */
export interface RecordedExchange {
  /** Envoy's x-request-id, which binds the Check's handoff to the stream. */
  readonly requestId: string | undefined;
  readonly httpMethod: string;
  /** The JSON-RPC method in the body, when there is one. */
  readonly rpcMethod: string | undefined;
  readonly check: RecordedCheck | undefined;
  readonly stream: RecordedStream | undefined;
  readonly egress: readonly RecordedEgress[];
}

export interface Scenario {
  readonly envoyVersion: string;
  readonly mode: FixtureMode;
  readonly name: string;
  /** What the client did, in a sentence. */
  readonly description: string;
  readonly exchanges: readonly RecordedExchange[];
}

/** The config toolgate ran with while recording, and the IdP's public keys: a replay needs both. */
export const configFile = (mode: FixtureMode, version?: string): string => join(fixtureDir(version), `${mode}.toolgate.yaml`);
export const jwksFile = (mode: FixtureMode, version?: string): string => join(fixtureDir(version), `${mode}.jwks.json`);
export const scenarioFile = (mode: FixtureMode, name: string, version?: string): string => join(fixtureDir(version), `${mode}.${name}.json`);

export function loadScenario(mode: FixtureMode, name: string, version?: string): Scenario {
  return JSON.parse(readFileSync(scenarioFile(mode, name, version), 'utf8')) as Scenario;
}

/** The scenario names recorded for a mode, from the file names. */
export function scenarioNames(mode: FixtureMode, version?: string): string[] {
  if (!existsSync(fixtureDir(version))) {
    throw new Error(fixtureVersionProblem(readdirSync(FIXTURES_ROOT), version ?? ENVOY_VERSION) ?? `${fixtureDir(version)} is missing: run \`${RECORD_COMMAND}\``);
  }
  const prefix = `${mode}.`;
  return readdirSync(fixtureDir(version))
    .filter((f) => f.startsWith(prefix) && f.endsWith('.json') && !f.endsWith('.jwks.json'))
    .map((f) => f.slice(prefix.length, -'.json'.length))
    .sort();
}

type Codec = (bytes: Buffer) => unknown;
interface Codecs {
  /** The full decoders (every field), as Envoy's messages read in full: for views and for what Envoy sent. */
  readonly checkRequest: Codec;
  readonly checkResponse: Codec;
  readonly processingRequest: Codec;
  readonly processingResponse: Codec;
  /** toolgate's server decoders (src/envoy/codec/): what its handlers receive from these bytes. */
  readonly serverCheckRequest: Codec;
  readonly serverProcessingRequest: Codec;
  /** toolgate's server encoders: the bytes Envoy receives for a handler's answer. */
  readonly encodeCheckResponse: (value: unknown) => Buffer;
  readonly encodeProcessingResponse: (value: unknown) => Buffer;
}

/** Codecs for the four message types: full ones from the proto load, server ones from toolgate's own service definitions. */
export function codecs(): Codecs {
  const full = fullEnvoyServices();
  const server = envoyServices();
  const table = (service: grpc.ServiceDefinition, method: string) => service[method] as unknown as Record<string, (x: unknown) => unknown>;
  const fn = (t: Record<string, (x: unknown) => unknown>, name: string) => {
    const f = t[name];
    if (!f) throw new Error(`envoy service definition has no ${name}`);
    return f;
  };
  return {
    checkRequest: fn(table(full.authz, 'Check'), 'requestDeserialize') as Codec,
    checkResponse: fn(table(full.authz, 'Check'), 'responseDeserialize') as Codec,
    processingRequest: fn(table(full.extProc, 'Process'), 'requestDeserialize') as Codec,
    processingResponse: fn(table(full.extProc, 'Process'), 'responseDeserialize') as Codec,
    serverCheckRequest: fn(table(server.authz, 'Check'), 'requestDeserialize') as Codec,
    serverProcessingRequest: fn(table(server.extProc, 'Process'), 'requestDeserialize') as Codec,
    encodeCheckResponse: fn(table(server.authz, 'Check'), 'responseSerialize') as (v: unknown) => Buffer,
    encodeProcessingResponse: fn(table(server.extProc, 'Process'), 'responseSerialize') as (v: unknown) => Buffer,
  };
}

export const wireBytes = (m: WireMessage): Buffer => Buffer.from(m.wire, 'base64');

/**
 * A decoded message as plain JSON for people reading a fixture: bytes that are UTF-8 text become the text, other
 * bytes `{ base64 }`. Lossy on purpose (the wire field is the truth); the tests check that the two agree.
 */
export function readable(value: unknown): unknown {
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const buf = Buffer.from(value);
    const text = buf.toString('utf8');
    return Buffer.from(text, 'utf8').equals(buf) && !/[\u0000-\u0008\u000e-\u001f]/.test(text) ? text : { base64: buf.toString('base64') };
  }
  if (Array.isArray(value)) return value.map(readable);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = readable(v);
    return out;
  }
  return value;
}

/** A header list (`HeaderMap` proto, as decoded) as a record; Envoy sends values in raw_value. */
export function headersOf(map: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of (map as { headers?: Array<{ key: string; value?: string; raw_value?: Buffer }> } | undefined)?.headers ?? []) {
    out[h.key.toLowerCase()] = h.raw_value && h.raw_value.length > 0 ? Buffer.from(h.raw_value).toString('latin1') : (h.value ?? '');
  }
  return out;
}

/**
 * Why the recorded fixtures do not fit the pinned Envoy, as a sentence that says what to run; undefined when they do.
 * `folders` are the names in test/fixtures/ (only `envoy-<version>` ones count).
 */
export function fixtureVersionProblem(folders: readonly string[], pin: string): string | undefined {
  const recorded = folders.filter((f) => /^envoy-\d/.test(f)).map((f) => f.slice('envoy-'.length)).sort();
  const rerecord = `run \`${RECORD_COMMAND}\` to re-record them from the pinned Envoy`;
  if (recorded.length === 0) return `No recorded Envoy fixtures in test/fixtures/ for the pinned Envoy ${pin} (envoy/VERSION): ${rerecord}.`;
  if (recorded.length > 1) return `test/fixtures/ holds fixtures for several Envoy versions (${recorded.join(', ')}), the pin is ${pin}: ${rerecord} (it replaces them all).`;
  if (recorded[0] !== pin) return `envoy/VERSION pins Envoy ${pin}, but the fixtures in test/fixtures/envoy-${recorded[0]}/ were recorded from Envoy ${recorded[0]}: ${rerecord}.`;
  return undefined;
}
