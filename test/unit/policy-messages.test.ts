import { describe, expect, it } from 'vitest';
import { compileTemplate, conditionFailedMessage, formatValue, notListedMessage, renderTemplate } from '../../src/core/policy/messages.js';

describe('formatValue prints numbers the way a person writes them', () => {
  it.each([
    ['a JSON integer', 500, '500'],
    ['a CEL integer (BigInt)', 500n, '500'],
    ['a decimal', 12.5, '12.5'],
    ['binary noise', 0.1 + 0.2, '0.3'],
    ['a large integer', 1e21, '1000000000000000000000'],
    ['a negative decimal', -0.75, '-0.75'],
    ['a string', 'EUR', 'EUR'],
    ['a boolean', false, 'false'],
    ['null', null, 'null'],
    ['an absent value', undefined, '(not set)'],
    ['a list', ['a', 2, 3n], 'a, 2, 3'],
    ['a map', { a: 1 }, '{"a":1}'],
  ])('%s', (_name, value, expected) => {
    expect(formatValue(value)).toBe(expected);
  });

  it('truncates long agent-supplied values', () => {
    expect(formatValue('x'.repeat(1000))).toHaveLength(201);
  });
});

describe('templates', () => {
  const root = { jwt: { refund_limit: 500n, name: 'Ann' }, mcp: { arguments: { amount: 0.1 + 0.2, nested: { v: 1 } } } };
  it.each([
    ['Refunds above {{jwt.refund_limit}} need a human.', 'Refunds above 500 need a human.'],
    ['{{ mcp.arguments.amount }} EUR', '0.3 EUR'],
    ['{{mcp.arguments.nested.v}}/{{jwt.name}}', '1/Ann'],
    ['{{jwt.missing}} and {{mcp.arguments.amount.x}}', '(not set) and (not set)'],
    ['no placeholders', 'no placeholders'],
  ])('%s', (source, expected) => {
    const template = compileTemplate(source);
    if (typeof template === 'string') throw new Error(template);
    expect(renderTemplate(template, root)).toBe(expected);
  });

  it.each(['{{user.name}}', '{{jwt}}', '{{ }}', '{{jwt..x}}'])('rejects %s', (source) => {
    expect(compileTemplate(source)).toEqual(expect.stringContaining('dotted name under jwt or mcp'));
  });
});

describe('sentences', () => {
  it.each([
    ['adds the retry advice', 'Refunds above 500 need a human.', 'Refunds above 500 need a human. Do not retry this call with the same arguments.'],
    ['does not repeat advice the author wrote', 'Over the limit. Do not retry.', 'Over the limit. Do not retry.'],
  ])('a filled template %s', (_name, filled, expected) => {
    expect(conditionFailedMessage('billing.refund', 'refund-support', 'x', filled)).toBe(expected);
  });

  it('a generated sentence names the condition', () => {
    expect(conditionFailedMessage('billing.refund', 'refund-support', 'mcp.arguments.amount <= 500', undefined)).toBe(
      'The call to "billing.refund" was refused in task "refund-support" because its condition `mcp.arguments.amount <= 500` is not met for these arguments. Do not retry this call with the same arguments.',
    );
  });

  it('a tool outside one task lists what the task may call', () => {
    expect(notListedMessage('tool', 'billing.wire', [{ task: 'refund-support', allowed: ['billing.lookup_charge', 'billing.refund'] }])).toBe(
      'The tool "billing.wire" is not part of task "refund-support". The tools this task may call are: billing.lookup_charge, billing.refund. Do not retry this request; use one of those tools instead.',
    );
  });
});
