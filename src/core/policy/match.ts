// Name patterns for tools, prompts, resources and methods: an exact name, or a prefix ending in `*`.
import { canonicalName, readName, readUri, readUriTemplate, templateAsUri } from '../mcp/canonical.js';

export interface NamePattern {
  /** The pattern as written in the config. */
  readonly source: string;
  /** For `billing.*` this is `billing.`; undefined for an exact name. */
  readonly prefix: string | undefined;
}

export function parsePattern(source: string): NamePattern {
  return { source, prefix: source.endsWith('*') ? source.slice(0, -1) : undefined };
}

/**
 * What a pattern is matched against: tool and prompt `name`s, resource `uri`s (and URI templates), or anything
 * else read as written (methods).
 */
export type PatternKind = 'name' | 'uri' | 'text';

/**
 * Why a pattern cannot be used, or undefined. Only a trailing `*` is a wildcard. Requests are judged only in
 * canonical form (see mcp/canonical.ts), so a name or URI pattern that is not itself canonical could never
 * match what it seems to say; it is a config error rather than a silent never-match.
 */
export function patternProblem(source: string, kind: PatternKind = 'text'): string | undefined {
  const star = source.indexOf('*');
  if (star !== -1 && star !== source.length - 1) {
    return `"${source}": a * may only end a pattern (e.g. "billing.*")`;
  }
  const prefix = star === -1 ? undefined : source.slice(0, -1);
  if (kind === 'name') return prefix === undefined ? exactNameProblem(source) : namePrefixProblem(source, prefix);
  if (kind === 'uri') return prefix === undefined ? exactUriProblem(source) : uriPrefixProblem(source, prefix);
  return undefined;
}

function exactNameProblem(source: string): string | undefined {
  const reading = readName(source);
  if (reading.ok) return undefined;
  const instead = reading.canonical === undefined ? '' : `; write "${reading.canonical}"`;
  return `${JSON.stringify(source)} is not a canonical name: ${reading.why}${instead}`;
}

/** A prefix may end in white space (it continues), but must otherwise be what a canonical name starts with. */
function namePrefixProblem(source: string, prefix: string): string | undefined {
  const reading = readName(`${prefix}x`);
  if (reading.ok) return undefined;
  return `${JSON.stringify(source)} cannot match a canonical name: ${reading.why}; write "${canonicalName(`${prefix}x`).slice(0, -1)}*"`;
}

function exactUriProblem(source: string): string | undefined {
  const reading = readUriTemplate(source);
  if (reading.ok) return undefined;
  const instead = reading.canonical === undefined ? '' : `; write "${reading.canonical}"`;
  return `"${source}" is not a URI in normal form (WHATWG URL rules), so no request could match it: ${reading.why}${instead}`;
}

/**
 * A prefix is usable when some canonical URI starts with it: the prefix followed by a probe (a letter, or a
 * digit after a port's `:`) must read back with the prefix intact. `https://Example.com/*` fails (hosts are
 * lower-cased), `file:///public/../*` fails (dot segments resolve); `file:*` and `https://*` pass.
 */
function uriPrefixProblem(source: string, prefix: string): string | undefined {
  if (prefix === '') return undefined;
  const plain = templateAsUri(prefix);
  let rewritten: { probe: string; href: string } | undefined;
  for (const probe of ['x', '1']) {
    let href: string;
    try {
      href = new URL(plain + probe).href;
    } catch {
      continue;
    }
    if (!href.startsWith(plain)) {
      rewritten ??= { probe: plain + probe, href };
      continue;
    }
    const reading = readUri(href);
    if (reading.ok) return undefined;
    return `"${source}" cannot match a URI toolgate accepts: ${reading.why}`;
  }
  if (rewritten === undefined) return `"${source}" does not start an absolute URI (WHATWG URL rules cannot parse "${prefix}x")`;
  return `"${source}" is not a URI in normal form (WHATWG URL rules): "${rewritten.probe}" reads as "${rewritten.href}", and requests are matched in normal form only`;
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
