// What the Envoy bootstrap needs from a toolgate config: mode, backend clusters and endpoints, 2026 fast-path tools.
import { ConfigError, type ConfigIssue } from '../../core/config/errors.js';
import type { ParsedConfig } from '../../core/config/schema.js';
import { compareText, compileNaming, resolveExposed } from '../../core/mcp/names.js';
import { declaresStateless } from '../../core/mcp/protocol.js';
import type { CompiledPolicy } from '../../core/policy/compile.js';
import { parsePattern } from '../../core/policy/match.js';

/** The cluster of the one MCP server when a sidecar config names no backend. */
export const DEFAULT_BACKEND_CLUSTER = 'backend';
/** Envoy cluster of toolgate's gRPC server (ext_authz + ext_proc). */
export const TOOLGATE_CLUSTER = 'toolgate';

export interface Endpoint {
  /** Host name, IP address or a placeholder. */
  readonly address: string;
  /** A port number, or a placeholder string. */
  readonly port: number | string;
}

export interface BackendPlan {
  /** Backend name from the config (the `x-toolgate-backend` value). */
  readonly name: string;
  readonly cluster: string;
  readonly endpoints: readonly Endpoint[];
  /** Request path on the backend, when the config fixes one. */
  readonly path: string | undefined;
}

export interface FastTool {
  /** Exact tool name as clients send it in `Mcp-Name`. */
  readonly tool: string;
  /** Gateway mode: the backends whose names route unchanged (`prefixMode: never`); empty in sidecar mode. */
  readonly backends: readonly string[];
}

export interface EnvoyPlan {
  /** sidecar: at most one backend, toolgate never re-routes; gateway: toolgate picks the backend per call. */
  readonly mode: 'sidecar' | 'gateway';
  readonly maxBodyBytes: number;
  readonly backends: readonly BackendPlan[];
  readonly fastTools: readonly FastTool[];
  /** Gateway mode with `server.eventsPort`: GET streams are routed to toolgate's event-stream server. */
  readonly events: boolean;
}

export function planEnvoy(config: ParsedConfig, policy: CompiledPolicy, file: string): EnvoyPlan {
  const issues: ConfigIssue[] = [];
  const configured = Object.entries(config.backends).sort(([a], [b]) => compareText(a, b));
  // The same rule `toolgate serve` uses to pick its processor.
  const mode = configured.length > 1 ? 'gateway' : 'sidecar';
  const backends: BackendPlan[] = configured.length === 0
    ? [{ name: DEFAULT_BACKEND_CLUSTER, cluster: DEFAULT_BACKEND_CLUSTER, endpoints: [defaultEndpoint('BACKEND')], path: undefined }]
    : configured.map(([name, b]) => ({ name, cluster: b.cluster, endpoints: endpointsOf(name, b.endpoints, issues), path: b.path }));
  checkClusters(backends, issues);
  if (mode === 'gateway') {
    // toolgate itself refuses these configs; a rendered Envoy for them would be half a deployment.
    if (!config.egress) issues.push({ path: 'egress', message: 'required when more than one backend is configured (toolgate reaches backends through Envoy\'s egress listener)' });
    try {
      compileNaming(config.backends);
    } catch (err) {
      issues.push({ path: 'backends', message: (err as Error).message });
    }
  }
  if (issues.length > 0) throw new ConfigError(file, issues);
  return {
    mode,
    maxBodyBytes: config.policy.maxBodyBytes,
    backends,
    fastTools: mode === 'gateway' ? gatewayFastTools(config, policy) : sidecarFastTools(config, policy),
    events: mode === 'gateway' && config.server.eventsPort !== undefined,
  };
}

/** The one backend must be declared 2026-capable (backends.<name>.protocols, or backendProtocols without backends). */
function sidecarFastTools(config: ParsedConfig, policy: CompiledPolicy): FastTool[] {
  const [only] = Object.values(config.backends);
  if (!declaresStateless(only ? only.protocols : config.backendProtocols)) return [];
  return headersOnlyTools(policy).map((tool) => ({ tool, backends: [] }));
}

