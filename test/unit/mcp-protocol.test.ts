// MCP-Protocol-Version is parsed against the revisions toolgate knows, never compared as a string.
import { describe, expect, it } from 'vitest';
import { isStatelessProtocol } from '../../src/core/mcp/message.js';
import { declaresStateless, KNOWN_PROTOCOL_VERSIONS, parseProtocolVersion, unsupportedVersionMessage } from '../../src/core/mcp/protocol.js';

describe('parseProtocolVersion', () => {
  it.each([
    ['2024-11-05', false],
    ['2025-03-26', false],
    ['2025-06-18', false],
    ['2025-11-25', false],
    ['2026-07-28', true],
    [' 2026-07-28 ', true],
  ])('%j is known (stateless: %s)', (header, stateless) => {
    expect(parseProtocolVersion(header)).toEqual({ kind: 'known', version: header.trim(), stateless });
    expect(isStatelessProtocol(header)).toBe(stateless);
  });

  it('an absent header is its own case (the spec\'s default revision applies)', () => {
    expect(parseProtocolVersion(undefined)).toEqual({ kind: 'absent' });
    expect(isStatelessProtocol(undefined)).toBe(false);
  });

  // Each of these sorted after '2026-07-28' as a string, so the old `version >= '2026-07-28'` called them stateless.
  it.each([
    '9999', '2026-99', '2026-07-29', '2027-01-01', 'latest', '2026-07-28x', '2025-06-18, 2026-07-28', '2026-07-28,2026-07-28',
    '', '2024-10-07', '2025-06-18x', '2026-7-28', '２０２６-07-28',
  ])('%j is unknown, and never stateless', (header) => {
    expect(parseProtocolVersion(header)).toEqual({ kind: 'unknown', given: header });
    expect(isStatelessProtocol(header)).toBe(false);
  });

  it('the refusal names every supported revision and what was sent, cut short when long', () => {
    const message = unsupportedVersionMessage('9999');
    expect(message).toContain('"9999"');
    for (const v of KNOWN_PROTOCOL_VERSIONS) expect(message).toContain(v);
    expect(unsupportedVersionMessage('x'.repeat(500)).length).toBeLessThan(300);
  });
});

describe('declaresStateless', () => {
  it.each([
    [undefined, false],
    [[], false],
    [['2025-06-18', '2025-11-25'], false],
    [['2026-07-28'], true],
    [['2025-06-18', '2026-07-28'], true],
  ])('%j → %s', (declared, expected) => {
    expect(declaresStateless(declared)).toBe(expected);
  });
});
