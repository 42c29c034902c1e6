// Classifies one HTTP request to an MCP endpoint into a plain value the policy and router can read.
import { readJson, type JsonRefusalReason } from './json-reader.js';
import { decodeHeaderValue, parseProtocolVersion } from './protocol.js';
import { REASONS } from './reply-table.js';

/** JSON-RPC error codes live in the reply table; re-exported for the readers that merge backends' codes. */
export { JsonRpcCode } from './reply-table.js';

export type JsonRpcId = string | number | null;

export interface McpCall {
  readonly type: 'call';
  /** `request` has an id and wants an answer; `notification` has none. */
  readonly kind: 'request' | 'notification';
  readonly method: string;
  readonly id: JsonRpcId | undefined;
  /** Tool or prompt name (`params.name`) or resource URI (`params.uri`) when the method has one. */
  readonly target: string | undefined;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly params: Readonly<Record<string, unknown>>;
  /** `params._meta.traceparent`, when the client sent one. */
  readonly traceparent: string | undefined;
  /** True when the method/target came from 2026 `Mcp-Method`/`Mcp-Name` headers without a body. */
  readonly fromHeadersOnly: boolean;
  /**
   * The whole JSON-RPC object as toolgate read it, so a rewrite (a gateway's tool rename) starts from this one
   * reading instead of parsing the body again. Undefined when the call was read from headers alone.
   */
  readonly json?: Readonly<Record<string, unknown>>;
}

/** A JSON-RPC response or error the client sends back to a server-initiated request (sampling, elicitation). */
export interface McpReply {
  readonly type: 'reply';
  readonly id: JsonRpcId;
  /** The whole JSON-RPC object as toolgate read it: the gateway restores the backend's id in this reading. */
  readonly json?: Readonly<Record<string, unknown>>;
}

/** A request with no JSON-RPC message: GET (SSE stream), DELETE (end session), OPTIONS. */
export interface McpBodyless {
  readonly type: 'bodyless';
  readonly httpMethod: string;
}

/** The body could not be accepted; a value, not an exception. */
/** Why a body was refused before its message was judged: how its bytes were sent (body.ts), or its JSON text. */
export type BodyRefusalReason = JsonRefusalReason | 'unsupported-media-type' | 'unsupported-charset' | 'content-encoding' | 'invalid-utf8';

export interface McpInvalid {
  readonly type: 'invalid';
  readonly reason: BodyRefusalReason | 'batch-not-supported' | 'not-jsonrpc' | 'header-mismatch' | 'missing-body';
  readonly code: number;
  readonly message: string;
  readonly id: JsonRpcId;
}

export type McpMessage = McpCall | McpReply | McpBodyless | McpInvalid;

export interface HttpFacts {
  readonly method: string;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * The body as text, undefined when it was not sent to toolgate (bodyless request or headers-only fast path).
   * Bytes from the wire go through readRequest (body.ts), which decides whether there is one text to read.
   */
  readonly body: string | undefined;
}

/** Methods whose `params.name` names the target. */
const NAME_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get']);
/** Methods whose `params.uri` names the target. */
const URI_METHODS: ReadonlySet<string> = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);

export const MCP_METHOD_HEADER = 'mcp-method';
export const MCP_NAME_HEADER = 'mcp-name';
export const MCP_PROTOCOL_HEADER = 'mcp-protocol-version';
export const MCP_SESSION_HEADER = 'mcp-session-id';

/** The list methods whose results toolgate filters by the caller's tasks (and judges against pins). */
export const LIST_METHOD_NAMES = ['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list'] as const;
export type ListMethod = (typeof LIST_METHOD_NAMES)[number];
export const LIST_METHODS: ReadonlySet<string> = new Set(LIST_METHOD_NAMES);

/** toolgate's own request headers (routing, affinity); a client copy is a forgery and is always stripped. */
export const INTERNAL_HEADER_PREFIX = 'x-toolgate-';

export function internalHeaders(headers: Readonly<Record<string, string>>): string[] {
  return Object.keys(headers).filter((h) => h.startsWith(INTERNAL_HEADER_PREFIX));
}

/** First stateless protocol revision: it carries Mcp-Method / Mcp-Name headers. */
export const STATELESS_PROTOCOL = '2026-07-28';

/** A known stateless revision; an unknown one (ext_authz refuses those) is never stateless. */
export function isStatelessProtocol(version: string | undefined): boolean {
  const parsed = parseProtocolVersion(version);
  return parsed.kind === 'known' && parsed.stateless;
}