/**
 * Exact tool names every task decides without `mcp.arguments`. A name some task's rule (exact or a
 * pattern that wins for it) judges by arguments is left out: the route cannot know the caller's task,
 * so its body must stay buffered for everyone.
 */
export function headersOnlyTools(policy: CompiledPolicy): string[] {
  const candidates = new Set<string>();
  for (const rule of policy.rules.values()) {
    if (!rule.needsArguments && parsePattern(rule.tool).prefix === undefined) candidates.add(rule.tool);
  }
  return [...candidates]
    .filter((tool) => [...policy.tasks.values()].every((task) => task.tools.find(tool)?.needsArguments !== true))
    .sort();
}

/**
 * Only names that reach a backend unchanged (a prefixed name needs its body rewritten, so it stays buffered), and only
 * on backends declared 2026-capable: a header-only route sends them requests whose body toolgate never reads.
 */
function gatewayFastTools(config: ParsedConfig, policy: CompiledPolicy): FastTool[] {
  const naming = compileNaming(config.backends);
  const bare = Object.entries(config.backends)
    .filter(([name, b]) => naming.backends.get(name)?.mode === 'never' && declaresStateless(b.protocols))
    .map(([name]) => name)
    .sort();
  if (bare.length === 0) return [];
  return headersOnlyTools(policy)
    .filter((tool) => resolveExposed(tool, naming) === undefined)
    .map((tool) => ({ tool, backends: bare }));
}

const ENDPOINT = /^(\[[^\]\s]+\]|[^\s:[\]]+):(\d{1,5}|\$\{[A-Z][A-Z0-9_]*\})$/;

function endpointsOf(name: string, given: readonly string[] | undefined, issues: ConfigIssue[]): Endpoint[] {
  if (given === undefined) {
    const base = name.toUpperCase().replaceAll('-', '_');
    if (!/^[A-Z]/.test(base)) {
      issues.push({ path: `backends.${name}.endpoints`, message: 'required: a backend name not starting with a letter gives no ${NAME_ADDRESS} placeholder' });
      return [];
    }
    return [defaultEndpoint(base)];
  }
  return given.flatMap((entry, i) => {
    const m = ENDPOINT.exec(entry);
    const port = m?.[2] === undefined ? undefined : /^\d+$/.test(m[2]) ? Number(m[2]) : m[2];
    if (!m?.[1] || port === undefined || (typeof port === 'number' && (port < 1 || port > 65535))) {
      issues.push({ path: `backends.${name}.endpoints[${i}]`, message: `"${entry}" is not host:port (e.g. billing-1.billing.svc:8080 or \${BILLING_1_ADDRESS}:\${BILLING_1_PORT})` });
      return [];
    }
    return [{ address: m[1].replace(/^\[(.*)\]$/, '$1'), port }];
  });
}

function defaultEndpoint(base: string): Endpoint {
  return { address: `\${${base}_ADDRESS}`, port: `\${${base}_PORT}` };
}

function checkClusters(backends: readonly BackendPlan[], issues: ConfigIssue[]): void {
  const owner = new Map<string, BackendPlan>();
  for (const b of backends) {
    if (b.cluster === TOOLGATE_CLUSTER) issues.push({ path: `backends.${b.name}.cluster`, message: `"${TOOLGATE_CLUSTER}" is the cluster of toolgate's own gRPC server` });
    const other = owner.get(b.cluster);
    // Two backends may share a server (e.g. different paths on one host), but one cluster has one endpoint list.
    if (other !== undefined && JSON.stringify(other.endpoints) !== JSON.stringify(b.endpoints)) {
      issues.push({ path: `backends.${b.name}.endpoints`, message: `cluster "${b.cluster}" is also used by backend ${other.name} with other endpoints` });
    }
    owner.set(b.cluster, other ?? b);
  }
}
