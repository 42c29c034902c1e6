// The benchmark's dirty-tree detection: `git status --porcelain -z` parsing, the run's own outputs ignored.
import { describe, expect, it } from 'vitest';
import { commitLabel, dirtyPaths, dirtyRefusal } from '../../bench/load/tree.js';

const z = (...entries: string[]) => `${entries.join('\0')}\0`;

describe('dirtyPaths', () => {
  it('is empty for a clean tree', () => {
    expect(dirtyPaths('')).toEqual([]);
  });

  it('lists modified, added, deleted and untracked paths', () => {
    expect(dirtyPaths(z(' M src/app/main.ts', 'A  src/new.ts', ' D old.ts', '?? notes.txt'))).toEqual(['src/app/main.ts', 'src/new.ts', 'old.ts', 'notes.txt']);
  });

  it('ignores what the run itself writes: bench/out/ and the committed results and docs', () => {
    const porcelain = z(' M bench/results.json', ' M bench/results.md', ' M bench/results.png', ' M bench/results.svg', ' M docs/benchmark.md', '?? bench/out/results.json', '?? bench/out');
    expect(dirtyPaths(porcelain)).toEqual([]);
  });

  it('does not ignore paths that only start like an output', () => {
    expect(dirtyPaths(z(' M bench/results.json.bak', '?? bench/outside.ts', ' M docs/benchmark.md.orig'))).toEqual(['bench/results.json.bak', 'bench/outside.ts', 'docs/benchmark.md.orig']);
  });

  it('counts both sides of a rename, which -z gives as a second field', () => {
    expect(dirtyPaths(z('R  src/b.ts', 'src/a.ts', ' M README.md'))).toEqual(['src/b.ts', 'src/a.ts', 'README.md']);
  });

  it('keeps paths with spaces whole (-z does not quote them)', () => {
    expect(dirtyPaths(z('?? my notes/a b.txt'))).toEqual(['my notes/a b.txt']);
  });

  it('takes another ignore list', () => {
    expect(dirtyPaths(z(' M a.ts', ' M b/c.ts'), ['b/'])).toEqual(['a.ts']);
  });
});

describe('commitLabel', () => {
  it('names the commit alone for a clean tree and says so otherwise', () => {
    expect(commitLabel({ commit: 'abc1234', dirty: false })).toBe('commit abc1234');
    expect(commitLabel({ commit: 'abc1234', dirty: true })).toBe('commit abc1234 (+ uncommitted changes)');
    expect(commitLabel({ commit: 'unknown', dirty: undefined })).toBe('commit unknown (tree state unknown)');
  });
});

describe('dirtyRefusal', () => {
  const dirty = { commit: 'abc1234', dirty: true, dirtyPaths: ['src/a.ts'] } as const;
  const clean = { commit: 'abc1234', dirty: false, dirtyPaths: [] } as const;

  it('refuses a run into the committed results from a dirty tree, naming the paths and the way out', () => {
    const why = dirtyRefusal({ writesCommittedResults: true, allowDirty: false, tree: dirty });
    expect(why).toContain('uncommitted changes (src/a.ts)');
    expect(why).toContain('--allow-dirty');
    expect(why).toContain('"commit abc1234 (+ uncommitted changes)"');
  });

  it('refuses when git cannot tell, rather than guess clean', () => {
    expect(dirtyRefusal({ writesCommittedResults: true, allowDirty: false, tree: { commit: 'unknown', dirty: undefined, dirtyPaths: [] } })).toContain('could not tell');
  });

  it('lets a clean tree, --allow-dirty, and runs that write elsewhere (--quick, --out) go ahead', () => {
    expect(dirtyRefusal({ writesCommittedResults: true, allowDirty: false, tree: clean })).toBeUndefined();
    expect(dirtyRefusal({ writesCommittedResults: true, allowDirty: true, tree: dirty })).toBeUndefined();
    expect(dirtyRefusal({ writesCommittedResults: false, allowDirty: false, tree: dirty })).toBeUndefined();
  });
});
