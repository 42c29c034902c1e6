// The gateway e2e stack: test IdP, billing and inventory MCP servers (two replicas each), the built toolgate CLI,
// and the pinned Envoy running the checked-in envoy/gateway.yaml (rendered from examples/gateway.yaml).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { parse, stringify } from 'yaml';
import type { RawConfig } from '../../../src/core/config/schema.js';
import { startEnvoy, type EnvoyInstance } from '../../harness/envoy.js';
import { REPO_ROOT } from '../../harness/repo.js';
import { startTestIdp, type TestIdp } from '../../harness/jwt.js';
import { startMcpServer, type McpTestServer, type McpTestServerOptions } from '../../harness/mcp-server.js';
import { freePort } from '../../harness/ports.js';
import { ADMIN_TOKEN_FILE, requireBuiltDist, startToolgate, type Toolgate } from '../../harness/toolgate.js';
import type { TasksConfig } from './toolgate.js';

/** The bootstrap `toolgate render envoy --config examples/gateway.yaml` generated; the suites run it, never a copy. */
export const GATEWAY_TEMPLATE = join(REPO_ROOT, 'envoy', 'gateway.yaml');
export const GATEWAY_EXAMPLE = join(REPO_ROOT, 'examples', 'gateway.yaml');

export type ReplicaName = 'b1' | 'b2' | 'i1' | 'i2';
export const BILLING: readonly ReplicaName[] = ['b1', 'b2'];
export const INVENTORY: readonly ReplicaName[] = ['i1', 'i2'];

/**
 * `support` may use some tools of each backend and not the others; `operator` may call any name at all
 * (so a call for an unknown backend gets past policy and reaches the gateway's routing).
 */
export const GATEWAY_TASKS: TasksConfig = {
  support: {
    description: 'Answer a customer; look things up in billing and inventory',
    tools: [
      { tool: 'billing.echo' },
      { tool: 'billing.whoami' },
      { tool: 'billing.slow' },
      { tool: 'billing.lookup_charge' },
      { tool: 'billing.refund', when: 'mcp.arguments.amount <= jwt.refund_limit', message: 'Refunds above {{jwt.refund_limit}} need a human approver. Do not retry.' },
      { tool: 'inventory.echo' },
      { tool: 'inventory.whoami' },
    ],
  },
  operator: { description: 'Anything, for the routing tests', tools: [{ tool: '*' }] },
};
export const SUPPORT_CLAIMS = { authorized_tasks: ['support'], refund_limit: 100 };
export const OPERATOR_CLAIMS = { authorized_tasks: ['operator'] };

export interface SessionKeyConfig {
  readonly kid: string;
  readonly secret: string;
}

/** A fresh AES-256 key in the form the keyring takes as-is (43 base64url characters). */
export function newSessionKey(kid: string): SessionKeyConfig {
  return { kid, secret: randomBytes(32).toString('base64url') };
}

export interface GatewayConfigChanges {
  readonly tasks?: TasksConfig;
  readonly ttl?: string;
  readonly keys?: readonly SessionKeyConfig[];
}

export interface GatewayStackOptions extends GatewayConfigChanges {
  /**
   * Every backend's `prefixMode` (default: the example's `always`). The rendered bootstrap routes 2025 traffic the
   * same for any mode (only 2026 fast-path routes depend on it, and the example's backends are 2025-only).
   */
  readonly prefixMode?: 'always' | 'collision' | 'never';
  /** `egress.timeout` (default: the example's): how long toolgate waits for a backend it asks itself. */
  readonly egressTimeout?: string;
  /** `server.extProcCloseWait` (default: the config's): it must stay below the bootstrap's gRPC client cache idle time. */
  readonly extProcCloseWait?: string;
  /** TOOLGATE_LOG_LEVEL; default info. */
  readonly logLevel?: 'info' | 'debug';
  /** More Envoy arguments, e.g. `--component-log-level ext_proc:debug`. */
  readonly envoyArgs?: readonly string[];
  /** Options for one replica's MCP server (e.g. `extend` to register templates); its replica id is always its name. */
  readonly replicaOptions?: (name: ReplicaName) => McpTestServerOptions;
  /** Envoy bootstrap template; default envoy/gateway.yaml (a test's variant of it, e.g. with other bootstrap settings). */
  readonly envoyTemplate?: string;
  /** As for the sidecar stack (`StackOptions.interpose`): Envoy dials the port this returns instead of toolgate's. */
  readonly interpose?: (toolgateGrpcPort: number) => Promise<number>;
}

export interface GatewayStack {
  readonly idp: TestIdp;
  readonly envoy: EnvoyInstance;
  readonly toolgate: Toolgate;
  readonly replicas: Readonly<Record<ReplicaName, McpTestServer>>;
  /** Envoy's listener + `/mcp`: the MCP endpoint, the resource and the token audience. */
  readonly endpoint: string;
  /** toolgate's event-stream server (reached directly, bypassing Envoy, only by tests that try to). */
  readonly eventsUrl: string;
  /** The toolgate config for these ports with some sections changed (for `toolgate.reload`). */
  configText(changes?: GatewayConfigChanges): string;
  stop(): Promise<void>;
}

/**
 * examples/gateway.yaml with what only the test knows filled in: the IdP, Envoy's resource URL and egress
 * port, toolgate's ports, inline session keys, and the test's tasks. Backends, prefixes, paths and policy stay
 * as the example has them, because the rendered Envoy file was generated from that same example.
 */
