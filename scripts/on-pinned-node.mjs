#!/usr/bin/env node
// Runs a script on the pinned Node (.nvmrc), installing it under .tools/ first when this machine's Node is another
// major: `node scripts/on-pinned-node.mjs FILE [ARGS...]`. The demo and the test suite both run this way, so the
// product runs here on the runtime the Docker image ships. Signals reach the child; its exit code is ours.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installNode } from './install-node.mjs';
import { repoRoot } from './node-pin.mjs';

export function runOnPinnedNode(args) {
  let node;
  try {
    node = installNode();
  } catch (err) {
    console.error(`on-pinned-node: ${err.message}`);
    process.exit(1);
  }
  // The pinned Node first on PATH too: whatever the child starts as plain `node` runs on it.
  const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ''}` };
  const child = spawn(node, args, { cwd: repoRoot, env, stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  if (process.argv.length < 3) {
    console.error('usage: node scripts/on-pinned-node.mjs FILE [ARGS...]');
    process.exit(2);
  }
  runOnPinnedNode(process.argv.slice(2));
}
