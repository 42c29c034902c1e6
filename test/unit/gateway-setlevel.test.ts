import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildRuntime, parseConfigText } from '../../src/app/runtime/load.js';
import { fanOut, type EgressClient, type EgressFailure, type RequestMessage, type RequestSuccess } from '../../src/pipeline/fanout/egress.js';
import { compileNaming } from '../../src/core/mcp/names.js';
import { EMPTY_TEMPLATE_INDEX } from '../../src/pipeline/fanout/templates.js';
import type { McpCall } from '../../src/core/mcp/message.js';
import type { GatewayContext } from '../../src/pipeline/extproc/gateway-context.js';
import { setLevelAll } from '../../src/pipeline/extproc/gateway-fanout.js';
import { capabilitySetOf, NO_CAPABILITIES, type Session, type TokenId } from '../../src/core/session/types.js';
import { listIdSequence } from '../../src/pipeline/fanout/pages.js';

const CONFIG = `resource: https://mcp.test/mcp
identity: { jwt: { issuer: https://auth.test, jwksUri: https://auth.test/jwks.json } }
egress: { url: http://127.0.0.1:1 }
backends: { billing: { cluster: billing }, inventory: { cluster: inventory }, search: { cluster: search } }
`;
const runtime = buildRuntime(parseConfigText(CONFIG, 'c.yaml'), 'c.yaml');
const log = pino({ level: 'silent' });

type Outcome = 'accept' | 'refuse' | EgressFailure['error'];

/** A scripted egress that records what each backend was sent and answers as told. */
function egress(script: Record<string, Outcome>): { client: EgressClient; sent: Map<string, RequestMessage> } {
  const sent = new Map<string, RequestMessage>();
  const request: EgressClient['request'] = async (backend, message) => {
    sent.set(backend, message);
    const outcome = script[backend] ?? 'network';
    if (outcome === 'accept') return { ok: true, status: 200, message: { jsonrpc: '2.0', id: message.id, result: {} } } satisfies RequestSuccess;
    if (outcome === 'refuse') return { ok: true, status: 200, message: { jsonrpc: '2.0', id: message.id, error: { code: -32602, message: `${backend}: bad level` } } };
    return { ok: false, backend, error: outcome, detail: outcome };
  };
  const openStream: EgressClient['openStream'] = async (b) => ({ ok: false, backend: b, error: 'http-status', status: 405, detail: 'unused' });
  return { client: { request, notify: async () => ({ ok: true, status: 202 }), deleteSession: async () => ({ ok: true, status: 200 }), openStream, fanOut }, sent };
}

const context = (client: EgressClient): GatewayContext => ({
  runtime, egress: client, naming: compileNaming(runtime.config.backends), backends: ['billing', 'inventory', 'search'], listIds: listIdSequence(),
  index: { tools: new Map(), prompts: new Map(), resources: new Map(), templates: EMPTY_TEMPLATE_INDEX },
});

const LOGS = capabilitySetOf('logging', 'tools');
/** billing and inventory announced logging; search did not; the session has no entry for a fourth backend. */
const session: Session = {
  subject: 'agent-7', tokenId: 't1' as TokenId, issuedAt: 0, expiresAt: 2e9,
  backends: new Map([
    ['billing', { protocolVersion: '2025-11-25', capabilities: LOGS }],
    ['inventory', { protocolVersion: '2025-11-25', capabilities: LOGS }],
    ['search', { protocolVersion: '2025-11-25', capabilities: NO_CAPABILITIES }],
  ]),
};

const setLevel: McpCall = {
  type: 'call', kind: 'request', method: 'logging/setLevel', id: 3, target: undefined, arguments: {},
  params: { level: 'warning' }, traceparent: undefined, fromHeadersOnly: false,
};

function answer(step: Awaited<ReturnType<typeof setLevelAll>>): { status: number; body: { id?: unknown; result?: unknown; error?: { code: number; message: string } } } {
  if (step.kind !== 'immediate') throw new Error('setLevel is answered by toolgate');
  return { status: step.status, body: JSON.parse(step.body) as never };
}

describe('logging/setLevel in gateway mode', () => {
  it('goes to every backend of the session that offers logging, with the client\'s params', async () => {
    const { client, sent } = egress({ billing: 'accept', inventory: 'accept' });
    const { status, body } = answer(await setLevelAll(context(client), setLevel, session, '2025-11-25', log));
    expect([...sent.keys()].sort()).toEqual(['billing', 'inventory']);
    expect(sent.get('billing')).toMatchObject({ method: 'logging/setLevel', params: { level: 'warning' } });
    expect(status).toBe(200);
    expect(body).toEqual({ jsonrpc: '2.0', id: 3, result: {} });
  });

  it('stateless (no session): every configured backend is asked', async () => {
    const { client, sent } = egress({ billing: 'accept', inventory: 'accept', search: 'refuse' });
    const { body } = answer(await setLevelAll(context(client), setLevel, undefined, '2026-07-28', log));
    expect([...sent.keys()].sort()).toEqual(['billing', 'inventory', 'search']);
    // A 2026-07-28 result names its kind (a 2.x client refuses one without it).
    expect(body.result).toEqual({ resultType: 'complete' });
  });

  it.each([
    ['one accepted, one refused', { billing: 'refuse', inventory: 'accept' }, 200, undefined],
    ['both refused', { billing: 'refuse', inventory: 'refuse' }, 200, -32602],
    ['neither answered', { billing: 'timeout', inventory: 'network' }, 502, -32603],
  ] as const)('%s', async (_name, script, status, code) => {
    const { client } = egress(script);
    const out = answer(await setLevelAll(context(client), setLevel, session, '2025-11-25', log));
    expect(out.status).toBe(status);
    expect(out.body.error?.code).toBe(code);
    if (code === undefined) expect(out.body.result).toEqual({});
    else expect(out.body.error?.message).toMatch(/billing.*inventory/);
  });

  it('every backend forgot the session: 404, so the client re-initializes', async () => {
    const { client } = egress({ billing: 'session-expired', inventory: 'session-expired' });
    expect(answer(await setLevelAll(context(client), setLevel, session, '2025-11-25', log)).status).toBe(404);
  });

  it('no backend of the session offers logging: -32601, and nobody is asked', async () => {
    const { client, sent } = egress({});
    const quiet: Session = { ...session, backends: new Map([['search', { protocolVersion: '2025-11-25', capabilities: NO_CAPABILITIES }]]) };
    const { body } = answer(await setLevelAll(context(client), setLevel, quiet, '2025-11-25', log));
    expect(body.error?.code).toBe(-32601);
    expect(body.error?.message).toContain('search');
    expect(sent.size).toBe(0);
  });
});
