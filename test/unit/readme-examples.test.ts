// The README's feature examples are the files under examples/ verbatim, so the tests that run those files
// (check-config over every example config, toolgate test over every case file) prove the README too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/repo.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const INCLUDED = [...README.matchAll(/<!-- file: (\S+) -->\n```ya?ml\n([\s\S]*?)```\n/g)].map((m) => ({ file: m[1] as string, block: m[2] as string }));

describe('README examples', () => {
  it('shows the dry-run config and its case file', () => {
    expect(INCLUDED.map((i) => i.file)).toEqual(expect.arrayContaining(['examples/dry-run.yaml', 'examples/dry-run.test.yaml']));
  });

  it.each(INCLUDED)('$file is shown exactly as it is in the repository', ({ file, block }) => {
    expect(block).toBe(readFileSync(join(REPO_ROOT, file), 'utf8'));
  });
});
