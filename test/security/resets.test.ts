// Security, availability: clients that abort their requests while toolgate is still deciding them must not make
// toolgate drop Envoy's connection. Envoy cancels a Check (RST_STREAM) whenever its client goes away, and Node's HTTP/2
// server by default answers about 1000 received resets (refilled at 33 per second) with GOAWAY and closes the
// connection: every other user's Check and ext_proc stream on it then fails, and their clients get 503 (docs/envoy.md,
// fact 28). Here unauthenticated clients start and abort requests while a well-behaved client's initialize waits on
// the same connection, through the real pinned Envoy, sidecar and gateway mode.
//
// Deterministic by construction: the IdP holds back its key set, so every Check (the attackers' forged tokens and the
// well-behaved token alike) waits in toolgate until the test releases it; each abort happens only once Envoy has sent
// its Check, so each costs exactly one reset, which Envoy counts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../harness/eventually.js';
import { SIDECAR_TEMPLATE, templateVariant } from '../harness/envoy.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { GATEWAY_TEMPLATE } from '../e2e/helpers/gateway-stack.js';
import { MODES, PROTOCOL, rpc, startSecurityStack, type SecurityStack } from './harness.js';

printLogsOnFailure();

/** Aborted requests in all: twice Node's default burst allowance (1000), sent faster than its refill (33/s) covers. */
const ABORTS = 2000;
/** Requests in flight at once; far below the toolgate cluster's default circuit breaker (1024 requests). */
const BATCH = 250;

/**
 * The well-behaved initialize waits while the whole storm runs, longer than the rendered 2-s ext_authz deadline
 * allows on a loaded machine; only that deadline is lengthened. Nothing the test asserts depends on it.
 */
const longerCheckDeadline = (text: string) =>
  text.replace('# Covers a cold JWKS fetch; the default is 200ms.\n                        timeout: 2s', '# Lengthened by test/security/resets.test.ts.\n                        timeout: 60s');

const INITIALIZE = rpc('initialize', { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'well-behaved', version: '1' } }, 0);

