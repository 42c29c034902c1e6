// The CI summary line: a test kept from running by a failed set-up hook counts as failed, an it.skip as skipped.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/repo.js';

const run = promisify(execFile);

const FIXTURE = `
import { beforeAll, describe, expect, it } from 'vitest';
describe('hook throws', () => {
  beforeAll(() => { throw new Error('set-up failed'); });
  it('first', () => { expect(1).toBe(1); });
  it('second', () => { expect(1).toBe(1); });
  it.skip('skipped on purpose', () => {});
});
describe('healthy', () => {
  it('passes', () => { expect(1).toBe(1); });
  it.runIf(false)('not for this platform', () => {});
  it.todo('later');
});
`;

describe('scripts/test-summary.mjs with scripts/never-ran-reporter.mjs', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'toolgate-summary-'));
    await writeFile(join(dir, 'hook.test.ts'), FIXTURE);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('counts the tests a failed beforeAll never ran as failed, and only deliberate skips as skipped', async () => {
    const vitest = join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs');
    await run(process.execPath, [
      vitest, 'run', '--root', dir,
      '--reporter=json', '--outputFile.json=test-results/vitest.json',
      `--reporter=${join(REPO_ROOT, 'scripts', 'never-ran-reporter.mjs')}`,
    ], { cwd: dir }).catch(() => undefined); // vitest exits non-zero: the fixture fails on purpose
    const summary = await run(process.execPath, [join(REPO_ROOT, 'scripts', 'test-summary.mjs'), 'test-results/vitest.json'], { cwd: dir })
      .then((r) => ({ code: 0, stdout: r.stdout }), (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }));
    expect(summary.stdout.trim()).toBe('1 passed, 2 failed, 3 skipped');
    expect(summary.code).toBe(1);
  }, 60_000);
});
