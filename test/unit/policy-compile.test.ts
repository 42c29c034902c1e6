import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/core/config/errors.js';
import { configSchema, type RawConfig } from '../../src/core/config/schema.js';
import { compilePolicy } from '../../src/core/policy/compile.js';
import { evaluateKey, evaluateNumber, exprContext } from '../../src/core/policy/expr.js';
import { classify, type McpCall } from '../../src/core/mcp/message.js';

type RawTasks = NonNullable<RawConfig['tasks']>;

function configWith(tasks: RawTasks, housekeeping?: string[]) {
  return configSchema.parse({
    resource: 'https://mcp.test/mcp',
    identity: { jwt: { issuer: 'https://auth.test', jwksUri: 'https://auth.test/jwks' } },
    ...(housekeeping ? { policy: { housekeeping } } : {}),
    tasks,
  });
}

function issuesOf(run: () => unknown): Array<{ path: string; message: string }> {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map((i) => ({ ...i }));
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const refundRule = (extra: Record<string, unknown>) => ({
  'refund-support': { tools: [{ tool: 'billing.lookup_charge' }, { tool: 'billing.refund', ...extra }] },
});

describe('compilePolicy rejects what cannot work, naming the field', () => {
  it.each([
    ['a CEL syntax error', refundRule({ when: 'mcp.arguments.amount <=' }), 'tasks.refund-support.tools[1].when', 'Unexpected token'],
    ['an unknown variable', refundRule({ when: 'jwtt.sub == "x"' }), 'tasks.refund-support.tools[1].when', 'Unknown variable: jwtt'],
    ['a type error CEL can see', refundRule({ when: '1 + "a" == 2' }), 'tasks.refund-support.tools[1].when', 'no such overload'],
    ['a condition that can never be boolean', refundRule({ when: '"yes"' }), 'tasks.refund-support.tools[1].when', 'must give true or false'],
    ['a list as quota key', refundRule({ quota: { calls: 5, per: '1h', key: '[jwt.sub]' } }), 'tasks.refund-support.tools[1].quota.key', 'must give a string or number'],
    ['a string as budget sum', refundRule({ budget: { sum: '"ten"', max: 10, per: '1d' } }), 'tasks.refund-support.tools[1].budget.sum', 'must give a number'],
    ['a bad budget key', refundRule({ budget: { sum: 'mcp.arguments.amount', max: 10, per: '1d', key: 'jwt.' } }), 'tasks.refund-support.tools[1].budget.key', 'invalid CEL'],
    ['a placeholder outside jwt and mcp', refundRule({ when: 'true', message: 'Ask {{user.name}}.' }), 'tasks.refund-support.tools[1].message', 'dotted name under jwt or mcp'],
    ['a * inside a tool pattern', { t: { tools: [{ tool: 'billing.*.read' }] } }, 'tasks.t.tools[0].tool', 'may only end a pattern'],
    ['a * inside a resource pattern', { t: { resources: ['file:///*/secret'] } }, 'tasks.t.resources[0]', 'may only end a pattern'],
    ['a tool name that is not canonical', { t: { tools: [{ tool: 'billing.refund ' }] } }, 'tasks.t.tools[0].tool', 'not a canonical name'],
    ['a prompt name in NFD', { t: { prompts: ['cafe\u0301'] } }, 'tasks.t.prompts[0]', 'normalization form C'],
    ['a resource pattern with an upper-case host', { t: { resources: ['https://Docs.example.com/*'] } }, 'tasks.t.resources[0]', 'normal form'],
    ['a resource pattern with dot segments', { t: { resources: ['file:///public/../secret'] } }, 'tasks.t.resources[0]', 'write "file:///secret"'],
    ['a resource pattern that is no URI', { t: { resources: ['public/*'] } }, 'tasks.t.resources[0]', 'does not start an absolute URI'],
    ['the same tool listed twice', { t: { tools: [{ tool: 'a' }, { tool: 'a', when: 'false' }] } }, 'tasks.t.tools[1].tool', 'already listed at tools[0]'],
  ] as const)('%s', (_name, tasks, path, text) => {
    const issues = issuesOf(() => compilePolicy(configWith(tasks as RawTasks), 'policy.yaml'));
    expect(issues).toEqual([{ path, message: expect.stringContaining(text) }]);
  });

  it('names the file and reports every problem at once', () => {
    const tasks = { a: { tools: [{ tool: 'x', when: '(' }] }, b: { tools: [{ tool: 'y', when: 'mcp.' }] } };
    let error: unknown;
    try {
      compilePolicy(configWith(tasks), 'policy.yaml');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(/^policy\.yaml: invalid config/);
    expect((error as ConfigError).issues.map((i) => i.path)).toEqual(['tasks.a.tools[0].when', 'tasks.b.tools[0].when']);
  });

  it('checks housekeeping patterns too', () => {
    expect(issuesOf(() => compilePolicy(configWith({}, ['ping', 'notif*cations']), 'p.yaml'))).toEqual([
      { path: 'policy.housekeeping[1]', message: expect.stringContaining('may only end a pattern') },
    ]);
  });
});

describe('the compiled policy', () => {
  const policy = compilePolicy(
    configWith({
      'refund-support': {
        tools: [
          { tool: 'billing.lookup_charge', when: 'mcp.tool.startsWith("billing.") && mcp.task == "refund-support"' },
          {
            tool: 'billing.refund',
            when: 'jwt.level > 1',
            quota: { calls: 5, per: '1h' },
            budget: { sum: 'mcp.arguments.amount', max: 2000, per: '1d', key: 'jwt.sub + ":" + mcp.task' },
          },
          { tool: 'billing.size', budget: { sum: 'size(mcp.arguments.items)', max: 10, per: '30m' } },
          { tool: 'billing.msg', when: 'true', message: 'Too much: {{mcp.arguments.amount}}' },
        ],
      },
    }),
    'policy.yaml',
  );
  const refund = policy.rules.get('refund-support/1');
  const size = policy.rules.get('refund-support/2');

  it('is frozen and indexes rules by id', () => {
    expect(Object.isFrozen(policy)).toBe(true);
    expect(Object.isFrozen(refund)).toBe(true);
    expect([...policy.rules.keys()]).toEqual(['refund-support/0', 'refund-support/1', 'refund-support/2', 'refund-support/3']);
    expect(refund).toMatchObject({ path: 'tasks.refund-support.tools[1]', tool: 'billing.refund', task: 'refund-support', index: 1 });
  });

  it('exposes quota and budget with windows in milliseconds and compiled expressions', () => {
    expect(refund?.quota).toMatchObject({ calls: 5, per: '1h', windowMs: 3_600_000, key: { source: 'jwt.sub', path: 'tasks.refund-support.tools[1].quota.key' } });
    expect(refund?.budget).toMatchObject({ max: 2000, windowMs: 86_400_000, sum: { source: 'mcp.arguments.amount' } });
  });

  it.each([
    ['a condition over method, tool and task only', 'refund-support/0', false],
    ['a condition over claims with a budget over arguments', 'refund-support/1', true],
    ['a message that echoes an argument', 'refund-support/3', true],
  ])('knows whether %s needs the body', (_name, id, expected) => {
    expect(policy.rules.get(id)?.needsArguments).toBe(expected);
  });

  const callWith = (args: Record<string, unknown>): McpCall => {
    const message = classify({
      method: 'POST',
      headers: {},
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'billing.refund', arguments: args } }),
    });
    if (message.type !== 'call') throw new Error('fixture is not a call');
    return message;
  };
  const claims = { sub: 'agent-7', level: 2 };

  it.each([
    ['a JSON number stays a number', { amount: 12.5 }, { ok: true, value: 12.5 }],
    ['a missing argument is a problem, not a throw', {}, { ok: false, problem: 'the call has no argument `amount`' }],
    ['a string is a problem', { amount: '12' }, { ok: false, problem: expect.stringContaining('gave a string instead of a number') }],
  ])('evaluateNumber: %s', (_name, args, expected) => {
    const budget = refund?.budget;
    if (!budget) throw new Error('fixture has no budget');
    expect(evaluateNumber(budget.sum, exprContext(claims, callWith(args), 'refund-support'))).toMatchObject(expected);
  });

  it('evaluateNumber turns CEL integers (BigInt) into numbers', () => {
    const sum = size?.budget?.sum;
    if (!sum) throw new Error('fixture has no budget');
    expect(evaluateNumber(sum, exprContext(claims, callWith({ items: [1, 2, 3] }), 'refund-support'))).toEqual({ ok: true, value: 3 });
  });

  it.each([
    ['the default quota key', () => refund?.quota?.key, claims, { ok: true, value: 'agent-7' }],
    ['a composed budget key', () => refund?.budget?.key, claims, { ok: true, value: 'agent-7:refund-support' }],
    ['a missing subject', () => refund?.quota?.key, { level: 2 }, { ok: false, missingClaim: true }],
    ['a numeric subject', () => refund?.quota?.key, { sub: 42 }, { ok: true, value: '42' }],
  ] as const)('evaluateKey: %s', (_name, key, jwt, expected) => {
    const expr = key();
    if (!expr) throw new Error('fixture has no key');
    expect(evaluateKey(expr, exprContext(jwt, callWith({ amount: 1 }), 'refund-support'))).toMatchObject(expected);
  });
});
