// Dry-run (shadow) mode in the pure decision and the limits: which refusals are forwarded, and where they are counted.
import { afterEach, describe, expect, it } from 'vitest';
import { applyLimits } from '../../src/pipeline/authz/limits.js';
import { parseConfigText } from '../../src/app/runtime/load.js';
import type { McpCall } from '../../src/core/mcp/message.js';
import { compilePolicy, type CompiledPolicy } from '../../src/core/policy/compile.js';
import { decide } from '../../src/core/policy/decide.js';
import type { Decision } from '../../src/core/policy/decision.js';
import type { Trace } from '../../src/core/policy/trace.js';
import { visibleFor } from '../../src/pipeline/extproc/lists.js';
import { createMemoryStore, type MemoryStore } from '../../src/ports/store/memory.js';
import { StoreUnavailableError, type Store } from '../../src/ports/store/port.js';
import { depsOf } from '../harness/deps.js';

const BASE = `resource: https://mcp.test/mcp
identity: { jwt: { issuer: https://auth.test, jwksFile: jwks.json } }
`;

function policyOf(yaml: string): CompiledPolicy {
  return compilePolicy(parseConfigText(`${BASE}${yaml}`, 't.yaml'), 't.yaml');
}

const call = (target: string, args: Record<string, unknown> = {}): McpCall => ({
  type: 'call', kind: 'request', method: 'tools/call', id: 1, target, arguments: args, params: { name: target, arguments: args }, traceparent: undefined, fromHeadersOnly: false,
});
const claimsOf = (tasks: string[], extra: Record<string, unknown> = {}) => ({ sub: 'agent-7', authorized_tasks: tasks, limit: 100, ...extra });

function verdict(d: Decision): string {
  if (!d.allow) return `deny ${d.reason}`;
  return d.wouldDeny ? `dry-run ${d.wouldDeny.reason}` : 'allow';
}

let store: MemoryStore | undefined;
afterEach(async () => store?.close());

