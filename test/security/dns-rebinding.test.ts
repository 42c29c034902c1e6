// DNS rebinding, both modes, through the real Envoy: a request naming a Host or coming from an Origin the endpoint does
// not answer to gets 403 with a JSON-RPC error (no id) from ext_authz, and no backend receives anything. The lists
// here are configured (`http.allowedHosts`/`allowedOrigins`), so they also show that a configured list replaces the
// default one (loopback names and origins pass by default; test/e2e/gateway-features.test.ts covers the defaults).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printLogsOnFailure } from '../harness/logs.js';
import { rawRequest, type RawHttpAnswer } from '../e2e/helpers/raw-http.js';
import { MODES, PROTOCOL, rpc, startSecurityStack, type SecurityStack } from './harness.js';

printLogsOnFailure();

const ALLOWED_ORIGIN = 'https://app.example.com';
const HTTP = { allowedHosts: ['127.0.0.1', 'mcp.example.com'], allowedOrigins: [ALLOWED_ORIGIN] };

describe.each(MODES)('%s mode: Host and Origin are checked before anything else', (mode) => {
  let s: SecurityStack;
  let token: string;
  let session: string;
  beforeAll(async () => {
    s = await startSecurityStack({ mode, backend: 'http', extra: { http: HTTP } });
    token = await s.token();
    session = await s.initialize();
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** `withSession`: the suite's session, none (false), or the given one. */
  const send = (method: string, body: string | undefined, headers: Record<string, string>, withSession: boolean | string = true): Promise<RawHttpAnswer> =>
    rawRequest(s.endpoint, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        'mcp-protocol-version': PROTOCOL,
        ...(withSession === false ? {} : { 'mcp-session-id': withSession === true ? session : withSession }),
        ...headers,
      },
      ...(body === undefined ? {} : { body }),
    });
  const port = () => new URL(s.endpoint).port;
  const initialize = rpc('initialize', { protocolVersion: PROTOCOL, capabilities: {}, clientInfo: { name: 'rebind', version: '1' } }, 0);
  const lookup = (): string => rpc('tools/call', { name: s.tool('lookup_charge'), arguments: { id: 'ch_1' } }, 2);

  const expectRefused = (res: RawHttpAnswer, header: 'Host' | 'Origin') => {
    expect(res.status).toBe(403);
    const body = res.json as { jsonrpc?: string; id?: unknown; error?: { code: number; message: string } };
    expect(body.jsonrpc).toBe('2.0');
    expect(body.id).toBeNull();
    expect(body.error?.code).toBe(-32600);
    expect(body.error?.message).toContain(`${header} "`);
    expect(body.error?.message).toContain('DNS rebinding');
    expect(body.error?.message).toContain(header === 'Host' ? 'http.allowedHosts' : 'http.allowedOrigins');
  };

  it.each([
    ['initialize, Host of a rebinding domain', 'POST', (): string | undefined => initialize, { host: 'evil.example' }, false, 'Host'],
    ['initialize, Host localhost (loopback, but not in the configured list)', 'POST', (): string | undefined => initialize, { host: 'localhost:PORT' }, false, 'Host'],
    ['tools/call, Origin of a foreign page', 'POST', lookup, { origin: 'https://evil.example' }, true, 'Origin'],
    ['tools/call, a loopback Origin (allowed by default, not by this list)', 'POST', lookup, { origin: 'http://localhost:5173' }, true, 'Origin'],
    ['tools/call, both foreign: the Host is named', 'POST', lookup, { host: 'evil.example', origin: 'https://evil.example' }, true, 'Host'],
    ['GET event stream, foreign Host and no Origin (a rebound page is same-origin)', 'GET', (): string | undefined => undefined, { host: 'evil.example', accept: 'text/event-stream' }, true, 'Host'],
    ['DELETE of the session, foreign Origin', 'DELETE', (): string | undefined => undefined, { origin: 'https://evil.example' }, true, 'Origin'],
    ['the metadata document, foreign Host', 'GET', (): string | undefined => undefined, { host: 'evil.example' }, false, 'Host'],
  ] as const)('%s → 403, nothing reaches a backend', async (name, method, body, headers, withSession, header) => {
    s.journal.clear();
    const concrete = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, v.replace('PORT', port())]));
    const res = name.startsWith('the metadata')
      ? await rawRequest(s.endpoint.replace(/\/mcp$/, '/.well-known/oauth-protected-resource/mcp'), { method, headers: concrete })
      : await send(method, body(), concrete, withSession);
    expectRefused(res, header);
    expect(s.journal.requests).toEqual([]);
    expect(s.journal.executions).toEqual([]);
  });

  it('listed Host and Origin pass: initialize by another listed name, then a tool call from the listed page', async () => {
    s.journal.clear();
    const init = await send('POST', initialize, { host: `mcp.example.com:${port()}`, origin: ALLOWED_ORIGIN }, false);
    expect(init.status).toBe(200);
    const own = init.headers['mcp-session-id'] ?? '';
    expect(own).not.toBe('');
    const call = await send('POST', lookup(), { origin: ALLOWED_ORIGIN }, own);
    expect(call.status).toBe(200);
    expect(JSON.stringify(call.json)).toContain('charge ch_1');
    expect(s.journal.tools('lookup_charge')).toHaveLength(1);
  });

  it('the metadata document is served to a listed Host', async () => {
    const res = await rawRequest(s.endpoint.replace(/\/mcp$/, '/.well-known/oauth-protected-resource/mcp'), { method: 'GET' });
    expect(res.status).toBe(200);
    expect((res.json as { resource?: string }).resource).toBe(s.endpoint);
  });
});
