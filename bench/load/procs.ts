// Child processes of the load benchmark: started with output discarded (a tail kept for errors), always reaped,
// and sampled through /proc for CPU time and resident memory.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { openSync, readFileSync, rmSync } from 'node:fs';
import { waitForHttpOk } from '../../src/cli/demo/wait.js';

export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** The last few KiB of stderr (and stdout when kept), for error messages. */
  tail(): string;
  exited(): boolean;
  /** SIGTERM, SIGKILL after `graceMs`; resolves when the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

const TAIL_CHARS = 16 * 1024;
const live = new Set<ChildProcess>();
const scratch = new Set<string>();
let devNull: number | undefined;

/** A folder removed when the benchmark exits, however it exits. */
export function removeOnExit(path: string): void {
  scratch.add(path);
}

// Whatever happens to the benchmark, nothing it started outlives it.
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const path of scratch) rmSync(path, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    for (const child of live) child.kill('SIGKILL');
    process.exit(130);
  });
}

export interface StartOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Keep stdout in the tail (default: stdout goes to /dev/null, like a log shipper that never backs up). */
  readonly keepStdout?: boolean;
  /** Send stdout (and stderr) to this file instead (debugging: `--logs DIR`). */
  readonly logFile?: string;
  /** Open an IPC channel (for Node children that talk to the orchestrator). */
  readonly ipc?: boolean;
}

export function startChild(opts: StartOptions): Child {
  devNull ??= openSync('/dev/null', 'w');
  const out = opts.logFile ? openSync(opts.logFile, 'a') : opts.keepStdout ? 'pipe' : devNull;
  const stdio: SpawnOptions['stdio'] = ['ignore', out, opts.logFile ? out : 'pipe', ...(opts.ipc ? ['ipc' as const] : [])];
  const child = spawn(opts.command, [...opts.args], { stdio, env: opts.env ?? process.env, serialization: opts.ipc ? 'advanced' : 'json' });
  if (child.pid === undefined) throw new Error(`${opts.name}: could not start ${opts.command}`);
  live.add(child);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let gone = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      gone = true;
      live.delete(child);
      resolve();
    });
  });
  let stopping: Promise<void> | undefined;
  return {
    name: opts.name,
    pid: child.pid,
    process: child,
    tail: () => tail,
    exited: () => gone,
    stop: (graceMs = 5_000) => (stopping ??= (async () => {
      if (gone) return;
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(force);
    })()),
  };
}

/** Polls `url` until it answers 2xx; fails early when the child exits. */
export async function waitReady(child: Child, url: string, timeoutMs = 30_000): Promise<void> {
  await waitForHttpOk(url, { timeoutMs, gone: () => child.exited(), what: child.name, tail: () => child.tail() });
}

/** CPU time (user + system, all threads) and resident set of one process, read from /proc. */
export interface ProcSample {
  readonly cpuMs: number;
  readonly rssKiB: number;
}

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

export function sampleProc(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime) are at 11 and 12 after the name and state.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return { cpuMs: (ticks * 1000) / clockTicks(), rssKiB: rss ? Number(rss[1]) : 0 };
}
