// A real redis-server for tests: free 127.0.0.1 port, temp dir, no persistence; stop, restart on the same port, pause.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';
import { startProcess, type ManagedProcess } from './process.js';

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  isRunning(): boolean;
  /** Stops the server (SIGTERM, then SIGKILL); idempotent. */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (nothing is persisted). */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that holds its connections open but never answers. */
  pause(): void;
  resume(): void;
  logs(): string;
  /** Stops the server for good and removes its directory; for afterAll. */
  dispose(): Promise<void>;
}

/** The redis-server binary; REDIS_SERVER_BIN overrides the one on PATH. */
export function redisServerBin(): string {
  return process.env.REDIS_SERVER_BIN ?? 'redis-server';
}

/** Throws a clear, actionable error when redis-server cannot run here. */
export function requireRedisServer(): string {
  const bin = redisServerBin();
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (out.error || out.status !== 0) {
    throw new Error(
      `redis-server is needed for this test but "${bin}" does not run (${out.error?.message ?? `exit ${out.status}`}). ` +
        'Install it with `node scripts/install-redis.mjs` (runs apt-get as root) or `apt-get install -y redis-server`, ' +
        'or set REDIS_SERVER_BIN to a redis-server binary.',
    );
  }
  return bin;
}

/** Arguments every test server gets: loopback only, nothing persisted, files in `dir`. */
export function baseArgs(port: number, dir: string): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no'];
}

/** Starts redis-server with `args` and waits until its log shows `ready`; stops it again if it never does. */
export async function launchRedisServer(name: string, args: readonly string[], ready: RegExp = /Ready to accept connections/): Promise<ManagedProcess> {
  const p = await startProcess({ command: requireRedisServer(), name, args, stopTimeoutMs: 3_000 });
  try {
    await p.waitForLog(ready, 10_000);
  } catch (err) {
    await p.stop();
    throw new Error(`${(err as Error).message}\n${p.logs()}`);
  }
  return p;
}

export async function startRedis(): Promise<TestRedis> {
  requireRedisServer();
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-redis-'));
  let port = 0;
  let proc: ManagedProcess | undefined;

  const launch = (): Promise<ManagedProcess> => launchRedisServer(`redis-server:${port}`, baseArgs(port, dir));

  // A port that was free a moment ago can be taken before redis binds it: try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      proc = await launch();
      break;
    } catch (err) {
      if (attempt >= 3 || !/Address already in use/i.test((err as Error).message)) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }

  const stop = async (): Promise<void> => {
    if (proc?.isRunning()) {
      // A paused server ignores SIGTERM until it is continued.
      process.kill(proc.pid, 'SIGCONT');
      await proc.stop();
    }
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    isRunning: () => proc?.isRunning() ?? false,
    stop,
    async restart() {
      if (proc?.isRunning()) throw new Error('redis-server is still running; stop it first');
      proc = await launch();
    },
    pause() {
      if (proc) process.kill(proc.pid, 'SIGSTOP');
    },
    resume() {
      if (proc) process.kill(proc.pid, 'SIGCONT');
    },
    logs: () => proc?.logs() ?? '',
    async dispose() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
