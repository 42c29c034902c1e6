// Quotas, budgets and the loop breaker for an allowed tools/call: plan the counters, charge them atomically, explain refusals.
import { createHash } from 'node:crypto';
import type { StoreFeature } from '../config/schema-store.js';
import type { McpBodyless, McpCall, McpReply } from '../mcp/message.js';
import type { CompiledPolicy, CompiledToolRule } from '../policy/compile.js';
import type { Decision, Deny } from '../policy/decision.js';
import { evaluateKey, evaluateNumber, exprContext, type CompiledExpr, type ExprContext } from '../policy/expr.js';
import {
  bodyMissingForLoopMessage,
  budgetExceededMessage,
  loopDetectedMessage,
  negativeAmountMessage,
  quotaExceededMessage,
  storeUnavailableMessage,
} from '../policy/limit-messages.js';
import { expressionErrorMessage } from '../policy/messages.js';
import type { ReasonCode } from '../policy/reasons.js';
import { attempt, type Charged, type Consumed, type Counter, type Receipt, type Store } from '../store/port.js';
import { countStoreError } from '../telemetry/metrics.js';

export interface LimitFacts {
  readonly claims: Readonly<Record<string, unknown>>;
  /** The verified subject; the loop breaker counts per subject. */
  readonly subject: string;
  readonly call: McpCall | McpReply | McpBodyless;
  /** The decision's id: names the receipt of what this call is charged, so a later refusal can give it back. */
  readonly decisionId?: string;
}

/**
 * How long a charge can be given back. ext_proc refuses a call within the same request, a few seconds at most
 * (its message timeout) after ext_authz charged it; the receipt outliving that costs only memory.
 */
export const RECEIPT_TTL_MS = 60_000;

type CounterFeature = Exclude<StoreFeature, 'revocation' | 'pins'>;

/** One counter to charge, with what a refusal of it must say. */
export interface PlannedCounter {
  readonly feature: CounterFeature;
  readonly counter: Counter;
  readonly refuse: (consumed: Extract<Consumed, { ok: false }>, nowMs: number) => Deny;
}

/** `tag` is the counters' shared hash tag (`{task/rule}`), which the receipt's key carries too. */
export type LimitPlan = { readonly ok: true; readonly counters: readonly PlannedCounter[]; readonly tag: string } | { readonly ok: false; readonly deny: Deny };

export interface LimitResult {
  readonly decision: Decision;
  /** For the audit record when the decision stands only because a store failure was configured to allow. */
  readonly detail?: string;
  /** What the call was charged, when it was charged and a receipt was written (facts.decisionId given). */
  readonly charged?: Charged;
}

/**
 * Gathers the facts (keys, amounts) first and only then charges the store, so an expression error or a
 * negative amount denies without touching any counter. Only calls everything else allows get here.
 */
export async function applyLimits(policy: CompiledPolicy, store: Store, facts: LimitFacts, decision: Decision, now: () => number = Date.now): Promise<LimitResult> {
  if (!decision.allow || facts.call.type !== 'call' || facts.call.method !== 'tools/call') return { decision };
  const plan = planLimits(policy, facts, decision.task, decision.rule);
  if (!plan.ok) return { decision: plan.deny };
  if (plan.counters.length === 0) return { decision };
  const counters = plan.counters.map((p) => p.counter);
  const receipt: Receipt | undefined = facts.decisionId === undefined ? undefined : { key: `ctr:${plan.tag}:receipt:${encode(facts.decisionId)}`, ttlMs: RECEIPT_TTL_MS };
  const result = await attempt(store.consume(counters, receipt));
  if (result.ok) {
    if (result.value.ok) return receipt ? { decision, charged: { receipt: receipt.key, keys: counters.map((c) => c.key) } } : { decision };
    const refused = plan.counters[result.value.index];
    if (refused) return { decision: refused.refuse(result.value, now()) };
    return { decision: deny('internal-error', 'The gateway could not check this call\'s limits. Do not retry.', decision.task, undefined) };
  }
  const features = [...new Set(plan.counters.map((p) => p.feature))];
  for (const f of features) countStoreError(f);
  const denying = features.filter((f) => policy.onStoreError[f] === 'deny');
  const detail = `store unavailable (${result.detail}); ${features.join(', ')} not counted`;
  if (denying.length === 0) return { decision, detail: `${detail} (onStoreError: allow)` };
  const tool = facts.call.target ?? '';
  return {
    decision: deny('store-unavailable', storeUnavailableMessage(tool, denying.map(featureWords)), decision.task, denying.map((f) => `policy.onStoreError.${f}`).join(', ')),
    detail,
  };
}

