// A vitest reporter that lists the tests which were meant to run but never did (a beforeAll/beforeEach that threw):
// vitest's JSON report calls them "skipped", like it.skip, so scripts/test-summary.mjs reads this list to count them
// as failed. It writes test-results/never-ran.json under the working directory.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export default class NeverRanReporter {
  onTestRunEnd(testModules) {
    const neverRan = [];
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        // it.skip, runIf(false), skipIf(true) and todo have another mode; only 'run' tests were owed a result.
        if (test.options.mode === 'run' && test.result().state === 'skipped') neverRan.push({ file: mod.moduleId, name: test.fullName });
      }
    }
    mkdirSync('test-results', { recursive: true });
    writeFileSync(join('test-results', 'never-ran.json'), JSON.stringify(neverRan, null, 1));
  }
}
