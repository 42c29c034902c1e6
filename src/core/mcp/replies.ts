// JSON-RPC bodies toolgate answers with itself: errors, and tool results that carry a denial.
import type { JsonRpcId } from './message.js';
import { REASONS, reasonData, type ReasonCode } from './reply-table.js';

export function jsonRpcError(id: JsonRpcId | undefined, code: number, message: string, data?: unknown): string {
  const error: Record<string, unknown> = { code, message };
  if (data !== undefined) error.data = data;
  return JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error });
}

/**
 * toolgate's own JSON-RPC error for a reason of the reply table: its code, the plain sentence, and the reason code in
 * `error.data.code` (where policy denials carry it too) so a client can branch on it without parsing the sentence.
 */
export function refusalBody(id: JsonRpcId | undefined, reason: ReasonCode, message: string): string {
  return jsonRpcError(id, REASONS[reason].jsonrpc, message, reasonData(reason));
}

/** Where a denial's machine-readable code also travels, for clients that must not get it as structuredContent. */
export const DENIAL_META_KEY = 'io.toolgate/denial';

/**
 * A `tools/call` result with `isError: true`: the agent reads the text and recovers instead of retrying blindly.
 * The code goes in `structuredContent` unless the tool declares an outputSchema (see catalog.ts), and in `_meta` always.
 */
export function toolErrorResult(id: JsonRpcId | undefined, text: string, structured: Record<string, unknown>, asStructuredContent = true, stateless = false): string {
  const result: Record<string, unknown> = { isError: true, content: [{ type: 'text', text }] };
  if (asStructuredContent) result.structuredContent = structured;
  result._meta = { [DENIAL_META_KEY]: structured };
  return JSON.stringify({ jsonrpc: '2.0', id: id ?? null, result: withResultType(result, stateless) });
}

/** The 2026-07-28 `resultType` of every result toolgate answers itself: it never asks the client for more input. */
export const COMPLETE_RESULT = 'complete';

/**
 * A result as the request's revision shapes it: 2026-07-28 results must name their `resultType` (a 2.x client refuses
 * one without it); earlier revisions have no such field, so theirs stay byte-for-byte what they were.
 */
export function withResultType<T extends object>(result: T, stateless: boolean): T {
  return stateless ? { ...result, resultType: COMPLETE_RESULT } : result;
}

/**
 * A list or discovery result toolgate composed for one caller, on 2026-07-28: `resultType` and the cache hints that
 * revision requires of cacheable results. Filtered by the caller's task, it is `private`; `ttlMs: 0` because a policy
 * reload or a backend's change may alter it at any time and the gateway keeps no change feed.
 */
export function withCacheHints<T extends object>(result: T, stateless: boolean): T {
  return stateless ? { ...result, ttlMs: 0, cacheScope: 'private', resultType: COMPLETE_RESULT } : result;
}
