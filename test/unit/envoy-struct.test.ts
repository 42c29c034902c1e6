import { describe, expect, it } from 'vitest';
import { envoyServices } from '../../src/envoy/protos.js';
import { fromStruct, toStruct } from '../../src/envoy/struct.js';

describe('Struct conversion', () => {
  it('survives a real protobuf round trip (the wire drops unknown field names silently)', () => {
    const check = envoyServices().authz.Check!;
    const meta = { subject: 'agent-7', task: 'refunds', n: 3, ok: true, tasks: ['a', 'b'], nested: { x: null } };
    const wire = check.responseDeserialize(check.responseSerialize({ status: { code: 0 }, dynamic_metadata: toStruct(meta) }));
    expect(fromStruct(wire.dynamic_metadata)).toEqual(meta);
  });
});
