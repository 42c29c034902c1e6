import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Served } from '../../src/app/server/serve.js';
import { createKeyring } from '../../src/core/session/keys.js';
import type { HandoffValue } from '../../src/core/session/handoff.js';
import { body, checkedHeaders, extProcClient, headers, setHeaders, type Msg } from './extproc-client.js';
import { checkClient } from '../harness/check-client.js';

let served: Served;
let client: ReturnType<typeof extProcClient>;
/** A bearer token for agent-7 that the served config's verifier accepts (for Checks). */
let sign: () => Promise<string>;
const SUBJECT = { subject: 'agent-7', decision_id: 'd1' };
const SECRET = `${'s'.repeat(8)}-contract-test-secret-0123456789`;
// The replica's own keyring: what its Check would sign the handoff with.
const keyring = createKeyring({ current: { kid: 'k1', secret: SECRET } });
const checked = (record: Record<string, string>, authz: Record<string, HandoffValue | undefined>) => checkedHeaders(keyring, record, authz);

beforeAll(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'toolgate-extproc-'));
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] }));
  sign = () => new SignJWT({ authorized_tasks: ['refunds'] }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer('https://auth.test')
    .setAudience('https://mcp.test/mcp').setSubject('agent-7').setIssuedAt().setExpirationTime('5m').sign(privateKey);
  writeFileSync(path.join(dir, 'admin-token'), `${randomBytes(32).toString('base64url')}\n`);
  writeFileSync(path.join(dir, 'c.yaml'), `resource: https://mcp.test/mcp
server: { adminTokenFile: admin-token }
identity: { jwt: { issuer: https://auth.test, jwksFile: jwks.json } }
session: { ttl: 1h, keys: [{ kid: k1, secret: ${SECRET} }] }
tasks:
  refunds:
    tools: [{ tool: lookup_charge }, { tool: refund }]
    resources: ['docs://*']
`);
  served = await serve({ configFile: path.join(dir, 'c.yaml'), host: '127.0.0.1', grpcPort: 0, adminPort: 0, watch: false }, pino({ level: 'silent' }));
  client = extProcClient(served.grpcPort);
});

afterAll(async () => {
  client?.close();
  await served?.stop();
});

async function initializeSession(backendSid: string): Promise<string> {
  const s = client.open();
  const h = await s.send(checked({ ':method': 'POST', ':path': '/mcp' }, { ...SUBJECT, method: 'initialize' }));
  expect(h.mode_override?.response_header_mode).toBe('SEND');
  const r = await s.send(headers({ ':status': '200', 'mcp-session-id': backendSid }, undefined, 'response_headers'));
  // Nothing follows the response headers of an initialize: toolgate ends the stream without waiting for Envoy.
  expect((await s.closed).code).toBe(grpc.status.OK);
  return setHeaders(r, 'response_headers')['mcp-session-id'] as string;
}

async function presentToken(token: string, subject = 'agent-7'): Promise<Msg> {
  const s = client.open();
  const r = await s.send(checked({ ':method': 'POST', ':path': '/mcp', 'mcp-session-id': token }, { subject, method: 'tools/call', target: 'refund' }));
  s.end();
  return r;
}

