// README's pins section shows examples/pins.yaml and its case file verbatim (test/unit/readme-examples.test.ts);
// check-config (authz-lifecycle) and toolgate test (policy-test-cli) run both. Here: the example shows what it says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/app/runtime/load.js';
import { REPO_ROOT } from '../harness/repo.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');

describe('README pins example', () => {
  it('is the example file and its case file', () => {
    expect(README).toContain('<!-- file: examples/pins.yaml -->');
    expect(README).toContain('<!-- file: examples/pins.test.yaml -->');
  });

  it('says what it shows: billing enforces a config pin, inventory learns', () => {
    const config = parseConfigText(readFileSync(join(REPO_ROOT, 'examples', 'pins.yaml'), 'utf8'), 'examples/pins.yaml');
    expect(config.backends.billing?.pins).toMatchObject({ mode: 'enforce', unpinned: 'learn' });
    expect(Object.keys(config.backends.billing?.pins?.tools ?? {})).toEqual(['refund']);
    expect(config.backends.inventory?.pins?.mode).toBe('learn');
  });
});
