// Telemetry for each ext_authz Check: one SERVER span and the decision metrics, from the input and the outcome.
import { SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { AuthzInput } from '../../pipeline/authz/authorize.js';
import type { AuthzOutcome } from '../../pipeline/authz/outcome.js';
import type { RuntimeHolder } from '../runtime/watch.js';
import type { CompiledPolicy } from '../../core/policy/compile.js';
import type { CheckObserver } from '../../envoy/check.js';
import { isStatelessProtocol, MCP_METHOD_HEADER, MCP_NAME_HEADER, MCP_PROTOCOL_HEADER, type McpMessage } from '../../core/mcp/message.js';
import { ATTR, defined, spanName, targetAttributes, TRACER_NAME } from '../../ports/telemetry/attributes.js';
import { methodLabel, taskLabel, ToolLabels } from '../../ports/telemetry/labels.js';
import type { AuditRecord } from '../../ports/log/audit.js';
import type { Metrics } from '../../ports/telemetry/metrics.js';
import { metaCarrier, parentContext, sessionDigest } from '../../ports/telemetry/trace-context.js';


/** What one Check came to, gathered from the outcome (or its absence, when the pipeline threw). */
interface CheckFacts {
  readonly decision: 'allow' | 'deny';
  readonly reason: string;
  /** False for answers that are not decisions (the metadata document): no audit record, no decision count. */
  readonly audited: boolean;
  readonly method: string | undefined;
  readonly target: string | undefined;
  readonly task: string | undefined;
  readonly subject: string | undefined;
  readonly decisionId: string | undefined;
  readonly policy: string | undefined;
  readonly message: McpMessage | undefined;
  /** Dry-run: the denial the call would have got; it was forwarded. */
  readonly dryRun?: AuditRecord['dryRun'];
  /** The HTTP status of the answer toolgate gave itself (a denial, the metadata document); undefined when forwarded. */
  readonly status?: number | undefined;
}

export function checkTelemetry(holder: RuntimeHolder, log: Logger, metrics: Metrics): CheckObserver {
  const tools = new ToolLabels();
  const tracer = trace.getTracer(TRACER_NAME);
  return (input) => {
    const started = performance.now();
    return (outcome) => {
      const ended = performance.now();
      // The answer has gone out already; a telemetry bug must neither change it nor become an unhandled rejection.
      try {
        const facts = checkFacts(input, outcome);
        countCheck(metrics, holder.current().policy, tools, facts, (ended - started) / 1000);
        traceCheck(tracer, input, facts, started, ended);
      } catch (err) {
        log.warn({ event: 'telemetry.failed', err }, 'recording a Check failed');
      }
    };
  };
}

function countCheck({ checkDuration, operationDuration, decisionsTotal, dryRunDenialsTotal }: Metrics, policy: CompiledPolicy, tools: ToolLabels, facts: CheckFacts, seconds: number): void {
  checkDuration.observe({ result: facts.decision }, seconds);
  if (facts.method !== undefined) operationDuration.observe({ mcp_method_name: methodLabel(facts.method) }, seconds);
  if (!facts.audited) return;
  const tool = facts.method === 'tools/call' ? facts.target : undefined;
  const task = taskLabel(policy, facts.task);
  const toolLabel = tools.label(policy, tool);
  decisionsTotal.inc({ result: facts.decision, reason: facts.reason, task, tool: toolLabel });
  if (facts.dryRun) dryRunDenialsTotal.inc({ task, tool: toolLabel, reason: facts.dryRun.reason });
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

function checkFacts(input: AuthzInput, outcome: AuthzOutcome | undefined): CheckFacts {
  const audit = outcome?.audit;
  const message = outcome?.message;
  // Unauthenticated bodies are never parsed; a 2026 request still names its method in headers.
  const fromHeaders = audit?.method === undefined && isStatelessProtocol(input.headers[MCP_PROTOCOL_HEADER]);
  const method = fromHeaders ? input.headers[MCP_METHOD_HEADER] : audit?.method;
  const target = fromHeaders ? input.headers[MCP_NAME_HEADER] : audit?.tool;
  if (outcome === undefined) {
    return { decision: 'deny', reason: 'internal-error', audited: true, method, target, task: undefined, subject: undefined, decisionId: undefined, policy: undefined, message };
  }
  const status = outcome.kind === 'reply' ? outcome.reply.status : undefined;
  if (audit === undefined) {
    return { decision: 'allow', reason: 'metadata', audited: false, method, target, task: undefined, subject: undefined, decisionId: undefined, policy: undefined, message, status };
  }
  return {
    status,
    decision: audit.decision,
    reason: audit.reason,
    audited: true,
    method,
    target,
    task: audit.task,
    subject: audit.subject,
    decisionId: audit.decisionId,
    policy: audit.policy,
    message,
    dryRun: audit.dryRun,
  };
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
