// Shared by the policy-test-agrees suites: sends a `toolgate test` case through a real Envoy + toolgate stack (sidecar
// or gateway) and checks, call by call, that the live decision, reason and backend traffic match runCase's verdict.
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { CLIENT_CAPABILITIES_META_KEY } from '../../../src/core/mcp/protocol.js';
import { DENIAL_META_KEY } from '../../../src/core/mcp/replies.js';
import { loadConfigFile } from '../../../src/app/runtime/load.js';
import { stepsOf, type TestCase } from '../../../src/cli/policytest/cases.js';
import { testIdentity } from '../../../src/cli/policytest/identity.js';
import { runCase, type Observed } from '../../../src/cli/policytest/run.js';
import type { RecordedRequest } from '../../harness/mcp-server.js';
import type { TestIdp } from '../../harness/jwt.js';
import { rawSender, type RawReply } from '../../security/harness.js';
import { eventually } from '../../harness/eventually.js';

const PROTOCOL = '2025-06-18';

/** What a case needs from a running stack, sidecar or gateway alike. */
export interface AgreeTarget {
  readonly endpoint: string;
  readonly idp: Pick<TestIdp, 'mint'>;
  /** toolgate's audit records (`event: decision`), oldest first. */
  decisions(): Array<Record<string, unknown>>;
  /** Each backend's request record (all its replicas together), by backend name. */
  backends(): Readonly<Record<string, readonly RecordedRequest[]>>;
  /** The backend an allowed call must reach (a gateway routes on the tool's prefix). */
  backendOf(request: { method: string; params?: Record<string, unknown> }): string;
}

export interface Live {
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly wouldDeny: string | undefined;
  /** The reason code the reply itself carries (error.data.code or the denial _meta), when it carries one. */
  readonly replyCode: string | undefined;
  /** The backend the call belongs on, and requests with the call's JSON-RPC method that reached it. */
  readonly backend: string;
  readonly reachedBackend: number;
  /** Requests with the call's JSON-RPC method that reached any other backend. */
  readonly reachedElsewhere: number;
  readonly reply: RawReply;
  /** A 2026-07-28 call: the harness backend speaks 2025 only, so its answer is not a normal result (it did receive it). */
  readonly stateless: boolean;
}

/** One case both ways: `toolgate test`'s verdict (runCase on the example config) and the live stack, call by call. */
export async function checkCase(t: AgreeTarget, configFile: string, c: TestCase, index: number): Promise<void> {
  const runtime = loadConfigFile(configFile);
  const identity = await testIdentity(runtime);
  const verdict = await runCase(runtime, identity, c);
  expect(verdict.pass, `toolgate test itself fails "${c.name}"`).toBe(true);
  const live = await sendLive(t, c, index);
  expect(live.length).toBe(verdict.calls.length);
  verdict.calls.forEach((call, i) => {
    agree(`${c.name}, call ${i + 1}`, call.observed, live[i] as Live);
  });
}

