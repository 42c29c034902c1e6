// Gateway mode, MCP tasks: task-augmented tools/call, tasks/get|result|cancel routed by the backend their task id names, tasks/list merged.
import type { Logger } from 'pino';
import type { EgressFailure, RequestSuccess } from '../fanout/egress.js';
import { MAX_LIST_PAGES } from '../fanout/pages.js';
import type { NameRef } from '../../core/mcp/names.js';
import { isStatelessProtocol, type McpCall } from '../../core/mcp/message.js';
import { withResultType } from '../../core/mcp/replies.js';
import { REASONS } from '../../core/mcp/reply-table.js';
import { hasCapability, NO_CAPABILITIES, type Session } from '../../core/session/types.js';
import type { Step } from './exchange.js';
import type { GatewayContext } from './gateway-context.js';
import { callOptions, targets } from './gateway-fanout.js';
import { routeTo } from './gateway-route.js';
import { errorReply, jsonReply, resultReply, sessionNotFound } from './replies.js';
import { openTaskId, taskIdFor, withClientTaskIds, type TaskIdEncoder } from './task-ids.js';

const NOT_ISSUED =
  'This taskId was not issued to this session by the gateway, so it names no task of this session; no backend was asked. ' +
  'Use the taskId exactly as the gateway returned it (from the task-augmented call or tasks/list), on the session that created the task.';

/**
 * A tools/call with a `task` param, to a backend that announced task-augmented tools/call. toolgate makes the call
 * itself through Envoy's egress listener (like its fan-outs), because the answer's task id must be rewritten before
 * the client sees it; the CreateTaskResult comes at once, the work goes on at the backend (and its later requests
 * reach the client on the stream of a routed tasks/result).
 */
export function takesTaskCall(session: Session | undefined, backend: string): boolean {
  const entry = session?.backends.get(backend);
  return entry !== undefined && hasCapability(entry.capabilities, 'tasks.requests.tools.call');
}

export async function taskAugmentedCall(ctx: GatewayContext, call: McpCall, ref: NameRef, session: Session, version: string | undefined): Promise<Step> {
  const params = { ...call.params, name: ref.name };
  const answer = await ctx.egress.request(ref.backend, { method: call.method, params, id: call.id ?? 'toolgate-task' }, callOptions(ctx, ref.backend, session, version, call.params._meta));
  return relay(ctx, call, session, ref.backend, answer, version);
}

const NOT_WATCHED =
  'The gateway could not prepare to rewrite the task ids in this answer (ext_authz did not pass the request\'s method ' +
  'on), so the request was not forwarded; no backend was asked. Try again; if it persists, the gateway\'s ext_authz ' +
  'metadata forwarding is misconfigured.';

/** A routed task request: the step for Envoy, and the backend it goes to (whose answer's task ids are rewritten). */
export interface TaskRoute {
  readonly step: Step;
  readonly backend?: string;
}

/**
 * tasks/get, tasks/result, tasks/cancel: only a task id this gateway issued to this session reaches a backend, its own.
 * The request is routed through Envoy like a tools/call, with the backend's own task id in the body: the backend
 * answers on the client's exchange, so a tasks/result blocks as long as the task runs (no egress timeout), and the
 * requests a task sends on its stream reach the client (their ids rewritten, as on a routed call's stream).
 * `watched`: the response of this exchange goes through toolgate (its task ids must be rewritten); otherwise refused.
 */
export function routeTaskRequest(ctx: GatewayContext, call: McpCall, session: Session | undefined, stateless: boolean, watched: boolean): TaskRoute {
  const opened = session && openTaskId(ctx.runtime.sessions.keyring, session.tokenId, call.params.taskId);
  if (!session || !opened || !session.backends.has(opened.backend)) {
    return { step: errorReply(call.id, 'task-id-not-issued', NOT_ISSUED, call.id === undefined ? 400 : REASONS['task-id-not-issued'].http) };
  }
  if (!watched || call.json === undefined) {
    return { step: errorReply(call.id, 'internal-error', NOT_WATCHED, REASONS['internal-error'].http) };
  }
  // A task request names no tool: routeTo only sets the routing and session headers.
  const step = routeTo(ctx, call, { backend: opened.backend, name: '' }, session, stateless);
  if (step.kind !== 'continue') return { step };
  // toolgate's one reading of the body, serialised with the backend's own task id; nothing else changes.
  const body = JSON.stringify({ ...call.json, params: { ...call.params, taskId: opened.id } });
  return { step: { ...step, body }, backend: opened.backend };
}

