// The MCP listener's edge, before any filter runs: internal headers stripped before a route is chosen, slow and
// oversized requests bounded, and Envoy's own refusals answered as JSON-RPC errors with a sentence.
import { INTERNAL_HEADER_PREFIX } from '../../core/mcp/message.js';
import { REASONS, reasonData, type ReasonCode } from '../../core/mcp/reply-table.js';

/** All request headers must have arrived by then (HCM `request_headers_timeout`; 408). */
export const REQUEST_HEADERS_TIMEOUT = '10s';
/**
 * The whole request (headers and body) must have arrived by then (HCM `request_timeout`; 408). Envoy disarms it once
 * the request is sent upstream or a response starts, so long tool calls and SSE streams are not cut (checked on 1.40:
 * an 8 s SSE response passed a 4 s request_timeout). It must exceed what toolgate may take before the request goes on:
 * ext_authz's 2 s plus two ext_proc messages of up to 10 s each.
 */
export const REQUEST_TIMEOUT = '60s';
/** Request headers beyond this many KiB, in all, get 431 (Envoy's default is 60; tokens and session ids fit easily). */
export const MAX_REQUEST_HEADERS_KB = 32;
/** `Retry-After` on Envoy's replies when toolgate did not answer: a dropped connection is redialled at once. */
export const TOOLGATE_RETRY_AFTER_SECONDS = 1;

/** HCM fields of the MCP listener (standalone bootstrap and Istio patch alike). */
export function edgeSettings(): Record<string, unknown> {
  return {
    request_headers_timeout: REQUEST_HEADERS_TIMEOUT,
    request_timeout: REQUEST_TIMEOUT,
    max_request_headers_kb: MAX_REQUEST_HEADERS_KB,
    early_header_mutation_extensions: [stripInternalHeaders()],
  };
}

/**
 * Runs before route selection: a client's x-toolgate-* header can never pick a route, a backend or a replica.
 * (ext_authz also drops them, but only after the route was chosen.) Header names are matched case-insensitively.
 */
function stripInternalHeaders(): object {
  return {
    name: 'envoy.http.early_header_mutation.header_mutation',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation',
      mutations: [{ remove_on_match: { key_matcher: { prefix: INTERNAL_HEADER_PREFIX } } }],
    },
  };
}

/**
 * Envoy's local replies that would otherwise be plain text or empty: slow or oversized requests, the MCP filter's
 * refusals, and the failures of ext_authz and ext_proc to get an answer from toolgate (an empty 503 or 504 before).
 * Each names a reason of the reply table, so Envoy's refusal reads as toolgate's would for the same input.
 */
export function localReplies(maxBodyBytes: number): object {
  const reply = (reason: ReasonCode, message: string) => ({ json_format: { jsonrpc: '2.0', id: null, error: { code: REASONS[reason].jsonrpc, message, data: reasonData(reason) } } });
  const onStatus = (status: number) => ({ status_code_filter: { comparison: { op: 'EQ', value: { default_value: status, runtime_key: `toolgate.local_reply.${status}` } } } });
  const onDetails = (expression: string) => ({
    extension_filter: {
      name: 'envoy.access_loggers.extension_filters.cel',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.access_loggers.filters.cel.v3.ExpressionFilter', expression },
    },
  });
  const retryAfter = [{ header: { key: 'retry-after', value: String(TOOLGATE_RETRY_AFTER_SECONDS) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }];
  const stopped = 'so it was not completed (a tool call is stopped before it reaches its server). Retry in a few seconds.';
  return {
    mappers: [
      // Response code details seen on Envoy 1.40 (docs/envoy.md, fact 26): ext_authz's status_on_error reply is
      // `ext_authz_error` (flag UAEX); ext_proc's is `ext_proc_error_gRPC_error_<status>{<message>}`, and its message
      // timeout `ext_proc_error_per-message_timeout_exceeded` (504, which status_on_error does not change).
      {
        filter: onDetails("response.code_details == 'ext_authz_error'"),
        headers_to_add: retryAfter,
        body_format_override: reply('toolgate-unavailable', 'The gateway could not check this request: its policy service (toolgate) did not answer. Nothing was forwarded. Retry in a few seconds.'),
      },
      {
        filter: onDetails("response.code_details.startsWith('ext_proc_error_gRPC_error')"),
        headers_to_add: retryAfter,
        body_format_override: reply('toolgate-unavailable', `The gateway's policy service (toolgate) failed or could not be reached while handling this request, ${stopped}`),
      },
      {
        filter: onDetails("response.code_details == 'ext_proc_error_per-message_timeout_exceeded'"),
        headers_to_add: retryAfter,
        body_format_override: reply('toolgate-timeout', `The gateway's policy service (toolgate) did not answer in time, ${stopped}`),
      },
      {
        filter: onStatus(431),
        body_format_override: reply('headers-too-large', `The request headers are too large: at most ${MAX_REQUEST_HEADERS_KB} KiB and 100 headers in all. Send a shorter token or fewer headers.`),
      },
      {
        filter: onStatus(408),
        body_format_override: reply('request-timeout', `The request did not arrive in time: its headers must arrive within ${REQUEST_HEADERS_TIMEOUT} and all of it within ${REQUEST_TIMEOUT}.`),
      },
      {
        filter: onDetails("response.code_details == 'mcp_duplicate_keys'"),
        body_format_override: reply('duplicate-key', 'The JSON body repeats a key. Send each key once: a repeated key can be read one way by the gateway and another by the server.'),
      },
      {
        filter: onDetails("response.code_details == 'mcp_parse_error'"),
        body_format_override: reply('malformed-json', `The body is not one complete JSON value of at most ${maxBodyBytes} bytes.`),
      },
      {
        filter: onDetails("response.code_details == 'mcp_reject_no_mcp'"),
        body_format_override: reply('not-jsonrpc', 'A 2026-07-28 tools/call must be a POST with Content-Type: application/json and one JSON-RPC request as its body.'),
      },
      {
        // The filter answers a header/body mismatch (HeaderMismatch) in JSON already, under the same details: only its plain-text
        // replies (no content-type yet) are rewritten.
        filter: onDetails("response.code_details == 'mcp_not_jsonrpc' && !('content-type' in response.headers)"),
        body_format_override: reply('not-jsonrpc', 'The body is not one JSON-RPC 2.0 request (a batch, a response or another shape). Send exactly one request.'),
      },
    ],
  };
}