export function gatewayConfigText(base: {
  envoyUrl: string; egressPort: number; grpcPort: number; adminPort: number; eventsPort?: number; idp: Pick<TestIdp, 'issuer' | 'jwksUrl'>;
  prefixMode?: 'always' | 'collision' | 'never';
  egressTimeout?: string;
  extProcCloseWait?: string;
}, changes: Required<GatewayConfigChanges>): string {
  const example = parse(readFileSync(GATEWAY_EXAMPLE, 'utf8')) as RawConfig;
  const mode = base.prefixMode;
  const backends = mode === undefined
    ? example.backends
    : Object.fromEntries(Object.entries(example.backends ?? {}).map(([name, b]) => [name, { ...b, prefixMode: mode }]));
  if (!base.idp.jwksUrl) throw new Error('gatewayConfigText: the IdP must serve its JWKS over HTTP');
  const config: RawConfig = {
    ...example,
    resource: `${base.envoyUrl}/mcp`,
    server: {
      host: '127.0.0.1', grpcPort: base.grpcPort, adminPort: base.adminPort, shutdownGrace: '2s', adminTokenFile: ADMIN_TOKEN_FILE,
      ...(base.eventsPort === undefined ? {} : { eventsPort: base.eventsPort }),
      ...(base.extProcCloseWait === undefined ? {} : { extProcCloseWait: base.extProcCloseWait }),
    },
    identity: { ...example.identity, jwt: { issuer: base.idp.issuer, jwksUri: base.idp.jwksUrl, algorithms: ['RS256'] } },
    metadata: { ...example.metadata, authorizationServers: [base.idp.issuer] },
    session: { ttl: changes.ttl, keys: changes.keys.map((k) => ({ kid: k.kid, secret: k.secret })) },
    egress: { ...example.egress, url: `http://127.0.0.1:${base.egressPort}`, ...(base.egressTimeout === undefined ? {} : { timeout: base.egressTimeout }) },
    ...(backends === undefined ? {} : { backends }),
    tasks: changes.tasks,
  };
  return stringify(config);
}

export async function startGatewayStack(opts: GatewayStackOptions = {}): Promise<GatewayStack> {
  requireBuiltDist();
  const cleanup: Array<() => Promise<unknown>> = [];
  const unwind = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const replicas = {} as Record<ReplicaName, McpTestServer>;
    for (const name of [...BILLING, ...INVENTORY]) {
      const server = await startMcpServer({ ...opts.replicaOptions?.(name), replicaId: name });
      cleanup.push(() => server.stop());
      replicas[name] = server;
    }
    const [grpcPort, adminPort, egressPort, eventsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const envoy = await startEnvoy({
      template: opts.envoyTemplate ?? GATEWAY_TEMPLATE,
      name: 'envoy (gateway.yaml)',
      ...(opts.envoyArgs ? { extraArgs: opts.envoyArgs } : {}),
      vars: {
        TOOLGATE_GRPC_PORT: opts.interpose ? await opts.interpose(grpcPort) : grpcPort,
        TOOLGATE_EVENTS_PORT: eventsPort,
        EGRESS_PORT: egressPort,
        BILLING_1_ADDRESS: '127.0.0.1', BILLING_1_PORT: replicas.b1.port,
        BILLING_2_ADDRESS: '127.0.0.1', BILLING_2_PORT: replicas.b2.port,
        INVENTORY_1_ADDRESS: '127.0.0.1', INVENTORY_1_PORT: replicas.i1.port,
        INVENTORY_2_ADDRESS: '127.0.0.1', INVENTORY_2_PORT: replicas.i2.port,
      },
    });
    cleanup.push(() => envoy.stop());
    const endpoint = `${envoy.url}/mcp`;
    const idp = await startTestIdp({ audience: endpoint });
    cleanup.push(() => idp.stop());

    const initial: Required<GatewayConfigChanges> = {
      tasks: opts.tasks ?? GATEWAY_TASKS,
      ttl: opts.ttl ?? '1h',
      keys: opts.keys ?? [newSessionKey('k1')],
    };
    const configText = (changes: GatewayConfigChanges = {}) =>
      gatewayConfigText({ envoyUrl: envoy.url, egressPort, grpcPort, adminPort, eventsPort, idp, ...(opts.prefixMode ? { prefixMode: opts.prefixMode } : {}), ...(opts.egressTimeout ? { egressTimeout: opts.egressTimeout } : {}), ...(opts.extProcCloseWait ? { extProcCloseWait: opts.extProcCloseWait } : {}) }, { ...initial, ...changes });
    const toolgate = await startToolgate({ config: configText(), grpcPort, adminPort, logLevel: opts.logLevel ?? 'info', name: 'toolgate gateway', stopTimeoutMs: 5_000 });
    cleanup.push(() => toolgate.dispose());
    return { idp, envoy, toolgate, replicas, endpoint, eventsUrl: `http://127.0.0.1:${eventsPort}/mcp`, configText, stop: unwind };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/** The protected header of a compact JWE (the client-facing session token), decoded. */
export function tokenHeader(token: string): Record<string, unknown> {
  const [header = ''] = token.split('.');
  return JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
}

export interface WhoAmI {
  readonly replica: ReplicaName;
  /** The backend's own session id, as the backend saw it. */
  readonly sessionId: string;
}

/** Calls a `whoami` tool (`billing.whoami`, `inventory.whoami`) and returns which replica and backend session served it. */
export async function whoami(agent: { client: Client }, tool: string): Promise<WhoAmI> {
  const result = (await agent.client.callTool({ name: tool, arguments: {} })) as CallToolResult;
  if (result.isError) throw new Error(`${tool} failed: ${JSON.stringify(result.content)}`);
  const structured = result.structuredContent as { replica?: string; sessionId?: string } | undefined;
  if (!structured?.replica || !structured.sessionId) throw new Error(`${tool}: no replica in ${JSON.stringify(result)}`);
  return { replica: structured.replica as ReplicaName, sessionId: structured.sessionId };
}
