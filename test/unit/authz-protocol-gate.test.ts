// ext_authz's protocol gate: an unknown MCP-Protocol-Version, or a session on 2026-07-28, is a 400 before any policy.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { authorize } from '../../src/pipeline/authz/authorize.js';
import { protocolRefusal } from '../../src/pipeline/authz/protocol-gate.js';
import { loadConfigFile, type Runtime } from '../../src/app/runtime/load.js';
import { classify } from '../../src/core/mcp/message.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { depsOf } from '../harness/deps.js';

const ISSUER = 'https://auth.test';
const RESOURCE = 'https://mcp.test/mcp';
let runtime: Runtime;
let token: string;

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-gate-'));
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] }));
  writeFileSync(path.join(dir, 'c.yaml'), `resource: ${RESOURCE}
identity:
  jwt: { issuer: ${ISSUER}, jwksFile: jwks.json }
tasks:
  t:
    tools:
      - tool: lookup_charge
`);
  runtime = loadConfigFile(path.join(dir, 'c.yaml'));
  token = await new SignJWT({ authorized_tasks: ['t'] }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISSUER)
    .setAudience(RESOURCE).setSubject('agent-1').setIssuedAt().setExpirationTime('5m').sign(privateKey);
});

const call = (id = 4) => JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'lookup_charge', arguments: {} } });
const headers2026 = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'lookup_charge' };

function refusalFor(headers: Record<string, string>, body: string | undefined = call()) {
  return protocolRefusal(headers, classify({ method: 'POST', headers, body }));
}

describe('protocolRefusal', () => {
  it.each([
    ['no version header', {}],
    ['a known 2025 revision with a session', { 'mcp-protocol-version': '2025-06-18', 'mcp-session-id': 's' }],
    ['2026-07-28 without a session', headers2026],
  ])('lets %s through', (_, headers) => {
    expect(refusalFor(headers)).toBeUndefined();
  });

  it.each(['9999', '2026-07-29', '2025-06-18, 2026-07-28'])('refuses the unknown revision %j with 400, echoing the request id', (version) => {
    const refused = refusalFor({ 'mcp-protocol-version': version });
    expect(refused).toMatchObject({ reason: 'unsupported-protocol-version', reply: { status: 400, headers: { 'content-type': 'application/json' } } });
    expect(JSON.parse(refused?.reply.body ?? '{}')).toMatchObject({ jsonrpc: '2.0', id: 4, error: { code: -32600, message: expect.stringContaining('2026-07-28') } });
  });

  it('refuses a session on 2026-07-28 with a sentence naming the header', () => {
    const refused = refusalFor({ ...headers2026, 'mcp-session-id': 'abc' });
    expect(refused?.reason).toBe('session-on-stateless');
    expect(JSON.parse(refused?.reply.body ?? '{}').error.message).toMatch(/has no sessions: send the request without Mcp-Session-Id/);
  });

  it('answers a bodyless request (GET, DELETE) with id null', () => {
    const headers = { 'mcp-protocol-version': 'x' };
    const refused = protocolRefusal(headers, classify({ method: 'GET', headers, body: undefined }));
    expect(JSON.parse(refused?.reply.body ?? '{}').id).toBeNull();
  });
});

describe('authorize runs the gate on every request, before policy', () => {
  it.each([
    ['an unknown revision', { 'mcp-protocol-version': '2026-99' }, 'unsupported-protocol-version'],
    ['a session on 2026-07-28', { ...headers2026, 'mcp-session-id': 'abc' }, 'session-on-stateless'],
  ])('%s: a 400 reply with its own audit reason', async (_, headers, reason) => {
    const out = await authorize(runtime, { method: 'POST', path: '/mcp', headers: { ...headers, authorization: `Bearer ${token}` }, body: Buffer.from(call()) }, depsOf(createMemoryStore()));
    expect(out).toMatchObject({ kind: 'reply', reply: { status: 400 }, audit: { decision: 'deny', reason, subject: 'agent-1' } });
  });

  it('the same call with a known revision is allowed', async () => {
    const out = await authorize(runtime, { method: 'POST', path: '/mcp', headers: { ...headers2026, 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: Buffer.from(call()) }, depsOf(createMemoryStore()));
    expect(out.kind).toBe('allow');
  });
});
