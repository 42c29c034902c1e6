// istio/sidecar and istio/gateway: how the mesh's Envoys call toolgate (ext_authz provider + CUSTOM policy, ext_proc
// EnvoyFilter) and, for the gateway, how they route on toolgate's x-toolgate-backend header.
import { BACKEND_HEADER } from '../../pipeline/fanout/egress.js';
import { AFFINITY_HEADER } from '../../pipeline/extproc/gateway-context.js';
import { edgeSettings } from './edge.js';
import { EXT_AUTHZ_TIMEOUT, ROUTER, extProc, skippedWhenFinished } from './filters.js';
import {
  APP, EGRESS_SERVICE, GATEWAY_SELECTOR, ISTIO_NAMESPACE, PROVIDER, SIDECAR_SELECTOR, type IstioBackend, type IstioPlan,
} from './istio-plan.js';
import { istioEventsRoute } from './istio-events.js';
import { NO_BACKEND_BODY, NO_BACKEND_STATUS } from './routes.js';
import { note } from './yaml.js';

const HCM = 'envoy.filters.network.http_connection_manager';
const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/** A set patch order (a relative INSERT_BEFORE without one is left to chance); after the default priority 0. */
const ENVOYFILTER_PRIORITY = 10;

const selectorOf = (plan: IstioPlan) => ({ ...(plan.mode === 'gateway' ? GATEWAY_SELECTOR : SIDECAR_SELECTOR) });

/** An IstioOperator fragment: `istioctl install -f` merges it, or copy `meshConfig` into Helm values. */
export function meshConfig(plan: IstioPlan): object {
  return {
    apiVersion: 'install.istio.io/v1alpha1',
    kind: 'IstioOperator',
    metadata: { name: `${APP}-extension-provider`, namespace: ISTIO_NAMESPACE },
    spec: {
      meshConfig: {
        extensionProviders: [note({
          name: PROVIDER,
          envoyExtAuthzGrpc: {
            service: plan.serviceHost,
            port: plan.grpcPort,
            timeout: EXT_AUTHZ_TIMEOUT,
            failOpen: false,
            statusOnError: '503',
            includeRequestBodyInCheck: { maxRequestBytes: plan.maxBodyBytes, allowPartialMessage: false, packAsBytes: true },
          },
        }, {
          envoyExtAuthzGrpc: 'The same settings as the standalone bootstrap: fail closed with 503, the whole body as bytes,\nup to policy.maxBodyBytes (larger bodies get 413).',
        })],
      },
    },
  };
}

export function authorizationPolicy(plan: IstioPlan): object {
  return note({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: `${APP}-mcp-${plan.mode}`, namespace: ISTIO_NAMESPACE },
    spec: {
      selector: { matchLabels: selectorOf(plan) },
      action: 'CUSTOM',
      provider: { name: PROVIDER },
      rules: [{ to: [{ operation: { paths: [...plan.paths] } }] }],
    },
  }, {
    metadata: `In the root namespace, so it reaches the selected pods in every namespace.`,
    spec: plan.mode === 'gateway'
      ? 'Every request for the MCP endpoint (and its RFC 9728 metadata) on the ingress gateway asks toolgate first.'
      : 'Every request for the MCP endpoint (and its RFC 9728 metadata) reaching a pod labelled\ntoolgate.io/mcp=sidecar asks toolgate first.',
  });
}

/**
 * ext_proc after Istio's ext_authz, before the router: the one filter Istio has no API for. And the listener settings
 * of the standalone bootstrap's MCP listener that Istio has no API for either (merged into the selected proxies' HTTP
 * connection managers): x-toolgate-* stripped before routing, slow clients bounded, 431 for oversized headers.
 */
export function envoyFilter(plan: IstioPlan): object {
  const context = plan.mode === 'gateway' ? 'GATEWAY' : 'SIDECAR_INBOUND';
  return note({
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: `${APP}-ext-proc-${plan.mode}`, namespace: ISTIO_NAMESPACE },
    spec: note({
      workloadSelector: { labels: selectorOf(plan) },
      priority: ENVOYFILTER_PRIORITY,
      configPatches: [
        {
          applyTo: 'HTTP_FILTER',
          match: { context, listener: { filterChain: { filter: { name: HCM, subFilter: { name: ROUTER } } } } },
          patch: { operation: 'INSERT_BEFORE', value: plan.mode === 'gateway' ? extProc('BUFFERED', plan.toolgateCluster) : skippedWhenFinished(extProc('NONE', plan.toolgateCluster)) },
        },
        note({
          applyTo: 'NETWORK_FILTER',
          match: { context, listener: { filterChain: { filter: { name: HCM } } } },
          patch: { operation: 'MERGE', value: { typed_config: { '@type': HCM_TYPE, ...edgeSettings() } } },
        }, {
          patch: 'The standalone MCP listener\'s edge: a client\'s x-toolgate-* headers are removed before a route is chosen\n'
            + '(the VirtualService routes on x-toolgate-backend), and slow or oversized requests get 408 / 431.\n'
            + 'Applies to every HTTP listener of the selected proxies.',
        }),
      ],
    }, {
      priority: 'Applied after the EnvoyFilters of default priority 0: an INSERT_BEFORE the router of theirs lands before\n'
        + 'ext_proc, which stays next to the router. Istio warns about a relative patch without a priority (IST0151).',
    }),
  }, {
    spec: `Istio names toolgate's gRPC port cluster ${plan.toolgateCluster} in every proxy;\n`
      + 'the filter is the same one `toolgate render envoy` writes, with that cluster name.',
  });
}

