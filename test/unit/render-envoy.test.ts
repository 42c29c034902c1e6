// The rendered bootstrap as data: filter chain, processing modes, routes per mode, fast path, clusters, egress.
import { describe, expect, it } from 'vitest';
import type { RawConfig } from '../../src/core/config/schema.js';
import { bootstrap, extProcConfig, headerMatches, rawExample, render, SKIP_WHEN_FINISHED, type Bootstrap, type Example, type Loose } from '../harness/render.js';

const sidecar = bootstrap(render(rawExample('sidecar')));
const gateway = bootstrap(render(rawExample('gateway')));
const of: Record<Example, Bootstrap> = { sidecar, gateway };

/** The sidecar example with backends of its own (its backendProtocols is for a config without any). */
function sidecarWith(backends: NonNullable<RawConfig['backends']>): RawConfig {
  const { backendProtocols: _, ...raw } = rawExample('sidecar');
  return { ...raw, backends };
}

/** `filters('mcp')` by name. */
const filterOf = (b: Bootstrap, name: string): Loose => b.filters('mcp').find((f: Loose) => f.name === name);

/** The gateway example with inventory's names unprefixed, and a task calling one of them without reading arguments. */
/** `protocols` for inventory; `null` declares none. */
function gatewayWithBareNames(protocols: string[] | null = ['2025-06-18', '2026-07-28']): RawConfig {
  const raw = rawExample('gateway');
  const inventory = raw.backends?.inventory;
  if (!inventory) throw new Error('examples/gateway.yaml has no inventory backend');
  return {
    ...raw,
    backends: { ...raw.backends, inventory: { ...inventory, prefixMode: 'never', ...(protocols ? { protocols: protocols as ['2026-07-28'] } : {}) } },
    tasks: {
      counting: {
        tools: [{ tool: 'billing.lookup_charge' }, { tool: 'check_stock' }, { tool: 'reorder', when: 'mcp.arguments.qty < 10' }],
      },
    },
  };
}

