// Proves the test harness: real MCP SDK client → real pinned Envoy (envoy/sidecar.yaml) → real MCP SDK server,
// with a stand-in ext_authz (and pass-through ext_proc) server where toolgate will be.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify } from 'jose';
import { startAuthzStub, type AuthzStub } from '../harness/authz-stub.js';
import {
  ENVOY_VERSION, SIDECAR_TEMPLATE, envoyBinaryVersion, renderTemplate, startEnvoy, validateEnvoyConfig,
  type EnvoyInstance,
} from '../harness/envoy.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { startMcpServer, type McpTestServer } from '../harness/mcp-server.js';
import { startTestIdp, type BadTokens, type TestIdp } from '../harness/jwt.js';
import { freePort } from '../harness/ports.js';
import { startProcess } from '../harness/process.js';

printLogsOnFailure();

/** The body cap rendered into envoy/sidecar.yaml (policy.maxBodyBytes of examples/sidecar.yaml). */
const MAX_BODY_BYTES = Number(/max_request_bytes: (\d+)/.exec(readFileSync(SIDECAR_TEMPLATE, 'utf8'))?.[1]);

interface Stack {
  backend: McpTestServer;
  authz: AuthzStub;
  envoy: EnvoyInstance;
  endpoint: string;
  stop(): Promise<void>;
}

/** The sidecar template with the toolgate cluster pointed at an allow-all ext_authz stub. */
async function startStack(): Promise<Stack> {
  const backend = await startMcpServer({ replicaId: 'replica-a' });
  const authz = await startAuthzStub();
  try {
    const envoy = await startEnvoy({
      vars: { TOOLGATE_GRPC_PORT: authz.port, BACKEND_PORT: backend.port },
    });
    return {
      backend, authz, envoy,
      endpoint: `${envoy.url}${backend.path}`,
      async stop() {
        await envoy.stop();
        await authz.stop();
        await backend.stop();
      },
    };
  } catch (err) {
    await authz.stop();
    await backend.stop();
    throw err;
  }
}

async function connect(endpoint: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'harness-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(endpoint));
  await client.connect(transport);
  return { client, transport };
}

function toolCallBody(text: string, id = 1): string {
  return JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { text } } });
}

