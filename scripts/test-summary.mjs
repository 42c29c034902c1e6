#!/usr/bin/env node
// Prints the plain "N passed, N failed" line CI reads, from vitest's JSON report.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const file = process.argv[2] ?? 'test-results/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.error(`no test report at ${file}: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
// Tests whose set-up hook threw are "skipped" in the JSON report; scripts/never-ran-reporter.mjs lists them.
const neverRanFile = join(dirname(file), 'never-ran.json');
const neverRan = existsSync(neverRanFile) ? JSON.parse(readFileSync(neverRanFile, 'utf8')) : [];
for (const t of neverRan) console.error(`never ran (a set-up hook failed): ${t.name}`);
const neverRanFiles = new Set(neverRan.map((t) => t.file));
// A file that fails to load has no test at all; count it so it cannot pass silently.
const brokenFiles = (report.testResults ?? []).filter(
  (f) => f.status === 'failed' && !neverRanFiles.has(f.name) && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
).length;
const failed = (report.numFailedTests ?? 0) + neverRan.length + brokenFiles;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0) - neverRan.length;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
