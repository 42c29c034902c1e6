// Quotas, budgets and the loop breaker for an allowed tools/call: plan the counters, charge them atomically, explain refusals.
import { createHash } from 'node:crypto';
import type { StoreFeature } from '../../core/config/schema-store.js';
import type { McpBodyless, McpCall, McpReply } from '../../core/mcp/message.js';
import type { CompiledBudget, CompiledPolicy, CompiledToolRule } from '../../core/policy/compile.js';
import type { Allow, Decision, Deny } from '../../core/policy/decision.js';
import type { Trace } from '../../core/policy/trace.js';
import { evaluateKey, evaluateNumber, exprContext, type CompiledExpr, type ExprContext } from '../../core/policy/expr.js';
import {
  bodyMissingForLoopMessage,
  budgetExceededMessage,
  loopDetectedMessage,
  negativeAmountMessage,
  quotaExceededMessage,
  storeUnavailableMessage,
} from '../../core/policy/limit-messages.js';
import { expressionErrorMessage } from '../../core/policy/messages.js';
import type { ReasonCode } from '../../core/mcp/reply-table.js';
import { attempt, type Charged, type Consumed, type Counter, type Receipt } from '../../ports/store/port.js';
import type { Deps } from '../../ports/deps.js';

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
  /** Counted in its own `dry:` key and never refusing: a refusal becomes the call's would-be denial. */
  readonly dryRun: boolean;
}

/** `tag` is the counters' shared hash tag (`{task/rule}`), which the receipt's key carries too. */
export type LimitPlan =
  /** `wouldDeny`: a dry-run counter's key or amount could not be evaluated; that counter is left out. */
  | { readonly ok: true; readonly counters: readonly PlannedCounter[]; readonly tag: string; readonly wouldDeny?: Deny }
  | { readonly ok: false; readonly deny: Deny };

export interface LimitResult {
  readonly decision: Decision;
  /** For the audit record when the decision stands only because a store failure was configured to allow. */
  readonly detail?: string;
  /** What the call was charged, when it was charged and a receipt was written (facts.decisionId given). */
  readonly charged?: Charged;
  /** What its dry-run counters were charged, under a receipt of their own: a refund never crosses over. */
  readonly chargedDryRun?: Charged;
}

/**
 * Gathers the facts (keys, amounts) first and only then charges the store, so an expression error or a
 * negative amount denies without touching any counter. Only calls everything else allows get here.
 */
export async function applyLimits(
  policy: CompiledPolicy,
  deps: Deps,
  facts: LimitFacts,
  decision: Decision,
  now: () => number = Date.now,
  trace?: Trace,
): Promise<LimitResult> {
  if (!decision.allow || facts.call.type !== 'call' || facts.call.method !== 'tools/call') return { decision };
  const plan = planLimits(policy, facts, decision.task, decision.rule);
  if (!plan.ok) {
    trace?.push({ stage: 'limit', text: plan.deny.message, policy: plan.deny.policy });
    return { decision: plan.deny };
  }
  if (plan.counters.length === 0) return plan.wouldDeny ? { decision: withWouldDeny(decision, plan.wouldDeny, trace) } : { decision };
  if (!policy.anyDryRun) return charge(policy, deps, facts, decision, plan.counters, plan.tag, '', now, trace);
  const enforced = await charge(policy, deps, facts, decision, plan.counters.filter((c) => !c.dryRun), plan.tag, '', now, trace);
  const dry = plan.counters.filter((c) => c.dryRun);
  // The enforced refusal stands; and a call the shadow policy already refuses is not counted by it either.
  if (!enforced.decision.allow || dry.length === 0) return enforced;
  const shadowDeny = (enforced.decision.allow && enforced.decision.wouldDeny) || plan.wouldDeny;
  if (shadowDeny) return { ...enforced, decision: withWouldDeny(enforced.decision, shadowDeny, trace) };
  const counted = await charge(policy, deps, facts, enforced.decision, dry, plan.tag, 'dry:', now, trace);
  const detail = [enforced.detail, counted.detail].filter((d) => d !== undefined).join('; ') || undefined;
  return { decision: counted.decision, detail, charged: enforced.charged, chargedDryRun: counted.charged };
}

/**
 * Charges one set of counters atomically. Enforced counters refuse; dry-run ones (`space` = `dry:`) turn a refusal or
 * a store failure into the decision's would-be denial or a detail, and the call stays allowed.
 */
async function charge(
  policy: CompiledPolicy,
  { store, metrics }: Deps,
  facts: LimitFacts,
  decision: Allow,
  planned: readonly PlannedCounter[],
  tag: string,
  space: '' | 'dry:',
  now: () => number,
  trace: Trace | undefined,
): Promise<LimitResult> {
  if (planned.length === 0) return { decision };
  const dryRun = space === 'dry:';
  const counters = planned.map((p) => p.counter);
  const receipt: Receipt | undefined = facts.decisionId === undefined ? undefined : { key: `ctr:${tag}:${space}receipt:${encode(facts.decisionId)}`, ttlMs: RECEIPT_TTL_MS };
  const result = await attempt(store.consume(counters, receipt));
  if (result.ok) {
    if (result.value.ok) {
      trace?.push(...planned.map((p) => ({ stage: 'limit' as const, text: `${p.feature}${dryRun ? ' (dry-run)' : ''} counted`, values: { key: p.counter.key, amount: p.counter.amount, limit: p.counter.limit } })));
      return receipt ? { decision, charged: { receipt: receipt.key, keys: counters.map((c) => c.key) } } : { decision };
    }
    const refused = planned[result.value.index];
    const denied = refused
      ? refused.refuse(result.value, now())
      : deny('internal-error', 'The gateway could not check this call\'s limits. Do not retry.', decision.task, undefined);
    trace?.push({ stage: 'limit', text: `${refused?.feature ?? 'limit'}${dryRun ? ' (dry-run)' : ''} refused: ${denied.reason}`, policy: denied.policy, values: refused && { key: refused.counter.key, used: result.value.used, amount: refused.counter.amount, limit: refused.counter.limit } });
    return { decision: dryRun ? withWouldDeny(decision, denied, trace) : denied };
  }
  const features = [...new Set(planned.map((p) => p.feature))];
  const detail = `store unavailable (${result.detail}); ${dryRun ? 'dry-run ' : ''}${features.join(', ')} not counted`;
  trace?.push({ stage: 'limit', text: detail });
  for (const f of features) metrics.countStoreError(f);
  if (dryRun) return { decision, detail };
  const denying = features.filter((f) => policy.onStoreError[f] === 'deny');
  if (denying.length === 0) return { decision, detail: `${detail} (onStoreError: allow)` };
  const tool = facts.call.type === 'call' ? (facts.call.target ?? '') : '';
  return {
    decision: deny('store-unavailable', storeUnavailableMessage(tool, denying.map(featureWords)), decision.task, denying.map((f) => `policy.onStoreError.${f}`).join(', ')),
    detail,
  };
}

