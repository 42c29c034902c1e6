// How `toolgate test` and `toolgate explain` print results: a line per case, and the decision trace behind a mismatch.
import type { TraceEntry } from '../../core/policy/trace.js';
import { describeExpectation } from './cases.js';
import { describeObserved, type CaseResult, type StepResult } from './run.js';

export function caseLine(result: CaseResult): string {
  const last = result.calls[result.calls.length - 1];
  if (result.pass) return `  ok    ${result.name}${last ? `: ${describeObserved(last.observed)}${result.calls.length > 1 ? ` (${result.calls.length} calls)` : ''}` : ''}`;
  if (!last) return `  FAIL  ${result.name}`;
  return `  FAIL  ${result.name}: call ${last.call}: expected ${describeExpectation(last.expected)}, got ${describeObserved(last.observed)}`;
}

/** The steps that led to a call's outcome: task, rule, condition with its values, limit, mode, decision. */
export function traceLines(step: StepResult, indent: string): string[] {
  const lines = step.trace.map((entry) => traceLine(entry, indent));
  if (step.observed.message) lines.push(`${indent}${'message'.padEnd(10)} ${step.observed.message}`);
  return lines;
}

function traceLine(entry: TraceEntry, indent: string): string {
  const where = entry.policy ? `  [${entry.policy}]` : '';
  const values = entry.values && Object.keys(entry.values).length > 0 ? `\n${indent}${' '.repeat(11)}${formatValues(entry.values)}` : '';
  return `${indent}${entry.stage.padEnd(10)} ${entry.text}${where}${values}`;
}

function formatValues(values: Readonly<Record<string, unknown>>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k} = ${v === undefined ? '(absent)' : JSON.stringify(v)}`)
    .join(', ');
}

export function summaryLine(results: readonly CaseResult[]): string {
  const failed = results.filter((r) => !r.pass).length;
  return `${results.length} case${results.length === 1 ? '' : 's'}: ${results.length - failed} passed, ${failed} failed`;
}
