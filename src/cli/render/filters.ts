// The HTTP filter chain of the MCP listener ([mcp →] ext_authz → ext_proc → router) and the fast path's per-route overrides.
import { METADATA_NAMESPACE } from '../../envoy/check.js';
import { EXCHANGE_FINISHED } from '../../core/session/handoff.js';
import { TOOLGATE_CLUSTER } from './plan.js';
import { JsonRpcCode } from '../../core/mcp/reply-table.js';
import { ABOVE, note } from './yaml.js';

export const EXT_AUTHZ = 'envoy.filters.http.ext_authz';
export const EXT_PROC = 'envoy.filters.http.ext_proc';
export const ROUTER = 'envoy.filters.http.router';
/** Envoy's native MCP filter (work in progress in 1.40): here only the fast path's header/body check. */
export const MCP_FILTER = 'envoy.filters.http.mcp';

export type BodyMode = 'NONE' | 'BUFFERED';

/** An entry of an HTTP connection manager's http_filters. */
export interface HttpFilter {
  readonly name: string;
  readonly typed_config: object;
}

/** ext_authz's deadline for one Check; the Istio extension provider uses the same. */
export const EXT_AUTHZ_TIMEOUT = '2s';

/**
 * `verify`: the config has 2026 fast-path routes, which switch the MCP filter on for themselves. Sidecar mode (request
 * body `NONE`) wraps ext_proc so that Envoy skips it for the calls ext_authz finished itself.
 */
export function mcpFilters(maxBodyBytes: number, requestBody: BodyMode, verify: boolean): object[] {
  const proc = requestBody === 'NONE' ? skippedWhenFinished(extProc(requestBody)) : extProc(requestBody);
  return [...(verify ? [mcpVerifier(maxBodyBytes)] : []), extAuthz(maxBodyBytes), proc, router()];
}

const MCP_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.mcp.v3.Mcp';
const MCP_OVERRIDE_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.mcp.v3.McpOverride';
const FILTER_CONFIG_TYPE = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

/**
 * Off everywhere but on the fast-path routes, where nothing of toolgate reads the body: there Envoy parses it and
 * refuses (400) one whose method or name disagrees with Mcp-Method/Mcp-Name (-32020), repeats a key, is not one
 * JSON-RPC request, or is not JSON at all — before ext_authz, so nothing is charged for a refused call.
 */
function mcpVerifier(maxBodyBytes: number): object {
  return note({
    name: MCP_FILTER,
    disabled: true,
    typed_config: note({
      '@type': MCP_TYPE,
      attribute_source: 'VERIFY',
      traffic_mode: 'REJECT_NO_MCP',
      reject_duplicate_keys: true,
      max_request_body_size: maxBodyBytes,
    }, {
      attribute_source: `The 2026-07-28 Mcp-Method and Mcp-Name headers must agree with the body (checked on 1.40: a\nmismatch is HTTP 400, JSON-RPC ${JsonRpcCode.headerMismatch}, and never reaches the backend).`,
      traffic_mode: 'A body the filter cannot read as one JSON-RPC request is refused, not waved through.',
      reject_duplicate_keys: 'Two readers may take different copies of a repeated key; refuse it instead.',
      max_request_body_size: 'policy.maxBodyBytes: the whole body is parsed, never a prefix (the default is 8 KiB).',
    }),
  }, { [ABOVE]: '0. The fast path\'s header/body check: Envoy\'s MCP filter, disabled here and enabled by the\nfast-path routes only (typed_per_filter_config), where neither ext_authz nor ext_proc reads the body.' });
}

export function router(): object {
  return { name: ROUTER, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };
}

