// Acceptance: `node dist/demo/main.js --once` brings up IdP, MCP server, toolgate and Envoy, runs the scripted agent,
// shows every decision kind, and stops everything it started.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../harness/envoy.js';

const DEMO = join(REPO_ROOT, 'dist', 'demo', 'main.js');

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

  it('shows an allowed call with its result', () => {
    expect(run.stdout).toContain('ALLOWED → the tool answered: Charge ch_123: 420 usd');
    expect(run.stdout).toMatch(/audit: allow reason=allowed subject=support-agent-7 task=refund-support tool=lookup_charge decisionId=\S+/);
  });

  it('shows a tool outside the task, denied with the agent-facing text', () => {
    expect(run.stdout).toContain('DENIED by toolgate: tool not in the task (tool-not-in-task)');
    expect(run.stdout).toMatch(/"The tool "close_account" is not part of task "refund-support"\..*Do not retry/);
  });

  it('shows a transaction over its limit, denied with the configured text', () => {
    expect(run.stdout).toContain('DENIED by toolgate: transaction over its limit (condition-failed)');
    expect(run.stdout).toContain('"Refunds above 100 need a human approver. Do not retry; hand the case over."');
  });

  it('shows that denied calls never reached the MCP server', () => {
    expect(run.stdout).toContain('The billing server ran: lookup_charge, refund. Denied calls never reached it.');
  });

  it('leaves nothing listening on the gateway port', async () => {
    const gateway = /Envoy \S+\s+(http:\/\/127\.0\.0\.1:\d+\/mcp)/.exec(run.stdout)?.[1];
    expect(gateway).toBeDefined();
    await expect(fetch(gateway as string, { signal: AbortSignal.timeout(2_000) })).rejects.toThrow();
  });
});
