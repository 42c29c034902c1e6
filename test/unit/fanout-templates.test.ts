import { describe, expect, it } from 'vitest';
import { compileTemplateIndex } from '../../src/pipeline/fanout/templates.js';

const one = (template: string) => compileTemplateIndex(new Map([[template, 'b']]));
const matches = (template: string, uri: string) => one(template).matching(uri).length === 1;

describe('level-1 URI template matching', () => {
  it.each([
    ['test://template/{id}/data', 'test://template/123/data', true],
    ['test://template/{id}/data', 'test://template/a%2Fb/data', true],
    ['test://template/{id}/data', 'test://template//data', false],
    ['test://template/{id}/data', 'test://template/1/2/data', false],
    ['test://template/{id}/data', 'test://template/123/data/', false],
    ['test://template/{id}/data', 'test://template/123/dat', false],
    ['test://template/{id}/data', 'TEST://template/123/data', false],
    ['cities://{country}/{city}', 'cities://fr/lyon', true],
    ['cities://{country}/{city}', 'cities://fr', false],
    ['docs://{name}.md', 'docs://faq.md', true],
    ['docs://{name}.md', 'docs://.md', false],
    ['docs://{name}.md', 'docs://faq.md.md', true],
    ['docs://{name}', 'docs://faq.md', true],
    ['v://{a}-{b}', 'v://x-y', true],
    ['v://{a}-{b}', 'v://x-', false],
    ['v://{a}-{b}', 'v://x-y-z', true],
    ['v://{a}{b}', 'v://xy', true],
    ['v://{a}{b}', 'v://x', true],
    ['v://{a}?q=1', 'v://x?q=1', true],
    ['file:///{path}', 'file:///etc', true],
    ['file:///{path}', 'file:///etc/passwd', false],
    ['plain://no-vars', 'plain://no-vars', true],
    ['plain://no-vars', 'plain://no-var', false],
    ['u://{x}', 'u://ü😀', true],
    ['u://ü{x}', 'u://üa', true],
    ['u://ü{x}', 'u://ua', false],
  ])('%s ~ %s → %s', (template, uri, expected) => {
    expect(matches(template, uri)).toBe(expected);
  });

  it.each([
    ['reserved expansion', 'files://{+path}'],
    ['query expansion', 'search://x{?q}'],
    ['a variable list', 'pair://{a,b}'],
    ['a prefix modifier', 'short://{name:3}'],
    ['explode', 'list://{items*}'],
    ['an unclosed brace', 'broken://{id'],
    ['a stray closing brace', 'broken://id}'],
    ['an empty expression', 'empty://{}'],
  ])('%s is never matched by a URI (but its text still has an owner)', (_name, template) => {
    const index = one(template);
    expect(index.matching(template.replace(/\{[^}]*\}?/, 'x'))).toEqual([]);
    expect(index.matching(template)).toEqual([]);
    expect(index.ownerOf(template)).toBe('b');
  });

  it('names every matching template with its owner, in the merge\'s order', () => {
    const index = compileTemplateIndex(new Map([['docs://{name}', 'billing'], ['docs://{name}.md', 'inventory'], ['stock://{sku}', 'inventory']]));
    expect(index.matching('docs://faq.md')).toEqual([
      { template: 'docs://{name}', backend: 'billing' },
      { template: 'docs://{name}.md', backend: 'inventory' },
    ]);
    expect(index.matching('stock://s1')).toEqual([{ template: 'stock://{sku}', backend: 'inventory' }]);
    expect(index.matching('nothing://here')).toEqual([]);
    expect(index.ownerOf('docs://{name}.md')).toBe('inventory');
    expect(index.ownerOf('docs://faq.md')).toBeUndefined();
  });

  it('answers for a long adversarial segment against many variables (no exponential backtracking)', () => {
    const template = `x://${Array.from({ length: 12 }, (_, i) => `{v${i}}-`).join('')}end`;
    const uri = `x://${'a-'.repeat(20_000)}nope`;
    expect(one(template).matching(uri)).toEqual([]);
    expect(one(template).matching(`x://${'a-'.repeat(20_000)}end`)).toHaveLength(1);
  });
});
