// The sidecar exchange as a spec, driven by what the pinned Envoy sent toolgate for one real MCP SDK session
// (test/fixtures/envoy-<version>/sidecar.*.json): each row is a scenario, a phase, and what toolgate must answer.
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { openSession } from '../../src/core/session/token.js';
import { asClientSessionToken } from '../../src/core/session/types.js';
import { maskSessionHeader, presentedSession } from '../../src/pipeline/extproc/client-session.js';
import { SOLE_BACKEND } from '../../src/pipeline/extproc/sidecar.js';
import type { RecordedExchange } from '../harness/envoy-fixtures.js';
import {
  answerFor, asRecorded, asRecordedRows, atRecordedTime, checkRequestOf, commonOf, envoyHeaders, envoySent, headersSet, metadataOf, modeOf,
  single, type ScenarioReplay, type SpecRow as Row,
  useReplays,
} from './exchange-replay.js';

const MODE = 'sidecar';
const replays = useReplays(MODE);

const only = (name: string) => single(replays, MODE, name);
const metadata = metadataOf;
const mode = modeOf;
const presented = (e: RecordedExchange) => envoyHeaders(e.stream, 'request_headers')['mcp-session-id'];
/** The request headers a recorded Check carried (Envoy's view of the client's request). */
const checkHeaders = (e: RecordedExchange) => ((checkRequestOf(e.check as NonNullable<RecordedExchange['check']>).attributes as { request: { http: { headers: Record<string, string> } } }).request.http.headers);
type HeaderOption = { header: { key: string; value: string }; append_action: string };
/** The backend's own session id, as the backend set it on its initialize answer. */
const backendSessionId = () => envoyHeaders(only('initialize').recorded.stream, 'response_headers')['mcp-session-id'] as string;
const keyring = () => only('initialize').replay.replay.runtime.sessions.keyring;

describe('sidecar: every recorded message gets the answer toolgate gave when it was recorded', () => {
  it.each(asRecordedRows(MODE))('%s', (_title, name, index, kind) => {
    const { got, want } = asRecorded(replays.get(name) as ScenarioReplay, index, kind);
    expect(got).toEqual(want);
  });
});

