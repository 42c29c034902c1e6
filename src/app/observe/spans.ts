// The spans of a Check and of an ext_proc stream, named and attributed after the OpenTelemetry MCP semantic
// conventions: loaded by telemetryHooks only when tracing is on, so a toolgate without tracing loads no OpenTelemetry.
import { context, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { AuthzInput } from '../../pipeline/authz/authorize.js';
import type { AuthzContext, Step } from '../../pipeline/extproc/exchange.js';
import type { Phase } from '../../envoy/process/stream.js';
import { MCP_PROTOCOL_HEADER, MCP_SESSION_HEADER as SESSION_HEADER, type McpMessage } from '../../core/mcp/message.js';
import { ATTR, defined, spanName, targetAttributes, TRACER_NAME } from '../../ports/telemetry/attributes.js';
import { metaCarrier, parentContext, sessionDigest } from '../../ports/telemetry/trace-context.js';
import type { CheckFacts, CheckSpan } from './check-observer.js';
import type { StreamSpan, StreamSpans } from './stream-observer.js';

export function checkSpans(): CheckSpan {
  const tracer = trace.getTracer(TRACER_NAME);
  return (input, facts, started, ended) => traceCheck(tracer, input, facts, started, ended);
}

export function streamSpans(): StreamSpans {
  const tracer = trace.getTracer(TRACER_NAME);
  return (authz, headers): StreamSpan => {
    // Header first; else the body's `_meta.traceparent`, which ext_authz read and forwarded.
    const parent = parentContext(
      { traceparent: headers.traceparent, tracestate: headers.tracestate },
      { traceparent: authz.traceparent },
    );
    const name = spanName(authz.method, authz.target, 'ext_proc', headers[':method']);
    const span = tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
    if (span.isRecording()) span.setAttributes(streamAttributes(authz, headers));
    const active = trace.setSpan(parent, span);
    return {
      // Active while the phase runs, so spans of toolgate's own calls (fan-out) nest under the exchange.
      run: (phase) => context.with(active, phase),
      phase(phase, step, seconds) {
        if (span.isRecording()) recordPhase(span, phase, step, seconds);
      },
      end(error) {
        if (error !== undefined && span.isRecording()) {
          span.setAttribute(ATTR.errorType, 'internal-error');
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'ext_proc phase failed' });
        }
        span.end();
      },
    };
  };
}

function traceCheck(tracer: Tracer, input: AuthzInput, facts: CheckFacts, started: number, ended: number): void {
  const call = facts.message?.type === 'call' ? facts.message : undefined;
  const parent = parentContext(
    { traceparent: input.headers.traceparent, tracestate: input.headers.tracestate },
    call && metaCarrier(call.params, call.traceparent),
  );
  // Started after the fact, at the recorded time: the body's traceparent is known only once authorize() has read the body.
  const span = tracer.startSpan(spanName(facts.method, facts.target, 'auth', input.method), { kind: SpanKind.SERVER, startTime: started }, parent);
  if (span.isRecording()) {
    span.setAttributes(checkAttributes(input, facts));
    if (facts.decision === 'deny') span.setStatus({ code: SpanStatusCode.ERROR, message: facts.reason });
  }
  span.end(ended);
}

function checkAttributes(input: AuthzInput, facts: CheckFacts) {
  const message = facts.message;
  const id = message !== undefined && 'id' in message && message.id !== undefined && message.id !== null ? String(message.id) : undefined;
  return {
    [ATTR.rpcSystem]: 'grpc',
    [ATTR.rpcService]: 'envoy.service.auth.v3.Authorization',
    [ATTR.rpcMethod]: 'Check',
    ...defined({
      [ATTR.mcpMethod]: facts.method,
      [ATTR.mcpSession]: sessionDigest(input.headers['mcp-session-id']),
      [ATTR.mcpProtocol]: input.headers[MCP_PROTOCOL_HEADER] ?? initializeVersion(message),
      [ATTR.requestId]: id,
      [ATTR.httpMethod]: input.method,
      [ATTR.httpStatus]: facts.status,
      [ATTR.errorType]: facts.decision === 'deny' ? facts.reason : undefined,
      [ATTR.user]: facts.subject,
      [ATTR.decision]: facts.decision,
      [ATTR.reason]: facts.reason,
      [ATTR.task]: facts.task,
      [ATTR.decisionId]: facts.decisionId,
      [ATTR.policy]: facts.policy,
      [ATTR.dryRunDecision]: facts.dryRun?.decision,
      [ATTR.dryRunReason]: facts.dryRun?.reason,
      [ATTR.dryRunPolicy]: facts.dryRun?.policy,
    }),
    ...targetAttributes(facts.method, facts.target),
  };
}

/** The 2025 `initialize` request carries its version in the body, not yet in a header. */
function initializeVersion(message: McpMessage | undefined): string | undefined {
  if (message?.type !== 'call' || message.method !== 'initialize') return undefined;
  const version = message.params.protocolVersion;
  return typeof version === 'string' ? version : undefined;
}

function streamAttributes(authz: AuthzContext, headers: Readonly<Record<string, string>>) {
  return {
    [ATTR.rpcSystem]: 'grpc',
    [ATTR.rpcService]: 'envoy.service.ext_proc.v3.ExternalProcessor',
    [ATTR.rpcMethod]: 'Process',
    ...defined({
      [ATTR.mcpMethod]: authz.method,
      [ATTR.mcpSession]: sessionDigest(headers[SESSION_HEADER]),
      [ATTR.mcpProtocol]: headers[MCP_PROTOCOL_HEADER],
      [ATTR.httpMethod]: headers[':method'],
      [ATTR.user]: authz.subject,
      [ATTR.task]: authz.task,
      [ATTR.decisionId]: authz.decisionId,
    }),
    ...targetAttributes(authz.method, authz.target),
  };
}

function recordPhase(span: Span, phase: Phase, step: Step, seconds: number): void {
  span.addEvent(phase, { 'toolgate.step': step.kind, 'toolgate.duration_ms': seconds * 1000 });
  // A session minted or re-sealed for the client: the span carries its digest, as later requests' spans will.
  const minted = step.kind === 'immediate' ? step.headers[SESSION_HEADER] : phase === 'response_headers' ? step.set?.[SESSION_HEADER] : undefined;
  const digest = sessionDigest(minted);
  if (digest !== undefined) span.setAttribute(ATTR.mcpSession, digest);
  if (step.kind !== 'immediate') return;
  // toolgate answered the client itself: a fan-out result, or a refusal (e.g. 404 for a refused session token).
  span.setAttribute(ATTR.httpStatus, step.status);
  if (step.status >= 400) {
    span.setAttribute(ATTR.errorType, String(step.status));
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
}
