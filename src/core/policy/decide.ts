// The pure TBAC decision: facts in (claims, requested task, classified call), Decision out.
import { readName, targetOf } from '../mcp/canonical.js';
import type { McpBodyless, McpCall, McpReply } from '../mcp/message.js';
import type { CompiledPolicy, CompiledTask, CompiledToolRule } from './compile.js';
import type { Allow, Decision, Deny } from './decision.js';
import { evaluateCondition, exprContext } from './expr.js';
import type { Matcher } from './match.js';
import {
  conditionFailedMessage,
  expressionErrorMessage,
  notListedMessage,
  renderTemplate,
  taskMissingMessage,
  taskNotAuthorizedMessage,
  type ListKind,
} from './messages.js';
import { readingDeny } from './reading.js';
import { referencedValues, type Trace } from './trace.js';

export interface PolicyFacts {
  readonly claims: Readonly<Record<string, unknown>>;
  /** The task header's value, when the config names a task header and the request carried it. */
  readonly requestedTask: string | undefined;
  readonly call: McpCall | McpReply | McpBodyless;
  /** When given, every step of the decision is appended to it (`toolgate explain`); the hot path passes none. */
  readonly trace?: Trace | undefined;
}

export type TaskResolution =
  | { readonly ok: true; readonly tasks: readonly CompiledTask[] }
  | { readonly ok: false; readonly deny: Deny };

/** A task that simply does not list the target; kept apart so several tasks' lists can be merged. */
interface NotListed {
  readonly allow: false;
  readonly notListed: true;
  readonly kind: ListKind;
  readonly task: CompiledTask;
  readonly allowed: readonly string[];
  readonly policy: string;
}

/** A rule's refusal; `dryRun` when the rule is in dry-run, `rule` so a forwarded call is still charged its limits. */
type RuleDeny = Deny & { readonly dryRun: boolean; readonly rule: string };

type Verdict = Allow | Deny | RuleDeny | NotListed;

const RESOURCE_METHODS: ReadonlySet<string> = new Set(['resources/read', 'resources/subscribe', 'resources/unsubscribe']);

export function decide(policy: CompiledPolicy, facts: PolicyFacts): Decision {
  const { call, trace } = facts;
  if (call.type === 'call') {
    // Before any pattern: a target whose text is not what the server looks up would be judged as another target.
    const unreadable = readingDeny(call);
    if (unreadable) {
      trace?.push({ stage: 'request', text: `target is not canonical: ${unreadable.reason} (never dry-run)` });
      return unreadable;
    }
  }
  // Replies and bodyless requests (GET stream, DELETE) carry no method to judge; the caller is already authenticated.
  if (call.type !== 'call' || policy.housekeeping.test(call.method)) {
    trace?.push({ stage: 'rule', text: call.type === 'call' ? `${call.method} is housekeeping` : `${call.type} carries no method to judge`, policy: 'policy.housekeeping' });
    return housekeeping(policy, facts);
  }
  const resolved = resolveTasks(policy, facts.claims, facts.requestedTask);
  if (!resolved.ok) {
    trace?.push({ stage: 'task', text: resolved.deny.message, policy: resolved.deny.policy, values: { [policy.taskClaim]: facts.claims[policy.taskClaim], header: facts.requestedTask } });
    // No task judges the call, so only the global mode can make this refusal a would-be one.
    return policy.dryRun ? shadow(resolved.deny, undefined, 'policy.mode', trace) : resolved.deny;
  }
  const verdicts: Verdict[] = [];
  for (const task of resolved.tasks) {
    trace?.push({ stage: 'task', text: `judging under task ${task.name}${task.dryRun ? ' (dry-run)' : ''}`, policy: task.path });
    const verdict = judge(task, facts.claims, call, trace);
    // The first task that allows wins, so the audit names a task that really permits the call.
    if (verdict.allow) return verdict;
    verdicts.push(verdict);
  }
  const denied = pickDeny(verdicts, call);
  if (!policy.anyDryRun) return denied;
  // Forwarded only when every task that refused did so in dry-run: an enforced refusal always stands, and is the one told.
  const enforced = verdicts.filter((v) => !isDryRun(v));
  if (verdicts.length === 0) return denied;
  if (enforced.length > 0) return enforced.length === verdicts.length ? denied : pickDeny(enforced, call);
  const ruleDeny = verdicts.find((v): v is RuleDeny => 'rule' in v && !v.allow);
  return shadow(denied, ruleDeny?.rule, ruleDeny ? `${ruleDeny.policy ?? ''} (mode)` : 'tasks.*.mode', trace);
}