/** The counters one allowed tools/call charges, in refusal priority: the loop first, then quota, then budget. */
export function planLimits(policy: CompiledPolicy, facts: LimitFacts, task: string | undefined, ruleId: string | undefined): LimitPlan {
  const call = facts.call;
  if (call.type !== 'call' || call.target === undefined) return { ok: true, counters: [], tag: '' };
  const tool = call.target;
  const rule = ruleId === undefined ? undefined : policy.rules.get(ruleId);
  const taskName = task ?? rule?.task ?? '';
  const tag = `{${encode(taskName)}/${encode(rule?.tool ?? tool)}}`;
  const counters: PlannedCounter[] = [];

  const loop = policy.loopBreaker;
  if (loop?.watches(tool)) {
    if (call.fromHeadersOnly) return { ok: false, deny: deny('missing-body', bodyMissingForLoopMessage(tool), task, loop.path) };
    counters.push({
      feature: 'loop',
      counter: { key: `ctr:${tag}:loop:${encode(facts.subject)}:${encode(tool)}:${argumentsHash(call.arguments)}`, amount: 1, limit: loop.maxRepeats, windowMs: loop.windowMs },
      refuse: (c, nowMs) => deny('loop-detected', loopDetectedMessage({ tool, repeats: c.used, window: loop.window, resetAtMs: c.resetAtMs, nowMs }), task, loop.path),
    });
  }
  if (rule === undefined || (rule.quota === undefined && rule.budget === undefined)) return { ok: true, counters, tag };

  const context = exprContext(facts.claims, call, taskName);
  const { quota, budget } = rule;
  if (quota) {
    const key = evalKey(rule, quota.key, context, tool, taskName);
    if (!key.ok) return key;
    counters.push({
      feature: 'quota',
      counter: { key: `ctr:${tag}:quota:${encode(key.value)}`, amount: 1, limit: quota.calls, windowMs: quota.windowMs },
      refuse: (c, nowMs) =>
        deny('quota-exceeded', quotaExceededMessage({ tool, task: taskName, calls: quota.calls, per: quota.per, used: c.used, resetAtMs: c.resetAtMs, nowMs }), task, `${rule.path}.quota`),
    });
  }
  if (budget) {
    const key = evalKey(rule, budget.key, context, tool, taskName);
    if (!key.ok) return key;
    const amount = evaluateNumber(budget.sum, context);
    if (!amount.ok) return exprDeny(rule, budget.sum, tool, taskName, amount.problem, amount.missingClaim);
    // A negative amount would refill the budget: an agent must never be able to buy itself more.
    if (amount.value < 0) return { ok: false, deny: deny('expression-error', negativeAmountMessage(tool, taskName, budget.sum.source, amount.value), task, budget.sum.path) };
    const spend = amount.value;
    counters.push({
      feature: 'budget',
      counter: { key: `ctr:${tag}:budget:${encode(key.value)}`, amount: spend, limit: budget.max, windowMs: budget.windowMs },
      refuse: (c, nowMs) =>
        deny('budget-exceeded', budgetExceededMessage({ tool, task: taskName, max: budget.max, per: budget.per, used: c.used, amount: spend, resetAtMs: c.resetAtMs, nowMs }), task, `${rule.path}.budget`),
    });
  }
  return { ok: true, counters, tag };
}

/** Same arguments, same hash: object keys sorted at every level, so `{a,b}` and `{b,a}` are one call. */
export function argumentsHash(args: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(canonicalJson(args)).digest('base64url').slice(0, 22);
}

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Key parts come from config and from claims or arguments: `{`, `}` and `:` are escaped so nobody can move a
 * counter into another's hash slot or name; very long values are hashed so keys stay small.
 */
function encode(part: string): string {
  const escaped = encodeURIComponent(part);
  return escaped.length <= 128 ? escaped : `#${createHash('sha256').update(part).digest('base64url')}`;
}

function evalKey(rule: CompiledToolRule, expr: CompiledExpr, context: ExprContext, tool: string, task: string): { ok: true; value: string } | { ok: false; deny: Deny } {
  const key = evaluateKey(expr, context);
  return key.ok ? key : exprDeny(rule, expr, tool, task, key.problem, key.missingClaim);
}

function exprDeny(rule: CompiledToolRule, expr: CompiledExpr, tool: string, task: string, problem: string, missingClaim: boolean): { ok: false; deny: Deny } {
  return { ok: false, deny: deny('expression-error', expressionErrorMessage(tool, task, problem, missingClaim), rule.task, expr.path) };
}

function featureWords(feature: CounterFeature): string {
  return feature === 'loop' ? 'repeated-call limit' : feature;
}

function deny(reason: ReasonCode, message: string, task: string | undefined, policy: string | undefined): Deny {
  return { allow: false, reason, message, task, policy };
}
