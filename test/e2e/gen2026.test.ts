// Issue 12.6: the 2026-07-28 (stateless) generation end to end with real peers — @modelcontextprotocol/client and
// /server 2.x — through the pinned Envoy and the built toolgate, in sidecar and gateway mode: discovery and a list
// filtered by task, an allowed call, denied calls the backend never executes, the header-only fast path (proved by
// Envoy's own filter trace and ext_proc counters), a body/header mismatch refused before any backend sees it, and a
// 2025 client beside the 2026 one on the same endpoint.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { printLogsOnFailure } from '../harness/logs.js';
import { ACCENTED_TOOL } from '../harness/mcp-server-v2.js';
import { post, type RawAnswer } from './helpers/client.js';
import { eventually } from '../harness/eventually.js';
import { connect2025, connect2026, STATELESS, startGateway2026, startSidecar2026, type Stack2026 } from './helpers/gen2026-stack.js';

printLogsOnFailure();

const BUFFERING = 'ext_authz filter is buffering the request';

interface ModeCase {
  readonly mode: 'sidecar' | 'gateway';
  readonly start: () => Promise<Stack2026>;
  /** What refund-support lists: the task's tools only (delete_account and echo are served, never shown). */
  readonly listed: readonly string[];
  /** A tool with a fast-path route (policy reads no arguments, name unchanged), and the replica that serves it. */
  readonly fast: { readonly name: string; readonly replica: string };
  /** A tool judged on its arguments (its body is read), and the name the backend knows it by. */
  readonly judged: { readonly name: string; readonly backendName: string; readonly replica: string };
  /** A served tool outside the task. */
  readonly forbidden: string;
  /** ext_proc messages for one fast-path call: none in sidecar mode, the request headers in gateway mode (routing). */
  readonly fastExtProcMessages: number;
}

const CASES: readonly ModeCase[] = [
  {
    mode: 'sidecar',
    start: startSidecar2026,
    listed: ['lookup_charge', 'refund', ACCENTED_TOOL],
    fast: { name: 'lookup_charge', replica: 'sidecar' },
    judged: { name: 'refund', backendName: 'refund', replica: 'sidecar' },
    forbidden: 'delete_account',
    fastExtProcMessages: 0,
  },
  {
    mode: 'gateway',
    start: startGateway2026,
    listed: ['billing.lookup_charge', 'billing.refund', 'lookup_charge', 'refund', ACCENTED_TOOL],
    fast: { name: 'lookup_charge', replica: 'inventory' },
    judged: { name: 'billing.refund', backendName: 'refund', replica: 'billing' },
    forbidden: 'billing.delete_account',
    fastExtProcMessages: 1,
  },
];

const meta2026 = { 'io.modelcontextprotocol/protocolVersion': STATELESS, 'io.modelcontextprotocol/clientCapabilities': {} };
const call2026 = (name: string, args: Record<string, unknown>, id: string) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args, _meta: meta2026 } });