describe.each(['sidecar', 'gateway'] as const)('%s bootstrap', (mode) => {
  const b = of[mode];

  it('runs ext_authz, then ext_proc, then the router (after the MCP filter, when a fast path needs it)', () => {
    // The sidecar example has a 2026 fast path, the gateway example none (all its names are prefixed).
    expect(b.filters('mcp').map((f: Loose) => f.name)).toEqual([
      ...(mode === 'sidecar' ? ['envoy.filters.http.mcp'] : []), 'envoy.filters.http.ext_authz', 'envoy.filters.http.ext_proc', 'envoy.filters.http.router',
    ]);
  });

  it('keeps the verified ext_authz settings and one body cap', () => {
    const authz = filterOf(b, 'envoy.filters.http.ext_authz').typed_config;
    expect(authz).toMatchObject({
      grpc_service: { envoy_grpc: { cluster_name: 'toolgate' }, timeout: '2s' },
      failure_mode_allow: false,
      status_on_error: { code: 'ServiceUnavailable' },
      with_request_body: { max_request_bytes: 1048576, allow_partial_message: false, pack_as_bytes: true },
    });
    expect(b.listener('mcp').per_connection_buffer_limit_bytes).toBe(1048576);
  });

  it('configures ext_proc to fail closed, hand over ext_authz metadata, and buffer the request body only in gateway mode', () => {
    const proc = extProcConfig(filterOf(b, 'envoy.filters.http.ext_proc'));
    expect(proc).toMatchObject({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor',
      grpc_service: { envoy_grpc: { cluster_name: 'toolgate' } },
      failure_mode_allow: false,
      message_timeout: '10s',
      max_message_timeout: '30s',
      allow_mode_override: true,
      metadata_options: { forwarding_namespaces: { untyped: ['envoy.filters.http.ext_authz'] } },
    });
    expect(proc.processing_mode).toEqual({
      request_header_mode: 'SEND',
      // toolgate asks for response headers per request; by default they would take Envoy's local replies (431) too.
      response_header_mode: 'SKIP',
      request_body_mode: mode === 'gateway' ? 'BUFFERED' : 'NONE',
      response_body_mode: 'NONE',
      request_trailer_mode: 'SKIP',
      response_trailer_mode: 'SKIP',
    });
    expect(proc.mutation_rules).toBeUndefined();
  });

  it(mode === 'sidecar'
    ? 'skips ext_proc for a call ext_authz finished (ExtensionWithMatcher on its exchange: done), keeping the filter\'s name'
    : 'runs ext_proc for every call: it routes them (no matcher)', () => {
    const filter = filterOf(b, 'envoy.filters.http.ext_proc');
    if (mode === 'gateway') {
      expect(filter.typed_config['@type']).toBe('type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor');
      return;
    }
    expect(filter.typed_config['@type']).toBe('type.googleapis.com/envoy.extensions.common.matching.v3.ExtensionWithMatcher');
    expect(filter.typed_config.xds_matcher).toEqual(SKIP_WHEN_FINISHED);
    // The wrapped filter keeps the name the fast-path routes' ExtProcPerRoute is keyed by (docs/envoy.md, fact 27).
    expect(filter.typed_config.extension_config.name).toBe('envoy.filters.http.ext_proc');
  });

  it('closes ext_proc streams gracefully and keeps its gRPC client for toolgate far longer than any exchange', () => {
    expect(b.doc.layered_runtime.layers[0].static_layer).toEqual({ 'envoy.reloadable_features.ext_proc_graceful_grpc_close': true });
    // Envoy's 50-s default let a stream outlive its client, which crashed Envoy 1.40 (docs/envoy.md, fact 19).
    expect(b.doc.grpc_async_client_manager_config).toEqual({ max_cached_entry_idle_duration: '86400s' });
  });

  it('binds admin to loopback and talks HTTP/2 to toolgate', () => {
    expect(b.doc.admin.address.socket_address).toEqual({ address: '127.0.0.1', port_value: '${ADMIN_PORT}' });
    const toolgate = b.cluster('toolgate');
    expect(toolgate.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config)
      .toEqual({ http2_protocol_options: {} });
    expect(toolgate.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address)
      .toEqual({ address: '${TOOLGATE_GRPC_ADDRESS}', port_value: '${TOOLGATE_GRPC_PORT}' });
  });

  it('strips x-toolgate-* before routing, bounds slow clients, answers oversized headers with a JSON-RPC 431', () => {
    const hcm = b.hcm('mcp');
    expect(hcm.early_header_mutation_extensions).toEqual([{
      name: 'envoy.http.early_header_mutation.header_mutation',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation',
        mutations: [{ remove_on_match: { key_matcher: { prefix: 'x-toolgate-' } } }],
      },
    }]);
    expect(hcm).toMatchObject({ request_headers_timeout: '10s', request_timeout: '60s', max_request_headers_kb: 32, stream_idle_timeout: '300s' });
    const mappers: Loose[] = hcm.local_reply_config.mappers;
    const on431 = mappers.find((m) => m.filter.status_code_filter?.comparison.value.default_value === 431);
    expect(on431.body_format_override.json_format).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600, message: expect.stringContaining('32 KiB') } });
    expect(mappers.some((m) => m.filter.status_code_filter?.comparison.value.default_value === 408)).toBe(true);
    // Only the MCP filter's plain-text refusals are rewritten: its -32020 reply is JSON already.
    const cel: string[] = mappers.flatMap((m) => (m.filter.extension_filter ? [m.filter.extension_filter.typed_config.expression] : []));
    expect(cel).toEqual(expect.arrayContaining([expect.stringMatching(/mcp_duplicate_keys/), expect.stringMatching(/mcp_not_jsonrpc.*content-type/)]));
    if (mode === 'gateway') {
      // The loopback egress listener is toolgate's own: it routes on x-toolgate-backend and keeps Envoy's defaults.
      expect(b.hcm('egress').early_header_mutation_extensions).toBeUndefined();
      expect(b.hcm('egress').local_reply_config).toBeUndefined();
    }
  });

  it(`has ${mode === 'gateway' ? 'a loopback' : 'no'} egress listener`, () => {
    const egress = b.listener('egress');
    if (mode === 'sidecar') {
      expect(egress).toBeUndefined();
      return;
    }
    expect(egress.address.socket_address).toEqual({ address: '127.0.0.1', port_value: '${EGRESS_PORT}' });
    expect(b.filters('egress').map((f: Loose) => f.name)).toEqual(['envoy.filters.http.router']);
    const routes = b.routes('egress');
    expect(routes.map((r: Loose) => [headerMatches(r)['x-toolgate-backend'], r.route?.cluster])).toEqual([
      ['billing', 'billing'], ['inventory', 'inventory'], [undefined, undefined],
    ]);
    expect(routes[0].route.hash_policy).toEqual([{ header: { header_name: 'x-toolgate-affinity' } }]);
    expect(routes.at(-1).direct_response.status).toBe(404);
  });
});

