#!/usr/bin/env node
// Makes sure a Compose implementation can check docker-compose.yml (test/unit/compose.test.ts). Idempotent:
//   - `docker-compose` (or COMPOSE_BIN) already runs: nothing to do;
//   - running as root on a Debian/Ubuntu system: apt-get install -y docker-compose (the Python implementation; it
//     needs no Docker daemon for `config`);
//   - otherwise: prints how to install it and exits 0, so the rest of the suite still runs (the compose test then
//     fails with the same instructions).
import { spawnSync } from 'node:child_process';

const bin = process.env.COMPOSE_BIN ?? 'docker-compose';

function version() {
  const out = spawnSync(bin, ['version', '--short'], { encoding: 'utf8', timeout: 30_000 });
  if (out.error || out.status !== 0) return undefined;
  return out.stdout.trim() || 'unknown version';
}

function run(command, args) {
  console.log(`install-compose: ${command} ${args.join(' ')}`);
  const out = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (out.error) throw new Error(`${command}: ${out.error.message}`);
  if (out.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${out.status}`);
}

const HOW = 'Install it (Debian/Ubuntu: `sudo apt-get install -y docker-compose`) or set COMPOSE_BIN to a docker-compose binary.';

function main() {
  const found = version();
  if (found) {
    console.log(`install-compose: ${bin} ${found} present`);
    return;
  }
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!isRoot || !hasApt) {
    console.warn(`install-compose: ${bin} not found and ${isRoot ? 'apt-get is not available' : 'not running as root'}. ${HOW}`);
    return;
  }
  try {
    // The package lists may be missing or stale on a fresh machine: refresh them only when the first try fails.
    try {
      run('apt-get', ['install', '-y', '--no-install-recommends', 'docker-compose']);
    } catch {
      run('apt-get', ['update']);
      run('apt-get', ['install', '-y', '--no-install-recommends', 'docker-compose']);
    }
  } catch (err) {
    console.warn(`install-compose: ${err.message}. ${HOW}`);
    return;
  }
  const installed = version();
  if (!installed) {
    console.warn(`install-compose: apt-get finished but ${bin} still does not run. ${HOW}`);
    return;
  }
  console.log(`install-compose: installed ${bin} ${installed}`);
}

main();
