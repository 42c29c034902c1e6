// Envoy API protos for test doubles, loaded from the copies that ship in @grpc/grpc-js-xds.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);
const depsDir = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');

export const ENVOY_PROTO_INCLUDE_DIRS: readonly string[] = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate']
  .map((name) => join(depsDir, name));

export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [...ENVOY_PROTO_INCLUDE_DIRS],
};

export const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';
export const EXTERNAL_PROCESSOR_SERVICE = 'envoy.service.ext_proc.v3.ExternalProcessor';

const PROTO_FILE_OF: Record<string, string> = {
  [AUTHORIZATION_SERVICE]: 'envoy/service/auth/v3/external_auth.proto',
  [EXTERNAL_PROCESSOR_SERVICE]: 'envoy/service/ext_proc/v3/external_processor.proto',
};

const cache = new Map<string, grpc.ServiceDefinition>();

/** The service definition for a fully qualified Envoy service name; parsed once per process. */
export function envoyService(fullName: string): grpc.ServiceDefinition {
  const cached = cache.get(fullName);
  if (cached) return cached;
  const file = PROTO_FILE_OF[fullName];
  if (!file) throw new Error(`envoyService: unknown service ${fullName}`);
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(file, PROTO_LOADER_OPTIONS));
  let node: unknown = pkg;
  for (const part of fullName.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  const service = (node as { service?: grpc.ServiceDefinition } | undefined)?.service;
  if (!service) throw new Error(`envoyService: ${fullName} not found in ${file}`);
  cache.set(fullName, service);
  return service;
}
