import { describe, expect, it } from 'vitest';
import {
  mergeInitialize,
  mergePromptsList,
  mergeResourcesList,
  mergeResourceTemplatesList,
  mergeToolsList,
  type ListItem,
} from '../../src/pipeline/fanout/merge.js';
import { compileNaming } from '../../src/core/mcp/names.js';

const gateway = { name: 'toolgate', version: '0.1.0' };
const init = (capabilities: unknown, instructions?: string) => ({ protocolVersion: '2025-06-18', capabilities, serverInfo: { name: 'x', version: '1' }, instructions });

describe('mergeInitialize', () => {
  it.each([
    ['no backends', {}, {}],
    ['tools from one, prompts from the other', { a: init({ tools: {} }), b: init({ prompts: { listChanged: true } }) }, { tools: {}, prompts: { listChanged: true } }],
    ['listChanged true if any backend has it', { a: init({ tools: { listChanged: false } }), b: init({ tools: { listChanged: true } }) }, { tools: { listChanged: true } }],
    ['resources subscribe and listChanged from different backends', { a: init({ resources: { subscribe: true } }), b: init({ resources: { listChanged: true } }) }, { resources: { subscribe: true, listChanged: true } }],
    ['logging and completions', { a: init({ logging: {}, completions: {} }) }, { logging: {}, completions: {} }],
    ['experimental and junk are dropped; tasks is kept (routed by task id)', { a: init({ tasks: { list: {}, junk: {} }, experimental: { x: {} }, tools: 'yes' }), b: init(null) }, { tasks: { list: {} } }],
  ])('%s', (_name, results, capabilities) => {
    const merged = mergeInitialize(new Map(Object.entries(results)), gateway, '2025-11-25');
    expect(merged).toMatchObject({ protocolVersion: '2025-11-25', serverInfo: gateway });
    expect(merged.capabilities).toEqual(capabilities);
  });

  it.each([
    ['one backend: verbatim', { a: init({}, '  Use a.  ') }, '  Use a.  '],
    ['several: labelled, in backend order, empty ones skipped', { b: init({}, 'Use b.'), a: init({}, 'Use a.'), c: init({}, ' ') }, '[a]\nUse a.\n\n[b]\nUse b.'],
    ['none', { a: init({}), b: init({}) }, undefined],
  ])('instructions with %s', (_name, results, instructions) => {
    expect(mergeInitialize(new Map(Object.entries(results)), gateway, '2025-11-25').instructions).toBe(instructions);
  });
});

const tool = (name: string, extra: Record<string, unknown> = {}): ListItem => ({ name, inputSchema: { type: 'object' }, ...extra });
const per = (entries: Record<string, ListItem[]>) => new Map(Object.entries(entries));

describe('mergeToolsList', () => {
  const settings = compileNaming({ billing: { prefixMode: 'collision' }, inventory: { toolPrefix: 'inv', prefixMode: 'collision' }, docs: { prefixMode: 'always' } });
  const input = per({
    inventory: [tool('search'), tool('count')],
    billing: [tool('search'), tool('refund', { title: 'Refund', outputSchema: { type: 'object' }, annotations: { destructiveHint: true }, _meta: { k: 1 } })],
    docs: [tool('search'), { title: 'no name' }],
  });

  it.each([
    ['everything visible', () => true, ['billing.search', 'refund', 'docs.search', 'inv.search', 'count']],
    ['only refund and docs', (n: string) => n === 'refund' || n.startsWith('docs.'), ['refund', 'docs.search']],
    ['nothing visible', () => false, []],
  ])('renames, orders by backend then as the backend listed them, filters: %s', (_name, visible, names) => {
    expect(mergeToolsList(input, settings, visible).tools.map((t) => t.name)).toEqual(names);
  });

  it('changes only the name and keeps every other field', () => {
    const { tools } = mergeToolsList(input, settings, () => true);
    expect(tools.find((t) => t.name === 'refund')).toEqual(tool('refund', { title: 'Refund', outputSchema: { type: 'object' }, annotations: { destructiveHint: true }, _meta: { k: 1 } }));
  });

  it('returns the routing map for every name, hidden ones included', () => {
    const { names } = mergeToolsList(input, settings, () => false);
    expect(names.get('inv.search')).toEqual({ backend: 'inventory', name: 'search' });
    expect(names.size).toBe(5);
  });
});

describe('mergePromptsList', () => {
  it('prefixes prompts like tools', () => {
    const settings = compileNaming({ a: {}, b: { prefixMode: 'never' } });
    const out = mergePromptsList(per({ b: [{ name: 'greet', arguments: [] }], a: [{ name: 'greet' }] }), settings, () => true);
    expect(out.prompts).toEqual([{ name: 'a.greet' }, { name: 'greet', arguments: [] }]);
  });
});

describe('resources', () => {
  const res = (uri: string, name = uri) => ({ uri, name });
  it.each([
    ['URIs kept, routed to their backend, each backend\'s in its own order', { b: [res('file:///b')], a: [res('file:///a2'), res('file:///a1')] }, () => true, ['file:///a2', 'file:///a1', 'file:///b'], { 'file:///a1': 'a', 'file:///a2': 'a', 'file:///b': 'b' }, []],
    ['a URI two backends share goes to the first', { b: [res('mem://x', 'bx')], a: [res('mem://x', 'ax')] }, () => true, ['mem://x'], { 'mem://x': 'a' }, ['mem://x a over b']],
    ['hidden URIs still route', { a: [res('s://1'), res('s://2')] }, (u: string) => u === 's://2', ['s://2'], { 's://1': 'a', 's://2': 'a' }, []],
  ])('%s', (_name, input, visible, uris, owners, conflicts) => {
    const seen: string[] = [];
    const out = mergeResourcesList(per(input), visible, (u, kept, dropped) => seen.push(`${u} ${kept.backend} over ${dropped.backend}`));
    expect(out.resources.map((r) => r.uri)).toEqual(uris);
    expect(Object.fromEntries(out.uris)).toEqual(owners);
    expect(seen).toEqual(conflicts);
  });

  it('merges templates without touching uriTemplate', () => {
    const out = mergeResourceTemplatesList(per({ b: [{ uriTemplate: 'b://{id}', name: 't' }], a: [{ uriTemplate: 'a://{id}', name: 't' }, { name: 'broken' }] }), () => true);
    expect(out.resourceTemplates).toEqual([{ uriTemplate: 'a://{id}', name: 't' }, { uriTemplate: 'b://{id}', name: 't' }]);
    expect(Object.fromEntries(out.templates)).toEqual({ 'a://{id}': 'a', 'b://{id}': 'b' });
  });
});
