// Spans from the built toolgate, exported over OTLP/HTTP (JSON) to an in-process receiver, for Check and ext_proc.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HandoffValue } from '../../src/core/session/handoff.js';
import { sealSession } from '../../src/core/session/token.js';
import { NO_CAPABILITIES, toBackendSessionId } from '../../src/core/session/types.js';
import { body as procBody, checkedHeaders, extProcClient, headers as rawHeaders } from '../contract/extproc-client.js';
import { checkClient, toolCall } from '../harness/check-client.js';
import { printLogsOnFailure } from '../harness/logs.js';
import {
  keyring, newTraceParent, startOtlpReceiver, startTelemetryToolgate, SUBJECT,
  type OtlpReceiver, type ReceivedSpan, type TelemetryToolgate, type TraceParent,
} from './telemetry-harness.js';

const SERVER = 2;
const STATUS_ERROR = 2;

let receiver: OtlpReceiver;
let toolgate: TelemetryToolgate;
let authz: ReturnType<typeof checkClient>;
let proc: ReturnType<typeof extProcClient>;
let token: string;

printLogsOnFailure();

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  toolgate = await startTelemetryToolgate({
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '50',
    OTEL_SERVICE_NAME: 'toolgate-under-test',
  });
  authz = checkClient(toolgate.grpcPort);
  proc = extProcClient(toolgate.grpcPort);
  token = await toolgate.token();
});

afterAll(async () => {
  authz?.close();
  proc?.close();
  await toolgate?.dispose();
  await receiver?.stop();
});

const inTrace = (tp: TraceParent) => (s: ReceivedSpan) => s.traceId === tp.traceId;
const digest = (v: string) => createHash('sha256').update(v).digest('base64url').slice(0, 16);

