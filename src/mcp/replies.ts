// JSON-RPC bodies toolgate answers with itself: errors, and tool results that carry a denial.
import type { JsonRpcId } from './message.js';

export function jsonRpcError(id: JsonRpcId | undefined, code: number, message: string, data?: unknown): string {
  const error: Record<string, unknown> = { code, message };
  if (data !== undefined) error.data = data;
  return JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error });
}

/** Where a denial's machine-readable code also travels, for clients that must not get it as structuredContent. */
export const DENIAL_META_KEY = 'io.toolgate/denial';

/**
 * A `tools/call` result with `isError: true`: the agent reads the text and recovers instead of retrying blindly.
 * The code goes in `structuredContent` unless the tool declares an outputSchema (see catalog.ts), and in `_meta` always.
 */
export function toolErrorResult(id: JsonRpcId | undefined, text: string, structured: Record<string, unknown>, asStructuredContent = true): string {
  const result: Record<string, unknown> = { isError: true, content: [{ type: 'text', text }] };
  if (asStructuredContent) result.structuredContent = structured;
  result._meta = { [DENIAL_META_KEY]: structured };
  return JSON.stringify({ jsonrpc: '2.0', id: id ?? null, result });
}
