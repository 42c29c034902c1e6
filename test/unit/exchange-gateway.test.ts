// The gateway exchange as a spec, driven by what the pinned Envoy sent toolgate for one real MCP SDK session across
// billing and inventory (test/fixtures/envoy-<version>/gateway.*.json). toolgate's fan-out reaches a stub egress on
// 127.0.0.1 that answers with what the backends answered through Envoy when it was recorded.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { readRequest } from '../../src/core/mcp/body.js';
import { openSession } from '../../src/core/session/token.js';
import { asClientSessionToken, type Session } from '../../src/core/session/types.js';
import { presentedSession } from '../../src/pipeline/extproc/client-session.js';
import { gatewayContext } from '../../src/pipeline/extproc/gateway-context.js';
import { resolveCall } from '../../src/pipeline/extproc/gateway-route.js';
import { BACKEND_HEADER } from '../../src/pipeline/fanout/egress.js';
import type { RecordedExchange } from '../harness/envoy-fixtures.js';
import {
  answerFor, asRecorded, asRecordedRows, atRecordedTime, commonOf, envoyHeaders, envoySent, headersSet, metadataOf, modeOf,
  single, type Decoded, type ScenarioReplay, type SpecRow as Row,
  useReplays,
} from './exchange-replay.js';

const MODE = 'gateway';
const BACKENDS = ['billing', 'inventory'] as const;
const replays = useReplays(MODE);

const only = (name: string) => single(replays, MODE, name);
const silent = pino({ level: 'silent' });
const immediate = (answer: Decoded) => answer.immediate_response as { status: { code: string }; body: string };

/** Each backend's own session id, as it answered the recorded initialize fan-out. */
function backendSessionIds(): Record<string, string> {
  const egress = only('initialize').recorded.egress;
  return Object.fromEntries(BACKENDS.map((b) => [b, egress.find((e) => e.headers[BACKEND_HEADER] === b)?.responseHeaders['mcp-session-id'] ?? '']));
}

/** The session the recorded request presented, opened at its recorded time. */
async function presented(e: RecordedExchange): Promise<Session> {
  atRecordedTime(e.stream?.events[0]?.at as number);
  const token = envoyHeaders(e.stream, 'request_headers')['mcp-session-id'] as string;
  const opened = await openSession(only('initialize').replay.replay.runtime.sessions.keyring, asClientSessionToken(token), { expectedSubject: 'user-1' });
  if (!opened.ok) throw new Error(`the recorded token did not open: ${opened.reason}`);
  return opened.session;
}

describe('gateway: every recorded message gets the answer toolgate gave when it was recorded', () => {
  it.each(asRecordedRows(MODE))('%s', (_title, name, index, kind) => {
    const { got, want } = asRecorded(replays.get(name) as ScenarioReplay, index, kind);
    expect(got).toEqual(want);
  });
});

const routedCall = (backend: (typeof BACKENDS)[number]): Row[] => [
  {
    scenario: `tools-call-${backend}`, phase: 'request_headers', answer: 'asks for the buffered request body (it routes on the tool name)',
    verify() {
      const a = answerFor(only(`tools-call-${backend}`).stream, 'request_headers');
      expect(headersSet(a)).toEqual({});
      expect(modeOf(a)).toMatchObject({ request_body_mode: 'BUFFERED', response_header_mode: 'SKIP' });
    },
  },
  {
    scenario: `tools-call-${backend}`, phase: 'request_body',
    answer: `routes to ${backend} (x-toolgate-backend, its own session id, the affinity key, route cache cleared) with the prefix taken off the name`,
    async verify() {
      const { recorded, stream, replay } = only(`tools-call-${backend}`);
      const session = await presented(recorded);
      const a = answerFor(stream, 'request_body');
      expect(headersSet(a)).toMatchObject({
        [BACKEND_HEADER]: backend,
        'mcp-session-id': backendSessionIds()[backend],
        'mcp-protocol-version': session.backends.get(backend)?.protocolVersion,
        'x-toolgate-affinity': session.tokenId,
      });
      expect(session.backends.get(backend)?.sessionId).toBe(backendSessionIds()[backend]);
      const common = commonOf(a);
      expect(common.clear_route_cache).toBe(true);
      const sent = JSON.parse((common.body_mutation as { body: string }).body) as { params: { name: string; arguments: unknown } };
      expect(sent.params).toEqual({ name: 'echo', arguments: { text: `hello ${backend}` } });
      // gateway-route's reading of the recorded body names the same backend and name the stream routed to.
      const body = (envoySent(recorded.stream, 'request_body').request_body as { body: Buffer }).body;
      const call = readRequest({ method: 'POST', headers: envoyHeaders(recorded.stream, 'request_headers'), body: Buffer.from(body) });
      expect(call.type).toBe('call');
      const resolved = call.type === 'call' ? resolveCall(gatewayContext(replay.replay.runtime), call) : undefined;
      expect(resolved?.ok && resolved.ref).toEqual({ backend, name: 'echo' });
      expect(replay.replay.served).toEqual([]);
    },
  },
];

