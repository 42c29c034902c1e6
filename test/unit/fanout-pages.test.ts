import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEgressClient, type EgressClient } from '../../src/pipeline/fanout/egress.js';
import { listAllPages, listIdSequence } from '../../src/pipeline/fanout/pages.js';
import { startMcpBackend, startPagedBackend, startRouter, type Running } from './fanout-servers.js';

const running: Running[] = [];
let client: EgressClient;

beforeAll(async () => {
  const backends: Array<[string, Running]> = [
    ['one', await startPagedBackend(1)],
    ['three', await startPagedBackend(3)],
    ['repeat', await startPagedBackend(0, 'repeat')],
    ['endless', await startPagedBackend(0, 'endless')],
    // An McpServer with tools only: prompts/list is a JSON-RPC "method not found".
    ['no-prompts', await startMcpBackend('no-prompts', true, ['echo'])],
  ];
  const router = await startRouter(new Map(backends.map(([name, r]) => [name, r.port])));
  running.push(...backends.map(([, r]) => r), router);
  client = createEgressClient({ baseUrl: `http://127.0.0.1:${router.port}`, timeoutMs: 10_000 });
});

afterAll(async () => {
  await Promise.all(running.map((r) => r.close()));
});

describe('listAllPages follows nextCursor inside the fan-out', () => {
  it.each([
    ['a single page', 'one', 1, false, ['t0_0', 't0_1']],
    ['three pages', 'three', 3, false, ['t0_0', 't0_1', 't1_0', 't1_1', 't2_0', 't2_1']],
    ['a repeated cursor (stops at the repeat)', 'repeat', 2, true, ['t0_0', 't0_1', 't1_0', 't1_1']],
    ['an endless list (stops at the bound)', 'endless', 4, true, ['t0_0', 't0_1', 't1_0', 't1_1', 't2_0', 't2_1', 't3_0', 't3_1']],
  ])('%s', async (_name, backend, pages, truncated, names) => {
    const res = await listAllPages(client, backend, 'tools/list', { protocolVersion: '2025-11-25' }, listIdSequence(), 4);
    expect(res).toMatchObject({ ok: true, pages, truncated });
    expect(res.ok && res.items.map((t) => t.name)).toEqual(names);
  });

  it('turns a JSON-RPC error into an rpc-error failure', async () => {
    const init = await client.request('no-prompts', {
      method: 'initialize',
      id: 1,
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '0' } },
    });
    const sessionId = init.ok ? init.sessionId : undefined;
    const res = await listAllPages(client, 'no-prompts', 'prompts/list', { sessionId, protocolVersion: '2025-11-25' }, listIdSequence());
    expect(res).toMatchObject({ ok: false, backend: 'no-prompts', error: 'rpc-error' });
    expect(!res.ok && res.detail).toContain('-32601');
  });
});
