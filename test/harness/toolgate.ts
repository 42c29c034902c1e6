// The built toolgate CLI as a child process: one launcher for every suite that runs it (e2e, security, integration).
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.js';
import { freePort } from './ports.js';
import { startProcess, type ExitStatus, type ManagedProcess } from './process.js';
import { REPO_ROOT } from './repo.js';

export const TOOLGATE_BIN = join(REPO_ROOT, 'bin', 'toolgate.js');
export const BUILT_CLI = join(REPO_ROOT, 'dist', 'cli', 'main.js');

/** The suites run the compiled CLI, never the sources: fail at once, and say how to fix it, when it is missing. */
export function requireBuiltDist(): void {
  if (!existsSync(BUILT_CLI)) {
    throw new Error(`${BUILT_CLI} is missing: the e2e tests run the built toolgate. Run \`npm run build\` first (\`npm test\` does it in pretest).`);
  }
}

/** The admin bearer secret's file name, next to the config file (`server.adminTokenFile` is relative to it). */
export const ADMIN_TOKEN_FILE = 'admin-token';

/** Writes a fresh admin bearer secret into `dir` (where the config file goes); returns the secret. */
export async function writeAdminToken(dir: string): Promise<string> {
  const token = randomBytes(32).toString('base64url');
  await writeFile(join(dir, ADMIN_TOKEN_FILE), `${token}\n`, { mode: 0o600 });
  return token;
}

export interface ToolgatePorts {
  readonly grpcPort: number;
  readonly adminPort: number;
}

export interface StartToolgateOptions {
  /** The config file's text, given the ports toolgate will listen on. */
  readonly config: string | ((ports: ToolgatePorts) => string);
  /** Pre-allocated ports (Envoy's template needs the gRPC port before toolgate starts); free ones otherwise. */
  readonly grpcPort?: number;
  readonly adminPort?: number;
  /** Writes what the config names beside it (e.g. a JWKS file) into toolgate's directory before it starts. */
  readonly prepare?: (dir: string) => Promise<unknown>;
  /** Added to the environment; `undefined` removes a variable. */
  readonly env?: Record<string, string | undefined>;
  /** TOOLGATE_LOG_LEVEL; default info (the suites read the decision records). */
  readonly logLevel?: string;
  /** Shown in printed logs before the gRPC port; default `toolgate`. */
  readonly name?: string;
  /** How long stop() waits after SIGTERM before SIGKILL; default 10 s. */
  readonly stopTimeoutMs?: number;
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
  /** rewriteConfig, then waits until toolgate logs that the new file took effect (throws if it rejected it). */
  reload(text: string): Promise<void>;
  /** The running process; undefined while stopped. */
  process(): ManagedProcess | undefined;
  /** SIGTERM (SIGKILL after a grace period); resolves with the exit status. Idempotent. */
  stop(): Promise<ExitStatus | undefined>;
  /** Starts toolgate again on the same ports and config file (stopping it first if running). */
  restart(): Promise<void>;
  /** stop() and remove the temp dir. */
  dispose(): Promise<void>;
}

/** `node bin/toolgate.js serve --config …` on 127.0.0.1, ready once /readyz answers 2xx. */
export async function startToolgate(opts: StartToolgateOptions): Promise<Toolgate> {
  requireBuiltDist();
  const grpcPort = opts.grpcPort ?? (await freePort());
  const adminPort = opts.adminPort ?? (await freePort());
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-run-'));
  const configPath = join(dir, 'toolgate.yaml');
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const incarnations: ManagedProcess[] = [];
  let running: ManagedProcess | undefined;
  let adminToken: string;

  const launch = async () => {
    running = await startProcess({
      name: `${opts.name ?? 'toolgate'} :${grpcPort}${incarnations.length ? ` (restart ${incarnations.length})` : ''}`,
      command: process.execPath,
      args: [
        TOOLGATE_BIN, 'serve', '--config', configPath,
        '--host', '127.0.0.1', '--grpc-port', String(grpcPort), '--admin-port', String(adminPort),
      ],
      env: { TOOLGATE_LOG_LEVEL: opts.logLevel ?? 'info', ...opts.env },
      readyUrl: `${adminUrl}/readyz`,
      readyTimeoutMs: 20_000,
      stopTimeoutMs: opts.stopTimeoutMs ?? 10_000,
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
  const rewriteConfig = async (text: string) => {
    const staged = join(dir, `.toolgate.yaml.${randomUUID()}`);
    await writeFile(staged, text);
    await rename(staged, configPath);
  };

  try {
    await writeFile(configPath, typeof opts.config === 'string' ? opts.config : opts.config({ grpcPort, adminPort }));
    adminToken = await writeAdminToken(dir);
    await opts.prepare?.(dir);
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
    rewriteConfig,
    async reload(text) {
      await rewriteConfig(text);
      // Only a reload that started after the rename read the new file. The watcher's debounce puts the one the
      // rename triggers 100 ms later; a reload logged sooner may have read the old file (a late poll).
      const after = Date.now() + 80;
      const since = () => records().filter((r) => typeof r.time === 'string' && Date.parse(r.time) > after);
      await eventually(() => {
        const rejected = since().find((r) => r.event === 'config.rejected');
        if (rejected) throw new Error(`toolgate rejected the new config: ${JSON.stringify(rejected.issues)}`);
        return since().some((r) => r.event === 'config.reloaded');
      }, 'toolgate reloaded its config', 10_000, 50);
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
