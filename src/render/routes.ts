// Routes of the MCP listener (sidecar or gateway) and of the gateway's loopback egress listener.
import { BACKEND_HEADER } from '../fanout/egress.js';
import { MCP_METHOD_HEADER, MCP_NAME_HEADER, MCP_PROTOCOL_HEADER, STATELESS_PROTOCOL } from '../mcp/message.js';
import { AFFINITY_HEADER } from '../routing/gateway-context.js';
import { eventsRoute } from './events.js';
import { headersOnlyOverrides } from './filters.js';
import type { BackendPlan, EnvoyPlan, FastTool } from './plan.js';
import { ABOVE, note } from './yaml.js';

const IDLE_TIMEOUT = '300s';

const NO_BACKEND_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: null,
  error: { code: -32603, message: 'toolgate selected no backend for this request (x-toolgate-backend missing or unknown). This is a gateway bug or a misconfiguration, not something to retry.' },
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
    typed_per_filter_config: headersOnlyOverrides('off'),
  }));
  if (fast[0]) note(fast[0], { [ABOVE]: FAST_PATH_NOTE });
  return [...fast, { name: backend.name, match: { prefix: '/' }, route: sidecarAction(backend) }];
}

function sidecarAction(backend: BackendPlan): object {
  return note({ cluster: backend.cluster, timeout: '0s', idle_timeout: IDLE_TIMEOUT, ...rewrite(backend) }, {
    timeout: '0s: no overall deadline, or long tool calls and SSE streams would be cut mid-response.',
  });
}

function gatewayRoutes(plan: EnvoyPlan): object[] {
  const byName = new Map(plan.backends.map((b) => [b.name, b]));
  const routed = plan.fastTools.flatMap((t) => t.backends.map((name) => {
    const backend = byName.get(name);
    if (!backend) throw new Error(`fast path names unknown backend ${name}`);
    return fastRoute(t, [...fastHeaders(t.tool), exact(BACKEND_HEADER, name)], gatewayAction(backend, true));
  }));
  // Matched while ext_authz and ext_proc pick their per-route settings, before toolgate has set
  // x-toolgate-backend; once it has (and cleared the route cache), the routes above match instead.
  const unrouted = plan.fastTools.map((t) => fastRoute(t, fastHeaders(t.tool), undefined));
  const perBackend = backendRoutes(plan, true);
  if (routed[0]) note(routed[0], { [ABOVE]: FAST_PATH_NOTE });
  if (unrouted[0]) note(unrouted[0], { [ABOVE]: 'The same fast path before toolgate has chosen the backend: these carry the per-filter settings\nfor ext_authz and ext_proc, which pick them before x-toolgate-backend exists. If one is still\nmatched at the router, toolgate selected no backend: 502.' });
  if (perBackend[0]) note(perBackend[0], { [ABOVE]: 'x-toolgate-backend is set by toolgate\'s processor (ext_authz removed any client copy).' });
  const fallback = note({ name: 'no-backend', match: { prefix: '/' }, ...noBackend() }, {
    [ABOVE]: 'Every gateway request is answered by toolgate or routed by header: reaching this is a bug.',
  });
  const all = [...routed, ...perBackend, ...unrouted, ...(plan.events ? [eventsRoute()] : []), fallback];
  note(((routed[0] ?? perBackend[0]) as { route: object }).route, ACTION_NOTES);
  return all;
}

/** One route per backend on x-toolgate-backend; the main listener also rewrites the path, egress gets it from toolgate. */
function backendRoutes(plan: EnvoyPlan, withRewrite: boolean): Array<{ name: string; route: object }> {
  return plan.backends.map((b) => ({ name: b.name, match: { prefix: '/', headers: [exact(BACKEND_HEADER, b.name)] }, route: gatewayAction(b, withRewrite) }));
}

function fastRoute(t: FastTool, headers: Header[], action: object | undefined): object {
  return {
    name: action ? `fast-path:${t.tool}:${(headers.at(-1) as Header).string_match.exact}` : `fast-path:${t.tool}:unrouted`,
    match: { prefix: '/', headers },
    ...(action ? { route: action } : noBackend()),
    typed_per_filter_config: headersOnlyOverrides('headers-only'),
  };
}

const FAST_PATH_NOTE = '2026 fast path: the policy for these tools reads no arguments, so neither ext_authz nor ext_proc\nbuffers the body (Mcp-Method and Mcp-Name headers carry all toolgate needs). Nothing here reads\nthe body, so the backend must reject one that names another tool (a 2026-07-28 server rule).';

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
      retry_on: 'connect-failure,refused-stream',
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
    direct_response: { status: 502, body: { inline_string: NO_BACKEND_BODY } },
    response_headers_to_add: [{ header: { key: 'content-type', value: 'application/json' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
  };
}

export function egressRoutes(plan: EnvoyPlan): object[] {
  return [
    ...backendRoutes(plan, false),
    { name: 'unknown-backend', match: { prefix: '/' }, direct_response: { status: 404, body: { inline_string: 'toolgate egress: no backend named by x-toolgate-backend\n' } } },
  ];
}
