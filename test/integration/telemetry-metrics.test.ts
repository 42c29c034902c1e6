// Prometheus series on the built toolgate's admin port after real Check and ext_proc traffic; tracing switched off by OTEL_TRACES_EXPORTER=none.
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkedHeaders, extProcClient, headers as procHeaders } from '../contract/extproc-client.js';
import { eventually } from '../harness/eventually.js';
import { checkClient, toolCall } from '../harness/check-client.js';
import { printLogsOnFailure } from '../harness/logs.js';
import {
  keyring, sample, scrape, startOtlpReceiver, startTelemetryToolgate, SUBJECT,
  type OtlpReceiver, type TelemetryToolgate,
} from './telemetry-harness.js';

let receiver: OtlpReceiver;
let toolgate: TelemetryToolgate;
let metrics: string;

printLogsOnFailure();

const text = async () => (await scrape(toolgate.adminUrl)).text;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  // An endpoint is set, but OTEL_TRACES_EXPORTER=none wins: nothing may be exported.
  toolgate = await startTelemetryToolgate({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_TRACES_EXPORTER: 'none', OTEL_BSP_SCHEDULE_DELAY: '50' });
  const authz = checkClient(toolgate.grpcPort);
  const proc = extProcClient(toolgate.grpcPort);
  try {
    const bearer = { authorization: `Bearer ${await toolgate.token()}` };
    for (const [id, body] of [
      [1, toolCall('refund', { amount: 20 }, 1)],
      [2, toolCall('refund', { amount: 30 }, 2)],
      [3, toolCall('refund', { amount: 500 }, 3)],
      [4, toolCall('nuke_everything', {}, 4)],
      [5, { jsonrpc: '2.0', id: 5, method: 'ping' }],
    ] as const) {
      const answer = await authz.check({ headers: bearer, body });
      expect(answer.grpcCode, `Check ${id}`).toBeTypeOf('number');
    }
    await authz.check({ body: toolCall('refund', { amount: 1 }, 6) });

    const forwarded = { subject: SUBJECT, task: 'refunds', decision_id: 'd1', method: 'tools/list', tasks: ['refunds'] };
    const good = proc.open();
    await good.send(checkedHeaders(keyring, { ':method': 'POST', ':path': '/mcp' }, forwarded));
    const refused = proc.open();
    await refused.send(checkedHeaders(keyring, { ':method': 'POST', ':path': '/mcp', 'mcp-session-id': 'not-a-token' }, forwarded));
    // The same identity without the signature toolgate's Check adds: refused before any processor runs.
    const forged = proc.open();
    await forged.send(procHeaders({ ':method': 'POST', ':path': '/mcp', 'x-request-id': 'forged-1' }, forwarded));
    // Only the list's stream is open now (toolgate waits for its response headers); toolgate ended the refused and
    // the forged ones with their immediate answers.
    expect(sample(await text(), 'toolgate_ext_proc_active_streams')).toBe(1);
    good.end();
    refused.end();
    forged.end();
    await eventually(async () => sample(await text(), 'toolgate_ext_proc_active_streams') === 0, 'ext_proc streams to close', 10_000, 50);
  } finally {
    authz.close();
    proc.close();
  }

  // One rejected and one accepted config change.
  const valid = await readFile(toolgate.configPath, 'utf8');
  await writeFile(toolgate.configPath, 'resource: [not, a, url]\n');
  await eventually(async () => (sample(await text(), 'toolgate_config_reloads_total', { result: 'failure' }) ?? 0) >= 1, 'the rejected reload', 10_000, 50);
  await writeFile(toolgate.configPath, `${valid}# touched\n`);
  await eventually(async () => (sample(await text(), 'toolgate_config_reloads_total', { result: 'success' }) ?? 0) >= 1, 'the accepted reload', 10_000, 50);

  metrics = await text();
});

afterAll(async () => {
  await toolgate?.dispose();
  await receiver?.stop();
});

