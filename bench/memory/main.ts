// toolgate's memory, idle and under Check load: starts the built CLI on an examples/ config (local JWKS instead of the
// IdP's URL), samples /proc/<pid>/status VmRSS, then hammers Check from another process (bench/memory/hammer.ts).
//   node scripts/on-pinned-node.mjs --import tsx bench/memory/main.ts [--config examples/sidecar.yaml]
//     [--seconds 20] [--concurrency 32] [--node-arg=--flag ...] [--env NAME=VALUE ...] [--probe] [--json FILE]
// --node-arg passes a flag to toolgate's node (e.g. --node-arg=--max-semi-space-size=2), --env a variable; --probe preloads
// bench/memory/probe.mjs to split RSS into heap, external and array buffers. Not part of `npm test` or `npm run bench`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { startTestIdp } from '../../test/harness/jwt.js';
import { freePort } from '../../test/harness/ports.js';
import { waitForHttpOk } from '../../src/cli/demo/wait.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TICKS = 100; // /proc/<pid>/stat counts CPU time in clock ticks (USER_HZ, 100 on Linux).

interface Probe { rss: number; heapTotal: number; heapUsed: number; external: number; arrayBuffers: number; spaces: Record<string, number>; gc: { ms: number; minor: number; major: number } }
interface Sample { readonly at: number; readonly rssMib: number }

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A memory line of /proc/<pid>/status (kB there), in MiB. */
function statusMib(pid: number, field: 'VmRSS' | 'RssAnon' | 'RssFile'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(`${field}:`));
  return Math.round((Number(line?.split(/\s+/)[1] ?? Number.NaN) / 1024) * 10) / 10;
}

const vmRssMib = (pid: number) => statusMib(pid, 'VmRSS');
/** RSS split: anonymous memory (heap, malloc) against file pages (mostly the node binary, shared and reclaimable). */
const rssSplit = (pid: number) => ({ anon: statusMib(pid, 'RssAnon'), file: statusMib(pid, 'RssFile') });

function cpuTicks(pid: number): number {
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)] as number) : Number.NaN;
};

/** GC time and collections between the last probe before the load and the last one in it, per call. */
function gcDuring(probes: ReadonlyArray<{ at: number; probe: Probe }>, from: number, to: number, calls: number) {
  const before = probes.filter((p) => p.at <= from).at(-1)?.probe.gc;
  const end = probes.filter((p) => p.at <= to).at(-1)?.probe.gc;
  if (!before || !end) return undefined;
  return { ms: end.ms - before.ms, minor: end.minor - before.minor, major: end.major - before.major, us_per_call: Math.round(((end.ms - before.ms) * 1000) / Math.max(1, calls)) };
}

