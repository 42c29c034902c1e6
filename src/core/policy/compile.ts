// Turns the parsed config into a frozen policy: CEL compiled once, templates split, lookup maps built.
import { durationMs } from '../config/duration.js';
import { ConfigError, formatPath, type ConfigIssue } from '../config/errors.js';
import type { Mode, ParsedConfig, TaskConfig, ToolRuleConfig } from '../config/schema.js';
import type { OnStoreError } from '../config/schema-store.js';
import { compileExpr, createCelEnvironment, type CelEnvironment, type CompiledExpr, type ExprKind } from './expr.js';
import { createMatcher, createPatternSet, patternProblem, type Matcher, type PatternKind } from './match.js';
import { compileTemplate, type Template } from './messages.js';
import { compileLoopBreaker, type CompiledLoopBreaker } from './loop.js';

export interface CompiledQuota {
  readonly calls: number;
  readonly per: string;
  readonly windowMs: number;
  readonly key: CompiledExpr;
  /** Counted in a dry-run key of its own, never refusing. */
  readonly dryRun: boolean;
}

export interface CompiledBudget {
  readonly sum: CompiledExpr;
  readonly max: number;
  readonly per: string;
  readonly windowMs: number;
  readonly key: CompiledExpr;
  readonly dryRun: boolean;
}

export interface CompiledToolRule {
  /** Stable id for audit and counters, e.g. `refund-support/1`. */
  readonly id: string;
  readonly task: string;
  readonly index: number;
  /** Config path of the rule, e.g. `tasks.refund-support.tools[1]`. */
  readonly path: string;
  /** The `tool` name or pattern as written. */
  readonly tool: string;
  readonly when: CompiledExpr | undefined;
  readonly message: Template | undefined;
  readonly quota: CompiledQuota | undefined;
  readonly budget: CompiledBudget | undefined;
  /** True when deciding needs `mcp.arguments`, so a headers-only (2026) request must have its body read. */
  readonly needsArguments: boolean;
  /** A false (or failing) `when` is a would-be denial: the call is forwarded. */
  readonly dryRun: boolean;
}

export interface CompiledTask {
  readonly name: string;
  readonly path: string;
  readonly tools: Matcher<CompiledToolRule>;
  readonly prompts: Matcher<true>;
  readonly resources: Matcher<true>;
  readonly methods: Matcher<true>;
  /** A target this task does not list is a would-be denial when every task judging the call is in dry-run. */
  readonly dryRun: boolean;
}

export interface CompiledPolicy {
  readonly file: string;
  /** Claim listing the caller's authorized tasks. */
  readonly taskClaim: string;
  /** Request header naming the task for one request, when configured. */
  readonly taskHeader: string | undefined;
  readonly housekeeping: Matcher<true>;
  /** In config order, which is the order tasks are tried when no header picks one. */
  readonly tasks: ReadonlyMap<string, CompiledTask>;
  /** Every tool rule by id. */
  readonly rules: ReadonlyMap<string, CompiledToolRule>;
  /** Refuses identical repeated tool calls; undefined when not configured. */
  readonly loopBreaker: CompiledLoopBreaker | undefined;
  /** Per feature: deny or allow when the shared store cannot answer. */
  readonly onStoreError: Readonly<OnStoreError>;
  /** `policy.mode` is dry-run: a caller without a configured task is forwarded (and recorded). */
  readonly dryRun: boolean;
  /** Some scope is in dry-run; false lets the decision skip every dry-run step (the hot path pays nothing). */
  readonly anyDryRun: boolean;
}

/** Throws ConfigError listing every bad expression, template or pattern at once. */
export function compilePolicy(config: ParsedConfig, file: string): CompiledPolicy {
  const issues: ConfigIssue[] = [];
  const env = createCelEnvironment();
  const housekeeping = compileList(config.policy.housekeeping, ['policy', 'housekeeping'], 'text', issues);
  const tasks = new Map<string, CompiledTask>();
  const rules = new Map<string, CompiledToolRule>();
  const globalMode = config.policy.mode;
  const loopBreaker = compileLoopBreaker(config.policy.loopBreaker, issues, globalMode);
  for (const [name, task] of Object.entries(config.tasks)) {
    tasks.set(name, compileTask(env, name, task, rules, issues, loopBreaker, task.mode ?? globalMode));
  }
  if (issues.length > 0) throw new ConfigError(file, issues);
  const anyDryRun =
    globalMode === 'dry-run' ||
    loopBreaker?.dryRun === true ||
    [...tasks.values()].some((t) => t.dryRun) ||
    [...rules.values()].some((r) => r.dryRun || r.quota?.dryRun === true || r.budget?.dryRun === true);
  return Object.freeze({
    file,
    taskClaim: config.identity.task.claim,
    taskHeader: config.identity.task.header,
    housekeeping,
    tasks,
    rules,
    loopBreaker,
    onStoreError: Object.freeze({ ...config.policy.onStoreError }),
    dryRun: globalMode === 'dry-run',
    anyDryRun,
  });
}

