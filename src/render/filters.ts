// The HTTP filter chain of the MCP listener (ext_authz → ext_proc → router) and the fast path's per-route overrides.
import { METADATA_NAMESPACE } from '../envoy/authz/check.js';
import { TOOLGATE_CLUSTER } from './plan.js';
import { ABOVE, note } from './yaml.js';

export const EXT_AUTHZ = 'envoy.filters.http.ext_authz';
export const EXT_PROC = 'envoy.filters.http.ext_proc';
export const ROUTER = 'envoy.filters.http.router';

export type BodyMode = 'NONE' | 'BUFFERED';

/** ext_authz's deadline for one Check; the Istio extension provider uses the same. */
export const EXT_AUTHZ_TIMEOUT = '2s';

export function mcpFilters(maxBodyBytes: number, requestBody: BodyMode): object[] {
  return [extAuthz(maxBodyBytes), extProc(requestBody), router()];
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
  }, { [ABOVE]: '1. Identity, task and tool policy. Allowed requests carry toolgate\'s verdict (subject, task,\nmethod, target) as dynamic metadata in this filter\'s namespace; forged x-toolgate-* headers are removed.' });
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
export function extProc(requestBody: BodyMode, cluster: string = TOOLGATE_CLUSTER): object {
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
        response_header_mode: 'toolgate asks for response headers per request (mode_override) where it acts on them;\nlocal replies of ext_authz (denials, and its 503 when toolgate is down) never wait on toolgate.',
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

/** A 2026 tools/call whose policy reads no arguments: neither filter buffers the body. */
/**
 * Per-route settings of a 2026 fast-path route. In sidecar mode ext_proc has nothing to do there (no session to
 * swap, no list to filter), so it is switched off; the gateway still needs it to pick the backend from headers.
 */
export function headersOnlyOverrides(extProc: 'off' | 'headers-only'): object {
  const EXT_PROC_PER_ROUTE = 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute';
  return {
    [EXT_AUTHZ]: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
      check_settings: { disable_request_body_buffering: true },
    },
    [EXT_PROC]: extProc === 'off'
      ? { '@type': EXT_PROC_PER_ROUTE, disabled: true }
      : { '@type': EXT_PROC_PER_ROUTE, overrides: { processing_mode: processingMode('NONE') } },
  };
}
