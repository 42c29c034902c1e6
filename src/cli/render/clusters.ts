// Envoy clusters: toolgate's gRPC server, and one resilient HTTP/1.1 cluster per backend MCP server.
import { TOOLGATE_CLUSTER, type BackendPlan, type Endpoint } from './plan.js';
import { note } from './yaml.js';

const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** Placeholders of the mTLS variant: Envoy's client certificate and the CA it trusts. */
export const TLS_CERT = '${ENVOY_TLS_CERT_FILE}';
export const TLS_KEY = '${ENVOY_TLS_KEY_FILE}';
export const TLS_CA = '${TLS_CA_FILE}';

/** `${<NAME>_TLS_SAN}`: the DNS name the server's certificate must carry (also sent as SNI). */
export function sanPlaceholder(cluster: string): string {
  const base = cluster.toUpperCase().replace(/[^A-Z0-9]/g, '_');
  return `\${${/^[A-Z]/.test(base) ? base : `CLUSTER_${base}`}_TLS_SAN}`;
}

/** mTLS to an upstream: present Envoy's certificate, accept only servers the CA signed for that name. */
export function upstreamTls(cluster: string, alpn: string): object {
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      sni: sanPlaceholder(cluster),
      common_tls_context: {
        alpn_protocols: [alpn],
        tls_certificates: [{ certificate_chain: { filename: TLS_CERT }, private_key: { filename: TLS_KEY } }],
        validation_context: {
          trusted_ca: { filename: TLS_CA },
          match_typed_subject_alt_names: [{ san_type: 'DNS', matcher: { exact: sanPlaceholder(cluster) } }],
        },
      },
    },
  };
}

export function toolgateCluster(maxBodyBytes: number, tls = false): object {
  return note({
    name: TOOLGATE_CLUSTER,
    type: 'STRICT_DNS',
    dns_lookup_family: 'V4_PREFERRED',
    connect_timeout: '1s',
    per_connection_buffer_limit_bytes: maxBodyBytes,
    typed_extension_protocol_options: {
      [HTTP_OPTIONS]: {
        '@type': `type.googleapis.com/${HTTP_OPTIONS}`,
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: loadAssignment(TOOLGATE_CLUSTER, [{ address: '${TOOLGATE_GRPC_ADDRESS}', port: '${TOOLGATE_GRPC_PORT}' }]),
    ...(tls ? { transport_socket: upstreamTls(TOOLGATE_CLUSTER, 'h2') } : {}),
  }, {
    typed_extension_protocol_options: 'gRPC needs HTTP/2.',
    ...(tls ? { transport_socket: 'mTLS to toolgate (server.tls): Envoy shows its certificate; toolgate refuses clients without one.' } : {}),
  });
}

/** Clusters shared by several backends (same server, other paths) are emitted once. */
export function backendClusters(backends: readonly BackendPlan[], maxBodyBytes: number, tls = false): object[] {
  const seen = new Set<string>();
  const unique = backends.filter((b) => !seen.has(b.cluster) && seen.add(b.cluster));
  // The first cluster says why; the others would only repeat it.
  return unique.map((b, i) => backendCluster(b, maxBodyBytes, i === 0, tls));
}

function backendCluster(backend: BackendPlan, maxBodyBytes: number, explain: boolean, tls: boolean): object {
  const why: typeof note = (target, comments) => (explain ? note(target, comments) : target);
  return why({
    name: backend.cluster,
    type: 'STRICT_DNS',
    dns_lookup_family: 'V4_PREFERRED',
    connect_timeout: '2s',
    per_connection_buffer_limit_bytes: maxBodyBytes,
    lb_policy: 'RING_HASH',
    ring_hash_lb_config: { minimum_ring_size: 1024, maximum_ring_size: 8192 },
    outlier_detection: why({
      consecutive_5xx: 5,
      consecutive_gateway_failure: 3,
      enforcing_consecutive_gateway_failure: 100,
      interval: '10s',
      base_ejection_time: '30s',
      max_ejection_percent: 50,
    }, { enforcing_consecutive_gateway_failure: 'Envoy enforces gateway-failure ejections 0% of the time unless told.' }),
    health_checks: [{
      timeout: '1s',
      interval: '5s',
      unhealthy_threshold: 3,
      healthy_threshold: 1,
      // Without traffic Envoy checks only every no_traffic_interval (60s by default), so a replica that died
      // right after start-up stayed "healthy" until outlier detection caught it (seen in the failover e2e).
      no_traffic_interval: '5s',
      tcp_health_check: {},
    }],
    circuit_breakers: why({
      thresholds: [{ priority: 'DEFAULT', max_connections: 10000, max_pending_requests: 1024, max_requests: 10000, max_retries: 3 }],
    }, { thresholds: 'An open SSE stream holds an HTTP/1.1 connection; the defaults (1024) would cap concurrent tool calls\nwell below the 10000 downstream connections the overload manager allows.' }),
    typed_extension_protocol_options: {
      [HTTP_OPTIONS]: why({
        '@type': `type.googleapis.com/${HTTP_OPTIONS}`,
        common_http_protocol_options: { idle_timeout: '4s' },
        explicit_http_config: { http_protocol_options: {} },
      }, { common_http_protocol_options: 'Pooled upstream connections with no request on them close after this, before the backend closes them:\nNode\'s HTTP server (Express, the MCP SDK) does after 5 s, and a request Envoy writes on a connection the\nbackend is closing fails with 503 UC (seen under load: a few per 4000 calls with 60 s here). Open SSE\nstreams are governed by the route idle_timeout.' }),
    },
    load_assignment: loadAssignment(backend.cluster, backend.endpoints),
    ...(tls ? { transport_socket: upstreamTls(backend.cluster, 'http/1.1') } : {}),
  }, {
    ...(tls ? { transport_socket: 'mTLS to the backend: the same client certificate; the server\'s must carry this name.' } : {}),
    lb_policy: 'Consistent hashing on the route\'s hash_policy. Gateway routes hash x-toolgate-affinity (the client\nsession), so every call of a session and its initialize fan-out reach the same replica.',
    outlier_detection: 'A replica that keeps failing is ejected for a while; never more than half of them.',
    health_checks: 'MCP has no standard health path: a TCP connect is the check.',
  });
}

function loadAssignment(cluster: string, endpoints: readonly Endpoint[]): object {
  return {
    cluster_name: cluster,
    endpoints: [{
      lb_endpoints: endpoints.map((e) => ({ endpoint: { address: { socket_address: { address: e.address, port_value: e.port } } } })),
    }],
  };
}
