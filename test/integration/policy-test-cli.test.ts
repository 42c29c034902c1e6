// `toolgate test` and `toolgate explain`, run as the CLI: every example's case file passes, a mismatch says why.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../harness/repo.js';
import { startTestIdp, type TestIdp } from '../harness/jwt.js';
import { requireBuiltDist, TOOLGATE_BIN } from '../harness/toolgate.js';

const run = (...args: string[]) => spawnSync(process.execPath, [TOOLGATE_BIN, ...args], { encoding: 'utf8', timeout: 60_000, cwd: REPO_ROOT });
const caseFiles = readdirSync(join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.test.yaml'));

beforeAll(() => requireBuiltDist());

describe('toolgate test: the examples', () => {
  it('ships a case file for every example policy', () => {
    const configs = readdirSync(join(REPO_ROOT, 'examples')).filter((f) => f.endsWith('.yaml') && !f.endsWith('.test.yaml'));
    expect(caseFiles.map((f) => f.replace('.test.yaml', '.yaml')).sort()).toEqual(configs.sort());
  });

  it.each(caseFiles)('examples/%s passes, every case counted', (name) => {
    const file = join('examples', name);
    const cases = (parse(readFileSync(join(REPO_ROOT, file), 'utf8')) as { cases: unknown[] }).cases.length;
    const out = run('test', file);
    expect(out.stderr).toBe('');
    expect(out.stdout).toContain(`${cases} case${cases === 1 ? '' : 's'}: ${cases} passed, 0 failed`);
    expect(out.stdout.match(/^ {2}ok {4}/gm)?.length).toBe(cases);
    expect(out.status).toBe(0);
  });
});

describe('toolgate test: mismatches, tokens and errors', () => {
  let dir: string;
  let idp: TestIdp;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'toolgate-policytest-'));
    idp = await startTestIdp({ serve: false, issuer: 'https://auth.test', audience: 'https://mcp.test/mcp' });
    await idp.writeJwksFile(join(dir, 'jwks.json'));
    await writeFile(join(dir, 'policy.yaml'), `resource: https://mcp.test/mcp
identity: { jwt: { issuer: https://auth.test, jwksFile: jwks.json, algorithms: [RS256] } }
tasks:
  refunds:
    tools:
      - tool: refund
        when: mcp.arguments.amount <= jwt.limit
        quota: { calls: 1, per: 1h }
`);
  });
  afterAll(async () => {
    await idp.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const write = async (name: string, text: string) => {
    const file = join(dir, name);
    await writeFile(file, text);
    return file;
  };

  it('exits 1 on a mismatch and shows the task, rule, condition and values behind it', async () => {
    const file = await write('wrong.test.yaml', `config: policy.yaml
cases:
  - name: right
    claims: { sub: a, authorized_tasks: [refunds], limit: 10 }
    request: { method: tools/call, params: { name: refund, arguments: { amount: 5 } } }
    expect: allow
  - name: wrong
    claims: { sub: a, authorized_tasks: [refunds], limit: 10 }
    request: { method: tools/call, params: { name: refund, arguments: { amount: 50 } } }
    expect: allow
`);
    const out = run('test', file);
    expect(out.status).toBe(1);
    expect(out.stdout).toContain('  ok    right');
    expect(out.stdout).toContain('  FAIL  wrong: call 1: expected allow, got deny condition-failed');
    expect(out.stdout).toContain('judging under task refunds');
    expect(out.stdout).toContain('tool refund matches rule "refund"  [tasks.refunds.tools[0]]');
    expect(out.stdout).toContain('mcp.arguments.amount <= jwt.limit → false  [tasks.refunds.tools[0].when]');
    expect(out.stdout).toContain('mcp.arguments.amount = 50, jwt.limit = 10');
    expect(out.stdout).toContain('2 cases: 1 passed, 1 failed');
  });

  it('names the step of a quota sequence that did not go as expected, and the limit behind it', async () => {
    const file = await write('quota.test.yaml', `cases:
  - name: two calls
    claims: { sub: a, authorized_tasks: [refunds], limit: 10 }
    request: { method: tools/call, params: { name: refund, arguments: { amount: 5 } } }
    steps:
      - expect: allow
        times: 2
`);
    const out = run('test', '--config', join(dir, 'policy.yaml'), file);
    expect(out.status).toBe(1);
    expect(out.stdout).toContain('FAIL  two calls: call 2: expected allow, got deny quota-exceeded');
    expect(out.stdout).toMatch(/limit +quota refused: quota-exceeded {2}\[tasks\.refunds\.tools\[0\]\.quota\]/);
  });

  it('verifies a real signed token with the config\'s own key set, and refuses a forged one', async () => {
    const token = await idp.mint({ authorized_tasks: ['refunds'], limit: 10 });
    const file = await write('token.test.yaml', `config: policy.yaml
cases:
  - name: signed by the IdP
    token: ${token}
    request: { method: tools/call, params: { name: refund, arguments: { amount: 5 } } }
    expect: allow
  - name: a token whose signature was altered is refused
    token: ${token.slice(0, -4)}AAAA
    request: { method: tools/call, params: { name: refund, arguments: { amount: 5 } } }
    expect: { deny: token-invalid }
`);
    const out = run('test', file);
    expect(out.stdout).toContain('2 cases: 2 passed, 0 failed');
    expect(out.status).toBe(0);
  });

  it('explain prints the trace of one case and exits 0 when it passes', async () => {
    const out = run('explain', join(REPO_ROOT, 'examples/sidecar.test.yaml'), '--case', "a refund above the token's limit needs a human");
    expect(out.status).toBe(0);
    expect(out.stdout).toContain('call 1: expected deny condition-failed, got deny condition-failed (HTTP 200)  ok');
    expect(out.stdout).toContain('condition  mcp.arguments.amount <= jwt.refund_limit → false  [tasks.refund-support.tools[1].when]');
    expect(out.stdout).toContain('mcp.arguments.amount = 900, jwt.refund_limit = 500');
    expect(out.stdout).toContain('message    Refunds above 500 need a human approver.');
  });

  it('explain shows a dry-run decision and the limit behind it', () => {
    const out = run('explain', join(REPO_ROOT, 'examples/dry-run.test.yaml'), '--case', 'the dry-run budget counts, and would refuse the third refund of 400');
    expect(out.status).toBe(0);
    expect(out.stdout).toMatch(/call 3: .*got dry-run, would deny budget-exceeded {2}ok/);
    expect(out.stdout).toMatch(/limit +budget \(dry-run\) refused: budget-exceeded/);
    expect(out.stdout).toContain('key = "ctr:{refund-support/refund}:dry:budget:agent-2", used = 800, amount = 400, limit = 1000');
  });

  it.each([
    ['an unknown reason code', 'cases:\n  - name: x\n    expect: { deny: nope }\n', 'cases[0].expect'],
    ['both expect and steps', 'cases:\n  - name: x\n    expect: allow\n    steps: [{ expect: allow }]\n', 'give exactly one of expect or steps'],
    ['no config named', 'cases:\n  - name: x\n    expect: allow\n', 'names no config'],
  ])('exits 2 on %s, saying what is wrong', async (_label, text, said) => {
    const out = run('test', await write('bad.test.yaml', text));
    expect(out.status).toBe(2);
    expect(out.stderr).toContain(said);
  });

  it.each([
    ['names no backend in a gateway config', '      - tools: []\n', 'name the backend that listed these (one of billing, inventory)'],
    ['names a backend whose pins are off', '      - { backend: nowhere, tools: [] }\n', 'backend "nowhere" has pins off'],
  ])('exits 2 when a case\'s listed entry %s', async (_label, entry, said) => {
    const text = `config: ${join(REPO_ROOT, 'examples', 'pins.yaml')}\ncases:\n  - name: x\n    claims: { sub: a }\n    listed:\n${entry}    request: { method: tools/list }\n    expect: allow\n`;
    const out = run('test', await write('listed.test.yaml', text));
    expect(out.stderr).toContain(said);
    expect(out.status).toBe(2);
  });
});
