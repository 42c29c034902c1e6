// Envoy for the benchmark: `toolgate render envoy` with the built CLI, and one Envoy process per bootstrap variant
// (bootstrap.ts), on free ports.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../../test/harness/ports.js';
import { startChild, waitReady, type Child } from './procs.js';
import { PLACEHOLDER } from '../../src/cli/render/placeholders.js';

/** `toolgate render envoy --config FILE` with the built CLI: the bootstrap exactly as users get it. */
export function renderEnvoy(repoRoot: string, configPath: string): string {
  return execFileSync(process.execPath, [join(repoRoot, 'bin', 'toolgate.js'), 'render', 'envoy', '--config', configPath], {
    encoding: 'utf8',
    cwd: repoRoot,
  });
}

export interface RunningEnvoy {
  readonly name: string;
  readonly origin: string;
  readonly adminUrl: string;
  readonly child: Child;
}

export interface EnvoyStart {
  readonly name: string;
  readonly binary: string;
  readonly bootstrap: string;
  readonly workDir: string;
  /** Placeholder values besides the listener and admin ports (toolgate's gRPC port, backend addresses and ports). */
  readonly vars: Readonly<Record<string, string | number>>;
  readonly concurrency: number;
  /** Envoy's output (access log included) to this file; discarded otherwise. */
  readonly logFile?: string | undefined;
}

export async function startEnvoy(opts: EnvoyStart): Promise<RunningEnvoy> {
  const listenPort = await freePort();
  const adminPort = await freePort();
  const vars: Record<string, string | number> = {
    LISTEN_ADDRESS: '127.0.0.1',
    LISTEN_PORT: listenPort,
    ADMIN_PORT: adminPort,
    TOOLGATE_GRPC_ADDRESS: '127.0.0.1',
    ...opts.vars,
  };
  // Lenient about unused values: the stripped variants (b), (c) and (g) lose the toolgate placeholders.
  const text = opts.bootstrap.replace(PLACEHOLDER, (_whole, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`envoy ${opts.name}: no value for \${${name}}`);
    return String(value);
  });
  const configPath = join(opts.workDir, `envoy-${opts.name}.yaml`);
  writeFileSync(configPath, text);
  const child = startChild({
    name: `envoy ${opts.name}`,
    command: opts.binary,
    args: ['-c', configPath, '--disable-hot-restart', '-l', 'warning', '--concurrency', String(opts.concurrency)],
    ...(opts.logFile ? { logFile: opts.logFile } : {}),
  });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  try {
    await waitReady(child, `${adminUrl}/ready`);
  } catch (err) {
    await child.stop();
    throw err;
  }
  return { name: opts.name, origin: `http://127.0.0.1:${listenPort}`, adminUrl, child };
}
