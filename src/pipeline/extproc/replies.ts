// Immediate answers the router gives without reaching a backend, as Steps.
import type { JsonRpcId } from '../../core/mcp/message.js';
import { jsonRpcError } from '../../core/mcp/replies.js';
import type { Step } from './exchange.js';

const JSON_TYPE = { 'content-type': 'application/json' };

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Step {
  return { kind: 'immediate', status, headers: { ...JSON_TYPE, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) };
}

export function resultReply(id: JsonRpcId | undefined, result: unknown, headers: Record<string, string> = {}): Step {
  return jsonReply(200, { jsonrpc: '2.0', id: id ?? null, result }, headers);
}

/** JSON-RPC errors for a request go at HTTP 200 so MCP clients surface the message, not a bare status. */
export function errorReply(id: JsonRpcId | undefined, code: number, message: string, status = 200): Step {
  return jsonReply(status, jsonRpcError(id, code, message));
}

export function accepted(): Step {
  return { kind: 'immediate', status: 202, headers: {}, body: '' };
}

export function sessionNotFound(): Step {
  return errorReply(null, -32001, 'Session not found or expired. Start a new session with initialize.', 404);
}

export function identityMissing(): Step {
  return errorReply(null, -32603, 'No verified identity reached the gateway (ext_authz metadata missing); the request was not forwarded.', 403);
}