function withWouldDeny(decision: Allow, wouldDeny: Deny, trace: Trace | undefined): Allow {
  if (decision.wouldDeny) return decision;
  trace?.push({ stage: 'mode', text: `dry-run: would deny (${wouldDeny.reason}); forwarded`, policy: wouldDeny.policy });
  return { ...decision, wouldDeny };
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
  let wouldDeny: Deny | undefined;

  const loop = policy.loopBreaker;
  if (loop?.watches(tool)) {
    if (call.fromHeadersOnly) return { ok: false, deny: deny('missing-body', bodyMissingForLoopMessage(tool), task, loop.path) };
    counters.push({
      feature: 'loop',
      counter: { key: `ctr:${tag}:${space(loop.dryRun)}loop:${encode(facts.subject)}:${encode(tool)}:${argumentsHash(call.arguments)}`, amount: 1, limit: loop.maxRepeats, windowMs: loop.windowMs },
      refuse: (c, nowMs) => deny('loop-detected', loopDetectedMessage({ tool, repeats: c.used, window: loop.window, resetAtMs: c.resetAtMs, nowMs }), task, loop.path),
      dryRun: loop.dryRun,
    });
  }
  if (rule === undefined || (rule.quota === undefined && rule.budget === undefined)) return { ok: true, counters, tag };

  const context = exprContext(facts.claims, call, taskName);
  const { quota, budget } = rule;
  // A dry-run counter whose key or amount cannot be evaluated is left out: its refusal is only a would-be one.
  const failed = (dryRun: boolean, refusal: { ok: false; deny: Deny }): { ok: false; deny: Deny } | undefined => {
    if (!dryRun) return refusal;
    wouldDeny ??= refusal.deny;
    return undefined;
  };
  if (quota) {
    const key = evalKey(rule, quota.key, context, tool, taskName);
    if (!key.ok) {
      const refusal = failed(quota.dryRun, key);
      if (refusal) return refusal;
    } else {
      counters.push({
        feature: 'quota',
        counter: { key: `ctr:${tag}:${space(quota.dryRun)}quota:${encode(key.value)}`, amount: 1, limit: quota.calls, windowMs: quota.windowMs },
        refuse: (c, nowMs) =>
          deny('quota-exceeded', quotaExceededMessage({ tool, task: taskName, calls: quota.calls, per: quota.per, used: c.used, resetAtMs: c.resetAtMs, nowMs }), task, `${rule.path}.quota`),
        dryRun: quota.dryRun,
      });
    }
  }
  if (budget) {
    const spend = budgetCharge(rule, budget, context, tool, taskName, task);
    if (!spend.ok) {
      const refusal = failed(budget.dryRun, spend);
      if (refusal) return refusal;
    } else {
      counters.push({
        feature: 'budget',
        counter: { key: `ctr:${tag}:${space(budget.dryRun)}budget:${encode(spend.key)}`, amount: spend.amount, limit: budget.max, windowMs: budget.windowMs },
        refuse: (c, nowMs) =>
          deny('budget-exceeded', budgetExceededMessage({ tool, task: taskName, max: budget.max, per: budget.per, used: c.used, amount: spend.amount, resetAtMs: c.resetAtMs, nowMs }), task, `${rule.path}.budget`),
        dryRun: budget.dryRun,
      });
    }
  }
  return wouldDeny ? { ok: true, counters, tag, wouldDeny } : { ok: true, counters, tag };
}

/** The budget's key and the amount this call spends; a negative amount would refill it, so it is refused. */
function budgetCharge(
  rule: CompiledToolRule,
  budget: CompiledBudget,
  context: ExprContext,
  tool: string,
  taskName: string,
  task: string | undefined,
): { ok: true; key: string; amount: number } | { ok: false; deny: Deny } {
  const key = evalKey(rule, budget.key, context, tool, taskName);
  if (!key.ok) return key;
  const amount = evaluateNumber(budget.sum, context);
  if (!amount.ok) return exprDeny(rule, budget.sum, tool, taskName, amount.problem, amount.missingClaim);
  // A negative amount would refill the budget: an agent must never be able to buy itself more.
  if (amount.value < 0) return { ok: false, deny: deny('expression-error', negativeAmountMessage(tool, taskName, budget.sum.source, amount.value), task, budget.sum.path) };
  return { ok: true, key: key.value, amount: amount.value };
}

/** Dry-run counters live in keys of their own, so enforcing later starts from a clean count. */
function space(dryRun: boolean): '' | 'dry:' {
  return dryRun ? 'dry:' : '';
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