describe('backend clusters', () => {
  it.each([
    ['sidecar', 'backend', [['${BACKEND_ADDRESS}', '${BACKEND_PORT}']]],
    ['gateway', 'billing', [['${BILLING_1_ADDRESS}', '${BILLING_1_PORT}'], ['${BILLING_2_ADDRESS}', '${BILLING_2_PORT}']]],
    ['gateway', 'inventory', [['${INVENTORY_1_ADDRESS}', '${INVENTORY_1_PORT}'], ['${INVENTORY_2_ADDRESS}', '${INVENTORY_2_PORT}']]],
  ] as const)('%s: cluster %s is STRICT_DNS, ring hash, ejects outliers, checks TCP, speaks HTTP/1.1', (mode, name, endpoints) => {
    const c = of[mode].cluster(name);
    expect(c).toMatchObject({
      type: 'STRICT_DNS',
      lb_policy: 'RING_HASH',
      ring_hash_lb_config: { minimum_ring_size: expect.any(Number) },
      outlier_detection: { consecutive_5xx: expect.any(Number), consecutive_gateway_failure: expect.any(Number), base_ejection_time: expect.any(String), max_ejection_percent: 50 },
      health_checks: [{ tcp_health_check: {} }],
      circuit_breakers: { thresholds: [expect.objectContaining({ max_connections: expect.any(Number) })] },
    });
    expect(c.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config)
      .toEqual({ http_protocol_options: {} });
    expect(c.load_assignment.endpoints[0].lb_endpoints.map((e: Loose) => Object.values(e.endpoint.address.socket_address)))
      .toEqual(endpoints);
  });

  it('names default endpoints after the backend and reads explicit ones', () => {
    const one = bootstrap(render(sidecarWith({ 'my-server': { cluster: 'mine' } })));
    expect(one.cluster('mine').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address)
      .toEqual({ address: '${MY_SERVER_ADDRESS}', port_value: '${MY_SERVER_PORT}' });
    const explicit = bootstrap(render(sidecarWith({ s: { cluster: 's', endpoints: ['mcp.svc:8080', '[::1]:${S_PORT}'] } })));
    expect(explicit.cluster('s').load_assignment.endpoints[0].lb_endpoints.map((e: Loose) => e.endpoint.address.socket_address))
      .toEqual([{ address: 'mcp.svc', port_value: 8080 }, { address: '::1', port_value: '${S_PORT}' }]);
  });

  it.each([
    ['no port', ['billing.svc']],
    ['port out of range', ['billing.svc:70000']],
    ['two colons', ['a:b:8080']],
  ])('refuses an endpoint with %s', (_, endpoints) => {
    expect(() => render(sidecarWith({ b: { cluster: 'b', endpoints } }))).toThrow(/backends\.b\.endpoints\[0\]: .* is not host:port/);
  });

  it('refuses the cluster name toolgate, and one cluster with two endpoint lists', () => {
    expect(() => render(sidecarWith({ b: { cluster: 'toolgate' } }))).toThrow(/backends\.b\.cluster/);
    const raw = rawExample('gateway');
    expect(() => render({ ...raw, backends: { a: { cluster: 'same' }, b: { cluster: 'same' } } })).toThrow(/cluster "same" is also used by backend a/);
  });
});

