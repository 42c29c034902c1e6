#!/usr/bin/env node
// `npm test`: runs vitest on the pinned Node's major (.nvmrc), installing that Node under .tools/ first when this
// machine's is another major. Arguments go to `vitest run` as they are (`npm test -- test/unit/x.test.ts`).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { installNode } from './install-node.mjs';
import { repoRoot } from './node-pin.mjs';

let node;
try {
  node = installNode();
} catch (err) {
  console.error(`test: ${err.message}`);
  process.exit(1);
}
const vitest = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
// The pinned Node first on PATH too: whatever the suite starts as plain `node` runs on it (the harness uses execPath).
const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH ?? ''}` };
const child = spawn(node, [vitest, 'run', ...process.argv.slice(2)], { cwd: repoRoot, env, stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (signal) process.kill(process.pid, signal);
  else process.exit(code ?? 1);
});
