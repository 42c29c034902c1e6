import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/core/config/schema.js';
import { classify, type McpBodyless, type McpCall, type McpReply } from '../../src/core/mcp/message.js';
import { compilePolicy } from '../../src/core/policy/compile.js';
import { decide, resolveTasks, visiblePrompts, visibleTools } from '../../src/core/policy/decide.js';
import type { Decision } from '../../src/core/policy/decision.js';

const policy = compilePolicy(
  configSchema.parse({
    resource: 'https://mcp.test/mcp',
    identity: { jwt: { issuer: 'https://auth.test', jwksUri: 'https://auth.test/jwks' }, task: { header: 'MCP-Task' } },
    tasks: {
      'refund-support': {
        tools: [
          { tool: 'billing.lookup_charge' },
          {
            tool: 'billing.refund',
            when: 'mcp.arguments.amount <= jwt.refund_limit',
            message: 'Refunds above {{jwt.refund_limit}} need a human; you asked for {{mcp.arguments.amount}}.',
          },
          { tool: 'billing.note', when: 'mcp.arguments.text' },
          { tool: 'crm.read_*' },
        ],
        prompts: ['refund-*'],
        resources: ['billing://charges/*'],
        methods: ['completion/complete'],
      },
      reporting: {
        tools: [{ tool: 'billing.report' }, { tool: 'billing.refund', when: 'jwt.role == "auditor"' }],
      },
      inventory: {
        tools: [{ tool: 'inventory.*' }, { tool: 'inventory.delete', when: 'jwt.role == "admin"' }],
      },
    },
  }),
  'policy-decide.yaml',
);

function call(method: string, params: Record<string, unknown> = {}): McpCall {
  const message = classify({ method: 'POST', headers: {}, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }) });
  if (message.type !== 'call') throw new Error(`fixture is not a call: ${JSON.stringify(message)}`);
  return message;
}
const tool = (name: string, args: Record<string, unknown> = {}): McpCall => call('tools/call', { name, arguments: args });
const notification = (method: string): McpCall => {
  const message = classify({ method: 'POST', headers: {}, body: JSON.stringify({ jsonrpc: '2.0', method }) });
  if (message.type !== 'call') throw new Error('fixture is not a call');
  return message;
};
const reply: McpReply = { type: 'reply', id: 3 };
const sseGet: McpBodyless = { type: 'bodyless', httpMethod: 'GET' };

const refunder = { sub: 'agent-7', authorized_tasks: ['refund-support'], refund_limit: 500 };
const both = { sub: 'agent-7', authorized_tasks: 'refund-support reporting', refund_limit: 500, role: 'clerk' };

interface Case {
  readonly claims: Record<string, unknown>;
  readonly header?: string;
  readonly call: McpCall | McpReply | McpBodyless;
  readonly expected: Partial<Decision>;
  readonly says?: readonly string[];
}

