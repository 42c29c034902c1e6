// Issue 9.2, one reading of targets: a resource URI, prompt name, tool name or completion reference whose text is
// not what the server looks up is refused with a sentence, and nothing it might resolve to reaches the backend.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/eventually.js';
import type { TasksConfig } from '../e2e/helpers/toolgate.js';
import { requireBuiltDist } from '../harness/toolgate.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { PUBLIC_TEXT, PUBLIC_URI, SECRET_TEXT, SECRET_URI } from './backend.js';
import { MATRIX, rpc, securityTasks, startSecurityStack, type Mode, type SecurityStack } from './harness.js';

printLogsOnFailure();

/**
 * The suite's default task, with prompt PREFIX patterns and completion allowed: a prefix is where a second reading
 * bites (`refund_policy ` still starts with `refund`), and completions must be judged to be refused for their ref.
 */
function tasks(mode: Mode): TasksConfig {
  const base = securityTasks(mode).limited;
  if (base === undefined) throw new Error('securityTasks has no "limited" task');
  const p = (name: string) => (mode === 'gateway' ? `billing.${name}` : name);
  return { limited: { ...base, tools: [...(base.tools ?? []), { tool: p('ech*') }], prompts: [p('refund*')], methods: ['completion/complete'] } };
}

const DOT_SEGMENTS = 'dot segments ("..", ".", "%2e%2e") are resolved';

/** Read (or subscribe) variants that all resolve to the secret under WHATWG rules, though the text starts with file:///public/. */
const URI_CASES: ReadonlyArray<readonly [name: string, method: string, uri: string, says: readonly string[]]> = [
  ['dot-dot segments', 'resources/read', 'file:///public/../secret/keys', [DOT_SEGMENTS, `read it as "${SECRET_URI}"`]],
  ['lower-case encoded dots', 'resources/read', 'file:///public/%2e%2e/secret/keys', [DOT_SEGMENTS, `read it as "${SECRET_URI}"`]],
  ['upper-case encoded dots', 'resources/read', 'file:///public/%2E%2E/secret/keys', [DOT_SEGMENTS, `read it as "${SECRET_URI}"`]],
  ['mixed encoded dots', 'resources/read', 'file:///public/.%2E/secret/keys', [DOT_SEGMENTS]],
  ['backslashes', 'resources/read', 'file:///public\\..\\secret\\keys', ['a backslash is read as "/"', `read it as "${SECRET_URI}"`]],
  ['a tab inside the dots', 'resources/read', 'file:///public/.\t./secret/keys', ['"file:///public/.\\t./secret/keys"', 'tab and line-break characters are removed', `read it as "${SECRET_URI}"`]],
  ['a newline inside', 'resources/read', 'file:///public/..\n/secret/keys', ['tab and line-break characters are removed', `read it as "${SECRET_URI}"`]],
  ['an upper-case scheme', 'resources/read', 'FILE:///public/../secret/keys', ['the scheme is lower-cased', `read it as "${SECRET_URI}"`]],
  ['an upper-case host', 'resources/read', 'file://LOCALHOST/public/readme', [`read it as "${PUBLIC_URI}"`]],
  ['a subscription through dot segments', 'resources/subscribe', 'file:///public/../secret/keys', [DOT_SEGMENTS]],
];

