// The reply table (src/core/mcp/reply-table.ts): toolgate's own JSON-RPC codes collide with none the MCP SDKs define,
// the standard ones mean what the SDKs say they mean, and every reason of a kind carries one consistent shape.
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { ProtocolErrorCode as ServerProtocolErrorCode } from '@modelcontextprotocol/server';
import { ProtocolErrorCode as ClientProtocolErrorCode } from '@modelcontextprotocol/client';
import { JsonRpcCode, REASONS, TOOL_POLICY_REASONS, type ReasonCode } from '../../src/core/mcp/reply-table.js';

/** Numeric members of a TypeScript enum object as it exists at run time (numeric enums map both ways). */
function numericValues(enumObject: object): Map<number, string> {
  const out = new Map<number, string>();
  for (const [name, value] of Object.entries(enumObject)) if (typeof value === 'number') out.set(value, name);
  return out;
}

/** Every code the installed SDKs define, read from their enums now, so a new SDK code shows up as a collision. */
const SDK_CODES = new Map<number, string>([
  ...[...numericValues(ErrorCode)].map(([v, n]) => [v, `sdk 1.x ErrorCode.${n}`] as const),
  ...[...numericValues(ServerProtocolErrorCode)].map(([v, n]) => [v, `@modelcontextprotocol/server ProtocolErrorCode.${n}`] as const),
  ...[...numericValues(ClientProtocolErrorCode)].map(([v, n]) => [v, `@modelcontextprotocol/client ProtocolErrorCode.${n}`] as const),
]);

/** JSON-RPC 2.0's own codes, which toolgate uses in their standard meaning (and which the SDKs define the same way). */
const STANDARD = new Set<number>([JsonRpcCode.parseError, JsonRpcCode.invalidRequest, JsonRpcCode.methodNotFound, JsonRpcCode.invalidParams, JsonRpcCode.internalError]);
/** The MCP spec's HeaderMismatch, used only in the spec's meaning (no SDK enum names it). */
const SPEC = new Set<number>([JsonRpcCode.headerMismatch]);

const replies = (Object.keys(REASONS) as ReasonCode[]).filter((r) => REASONS[r].jsonrpc !== 0);
const serverDefined = Object.entries(JsonRpcCode).filter(([, code]) => !STANDARD.has(code) && !SPEC.has(code));

describe('reply table: JSON-RPC codes', () => {
  it('the SDKs were read: their enums hold the standard codes and their own (-32000, -32001, -32042, …)', () => {
    for (const code of STANDARD) expect(SDK_CODES.has(code)).toBe(true);
    expect(SDK_CODES.get(-32001)).toMatch(/RequestTimeout/);
    expect(SDK_CODES.size).toBeGreaterThan(STANDARD.size + 2);
  });

  it.each(serverDefined)('toolgate code %s (%d) is no code any installed MCP SDK defines', (_name, code) => {
    expect(SDK_CODES.get(code)).toBeUndefined();
    // JSON-RPC 2.0 reserves -32000..-32099 for implementation-defined server errors.
    expect(code).toBeGreaterThanOrEqual(-32099);
    expect(code).toBeLessThanOrEqual(-32000);
  });

  it.each(replies)('%s answers with a standard code, the spec HeaderMismatch, or one of toolgate\'s own', (reason) => {
    const code = REASONS[reason].jsonrpc;
    expect(Object.values(JsonRpcCode)).toContain(code);
    if (!STANDARD.has(code) && !SPEC.has(code)) expect(SDK_CODES.get(code)).toBeUndefined();
  });

  it('the standard codes are the SDK\'s values under the same names', () => {
    expect(JsonRpcCode.parseError).toBe(ErrorCode.ParseError);
    expect(JsonRpcCode.invalidRequest).toBe(ErrorCode.InvalidRequest);
    expect(JsonRpcCode.methodNotFound).toBe(ErrorCode.MethodNotFound);
    expect(JsonRpcCode.invalidParams).toBe(ErrorCode.InvalidParams);
    expect(JsonRpcCode.internalError).toBe(ErrorCode.InternalError);
  });

  it('a policy denial, an unknown session and a backend missing from the session are three different codes', () => {
    const codes = new Set([REASONS['tool-not-in-task'].jsonrpc, REASONS['session-not-found'].jsonrpc, REASONS['backend-not-in-session'].jsonrpc]);
    expect(codes.size).toBe(3);
  });
});

describe('reply table: shapes', () => {
  it('tool-result denials are exactly the policy refusals of a call', () => {
    expect([...TOOL_POLICY_REASONS].sort()).toEqual([
      'budget-exceeded', 'condition-failed', 'definition-changed', 'expression-error', 'loop-detected', 'quota-exceeded',
      'store-unavailable', 'task-missing', 'task-not-authorized', 'tool-not-in-task',
    ]);
  });

  it.each(replies)('%s has an HTTP status and a sentence for the README', (reason) => {
    const info = REASONS[reason];
    expect(info.http).toBeGreaterThanOrEqual(200);
    expect(info.http).toBeLessThan(600);
    expect(info.when.length).toBeGreaterThan(10);
    expect(info.when).not.toMatch(/\|/); // it is a Markdown table cell
  });

  it('the allows carry no code, and nothing else does without one', () => {
    const silent = (Object.keys(REASONS) as ReasonCode[]).filter((r) => REASONS[r].jsonrpc === 0).sort();
    expect(silent).toEqual(['allowed', 'housekeeping', 'metadata']);
  });
});
