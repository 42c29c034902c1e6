// A CPU profile of toolgate on the full path (d): restart the child under `node --cpu-prof`, drive load, stop it
// (the profile is written on exit) and summarise the samples taken while the load ran.
import { copyFileSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startToolgate, type RunningToolgate, type ToolgateSetup } from './toolgate.js';

export interface ProfileRun {
  readonly repoRoot: string;
  readonly setup: ToolgateSetup;
  readonly workDir: string;
  readonly current: RunningToolgate;
  readonly replace: (next: RunningToolgate) => void;
  readonly warm: () => Promise<unknown>;
  readonly load: () => Promise<{ ok: number; errors: number }>;
}

export interface ProfileRow {
  readonly name: string;
  readonly where: string;
  readonly ms: number;
  /** Share of the busy (non-idle) time in the window, %. */
  readonly pct: number;
}

export interface ProfileSummary {
  readonly windowMs: number;
  readonly requests: number;
  readonly sampleIntervalUs: number;
  readonly samples: number;
  readonly busyMs: number;
  readonly idleMs: number;
  /** Busy CPU per request inside the window, µs (profiler overhead included). */
  readonly busyUsPerRequest: number;
  readonly topSelf: readonly ProfileRow[];
  readonly byPackage: readonly ProfileRow[];
  /**
   * Each sample charged to the nearest toolgate function on its stack (the leaf itself, or the toolgate code that
   * called into a library): what each of toolgate's functions costs with the library work it asks for.
   */
  readonly toolgateInclusive: readonly ProfileRow[];
  /** Where the raw .cpuprofile was kept (open it in Chrome DevTools); not committed. */
  readonly file: string;
}

const INTERVAL_US = 250;

export async function profileFullPath(run: ProfileRun): Promise<ProfileSummary> {
  const dir = join(run.workDir, 'cpu-profile');
  mkdirSync(dir, { recursive: true });
  await run.current.child.stop();
  const profiled = await startToolgate(run.repoRoot, run.setup, ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', String(INTERVAL_US)]);
  run.replace(profiled);
  await run.warm();
  const loadStart = performance.now();
  const result = await run.load();
  const loadEnd = performance.now();
  await profiled.child.stop(30_000);
  const exited = performance.now();
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`toolgate wrote no CPU profile into ${dir}:\n${profiled.child.tail()}`);
  const kept = join(run.repoRoot, 'bench', 'out', 'full-path.cpuprofile');
  mkdirSync(join(run.repoRoot, 'bench', 'out'), { recursive: true });
  copyFileSync(join(dir, file), kept);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  // The profile ends when the process exits: the load window is measured back from there.
  const window = { fromEndUs: (exited - loadStart) * 1000, toEndUs: (exited - loadEnd) * 1000 };
  return summarizeProfile(profile, window, result.ok + result.errors, run.repoRoot, kept);
}

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

export function summarizeProfile(
  profile: CpuProfile,
  window: { fromEndUs: number; toEndUs: number },
  requests: number,
  repoRoot: string,
  file: string,
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const from = profile.endTime - window.fromEndUs;
  const to = profile.endTime - window.toEndUs;

  const self = new Map<string, { name: string; where: string; us: number }>();
  const packages = new Map<string, number>();
  const inclusive = new Map<string, { name: string; where: string; us: number }>();
  let busy = 0;
  let idle = 0;
  let samples = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    const node = byId.get(profile.samples[i] as number);
    if (!node) continue;
    // A sample stands for the time until the next one.
    const us = profile.timeDeltas[i + 1] ?? INTERVAL_US;
    samples++;
    const frame = node.callFrame;
    if (frame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    const where = location(frame, repoRoot);
    const key = `${frame.functionName}|${where}`;
    const entry = self.get(key) ?? { name: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    self.set(key, entry);
    const pkg = packageOf(frame, repoRoot);
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
    const near = nearestToolgateFrame(node, byId, parent, repoRoot);
    const nkey = near ? `${near.functionName}|${location(near, repoRoot)}` : '(none)';
    const n = inclusive.get(nkey) ?? (near
      ? { name: near.functionName || '(anonymous)', where: location(near, repoRoot), us: 0 }
      : { name: '(no toolgate frame on the stack: gRPC, HTTP/2, protobuf, GC)', where: '', us: 0 });
    n.us += us;
    inclusive.set(nkey, n);
  }
  const row = (e: { name: string; where: string; us: number }): ProfileRow => ({ name: e.name, where: e.where, ms: e.us / 1000, pct: busy ? (100 * e.us) / busy : 0 });
  const top = (m: Map<string, { name: string; where: string; us: number }>, n: number) => [...m.values()].sort((a, b) => b.us - a.us).slice(0, n).map(row);
  return {
    windowMs: (window.fromEndUs - window.toEndUs) / 1000,
    requests,
    sampleIntervalUs: INTERVAL_US,
    samples,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    busyUsPerRequest: requests ? busy / requests : 0,
    topSelf: top(self, 25),
    byPackage: [...packages.entries()].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([name, us]) => row({ name, where: '', us })),
    toolgateInclusive: top(inclusive, 15),
    file,
  };
}

/** `src/core/session/token.ts:41` for toolgate's own code (dist → src), `grpc-js lib/server.js:120` for packages. */
function location(frame: CallFrame, repoRoot: string): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (!url) return '';
  const line = frame.lineNumber + 1;
  const own = toolgateFile(url, repoRoot);
  // Sources run through tsx carry no usable line (the transform puts each module on one line).
  if (own) return own.fromDist ? `src/${own.path} (js:${line})` : `src/${own.path}`;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) return `${url.slice(nm + '/node_modules/'.length)}:${line}`;
  return `${url}:${line}`;
}

/**
 * toolgate's own file behind a frame, relative to src/ (`core/session/token.ts`): the built `dist/` the load benchmark
 * runs, or `src/` itself when a micro-benchmark runs the sources through tsx.
 */
function toolgateFile(url: string, repoRoot: string): { path: string; fromDist: boolean } | undefined {
  const file = url.replace(/^file:\/\//, '');
  if (file.startsWith(`${repoRoot}/dist/`)) return { path: file.slice(repoRoot.length + 6).replace(/\.js$/, '.ts'), fromDist: true };
  if (file.startsWith(`${repoRoot}/src/`)) return { path: file.slice(repoRoot.length + 5), fromDist: false };
  return undefined;
}

function packageOf(frame: CallFrame, repoRoot: string): string {
  const url = frame.url.replace(/^file:\/\//, '');
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native / V8 builtins)';
  if (url.startsWith('node:')) return 'node core';
  const own = toolgateFile(url, repoRoot);
  if (own) {
    // A layer's folders (src/core/policy, src/pipeline/authz …) say more than the layer alone.
    const parts = own.path.split('/');
    const folder = parts.length > 2 && ['core', 'pipeline', 'ports', 'app', 'cli'].includes(parts[0] ?? '') ? `${parts[0]}/${parts[1]}` : parts[0];
    return `toolgate src/${folder ?? ''}`;
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  return url;
}

function nearestToolgateFrame(node: ProfileNode, byId: Map<number, ProfileNode>, parent: Map<number, number>, repoRoot: string): CallFrame | undefined {
  for (let cur: ProfileNode | undefined = node; cur; cur = byId.get(parent.get(cur.id) ?? -1)) {
    if (toolgateFile(cur.callFrame.url, repoRoot)) return cur.callFrame;
  }
  return undefined;
}
