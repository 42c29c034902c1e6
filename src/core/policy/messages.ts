// Agent-facing sentences: what was refused, why, what is allowed instead, and whether to retry.

/** A `message` with `{{jwt.x}}` / `{{mcp.arguments.y}}` placeholders split out once at start-up. */
export interface Template {
  readonly source: string;
  /** Literal text, or the path segments of a placeholder (e.g. `['mcp', 'arguments', 'amount']`). */
  readonly parts: ReadonlyArray<string | readonly string[]>;
}

const PLACEHOLDER = /\{\{([^{}]*)\}\}/g;
const PLACEHOLDER_PATH = /^(jwt|mcp)(\.[^.\s]+)+$/;
/** Echoed arguments come from the agent; keep them from bloating the reply. */
const MAX_VALUE_CHARS = 200;

export const DO_NOT_RETRY_SAME = 'Do not retry this call with the same arguments.';

/** Returns the template, or a problem sentence for a ConfigIssue. */
export function compileTemplate(source: string): Template | string {
  const parts: Array<string | readonly string[]> = [];
  let last = 0;
  for (const match of source.matchAll(PLACEHOLDER)) {
    const inner = (match[1] ?? '').trim();
    if (!PLACEHOLDER_PATH.test(inner)) {
      return `placeholder "${match[0]}" must be a dotted name under jwt or mcp, e.g. {{jwt.refund_limit}} or {{mcp.arguments.amount}}`;
    }
    if (match.index > last) parts.push(source.slice(last, match.index));
    parts.push(Object.freeze(inner.split('.')));
    last = match.index + match[0].length;
  }
  if (last < source.length) parts.push(source.slice(last));
  return Object.freeze({ source, parts: Object.freeze(parts) });
}

/** `root` is the expression context, so `{{jwt.x}}` reads the same value the condition read. */
export function renderTemplate(template: Template, root: object): string {
  return template.parts.map((part) => (typeof part === 'string' ? part : formatValue(lookup(root, part)))).join('');
}

function lookup(root: unknown, path: readonly string[]): unknown {
  let value = root;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, segment)) return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}

/** Prints a claim, argument or CEL value the way a person would write it. */
export function formatValue(value: unknown): string {
  if (value === undefined) return '(not set)';
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'bigint' || typeof value === 'boolean' || value === null) return String(value);
  if (typeof value === 'string') return truncate(value);
  if (Array.isArray(value)) return truncate(value.map(formatValue).join(', '));
  try {
    return truncate(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
  } catch {
    return '(unprintable)';
  }
}

function formatNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  // Beyond 2^53 String() switches to exponent notation (1e+21); a person expects the digits.
  if (Number.isInteger(n)) return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString();
  // Drops binary noise such as 0.30000000000000004 while keeping every digit a person typed.
  return String(Number(n.toPrecision(12)));
}

function truncate(text: string): string {
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text;
}

export function conditionFailedMessage(tool: string, task: string, condition: string, filled: string | undefined): string {
  if (filled !== undefined) {
    // Config authors often end their own text with "Do not retry."; saying it twice reads as a glitch.
    return /do not retry/i.test(filled) ? filled : `${filled} ${DO_NOT_RETRY_SAME}`;
  }
  return `The call to "${tool}" was refused in task "${task}" because its condition \`${condition}\` is not met for these arguments. ${DO_NOT_RETRY_SAME}`;
}

export function expressionErrorMessage(tool: string, task: string, problem: string, missingClaim: boolean): string {
  // A missing claim cannot be fixed by changing arguments; saying so keeps the agent from guessing.
  const advice = missingClaim
    ? 'Do not retry this call; your access token lacks what this rule needs, so ask the user for help.'
    : 'Do not retry this call unchanged; supply the missing or corrected argument, or ask the user for help.';
  return `The call to "${tool}" was refused in task "${task}" because its condition could not be checked: ${problem}. ${advice}`;
}

export type ListKind = 'tool' | 'prompt' | 'resource' | 'method';

const LIST_WORDS: Readonly<Record<ListKind, { plural: string; verb: string; field: string }>> = {
  tool: { plural: 'tools', verb: 'call', field: 'params.name' },
  prompt: { plural: 'prompts', verb: 'get', field: 'params.name' },
  resource: { plural: 'resources', verb: 'read', field: 'params.uri' },
  method: { plural: 'methods', verb: 'use', field: 'method' },
};

export interface TaskListing {
  readonly task: string;
  readonly allowed: readonly string[];
}

/** The request names something none of the caller's tasks lists. */
export function notListedMessage(kind: ListKind, target: string | undefined, tasks: readonly TaskListing[]): string {
  const words = LIST_WORDS[kind];
  if (target === undefined) {
    return `The request names no ${kind} (${words.field} is missing), so it cannot be allowed. Do not retry it without one.`;
  }
  const names = tasks.map((t) => `"${t.task}"`);
  const where = tasks.length === 1 ? `task ${names[0] ?? ''}` : `any of your tasks (${names.join(', ')})`;
  const allowed = [...new Set(tasks.flatMap((t) => t.allowed))];
  const whose = tasks.length === 1 ? 'this task' : 'these tasks';
  const instead = allowed.length
    ? `The ${words.plural} ${whose} may ${words.verb} are: ${allowed.join(', ')}. Do not retry this request; use one of those ${words.plural} instead.`
    : `${capitalize(whose)} may ${words.verb} no ${words.plural}. Do not retry this request.`;
  return `The ${kind} "${target}" is not part of ${where}. ${instead}`;
}

export function taskMissingMessage(claim: string, unknownTasks: readonly string[]): string {
  const why = unknownTasks.length
    ? `its "${claim}" claim names only tasks this gateway does not know (${unknownTasks.join(', ')})`
    : `it has no "${claim}" claim naming a task`;
  return `Your access token authorizes no task here: ${why}. Do not retry; ask the user for a token issued for the task you need.`;
}

export function taskNotAuthorizedMessage(requested: string, header: string, authorized: readonly string[], known: boolean): string {
  const why = known ? 'is not one of the tasks your access token authorizes' : 'is not a task this gateway knows';
  const instead = authorized.length ? `Your authorized tasks are: ${authorized.join(', ')}.` : 'Your token authorizes no task here.';
  return `The task "${requested}" named in the ${header} header ${why}. ${instead} Do not retry with this task.`;
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