/** The example config with this run's ports, a local JWKS file and an admin secret beside it. */
async function prepareConfig(dir: string, example: string, grpcPort: number, adminPort: number): Promise<{ configPath: string; token: string }> {
  const config = parse(readFileSync(example, 'utf8')) as Record<string, any>;
  const idp = await startTestIdp({ serve: false, audience: config.resource });
  const jwksFile = await idp.writeJwksFile(join(dir, 'jwks.json'));
  const { jwksUri: _remote, ...jwt } = config.identity.jwt;
  config.identity.jwt = { ...jwt, issuer: idp.issuer, jwksFile, algorithms: ['RS256'] };
  config.server = { ...config.server, host: '127.0.0.1', grpcPort, adminPort, adminTokenFile: 'admin-token' };
  writeFileSync(join(dir, 'admin-token'), 'memory-bench-admin-secret-not-used-0123456789\n', { mode: 0o600 });
  const configPath = join(dir, 'toolgate.yaml');
  writeFileSync(configPath, stringify(config));
  const tasks = Object.keys(config.tasks ?? {});
  const token = await idp.mint({ authorized_tasks: tasks, refund_limit: 500 }, { expiresIn: 3600 });
  return { configPath, token };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', default: 'examples/sidecar.yaml' },
      seconds: { type: 'string', default: '20' },
      concurrency: { type: 'string', default: '32' },
      'node-arg': { type: 'string', multiple: true, default: [] },
      env: { type: 'string', multiple: true, default: [] },
      probe: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
    strict: true,
  });
  const dir = mkdtempSync(join(tmpdir(), 'toolgate-memory-'));
  let toolgate: ChildProcess | undefined;
  try {
    const grpcPort = await freePort();
    const adminPort = await freePort();
    const { configPath, token } = await prepareConfig(dir, resolve(REPO_ROOT, values.config), grpcPort, adminPort);
    const nodeArgs = [...values['node-arg'], ...(values.probe ? [`--import=${pathToFileURL(join(REPO_ROOT, 'bench', 'memory', 'probe.mjs')).href}`] : [])];
    // stdout (the audit records) to /dev/null, as the load benchmark does; stderr kept for the probe and errors.
    toolgate = spawn(process.execPath, [...nodeArgs, join(REPO_ROOT, 'bin', 'toolgate.js'), 'serve', '--config', configPath], {
      stdio: ['ignore', openSync('/dev/null', 'w'), 'pipe'],
      env: { PATH: process.env.PATH ?? '', TOOLGATE_LOG_LEVEL: 'info', ...Object.fromEntries(values.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])) },
    });
    const pid = toolgate.pid as number;
    const probes: Array<{ at: number; probe: Probe }> = [];
    let stderr = '';
    toolgate.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const lines = stderr.split('\n');
      stderr = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('{"memprobe"')) probes.push({ at: Date.now(), probe: (JSON.parse(line) as { memprobe: Probe }).memprobe });
        else if (line.trim()) process.stderr.write(`toolgate: ${line}\n`);
      }
    });
    await waitForHttpOk(`http://127.0.0.1:${adminPort}/readyz`, { timeoutMs: 20_000, gone: () => toolgate?.exitCode !== null, what: 'toolgate' });
    await delay(3000);
    const idle: number[] = [];
    for (let i = 0; i < 5; i++, await delay(200)) idle.push(vmRssMib(pid));
    const idleProbe = probes.at(-1)?.probe;
    const idleSplit = rssSplit(pid);

    const seconds = Number(values.seconds);
    const concurrency = Number(values.concurrency);
    const cpuBefore = cpuTicks(pid);
    const loadStart = Date.now();
    const hammer = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench', 'memory', 'hammer.ts'), String(grpcPort), token, String(seconds), String(concurrency)], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    hammer.stdout?.setEncoding('utf8').on('data', (c: string) => { out += c; });
    const done = new Promise<number | null>((r) => hammer.once('exit', r));
    const samples: Sample[] = [];
    let finished = false;
    void done.then(() => { finished = true; });
    let peakSplit = rssSplit(pid);
    while (!finished) {
      const rssMib = vmRssMib(pid);
      if (rssMib > Math.max(0, ...samples.map((s) => s.rssMib))) peakSplit = rssSplit(pid);
      samples.push({ at: Date.now() - loadStart, rssMib });
      await delay(250);
    }
    const loadMs = Date.now() - loadStart;
    const cpuMs = ((cpuTicks(pid) - cpuBefore) * 1000) / TICKS;
    if ((await done) !== 0) throw new Error('the load process failed');
    const summary = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { calls: number; allowed: number; denied: number; failed: number };
    // Steady state: the second half of the run, once the heap has grown to what the load needs.
    const steady = samples.filter((s) => s.at >= (seconds * 1000) / 2).map((s) => s.rssMib);
    const peakAt = samples.reduce((a, b) => (b.rssMib > a.rssMib ? b : a), samples[0] ?? { at: 0, rssMib: Number.NaN });
    const peakProbe = probes.filter((p) => p.at >= loadStart && p.at <= loadStart + loadMs).reduce<Probe | undefined>((a, b) => (!a || b.probe.rss > a.rss ? b.probe : a), undefined);
    await delay(3000);
    const after = vmRssMib(pid);

    const result = {
      node: process.versions.node,
      config: values.config,
      nodeArgs: values['node-arg'],
      env: values.env,
      idle_rss_mib: median(idle),
      idle_rss_split_mib: idleSplit,
      load: { seconds, concurrency, ...summary, calls_per_s: Math.round(summary.calls / (loadMs / 1000)), cpu_us_per_call: Math.round((cpuMs * 1000) / Math.max(1, summary.calls)) },
      load_rss_mib: { peak: peakAt.rssMib, steady_median: median(steady), steady_max: Math.max(...steady), peak_split: peakSplit },
      after_load_rss_mib: after,
      ...(values.probe ? { probe_idle: idleProbe, probe_load_peak: peakProbe, gc_during_load: gcDuring(probes, loadStart, loadStart + loadMs, summary.calls) } : {}),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    if (toolgate && toolgate.exitCode === null) {
      const exited = new Promise((r) => toolgate?.once('exit', r));
      toolgate.kill('SIGTERM');
      await Promise.race([exited, delay(10_000)]);
      if (toolgate.exitCode === null) toolgate.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
});
