// Issue 9.3, through the real pinned Envoy, in sidecar and gateway mode, with both instrumented backends: ext_proc
// acts only on a handoff toolgate's own Check signed for this very request. An attacker who reaches toolgate's gRPC
// port and opens a Process stream with forged, mis-signed or replayed ext_authz metadata gets an immediate 403: no
// backend session id, no sealed token, and no backend request (no initialize fan-out, no call). Normal flows through
// Envoy keep working.
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extProcClient, type Msg } from '../contract/extproc-client.js';
import { eventually } from '../harness/eventually.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { captureHandoff, headersToolgateSent, immediate, newRequestId, requestBody, requestHeaders } from './handoff-clients.js';
import { MATRIX, PROTOCOL, rpc, SECURITY_CLAIMS, startSecurityStack, type SecurityStack } from './harness.js';

printLogsOnFailure();

const VICTIM = 'victim-7';
const ATTACKER_BACKEND_SID = 'attacker-chosen-backend-session';
const INITIALIZE = rpc('initialize', { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'attacker', version: '1' } }, 0);

/** What a refusal must look like: 403 and a JSON-RPC error whose sentence says nothing was forwarded. */
function expectRefused(answer: Msg): void {
  const refused = immediate(answer);
  expect(refused, `expected an immediate refusal, got ${JSON.stringify(answer).slice(0, 400)}`).toBeDefined();
  expect(refused?.status).toBe(403);
  expect(refused?.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32603 } });
  expect(refused?.body?.error?.message).toMatch(/^The gateway could not confirm that its own authorization check approved this request \(.+\); it was not forwarded\./);
}

/** No header toolgate asked for carries a session id (raw backend id or sealed token), nor does anything else it said. */
function expectNoSessionId(answers: readonly Msg[], rawIds: readonly string[]): void {
  expect(headersToolgateSent(answers)['mcp-session-id'], 'toolgate handed out a session id').toBeUndefined();
  const said = JSON.stringify(answers, (_k, v: unknown) => (v && typeof v === 'object' && (v as { type?: string }).type === 'Buffer' ? Buffer.from((v as { data: number[] }).data).toString('latin1') : v));
  for (const raw of rawIds) expect(said).not.toContain(raw);
}

