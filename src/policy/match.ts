// Name patterns for tools, prompts, resources and methods: an exact name, or a prefix ending in `*`.

export interface NamePattern {
  /** The pattern as written in the config. */
  readonly source: string;
  /** For `billing.*` this is `billing.`; undefined for an exact name. */
  readonly prefix: string | undefined;
}

export function parsePattern(source: string): NamePattern {
  return { source, prefix: source.endsWith('*') ? source.slice(0, -1) : undefined };
}

/** Why a pattern cannot be used, or undefined. Only a trailing `*` is a wildcard. */
export function patternProblem(source: string): string | undefined {
  const star = source.indexOf('*');
  if (star !== -1 && star !== source.length - 1) {
    return `"${source}": a * may only end a pattern (e.g. "billing.*")`;
  }
  return undefined;
}

export function matchesPattern(pattern: NamePattern, name: string): boolean {
  return pattern.prefix === undefined ? pattern.source === name : name.startsWith(pattern.prefix);
}

/** Finds the entry for a name. The most specific entry wins, whatever the config order. */
export interface Matcher<T> {
  readonly patterns: readonly string[];
  find(name: string): T | undefined;
  test(name: string): boolean;
}

export function createMatcher<T>(entries: ReadonlyArray<readonly [pattern: string, value: T]>): Matcher<T> {
  const exact = new Map<string, T>();
  const prefixed: Array<{ prefix: string; value: T }> = [];
  for (const [source, value] of entries) {
    const { prefix } = parsePattern(source);
    if (prefix === undefined) {
      if (!exact.has(source)) exact.set(source, value);
    } else {
      prefixed.push({ prefix, value });
    }
  }
  // Longest prefix first, so a broad `billing.*` never shadows a narrower `billing.refund*` whose
  // rule carries a condition; sort is stable, so equal prefixes keep config order.
  prefixed.sort((a, b) => b.prefix.length - a.prefix.length);
  const find = (name: string): T | undefined => {
    const hit = exact.get(name);
    if (hit !== undefined) return hit;
    return prefixed.find((p) => name.startsWith(p.prefix))?.value;
  };
  return Object.freeze({
    patterns: Object.freeze(entries.map(([source]) => source)),
    find,
    test: (name: string) => find(name) !== undefined,
  });
}

/** A matcher over bare patterns, for lists where only membership matters. */
export function createPatternSet(patterns: readonly string[]): Matcher<true> {
  return createMatcher(patterns.map((p) => [p, true] as const));
}