describe.each(CASES)('2026-07-28 with real 2.x peers, $mode mode', (c) => {
  let stack: Stack2026;
  let client: Client;
  beforeAll(async () => {
    stack = await c.start();
    client = await connect2026(stack.endpoint, stack.token);
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  interface Traced<T> {
    readonly value: T;
    readonly trace: string[];
    readonly extProcMessages: number;
  }

  /** Runs one exchange and collects what Envoy's filters did for it. Tests run one at a time, so deltas are its own. */
  async function traced<T>(run: () => Promise<T>): Promise<Traced<T>> {
    const logFrom = stack.envoy.logs().length;
    const sentBefore = await stack.envoy.stat('http.mcp.ext_proc.stream_msgs_sent');
    const doneBefore = await stack.envoy.stat('http.mcp.downstream_rq_completed');
    const value = await run();
    await stack.envoy.waitForStat('http.mcp.downstream_rq_completed', (v) => v > doneBefore);
    await eventually(() => /onDestroy/.test(stack.envoy.logs().slice(logFrom)), 'ext_proc filter teardown logged', 5_000, 25);
    const trace = stack.envoy.logs().slice(logFrom).split('\n').filter((l) => /ext_authz|ext_proc/.test(l));
    return { value, trace, extProcMessages: (await stack.envoy.stat('http.mcp.ext_proc.stream_msgs_sent')) - sentBefore };
  }

  it('the client discovers the server (server/discover) and lists only what the task may call', async () => {
    expect(client.getNegotiatedProtocolVersion?.() ?? STATELESS).toBe(STATELESS);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...c.listed].sort());
    // The backends were asked in the 2026 generation: Mcp-Method header and the _meta envelope, no initialize.
    const lists = stack.journal.exchanges.filter((x) => x.body.includes('"tools/list"'));
    expect(lists.length).toBeGreaterThan(0);
    for (const x of lists) {
      expect(x.headers['mcp-protocol-version']).toBe(STATELESS);
      expect(x.headers['mcp-method']).toBe('tools/list');
      expect(x.headers['mcp-session-id']).toBeUndefined();
    }
    expect(stack.journal.exchanges.some((x) => x.body.includes('"initialize"'))).toBe(false);
  });

  it('an allowed call on the fast path: routed on its headers, no filter reads its body, the backend executes it', async () => {
    const marker = `ch_fast_${c.mode}`;
    const { value, trace, extProcMessages } = await traced(() => client.callTool({ name: c.fast.name, arguments: { charge_id: marker } }));
    expect(value.isError).toBeFalsy();
    expect(value.content).toEqual([{ type: 'text', text: `charge ${marker} on ${c.fast.replica}: 40 EUR` }]);
    expect(stack.journal.tools('lookup_charge').filter((e) => e.args.charge_id === marker)).toEqual([
      { replica: c.fast.replica, tool: 'lookup_charge', args: { charge_id: marker } },
    ]);
    // The proof that it was the fast path: ext_authz never buffered the body, ext_proc got no body (sidecar: no
    // message at all; gateway: only the request headers, on which it routed).
    expect(trace.some((l) => l.includes(BUFFERING))).toBe(false);
    expect(trace.some((l) => l.includes('Sending a body chunk'))).toBe(false);
    expect(extProcMessages).toBe(c.fastExtProcMessages);
    const [arrived] = stack.journal.carrying(marker);
    expect(arrived?.headers['mcp-name']).toBe('lookup_charge');
    expect(arrived?.headers['mcp-session-id']).toBeUndefined();
  });

  it('an allowed call judged on its arguments: the body is read, the backend executes it under its own name', async () => {
    const marker = `ch_ok_${c.mode}`;
    const { value, trace } = await traced(() => client.callTool({ name: c.judged.name, arguments: { charge_id: marker, amount: 40 } }));
    expect(value.isError).toBeFalsy();
    expect(value.content).toEqual([{ type: 'text', text: `refunded 40 of ${marker} on ${c.judged.replica}` }]);
    expect(trace.some((l) => l.includes(BUFFERING))).toBe(true);
    expect(stack.journal.tools('refund').filter((e) => e.args.charge_id === marker)).toEqual([
      { replica: c.judged.replica, tool: 'refund', args: { charge_id: marker, amount: 40 } },
    ]);
    const [arrived] = stack.journal.carrying(marker);
    expect(arrived?.headers['mcp-name']).toBe(c.judged.backendName);
  });

  it('a name that is not plain ASCII arrives as Mcp-Name =?base64?…?=; toolgate decodes it before comparing, and routes it', async () => {
    const marker = `cv_${c.mode}`;
    const result = await client.callTool({ name: ACCENTED_TOOL, arguments: { text: marker } });
    expect(result.isError).toBeFalsy();
    expect(result.content).toEqual([{ type: 'text', text: `summary of ${marker} on ${c.fast.replica}` }]);
    const [arrived] = stack.journal.carrying(marker);
    expect(arrived?.headers['mcp-name']).toBe(`=?base64?${Buffer.from(ACCENTED_TOOL, 'utf8').toString('base64')}?=`);
    expect(stack.journal.tools(ACCENTED_TOOL).filter((e) => e.args.text === marker)).toHaveLength(1);
  });

  it('a sentinel Mcp-Name that decodes to another name than the body\'s is still a mismatch', async () => {
    const marker = `cv_mismatch_${c.mode}`;
    const res = await post(stack.endpoint, call2026(ACCENTED_TOOL, { text: marker }, 'mm-4'), {
      authorization: `Bearer ${stack.token}`, 'mcp-protocol-version': STATELESS, 'mcp-method': 'tools/call',
      'mcp-name': `=?base64?${Buffer.from('resume', 'utf8').toString('base64')}?=`,
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ id: 'mm-4', error: { code: -32020, message: expect.stringContaining('Mcp-Name') } });
    expect(stack.journal.carrying(marker)).toEqual([]);
  });

  it('a call over the limit is denied with the sentence, and the backend does not execute it', async () => {
    const marker = `ch_big_${c.mode}`;
    const result = await client.callTool({ name: c.judged.name, arguments: { charge_id: marker, amount: 500 } });
    expect(result.isError).toBe(true);
    expect(result.content).toEqual([{ type: 'text', text: 'Refunds above 100 need a human approver. Do not retry; hand the case over.' }]);
    expect(result.structuredContent).toMatchObject({ code: 'condition-failed' });
    expect(stack.journal.carrying(marker)).toEqual([]);
  });

  it('a tool outside the task is denied with a sentence naming what is allowed, and never executed', async () => {
    const marker = `acct_${c.mode}`;
    const result = await client.callTool({ name: c.forbidden, arguments: { account: marker } });
    expect(result.isError).toBe(true);
    const [text] = result.content as Array<{ type: string; text: string }>;
    expect(text?.text).toContain(c.forbidden);
    expect(result.structuredContent).toMatchObject({ code: 'tool-not-in-task' });
    expect(stack.journal.carrying(marker)).toEqual([]);
    expect(stack.journal.tools('delete_account')).toEqual([]);
  });

  it('a body naming another tool than Mcp-Name on the fast-path route: 400, JSON-RPC -32020, nothing reaches a backend', async () => {
    const marker = `acct_mismatch_fast_${c.mode}`;
    const { value: res, trace } = await traced((): Promise<RawAnswer> => post(stack.endpoint, call2026(c.forbidden.replace(/^billing\./, ''), { account: marker }, 'mm-1'), {
      authorization: `Bearer ${stack.token}`, 'mcp-protocol-version': STATELESS, 'mcp-method': 'tools/call', 'mcp-name': c.fast.name,
    }));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ id: 'mm-1', error: { code: -32020 } });
    expect(trace.some((l) => l.includes(BUFFERING))).toBe(false);
    expect(stack.journal.carrying(marker)).toEqual([]);
  });

  it('a body naming another tool than Mcp-Name on a route whose body is read: 400, -32020 from toolgate, nothing executed', async () => {
    const marker = `mismatch_slow_${c.mode}`;
    const res = await post(stack.endpoint, call2026(c.fast.name, { charge_id: marker }, 'mm-2'), {
      authorization: `Bearer ${stack.token}`, 'mcp-protocol-version': STATELESS, 'mcp-method': 'tools/call', 'mcp-name': c.judged.name,
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ id: 'mm-2', error: { code: -32020, message: expect.stringContaining('Mcp-Name') } });
    expect(stack.journal.carrying(marker)).toEqual([]);
  });

  it('a Mcp-Method that disagrees with the body is refused the same way', async () => {
    const marker = `method_mismatch_${c.mode}`;
    const res = await post(stack.endpoint, call2026(c.judged.name, { charge_id: marker, amount: 1 }, 'mm-3'), {
      authorization: `Bearer ${stack.token}`, 'mcp-protocol-version': STATELESS, 'mcp-method': 'tools/list',
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ id: 'mm-3', error: { code: -32020, message: expect.stringContaining('Mcp-Method') } });
    expect(stack.journal.carrying(marker)).toEqual([]);
  });

  it('a 2025 client beside the 2026 one, on the same endpoint: initialize, list and call work, the denial holds', async () => {
    const legacy = await connect2025(stack.endpoint, stack.token);
    try {
      const { tools } = await legacy.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([...c.listed].sort());
      const marker = `ch_2025_${c.mode}`;
      const ok = await legacy.callTool({ name: c.fast.name, arguments: { charge_id: marker } });
      expect(ok.content).toEqual([{ type: 'text', text: `charge ${marker} on ${c.fast.replica}: 40 EUR` }]);
      const [arrived] = stack.journal.carrying(marker);
      expect(arrived?.headers['mcp-method']).toBeUndefined();
      const big = `ch_2025_big_${c.mode}`;
      const denied = await legacy.callTool({ name: c.judged.name, arguments: { charge_id: big, amount: 500 } });
      expect(denied.isError).toBe(true);
      expect(stack.journal.carrying(big)).toEqual([]);
      // And the 2026 client still works after it.
      const again = await client.callTool({ name: c.fast.name, arguments: { charge_id: `${marker}_then_2026` } });
      expect(again.isError).toBeFalsy();
    } finally {
      await legacy.close();
    }
  });
});