describe('/metrics on the admin port', () => {
  it('answers in the Prometheus text format', async () => {
    const res = await scrape(toolgate.adminUrl);
    expect(res.status).toBe(200);
    expect(res.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it.each([
    [{ result: 'allow', reason: 'allowed', task: 'refunds', tool: 'refund' }, 2],
    [{ result: 'deny', reason: 'condition-failed', task: 'refunds', tool: 'refund' }, 1],
    // A tool no rule covers never becomes a label value of its own.
    [{ result: 'deny', reason: 'tool-not-in-task', task: 'refunds', tool: 'other' }, 1],
    [{ result: 'allow', reason: 'housekeeping', task: 'refunds', tool: 'none' }, 1],
    [{ result: 'deny', reason: 'token-missing', task: 'none', tool: 'none' }, 1],
  ])('counts decisions by result, reason, task and tool: %o', (labels, count) => {
    expect(sample(metrics, 'toolgate_decisions_total', labels)).toBe(count);
  });

  it('times Checks in a histogram with sub-millisecond buckets, by result and by MCP method', () => {
    expect(sample(metrics, 'toolgate_check_duration_seconds_count', { result: 'allow' })).toBe(3);
    expect(sample(metrics, 'toolgate_check_duration_seconds_count', { result: 'deny' })).toBe(3);
    expect(sample(metrics, 'toolgate_check_duration_seconds_sum', { result: 'allow' })).toBeGreaterThan(0);
    expect(sample(metrics, 'toolgate_check_duration_seconds_bucket', { result: 'allow', le: '0.0001' })).toBeTypeOf('number');
    expect(sample(metrics, 'toolgate_check_duration_seconds_bucket', { result: 'allow', le: '+Inf' })).toBe(3);
    expect(sample(metrics, 'toolgate_mcp_server_operation_duration_seconds_count', { mcp_method_name: 'tools/call' })).toBe(4);
    expect(sample(metrics, 'toolgate_mcp_server_operation_duration_seconds_count', { mcp_method_name: 'ping' })).toBe(1);
  });

  it('times ext_proc phases and tracks open streams', () => {
    expect(sample(metrics, 'toolgate_ext_proc_phase_duration_seconds_count', { phase: 'request_headers' })).toBe(3);
    expect(sample(metrics, 'toolgate_ext_proc_active_streams')).toBe(0);
  });

  it('counts refused session tokens and handoffs by reason, store errors by feature and config reloads by result', () => {
    expect(sample(metrics, 'toolgate_session_rejections_total', { reason: 'malformed' })).toBe(1);
    expect(sample(metrics, 'toolgate_session_rejections_total', { reason: 'wrong-subject' })).toBe(0);
    expect(sample(metrics, 'toolgate_handoff_rejections_total', { reason: 'missing' })).toBe(1);
    expect(sample(metrics, 'toolgate_handoff_rejections_total', { reason: 'bad-mac' })).toBe(0);
    for (const feature of ['quota', 'budget', 'loop', 'revocation']) {
      expect(sample(metrics, 'toolgate_store_errors_total', { feature })).toBe(0);
    }
    // The file watcher and the poll may both see one change: at least one reload of each kind.
    expect(sample(metrics, 'toolgate_config_reloads_total', { result: 'failure' })).toBeGreaterThanOrEqual(1);
    expect(sample(metrics, 'toolgate_config_reloads_total', { result: 'success' })).toBeGreaterThanOrEqual(1);
  });

  it('exposes the Node process metrics', () => {
    expect(sample(metrics, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(sample(metrics, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sample(metrics, 'nodejs_eventloop_lag_seconds')).toBeTypeOf('number');
  });
});

describe('OTEL_TRACES_EXPORTER=none', () => {
  it('keeps tracing off even with an endpoint set: nothing is exported', async () => {
    await new Promise((r) => setTimeout(r, 200));
    expect(receiver.posts()).toBe(0);
    expect(toolgate.logs()).not.toContain('tracing.started');
  });
});