function extAuthz(maxBodyBytes: number): object {
  return note({
    name: EXT_AUTHZ,
    typed_config: note({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz',
      transport_api_version: 'V3',
      grpc_service: note({ envoy_grpc: { cluster_name: TOOLGATE_CLUSTER }, timeout: EXT_AUTHZ_TIMEOUT }, { timeout: 'Covers a cold JWKS fetch; the default is 200ms.' }),
      failure_mode_allow: false,
      status_on_error: { code: 'ServiceUnavailable' },
      with_request_body: { max_request_bytes: maxBodyBytes, allow_partial_message: false, pack_as_bytes: true },
      include_peer_certificate: false,
      clear_route_cache: false,
    }, {
      failure_mode_allow: 'Fail closed: if toolgate is down or slow, nothing passes...',
      status_on_error: '...and say "unavailable", not "forbidden" (the default 403 reads as a policy decision).',
      with_request_body: 'toolgate reads the whole JSON-RPC body, as bytes; a larger body gets 413 before anyone sees it.',
    }),
  }, { [ABOVE]: '1. Identity, task and tool policy. Allowed requests carry toolgate\'s verdict (subject, task,\nmethod, target) as dynamic metadata in this filter\'s namespace. (A client\'s x-toolgate-* headers are gone\nbefore routing; ext_authz drops any again.)' });
}

/**
 * Response headers are SKIP unless toolgate asks for them: every answer toolgate gives to request headers
 * overrides the whole mode (mode_override), so this default only decides the local replies of filters before
 * ext_proc. Sending those to toolgate made an outage slower and worse: ext_authz's 503 then waited 10 s on the
 * same hung toolgate and became a 504 (docs/envoy.md, fact 20).
 */
function processingMode(requestBody: BodyMode): object {
  return {
    request_header_mode: 'SEND',
    response_header_mode: 'SKIP',
    request_body_mode: requestBody,
    response_body_mode: 'NONE',
    request_trailer_mode: 'SKIP',
    response_trailer_mode: 'SKIP',
  };
}

/** The ext_proc filter; `cluster` is toolgate's cluster name (Istio: `outbound|PORT||toolgate.NS.svc.cluster.local`). */
export function extProc(requestBody: BodyMode, cluster: string = TOOLGATE_CLUSTER): HttpFilter {
  return note({
    name: EXT_PROC,
    typed_config: note({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
      grpc_service: note({ envoy_grpc: { cluster_name: cluster }, timeout: '10s' }, {
        timeout: 'Not a deadline for the Process stream, which lives as long as the request (checked on 1.40:\na 3 s response passed with 1 s here); message_timeout bounds each answer.',
      }),
      failure_mode_allow: false,
      status_on_error: { code: 'ServiceUnavailable' },
      message_timeout: '10s',
      max_message_timeout: '30s',
      allow_mode_override: true,
      processing_mode: note(processingMode(requestBody), {
        request_body_mode: requestBody === 'BUFFERED'
          ? 'Gateway: the body names the tool and its backend. toolgate answers NONE in the headers phase\nwhen it can route from the 2026 Mcp-Name header alone.'
          : 'Sidecar: toolgate never re-routes, so the request body is not needed here (ext_authz read it).',
        response_header_mode: 'toolgate asks for the response headers per request (mode_override), where it acts on them.\nLocal replies of ext_authz (denials, its 503 when toolgate is down) and Envoy\'s own (431 for oversized headers)\nnever wait on toolgate.',
        response_body_mode: 'toolgate asks for a buffered response body only for list results (mode_override),\nnever for an SSE stream.',
      }),
      metadata_options: { forwarding_namespaces: { untyped: [METADATA_NAMESPACE] } },
    }, {
      failure_mode_allow: 'Fail closed, like ext_authz...',
      status_on_error: '...with the same 503 (default 500) when toolgate fails mid-exchange.',
      message_timeout: 'Per message. The gateway fans initialize and the list methods out to every backend inside one\nmessage; the 200ms default would answer those with 504.',
      max_message_timeout: 'Upper bound for a per-message override_message_timeout from toolgate.',
      allow_mode_override: 'toolgate buffers only what it must read, per request (mode_override in its header responses).',
      metadata_options: 'Hands ext_authz\'s verified identity and method to toolgate\'s processor: nothing is verified twice.',
    }),
  }, { [ABOVE]: '2. Session tokens, routing headers (x-toolgate-backend, x-toolgate-affinity, mcp-session-id,\nmcp-name), fan-out answers and list filtering. Only ordinary headers are mutated, so the\ndefault mutation_rules suffice.' });
}

