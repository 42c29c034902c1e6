// When Envoy gets no answer from toolgate (down, restarting, failing mid-request, its connection dropped under load,
// or too slow), the client gets a JSON-RPC error with a sentence, a reason code and Retry-After, never an empty 503 or
// 504; and nothing reaches a backend. Both rendered bootstraps, with a stand-in toolgate (test/harness/authz-stub.ts)
// told to be unreachable, to fail its ext_proc streams, or to leave them unanswered (docs/envoy.md, fact 26).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAuthzStub, type AuthzStub, type AuthzStubOptions } from '../harness/authz-stub.js';
import { SIDECAR_TEMPLATE, startEnvoy, templateVariant, type EnvoyInstance } from '../harness/envoy.js';
import { printLogsOnFailure } from '../harness/logs.js';
import { startMcpServer, type McpTestServer } from '../harness/mcp-server.js';
import { freePort } from '../harness/ports.js';
import { GATEWAY_TEMPLATE } from './helpers/gateway-stack.js';
import { post, toolCall, type RawAnswer } from './helpers/client.js';

printLogsOnFailure();

/** ext_proc's message_timeout shortened from the rendered 10 s, so the unanswered case takes a second. */
const shortMessageTimeout = (text: string): string => text.replace('message_timeout: 10s', 'message_timeout: 1s');

interface Setup {
  readonly envoy: EnvoyInstance;
  readonly authz: AuthzStub;
  readonly backend: McpTestServer;
  readonly endpoint: string;
  /** The tool name a client calls through this bootstrap. */
  readonly tool: string;
  stop(): Promise<void>;
}

const MODES = [
  { mode: 'sidecar', template: SIDECAR_TEMPLATE, tool: 'echo' },
  { mode: 'gateway', template: GATEWAY_TEMPLATE, tool: 'billing.echo' },
] as const;

async function setUp(template: string, tool: string, extProc: AuthzStubOptions['extProc']): Promise<Setup> {
  const backend = await startMcpServer({});
  const authz = await startAuthzStub({ extProc });
  const variant = await templateVariant(template, shortMessageTimeout);
  const gateway = template === GATEWAY_TEMPLATE;
  const at = (name: string) => ({ [`${name}_ADDRESS`]: '127.0.0.1', [`${name}_PORT`]: backend.port });
  const envoy = await startEnvoy({
    template: variant.path,
    name: `envoy (${gateway ? 'gateway' : 'sidecar'}.yaml)`,
    vars: {
      TOOLGATE_GRPC_PORT: authz.port,
      // Sidecar: the one backend. Gateway: every replica of both backends is the same server; the egress and events
      // ports lead nowhere (nothing here gets that far).
      ...(gateway
        ? { ...at('BILLING_1'), ...at('BILLING_2'), ...at('INVENTORY_1'), ...at('INVENTORY_2'), EGRESS_PORT: await freePort(), TOOLGATE_EVENTS_PORT: await freePort() }
        : at('BACKEND')),
    },
  });
  return {
    envoy, authz, backend, endpoint: `${envoy.url}/mcp`, tool,
    async stop() {
      await envoy.stop();
      await variant.remove();
      await authz.stop();
      await backend.stop();
    },
  };
}

/** A tools/call as a client in an open session sends it. */
const call = (s: Setup, text: string): Promise<RawAnswer> =>
  post(s.endpoint, toolCall(s.tool, { text }), { 'mcp-session-id': 'some-session', 'mcp-protocol-version': '2025-11-25' });

function expectClearAnswer(answer: RawAnswer, status: number, code: string): void {
  expect(answer.status).toBe(status);
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  expect(answer.headers.get('retry-after')).toBe('1');
  expect(answer.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32603, data: { code } } });
  const message = (answer.json as { error: { message: string } }).error.message;
  expect(message).toMatch(/policy service \(toolgate\)/);
  expect(message).toMatch(/Retry in a few seconds\.$/);
}

describe.each(MODES)('$mode bootstrap: Envoy gets no answer from toolgate', ({ template, tool }) => {
  describe('toolgate unreachable (ext_authz cannot ask)', () => {
    let s: Setup;
    beforeAll(async () => {
      s = await setUp(template, tool, 'pass');
      await s.authz.stop();
    });
    afterAll(async () => s?.stop());

    it('answers 503 toolgate-unavailable with a sentence, and nothing reaches the backend', async () => {
      const answer = await call(s, 'unreachable');
      expectClearAnswer(answer, 503, 'toolgate-unavailable');
      expect((answer.json as { error: { message: string } }).error.message).toContain('Nothing was forwarded.');
      expect(s.backend.requests).toEqual([]);
      expect(await s.envoy.stat('http.mcp.ext_authz.error')).toBe(1);
    });
  });

  describe('toolgate fails its ext_proc stream (a dropped connection fails it the same way)', () => {
    let s: Setup;
    beforeAll(async () => {
      s = await setUp(template, tool, 'fail');
    });
    afterAll(async () => s?.stop());

    it('answers 503 toolgate-unavailable with a sentence, and nothing reaches the backend', async () => {
      const answer = await call(s, 'failed');
      expectClearAnswer(answer, 503, 'toolgate-unavailable');
      expect(s.authz.checks).toHaveLength(1);
      expect(s.backend.requests).toEqual([]);
      expect(await s.envoy.stat('http.mcp.ext_proc.streams_failed')).toBe(1);
    });
  });

  describe('toolgate leaves its ext_proc stream unanswered', () => {
    let s: Setup;
    beforeAll(async () => {
      s = await setUp(template, tool, 'hang');
    });
    afterAll(async () => s?.stop());

    it('answers 504 toolgate-timeout with a sentence, and nothing reaches the backend', async () => {
      const answer = await call(s, 'unanswered');
      expectClearAnswer(answer, 504, 'toolgate-timeout');
      expect(s.backend.requests).toEqual([]);
      expect(await s.envoy.stat('http.mcp.ext_proc.message_timeouts')).toBe(1);
    });
  });
});