describe('main listener routes', () => {
  it('sidecar: fast path for the argument-free tool, then everything to the one backend without a deadline', () => {
    const routes = sidecar.routes('mcp');
    expect(routes.map((r: Loose) => r.name)).toEqual(['fast-path:lookup_charge', 'backend']);
    expect(routes[1]).toEqual({
      name: 'backend',
      match: { prefix: '/' },
      route: {
        cluster: 'backend', timeout: '0s', idle_timeout: '300s',
        // Only failures where the backend never saw the request: a tool call must not run twice.
        retry_policy: { retry_on: 'connect-failure,refused-stream,reset-before-request', num_retries: 2 },
      },
    });
  });

  it('gateway: one route per backend on x-toolgate-backend, sticky, retrying only unsent requests, then a 500 for a config mismatch', () => {
    const routes = gateway.routes('mcp');
    expect(routes.map((r: Loose) => r.name)).toEqual(['billing', 'inventory', 'events-stream', 'no-backend']);
    for (const name of ['billing', 'inventory']) {
      const route = routes.find((r: Loose) => r.name === name);
      expect(headerMatches(route)).toEqual({ 'x-toolgate-backend': name });
      expect(route.route).toMatchObject({
        cluster: name,
        timeout: '0s',
        hash_policy: [{ header: { header_name: 'x-toolgate-affinity' } }],
        retry_policy: { retry_on: 'connect-failure,refused-stream,reset-before-request', num_retries: 2, retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }] },
        regex_rewrite: { pattern: { regex: '^/.*$' }, substitution: '/mcp' },
      });
    }
    const last = routes.at(-1);
    expect(last.match).toEqual({ prefix: '/' });
    expect(last.direct_response.status).toBe(500);
    expect(JSON.parse(last.direct_response.body.inline_string).error.message).toMatch(/no backend this Envoy has a route for.*render the bootstrap from the config toolgate runs with/);
  });

  it('gateway: prefixed names get no fast path (their body is rewritten), bare names of a `never` backend do', () => {
    const b = bootstrap(render(gatewayWithBareNames()));
    const routes = b.routes('mcp');
    expect(routes.map((r: Loose) => r.name)).toEqual([
      'fast-path:check_stock:inventory', 'billing', 'inventory', 'fast-path:check_stock:unrouted', 'events-stream', 'no-backend',
    ]);
    const fast = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'check_stock' };
    expect(headerMatches(routes[0])).toEqual({ ...fast, 'x-toolgate-backend': 'inventory' });
    expect(routes[0].route).toEqual(routes[2].route);
    // Matched while ext_authz and ext_proc choose their settings, before toolgate names the backend.
    expect(headerMatches(routes[3])).toEqual(fast);
    expect(routes[3].direct_response.status).toBe(500);
    expect(routes[3].typed_per_filter_config).toEqual(routes[0].typed_per_filter_config);
  });

  it('gateway: a bare backend not declared 2026-capable gets no fast path', () => {
    for (const protocols of [null, ['2025-06-18', '2025-11-25']]) {
      const routes = bootstrap(render(gatewayWithBareNames(protocols))).routes('mcp');
      expect(routes.map((r: Loose) => r.name)).toEqual(['billing', 'inventory', 'events-stream', 'no-backend']);
    }
  });
});

