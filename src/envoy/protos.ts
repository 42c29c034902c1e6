// Loads the Envoy service definitions from the API protos that ship in @grpc/grpc-js-xds.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

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

export const AUTHZ_SERVICE = 'envoy.service.auth.v3.Authorization';
export const EXT_PROC_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';

// Cache: the two Envoy gRPC service definitions parsed from the bundled protos (~100 ms to parse). One value, set once;
// safe to share because it is derived from files that never change while the process runs.
let cached: { authz: grpc.ServiceDefinition; extProc: grpc.ServiceDefinition } | undefined;

/** Loaded once per process: parsing the Envoy API protos costs ~100 ms. */
export function envoyServices(): { authz: grpc.ServiceDefinition; extProc: grpc.ServiceDefinition } {
  if (cached) return cached;
  const definition = protoLoader.loadSync(
    ['envoy/service/auth/v3/external_auth.proto', 'envoy/service/ext_proc/v3/external_processor.proto'],
    LOADER_OPTIONS,
  );
  const pkg = grpc.loadPackageDefinition(definition) as unknown as Record<string, unknown>;
  cached = {
    authz: serviceAt(pkg, AUTHZ_SERVICE),
    extProc: serviceAt(pkg, EXT_PROC_SERVICE),
  };
  return cached;
}

function serviceAt(pkg: Record<string, unknown>, dotted: string): grpc.ServiceDefinition {
  let node: unknown = pkg;
  for (const part of dotted.split('.')) node = (node as Record<string, unknown>)[part];
  const service = (node as { service?: grpc.ServiceDefinition } | undefined)?.service;
  if (!service) throw new Error(`proto service ${dotted} not found`);
  return service;
}
