// The rendered bootstrap's part for gateway GET streams: a route to toolgate's event-stream server, and its cluster.
import { describe, expect, it } from 'vitest';
import { placeholdersIn } from '../../src/cli/render/placeholders.js';
import { bootstrap, rawExample, render, type Loose } from '../harness/render.js';

const withoutEvents = () => {
  const raw = rawExample('gateway');
  const { eventsPort: _dropped, ...server } = raw.server ?? {};
  return { ...raw, server };
};

describe('gateway GET event stream in the bootstrap', () => {
  const b = bootstrap(render(rawExample('gateway')));

  it('routes a GET that ext_proc granted to toolgate\'s event-stream server, just before the catch-all', () => {
    const routes = b.routes('mcp');
    const events = routes.find((r: Loose) => r.name === 'events-stream');
    expect(routes.indexOf(events)).toBe(routes.length - 2);
    expect(events.match).toEqual({
      prefix: '/',
      headers: [{ name: ':method', string_match: { exact: 'GET' } }, { name: 'x-toolgate-events-grant', present_match: true }],
    });
    expect(events.route).toEqual({ cluster: 'toolgate_events', timeout: '0s', idle_timeout: '300s' });
  });

  it('has a cluster for toolgate\'s events port on its gRPC host, over HTTP/1.1, sized for long streams', () => {
    const cluster = b.cluster('toolgate_events');
    expect(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: '${TOOLGATE_GRPC_ADDRESS}', port_value: '${TOOLGATE_EVENTS_PORT}' });
    expect(cluster.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions'].explicit_http_config).toEqual({ http_protocol_options: {} });
    expect(cluster.circuit_breakers.thresholds[0].max_requests).toBe(10000);
    expect(cluster.transport_socket).toBeUndefined();
  });

  it('uses mTLS to it with --mtls, checking the name toolgate\'s gRPC certificate carries', () => {
    const tls = bootstrap(render(rawExample('gateway'), { mtls: true })).cluster('toolgate_events').transport_socket.typed_config;
    expect(tls.sni).toBe('${TOOLGATE_TLS_SAN}');
    expect(tls.common_tls_context.alpn_protocols).toEqual(['http/1.1']);
  });

  it('is absent without server.eventsPort: gateway GET is then answered 405 by ext_proc', () => {
    const text = render(withoutEvents());
    const plain = bootstrap(text);
    expect(plain.routes('mcp').map((r: Loose) => r.name)).not.toContain('events-stream');
    expect(plain.cluster('toolgate_events')).toBeUndefined();
    expect(placeholdersIn(text)).not.toContain('TOOLGATE_EVENTS_PORT');
  });

  it('is absent in sidecar mode, where GET goes to the one backend', () => {
    const raw = rawExample('sidecar');
    const text = render({ ...raw, server: { ...raw.server, eventsPort: 9003 } });
    expect(bootstrap(text).cluster('toolgate_events')).toBeUndefined();
    expect(placeholdersIn(text)).not.toContain('TOOLGATE_EVENTS_PORT');
  });
});
