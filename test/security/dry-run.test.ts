// Dry-run through the real Envoy, sidecar and gateway, with a real MCP SDK client: a would-be denial is forwarded
// (the backend's journal shows it ran) and recorded; hot reload to enforce refuses it; no token is a 401 either way;
// dry-run quota counts never leak into the enforced counter.
import { readFile } from 'node:fs/promises';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { printLogsOnFailure } from '../harness/logs.js';
import { connectAs, get, type Connected } from '../e2e/helpers/client.js';
import { eventually } from '../harness/eventually.js';
import { MODES, rpc, startSecurityStack, type Mode, type SecurityStack } from './harness.js';

printLogsOnFailure();

const CLAIMS = { authorized_tasks: ['limited'], refund_limit: 100 };

function tasks(mode: Mode) {
  const p = (name: string) => (mode === 'gateway' ? `billing.${name}` : name);
  return {
    limited: {
      tools: [
        { tool: p('echo') },
        { tool: p('refund'), when: 'mcp.arguments.amount <= jwt.refund_limit', quota: { calls: 2, per: '1h' } },
      ],
    },
  };
}

describe.each(MODES)('dry-run (%s)', (mode) => {
  let s: SecurityStack;
  let agent: Connected;
  const call = async (name: string, args: Record<string, unknown>) => (await agent.client.callTool({ name: s.tool(name), arguments: args })) as CallToolResult;
  const refunds = () => s.journal.tools('refund').map((e) => e.args.amount);
  const decisionsFor = (tool: string) => s.toolgate.decisions().filter((d) => d.tool === s.tool(tool) && d.method === 'tools/call');
  /** The audit records of `tool`'s calls, once there are `n` (the log line can trail the response). */
  const audited = async (tool: string, n: number) => {
    await eventually(() => decisionsFor(tool).length >= n, `${n} audit records for ${tool}`);
    return decisionsFor(tool);
  };
  const dryRunCount = async (reason: string) => {
    const metrics = (await get(`${s.toolgate.adminUrl}/metrics`)).text;
    const line = metrics.split('\n').find((l) => l.startsWith('toolgate_dry_run_denials_total{') && l.includes(`reason="${reason}"`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  };

  beforeAll(async () => {
    s = await startSecurityStack({ mode, backend: 'express', tasks: tasks(mode), extra: { policy: { mode: 'dry-run' } } as never });
    agent = await connectAs(s.endpoint, await s.token(CLAIMS));
  }, 120_000);
  afterAll(async () => {
    await agent?.close();
    await s?.stop();
  });

  it('forwards a call the condition would refuse; the client sees the tool result, audit and metric the would-be denial', async () => {
    const result = await call('refund', { amount: 500 });
    expect(result.isError).toBeFalsy();
    expect(result.content).toEqual([{ type: 'text', text: 'refunded 500' }]);
    expect(refunds()).toEqual([500]);
    const audit = (await audited('refund', 1)).at(-1);
    expect(audit).toMatchObject({ decision: 'allow', dryRun: { decision: 'deny', reason: 'condition-failed', policy: 'tasks.limited.tools[1].when' } });
    expect(await dryRunCount('condition-failed')).toBe(1);
  });

  it('forwards a tool the task does not list, and lists it (dry-run hides nothing)', async () => {
    const listed = (await agent.client.listTools()).tools.map((t) => t.name);
    expect(listed).toContain(s.tool('delete_everything'));
    const result = await call('delete_everything', {});
    expect(result.content).toEqual([{ type: 'text', text: 'deleted everything' }]);
    expect(s.journal.tools('delete_everything')).toHaveLength(1);
    expect((await audited('delete_everything', 1)).at(-1)).toMatchObject({ decision: 'allow', dryRun: { reason: 'tool-not-in-task' } });
    expect(await dryRunCount('tool-not-in-task')).toBe(1);
  });

  it('counts a dry-run quota without refusing: the third call is forwarded as a would-be quota refusal', async () => {
    for (const amount of [1, 2, 3]) expect((await call('refund', { amount })).content).toEqual([{ type: 'text', text: `refunded ${amount}` }]);
    // The refund above the limit was refused by the shadow policy first, so it did not count against the quota.
    expect(refunds()).toEqual([500, 1, 2, 3]);
    expect((await audited('refund', 4)).slice(-3).map((d) => (d.dryRun as { reason?: string } | undefined)?.reason)).toEqual([undefined, undefined, 'quota-exceeded']);
    expect(await dryRunCount('quota-exceeded')).toBe(1);
  });

  it('never dry-runs authentication: no token is still a 401 and nothing runs', async () => {
    const before = s.journal.executions.length;
    const reply = await s.post(rpc('tools/call', { name: s.tool('echo'), arguments: { text: 'anonymous' } }), { token: null });
    expect(reply.status).toBe(401);
    expect(reply.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata=/);
    expect(s.journal.executions.length).toBe(before);
  });

  it('enforces after a hot reload, on a quota counter dry-run never touched', async () => {
    const config = parse(await readFile(s.toolgate.configPath, 'utf8')) as { policy?: Record<string, unknown> };
    const reloads = () => s.toolgate.records().filter((r) => r.event === 'config.reloaded').length;
    const before = reloads();
    await s.toolgate.rewriteConfig(stringify({ ...config, policy: { ...config.policy, mode: 'enforce' } }));
    await eventually(() => reloads() > before, 'the config reloaded');

    const refused = await call('refund', { amount: 500 });
    expect(refused.isError).toBe(true);
    expect(refused.structuredContent?.code).toBe('condition-failed');
    expect((await call('delete_everything', {})).structuredContent?.code).toBe('tool-not-in-task');
    expect(s.journal.tools('delete_everything')).toHaveLength(1);

    // The dry-run counter already holds 2 of 2; the enforced one starts from zero, so two more refunds pass.
    expect((await call('refund', { amount: 4 })).content).toEqual([{ type: 'text', text: 'refunded 4' }]);
    expect((await call('refund', { amount: 5 })).content).toEqual([{ type: 'text', text: 'refunded 5' }]);
    expect((await call('refund', { amount: 6 })).structuredContent?.code).toBe('quota-exceeded');
    expect(refunds()).toEqual([500, 1, 2, 3, 4, 5]);
    const last = (await audited('refund', 8)).at(-1);
    expect(last).toMatchObject({ decision: 'deny', reason: 'quota-exceeded' });
    expect(last?.dryRun).toBeUndefined();
  });
});
