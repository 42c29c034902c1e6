import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { authorize, type AuthzInput } from '../../src/pipeline/authz/authorize.js';
import { IDP_RETRY_AFTER_SECONDS, unauthenticatedReply } from '../../src/pipeline/authz/http-reply.js';
import { loadConfigFile, type Runtime } from '../../src/app/runtime/load.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { depsOf } from '../harness/deps.js';
import { sealSession } from '../../src/core/session/token.js';
import { NO_CAPABILITIES, toBackendSessionId } from '../../src/core/session/types.js';
import { SOLE_BACKEND } from '../../src/pipeline/session/sidecar-swap.js';

const ISSUER = 'https://auth.test';
const RESOURCE = 'https://mcp.test/mcp';
let runtime: Runtime;
let sign: (claims: Record<string, unknown>) => Promise<string>;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-authz-'));
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] }));
  sign = (claims) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER).setAudience(RESOURCE)
      .setSubject('agent-7').setIssuedAt().setExpirationTime('5m').sign(privateKey);
  writeFileSync(path.join(dir, 'c.yaml'), `resource: ${RESOURCE}
identity:
  jwt: { issuer: ${ISSUER}, jwksFile: jwks.json }
tasks:
  refunds:
    tools:
      - tool: lookup_charge
      - tool: refund
        when: mcp.arguments.amount <= jwt.refund_limit
        message: "Refunds above {{jwt.refund_limit}} need a human. Do not retry."
`);
  runtime = loadConfigFile(path.join(dir, 'c.yaml'));
});

const toolCall = (name: string, args: Record<string, unknown>, id = 9) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

const JSON_TYPE = { 'content-type': 'application/json' };
/** One store for the file, as the calls below count quotas across each other. */
const deps = depsOf(createMemoryStore());

/** A POST as ext_authz hands it over: the body as bytes, sent as application/json. */
async function run(body: string | undefined, token: string | undefined, extra: Partial<AuthzInput> = {}) {
  const headers: Record<string, string> = { ...JSON_TYPE, 'x-toolgate-backend': 'forged', ...(token ? { authorization: `Bearer ${token}` } : {}) };
  return authorize(runtime, { method: 'POST', path: '/mcp', headers, body: body === undefined ? undefined : Buffer.from(body), ...extra }, deps);
}