const cases: Record<string, Case> = {
  'a listed tool without a condition is allowed': {
    claims: refunder,
    call: tool('billing.lookup_charge', { id: 'ch_1' }),
    expected: { allow: true, reason: 'allowed', task: 'refund-support', rule: 'refund-support/0' },
  },
  'a condition that holds allows and names the rule': {
    claims: refunder,
    call: tool('billing.refund', { amount: 120 }),
    expected: { allow: true, reason: 'allowed', task: 'refund-support', rule: 'refund-support/1' },
  },
  'a false condition denies with the filled-in template': {
    claims: refunder,
    call: tool('billing.refund', { amount: 900 }),
    expected: { allow: false, reason: 'condition-failed', task: 'refund-support', policy: 'tasks.refund-support.tools[1].when' },
    says: ['Refunds above 500 need a human; you asked for 900.', 'Do not retry this call with the same arguments.'],
  },
  'a missing argument is an expression error, never an allow': {
    claims: refunder,
    call: tool('billing.refund', {}),
    expected: { allow: false, reason: 'expression-error', policy: 'tasks.refund-support.tools[1].when' },
    says: ['the call has no argument `amount`', 'Do not retry this call unchanged'],
  },
  'a missing claim is an expression error': {
    claims: { authorized_tasks: ['refund-support'] },
    call: tool('billing.refund', { amount: 1 }),
    expected: { allow: false, reason: 'expression-error' },
    says: ["the caller's token has no claim `refund_limit`", 'your access token lacks what this rule needs'],
  },
  'an argument of the wrong type is an expression error': {
    claims: refunder,
    call: tool('billing.refund', { amount: '1' }),
    expected: { allow: false, reason: 'expression-error' },
    says: ['has the wrong type', 'string <= double'],
  },
  'a condition that gives a string instead of a boolean denies': {
    claims: refunder,
    call: tool('billing.note', { text: 'yes' }),
    expected: { allow: false, reason: 'expression-error', policy: 'tasks.refund-support.tools[2].when' },
    says: ['gave a string instead of true or false'],
  },
  'a tool outside the task is refused with the alternatives': {
    claims: refunder,
    call: tool('billing.delete_customer'),
    expected: { allow: false, reason: 'tool-not-in-task', task: 'refund-support', policy: 'tasks.refund-support.tools' },
    says: ['"billing.delete_customer" is not part of task "refund-support"', 'billing.lookup_charge, billing.refund, billing.note, crm.read_*', 'Do not retry'],
  },
  'a tools/call without a name is refused': {
    claims: refunder,
    call: call('tools/call', {}),
    expected: { allow: false, reason: 'tool-not-in-task' },
    says: ['names no tool (params.name is missing)'],
  },
  'a trailing-* tool pattern allows names with that prefix': {
    claims: refunder,
    call: tool('crm.read_contacts'),
    expected: { allow: true, rule: 'refund-support/3' },
  },
  'a trailing-* tool pattern does not allow other names': {
    claims: refunder,
    call: tool('crm.write_contacts'),
    expected: { allow: false, reason: 'tool-not-in-task' },
  },
  'the exact rule beats a broader pattern listed before it': {
    claims: { authorized_tasks: 'inventory', role: 'clerk' },
    call: tool('inventory.delete'),
    expected: { allow: false, reason: 'condition-failed', policy: 'tasks.inventory.tools[1].when' },
    says: ['`jwt.role == "admin"` is not met', 'Do not retry this call with the same arguments.'],
  },
  'the broader pattern still covers its other names': {
    claims: { authorized_tasks: 'inventory' },
    call: tool('inventory.list'),
    expected: { allow: true, rule: 'inventory/0' },
  },
  'initialize is housekeeping even without a task': {
    claims: {},
    call: call('initialize', { protocolVersion: '2025-06-18' }),
    expected: { allow: true, reason: 'housekeeping', task: undefined },
  },
  'tools/list is housekeeping and names the only task': {
    claims: refunder,
    call: call('tools/list'),
    expected: { allow: true, reason: 'housekeeping', task: 'refund-support' },
  },
  'notifications/initialized matches notifications/*': {
    claims: {},
    call: notification('notifications/initialized'),
    expected: { allow: true, reason: 'housekeeping' },
  },
  'notifications/cancelled matches notifications/*': {
    claims: refunder,
    call: notification('notifications/cancelled'),
    expected: { allow: true, reason: 'housekeeping' },
  },
  'a reply to a server request is housekeeping': { claims: {}, call: reply, expected: { allow: true, reason: 'housekeeping' } },
  'a GET stream is housekeeping': { claims: {}, call: sseGet, expected: { allow: true, reason: 'housekeeping' } },
  'no tasks claim means task-missing': {
    claims: { sub: 'agent-7' },
    call: tool('billing.lookup_charge'),
    expected: { allow: false, reason: 'task-missing', task: undefined, policy: 'identity.task.claim' },
    says: ['no "authorized_tasks" claim', 'Do not retry'],
  },
  'a claim naming only unknown tasks means task-missing': {
    claims: { authorized_tasks: ['payroll'] },
    call: tool('billing.lookup_charge'),
    expected: { allow: false, reason: 'task-missing' },
    says: ['does not know (payroll)'],
  },
  'a task header outside the claim is not authorized': {
    claims: refunder,
    header: 'reporting',
    call: tool('billing.report'),
    expected: { allow: false, reason: 'task-not-authorized', policy: 'identity.task.header' },
    says: ['"reporting" named in the mcp-task header is not one of the tasks your access token authorizes', 'refund-support'],
  },
  'a task header naming no configured task is not authorized': {
    claims: refunder,
    header: 'payroll',
    call: tool('billing.report'),
    expected: { allow: false, reason: 'task-not-authorized' },
    says: ['is not a task this gateway knows'],
  },
  'a task header narrows the judgement to that task': {
    claims: both,
    header: 'reporting',
    call: tool('billing.lookup_charge'),
    expected: { allow: false, reason: 'tool-not-in-task', task: 'reporting', policy: 'tasks.reporting.tools' },
    says: ['billing.report, billing.refund'],
  },
  'without a header the first task that allows wins': {
    claims: both,
    call: tool('billing.report'),
    expected: { allow: true, task: 'reporting', rule: 'reporting/0' },
  },
  'a later task can allow what an earlier task refuses': {
    claims: { ...both, role: 'auditor' },
    call: tool('billing.refund', { amount: 900 }),
    expected: { allow: true, task: 'reporting', rule: 'reporting/1' },
  },
  'when every task refuses, a matched rule explains better than a list': {
    claims: both,
    call: tool('billing.refund', { amount: 900 }),
    expected: { allow: false, reason: 'condition-failed', task: 'refund-support' },
    says: ['Refunds above 500'],
  },
  'a tool in none of several tasks lists them all': {
    claims: both,
    call: tool('billing.wire'),
    expected: { allow: false, reason: 'tool-not-in-task', task: undefined, policy: 'tasks.refund-support.tools, tasks.reporting.tools' },
    says: ['any of your tasks ("refund-support", "reporting")', 'billing.lookup_charge, billing.refund, billing.note, crm.read_*, billing.report.'],
  },
  'a listed prompt pattern allows prompts/get': {
    claims: refunder,
    call: call('prompts/get', { name: 'refund-email' }),
    expected: { allow: true, reason: 'allowed', rule: undefined },
  },
  'an unlisted prompt names the allowed prompts': {
    claims: refunder,
    call: call('prompts/get', { name: 'wire-email' }),
    expected: { allow: false, reason: 'method-not-allowed', policy: 'tasks.refund-support.prompts' },
    says: ['The prompt "wire-email"', 'may get are: refund-*'],
  },
  'a listed resource prefix allows resources/read': {
    claims: refunder,
    call: call('resources/read', { uri: 'billing://charges/ch_1' }),
    expected: { allow: true },
  },
  'an unlisted resource names the allowed resources': {
    claims: refunder,
    call: call('resources/subscribe', { uri: 'file:///etc/passwd' }),
    expected: { allow: false, reason: 'method-not-allowed', policy: 'tasks.refund-support.resources' },
    says: ['may read are: billing://charges/*'],
  },
  'a method listed in the task is allowed': {
    claims: refunder,
    call: call('completion/complete', { ref: { type: 'ref/prompt', name: 'refund-email' }, argument: { name: 'tone', value: 'f' } }),
    expected: { allow: true, task: 'refund-support' },
  },
  'completing an argument of a prompt the task may not get is refused': {
    claims: refunder,
    call: call('completion/complete', { ref: { type: 'ref/prompt', name: 'payroll-export' }, argument: { name: 'who', value: '' } }),
    expected: { allow: false, reason: 'method-not-allowed', policy: 'tasks.refund-support.prompts' },
    says: ['payroll-export', 'refund-*'],
  },
  'completing a variable of a resource the task may read is allowed': {
    claims: refunder,
    call: call('completion/complete', { ref: { type: 'ref/resource', uri: 'billing://charges/{id}' }, argument: { name: 'id', value: 'ch_' } }),
    expected: { allow: true, task: 'refund-support' },
  },
  'completing a variable of another resource is refused': {
    claims: refunder,
    call: call('completion/complete', { ref: { type: 'ref/resource', uri: 'hr://people/{id}' }, argument: { name: 'id', value: '' } }),
    expected: { allow: false, reason: 'method-not-allowed', policy: 'tasks.refund-support.resources' },
  },
  'a completion without a reference is refused': {
    claims: refunder,
    call: call('completion/complete', { argument: { name: 'x', value: '' } }),
    expected: { allow: false, reason: 'method-not-allowed' },
  },
  'a method outside housekeeping and the task is refused': {
    claims: refunder,
    call: call('logging/setLevel', { level: 'debug' }),
    expected: { allow: false, reason: 'method-not-allowed', policy: 'tasks.refund-support.methods' },
    says: ['The method "logging/setLevel"', 'completion/complete'],
  },
  'a URI with dot segments is refused before any pattern, naming the form the server reads': {
    claims: refunder,
    call: call('resources/read', { uri: 'billing://charges/a/../../hr/people' }),
    expected: { allow: false, reason: 'uri-not-canonical', task: undefined },
    says: ['"billing://charges/a/../../hr/people" is not in the form the server reads', 'dot segments', 'read it as "billing://charges/hr/people"', 'Do not retry'],
  },
  'a URI the pattern would allow once normalised is still refused as written': {
    claims: refunder,
    call: call('resources/read', { uri: 'BILLING://charges/ch_1' }),
    expected: { allow: false, reason: 'uri-not-canonical' },
    says: ['scheme is lower-cased', 'send "billing://charges/ch_1"'],
  },
  'a URI with a tab inside is refused and the tab is shown escaped': {
    claims: refunder,
    call: call('resources/subscribe', { uri: 'billing://charges/ch_\t1' }),
    expected: { allow: false, reason: 'uri-not-canonical' },
    says: ['"billing://charges/ch_\\t1"', 'tab and line-break characters are removed'],
  },
  'an unsubscribe is read the same way': {
    claims: refunder,
    call: call('resources/unsubscribe', { uri: 'billing://charges/%2e%2e/x' }),
    expected: { allow: false, reason: 'uri-not-canonical' },
  },
  'a URI that does not parse is refused as invalid': {
    claims: refunder,
    call: call('resources/read', { uri: 'charges/ch_1' }),
    expected: { allow: false, reason: 'uri-invalid' },
    says: ['has no single reading', 'not an absolute URI'],
  },
  'a URI with an encoded slash is refused as invalid': {
    claims: refunder,
    call: call('resources/read', { uri: 'billing://charges/..%2F..%2Fhr' }),
    expected: { allow: false, reason: 'uri-invalid' },
    says: ['encoded "/"'],
  },
  'a prompt name with a trailing space is refused': {
    claims: refunder,
    call: call('prompts/get', { name: 'refund-email ' }),
    expected: { allow: false, reason: 'name-not-canonical' },
    says: ['The prompt name "refund-email "', 'ends with white space', 'send "refund-email"'],
  },
  'a prompt name in NFD is refused with its NFC form': {
    claims: refunder,
    call: call('prompts/get', { name: 'refund-cafe\u0301' }),
    expected: { allow: false, reason: 'name-not-canonical' },
    says: ['normalization form C', 'send "refund-caf\u00e9"'],
  },
  'a canonical non-ASCII prompt name is judged by the patterns as usual': {
    claims: refunder,
    call: call('prompts/get', { name: 'refund-caf\u00e9' }),
    expected: { allow: true },
  },
  'a tool name with a zero-width space is refused, not matched by a prefix': {
    claims: refunder,
    call: tool('crm.read_\u200bnotes'),
    expected: { allow: false, reason: 'name-not-canonical' },
    says: ['The tool name "crm.read_\\u200bnotes"', 'U+200B'],
  },
  'the reading is checked before the task, so a caller without one learns the real problem': {
    claims: {},
    call: tool('billing.lookup_charge '),
    expected: { allow: false, reason: 'name-not-canonical' },
  },
  'a completion of a prompt named in NFD is refused': {
    claims: refunder,
    call: call('completion/complete', { ref: { type: 'ref/prompt', name: 'refund-cafe\u0301' }, argument: { name: 'x', value: '' } }),
    expected: { allow: false, reason: 'name-not-canonical' },
  },
  'a completion of a resource template reached through dot segments is refused': {
    claims: refunder,
    call: call('completion/complete', { ref: { type: 'ref/resource', uri: 'billing://charges/../../hr/{id}' }, argument: { name: 'id', value: '' } }),
    expected: { allow: false, reason: 'uri-not-canonical' },
    says: ['The resource template', 'read it as "billing://charges/hr/{id}"'],
  },
  'a resource completion is judged by its uri even when it also carries a name': {
    claims: refunder,
    call: call('completion/complete', { ref: { type: 'ref/resource', name: 'billing://charges/x', uri: 'hr://people/{id}' }, argument: { name: 'id', value: '' } }),
    expected: { allow: false, reason: 'method-not-allowed' },
    says: ['hr://people/{id}'],
  },
  'a task with nothing listed says so': {
    claims: { authorized_tasks: 'reporting' },
    call: call('prompts/get', { name: 'refund-email' }),
    expected: { allow: false, reason: 'method-not-allowed' },
    says: ['This task may get no prompts.'],
  },
};

