// Security, availability (issue 9 point 8): a hung toolgate (process alive, its connections open, nothing answered)
// must cost a client no more than ext_authz's deadline: 503 soon after the 2-s ext_authz timeout, and no backend
// executes or even receives anything. Through the real pinned Envoy with the checked-in bootstraps, sidecar and
// gateway mode, against both instrumented backends.
import { describe, expect, it } from 'vitest';
import { printLogsOnFailure } from '../harness/logs.js';
import { MATRIX, PROTOCOL, rpc, type SecurityStack, useSecurityStack } from './harness.js';

printLogsOnFailure();

/** Well above ext_authz's 2-s timeout and well below ext_proc's 10-s message timeout: the functional deadline. */
const DEADLINE_MS = 6_000;

interface Outcome {
  readonly status: number;
  readonly body: string;
}

/**
 * One POST while toolgate is frozen (SIGSTOP: its sockets stay open, nothing is answered); toolgate is thawed again
 * whatever happens. The request is aborted at the deadline, so a late answer fails the case.
 */
async function whileHung(s: SecurityStack, body: string, session?: string): Promise<Outcome> {
  const pid = s.toolgate.process()?.pid;
  if (pid === undefined) throw new Error('toolgate is not running');
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'mcp-protocol-version': PROTOCOL,
    authorization: `Bearer ${await s.token()}`,
    ...(session === undefined ? {} : { 'mcp-session-id': session }),
  };
  process.kill(pid, 'SIGSTOP');
  try {
    const res = await fetch(s.endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(DEADLINE_MS) });
    return { status: res.status, body: await res.text() };
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

describe.each(MATRIX)('$mode mode, $backend backend: toolgate hung', ({ mode, backend }) => {
  let s: SecurityStack;
  let session: string;
  useSecurityStack({ mode, backend }, (stack, id) => {
    s = stack;
    session = id;
  });

  it.each([
    ['a tool call of an open session', () => rpc('tools/call', { name: s.tool('echo'), arguments: { text: 'hung-call' } }, 'hung-call'), true],
    ['a list of an open session', () => rpc('tools/list', {}, 'hung-list'), true],
    ['an initialize (a new session)', () => rpc('initialize', { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'hung-init', version: '1' } }, 'hung-init'), false],
  ] as const)('%s: 503 within the ext_authz deadline, and the backends see nothing', async (_name, body, inSession) => {
    const receivedBefore = s.journal.requests.length;
    const executedBefore = s.journal.executions.length;
    const sessionsBefore = s.journal.sessionIds.length;

    const outcome = await whileHung(s, body(), inSession ? session : undefined);

    expect(outcome.status).toBe(503);
    // Said in a sentence the agent can act on, not an empty body (docs/envoy.md, fact 26).
    expect(JSON.parse(outcome.body)).toMatchObject({ jsonrpc: '2.0', error: { data: { code: 'toolgate-unavailable' } } });
    // Nothing reached any backend: no request, no execution, no backend session opened.
    expect(s.journal.requests.length).toBe(receivedBefore);
    expect(s.journal.executions.length).toBe(executedBefore);
    expect(s.journal.sessionIds.length).toBe(sessionsBefore);
    expect(await s.envoy.stat('http.mcp.ext_authz.error')).toBeGreaterThanOrEqual(1);
    // ext_proc was not consulted about ext_authz's 503: it would have waited 10 s on the same hung toolgate, then 504.
    expect(await s.envoy.stat('http.mcp.ext_proc.message_timeouts')).toBe(0);
  });

  it('serves the same session again once toolgate is thawed', async () => {
    const reply = await s.post(rpc('tools/call', { name: s.tool('echo'), arguments: { text: 'after-thaw' } }, 'after'), { session });
    expect(reply.status).toBe(200);
    expect(s.journal.tools().map((e) => e.args)).toContainEqual({ text: 'after-thaw' });
  });
});
