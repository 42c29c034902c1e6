// Acceptance: toolgate's process lifecycle behind a real Envoy — fail closed when down, recover on restart,
// hot-reload the config (keeping the last good one), check-config, and a graceful SIGTERM.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { REPO_ROOT } from '../harness/repo.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { bearer, connectAs, get, post, toolCall, type Connected } from './helpers/client.js';
import { eventually } from '../harness/eventually.js';
import { startStack, toolgateConfigText, type Stack, type TasksConfig } from './helpers/toolgate.js';
import { requireBuiltDist, startToolgate, TOOLGATE_BIN, type Toolgate } from '../harness/toolgate.js';

printLogsOnFailure();

const CLAIMS = { authorized_tasks: ['support'], refund_limit: 100 };
const REFUND = { tool: 'refund', when: 'mcp.arguments.amount <= jwt.refund_limit' };
const BASE_TASKS: TasksConfig = { support: { tools: [{ tool: 'lookup_charge' }, REFUND] } };

async function callTool(agent: Connected, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await agent.client.callTool({ name, arguments: args })) as CallToolResult;
}

describe('toolgate down: Envoy fails closed; toolgate back: traffic flows again', () => {
  let stack: Stack;
  let agent: Connected;
  let token: string;
  beforeAll(async () => {
    // A configured session key, so the client's session token still opens after the restart.
    stack = await startStack({
      tasks: { support: { tools: [{ tool: 'echo' }] } },
      extra: { session: { keys: [{ kid: 'k1', secret: 'lifecycle-test-session-secret-0123456789abcdef' }] } },
    });
    token = await stack.idp.mint(CLAIMS);
    agent = await connectAs(stack.endpoint, token);
  });
  afterAll(async () => {
    await agent?.close();
    await stack?.stop();
  });

  it('answers 503 while toolgate is stopped, and nothing reaches the backend', async () => {
    expect((await callTool(agent, 'echo', { text: 'before' })).content).toEqual([{ type: 'text', text: 'before' }]);
    expect(await stack.toolgate.stop()).toEqual({ code: 0, signal: null });
    const before = stack.backend.requests.length;

    const failure = await agent.client.callTool({ name: 'echo', arguments: { text: 'while down' } }).then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(StreamableHTTPError);
    expect((failure as StreamableHTTPError).code).toBe(503);
    const raw = await post(stack.endpoint, toolCall('echo', { text: 'raw while down' }), bearer(token));
    expect(raw.status).toBe(503);
    const anonymous = await post(stack.endpoint, toolCall('echo', { text: 'no token' }));
    expect(anonymous.status).toBe(503);

    expect(stack.backend.requests.length).toBe(before);
    expect(await stack.envoy.stat('http.mcp.ext_authz.error')).toBeGreaterThanOrEqual(3);
  });

  it('lets calls through again once toolgate restarts on the same ports', async () => {
    await stack.toolgate.restart();
    // Envoy reconnects on its own; bounded wait, no speed assertion.
    let result: CallToolResult | undefined;
    await eventually(async () => {
      result = await callTool(agent, 'echo', { text: 'after restart' }).catch(() => undefined);
      return result !== undefined;
    }, 'a call through Envoy after the restart');
    expect(result?.content).toEqual([{ type: 'text', text: 'after restart' }]);
    expect(stack.backend.calls('echo').map((c) => c.arguments?.text)).toEqual(['before', 'after restart']);
  });
});

