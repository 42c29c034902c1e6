// The sidecar e2e stack (MCP server ← Envoy ← built toolgate, with a test IdP) and the toolgate config it runs with.
import { stringify } from 'yaml';
import type { RawConfig } from '../../../src/core/config/schema.js';
import { startEnvoy, type EnvoyInstance } from '../../harness/envoy.js';
import { startTestIdp, type TestIdp } from '../../harness/jwt.js';
import { startMcpServer, type McpTestServer, type McpTestServerOptions } from '../../harness/mcp-server.js';
import { freePort } from '../../harness/ports.js';
import { ADMIN_TOKEN_FILE, requireBuiltDist, startToolgate, type Toolgate } from '../../harness/toolgate.js';

export type TasksConfig = NonNullable<RawConfig['tasks']>;

export interface ToolgateConfigOptions {
  /** Envoy's listener URL; the resource (and token audience) is this plus `/mcp`. */
  readonly envoyUrl: string;
  readonly idp: Pick<TestIdp, 'issuer' | 'jwksUrl'>;
  readonly tasks: TasksConfig;
  /** Top-level sections merged over the generated ones (e.g. `policy`, `metadata`). */
  readonly extra?: Partial<RawConfig>;
  /** Settings merged over the generated `identity.jwt` (e.g. `jwksTimeout`, `jwksCooldown`). */
  readonly jwt?: Partial<JwtSettings>;
}

type JwtSettings = NonNullable<RawConfig['identity']>['jwt'];

/** The config toolgate runs with, as YAML. Tests use it to build edits for hot reload. */
export function toolgateConfigText(opts: ToolgateConfigOptions, ports: { grpcPort: number; adminPort: number }): string {
  if (!opts.idp.jwksUrl) throw new Error('toolgateConfigText: the IdP must serve its JWKS over HTTP');
  const config: RawConfig = {
    resource: `${opts.envoyUrl}/mcp`,
    server: { host: '127.0.0.1', grpcPort: ports.grpcPort, adminPort: ports.adminPort, shutdownGrace: '5s', adminTokenFile: ADMIN_TOKEN_FILE },
    identity: {
      jwt: { issuer: opts.idp.issuer, jwksUri: opts.idp.jwksUrl, algorithms: ['RS256'], ...opts.jwt },
      task: { claim: 'authorized_tasks' },
    },
    tasks: opts.tasks,
    ...opts.extra,
  };
  return stringify(config);
}

export interface Stack {
  readonly backend: McpTestServer;
  readonly envoy: EnvoyInstance;
  readonly idp: TestIdp;
  readonly toolgate: Toolgate;
  /** The MCP endpoint clients use: Envoy's listener + `/mcp`; also the resource and token audience. */
  readonly endpoint: string;
  /** RFC 9728 metadata URL for the endpoint. */
  readonly metadataUrl: string;
  /** The generated config for other tasks (same ports, IdP and resource), for rewriteConfig. */
  configText(tasks: TasksConfig, extra?: Partial<RawConfig>): string;
  stop(): Promise<void>;
}

export interface StackOptions {
  readonly tasks: TasksConfig;
  readonly extra?: Partial<RawConfig>;
  /** Options for the MCP server behind Envoy (e.g. `extend` to register more features); replica id "backend" unless given. */
  readonly backend?: McpTestServerOptions;
  /** Envoy bootstrap template; default envoy/sidecar.yaml (a test's variant of it, e.g. with other bootstrap settings). */
  readonly envoyTemplate?: string;
  /**
   * Called with toolgate's gRPC port before Envoy starts; Envoy dials the port it returns instead (a recorder that
   * forwards every message to toolgate: scripts/record-envoy-fixtures). Default: Envoy dials toolgate itself.
   */
  readonly interpose?: (toolgateGrpcPort: number) => Promise<number>;
}

/**
 * MCP server ← Envoy (envoy/sidecar.yaml) ← toolgate, with a test IdP. Envoy starts first, pointed at a
 * pre-allocated gRPC port, so the resource URL (Envoy's) is known before toolgate's config is written.
 */
export async function startStack(opts: StackOptions): Promise<Stack> {
  requireBuiltDist();
  const cleanup: Array<() => Promise<unknown>> = [];
  const unwind = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  };
  try {
    const backend = await startMcpServer({ replicaId: 'backend', ...opts.backend });
    cleanup.push(() => backend.stop());
    const grpcPort = await freePort();
    const adminPort = await freePort();
    const envoyGrpcPort = opts.interpose ? await opts.interpose(grpcPort) : grpcPort;
    const envoy = await startEnvoy({ ...(opts.envoyTemplate ? { template: opts.envoyTemplate } : {}), vars: { TOOLGATE_GRPC_PORT: envoyGrpcPort, BACKEND_PORT: backend.port } });
    cleanup.push(() => envoy.stop());
    const endpoint = `${envoy.url}/mcp`;
    const idp = await startTestIdp({ audience: endpoint });
    cleanup.push(() => idp.stop());
    const toolgate = await startToolgate({ config: (ports) => toolgateConfigText({ envoyUrl: envoy.url, idp, tasks: opts.tasks, extra: opts.extra }, ports), grpcPort, adminPort });
    cleanup.push(() => toolgate.dispose());
    return {
      backend,
      envoy,
      idp,
      toolgate,
      endpoint,
      metadataUrl: `${envoy.url}/.well-known/oauth-protected-resource/mcp`,
      configText: (tasks, extra = opts.extra) => toolgateConfigText({ envoyUrl: envoy.url, idp, tasks, extra }, { grpcPort, adminPort }),
      stop: unwind,
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