describe('2026 fast path', () => {
  it('matches the 2026 headers, turns ext_authz body buffering off and ext_proc off (nothing for it to do)', () => {
    const [route] = sidecar.routes('mcp');
    expect(headerMatches(route)).toEqual({ 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'lookup_charge' });
    expect(route.route.cluster).toBe('backend');
    // 2026 has no sessions: none goes to the backend, none of its ids comes back.
    expect(route.request_headers_to_remove).toEqual(['mcp-session-id']);
    expect(route.response_headers_to_remove).toEqual(['mcp-session-id']);
    expect(route.typed_per_filter_config['envoy.filters.http.ext_authz']).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute',
      check_settings: { disable_request_body_buffering: true },
    });
    expect(route.typed_per_filter_config['envoy.filters.http.ext_proc']).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute',
      disabled: true,
    });
  });

  it('has Envoy\'s MCP filter check the body against the headers there, and nowhere else', () => {
    const [route] = sidecar.routes('mcp');
    expect(route.typed_per_filter_config['envoy.filters.http.mcp']).toEqual({
      '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
      config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.mcp.v3.McpOverride',
        traffic_mode: 'REJECT_NO_MCP', reject_duplicate_keys: true, max_request_body_size: 1048576,
      },
    });
    const mcp = filterOf(sidecar, 'envoy.filters.http.mcp');
    expect(mcp.disabled).toBe(true);
    expect(mcp.typed_config).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.mcp.v3.Mcp',
      attribute_source: 'VERIFY', traffic_mode: 'REJECT_NO_MCP', reject_duplicate_keys: true, max_request_body_size: 1048576,
    });
    // The catch-all route leaves it off.
    expect(sidecar.routes('mcp')[1].typed_per_filter_config).toBeUndefined();
  });

  it.each<[string, Partial<RawConfig>]>([
    ['no declaration at all', {}],
    ['a declaration without 2026-07-28', { backendProtocols: ['2025-06-18', '2025-11-25'] }],
    ['a named backend without a declaration', { backends: { billing: { cluster: 'backend' } } }],
  ])('none for a sidecar whose server is not declared 2026-capable: %s', (_, change) => {
    const { backendProtocols: _declared, ...raw } = rawExample('sidecar');
    const b = bootstrap(render({ ...raw, ...change }));
    expect(b.routes('mcp').filter((r: Loose) => r.name.startsWith('fast-path:'))).toEqual([]);
    expect(b.filters('mcp').map((f: Loose) => f.name)).not.toContain('envoy.filters.http.mcp');
  });

  it('a named sidecar backend declared 2026-capable gets one', () => {
    const b = bootstrap(render(sidecarWith({ billing: { cluster: 'backend', protocols: ['2026-07-28'] } })));
    expect(b.routes('mcp').map((r: Loose) => r.name)).toEqual(['fast-path:lookup_charge', 'billing']);
  });

  it('refuses backendProtocols next to backends, and revisions it does not know', () => {
    expect(() => render({ ...rawExample('sidecar'), backends: { b: { cluster: 'b' } } })).toThrow(/backendProtocols is for a config without backends/);
    expect(() => render({ ...rawExample('sidecar'), backendProtocols: ['2026-07-29' as '2026-07-28'] })).toThrow(/must be one of 2024-11-05, 2025-03-26, 2025-06-18, 2025-11-25, 2026-07-28/);
  });

  type Tools = NonNullable<NonNullable<RawConfig['tasks']>[string]['tools']>;
  it.each<[string, Record<string, Tools>, string[]]>([
    ['a rule without conditions', { t: [{ tool: 'a' }] }, ['a']],
    ['a condition on claims only', { t: [{ tool: 'a', when: 'jwt.level > 2' }] }, ['a']],
    ['a condition on arguments', { t: [{ tool: 'a', when: 'mcp.arguments.x > 1' }] }, []],
    ['a message quoting arguments', { t: [{ tool: 'a', when: 'jwt.level > 2', message: 'not {{mcp.arguments.x}}' }] }, []],
    ['a budget summing an argument', { t: [{ tool: 'a', budget: { sum: 'mcp.arguments.amount', max: 5, per: '1h' } }] }, []],
    ['a pattern (never exact)', { t: [{ tool: 'a*' }] }, []],
    ['one task reading arguments, another not', { t: [{ tool: 'a' }], u: [{ tool: 'a', when: 'mcp.arguments.x > 1' }] }, []],
    ['a pattern reading arguments in another task', { t: [{ tool: 'ab' }], u: [{ tool: 'a*', when: 'mcp.arguments.x > 1' }] }, []],
    ['an exact rule beating a pattern in its own task', { t: [{ tool: 'ab' }, { tool: 'a*', when: 'mcp.arguments.x > 1' }] }, ['ab']],
  ])('%s', (_, tasks, expected) => {
    const raw: RawConfig = { ...rawExample('sidecar'), tasks: Object.fromEntries(Object.entries(tasks).map(([k, tools]) => [k, { tools }])) };
    const fast = bootstrap(render(raw)).routes('mcp').filter((r: Loose) => r.name.startsWith('fast-path:'));
    expect(fast.map((r: Loose) => headerMatches(r)['mcp-name'])).toEqual(expected);
  });
});

describe('output', () => {
  it('says it is generated, from which config, and which placeholders are left', () => {
    const text = render(rawExample('sidecar'), { source: 'examples/sidecar.yaml' });
    expect(text).toMatch(/^# GENERATED by `toolgate render envoy` from examples\/sidecar\.yaml\. Do not edit by hand/);
    expect(text).toContain('#   ${BACKEND_PORT}\n');
  });

  it('fills --var values and refuses unknown names', () => {
    const text = render(rawExample('sidecar'), { vars: { LISTEN_PORT: '10000', BACKEND_ADDRESS: 'mcp.local' } });
    const b = bootstrap(text);
    expect(b.listener('mcp').address.socket_address).toEqual({ address: '${LISTEN_ADDRESS}', port_value: 10000 });
    expect(text).not.toContain('${LISTEN_PORT}');
    expect(text).not.toContain('${BACKEND_ADDRESS}');
    expect(() => render(rawExample('sidecar'), { vars: { LISTEN_PROT: '1' } })).toThrow(/--var LISTEN_PROT: no such placeholder/);
    expect(() => render(rawExample('sidecar'), { vars: { EGRESS_PORT: '1' } })).toThrow(/no such placeholder/);
  });

  it('refuses a gateway config toolgate itself would refuse', () => {
    const { egress: _, ...raw } = rawExample('gateway');
    expect(() => render(raw)).toThrow(/egress: required when more than one backend/);
  });
});