describe('decide', () => {
  it.each(Object.entries(cases))('%s', (_name, c) => {
    const decision = decide(policy, { claims: c.claims, requestedTask: c.header, call: c.call });
    expect(decision).toMatchObject(c.expected);
    for (const text of c.says ?? []) expect(decision.allow ? '' : decision.message).toContain(text);
    if (!decision.allow) {
      // Agents loop on stack traces and source excerpts; messages stay single-line sentences.
      expect(decision.message).not.toMatch(/\n|\bat .*\.js:\d+/);
    }
  });
});

describe('resolveTasks', () => {
  it.each([
    ['an array claim keeps config-known tasks in claim order', { authorized_tasks: ['reporting', 'payroll', 'refund-support'] }, undefined, ['reporting', 'refund-support']],
    ['a space-separated claim is split', { authorized_tasks: ' reporting  inventory ' }, undefined, ['reporting', 'inventory']],
    ['a header picks one task', { authorized_tasks: 'reporting inventory' }, 'inventory', ['inventory']],
    ['an empty header is ignored', { authorized_tasks: 'reporting' }, '', ['reporting']],
    ['non-string entries are ignored', { authorized_tasks: ['reporting', 7, null] }, undefined, ['reporting']],
  ] as const)('%s', (_name, claims, header, expected) => {
    const resolved = resolveTasks(policy, claims, header);
    expect(resolved.ok && resolved.tasks.map((t) => t.name)).toEqual(expected);
  });
});

