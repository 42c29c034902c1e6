import { describe, expect, it } from 'vitest';
import {
  capabilitiesFromServer,
  capabilitySetOf,
  CAPABILITY_FLAGS,
  hasCapability,
  NO_CAPABILITIES,
  toBackendSessionId,
  type Capability,
} from '../../src/core/session/types.js';

describe('capabilitiesFromServer', () => {
  it.each<[string, unknown, Capability[]]>([
    ['nothing', {}, []],
    ['not an object', 'tools', []],
    ['tools without list changes', { tools: {} }, ['tools']],
    ['tools with list changes', { tools: { listChanged: true } }, ['tools', 'tools.listChanged']],
    ['listChanged: false is no capability', { tools: { listChanged: false } }, ['tools']],
    [
      'a full 2025-11-25 server',
      {
        logging: {},
        completions: {},
        prompts: { listChanged: true },
        resources: { subscribe: true, listChanged: true },
        tools: { listChanged: true },
        tasks: { list: {}, cancel: {}, requests: { tools: { call: {} } } },
        experimental: { 'x-vendor': {} },
      },
      [...CAPABILITY_FLAGS],
    ],
    ['inherited properties are not capabilities', Object.create({ tools: {} }), []],
    ['null is absence', { logging: null }, []],
  ])('%s', (_name, announced, expected) => {
    const set = capabilitiesFromServer(announced);
    expect(set).toBe(capabilitySetOf(...expected));
    expect(CAPABILITY_FLAGS.filter((flag) => hasCapability(set, flag))).toEqual(expected);
  });

  it('fits every flag in one small integer', () => {
    expect(capabilitySetOf(...CAPABILITY_FLAGS)).toBeLessThan(2 ** 31);
    expect(capabilitySetOf()).toBe(NO_CAPABILITIES);
  });
});

describe('toBackendSessionId', () => {
  it.each([
    ['a UUID', '0b5e6d1c-3f1a-4c2e-9a8b-1d2e3f4a5b6c', true],
    ['visible ASCII punctuation', 'a!~{}', true],
    ['empty', '', false],
    ['a space', 'a b', false],
    ['a control character', 'a\nb', false],
    ['non-ASCII', 'sessión', false],
  ])('%s', (_name, raw, valid) => {
    expect(toBackendSessionId(raw)).toBe(valid ? raw : undefined);
  });
});
