import { describe, expect, it } from 'vitest';
import { authorize } from '../../src/pipeline/authz/authorize.js';
import { compileHostOriginRules, judgeHostOrigin } from '../../src/pipeline/authz/host-origin.js';
import { buildRuntime, parseConfigText } from '../../src/app/runtime/load.js';
import { configSchema } from '../../src/core/config/schema.js';
import { createMemoryStore } from '../../src/ports/store/memory.js';
import { depsOf } from '../harness/deps.js';

const RESOURCE = 'https://mcp.example.com/mcp';
const defaults = compileHostOriginRules(RESOURCE, {});
const verdict = (rules: ReturnType<typeof compileHostOriginRules>, headers: Record<string, string>) => {
  const v = judgeHostOrigin(rules, headers);
  return v.ok ? 'pass' : v.reason;
};

describe('default lists: the resource\'s host and origin, and loopback', () => {
  it('are spelled out, so operators can see what is in force', () => {
    expect(defaults.hosts).toEqual(['mcp.example.com', 'localhost', '127.0.0.1', '[::1]']);
    expect(defaults.origins).toEqual([
      'https://mcp.example.com',
      'http://localhost:*', 'https://localhost:*', 'http://127.0.0.1:*', 'https://127.0.0.1:*', 'http://[::1]:*', 'https://[::1]:*',
    ]);
  });

  it.each([
    ['the resource\'s host', { ':authority': 'mcp.example.com' }, 'pass'],
    ['the resource\'s host with a port', { ':authority': 'mcp.example.com:8443' }, 'pass'],
    ['the resource\'s host in capitals, fully qualified', { ':authority': 'MCP.Example.COM.' }, 'pass'],
    ['a plain `host` header when there is no :authority', { host: 'localhost:10000' }, 'pass'],
    ['127.0.0.1 with a port', { ':authority': '127.0.0.1:41234' }, 'pass'],
    ['[::1] with a port', { ':authority': '[::1]:8080' }, 'pass'],
    ['no Host at all (Envoy always sends one; not a browser)', {}, 'pass'],
    ['a rebinding domain', { ':authority': 'evil.example' }, 'host-not-allowed'],
    ['a rebinding domain on the same port', { ':authority': 'attacker.example:10000' }, 'host-not-allowed'],
    ['a subdomain of the resource\'s host', { ':authority': 'x.mcp.example.com' }, 'host-not-allowed'],
    ['a suffix trick', { ':authority': 'mcp.example.com.evil.example' }, 'host-not-allowed'],
    ['another loopback address', { ':authority': '127.0.0.2' }, 'host-not-allowed'],
    ['garbage', { ':authority': 'a b' }, 'host-not-allowed'],
    ['userinfo', { ':authority': 'mcp.example.com@evil.example' }, 'host-not-allowed'],
    ['an empty Host', { ':authority': '' }, 'host-not-allowed'],
    ['no Origin (not a browser)', { ':authority': 'mcp.example.com' }, 'pass'],
    ['the resource\'s origin', { ':authority': 'mcp.example.com', origin: 'https://mcp.example.com' }, 'pass'],
    ['the resource\'s origin with its default port', { ':authority': 'mcp.example.com', origin: 'https://mcp.example.com:443' }, 'pass'],
    ['a loopback page on any port (MCP Inspector)', { ':authority': 'localhost', origin: 'http://localhost:6274' }, 'pass'],
    ['a loopback page over https', { ':authority': 'localhost', origin: 'https://127.0.0.1:3000' }, 'pass'],
    ['the resource\'s host over http', { ':authority': 'mcp.example.com', origin: 'http://mcp.example.com' }, 'origin-not-allowed'],
    ['the resource\'s host on another port', { ':authority': 'mcp.example.com', origin: 'https://mcp.example.com:8443' }, 'origin-not-allowed'],
    ['a foreign origin', { ':authority': 'mcp.example.com', origin: 'https://evil.example' }, 'origin-not-allowed'],
    ['Origin: null (sandboxed iframe, file://)', { ':authority': 'mcp.example.com', origin: 'null' }, 'origin-not-allowed'],
    ['an unreadable Origin', { ':authority': 'mcp.example.com', origin: 'not an origin' }, 'origin-not-allowed'],
    ['a foreign Host is named before the Origin', { ':authority': 'evil.example', origin: 'https://evil.example' }, 'host-not-allowed'],
  ])('%s → %s', (_name, headers, expected) => {
    expect(verdict(defaults, headers)).toBe(expected);
  });
});

