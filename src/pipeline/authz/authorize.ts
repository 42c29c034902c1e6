// The ext_authz pipeline on plain values: metadata → identity → message → policy → outcome.
import { randomUUID } from 'node:crypto';
import type { Runtime } from '../../core/runtime.js';
import { carriesBody, FORWARDED_CONTENT_TYPE, readRequest, type RawHttpFacts } from '../../core/mcp/body.js';
import type { AuditRecord } from '../../ports/log/audit.js';
import { internalHeaders, isStatelessProtocol, MCP_PROTOCOL_HEADER, MCP_SESSION_HEADER } from '../../core/mcp/message.js';
import { decide, resolveTasks } from '../../core/policy/decide.js';
import type { Deny } from '../../core/policy/decision.js';
import type { Trace } from '../../core/policy/trace.js';
import type { Deps } from '../../ports/deps.js';
import { refuseForeignOrigin } from './host-origin.js';
import { applyLimits } from './limits.js';
import { refuseChangedDefinition } from './pins-gate.js';
import { sessionGate, type SessionGate } from './session-gate.js';
import type { AuthzOutcome } from './outcome.js';
import { protocolRefusal } from './protocol-gate.js';
import { denyReply, invalidReply, metadataReply, unauthenticatedReply } from './http-reply.js';

/** The request as Envoy hands it over; the body stays bytes until readRequest admits it. */
export interface AuthzInput extends RawHttpFacts {
  /** Request path without the query string. */
  readonly path: string;
}

