// Security, tokens (issue 9 points 6, 7, 8): through the real pinned Envoy, in sidecar and gateway mode. Bearer
// tokens a strict verifier must refuse, malformed Authorization headers, an unreachable key set, a quota an
// ext_proc-refused call must not consume, and a re-initialize that must hand out the new session token. Every
// refusal is checked twice: what the client sees (status + sentence) and that no backend executed anything.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { TestIdp } from '../harness/jwt.js';
import { printLogsOnFailure } from '../harness/logs.js';
import type { McpTestServer } from '../harness/mcp-server.js';
import { bearer, eventually, post, POST_HEADERS, toolCall, type RawAnswer } from '../e2e/helpers/client.js';
import { GATEWAY_TASKS, startGatewayStack } from '../e2e/helpers/gateway-stack.js';
import { startStack, type TasksConfig } from '../e2e/helpers/toolgate.js';

printLogsOnFailure();

const PROTOCOL = '2025-11-25';
/** The suite's verifier settings: RFC 9068 access tokens only, at most an hour long. */
const JWT_RULES = { requireType: 'at+jwt', maxLifetime: '1h' };
/** Every call under `metered` counts against one quota of a single call per hour and subject. */
const METERED: TasksConfig = { metered: { tools: [{ tool: '*', quota: { calls: 1, per: '1h' } }] } };

type Mode = 'sidecar' | 'gateway';

/** What a case needs of either stack. */
interface ModeStack {
  readonly endpoint: string;
  readonly idp: TestIdp;
  /** A tool the `support` task may call, as the client names it. */
  readonly tool: string;
  readonly backends: readonly McpTestServer[];
  /** Rewrites toolgate's config with these `identity.jwt` settings and waits until it took effect. */
  reloadJwt(settings: Record<string, unknown>): Promise<void>;
  stop(): Promise<void>;
}

async function startMode(mode: Mode): Promise<ModeStack> {
  if (mode === 'sidecar') {
    const tasks: TasksConfig = { support: { tools: [{ tool: 'echo' }, { tool: 'whoami' }] }, ...METERED };
    const stack = await startStack({ tasks });
    return {
      endpoint: stack.endpoint,
      idp: stack.idp,
      tool: 'echo',
      backends: [stack.backend],
      async reloadJwt(settings) {
        const config = parse(stack.configText(tasks)) as { identity: { jwt: Record<string, unknown> } };
        config.identity.jwt = { ...config.identity.jwt, ...settings };
        const after = Date.now() + 80;
        await stack.toolgate.rewriteConfig(stringify(config));
        await eventually(() => stack.toolgate.records().some((r) => r.event === 'config.reloaded' && Date.parse(String(r.time)) > after), 'toolgate reloaded its config', 10_000, 50);
      },
      stop: () => stack.stop(),
    };
  }
  const stack = await startGatewayStack({ tasks: { ...GATEWAY_TASKS, ...METERED } });
  return {
    endpoint: stack.endpoint,
    idp: stack.idp,
    tool: 'billing.echo',
    backends: Object.values(stack.replicas),
    async reloadJwt(settings) {
      const config = parse(stack.configText()) as { identity: { jwt: Record<string, unknown> } };
      config.identity.jwt = { ...config.identity.jwt, ...settings };
      await stack.toolgate.reload(stringify(config));
    },
    stop: () => stack.stop(),
  };
}

const SUPPORT = { authorized_tasks: ['support'] };
const now = () => Math.floor(Date.now() / 1000);

/** A POST whose headers are sent exactly as given, repeated names included (fetch would merge them into one). */
function rawPost(url: string, headers: ReadonlyArray<readonly [string, string]>, body: string): Promise<RawAnswer> {
  // With headers as a raw list Node adds none of its own, Host included.
  const flat = [['host', new URL(url).host], ...Object.entries(POST_HEADERS), ['content-length', String(Buffer.byteLength(body))], ...headers].flat();
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: flat }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        resolve({ status: res.statusCode ?? 0, headers: h, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function initializeBody(id = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params: { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'tokens-test', version: '1' } } });
}