describe('configured lists replace the defaults', () => {
  const rules = compileHostOriginRules(RESOURCE, {
    allowedHosts: ['mcp.internal', '*.svc.cluster.local'],
    allowedOrigins: ['https://app.example.com', 'http://localhost:*', 'null', 'vscode-webview://abc123'],
  });

  it.each([
    ['a listed host', { ':authority': 'mcp.internal:8080' }, 'pass'],
    ['a subdomain wildcard', { ':authority': 'billing.tools.svc.cluster.local' }, 'pass'],
    ['the wildcard\'s bare suffix', { ':authority': 'svc.cluster.local' }, 'host-not-allowed'],
    ['the resource\'s host, no longer listed', { ':authority': 'mcp.example.com' }, 'host-not-allowed'],
    ['loopback, no longer listed', { ':authority': '127.0.0.1:9000' }, 'host-not-allowed'],
    ['a listed origin', { ':authority': 'mcp.internal', origin: 'https://app.example.com' }, 'pass'],
    ['a listed origin, any port', { ':authority': 'mcp.internal', origin: 'http://localhost:5173' }, 'pass'],
    ['null, when listed', { ':authority': 'mcp.internal', origin: 'null' }, 'pass'],
    ['a non-web scheme, listed', { ':authority': 'mcp.internal', origin: 'vscode-webview://abc123' }, 'pass'],
    ['a listed origin on another port', { ':authority': 'mcp.internal', origin: 'https://app.example.com:444' }, 'origin-not-allowed'],
    ['the resource\'s origin, no longer listed', { ':authority': 'mcp.internal', origin: 'https://mcp.example.com' }, 'origin-not-allowed'],
  ])('%s → %s', (_name, headers, expected) => {
    expect(verdict(rules, headers)).toBe(expected);
  });

  it('`*` turns a check off', () => {
    const open = compileHostOriginRules(RESOURCE, { allowedHosts: ['*'], allowedOrigins: ['*'] });
    expect(verdict(open, { ':authority': 'anything.example', origin: 'https://anywhere.example' })).toBe('pass');
  });
});

describe('refusal sentences', () => {
  it('quote the header (printable, cut short) and say what to do', () => {
    const host = judgeHostOrigin(defaults, { ':authority': `evil.example\u0007${'x'.repeat(300)}` });
    expect(host.ok).toBe(false);
    if (host.ok) return;
    expect(host.message).toMatch(/^This MCP endpoint does not answer to the Host "evil\.example\?x+…" \(DNS rebinding protection\); the request was not forwarded\./);
    expect(host.message).toContain('http.allowedHosts');
    const origin = judgeHostOrigin(defaults, { origin: 'https://evil.example' });
    expect(!origin.ok && origin.message).toContain('Origin "https://evil.example"');
    expect(!origin.ok && origin.message).toContain('http.allowedOrigins');
  });
});

describe('config: http section', () => {
  const base = { resource: RESOURCE, identity: { jwt: { issuer: 'https://auth.test', jwksUri: 'https://auth.test/jwks' } } };
  it.each([
    [{ allowedHosts: ['mcp.example.com', '*.example.com', '10.0.0.1', '[::1]', '*'] }, true],
    [{ allowedOrigins: ['https://app.example.com', 'http://localhost:*', 'http://[::1]:8080', 'null', '*'] }, true],
    [{ allowedHosts: ['mcp.example.com:443'] }, false],
    [{ allowedHosts: ['https://mcp.example.com'] }, false],
    [{ allowedHosts: [] }, false],
    [{ allowedOrigins: ['https://app.example.com/path'] }, false],
    [{ allowedOrigins: ['app.example.com'] }, false],
    [{ allowedOrgins: ['https://typo.example'] }, false],
  ])('%j valid: %s', (http, valid) => {
    expect(configSchema.safeParse({ ...base, http }).success).toBe(valid);
  });

  it('defaults to an empty section (the lists derived from `resource`)', () => {
    const parsed = configSchema.parse(base);
    expect(parsed.http).toEqual({});
  });
});

describe('authorize(): the first step, before the metadata document and the token', () => {
  const runtime = buildRuntime(parseConfigText(`resource: ${RESOURCE}
identity: { jwt: { issuer: https://auth.test, jwksUri: https://auth.test/jwks.json } }
`, 'c.yaml'), 'c.yaml');
  const metadata = { method: 'GET', path: '/.well-known/oauth-protected-resource/mcp', body: undefined };

  it.each([
    ['a foreign Host, metadata path', { ...metadata, headers: { ':authority': 'evil.example' } }, 'host-not-allowed'],
    ['a foreign Origin, an initialize without a token', {
      method: 'POST', path: '/mcp', body: Buffer.from('{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}'),
      headers: { ':authority': 'mcp.example.com', origin: 'https://evil.example' },
    }, 'origin-not-allowed'],
  ])('%s: 403, a JSON-RPC error without id, audited', async (_name, input, reason) => {
    const out = await authorize(runtime, input, depsOf(createMemoryStore()));
    expect(out.kind).toBe('reply');
    if (out.kind !== 'reply') return;
    expect(out.reply.status).toBe(403);
    expect(out.reply.headers['content-type']).toBe('application/json');
    const body = JSON.parse(out.reply.body) as { jsonrpc: string; id: unknown; error: { code: number; message: string } };
    expect(body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32600 } });
    expect(body.error.message).toContain('DNS rebinding');
    expect(out.audit).toMatchObject({ decision: 'deny', reason, subject: undefined });
  });

  it('an allowed Host gets on to the next step (here: the metadata document)', async () => {
    const out = await authorize(runtime, { ...metadata, headers: { ':authority': 'mcp.example.com' } }, depsOf(createMemoryStore()));
    expect(out.kind === 'reply' && out.reply.status).toBe(200);
    expect(out.kind === 'reply' && out.audit).toBeUndefined();
  });
});