describe('ext_proc sidecar exchange (simulated Envoy)', () => {
  it('wraps the backend session id in a sealed token and unwraps it on later requests', async () => {
    const token = await initializeSession('backend-session-1');
    expect(token).toBeDefined();
    expect(token).not.toContain('backend-session-1');
    const r = await presentToken(token);
    expect(setHeaders(r, 'request_headers')['mcp-session-id']).toBe('backend-session-1');
    // Neither the body nor the response is needed: ext_authz writes the client's token back over the backend's id.
    expect(r.mode_override).toMatchObject({ response_header_mode: 'SKIP', request_body_mode: 'NONE' });
  });

  it('gives the client its token back where the backend repeats its own session id on a watched response', async () => {
    const token = await initializeSession('backend-session-3');
    const s = client.open();
    await s.send(checked({ ':method': 'POST', ':path': '/mcp', 'mcp-session-id': token }, { ...SUBJECT, method: 'tools/list', tasks: ['refunds'] }));
    const r = await s.send(headers({ ':status': '200', 'content-type': 'text/event-stream', 'mcp-session-id': 'backend-session-3' }, undefined, 'response_headers'));
    s.end();
    expect(setHeaders(r, 'response_headers')['mcp-session-id']).toBe(token);
  });

  it('ends a stream itself once it has answered the last message Envoy will send', async () => {
    const token = await initializeSession('backend-session-5');
    // A tool call skips every later phase: the request headers answer is the last, and toolgate ends there.
    const call = client.open();
    await call.send(checked({ ':method': 'POST', ':path': '/mcp', 'mcp-session-id': token }, { ...SUBJECT, method: 'tools/call', target: 'refund' }));
    expect((await call.closed).code).toBe(grpc.status.OK);
    // A list is watched to its buffered body: the stream stays open for both response phases, then ends.
    const list = client.open();
    await list.send(checked({ ':method': 'POST', ':path': '/mcp', 'mcp-session-id': token }, { ...SUBJECT, method: 'tools/list', tasks: ['refunds'] }));
    const rh = await list.send(headers({ ':status': '200', 'content-type': 'application/json' }, undefined, 'response_headers'));
    expect(rh.mode_override?.response_body_mode).toBe('BUFFERED');
    const rb = await list.send(body(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [] } }), 'response_body'));
    expect(rb.response_body).toBeDefined();
    expect((await list.closed).code).toBe(grpc.status.OK);
  });

  it('drops a backend session id from a response to a request that presented no token', async () => {
    const s = client.open();
    const h = await s.send(checked({ ':method': 'POST', ':path': '/mcp' }, { ...SUBJECT, method: 'tools/list', tasks: ['refunds'] }));
    expect(h.mode_override?.response_header_mode).toBe('SEND');
    const r = await s.send(headers({ ':status': '200', 'content-type': 'application/json', 'mcp-session-id': 'backend-session-4' }, undefined, 'response_headers'));
    s.end();
    expect(r.response_headers.response.header_mutation.remove_headers).toEqual(['mcp-session-id']);
    expect(setHeaders(r, 'response_headers')['mcp-session-id']).toBeUndefined();
  });

  it.each([
    ['another subject', async (t: string) => presentToken(t, 'agent-8')],
    ['a tampered token', async (t: string) => presentToken(`${t.slice(0, -3)}${t.endsWith('A') ? 'B' : 'A'}xx`)],
    ['garbage', async () => presentToken('not-a-token')],
  ])('answers 404 for %s', async (_n, present) => {
    const token = await initializeSession('backend-session-2');
    const r = await present(token);
    expect(r.immediate_response?.status).toEqual({ code: 'NotFound' });
    expect(JSON.parse(Buffer.from(r.immediate_response.body).toString()).error.message).toMatch(/initialize/);
  });

  it('filters tools/list by the caller tasks, for JSON and SSE bodies', async () => {
    const list = { jsonrpc: '2.0', id: 3, result: { tools: [{ name: 'lookup_charge' }, { name: 'refund' }, { name: 'delete_account' }] } };
    for (const [type, text] of [
      ['application/json', JSON.stringify(list)],
      ['text/event-stream', `event: message\ndata: ${JSON.stringify(list)}\n\n`],
    ] as const) {
      const s = client.open();
      await s.send(checked({ ':method': 'POST', ':path': '/mcp' }, { ...SUBJECT, method: 'tools/list', tasks: ['refunds'] }));
      const rh = await s.send(headers({ ':status': '200', 'content-type': type }, undefined, 'response_headers'));
      expect(rh.mode_override?.response_body_mode).toBe('BUFFERED');
      const rb = await s.send(body(text, 'response_body'));
      s.end();
      const out = Buffer.from(rb.response_body.response.body_mutation.body).toString();
      const json = type === 'application/json' ? JSON.parse(out) : JSON.parse(out.split('data: ')[1] as string);
      expect(json.result.tools.map((t: { name: string }) => t.name)).toEqual(['lookup_charge', 'refund']);
      expect(json.id).toBe(3);
    }
  });

  it('filters resources/templates/list by the task resource patterns', async () => {
    const list = { jsonrpc: '2.0', id: 4, result: { resourceTemplates: [{ uriTemplate: 'docs://{name}', name: 'doc' }, { uriTemplate: 'hr://people/{id}', name: 'person' }] } };
    const s = client.open();
    await s.send(checked({ ':method': 'POST', ':path': '/mcp' }, { ...SUBJECT, method: 'resources/templates/list', tasks: ['refunds'] }));
    const rh = await s.send(headers({ ':status': '200', 'content-type': 'application/json' }, undefined, 'response_headers'));
    expect(rh.mode_override?.response_body_mode).toBe('BUFFERED');
    const rb = await s.send(body(JSON.stringify(list), 'response_body'));
    s.end();
    const out = JSON.parse(Buffer.from(rb.response_body.response.body_mutation.body).toString());
    expect(out.result.resourceTemplates.map((t: { uriTemplate: string }) => t.uriTemplate)).toEqual(['docs://{name}']);
  });

  it.each([
    ['no ext_authz identity was forwarded', undefined],
    ['the forwarded identity carries no signature of this replica\'s Check', { ...SUBJECT, method: 'tools/call', target: 'refund' }],
  ])('fails closed when %s', async (_name, authz) => {
    const s = client.open();
    const r = await s.send(headers({ ':method': 'POST', ':path': '/mcp', 'x-request-id': 'r-1' }, authz));
    s.end();
    expect(r.immediate_response?.status).toEqual({ code: 'Forbidden' });
    expect(JSON.parse(Buffer.from(r.immediate_response.body).toString()).error.message).toMatch(/could not confirm that its own authorization check approved this request/);
  });
});

