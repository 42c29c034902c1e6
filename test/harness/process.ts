// Child processes for tests: in-memory logs, HTTP readiness, SIGTERM then SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { LogBuffer, registerLogSource } from './logs.js';

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface StartProcessOptions {
  command: string;
  args?: readonly string[];
  cwd?: string;
  /** Added to (and overriding) the parent's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  /** Name shown in printed logs; defaults to the command. */
  name?: string;
  /** When set, startProcess resolves only once this URL answers (see `readyStatus`). */
  readyUrl?: string;
  /** Which status counts as ready; default: any 2xx. */
  readyStatus?: (status: number) => boolean;
  readyTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Settles when the process exits, however that happens. */
  readonly exited: Promise<ExitStatus>;
  isRunning(): boolean;
  /** stdout and stderr interleaved, as received. */
  logs(): string;
  /** Resolves with the logs once `pattern` appears in them. */
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** SIGTERM, then SIGKILL after `stopTimeoutMs`; resolves when the process has exited. Idempotent. */
  stop(): Promise<ExitStatus>;
}

/** Children still running; killed if the test worker exits without stopping them. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export class ProcessStartError extends Error {
  constructor(message: string, readonly output: string) {
    super(`${message}\n──── output ────\n${output.trimEnd() || '(no output)'}`);
    this.name = 'ProcessStartError';
  }
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls `url` until `ok(status)`; rejects after `timeoutMs`, or as soon as
 * `abort` settles (e.g. the process exited), whichever comes first.
 */
export async function waitForHttp(
  url: string,
  opts: { timeoutMs?: number; ok?: (status: number) => boolean; abort?: Promise<unknown> } = {},
): Promise<void> {
  const { timeoutMs = 15_000, ok = (s: number) => s >= 200 && s < 300 } = opts;
  let aborted = false;
  void opts.abort?.then(() => { aborted = true; }, () => { aborted = true; });
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline && !aborted) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      if (ok(res.status)) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await delay(50);
  }
  throw new Error(aborted ? `${url}: process exited before it was ready (last: ${last})`
    : `${url} not ready after ${timeoutMs} ms (last: ${last})`);
}

export async function startProcess(opts: StartProcessOptions): Promise<ManagedProcess> {
  const name = opts.name ?? opts.command;
  const buffer = new LogBuffer(name);
  const child = spawn(opts.command, [...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: mergeEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  const registration = registerLogSource(buffer);
  child.stdout.on('data', (chunk: Buffer) => buffer.append(chunk));
  child.stderr.on('data', (chunk: Buffer) => buffer.append(chunk));

  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('error', (err) => {
      buffer.append(`[spawn error] ${err.message}\n`);
      live.delete(child);
      registration.markStopped();
      resolve({ code: null, signal: null });
    });
    child.once('close', (code, signal) => {
      live.delete(child);
      registration.markStopped();
      resolve({ code, signal });
    });
  });

  const stopTimeoutMs = opts.stopTimeoutMs ?? 5_000;
  let stopping: Promise<ExitStatus> | undefined;
  const managed: ManagedProcess = {
    name,
    pid: child.pid ?? -1,
    exited,
    isRunning: () => live.has(child),
    logs: () => buffer.logs(),
    waitForLog: (pattern, timeoutMs = 10_000) => waitForLog(buffer, exited, pattern, timeoutMs),
    stop: () => (stopping ??= stopChild(child, exited, stopTimeoutMs)),
  };

  if (opts.readyUrl) {
    try {
      await waitForHttp(opts.readyUrl, {
        timeoutMs: opts.readyTimeoutMs ?? 15_000,
        ...(opts.readyStatus ? { ok: opts.readyStatus } : {}),
        abort: exited,
      });
    } catch (err) {
      await managed.stop();
      throw new ProcessStartError(`${name}: ${(err as Error).message}`, buffer.logs());
    }
  }
  return managed;
}

function mergeEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

async function stopChild(child: ChildProcess, exited: Promise<ExitStatus>, timeoutMs: number): Promise<ExitStatus> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

async function waitForLog(
  buffer: LogBuffer, exited: Promise<ExitStatus>, pattern: RegExp | string, timeoutMs: number,
): Promise<string> {
  const matches = () => {
    const text = buffer.logs();
    return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
  };
  let gone = false;
  void exited.then(() => { gone = true; });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (matches()) return buffer.logs();
    if (gone) break;
    await delay(25);
  }
  if (matches()) return buffer.logs();
  throw new Error(`${buffer.name}: ${String(pattern)} did not appear within ${timeoutMs} ms${gone ? ' (process exited)' : ''}`);
}
