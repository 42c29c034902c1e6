// The pure parts of telemetry: when tracing starts, span names, trace parents, session digests, bounded labels.
import { trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/app/runtime/load.js';
import { compilePolicy } from '../../src/core/policy/compile.js';
import { spanName, targetAttributes } from '../../src/ports/telemetry/attributes.js';
import { methodLabel, taskLabel, ToolLabels } from '../../src/ports/telemetry/labels.js';
import { metaCarrier, parentContext, sessionDigest } from '../../src/ports/telemetry/trace-context.js';
import { tracingRequested } from '../../src/ports/telemetry/tracing.js';

describe('tracingRequested', () => {
  it.each([
    ['no OTEL_* variable', {}, false],
    ['an OTLP endpoint', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    ['a traces endpoint', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    ['an endpoint with exporter none', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' }, false],
    ['an explicit exporter without endpoint', { OTEL_TRACES_EXPORTER: 'console' }, true],
    ['an endpoint with the SDK disabled', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' }, false],
    ['an empty endpoint', { OTEL_EXPORTER_OTLP_ENDPOINT: ' ' }, false],
  ])('%s → %s', (_name, env, expected) => {
    expect(tracingRequested(env)).toBe(expected);
  });
});

describe('spanName', () => {
  it.each([
    ['tools/call', 'refund', 'tools/call refund'],
    ['tools/list', undefined, 'tools/list'],
    [undefined, undefined, 'auth GET'],
  ])('%s %s → %s', (method, target, expected) => {
    expect(spanName(method, target, 'auth', 'GET')).toBe(expected);
  });

  it('puts the target under the attribute its method calls for', () => {
    expect(targetAttributes('tools/call', 'refund')).toEqual({ 'gen_ai.tool.name': 'refund', 'gen_ai.operation.name': 'execute_tool' });
    expect(targetAttributes('prompts/get', 'greet')).toEqual({ 'gen_ai.prompt.name': 'greet' });
    expect(targetAttributes('resources/read', 'file:///a')).toEqual({ 'mcp.resource.uri': 'file:///a' });
    expect(targetAttributes('ping', undefined)).toEqual({});
  });
});

describe('parentContext', () => {
  const header = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const body = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const parentOf = (ctx: ReturnType<typeof parentContext>) => trace.getSpanContext(ctx)?.spanId;

  it.each([
    ['the header when both carry one', [{ traceparent: header }, { traceparent: body }], 'b7ad6b7169203331'],
    ['the body when there is no header', [{ traceparent: undefined }, { traceparent: body }], '00f067aa0ba902b7'],
    ['the body when the header is malformed', [{ traceparent: 'garbage' }, { traceparent: body }], '00f067aa0ba902b7'],
    ['nothing when neither carries one', [{}, undefined], undefined],
  ])('takes %s', (_name, carriers, spanId) => {
    expect(parentOf(parentContext(...carriers))).toBe(spanId);
  });

  it('reads tracestate next to traceparent in params._meta', () => {
    expect(metaCarrier({ _meta: { traceparent: body, tracestate: 'vendor=1' } }, body)).toEqual({ traceparent: body, tracestate: 'vendor=1' });
    expect(metaCarrier({}, undefined)).toBeUndefined();
  });
});

describe('sessionDigest', () => {
  it('is short, stable and does not contain the session id', () => {
    const sid = 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIiwia2lkIjoiazEifQ..abc.def.ghi';
    expect(sessionDigest(sid)).toHaveLength(16);
    expect(sessionDigest(sid)).toBe(sessionDigest(sid));
    expect(sid).not.toContain(sessionDigest(sid) as string);
    expect(sessionDigest(undefined)).toBeUndefined();
    expect(sessionDigest('')).toBeUndefined();
  });
});

describe('metric labels', () => {
  const file = '/nonexistent/toolgate.yaml';
  const policy = compilePolicy(
    parseConfigText(
      `resource: https://mcp.test/mcp
identity: { jwt: { issuer: https://auth.test, jwksFile: jwks.json } }
tasks:
  billing:
    tools: [{ tool: refund }, { tool: "reports.*" }]
`,
      file,
    ),
    file,
  );

  it.each([
    ['tools/call', 'tools/call'],
    ['notifications/initialized', 'notifications/initialized'],
    ['made/up', 'other'],
    [undefined, 'none'],
  ])('method %s → %s', (method, label) => {
    expect(methodLabel(method)).toBe(label);
  });

  it.each([
    ['billing', 'billing'],
    ['not-configured', 'other'],
    [undefined, 'none'],
  ])('task %s → %s', (task, label) => {
    expect(taskLabel(policy, task)).toBe(label);
  });

  it('keeps tool names a rule covers, up to a cap, and folds the rest into "other"', () => {
    const tools = new ToolLabels(2);
    expect(tools.label(policy, 'refund')).toBe('refund');
    expect(tools.label(policy, 'delete_everything')).toBe('other');
    expect(tools.label(policy, 'reports.daily')).toBe('reports.daily');
    expect(tools.label(policy, 'reports.weekly')).toBe('other');
    expect(tools.label(policy, 'refund')).toBe('refund');
    expect(tools.label(policy, undefined)).toBe('none');
  });
});