describe.each(MATRIX)('one reading of targets: $mode mode, $backend backend', ({ mode, backend }) => {
  let s: SecurityStack;
  let session: string;
  const p = (name: string) => (mode === 'gateway' ? `billing.${name}` : name);
  beforeAll(async () => {
    requireBuiltDist();
    s = await startSecurityStack({ mode, backend, tasks: tasks(mode) });
    session = await s.initialize();
  }, 60_000);
  afterAll(async () => { await s?.stop(); });

  /** Sends a call that must be refused by toolgate itself: no request reaches any backend, nothing executes. */
  async function expectRefused(body: string, reason: string, says: readonly string[]): Promise<void> {
    const requests = s.journal.requests.length;
    const executions = s.journal.executions.length;
    const r = await s.post(body, { session });
    expect(r.status).toBe(200);
    expect(r.messages).toMatchObject([{ jsonrpc: '2.0', id: 1, error: { code: -32602, data: { code: reason } } }]);
    const message = (r.messages[0] as { error: { message: string } }).error.message;
    for (const text of says) expect(message).toContain(text);
    expect(message).toContain('Do not retry it unchanged.');
    expect(r.text).not.toContain(SECRET_TEXT);
    expect(s.journal.requests.slice(requests)).toEqual([]);
    expect(s.journal.executions.slice(executions)).toEqual([]);
    expect(s.journal.reads().map((e) => e.name)).not.toContain(SECRET_URI);
    await eventually(() => s.toolgate.decisions().some((d) => d.reason === reason), `an audit record with reason ${reason}`);
  }

  it('still serves the canonical forms (the refusals below are about the reading, not the targets)', async () => {
    const read = await s.post(rpc('resources/read', { uri: PUBLIC_URI }), { session });
    expect(JSON.stringify(read.messages)).toContain(PUBLIC_TEXT);
    const prompt = await s.post(rpc('prompts/get', { name: p('refund_policy'), arguments: { topic: 'fees' } }), { session });
    expect(JSON.stringify(prompt.messages)).toContain('Explain refunds: fees');
    const completion = await s.post(rpc('completion/complete', { ref: { type: 'ref/prompt', name: p('refund_policy') }, argument: { name: 'topic', value: 'f' } }), { session });
    expect(completion.messages).toMatchObject([{ result: { completion: { values: ['fees'] } } }]);
    if (mode === 'sidecar') {
      // The gateway routes a resource completion by the URIs of its last resources/list, which holds no templates.
      const template = await s.post(rpc('completion/complete', { ref: { type: 'ref/resource', uri: 'file:///public/docs/{name}' }, argument: { name: 'name', value: 'f' } }), { session });
      expect(template.messages).toMatchObject([{ result: { completion: { values: ['faq'] } } }]);
    }
    expect(s.journal.reads().map((e) => e.name)).toContain(PUBLIC_URI);
  });

  it.each(URI_CASES)('refuses a URI with %s', async (_name, method, uri, says) => {
    await expectRefused(rpc(method, { uri }), 'uri-not-canonical', [`The resource URI ${JSON.stringify(uri)}`, ...says]);
  });

  it('refuses a URI whose path holds an encoded slash', async () => {
    await expectRefused(rpc('resources/read', { uri: 'file:///public/..%2Fsecret/keys' }), 'uri-invalid', ['has no single reading', 'encoded "/"']);
  });

  it('refuses a URI that does not parse', async () => {
    await expectRefused(rpc('resources/read', { uri: 'public/readme' }), 'uri-invalid', ['not an absolute URI']);
  });

  it('refuses a prompt name with a trailing space', async () => {
    const name = `${p('refund_policy')} `;
    await expectRefused(rpc('prompts/get', { name, arguments: { topic: 'fees' } }), 'name-not-canonical', [
      `The prompt name ${JSON.stringify(name)} is not in canonical form`,
      'ends with white space',
      `send "${p('refund_policy')}"`,
    ]);
  });

  it('refuses a prompt name in NFD form', async () => {
    const name = p('refund_cafe\u0301');
    await expectRefused(rpc('prompts/get', { name, arguments: { topic: 'fees' } }), 'name-not-canonical', ['normalization form C', `send "${p('refund_caf\u00e9')}"`]);
  });

  it('refuses a tool name with a zero-width space', async () => {
    await expectRefused(rpc('tools/call', { name: `${p('echo')}\u200b`, arguments: { text: 'hi' } }), 'name-not-canonical', ['The tool name', 'U+200B', `send "${p('echo')}"`]);
  });

  it('refuses a tool name with a trailing tab', async () => {
    await expectRefused(rpc('tools/call', { name: `${p('echo')}\t`, arguments: { text: 'hi' } }), 'name-not-canonical', ['U+0009', `send "${p('echo')}"`]);
  });

  it('refuses a completion of a prompt named with a trailing space', async () => {
    const ref = { type: 'ref/prompt', name: `${p('refund_policy')} ` };
    await expectRefused(rpc('completion/complete', { ref, argument: { name: 'topic', value: 'f' } }), 'name-not-canonical', ['ends with white space']);
  });

  it('refuses a completion of a forbidden resource reached through dot segments', async () => {
    const ref = { type: 'ref/resource', uri: 'file:///public/../secret/{name}' };
    await expectRefused(rpc('completion/complete', { ref, argument: { name: 'name', value: '' } }), 'uri-not-canonical', [
      'The resource template "file:///public/../secret/{name}"',
      'read it as "file:///secret/{name}"',
    ]);
  });

  it('refuses a completion of a fixed forbidden resource written with encoded dots', async () => {
    const ref = { type: 'ref/resource', uri: 'file:///public/%2E%2E/secret/keys' };
    await expectRefused(rpc('completion/complete', { ref, argument: { name: 'name', value: '' } }), 'uri-not-canonical', [`read it as "${SECRET_URI}"`]);
  });

  it('never read the secret, across every case above', () => {
    expect(s.journal.reads().map((e) => e.name)).not.toContain(SECRET_URI);
  });
});
