// `toolgate test` against the real gate: every example case for a sidecar stack is run through runCase (the CLI's
// verdict) and sent through the pinned Envoy + built toolgate + an MCP SDK backend; both must agree call by call, and
// the backend's request record must show an allowed call ran and a denied one did not (issue 14).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parse } from 'yaml';
import type { RawConfig } from '../../src/config/schema.js';
import { loadConfigFile } from '../../src/config/load.js';
import { CLIENT_CAPABILITIES_META_KEY } from '../../src/mcp/protocol.js';
import { DENIAL_META_KEY } from '../../src/mcp/replies.js';
import { loadCaseFile, stepsOf, type TestCase } from '../../src/policytest/cases.js';
import { testIdentity } from '../../src/policytest/identity.js';
import { runCase, type Observed } from '../../src/policytest/run.js';
import { REPO_ROOT } from '../harness/envoy.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { rawSender, type RawReply } from '../security/harness.js';
import { eventually } from './helpers/client.js';
import { startStack, type Stack } from './helpers/toolgate.js';

printLogsOnFailure();

const PROTOCOL = '2025-06-18';

/** What the example policies name but the harness server does not serve, so an allowed call has something to run. */
function exampleFeatures(server: McpServer): void {
  const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
  server.registerTool('close_account', { description: 'Closes an account.', inputSchema: { account: z.string() } }, ({ account }) => text(`closed ${account}`));
  server.registerPrompt('refund_policy', { description: 'The refund policy.' }, () => ({ messages: [{ role: 'user', content: { type: 'text', text: 'Refunds within 30 days.' } }] }));
  for (const uri of ['billing://policies/eu', 'billing://customers/42']) {
    server.registerResource(uri, uri, { mimeType: 'text/plain' }, (u) => ({ contents: [{ uri: u.href, mimeType: 'text/plain', text: `contents of ${u.href}` }] }));
  }
}

/** The example config's policy sections on the stack's own resource, IdP and ports (identity.jwt is the test IdP's). */
function exampleSections(configFile: string, stackIdp: { issuer: string; jwksUrl: string | undefined }): { tasks: NonNullable<RawConfig['tasks']>; extra: Partial<RawConfig> } {
  const example = parse(readFileSync(configFile, 'utf8')) as RawConfig;
  const { resource: _resource, server: _server, identity, tasks, ...rest } = example;
  if (!tasks) throw new Error(`${configFile} has no tasks`);
  const jwt = { issuer: stackIdp.issuer, jwksUri: stackIdp.jwksUrl, algorithms: ['RS256'] };
  // The example's task selection (claim, header) is kept as written; left out, the defaults apply on both sides.
  return { tasks, extra: { ...rest, identity: { jwt, ...(identity?.task ? { task: identity.task } : {}) } } as Partial<RawConfig> };
}

interface Live {
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  readonly wouldDeny: string | undefined;
  /** The reason code the reply itself carries (error.data.code or the denial _meta), when it carries one. */
  readonly replyCode: string | undefined;
  /** Requests with the call's JSON-RPC method that reached the backend. */
  readonly reachedBackend: number;
  readonly reply: RawReply;
  /** A 2026-07-28 call: the harness backend speaks 2025 only, so its answer is not a normal result (it did receive it). */
  readonly stateless: boolean;
}

