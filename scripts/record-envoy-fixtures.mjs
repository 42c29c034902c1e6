#!/usr/bin/env node
// Re-records test/fixtures/envoy-<version>/ from the pinned Envoy: builds toolgate (the stacks run dist/), installs
// the pinned Envoy when missing, then runs scripts/record-envoy-fixtures/main.ts on the pinned Node.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './node-pin.mjs';
import { runOnPinnedNode } from './on-pinned-node.mjs';

for (const [what, args] of [
  ['build', [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json']],
  ['install-envoy', [join(repoRoot, 'scripts', 'install-envoy.mjs')]],
]) {
  const done = spawnSync(process.execPath, args, { cwd: repoRoot, stdio: 'inherit' });
  if (done.status !== 0) {
    console.error(`record-envoy-fixtures: ${what} failed (exit ${done.status ?? done.signal}); nothing was recorded`);
    process.exit(1);
  }
}
runOnPinnedNode(['--import', 'tsx', join(repoRoot, 'scripts', 'record-envoy-fixtures', 'main.ts')]);
