#!/usr/bin/env node
// Makes sure redis-server is available for the Redis integration tests. Idempotent:
//   - redis-server already runs (on PATH, or REDIS_SERVER_BIN): nothing to do;
//   - running as root on a Debian/Ubuntu system: apt-get update && apt-get install -y redis-server;
//   - otherwise: prints how to install it and exits 0, so the rest of the suite still runs
//     (the Redis suites then fail with the same instructions).
import { spawnSync } from 'node:child_process';

const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';

function version() {
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (out.error || out.status !== 0) return undefined;
  return /v=(\S+)/.exec(out.stdout)?.[1] ?? 'unknown version';
}

function run(command, args) {
  console.log(`install-redis: ${command} ${args.join(' ')}`);
  const out = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (out.error) throw new Error(`${command}: ${out.error.message}`);
  if (out.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${out.status}`);
}

const HOW = 'Install it with your package manager (Debian/Ubuntu: `sudo apt-get install -y redis-server`; macOS: `brew install redis`) ' +
  'or set REDIS_SERVER_BIN to a redis-server binary.';

function main() {
  const found = version();
  if (found) {
    console.log(`install-redis: redis-server ${found} present`);
    return;
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    console.warn(`install-redis: redis-server not found and ${isRoot ? 'apt-get is not available' : 'not running as root'}. ${HOW}`);
    return;
  }
  try {
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server']);
  } catch (err) {
    console.warn(`install-redis: ${err.message}. ${HOW}`);
    return;
  }
  const installed = version();
  if (!installed) {
    console.warn(`install-redis: apt-get finished but ${bin} still does not run. ${HOW}`);
    return;
  }
  // Where the package starts a system-wide server on 6379 it is left alone: the tests start their own on free ports.
  console.log(`install-redis: installed redis-server ${installed}`);
}

main();
