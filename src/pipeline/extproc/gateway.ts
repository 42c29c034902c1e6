// Gateway mode (several backends behind one endpoint): one exchange, phase by phase.
import type { Logger } from 'pino';
import type { Runtime } from '../../core/runtime.js';
import type { ListMethod } from '../fanout/pages.js';
import { readRequest } from '../../core/mcp/body.js';
import { isStatelessProtocol, MCP_PROTOCOL_HEADER, type McpCall } from '../../core/mcp/message.js';
import type { Session } from '../../core/session/types.js';
import { CONTINUE, type AuthzContext, type ExchangeProcessor, type HeaderFacts, type ModeOverride, type Step } from './exchange.js';
import { gatewayContext, type GatewayContext } from './gateway-context.js';
import { deleteAll, initialize, list, notifyAll, setLevelAll } from './gateway-fanout.js';
import { resolveCall, routeTo } from './gateway-route.js';
import { listsFor } from './gateway-resources.js';
import { errorReply, identityMissing, resultReply } from './replies.js';
import type { Deps } from '../../ports/deps.js';
import { maskSessionHeader, presentedSession } from './client-session.js';
import { internalHeaders } from '../../core/mcp/message.js';
import { declaresStateless } from '../../core/mcp/protocol.js';
import type { SseRewriter } from '../fanout/sse-rewrite.js';
import { routeReply, streamedChunk, watchRoutedResponse } from './gateway-server-requests.js';
import { eventStreamStep } from './gateway-events.js';
import { discover } from './gateway-discover.js';
import { withResultType } from '../../core/mcp/replies.js';
import { listTasksAll, routeTaskRequest, taskAugmentedCall, takesTaskCall } from './gateway-tasks.js';
import { taskJsonBody, watchTaskResponse, type TaskRequestRoute } from './gateway-task-responses.js';
import { TASK_ID_METHODS } from './task-ids.js';

const BUFFER_REQUEST: ModeOverride = { requestBody: 'BUFFERED', responseHeaders: 'SKIP', responseBody: 'NONE' };
/** For clients that take server requests: a routed call's event stream may carry some, whose ids are rewritten. */
const BUFFER_WATCH_RESPONSE: ModeOverride = { ...BUFFER_REQUEST, responseHeaders: 'SEND' };
/**
 * A 2026 call routed on its headers alone: no body to read and no response to watch. The generation has no
 * sessions, so there is no backend session id to mask (the route removes `mcp-session-id` both ways).
 */
const HEADERS_ONLY: ModeOverride = { requestBody: 'NONE', responseHeaders: 'SKIP', responseBody: 'NONE' };
const LISTS: ReadonlySet<string> = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']);
const ROUTED: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read', 'resources/subscribe', 'resources/unsubscribe', 'completion/complete']);

