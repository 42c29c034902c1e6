// Acceptance: no audit record is lost on a clean shutdown. Decisions driven through a real toolgate's Check (as Envoy's
// ext_authz sends them), the signal right after the last answer, then exactly one record per decision on its stdout;
// and a fatal start-up error is still printed, after the records logged before it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkClient, toolCall, type CheckResult } from '../harness/check-client.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { freePort } from '../harness/ports.js';
import { startProcess } from '../harness/process.js';
import { requireBuiltDist, startToolgate, TOOLGATE_BIN, writeAdminToken } from '../harness/toolgate.js';
import { toolgateConfigText, type TasksConfig } from './helpers/toolgate.js';

printLogsOnFailure();

/** No Envoy in front: the resource only has to agree with the tokens' audience. */
const BASE_URL = 'https://mcp.toolgate.test';
const TASKS: TasksConfig = { support: { tools: [{ tool: 'lookup_charge' }, { tool: 'refund', when: 'mcp.arguments.amount <= jwt.refund_limit' }] } };
const DECISIONS = 1200;
const CONCURRENCY = 32;

/** Allowed, allowed through a condition, refused by the condition, refused as a tool in no task. */
const CALLS = [
  toolCall('lookup_charge', { charge_id: 'ch_1' }),
  toolCall('refund', { charge_id: 'ch_1', amount: 20 }),
  toolCall('refund', { charge_id: 'ch_1', amount: 500 }),
  toolCall('delete_everything', {}),
];

let idp: TestIdp;
beforeAll(async () => {
  requireBuiltDist();
  idp = await startTestIdp({ audience: `${BASE_URL}/mcp` });
});
afterAll(async () => {
  await idp?.stop();
});

describe.each(['SIGTERM', 'SIGINT'] as const)('%s right after the last answer', (signal) => {
  it(`leaves exactly one audit record per decision on stdout (${DECISIONS} decisions, ${CONCURRENCY} at a time)`, async () => {
    const toolgate = await startToolgate({ config: (ports) => toolgateConfigText({ envoyUrl: BASE_URL, idp, tasks: TASKS }, ports) });
    try {
      const token = await idp.mint({ authorized_tasks: ['support'], refund_limit: 100 });
      const client = checkClient(toolgate.grpcPort);
      const answers: CheckResult[] = [];
      let next = 0;
      const worker = async () => {
        while (next < DECISIONS) {
          const body = CALLS[next++ % CALLS.length];
          answers.push(await client.check({ token, body }));
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      client.close();
      const proc = toolgate.process();
      if (!proc) throw new Error('toolgate is not running');
      process.kill(proc.pid, signal);
      expect(await proc.exited).toEqual({ code: 0, signal: null });

      const records = toolgate.decisions();
      expect(records).toHaveLength(DECISIONS);
      const ids = new Set(records.map((r) => r.decisionId));
      expect(ids.size).toBe(DECISIONS);
      // A sidecar tools/call is finished by the Check itself (no handoff to ext_proc, so its answer names no decision):
      // every allowed answer has its own allow record.
      const allowed = answers.filter((a) => a.allowed);
      expect(allowed).toHaveLength(DECISIONS / 2);
      expect(records.filter((r) => r.decision === 'allow')).toHaveLength(DECISIONS / 2);
      expect(records.filter((r) => r.decision === 'deny')).toHaveLength(DECISIONS / 2);
      // The shutdown's own records follow the decisions.
      expect(toolgate.records().at(-1)).toMatchObject({ event: 'stopped' });
    } finally {
      await toolgate.dispose();
    }
  });
});

describe('a fatal start-up error', () => {
  let dir: string;
  let taken: Server;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'toolgate-fatal-'));
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => taken?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('is printed on stderr with exit code 1, after the records logged before it', async () => {
    const grpcPort = (taken.address() as { port: number }).port;
    const configPath = join(dir, 'toolgate.yaml');
    // No session keys: toolgate logs its ephemeral-key warning before it binds the (taken) gRPC port.
    await writeFile(configPath, toolgateConfigText({ envoyUrl: BASE_URL, idp, tasks: TASKS }, { grpcPort, adminPort: await freePort() }));
    await writeAdminToken(dir);
    const proc = await startProcess({ name: 'toolgate (port taken)', command: process.execPath, args: [TOOLGATE_BIN, 'serve', '--config', configPath], env: { TOOLGATE_LOG_LEVEL: 'info' } });
    expect(await proc.exited).toEqual({ code: 1, signal: null });
    const output = proc.logs();
    expect(output).toMatch(/^toolgate: .*\S/m);
    expect(output).toContain('"event":"session.ephemeral-key"');
  });
});