function isDryRun(verdict: Verdict): boolean {
  if ('notListed' in verdict) return verdict.task.dryRun;
  return 'dryRun' in verdict && verdict.dryRun;
}

/** A refusal in dry-run: the call is allowed (and charged as allowed), carrying the denial it would have got. */
function shadow(wouldDeny: Deny, rule: string | undefined, why: string, trace: Trace | undefined): Allow {
  trace?.push({ stage: 'mode', text: `dry-run: would deny (${wouldDeny.reason}); forwarded`, policy: why });
  const { allow, reason, message, task, policy } = wouldDeny;
  return { allow: true, reason: 'allowed', task, rule, wouldDeny: { allow, reason, message, task, policy } };
}

/** The caller's authorized tasks (claim ∩ config), narrowed to the requested one when a header names it. */
export function resolveTasks(policy: CompiledPolicy, claims: Readonly<Record<string, unknown>>, requestedTask: string | undefined): TaskResolution {
  const claimed = claimedTasks(claims[policy.taskClaim]);
  const authorized = claimed.filter((name) => policy.tasks.has(name));
  if (authorized.length === 0) {
    return { ok: false, deny: deny('task-missing', taskMissingMessage(policy.taskClaim, claimed), undefined, 'identity.task.claim') };
  }
  const requested = requestedTask?.trim();
  if (!requested) return { ok: true, tasks: authorized.map((name) => policy.tasks.get(name)).filter(isDefined) };
  const task = authorized.includes(requested) ? policy.tasks.get(requested) : undefined;
  if (task) return { ok: true, tasks: [task] };
  const message = taskNotAuthorizedMessage(requested, policy.taskHeader ?? 'task', authorized, policy.tasks.has(requested));
  return { ok: false, deny: deny('task-not-authorized', message, undefined, 'identity.task.header') };
}

/** Which of `toolNames` the caller's task(s) may call; filters a `tools/list` answer. */
export function visibleTools(policy: CompiledPolicy, claims: Readonly<Record<string, unknown>>, requestedTask: string | undefined, toolNames: readonly string[]): string[] {
  return visible(policy, claims, requestedTask, toolNames, (task) => task.tools);
}

/** Which of `promptNames` the caller's task(s) may get; filters a `prompts/list` answer. */
export function visiblePrompts(policy: CompiledPolicy, claims: Readonly<Record<string, unknown>>, requestedTask: string | undefined, promptNames: readonly string[]): string[] {
  return visible(policy, claims, requestedTask, promptNames, (task) => task.prompts);
}

function visible(
  policy: CompiledPolicy,
  claims: Readonly<Record<string, unknown>>,
  requestedTask: string | undefined,
  names: readonly string[],
  list: (task: CompiledTask) => Matcher<unknown>,
): string[] {
  const resolved = resolveTasks(policy, claims, requestedTask);
  if (!resolved.ok) return [];
  // Rules with a `when` stay visible: whether the call passes depends on arguments not yet sent. A name a call
  // would be refused for (not canonical) is not shown either.
  return names.filter((name) => readName(name).ok && resolved.tasks.some((task) => list(task).test(name)));
}

function judge(task: CompiledTask, claims: Readonly<Record<string, unknown>>, call: McpCall, trace: Trace | undefined): Verdict {
  if (call.method === 'tools/call') return judgeTool(task, claims, call, trace);
  const [kind, matcher, field] =
    call.method === 'prompts/get'
      ? (['prompt', task.prompts, 'prompts'] as const)
      : RESOURCE_METHODS.has(call.method)
        ? (['resource', task.resources, 'resources'] as const)
        : (['method', task.methods, 'methods'] as const);
  const target = kind === 'method' ? call.method : call.target;
  if (target === undefined || !matcher.test(target)) {
    trace?.push({ stage: 'rule', text: `${kind} ${target ?? '(none)'} is not listed`, policy: `${task.path}.${field}`, values: { allowed: matcher.patterns } });
    return notListed(kind, task, matcher.patterns, `${task.path}.${field}`);
  }
  trace?.push({ stage: 'rule', text: `${kind} ${target} is listed`, policy: `${task.path}.${field}` });
  if (call.method === 'completion/complete') return judgeCompletionRef(task, call);
  return allow(task.name, undefined);
}

/**
 * Completing a prompt argument or a resource-template variable reveals what that prompt or resource offers,
 * so the reference must be one the task may use, not only the method.
 */
