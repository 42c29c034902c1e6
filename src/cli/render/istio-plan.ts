// What the Istio manifests are derived from: names, namespaces, ports and backends, worked out once from the config.
import { ConfigError, type ConfigIssue } from '../../core/config/errors.js';
import type { ParsedConfig } from '../../core/config/schema.js';
import { durationMs } from '../../core/config/duration.js';
import { compareText } from '../../core/mcp/names.js';
import { buildMetadata } from '../../core/identity/metadata.js';

/** The toolgate Deployment, Service, ServiceAccount, ConfigMap … all share this name. */
export const APP = 'toolgate';
/** Istio's root namespace: policies there reach the gateway and every selected workload. */
export const ISTIO_NAMESPACE = 'istio-system';
/** The extension provider the AuthorizationPolicies name (meshConfig.extensionProviders[].name). */
export const PROVIDER = 'toolgate';
/** Where the ConfigMap is mounted: the image's entrypoint reads config.yaml from here. */
export const CONFIG_DIR = '/etc/toolgate';
/** Where the Secret is mounted (not under CONFIG_DIR: a mount inside a read-only ConfigMap volume can fail). */
export const SECRETS_DIR = '/var/run/secrets/toolgate';
export const SECRET_NAME = 'toolgate-secrets';
/** The Secret with the admin API's bearer token (key `token`), mounted apart from the others: it alone is rotated by ops. */
export const ADMIN_SECRET_NAME = 'toolgate-admin';
export const ADMIN_SECRET_DIR = '/var/run/secrets/toolgate-admin';
/** `server.adminTokenFile` in the pod. */
export const ADMIN_TOKEN_FILE = `${ADMIN_SECRET_DIR}/token`;
/** Where Prometheus runs (namespace name): the only source admitted to the admin port. Change it for your cluster. */
export const MONITORING_NAMESPACE = 'monitoring';
/** Selector-less Service whose VirtualService routes toolgate's fan-out on x-toolgate-backend (gateway mode). */
export const EGRESS_SERVICE = 'toolgate-egress';
/** Label an operator puts on MCP server pods to put them behind toolgate (sidecar pattern). */
export const SIDECAR_SELECTOR = Object.freeze({ 'toolgate.io/mcp': 'sidecar' });
/** The default Istio ingress gateway's pods (gateway pattern). */
export const GATEWAY_SELECTOR = Object.freeze({ istio: 'ingressgateway' });

export interface IstioBackend {
  readonly name: string;
  /** The backend's Kubernetes Service, fully qualified. */
  readonly host: string;
  /** Service port, when every endpoint in the config names the same number. */
  readonly port: number | undefined;
  /** Request path on the backend, when the config fixes one. */
  readonly path: string | undefined;
}

export interface IstioPlan {
  readonly mode: 'sidecar' | 'gateway';
  readonly namespace: string;
  readonly grpcPort: number;
  readonly adminPort: number;
  readonly maxBodyBytes: number;
  readonly shutdownGraceSeconds: number;
  /** toolgate's Service, fully qualified: what the extension provider and the ext_proc cluster name. */
  readonly serviceHost: string;
  /** The cluster name Istio gives that Service's gRPC port in every proxy. */
  readonly toolgateCluster: string;
  readonly resource: URL;
  /** Paths toolgate must see: the MCP endpoint and its RFC 9728 metadata document. */
  readonly paths: readonly string[];
  readonly backends: readonly IstioBackend[];
  /** Gateway mode with `server.eventsPort`: the ingress gateway routes GET streams to toolgate's event-stream server. */
  readonly eventsPort: number | undefined;
}

export interface IstioOptions {
  /** toolgate's namespace; default `toolgate`. */
  readonly namespace?: string;
  /** Namespace of the backends' Services (gateway mode); default the toolgate namespace. */
  readonly backendNamespace?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function planIstio(config: ParsedConfig, file: string, opts: IstioOptions): IstioPlan {
  const namespace = opts.namespace ?? APP;
  const backendNamespace = opts.backendNamespace ?? namespace;
  const issues: ConfigIssue[] = [];
  for (const [flag, value] of [['--namespace', namespace], ['--backend-namespace', backendNamespace]] as const) {
    if (!DNS_LABEL.test(value)) issues.push({ path: flag, message: `"${value}" is not a Kubernetes namespace name (lower-case letters, digits, -)` });
  }
  for (const key of ['grpcPort', 'adminPort', 'eventsPort'] as const) {
    if (config.server[key] === 0) issues.push({ path: `server.${key}`, message: 'a Service needs a fixed port (0 picks a random one)' });
  }
  const configured = Object.entries(config.backends).sort(([a], [b]) => compareText(a, b));
  const mode = configured.length > 1 ? 'gateway' : 'sidecar';
  if (mode === 'gateway' && !config.egress) issues.push({ path: 'egress', message: 'required when more than one backend is configured' });
  const backends = configured.map(([name, b]): IstioBackend => {
    if (!DNS_LABEL.test(name)) issues.push({ path: `backends.${name}`, message: 'a backend name must also be a Kubernetes Service name (lower-case letters, digits, -)' });
    return { name, host: `${name}.${backendNamespace}.svc.cluster.local`, port: commonPort(b.endpoints), path: b.path };
  });
  if (issues.length > 0) throw new ConfigError(file, issues);
  const serviceHost = `${APP}.${namespace}.svc.cluster.local`;
  const grpcPort = config.server.grpcPort;
  const resource = new URL(config.resource);
  return {
    mode,
    namespace,
    grpcPort,
    adminPort: config.server.adminPort,
    maxBodyBytes: config.policy.maxBodyBytes,
    shutdownGraceSeconds: Math.ceil(durationMs(config.server.shutdownGrace) / 1000),
    serviceHost,
    toolgateCluster: `outbound|${grpcPort}||${serviceHost}`,
    resource,
    paths: mcpPaths(config, resource),
    backends,
    eventsPort: mode === 'gateway' ? config.server.eventsPort : undefined,
  };
}

/** The endpoint itself, anything below it, and the metadata document(s) toolgate answers through the proxy. */
function mcpPaths(config: ParsedConfig, resource: URL): string[] {
  const endpoint = resource.pathname.replace(/\/+$/, '') || '/';
  const below = endpoint === '/' ? [] : [`${endpoint}/*`];
  return [...new Set([endpoint, ...below, ...buildMetadata(config).paths])];
}

function commonPort(endpoints: readonly string[] | undefined): number | undefined {
  const ports = new Set((endpoints ?? []).map((e) => /:(\d{1,5})$/.exec(e)?.[1]));
  const [only] = [...ports];
  return ports.size === 1 && only !== undefined ? Number(only) : undefined;
}