describe('a sidecar call ext_authz finished, reaching ext_proc anyway (an Envoy config without the matcher)', () => {
  /** Check, then ext_proc with what Envoy would forward after ext_authz's answer: its header changes and its metadata. */
  async function checkThenProcess(token: string | undefined): Promise<{ answer: Msg; closed: grpc.StatusObject; metadata: Record<string, unknown>; forwardedSession: string | undefined }> {
    const requestId = `finished-${randomBytes(6).toString('hex')}`;
    const authz = checkClient(served.grpcPort);
    const result = await authz.check({
      token: await sign(),
      headers: { 'x-request-id': requestId, ...(token === undefined ? {} : { 'mcp-session-id': token }) },
      body: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'lookup_charge', arguments: {} } },
    }).finally(() => authz.close());
    expect(result.allowed).toBe(true);
    const forwardedSession = result.headersSet['mcp-session-id'];
    const s = client.open();
    const answer = await s.send(headers({ ':method': 'POST', ':path': '/mcp', 'x-request-id': requestId, ...(forwardedSession ? { 'mcp-session-id': forwardedSession } : {}) }, result.metadata));
    return { answer, closed: await s.closed, metadata: result.metadata, forwardedSession };
  }

  it.each([
    ['with a session: the header is already the backend\'s id', true],
    ['without one', false],
  ])('passes it through unchanged and ends the stream (%s)', async (_name, withSession) => {
    const token = withSession ? await initializeSession('backend-session-finished') : undefined;
    const { answer, closed, metadata, forwardedSession } = await checkThenProcess(token);
    // Check marked the exchange finished and signed no handoff for it.
    expect(metadata).toEqual({ exchange: 'done' });
    expect(forwardedSession).toBe(withSession ? 'backend-session-finished' : undefined);
    expect(answer.immediate_response).toBeUndefined();
    expect(answer.request_headers?.response?.header_mutation ?? undefined).toBeUndefined();
    expect(answer.mode_override).toMatchObject({ response_header_mode: 'SKIP', request_body_mode: 'NONE', response_body_mode: 'NONE' });
    expect(closed.code).toBe(grpc.status.OK);
  });
});