function judgeCompletionRef(task: CompiledTask, call: McpCall): Verdict {
  // The same reading of the reference as readingDeny checked and as the gateway routes.
  const ref = targetOf(call);
  if (ref?.kind === 'prompt') {
    return task.prompts.test(ref.text) ? allow(task.name, undefined) : notListed('prompt', task, task.prompts.patterns, `${task.path}.prompts`);
  }
  if (ref?.kind === 'resource-template') {
    return task.resources.test(ref.text) ? allow(task.name, undefined) : notListed('resource', task, task.resources.patterns, `${task.path}.resources`);
  }
  return notListed('method', task, task.methods.patterns, `${task.path}.methods`);
}

function judgeTool(task: CompiledTask, claims: Readonly<Record<string, unknown>>, call: McpCall, trace: Trace | undefined): Verdict {
  const tool = call.target;
  const rule = tool === undefined ? undefined : task.tools.find(tool);
  if (tool === undefined || rule === undefined) {
    trace?.push({ stage: 'rule', text: `tool ${tool ?? '(none)'} is not listed`, policy: `${task.path}.tools`, values: { allowed: task.tools.patterns } });
    return notListed('tool', task, task.tools.patterns, `${task.path}.tools`);
  }
  trace?.push({ stage: 'rule', text: `tool ${tool} matches rule "${rule.tool}"${rule.dryRun ? ' (dry-run)' : ''}`, policy: rule.path });
  if (rule.when === undefined) return allow(task.name, rule.id);
  const context = exprContext(claims, call, task.name);
  const result = evaluateCondition(rule.when, context);
  trace?.push({
    stage: 'condition',
    text: `${rule.when.source} → ${result.ok ? String(result.value) : `error: ${result.problem}`}`,
    policy: rule.when.path,
    values: referencedValues(rule.when.source, context),
  });
  if (!result.ok) {
    const message = expressionErrorMessage(tool, task.name, result.problem, result.missingClaim);
    return ruleDeny(deny('expression-error', message, task.name, rule.when.path), rule);
  }
  if (result.value) return allow(task.name, rule.id);
  const filled = rule.message && renderTemplate(rule.message, context);
  return ruleDeny(deny('condition-failed', conditionFailedMessage(tool, task.name, rule.when.source, filled), task.name, rule.when.path), rule);
}

/** Plain Deny when the rule enforces, so the hot path returns the same shape it always did. */
function ruleDeny(denied: Deny, rule: CompiledToolRule): Deny | RuleDeny {
  return rule.dryRun ? { ...denied, dryRun: true, rule: rule.id } : denied;
}

/** A rule that matched and refused says more than "not listed"; otherwise merge every task's list. */
function pickDeny(verdicts: readonly Verdict[], call: McpCall): Deny {
  const refused = verdicts.find((v): v is Deny => !v.allow && !('notListed' in v));
  if (refused) return refused;
  const lists = verdicts.filter((v): v is NotListed => 'notListed' in v);
  const first = lists[0];
  if (!first) return deny('internal-error', 'No task could judge this request. Do not retry.', undefined, undefined);
  const target = first.kind === 'method' ? call.method : (targetOf(call)?.text ?? call.target);
  const message = notListedMessage(first.kind, target, lists.map((l) => ({ task: l.task.name, allowed: l.allowed })));
  const reason = first.kind === 'tool' ? 'tool-not-in-task' : 'method-not-allowed';
  const task = lists.length === 1 ? first.task.name : undefined;
  return deny(reason, message, task, lists.map((l) => l.policy).join(', '));
}

function housekeeping(policy: CompiledPolicy, facts: PolicyFacts): Allow {
  const resolved = resolveTasks(policy, facts.claims, facts.requestedTask);
  const only = resolved.ok && resolved.tasks.length === 1 ? resolved.tasks[0] : undefined;
  return { allow: true, reason: 'housekeeping', task: only?.name, rule: undefined };
}

function claimedTasks(value: unknown): string[] {
  const names = typeof value === 'string' ? value.split(/\s+/) : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
  return [...new Set(names.filter((n) => n.length > 0))];
}

function notListed(kind: ListKind, task: CompiledTask, allowed: readonly string[], policy: string): NotListed {
  return { allow: false, notListed: true, kind, task, allowed, policy };
}

function allow(task: string, rule: string | undefined): Allow {
  return { allow: true, reason: 'allowed', task, rule };
}

function deny(reason: Deny['reason'], message: string, task: string | undefined, policy: string | undefined): Deny {
  return { allow: false, reason, message, task, policy };
}

function isDefined<T>(value: T | undefined): value is T {
  return value !== undefined;
}
