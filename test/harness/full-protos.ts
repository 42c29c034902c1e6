// The full protobufjs types of the Envoy API, loaded as proto-loader loads them: the schema the lean codecs are held to.
import { accessSync, constants } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import protobuf from 'protobufjs';
import { ENVOY_PROTO_FILES, LOADER_OPTIONS, fullEnvoyServices } from '../../src/envoy/protos.js';

let root: protobuf.Root | undefined;

/** Every message of the two Envoy services, resolved from the same include directories and files as fullEnvoyServices(). */
export function fullProtoRoot(): protobuf.Root {
  if (root) return root;
  // Loading proto-loader registers the well-known protos protobufjs does not ship (descriptor.proto, which the
  // Envoy annotations import), as it did for the full definitions.
  fullEnvoyServices();
  const loaded = new protobuf.Root();
  const dirs = LOADER_OPTIONS.includeDirs ?? [];
  const original = loaded.resolvePath.bind(loaded);
  loaded.resolvePath = (origin, target) => {
    if (isAbsolute(target)) return target;
    for (const dir of dirs) {
      try {
        accessSync(join(dir, target), constants.R_OK);
        return join(dir, target);
      } catch {
        continue;
      }
    }
    return original(origin, target);
  };
  loaded.loadSync(ENVOY_PROTO_FILES, { keepCase: true });
  loaded.resolveAll();
  root = loaded;
  return root;
}

export const fullType = (name: string): protobuf.Type => fullProtoRoot().lookupType(name);