function replyCode(reply: RawReply): string | undefined {
  const m = reply.messages[0] as { error?: { data?: { code?: unknown } }; result?: { _meta?: Record<string, { code?: unknown }> } } | undefined;
  const code = m?.error?.data?.code ?? m?.result?._meta?.[DENIAL_META_KEY]?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Per backend, how many requests with this JSON-RPC method it has received so far. */
function countsOf(t: AgreeTarget, method: string | undefined): Record<string, number> {
  return Object.fromEntries(Object.entries(t.backends()).map(([name, reqs]) => [name, reqs.filter((r) => r.rpcMethod === method).length]));
}

export function agree(what: string, o: Observed, l: Live): void {
  expect({ what, decision: l.decision, reason: o.decision === 'deny' ? l.reason : undefined, wouldDeny: l.wouldDeny })
    .toEqual({ what, decision: o.decision, reason: o.decision === 'deny' ? o.reason : undefined, wouldDeny: o.wouldDeny });
  if (o.decision === 'deny') {
    // Refused by toolgate: no backend saw it, and the reply (when it carries a code) names the same reason.
    expect(l.reachedBackend + l.reachedElsewhere, `${what}: a denied call reached a backend`).toBe(0);
    if (l.replyCode !== undefined) expect(l.replyCode).toBe(o.reason);
    expect(l.reply.headers.get('x-toolgate-decision-id') !== null || l.reply.status >= 400, `${what}: toolgate's refusal`).toBe(true);
  } else {
    // Allowed, or forwarded in dry-run: it ran once on its own backend, and the client got the backend's own answer.
    expect(l.reachedBackend, `${what}: an allowed call did not reach ${l.backend} exactly once`).toBe(1);
    expect(l.reachedElsewhere, `${what}: an allowed call reached a backend other than ${l.backend}`).toBe(0);
    expect(l.replyCode, `${what}: the client saw a denial`).toBeUndefined();
    if (!l.stateless) expect(l.reply.status).toBe(200);
    if (!l.stateless) expect((l.reply.messages[0] as { result?: unknown } | undefined)?.result, `${what}: no result`).toBeDefined();
  }
}

/** Sends a case's calls as a client would: its token (minted by the stack's IdP), after an initialize, its headers. */
export async function sendLive(t: AgreeTarget, c: TestCase, index: number): Promise<Live[]> {
  // A subject of its own per case and run, so quota and budget counters of one case never meet another's.
  const subject = `${String(c.claims?.sub ?? 'anonymous')}-case${index}-${randomUUID().slice(0, 8)}`;
  let token: string | null = null;
  if (c.token !== undefined) token = c.token;
  else if (c.claims) {
    const { aud, iss, sub: _sub, ...claims } = c.claims as Record<string, unknown>;
    token = await t.idp.mint(claims, { subject, ...(aud === undefined ? {} : { audience: aud as string }), ...(iss === undefined ? {} : { issuer: iss as string }) });
  }
  const send = rawSender(t.endpoint, '', { 'mcp-protocol-version': PROTOCOL });
  const stateless = c.headers['mcp-protocol-version'] === '2026-07-28';
  // A session when the token can open one; a case whose token the gate refuses is sent as it is, without one.
  const session = stateless || token === null ? undefined : await initialize(send, token);
  const results: Live[] = [];
  for (const step of stepsOf(c)) {
    for (let i = 0; i < step.times; i += 1) {
      const request = step.request ?? c.request;
      const headers = { ...c.headers, ...step.headers };
      const method = request?.method ?? headers['mcp-method'];
      if (request === undefined) await bodylessIsRefusedByEnvoy(t, send, token, headers);
      // A headers-only case stands for a 2026 call on the fast-path route, where Envoy hands toolgate the headers
      // only; a real client still sends the body, which Envoy checks against Mcp-Method/Mcp-Name. Send that body.
      const rpc = request ?? { method: String(method), params: { name: headers['mcp-name'], arguments: {}, _meta: { [CLIENT_CAPABILITIES_META_KEY]: {} } } };
      const backend = t.backendOf(rpc as { method: string; params?: Record<string, unknown> });
      const body = JSON.stringify({ jsonrpc: '2.0', id: results.length + 1, ...rpc });
      const before = countsOf(t, method);
      const auditedBefore = t.decisions().length;
      const reply = await send('POST', body, { token, ...(session ? { session } : {}), headers });
      // An identity refusal is audited before the body is read: no method and no subject, so those match too.
      const ours = () => t.decisions().slice(auditedBefore).filter((d) => (d.method === method || d.method === undefined) && (d.subject === subject || d.subject === undefined));
      await eventually(() => ours().length >= 1, `the audit record of ${method}`);
      const [record] = ours();
      const dryRun = record?.dryRun as { reason?: string } | undefined;
      // The backend answers before the test reads its record; a forwarded SSE reply has ended by now.
      const after = countsOf(t, method);
      const reached = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
      results.push({
        decision: record?.decision as 'allow' | 'deny',
        reason: String(record?.reason),
        wouldDeny: dryRun?.reason,
        replyCode: replyCode(reply),
        backend,
        reachedBackend: reached(backend),
        reachedElsewhere: Object.keys(after).filter((name) => name !== backend).reduce((n, name) => n + reached(name), 0),
        reply,
        stateless,
      });
    }
  }
  return results;
}

/**
 * The case as literally written (no body at all) is not something the real gate judges: Envoy's MCP filter refuses a
 * bodyless 2026 POST with 400 before ext_authz, so toolgate audits nothing and no backend sees anything. `toolgate
 * test` says allow for it, because it judges what Check receives on the fast path (headers only), not the POST.
 */
async function bodylessIsRefusedByEnvoy(t: AgreeTarget, send: ReturnType<typeof rawSender>, token: string | null, headers: Record<string, string>): Promise<void> {
  const total = () => Object.values(t.backends()).reduce((n, reqs) => n + reqs.length, 0);
  const [seen, audited] = [total(), t.decisions().length];
  const reply = await send('POST', undefined, { token, headers });
  expect(reply.status).toBe(400);
  expect(reply.headers.get('x-toolgate-decision-id')).toBeNull();
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(t.decisions().length).toBe(audited);
  expect(total()).toBe(seen);
}

async function initialize(send: ReturnType<typeof rawSender>, token: string): Promise<string | undefined> {
  const init = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'policy-test-agrees', version: '1.0.0' } } });
  const reply = await send('POST', init, { token });
  const session = reply.headers.get('mcp-session-id');
  if (reply.status !== 200 || !session) return undefined;
  const done = await send('POST', JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), { token, session });
  if (done.status !== 202) throw new Error(`notifications/initialized: ${done.status} ${done.text}`);
  return session;
}