describe('dry-run: which refusals are forwarded', () => {
  const policy = policyOf(`tasks:
  old:
    tools:
      - tool: lookup
      - tool: refund
        when: mcp.arguments.amount <= jwt.limit
  new:
    mode: dry-run
    tools:
      - tool: lookup
      - tool: refund
        when: mcp.arguments.amount <= jwt.limit
  mixed:
    tools:
      - tool: refund
        when: mcp.arguments.amount <= jwt.limit
        mode: dry-run
      - tool: wire
        when: mcp.arguments.amount <= jwt.limit
`);

  it.each([
    ['enforced task, condition false', ['old'], 'refund', { amount: 500 }, 'deny condition-failed'],
    ['dry-run task, condition false', ['new'], 'refund', { amount: 500 }, 'dry-run condition-failed'],
    ['dry-run task, condition true', ['new'], 'refund', { amount: 5 }, 'allow'],
    ['dry-run task, tool it does not list', ['new'], 'delete_all', {}, 'dry-run tool-not-in-task'],
    ['enforced task, tool it does not list', ['old'], 'delete_all', {}, 'deny tool-not-in-task'],
    ['dry-run rule in an enforced task', ['mixed'], 'refund', { amount: 500 }, 'dry-run condition-failed'],
    ['enforced rule beside a dry-run one', ['mixed'], 'wire', { amount: 500 }, 'deny condition-failed'],
    ['enforced task not listing it, beside a dry-run task', ['old', 'new'], 'delete_all', {}, 'deny tool-not-in-task'],
    ['dry-run rule refuses, enforced task does not list it', ['mixed', 'old'], 'wire', { amount: 500 }, 'deny condition-failed'],
    ['one task allows, a dry-run one would refuse', ['new', 'old'], 'refund', { amount: 5 }, 'allow'],
    ['no configured task, global enforce', ['ghost'], 'lookup', {}, 'deny task-missing'],
    ['expression error in a dry-run rule', ['new'], 'refund', { amount: 'x' }, 'dry-run expression-error'],
  ])('%s → %s', (_name, tasks, tool, args, expected) => {
    expect(verdict(decide(policy, { claims: claimsOf(tasks), requestedTask: undefined, call: call(tool, args) }))).toBe(expected);
  });

  it('forwards a caller without a configured task only under the global dry-run mode', () => {
    const global = policyOf(`policy: { mode: dry-run }
tasks:
  old:
    mode: enforce
    tools: [{ tool: lookup }]
`);
    expect(verdict(decide(global, { claims: claimsOf(['ghost']), requestedTask: undefined, call: call('lookup') }))).toBe('dry-run task-missing');
    // A task set to enforce keeps enforcing under a global dry-run: the most specific mode wins.
    expect(verdict(decide(global, { claims: claimsOf(['old']), requestedTask: undefined, call: call('wipe') }))).toBe('deny tool-not-in-task');
  });

  it('never forwards a target that is not canonical, whatever the mode', () => {
    const global = policyOf(`policy: { mode: dry-run }\ntasks: { t: { tools: [{ tool: lookup }] } }\n`);
    expect(verdict(decide(global, { claims: claimsOf(['t']), requestedTask: undefined, call: call('look\u0000up') }))).toMatch(/^deny name-not-canonical/);
  });

  it('keeps the hot path free of dry-run work when no scope uses it', () => {
    expect(policyOf(`tasks: { t: { tools: [{ tool: lookup }] } }\n`).anyDryRun).toBe(false);
    expect(policy.anyDryRun).toBe(true);
  });

  it('hides nothing from the lists of a caller whose every task is in dry-run', () => {
    expect(visibleFor(policy, ['new'], 'tools', 'delete_all')).toBe(true);
    expect(visibleFor(policy, ['old'], 'tools', 'delete_all')).toBe(false);
    expect(visibleFor(policy, ['old', 'new'], 'tools', 'delete_all')).toBe(false);
    expect(visibleFor(policy, [], 'tools', 'delete_all')).toBe(false);
  });

  it('records a trace only when asked, naming the task, rule, condition and its values', () => {
    const trace: Trace = [];
    decide(policy, { claims: claimsOf(['new']), requestedTask: undefined, call: call('refund', { amount: 500 }), trace });
    expect(trace.map((t) => t.stage)).toEqual(['task', 'rule', 'condition', 'mode']);
    expect(trace[2]).toMatchObject({ policy: 'tasks.new.tools[1].when', values: { 'mcp.arguments.amount': 500, 'jwt.limit': 100 } });
    expect(trace[2]?.text).toContain('→ false');
  });
});

