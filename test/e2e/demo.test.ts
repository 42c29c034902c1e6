// Acceptance: `node dist/cli/demo/main.js --once` brings up the local mesh (IdP, billing ×2 and inventory MCP servers,
// toolgate, Envoy as a gateway), runs the scripted agent, shows every decision kind, and stops everything it started.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/repo.js';

const DEMO = join(REPO_ROOT, 'dist', 'cli', 'demo', 'main.js');

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runDemo(args: readonly string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8'); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    // SIGINT lets the demo stop its Envoy; a bounded wait, not a speed check.
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

describe('npm run demo -- --once', () => {
  let run: Run;
  beforeAll(async () => {
    if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: run \`npm run build\` first (\`npm test\` does it in pretest).`);
    run = await runDemo(['--once'], 50_000);
  });

  it('exits 0 after the scripted session', () => {
    expect(run.stderr).toBe('');
    expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
  });

  it('shows tools/list filtered to the task\'s tools', () => {
    expect(run.stdout).toContain('The servers offer 5 tools; toolgate FILTERED the list to the 3 its task may call:');
    expect(run.stdout).toContain('billing.lookup_charge, billing.refund, inventory.check_stock');
    expect(run.stdout).toContain('hidden from the agent: billing.close_account, inventory.set_stock');
  });

  it('shows allowed calls on both backends, with their results and audit records', () => {
    expect(run.stdout).toContain('ALLOWED → the tool answered: Charge ch_123: 420 usd');
    expect(run.stdout).toContain('ALLOWED → the tool answered: sku-kettle: 12 in stock.');
    expect(run.stdout).toMatch(/audit: allow reason=allowed subject=support-agent-7 task=refund-support tool=billing\.lookup_charge decisionId=\S+/);
    expect(run.stdout).toMatch(/audit: allow reason=allowed subject=support-agent-7 task=refund-support tool=inventory\.check_stock decisionId=\S+/);
  });

  it('shows tools outside the task denied on both backends, with the agent-facing text', () => {
    expect(run.stdout.match(/DENIED by toolgate: tool not in the task \(tool-not-in-task\)/g)).toHaveLength(2);
    expect(run.stdout).toMatch(/"The tool "billing\.close_account" is not part of task "refund-support"\..*Do not retry/);
    expect(run.stdout).toMatch(/"The tool "inventory\.set_stock" is not part of task "refund-support"\..*Do not retry/);
  });

  it('shows a transaction over its limit, denied with the configured text', () => {
    expect(run.stdout).toContain('DENIED by toolgate: transaction over its limit (condition-failed)');
    expect(run.stdout).toContain('"Refunds above 100 need a human approver. Do not retry; hand the case over."');
  });

  it('shows a quota used up', () => {
    expect(run.stdout).toContain('DENIED by toolgate: quota used up (quota-exceeded)');
    expect(run.stdout).toMatch(/quota of 2 calls per 1h is used up \(2 of 2 used in the current window\)/);
  });

  it('shows that denied calls never reached a server, and that the session kept to one billing replica', () => {
    const ran = Object.fromEntries([...run.stdout.matchAll(/^(billing-1|billing-2|inventory-1)\s+ran: (.*)$/gm)].map((m) => [m[1], m[2]]));
    expect(ran['inventory-1']).toBe('check_stock');
    expect([ran['billing-1'], ran['billing-2']].sort()).toEqual(['lookup_charge, refund, refund', 'nothing']);
  });

  it('leaves nothing listening on the gateway port', async () => {
    const gateway = /Envoy \S+\s+(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(run.stdout)?.[1];
    expect(gateway).toBeDefined();
    await expect(fetch(gateway as string, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  });
});
