// Turns identity failures, invalid messages and policy denials into the HTTP answer the client sees.
import type { VerifyFailure } from '../../core/identity/jwt.js';
import { bearerChallenge, type ResourceMetadata } from '../../core/identity/metadata.js';
import type { JsonRpcId, McpInvalid, McpMessage } from '../../core/mcp/message.js';
import type { ToolCatalog } from '../../core/mcp/catalog.js';
import { jsonRpcError, refusalBody, toolErrorResult } from '../../core/mcp/replies.js';
import type { Deny } from '../../core/policy/decision.js';
import { REASONS, TOOL_POLICY_REASONS, type ReasonCode } from '../../core/mcp/reply-table.js';
import type { HttpReply } from './outcome.js';

const JSON_TYPE = { 'content-type': 'application/json' };

export function metadataReply(metadata: ResourceMetadata): HttpReply {
  return { status: 200, headers: { ...JSON_TYPE, 'cache-control': 'public, max-age=300' }, body: metadata.document };
}

/** When to try again after the identity provider could not be reached (the next request fetches the key set again). */
export const IDP_RETRY_AFTER_SECONDS = 5;

/**
 * Why there is no verified identity, as the client must hear it: 401 with the RFC 6750/9728 challenge for a missing
 * or bad token, 400 (`invalid_request`, RFC 6750 §3.1) for an Authorization header that is not one bearer token,
 * 503 with Retry-After when the key set is out of reach (nothing is wrong with the token as far as anyone knows).
 */
export function unauthenticatedReply(metadata: ResourceMetadata, failure: VerifyFailure): HttpReply {
  const reason = failure.reason;
  switch (failure.reason) {
    case 'token-missing':
      return {
        status: 401,
        headers: { ...JSON_TYPE, 'www-authenticate': bearerChallenge(metadata.url) },
        body: refusalBody(null, reason, 'Authentication required: send an OAuth bearer token for this resource.'),
      };
    case 'token-invalid':
      return {
        status: 401,
        headers: { ...JSON_TYPE, 'www-authenticate': bearerChallenge(metadata.url, { code: 'invalid_token', description: failure.detail }) },
        body: refusalBody(null, reason, `The bearer token was rejected (${failure.detail}). Obtain a new token for this resource.`),
      };
    case 'authorization-malformed':
      return {
        status: 400,
        headers: { ...JSON_TYPE, 'www-authenticate': bearerChallenge(metadata.url, { code: 'invalid_request', description: failure.detail }) },
        body: refusalBody(null, reason, failure.message),
      };
    case 'identity-unavailable':
      return {
        status: 503,
        headers: { ...JSON_TYPE, 'retry-after': String(IDP_RETRY_AFTER_SECONDS) },
        body: refusalBody(
          null,
          reason,
          `The identity provider could not be reached (${failure.detail}), so the bearer token could not be checked and the request was not forwarded. ` +
            `This is not a problem with your token: retry in ${IDP_RETRY_AFTER_SECONDS} seconds.`,
        ),
      };
  }
}

/** toolgate's own refusal at the reason's HTTP status: JSON-RPC error with the sentence and `error.data.code`. */
export function refusalReply(id: JsonRpcId | undefined, reason: ReasonCode, message: string): HttpReply {
  return { status: REASONS[reason].http, headers: JSON_TYPE, body: refusalBody(id, reason, message) };
}

export function invalidReply(message: McpInvalid): HttpReply {
  return refusalReply(message.id, message.reason, message.message);
}

/**
 * A tools/call denial is a tool result by default, so the agent reads a sentence rather than a status code.
 * Other requests get a JSON-RPC error at HTTP 200 (the SDK surfaces its message); notifications have no id to
 * answer, so they get the reason's HTTP status. `catalog`: the config's learned tools (a tool with an outputSchema gets
 * no code in structuredContent). `stateless`: the request is on 2026-07-28, whose results carry a `resultType`.
 */
export function denyReply(message: McpMessage, deny: Deny, mode: 'result' | 'jsonrpc-error' | 'http-403', decisionId: string, catalog: ToolCatalog, stateless = false): HttpReply {
  const info = REASONS[deny.reason];
  const structured = { code: deny.reason, policy: deny.policy ?? null, decisionId };
  const headers = { ...JSON_TYPE, 'x-toolgate-decision-id': decisionId };
  const call = message.type === 'call' ? message : undefined;
  const answerable = call !== undefined && call.kind === 'request' && call.id !== undefined;
  if (!answerable || mode === 'http-403') {
    return { status: mode === 'http-403' ? 403 : info.http, headers, body: jsonRpcError(call?.id, info.jsonrpc, deny.message, structured) };
  }
  if (mode === 'result' && call.method === 'tools/call' && TOOL_POLICY_REASONS.has(deny.reason)) {
    return { status: 200, headers, body: toolErrorResult(call.id, deny.message, structured, !catalog.hasOutputSchema(call.target), stateless) };
  }
  return { status: 200, headers, body: jsonRpcError(call.id, info.jsonrpc, deny.message, structured) };
}
