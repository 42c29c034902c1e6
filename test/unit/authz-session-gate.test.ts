// authorize() on a sidecar config: the calls ext_authz finishes itself (the session swap, so Envoy skips ext_proc),
// the ones it leaves to ext_proc, and a refused token answered exactly as ext_proc answers it, before anything is charged.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile, type Runtime } from '../../src/app/runtime/load.js';
import { inspectSession, sealSession } from '../../src/core/session/token.js';
import { asClientSessionToken, NO_CAPABILITIES, toBackendSessionId } from '../../src/core/session/types.js';
import { authorize, type AuthzInput } from '../../src/pipeline/authz/authorize.js';
import type { AllowOutcome, ReplyOutcome } from '../../src/pipeline/authz/outcome.js';
import { presentedSession } from '../../src/pipeline/extproc/client-session.js';
import { SOLE_BACKEND } from '../../src/pipeline/session/sidecar-swap.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { depsOf } from '../harness/deps.js';

const ISSUER = 'https://auth.test';
const RESOURCE = 'https://mcp.test/mcp';
let runtime: Runtime;
let sign: (subject?: string) => Promise<string>;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-session-gate-'));
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] }));
  sign = (subject = 'agent-7') =>
    new SignJWT({ authorized_tasks: ['work'] }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(RESOURCE)
      .setSubject(subject).setIssuedAt().setExpirationTime('5m').sign(privateKey);
  writeFileSync(path.join(dir, 'c.yaml'), `resource: ${RESOURCE}
identity:
  jwt: { issuer: ${ISSUER}, jwksFile: jwks.json }
tasks:
  work:
    tools:
      - tool: echo
      - tool: metered
        quota: { calls: 1, per: 1h }
`);
  runtime = loadConfigFile(path.join(dir, 'c.yaml'));
});

const rpc = (method: string, params: Record<string, unknown> = {}, id: number | undefined = 1) =>
  JSON.stringify({ jsonrpc: '2.0', ...(id === undefined ? {} : { id }), method, params });
const call = (tool: string) => rpc('tools/call', { name: tool, arguments: {} });

/** A token as the sidecar's initialize would have sealed it, for `subject`, naming the backend's session `sid`. */
function tokenFor(subject: string, sid: string | undefined, issued?: Date): Promise<string> {
  const entry = { ...(sid === undefined ? {} : { sessionId: toBackendSessionId(sid) }), protocolVersion: '2025-11-25', capabilities: NO_CAPABILITIES };
  return sealSession(runtime.sessions.keyring, { subject, backends: new Map([[SOLE_BACKEND, entry]]) }, { ttlSeconds: 600, ...(issued ? { now: issued } : {}) });
}

