import { afterEach, describe, expect, it } from 'vitest';
import { applyLimits, argumentsHash, canonicalJson, planLimits, type LimitFacts } from '../../src/pipeline/authz/limits.js';
import { parseConfigText } from '../../src/app/runtime/load.js';
import { compilePolicy, type CompiledPolicy } from '../../src/core/policy/compile.js';
import { formatReset } from '../../src/core/policy/limit-messages.js';
import type { Allow, Decision } from '../../src/core/policy/decision.js';
import type { McpCall } from '../../src/core/mcp/message.js';
import { createMemoryStore, type MemoryStore } from '../../src/ports/store/memory.js';
import { StoreUnavailableError, type Counter, type Store } from '../../src/ports/store/port.js';
import { depsOf } from '../harness/deps.js';

const BASE = `resource: https://mcp.test/mcp
identity: { jwt: { issuer: https://auth.test, jwksFile: jwks.json } }
`;
const TASKS = `tasks:
  refunds:
    tools:
      - tool: lookup
      - tool: refund
        quota: { calls: 2, per: 1h, key: jwt.sub }
        budget: { sum: mcp.arguments.amount, max: 100, per: 24h, key: jwt.org }
      - tool: ping_*
        quota: { calls: 1, per: 1m }
`;

function policyOf(extra = ''): CompiledPolicy {
  return compilePolicy(parseConfigText(`${BASE}${extra}${TASKS}`, 't.yaml'), 't.yaml');
}

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
let clock = T0;
let store: MemoryStore;
afterEach(() => store?.close());
const freshStore = () => {
  clock = T0;
  store = createMemoryStore({ now: () => clock });
  return store;
};

const claims = { sub: 'agent-7', org: 'acme', authorized_tasks: ['refunds'] };
const call = (target: string, args: Record<string, unknown> = {}, fromHeadersOnly = false): McpCall => ({
  type: 'call', kind: 'request', method: 'tools/call', id: 1, target, arguments: args, params: { name: target, arguments: args }, traceparent: undefined, fromHeadersOnly,
});
const facts = (c: McpCall, extraClaims: Record<string, unknown> = {}): LimitFacts => ({ claims: { ...claims, ...extraClaims }, subject: 'agent-7', call: c });
const allowed = (policy: CompiledPolicy, tool: string): Allow => {
  const rule = [...policy.rules.values()].find((r) => r.tool === tool);
  return { allow: true, reason: 'allowed', task: 'refunds', rule: rule?.id };
};

async function decide(policy: CompiledPolicy, s: Store, tool: string, args: Record<string, unknown> = {}, extraClaims = {}): Promise<{ decision: Decision; detail?: string }> {
  const rule = [...policy.rules.values()].find((r) => r.tool === tool || (r.tool.endsWith('*') && tool.startsWith(r.tool.slice(0, -1))));
  return applyLimits(policy, depsOf(s), facts(call(tool, args), extraClaims), { allow: true, reason: 'allowed', task: 'refunds', rule: rule?.id }, () => clock);
}

function counters(policy: CompiledPolicy, tool: string, args: Record<string, unknown>): Counter[] {
  const plan = planLimits(policy, facts(call(tool, args)), 'refunds', allowed(policy, tool).rule);
  if (!plan.ok) throw new Error(plan.deny.message);
  return plan.counters.map((p) => p.counter);
}

/** A store whose every operation fails the way an unreachable Redis does. */
const deadStore: Store = {
  kind: 'redis',
  consume: () => Promise.reject(new StoreUnavailableError('connection refused')),
  refund: () => Promise.reject(new StoreUnavailableError('connection refused')),
  revoke: () => Promise.reject(new StoreUnavailableError('connection refused')),
  isRevoked: () => Promise.reject(new StoreUnavailableError('connection refused')),
  judgePins: () => Promise.reject(new StoreUnavailableError('connection refused')),
  pinMarks: () => Promise.reject(new StoreUnavailableError('connection refused')),
  ping: () => Promise.reject(new StoreUnavailableError('connection refused')),
  close: async () => undefined,
};

