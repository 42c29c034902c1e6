// The lean request types (src/envoy/codec/lean-types.ts) against the full Envoy schema: same field numbers, and for
// each field a type that reads the same bytes, so the two decoders can never part ways on where a field ends.
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { leanType } from '../../src/envoy/codec/lean-types.js';
import { envoyServices, fullEnvoyServices } from '../../src/envoy/protos.js';
import { fullType } from '../harness/full-protos.js';

/** Each lean type and the full Envoy type it stands for. */
const PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['CheckRequest', 'envoy.service.auth.v3.CheckRequest'],
  ['AttributeContext', 'envoy.service.auth.v3.AttributeContext'],
  ['AttributeRequest', 'envoy.service.auth.v3.AttributeContext.Request'],
  ['HttpRequest', 'envoy.service.auth.v3.AttributeContext.HttpRequest'],
  ['ProcessingRequest', 'envoy.service.ext_proc.v3.ProcessingRequest'],
  ['HttpHeaders', 'envoy.service.ext_proc.v3.HttpHeaders'],
  ['HttpBody', 'envoy.service.ext_proc.v3.HttpBody'],
  ['HttpTrailers', 'envoy.service.ext_proc.v3.HttpTrailers'],
  ['HeaderMap', 'envoy.config.core.v3.HeaderMap'],
  ['HeaderValue', 'envoy.config.core.v3.HeaderValue'],
  ['Metadata', 'envoy.config.core.v3.Metadata'],
];
const counterpart = new Map(PAIRS.map(([lean, full]) => [`.toolgate.lean.${lean}`, `.${full}`]));

/** What a field's decoder does with the bytes: a length-checked block, a string (clamped to its message), or a varint of one kind. */
function reads(field: protobuf.Field): string {
  if (field.map || field.resolvedType instanceof protobuf.Type || field.type === 'bytes') return 'length-checked block';
  if (field.resolvedType instanceof protobuf.Enum) return 'int32';
  return field.type;
}

/** True when the lean field decodes what it reads the way the full one does (same message, same map, same scalar). */
function sameDecoding(lean: protobuf.Field, full: protobuf.Field): boolean {
  if (lean.map !== full.map || lean.repeated !== full.repeated) return false;
  if (lean.map && (lean as unknown as protobuf.MapField).keyType !== (full as unknown as protobuf.MapField).keyType) return false;
  const leanType = lean.resolvedType;
  const fullType = full.resolvedType;
  if (leanType instanceof protobuf.Type || fullType instanceof protobuf.Type) {
    if (!(leanType instanceof protobuf.Type) || !(fullType instanceof protobuf.Type)) return false;
    return (counterpart.get(leanType.fullName) ?? leanType.fullName) === fullType.fullName;
  }
  return lean.type === full.type;
}

describe('lean request types hold to the full Envoy schema', () => {
  it.each(PAIRS)('%s (%s): every field number the full type declares, read the same way', (leanName, fullName) => {
    const lean = leanType(leanName);
    const full = fullType(fullName);
    const leanIds = Object.keys(lean.fieldsById).map(Number).sort((a, b) => a - b);
    const fullIds = Object.keys(full.fieldsById).map(Number).sort((a, b) => a - b);
    expect(leanIds).toEqual(fullIds);
    for (const id of fullIds) {
      const l = lean.fieldsById[id] as protobuf.Field;
      const f = full.fieldsById[id] as protobuf.Field;
      expect(l.name, `${leanName} field ${id}`).toBe(f.name);
      // An opaque stand-in (`bytes`, or repeated bytes for a map) reads the same length-checked block the full field does.
      const opaque = l.type === 'bytes' && f.type !== 'bytes';
      if (opaque) {
        expect(reads(f), `${leanName}.${l.name} is opaque only where the full field is a length-checked block`).toBe('length-checked block');
        expect(l.repeated, `${leanName}.${l.name}: repeated as the full field is`).toBe(f.repeated || f.map);
      } else {
        expect(sameDecoding(l, f), `${leanName}.${l.name} decodes as the full field does`).toBe(true);
      }
    }
  });

  it('ProcessingRequest keeps the full `request` oneof, so the name of the member Envoy sent reads the same', () => {
    expect(leanType('ProcessingRequest').oneofs.request?.oneof).toEqual(fullType('envoy.service.ext_proc.v3.ProcessingRequest').oneofs.request?.oneof);
  });

  it('the check can fail: a lean type missing a field, or reading it differently, is caught', () => {
    const full = fullType('envoy.service.auth.v3.AttributeContext.HttpRequest');
    const sizeAsString = new protobuf.Field('size', 9, 'string');
    expect(reads(sizeAsString)).not.toBe(reads(full.fieldsById[9] as protobuf.Field));
    const bodyAsBytes = new protobuf.Field('body', 11, 'bytes');
    expect(sameDecoding(bodyAsBytes, full.fieldsById[11] as protobuf.Field)).toBe(false);
  });
});

describe('toolgate\'s service definitions', () => {
  it.each([
    ['authz', 'Check'],
    ['extProc', 'Process'],
  ] as const)('%s.%s: the path, stream flags and name the full definition has', (service, method) => {
    const lean = envoyServices()[service][method];
    const full = fullEnvoyServices()[service][method];
    expect({ path: lean?.path, requestStream: lean?.requestStream, responseStream: lean?.responseStream, originalName: lean?.originalName })
      .toEqual({ path: full?.path, requestStream: full?.requestStream, responseStream: full?.responseStream, originalName: full?.originalName });
    expect(Object.keys(envoyServices()[service])).toEqual(Object.keys(fullEnvoyServices()[service]));
  });
});
