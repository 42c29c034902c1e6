import { describe, expect, it } from 'vitest';
import { compileNaming, exposeNames, resolveExposed, type NameRef, type PrefixMode } from '../../src/core/mcp/names.js';

const lists = (entries: Readonly<Record<string, readonly string[]>>) => new Map(Object.entries(entries));
const modes = (entries: Readonly<Record<string, PrefixMode>>) =>
  compileNaming(Object.fromEntries(Object.entries(entries).map(([b, prefixMode]) => [b, { prefixMode }])));
const flat = (m: Map<string, NameRef>) => Object.fromEntries([...m].map(([k, v]) => [k, `${v.backend}:${v.name}`]));

describe('exposeNames', () => {
  it.each([
    ['always prefixes everything, dots in tool names kept', { a: 'always', b: 'always' }, { a: ['x', 'fs.read'], b: ['x'] }, { 'a.fs.read': 'a:fs.read', 'a.x': 'a:x', 'b.x': 'b:x' }],
    ['never prefixes nothing', { a: 'never', b: 'never' }, { a: ['x'], b: ['y'] }, { x: 'a:x', y: 'b:y' }],
    ['never vs never on the same name: first backend keeps it', { a: 'never', b: 'never' }, { b: ['x'], a: ['x'] }, { x: 'a:x' }],
    ['collision prefixes only shared names', { a: 'collision', b: 'collision' }, { a: ['x', 'only_a'], b: ['x', 'only_b'] }, { 'a.x': 'a:x', 'b.x': 'b:x', only_a: 'a:only_a', only_b: 'b:only_b' }],
    ['collision gives way to a never backend', { a: 'collision', b: 'never' }, { a: ['x'], b: ['x'] }, { 'a.x': 'a:x', x: 'b:x' }],
    ['collision stays bare next to an always backend', { a: 'collision', b: 'always' }, { a: ['x'], b: ['x'] }, { x: 'a:x', 'b.x': 'b:x' }],
    ['collision with three backends, one not sharing', { a: 'collision', b: 'collision', c: 'collision' }, { a: ['x'], b: ['x'], c: ['y'] }, { 'a.x': 'a:x', 'b.x': 'b:x', y: 'c:y' }],
    ['a duplicate inside one backend is not a collision', { a: 'collision', b: 'collision' }, { a: ['x', 'x'], b: ['y'] }, { x: 'a:x', y: 'b:y' }],
    ['an unconfigured backend defaults to always with its own name', {}, { z: ['x'] }, { 'z.x': 'z:x' }],
  ] as const)('%s', (_name, settings, input, expected) => {
    expect(flat(exposeNames(lists(input), modes(settings)))).toEqual(expected);
  });

  it('uses toolPrefix and reports conflicts to the handler', () => {
    const settings = compileNaming({ billing: { toolPrefix: 'pay', prefixMode: 'always' }, raw: { prefixMode: 'never' } });
    const conflicts: string[] = [];
    const out = exposeNames(lists({ billing: ['refund'], raw: ['pay.refund'] }), settings, (n, kept, dropped) => conflicts.push(`${n}: ${kept.backend} over ${dropped.backend}`));
    expect(flat(out)).toEqual({ 'pay.refund': 'billing:refund' });
    expect(conflicts).toEqual(['pay.refund: billing over raw']);
  });
});

describe('compileNaming', () => {
  it.each([
    ['a prefix with the separator', { a: { toolPrefix: 'x.y' } }, /letters, digits/],
    ['an empty prefix', { a: { toolPrefix: '' } }, /letters, digits/],
    ['two backends with one prefix', { a: { toolPrefix: 'p' }, b: { toolPrefix: 'p', prefixMode: 'collision' as const } }, /share the tool prefix "p"/],
  ])('rejects %s at start-up', (_name, config, message) => {
    expect(() => compileNaming(config)).toThrow(message);
  });

  it('lets a never backend reuse a prefix, since it never carries one', () => {
    expect(compileNaming({ a: { toolPrefix: 'p' }, b: { toolPrefix: 'p', prefixMode: 'never' } }).byPrefix).toEqual(new Map([['p', 'a']]));
  });
});

describe('resolveExposed', () => {
  const settings = modes({ a: 'always', c: 'collision', n: 'never' });
  const known = exposeNames(lists({ a: ['x'], c: ['x', 'solo'], n: ['x', 'bare.dotted'] }), settings);

  it.each([
    ['an always name from its prefix alone', 'a.x', undefined, { backend: 'a', name: 'x' }],
    ['the FIRST separator, keeping dots in the name', 'a.read.file', undefined, { backend: 'a', name: 'read.file' }],
    ['a prefixed collision name from its prefix alone', 'c.x', undefined, { backend: 'c', name: 'x' }],
    ['a bare collision name from the cached map', 'solo', known, { backend: 'c', name: 'solo' }],
    ['a never name from the cached map', 'x', known, { backend: 'n', name: 'x' }],
    ['a never name with a dot from the cached map', 'bare.dotted', known, { backend: 'n', name: 'bare.dotted' }],
  ])('resolves %s', (_name, exposed, cache, expected) => {
    expect(resolveExposed(exposed, settings, cache)).toEqual(expected);
  });

  it.each([
    ['an unknown prefix', 'zz.x', known],
    ['a never backend name used as a prefix', 'n.x', known],
    ['a bare name without the cached map', 'solo', undefined],
    ['an empty prefix', '.x', known],
    ['an empty name after the prefix', 'a.', known],
    ['a name with no separator that nobody listed', 'nothing', known],
  ])('finds nothing for %s', (_name, exposed, cache) => {
    expect(resolveExposed(exposed, settings, cache)).toBeUndefined();
  });
});