describe('limits: counter keys', () => {
  it('names task, rule and the evaluated key, and shares one hash tag per rule', () => {
    const [quota, budget] = counters(policyOf(), 'refund', { amount: 5 });
    expect(quota).toEqual({ key: 'ctr:{refunds/refund}:quota:agent-7', amount: 1, limit: 2, windowMs: 3_600_000 });
    expect(budget).toEqual({ key: 'ctr:{refunds/refund}:budget:acme', amount: 5, limit: 100, windowMs: 86_400_000 });
  });

  it('escapes braces and colons from claims so a key cannot move to another slot or name', () => {
    const policy = policyOf();
    const weird = planLimits(policy, { ...facts(call('refund', { amount: 1 })), claims: { ...claims, sub: '{x}:y' } }, 'refunds', allowed(policy, 'refund').rule);
    if (!weird.ok) throw new Error('expected a plan');
    expect(weird.counters[0]?.counter.key).toBe('ctr:{refunds/refund}:quota:%7Bx%7D%3Ay');
  });

  it('plans nothing for a rule without quota or budget', () => {
    expect(counters(policyOf(), 'lookup', {})).toEqual([]);
  });

  it.each([
    ['key order', { a: 1, b: { c: 2, d: [1, { f: 1, e: 2 }] } }, { b: { d: [1, { e: 2, f: 1 }], c: 2 }, a: 1 }, true],
    ['a different value', { a: 1 }, { a: 2 }, false],
    ['array order', { a: [1, 2] }, { a: [2, 1] }, false],
    ['a number vs a string', { a: 1 }, { a: '1' }, false],
  ])('hashes arguments canonically: %s', (_n, x, y, same) => {
    expect(argumentsHash(x) === argumentsHash(y)).toBe(same);
  });

  it('writes canonical JSON with sorted keys', () => {
    expect(canonicalJson({ b: [1, null, 'x'], a: { d: true, c: 1.5 } })).toBe('{"a":{"c":1.5,"d":true},"b":[1,null,"x"]}');
  });
});

describe('limits: a receipt for what was charged', () => {
  it('names the receipt after the decision, in the counters\' hash tag, and lists the keys charged', async () => {
    const policy = policyOf();
    const s = freshStore();
    const result = await applyLimits(policy, depsOf(s), { ...facts(call('refund', { amount: 40 })), decisionId: 'd-1' }, allowed(policy, 'refund'), () => clock);
    expect(result.decision.allow).toBe(true);
    expect(result.charged).toEqual({ receipt: 'ctr:{refunds/refund}:receipt:d-1', keys: ['ctr:{refunds/refund}:quota:agent-7', 'ctr:{refunds/refund}:budget:acme'] });
  });

  it('gives the whole charge back through the receipt: the quota of 2 still allows 2 calls', async () => {
    const policy = policyOf();
    const s = freshStore();
    const first = await applyLimits(policy, depsOf(s), { ...facts(call('refund', { amount: 60 })), decisionId: 'd-1' }, allowed(policy, 'refund'), () => clock);
    if (!first.charged) throw new Error('expected a charge');
    expect(await s.refund(first.charged.receipt, first.charged.keys)).toBe(2);
    expect((await decide(policy, s, 'refund', { amount: 50 })).decision.allow).toBe(true);
    expect((await decide(policy, s, 'refund', { amount: 50 })).decision.allow).toBe(true);
    expect((await decide(policy, s, 'refund', { amount: 0 })).decision).toMatchObject({ allow: false, reason: 'quota-exceeded' });
  });

  it.each<[string, Partial<LimitFacts>, string]>([
    ['without a decision id', {}, 'refund'],
    ['for a rule that charges nothing', { decisionId: 'd-2' }, 'lookup'],
  ])('writes no receipt %s', async (_n, extra, tool) => {
    const policy = policyOf();
    const s = freshStore();
    const result = await applyLimits(policy, depsOf(s), { ...facts(call(tool, { amount: 1 })), ...extra }, allowed(policy, tool), () => clock);
    expect(result.decision.allow).toBe(true);
    expect(result.charged).toBeUndefined();
  });

  it('has nothing to give back when the store was down and the call allowed anyway', async () => {
    const policy = policyOf(`policy:
  onStoreError: { quota: allow, budget: allow }
`);
    const result = await applyLimits(policy, depsOf(deadStore), { ...facts(call('refund', { amount: 1 })), decisionId: 'd-3' }, allowed(policy, 'refund'));
    expect(result.decision.allow).toBe(true);
    expect(result.charged).toBeUndefined();
  });
});

