// Security, tokens (issue 9 points 6, 7, 8): through the real pinned Envoy, in sidecar and gateway mode, against
// both instrumented backends. Bearer tokens a strict verifier must refuse, malformed Authorization headers, an
// unreachable key set, a quota an ext_proc-refused call must not consume, and a re-initialize that must hand out
// the new session token. Every refusal is checked twice: what the client sees (status + sentence) and that no
// backend executed anything (the journal).
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { MintOptions } from '../harness/jwt.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { eventually } from '../harness/eventually.js';
import { MATRIX, PROTOCOL, rpc, SECURITY_CLAIMS, securityTasks, startSecurityStack, type RawReply, type SecurityStack } from './harness.js';

printLogsOnFailure();

/** The suite's verifier settings: RFC 9068 access tokens only, at most an hour long. */
const JWT_RULES = { requireType: 'at+jwt', maxLifetime: '1h' };
/** Every call under `metered` counts against one quota of a single call per hour and subject. */
const METERED = { metered: { tools: [{ tool: '*', quota: { calls: 1, per: '1h' } }] } };
const now = () => Math.floor(Date.now() / 1000);

/** Rewrites toolgate's `identity.jwt` with these settings and waits until the new config (a new verifier) took effect. */
async function reloadJwt(s: SecurityStack, settings: Record<string, unknown>): Promise<void> {
  const config = parse(await readFile(s.toolgate.configPath, 'utf8')) as { identity: { jwt: Record<string, unknown> } };
  config.identity.jwt = { ...config.identity.jwt, ...settings };
  // The watcher debounces: only a reload logged after the rename (plus the debounce) read the new file.
  const after = Date.now() + 80;
  await s.toolgate.rewriteConfig(stringify(config));
  await eventually(() => s.toolgate.records().some((r) => r.event === 'config.reloaded' && Date.parse(String(r.time)) > after), 'toolgate reloaded its config', 10_000, 50);
}

/** A POST whose headers are sent exactly as given, repeated names included (fetch would merge them into one). */
function rawPost(url: string, headers: ReadonlyArray<readonly [string, string]>, body: string): Promise<RawReply> {
  // With headers as a raw list Node adds none of its own, Host included.
  const flat = [
    ['host', new URL(url).host], ['content-type', 'application/json'], ['accept', 'application/json, text/event-stream'],
    ['mcp-protocol-version', PROTOCOL], ['content-length', String(Buffer.byteLength(body))], ...headers,
  ].flat();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: flat }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        let messages: unknown[] = [];
        try {
          messages = [JSON.parse(text) as unknown];
        } catch {
          messages = [];
        }
        resolve({ status: res.statusCode ?? 0, headers: h, text, messages });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The JSON-RPC error message of a reply, or '' when it has none. */
function errorMessage(reply: RawReply): string {
  const first = reply.messages[0] as { error?: { message?: unknown } } | undefined;
  return typeof first?.error?.message === 'string' ? first.error.message : '';
}

