// The pinned istioctl and helm (built by scripts/install-istioctl.mjs / install-helm.mjs), run as an operator would.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './repo.js';

/** The istio.io/istio module version istioctl is built from (istio/ISTIOCTL_VERSION). */
export const ISTIOCTL_VERSION = readFileSync(join(REPO_ROOT, 'istio', 'ISTIOCTL_VERSION'), 'utf8').trim();
/** The helm.sh/helm/v4 module version helm is built from (charts/HELM_VERSION). */
export const HELM_VERSION = readFileSync(join(REPO_ROOT, 'charts', 'HELM_VERSION'), 'utf8').trim();

function binary(name: 'istioctl' | 'helm', env: string | undefined, pin: string): string {
  const bin = env || join(REPO_ROOT, '.tools', name, pin, name);
  if (!existsSync(bin)) throw new Error(`no ${name} at ${bin}: run \`node scripts/install-${name}.mjs\` (npm test does it in pretest)`);
  return bin;
}

export const istioctlBinary = (): string => binary('istioctl', process.env.ISTIOCTL_BIN, ISTIOCTL_VERSION);
export const helmBinary = (): string => binary('helm', process.env.HELM_BIN, HELM_VERSION);

export interface ToolRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout and stderr together, for assertion messages. */
  readonly output: string;
}

function run(bin: string, args: readonly string[], input?: string): ToolRun {
  // No kubeconfig: nothing may reach for a cluster (there is none here); HOME kept so helm finds no user plugins.
  const env = { ...process.env, KUBECONFIG: '/dev/null', HELM_CACHE_HOME: join(REPO_ROOT, '.tools', 'helm', 'cache'), HELM_CONFIG_HOME: join(REPO_ROOT, '.tools', 'helm', 'config'), HELM_DATA_HOME: join(REPO_ROOT, '.tools', 'helm', 'data') };
  const out = spawnSync(bin, args, { encoding: 'utf8', input, env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  if (out.error) throw new Error(`${bin} ${args.join(' ')}: ${out.error.message}`);
  return { status: out.status, stdout: out.stdout, stderr: out.stderr, output: `${out.stdout}${out.stderr}` };
}

export const istioctl = (args: readonly string[], input?: string): ToolRun => run(istioctlBinary(), args, input);
export const helm = (args: readonly string[], input?: string): ToolRun => run(helmBinary(), args, input);

/**
 * The one warning Istio gives for every EnvoyFilter, whatever it holds. toolgate's ext_proc filter has no other Istio
 * API (TrafficExtension carries only Wasm and Lua), so the EnvoyFilters are expected to carry it and nothing else.
 */
export const ENVOYFILTER_WARNING = /EnvoyFilter exposes internal implementation details that may change at any time/;

/**
 * Every line of `istioctl validate` output an operator would have to act on: anything but `"FILE" is valid`, the
 * header of a warnings block, and the EnvoyFilter warning above. A deprecation is a warning, so it is listed too.
 */
export function complaints(output: string): string[] {
  return output.split('\n').map((l) => l.trim()).filter((l) => l !== ''
    && !/^"[^"]*" is valid$/.test(l)
    && !/^"[^"]*" has warnings:\s*$/.test(l)
    && !(l.startsWith('* EnvoyFilter/') && ENVOYFILTER_WARNING.test(l)));
}
