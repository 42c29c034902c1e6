import { describe, expect, it } from 'vitest';
import { compileTemplateIndex, EMPTY_TEMPLATE_INDEX } from '../../src/pipeline/fanout/templates.js';
import type { McpCall } from '../../src/core/mcp/message.js';
import type { NameIndex } from '../../src/pipeline/extproc/gateway-context.js';
import { listsFor, resolveResource } from '../../src/pipeline/extproc/gateway-resources.js';

function call(method: string, params: Record<string, unknown> = {}): McpCall {
  return { type: 'call', kind: 'request', method, id: 5, target: undefined, arguments: {}, params, traceparent: undefined, fromHeadersOnly: false };
}

const index: NameIndex = {
  tools: new Map(),
  prompts: new Map(),
  resources: new Map([['docs://readme', 'inventory'], ['cities://fr/lyon', 'inventory']]),
  templates: compileTemplateIndex(new Map([
    ['cities://{country}/{city}', 'billing'],
    ['docs://{name}', 'billing'],
    ['docs://{name}.md', 'inventory'],
    ['stock://{sku}/level', 'inventory'],
    ['stock://{sku}/{field}', 'inventory'],
  ])),
};
const ctx = { index, backends: ['billing', 'inventory'] };

const backendOf = (r: ReturnType<typeof resolveResource>) => (r?.ok ? r.ref.backend : r === undefined ? 'unknown' : 'refused');

describe('resolveResource', () => {
  it.each([
    ['an exact URI from resources/list beats a template', 'resources/read', 'cities://fr/lyon', 'inventory'],
    ['a URI one template expands to', 'resources/read', 'cities://it/roma', 'billing'],
    ['a URI two templates of the SAME backend match', 'resources/read', 'stock://s1/level', 'inventory'],
    ['subscribe routes like read', 'resources/subscribe', 'stock://s1/price', 'inventory'],
    ['unsubscribe routes like read', 'resources/unsubscribe', 'docs://faq', 'billing'],
    ['templates of two backends match', 'resources/read', 'docs://faq.md', 'refused'],
    ['nothing matches', 'resources/read', 'nope://x', 'unknown'],
    ['a template\'s text read as a URI matches like any URI (here: both backends)', 'resources/read', 'docs://{name}.md', 'refused'],
  ])('%s', (_name, method, uri, expected) => {
    const resolved = resolveResource(ctx, call(method, { uri }), uri);
    expect(backendOf(resolved)).toBe(expected);
    if (resolved?.ok) expect(resolved.ref.name).toBe(uri);
  });

  it('a completion ref may name a template by its text: its owner, even where another backend\'s template matches it', () => {
    const completion = call('completion/complete', { ref: { type: 'ref/resource', uri: 'docs://{name}.md' }, argument: { name: 'name', value: 'f' } });
    expect(backendOf(resolveResource(ctx, completion, 'docs://{name}.md'))).toBe('inventory');
    expect(backendOf(resolveResource(ctx, completion, 'cities://{country}/{city}'))).toBe('billing');
  });

  it('refuses an ambiguous URI with -32602, the request id, and a sentence naming each candidate', () => {
    const resolved = resolveResource(ctx, call('resources/read', { uri: 'docs://faq.md' }), 'docs://faq.md');
    expect(resolved?.ok).toBe(false);
    if (resolved === undefined || resolved.ok || resolved.step.kind !== 'immediate') throw new Error('expected an immediate refusal');
    expect(resolved.step.status).toBe(200);
    const body = JSON.parse(resolved.step.body) as { id: unknown; error: { code: number; message: string } };
    expect(body.id).toBe(5);
    expect(body.error.code).toBe(-32602);
    expect(body.error.message).toContain('billing: "docs://{name}"; inventory: "docs://{name}.md"');
    expect(body.error.message).toContain('sent it to none');
  });

  it('with one backend, any URI goes to it (nothing to tell apart)', () => {
    const single = { index: { ...index, resources: new Map(), templates: EMPTY_TEMPLATE_INDEX }, backends: ['only'] };
    expect(backendOf(resolveResource(single, call('resources/read'), 'anything://at/all'))).toBe('only');
  });
});

describe('listsFor: the lists a miss refreshes', () => {
  it.each([
    ['tools/call', {}, ['tools/list']],
    ['prompts/get', {}, ['prompts/list']],
    ['completion/complete', { ref: { type: 'ref/prompt', name: 'p' } }, ['prompts/list']],
    ['completion/complete', { ref: { type: 'ref/resource', uri: 'a://{b}' } }, ['resources/list', 'resources/templates/list']],
    ['resources/read', {}, ['resources/list', 'resources/templates/list']],
    ['resources/subscribe', {}, ['resources/list', 'resources/templates/list']],
  ])('%s %j → %j', (method, params, lists) => {
    expect(listsFor(call(method, params))).toEqual(lists);
  });
});