describe('dry-run: quotas and budgets count apart and never refuse', () => {
  const policy = policyOf(`tasks:
  t:
    tools:
      - tool: refund
        quota: { calls: 2, per: 1h, mode: dry-run }
        budget: { sum: mcp.arguments.amount, max: 100, per: 1h }
      - tool: shadowed
        when: mcp.arguments.amount <= 10
        mode: dry-run
        quota: { calls: 1, per: 1h, mode: enforce }
      - tool: shadow_all
        when: mcp.arguments.amount <= 10
        mode: dry-run
        quota: { calls: 1, per: 1h }
`);
  const claims = claimsOf(['t']);
  const run = async (s: Store, tool: string, amount: number, decisionId?: string) => {
    const c = call(tool, { amount });
    const decided = decide(policy, { claims, requestedTask: undefined, call: c });
    return applyLimits(policy, depsOf(s), { claims, subject: 'agent-7', call: c, decisionId }, decided);
  };

  it('counts a dry-run quota in its own key: the third call is a would-be refusal, not a refusal', async () => {
    store = createMemoryStore();
    const results = [];
    for (let i = 0; i < 3; i += 1) results.push(verdict((await run(store, 'refund', 10)).decision));
    expect(results).toEqual(['allow', 'allow', 'dry-run quota-exceeded']);
    // The enforced budget beside it still counts and refuses (3 × 10 spent, 80 more is over 100).
    expect(verdict((await run(store, 'refund', 80)).decision)).toBe('deny budget-exceeded');
  });

  it('writes separate receipts, so each refund gives back only its own keys', async () => {
    store = createMemoryStore();
    const result = await run(store, 'refund', 10, 'd-1');
    expect(result.charged?.keys).toEqual(['ctr:{t/refund}:budget:agent-7']);
    expect(result.chargedDryRun?.keys).toEqual(['ctr:{t/refund}:dry:quota:agent-7']);
    expect(result.chargedDryRun?.receipt).toBe('ctr:{t/refund}:dry:receipt:d-1');
    // The dry receipt refunds the dry key only, even when asked for the enforced key too.
    const dry = result.chargedDryRun;
    if (!dry || !result.charged) throw new Error('expected both charges');
    expect(await store.refund(dry.receipt, [...dry.keys, ...result.charged.keys])).toBe(1);
    expect(await store.refund(result.charged.receipt, result.charged.keys)).toBe(1);
  });

  it('charges the enforced quota of a call a dry-run condition would refuse: the call did run', async () => {
    store = createMemoryStore();
    expect(verdict((await run(store, 'shadowed', 50)).decision)).toBe('dry-run condition-failed');
    expect(verdict((await run(store, 'shadowed', 5)).decision)).toBe('deny quota-exceeded');
  });

  it('does not count a call in a dry-run quota that a dry-run condition already refuses (the rule inherits the mode)', async () => {
    store = createMemoryStore();
    expect(verdict((await run(store, 'shadow_all', 50)).decision)).toBe('dry-run condition-failed');
    expect(verdict((await run(store, 'shadow_all', 5)).decision)).toBe('allow');
    expect(verdict((await run(store, 'shadow_all', 5)).decision)).toBe('dry-run quota-exceeded');
  });

  it('lets a store failure of a dry-run counter neither refuse nor go unnoticed', async () => {
    let calls = 0;
    const failing: Store = {
      ...createMemoryStore(),
      consume: async (counters) => {
        calls += 1;
        if (counters.some((c) => c.key.includes(':dry:'))) throw new StoreUnavailableError('down');
        return { ok: true };
      },
    };
    const result = await run(failing, 'refund', 10);
    expect(verdict(result.decision)).toBe('allow');
    expect(result.detail).toContain('dry-run quota not counted');
    expect(calls).toBe(2);
    await failing.close();
  });
});

describe('dry-run: the loop breaker and the config', () => {
  it('counts repeats of a dry-run loop breaker in dry: keys and forwards the would-be loop refusal', async () => {
    const policy = policyOf(`policy: { loopBreaker: { maxRepeats: 1, window: 1m, mode: dry-run } }
tasks: { t: { tools: [{ tool: lookup }] } }
`);
    store = createMemoryStore();
    const claims = claimsOf(['t']);
    const once = async () => {
      const c = call('lookup', { id: 1 });
      return applyLimits(policy, depsOf(store as Store), { claims, subject: 'agent-7', call: c, decisionId: 'd' }, decide(policy, { claims, requestedTask: undefined, call: c }));
    };
    const first = await once();
    expect(first.chargedDryRun?.keys[0]).toMatch(/^ctr:\{t\/lookup\}:dry:loop:/);
    expect(verdict((await once()).decision)).toBe('dry-run loop-detected');
  });

  it.each([
    ['policy.mode', 'policy: { mode: shadow }\n'],
    ['tasks.t.mode', 'tasks: { t: { mode: off, tools: [] } }\n'],
    ['tasks.t.tools[0].quota.mode', 'tasks: { t: { tools: [{ tool: x, quota: { calls: 1, per: 1m, mode: dryrun } }] } }\n'],
  ])('rejects a mode other than enforce or dry-run at %s', (field, yaml) => {
    expect(() => parseConfigText(`${BASE}${yaml}`, 't.yaml')).toThrow(`${field}:`);
  });
});