describe('limits: facts before counting', () => {
  it.each([
    ['a negative amount', { amount: -50 }, /came out as -50; a budget only counts amounts of zero or more/],
    ['a string amount', { amount: 'lots' }, /could not be checked/],
    ['a missing amount', {}, /has no argument `amount`/],
  ])('denies %s as expression-error without touching any counter', async (_n, args, message) => {
    const policy = policyOf();
    const s = freshStore();
    const { decision } = await decide(policy, s, 'refund', args);
    expect(decision).toMatchObject({ allow: false, reason: 'expression-error' });
    if (!decision.allow) expect(decision.message).toMatch(message);
    expect(s.size()).toBe(0);
  });

  it('denies a key whose claim is missing, naming the claim', async () => {
    const policy = policyOf();
    const s = freshStore();
    const { decision } = await applyLimits(policy, depsOf(s), { claims: { sub: 'agent-7' }, subject: 'agent-7', call: call('refund', { amount: 1 }) }, allowed(policy, 'refund'));
    expect(decision).toMatchObject({ allow: false, reason: 'expression-error', policy: 'tasks.refunds.tools[1].budget.key' });
    if (!decision.allow) expect(decision.message).toContain('no claim `org`');
  });

  it('leaves denials and other methods alone', async () => {
    const policy = policyOf();
    const s = freshStore();
    const denied: Decision = { allow: false, reason: 'tool-not-in-task', message: 'no', task: 'refunds', policy: undefined };
    expect((await applyLimits(policy, depsOf(s), facts(call('refund', { amount: 1 })), denied)).decision).toBe(denied);
    const list: McpCall = { ...call('refund'), method: 'tools/list' };
    expect((await applyLimits(policy, depsOf(s), facts(list), allowed(policy, 'refund'))).decision.allow).toBe(true);
    expect(s.size()).toBe(0);
  });
});

describe('limits: quotas and budgets', () => {
  it('counts a call in both quota and budget or in neither', async () => {
    const policy = policyOf();
    const s = freshStore();
    expect((await decide(policy, s, 'refund', { amount: 90 })).decision.allow).toBe(true);
    // Over budget: refused, and the quota is not spent by the refused call.
    const over = (await decide(policy, s, 'refund', { amount: 20 })).decision;
    expect(over).toMatchObject({ allow: false, reason: 'budget-exceeded', policy: 'tasks.refunds.tools[1].budget' });
    expect((await decide(policy, s, 'refund', { amount: 10 })).decision.allow).toBe(true);
    // Quota of 2 now used: refused though the budget would allow 0.
    const quota = (await decide(policy, s, 'refund', { amount: 0 })).decision;
    expect(quota).toMatchObject({ allow: false, reason: 'quota-exceeded', policy: 'tasks.refunds.tools[1].quota' });
  });

  it('says which limit, how much is used, and when it resets', async () => {
    const policy = policyOf();
    const s = freshStore();
    clock = T0 + 18 * 60_000;
    await decide(policy, s, 'refund', { amount: 1 });
    await decide(policy, s, 'refund', { amount: 1 });
    const { decision } = await decide(policy, s, 'refund', { amount: 1 });
    if (decision.allow) throw new Error('expected a denial');
    expect(decision.message).toBe(
      'The call to "refund" was refused in task "refunds" because its quota of 2 calls per 1h is used up (2 of 2 used in the current window). ' +
        'The quota resets at 2025-06-01T13:00:00.000Z (in 42 minutes); do not retry before then.',
    );
  });

  it('tells the budget left and the reset time', async () => {
    const policy = policyOf();
    const s = freshStore();
    clock = T0 + 3_600_000;
    await decide(policy, s, 'refund', { amount: 70 });
    const { decision } = await decide(policy, s, 'refund', { amount: 40 });
    if (decision.allow) throw new Error('expected a denial');
    expect(decision.message).toContain('would spend 40 of a budget of 100 per 24h, and 70 is already spent in the current window (30 left)');
    expect(decision.message).toContain('resets at 2025-06-02T00:00:00.000Z (in 11 hours); do not retry before then');
  });

  it('does not invite a retry when one call exceeds the whole budget', async () => {
    const policy = policyOf();
    const { decision } = await decide(policy, freshStore(), 'refund', { amount: 150 });
    if (decision.allow) throw new Error('expected a denial');
    expect(decision.message).toContain('more than the whole budget. Do not retry this call');
    expect(decision.message).not.toContain('resets at');
  });

  it('matches quota rules written as patterns under one counter per rule', async () => {
    const policy = policyOf();
    const s = freshStore();
    expect((await decide(policy, s, 'ping_a')).decision.allow).toBe(true);
    expect((await decide(policy, s, 'ping_b')).decision).toMatchObject({ allow: false, reason: 'quota-exceeded' });
  });
});

