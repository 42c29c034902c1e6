#!/usr/bin/env node
// Entry point for the `toolgate` command: runs the compiled CLI.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { if (typeof code === 'number') process.exitCode = code; },
  (err) => { console.error(`toolgate: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
