// Routes of the MCP listener (sidecar or gateway) and of the gateway's loopback egress listener.
import { BACKEND_HEADER } from '../../pipeline/fanout/egress.js';
import { JsonRpcCode, REASONS, reasonData } from '../../core/mcp/reply-table.js';
import { MCP_METHOD_HEADER, MCP_NAME_HEADER, MCP_PROTOCOL_HEADER, MCP_SESSION_HEADER, STATELESS_PROTOCOL } from '../../core/mcp/message.js';
import { AFFINITY_HEADER } from '../../pipeline/extproc/gateway-context.js';
import { eventsRoute } from './events.js';
import { headersOnlyOverrides } from './filters.js';
import type { BackendPlan, EnvoyPlan, FastTool } from './plan.js';
import { ABOVE, note } from './yaml.js';

const IDLE_TIMEOUT = '300s';

/**
 * toolgate answers every request it cannot route with its own 4xx, so only a bootstrap rendered from another config
 * than the one toolgate runs (a backend Envoy has no route for) ends here.
 */
export const NO_BACKEND_STATUS = REASONS['no-route'].http;
export const NO_BACKEND_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: null,
  error: {
    code: REASONS['no-route'].jsonrpc,
    message: 'toolgate named no backend this Envoy has a route for, so the request was not forwarded. The Envoy bootstrap '
      + 'and toolgate\'s config disagree: render the bootstrap from the config toolgate runs with.',
    data: reasonData('no-route'),
  },
});

type Header = { name: string; string_match: { exact: string } };

const exact = (name: string, value: string): Header => ({ name, string_match: { exact: value } });

export function mcpRoutes(plan: EnvoyPlan): object[] {
  return plan.mode === 'gateway' ? gatewayRoutes(plan) : sidecarRoutes(plan);
}

function sidecarRoutes(plan: EnvoyPlan): object[] {
  const backend = plan.backends[0];
  if (!backend) throw new Error('sidecar plan without a backend');
  const fast = plan.fastTools.map((t) => ({
    name: `fast-path:${t.tool}`,
    match: { prefix: '/', headers: fastHeaders(t.tool) },
    route: sidecarAction(backend),
    ...WITHOUT_SESSIONS,
    typed_per_filter_config: headersOnlyOverrides('off', plan.maxBodyBytes),
  }));
  if (fast[0]) note(fast[0], { [ABOVE]: FAST_PATH_NOTE });
  return [...fast, { name: backend.name, match: { prefix: '/' }, route: sidecarAction(backend) }];
}

/**
 * Failures where the backend never saw the request, so even a tool call may be sent again: no connection, a refused
 * HTTP/2 stream, or a pooled keep-alive connection the backend closed just as Envoy wrote to it (Node's HTTP server
 * closes idle connections after 5 s; Envoy keeps them 60 s). The last one failed a few calls per 4000 with 503 UC.
 */
const UNSENT_FAILURES = 'connect-failure,refused-stream,reset-before-request';

function sidecarAction(backend: BackendPlan): object {
  return note({
    cluster: backend.cluster,
    timeout: '0s',
    idle_timeout: IDLE_TIMEOUT,
    retry_policy: { retry_on: UNSENT_FAILURES, num_retries: 2 },
    ...rewrite(backend),
  }, {
    timeout: '0s: no overall deadline, or long tool calls and SSE streams would be cut mid-response.',
    retry_policy: 'Only failures where the backend never saw the request (tool calls are not idempotent), such as a\nkeep-alive connection the backend closed just as Envoy reused it.',
  });
}

function gatewayRoutes(plan: EnvoyPlan): object[] {
  const byName = new Map(plan.backends.map((b) => [b.name, b]));
  const routed = plan.fastTools.flatMap((t) => t.backends.map((name) => {
    const backend = byName.get(name);
    if (!backend) throw new Error(`fast path names unknown backend ${name}`);
    return fastRoute(t, [...fastHeaders(t.tool), exact(BACKEND_HEADER, name)], gatewayAction(backend, true), plan.maxBodyBytes);
  }));
  // Matched while the filters pick their per-route settings, before toolgate has set x-toolgate-backend; once it
  // has (and cleared the route cache), the routes above match instead.
  const unrouted = plan.fastTools.map((t) => fastRoute(t, fastHeaders(t.tool), undefined, plan.maxBodyBytes));
  const perBackend = backendRoutes(plan, true);
  if (routed[0]) note(routed[0], { [ABOVE]: FAST_PATH_NOTE });
  if (unrouted[0]) note(unrouted[0], { [ABOVE]: 'The same fast path before toolgate has chosen the backend: these carry the per-filter settings,\nwhich the filters pick before x-toolgate-backend exists. If one is still matched at the router,\ntoolgate selected no backend: 500.' });
  if (perBackend[0]) note(perBackend[0], { [ABOVE]: 'x-toolgate-backend is set by toolgate\'s processor only: a client\'s copy was removed before any route\nwas chosen (early_header_mutation_extensions).' });
  const fallback = note({ name: 'no-backend', match: { prefix: '/' }, ...noBackend() }, {
    [ABOVE]: 'toolgate answers or routes every gateway request (what it cannot route gets its own 4xx); only a\nbootstrap rendered from another config than toolgate\'s ends here.',
  });
  const all = [...routed, ...perBackend, ...unrouted, ...(plan.events ? [eventsRoute()] : []), fallback];
  note(((routed[0] ?? perBackend[0]) as { route: object }).route, ACTION_NOTES);
  return all;
}

