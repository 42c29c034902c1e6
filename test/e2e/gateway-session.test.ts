// Acceptance, gateway mode: the client-facing session token through real Envoy. Tampered, expired and foreign
// tokens get HTTP 404 (the client re-initializes); session keys rotate by hot reload without ending sessions
// early; and how big a token gets.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/core/session/keys.js';
import { inspectSession, sealSession } from '../../src/core/session/token.js';
import { NO_CAPABILITIES, type BackendEntry, type BackendSessionId, type ClientSessionToken } from '../../src/core/session/types.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { bearer, connectAs, post, type RawAnswer } from './helpers/client.js';
import { eventually } from '../harness/eventually.js';
import { newSessionKey, startGatewayStack, SUPPORT_CLAIMS, tokenHeader, whoami, type GatewayStack } from './helpers/gateway-stack.js';

printLogsOnFailure();

const k1 = newSessionKey('k1');
const k2 = newSessionKey('k2');
const SESSION_GONE = {
  jsonrpc: '2.0',
  id: null,
  error: { code: -32081, message: 'Session not found or expired. Start a new session with initialize.', data: { code: 'session-not-found' } },
};

let stack: GatewayStack;
let jwt: string;
beforeAll(async () => {
  stack = await startGatewayStack({ keys: [k1] });
  jwt = await stack.idp.mint(SUPPORT_CLAIMS);
});
afterAll(async () => {
  await stack?.stop();
});

/** A raw tools/call with a session token, as any client would send it after initialize. */
function callWith(token: string, bearerJwt = jwt): Promise<RawAnswer> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'billing.whoami', arguments: {} } });
  return post(stack.endpoint, body, { ...bearer(bearerJwt), 'mcp-session-id': token, 'mcp-protocol-version': '2025-11-25' });
}

/** A fresh session's token (initialize through the MCP SDK client, then the client is closed without DELETE). */
async function newToken(bearerJwt = jwt): Promise<string> {
  const agent = await connectAs(stack.endpoint, bearerJwt);
  const token = agent.transport.sessionId;
  await agent.close();
  if (!token) throw new Error('initialize returned no Mcp-Session-Id');
  return token;
}

/** toolgate logs why it refused a token (the client only ever sees 404); its log is written asynchronously. */
async function expectRejection(reason: string, count = 1): Promise<void> {
  const logged = () => stack.toolgate.records().filter((r) => r.event === 'session.rejected' && r.reason === reason).length;
  await eventually(() => logged() >= count, `session.rejected ${reason} logged`, 5_000, 50);
  expect(logged()).toBe(count);
}

describe('a token toolgate will not open → HTTP 404 and a JSON-RPC error that says to re-initialize', () => {
  let token: string;
  beforeAll(async () => {
    token = await newToken();
  });

  it('works as issued (the control case)', async () => {
    // Two backends (billing, inventory), subject "user-1", capabilities set: the real token's size.
    process.stdout.write(`e2e session token: ${token.length} bytes\n`);
    expect(token.length).toBeLessThan(1024);
    const res = await callWith(token);
    expect(res.status).toBe(200);
    expect(res.text).toContain('"replica"');
  });

  it('refuses a tampered token', async () => {
    const parts = token.split('.');
    const ciphertext = parts[3] as string;
    const at = Math.floor(ciphertext.length / 2);
    parts[3] = `${ciphertext.slice(0, at)}${ciphertext[at] === 'A' ? 'B' : 'A'}${ciphertext.slice(at + 1)}`;
    const before = stack.replicas.b1.requests.length + stack.replicas.b2.requests.length;
    const res = await callWith(parts.join('.'));
    expect(res.status).toBe(404);
    expect(res.json).toEqual(SESSION_GONE);
    expect(stack.replicas.b1.requests.length + stack.replicas.b2.requests.length).toBe(before);
    await expectRejection('tampered');
  });

  it('refuses the token presented with another subject\'s valid JWT', async () => {
    const mallory = await stack.idp.mint(SUPPORT_CLAIMS, { subject: `mallory-${randomUUID()}` });
    const res = await callWith(token, mallory);
    expect(res.status).toBe(404);
    expect(res.json).toEqual(SESSION_GONE);
    await expectRejection('wrong-subject');
    // Mallory's own sessions work: the 404 is about the token, not her identity.
    expect((await callWith(await newToken(mallory), mallory)).status).toBe(200);
  });

  it('refuses an expired token (session.ttl 2s, set by hot reload)', async () => {
    await stack.toolgate.reload(stack.configText({ ttl: '2s' }));
    try {
      const short = await newToken();
      const opened = inspectSession(createKeyring({ current: k1 }), short as ClientSessionToken);
      expect(opened.ok && opened.session.expiresAt - opened.session.issuedAt).toBe(2);
      await eventually(async () => (await callWith(short)).status === 404, 'the 2 s token expired', 15_000, 250);
      expect((await callWith(short)).json).toEqual(SESSION_GONE);
      await eventually(() => stack.toolgate.records().some((r) => r.event === 'session.rejected' && r.reason === 'expired'), 'expired logged', 5_000, 50);
    } finally {
      await stack.toolgate.reload(stack.configText({ ttl: '1h' }));
    }
  });
});

describe('session key rotation by hot reload', () => {
  it('keeps old tokens working while the old key is listed, seals new ones with the new key, and drops them after', async () => {
    const old = await connectAs(stack.endpoint, jwt);
    try {
      const oldToken = old.transport.sessionId as string;
      expect(tokenHeader(oldToken).kid).toBe('k1');
      const before = await whoami(old, 'billing.whoami');

      // Step 1: k2 seals, k1 still opens.
      await stack.toolgate.reload(stack.configText({ keys: [k2, k1] }));
      const during = await whoami(old, 'billing.whoami');
      expect(during).toEqual(before);
      expect(old.transport.sessionId).toBe(oldToken);
      const rotated = await connectAs(stack.endpoint, jwt);
      const newToken = rotated.transport.sessionId as string;
      expect(tokenHeader(newToken).kid).toBe('k2');

      // Step 2: k1 is gone; its tokens get 404, k2's keep working.
      await stack.toolgate.reload(stack.configText({ keys: [k2] }));
      const res = await callWith(oldToken);
      expect(res.status).toBe(404);
      expect(res.json).toEqual(SESSION_GONE);
      await expectRejection('unknown-key');
      expect((await whoami(rotated, 'inventory.whoami')).replica).toMatch(/^i[12]$/);
      await rotated.close();
    } finally {
      await old.close();
    }
  });
});

describe('token size', () => {
  it('stays well under 1 KB for five backends (measured with sealSession: UUID subject and session ids)', async () => {
    const sizes = new Map<number, number>();
    for (const count of [1, 2, 5]) {
      const backends = new Map<string, BackendEntry>();
      for (const name of ['billing', 'inventory', 'shipping', 'catalogue', 'customers'].slice(0, count)) {
        backends.set(name, { sessionId: randomUUID() as BackendSessionId, protocolVersion: '2025-11-25', capabilities: NO_CAPABILITIES });
      }
      const token = await sealSession(createKeyring({ current: k1 }), { subject: randomUUID(), backends }, { ttlSeconds: 86_400 });
      sizes.set(count, token.length);
    }
    // docs/gateway.md quotes these; the e2e token for this stack's two backends is the same size as the 2-backend row
    // (the harness subject "user-1" is shorter than a UUID, capabilities add a few bytes).
    process.stdout.write(`session token bytes by backend count: ${JSON.stringify(Object.fromEntries(sizes))}\n`);
    expect(sizes.get(5)).toBeLessThan(1024);
  });
});