function replyCode(reply: RawReply): string | undefined {
  const m = reply.messages[0] as { error?: { data?: { code?: unknown } }; result?: { _meta?: Record<string, { code?: unknown }> } } | undefined;
  const code = m?.error?.data?.code ?? m?.result?._meta?.[DENIAL_META_KEY]?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Runs one case file both ways on a sidecar stack serving its config. */
function agreeOn(caseFileName: string): void {
  const caseFile = loadCaseFile(join(REPO_ROOT, 'examples', caseFileName));
  const configFile = caseFile.config;
  if (!configFile) throw new Error(`${caseFileName} names no config`);

  describe(`${caseFileName} (${configFile.split('/').pop()}): toolgate test and the real gate agree`, () => {
    let s: Stack;
    beforeAll(async () => {
      // The stack's IdP is only known once it runs: start on a placeholder task, then serve the example's sections.
      s = await startStack({ tasks: { placeholder: { tools: [{ tool: 'echo' }] } }, backend: { extend: exampleFeatures } });
      const { tasks, extra } = exampleSections(configFile, s.idp);
      await s.toolgate.rewriteConfig(s.configText(tasks, extra));
      await s.toolgate.restart();
    }, 120_000);
    afterAll(async () => {
      await s?.stop();
    });

    caseFile.cases.forEach((c, index) => {
      it(c.name, async () => {
        const runtime = loadConfigFile(configFile);
        const identity = await testIdentity(runtime);
        const verdict = await runCase(runtime, identity, c);
        expect(verdict.pass, `toolgate test itself fails "${c.name}"`).toBe(true);
        const live = await sendLive(s, c, index);
        expect(live.length).toBe(verdict.calls.length);
        verdict.calls.forEach((call, i) => {
          agree(`${c.name}, call ${i + 1}`, call.observed, live[i] as Live);
        });
      }, 60_000);
    });
  });
}

function agree(what: string, o: Observed, l: Live): void {
  expect({ what, decision: l.decision, reason: o.decision === 'deny' ? l.reason : undefined, wouldDeny: l.wouldDeny })
    .toEqual({ what, decision: o.decision, reason: o.decision === 'deny' ? o.reason : undefined, wouldDeny: o.wouldDeny });
  if (o.decision === 'deny') {
    // Refused by toolgate: the backend never saw it, and the reply (when it carries a code) names the same reason.
    expect(l.reachedBackend, `${what}: a denied call reached the backend`).toBe(0);
    if (l.replyCode !== undefined) expect(l.replyCode).toBe(o.reason);
    expect(l.reply.headers.get('x-toolgate-decision-id') !== null || l.reply.status >= 400, `${what}: toolgate's refusal`).toBe(true);
  } else {
    // Allowed, or forwarded in dry-run: it ran on the backend, and the client got the backend's own answer.
    expect(l.reachedBackend, `${what}: an allowed call did not reach the backend`).toBe(1);
    expect(l.replyCode, `${what}: the client saw a denial`).toBeUndefined();
    if (!l.stateless) expect(l.reply.status).toBe(200);
    if (!l.stateless) expect((l.reply.messages[0] as { result?: unknown } | undefined)?.result, `${what}: no result`).toBeDefined();
  }
}

/** Sends a case's calls as a client would: its token (minted by the stack's IdP), after an initialize, its headers. */
async function sendLive(s: Stack, c: TestCase, index: number): Promise<Live[]> {
  // A subject of its own per case and run, so quota and budget counters of one case never meet another's.
  const subject = `${String(c.claims?.sub ?? 'anonymous')}-case${index}-${randomUUID().slice(0, 8)}`;
  let token: string | null = null;
  if (c.token !== undefined) token = c.token;
  else if (c.claims) {
    const { aud, iss, sub: _sub, ...claims } = c.claims as Record<string, unknown>;
    token = await s.idp.mint(claims, { subject, ...(aud === undefined ? {} : { audience: aud as string }), ...(iss === undefined ? {} : { issuer: iss as string }) });
  }
  const send = rawSender(s.endpoint, '', { 'mcp-protocol-version': PROTOCOL });
  const stateless = c.headers['mcp-protocol-version'] === '2026-07-28';
  // A session when the token can open one; a case whose token the gate refuses is sent as it is, without one.
  const session = stateless || token === null ? undefined : await initialize(send, token);
  const results: Live[] = [];
  for (const step of stepsOf(c)) {
    for (let i = 0; i < step.times; i += 1) {
      const request = step.request ?? c.request;
      const headers = { ...c.headers, ...step.headers };
      const method = request?.method ?? headers['mcp-method'];
      if (request === undefined) await bodylessIsRefusedByEnvoy(s, send, token, headers);
      // A headers-only case stands for a 2026 call on the fast-path route, where Envoy hands toolgate the headers
      // only; a real client still sends the body, which Envoy checks against Mcp-Method/Mcp-Name. Send that body.
      const rpc = request ?? { method: String(method), params: { name: headers['mcp-name'], arguments: {}, _meta: { [CLIENT_CAPABILITIES_META_KEY]: {} } } };
      const body = JSON.stringify({ jsonrpc: '2.0', id: results.length + 1, ...rpc });
      const seenBefore = s.backend.requests.length;
      const auditedBefore = s.toolgate.decisions().length;
      const reply = await send('POST', body, { token, ...(session ? { session } : {}), headers });
      // An identity refusal is audited before the body is read: no method and no subject, so those match too.
      const ours = () => s.toolgate.decisions().slice(auditedBefore).filter((d) => (d.method === method || d.method === undefined) && (d.subject === subject || d.subject === undefined));
      await eventually(() => ours().length >= 1, `the audit record of ${method}`);
      const [record] = ours();
      const dryRun = record?.dryRun as { reason?: string } | undefined;
      // The backend answers before the test reads its record; a forwarded SSE reply has ended by now.
      const reached = s.backend.requests.slice(seenBefore).filter((r) => r.rpcMethod === method).length;
      results.push({
        decision: record?.decision as 'allow' | 'deny',
        reason: String(record?.reason),
        wouldDeny: dryRun?.reason,
        replyCode: replyCode(reply),
        reachedBackend: reached,
        reply,
        stateless,
      });
    }
  }
  return results;
}

/**
 * The case as literally written (no body at all) is not something the real gate judges: Envoy's MCP filter refuses a
 * bodyless 2026 POST with 400 before ext_authz, so toolgate audits nothing and the backend sees nothing. `toolgate
 * test` says allow for it, because it judges what Check receives on the fast path (headers only), not the POST.
 */
async function bodylessIsRefusedByEnvoy(s: Stack, send: ReturnType<typeof rawSender>, token: string | null, headers: Record<string, string>): Promise<void> {
  const [seen, audited] = [s.backend.requests.length, s.toolgate.decisions().length];
  const reply = await send('POST', undefined, { token, headers });
  expect(reply.status).toBe(400);
  expect(reply.headers.get('x-toolgate-decision-id')).toBeNull();
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(s.toolgate.decisions().length).toBe(audited);
  expect(s.backend.requests.length).toBe(seen);
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

agreeOn('sidecar.test.yaml');
agreeOn('dry-run.test.yaml');