const EXTENSION_WITH_MATCHER = 'type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher';

/**
 * Sidecar mode: `filter` (ext_proc) inside an ExtensionWithMatcher that skips it for a request whose ext_authz metadata
 * carries the finished mark (`exchange: done`): ext_authz already swapped the session id, so ext_proc would only pass
 * the call through. The filter keeps its name, so per-route ExtProcPerRoute settings still reach it (checked on 1.40,
 * docs/envoy.md fact 27). Gateway mode never uses it: ext_proc routes every call there.
 */
export function skippedWhenFinished(filter: HttpFilter): HttpFilter {
  return note({
    name: filter.name,
    typed_config: note({
      '@type': EXTENSION_WITH_MATCHER,
      xds_matcher: {
        matcher_list: {
          matchers: [{
            predicate: {
              single_predicate: {
                input: {
                  name: 'ext-authz-exchange',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.matching.common_inputs.network.v3.DynamicMetadataInput',
                    filter: METADATA_NAMESPACE,
                    path: [{ key: EXCHANGE_FINISHED.key }],
                  },
                },
                custom_match: {
                  name: 'exchange-finished',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.matching.input_matchers.metadata.v3.Metadata',
                    value: { string_match: { exact: EXCHANGE_FINISHED.value } },
                  },
                },
              },
            },
            on_match: {
              action: { name: 'skip-ext-proc', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.common.matcher.action.v3.SkipFilter' } },
            },
          }],
        },
      },
      extension_config: filter,
    }, {
      xds_matcher: `Skips ext_proc when toolgate's Check finished the call itself (the session swap of a sidecar tools/call,\nnotification or response): its dynamic metadata says ${EXCHANGE_FINISHED.key}: ${EXCHANGE_FINISHED.value}. Only ext_authz writes that\nnamespace; a client's headers can never set dynamic metadata. initialize, the list methods, DELETE and GET\nstill go through ext_proc. An ext_proc reached anyway passes a finished call through unchanged.`,
    }),
  }, { [ABOVE]: '2. ext_proc, skipped where ext_authz finished the exchange (below). Session tokens, routing headers\n(x-toolgate-backend, x-toolgate-affinity, mcp-session-id, mcp-name), fan-out answers and list filtering.\nOnly ordinary headers are mutated, so the default mutation_rules suffice.' });
}

/**
 * Per-route settings of a 2026 fast-path route: Envoy's MCP filter checks the body against the headers, and neither
 * toolgate filter buffers it. In sidecar mode ext_proc has nothing to do there (2026 has no session to swap, and
 * ext_authz refuses a request presenting one; no list to filter), so it is switched off; the gateway still needs it
 * to pick the backend from headers.
 */
export function headersOnlyOverrides(extProc: 'off' | 'headers-only', maxBodyBytes: number): object {
  const EXT_PROC_PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute';
  return {
    [MCP_FILTER]: {
      '@type': FILTER_CONFIG_TYPE,
      config: { '@type': MCP_OVERRIDE_TYPE, traffic_mode: 'REJECT_NO_MCP', reject_duplicate_keys: true, max_request_body_size: maxBodyBytes },
    },
    [EXT_AUTHZ]: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
      check_settings: { disable_request_body_buffering: true },
    },
    [EXT_PROC]: extProc === 'off'
      ? { '@type': EXT_PROC_PER_ROUTE, disabled: true }
      : { '@type': EXT_PROC_PER_ROUTE, overrides: { processing_mode: processingMode('NONE') } },
  };
}
