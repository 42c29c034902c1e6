// Loads the Envoy service definitions from the API protos that ship in @grpc/grpc-js-xds, and fits toolgate's lean codecs.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { decodeCheckRequest } from './codec/check-request.js';
import { encodeCheckResponse, type CheckResponse } from './codec/check-response.js';

const require = createRequire(import.meta.url);
const xdsRoot = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const includeDirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(xdsRoot, 'deps', d));

/** Options shared by every proto load: raw field names, enums as strings, oneof names visible. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: false,
  oneofs: true,
  includeDirs,
};

/** The Envoy API files the two services come from (under LOADER_OPTIONS.includeDirs). */
export const ENVOY_PROTO_FILES = ['envoy/service/auth/v3/external_auth.proto', 'envoy/service/ext_proc/v3/external_processor.proto'];

export const AUTHZ_SERVICE = 'envoy.service.auth.v3.Authorization';
export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';

type EnvoyServices = { readonly authz: grpc.ServiceDefinition; readonly extProc: grpc.ServiceDefinition };

// Cache: the two Envoy gRPC service definitions parsed from the bundled protos (~100 ms to parse). One value, set
// once; safe to share because it derives from files that never change while the process runs.
let full: EnvoyServices | undefined;
// Cache: the same definitions with toolgate's codecs fitted. One value, set once; safe to share for the same reason.
let lean: EnvoyServices | undefined;

/**
 * The definitions as proto-loader generates them: every field of every message decoded into objects and encoded
 * through `fromObject`. For whoever needs all of a message (the fixture recorder's readable views, the tests' Envoy
 * stand-ins and clients), and the reference the lean codecs are held to. Loaded once per process (~100 ms).
 */
export function fullEnvoyServices(): EnvoyServices {
  if (full) return full;
  const definition = protoLoader.loadSync(ENVOY_PROTO_FILES, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as Record<string, unknown>;
  full = {
    authz: serviceAt(pkg, AUTHZ_SERVICE),
    extProc: serviceAt(pkg, EXT_PROC_SERVICE),
  };
  return full;
}

/**
 * What toolgate's gRPC server registers: the full definitions (same paths and stream flags) with the server's two
 * directions replaced by lean codecs (src/envoy/codec/): decode only the request fields toolgate reads, encode the
 * answer straight from toolgate's plain object. A client made from these still encodes requests and decodes
 * answers in full.
 */
export function envoyServices(): EnvoyServices {
  if (lean) return lean;
  const { authz, extProc } = fullEnvoyServices();
  lean = {
    authz: withCodecs(authz, 'Check', decodeCheckRequest, (res) => encodeCheckResponse(res as CheckResponse)),
    extProc,
  };
  return lean;
}

function withCodecs(service: grpc.ServiceDefinition, method: string, requestDeserialize: (bytes: Buffer) => unknown, responseSerialize: (value: unknown) => Buffer): grpc.ServiceDefinition {
  const definition = service[method];
  if (!definition) throw new Error(`proto service has no method ${method}`);
  return { ...service, [method]: { ...definition, requestDeserialize, responseSerialize } };
}

function serviceAt(pkg: Record<string, unknown>, dotted: string): grpc.ServiceDefinition {
  let node: unknown = pkg;
  for (const part of dotted.split('.')) node = (node as Record<string, unknown>)[part];
  const service = (node as { service?: grpc.ServiceDefinition } | undefined)?.service;
  if (!service) throw new Error(`proto service ${dotted} not found`);
  return service;
}
