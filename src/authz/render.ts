// Turns identity failures, invalid messages and policy denials into the HTTP answer the client sees.
import { bearerChallenge, type ResourceMetadata } from '../identity/metadata.js';
import type { McpInvalid, McpMessage } from '../mcp/message.js';
import { hasOutputSchema } from '../mcp/catalog.js';
import { jsonRpcError, toolErrorResult } from '../mcp/replies.js';
import type { Deny } from '../policy/decision.js';
import { REASONS, TOOL_POLICY_REASONS } from '../policy/reasons.js';
import type { HttpReply } from './outcome.js';

const JSON_TYPE = { 'content-type': 'application/json' };

export function metadataReply(metadata: ResourceMetadata): HttpReply {
  return { status: 200, headers: { ...JSON_TYPE, 'cache-control': 'public, max-age=300' }, body: metadata.document };
}

export function unauthenticatedReply(metadata: ResourceMetadata, reason: 'token-missing' | 'token-invalid', detail: string): HttpReply {
  const challenge = reason === 'token-missing'
    ? bearerChallenge(metadata.url)
    : bearerChallenge(metadata.url, { code: 'invalid_token', description: detail });
  const text = reason === 'token-missing'
    ? 'Authentication required: send an OAuth bearer token for this resource.'
    : `The bearer token was rejected (${detail}). Obtain a new token for this resource.`;
  return {
    status: 401,
    headers: { ...JSON_TYPE, 'www-authenticate': challenge },
    body: jsonRpcError(null, REASONS[reason].jsonrpc, text),
  };
}

export function invalidReply(message: McpInvalid): HttpReply {
  return { status: REASONS[message.reason].http, headers: JSON_TYPE, body: jsonRpcError(message.id, message.code, message.message) };
}

/**
 * A tools/call denial is a tool result by default, so the agent reads a sentence rather than a status code.
 * Other requests get a JSON-RPC error at HTTP 200 (the SDK surfaces its message); notifications have no id to
 * answer, so they get the reason's HTTP status.
 */
export function denyReply(message: McpMessage, deny: Deny, mode: 'result' | 'jsonrpc-error' | 'http-403', decisionId: string): HttpReply {
  const info = REASONS[deny.reason];
  const structured = { code: deny.reason, policy: deny.policy ?? null, decisionId };
  const headers = { ...JSON_TYPE, 'x-toolgate-decision-id': decisionId };
  const call = message.type === 'call' ? message : undefined;
  const answerable = call !== undefined && call.kind === 'request' && call.id !== undefined;
  if (!answerable || mode === 'http-403') {
    return { status: mode === 'http-403' ? 403 : info.http, headers, body: jsonRpcError(call?.id, info.jsonrpc, deny.message, structured) };
  }
  if (mode === 'result' && call.method === 'tools/call' && TOOL_POLICY_REASONS.has(deny.reason)) {
    return { status: 200, headers, body: toolErrorResult(call.id, deny.message, structured, !hasOutputSchema(call.target)) };
  }
  return { status: 200, headers, body: jsonRpcError(call.id, info.jsonrpc, deny.message, structured) };
}
