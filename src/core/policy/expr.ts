// CEL expressions over `jwt` and `mcp`: compiled once at start-up, evaluated to results, never to exceptions.
import { Environment } from '@marcbachmann/cel-js';
import type { McpCall } from '../mcp/message.js';

/** What an expression sees. `mcp.task` is the task the call is being judged under. */
export interface ExprContext {
  readonly jwt: Readonly<Record<string, unknown>>;
  readonly mcp: {
    readonly method: string;
    readonly tool: string;
    readonly arguments: Readonly<Record<string, unknown>>;
    readonly task: string;
  };
}

/** The context for a call judged under `task`; also what quota/budget keys are evaluated with. */
export function exprContext(claims: Readonly<Record<string, unknown>>, call: McpCall, task: string): ExprContext {
  return { jwt: claims, mcp: { method: call.method, tool: call.target ?? '', arguments: call.arguments, task } };
}

/** What the expression must produce; checked at compile time when CEL can infer the type. */
export type ExprKind = 'condition' | 'number' | 'key';

export interface CompiledExpr {
  readonly source: string;
  /** Config path of the field, e.g. `tasks.refund-support.tools[1].when`. */
  readonly path: string;
  readonly kind: ExprKind;
  readonly run: (context: ExprContext) => unknown;
}

export type EvalResult<T> =
  | { readonly ok: true; readonly value: T }
  /** `problem` is a clause for an agent; `missingClaim` says the token, not the call, lacks something. */
  | { readonly ok: false; readonly problem: string; readonly missingClaim: boolean };

const ACCEPTED_TYPES: Readonly<Record<ExprKind, ReadonlySet<string>>> = {
  condition: new Set(['bool', 'dyn']),
  number: new Set(['int', 'uint', 'double', 'dyn']),
  key: new Set(['string', 'int', 'uint', 'double', 'bool', 'dyn']),
};

const KIND_WORDS: Readonly<Record<ExprKind, string>> = {
  condition: 'true or false',
  number: 'a number',
  key: 'a string or number',
};

export type CelEnvironment = Environment;

/** Declaring the two roots (rather than allowing any name) makes a typo like `jwtt.sub` a start-up error. */
export function createCelEnvironment(): CelEnvironment {
  return new Environment().registerVariable('jwt', 'map').registerVariable('mcp', 'map');
}

/** Returns the compiled expression, or a problem sentence for a ConfigIssue. */
export function compileExpr(env: CelEnvironment, source: string, path: string, kind: ExprKind): CompiledExpr | string {
  let parsed: ReturnType<CelEnvironment['parse']>;
  try {
    parsed = env.parse(source);
  } catch (err) {
    return `invalid CEL expression: ${describeCompileError(err, source)}`;
  }
  const checked = parsed.check();
  if (!checked.valid) return `invalid CEL expression: ${describeCompileError(checked.error, source)}`;
  if (checked.type !== undefined && !ACCEPTED_TYPES[kind].has(checked.type)) {
    return `must give ${KIND_WORDS[kind]}, but \`${source}\` gives a ${checked.type}`;
  }
  return Object.freeze({ source, path, kind, run: (context: ExprContext): unknown => parsed(context) });
}

export function evaluateCondition(expr: CompiledExpr, context: ExprContext): EvalResult<boolean> {
  const result = evaluate(expr, context);
  if (!result.ok) return result;
  if (typeof result.value !== 'boolean') return wrongResult(expr, result.value);
  return { ok: true, value: result.value };
}

/** For budgets: CEL integers are BigInt and JSON numbers are doubles; both come back as a finite number. */
export function evaluateNumber(expr: CompiledExpr, context: ExprContext): EvalResult<number> {
  const result = evaluate(expr, context);
  if (!result.ok) return result;
  const { value } = result;
  if (typeof value === 'bigint') return { ok: true, value: Number(value) };
  if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, value };
  return wrongResult(expr, value);
}

/** For quota/budget counter keys. */
export function evaluateKey(expr: CompiledExpr, context: ExprContext): EvalResult<string> {
  const result = evaluate(expr, context);
  if (!result.ok) return result;
  const { value } = result;
  if (typeof value === 'string') return { ok: true, value };
  if (typeof value === 'bigint' || typeof value === 'boolean') return { ok: true, value: String(value) };
  if (typeof value === 'number' && Number.isFinite(value)) return { ok: true, value: String(value) };
  return wrongResult(expr, value);
}

function evaluate(expr: CompiledExpr, context: ExprContext): EvalResult<unknown> {
  try {
    return { ok: true, value: expr.run(context) };
  } catch (err) {
    // Any failure, including a bug inside the evaluator, is reported as a value so the caller denies.
    return { ok: false, ...describeRuntimeError(err, expr.source) };
  }
}

function wrongResult(expr: CompiledExpr, value: unknown): EvalResult<never> {
  const problem = `\`${expr.source}\` gave ${describeValueType(value)} instead of ${KIND_WORDS[expr.kind]}`;
  return { ok: false, problem, missingClaim: false };
}

interface CelErrorShape {
  readonly code?: unknown;
  readonly summary?: unknown;
  readonly range?: { readonly start: number; readonly end: number };
}

function celError(err: unknown): CelErrorShape {
  return typeof err === 'object' && err !== null ? (err as CelErrorShape) : {};
}

function describeCompileError(err: unknown, source: string): string {
  const { summary, range } = celError(err);
  const text = typeof summary === 'string' ? summary : 'it could not be parsed';
  return range ? `${text} at column ${range.start + 1} of \`${source}\`` : `${text} in \`${source}\``;
}

/** Turns a CEL runtime error into a clause an agent can act on; never a stack trace. */
function describeRuntimeError(err: unknown, source: string): { problem: string; missingClaim: boolean } {
  const { code, summary, range } = celError(err);
  const text = typeof summary === 'string' ? summary : '';
  if (code === 'no_such_key') {
    const key = /^No such key: (.*)$/.exec(text)?.[1] ?? 'a value';
    const ref = (range && referenceEndingAt(source, range.end)) ?? key;
    return { problem: missingValue(ref), missingClaim: ref.startsWith('jwt.') };
  }
  if (code === 'no_such_overload' || code === 'no_matching_overload' || code === 'invalid_comparison_type') {
    const ops = text
      .replace(/^(no such overload:|found no matching overload for)\s*/, '')
      .replace(/dyn<([^<>]*(?:<[^<>]*>)?)>/g, '$1')
      .replace(/'/g, '');
    return { problem: `an argument or claim it uses has the wrong type (\`${source}\` cannot compute ${ops})`, missingClaim: false };
  }
  return { problem: text ? `\`${source}\` failed: ${text}` : `\`${source}\` could not be evaluated`, missingClaim: false };
}

/** The dotted name (e.g. `mcp.arguments.amount`) whose last segment ends at `end`, if the source spells it out. */
function referenceEndingAt(source: string, end: number): string | undefined {
  return /[A-Za-z_][\w]*(?:\s*\.\s*[A-Za-z_]\w*)*$/.exec(source.slice(0, end))?.[0].replace(/\s+/g, '');
}

function missingValue(ref: string): string {
  if (ref.startsWith('mcp.arguments.')) return `the call has no argument \`${ref.slice('mcp.arguments.'.length)}\``;
  if (ref.startsWith('jwt.')) return `the caller's token has no claim \`${ref.slice('jwt.'.length)}\``;
  return `the value \`${ref}\` is missing`;
}

export function describeValueType(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'bigint') return 'an integer';
  if (typeof value === 'number') return 'a number';
  if (typeof value === 'object') return 'a map';
  return `a ${typeof value}`;
}
