// The Envoy bootstraps the benchmark compares, as pure transforms of the file `toolgate render envoy` wrote: the
// rendered file with ext_proc, or both ext_* filters, taken out (with their per-route settings), and the native floor
// (g): Envoy's own MCP filter + RBAC allow-listing the benchmark's tool, with no toolgate.
import { parse, stringify } from 'yaml';

export const EXT_AUTHZ = 'envoy.filters.http.ext_authz';
export const EXT_PROC = 'envoy.filters.http.ext_proc';
/** Envoy's MCP filter: on the 2026 fast path it reads the body in toolgate's stead, so it goes with toolgate's filters. */
export const MCP = 'envoy.filters.http.mcp';

export type EnvoyVariant = 'router' | 'authz' | 'full';

const FILTERS_KEPT: Record<EnvoyVariant, ReadonlySet<string>> = {
  router: new Set(),
  authz: new Set([EXT_AUTHZ]),
  full: new Set([EXT_AUTHZ, EXT_PROC]),
};

type Json = Record<string, unknown>;

/** The rendered bootstrap with only the ext_* filters of `variant` left in the listener's chain and routes (the MCP filter only in `full`). */
export function variantOf(rendered: string, variant: EnvoyVariant): string {
  // The full path runs the rendered file byte for byte.
  if (variant === 'full') return rendered;
  const doc = parse(rendered) as Json;
  const keep = FILTERS_KEPT[variant];
  const drop = (name: string) => ((name === EXT_AUTHZ || name === EXT_PROC) && !keep.has(name)) || name === MCP;
  let seen = 0;
  for (const hcm of connectionManagers(doc)) {
    const filters = hcm.http_filters as Json[];
    hcm.http_filters = filters.filter((f) => !drop(String(f.name)));
    for (const host of (hcm.route_config as { virtual_hosts: Json[] }).virtual_hosts) {
      for (const route of host.routes as Json[]) {
        const perFilter = route.typed_per_filter_config as Json | undefined;
        if (!perFilter) continue;
        for (const name of Object.keys(perFilter)) if (drop(name)) delete perFilter[name];
        if (Object.keys(perFilter).length === 0) delete route.typed_per_filter_config;
      }
    }
    seen += filters.filter((f) => f.name !== MCP).length - (hcm.http_filters as Json[]).length;
  }
  const expected = 2 - keep.size;
  if (seen !== expected) throw new Error(`envoy variant ${variant}: removed ${seen} filters, expected ${expected} (did the renderer change?)`);
  return stringify(doc, { lineWidth: 0 });
}

/** Adds Envoy runtime values (a static layer), e.g. to try a reloadable feature: `--envoy-runtime NAME=VALUE`. */
export function withRuntime(bootstrap: string, values: Readonly<Record<string, string | number | boolean>>): string {
  if (Object.keys(values).length === 0) return bootstrap;
  const doc = parse(bootstrap) as Json;
  if (doc.layered_runtime) throw new Error('the rendered bootstrap has a layered_runtime already; merge by hand');
  doc.layered_runtime = { layers: [{ name: 'bench', static_layer: { ...values } }] };
  return stringify(doc, { lineWidth: 0 });
}

function connectionManagers(doc: Json): Json[] {
  const listeners = ((doc.static_resources as Json).listeners as Json[]).filter((l) => l.name === 'mcp');
  return listeners.flatMap((l) => (l.filter_chains as Json[]).flatMap((c) => (c.filters as Json[]).map((f) => f.typed_config as Json)));
}


export const RBAC = 'envoy.filters.http.rbac';
/** The namespace Envoy's MCP filter writes the request's `method`, `id` and `params` to. */
export const MCP_METADATA = MCP;
/** The tools (g)'s RBAC allow-lists: the one every scenario calls. */
export const NATIVE_ALLOWED_TOOLS: readonly string[] = ['echo'];
/**
 * Methods (g) lets through for any tool: a 2025 session's handshake (the client opens one per connection before
 * measuring), ping, and tools/list — which the native floor cannot filter, so a client sees tools it may not call.
 */
export const NATIVE_OPEN_METHODS: readonly string[] = ['initialize', 'notifications/initialized', 'ping', 'tools/list'];

const mcpKey = (path: readonly string[], exact: string) => ({
  metadata: { filter: MCP_METADATA, path: path.map((key) => ({ key })), value: { string_match: { exact } } },
});
const anyOf = (rules: readonly Json[]) => (rules.length === 1 ? rules[0] as Json : { or_rules: { rules } });

/**
 * (g) the native floor: router-only (b) plus Envoy's MCP filter, which parses the body into dynamic metadata, and an
 * RBAC filter that allows the open methods (NATIVE_OPEN_METHODS) and `tools/call` of the allow-listed tools only (any other request,
 * a non-MCP body included, matches no policy and gets 403). What an operator who needs only an allow-list would run:
 * no identity, no tasks, no session token.
 */
export function nativeFloorOf(rendered: string, allowedTools: readonly string[] = NATIVE_ALLOWED_TOOLS): string {
  const doc = parse(variantOf(rendered, 'router')) as Json;
  const mcp = {
    name: MCP,
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.mcp.v3.Mcp',
      // The same parser settings toolgate's rendered fast path uses: a body that is not one JSON-RPC request is
      // refused, a repeated key is refused, and the whole body (up to 1 MiB) is read.
      traffic_mode: 'REJECT_NO_MCP',
      reject_duplicate_keys: true,
      max_request_body_size: 1_048_576,
    },
  };
  const rbac = {
    name: RBAC,
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
      rules: {
        action: 'ALLOW',
        policies: {
          'mcp-open-methods': {
            permissions: [anyOf(NATIVE_OPEN_METHODS.map((m) => mcpKey(['method'], m)))],
            principals: [{ any: true }],
          },
          'allowed-tools': {
            permissions: [{ and_rules: { rules: [mcpKey(['method'], 'tools/call'), anyOf(allowedTools.map((t) => mcpKey(['params', 'name'], t)))] } }],
            principals: [{ any: true }],
          },
        },
      },
    },
  };
  let chains = 0;
  for (const hcm of connectionManagers(doc)) {
    const filters = hcm.http_filters as Json[];
    const router = filters.findIndex((f) => f.name === 'envoy.filters.http.router');
    if (router === -1) throw new Error('native floor: the rendered listener has no router filter (did the renderer change?)');
    filters.splice(router, 0, mcp, rbac);
    chains++;
  }
  if (chains === 0) throw new Error('native floor: no mcp listener in the rendered bootstrap');
  return stringify(doc, { lineWidth: 0 });
}
