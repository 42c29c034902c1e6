import { describe, expect, it } from 'vitest';
import { createMatcher, matchesPattern, parsePattern, patternProblem } from '../../src/policy/match.js';

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
