// The demo's scripted agent: an MCP SDK client that lists its tools and makes allowed, denied and over-limit calls
// across both backends, and says what happened.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AuditFeed, DecisionRecord } from './audit-feed.js';
import { TASK_TOOLS } from './config.js';
import { OFFERED_TOOLS } from './tools.js';

/** What the script expects toolgate to decide: `allowed`, or the denial's reason code. */
export type Expected = 'allowed' | 'tool-not-in-task' | 'condition-failed' | 'quota-exceeded';

export interface ScriptStep {
  readonly why: string;
  readonly tool: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly expect: Expected;
}

export const DEMO_SCRIPT: readonly ScriptStep[] = [
  { why: 'look up the charge the customer asks about', tool: 'billing.lookup_charge', arguments: { charge_id: 'ch_123' }, expect: 'allowed' },
  { why: 'check whether a replacement kettle is in stock (the other backend)', tool: 'inventory.check_stock', arguments: { sku: 'sku-kettle' }, expect: 'allowed' },
  { why: 'refund 40, within the refund limit', tool: 'billing.refund', arguments: { charge_id: 'ch_123', amount: 40 }, expect: 'allowed' },
  { why: 'close the account (not part of refund support)', tool: 'billing.close_account', arguments: { charge_id: 'ch_123' }, expect: 'tool-not-in-task' },
  { why: 'set the kettle\'s stock level (not part of refund support either)', tool: 'inventory.set_stock', arguments: { sku: 'sku-kettle', units: 0 }, expect: 'tool-not-in-task' },
  { why: 'refund 250, over the refund limit', tool: 'billing.refund', arguments: { charge_id: 'ch_456', amount: 250 }, expect: 'condition-failed' },
  { why: 'refund 30 (the second refund this hour)', tool: 'billing.refund', arguments: { charge_id: 'ch_456', amount: 30 }, expect: 'allowed' },
  { why: 'refund 10 (a third refund: over the quota)', tool: 'billing.refund', arguments: { charge_id: 'ch_456', amount: 10 }, expect: 'quota-exceeded' },
];

const DENIAL_KIND: Readonly<Record<string, string>> = {
  'tool-not-in-task': 'tool not in the task',
  'condition-failed': 'transaction over its limit',
  'quota-exceeded': 'quota used up',
};

/** What happened: a decision, or `error` when the tool itself failed. */
export type Outcome = Expected | 'error';

export interface ScriptOutcome {
  /** True when the list was filtered and every call was decided as expected. */
  readonly ok: boolean;
  readonly outcomes: readonly Outcome[];
}

export async function runAgentScript(endpoint: string, token: string, feed: AuditFeed, print: (line: string) => void): Promise<ScriptOutcome> {
  const client = new Client({ name: 'demo-agent', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(endpoint), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  const outcomes: Outcome[] = [];
  let ok = true;
  try {
    ok = await showList(client, print);
    for (const [index, step] of DEMO_SCRIPT.entries()) {
      print('');
      print(`${index + 2}) The agent wants to ${step.why}:`);
      print(`   tools/call ${step.tool} ${JSON.stringify(step.arguments)}`);
      const seen = feed.decisions.length;
      const result = (await client.callTool({ name: step.tool, arguments: { ...step.arguments } })) as CallToolResult;
      const outcome = describe(result, print);
      const record = feed.decisions.slice(seen).findLast((d) => d.method === 'tools/call');
      if (record) print(`   audit: ${auditLine(record)}`);
      outcomes.push(outcome);
      if (outcome !== step.expect) {
        ok = false;
        print(`   UNEXPECTED: the script expected ${step.expect}, toolgate decided ${outcome}.`);
      }
    }
  } finally {
    await client.close();
  }
  return { ok, outcomes };
}

/** tools/list through the gateway shows only what the task may call. */
async function showList(client: Client, print: (line: string) => void): Promise<boolean> {
  const offered = Object.entries(OFFERED_TOOLS).flatMap(([server, tools]) => tools.map((t) => `${server}.${t}`));
  const { tools } = await client.listTools();
  const listed = tools.map((t) => t.name).sort();
  const hidden = offered.filter((t) => !listed.includes(t));
  print(`1) The agent connects through Envoy (one session across both backends) and lists its tools.`);
  print(`   The servers offer ${offered.length} tools; toolgate FILTERED the list to the ${listed.length} its task may call:`);
  print(`     ${listed.join(', ')}`);
  print(`   hidden from the agent: ${hidden.join(', ') || 'nothing'}`);
  const filtered = JSON.stringify(listed) === JSON.stringify([...TASK_TOOLS].sort());
  if (!filtered) print(`   UNEXPECTED: the script expected exactly ${TASK_TOOLS.join(', ')}.`);
  return filtered;
}

function describe(result: CallToolResult, print: (line: string) => void): Outcome {
  const text = result.content.map((c) => (c.type === 'text' ? c.text : `[${c.type}]`)).join(' ');
  const code = result.structuredContent?.code;
  if (!result.isError) {
    print(`   ALLOWED → the tool answered: ${text}`);
    return 'allowed';
  }
  if (typeof code === 'string' && code in DENIAL_KIND) {
    print(`   DENIED by toolgate: ${DENIAL_KIND[code]} (${code}). The agent reads:`);
    print(`     "${text}"`);
    return code as Expected;
  }
  print(`   The tool reported an error: ${text}`);
  return 'error';
}

function auditLine(record: DecisionRecord): string {
  return [
    record.decision,
    `reason=${record.reason}`,
    `subject=${record.subject ?? '-'}`,
    `task=${record.task ?? '-'}`,
    `tool=${record.tool ?? '-'}`,
    `decisionId=${record.decisionId}`,
  ].join(' ');
}
