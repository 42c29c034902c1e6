// The `toolgate` command line: serve, check-config, render envoy | istio | helm, test and explain policies, pins.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../core/config/errors.js';
import { loadConfigFile } from '../app/runtime/load.js';
import { createLogger, flushLogs } from '../ports/log/logger.js';
import { loadAdminAuth } from '../app/server/admin-auth.js';
import { serve } from '../app/server/serve.js';
import { startTracing } from '../ports/telemetry/tracing.js';
import { USAGE } from './usage.js';

// `serve` and `check-config` import what they run; every other command is imported when it runs, so a serving
// toolgate never loads the renderers, the policy-test runner or `pins`' MCP client (its SDK brings ajv and a second
// zod: ~180 modules the sidecar's memory would carry for nothing; see docs/benchmark.md "Memory").

export async function main(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return runServe(rest);
    case 'check-config':
      return runCheck(rest);
    case 'render':
      return runRender(rest);
    case 'test':
      return (await import('./policy-test.js')).runTest(rest);
    case 'explain':
      return (await import('./policy-test.js')).runExplain(rest);
    case 'pins':
      return (await import('./pins.js')).runPins(rest);
    case undefined:
    case '-h':
    case '--help':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`toolgate: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

function runCheck(args: string[]): number {
  const file = args[0];
  if (!file) {
    console.error(USAGE);
    return 2;
  }
  try {
    const runtime = loadConfigFile(file);
    // What `serve` would refuse, check-config refuses too: the admin secret is read at start-up.
    loadAdminAuth(runtime.config.server, file);
    const tasks = Object.keys(runtime.config.tasks).length;
    console.log(`${file}: ok (${tasks} task${tasks === 1 ? '' : 's'}, resource ${runtime.config.resource})`);
    return 0;
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
}

function runRender(args: string[]): Promise<number> {
  const [target, ...rest] = args;
  if (target === 'istio') return runRenderIstio(rest);
  if (target === 'helm') return runRenderHelm(rest);
  if (target !== 'envoy') {
    console.error(`toolgate render: unknown target "${target ?? ''}" (envoy, istio or helm)\n${USAGE}`);
    return Promise.resolve(2);
  }
  return runRenderEnvoy(rest);
}

async function runRenderEnvoy(rest: string[]): Promise<number> {
  const { values } = parseArgs({
    args: rest,
    options: {
      config: { type: 'string', short: 'c' },
      mtls: { type: 'boolean' },
      var: { type: 'string', multiple: true },
      out: { type: 'string', short: 'o' },
    },
    strict: true,
  });
  if (!values.config) {
    console.error(`toolgate render envoy: --config FILE is required\n${USAGE}`);
    return 2;
  }
  const vars: Record<string, string> = {};
  for (const entry of values.var ?? []) {
    const eq = entry.indexOf('=');
    if (eq <= 0) {
      console.error(`toolgate render envoy: --var takes NAME=VALUE, got "${entry}"`);
      return 2;
    }
    vars[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const { renderEnvoyFile } = await import('./render/envoy.js');
  let yaml: string;
  try {
    yaml = renderEnvoyFile(values.config, { source: displayPath(values.config), vars, mtls: values.mtls ?? false });
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
  if (values.out) writeFileSync(values.out, yaml);
  else process.stdout.write(yaml);
  return 0;
}

/** The options `render istio` and `render helm` share: the config and where in the cluster it goes. */
const CLUSTER_OPTIONS = {
  config: { type: 'string', short: 'c' },
  namespace: { type: 'string', short: 'n' },
  'backend-namespace': { type: 'string' },
  out: { type: 'string', short: 'o' },
} as const;

/** Writes base/ and the pattern's overlay under --out (only the overlay with --overlay-only), or everything to stdout. */
async function runRenderIstio(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...CLUSTER_OPTIONS, 'overlay-only': { type: 'boolean' } },
    strict: true,
  });
  if (!values.config) {
    console.error(`toolgate render istio: --config FILE is required\n${USAGE}`);
    return 2;
  }
  const { concatenate, renderIstioFile } = await import('./render/istio.js');
  let files;
  try {
    files = renderIstioFile(values.config, { source: displayPath(values.config), namespace: values.namespace, backendNamespace: values['backend-namespace'] });
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
  if (!values.out) {
    process.stdout.write(concatenate(files));
    return 0;
  }
  for (const [path, text] of files) {
    if (values['overlay-only'] && path.startsWith('base/')) continue;
    const target = join(values.out, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, text);
  }
  return 0;
}

/** The values file for charts/toolgate (`helm install -f`), to --out or stdout. */
async function runRenderHelm(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: CLUSTER_OPTIONS,
    strict: true,
  });
  if (!values.config) {
    console.error(`toolgate render helm: --config FILE is required\n${USAGE}`);
    return 2;
  }
  const { renderHelmValuesFile } = await import('./render/helm.js');
  let text: string;
  try {
    text = renderHelmValuesFile(values.config, { source: displayPath(values.config), namespace: values.namespace, backendNamespace: values['backend-namespace'] });
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    return 1;
  }
  if (values.out) writeFileSync(values.out, text);
  else process.stdout.write(text);
  return 0;
}

/** The header names the config relative to the working directory, so output does not depend on the machine. */
function displayPath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? file : rel.split(sep).join('/');
}

async function runServe(args: string[]): Promise<number | undefined> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      'grpc-port': { type: 'string' },
      'admin-port': { type: 'string' },
      'events-port': { type: 'string' },
    },
    strict: true,
  });
  if (!values.config) {
    console.error(`toolgate serve: --config FILE is required\n${USAGE}`);
    return 2;
  }
  const log = createLogger({ level: process.env.TOOLGATE_LOG_LEVEL ?? 'info' });
  // Configured by the standard OTEL_* variables only; off when none asks for it.
  const tracing = await startTracing(process.env, log);
  let served;
  try {
    served = await serve(
      {
        configFile: values.config,
        host: values.host,
        grpcPort: portArg(values['grpc-port'], '--grpc-port'),
        adminPort: portArg(values['admin-port'], '--admin-port'),
        eventsPort: portArg(values['events-port'], '--events-port'),
        tracing: tracing.enabled,
      },
      log,
    );
  } catch (err) {
    await tracing.shutdown();
    // What was logged before the failure (e.g. the ephemeral-key warning) goes out ahead of the error itself.
    await flushLogs(log);
    if (err instanceof ConfigError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      log.info({ event: 'signal', signal }, 'shutting down');
      served.stop().then(() => tracing.shutdown()).then(resolve, resolve);
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  });
  // Every decision made before the signal has its record queued (Check logs before it answers, and the gRPC server
  // drained the calls in flight): all of it is written before the process is allowed to end.
  await flushLogs(log);
  return 0;
}

function portArg(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got "${value}"`);
  return n;
}
