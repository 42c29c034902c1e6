// Immediate answers the router gives without reaching a backend, as Steps.
import type { JsonRpcId } from '../../core/mcp/message.js';
import { refusalBody } from '../../core/mcp/replies.js';
import { REASONS, type ReasonCode } from '../../core/mcp/reply-table.js';
import type { Step } from './exchange.js';
import { SESSION_NOT_FOUND_MESSAGE } from '../session/presented.js';

const JSON_TYPE = { 'content-type': 'application/json' };

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Step {
  return { kind: 'immediate', status, headers: { ...JSON_TYPE, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

export function resultReply(id: JsonRpcId | undefined, result: unknown, headers: Record<string, string> = {}): Step {
  return jsonReply(200, { jsonrpc: '2.0', id: id ?? null, result }, headers);
}

/**
 * toolgate's own refusal: the reason's JSON-RPC code, the sentence, the reason code in `error.data.code`, at the
 * reason's HTTP status unless the site answers otherwise (a request with an id often gets 200, so MCP clients surface
 * the message, not a bare status).
 */
export function errorReply(id: JsonRpcId | undefined, reason: ReasonCode, message: string, status = REASONS[reason].http, headers: Record<string, string> = {}): Step {
  return jsonReply(status, refusalBody(id, reason, message), headers);
}

export function accepted(): Step {
  return { kind: 'immediate', status: 202, headers: {}, body: '' };
}

export function sessionNotFound(): Step {
  return errorReply(null, 'session-not-found', SESSION_NOT_FOUND_MESSAGE);
}

export function identityMissing(): Step {
  return errorReply(null, 'identity-not-forwarded', 'No verified identity reached the gateway (ext_authz metadata missing); the request was not forwarded.');
}