const SPEC: readonly Row[] = [
  {
    scenario: 'initialize', phase: 'Check', answer: 'allows, and hands ext_proc the caller and the method, signed for this request id',
    verify() {
      const { recorded, check } = only('initialize');
      expect((check?.status as { code?: number } | undefined)?.code ?? 0).toBe(0);
      const requestId = ((checkRequestOf(recorded.check as NonNullable<RecordedExchange['check']>).attributes as { request: { http: { headers: Record<string, string> } } }).request.http.headers)['x-request-id'];
      expect(metadata(check)).toMatchObject({ subject: 'user-1', method: 'initialize', request_id: requestId, handoff_kid: 'fixture-k1' });
    },
  },
  {
    scenario: 'initialize', phase: 'request_headers', answer: 'continues unchanged (no session yet) and asks to see the response headers',
    verify() {
      const a = answerFor(only('initialize').stream, 'request_headers');
      expect(headersSet(a)).toEqual({});
      expect(mode(a)).toMatchObject({ response_header_mode: 'SEND', request_body_mode: 'NONE', response_body_mode: 'NONE' });
    },
  },
  {
    scenario: 'initialize', phase: 'response_headers', answer: 'replaces the backend\'s session id with a new sealed token that opens, for this caller only, to that id',
    async verify() {
      const { stream, recorded } = only('initialize');
      const token = headersSet(answerFor(stream, 'response_headers'))['mcp-session-id'] as string;
      expect(token).not.toBe(backendSessionId());
      atRecordedTime(recorded.stream?.events.at(-1)?.at as number);
      const opened = await openSession(keyring(), asClientSessionToken(token), { expectedSubject: 'user-1' });
      expect(opened.ok && opened.session.backends.get(SOLE_BACKEND)?.sessionId).toBe(backendSessionId());
      const stranger = await openSession(keyring(), asClientSessionToken(token), { expectedSubject: 'someone-else' });
      expect(stranger.ok).toBe(false);
    },
  },
  {
    scenario: 'get-event-stream', phase: 'request_headers', answer: 'swaps the presented token for the backend\'s session id, and watches no response',
    verify() {
      const a = answerFor(only('get-event-stream').stream, 'request_headers');
      expect(presented(only('get-event-stream').recorded)).toMatch(/^eyJ/);
      expect(headersSet(a)).toEqual({ 'mcp-session-id': backendSessionId() });
      expect(mode(a)).toMatchObject({ response_header_mode: 'SKIP', response_body_mode: 'NONE' });
    },
  },
  ...(['notifications-initialized', 'tools-call-allowed'] as const).map((scenario): Row => ({
    scenario,
    phase: 'Check',
    answer: 'swaps the presented token for the backend\'s session id itself, writes the client\'s token back over the response\'s, and marks the exchange finished: Envoy opens no ext_proc stream',
    verify() {
      const { recorded, check } = only(scenario);
      const token = checkHeaders(recorded)['mcp-session-id'];
      expect(token).toMatch(/^eyJ/);
      const ok = check?.ok_response as { headers: HeaderOption[]; headers_to_remove: string[]; response_headers_to_add: HeaderOption[] };
      expect(ok.headers).toContainEqual({ header: { key: 'mcp-session-id', value: backendSessionId() }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' });
      expect(ok.headers_to_remove).not.toContain('mcp-session-id');
      expect(ok.response_headers_to_add).toEqual([{ header: { key: 'mcp-session-id', value: token }, append_action: 'OVERWRITE_IF_EXISTS' }]);
      // No handoff: nothing is left for ext_proc, and the pinned Envoy's matcher skipped it (no stream was recorded).
      expect(metadata(check)).toEqual({ exchange: 'done' });
      expect(recorded.stream).toBeUndefined();
    },
  })),
  {
    scenario: 'tools-list', phase: 'request_headers', answer: 'swaps the token for the backend\'s id and asks to see the response headers (a list is filtered)',
    verify() {
      const a = answerFor(only('tools-list').stream, 'request_headers');
      expect(headersSet(a)).toEqual({ 'mcp-session-id': backendSessionId() });
      expect(mode(a)).toMatchObject({ response_header_mode: 'SEND' });
    },
  },
  {
    scenario: 'tools-list', phase: 'response_headers', answer: 'hands the client its own token back over the backend\'s id, and asks for the buffered body',
    verify() {
      const { recorded, stream } = only('tools-list');
      const a = answerFor(stream, 'response_headers');
      expect(envoyHeaders(recorded.stream, 'response_headers')['mcp-session-id']).toBe(backendSessionId());
      expect(headersSet(a)).toEqual(maskSessionHeader(envoyHeaders(recorded.stream, 'response_headers'), presented(recorded))?.set);
      expect(mode(a)).toMatchObject({ response_body_mode: 'BUFFERED' });
    },
  },
  {
    scenario: 'tools-list', phase: 'response_body', answer: 'removes every tool the caller\'s tasks do not name (refund and the rest), keeping echo and add',
    verify() {
      const { recorded, stream } = only('tools-list');
      const listed = toolNames(String((envoySent(recorded.stream, 'response_body').response_body as { body: Buffer }).body));
      expect(listed).toEqual(expect.arrayContaining(['echo', 'add', 'refund']));
      const body = (commonOf(answerFor(stream, 'response_body')).body_mutation as { body: string }).body;
      expect(toolNames(body).sort()).toEqual(['add', 'echo']);
      expect(headersSet(answerFor(stream, 'response_body'))['content-length']).toBe(String(Buffer.byteLength(body)));
    },
  },
  {
    scenario: 'tools-call-denied', phase: 'Check', answer: 'denies: HTTP 200 tool result with isError, reason tool-not-in-task and a sentence naming the allowed tools; Envoy opens no ext_proc stream',
    verify() {
      const { recorded, check } = only('tools-call-denied');
      const denied = check?.denied_response as { status: { code: string }; body: string };
      expect(denied.status.code).toBe('OK');
      const body = JSON.parse(denied.body) as { result: { isError: boolean; content: Array<{ text: string }>; structuredContent: { code: string } } };
      expect(body.result.isError).toBe(true);
      expect(body.result.structuredContent.code).toBe('tool-not-in-task');
      expect(body.result.content[0]?.text).toMatch(/"refund" is not part of task "support".*echo, add/);
      expect(recorded.stream).toBeUndefined();
    },
  },
  {
    scenario: 'delete', phase: 'request_headers', answer: 'swaps the token for the backend\'s id and watches the response (to revoke on success)',
    verify() {
      const a = answerFor(only('delete').stream, 'request_headers');
      expect(headersSet(a)).toEqual({ 'mcp-session-id': backendSessionId() });
      expect(mode(a)).toMatchObject({ response_header_mode: 'SEND' });
    },
  },
  {
    scenario: 'delete', phase: 'response_headers', answer: 'after the backend\'s 2xx the token is revoked: presenting it again is a 404',
    async verify() {
      const { recorded, replay } = only('delete');
      expect(envoyHeaders(recorded.stream, 'response_headers')[':status']).toMatch(/^2/);
      atRecordedTime(recorded.stream?.events.at(-1)?.at as number);
      const { runtime } = replay.replay;
      const headers = envoyHeaders(recorded.stream, 'request_headers');
      const authz = { subject: 'user-1', task: undefined, decisionId: 'd', method: undefined, target: undefined, tasks: [] };
      const again = await presentedSession(runtime, replay.replay, headers, authz, pino({ level: 'silent' }));
      expect(again.kind === 'refused' && again.step.kind === 'immediate' && again.step.status).toBe(404);
      // The same token before the DELETE (a store that never saw it) still opens: the refusal is the revocation.
      const fresh = only('tools-call-allowed').replay.replay;
      const before = await presentedSession(fresh.runtime, fresh, headers, authz, pino({ level: 'silent' }));
      expect(before.kind).toBe('open');
    },
  },
];

describe('sidecar exchange, from recorded Envoy messages', () => {
  it.each(SPEC.map((row) => [`${row.scenario} · ${row.phase}: ${row.answer}`, row] as const))('%s', async (_title, row) => {
    await row.verify();
  });
});

/** Tool names of a tools/list answer, JSON or one SSE event. */
function toolNames(text: string): string[] {
  const json = text.trimStart().startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '');
  return ((JSON.parse(json) as { result?: { tools?: Array<{ name: string }> } }).result?.tools ?? []).map((t) => t.name);
}
