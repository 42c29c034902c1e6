#!/usr/bin/env node
// `npm test`: runs vitest on the pinned Node's major (.nvmrc), installing that Node under .tools/ first when this
// machine's is another major. Arguments go to `vitest run` as they are (`npm test -- test/unit/x.test.ts`).
import { join } from 'node:path';
import { repoRoot } from './node-pin.mjs';
import { runOnPinnedNode } from './on-pinned-node.mjs';

runOnPinnedNode([join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs'), 'run', ...process.argv.slice(2)]);