/** One route per backend on x-toolgate-backend; the main listener also rewrites the path, egress gets it from toolgate. */
function backendRoutes(plan: EnvoyPlan, withRewrite: boolean): Array<{ name: string; route: object }> {
  return plan.backends.map((b) => ({ name: b.name, match: { prefix: '/', headers: [exact(BACKEND_HEADER, b.name)] }, route: gatewayAction(b, withRewrite) }));
}

function fastRoute(t: FastTool, headers: Header[], action: object | undefined, maxBodyBytes: number): object {
  return {
    name: action ? `fast-path:${t.tool}:${(headers.at(-1) as Header).string_match.exact}` : `fast-path:${t.tool}:unrouted`,
    match: { prefix: '/', headers },
    ...(action ? { route: action } : noBackend()),
    ...WITHOUT_SESSIONS,
    typed_per_filter_config: headersOnlyOverrides('headers-only', maxBodyBytes),
  };
}

/** 2026-07-28 has no sessions: none goes to the backend, and none of the backend's comes back (ext_authz refuses a presented one). */
const WITHOUT_SESSIONS = { request_headers_to_remove: [MCP_SESSION_HEADER], response_headers_to_remove: [MCP_SESSION_HEADER] };

const FAST_PATH_NOTE = `2026 fast path, only for backends declared 2026-capable: the policy for these tools reads no arguments,\nso neither ext_authz nor ext_proc buffers the body (Mcp-Method and Mcp-Name carry all toolgate needs).\nEnvoy's MCP filter checks that the body agrees with those headers (400, ${JsonRpcCode.headerMismatch} if not), and no\nsession id passes either way.`;

function fastHeaders(tool: string): Header[] {
  return [exact(MCP_PROTOCOL_HEADER, STATELESS_PROTOCOL), exact(MCP_METHOD_HEADER, 'tools/call'), exact(MCP_NAME_HEADER, tool)];
}

const ACTION_NOTES = {
  hash_policy: 'Session stickiness: one client session, one replica per backend.',
  retry_policy: 'Only failures where the backend never saw the request: tool calls are not idempotent.',
};

function gatewayAction(backend: BackendPlan, withRewrite: boolean): object {
  return {
    cluster: backend.cluster,
    timeout: '0s',
    idle_timeout: IDLE_TIMEOUT,
    hash_policy: [{ header: { header_name: AFFINITY_HEADER } }],
    retry_policy: {
      retry_on: UNSENT_FAILURES,
      num_retries: 2,
      retry_host_predicate: [{
        name: 'envoy.retry_host_predicates.previous_hosts',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' },
      }],
      // A ring-hash retry walks on along the ring, whose next entries are often the same (dead) host again: with
      // 3 re-picks the failover e2e still saw every attempt refused now and then; 10 makes that ~1 in 1000.
      host_selection_retry_max_attempts: 10,
    },
    ...(withRewrite ? rewrite(backend) : {}),
  };
}

/** `path` replaces the client's whole path (a prefix_rewrite of "/" would prepend to it instead). */
function rewrite(backend: BackendPlan): object {
  return backend.path === undefined ? {} : { regex_rewrite: { pattern: { regex: '^/.*$' }, substitution: backend.path } };
}

function noBackend(): object {
  return {
    direct_response: { status: NO_BACKEND_STATUS, body: { inline_string: NO_BACKEND_BODY } },
    response_headers_to_add: [{ header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
  };
}

export function egressRoutes(plan: EnvoyPlan): object[] {
  return [
    ...backendRoutes(plan, false),
    { name: 'unknown-backend', match: { prefix: '/' }, direct_response: { status: 404, body: { inline_string: 'toolgate egress: no backend named by x-toolgate-backend\n' } } },
  ];
}