describe('Check spans', () => {
  it('names the span "{method} {target}" and carries the MCP and decision attributes, parented by the traceparent header', async () => {
    const tp = newTraceParent();
    // A sidecar tools/call's Check opens the session token itself: a real one, sealed as initialize would.
    const sessionId = await sealSession(keyring, { subject: SUBJECT, backends: new Map([['_', { sessionId: toBackendSessionId('backend-sid'), protocolVersion: '2025-11-25', capabilities: NO_CAPABILITIES }]]) }, { ttlSeconds: 600 });
    const answer = await authz.check({
      headers: { authorization: `Bearer ${token}`, traceparent: tp.header, 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
      body: toolCall('refund', { amount: 20 }, 42),
    });
    expect(answer.grpcCode).toBe(0);

    const span = await receiver.waitForSpan(inTrace(tp));
    expect(span).toMatchObject({ name: 'tools/call refund', kind: SERVER, traceId: tp.traceId, parentSpanId: tp.spanId });
    expect(span.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'mcp.session.id': digest(sessionId),
      'mcp.protocol.version': '2025-11-25',
      'gen_ai.tool.name': 'refund',
      'jsonrpc.request.id': '42',
      'toolgate.decision': 'allow',
      'toolgate.reason': 'allowed',
      'toolgate.task': 'refunds',
      // The audit record's id; a finished sidecar call hands no handoff (and so no decision id) to ext_proc.
      'toolgate.decision_id': expect.stringMatching(/^[0-9a-f-]{36}$/),
      'enduser.id': SUBJECT,
    });
    expect(span.attributes['error.type']).toBeUndefined();
    expect(span.status.code).not.toBe(STATUS_ERROR);
    expect(span.endNanos).toBeGreaterThanOrEqual(span.startNanos);
    expect(span.resource['service.name']).toBe('toolgate-under-test');
    // Neither the bearer token nor the client's session id (both credentials) appear anywhere in the span.
    const values = JSON.stringify(span.attributes);
    expect(values).not.toContain(token);
    expect(values).not.toContain(sessionId);
  });

  it.each([
    ['a condition that fails', toolCall('refund', { amount: 500 }, 7), 'condition-failed', 'tools/call refund'],
    ['a tool outside the task', toolCall('delete_account', {}, 8), 'tool-not-in-task', 'tools/call delete_account'],
  ])('sets error.type to the reason code on a deny (%s)', async (_name, body, reason, spanName) => {
    const tp = newTraceParent();
    await authz.check({ headers: { authorization: `Bearer ${token}`, traceparent: tp.header }, body });
    const span = await receiver.waitForSpan(inTrace(tp));
    expect(span.name).toBe(spanName);
    expect(span.attributes).toMatchObject({ 'error.type': reason, 'toolgate.decision': 'deny', 'toolgate.reason': reason, 'enduser.id': SUBJECT });
    expect(span.status.code).toBe(STATUS_ERROR);
  });

  it('carries a dry-run call\'s would-be denial on an allowed span', async () => {
    const tp = newTraceParent();
    const answer = await authz.check({ headers: { authorization: `Bearer ${token}`, traceparent: tp.header }, body: toolCall('wire', { amount: 500 }, 9) });
    expect(answer.grpcCode).toBe(0);
    const span = await receiver.waitForSpan(inTrace(tp));
    expect(span.attributes).toMatchObject({
      'toolgate.decision': 'allow',
      'toolgate.dry_run.decision': 'deny',
      'toolgate.dry_run.reason': 'condition-failed',
      'toolgate.dry_run.policy': 'tasks.refunds.tools[2].when',
    });
    expect(span.attributes['error.type']).toBeUndefined();
    expect(span.status.code).not.toBe(STATUS_ERROR);
  });

  it('takes the parent from params._meta.traceparent when no header carries one', async () => {
    const tp = newTraceParent();
    const answer = await authz.check({
      headers: { authorization: `Bearer ${token}` },
      body: toolCall('lookup_charge', { id: 'ch_1' }, 9, { traceparent: tp.header }),
    });
    const span = await receiver.waitForSpan(inTrace(tp));
    expect(span).toMatchObject({ name: 'tools/call lookup_charge', traceId: tp.traceId, parentSpanId: tp.spanId });
    // A sidecar tools/call is finished at the Check (Envoy skips ext_proc): nothing to hand over but the mark.
    expect(answer.metadata).toEqual({ exchange: 'done' });
    // Where ext_proc runs (a list), ext_authz forwards the body's trace context so ext_proc's span joins the same trace.
    const list = await authz.check({ headers: { authorization: `Bearer ${token}` }, body: { jsonrpc: '2.0', id: 12, method: 'tools/list', params: { _meta: { traceparent: tp.header } } } });
    expect(list.metadata.traceparent).toBe(tp.header);
  });

  it('marks a session token the Check refuses (a sidecar tools/call) as a deny with its reason, status and the session digest', async () => {
    const tp = newTraceParent();
    const answer = await authz.check({
      headers: { authorization: `Bearer ${token}`, traceparent: tp.header, 'mcp-session-id': 'not-a-token' },
      body: toolCall('refund', { amount: 20 }, 44),
    });
    expect(answer.status).toBe(404);
    const span = await receiver.waitForSpan(inTrace(tp));
    expect(span).toMatchObject({ name: 'tools/call refund', parentSpanId: tp.spanId });
    expect(span.attributes).toMatchObject({
      'error.type': 'session-not-found',
      'toolgate.decision': 'deny',
      'toolgate.reason': 'session-not-found',
      'http.response.status_code': 404,
      'mcp.session.id': digest('not-a-token'),
    });
    expect(span.status.code).toBe(STATUS_ERROR);
  });

  it('prefers the traceparent header over params._meta.traceparent', async () => {
    const header = newTraceParent();
    const meta = newTraceParent();
    await authz.check({
      headers: { authorization: `Bearer ${token}`, traceparent: header.header },
      body: toolCall('lookup_charge', { id: 'ch_2' }, 10, { traceparent: meta.header }),
    });
    const span = await receiver.waitForSpan(inTrace(header));
    expect(span.parentSpanId).toBe(header.spanId);
    expect(receiver.spans().some(inTrace(meta))).toBe(false);
  });

  it.each([
    ['the metadata document', { method: 'GET', path: '/.well-known/oauth-protected-resource' }, 'auth GET', undefined],
    ['a request without a token', { method: 'POST', body: toolCall('refund', { amount: 1 }, 11) }, 'auth POST', 'token-missing'],
  ])('names requests without a known MCP method "auth {HTTP method}" (%s)', async (_name, http, spanName, errorType) => {
    const tp = newTraceParent();
    await authz.check({ ...http, headers: { traceparent: tp.header } });
    const span = await receiver.waitForSpan(inTrace(tp));
    expect(span).toMatchObject({ name: spanName, kind: SERVER, parentSpanId: tp.spanId });
    expect(span.attributes['error.type']).toBe(errorType);
    expect(span.attributes['mcp.method.name']).toBeUndefined();
  });
});

