// Which commit a benchmark run measured, and whether the working tree differed from it: a result must never name a
// commit it did not measure. `git status --porcelain -z` is parsed here (pure), run in treeState().
import { execFileSync } from 'node:child_process';

/** What the run itself writes (and a previous run left behind): never a reason to call the tree dirty. */
export const RUN_OUTPUTS: readonly string[] = [
  'bench/out/',
  'bench/results.json',
  'bench/results.md',
  'bench/results.png',
  'bench/results.svg',
  'docs/benchmark.md',
];

/**
 * The paths `git status --porcelain=v1 -z` lists, less `ignored` (exact paths, or folders ending in `/`). Entries
 * are `XY PATH` separated by NUL; a rename or copy (X or Y is R or C) is followed by one more NUL-terminated field,
 * its source path, which counts too (the old path is gone from the tree).
 */
export function dirtyPaths(porcelainZ: string, ignored: readonly string[] = RUN_OUTPUTS): string[] {
  const fields = porcelainZ.split('\0');
  const paths: string[] = [];
  for (let i = 0; i < fields.length; i++) {
    const entry = fields[i] as string;
    if (entry.length < 4) continue;
    const status = entry.slice(0, 2);
    paths.push(entry.slice(3));
    if (/[RC]/.test(status) && i + 1 < fields.length) paths.push(fields[++i] as string);
  }
  const skip = (path: string) => ignored.some((ig) => (ig.endsWith('/') ? path.startsWith(ig) || `${path}/` === ig : path === ig));
  return paths.filter((p) => p !== '' && !skip(p));
}

export interface TreeState {
  /** Short hash of HEAD, or "unknown" outside a git checkout. */
  readonly commit: string;
  /** Uncommitted changes (untracked files included) besides the run's own outputs; undefined when git is unavailable. */
  readonly dirty: boolean | undefined;
  /** The first few such paths, for the refusal message and results.json. */
  readonly dirtyPaths: readonly string[];
}

/** `commit abc1234`, with ` (+ uncommitted changes)` when the tree differed from it. */
export function commitLabel(tree: Pick<TreeState, 'commit' | 'dirty'>): string {
  return `commit ${tree.commit}${tree.dirty ? ' (+ uncommitted changes)' : tree.dirty === undefined ? ' (tree state unknown)' : ''}`;
}

export function treeState(repoRoot: string): TreeState {
  const git = (args: string[]) => execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  let commit = 'unknown';
  try {
    commit = git(['rev-parse', '--short', 'HEAD']).trim();
  } catch {
    return { commit, dirty: undefined, dirtyPaths: [] };
  }
  try {
    const paths = dirtyPaths(git(['status', '--porcelain=v1', '-z', '--untracked-files=all']));
    return { commit, dirty: paths.length > 0, dirtyPaths: paths.slice(0, 20) };
  } catch {
    return { commit, dirty: undefined, dirtyPaths: [] };
  }
}

/**
 * Why a run must not start, or undefined: a run that writes the committed results (bench/results.*, the tables in
 * docs/benchmark.md) needs a clean tree — or `--allow-dirty`, and then the results say so.
 */
export function dirtyRefusal(opts: { readonly writesCommittedResults: boolean; readonly allowDirty: boolean; readonly tree: TreeState }): string | undefined {
  const { tree } = opts;
  if (!opts.writesCommittedResults || opts.allowDirty || tree.dirty === false) return undefined;
  const why = tree.dirty === undefined
    ? 'git could not tell whether the working tree is clean'
    : `the working tree has uncommitted changes (${tree.dirtyPaths.join(', ')})`;
  return `refusing a full run into bench/results.* and docs/benchmark.md: ${why}, so the results would name commit ${tree.commit} ` +
    `without having measured it. Commit first, or pass --allow-dirty (the results then say "${commitLabel({ commit: tree.commit, dirty: true })}"), or write elsewhere with --out DIR.`;
}
