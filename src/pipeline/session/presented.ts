// Opens the client session token a request presents (sealed, bound to the caller, not revoked), for both stages:
// ext_authz for the sidecar calls it finishes itself, ext_proc for the rest. Each answers a refusal in its own form.
import type { Runtime } from '../../core/runtime.js';
import { openSession } from '../../core/session/token.js';
import { asClientSessionToken, type OpenFailureReason, type Session } from '../../core/session/types.js';
import { attempt } from '../../ports/store/port.js';
import type { Deps } from '../../ports/deps.js';

export const SESSION_NOT_FOUND_MESSAGE = 'Session not found or expired. Start a new session with initialize.';
export const STORE_UNREACHABLE_MESSAGE =
  'The session store is unreachable, so this session could not be checked and the request was not forwarded. Retry in a few seconds; if it keeps failing, the gateway operator must restore the store.';

/**
 * A log line the caller writes (ext_proc at once, ext_authz through its adapter): the pipeline holds no logger, and
 * both stages must log a refused token the same way.
 */
export interface SessionNote {
  readonly level: 'info' | 'warn';
  readonly fields: Readonly<Record<string, unknown>> & { readonly event: string };
  readonly message: string;
}

/** Why a presented token is not used: the spec's 404 (re-initialize), or 503 when revocation cannot be checked. */
export interface SessionRefusal {
  readonly reason: 'session-not-found' | 'store-unavailable';
  /** What the client reads (the reason's sentence). */
  readonly message: string;
  /** For the audit record: the token's failure (`tampered`, `expired`, …), `revoked`, or the store's error. */
  readonly detail: string;
  readonly note: SessionNote;
}

export type Presented =
  | { readonly kind: 'none' }
  /** `note`: revocation could not be checked and `onStoreError.revocation` is `allow`; the warning to log. */
  | { readonly kind: 'open'; readonly session: Session; readonly token: string; readonly note?: SessionNote }
  | { readonly kind: 'refused'; readonly refusal: SessionRefusal };

/** Counts each refusal as ext_proc always has (session rejections by reason, store errors by feature). */
export async function openPresented(runtime: Runtime, { store, metrics }: Deps, presented: string | undefined, subject: string, decisionId: string | undefined): Promise<Presented> {
  if (presented === undefined) return { kind: 'none' };
  const opened = await openSession(runtime.sessions.keyring, asClientSessionToken(presented), { expectedSubject: subject });
  if (!opened.ok) {
    metrics.countSessionRejection(opened.reason);
    return { kind: 'refused', refusal: notFound(opened.reason, { level: 'info', fields: { event: 'session.rejected', reason: opened.reason, subject, decisionId }, message: 'session token refused' }) };
  }
  const session = opened.session;
  const checked = await attempt(store.isRevoked(session.tokenId));
  if (checked.ok) {
    if (!checked.value) return { kind: 'open', session, token: presented };
    return {
      kind: 'refused',
      refusal: notFound('revoked', { level: 'info', fields: { event: 'session.revoked-used', tokenId: session.tokenId, subject: session.subject, decisionId }, message: 'revoked session token refused' }),
    };
  }
  const onError = runtime.policy.onStoreError.revocation;
  metrics.countStoreError('revocation');
  const note: SessionNote = {
    level: 'warn',
    fields: { event: 'session.revocation-unchecked', tokenId: session.tokenId, error: checked.detail, onStoreError: onError, decisionId },
    message: 'cannot check session revocation',
  };
  if (onError === 'allow') return { kind: 'open', session, token: presented, note };
  return { kind: 'refused', refusal: { reason: 'store-unavailable', message: STORE_UNREACHABLE_MESSAGE, detail: `store unavailable (${checked.detail}); revocation not checked`, note } };
}

function notFound(cause: OpenFailureReason | 'revoked', note: SessionNote): SessionRefusal {
  return { reason: 'session-not-found', message: SESSION_NOT_FOUND_MESSAGE, detail: `session token ${cause}`, note };
}