describe('visibleTools / visiblePrompts', () => {
  const names = ['billing.lookup_charge', 'billing.refund', 'billing.report', 'crm.read_notes', 'crm.write_notes', 'inventory.list'];
  it.each([
    ['one task shows its tools, conditional ones included', refunder, undefined, ['billing.lookup_charge', 'billing.refund', 'crm.read_notes']],
    ['several tasks show the union', both, undefined, ['billing.lookup_charge', 'billing.refund', 'billing.report', 'crm.read_notes']],
    ['a header shows only that task', both, 'reporting', ['billing.refund', 'billing.report']],
    ['an unauthorized header shows nothing', refunder, 'reporting', []],
    ['no task shows nothing', {}, undefined, []],
  ] as const)('%s', (_name, claims, header, expected) => {
    expect(visibleTools(policy, claims, header, names)).toEqual(expected);
  });

  it('filters prompts by the task prompt patterns', () => {
    expect(visiblePrompts(policy, refunder, undefined, ['refund-email', 'wire-email', 'refund-'])).toEqual(['refund-email', 'refund-']);
  });

  it('hides names a call would be refused for', () => {
    expect(visiblePrompts(policy, refunder, undefined, ['refund-email ', 'refund-cafe\u0301', 'refund-caf\u00e9'])).toEqual(['refund-caf\u00e9']);
    expect(visibleTools(policy, refunder, undefined, ['crm.read_\u200bx', 'crm.read_x'])).toEqual(['crm.read_x']);
  });
});
