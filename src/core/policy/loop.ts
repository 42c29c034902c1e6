// The loop breaker compiled once: which tools it watches, how many identical calls a window allows.
import { durationMs } from '../config/duration.js';
import { formatPath, type ConfigIssue } from '../config/errors.js';
import type { LoopBreakerConfig } from '../config/schema-store.js';
import { createPatternSet, parsePattern, patternProblem, type Matcher, type NamePattern } from './match.js';

export interface CompiledLoopBreaker {
  readonly maxRepeats: number;
  /** The window as written (`1m`), for messages. */
  readonly window: string;
  readonly windowMs: number;
  /** Config path, for audit records. */
  readonly path: string;
  /** Repeats are counted in dry-run keys and never refused. */
  readonly dryRun: boolean;
  /** True when calls to `tool` are counted. */
  watches(tool: string): boolean;
  /** True when some name the rule pattern `rulePattern` matches may be watched (so its arguments are needed). */
  mayWatch(rulePattern: string): boolean;
}

export function compileLoopBreaker(config: LoopBreakerConfig | undefined, issues: ConfigIssue[], mode: 'enforce' | 'dry-run' = 'enforce'): CompiledLoopBreaker | undefined {
  if (config === undefined) return undefined;
  const path = ['policy', 'loopBreaker'];
  const patterns = config.tools;
  patterns?.forEach((p, i) => {
    const problem = patternProblem(p);
    if (problem) issues.push({ path: formatPath([...path, 'tools', i]), message: problem });
  });
  const set: Matcher<true> | undefined = patterns && createPatternSet(patterns);
  const parsed = patterns?.map(parsePattern);
  return Object.freeze({
    maxRepeats: config.maxRepeats,
    window: config.window,
    windowMs: durationMs(config.window),
    path: formatPath(path),
    dryRun: (config.mode ?? mode) === 'dry-run',
    watches: (tool: string) => set === undefined || set.test(tool),
    mayWatch: (rulePattern: string) => parsed === undefined || parsed.some((p) => overlap(p, parsePattern(rulePattern))),
  });
}

/** Whether two name patterns can match one name: an exact name, or two prefixes where one extends the other. */
function overlap(a: NamePattern, b: NamePattern): boolean {
  if (a.prefix === undefined && b.prefix === undefined) return a.source === b.source;
  if (a.prefix === undefined) return a.source.startsWith(b.prefix as string);
  if (b.prefix === undefined) return b.source.startsWith(a.prefix);
  return a.prefix.startsWith(b.prefix) || b.prefix.startsWith(a.prefix);
}
