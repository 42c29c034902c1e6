// An opt-in record of how a decision was reached (`toolgate explain`); the hot path passes none and pays nothing.
import type { ExprContext } from './expr.js';

export type TraceStage = 'identity' | 'request' | 'task' | 'rule' | 'condition' | 'limit' | 'mode' | 'decision';

export interface TraceEntry {
  readonly stage: TraceStage;
  readonly text: string;
  /** The config path that decided this step, e.g. `tasks.refunds.tools[1].when`. */
  readonly policy?: string | undefined;
  /** The facts the step read: a condition's operands, a counter's use and limit. */
  readonly values?: Readonly<Record<string, unknown>> | undefined;
}

/** Appended to in decision order; callers that want no trace pass undefined. */
export type Trace = TraceEntry[];

const REFERENCE = /\b(?:jwt|mcp)(?:\.[A-Za-z_][A-Za-z0-9_]*)+/g;

/** The value of every `jwt.x` / `mcp.arguments.y` path an expression names, as the expression saw them. */
export function referencedValues(source: string, context: ExprContext): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const path of new Set(source.match(REFERENCE) ?? [])) values[path] = lookup(context, path.split('.'));
  return values;
}

function lookup(root: unknown, parts: readonly string[]): unknown {
  let value = root;
  for (const part of parts) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return typeof value === 'bigint' ? Number(value) : value;
}