function input(httpMethod: string, body: string | undefined, jwt: string, session?: string): AuthzInput {
  return {
    method: httpMethod,
    path: '/mcp',
    headers: {
      authorization: `Bearer ${jwt}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(session === undefined ? {} : { 'mcp-session-id': session }),
    },
    body: body === undefined ? undefined : Buffer.from(body),
  };
}

function allowed(out: Awaited<ReturnType<typeof authorize>>): AllowOutcome {
  if (out.kind !== 'allow') throw new Error(`expected an allow, got ${out.reply.status} ${out.reply.body}`);
  return out;
}

function refused(out: Awaited<ReturnType<typeof authorize>>): ReplyOutcome {
  if (out.kind !== 'reply') throw new Error('expected a refusal, got an allow');
  return out;
}

describe('the sidecar calls ext_authz finishes itself', () => {
  it.each([
    ['a tools/call', 'POST', call('echo')],
    ['a notification', 'POST', rpc('notifications/initialized', {}, undefined)],
    ['a ping', 'POST', rpc('ping')],
    ['a response to a server request', 'POST', JSON.stringify({ jsonrpc: '2.0', id: 'srv-1', result: {} })],
  ])('%s: the backend gets its own session id, the client its token back, and the exchange is marked finished', async (_name, httpMethod, body) => {
    const token = await tokenFor('agent-7', 'backend-sid-1');
    const out = allowed(await authorize(runtime, input(httpMethod, body, await sign(), token), depsOf(createMemoryStore())));
    expect(out.finished).toBe(true);
    expect(out.overwriteRequestHeaders).toMatchObject({ 'mcp-session-id': 'backend-sid-1' });
    expect(out.removeHeaders).not.toContain('mcp-session-id');
    expect(out.overwriteResponseHeaders).toEqual({ 'mcp-session-id': token });
  });

  it('a token without a backend session id (a stateless backend): the header is removed, never passed on', async () => {
    const token = await tokenFor('agent-7', undefined);
    const out = allowed(await authorize(runtime, input('POST', call('echo'), await sign(), token), depsOf(createMemoryStore())));
    expect(out.finished).toBe(true);
    expect(out.removeHeaders).toContain('mcp-session-id');
    expect(out.overwriteRequestHeaders['mcp-session-id']).toBeUndefined();
  });

  it('no token presented: nothing to swap, still finished', async () => {
    const out = allowed(await authorize(runtime, input('POST', call('echo'), await sign()), depsOf(createMemoryStore())));
    expect(out.finished).toBe(true);
    expect(out.overwriteRequestHeaders['mcp-session-id']).toBeUndefined();
    expect(out.removeHeaders).not.toContain('mcp-session-id');
  });

  it.each([
    ['initialize (ext_proc mints the token)', 'POST', rpc('initialize', { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } })],
    ['tools/list (ext_proc filters it)', 'POST', rpc('tools/list')],
    ['resources/templates/list', 'POST', rpc('resources/templates/list')],
    ['DELETE (ext_proc revokes the session)', 'DELETE', undefined],
    ['the GET event stream', 'GET', undefined],
  ])('leaves %s to ext_proc: no swap, not finished, the token is not opened here', async (_name, httpMethod, body) => {
    // Not even a token: ext_authz must not judge it where ext_proc will.
    const out = allowed(await authorize(runtime, input(httpMethod, body, await sign(), 'not-a-token'), depsOf(createMemoryStore())));
    expect(out.finished).toBe(false);
    expect(out.overwriteRequestHeaders['mcp-session-id']).toBeUndefined();
    expect(out.removeHeaders).not.toContain('mcp-session-id');
  });

  it('a call the policy denies keeps its denial: the token is not opened', async () => {
    const out = refused(await authorize(runtime, input('POST', call('delete_everything'), await sign(), 'not-a-token'), depsOf(createMemoryStore())));
    expect(out.audit).toMatchObject({ decision: 'deny', reason: 'tool-not-in-task' });
  });
});

describe('a token ext_authz will not open', () => {
  it.each<[string, () => Promise<string>, string]>([
    ['malformed', async () => 'not-a-token', 'session token malformed'],
    ['tampered', async () => {
      const parts = (await tokenFor('agent-7', 'sid')).split('.');
      const c = parts[3] as string;
      parts[3] = `${c.slice(0, 5)}${c[5] === 'A' ? 'B' : 'A'}${c.slice(6)}`;
      return parts.join('.');
    }, 'session token tampered'],
    ['another subject\'s', () => tokenFor('someone-else', 'sid'), 'session token wrong-subject'],
    ['expired', () => tokenFor('agent-7', 'sid', new Date(Date.now() - 601_000)), 'session token expired'],
  ])('%s: the reply ext_proc gives (404, same body), audited as a deny', async (_name, make, detail) => {
    const token = await make();
    const deps = depsOf(createMemoryStore());
    const out = refused(await authorize(runtime, input('POST', call('echo'), await sign(), token), deps));
    // ext_proc's answer to the same token, as it still gives it for the exchanges it opens tokens in.
    const viaExtProc = await presentedSession(runtime, deps, { 'mcp-session-id': token }, { subject: 'agent-7', task: 'work', decisionId: 'd', method: 'tools/list', target: undefined, tasks: ['work'] }, pino({ level: 'silent' }));
    if (viaExtProc.kind !== 'refused' || viaExtProc.step.kind !== 'immediate') throw new Error('ext_proc did not refuse the token');
    expect(out.reply).toEqual({ status: viaExtProc.step.status, headers: viaExtProc.step.headers, body: viaExtProc.step.body });
    expect(out.reply.status).toBe(404);
    expect(JSON.parse(out.reply.body)).toMatchObject({ id: null, error: { code: -32081, data: { code: 'session-not-found' } } });
    expect(out.audit).toMatchObject({ decision: 'deny', reason: 'session-not-found', detail, method: 'tools/call', tool: 'echo', task: 'work' });
    expect(out.sessionNote).toMatchObject({ level: 'info' });
  });

  it('revoked: 404, and the log line ext_proc writes for it', async () => {
    const store = createMemoryStore();
    const token = await tokenFor('agent-7', 'sid');
    const opened = inspectSession(runtime.sessions.keyring, asClientSessionToken(token));
    if (!opened.ok) throw new Error('the token does not open');
    await store.revoke(opened.session.tokenId, opened.session.expiresAt);
    const out = refused(await authorize(runtime, input('POST', call('echo'), await sign(), token), depsOf(store)));
    expect(out.reply.status).toBe(404);
    expect(out.audit).toMatchObject({ reason: 'session-not-found', detail: 'session token revoked' });
    expect(out.sessionNote?.fields).toMatchObject({ event: 'session.revoked-used', tokenId: opened.session.tokenId });
  });

  it('is refused before anything is charged: the one allowed call of a quota is still there afterwards', async () => {
    const store = createMemoryStore();
    const deps = depsOf(store);
    const jwt = await sign('quota-subject');
    const refusedCall = refused(await authorize(runtime, input('POST', call('metered'), jwt, await tokenFor('someone-else', 'sid')), deps));
    expect(refusedCall.reply.status).toBe(404);
    const first = allowed(await authorize(runtime, input('POST', call('metered'), jwt, await tokenFor('quota-subject', 'sid')), deps));
    expect(first.charged).toBeDefined();
    const second = refused(await authorize(runtime, input('POST', call('metered'), jwt, await tokenFor('quota-subject', 'sid')), deps));
    expect(second.audit).toMatchObject({ reason: 'quota-exceeded' });
  });
});