/** `deps.store` holds session revocations and pin marks; `deps.metrics` counts refusals and store failures. */
export function gatewayExchange(runtime: Runtime, log: Logger, authz: AuthzContext, deps: Deps): ExchangeProcessor {
  const { store } = deps;
  const ctx = gatewayContext(runtime);
  let headers: Readonly<Record<string, string>> = {};
  let session: Session | undefined;
  /** The client's token, once it opened; a backend's own session id must never reach the client in its place. */
  let clientToken: string | undefined;
  /** The backend a call of this exchange was routed to; its event stream's server requests are rewritten. */
  let routedTo: string | undefined;
  let rewriter: SseRewriter | undefined;
  /** This exchange's response goes through toolgate (chosen in the headers phase, before the body is read). */
  let responseWatched = false;
  /** A routed tasks/get|result|cancel: its answer's task ids are rewritten; a JSON answer is read whole. */
  let taskRoute: TaskRequestRoute | undefined;
  let taskJson = false;

  return {
    async requestHeaders(facts: HeaderFacts): Promise<Step> {
      if (authz.subject === undefined) return identityMissing();
      headers = facts.headers;
      const remove = internalHeaders(headers);
      const presented = await presentedSession(runtime, deps, headers, { ...authz, subject: authz.subject }, log);
      if (presented.kind === 'refused') return presented.step;
      if (presented.kind === 'open') {
        session = presented.session;
        clientToken = presented.token;
      }
      const method = headers[':method'];
      if (method === 'GET') return eventStreamStep(runtime, session, clientToken, authz.subject, headers, remove);
      if (method === 'DELETE') return session ? deleteAll(ctx, session, log, store) : errorReply(null, 'session-id-missing', 'DELETE needs the Mcp-Session-Id of the session to end.');
      // Whatever toolgate does not route, it answers: nothing is left for Envoy's catch-all (or a client's header) to send on.
      if (method !== 'POST') {
        return errorReply(null, 'http-method-not-allowed', `This gateway takes POST (one JSON-RPC message) and DELETE (to end a session), not ${method ?? 'this method'}.`, 405, { allow: 'POST, DELETE' });
      }
      if (facts.endOfStream) return errorReply(null, 'missing-body', 'A POST to the MCP endpoint must carry one JSON-RPC message in its body; this one has none.');
      const fast = headersOnlyRoute(ctx, authz, headers, remove);
      if (fast) return fast;
      // A task request's answer names its task: its response is watched whatever the client takes (ext_authz read the method).
      responseWatched = session?.clientCapabilities !== undefined || TASK_ID_METHODS.has(authz.method ?? '');
      return { kind: 'continue', remove, mode: responseWatched ? BUFFER_WATCH_RESPONSE : BUFFER_REQUEST };
    },

    // The same admission and strict reading as ext_authz's, once; a rename rewrites this reading, not the bytes.
    async requestBody(body: Buffer): Promise<Step> {
      const message = readRequest({ method: 'POST', headers, body });
      if (message.type === 'invalid') return errorReply(message.id, message.reason, message.message);
      if (message.type === 'reply') return routeReply(ctx, session, message);
      if (message.type !== 'call') return errorReply(null, 'not-jsonrpc', 'A POST must carry one JSON-RPC message.');
      return handleCall(ctx, message);
    },

    // toolgate's own answers never reach this phase; a routed response keeps no backend session id.
    responseHeaders: (facts: HeaderFacts): Step => {
      const masked = maskSessionHeader(facts.headers, clientToken);
      const watch = taskRoute && session ? watchTaskResponse(ctx, session, taskRoute, facts.headers) : watchRoutedResponse(ctx, session, routedTo, facts.headers);
      if (watch) {
        // An event stream is rewritten chunk by chunk; a task request's JSON answer is read whole.
        rewriter = watch.rewriter;
        taskJson = watch.rewriter === undefined;
        return { kind: 'continue', set: masked?.set ?? {}, remove: [...(masked?.remove ?? []), ...(watch.remove ?? [])], mode: watch.mode };
      }
      return masked ? { kind: 'continue', ...masked } : CONTINUE;
    },
    responseBody: (body: Buffer, endOfStream: boolean): Step => {
      if (rewriter) return streamedChunk(rewriter, body, endOfStream);
      return taskJson && taskRoute && session ? taskJsonBody(ctx, session, taskRoute, body) : CONTINUE;
    },
  };

  async function handleCall(c: GatewayContext, call: McpCall): Promise<Step> {
    const version = headers[MCP_PROTOCOL_HEADER];
    const stateless = isStatelessProtocol(version);
    if (call.method === 'initialize') return initialize(c, call, authz, log, session && { session, store });
    // 2026-07-28's stand-in for initialize: stateless, so it needs no session whatever header came with it.
    if (call.method === 'server/discover') return discover(c, call, log);
    if (!stateless && !session) return errorReply(call.id, 'session-id-missing', 'Missing Mcp-Session-Id: call initialize first.');
    if (call.kind === 'notification') return notifyAll(c, call, session, version);
    if (call.method === 'ping') return resultReply(call.id, withResultType({}, stateless));
    if (LISTS.has(call.method)) return list(c, call, call.method as ListMethod, authz, session, version, log, deps);
    if (call.method === 'logging/setLevel') return setLevelAll(c, call, session, version, log);
    if (TASK_ID_METHODS.has(call.method)) {
      const routed = routeTaskRequest(c, call, session, stateless, responseWatched);
      if (routed.backend !== undefined) taskRoute = { backend: routed.backend, method: call.method };
      return routed.step;
    }
    if (call.method === 'tasks/list') return listTasksAll(c, call, session, version, log);
    if (ROUTED.has(call.method)) {
      let resolved = resolveCall(c, call);
      if (resolved && !resolved.ok) {
        // Another replica may have served the list that named it: refresh the index once, then decide.
        await refreshIndex(c, call, session, version);
        resolved = resolveCall(c, call);
      }
      if (!resolved) return errorReply(call.id, 'target-missing', `${call.method} needs a name or URI.`);
      if (!resolved.ok) return resolved.step;
      // A task-augmented call answers with a task whose id must name its backend before the client sees it.
      if (call.params.task !== undefined && session && call.method === 'tools/call' && takesTaskCall(session, resolved.ref.backend)) {
        return taskAugmentedCall(c, call, resolved.ref, session, version);
      }
      const step = routeTo(c, call, resolved.ref, session, stateless);
      if (step.kind === 'continue') routedTo = resolved.ref.backend;
      return step;
    }
    return errorReply(call.id, 'method-not-routed', `The gateway does not route "${call.method}" across several backends.`);
  }

  async function refreshIndex(c: GatewayContext, call: McpCall, s: Session | undefined, version: string | undefined): Promise<void> {
    await Promise.all(listsFor(call).map((method) => list(c, { ...call, id: 'toolgate-refresh', method }, method, { ...authz, tasks: [] }, s, version, log, deps)));
  }
}

/**
 * 2026 fast path: when Mcp-Name alone routes the call, the backend's name is the exposed name and the config declares
 * that backend 2026-capable, the body is never sent to toolgate. ext_authz judged the method and target: from the body
 * on an ordinary route (checked against the headers there), or from the headers on a fast-path route, where Envoy's MCP
 * filter has refused any body that disagrees with them. A renamed call needs the body rewritten.
 */
function headersOnlyRoute(ctx: GatewayContext, authz: AuthzContext, headers: Readonly<Record<string, string>>, remove: string[]): Step | undefined {
  if (!isStatelessProtocol(headers[MCP_PROTOCOL_HEADER]) || !ROUTED.has(authz.method ?? '') || authz.target === undefined) return undefined;
  const call: McpCall = { type: 'call', kind: 'request', method: authz.method as string, id: undefined, target: authz.target, arguments: {}, params: {}, traceparent: undefined, fromHeadersOnly: true };
  const resolved = resolveCall(ctx, call);
  if (!resolved?.ok || resolved.ref.name !== authz.target) return undefined;
  if (!declaresStateless(ctx.runtime.config.backends[resolved.ref.backend]?.protocols)) return undefined;
  const step = routeTo(ctx, call, resolved.ref, undefined, true);
  if (step.kind !== 'continue') return undefined;
  return { ...step, remove: [...remove, ...(step.remove ?? [])], mode: HEADERS_ONLY };
}
