// The Envoy bootstraps the benchmark compares: the sidecar file `toolgate render envoy` writes for the bench config,
// and the same file with ext_proc, or both ext_* filters, taken out (with their per-route settings).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort } from '../../test/harness/ports.js';
import { startChild, waitReady, type Child } from './procs.js';
import { PLACEHOLDER } from '../../src/cli/render/placeholders.js';

export const EXT_AUTHZ = 'envoy.filters.http.ext_authz';
export const EXT_PROC = 'envoy.filters.http.ext_proc';
/** Envoy's MCP filter: on the 2026 fast path it reads the body in toolgate's stead, so it goes with toolgate's filters. */
export const MCP = 'envoy.filters.http.mcp';

export type EnvoyVariant = 'router' | 'authz' | 'full';

const FILTERS_KEPT: Record<EnvoyVariant, ReadonlySet<string>> = {
  router: new Set(),
  authz: new Set([EXT_AUTHZ]),
  full: new Set([EXT_AUTHZ, EXT_PROC]),
};

/** `toolgate render envoy --config FILE` with the built CLI: the bootstrap exactly as users get it. */
export function renderSidecar(repoRoot: string, configPath: string): string {
  return execFileSync(process.execPath, [join(repoRoot, 'bin', 'toolgate.js'), 'render', 'envoy', '--config', configPath], {
    encoding: 'utf8',
    cwd: repoRoot,
  });
}

type Json = Record<string, unknown>;

/** The rendered bootstrap with only the ext_* filters of `variant` left in the listener's chain and routes (the MCP filter only in `full`). */
export function variantOf(rendered: string, variant: EnvoyVariant): string {
  // The full path runs the rendered file byte for byte.
  if (variant === 'full') return rendered;
  const doc = parse(rendered) as Json;
  const keep = FILTERS_KEPT[variant];
  const drop = (name: string) => ((name === EXT_AUTHZ || name === EXT_PROC) && !keep.has(name)) || name === MCP;
  let seen = 0;
  for (const hcm of connectionManagers(doc)) {
    const filters = hcm.http_filters as Json[];
    hcm.http_filters = filters.filter((f) => !drop(String(f.name)));
    for (const host of (hcm.route_config as { virtual_hosts: Json[] }).virtual_hosts) {
      for (const route of host.routes as Json[]) {
        const perFilter = route.typed_per_filter_config as Json | undefined;
        if (!perFilter) continue;
        for (const name of Object.keys(perFilter)) if (drop(name)) delete perFilter[name];
        if (Object.keys(perFilter).length === 0) delete route.typed_per_filter_config;
      }
    }
    seen += filters.filter((f) => f.name !== MCP).length - (hcm.http_filters as Json[]).length;
  }
  const expected = 2 - keep.size;
  if (seen !== expected) throw new Error(`envoy variant ${variant}: removed ${seen} filters, expected ${expected} (did the renderer change?)`);
  return stringify(doc, { lineWidth: 0 });
}

/** Adds Envoy runtime values (a static layer), e.g. to try a reloadable feature: `--envoy-runtime NAME=VALUE`. */
export function withRuntime(bootstrap: string, values: Readonly<Record<string, string | number | boolean>>): string {
  if (Object.keys(values).length === 0) return bootstrap;
  const doc = parse(bootstrap) as Json;
  if (doc.layered_runtime) throw new Error('the rendered bootstrap has a layered_runtime already; merge by hand');
  doc.layered_runtime = { layers: [{ name: 'bench', static_layer: { ...values } }] };
  return stringify(doc, { lineWidth: 0 });
}

function connectionManagers(doc: Json): Json[] {
  const listeners = ((doc.static_resources as Json).listeners as Json[]).filter((l) => l.name === 'mcp');
  return listeners.flatMap((l) => (l.filter_chains as Json[]).flatMap((c) => (c.filters as Json[]).map((f) => f.typed_config as Json)));
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
  readonly toolgateGrpcPort: number;
  readonly backendPort: number;
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
    TOOLGATE_GRPC_PORT: opts.toolgateGrpcPort,
    BACKEND_ADDRESS: '127.0.0.1',
    BACKEND_PORT: opts.backendPort,
  };
  // Lenient about unused values: the stripped variants (b) and (c) lose the toolgate placeholders.
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