/**
 * tasks/list: every backend of the session that announced `tasks.list`, each followed through its cursors (up to
 * MAX_LIST_PAGES), merged in backend order into one page without `nextCursor`, as the other lists are.
 */
export async function listTasksAll(ctx: GatewayContext, call: McpCall, session: Session | undefined, version: string | undefined, log: Logger): Promise<Step> {
  const backends = session ? targets(ctx, session).filter((b) => hasCapability(session.backends.get(b)?.capabilities ?? NO_CAPABILITIES, 'tasks.list')) : [];
  if (!session || backends.length === 0) {
    return errorReply(call.id, 'capability-not-offered', `No backend of this session lists tasks (backends: ${session ? targets(ctx, session).join(', ') : 'none'}).`);
  }
  const results = await ctx.egress.fanOut(backends, (b) => listOne(ctx, b, session, version, call.params._meta));
  for (const [b, f] of results.failed) log.warn({ event: 'list.backend-failed', method: call.method, backend: b, error: f.error, detail: f.detail }, 'backend left out of list');
  if (results.ok.size === 0) {
    if ([...results.failed.values()].some((f) => f.error === 'session-expired')) return sessionNotFound();
    return errorReply(call.id, 'backend-unavailable', `No backend answered tasks/list (${[...results.failed.keys()].join(', ')}). Try again later.`);
  }
  const tasks: unknown[] = [];
  for (const b of backends) {
    const got = results.ok.get(b);
    if (got) tasks.push(...(withClientTaskIds({ tasks: got.tasks }, encoder(ctx, session, b)).tasks as unknown[]));
  }
  return resultReply(call.id, withResultType({ tasks }, isStatelessProtocol(version)));
}

async function listOne(ctx: GatewayContext, backend: string, session: Session, version: string | undefined, meta: unknown): Promise<{ ok: true; tasks: unknown[] } | EgressFailure> {
  const tasks: unknown[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_LIST_PAGES; page++) {
    const params = cursor === undefined ? {} : { cursor };
    const got = await ctx.egress.request(backend, { method: 'tasks/list', params, id: 'toolgate-tasks' }, callOptions(ctx, backend, session, version, meta));
    if (!got.ok) return got;
    if ('error' in got.message) return { ok: false, backend, error: 'rpc-error', detail: got.message.error.message };
    const result = got.message.result;
    if (Array.isArray(result.tasks)) tasks.push(...(result.tasks as unknown[]));
    cursor = typeof result.nextCursor === 'string' && result.nextCursor !== '' ? result.nextCursor : undefined;
    if (cursor === undefined) break;
  }
  return { ok: true, tasks };
}

export function encoder(ctx: GatewayContext, session: Session, backend: string): TaskIdEncoder {
  return (id) => taskIdFor(ctx.runtime.sessions.keyring, session.tokenId, backend, id);
}

/** The backend's answer with its task ids in the gateway's form; a JSON-RPC error passes as the backend sent it. */
function relay(ctx: GatewayContext, call: McpCall, session: Session, backend: string, answer: RequestSuccess | EgressFailure, version: string | undefined): Step {
  if (!answer.ok) {
    if (answer.error === 'session-expired') return sessionNotFound();
    const why =
      answer.error === 'timeout'
        ? `Backend "${backend}" did not answer ${call.method} in time (${answer.detail}). Try again later.`
        : `Backend "${backend}" could not be reached for ${call.method} (${answer.error}). Try again later.`;
    // A JSON-RPC error the client's SDK surfaces with its sentence; a bare 502 would reach the agent as a transport failure.
    return errorReply(call.id, 'backend-unavailable', why, call.id === undefined ? 502 : 200);
  }
  const message = answer.message;
  if ('error' in message) return jsonReply(200, { jsonrpc: '2.0', id: call.id ?? null, error: message.error });
  return resultReply(call.id, withClientTaskIds(message.result, encoder(ctx, session, backend)));
}