/** `deps.store` holds quota, budget and loop counters and the pin marks; `deps.metrics` counts the store's failures. */
export async function authorize(runtime: Runtime, input: AuthzInput, deps: Deps, trace?: Trace): Promise<AuthzOutcome> {
  // DNS rebinding: a Host or Origin this endpoint does not answer to gets 403 before anything is read or answered.
  const foreign = refuseForeignOrigin(runtime, input.headers);
  if (foreign) return foreign;
  if (input.method === 'GET' && runtime.metadata.paths.includes(input.path)) {
    return { kind: 'reply', reply: metadataReply(runtime.metadata), audit: undefined };
  }
  const decisionId = randomUUID();
  const identity = await runtime.verifier.verify(input.headers.authorization);
  // Never dry-run: who is calling must be known before any policy, enforced or not, is applied.
  trace?.push({ stage: 'identity', text: identity.ok ? `subject ${identity.subject}` : `${identity.reason}: ${identity.detail} (never dry-run)` });
  if (!identity.ok) {
    return {
      kind: 'reply',
      reply: unauthenticatedReply(runtime.metadata, identity),
      audit: { decisionId, subject: undefined, task: undefined, method: undefined, tool: undefined, decision: 'deny', reason: identity.reason, detail: identity.detail },
    };
  }

  // One reading of the body: refused here unless the backend can only read the same message (see body.ts).
  const message = readRequest(input);
  const method = message.type === 'call' ? message.method : undefined;
  const tool = message.type === 'call' ? message.target : undefined;
  const base = { decisionId, subject: identity.subject, method, tool };
  if (trace && message.type === 'invalid') trace.push({ stage: 'request', text: `${message.reason}: ${message.message} (never dry-run)` });
  const protocol = protocolRefusal(input.headers, message);
  if (trace && protocol) trace.push({ stage: 'request', text: `${protocol.reason}: ${protocol.message} (never dry-run)` });
  if (protocol) return { kind: 'reply', reply: protocol.reply, audit: { ...base, task: undefined, decision: 'deny', reason: protocol.reason, detail: protocol.message }, message };
  if (message.type === 'invalid') {
    return { kind: 'reply', reply: invalidReply(message), audit: { ...base, task: undefined, decision: 'deny', reason: message.reason, detail: message.message }, message };
  }

  const taskHeader = runtime.config.identity.task.header;
  const requestedTask = taskHeader ? input.headers[taskHeader] : undefined;
  let decided = decide(runtime.policy, { claims: identity.claims, requestedTask, call: message, trace });
  let pinDetail: string | undefined;
  // Pins off: one property read. On: the changed marks, cached per process (src/pipeline/pins/watch.ts), before anything is
  // charged. A pin refusal is never dry-run (a task in dry-run forwards policy refusals only); pins observe with `learn`.
  if (runtime.pins.enforcing && decided.allow && message.type === 'call') {
    const refused = await refuseChangedDefinition(runtime, deps, message, decided.task);
    if (refused) {
      decided = refused.deny;
      pinDetail = refused.detail;
    }
  }
  // A sidecar call ext_authz finishes itself opens its session token here, before anything is charged: a refused
  // token gets ext_proc's reply (404, or 503 when revocation cannot be checked) and needs no refund. Never dry-run.
  const gate = decided.allow ? await sessionGate(runtime, deps, { httpMethod: input.method, headers: input.headers }, method, identity.subject, decisionId) : NOT_DECIDED;
  if (gate.kind === 'refused') {
    trace?.push({ stage: 'request', text: `${gate.reason}: ${gate.detail} (never dry-run)` });
    return { kind: 'reply', reply: gate.reply, audit: { ...base, task: decided.task, decision: 'deny', reason: gate.reason, detail: gate.detail }, message, sessionNote: gate.note };
  }
  // Counters are charged only once everything else allows the call.
  // ext_proc gives the charge back (the receipt) when it refuses the call after all: only forwarded calls count.
  const limited = await applyLimits(runtime.policy, deps, { claims: identity.claims, subject: identity.subject, call: message, decisionId }, decided, undefined, trace);
  const { decision, detail, charged } = limited;
  trace?.push({ stage: 'decision', text: decision.allow ? `allow (${decision.reason})` : `deny (${decision.reason})`, policy: decision.allow ? undefined : decision.policy });
  if (!decision.allow) {
    return {
      kind: 'reply',
      reply: denyReply(message, decision, runtime.config.policy.denial, decisionId, runtime.catalog, isStatelessProtocol(input.headers[MCP_PROTOCOL_HEADER])),
      audit: { ...base, task: decision.task, decision: 'deny', reason: decision.reason, policy: decision.policy, detail: detail ?? pinDetail },
      message,
    };
  }
  const finished = gate.kind === 'finished' ? gate : undefined;
  return {
    kind: 'allow',
    subject: identity.subject,
    task: decision.task,
    decisionId,
    method,
    target: tool,
    tasks: method?.endsWith('/list') ? listTasks(runtime, identity.claims, requestedTask) : undefined,
    removeHeaders: finished ? [...headersToRemove(runtime, input.headers), ...finished.swap.remove] : headersToRemove(runtime, input.headers),
    // The body was read as UTF-8 JSON; the backend is told exactly that, whatever spelling the client used.
    overwriteRequestHeaders: { ...(carriesBody(input) ? { 'content-type': FORWARDED_CONTENT_TYPE } : {}), ...finished?.swap.set },
    // initialize answers with a new session token, which the old one must not overwrite.
    overwriteResponseHeaders: method === 'initialize' ? {} : echoSession(input.headers),
    audit: { ...base, task: decision.task, decision: 'allow', reason: decision.reason, detail, ...wouldBe(decision.wouldDeny) },
    message,
    charged,
    chargedDryRun: limited.chargedDryRun,
    finished: finished !== undefined,
    sessionNote: finished?.note,
  };
}

/** A call the policy refused: its session token is never opened (the denial is the answer). */
const NOT_DECIDED: SessionGate = Object.freeze({ kind: 'not-finished' });

/** The would-be denial of a dry-run call, for the audit record (and from there the metric and span). */
function wouldBe(denied: Deny | undefined): Pick<AuditRecord, 'dryRun'> | undefined {
  return denied && { dryRun: { decision: 'deny', reason: denied.reason, policy: denied.policy, message: denied.message } };
}

function headersToRemove(runtime: Runtime, headers: Readonly<Record<string, string>>): string[] {
  const remove = internalHeaders(headers);
  if (!runtime.config.identity.passthroughToken && headers.authorization !== undefined) remove.push('authorization');
  return remove;
}

function listTasks(runtime: Runtime, claims: Readonly<Record<string, unknown>>, requestedTask: string | undefined): string[] {
  const resolved = resolveTasks(runtime.policy, claims, requestedTask);
  return resolved.ok ? resolved.tasks.map((t) => t.name) : [];
}

/**
 * The presented session header, echoed over the backend's id on the response (ext_authz or ext_proc opened it first:
 * an invalid one never reaches a backend).
 */
function echoSession(headers: Readonly<Record<string, string>>): Record<string, string> {
  const token = headers[MCP_SESSION_HEADER];
  return token === undefined ? {} : { [MCP_SESSION_HEADER]: token };
}
