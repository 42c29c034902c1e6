import { describe, expect, it } from 'vitest';
import { envoyServices, fullEnvoyServices } from '../../src/envoy/protos.js';
import { fromStruct, toStruct } from '../../src/envoy/struct.js';

const meta = { subject: 'agent-7', task: 'refunds', n: 3, ok: true, tasks: ['a', 'b'], nested: { x: null } };

describe('Struct conversion', () => {
  it('survives a real protobuf round trip (the wire drops unknown field names silently)', () => {
    const check = fullEnvoyServices().authz.Check!;
    const wire = check.responseDeserialize(check.responseSerialize({ status: { code: 0 }, dynamic_metadata: toStruct(meta) }));
    expect(fromStruct(wire.dynamic_metadata)).toEqual(meta);
  });

  it('toolgate\'s Check encoder writes the plain object as the Struct the full decoder reads back', () => {
    const wire = fullEnvoyServices().authz.Check!.responseDeserialize(envoyServices().authz.Check!.responseSerialize({ status: { code: 0 }, dynamic_metadata: meta }));
    expect(fromStruct(wire.dynamic_metadata)).toEqual(meta);
  });
});
