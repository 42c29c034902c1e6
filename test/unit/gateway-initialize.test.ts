import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildRuntime, parseConfigText } from '../../src/app/runtime/load.js';
import { fanOut, type EgressClient, type EgressFailure, type RequestSuccess } from '../../src/pipeline/fanout/egress.js';
import { compileNaming } from '../../src/core/mcp/names.js';
import { EMPTY_TEMPLATE_INDEX } from '../../src/pipeline/fanout/templates.js';
import type { McpCall } from '../../src/core/mcp/message.js';
import type { GatewayContext } from '../../src/pipeline/extproc/gateway-context.js';
import { initialize } from '../../src/pipeline/extproc/gateway-fanout.js';
import { openSession } from '../../src/core/session/token.js';
import { asClientSessionToken } from '../../src/core/session/types.js';
import { listIdSequence } from '../../src/pipeline/fanout/pages.js';

const CONFIG = `resource: https://mcp.test/mcp
identity: { jwt: { issuer: https://auth.test, jwksUri: https://auth.test/jwks.json } }
egress: { url: http://127.0.0.1:1 }
backends: { billing: { cluster: billing }, inventory: { cluster: inventory } }
`;

/** A scripted egress: each backend answers initialize with the outcomes listed for it, in order. */
function scriptedEgress(script: Record<string, Array<'ok' | EgressFailure['error'] | 503>>): { client: EgressClient; attempts: Map<string, number> } {
  const attempts = new Map<string, number>();
  const request: EgressClient['request'] = async (backend) => {
    const n = attempts.get(backend) ?? 0;
    attempts.set(backend, n + 1);
    const outcome = script[backend]?.[n] ?? 'network';
    if (outcome === 'ok') {
      const ok: RequestSuccess = {
        ok: true, status: 200, sessionId: `${backend}-sid` as RequestSuccess['sessionId'], protocolVersion: '2025-11-25',
        message: { jsonrpc: '2.0', id: 'toolgate-init', result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: backend, version: '1' } } },
      };
      return ok;
    }
    if (outcome === 503) return { ok: false, backend, error: 'http-status', status: 503, detail: 'upstream connect error' };
    return { ok: false, backend, error: outcome, detail: outcome };
  };
  const client: EgressClient = { request, notify: async () => ({ ok: true, status: 202 }), deleteSession: async () => ({ ok: true, status: 200 }),
    openStream: async (b) => ({ ok: false, backend: b, error: 'http-status', status: 405, detail: 'unused' }), fanOut };
  return { client, attempts };
}

const call: McpCall = {
  type: 'call', kind: 'request', method: 'initialize', id: 1, target: undefined, arguments: {},
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 't', version: '1' } }, traceparent: undefined, fromHeadersOnly: false,
};
const authz = { subject: 'agent-7', task: undefined, decisionId: 'd', method: 'initialize', target: undefined, tasks: [] };

describe('gateway initialize fan-out', () => {
  it.each([
    ['a 503 from a replica not yet ejected', [503, 'ok'], ['billing', 'inventory'], 2],
    ['a refused connection', ['network', 'ok'], ['billing', 'inventory'], 2],
    ['a backend that stays down', ['network', 'network'], ['inventory'], 2],
    ['a JSON-RPC level refusal (not retried)', ['bad-response', 'ok'], ['inventory'], 1],
  ] as const)('retries once after %s', async (_name, billing, members, billingAttempts) => {
    const runtime = buildRuntime(parseConfigText(CONFIG, 'c.yaml'), 'c.yaml');
    const { client, attempts } = scriptedEgress({ billing: [...billing], inventory: ['ok'] });
    const ctx: GatewayContext = { runtime, egress: client, naming: compileNaming(runtime.config.backends), backends: ['billing', 'inventory'], index: { tools: new Map(), prompts: new Map(), resources: new Map(), templates: EMPTY_TEMPLATE_INDEX }, listIds: listIdSequence() };
    const step = await initialize(ctx, call, authz, pino({ level: 'silent' }));
    expect(step.kind).toBe('immediate');
    if (step.kind !== 'immediate') return;
    expect(step.status).toBe(200);
    const opened = await openSession(runtime.sessions.keyring, asClientSessionToken(step.headers['mcp-session-id'] as string), { expectedSubject: 'agent-7' });
    expect(opened.ok && [...opened.session.backends.keys()].sort()).toEqual(members);
    expect(attempts.get('billing')).toBe(billingAttempts);
    expect(attempts.get('inventory')).toBe(1);
  });
});