describe('authorize', () => {
  it('serves the protected-resource metadata without a token', async () => {
    const out = await authorize(runtime, { method: 'GET', path: '/.well-known/oauth-protected-resource/mcp', headers: {}, body: undefined }, deps);
    expect(out.kind).toBe('reply');
    if (out.kind !== 'reply') return;
    expect(out.reply.status).toBe(200);
    expect(JSON.parse(out.reply.body)).toMatchObject({ resource: RESOURCE, authorization_servers: [ISSUER] });
  });

  it('answers 401 with a resource_metadata challenge when the token is missing', async () => {
    const out = await run(toolCall('lookup_charge', {}), undefined);
    expect(out).toMatchObject({ kind: 'reply', reply: { status: 401 } });
    if (out.kind === 'reply') {
      expect(out.reply.headers['www-authenticate']).toBe('Bearer resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp"');
    }
  });

  it('allows a permitted call, strips internal headers and the client token', async () => {
    const out = await run(toolCall('refund', { amount: 10 }), await sign({ authorized_tasks: ['refunds'], refund_limit: 50 }));
    expect(out).toMatchObject({ kind: 'allow', subject: 'agent-7', task: 'refunds' });
    if (out.kind === 'allow') expect([...out.removeHeaders].sort()).toEqual(['authorization', 'x-toolgate-backend']);
    if (out.kind === 'allow') expect(out.overwriteResponseHeaders).toEqual({});
  });

  it('echoes a presented session token so Envoy writes it back over a backend session id on the response', async () => {
    // A sidecar tools/call: ext_authz opens the token itself and hands the backend its own session id.
    const token = await sealSession(runtime.sessions.keyring, {
      subject: 'agent-7',
      backends: new Map([[SOLE_BACKEND, { sessionId: toBackendSessionId('backend-sid'), protocolVersion: '2025-11-25', capabilities: NO_CAPABILITIES }]]),
    }, { ttlSeconds: 600 });
    const out = await run(toolCall('lookup_charge', {}), await sign({ authorized_tasks: ['refunds'] }), {
      headers: { ...JSON_TYPE, authorization: `Bearer ${await sign({ authorized_tasks: ['refunds'] })}`, 'mcp-session-id': token },
    });
    expect(out).toMatchObject({ kind: 'allow', finished: true, overwriteResponseHeaders: { 'mcp-session-id': token }, overwriteRequestHeaders: { 'mcp-session-id': 'backend-sid' } });
  });

  it('denies a transaction over the limit as a tool result that echoes the id', async () => {
    const out = await run(toolCall('refund', { amount: 500 }, 41), await sign({ authorized_tasks: ['refunds'], refund_limit: 50 }));
    expect(out.kind).toBe('reply');
    if (out.kind !== 'reply') return;
    expect(out.reply.status).toBe(200);
    const body = JSON.parse(out.reply.body);
    expect(body.id).toBe(41);
    expect(body.result.isError).toBe(true);
    expect(body.result.content[0].text).toContain('Refunds above 50 need a human');
    expect(body.result.structuredContent).toMatchObject({ code: 'condition-failed' });
    expect(out.audit).toMatchObject({ decision: 'deny', reason: 'condition-failed', subject: 'agent-7' });
  });

  it('keeps the denial code out of structuredContent for a tool that declares an outputSchema', async () => {
    runtime.catalog.note([{ name: 'refund', outputSchema: { type: 'object', properties: { refunded: { type: 'number' } } } }]);
    try {
      const out = await run(toolCall('refund', { amount: 500 }), await sign({ authorized_tasks: ['refunds'], refund_limit: 50 }));
      if (out.kind !== 'reply') throw new Error('expected a reply');
      const result = JSON.parse(out.reply.body).result;
      expect(result.structuredContent).toBeUndefined();
      expect(result._meta['io.toolgate/denial']).toMatchObject({ code: 'condition-failed' });
      expect(result.isError).toBe(true);
    } finally {
      runtime.catalog.note([{ name: 'refund' }]);
    }
  });

  it('does not echo the presented session token on initialize: the new session\'s token must reach the client', async () => {
    const token = await sign({ authorized_tasks: ['refunds'] });
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'c', version: '1' } } });
    const out = await run(body, token, { headers: { ...JSON_TYPE, authorization: `Bearer ${token}`, 'mcp-session-id': 'old-token' } });
    expect(out).toMatchObject({ kind: 'allow', method: 'initialize', overwriteResponseHeaders: {} });
  });

  it.each<[string, string, string]>([
    ['two Authorization headers (as Envoy joins them)', 'Bearer a.b.c,Bearer a.b.c', 'more than one credential'],
    ['a Basic credential', 'Basic dXNlcjpwYXNz', 'not a Bearer credential'],
    ['Bearer without a token', 'Bearer', 'Bearer without a token'],
  ])('answers %s with 400 invalid_request and a sentence, not "authentication required"', async (_n, authorization, detail) => {
    const out = await run(toolCall('lookup_charge', {}), undefined, { headers: { authorization } });
    if (out.kind !== 'reply') throw new Error('expected a reply');
    expect(out.reply.status).toBe(400);
    expect(out.reply.headers['www-authenticate']).toBe(`Bearer resource_metadata="https://mcp.test/.well-known/oauth-protected-resource/mcp", error="invalid_request", error_description="${detail}"`);
    const body = JSON.parse(out.reply.body);
    expect(body.error.code).toBe(-32600);
    expect(body.error.message).not.toMatch(/Authentication required/);
    expect(out.audit).toMatchObject({ decision: 'deny', reason: 'authorization-malformed', detail });
  });

  it.each([
    ['malformed JSON', '{', 400, -32700],
    ['a batch', `[${toolCall('lookup_charge', {})}]`, 400, -32600],
  ])('answers %s with a JSON-RPC error', async (_n, body, status, code) => {
    const out = await run(body, await sign({ authorized_tasks: ['refunds'] }));
    expect(out).toMatchObject({ kind: 'reply', reply: { status } });
    if (out.kind === 'reply') expect(JSON.parse(out.reply.body).error.code).toBe(code);
  });
});

describe('unauthenticatedReply: an identity provider out of reach', () => {
  it('is a 503 with Retry-After and a sentence that puts no blame on the token', () => {
    const reply = unauthenticatedReply(runtime.metadata, { ok: false, reason: 'identity-unavailable', detail: 'key set fetch timed out' });
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe(String(IDP_RETRY_AFTER_SECONDS));
    expect(reply.headers['www-authenticate']).toBeUndefined();
    expect(JSON.parse(reply.body)).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32603,
        message: `The identity provider could not be reached (key set fetch timed out), so the bearer token could not be checked and the request was not forwarded. This is not a problem with your token: retry in ${IDP_RETRY_AFTER_SECONDS} seconds.`,
        data: { code: 'identity-unavailable' },
      },
    });
  });
});
