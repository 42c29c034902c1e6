// README's pins section carries a config example; `toolgate check-config` (the built CLI) must accept it as written.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { REPO_ROOT } from '../harness/envoy.js';
import { requireBuiltDist, TOOLGATE_BIN } from '../e2e/helpers/toolgate.js';

const MARKER = '<!-- readme-example: pins';

function readmeExample(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error('README.md has no pins example marker');
  const block = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block?.[1]) throw new Error('no yaml block after the pins example marker');
  return block[1];
}

describe('README pins example', () => {
  it('is accepted by toolgate check-config', () => {
    requireBuiltDist();
    const dir = mkdtempSync(join(tmpdir(), 'toolgate-readme-'));
    mkdirSync(join(dir, 'secrets'));
    copyFileSync(join(REPO_ROOT, 'examples', 'secrets', 'admin-token'), join(dir, 'secrets', 'admin-token'));
    const file = join(dir, 'pins.yaml');
    writeFileSync(file, readmeExample());
    const out = spawnSync(process.execPath, [TOOLGATE_BIN, 'check-config', file], { encoding: 'utf8', timeout: 30_000 });
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    expect(out.stdout).toContain(': ok');
  });

  it('says what it shows: billing enforces a config pin, inventory learns', () => {
    const config = parseConfigText(readmeExample(), 'README.md');
    expect(config.backends.billing?.pins).toMatchObject({ mode: 'enforce', unpinned: 'learn' });
    expect(Object.keys(config.backends.billing?.pins?.tools ?? {})).toEqual(['refund']);
    expect(config.backends.inventory?.pins?.mode).toBe('learn');
  });
});
