// Issue 10, one Envoy↔toolgate exchange per sidecar call, through the real pinned Envoy (envoy/sidecar.yaml) with both
// instrumented backends: ext_authz opens the session token of a sidecar tools/call itself and puts the backend's own
// session id on the request, and Envoy skips ext_proc for it (ExtensionWithMatcher + SkipFilter on ext_authz's
// `exchange: done`). A token toolgate will not open still gets the same 404 as before and reaches no backend;
// initialize and the list methods still go through ext_proc (their exchanges need it).
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { eventually } from '../harness/eventually.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { sample, scrape } from '../integration/telemetry-harness.js';
import { BACKENDS, rpc, SECURITY_CLAIMS, startSecurityStack, type RawReply, type SecurityStack } from './harness.js';

printLogsOnFailure();

/** What ext_proc answered a refused session token with before ext_authz took it over; the client must see no change. */
const SESSION_GONE = {
  jsonrpc: '2.0',
  id: null,
  error: { code: -32081, message: 'Session not found or expired. Start a new session with initialize.', data: { code: 'session-not-found' } },
};
/** Envoy's count of ext_proc streams on the MCP listener. */
const EXT_PROC_STREAMS = 'http.mcp.ext_proc.streams_started';

describe.each(BACKENDS)('sidecar session tokens decided at ext_authz: %s backend', (backend) => {
  let s: SecurityStack;
  let session: string;
  const call = (text: string) => rpc('tools/call', { name: 'echo', arguments: { text } });
  /** toolgate's own count of ext_proc request-headers messages it answered (recorded before the answer is written). */
  const processed = async () => sample((await scrape(s.toolgate.adminUrl)).text, 'toolgate_ext_proc_phase_duration_seconds_count', { phase: 'request_headers' }) ?? 0;
  const backendSaw = () => ({ requests: s.journal.requests.length, tools: s.journal.tools().length });

  beforeAll(async () => {
    s = await startSecurityStack({ mode: 'sidecar', backend });
    session = await s.initialize();
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('a tools/call with a valid token: the backend runs it under its own session id, the client gets its token back, and ext_proc is not consulted', async () => {
    const streams = await s.envoy.stat(EXT_PROC_STREAMS);
    const answered = await processed();
    const from = s.journal.requests.length;
    const r = await s.post(call('skip me'), { session });
    expect(r.status, r.text).toBe(200);
    expect(JSON.stringify(r.messages)).toContain('skip me');
    // The SDK server names its session on the answer; Envoy wrote the client's token back over it.
    expect(r.headers.get('mcp-session-id')).toBe(session);
    const [received, ...more] = s.journal.requests.slice(from);
    expect(more).toEqual([]);
    const sid = String(received?.headers['mcp-session-id']);
    expect(s.journal.sessionIds).toContain(sid);
    expect(sid).not.toBe(session);
    expect(await processed()).toBe(answered);
    // A list after it goes through ext_proc (filtered, below): once Envoy counted that stream, the call's would show.
    const list = await s.post(rpc('tools/list', {}, 2), { session });
    expect(JSON.stringify(list.messages)).toContain('"echo"');
    expect(await s.envoy.waitForStat(EXT_PROC_STREAMS, (v) => v >= streams + 1)).toBe(streams + 1);
    expect(await processed()).toBe(answered + 1);
  });

  it('initialize and tools/list still go through ext_proc: the token is minted there and the list is filtered by task', async () => {
    const streams = await s.envoy.stat(EXT_PROC_STREAMS);
    const answered = await processed();
    // initialize (ext_proc mints the token) and notifications/initialized (finished at ext_authz: no stream).
    const fresh = await s.initialize();
    const list = await s.post(rpc('tools/list', {}, 3), { session: fresh });
    const names = JSON.stringify(list.messages);
    expect(names).toContain('"lookup_charge"');
    expect(names).not.toContain('delete_everything');
    expect(await s.envoy.waitForStat(EXT_PROC_STREAMS, (v) => v >= streams + 2)).toBe(streams + 2);
    expect(await processed()).toBe(answered + 2);
  });

  describe('a token toolgate will not open → the same 404 as before, nothing reaches the backend, and no ext_proc stream', () => {
    const refusedCall = async (token: string, jwt?: string): Promise<RawReply> => {
      const before = backendSaw();
      const answered = await processed();
      const r = await s.post(call('refused'), { session: token, ...(jwt === undefined ? {} : { token: jwt }) });
      expect(r.status, r.text).toBe(404);
      expect(r.headers.get('content-type')).toMatch(/^application\/json/);
      expect(r.messages).toEqual([SESSION_GONE]);
      expect(backendSaw()).toEqual(before);
      expect(await processed()).toBe(answered);
      return r;
    };
    /** ext_authz audits the refusal as a deny, with the token's failure as the detail. */
    const audited = (detail: string) => eventually(
      () => s.toolgate.decisions().some((d) => d.decision === 'deny' && d.reason === 'session-not-found' && d.detail === detail && d.method === 'tools/call'),
      `a session-not-found deny with detail "${detail}"`, 5_000, 50,
    );

    it('tampered', async () => {
      const parts = session.split('.');
      const ciphertext = parts[3] as string;
      const at = Math.floor(ciphertext.length / 2);
      parts[3] = `${ciphertext.slice(0, at)}${ciphertext[at] === 'A' ? 'B' : 'A'}${ciphertext.slice(at + 1)}`;
      await refusedCall(parts.join('.'));
      await audited('session token tampered');
      await eventually(() => s.toolgate.records().some((r) => r.event === 'session.rejected' && r.reason === 'tampered'), 'session.rejected logged', 5_000, 50);
    });

    it('another subject\'s token, presented with the caller\'s own valid JWT', async () => {
      const theirs = await s.initialize(await s.idp.mint(SECURITY_CLAIMS, { subject: 'someone-else' }));
      await refusedCall(theirs);
      await audited('session token wrong-subject');
    });

    it('revoked: the session was ended with DELETE', async () => {
      const ended = await s.initialize();
      const del = await s.send('DELETE', undefined, { session: ended });
      expect(del.status, del.text).toBe(200);
      await refusedCall(ended);
      await audited('session token revoked');
    });

    it('expired (session.ttl 2s, set by hot reload)', async () => {
      const original = await readFile(s.toolgate.configPath, 'utf8');
      const config = parse(original) as { session?: Record<string, unknown> };
      await s.toolgate.reload(stringify({ ...config, session: { ...config.session, ttl: '2s' } }));
      try {
        const short = await s.initialize();
        const ok = await s.post(call('in time'), { session: short });
        expect(ok.status, ok.text).toBe(200);
        await eventually(async () => (await s.post(rpc('ping', {}, 9), { session: short })).status === 404, 'the 2 s token expired', 15_000, 250);
        await refusedCall(short);
        await audited('session token expired');
      } finally {
        await s.toolgate.reload(original);
      }
    });
  });
});