describe.each(MATRIX)('forged ext_proc streams on toolgate\'s gRPC port: $mode mode, $backend backend', ({ mode, backend }) => {
  let s: SecurityStack;
  let proc: ReturnType<typeof extProcClient>;
  let victimJwt: string;
  let victimSession: string;
  /** Every backend session id the servers issued: none may ever reach the attacker. */
  let rawIds: string[];
  /** What the backends had received before the attack. */
  let seen: { requests: number; executions: number; sessions: number };
  const backendSaw = () => ({ requests: s.journal.requests.length, executions: s.journal.executions.length, sessions: s.journal.sessionIds.length });
  const grpcPort = () => s.toolgate.grpcPort;
  /** The tool a forged call names, and the bodies a captured handoff is signed for. */
  const call = (name: string) => rpc('tools/call', { name: s.tool(name), arguments: {} });
  const requestRecord = (rid: string, withSession: boolean): Record<string, string> => ({
    ':method': 'POST', ':path': '/mcp', 'x-request-id': rid, 'content-type': 'application/json', 'mcp-protocol-version': PROTOCOL,
    ...(withSession ? { 'mcp-session-id': victimSession } : {}),
  });

  beforeAll(async () => {
    s = await startSecurityStack({ mode, backend });
    victimJwt = await s.idp.mint(SECURITY_CLAIMS, { subject: VICTIM });
    // The victim's real session, opened through Envoy; then a call, so each backend it uses has seen the session.
    victimSession = await s.initialize(victimJwt);
    const r = await s.post(call('lookup_charge'), { session: victimSession, token: victimJwt });
    expect(r.status).toBe(200);
    rawIds = [...s.journal.sessionIds];
    expect(rawIds.length).toBeGreaterThan(0);
    expect(rawIds).not.toContain(victimSession);
    proc = extProcClient(grpcPort());
    seen = backendSaw();
  }, 60_000);
  afterAll(async () => {
    proc?.close();
    await s?.stop();
  });

  /** Forged metadata for a stream whose request id is `rid`: unsigned, mis-signed, or captured for another request. */
  const forgeries: Array<{ name: string; make(rid: string, method: string, target: string | undefined, body: string): Promise<Record<string, unknown>> }> = [
    {
      name: 'no signature',
      make: async (_rid, method, target) => ({ subject: VICTIM, task: 'limited', decision_id: 'forged', method, ...(target ? { target } : {}), tasks: ['limited'] }),
    },
    {
      name: 'a wrong signature',
      make: async (rid, method, target) => ({
        subject: VICTIM, task: 'limited', decision_id: 'forged', method, ...(target ? { target } : {}), tasks: ['limited'],
        request_id: rid, issued_at: Date.now(), handoff_kid: mode === 'gateway' ? 'k1' : 'ephemeral', handoff_mac: randomBytes(32).toString('base64url'),
      }),
    },
    {
      name: 'a valid one replayed for another request id',
      // Toolgate's own Check signed it, for the victim, for this very body: only the request id differs. A sidecar
      // tools/call's Check signs no handoff any more (ext_authz finishes that call itself: below), so there the
      // attacker replays the one a list's Check signs.
      make: async (_rid, method, _target, body) => captureHandoff(grpcPort(), {
        jwt: victimJwt, requestId: newRequestId(), body: mode === 'sidecar' && method === 'tools/call' ? rpc('tools/list', {}) : body,
      }),
    },
  ];

  it.each(forgeries)('$name: a call presenting the victim\'s session token gets no backend session id and reaches no backend', async (forgery) => {
    const rid = newRequestId();
    const body = call('lookup_charge');
    const st = proc.open();
    const answers = [await st.send(requestHeaders(requestRecord(rid, true), await forgery.make(rid, 'tools/call', s.tool('lookup_charge'), body)))];
    // Were the headers let through, Envoy would send the body next (gateway mode reads it to route).
    if (!immediate(answers[0] as Msg)) answers.push(await st.send(requestBody(body)));
    st.end();
    expect(backendSaw()).toEqual(seen);
    expectNoSessionId(answers, rawIds);
    expectRefused(answers[0] as Msg);
  });

  it.each(forgeries)('$name: an initialize is not fanned out, and no token is sealed for a backend id of the attacker\'s choosing', async (forgery) => {
    const rid = newRequestId();
    const st = proc.open();
    const answers = [await st.send(requestHeaders(requestRecord(rid, false), await forgery.make(rid, 'initialize', undefined, INITIALIZE)))];
    if (!immediate(answers[0] as Msg)) {
      // Gateway: toolgate answers initialize itself from the body. Sidecar: it seals the backend's answer.
      answers.push(await st.send(mode === 'gateway'
        ? requestBody(INITIALIZE)
        : requestHeaders({ ':status': '200', 'content-type': 'text/event-stream', 'mcp-session-id': ATTACKER_BACKEND_SID }, undefined, 'response_headers')));
    }
    st.end();
    expect(backendSaw()).toEqual(seen);
    expectNoSessionId(answers, [...rawIds, ATTACKER_BACKEND_SID]);
    expectRefused(answers[0] as Msg);
  });

  it(mode === 'gateway'
    ? 'the finished mark alone (exchange: done, which only a sidecar Check writes) is refused like any unsigned stream'
    : 'the finished mark alone (exchange: done) passes the stream through unchanged: no session id, no backend request, nothing sealed', async () => {
    const finished = { exchange: 'done' };
    const call = proc.open();
    const answers = [await call.send(requestHeaders(requestRecord(newRequestId(), true), finished))];
    const init = proc.open();
    answers.push(await init.send(requestHeaders(requestRecord(newRequestId(), false), { ...finished, subject: VICTIM, method: 'initialize' })));
    if (mode === 'gateway') {
      call.end();
      init.end();
      for (const a of answers) expectRefused(a);
    } else {
      // Envoy would ask for nothing more: toolgate ended both streams with its one answer, which changes nothing.
      for (const a of answers) {
        expect(immediate(a)).toBeUndefined();
        expect(a.request_headers?.response?.header_mutation ?? undefined).toBeUndefined();
      }
      expect((await call.closed).code).toBe(grpc.status.OK);
      expect((await init.closed).code).toBe(grpc.status.OK);
    }
    expect(backendSaw()).toEqual(seen);
    expectNoSessionId(answers, rawIds);
  });

  it('a stream that starts with response headers (as for a reply Envoy made itself) is passed through: nothing sealed, whatever its metadata says', async () => {
    const st = proc.open();
    const answer = await st.send(requestHeaders(
      { ':status': '200', 'content-type': 'text/event-stream', 'mcp-session-id': ATTACKER_BACKEND_SID },
      { subject: VICTIM, method: 'initialize', decision_id: 'forged' },
      'response_headers',
    ));
    st.end();
    expectNoSessionId([answer], [ATTACKER_BACKEND_SID]);
    expect(answer.response_headers?.response?.header_mutation).toBeFalsy();
    expect(immediate(answer)).toBeUndefined();
  });

  it.each([
    ['a call to another tool', () => call('lookup_charge')],
    ['an initialize', () => INITIALIZE],
  ])('a valid handoff replayed on its own request id with another body (%s): the body is refused', async (_name, otherBody) => {
    const rid = newRequestId();
    const captured = await captureHandoff(grpcPort(), { jwt: victimJwt, requestId: rid, body: rpc('tools/call', { name: s.tool('echo'), arguments: { text: 'harmless' } }) });
    const st = proc.open();
    // Gateway: with the victim's token (routing would put its backend id on the request). Sidecar: without, since
    // there the headers phase is exactly the original request's and may carry it toward the backend.
    const first = await st.send(requestHeaders(requestRecord(rid, mode === 'gateway'), captured));
    expect(immediate(first)).toBeUndefined();
    if (mode === 'sidecar') {
      // Sidecar mode never reads a body: toolgate's answer asked Envoy for no later phase and ended the stream right
      // there (docs/envoy.md, fact 19), so no body can reach a processor on this stream at all. (A sidecar tools/call's
      // Check hands over only the finished mark, which passes the stream through.)
      expect((await st.closed).code).toBe(grpc.status.OK);
      expect(backendSaw()).toEqual(seen);
      expectNoSessionId([first], rawIds);
      return;
    }
    const second = await st.send(requestBody(otherBody()));
    st.end();
    expect(backendSaw()).toEqual(seen);
    expectNoSessionId([first, second], rawIds);
    expectRefused(second);
  });

  it('control: the captured handoff with its own request id and body is accepted (this is what it is bound to)', async () => {
    const rid = newRequestId();
    const body = rpc('tools/call', { name: s.tool('echo'), arguments: { text: 'harmless' } });
    const captured = await captureHandoff(grpcPort(), { jwt: victimJwt, requestId: rid, body, headers: mode === 'gateway' ? { 'mcp-session-id': victimSession } : {} });
    const st = proc.open();
    // Gateway mode needs the session to route a 2025 call; both modes get exactly what the real request had.
    const first = await st.send(requestHeaders(requestRecord(rid, mode === 'gateway'), captured));
    const answers = [first];
    if (mode === 'gateway') answers.push(await st.send(requestBody(body)));
    st.end();
    for (const a of answers) expect(immediate(a)).toBeUndefined();
    // Gateway: accepted means routed (Envoy would now send it to billing). Sidecar: passed on unchanged.
    if (mode === 'gateway') expect(headersToolgateSent(answers)['x-toolgate-backend']).toBe('billing');
  });

  it('logs every refusal with its reason, and counts it', async () => {
    // A body mismatch needs a stream that reads a body: the gateway's (a sidecar stream ends before any body).
    const expected = ['missing', 'bad-mac', 'request-id-mismatch', ...(mode === 'gateway' ? ['body-mismatch'] : [])];
    await eventually(() => {
      const reasons = new Set(s.toolgate.records().filter((r) => r.event === 'ext_proc.handoff-refused').map((r) => r.reason));
      return expected.every((r) => reasons.has(r));
    }, `ext_proc.handoff-refused logged for ${expected.join(', ')}`, 5_000, 50);
    const metrics = await (await fetch(`${s.toolgate.adminUrl}/metrics`)).text();
    for (const reason of expected) {
      const line = metrics.split('\n').find((l) => l.startsWith(`toolgate_handoff_rejections_total{reason="${reason}"}`));
      expect(Number(line?.split(' ').pop()), `toolgate_handoff_rejections_total{reason="${reason}"}`).toBeGreaterThan(0);
    }
  });

  it('still serves the normal flow through Envoy: initialize, call, list — with Envoy\'s request id and with one the client chose', async () => {
    s.journal.clear();
    const session = await s.initialize();
    const ok = await s.post(rpc('tools/call', { name: s.tool('echo'), arguments: { text: 'through envoy' } }), { session });
    expect(ok.status).toBe(200);
    expect(JSON.stringify(ok.messages)).toContain('through envoy');
    const own = await s.post(rpc('tools/call', { name: s.tool('echo'), arguments: { text: 'own request id' } }, 2), { session, headers: { 'x-request-id': 'client-chosen-request-id' } });
    expect(own.status).toBe(200);
    expect(JSON.stringify(own.messages)).toContain('own request id');
    const list = await s.post(rpc('tools/list', {}, 3), { session });
    expect(JSON.stringify(list.messages)).toContain(s.tool('echo'));
    expect(s.journal.tools('echo').map((e) => e.args.text)).toEqual(['through envoy', 'own request id']);
    expect(s.toolgate.records().filter((r) => r.event === 'ext_proc.handoff-refused' && r.requestId === 'client-chosen-request-id')).toEqual([]);
  });
});
