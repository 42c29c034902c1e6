// test/unit holds in-process tests only: no file under it reaches node:child_process, itself or through a test helper
// it imports (test/harness/envoy.ts, process.ts, redis.ts, deploy-tools.ts, the e2e stacks). Suites that run Envoy,
// Redis, Compose, istioctl, helm or a toolgate process live in test/integration, test/e2e, test/deploy.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/repo.js';

const SPAWN_MODULES = new Set(['node:child_process', 'child_process']);
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|\n)\s*import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function specifiers(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

/**
 * For each .ts file under `dir`: the import chain by which it reaches a process-spawning module, if any. Relative
 * imports are followed inside test/ only: src/ starts no process on the paths unit tests call (the demo's Envoy
 * launcher is reached only through `toolgate demo`).
 */
function spawnChains(dir: string, testRoot: string): Map<string, string[]> {
  const chains = new Map<string, string[]>();
  const memo = new Map<string, string[] | null>();
  const reach = (file: string, seen: Set<string>): string[] | null => {
    if (memo.has(file)) return memo.get(file) ?? null;
    if (seen.has(file)) return null;
    seen.add(file);
    let found: string[] | null = null;
    for (const spec of specifiers(file)) {
      if (SPAWN_MODULES.has(spec)) { found = [spec]; break; }
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      if (relative(testRoot, target).startsWith('..')) continue;
      const below = reach(target, seen);
      if (below) { found = [relative(REPO_ROOT, target), ...below]; break; }
    }
    memo.set(file, found);
    return found;
  };
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    const chain = reach(file, new Set());
    if (chain) chains.set(relative(dir, file), chain);
  }
  return chains;
}

describe('test/unit runs in process', () => {
  it('no file under test/unit imports child_process, directly or through a helper', () => {
    const found = [...spawnChains(join(REPO_ROOT, 'test', 'unit'), join(REPO_ROOT, 'test')).entries()]
      .map(([file, chain]) => `test/unit/${file} → ${chain.join(' → ')}`);
    expect(found, 'move these suites to test/integration, test/e2e or test/deploy').toEqual([]);
  });

  it('catches both ways in (test/fixtures/unit-spawn): a direct import and one through a helper; a clean file passes', () => {
    const fixture = join(REPO_ROOT, 'test', 'fixtures', 'unit-spawn');
    const found = Object.fromEntries(spawnChains(join(fixture, 'unit'), fixture));
    expect(found).toEqual({
      'direct.ts': ['child_process'],
      'through-helper.ts': ['test/fixtures/unit-spawn/harness/launcher.ts', 'node:child_process'],
    });
  });

  it('sees what the Envoy harness imports (the guard would have caught the suites that lived here)', () => {
    const found = spawnChains(join(REPO_ROOT, 'test', 'harness'), join(REPO_ROOT, 'test'));
    expect([...found.keys()]).toEqual(expect.arrayContaining(['envoy.ts', 'process.ts', 'redis.ts', 'deploy-tools.ts']));
    expect(found.has('repo.ts')).toBe(false);
  });
});
