// envoy.service.auth.v3.Authorization/Check: CheckRequest → plain input → authorize() → CheckResponse.
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { RuntimeHolder } from '../core/runtime.js';
import { authorize, type AuthzInput } from '../pipeline/authz/authorize.js';
import type { AuthzOutcome } from '../pipeline/authz/outcome.js';
import { auditor } from '../ports/log/audit.js';
import { EXCHANGE_FINISHED, signHandoff, type HandoffFacts } from '../core/session/handoff.js';
import type { Keyring } from '../core/session/keys.js';
import type { Deps } from '../ports/deps.js';
import type { CheckRequest } from './codec/check-request.js';
import type { CheckResponse } from './codec/check-response.js';
import { refusalBody } from '../core/mcp/replies.js';
import { REASONS } from '../core/mcp/reply-table.js';

/** The namespace Envoy files ext_authz dynamic metadata under; ext_proc reads it from there. */
export const METADATA_NAMESPACE = 'envoy.filters.http.ext_authz';

const GRPC_OK = 0;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNAUTHENTICATED = 16;

/** Hears each Check as it starts, then (through the function it returns) how it ended; undefined: the pipeline threw. */
export type CheckObserver = (input: AuthzInput) => (outcome: AuthzOutcome | undefined) => void;

export function checkHandler(holder: RuntimeHolder, log: Logger, deps: Deps, observe: CheckObserver = () => () => undefined): grpc.handleUnaryCall<CheckRequest, CheckResponse> {
  const audit = auditor(log);
  return (call, callback) => {
    let input: AuthzInput | undefined;
    try {
      input = toInput(call.request);
    } catch (err) {
      log.error({ event: 'check.bad-request', err }, 'unreadable CheckRequest');
      callback(null, internalError());
      return;
    }
    if (input === undefined) {
      log.error({ event: 'check.body-as-text' }, 'ext_authz sent the body as text; toolgate needs bytes (with_request_body.pack_as_bytes: true)');
      callback(null, internalError(BODY_AS_TEXT));
      return;
    }
    const observed = observe(input);
    const runtime = holder.current();
    authorize(runtime, input, deps).then(
      (outcome) => {
        if (outcome.sessionNote) log[outcome.sessionNote.level](outcome.sessionNote.fields, outcome.sessionNote.message);
        if (outcome.audit) audit(outcome.audit);
        callback(null, toResponse(outcome, runtime.sessions.keyring, input));
        observed(outcome);
      },
      // A bug in the pipeline denies: toolgate fails closed.
      (err: unknown) => {
        log.error({ event: 'check.failed', err }, 'authorization pipeline failed; denying');
        callback(null, internalError());
        observed(undefined);
      },
    );
  };
}

const BODY_AS_TEXT = 'The gateway received this request body as text, not bytes, so it cannot prove how the server will decode it; it was not forwarded.';

/**
 * The body stays bytes: readRequest decides whether they are one UTF-8 text. Undefined when Envoy sent it in the
 * text field (pack_as_bytes off): the protobuf decoder has already replaced invalid UTF-8 there, so toolgate
 * could judge another text than the backend reads, and refuses (fails closed).
 */
function toInput(req: CheckRequest): AuthzInput | undefined {
  const http = req.attributes?.request?.http ?? {};
  const headers = http.headers ?? {};
  const rawPath = http.path ?? headers[':path'] ?? '/';
  const q = rawPath.indexOf('?');
  const hasRaw = http.raw_body !== undefined && http.raw_body.length > 0;
  if (!hasRaw && http.body) return undefined;
  const body = hasRaw ? http.raw_body : undefined;
  return {
    method: (http.method ?? headers[':method'] ?? 'GET').toUpperCase(),
    path: q === -1 ? rawPath : rawPath.slice(0, q),
    headers,
    body,
  };
}

/** What binds a handoff to this request: Envoy's request id and the exact body bytes judged (toInput's). */
function handoffFacts(input: AuthzInput): HandoffFacts {
  return { requestId: input.headers['x-request-id'], body: input.body };
}

function toResponse(outcome: AuthzOutcome, keyring: Keyring, input: AuthzInput): CheckResponse {
  if (outcome.kind === 'allow') {
    return {
      status: { code: GRPC_OK },
      ok_response: {
        // Overwrite, never append: a second Content-Type would let the backend pick either.
        headers: Object.entries(outcome.overwriteRequestHeaders).map(([key, value]) => ({ header: { key, value }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' })),
        headers_to_remove: [...outcome.removeHeaders],
        response_headers_to_add: Object.entries(outcome.overwriteResponseHeaders).map(([key, value]) => ({
          header: { key, value },
          append_action: 'OVERWRITE_IF_EXISTS',
        })),
      },
      // A finished sidecar call: only the mark Envoy skips ext_proc on (no handoff: nothing would read one, and its
      // HMAC is the priciest step of a Check). Otherwise signed as a whole: ext_proc acts on none of it unless the MAC,
      // request id and age check out (handoff.ts).
      dynamic_metadata: outcome.finished ? FINISHED_METADATA : signHandoff(keyring, {
        subject: outcome.subject,
        task: outcome.task,
        decision_id: outcome.decisionId,
        method: outcome.method,
        target: outcome.target,
        tasks: outcome.tasks,
        // The body's trace context, so ext_proc's span joins the same trace when no header carries one.
        traceparent: outcome.message?.type === 'call' ? outcome.message.traceparent : undefined,
        // The receipt of what this call was charged: ext_proc gives it back if it refuses the call.
        charged: outcome.charged === undefined ? undefined : { receipt: outcome.charged.receipt, keys: [...outcome.charged.keys] },
        // Dry-run counters' receipt, kept apart so a refund gives each charge back to its own keys only.
        charged_dry_run: outcome.chargedDryRun === undefined ? undefined : { receipt: outcome.chargedDryRun.receipt, keys: [...outcome.chargedDryRun.keys] },
      }, handoffFacts(input)),
    };
  }
  const { reply } = outcome;
  return {
    status: { code: reply.status === 401 ? GRPC_UNAUTHENTICATED : GRPC_PERMISSION_DENIED },
    denied_response: {
      status: { code: reply.status },
      headers: Object.entries(reply.headers).map(([key, value]) => ({ header: { key, value } })),
      body: reply.body,
    },
  };
}

const FINISHED_METADATA: Readonly<Record<string, unknown>> = Object.freeze({ [EXCHANGE_FINISHED.key]: EXCHANGE_FINISHED.value });

function internalError(message = 'The gateway could not evaluate this request; it was not forwarded.'): CheckResponse {
  return {
    status: { code: GRPC_PERMISSION_DENIED, message: 'internal error' },
    denied_response: {
      status: { code: REASONS['internal-error'].http },
      headers: [{ header: { key: 'content-type', value: 'application/json' } }],
      body: refusalBody(null, 'internal-error', message),
    },
  };
}