/** A tools/call body of exactly `bytes` bytes. */
function bodyOfSize(bytes: number): string {
  const body = toolCallBody('x'.repeat(bytes - toolCallBody('').length));
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

const POST_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('Envoy binary and template', () => {
  it('runs the pinned Envoy version', () => {
    expect(envoyBinaryVersion()).toBe(ENVOY_VERSION);
  });

  it('renders envoy/sidecar.yaml into a config that envoy --mode validate accepts', async () => {
    const template = readFileSync(SIDECAR_TEMPLATE, 'utf8');
    const dir = await mkdtemp(join(tmpdir(), 'toolgate-validate-'));
    try {
      const path = join(dir, 'envoy.yaml');
      await writeFile(path, renderTemplate(template, {
        LISTEN_ADDRESS: '0.0.0.0', LISTEN_PORT: 10000, ADMIN_PORT: 9901,
        TOOLGATE_GRPC_ADDRESS: 'toolgate', TOOLGATE_GRPC_PORT: 9000,
        BACKEND_ADDRESS: 'localhost', BACKEND_PORT: 8080,
      }));
      const result = validateEnvoyConfig(path);
      expect(result.output).toContain('OK');
      expect(result.ok).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses to render with a missing or unknown placeholder', () => {
    expect(() => renderTemplate('a: ${LISTEN_PORT}', {})).toThrow(/no value for LISTEN_PORT/);
    expect(() => renderTemplate('a: 1', { LISTEN_PORT: 1 })).toThrow(/no placeholder for LISTEN_PORT/);
  });
});

describe('MCP SDK client → Envoy → MCP SDK server, ext_authz allowing', () => {
  let stack: Stack;
  let client: Client;
  let transport: StreamableHTTPClientTransport;

  beforeAll(async () => {
    stack = await startStack();
    ({ client, transport } = await connect(stack.endpoint));
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('passes initialize, tools/list and tools/call, and the backend records them', async () => {
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['add', 'echo', 'lookup_charge', 'refund', 'slow', 'whoami']);

    const result = await client.callTool({ name: 'echo', arguments: { text: 'through envoy' } });
    expect(result.content).toEqual([{ type: 'text', text: 'through envoy' }]);

    const { backend } = stack;
    expect(backend.rpcMethods()).toEqual(expect.arrayContaining(['initialize', 'notifications/initialized', 'tools/list', 'tools/call']));
    const [call] = backend.calls('echo');
    expect(call?.arguments).toEqual({ text: 'through envoy' });
    expect(call?.sessionId).toBe(transport.sessionId);
    // Added by Envoy: proof the request went through it.
    expect(call?.headers['x-request-id']).toEqual(expect.any(String));
    // ext_proc saw the request headers and, in sidecar mode, never the request body; response headers only when the
    // processor asks for them (mode_override), which this pass-through stub never does.
    expect(stack.authz.processed.at(-1)).toEqual(['request_headers']);
  });

  it('hands ext_authz the JSON-RPC body as raw bytes (pack_as_bytes)', async () => {
    await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    const check = stack.authz.checks.findLast((c) => c.attributes.request?.http?.method === 'POST');
    const http = check?.attributes.request?.http;
    // proto3: an empty string and an absent one are the same bytes on the wire.
    expect(http?.body ?? '').toBe('');
    expect(JSON.parse(http?.raw_body?.toString('utf8') ?? 'null')).toMatchObject({
      method: 'tools/call', params: { name: 'add', arguments: { a: 2, b: 3 } },
    });
    expect(http?.headers['mcp-session-id']).toBe(transport.sessionId);
  });

  it('serves prompts and resources', async () => {
    const prompt = await client.getPrompt({ name: 'greeting', arguments: { name: 'Ada' } });
    expect(prompt.messages[0]?.content).toEqual({ type: 'text', text: 'Say hello to Ada.' });
    const resource = await client.readResource({ uri: 'demo://info' });
    expect(resource.contents[0]).toMatchObject({ text: JSON.stringify({ replica: 'replica-a' }) });
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    expect(who.structuredContent).toEqual({ replica: 'replica-a', sessionId: transport.sessionId });
  });

  it('streams progress notifications over SSE before the result', async () => {
    const events: string[] = [];
    // With gate, the tool waits after step 1 until released, and we release it only
    // when step 1 has reached the client: a buffering proxy would hang here.
    const result = await client.callTool({ name: 'slow', arguments: { steps: 3, delay_ms: 10, gate: true } }, undefined, {
      timeout: 10_000,
      onprogress: (p) => {
        events.push(`progress ${p.progress}/${p.total}`);
        if (p.progress === 1) stack.backend.releaseSlow();
      },
    });
    events.push('result');
    expect(result.content).toEqual([{ type: 'text', text: 'done after 3 steps' }]);
    expect(events).toEqual(['progress 1/3', 'progress 2/3', 'progress 3/3', 'result']);
  });

  it('answers 413 to a body over MAX_BODY_BYTES; neither ext_authz nor the backend see it', async () => {
    const { authz, backend, envoy, endpoint } = stack;
    const checksBefore = authz.checks.length;
    const requestsBefore = backend.requests.length;

    const atCap = await fetch(endpoint, { method: 'POST', headers: POST_HEADERS, body: bodyOfSize(MAX_BODY_BYTES) });
    await atCap.body?.cancel();
    expect(authz.checks.at(-1)?.attributes.request?.http?.raw_body?.length).toBe(MAX_BODY_BYTES);
    expect(backend.requests.length).toBe(requestsBefore + 1);

    const overCap = await fetch(endpoint, { method: 'POST', headers: POST_HEADERS, body: bodyOfSize(MAX_BODY_BYTES + 1) });
    expect(overCap.status).toBe(413);
    await overCap.body?.cancel();
    expect(authz.checks.length).toBe(checksBefore + 1);
    expect(backend.requests.length).toBe(requestsBefore + 1);
    expect(await envoy.stat('http.mcp.downstream_rq_4xx')).toBeGreaterThanOrEqual(1);
  });
});

describe('ext_authz unreachable', () => {
  let stack: Stack;
  let client: Client;

  beforeAll(async () => {
    stack = await startStack();
    ({ client } = await connect(stack.endpoint));
  });
  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it('fails closed with 503, and the backend never sees the call', async () => {
    const { authz, backend, envoy, endpoint } = stack;
    await client.callTool({ name: 'echo', arguments: { text: 'before' } });
    await authz.stop();
    const requestsBefore = backend.requests.length;

    const failure = await client.callTool({ name: 'echo', arguments: { text: 'after' } }).then(() => undefined, (err: unknown) => err);
    expect(failure).toBeInstanceOf(StreamableHTTPError);
    expect((failure as StreamableHTTPError).code).toBe(503);

    const raw = await fetch(endpoint, { method: 'POST', headers: POST_HEADERS, body: toolCallBody('raw') });
    expect(raw.status).toBe(503);
    await raw.body?.cancel();

    expect(backend.requests.length).toBe(requestsBefore);
    expect(backend.calls('echo').map((c) => c.arguments?.text)).toEqual(['before']);
    expect(await envoy.stat('http.mcp.ext_authz.error')).toBeGreaterThanOrEqual(2);
  });
});

describe('MCP test server without Envoy', () => {
  it('answers with application/json when enableJsonResponse is set', async () => {
    const backend = await startMcpServer({ enableJsonResponse: true, replicaId: 'json' });
    const { client } = await connect(backend.url);
    try {
      const res = await client.callTool({ name: 'whoami', arguments: {} });
      expect(res.content).toEqual([{ type: 'text', text: 'json' }]);
      const call = backend.calls('whoami')[0];
      expect(call?.status).toBe(200);
    } finally {
      await client.close();
      await backend.stop();
    }
  });

  it('answers 404 to an unknown session and 400 to a missing one', async () => {
    const backend = await startMcpServer();
    try {
      const unknown = await fetch(backend.url, {
        method: 'POST', headers: { ...POST_HEADERS, 'mcp-session-id': 'nope' }, body: toolCallBody('x'),
      });
      expect(unknown.status).toBe(404);
      const missing = await fetch(backend.url, { method: 'POST', headers: POST_HEADERS, body: toolCallBody('x') });
      expect(missing.status).toBe(400);
    } finally {
      await backend.stop();
    }
  });
});

describe('test identity provider', () => {
  let idp: TestIdp;
  beforeAll(async () => { idp = await startTestIdp(); });
  afterAll(async () => { await idp?.stop(); });

  const verify = (token: string) => jwtVerify(token, createRemoteJWKSet(new URL(idp.jwksUrl ?? '')), {
    issuer: idp.issuer, audience: idp.audience, algorithms: ['RS256'],
  });

  it('mints tokens that verify against the served JWKS and the written file', async () => {
    const token = await idp.mint({ authorized_tasks: ['refund-support'], refund_limit: 100 });
    const { payload, protectedHeader } = await verify(token);
    expect(payload).toMatchObject({ sub: 'user-1', authorized_tasks: ['refund-support'], refund_limit: 100 });
    expect(protectedHeader.kid).toBe(idp.kid());
    expect(idp.jwksFetches()).toBeGreaterThanOrEqual(1);

    const file = await idp.writeJwksFile();
    const local = createLocalJWKSet(JSON.parse(readFileSync(file, 'utf8')));
    await expect(jwtVerify(token, local, { issuer: idp.issuer, audience: idp.audience })).resolves.toBeTruthy();
    await rm(join(file, '..'), { recursive: true, force: true });
  });

  it.each<[keyof BadTokens, RegExp]>([
    ['expired', /"exp" claim/],
    ['notYetValid', /"nbf" claim/],
    ['wrongIssuer', /"iss" claim/],
    ['wrongAudience', /"aud" claim/],
    ['badSignature', /signature verification failed/],
    ['algNone', /alg/i],
    ['unknownKid', /no applicable key/i],
    ['algConfusion', /alg/i],
  ])('makes a %s token that a verifier rejects', async (kind, reason) => {
    const token = await idp.bad[kind]();
    await expect(verify(token)).rejects.toThrow(reason);
  });
});

describe('child processes', () => {
  it('waits for readiness, keeps logs and stops with SIGTERM', async () => {
    const port = await freePort();
    const proc = await startProcess({
      name: 'tiny-http',
      command: process.execPath,
      args: ['-e', `require('http').createServer((q, s) => s.end('ok')).listen(${port}, '127.0.0.1', () => console.log('listening'))`],
      readyUrl: `http://127.0.0.1:${port}/`,
    });
    expect(proc.logs()).toContain('listening');
    expect(await proc.stop()).toEqual({ code: null, signal: 'SIGTERM' });
    expect(proc.isRunning()).toBe(false);
  });

  it('kills with SIGKILL a process that ignores SIGTERM', async () => {
    const proc = await startProcess({
      name: 'stubborn',
      command: process.execPath,
      args: ['-e', `process.on('SIGTERM', () => console.log('ignoring')); console.log('up'); setInterval(() => {}, 1000)`],
      stopTimeoutMs: 300,
    });
    await proc.waitForLog('up');
    expect(await proc.stop()).toEqual({ code: null, signal: 'SIGKILL' });
    expect(proc.logs()).toContain('ignoring');
  });
});