export function classify(http: HttpFacts): McpMessage {
  const version = http.headers[MCP_PROTOCOL_HEADER];
  const stateless = isStatelessProtocol(version);
  const headerMethod = stateless ? http.headers[MCP_METHOD_HEADER] : undefined;
  const headerName = stateless ? http.headers[MCP_NAME_HEADER] : undefined;
  const hasBody = http.body !== undefined && http.body.trim().length > 0;

  if (!hasBody) {
    if (http.method === 'POST') {
      if (headerMethod !== undefined) {
        const name = headerName === undefined ? undefined : decodeHeaderValue(headerName);
        if (headerName !== undefined && name === undefined) return invalid('header-mismatch', undecodableName(headerName), null);
        return headersOnlyCall(headerMethod, name);
      }
      return invalid('missing-body', 'A POST to the MCP endpoint must carry one JSON-RPC message.', null);
    }
    return { type: 'bodyless', httpMethod: http.method };
  }

  const reading = readJson(http.body as string);
  if (!reading.ok) return invalid(reading.reason, reading.message, null);
  const parsed = reading.value;
  if (Array.isArray(parsed)) {
    return invalid(
      'batch-not-supported',
      'JSON-RPC batches are not supported by MCP (removed in 2025-06-18); send one message per request.',
      null,
    );
  }
  if (!isObject(parsed) || parsed.jsonrpc !== '2.0') {
    return invalid('not-jsonrpc', 'The body is not a JSON-RPC 2.0 message.', idOf(parsed));
  }
  const id = idOf(parsed);
  if (typeof parsed.method !== 'string') {
    if ('result' in parsed || 'error' in parsed) return { type: 'reply', id, json: parsed };
    return invalid('not-jsonrpc', 'The JSON-RPC message has no method.', id);
  }

  const call = bodyCall(parsed.method, parsed, id);
  if (stateless) {
    const mismatch = headerMismatch(call, headerMethod, headerName);
    if (mismatch) return invalid('header-mismatch', mismatch, id);
  }
  return call;
}

function bodyCall(method: string, msg: Record<string, unknown>, id: JsonRpcId): McpCall {
  const params = isObject(msg.params) ? msg.params : {};
  const args = isObject(params.arguments) ? params.arguments : {};
  const meta = isObject(params._meta) ? params._meta : {};
  return {
    type: 'call',
    kind: 'id' in msg ? 'request' : 'notification',
    method,
    id: 'id' in msg ? id : undefined,
    target: targetOf(method, params),
    arguments: args,
    params,
    traceparent: typeof meta.traceparent === 'string' ? meta.traceparent : undefined,
    fromHeadersOnly: false,
    json: msg,
  };
}

function headersOnlyCall(method: string, name: string | undefined): McpCall {
  return {
    type: 'call',
    kind: method.startsWith('notifications/') ? 'notification' : 'request',
    method,
    id: undefined,
    target: name,
    arguments: {},
    params: {},
    traceparent: undefined,
    fromHeadersOnly: true,
  };
}

function headerMismatch(call: McpCall, headerMethod: string | undefined, headerName: string | undefined): string | undefined {
  if (headerMethod === undefined) {
    return `The Mcp-Method header is required with MCP-Protocol-Version ${STATELESS_PROTOCOL} or later; the body says "${call.method}".`;
  }
  if (headerMethod !== call.method) {
    return `The Mcp-Method header says "${headerMethod}" but the body says "${call.method}"; they must agree.`;
  }
  const expectsName = NAME_METHODS.has(call.method) || URI_METHODS.has(call.method);
  // The header may carry the name in its `=?base64?…?=` form (not plain visible ASCII): compared decoded, as the spec says.
  const named = headerName === undefined ? undefined : decodeHeaderValue(headerName);
  if (expectsName && headerName !== undefined && named === undefined) return undecodableName(headerName);
  if (expectsName && named !== call.target) {
    return `The Mcp-Name header says "${headerName ?? ''}" but the body names "${call.target ?? ''}"; they must agree.`;
  }
  return undefined;
}

function undecodableName(header: string): string {
  const shown = header.length > 80 ? `${header.slice(0, 80)}…` : header;
  return `The Mcp-Name header "${shown}" wears the =?base64?…?= form but is not canonical Base64 of UTF-8 text; send the name as is, or encoded correctly.`;
}

function targetOf(method: string, params: Record<string, unknown>): string | undefined {
  if (NAME_METHODS.has(method)) return typeof params.name === 'string' ? params.name : undefined;
  if (URI_METHODS.has(method)) return typeof params.uri === 'string' ? params.uri : undefined;
  if (method === 'completion/complete' && isObject(params.ref)) {
    // The prompt or resource (template) whose argument is being completed.
    const { name, uri } = params.ref;
    return typeof name === 'string' ? name : typeof uri === 'string' ? uri : undefined;
  }
  return undefined;
}

function idOf(value: unknown): JsonRpcId {
  if (!isObject(value)) return null;
  const id = value.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/** The JSON-RPC code comes from the reply table, by reason. */
function invalid(reason: McpInvalid['reason'], message: string, id: JsonRpcId): McpInvalid {
  return { type: 'invalid', reason, code: REASONS[reason].jsonrpc, message, id };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
