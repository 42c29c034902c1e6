// Gateway mode, the answer to a routed tasks/get|result|cancel: its task ids, and those of the requests a task sends on its stream, in the gateway's form.
import type { SseRewriter } from '../fanout/sse-rewrite.js';
import type { Session } from '../../core/session/types.js';
import { CONTINUE, type ModeOverride, type Step } from './exchange.js';
import type { GatewayContext } from './gateway-context.js';
import { serverRequestRewriter, STREAM_RESPONSE } from './gateway-server-requests.js';
import { encoder } from './gateway-tasks.js';
import { toClientTaskResponse } from './task-ids.js';

/** A JSON answer is read whole: it is one JSON-RPC response, whose task ids must change before the client sees it. */
const BUFFER_RESPONSE: ModeOverride = { requestBody: 'NONE', responseHeaders: 'SEND', responseBody: 'BUFFERED' };

/** Where a task request went, and which one it was (tasks/result's answer names its task only in `_meta`). */
export interface TaskRequestRoute {
  readonly backend: string;
  readonly method: string;
}

export interface TaskResponseWatch {
  readonly mode: ModeOverride;
  readonly remove: readonly string[];
  /** Set for an event stream, read chunk by chunk; absent for a JSON answer, read whole by `taskJsonBody`. */
  readonly rewriter?: SseRewriter;
}

/**
 * The response headers of a routed task request. An event stream (a tasks/result may carry the task's elicitation,
 * sampling or roots requests before its result) goes through the server-request rewriter, which here rewrites the
 * response as well; a JSON answer is buffered. Any other answer (an HTTP error, a 202) names no task: it passes.
 */
export function watchTaskResponse(ctx: GatewayContext, session: Session, route: TaskRequestRoute, headers: Readonly<Record<string, string>>): TaskResponseWatch | undefined {
  if (headers[':status'] !== '200') return undefined;
  const type = (headers['content-type'] ?? '').toLowerCase();
  // A rewritten answer changes length; a fixed content-length would then be wrong (a buffered one is set anew).
  const remove = headers['content-length'] === undefined ? [] : ['content-length'];
  if (type.startsWith('text/event-stream')) {
    const encode = encoder(ctx, session, route.backend);
    return { mode: STREAM_RESPONSE, remove, rewriter: serverRequestRewriter(ctx, session, route.backend, (message) => toClientTaskResponse(route.method, message, encode)) };
  }
  if (type.startsWith('application/json')) return { mode: BUFFER_RESPONSE, remove: [] };
  return undefined;
}

/** A buffered JSON answer to a routed task request, with its task ids in the gateway's form; unreadable JSON passes as it is. */
export function taskJsonBody(ctx: GatewayContext, session: Session, route: TaskRequestRoute, body: Buffer): Step {
  let message: unknown;
  try {
    message = JSON.parse(body.toString('utf8'));
  } catch {
    return CONTINUE;
  }
  const rewritten = toClientTaskResponse(route.method, message, encoder(ctx, session, route.backend));
  return rewritten === undefined ? CONTINUE : { kind: 'continue', body: JSON.stringify(rewritten) };
}
