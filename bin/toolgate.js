#!/usr/bin/env node
// Entry point for the `toolgate` command: runs the compiled CLI; `serve` runs on toolgate's V8 settings.
import { fileURLToPath } from 'node:url';
import { relaunchWithRuntimeFlags } from '../dist/cli/runtime-flags.js';

// Here, not in the Dockerfile or a shebang: the image, `npx toolgate`, the tests and the load benchmark all start
// toolgate through this file, so every one of them gets the same heap settings.
if (process.argv[2] === 'serve') relaunchWithRuntimeFlags(fileURLToPath(import.meta.url));

const { main } = await import('../dist/cli/main.js');
main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`toolgate: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
