// One table from a decision's reason code to its HTTP status, JSON-RPC code and metric label.
import { JsonRpcCode } from '../mcp/message.js';

export type ReasonCode =
  // allows
  | 'allowed'
  | 'housekeeping'
  | 'metadata'
  // identity
  | 'token-missing'
  | 'token-invalid'
  | 'authorization-malformed'
  | 'identity-unavailable'
  // task / tool / transaction
  | 'task-missing'
  | 'task-not-authorized'
  | 'tool-not-in-task'
  | 'method-not-allowed'
  | 'condition-failed'
  | 'expression-error'
  | 'quota-exceeded'
  | 'budget-exceeded'
  | 'loop-detected'
  | 'store-unavailable'
  /** Pins (src/core/pins): the tool's or prompt's definition changed since it was approved. */
  | 'definition-changed'
  // request shape
  | 'malformed-json'
  | 'batch-not-supported'
  | 'not-jsonrpc'
  | 'header-mismatch'
  | 'unsupported-protocol-version'
  | 'session-on-stateless'
  | 'missing-body'
  | 'body-too-large'
  // one reading of the body (issue 9): how the bytes are sent, then what the JSON holds
  | 'unsupported-media-type'
  | 'unsupported-charset'
  | 'content-encoding'
  | 'body-bom'
  | 'invalid-utf8'
  | 'duplicate-key'
  | 'lone-surrogate'
  | 'unsafe-number'
  | 'too-deep'
  // target reading: a name or URI whose text is not what the server will look up
  | 'name-not-canonical'
  | 'uri-not-canonical'
  | 'uri-invalid'
  | 'task-id-not-issued'
  // DNS rebinding (src/pipeline/authz/host-origin.ts)
  | 'host-not-allowed'
  | 'origin-not-allowed'
  // toolgate's own pipeline
  /** ext_proc was handed ext_authz metadata that toolgate's Check did not sign for this request (session/handoff.ts). */
  | 'handoff-invalid'
  | 'internal-error';

export interface ReasonInfo {
  /** HTTP status when the denial is not rendered as a JSON-RPC tool result. */
  readonly http: number;
  /** JSON-RPC error code when the denial is rendered as a JSON-RPC error. */
  readonly jsonrpc: number;
  /** True when the client could succeed by retrying later unchanged. */
  readonly retryable: boolean;
}

const POLICY_ERROR = -32001;

export const REASONS: Readonly<Record<ReasonCode, ReasonInfo>> = Object.freeze({
  allowed: { http: 200, jsonrpc: 0, retryable: false },
  housekeeping: { http: 200, jsonrpc: 0, retryable: false },
  metadata: { http: 200, jsonrpc: 0, retryable: false },
  'token-missing': { http: 401, jsonrpc: POLICY_ERROR, retryable: false },
  'token-invalid': { http: 401, jsonrpc: POLICY_ERROR, retryable: false },
  'authorization-malformed': { http: 400, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'identity-unavailable': { http: 503, jsonrpc: JsonRpcCode.internalError, retryable: true },
  'task-missing': { http: 403, jsonrpc: POLICY_ERROR, retryable: false },
  'task-not-authorized': { http: 403, jsonrpc: POLICY_ERROR, retryable: false },
  'tool-not-in-task': { http: 403, jsonrpc: POLICY_ERROR, retryable: false },
  'method-not-allowed': { http: 403, jsonrpc: POLICY_ERROR, retryable: false },
  'condition-failed': { http: 403, jsonrpc: POLICY_ERROR, retryable: false },
  'expression-error': { http: 403, jsonrpc: POLICY_ERROR, retryable: false },
  'quota-exceeded': { http: 429, jsonrpc: POLICY_ERROR, retryable: true },
  'budget-exceeded': { http: 429, jsonrpc: POLICY_ERROR, retryable: true },
  'loop-detected': { http: 429, jsonrpc: POLICY_ERROR, retryable: false },
  'store-unavailable': { http: 503, jsonrpc: JsonRpcCode.internalError, retryable: true },
  'definition-changed': { http: 403, jsonrpc: POLICY_ERROR, retryable: false },
  'malformed-json': { http: 400, jsonrpc: JsonRpcCode.parseError, retryable: false },
  'batch-not-supported': { http: 400, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'not-jsonrpc': { http: 400, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'header-mismatch': { http: 400, jsonrpc: JsonRpcCode.headerMismatch, retryable: false },
  'unsupported-protocol-version': { http: 400, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'session-on-stateless': { http: 400, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'missing-body': { http: 400, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'body-too-large': { http: 413, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  // 415: the body is sent in a way the MCP server could decode into another message than the one toolgate read.
  'unsupported-media-type': { http: 415, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'unsupported-charset': { http: 415, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'content-encoding': { http: 415, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'body-bom': { http: 415, jsonrpc: JsonRpcCode.parseError, retryable: false },
  'invalid-utf8': { http: 415, jsonrpc: JsonRpcCode.parseError, retryable: false },
  // 400: valid JSON text on which JSON readers disagree, or deeper than any stage reads.
  'duplicate-key': { http: 400, jsonrpc: JsonRpcCode.parseError, retryable: false },
  'lone-surrogate': { http: 400, jsonrpc: JsonRpcCode.parseError, retryable: false },
  'unsafe-number': { http: 400, jsonrpc: JsonRpcCode.parseError, retryable: false },
  'too-deep': { http: 400, jsonrpc: JsonRpcCode.parseError, retryable: false },
  'name-not-canonical': { http: 400, jsonrpc: JsonRpcCode.invalidParams, retryable: false },
  'uri-not-canonical': { http: 400, jsonrpc: JsonRpcCode.invalidParams, retryable: false },
  'uri-invalid': { http: 400, jsonrpc: JsonRpcCode.invalidParams, retryable: false },
  // A tasks/* request whose taskId the gateway did not issue to this session (MCP: an invalid taskId is -32602).
  'task-id-not-issued': { http: 200, jsonrpc: JsonRpcCode.invalidParams, retryable: false },
  'host-not-allowed': { http: 403, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'origin-not-allowed': { http: 403, jsonrpc: JsonRpcCode.invalidRequest, retryable: false },
  'handoff-invalid': { http: 403, jsonrpc: JsonRpcCode.internalError, retryable: false },
  'internal-error': { http: 500, jsonrpc: JsonRpcCode.internalError, retryable: true },
});

/** Reasons that deny a `tools/call` and are rendered to the agent as a tool result by default. */
export const TOOL_POLICY_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>([
  'task-missing',
  'task-not-authorized',
  'tool-not-in-task',
  'condition-failed',
  'expression-error',
  'quota-exceeded',
  'budget-exceeded',
  'loop-detected',
  'store-unavailable',
  'definition-changed',
]);