describe.each(MATRIX)('tokens: $mode mode, $backend backend', ({ mode, backend }) => {
  let s: SecurityStack;
  let session: string;
  let toolsBefore = 0;
  let requestsBefore = 0;
  /** A token the suite's rules accept: typ at+jwt, 10 minutes. */
  const good = (claims: Record<string, unknown> = SECURITY_CLAIMS, opts: MintOptions = {}) => s.idp.mint(claims, { typ: 'at+jwt', ...opts });
  const call = (text: string, tool = s.tool('echo')) => rpc('tools/call', { name: tool, arguments: { text } });
  const mark = () => {
    toolsBefore = s.journal.tools().length;
    requestsBefore = s.journal.requests.length;
  };
  /** Nothing reached any backend since `mark()`: refused before routing. */
  const expectNothingForwarded = () => {
    expect(s.journal.tools().length).toBe(toolsBefore);
    expect(s.journal.requests.length).toBe(requestsBefore);
  };

  beforeAll(async () => {
    s = await startSecurityStack({ mode, backend, tasks: { ...securityTasks(mode), ...METERED } });
    await reloadJwt(s, JWT_RULES);
    session = await s.initialize(await good());
  }, 60_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('a valid access token calls the tool (the control case)', async () => {
    mark();
    const r = await s.post(call('hi'), { session, token: await good() });
    expect(r.status, r.text).toBe(200);
    expect(JSON.stringify(r.messages)).toContain('hi');
    expect(s.journal.tools().length).toBe(toolsBefore + 1);
  });

  describe('bearer tokens a strict verifier refuses → 401 with the reason, nothing forwarded', () => {
    it.each<[string, () => Promise<string>, RegExp]>([
      ['no exp', () => good(SECURITY_CLAIMS, { omit: ['exp'] }), /no expiry \(exp\)/],
      ['iat in the future beyond the clock tolerance', () => good(SECURITY_CLAIMS, { issuedAt: now() + 600, expiresAt: now() + 1200 }), /issued in the future \(iat\)/],
      ['typ JWT when at+jwt is required', () => s.idp.mint(SECURITY_CLAIMS, { typ: 'JWT' }), /type "JWT" is not the required "at\+jwt"/],
      ['a lifetime over the configured maximum', () => good(SECURITY_CLAIMS, { expiresIn: 2 * 3600 }), /lifetime \(exp - iat\) of 2h exceeds the maximum of 1h/],
      ['no iat and an expiry further away than the maximum', () => good(SECURITY_CLAIMS, { omit: ['iat'], expiresAt: now() + 2 * 3600 }), /lifetime \(no iat: exp - now\) of .* exceeds the maximum of 1h/],
    ])('%s', async (_name, mint, reason) => {
      mark();
      const r = await s.post(call('refused'), { session, token: await mint() });
      expect(r.status, r.text).toBe(401);
      expect(errorMessage(r)).toMatch(/^The bearer token was rejected/);
      expect(errorMessage(r)).toMatch(reason);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata=".*", error="invalid_token"/);
      expectNothingForwarded();
    });
  });

  describe('a malformed Authorization header → 400 that says so (not "authentication required"), nothing forwarded', () => {
    it.each<[string, (jwt: string) => Array<[string, string]>, RegExp]>([
      ['two Authorization headers', (jwt) => [['authorization', `Bearer ${jwt}`], ['authorization', `Bearer ${jwt}`]], /more than one Authorization header/],
      ['two credentials comma-joined in one header', (jwt) => [['authorization', `Bearer ${jwt}, Bearer ${jwt}`]], /more than one Authorization header/],
      ['the Basic scheme', () => [['authorization', 'Basic dXNlcjpwYXNz']], /uses the "Basic" scheme; this resource accepts only OAuth bearer tokens/],
      ['Bearer with no token', () => [['authorization', 'Bearer']], /says Bearer but carries no token/],
      ['two spaces after Bearer', (jwt) => [['authorization', `Bearer  ${jwt}`]], /exactly one space/],
      ['an empty Authorization header', () => [['authorization', '']], /is empty/],
    ])('%s', async (_name, headers, reason) => {
      const jwt = await good();
      mark();
      const r = await rawPost(s.endpoint, [...headers(jwt), ['mcp-session-id', session]], call('refused'));
      expect(r.status, r.text).toBe(400);
      expect(errorMessage(r)).toMatch(reason);
      expect(errorMessage(r)).not.toMatch(/Authentication required/);
      expect(r.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);
      expectNothingForwarded();
    });
  });

  describe('a quota is charged only for a call that is forwarded', () => {
    const metered = (subject: string) => good({ authorized_tasks: ['metered'] }, { subject });

    it('a call ext_proc refuses (a session token sealed for another subject) does not consume the one allowed call', async () => {
      const subject = `quota-${mode}-${backend}-foreign`;
      const foreign = await s.initialize(await metered(`${subject}-other`));
      mark();
      const refused = await s.post(call('refused'), { session: foreign, token: await metered(subject) });
      expect(refused.status, refused.text).toBe(404);
      expect(errorMessage(refused)).toMatch(/Session not found or expired/);
      expect(s.journal.tools().length).toBe(toolsBefore);

      const own = await s.initialize(await metered(subject));
      const allowed = await s.post(call('counted'), { session: own, token: await metered(subject) });
      expect(allowed.status, allowed.text).toBe(200);
      expect(JSON.stringify(allowed.messages)).toContain('counted');
      expect(JSON.stringify(allowed.messages)).not.toMatch(/quota/i);
      expect(s.journal.tools().length).toBe(toolsBefore + 1);

      // The one call went to the forwarded call: the next is refused by the quota.
      const over = await s.post(call('over'), { session: own, token: await metered(subject) });
      expect(JSON.stringify(over.messages)).toMatch(/quota of 1 call per 1h is used up/);
      expect(s.journal.tools().length).toBe(toolsBefore + 1);
    });

    it.runIf(mode === 'gateway')('a gateway tool no backend serves does not consume it either', async () => {
      const subject = `quota-${mode}-${backend}-unknown`;
      const own = await s.initialize(await metered(subject));
      mark();
      const refused = await s.post(call('refused', 'nosuch.echo'), { session: own, token: await metered(subject) });
      expect(errorMessage(refused), refused.text).toMatch(/Unknown tool "nosuch.echo"/);
      expect(s.journal.tools().length).toBe(toolsBefore);

      const allowed = await s.post(call('counted'), { session: own, token: await metered(subject) });
      expect(allowed.status, allowed.text).toBe(200);
      expect(JSON.stringify(allowed.messages)).toContain('counted');
      expect(s.journal.tools().length).toBe(toolsBefore + 1);
    });
  });

  describe('initialize again with a still-valid session token', () => {
    it('returns a new token that works; the old one is ended', async () => {
      const jwt = await good();
      const known = s.journal.sessionIds.length;
      const first = await s.initialize(jwt);
      const firstBackendSessions = s.journal.sessionIds.slice(known);
      expect(firstBackendSessions.length).toBe(mode === 'gateway' ? 2 : 1);
      // The harness's initialize presents no session; this one presents the first session's token.
      const again = await s.post(rpc('initialize', { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'tokens', version: '1' } }, 2), { session: first, token: jwt });
      expect(again.status, again.text).toBe(200);
      const replaced = again.headers.get('mcp-session-id') ?? '';
      expect(replaced).not.toBe('');
      expect(replaced).not.toBe(first);
      const note = await s.post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), { session: replaced, token: jwt });
      expect(note.status, note.text).toBe(202);
      // Gateway: toolgate DELETEs the replaced token's backend sessions. Sidecar: it has no egress to do so (the
      // backend's idle timeout ends that session); the old token is revoked in both modes (below).
      const deleted = s.journal.requests.filter((r) => r.httpMethod === 'DELETE').map((r) => r.headers['mcp-session-id']);
      expect(firstBackendSessions.filter((id) => deleted.includes(id)).length).toBe(mode === 'gateway' ? 2 : 0);

      mark();
      const fresh = await s.post(call('new session'), { session: replaced, token: jwt });
      expect(fresh.status, fresh.text).toBe(200);
      expect(JSON.stringify(fresh.messages)).toContain('new session');
      expect(s.journal.tools().length).toBe(toolsBefore + 1);

      const old = await s.post(call('old session'), { session: first, token: jwt });
      expect(old.status, old.text).toBe(404);
      expect(s.journal.tools().length).toBe(toolsBefore + 1);
    });
  });

  // Last: these stop the IdP. Each step reloads the config, so the verifier starts with no key set and no verified token.
  describe('the identity provider cannot be reached → 503 with Retry-After, not a 401 about the token', () => {
    const expectUnreachable = (r: RawReply) => {
      expect(r.status, r.text).toBe(503);
      expect(r.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(r.headers.get('www-authenticate')).toBeNull();
      expect(errorMessage(r)).toMatch(/^The identity provider could not be reached/);
      expect(errorMessage(r)).toMatch(/not a problem with your token/);
    };

    it('its JWKS endpoint answers 503', async () => {
      const jwt = await good();
      s.idp.setAvailable(false);
      await reloadJwt(s, JWT_RULES);
      mark();
      expectUnreachable(await s.post(call('idp'), { session, token: jwt }));
      expectNothingForwarded();
    });

    it('once it is back, a bad token is a 401 again and a good one works', async () => {
      s.idp.setAvailable(true);
      await reloadJwt(s, JWT_RULES);
      mark();
      const bad = await s.post(call('idp'), { session, token: await s.idp.bad.badSignature(SECURITY_CLAIMS) });
      expect(bad.status, bad.text).toBe(401);
      expect(errorMessage(bad)).toMatch(/^The bearer token was rejected \(signature verification failed\)/);
      expectNothingForwarded();
      const ok = await s.post(call('idp'), { session, token: await good() });
      expect(ok.status, ok.text).toBe(200);
      expect(s.journal.tools().length).toBe(toolsBefore + 1);
    });

    it('its JWKS endpoint refuses connections', async () => {
      const jwt = await good();
      await s.idp.stop();
      await reloadJwt(s, JWT_RULES);
      mark();
      expectUnreachable(await s.post(call('idp'), { session, token: jwt }));
      expectNothingForwarded();
    });
  });
});
