// Single-backend (sidecar) mode: every request goes to the one backend unchanged, except that the backend's
// session id travels inside toolgate's sealed, subject-bound token and lists are filtered by task. Calls that need
// nothing but the session swap are finished by ext_authz (../session/sidecar-swap.ts) and never reach this exchange.
import { toBackendSessionId, NO_CAPABILITIES, type Session } from '../../core/session/types.js';
import { sealSession } from '../../core/session/token.js';
import type { Runtime } from '../../core/runtime.js';
import { CONTINUE, type AuthzContext, type ExchangeDeps, type ExchangeProcessor, type HeaderFacts, type ModeOverride, type Step } from './exchange.js';
import { filterListBody, listItems, LIST_METHODS, pinKindOf } from './lists.js';
import { judgeList } from '../pins/judge.js';
import { identityMissing } from './replies.js';
import { revokeSession } from './revocation.js';
import { maskSessionHeader, presentedSession } from './client-session.js';
import { sessionSwap, sidecarBackend, SOLE_BACKEND, watchesResponse } from '../session/sidecar-swap.js';
import { internalHeaders, MCP_SESSION_HEADER as SESSION_HEADER } from '../../core/mcp/message.js';

export { SOLE_BACKEND };

const PASS_THROUGH: ModeOverride = { requestBody: 'NONE', responseHeaders: 'SKIP', responseBody: 'NONE' };
const WATCH_RESPONSE: ModeOverride = { requestBody: 'NONE', responseHeaders: 'SEND', responseBody: 'NONE' };

export function sidecarExchange(deps: ExchangeDeps, authz: AuthzContext): ExchangeProcessor {
  const { runtime, log, store } = deps;
  let session: Session | undefined;
  const backend = sidecarBackend(runtime) ?? SOLE_BACKEND;
  let httpMethod = '';
  let responseType = '';
  /** The client's token, once it opened; the backend's own id must never reach the client in its place. */
  let clientToken: string | undefined;

  return {
    async requestHeaders(facts: HeaderFacts): Promise<Step> {
      if (authz.subject === undefined) return identityMissing();
      httpMethod = facts.headers[':method'] ?? '';
      const remove = internalHeaders(facts.headers);
      const presented = await presentedSession(runtime, deps, facts.headers, { ...authz, subject: authz.subject }, log);
      if (presented.kind === 'refused') return presented.step;
      if (presented.kind === 'open') {
        session = presented.session;
        clientToken = presented.token;
      }
      const swap = sessionSwap(session, backend, authz.method);
      // The backend repeats its own session id on responses; ext_authz writes the client's token back over it
      // (response_headers_to_add, OVERWRITE_IF_EXISTS), so response headers are watched only where toolgate acts.
      const watch = watchesResponse(httpMethod, authz.method);
      return { kind: 'continue', set: swap.set, remove: [...remove, ...swap.remove], mode: watch ? WATCH_RESPONSE : PASS_THROUGH };
    },

    requestBody: () => CONTINUE,

    async responseHeaders(facts: HeaderFacts): Promise<Step> {
      const status = facts.headers[':status'];
      responseType = facts.headers['content-type'] ?? '';
      // The backend ended the session: no replica may open its token again.
      if (httpMethod === 'DELETE' && session && /^2\d\d$/.test(status ?? '')) await revokeSession(store, session, log);
      if (authz.method === 'initialize' && status === '200') {
        const sid = facts.headers[SESSION_HEADER];
        const sessionId = sid === undefined ? undefined : toBackendSessionId(sid);
        if (sessionId === undefined) return CONTINUE; // a stateless backend: nothing to carry
        const token = await sealSession(
          runtime.sessions.keyring,
          {
            subject: authz.subject as string,
            backends: new Map([[backend, { sessionId, protocolVersion: facts.headers['mcp-protocol-version'] ?? '', capabilities: NO_CAPABILITIES }]]),
          },
          { ttlSeconds: runtime.sessions.ttlSeconds },
        );
        // A re-initialize replaces the presented session: its token stops working (the backend ends its own
        // session by its idle timeout; toolgate has no egress to DELETE it in single-backend mode).
        if (session) await revokeSession(store, session, log);
        return { kind: 'continue', set: { [SESSION_HEADER]: token } };
      }
      const masked = maskSessionHeader(facts.headers, clientToken);
      if (LIST_METHODS.has(authz.method ?? '') && status === '200') {
        return { kind: 'continue', ...masked, mode: { requestBody: 'NONE', responseHeaders: 'SEND', responseBody: 'BUFFERED' } };
      }
      return masked ? { kind: 'continue', ...masked } : CONTINUE;
    },

    responseBody(body: Buffer): Step | Promise<Step> {
      const method = authz.method ?? '';
      const text = body.toString('utf8');
      const kind = runtime.pins.active ? pinKindOf(method) : undefined;
      if (kind !== undefined && runtime.pins.backends.has(backend)) {
        // Pins on for this backend: judge the definitions first, then filter by task as always.
        return judgeList(runtime.pins, deps, log, backend, kind, listItems(method, responseType, text)).then((hidden) => listStep(method, text, hidden));
      }
      return listStep(method, text);
    },
  };

  function listStep(method: string, text: string, hidden?: ReadonlySet<string>): Step {
    const filtered = filterListBody(runtime.policy, runtime.catalog, authz.tasks, method, responseType, text, hidden);
    return filtered === undefined ? CONTINUE : { kind: 'continue', body: filtered };
  }
}

/**
 * An exchange ext_authz finished itself (its `exchange: done` mark), reached only through an Envoy config that does not
 * skip ext_proc on the mark: the headers are already the backend's, so it passes through unchanged and asks for no
 * later phase. Undefined in gateway mode, where ext_authz finishes nothing and the stream is refused like any other
 * without a signed handoff.
 */
export function finishedExchange(runtime: Runtime): ExchangeProcessor | undefined {
  return sidecarBackend(runtime) === undefined ? undefined : FINISHED;
}

const FINISHED: ExchangeProcessor = Object.freeze({
  requestHeaders: (): Step => ({ kind: 'continue', mode: PASS_THROUGH }),
  requestBody: () => CONTINUE,
  responseHeaders: () => CONTINUE,
  responseBody: () => CONTINUE,
});
