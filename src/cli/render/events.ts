// Gateway mode's GET event stream in the Envoy bootstrap: a route to toolgate's event-stream server, and its cluster.
import { EVENTS_GRANT_HEADER } from '../../pipeline/extproc/events-grant.js';
import { upstreamTls } from './clusters.js';
import { TOOLGATE_CLUSTER } from './plan.js';
import { ABOVE, note } from './yaml.js';

/** Envoy cluster of toolgate's event-stream server (the same process as the gRPC server, another port). */
export const EVENTS_CLUSTER = 'toolgate_events';
export const EVENTS_PORT = '${TOOLGATE_EVENTS_PORT}';

/**
 * Matched only after ext_proc opened the session token and set its grant (and cleared the route cache); a client's
 * copy of the header is stripped first, and toolgate checks the grant's MAC anyway.
 */
export function eventsRoute(): object {
  return note({
    name: 'events-stream',
    match: { prefix: '/', headers: [{ name: ':method', string_match: { exact: 'GET' } }, { name: EVENTS_GRANT_HEADER, present_match: true }] },
    route: note({ cluster: EVENTS_CLUSTER, timeout: '0s', idle_timeout: '300s' }, {
      idle_timeout: 'toolgate writes a keep-alive comment every 15 s, so only a stream whose client is gone idles out.',
    }),
  }, {
    [ABOVE]: 'The client\'s GET event stream: toolgate serves it itself, merging every backend\'s stream (which it opens\nthrough the egress listener below), after its ext_proc opened the session token and granted the request.',
  });
}

export function eventsCluster(maxBodyBytes: number, tls: boolean): object {
  return note({
    name: EVENTS_CLUSTER,
    type: 'STRICT_DNS',
    dns_lookup_family: 'V4_PREFERRED',
    connect_timeout: '1s',
    per_connection_buffer_limit_bytes: maxBodyBytes,
    circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_connections: 10000, max_pending_requests: 1024, max_requests: 10000 }] },
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: EVENTS_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '${TOOLGATE_GRPC_ADDRESS}', port_value: EVENTS_PORT } } } }] }],
    },
    // The same server certificate as toolgate's gRPC port (one process), so the same name is checked.
    ...(tls ? { transport_socket: upstreamTls(TOOLGATE_CLUSTER, 'http/1.1') } : {}),
  }, {
    [ABOVE]: 'toolgate\'s event-stream server (server.eventsPort), on the host of its gRPC server: one long-lived\nHTTP/1.1 request per open client GET stream.',
    circuit_breakers: 'One connection per open GET stream: sized like the backends\', not the default 1024.',
  });
}