/** initialize + notifications/initialized with raw POSTs; returns the client-facing session token. */
async function openSession(endpoint: string, jwt: string, presented?: string): Promise<string> {
  const res = await post(endpoint, initializeBody(), { ...bearer(jwt), ...(presented ? { 'mcp-session-id': presented } : {}) });
  expect(res.status, res.text).toBe(200);
  const token = res.headers.get('mcp-session-id');
  if (!token) throw new Error(`initialize returned no Mcp-Session-Id: ${res.text}`);
  const note = await post(endpoint, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), { ...bearer(jwt), 'mcp-session-id': token, 'mcp-protocol-version': PROTOCOL });
  expect(note.status, note.text).toBe(202);
  return token;
}

function sessionHeaders(session: string): Record<string, string> {
  return { 'mcp-session-id': session, 'mcp-protocol-version': PROTOCOL };
}

/** The JSON-RPC error message of an answer, or '' when it has none. */
function errorMessage(res: RawAnswer): string {
  const body = res.json as { error?: { message?: unknown } } | undefined;
  return typeof body?.error?.message === 'string' ? body.error.message : '';
}

describe.each<Mode>(['sidecar', 'gateway'])('%s mode', (mode) => {
  let stack: ModeStack;
  let session: string;
  /** Tool executions (tools/call received by any backend) and all backend requests, before a case. */
  let executedBefore = 0;
  let requestsBefore = 0;
  const executed = () => stack.backends.reduce((n, b) => n + b.calls().length, 0);
  const requests = () => stack.backends.reduce((n, b) => n + b.requests.length, 0);
  const good = (claims: Record<string, unknown> = SUPPORT, opts: Parameters<TestIdp['mint']>[1] = {}) => stack.idp.mint(claims, { typ: 'at+jwt', ...opts });
  const mark = () => {
    executedBefore = executed();
    requestsBefore = requests();
  };
  /** Nothing reached any backend since `mark()`: refused at ext_authz, before routing. */
  const expectNothingForwarded = () => {
    expect(executed()).toBe(executedBefore);
    expect(requests()).toBe(requestsBefore);
  };

  beforeAll(async () => {
    stack = await startMode(mode);
    await stack.reloadJwt(JWT_RULES);
    session = await openSession(stack.endpoint, await good());
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('a valid access token calls the tool (the control case)', async () => {
    mark();
    const res = await post(stack.endpoint, toolCall(stack.tool, { text: 'hi' }), { ...bearer(await good()), ...sessionHeaders(session) });
    expect(res.status, res.text).toBe(200);
    expect(res.text).toContain('hi');
    expect(executed()).toBe(executedBefore + 1);
  });

  describe('bearer tokens a strict verifier refuses → 401 with the reason, nothing forwarded', () => {
    it.each<[string, () => Promise<string>, RegExp]>([
      ['no exp', () => good(SUPPORT, { omit: ['exp'] }), /no expiry \(exp\)/],
      ['iat in the future beyond the clock tolerance', () => good(SUPPORT, { issuedAt: now() + 600, expiresAt: now() + 1200 }), /issued in the future \(iat\)/],
      ['typ JWT when at+jwt is required', () => stack.idp.mint(SUPPORT, { typ: 'JWT' }), /type "JWT".*"at\+jwt"/],
      ['a lifetime over the configured maximum', () => good(SUPPORT, { expiresIn: 2 * 3600 }), /lifetime .* exceeds the maximum/],
      ['no iat and an expiry further away than the maximum', () => good(SUPPORT, { omit: ['iat'], expiresAt: now() + 2 * 3600 }), /lifetime .* exceeds the maximum/],
    ])('%s', async (_name, mint, reason) => {
      mark();
      const res = await post(stack.endpoint, toolCall(stack.tool, { text: 'refused' }), { ...bearer(await mint()), ...sessionHeaders(session) });
      expect(res.status, res.text).toBe(401);
      expect(errorMessage(res)).toMatch(/^The bearer token was rejected/);
      expect(errorMessage(res)).toMatch(reason);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer resource_metadata=".*", error="invalid_token"/);
      expectNothingForwarded();
    });
  });

  describe('a malformed Authorization header → 400 that says so (not "authentication required"), nothing forwarded', () => {
    it.each<[string, (jwt: string) => Array<[string, string]>, RegExp]>([
      ['two Authorization headers', (jwt) => [['authorization', `Bearer ${jwt}`], ['authorization', `Bearer ${jwt}`]], /more than one Authorization header/],
      ['two credentials comma-joined in one header', (jwt) => [['authorization', `Bearer ${jwt}, Bearer ${jwt}`]], /more than one Authorization header/],
      ['the Basic scheme', () => [['authorization', 'Basic dXNlcjpwYXNz']], /uses the "Basic" scheme/],
      ['Bearer with no token', () => [['authorization', 'Bearer']], /carries no token/],
      ['two spaces after Bearer', (jwt) => [['authorization', `Bearer  ${jwt}`]], /one space/],
      ['an empty Authorization header', () => [['authorization', '']], /is empty/],
    ])('%s', async (_name, headers, reason) => {
      const jwt = await good();
      mark();
      const res = await rawPost(stack.endpoint, [...headers(jwt), ['mcp-session-id', session], ['mcp-protocol-version', PROTOCOL]], toolCall(stack.tool, { text: 'refused' }));
      expect(res.status, res.text).toBe(400);
      expect(errorMessage(res)).toMatch(reason);
      expect(errorMessage(res)).not.toMatch(/Authentication required/);
      expect(res.headers.get('www-authenticate')).toMatch(/error="invalid_request"/);
      expectNothingForwarded();
    });
  });

  describe('a quota is charged only for a call that is forwarded', () => {
    const metered = (subject: string) => good({ authorized_tasks: ['metered'] }, { subject });

    it('a call ext_proc refuses (a session token sealed for another subject) does not consume the one allowed call', async () => {
      const subject = `quota-${mode}-foreign`;
      const foreign = await openSession(stack.endpoint, await metered(`${subject}-other`));
      mark();
      const refused = await post(stack.endpoint, toolCall(stack.tool, { text: 'refused' }), { ...bearer(await metered(subject)), ...sessionHeaders(foreign) });
      expect(refused.status, refused.text).toBe(404);
      expect(errorMessage(refused)).toMatch(/Session not found or expired/);
      expect(executed()).toBe(executedBefore);

      const own = await openSession(stack.endpoint, await metered(subject));
      const allowed = await post(stack.endpoint, toolCall(stack.tool, { text: 'counted' }), { ...bearer(await metered(subject)), ...sessionHeaders(own) });
      expect(allowed.status, allowed.text).toBe(200);
      expect(allowed.text).toContain('counted');
      expect(allowed.text).not.toMatch(/quota/i);
      expect(executed()).toBe(executedBefore + 1);

      // The one call was spent by the forwarded call: the next is refused by the quota.
      const over = await post(stack.endpoint, toolCall(stack.tool, { text: 'over' }), { ...bearer(await metered(subject)), ...sessionHeaders(own) });
      expect(over.text).toMatch(/quota/i);
      expect(executed()).toBe(executedBefore + 1);
    });

    it.runIf(mode === 'gateway')('a gateway tool no backend serves does not consume it either', async () => {
      const subject = `quota-${mode}-unknown`;
      const own = await openSession(stack.endpoint, await metered(subject));
      mark();
      const refused = await post(stack.endpoint, toolCall('nosuch.echo', { text: 'refused' }), { ...bearer(await metered(subject)), ...sessionHeaders(own) });
      expect(errorMessage(refused), refused.text).toMatch(/Unknown tool "nosuch.echo"/);
      expect(executed()).toBe(executedBefore);

      const allowed = await post(stack.endpoint, toolCall(stack.tool, { text: 'counted' }), { ...bearer(await metered(subject)), ...sessionHeaders(own) });
      expect(allowed.status, allowed.text).toBe(200);
      expect(allowed.text).toContain('counted');
      expect(executed()).toBe(executedBefore + 1);
    });
  });

  describe('initialize again with a still-valid session token', () => {
    const backendSessions = () => new Set(stack.backends.flatMap((b) => b.sessionIds()));

    it('returns a new token that works; the old one is ended', async () => {
      const jwt = await good();
      const before = backendSessions();
      const first = await openSession(stack.endpoint, jwt);
      const firstBackendSessions = [...backendSessions()].filter((id) => !before.has(id));
      expect(firstBackendSessions.length).toBe(mode === 'gateway' ? 2 : 1);
      const second = await openSession(stack.endpoint, jwt, first);
      expect(second).not.toBe(first);
      // Gateway: toolgate DELETEs the old token's backend sessions. Sidecar: it has no egress to do so; the backend's
      // own idle timeout ends it, and the old token is revoked either way (below).
      const open = backendSessions();
      expect(firstBackendSessions.filter((id) => open.has(id)).length).toBe(mode === 'gateway' ? 0 : 1);

      mark();
      const res = await post(stack.endpoint, toolCall(stack.tool, { text: 'new session' }), { ...bearer(jwt), ...sessionHeaders(second) });
      expect(res.status, res.text).toBe(200);
      expect(res.text).toContain('new session');
      expect(executed()).toBe(executedBefore + 1);

      const old = await post(stack.endpoint, toolCall(stack.tool, { text: 'old session' }), { ...bearer(jwt), ...sessionHeaders(first) });
      expect(old.status, old.text).toBe(404);
      expect(executed()).toBe(executedBefore + 1);
    });
  });

  // Last: these stop the IdP. Each step reloads the config, so the verifier starts with no key set and no verified token.
  describe('the identity provider cannot be reached → 503 with Retry-After, not a 401 about the token', () => {
    const call = async (jwt: string) => post(stack.endpoint, toolCall(stack.tool, { text: 'idp' }), { ...bearer(jwt), ...sessionHeaders(session) });
    const expectUnreachable = (res: RawAnswer) => {
      expect(res.status, res.text).toBe(503);
      expect(res.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(res.headers.get('www-authenticate')).toBeNull();
      expect(errorMessage(res)).toMatch(/identity provider could not be reached/);
      expect(errorMessage(res)).toMatch(/not a problem with your token/);
    };

    it('its JWKS endpoint answers 503', async () => {
      const jwt = await good();
      stack.idp.setAvailable(false);
      await stack.reloadJwt(JWT_RULES);
      mark();
      expectUnreachable(await call(jwt));
      expectNothingForwarded();
    });

    it('once it is back, a bad token is a 401 again and a good one works', async () => {
      stack.idp.setAvailable(true);
      await stack.reloadJwt(JWT_RULES);
      mark();
      const bad = await call(await stack.idp.bad.badSignature(SUPPORT));
      expect(bad.status, bad.text).toBe(401);
      expect(errorMessage(bad)).toMatch(/^The bearer token was rejected \(signature verification failed\)/);
      expectNothingForwarded();
      const ok = await call(await good());
      expect(ok.status, ok.text).toBe(200);
      expect(executed()).toBe(executedBefore + 1);
    });

    it('its JWKS endpoint refuses connections', async () => {
      const jwt = await good();
      await stack.idp.stop();
      await stack.reloadJwt(JWT_RULES);
      mark();
      expectUnreachable(await call(jwt));
      expectNothingForwarded();
    });
  });
});
