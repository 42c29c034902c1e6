// Agent-facing sentences for quotas, budgets, the loop breaker and an unreachable store: what, how much, until when.
import { formatValue } from './messages.js';

export interface ResetFacts {
  /** When the current window ends, epoch milliseconds. */
  readonly resetAtMs: number;
  readonly nowMs: number;
}

/** `2025-06-01T13:00:00.000Z (in 42 minutes)`; rounded up so an agent that waits exactly that long is not early. */
export function formatReset({ resetAtMs, nowMs }: ResetFacts): string {
  return `${new Date(resetAtMs).toISOString()} (${relative(Math.max(0, resetAtMs - nowMs))})`;
}

function relative(ms: number): string {
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `in ${plural(Math.max(seconds, 1), 'second')}`;
  const minutes = Math.ceil(ms / 60_000);
  if (minutes < 120) return `in ${plural(minutes, 'minute')}`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours < 48) return `in ${plural(hours, 'hour')}${rest ? ` ${plural(rest, 'minute')}` : ''}`;
  return `in ${plural(Math.ceil(minutes / 1440), 'day')}`;
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

export interface QuotaFacts extends ResetFacts {
  readonly tool: string;
  readonly task: string;
  readonly calls: number;
  readonly per: string;
  readonly used: number;
}

export function quotaExceededMessage(f: QuotaFacts): string {
  return `The call to "${f.tool}" was refused in task "${f.task}" because its quota of ${plural(f.calls, 'call')} per ${f.per} is used up ` +
    `(${formatValue(f.used)} of ${formatValue(f.calls)} used in the current window). The quota resets at ${formatReset(f)}; do not retry before then.`;
}

export interface BudgetFacts extends ResetFacts {
  readonly tool: string;
  readonly task: string;
  readonly max: number;
  readonly per: string;
  readonly used: number;
  /** What this call would have spent. */
  readonly amount: number;
}

export function budgetExceededMessage(f: BudgetFacts): string {
  const head = `The call to "${f.tool}" was refused in task "${f.task}" because it would spend ${formatValue(f.amount)} of a budget of ${formatValue(f.max)} per ${f.per}`;
  if (f.amount > f.max) {
    // Waiting never helps here; saying when the window resets would invite a pointless retry.
    return `${head}, which is more than the whole budget. Do not retry this call; a smaller amount, or a person, is needed.`;
  }
  const left = Math.max(0, f.max - f.used);
  return `${head}, and ${formatValue(f.used)} is already spent in the current window (${formatValue(left)} left). ` +
    `The budget resets at ${formatReset(f)}; do not retry before then. A call that spends at most ${formatValue(left)} may still pass.`;
}

export interface LoopFacts extends ResetFacts {
  readonly tool: string;
  readonly repeats: number;
  readonly window: string;
}

export function loopDetectedMessage(f: LoopFacts): string {
  return `You called "${f.tool}" with the same arguments ${plural(f.repeats, 'time')} in the last ${f.window}, which looks like a loop, so this call was refused. ` +
    `Change the arguments or stop; do not repeat this call. Identical calls are refused until ${formatReset(f)}.`;
}

/** Features whose check could not run; named so the agent (and the operator reading the audit) knows what was skipped. */
export function storeUnavailableMessage(tool: string, features: readonly string[]): string {
  const what = features.length ? features.join(' and ') : 'limits';
  return `The call to "${tool}" was not made: the gateway could not reach its shared store to check this call's ${what}, ` +
    'and it refuses calls it cannot check. This is a temporary problem on the gateway side, not with your call: retry in a minute, and if it keeps failing, tell the user.';
}

export function negativeAmountMessage(tool: string, task: string, source: string, amount: number): string {
  return `The call to "${tool}" was refused in task "${task}" because its budget amount \`${source}\` came out as ${formatValue(amount)}; ` +
    'a budget only counts amounts of zero or more. Do not retry this call unchanged.';
}

export function bodyMissingForLoopMessage(tool: string): string {
  return `The call to "${tool}" was not forwarded: the gateway must read the call's arguments to detect repeated calls, but the proxy did not send the request body. ` +
    'This is a gateway configuration problem; do not retry, and tell the user.';
}