describe('hot reload', () => {
  let stack: Stack;
  let agent: Connected;
  beforeAll(async () => {
    stack = await startStack({ tasks: BASE_TASKS });
    agent = await connectAs(stack.endpoint, await stack.idp.mint(CLAIMS));
  });
  afterAll(async () => {
    await agent?.close();
    await stack?.stop();
  });

  it('applies an edited config without a restart', async () => {
    const denied = await callTool(agent, 'echo', { text: 'not yet' });
    expect(denied.structuredContent?.code).toBe('tool-not-in-task');

    await stack.toolgate.rewriteConfig(stack.configText({ support: { tools: [{ tool: 'lookup_charge' }, REFUND, { tool: 'echo' }] } }));
    await eventually(async () => !(await callTool(agent, 'echo', { text: 'now allowed' })).isError, 'echo allowed after the edit');
    expect(stack.backend.calls('echo').map((c) => c.arguments?.text)).toContain('now allowed');
    expect(stack.toolgate.records().some((r) => r.event === 'config.reloaded')).toBe(true);
    expect(stack.toolgate.process()?.isRunning()).toBe(true);
  });

  it('keeps the last good config when an edit is invalid, and logs why with the field path', async () => {
    const rejectedBefore = stack.toolgate.records().filter((r) => r.event === 'config.rejected').length;
    // Would drop echo and lift the refund limit, if it were accepted; its `when` does not parse.
    const broken = stack.configText({ support: { tools: [{ tool: 'lookup_charge' }, { tool: 'refund', when: 'mcp.arguments.amount <=' }] } });
    await stack.toolgate.rewriteConfig(broken);

    let rejection: Record<string, unknown> | undefined;
    await eventually(() => {
      rejection = stack.toolgate.records().filter((r) => r.event === 'config.rejected')[rejectedBefore];
      return rejection !== undefined;
    }, 'a config.rejected log record');
    expect(rejection).toMatchObject({ level: 'error', issues: [{ path: 'tasks.support.tools[1].when', message: expect.any(String) }] });

    // Still decided by the old config.
    expect((await callTool(agent, 'echo', { text: 'still allowed' })).content).toEqual([{ type: 'text', text: 'still allowed' }]);
    expect((await callTool(agent, 'refund', { amount: 500, charge_id: 'ch_1' })).structuredContent?.code).toBe('condition-failed');
    expect(stack.backend.calls('refund')).toEqual([]);
    const ready = await get(`${stack.toolgate.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
  });
});

describe('toolgate check-config', () => {
  const run = (file: string) => spawnSync(process.execPath, [TOOLGATE_BIN, 'check-config', file], { encoding: 'utf8', timeout: 30_000 });
  // Configs only: the *.test.yaml files next to them are toolgate test case files.
  const examples = readdirSync(join(REPO_ROOT, 'examples')).filter((f) => /\.ya?ml$/.test(f) && !f.endsWith('.test.yaml'));

  beforeAll(() => requireBuiltDist());

  it.each(examples)('accepts examples/%s', (name) => {
    const out = run(join(REPO_ROOT, 'examples', name));
    expect(out.stderr).toBe('');
    expect(out.status).toBe(0);
    expect(out.stdout).toContain(': ok');
  });

  it.each([
    ['a duration that is not one', 'server:\n  shutdownGrace: 10x\n', 'server.shutdownGrace'],
    ['a CEL condition that does not parse', 'tasks:\n  t:\n    tools:\n      - tool: refund\n        when: "mcp.arguments.amount <="\n', 'tasks.t.tools[0].when'],
    ['a misspelt field', 'tasks:\n  t:\n    tools:\n      - tool: refund\n        wen: "true"\n', 'tasks.t.tools[0]'],
  ])('rejects %s and names the field', async (_label, tail, field) => {
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-check-'));
    try {
      const file = join(dir, 'broken.yaml');
      await writeFile(file, `resource: https://mcp.example.com/mcp\nidentity:\n  jwt:\n    issuer: https://auth.example.com\n    jwksUri: https://auth.example.com/jwks.json\n${tail}`);
      const out = run(file);
      expect(out.status).not.toBe(0);
      expect(out.stderr).toContain(`${field}:`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('graceful shutdown', () => {
  let idp: TestIdp;
  let toolgate: Toolgate;
  beforeAll(async () => {
    idp = await startTestIdp();
    // No Envoy needed: the test is the gRPC client. The resource URL is never dialled.
    toolgate = await startToolgate({ config: (ports) => toolgateConfigText({ envoyUrl: 'http://127.0.0.1:9', idp, tasks: BASE_TASKS }, ports) });
  });
  afterAll(async () => {
    await toolgate?.dispose();
    await idp?.stop();
  });

  it('on SIGTERM reports not-ready while draining open streams, then exits 0', async () => {
    const proc = toolgate.process();
    if (!proc) throw new Error('toolgate is not running');
    // An open gRPC stream (health Watch) keeps the drain going until we end it, so "not ready" can be observed.
    const Health = grpc.makeGenericClientConstructor(healthService as unknown as grpc.ServiceDefinition, 'Health');
    const client = new Health(`127.0.0.1:${toolgate.grpcPort}`, grpc.credentials.createInsecure());
    const statuses: string[] = [];
    const watchHealth = client.Watch as (request: { service: string }) => grpc.ClientReadableStream<{ status: string }>;
    const watch = watchHealth.call(client, { service: '' });
    watch.on('data', (msg: { status: string }) => statuses.push(msg.status));
    watch.on('error', () => undefined);
    try {
      await eventually(() => statuses.includes('SERVING'), 'health Watch reports SERVING');
      expect((await get(`${toolgate.adminUrl}/readyz`)).status).toBe(200);

      process.kill(proc.pid, 'SIGTERM');
      await eventually(() => statuses.includes('NOT_SERVING'), 'health Watch reports NOT_SERVING');
      const draining = await get(`${toolgate.adminUrl}/readyz`);
      expect(draining.status).toBe(503);
      expect(draining.json).toMatchObject({ status: 'not ready' });
      expect(proc.isRunning()).toBe(true);
    } finally {
      watch.cancel();
      client.close();
    }
    expect(await proc.exited).toEqual({ code: 0, signal: null });
    const events = toolgate.records().map((r) => r.event);
    expect(events).toEqual(expect.arrayContaining(['signal', 'shutdown', 'stopped']));
    expect(events.indexOf('shutdown')).toBeLessThan(events.indexOf('stopped'));
  });
});
