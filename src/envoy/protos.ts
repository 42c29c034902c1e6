// The Envoy gRPC service definitions: toolgate's own with its lean codecs, and the full ones from the API protos that ship in @grpc/grpc-js-xds.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type * as protoLoader from '@grpc/proto-loader';
import { decodeCheckRequest } from './codec/check-request.js';
import { encodeCheckResponse, type CheckResponse } from './codec/check-response.js';
import { decodeProcessingRequest } from './codec/processing-request.js';
import { encodeProcessingResponse, type ProcessingResponse } from './codec/processing-response.js';

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

// Cache: the full Envoy gRPC service definitions parsed from the bundled protos (~100-200 ms to parse, several MiB
// resident), loaded on first use only. One value, set once; safe to share because it derives from files that never
// change while the process runs.
let full: EnvoyServices | undefined;
// Cache: toolgate's own service definitions (lean codecs). One value, set once; safe to share because it holds only
// functions and constants.
let lean: EnvoyServices | undefined;

/**
 * The definitions as proto-loader generates them: every field of every message decoded into objects and encoded
 * through `fromObject`. For whoever needs all of a message (the fixture recorder's readable views, the tests' Envoy
 * stand-ins and clients), and the reference the lean codecs are held to. toolgate's server never loads them.
 */
export function fullEnvoyServices(): EnvoyServices {
  if (full) return full;
  const protoLoader = require('@grpc/proto-loader') as typeof import('@grpc/proto-loader');
  const definition = protoLoader.loadSync(ENVOY_PROTO_FILES, LOADER_OPTIONS);
  const pkg = grpc.loadPackageDefinition(definition) as unknown as Record<string, unknown>;
  full = {
    authz: serviceAt(pkg, AUTHZ_SERVICE),
    extProc: serviceAt(pkg, EXT_PROC_SERVICE),
  };
  return full;
}

/**
 * What toolgate's gRPC server registers: Authorization/Check and ExternalProcessor/Process with the lean codecs of
 * src/envoy/codec/ on the server's two directions (decode only the request fields toolgate reads, encode the answer
 * straight from toolgate's plain object), without parsing the Envoy API protos at all. The client's two directions
 * are the full ones, loaded the first time a client made from these uses them (tests only).
 */
export function envoyServices(): EnvoyServices {
  if (lean) return lean;
  lean = {
    authz: {
      Check: method(AUTHZ_SERVICE, 'Check', false, decodeCheckRequest, (res) => encodeCheckResponse(res as CheckResponse), () => fullEnvoyServices().authz),
    },
    extProc: {
      Process: method(EXT_PROC_SERVICE, 'Process', true, decodeProcessingRequest, (res) => encodeProcessingResponse(res as ProcessingResponse), () => fullEnvoyServices().extProc),
    },
  };
  return lean;
}

function method(
  service: string,
  name: string,
  streaming: boolean,
  requestDeserialize: (bytes: Buffer) => unknown,
  responseSerialize: (value: unknown) => Buffer,
  fullService: () => grpc.ServiceDefinition,
): grpc.MethodDefinition<unknown, unknown> {
  const fullMethod = () => {
    const definition = fullService()[name];
    if (!definition) throw new Error(`proto service ${service} has no method ${name}`);
    return definition;
  };
  return {
    path: `/${service}/${name}`,
    requestStream: streaming,
    responseStream: streaming,
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
    requestDeserialize,
    responseSerialize,
    requestSerialize: (value) => fullMethod().requestSerialize(value),
    responseDeserialize: (bytes) => fullMethod().responseDeserialize(bytes),
  };
}

function serviceAt(pkg: Record<string, unknown>, dotted: string): grpc.ServiceDefinition {
  let node: unknown = pkg;
  for (const part of dotted.split('.')) node = (node as Record<string, unknown>)[part];
  const service = (node as { service?: grpc.ServiceDefinition } | undefined)?.service;
  if (!service) throw new Error(`proto service ${dotted} not found`);
  return service;
}
