// The one table of everything toolgate answers itself: reason code → HTTP status, JSON-RPC code, tool-result or not.
//
// Every reply site (ext_authz, ext_proc, the event-stream server, the Envoy local replies `toolgate render` writes)
// names a reason from this table and takes its codes from here; no other file in src/ spells a JSON-RPC number
// (test/unit/reply-literals.test.ts). The README's reply table is checked against this one (readme-replies.test.ts).

/**
 * JSON-RPC error codes toolgate puts on the wire.
 *
 * The five standard JSON-RPC 2.0 codes keep their standard meaning. -32020 is the MCP 2026-07-28 `HeaderMismatch`
 * (SEP-2243), used only for that meaning. The rest are toolgate's own, from the JSON-RPC range reserved for
 * implementation-defined server errors (-32000..-32099). The MCP spec and its SDKs allocate from the bottom of that
 * range — -32000 ConnectionClosed and -32001 RequestTimeout (SDK 1.x), -32002 resource not found, -32020..-32022
 * (2026 header mismatch, missing client capability, unsupported protocol version), -32042 URL elicitation required —
 * so toolgate takes the top decade, -32080..-32089, where no SDK or spec code lives today; a client that reads
 * -32001 as "my request timed out" must never see a policy denial under it. test/unit/reply-table.test.ts reads the
 * installed SDKs' enums and fails on a collision.
 */
export const JsonRpcCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** 2026-07-28: Mcp-Method / Mcp-Name header disagrees with the body (the spec's code, in the spec's meaning). */
  headerMismatch: -32020,
  /** toolgate: the caller's credential or task does not allow this request (authentication and policy refusals). */
  policyDenied: -32080,
  /** toolgate: the client's session token cannot be opened (or a backend forgot the session); re-initialize. */
  sessionNotFound: -32081,
  /** toolgate (gateway): the session holds no session of the backend the call routes to; re-initialize. */
  backendNotInSession: -32082,
} as const;

/** Not a reply: the entries for allowed requests carry this instead of a JSON-RPC code. */
const NONE = 0;

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
  // sessions and routing (ext_proc)
  | 'session-id-missing'
  | 'session-not-found'
  | 'backend-not-in-session'
  | 'http-method-not-allowed'
  | 'target-missing'
  | 'target-unknown'
  | 'target-ambiguous'
  | 'method-not-routed'
  | 'capability-not-offered'
  | 'backend-unavailable'
  | 'reply-not-issued'
  // the event-stream server (gateway GET streams)
  | 'events-not-served'
  | 'events-grant-invalid'
  | 'events-stream-open'
  | 'last-event-id-invalid'
  // Envoy's own local replies, as `toolgate render` words them
  | 'headers-too-large'
  | 'request-timeout'
  | 'no-route'
  /** Envoy got no answer from toolgate: unreachable, failed mid-request, or its connection dropped (overload). */
  | 'toolgate-unavailable'
  /** Envoy waited `message_timeout` for one of toolgate's ext_proc answers. */
  | 'toolgate-timeout'
  // toolgate's own pipeline
  /** ext_proc was handed ext_authz metadata that toolgate's Check did not sign for this request (session/handoff.ts). */
  | 'handoff-invalid'
  /** ext_proc ran without the identity ext_authz forwards (a route with ext_authz off, or a misrendered bootstrap). */
  | 'identity-not-forwarded'
  | 'internal-error';

export interface ReasonInfo {
  /** HTTP status when the reply is not rendered as a tool result (a site may answer 200 when the request has an id). */
  readonly http: number;
  /** JSON-RPC error code when the reply is rendered as a JSON-RPC error; 0 for the allows, which are no reply. */
  readonly jsonrpc: number;
  /** True when the client could succeed by retrying later unchanged. */
  readonly retryable: boolean;
  /** True when a refused `tools/call` is, by default, answered as a tool result with `isError: true`. */
  readonly toolResult: boolean;
  /** When this reply is given: one line, shown in the README's reply table. */
  readonly when: string;
}

const C = JsonRpcCode;

function r(http: number, jsonrpc: number, when: string, flags: { retryable?: boolean; toolResult?: boolean } = {}): ReasonInfo {
  return Object.freeze({ http, jsonrpc, retryable: flags.retryable ?? false, toolResult: flags.toolResult ?? false, when });
}