/** Replica stickiness: ring-hash each backend's replicas on the client session, as the standalone clusters do. */
export function destinationRule(plan: IstioPlan, backend: IstioBackend): object {
  return note({
    apiVersion: 'networking.istio.io/v1',
    kind: 'DestinationRule',
    metadata: { name: `${APP}-${backend.name}`, namespace: ISTIO_NAMESPACE },
    spec: {
      host: backend.host,
      trafficPolicy: {
        // ringHash: the ring's settings live in ConsistentHashLB.ringHash (its top-level minimumRingSize is deprecated).
        loadBalancer: { consistentHash: { httpHeaderName: AFFINITY_HEADER, ringHash: { minimumRingSize: 1024 } } },
        connectionPool: { http: { idleTimeout: '4s', maxRequestsPerConnection: 0 } },
        outlierDetection: { consecutive5xxErrors: 5, consecutiveGatewayErrors: 3, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 50 },
        tls: { mode: 'ISTIO_MUTUAL' },
      },
    },
  }, {
    metadata: 'In the root namespace: it applies to the ingress gateway and to toolgate\'s own sidecar (fan-out).',
    spec: 'x-toolgate-affinity carries the client session\'s token id, so a session and its initialize fan-out\nreach the same replica.',
  });
}

/** The ingress gateway's listener for the MCP host (TLS terminated here when the resource is https). */
export function gateway(plan: IstioPlan): object {
  const https = plan.resource.protocol === 'https:';
  const host = plan.resource.hostname;
  return {
    apiVersion: 'networking.istio.io/v1',
    kind: 'Gateway',
    metadata: { name: `${APP}-mcp`, namespace: ISTIO_NAMESPACE },
    spec: {
      selector: { ...GATEWAY_SELECTOR },
      servers: [https
        ? { port: { number: 443, name: 'https-mcp', protocol: 'HTTPS' }, hosts: [host], tls: { mode: 'SIMPLE', credentialName: `${APP}-mcp-tls` } }
        : { port: { number: 80, name: 'http-mcp', protocol: 'HTTP' }, hosts: [host] }],
    },
  };
}

/**
 * As the standalone routes: only failures where the backend never saw the request (reset-before-request: Istio 1.23+).
 * No route sets `timeout`: Istio leaves a route without one undeadlined (Envoy's timeout 0, as the standalone routes'
 * `timeout: 0s`), so long tool calls and SSE streams are not cut; Istio refuses an explicit `0s` (at least 1ms).
 */
const RETRIES = { attempts: 2, retryOn: 'connect-failure,refused-stream,reset-before-request' };

/** Routes on the header toolgate's processor sets (a client's copy is removed before routing); nothing else is routed. */
export function gatewayVirtualService(plan: IstioPlan): object {
  return note({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: `${APP}-mcp`, namespace: ISTIO_NAMESPACE },
    spec: {
      hosts: [plan.resource.hostname],
      gateways: [`${ISTIO_NAMESPACE}/${APP}-mcp`],
      http: [
        ...plan.backends.map((b) => ({
          name: b.name,
          match: [{ headers: { [BACKEND_HEADER]: { exact: b.name } } }],
          ...(b.path === undefined ? {} : { rewrite: { uriRegexRewrite: { match: '^/.*$', rewrite: b.path } } }),
          route: [{ destination: destination(b) }],
          retries: RETRIES,
        })),
        ...(plan.eventsPort === undefined ? [] : [istioEventsRoute(plan, plan.eventsPort)]),
        note({
          name: 'no-backend',
          directResponse: { status: NO_BACKEND_STATUS, body: { string: NO_BACKEND_BODY } },
        }, { directResponse: 'toolgate answers or routes every request (what it cannot route gets its own 4xx): only a\nconfig that differs from toolgate\'s (a backend without a route here) ends here.' }),
      ],
    },
  }, {
    spec: 'toolgate\'s processor sets x-toolgate-backend and clears the route cache, so these routes are chosen after it ran.',
  });
}

/** toolgate's fan-out: its own sidecar routes the egress name on x-toolgate-backend to the backend Services. */
export function egressVirtualService(plan: IstioPlan): object {
  return note({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: EGRESS_SERVICE, namespace: plan.namespace },
    spec: {
      hosts: [`${EGRESS_SERVICE}.${plan.namespace}.svc.cluster.local`],
      gateways: ['mesh'],
      exportTo: ['.'],
      http: plan.backends.map((b) => ({
        name: b.name,
        match: [{ headers: { [BACKEND_HEADER]: { exact: b.name } } }],
        route: [{ destination: destination(b) }],
        retries: RETRIES,
      })),
    },
  }, {
    spec: 'Only toolgate\'s namespace sees this name (exportTo "."). toolgate sends the backend path itself.',
  });
}

/** A name for the egress VirtualService to hang on; no pods behind it. */
export function egressService(plan: IstioPlan): object {
  return note({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: EGRESS_SERVICE, namespace: plan.namespace, labels: { 'app.kubernetes.io/name': APP, app: APP } },
    spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'http' }] },
  }, { spec: 'No selector: toolgate\'s sidecar resolves this name through VirtualService toolgate-egress.' });
}

function destination(b: IstioBackend): object {
  return b.port === undefined ? { host: b.host } : { host: b.host, port: { number: b.port } };
}

/** The overlay's toolgate config replaces the base's (a strategic-merge patch of the ConfigMap's data). */
export function configPatch(plan: IstioPlan, data: Readonly<Record<string, string>>): object {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${APP}-config`, namespace: plan.namespace },
    data: { ...data },
  };
}

export function overlayKustomization(resources: readonly string[], patch: string): object {
  return note({
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: ['../base', ...resources],
    patches: [{ path: patch }],
  }, {
    resources: 'mesh-config.yaml is not listed: it is Istio install configuration (istioctl install -f, or Helm values).',
  });
}