describe.each(MODES)('%s mode: clients aborting their requests while toolgate decides them', (mode) => {
  let s: SecurityStack;
  let removeTemplate: (() => Promise<void>) | undefined;
  beforeAll(async () => {
    const variant = await templateVariant(mode === 'sidecar' ? SIDECAR_TEMPLATE : GATEWAY_TEMPLATE, longerCheckDeadline);
    removeTemplate = variant.remove;
    // The key set fetch may wait as long as the test holds it (the default 1 s would answer every Check with 503).
    s = await startSecurityStack({ mode, backend: 'express', envoyTemplate: variant.path, jwt: { jwksTimeout: '60s' } });
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
    await removeTemplate?.();
  });

  it(`toolgate keeps Envoy's connection through ${ABORTS} aborted requests: a session opened meanwhile is served`, async () => {
    const before = await s.envoy.stats();
    const grew = (after: Record<string, number>, name: string) => (after[name] ?? 0) - (before[name] ?? 0);
    const sent = 'cluster.toolgate.upstream_rq_total';
    const release = s.idp.holdJwks();
    let initialize: Promise<Awaited<ReturnType<SecurityStack['post']>>> | undefined;
    let probe: Awaited<ReturnType<SecurityStack['post']>> | undefined;
    let heldKeyFetches = 0;
    /** What Node's default guard would have let through on one connection during the storm. */
    let defaultAllowance = Infinity;
    try {
      // The well-behaved client's Check waits for the key set on the connection the storm is about to hit.
      initialize = s.post(INITIALIZE);
      await eventually(() => s.idp.heldJwksRequests() === 1, 'toolgate asked the IdP for its key set');
      await s.envoy.waitForStat(sent, (v) => v - (before[sent] ?? 0) >= 1);

      const forged = await s.idp.bad.unknownKid({ authorized_tasks: ['limited'] });
      const startedAt = Date.now();
      for (let done = 0; done < ABORTS; done += BATCH) {
        const sentBefore = await s.envoy.stat(sent);
        const aborts = Array.from({ length: BATCH }, () => new AbortController());
        const requests = aborts.map((a, i) => s.post(rpc('tools/call', { name: s.tool('echo'), arguments: { text: `storm-${done + i}` } }, i), { token: forged, signal: a.signal }).catch(() => undefined));
        // Abort only once Envoy has sent each Check to toolgate: each abort then resets a stream toolgate has open.
        await s.envoy.waitForStat(sent, (v) => v - sentBefore >= BATCH, 30_000);
        for (const a of aborts) a.abort();
        await Promise.all(requests);
        // Until only the well-behaved Check is left: Envoy has reset every aborted one (or lost it with a dropped
        // connection, which the counters below show).
        await s.envoy.waitForStat('cluster.toolgate.upstream_rq_active', (v) => v <= 1, 30_000);
      }
      defaultAllowance = 1000 + 33 * ((Date.now() - startedAt) / 1000);
      // A request with no token is answered by toolgate at once (no key needed). Envoy wrote it after the resets on the
      // same connection, and toolgate reads in order: once it is answered, toolgate has read every reset.
      probe = await s.post(rpc('tools/list', {}, 'probe'), { token: null });
      heldKeyFetches = s.idp.heldJwksRequests();
    } finally {
      release();
    }
    const opened = await initialize;
    const session = opened.headers.get('mcp-session-id');
    const initialized = await s.post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), { session: session ?? undefined });
    const call = await s.post(rpc('tools/call', { name: s.tool('echo'), arguments: { text: 'after-the-storm' } }, 1), { session: session ?? undefined });
    const after = await s.envoy.stats();

    const resets = grew(after, 'cluster.toolgate.http2.tx_reset');
    expect({
      // What the test did: every Check waited for the key set, and Envoy reset one stream per aborted request, more
      // than Node's default guard allows in the time.
      heldKeyFetches,
      resetsSentToToolgate: resets >= ABORTS || `${resets} of ${ABORTS}`,
      outpacedDefaultGuard: resets > defaultAllowance || `${resets} resets, default allowance ${Math.round(defaultAllowance)}`,
      probe: probe?.status,
      // What must not happen: toolgate's GOAWAY, a connection it closed, a Check or ext_proc stream that failed.
      goawaysFromToolgate: grew(after, 'cluster.toolgate.upstream_cx_close_notify'),
      connectionsToolgateClosed: grew(after, 'cluster.toolgate.upstream_cx_destroy_remote'),
      requestsLostWithThem: grew(after, 'cluster.toolgate.upstream_cx_destroy_remote_with_active_rq'),
      failedChecks: grew(after, 'http.mcp.ext_authz.error'),
      failedProcessStreams: grew(after, 'http.mcp.ext_proc.streams_failed'),
      // The well-behaved client: its session opened during the storm and its calls made right after are served.
      initialize: `${opened.status} ${session ? 'with a session' : opened.text.slice(0, 200)}`,
      initialized: initialized.status,
      call: call.status,
    }).toEqual({
      heldKeyFetches: 1,
      resetsSentToToolgate: true,
      outpacedDefaultGuard: true,
      probe: 401,
      goawaysFromToolgate: 0,
      connectionsToolgateClosed: 0,
      requestsLostWithThem: 0,
      failedChecks: 0,
      failedProcessStreams: 0,
      initialize: '200 with a session',
      initialized: 202,
      call: 200,
    });
    // No storm request reached a backend; the well-behaved call ran once.
    expect(call.text).toContain('after-the-storm');
    expect(s.journal.tools().map((e) => e.args)).toEqual([{ text: 'after-the-storm' }]);
    expect(s.journal.requests.some((r) => JSON.stringify(r).includes('storm-'))).toBe(false);
  }, 180_000);
});