const SPEC: readonly Row[] = [
  {
    scenario: 'initialize', phase: 'request_headers', answer: 'asks for the buffered body and no response headers (toolgate answers initialize itself)',
    verify() {
      const a = answerFor(only('initialize').stream, 'request_headers');
      expect(headersSet(a)).toEqual({});
      expect(modeOf(a)).toMatchObject({ request_body_mode: 'BUFFERED', response_header_mode: 'SKIP' });
    },
  },
  {
    scenario: 'initialize', phase: 'request_body',
    answer: 'fans initialize out to billing and inventory, and answers 200 itself with one new token that opens, for this caller, to both backends\' session ids',
    async verify() {
      const { recorded, stream, replay } = only('initialize');
      expect(replay.replay.served.sort()).toEqual(['billing POST initialize', 'inventory POST initialize']);
      expect(replay.replay.unmatched).toEqual([]);
      const a = answerFor(stream, 'immediate_response');
      expect(immediate(a).status.code).toBe('OK');
      expect((JSON.parse(immediate(a).body) as { result: { serverInfo: { name: string } } }).result.serverInfo.name).toBe('toolgate');
      const token = headersSet(a)['mcp-session-id'] as string;
      expect(Object.values(backendSessionIds())).not.toContain(token);
      atRecordedTime(recorded.stream?.events.at(-1)?.at as number);
      const opened = await openSession(replay.replay.runtime.sessions.keyring, asClientSessionToken(token), { expectedSubject: 'user-1' });
      expect(opened.ok && Object.fromEntries([...opened.session.backends].map(([b, s]) => [b, s.sessionId]))).toEqual(backendSessionIds());
    },
  },
  {
    scenario: 'notifications-initialized', phase: 'request_body', answer: 'fans the notification out to both backends (each with its own session id) and answers 202 itself',
    async verify() {
      const { stream, replay } = only('notifications-initialized');
      expect(immediate(answerFor(stream, 'immediate_response')).status.code).toBe('Accepted');
      expect(replay.replay.received.map((r) => [r.key, r.headers['mcp-session-id']]).sort()).toEqual([
        ['billing POST notifications/initialized', backendSessionIds().billing],
        ['inventory POST notifications/initialized', backendSessionIds().inventory],
      ]);
    },
  },
  {
    scenario: 'tools-list', phase: 'request_body', answer: 'fans tools/list out to both backends and answers itself with prefixed names, only those the support task names',
    verify() {
      const { stream, replay } = only('tools-list');
      expect(replay.replay.served.sort()).toEqual(['billing POST tools/list', 'inventory POST tools/list']);
      const tools = (JSON.parse(immediate(answerFor(stream, 'immediate_response')).body) as { result: { tools: Array<{ name: string }> } }).result.tools.map((t) => t.name);
      expect(tools.sort()).toEqual(['billing.echo', 'billing.lookup_charge', 'billing.refund', 'billing.slow', 'billing.whoami', 'inventory.echo', 'inventory.whoami']);
      // The backends listed more (e.g. add, which no task names): the filter, not the backends, made the list.
      const listed = only('tools-list').recorded.egress.flatMap((e) => (/^data: (.*)$/m.exec(e.responseBody)?.[1] ?? '{}')).flatMap((d) => ((JSON.parse(d) as { result?: { tools?: Array<{ name: string }> } }).result?.tools ?? []).map((t) => t.name));
      expect(listed).toContain('add');
    },
  },
  ...routedCall('billing'),
  ...routedCall('inventory'),
  {
    scenario: 'tools-call-denied', phase: 'Check', answer: 'denies billing.refund above the limit: HTTP 200 tool result with isError, reason condition-failed and the task\'s own message; Envoy opens no ext_proc stream',
    verify() {
      const { recorded, check } = only('tools-call-denied');
      expect(metadataOf(check)).toEqual({});
      const denied = check?.denied_response as { status: { code: string }; body: string };
      expect(denied.status.code).toBe('OK');
      const body = JSON.parse(denied.body) as { result: { isError: boolean; content: Array<{ text: string }>; structuredContent: { code: string } } };
      expect(body.result).toMatchObject({ isError: true, structuredContent: { code: 'condition-failed' } });
      expect(body.result.content[0]?.text).toBe('Refunds above 100 need a human approver. Do not retry.');
      expect(recorded.stream).toBeUndefined();
    },
  },
  {
    scenario: 'delete', phase: 'request_headers', answer: 'DELETEs each backend\'s session through egress, answers 200 itself, and the token is refused (404) from then on',
    async verify() {
      const { recorded, stream, replay } = only('delete');
      expect(immediate(answerFor(stream, 'immediate_response')).status.code).toBe('OK');
      expect(replay.replay.received.map((r) => [r.key, r.headers['mcp-session-id']]).sort()).toEqual([
        ['billing DELETE', backendSessionIds().billing],
        ['inventory DELETE', backendSessionIds().inventory],
      ]);
      atRecordedTime(recorded.stream?.events.at(-1)?.at as number);
      const headers = envoyHeaders(recorded.stream, 'request_headers');
      const authz = { subject: 'user-1', task: undefined, decisionId: 'd', method: undefined, target: undefined, tasks: [] };
      const again = await presentedSession(replay.replay.runtime, replay.replay, headers, authz, silent);
      expect(again.kind === 'refused' && again.step.kind === 'immediate' && again.step.status, JSON.stringify(again).slice(0, 400)).toBe(404);
    },
  },
  {
    scenario: 'get-event-stream', phase: 'request_headers', answer: 'sends the GET to toolgate\'s event-stream server with a grant for this caller (route cache cleared), and fans nothing out itself',
    verify() {
      const { stream, replay } = only('get-event-stream');
      const a = answerFor(stream, 'request_headers');
      expect(Object.keys(headersSet(a))).toEqual(['x-toolgate-events-grant']);
      expect(headersSet(a)['x-toolgate-events-grant']).toContain(`.${Buffer.from('user-1').toString('base64url')}.`);
      expect(commonOf(a).clear_route_cache).toBe(true);
      expect(replay.replay.served).toEqual([]);
    },
  },
];

describe('gateway exchange, from recorded Envoy messages', () => {
  it.each(SPEC.map((row) => [`${row.scenario} · ${row.phase}: ${row.answer}`, row] as const))('%s', async (_title, row) => {
    await row.verify();
  });
});