function compileTask(
  env: CelEnvironment,
  name: string,
  task: TaskConfig,
  allRules: Map<string, CompiledToolRule>,
  issues: ConfigIssue[],
  loopBreaker: CompiledLoopBreaker | undefined,
  mode: Mode,
): CompiledTask {
  const base = ['tasks', name];
  const seen = new Map<string, number>();
  const rules: Array<readonly [string, CompiledToolRule]> = [];
  task.tools.forEach((rule, index) => {
    const path = [...base, 'tools', index];
    const earlier = seen.get(rule.tool);
    if (earlier !== undefined) {
      // Two rules for one name would make the effective condition depend on list order.
      issues.push({ path: formatPath([...path, 'tool']), message: `"${rule.tool}" is already listed at tools[${earlier}]` });
    }
    seen.set(rule.tool, index);
    checkPattern(rule.tool, [...path, 'tool'], 'name', issues);
    const compiled = compileRule(env, name, index, rule, issues, loopBreaker, rule.mode ?? mode);
    allRules.set(compiled.id, compiled);
    rules.push([rule.tool, compiled]);
  });
  return Object.freeze({
    name,
    path: formatPath(base),
    tools: createMatcher(rules),
    prompts: compileList(task.prompts, [...base, 'prompts'], 'name', issues),
    resources: compileList(task.resources, [...base, 'resources'], 'uri', issues),
    methods: compileList(task.methods, [...base, 'methods'], 'text', issues),
    dryRun: mode === 'dry-run',
  });
}

function compileRule(
  env: CelEnvironment,
  task: string,
  index: number,
  rule: ToolRuleConfig,
  issues: ConfigIssue[],
  loopBreaker: CompiledLoopBreaker | undefined,
  mode: Mode,
): CompiledToolRule {
  const path = ['tasks', task, 'tools', index];
  const expr = (source: string, field: PropertyKey[], kind: ExprKind): CompiledExpr => {
    const fieldPath = formatPath([...path, ...field]);
    const compiled = compileExpr(env, source, fieldPath, kind);
    if (typeof compiled !== 'string') return compiled;
    issues.push({ path: fieldPath, message: compiled });
    // Never evaluated: any issue makes compilePolicy throw; this only lets the other fields keep compiling.
    return Object.freeze({ source, path: fieldPath, kind, run: () => false });
  };
  let message: Template | undefined;
  if (rule.message !== undefined) {
    const compiled = compileTemplate(rule.message);
    if (typeof compiled === 'string') issues.push({ path: formatPath([...path, 'message']), message: compiled });
    else message = compiled;
  }
  const { quota, budget } = rule;
  const sources = [rule.when, quota?.key, budget?.sum, budget?.key];
  const templateReadsArguments = message?.parts.some((p) => typeof p !== 'string' && p[0] === 'mcp' && p[1] === 'arguments');
  return Object.freeze({
    id: `${task}/${index}`,
    task,
    index,
    path: formatPath(path),
    tool: rule.tool,
    when: rule.when === undefined ? undefined : expr(rule.when, ['when'], 'condition'),
    message,
    quota:
      quota &&
      Object.freeze({ calls: quota.calls, per: quota.per, windowMs: durationMs(quota.per), key: expr(quota.key, ['quota', 'key'], 'key'), dryRun: (quota.mode ?? mode) === 'dry-run' }),
    budget:
      budget &&
      Object.freeze({
        sum: expr(budget.sum, ['budget', 'sum'], 'number'),
        max: budget.max,
        per: budget.per,
        windowMs: durationMs(budget.per),
        key: expr(budget.key, ['budget', 'key'], 'key'),
        dryRun: (budget.mode ?? mode) === 'dry-run',
      }),
    // The loop breaker hashes the arguments, so a watched tool's body must reach toolgate.
    needsArguments: templateReadsArguments === true || sources.some((s) => s !== undefined && readsArguments(s)) || loopBreaker?.mayWatch(rule.tool) === true,
    dryRun: mode === 'dry-run',
  });
}

function compileList(patterns: readonly string[], path: PropertyKey[], kind: PatternKind, issues: ConfigIssue[]): Matcher<true> {
  patterns.forEach((p, i) => checkPattern(p, [...path, i], kind, issues));
  return createPatternSet(patterns);
}

/** Name and URI patterns must be canonical too: requests are judged only in canonical form. */
function checkPattern(pattern: string, path: PropertyKey[], kind: PatternKind, issues: ConfigIssue[]): void {
  const problem = patternProblem(pattern, kind);
  if (problem) issues.push({ path: formatPath(path), message: problem });
}

/** Conservative: any use of `mcp` other than method/tool/task counts, so a body is never skipped wrongly. */
function readsArguments(source: string): boolean {
  return /\bmcp\b(?!\s*\.\s*(?:method|tool|task)\b)/.test(source);
}
