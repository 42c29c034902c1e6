// The sidecar calls ext_authz finishes itself: it opens the presented session token before anything is charged and
// hands the backend its own session id, so Envoy can skip ext_proc for them (docs/envoy.md, fact 27).
import type { Runtime } from '../../core/runtime.js';
import type { ReasonCode } from '../../core/mcp/reply-table.js';
import { MCP_SESSION_HEADER } from '../../core/mcp/message.js';
import type { Deps } from '../../ports/deps.js';
import { openPresented, type SessionNote } from '../session/presented.js';
import { finishedByAuthz, sessionSwap, type SessionSwap } from '../session/sidecar-swap.js';
import type { HttpReply } from './outcome.js';
import { refusalReply } from './http-reply.js';

export type SessionGate =
  /** Not a call ext_authz finishes (gateway mode, initialize, lists, DELETE, GET): ext_proc opens the token. */
  | { readonly kind: 'not-finished' }
  /** `note`: a warning to log (revocation unchecked, allowed by `onStoreError.revocation`). */
  | { readonly kind: 'finished'; readonly swap: SessionSwap; readonly note?: SessionNote }
  /** The reply ext_proc would have given, at the same status with the same body. */
  | { readonly kind: 'refused'; readonly reply: HttpReply; readonly reason: ReasonCode; readonly detail: string; readonly note: SessionNote };

const NOT_FINISHED: SessionGate = Object.freeze({ kind: 'not-finished' });

/** Called only for a call the policy allows, and before its counters are charged: a refusal needs no refund. */
export async function sessionGate(
  runtime: Runtime,
  deps: Deps,
  request: { readonly httpMethod: string; readonly headers: Readonly<Record<string, string>> },
  method: string | undefined,
  subject: string,
  decisionId: string,
): Promise<SessionGate> {
  const backend = finishedByAuthz(runtime, request.httpMethod, method);
  if (backend === undefined) return NOT_FINISHED;
  const presented = await openPresented(runtime, deps, request.headers[MCP_SESSION_HEADER], subject, decisionId);
  if (presented.kind === 'refused') {
    const { reason, message, detail, note } = presented.refusal;
    return { kind: 'refused', reply: refusalReply(null, reason, message), reason, detail, note };
  }
  const swap = sessionSwap(presented.kind === 'open' ? presented.session : undefined, backend, method);
  return presented.kind === 'open' && presented.note ? { kind: 'finished', swap, note: presented.note } : { kind: 'finished', swap };
}
