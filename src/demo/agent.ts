// The demo's scripted agent: an MCP SDK client that makes one allowed and two kinds of denied calls, and says what happened.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { AuditFeed, DecisionRecord } from './audit-feed.js';

/** What the script expects toolgate to decide; `allowed`, or the denial's reason code. */
export type Expected = 'allowed' | 'tool-not-in-task' | 'condition-failed';

export interface ScriptStep {
  readonly why: string;
  readonly tool: string;
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly expect: Expected;
}

export const DEMO_SCRIPT: readonly ScriptStep[] = [
  { why: 'look up the charge the customer asks about', tool: 'lookup_charge', arguments: { charge_id: 'ch_123' }, expect: 'allowed' },
  { why: 'refund 40, within the refund limit', tool: 'refund', arguments: { charge_id: 'ch_123', amount: 40 }, expect: 'allowed' },
  { why: 'close the account (not part of refund support)', tool: 'close_account', arguments: { charge_id: 'ch_123' }, expect: 'tool-not-in-task' },
  { why: 'refund 250, over the refund limit', tool: 'refund', arguments: { charge_id: 'ch_456', amount: 250 }, expect: 'condition-failed' },
];

const DENIAL_KIND: Readonly<Record<string, string>> = {
  'tool-not-in-task': 'tool not in the task',
  'condition-failed': 'transaction over its limit',
};

/** What happened: a decision, or `error` when the tool itself failed. */
export type Outcome = Expected | 'error';

export interface ScriptOutcome {
  /** True when every step was decided as expected. */
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
    const { tools } = await client.listTools();
    print(`The agent connects through Envoy and lists the server's tools: ${tools.map((t) => t.name).join(', ')}.`);
    for (const [index, step] of DEMO_SCRIPT.entries()) {
      print('');
      print(`${index + 1}) The agent wants to ${step.why}:`);
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