describe('ext_proc spans', () => {
  /** Request headers as Envoy forwards them after toolgate's Check signed `authz` for them. */
  const procHeaders = (record: Record<string, string>, authz: Record<string, HandoffValue | undefined>) => checkedHeaders(keyring, record, authz);
  const forwarded = { subject: SUBJECT, task: 'refunds', decision_id: 'd-ext-proc-1', method: 'tools/call', target: 'refund' };

  it('covers the stream, named from the forwarded metadata, parented by the request traceparent header', async () => {
    const tp = newTraceParent();
    const stream = proc.open();
    const answer = await stream.send(procHeaders({ ':method': 'POST', ':path': '/mcp', traceparent: tp.header, 'mcp-protocol-version': '2025-11-25' }, forwarded));
    expect(answer.request_headers).toBeDefined();
    // A tool call asks for no later phase: toolgate ends the stream with this answer, and the span with it.
    const span = await receiver.waitForSpan(inTrace(tp));
    expect(span).toMatchObject({ name: 'tools/call refund', kind: SERVER, traceId: tp.traceId, parentSpanId: tp.spanId });
    expect(span.attributes).toMatchObject({
      'rpc.service': 'envoy.service.ext_proc.v3.ExternalProcessor',
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'refund',
      'mcp.protocol.version': '2025-11-25',
      'enduser.id': SUBJECT,
      'toolgate.task': 'refunds',
      'toolgate.decision_id': 'd-ext-proc-1',
    });
    expect(span.events.map((e) => e.name)).toEqual(['request_headers']);
    stream.end();
  });

  it('keeps the span open while toolgate waits for a later phase, and ends it after the last answer', async () => {
    const tp = newTraceParent();
    const list = { subject: SUBJECT, task: 'refunds', decision_id: 'd-ext-proc-list', method: 'tools/list', tasks: ['refunds'] };
    const stream = proc.open();
    await stream.send(procHeaders({ ':method': 'POST', ':path': '/mcp', traceparent: tp.header }, list));
    // toolgate waits for the list's response headers: the stream, and its span, stay open.
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.spans().some(inTrace(tp))).toBe(false);
    const headersAnswer = await stream.send(rawHeaders({ ':status': '200', 'content-type': 'application/json' }, undefined, 'response_headers'));
    expect(headersAnswer.mode_override?.response_body_mode).toBe('BUFFERED');
    await stream.send(procBody(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'refund' }] } }), 'response_body'));

    const span = await receiver.waitForSpan(inTrace(tp));
    expect(span).toMatchObject({ name: 'tools/list', parentSpanId: tp.spanId });
    expect(span.events.map((e) => e.name)).toEqual(['request_headers', 'response_headers', 'response_body']);
    expect(span.endNanos - span.startNanos).toBeGreaterThanOrEqual(250_000_000n);
    stream.end();
  });

  it('takes the parent from the trace context ext_authz forwarded when the request has no traceparent header', async () => {
    const tp = newTraceParent();
    const stream = proc.open();
    await stream.send(procHeaders({ ':method': 'POST', ':path': '/mcp' }, { ...forwarded, traceparent: tp.header }));
    stream.end();
    const span = await receiver.waitForSpan(inTrace(tp));
    expect(span).toMatchObject({ name: 'tools/call refund', parentSpanId: tp.spanId });
  });

  it('marks a refused session token as an error with its HTTP status', async () => {
    const tp = newTraceParent();
    const stream = proc.open();
    const answer = await stream.send(procHeaders({ ':method': 'POST', ':path': '/mcp', traceparent: tp.header, 'mcp-session-id': 'not-a-token' }, forwarded));
    expect(answer.immediate_response).toBeDefined();
    stream.end();
    const span = await receiver.waitForSpan(inTrace(tp));
    expect(span.attributes).toMatchObject({ 'error.type': '404', 'http.response.status_code': 404, 'mcp.session.id': digest('not-a-token') });
    expect(span.status.code).toBe(STATUS_ERROR);
  });
});
