import { describe, expect, it } from 'vitest';
import { createMatcher, matchesPattern, parsePattern, patternProblem } from '../../src/core/policy/match.js';

describe('matchesPattern', () => {
  it.each([
    ['billing.refund', 'billing.refund', true],
    ['billing.refund', 'billing.refunds', false],
    ['billing.*', 'billing.refund', true],
    ['billing.*', 'billing.', true],
    ['billing.*', 'billingrefund', false],
    ['notifications/*', 'notifications/initialized', true],
    ['notifications/*', 'tools/list', false],
    ['*', 'anything/at all', true],
    ['billing://charges/*', 'billing://charges/ch_1', true],
  ])('%s vs %s → %s', (pattern, name, expected) => {
    expect(matchesPattern(parsePattern(pattern), name)).toBe(expected);
  });
});

describe('patternProblem', () => {
  it.each([
    ['billing.*', undefined],
    ['*', undefined],
    ['exact', undefined],
    ['billing.*.read', 'may only end a pattern'],
    ['**', 'may only end a pattern'],
  ])('%s', (pattern, problem) => {
    const found = patternProblem(pattern);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(problem);
  });
});

describe('patternProblem: name and URI patterns must be canonical, or they could never match', () => {
  it.each([
    ['a plain tool name', 'billing.refund', 'name'],
    ['a tool prefix', 'billing.*', 'name'],
    ['a prefix that ends in a space (it continues)', 'plan my *', 'name'],
    ['an NFC prompt name', 'caf\u00e9', 'name'],
    ['everything', '*', 'uri'],
    ['a file prefix', 'file:///public/*', 'uri'],
    ['a non-special prefix', 'docs://*', 'uri'],
    ['a scheme only', 'file:*', 'uri'],
    ['a special scheme and any host', 'https://*', 'uri'],
    ['any port of a host', 'http://localhost:*', 'uri'],
    ['an exact URI', 'billing://policies/refunds', 'uri'],
    ['an exact URI template', 'cities://{country}/{city}', 'uri'],
    ['a method, read as written', 'Notifications/ *', 'text'],
  ] as const)('accepts %s', (_name, pattern, kind) => {
    expect(patternProblem(pattern, kind)).toBeUndefined();
  });

  it.each([
    ['a tool name with a trailing space', 'billing.refund ', 'name', 'ends with white space; write "billing.refund"'],
    ['a prompt name in NFD', 'cafe\u0301', 'name', 'normalization form C'],
    ['a prefix with a leading space', ' billing.*', 'name', 'starts with white space'],
    ['a prefix with a zero-width space', 'bill\u200b*', 'name', 'U+200B'],
    ['an upper-case scheme', 'FILE:///public/a', 'uri', 'write "file:///public/a"'],
    ['an upper-case host prefix', 'https://Example.com/*', 'uri', 'reads as "https://example.com/x"'],
    ['a dot-segment prefix', 'file:///public/../*', 'uri', 'reads as "file:///x"'],
    ['a backslash prefix', 'file:///public\\*', 'uri', 'normal form'],
    ['an encoded-slash prefix', 'file:///public%2F*', 'uri', 'encoded "/"'],
    ['a relative prefix', 'public/*', 'uri', 'does not start an absolute URI'],
    ['a relative exact URI', 'readme', 'uri', 'not an absolute URI'],
    ['a template with dot segments', 'file:///a/../{x}', 'uri', 'write "file:///{x}"'],
  ] as const)('refuses %s', (_name, pattern, kind, problem) => {
    expect(patternProblem(pattern, kind)).toContain(problem);
  });
});

describe('createMatcher picks the most specific entry', () => {
  const matcher = createMatcher([
    ['*', 'anything'],
    ['billing.*', 'billing'],
    ['billing.refund*', 'refunds'],
    ['billing.refund', 'exact refund'],
  ]);
  it.each([
    ['billing.refund', 'exact refund'],
    ['billing.refund_partial', 'refunds'],
    ['billing.lookup', 'billing'],
    ['crm.read', 'anything'],
  ])('%s → %s', (name, expected) => {
    expect(matcher.find(name)).toBe(expected);
  });

  it('keeps the patterns in config order for messages', () => {
    expect(matcher.patterns).toEqual(['*', 'billing.*', 'billing.refund*', 'billing.refund']);
  });

  it('finds nothing in an empty list', () => {
    expect(createMatcher<string>([]).test('x')).toBe(false);
  });
});