describe('limits: loop breaker', () => {
  const LOOP = 'policy: { loopBreaker: { maxRepeats: 2, window: 5m, tools: [lookup] } }\n';

  it('refuses the same call once it was allowed maxRepeats times, naming the loop', async () => {
    const policy = policyOf(LOOP);
    const s = freshStore();
    expect((await decide(policy, s, 'lookup', { id: 1, q: 'x' })).decision.allow).toBe(true);
    expect((await decide(policy, s, 'lookup', { q: 'x', id: 1 })).decision.allow).toBe(true);
    const { decision } = await decide(policy, s, 'lookup', { id: 1, q: 'x' });
    expect(decision).toMatchObject({ allow: false, reason: 'loop-detected', policy: 'policy.loopBreaker' });
    if (!decision.allow) expect(decision.message).toMatch(/^You called "lookup" with the same arguments 2 times in the last 5m.*Change the arguments or stop/);
    // Other arguments are another call.
    expect((await decide(policy, s, 'lookup', { id: 2, q: 'x' })).decision.allow).toBe(true);
  });

  it('watches only the listed tools', async () => {
    const policy = policyOf(LOOP);
    const s = freshStore();
    for (let i = 0; i < 2; i++) expect((await decide(policy, s, 'refund', { amount: 1 })).decision.allow).toBe(true);
    expect((await decide(policy, s, 'refund', { amount: 1 })).decision).toMatchObject({ reason: 'quota-exceeded' });
  });

  it('marks watched rules as needing the body, and refuses a headers-only call it cannot hash', async () => {
    const policy = policyOf(LOOP);
    expect([...policy.rules.values()].find((r) => r.tool === 'lookup')?.needsArguments).toBe(true);
    const { decision } = await applyLimits(policy, depsOf(freshStore()), facts(call('lookup', {}, true)), allowed(policy, 'lookup'));
    expect(decision).toMatchObject({ allow: false, reason: 'missing-body' });
  });
});

describe('limits: store unavailable', () => {
  it('denies by default with a message that names what could not be checked', async () => {
    const { decision, detail } = await decide(policyOf(), deadStore, 'refund', { amount: 1 });
    expect(decision).toMatchObject({ allow: false, reason: 'store-unavailable', policy: 'policy.onStoreError.quota, policy.onStoreError.budget' });
    if (!decision.allow) expect(decision.message).toContain('could not reach its shared store to check this call\'s quota and budget');
    expect(detail).toContain('connection refused');
  });

  it.each([
    ['quota and budget allowed: the call passes uncounted', '{ quota: allow, budget: allow }', true],
    ['only quota allowed: the budget still denies', '{ quota: allow }', false],
  ])('%s', async (_n, onStoreError, allow) => {
    const policy = policyOf(`policy: { onStoreError: ${onStoreError} }\n`);
    const { decision, detail } = await decide(policy, deadStore, 'refund', { amount: 1 });
    expect(decision.allow).toBe(allow);
    if (allow) expect(detail).toMatch(/not counted \(onStoreError: allow\)/);
  });

  it('does not need the store for a call without counters', async () => {
    expect((await decide(policyOf(), deadStore, 'lookup')).decision.allow).toBe(true);
  });
});

describe('limits: reset times', () => {
  it.each([
    [0, 'in 1 second'],
    [1_500, 'in 2 seconds'],
    [59_000, 'in 59 seconds'],
    [60_000, 'in 1 minute'],
    [60_001, 'in 2 minutes'],
    [42 * 60_000, 'in 42 minutes'],
    [119 * 60_000, 'in 119 minutes'],
    [3 * 3_600_000 + 20 * 60_000, 'in 3 hours 20 minutes'],
    [24 * 3_600_000, 'in 24 hours'],
    [3 * 86_400_000, 'in 3 days'],
  ])('%i ms ahead reads "%s", rounded up, with the ISO time', (ahead, words) => {
    expect(formatReset({ nowMs: T0, resetAtMs: T0 + ahead })).toBe(`${new Date(T0 + ahead).toISOString()} (${words})`);
  });
});