const TOOL = { toolResult: true };

export const REASONS: Readonly<Record<ReasonCode, ReasonInfo>> = Object.freeze({
  allowed: r(200, NONE, 'the request is allowed'),
  housekeeping: r(200, NONE, 'a method `policy.housekeeping` allows any authenticated caller (initialize, ping, notifications, lists)'),
  metadata: r(200, NONE, 'a request ext_authz passes without judging it (no audit record)'),
  'token-missing': r(401, C.policyDenied, 'no bearer token'),
  'token-invalid': r(401, C.policyDenied, 'the bearer token is invalid, expired, or fails `requireType` / `maxLifetime`'),
  'authorization-malformed': r(400, C.invalidRequest, 'the `Authorization` header is not exactly `Bearer <token>`'),
  'identity-unavailable': r(503, C.internalError, "the identity provider's key set cannot be fetched", { retryable: true }),
  'task-missing': r(403, C.policyDenied, 'the caller names no task', TOOL),
  'task-not-authorized': r(403, C.policyDenied, 'the caller may not use the task it names', TOOL),
  'tool-not-in-task': r(403, C.policyDenied, 'the tool, prompt or resource is not in the task', TOOL),
  'method-not-allowed': r(403, C.policyDenied, 'the JSON-RPC method is not in the task'),
  'condition-failed': r(403, C.policyDenied, "the call's `when` condition is false", TOOL),
  'expression-error': r(403, C.policyDenied, "the call's `when` condition cannot be evaluated", TOOL),
  'quota-exceeded': r(429, C.policyDenied, 'a quota is used up', { retryable: true, toolResult: true }),
  'budget-exceeded': r(429, C.policyDenied, 'a budget is used up', { retryable: true, toolResult: true }),
  'loop-detected': r(429, C.policyDenied, 'the same call repeats too often', TOOL),
  'store-unavailable': r(503, C.internalError, 'the shared store is unreachable and `onStoreError` denies', { retryable: true, toolResult: true }),
  'definition-changed': r(403, C.policyDenied, "the tool's or prompt's definition changed since it was approved (pins)", TOOL),
  'malformed-json': r(400, C.parseError, 'the body is not JSON'),
  'batch-not-supported': r(400, C.invalidRequest, 'the body is a JSON-RPC batch'),
  'not-jsonrpc': r(400, C.invalidRequest, 'the body is not one JSON-RPC 2.0 message'),
  'header-mismatch': r(400, C.headerMismatch, '2026 `Mcp-Method` / `Mcp-Name` disagree with the body'),
  'unsupported-protocol-version': r(400, C.invalidRequest, '`MCP-Protocol-Version` names no known revision'),
  'session-on-stateless': r(400, C.invalidRequest, 'an `Mcp-Session-Id` on a 2026-07-28 (stateless) request'),
  'missing-body': r(400, C.invalidRequest, 'a POST without a body'),
  'body-too-large': r(413, C.invalidRequest, 'the body is over `policy.maxBodyBytes`'),
  // 415: the body is sent in a way the MCP server could decode into another message than the one toolgate read.
  'unsupported-media-type': r(415, C.invalidRequest, '`Content-Type` is not `application/json`'),
  'unsupported-charset': r(415, C.invalidRequest, 'a charset other than UTF-8'),
  'content-encoding': r(415, C.invalidRequest, 'any `Content-Encoding`'),
  'body-bom': r(415, C.parseError, 'the body starts with a UTF-8 BOM'),
  'invalid-utf8': r(415, C.parseError, 'the body is not valid UTF-8'),
  // 400: valid JSON text on which JSON readers disagree, or deeper than any stage reads.
  'duplicate-key': r(400, C.parseError, 'a JSON object repeats a key'),
  'lone-surrogate': r(400, C.parseError, 'a JSON string holds a lone surrogate'),
  'unsafe-number': r(400, C.parseError, 'an integer beyond ±(2^53−1) or an overflowing number'),
  'too-deep': r(400, C.parseError, 'JSON nested deeper than 64'),
  'name-not-canonical': r(400, C.invalidParams, 'a tool or prompt name not NFC, with control or invisible characters, or edge white space'),
  'uri-not-canonical': r(400, C.invalidParams, 'a resource URI not in WHATWG normal form'),
  'uri-invalid': r(400, C.invalidParams, 'a resource URI that does not parse'),
  // A tasks/* request whose taskId the gateway did not issue to this session (MCP: an invalid taskId is -32602).
  'task-id-not-issued': r(200, C.invalidParams, 'a `tasks/*` task id the gateway did not issue to this session (gateway)'),
  'host-not-allowed': r(403, C.invalidRequest, '`Host` not in `http.allowedHosts` (DNS rebinding)'),
  'origin-not-allowed': r(403, C.invalidRequest, '`Origin` not in `http.allowedOrigins` (DNS rebinding)'),
  'session-id-missing': r(400, C.invalidRequest, 'a request that needs a session (call, DELETE, GET stream, reply) without `Mcp-Session-Id` (gateway)'),
  'session-not-found': r(404, C.sessionNotFound, 'the session token is malformed, expired, revoked or another subject\'s, or the backend forgot the session'),
  'backend-not-in-session': r(404, C.backendNotInSession, 'the call routes to a backend that failed to initialize in this session (gateway)'),
  'http-method-not-allowed': r(405, C.methodNotFound, 'an HTTP method the endpoint does not take, or a GET stream no backend offers (gateway)'),
  'target-missing': r(200, C.invalidParams, 'a call that needs a name or URI has none (gateway)'),
  'target-unknown': r(200, C.invalidParams, 'a name or URI no backend serves: unknown prefix or not listed (gateway)'),
  'target-ambiguous': r(200, C.invalidParams, 'a resource URI matched by templates of several backends (gateway)'),
  'method-not-routed': r(200, C.methodNotFound, 'a method the gateway does not route across several backends'),
  'capability-not-offered': r(200, C.methodNotFound, 'no backend of the session offers the capability (logging, task lists, discovery) (gateway)'),
  'backend-unavailable': r(502, C.internalError, 'no backend could be reached or answered (gateway fan-out, task relay, GET streams)', { retryable: true }),
  'reply-not-issued': r(400, C.invalidRequest, 'a reply to a server request whose id the gateway did not issue to this session (gateway)'),
  'events-not-served': r(404, C.methodNotFound, "the event-stream server was asked in sidecar mode"),
  'events-grant-invalid': r(403, C.invalidRequest, "a GET straight to the events port, without the grant toolgate's ext_proc mints"),
  'events-stream-open': r(409, C.invalidRequest, 'the session already has an open GET event stream'),
  'last-event-id-invalid': r(400, C.invalidRequest, '`Last-Event-ID` names no backend of the session'),
  'headers-too-large': r(431, C.invalidRequest, 'request headers over the cap (Envoy)'),
  'request-timeout': r(408, C.invalidRequest, 'request headers or body too slow to arrive (Envoy)'),
  'no-route': r(500, C.internalError, 'toolgate named a backend the Envoy bootstrap has no route for (Envoy)'),
  'toolgate-unavailable': r(503, C.internalError, "toolgate could not be reached, failed mid-request, or dropped Envoy's connection (Envoy, `status_on_error`)", { retryable: true }),
  'toolgate-timeout': r(504, C.internalError, 'toolgate did not answer an ext_proc message within `message_timeout` (Envoy)', { retryable: true }),
  'handoff-invalid': r(403, C.internalError, "ext_proc got identity metadata toolgate's own Check did not sign for this request"),
  'identity-not-forwarded': r(403, C.internalError, 'ext_proc got no identity from ext_authz'),
  'internal-error': r(500, C.internalError, 'toolgate failed while handling the request', { retryable: true }),
});

/** Reasons that deny a `tools/call` and are rendered to the agent as a tool result by default. */
export const TOOL_POLICY_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>(
  (Object.keys(REASONS) as ReasonCode[]).filter((reason) => REASONS[reason].toolResult),
);

/** The `error.data` of a reply toolgate refuses with: the stable reason code, as policy denials carry it. */
export function reasonData(reason: ReasonCode): { readonly code: ReasonCode } {
  return { code: reason };
}
