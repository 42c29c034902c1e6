// JSON-RPC bodies toolgate answers with itself: errors, and tool results that carry a denial.
import type { JsonRpcId } from './message.js';

export function jsonRpcError(id: JsonRpcId | undefined, code: number, message: string, data?: unknown): string {
  const error: Record<string, unknown> = { code, message };
  if (data !== undefined) error.data = data;
  return JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error });
}

/** A `tools/call` result with `isError: true`: the agent reads the text and recovers instead of retrying blindly. */
export function toolErrorResult(id: JsonRpcId | undefined, text: string, structured: Record<string, unknown>): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id: id ?? null,
    result: { isError: true, content: [{ type: 'text', text }], structuredContent: structured },
  });
}
