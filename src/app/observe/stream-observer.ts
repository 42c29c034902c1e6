// Telemetry for each ext_proc stream: one SERVER span over the whole exchange, a timed event per phase, stream gauges.
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Phase, StreamObserver, StreamWatch } from '../../envoy/process/stream.js';
import { MCP_PROTOCOL_HEADER } from '../../core/mcp/message.js';
import type { AuthzContext, Step } from '../../pipeline/extproc/exchange.js';
import { ATTR, defined, spanName, targetAttributes, TRACER_NAME } from '../../ports/telemetry/attributes.js';
import type { Metrics } from '../../ports/telemetry/metrics.js';
import { parentContext, sessionDigest } from '../../ports/telemetry/trace-context.js';
import { MCP_SESSION_HEADER as SESSION_HEADER } from '../../core/mcp/message.js';


export function streamTelemetry(log: Logger, { activeStreams, phaseDuration }: Metrics): StreamObserver {
  const tracer = trace.getTracer(TRACER_NAME);
  return (authz, headers) => {
    activeStreams.inc();
    // Header first; else the body's `_meta.traceparent`, which ext_authz read and forwarded.
    const parent = parentContext(
      { traceparent: headers.traceparent, tracestate: headers.tracestate },
      { traceparent: authz.traceparent },
    );
    const name = spanName(authz.method, authz.target, 'ext_proc', headers[':method']);
    const span = tracer.startSpan(name, { kind: SpanKind.SERVER }, parent);
    if (span.isRecording()) span.setAttributes(streamAttributes(authz, headers));
    const active = trace.setSpan(parent, span);
    let ended = false;

    const watch: StreamWatch = {
      async phase(run) {
        const started = performance.now();
        // Active while the phase runs, so spans of toolgate's own calls (fan-out) nest under the exchange.
        const result = await context.with(active, run);
        const seconds = (performance.now() - started) / 1000;
        const [phase, step] = result;
        // A telemetry bug must not fail the exchange (the stream loop answers 500 to anything thrown here).
        try {
          if (phase !== undefined) {
            phaseDuration.observe({ phase }, seconds);
            if (span.isRecording()) recordPhase(span, phase, step, seconds);
          }
        } catch (err) {
          log.warn({ event: 'telemetry.failed', err }, 'recording an ext_proc phase failed');
        }
        return result;
      },
      end(error) {
        if (ended) return;
        ended = true;
        activeStreams.dec();
        if (error !== undefined && span.isRecording()) {
          span.setAttribute(ATTR.errorType, 'internal-error');
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'ext_proc phase failed' });
        }
        span.end();
      },
    };
    return watch;
  };
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
