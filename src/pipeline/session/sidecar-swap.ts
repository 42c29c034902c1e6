// Sidecar mode's one request-side session change (the client's token → the backend's own session id), and which
// exchanges ext_authz finishes with it, so that Envoy can skip ext_proc for them (docs/envoy.md, fact 27).
import type { Runtime } from '../../core/runtime.js';
import type { Session } from '../../core/session/types.js';
import { LIST_METHODS, MCP_SESSION_HEADER } from '../../core/mcp/message.js';

/** The name a single backend's entry has inside the session token when the config names none. */
export const SOLE_BACKEND = '_';

/** The one backend's name (its entry in the session token) in sidecar mode; undefined in gateway mode. */
export function sidecarBackend(runtime: Runtime): string | undefined {
  const names = Object.keys(runtime.config.backends);
  return names.length > 1 ? undefined : (names[0] ?? SOLE_BACKEND);
}

/**
 * Where the sidecar exchange acts on the response: `initialize` mints the client's token, a list result is filtered
 * (and judged against pins), a DELETE revokes the session. Everywhere else its work ends with the request headers.
 */
export function watchesResponse(httpMethod: string, method: string | undefined): boolean {
  return method === 'initialize' || LIST_METHODS.has(method ?? '') || httpMethod === 'DELETE';
}

/**
 * The sidecar POSTs whose whole exchange is the session swap (tool calls, notifications, responses, pings, …): ext_authz
 * does the swap and marks the exchange finished. The GET event stream keeps its ext_proc exchange, as do the POSTs
 * `watchesResponse` names. Undefined in gateway mode, which routes on the body.
 */
export function finishedByAuthz(runtime: Runtime, httpMethod: string, method: string | undefined): string | undefined {
  if (httpMethod !== 'POST' || watchesResponse(httpMethod, method)) return undefined;
  return sidecarBackend(runtime);
}

export interface SessionSwap {
  readonly set: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

const UNCHANGED: SessionSwap = Object.freeze({ set: Object.freeze({}), remove: Object.freeze([]) });

/**
 * The backend gets its own session id for an opened token, or no session header at all: the backend never sees the
 * client's token. `initialize` opens a new session, which the backend would refuse if it named its current one.
 * No token presented: nothing to change.
 */
export function sessionSwap(session: Session | undefined, backend: string, method: string | undefined): SessionSwap {
  if (session === undefined) return UNCHANGED;
  const id = session.backends.get(backend)?.sessionId;
  return id && method !== 'initialize' ? { set: { [MCP_SESSION_HEADER]: id }, remove: [] } : { set: {}, remove: [MCP_SESSION_HEADER] };
}
