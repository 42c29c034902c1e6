// No hidden globals: src/ keeps no module-level mutable state, except caches documented as caches (`// Cache:`).
//
// The rule is syntactic and deliberately simple. Over each top-level statement of every src/**/*.ts file it flags:
//   - `let` and `var` declarations (a module-level variable is state by definition);
//   - `const x = new Map|Set|WeakMap|WeakSet|Array(...)`, unless declared ReadonlyMap/ReadonlySet/ReadonlyArray
//     (tsc then refuses any mutation; a WeakMap has no read-only form, so it is always flagged);
//   - `const x = new AnyOtherClass(...)`: a singleton, unless the class is in STATELESS below;
//   - `const x = []` and any array declared with a mutable type (`T[]`, `Array<T>`).
// A flagged declaration passes only when a comment directly above it starts with `// Cache:` and says what it caches,
// its bound and why sharing it is safe. What the rule does not see: state behind a factory call (`const x = make()`),
// non-empty untyped array or object literals that are mutated later, and static class fields.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const CONTAINERS = new Set(['Map', 'Set', 'WeakMap', 'WeakSet', 'Array']);
const READONLY_TYPES = /^(ReadonlyMap|ReadonlySet|ReadonlyArray)\b|^readonly\s/;
/**
 * Classes whose instances hold nothing that changes between uses: compiled regular expressions (the two sticky ones
 * in core/mcp/body.ts have their lastIndex set before each synchronous use), URLs, and OpenTelemetry's W3C trace
 * context propagator (no fields).
 */
const STATELESS = new Set(['RegExp', 'URL', 'TextEncoder', 'TextDecoder', 'W3CTraceContextPropagator']);

interface Finding {
  readonly file: string;
  readonly line: number;
  readonly name: string;
  readonly why: string;
}

function unwrap(e: ts.Expression): ts.Expression {
  while (ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isParenthesizedExpression(e) || ts.isTypeAssertionExpression(e)) e = e.expression;
  return e;
}

function whyMutable(decl: ts.VariableDeclaration, isConst: boolean, source: ts.SourceFile): string | undefined {
  if (!isConst) return 'a module-level let/var';
  const init = decl.initializer && unwrap(decl.initializer);
  if (init === undefined) return undefined;
  const type = decl.type?.getText(source) ?? '';
  if (ts.isNewExpression(init)) {
    const cls = init.expression.getText(source);
    if (CONTAINERS.has(cls)) return READONLY_TYPES.test(type) && cls !== 'WeakMap' && cls !== 'WeakSet' ? undefined : `a module-level new ${cls}`;
    return STATELESS.has(cls) ? undefined : `a module-level singleton (new ${cls})`;
  }
  if (ts.isArrayLiteralExpression(init)) {
    if (init.elements.length === 0) return 'a module-level empty array';
    if (/\[\]$|^Array</.test(type) && !READONLY_TYPES.test(type)) return 'a module-level array of a mutable type';
  }
  return undefined;
}

/** True when a comment directly above the statement starts with `// Cache:`. */
function documentedCache(statement: ts.Statement, text: string): boolean {
  const comments = ts.getLeadingCommentRanges(text, statement.getFullStart()) ?? [];
  return comments.some((c) => /^\/\/ Cache: \S/.test(text.slice(c.pos, c.end)));
}

/** Every undocumented piece of module-level mutable state in one file's text. */
function moduleState(file: string, text: string): Finding[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Finding[] = [];
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement) || documentedCache(statement, text)) continue;
    const isConst = (statement.declarationList.flags & ts.NodeFlags.Const) !== 0;
    for (const decl of statement.declarationList.declarations) {
      const why = whyMutable(decl, isConst, source);
      if (why) found.push({ file, line: source.getLineAndCharacterOfPosition(decl.getStart(source)).line + 1, name: decl.name.getText(source), why });
    }
  }
  return found;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(full);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [full] : [];
  });
}

describe('module-level state in src/', () => {
  it('is none, except caches documented with a `// Cache:` comment', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(100);
    const findings = files.flatMap((f) => moduleState(path.relative(SRC, f), readFileSync(f, 'utf8')));
    expect(findings.map((f) => `src/${f.file}:${f.line} ${f.name}: ${f.why}`)).toEqual([]);
  });

  it('lists the documented caches (a new one is a decision, so this list changes with it)', () => {
    const caches = sourceFiles(SRC).flatMap((f) => {
      const text = readFileSync(f, 'utf8');
      return [...text.matchAll(/^\/\/ Cache: .*\n(?:\/\/.*\n)*(?:export )?(?:const|let) (\w+)/gm)].map((m) => `src/${path.relative(SRC, f)} ${m[1]}`);
    });
    expect(caches.sort()).toEqual([
      'src/envoy/protos.ts full',
      'src/envoy/protos.ts lean',
      'src/pipeline/authz/host-origin.ts compiled',
      'src/pipeline/extproc/gateway-context.ts contexts',
      'src/pipeline/extproc/gateway-macs.ts derived',
      'src/pipeline/pins/watch.ts watches',
    ]);
  });
});

describe('the rule', () => {
  it.each([
    ['let counter = 0;', 'a module-level let/var'],
    ['export let current: string | undefined;', 'a module-level let/var'],
    ['var legacy = 1;', 'a module-level let/var'],
    ['const seen = new Set<string>();', 'a module-level new Set'],
    ['const byKey: Map<string, number> = new Map();', 'a module-level new Map'],
    ['const weak: ReadonlyMap<object, number> = new WeakMap() as never;', 'a module-level new WeakMap'],
    ['export const registry = new Registry();', 'a module-level singleton (new Registry)'],
    ['const queue = [];', 'a module-level empty array'],
    ['const listeners: Array<() => void> = [() => undefined];', 'a module-level array of a mutable type'],
    ['const names: string[] = ["a"];', 'a module-level array of a mutable type'],
    ['// a cache, but not said the agreed way\nconst memo = new Map();', 'a module-level new Map'],
  ])('flags %s', (text, why) => {
    expect(moduleState('x.ts', text)).toEqual([expect.objectContaining({ why, line: text.split('\n').length })]);
  });

  it.each([
    'const METHODS: ReadonlySet<string> = new Set(["a"]);',
    'const LIMITS: readonly number[] = [1, 2];',
    'const BUCKETS = [0.1, 1];',
    'const RE = new RegExp("a", "y");',
    'const TAGS = ["a"] as const;',
    '// Cache: compiled rules per runtime; WeakMap, so bounded by the live runtimes; derived from frozen config only.\nconst compiled = new WeakMap<object, string>();',
    'function f() { let local = 0; const m = new Map(); return [local, m]; }',
  ])('passes %s', (text) => {
    expect(moduleState('x.ts', text)).toEqual([]);
  });
});
