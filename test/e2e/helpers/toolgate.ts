// Runs the built toolgate CLI as a child process with a generated config, and assembles the full e2e stack.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { RawConfig } from '../../../src/core/config/schema.js';
import { REPO_ROOT, startEnvoy, type EnvoyInstance } from '../../harness/envoy.js';
import { startTestIdp, type TestIdp } from '../../harness/jwt.js';
import { startMcpServer, type McpTestServer, type McpTestServerOptions } from '../../harness/mcp-server.js';
import { freePort } from '../../harness/ports.js';
import { startProcess, type ExitStatus, type ManagedProcess } from '../../harness/process.js';

export const TOOLGATE_BIN = join(REPO_ROOT, 'bin', 'toolgate.js');
export const BUILT_CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** The e2e suites run the compiled CLI, never the sources: fail at once, and say how to fix it, when it is missing. */
export function requireBuiltDist(): void {
  if (!existsSync(BUILT_CLI)) {
    throw new Error(`${BUILT_CLI} is missing: the e2e tests run the built toolgate. Run \`npm run build\` first (\`npm test\` does it in pretest).`);
  }
}

export type TasksConfig = NonNullable<RawConfig['tasks']>;

/** The admin bearer secret's file name, next to the config file (`server.adminTokenFile` is relative to it). */
export const ADMIN_TOKEN_FILE = 'admin-token';

/** Writes a fresh admin bearer secret into `dir` (where the config file goes); returns the secret. */
export async function writeAdminToken(dir: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await writeFile(join(dir, ADMIN_TOKEN_FILE), `${token}\n`, { mode: 0o600 });
  return token;
}

export interface ToolgateConfigOptions {
  /** Envoy's listener URL; the resource (and token audience) is this plus `/mcp`. */
  readonly envoyUrl: string;
  readonly idp: Pick<TestIdp, 'issuer' | 'jwksUrl'>;
  readonly tasks: TasksConfig;
  /** Top-level sections merged over the generated ones (e.g. `policy`, `metadata`). */
  readonly extra?: Partial<RawConfig>;
}

/** The config toolgate runs with, as YAML. Tests use it to build edits for hot reload. */
export function toolgateConfigText(opts: ToolgateConfigOptions, ports: { grpcPort: number; adminPort: number }): string {
  if (!opts.idp.jwksUrl) throw new Error('toolgateConfigText: the IdP must serve its JWKS over HTTP');
  const config: RawConfig = {
    resource: `${opts.envoyUrl}/mcp`,
    server: { host: '127.0.0.1', grpcPort: ports.grpcPort, adminPort: ports.adminPort, shutdownGrace: '5s', adminTokenFile: ADMIN_TOKEN_FILE },
    identity: {
      jwt: { issuer: opts.idp.issuer, jwksUri: opts.idp.jwksUrl, algorithms: ['RS256'] },
      task: { claim: 'authorized_tasks' },
    },
    tasks: opts.tasks,
    ...opts.extra,
  };
  return stringify(config);
}

export interface StartToolgateOptions extends ToolgateConfigOptions {
  /** Pre-allocated ports (Envoy's template needs the gRPC port before toolgate starts); free ones otherwise. */
  readonly grpcPort?: number;
  readonly adminPort?: number;
}

export interface Toolgate {
  readonly grpcPort: number;
  readonly adminPort: number;
  readonly adminUrl: string;
  readonly configPath: string;
  /** The bearer secret the admin port's state-changing endpoints require (`server.adminTokenFile`). */
  readonly adminToken: string;
  /** Everything every incarnation of the process wrote, oldest first. */
  logs(): string;
  /** The JSON log lines, parsed (other lines skipped). */
  records(): Array<Record<string, unknown>>;
  /** The audit records (`event: "decision"`). */
  decisions(): Array<Record<string, unknown>>;
  /** Replaces the config file atomically (write + rename), as editors and ConfigMap updates do. */
  rewriteConfig(text: string): Promise<void>;
  /** The running process; undefined while stopped. */
  process(): ManagedProcess | undefined;
  /** SIGTERM (SIGKILL after a grace period); resolves with the exit status. Idempotent. */
  stop(): Promise<ExitStatus | undefined>;
  /** Starts toolgate again on the same ports and config file (stopping it first if running). */
  restart(): Promise<void>;
  /** stop() and remove the temp dir. */
  dispose(): Promise<void>;
}

export async function startToolgate(opts: StartToolgateOptions): Promise<Toolgate> {
  requireBuiltDist();
  const grpcPort = opts.grpcPort ?? (await freePort());
  const adminPort = opts.adminPort ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-e2e-'));
  const configPath = join(dir, 'toolgate.yaml');
  await writeFile(configPath, toolgateConfigText(opts, { grpcPort, adminPort }));
  const adminToken = await writeAdminToken(dir);
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const incarnations: ManagedProcess[] = [];
  let running: ManagedProcess | undefined;

  const launch = async () => {
    running = await startProcess({
      name: `toolgate :${grpcPort}${incarnations.length ? ` (restart ${incarnations.length})` : ''}`,
      command: process.execPath,
      args: [
        TOOLGATE_BIN, 'serve', '--config', configPath,
        '--host', '127.0.0.1', '--grpc-port', String(grpcPort), '--admin-port', String(adminPort),
      ],
      env: { TOOLGATE_LOG_LEVEL: 'info' },
      readyUrl: `${adminUrl}/readyz`,
      readyTimeoutMs: 20_000,
      stopTimeoutMs: 10_000,
    });
    incarnations.push(running);
  };

  const logs = () => incarnations.map((p) => p.logs()).join('');
  const records = () => logs()
    .split('\n')
    .flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  const stop = async () => {
    const proc = running;
    running = undefined;
    return proc?.stop();
  };

  try {
    await launch();
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    grpcPort,
    adminPort,
    adminUrl,
    configPath,
    adminToken,
    logs,
    records,
    decisions: () => records().filter((r) => r.event === 'decision'),
    async rewriteConfig(text) {
      const staged = join(dir, `.toolgate.yaml.${randomUUID()}`);
      await writeFile(staged, text);
      await rename(staged, configPath);
    },
    process: () => running,
    stop,
    async restart() {
      await stop();
      await launch();
    },
    async dispose() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
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
    const toolgate = await startToolgate({ envoyUrl: envoy.url, idp, tasks: opts.tasks, extra: opts.extra, grpcPort, adminPort });
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
